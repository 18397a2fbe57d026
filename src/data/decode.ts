/**
 * Step 4 of the data pipeline: decode image files (JPEG, PNG, GIF, TIFF) and
 * resize them to `[height, width]` RGB uint8, in parallel Web Workers, with
 * an on-disk cache of the results.
 *
 * - JPEG, PNG and GIF (first frame) are decoded by ImageScript's WebAssembly
 *   decoders (imported directly: ImageScript's main entry loads a native
 *   addon that would need `--allow-ffi`). TIFF is decoded by the `tiff`
 *   package (uncompressed, LZW, Deflate; 8/16-bit, gray, RGB, palette),
 *   because ImageScript 1.3.1's TIFF decoder traps on ordinary files.
 * - Grayscale becomes RGB by repeating the channel; alpha is dropped (what
 *   Keras' `load_img(color_mode="rgb")` and `tf.io.decode_image(channels=3)` do).
 * - "bilinear" matches `tf.image.resize` (half-pixel centres, no
 *   antialiasing), as Keras' `image_dataset_from_directory` uses; "nearest"
 *   samples pixel centres like PIL's `NEAREST`, as Keras'
 *   `ImageDataGenerator.flow_from_directory` uses.
 * - Results are cached as raw `h*w*3` bytes under a key made of the file's
 *   SHA-256, the size and the interpolation (failures too, as `.bad` files
 *   holding the reason); entries are written to a temporary file and
 *   renamed, so an interrupted run leaves no corrupt entry.
 *
 * @module
 */

import { join } from "node:path";
import {
  imagescriptGif,
  imagescriptJpeg,
  imagescriptPng,
  tiff,
} from "../deps.ts";
import type { ImageItem } from "./dataset.ts";

/** How images are resized. */
export type Interpolation = "bilinear" | "nearest";

/** What to do with files that cannot be decoded. */
export type BadImagePolicy = "warn" | "error";

/** Bumped whenever decoding or resizing changes, so old cache entries are not reused. */
export const DECODE_CACHE_VERSION = 1;

/** Decoded pixels before resizing: 3 (RGB) or 4 (RGBA, alpha ignored) channels. */
export interface Pixels {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Interleaved samples, row-major. */
  data: Uint8Array | Uint8ClampedArray;
  /** Samples per pixel in `data`. */
  channels: 3 | 4;
}

/** An image file that could not be used, and why. */
export interface BadImage {
  /** The file. */
  path: string;
  /** Why it was skipped. */
  reason: string;
}

/** Raised by {@link decodePixels} for a file that is corrupt or of an unsupported format. */
export class DecodeFailure extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "DecodeFailure";
  }
}

/** Raised by {@link decodeImages} with `onBadImage: "error"`; lists every bad file. */
export class BadImageError extends Error {
  /** Every file that failed, with its reason. */
  readonly bad: BadImage[];
  /** Builds the error from the bad files. */
  constructor(bad: BadImage[]) {
    super(
      `${bad.length} image file${
        bad.length === 1 ? "" : "s"
      } could not be decoded ` +
        `(set data.onBadImage to "warn" to skip them):\n${
          formatBadImages(bad)
        }`,
    );
    this.name = "BadImageError";
    this.bad = bad;
  }
}

/** One line per bad file: `  path: reason`. */
export function formatBadImages(bad: readonly BadImage[]): string {
  return bad.map((b) => `  ${b.path}: ${b.reason}`).join("\n");
}

/** The container format from the first bytes, or null when not one we decode. */
export function sniffFormat(
  bytes: Uint8Array,
): "jpeg" | "png" | "gif" | "tiff" | null {
  const b = bytes;
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) {
    return "jpeg";
  }
  if (
    b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e &&
    b[3] === 0x47
  ) return "png";
  if (b.length >= 4 && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) {
    return "gif";
  }
  if (
    b.length >= 4 &&
    ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 42 && b[3] === 0) ||
      (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && b[3] === 42))
  ) return "tiff";
  return null;
}

function unknownFormatReason(bytes: Uint8Array): string {
  if (bytes.length === 0) return "empty file";
  const ascii = (from: number, to: number) =>
    String.fromCharCode(...bytes.subarray(from, to));
  if (bytes.length >= 12 && ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") {
    return "WebP is not supported (JPEG, PNG, GIF, TIFF are)";
  }
  if (ascii(0, 2) === "BM") {
    return "BMP is not supported (JPEG, PNG, GIF, TIFF are)";
  }
  const hex = [...bytes.subarray(0, 4)].map((x) =>
    x.toString(16).padStart(2, "0")
  )
    .join(" ");
  return `not a JPEG, PNG, GIF or TIFF file (starts with ${hex})`;
}

