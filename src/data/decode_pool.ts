/**
 * A pool of decode Web Workers: each decodes and resizes one image per
 * message (`decode_worker.ts`).
 *
 * @module
 */

import { decodeAndResize, type Interpolation } from "./resize.ts";
import { DecodeFailure, type DecodeOptions } from "./codecs.ts";
import type { DecodeRequest, DecodeResponse } from "./_decode_worker.ts";

/** One worker per core: `navigator.hardwareConcurrency` (at least 1). */
export function defaultWorkerCount(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

interface Pending {
  resolve: (data: Uint8Array) => void;
  reject: (e: Error) => void;
  slot: number;
}

interface Task {
  request: DecodeRequest;
  pending: Pending;
}

/**
 * A pool of decode Web Workers (`src/data/_decode_worker.ts`). With 0 workers it
 * decodes on the calling thread. Call {@link DecodePool.close} (or use
 * `using`) when done, or the workers keep the process alive.
 */
export class DecodePool {
  /** Number of workers (0: decoding on the calling thread). */
  readonly size: number;
  #workers: Worker[] = [];
  #inFlight: number[] = [];
  #pending = new Map<number, Pending>();
  #queue: Task[] = [];
  #nextId = 1;
  #broken: Error | null = null;
  #closed = false;
  static readonly #perWorker = 2;

  /** A pool of `workers` workers (default: one per core; 0 for none), started on first use. */
  constructor(workers: number = defaultWorkerCount()) {
    if (!Number.isInteger(workers) || workers < 0) {
      throw new Error(`workers must be a non-negative integer, got ${workers}`);
    }
    this.size = workers;
  }

  /** Starts the workers on first use, so a fully cached run starts none. */
  #start(): void {
    if (this.#workers.length > 0) return;
    for (let slot = 0; slot < this.size; slot++) {
      const worker = new Worker(
        new URL("./_decode_worker.ts", import.meta.url).href,
        { type: "module", name: `decode-${slot}` },
      );
      worker.onmessage = (e: MessageEvent<DecodeResponse>) =>
        this.#onMessage(slot, e.data);
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        this.#fail(new Error(`decode worker ${slot} failed: ${e.message}`));
      };
      worker.onmessageerror = () => {
        this.#fail(
          new Error(`decode worker ${slot} sent an unreadable message`),
        );
      };
      this.#workers.push(worker);
      this.#inFlight.push(0);
    }
  }

  /** Number of workers started so far (they start on the first decode). */
  get started(): number {
    return this.#workers.length;
  }

  /** How many tasks to keep queued to keep every worker busy. */
  get concurrency(): number {
    return this.size === 0 ? 2 : this.size * DecodePool.#perWorker + 1;
  }

  /**
   * Decodes and resizes one file's bytes (which are transferred to a worker:
   * do not use `bytes` afterwards). Rejects with a {@link DecodeFailure} for
   * a bad file, with another error when the pool failed or was closed.
   * `options`: the pixel limit and EXIF orientation ({@link DecodeOptions}).
   */
  decode(
    bytes: Uint8Array,
    height: number,
    width: number,
    interpolation: Interpolation = "bilinear",
    options: DecodeOptions = {},
  ): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new Error("DecodePool is closed"));
    if (this.#broken) return Promise.reject(this.#broken);
    if (this.size === 0) {
      return decodeAndResize(bytes, height, width, interpolation, options);
    }
    const buffer = bytes.byteOffset === 0 &&
        bytes.byteLength === bytes.buffer.byteLength &&
        bytes.buffer instanceof ArrayBuffer
      ? bytes.buffer
      : bytes.slice().buffer;
    this.#start();
    return new Promise<Uint8Array>((resolve, reject) => {
      const id = this.#nextId++;
      this.#queue.push({
        request: { id, bytes: buffer, height, width, interpolation, options },
        pending: { resolve, reject, slot: -1 },
      });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      let slot = -1;
      for (let s = 0; s < this.size; s++) {
        if (
          this.#inFlight[s] < DecodePool.#perWorker &&
          (slot < 0 || this.#inFlight[s] < this.#inFlight[slot])
        ) slot = s;
      }
      if (slot < 0) return;
      const task = this.#queue.shift()!;
      task.pending.slot = slot;
      this.#pending.set(task.request.id, task.pending);
      this.#inFlight[slot]++;
      this.#workers[slot].postMessage(task.request, [task.request.bytes]);
    }
  }

  #onMessage(slot: number, msg: DecodeResponse): void {
    const pending = this.#pending.get(msg.id);
    if (!pending) return;
    this.#pending.delete(msg.id);
    this.#inFlight[slot]--;
    if (msg.ok) pending.resolve(new Uint8Array(msg.data));
    else if (msg.failure) pending.reject(new DecodeFailure(msg.error));
    else pending.reject(new Error(msg.error));
    this.#pump();
  }

  #fail(error: Error): void {
    this.#broken ??= error;
    for (const p of this.#pending.values()) p.reject(error);
    for (const t of this.#queue) t.pending.reject(error);
    this.#pending.clear();
    this.#queue = [];
  }

  /** Terminates the workers; pending decodes reject. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#workers) w.terminate();
    const error = new Error("DecodePool was closed");
    for (const p of this.#pending.values()) p.reject(error);
    for (const t of this.#queue) t.pending.reject(error);
    this.#pending.clear();
    this.#queue = [];
  }

  /** Same as {@link DecodePool.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
