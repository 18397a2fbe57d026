/**
 * A Keras-like progress display for `model.fit`. Pass a {@link Progbar} in
 * `callbacks` (it has TF.js' `onEpochBegin` / `onBatchEnd` / `onEpochEnd`
 * hooks) or call those methods yourself. On a terminal the batch line is
 * redrawn in place; otherwise plain lines are printed at intervals.
 *
 * ```text
 * Epoch 3/10
 *  37/63 [===========>..........] - 4s - ETA: 3s - loss: 0.4121 - accuracy: 0.8125
 * 63/63 [========================] - 7s 111ms/step - loss: 0.3920 - accuracy: 0.8300 - val_loss: 0.3301 - val_accuracy: 0.8700
 * ```
 *
 * @module
 */

import { formatDuration } from "../util/format.ts";

/** Where progress text goes. */
export interface ProgressWriter {
  /** Writes text as-is (no newline added). */
  write(text: string): void;
}

/** Options for {@link Progbar}. */
export interface ProgbarOptions {
  /** Total epochs of the run (shown as `Epoch i/epochs`). */
  epochs: number;
  /** Batches per epoch; without it the bar and ETA are left out. */
  stepsPerEpoch?: number;
  /** Output; defaults to standard output. */
  writer?: ProgressWriter;
  /** Redraw in place; defaults to whether standard output is a terminal. */
  isTty?: boolean;
  /** Clock in milliseconds; defaults to `performance.now`. */
  now?: () => number;
  /** Bar width in characters (default 30). */
  barWidth?: number;
  /** Terminal columns for truncating TTY lines (default: detected or 120). */
  columns?: number;
  /**
   * Non-TTY only: print a batch line every this many batches (default: a
   * quarter of `stepsPerEpoch`, else every 50).
   */
  plainEvery?: number;
  /** Epoch number shown for TF.js' epoch index 0 (default 1). */
  firstEpoch?: number;
}

/** TF.js log values: numbers (TF.js resolves scalars before callbacks). */
export type Logs = Record<string, number | undefined>;

/** Formats a metric value with 4 decimals (exponent form when tiny/huge). */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? v.toExponential(4) : v.toFixed(4);
}

/** Display names: TF.js' `acc` is shown as Keras' `accuracy`. */
const DISPLAY: Record<string, string> = {
  acc: "accuracy",
  val_acc: "val_accuracy",
};

/**
 * Keras-style progress bar as a TF.js callback-compatible object: pass it in
 * `model.fit(..., { callbacks: progbar })`, or call its hooks yourself. The
 * hooks are bound arrow properties, since TF.js calls them detached.
 */