function toByte(value: number, max: number): number {
  const v = Math.round((value / max) * 255);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

function decodeTiffWithPackage(bytes: Uint8Array): Pixels {
  const ifd = tiff.decode(bytes, { pages: [0] })[0];
  const { width, height } = ifd;
  const spp = ifd.samplesPerPixel;
  const bits = ifd.bitsPerSample;
  const photometric = ifd.type;
  const data = ifd.data;
  if (!width || !height) throw new Error("TIFF has no image size");
  if (data.length < width * height * spp) {
    throw new Error("TIFF image data is shorter than its size says");
  }
  const max = data instanceof Float32Array || data instanceof Float64Array
    ? 1
    : 2 ** bits - 1;
  const out = new Uint8Array(width * height * 3);
  const n = width * height;
  if (photometric === 3) {
    const palette = ifd.palette;
    if (!palette) throw new Error("palette TIFF without a colour map");
    for (let p = 0; p < n; p++) {
      const c = palette[data[p * spp]] ?? [0, 0, 0];
      out[p * 3] = toByte(c[0], 65535);
      out[p * 3 + 1] = toByte(c[1], 65535);
      out[p * 3 + 2] = toByte(c[2], 65535);
    }
  } else if (photometric === 0 || photometric === 1) {
    for (let p = 0; p < n; p++) {
      let g = toByte(data[p * spp], max);
      if (photometric === 0) g = 255 - g;
      out[p * 3] = out[p * 3 + 1] = out[p * 3 + 2] = g;
    }
  } else if (photometric === 2 && spp >= 3) {
    for (let p = 0; p < n; p++) {
      out[p * 3] = toByte(data[p * spp], max);
      out[p * 3 + 1] = toByte(data[p * spp + 1], max);
      out[p * 3 + 2] = toByte(data[p * spp + 2], max);
    }
  } else {
    throw new Error(
      `TIFF photometric interpretation ${photometric} is not supported`,
    );
  }
  return { width, height, data: out, channels: 3 };
}

// Typed views of ImageScript's WebAssembly decoder modules (plain CommonJS).
interface JpegLib {
  load(
    bytes: Uint8Array,
  ): { width: number; height: number; buffer: Uint8Array };
}
interface PngLib {
  decode(
    bytes: Uint8Array,
  ): { width: number; height: number; framebuffer: Uint8Array };
}
interface GifFrame {
  x: number;
  y: number;
  width: number;
  height: number;
  buffer: Uint8Array;
}
interface GifDecoder {
  width: number;
  height: number;
  frame(): GifFrame | null;
  free(): void;
}
interface GifLib {
  Decoder: new (bytes: Uint8Array) => GifDecoder;
}
interface WasmModule<T> {
  init(): Promise<T>;
}

// One decoder instance per format and thread, replaced after a failure.
const instances = new Map<string, Promise<unknown>>();
function instance<T>(name: string, mod: WasmModule<T>): Promise<T> {
  let p = instances.get(name) as Promise<T> | undefined;
  if (!p) {
    p = mod.init();
    instances.set(name, p);
  }
  return p;
}

async function decodeWithImageScript(
  bytes: Uint8Array,
  format: "jpeg" | "png" | "gif",
): Promise<Pixels> {
  try {
    if (format === "jpeg") {
      const lib = await instance(
        "jpeg",
        imagescriptJpeg as WasmModule<JpegLib>,
      );
      const f = lib.load(bytes);
      return { width: f.width, height: f.height, data: f.buffer, channels: 4 };
    }
    if (format === "png") {
      const lib = await instance("png", imagescriptPng as WasmModule<PngLib>);
      const f = lib.decode(bytes);
      return {
        width: f.width,
        height: f.height,
        data: f.framebuffer,
        channels: 4,
      };
    }
    const lib = await instance("gif", imagescriptGif as WasmModule<GifLib>);
    const decoder = new lib.Decoder(bytes);
    let frame: GifFrame | null;
    try {
      frame = decoder.frame();
    } finally {
      decoder.free();
    }
    if (!frame) throw new Error("gif: no frames");
    // The first frame, drawn at its offset on the (transparent black) canvas.
    const { width, height } = decoder;
    const canvas = new Uint8Array(width * height * 4);
    const w = Math.min(frame.width, width - frame.x);
    for (let y = 0; y < frame.height && y + frame.y < height; y++) {
      const from = y * frame.width * 4;
      canvas.set(
        frame.buffer.subarray(from, from + w * 4),
        ((y + frame.y) * width + frame.x) * 4,
      );
    }
    return { width, height, data: canvas, channels: 4 };
  } catch (e) {
    instances.delete(format);
    throw e;
  }
}

/**
 * Decodes an image file's bytes to pixels (RGBA for JPEG/PNG/GIF, RGB for
 * TIFF). Throws a {@link DecodeFailure} naming the format and the problem.
 */
export async function decodePixels(bytes: Uint8Array): Promise<Pixels> {
  const format = sniffFormat(bytes);
  if (format === null) throw new DecodeFailure(unknownFormatReason(bytes));
  let pixels: Pixels;
  try {
    pixels = format === "tiff"
      ? decodeTiffWithPackage(bytes)
      : await decodeWithImageScript(bytes, format);
  } catch (e) {
    throw new DecodeFailure(
      `corrupt or unsupported ${format.toUpperCase()}: ${
        e instanceof Error ? e.message : String(e)
      }`,
    );
  }
  if (!(pixels.width > 0 && pixels.height > 0)) {
    throw new DecodeFailure(`${format.toUpperCase()} has no pixels`);
  }
  if (pixels.data.length < pixels.width * pixels.height * pixels.channels) {
    throw new DecodeFailure(`${format.toUpperCase()} pixel data is truncated`);
  }
  return pixels;
}

function nearestIndices(outSize: number, inSize: number): Int32Array {
  const idx = new Int32Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    idx[o] = Math.min(Math.floor((o + 0.5) * scale), inSize - 1);
  }
  return idx;
}

