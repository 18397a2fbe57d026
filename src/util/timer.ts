/**
 * Timing the steps of a run: one helper measures each named step's wall
 * seconds, so the chain itself carries no timing code.
 *
 * @module
 */

/** Wall seconds of named steps, in the order they ran. */
export class StepTimer {
  readonly #started = performance.now();
  /** Seconds per step name (a step timed twice adds up). */
  readonly seconds: Record<string, number> = {};

  /** Runs `fn`, adds its wall seconds to `name`, and passes its result on. */
  async time<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      this.add(name, (performance.now() - t) / 1000);
    }
  }

  /** Adds seconds measured elsewhere (e.g. by a step that times its parts). */
  add(name: string, seconds: number): void {
    this.seconds[name] = (this.seconds[name] ?? 0) + seconds;
  }

  /** Seconds since the timer was created. */
  total(): number {
    return (performance.now() - this.#started) / 1000;
  }
}