export class Progbar {
  #opts: Required<Omit<ProgbarOptions, "stepsPerEpoch" | "columns">> & {
    stepsPerEpoch?: number;
    columns: number;
  };
  #epochStart = 0;
  #seen = 0;
  #sums = new Map<string, number>();
  #lineOpen = false;
  #lastPlain = 0;
  #steps = 0;

  /**
   * A progress display for one fit.
   *
   * @param opts see {@link ProgbarOptions}
   */
  constructor(opts: ProgbarOptions) {
    const isTty = opts.isTty ?? safeIsTerminal();
    this.#opts = {
      epochs: opts.epochs,
      stepsPerEpoch: opts.stepsPerEpoch,
      writer: opts.writer ?? stdoutWriter(),
      isTty,
      now: opts.now ?? (() => performance.now()),
      barWidth: opts.barWidth ?? 30,
      columns: opts.columns ?? (isTty ? terminalColumns() : 120),
      plainEvery: opts.plainEvery ??
        (opts.stepsPerEpoch
          ? Math.max(1, Math.ceil(opts.stepsPerEpoch / 4))
          : 50),
      firstEpoch: opts.firstEpoch ?? 1,
    };
  }

  /** TF.js hook: prints `Epoch i/n` and resets the running means. */
  onEpochBegin = (epoch: number, _logs?: Logs): void => {
    this.#endLine();
    this.#epochStart = this.#opts.now();
    this.#seen = 0;
    this.#steps = 0;
    this.#sums.clear();
    this.#lastPlain = 0;
    const e = epoch + this.#opts.firstEpoch;
    this.#opts.writer.write(`Epoch ${e}/${this.#opts.epochs}\n`);
  };

  /**
   * TF.js hook: updates the running (sample-weighted) means of the batch
   * metrics and redraws `i/n [bar] - elapsed - ETA - loss - accuracy`.
   */
  onBatchEnd = (batch: number, logs: Logs = {}): void => {
    const size = typeof logs.size === "number" && logs.size > 0 ? logs.size : 1;
    for (const [k, v] of Object.entries(logs)) {
      if (k === "batch" || k === "size" || typeof v !== "number") continue;
      this.#sums.set(k, (this.#sums.get(k) ?? 0) + v * size);
    }
    this.#seen += size;
    const step = batch + 1;
    const { isTty, plainEvery, stepsPerEpoch } = this.#opts;
    if (isTty) {
      this.#draw(this.#batchLine(step));
    } else if (step - this.#lastPlain >= plainEvery && step !== stepsPerEpoch) {
      this.#lastPlain = step;
      this.#opts.writer.write(this.#batchLine(step) + "\n");
    }
  };

  /**
   * TF.js hook: replaces the batch line with the epoch summary — steps, bar,
   * seconds, time per step, then every metric in `logs` (TF.js' epoch means,
   * including `val_loss` / `val_accuracy`).
   */
  onEpochEnd = (_epoch: number, logs: Logs = {}): void => {
    const seconds = (this.#opts.now() - this.#epochStart) / 1000;
    const steps = this.#opts.stepsPerEpoch ?? (this.#steps || undefined);
    const parts: string[] = [];
    if (steps) parts.push(`${steps}/${steps} ${this.#bar(1)}`);
    const perStep = steps
      ? ` ${Math.round((seconds * 1000) / steps)}ms/step`
      : "";
    parts.push(`${formatDuration(seconds)}${perStep}`);
    for (const [k, v] of orderMetrics(logs)) {
      parts.push(`${k}: ${formatValue(v)}`);
    }
    const line = parts.join(" - ");
    if (this.#opts.isTty) {
      this.#draw(line);
      this.#endLine();
    } else {
      this.#opts.writer.write(line + "\n");
    }
  };

  /** TF.js hook: ends a line left open by an interrupted epoch. */
  onTrainEnd = (_logs?: Logs): void => {
    this.#endLine();
  };

  #batchLine(step: number): string {
    this.#steps = step;
    const elapsed = (this.#opts.now() - this.#epochStart) / 1000;
    const n = this.#opts.stepsPerEpoch;
    const parts: string[] = [];
    if (n) {
      const w = String(n).length;
      parts.push(`${String(step).padStart(w)}/${n} ${this.#bar(step / n)}`);
    } else {
      parts.push(`batch ${step}`);
    }
    parts.push(formatDuration(elapsed));
    if (n && step < n) {
      parts.push(`ETA: ${formatDuration((elapsed / step) * (n - step))}`);
    }
    const means = new Map<string, number>();
    for (const [k, s] of this.#sums) means.set(k, s / this.#seen);
    for (const [k, v] of orderMetrics(Object.fromEntries(means))) {
      parts.push(`${k}: ${formatValue(v)}`);
    }
    return parts.join(" - ");
  }

  #bar(frac: number): string {
    const w = this.#opts.barWidth;
    const f = Math.max(0, Math.min(1, frac));
    const done = Math.floor(f * w);
    if (done >= w) return `[${"=".repeat(w)}]`;
    return `[${"=".repeat(done)}>${".".repeat(w - done - 1)}]`;
  }

  #draw(line: string): void {
    const max = Math.max(20, this.#opts.columns - 1);
    const text = line.length > max ? line.slice(0, max) : line;
    // Carriage return, text, clear to end of line.
    this.#opts.writer.write(`\r${text}\x1b[K`);
    this.#lineOpen = true;
  }

  #endLine(): void {
    if (this.#lineOpen) {
      this.#opts.writer.write("\n");
      this.#lineOpen = false;
    }
  }
}

function orderMetrics(logs: Logs): [string, number][] {
  const entries = Object.entries(logs)
    .filter((e): e is [string, number] =>
      e[0] !== "batch" && e[0] !== "size" && typeof e[1] === "number"
    )
    .map(([k, v]) => [DISPLAY[k] ?? k, v] as [string, number]);
  // loss first, training metrics, then validation ones (Keras' order).
  const rank = (
    k: string,
  ) => (k === "loss"
    ? 0
    : k.startsWith("val_")
    ? (k === "val_loss" ? 2 : 3)
    : 1);
  return entries.sort((a, b) => rank(a[0]) - rank(b[0]));
}

function stdoutWriter(): ProgressWriter {
  const enc = new TextEncoder();
  return {
    write(text: string) {
      const bytes = enc.encode(text);
      let off = 0;
      while (off < bytes.length) {
        off += Deno.stdout.writeSync(bytes.subarray(off));
      }
    },
  };
}

function safeIsTerminal(): boolean {
  try {
    return Deno.stdout.isTerminal();
  } catch {
    return false;
  }
}

function terminalColumns(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 120;
  }
}