function bilinearTaps(outSize: number, inSize: number) {
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float32Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const x = (o + 0.5) * scale - 0.5;
    const xf = Math.floor(x);
    lo[o] = Math.max(xf, 0);
    hi[o] = Math.min(Math.ceil(x), inSize - 1);
    frac[o] = x - xf;
  }
  return { lo, hi, frac };
}

/**
 * Resizes decoded pixels to `height`×`width` RGB uint8 (alpha dropped) with
 * bilinear (half-pixel centres, like `tf.image.resize`) or nearest
 * (pixel-centre sampling, like PIL) interpolation.
 */
export function resizeToRgb(
  src: Pixels,
  height: number,
  width: number,
  interpolation: Interpolation = "bilinear",
): Uint8Array {
  const { width: sw, height: sh, data, channels: c } = src;
  const out = new Uint8Array(height * width * 3);
  if (sw === width && sh === height) {
    for (let p = 0, q = 0; q < out.length; p += c, q += 3) {
      out[q] = data[p];
      out[q + 1] = data[p + 1];
      out[q + 2] = data[p + 2];
    }
    return out;
  }
  if (interpolation === "nearest") {
    const xs = nearestIndices(width, sw);
    const ys = nearestIndices(height, sh);
    let q = 0;
    for (let y = 0; y < height; y++) {
      const row = ys[y] * sw;
      for (let x = 0; x < width; x++) {
        const p = (row + xs[x]) * c;
        out[q++] = data[p];
        out[q++] = data[p + 1];
        out[q++] = data[p + 2];
      }
    }
    return out;
  }
  if (interpolation !== "bilinear") {
    throw new Error(
      `unknown interpolation "${interpolation}" (bilinear or nearest)`,
    );
  }
  const xt = bilinearTaps(width, sw);
  const yt = bilinearTaps(height, sh);
  let q = 0;
  for (let y = 0; y < height; y++) {
    const r0 = yt.lo[y] * sw;
    const r1 = yt.hi[y] * sw;
    const fy = yt.frac[y];
    for (let x = 0; x < width; x++) {
      const x0 = xt.lo[x];
      const x1 = xt.hi[x];
      const fx = xt.frac[x];
      const a = (r0 + x0) * c;
      const b = (r0 + x1) * c;
      const d = (r1 + x0) * c;
      const e = (r1 + x1) * c;
      for (let k = 0; k < 3; k++) {
        const top = data[a + k] + (data[b + k] - data[a + k]) * fx;
        const bottom = data[d + k] + (data[e + k] - data[d + k]) * fx;
        out[q++] = Math.round(top + (bottom - top) * fy);
      }
    }
  }
  return out;
}

/** Decodes an image file's bytes and resizes it: `height*width*3` RGB uint8. */
export async function decodeAndResize(
  bytes: Uint8Array,
  height: number,
  width: number,
  interpolation: Interpolation = "bilinear",
): Promise<Uint8Array> {
  return resizeToRgb(await decodePixels(bytes), height, width, interpolation);
}

// ---- worker pool ------------------------------------------------------------

/** Message sent to `decode_worker.ts`. */
export interface DecodeRequest {
  /** Task id, echoed back. */
  id: number;
  /** The file's bytes (transferred). */
  bytes: ArrayBuffer;
  /** Target height. */
  height: number;
  /** Target width. */
  width: number;
  /** Resize interpolation. */
  interpolation: Interpolation;
}

/** Message sent back by `decode_worker.ts`. */
export type DecodeResponse =
  | { id: number; ok: true; data: ArrayBuffer }
  | { id: number; ok: false; error: string; failure: boolean };

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
 * A pool of decode Web Workers (`src/data/decode_worker.ts`). With 0 workers it
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
        new URL("./decode_worker.ts", import.meta.url).href,
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
   */
  decode(
    bytes: Uint8Array,
    height: number,
    width: number,
    interpolation: Interpolation = "bilinear",
  ): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new Error("DecodePool is closed"));
    if (this.#broken) return Promise.reject(this.#broken);
    if (this.size === 0) {
      return decodeAndResize(bytes, height, width, interpolation);
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
        request: { id, bytes: buffer, height, width, interpolation },
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

// ---- image sets -------------------------------------------------------------

/** Images of one split, decoded and resized, held as one uint8 buffer. */
export interface ImageSet {
  /** Class names; `labels` index into it. */
  classNames: string[];
  /** Image height. */
  height: number;
  /** Image width. */
  width: number;
  /** Number of images kept. */
  count: number;
  /** `count*height*width*3` RGB bytes, image after image. */
  pixels: Uint8Array;
  /** Label of each image. */
  labels: Int32Array;
  /** Source file of each image. */
  paths: string[];
  /** Files skipped because they could not be decoded. */
  skipped: BadImage[];
  /** Files decoded now, and files answered by the cache (incl. known-bad ones). */
  stats: { decoded: number; cached: number };
}

/** Progress of {@link decodeImages}. */
export interface DecodeProgress {
  /** Files handled so far (decoded, cached or skipped). */
  done: number;
  /** Files in total. */
  total: number;
  /** Of `done`: read from the decode cache. */
  cached: number;
  /** Of `done`: decoded now. */
  decoded: number;
  /** Of `done`: skipped as bad. */
  skipped: number;
}

/** Options of {@link decodeImages}. */
export interface DecodeImagesOptions {
  /** `[height, width]` to resize to (`data.imageSize`). */
  imageSize: readonly [number, number];
  /** Class names the items' labels index into. */
  classNames: readonly string[];
  /** Resize interpolation (`data.interpolation`). Default "bilinear". */
  interpolation?: Interpolation;
  /** Worker count (`data.workers`): null/undefined = one per core, 0 = none. Ignored when `pool` is given. */
  workers?: number | null;
  /** A pool to reuse (not closed here). */
  pool?: DecodePool;
  /** Folder of the decoded-image cache; null/undefined disables it. */
  cacheDir?: string | null;
  /** "warn" (default) skips bad files with one warning; "error" throws a {@link BadImageError}. */
  onBadImage?: BadImagePolicy;
  /** Receives the warning about skipped files. Default: `console.warn`. */
  warn?: (message: string) => void;
  /** Called after each file. */
  onProgress?: (p: DecodeProgress) => void;
  /** Stops the work (rejects with the abort reason). */
  signal?: AbortSignal;
}

/** Where the decoded cache keeps the result for one file content, size and interpolation. */
export function decodeCachePath(
  cacheDir: string,
  sha256: string,
  height: number,
  width: number,
  interpolation: Interpolation,
): string {
  return join(
    cacheDir,
    `v${DECODE_CACHE_VERSION}-${height}x${width}-${interpolation}`,
    sha256.slice(0, 2),
    `${sha256}.rgb`,
  );
}

function hex(buffer: ArrayBuffer): string {
  return Array.from(
    new Uint8Array(buffer),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

async function readCached(
  path: string,
  size: number,
): Promise<Uint8Array | null> {
  try {
    const data = await Deno.readFile(path);
    return data.length === size ? data : null;
  } catch {
    return null;
  }
}

async function readBadMarker(cachePath: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(`${cachePath}.bad`);
  } catch {
    return null;
  }
}

async function writeCached(path: string, data: Uint8Array): Promise<void> {
  const dir = join(path, "..");
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/**
 * Reads, decodes and resizes `items` into one {@link ImageSet} (same order;
 * bad files removed), using the decode cache when `cacheDir` is set and a
 * worker pool. Bad files are reported once, all together: a warning listing
 * each file and why, or a {@link BadImageError} with `onBadImage: "error"`.
 */
export async function decodeImages(
  items: readonly ImageItem[],
  opts: DecodeImagesOptions,
): Promise<ImageSet> {
  const [height, width] = opts.imageSize;
  if (
    !(Number.isInteger(height) && height > 0 && Number.isInteger(width) &&
      width > 0)
  ) {
    throw new Error(
      `imageSize must be two positive integers, got [${opts.imageSize}]`,
    );
  }
  const interpolation = opts.interpolation ?? "bilinear";
  const stride = height * width * 3;
  const total = items.length;
  const pixels = new Uint8Array(total * stride);
  const ok = new Uint8Array(total);
  const bad: BadImage[] = [];
  const stats = { decoded: 0, cached: 0 };
  const ownPool = opts.pool
    ? null
    : new DecodePool(opts.workers ?? defaultWorkerCount());
  const pool = opts.pool ?? ownPool!;
  let next = 0;
  let done = 0;
  const report = () =>
    opts.onProgress?.({
      done,
      total,
      cached: stats.cached,
      decoded: stats.decoded,
      skipped: bad.length,
    });

  const handle = async (i: number) => {
    const item = items[i];
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(item.path);
    } catch (e) {
      bad.push({
        path: item.path,
        reason: `cannot read: ${(e as Error).message}`,
      });
      return;
    }
    let cachePath: string | null = null;
    if (opts.cacheDir) {
      const sha = hex(
        await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
      );
      cachePath = decodeCachePath(
        opts.cacheDir,
        sha,
        height,
        width,
        interpolation,
      );
      const hit = await readCached(cachePath, stride);
      if (hit) {
        pixels.set(hit, i * stride);
        ok[i] = 1;
        stats.cached++;
        return;
      }
      const knownBad = await readBadMarker(cachePath);
      if (knownBad !== null) {
        bad.push({ path: item.path, reason: knownBad });
        stats.cached++;
        return;
      }
    }
    let rgb: Uint8Array;
    try {
      rgb = await pool.decode(bytes, height, width, interpolation);
    } catch (e) {
      if (e instanceof DecodeFailure) {
        bad.push({ path: item.path, reason: e.message });
        if (cachePath) {
          await writeCached(
            `${cachePath}.bad`,
            new TextEncoder().encode(e.message),
          );
        }
        return;
      }
      throw e;
    }
    pixels.set(rgb, i * stride);
    ok[i] = 1;
    stats.decoded++;
    if (cachePath) await writeCached(cachePath, rgb);
  };

  const runner = async () => {
    while (next < total) {
      opts.signal?.throwIfAborted();
      const i = next++;
      await handle(i);
      done++;
      report();
    }
  };
  try {
    const runners = Array.from({
      length: Math.min(pool.concurrency, Math.max(total, 1)),
    }, runner);
    const results = await Promise.allSettled(runners);
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  } finally {
    ownPool?.close();
  }

  bad.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (bad.length > 0) {
    if (opts.onBadImage === "error") throw new BadImageError(bad);
    (opts.warn ?? console.warn)(
      `Skipped ${bad.length} of ${total} image file${
        total === 1 ? "" : "s"
      } that could not be decoded:\n${formatBadImages(bad)}`,
    );
  }

  const count = total - bad.length;
  const labels = new Int32Array(count);
  const paths: string[] = [];
  let k = 0;
  for (let i = 0; i < total; i++) {
    if (!ok[i]) continue;
    if (k !== i) pixels.copyWithin(k * stride, i * stride, (i + 1) * stride);
    labels[k] = items[i].label;
    paths.push(items[i].path);
    k++;
  }
  return {
    classNames: [...opts.classNames],
    height,
    width,
    count,
    pixels: count === total ? pixels : pixels.subarray(0, count * stride),
    labels,
    paths,
    skipped: bad,
    stats,
  };
}
