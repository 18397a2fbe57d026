/**
 * ONNX Runtime (CPU, `onnxruntime-node`) as the engine for the frozen
 * forward pass: runs the ONNX bytes of `onnx_export.ts` on NHWC float32
 * batches. ONNX Runtime is loaded only when asked for
 * ({@link tryLoadOnnxRuntime}); it is a native addon, so the process needs
 * `--allow-ffi` (the addon lives in Deno's npm cache, which Deno lets npm
 * packages read). Without it, or on a platform the package has no binary
 * for, {@link tryLoadOnnxRuntime} says why in one line instead of throwing,
 * so that callers can fall back to TF.js.
 *
 * Sessions use graph optimisation level `"all"` (Conv + Relu/Clip fusion,
 * blocked NCHWc layouts), sequential execution,
 * `navigator.hardwareConcurrency` intra-op threads and no spinning of idle
 * threads, unless told otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mobileNetV2 } from "../model/mobilenet_v2.ts";
 * import { exportOnnx } from "./onnx_export.ts";
 * import { createOnnxEngine, tryLoadOnnxRuntime } from "./onnx_runtime.ts";
 * const base = mobileNetV2({ inputShape: [96, 96, 3], alpha: 0.35, includeTop: false, pooling: "avg" });
 * const loaded = await tryLoadOnnxRuntime(); // { ok: false, reason } without --allow-ffi
 * if (loaded.ok) {
 *   const engine = await createOnnxEngine(exportOnnx(base), { ort: loaded.ort });
 *   const pixels = new Float32Array(2 * 96 * 96 * 3).fill(0.5);
 *   const [features] = await engine.run(pixels, [2, 96, 96, 3]);
 *   assert.equal(features.data.length, 2 * 1280);
 *   await engine.dispose();
 * }
 * base.dispose();
 * ```
 *
 * @module
 */

import { importOnnxRuntime, ONNXRUNTIME_SPECIFIER } from "../deps/onnx.ts";

/** A tensor as ONNX Runtime passes it in and out. */
export interface OrtTensor {
  /** Element type, e.g. "float32". */
  readonly type: string;
  /** The elements (a typed array). */
  readonly data: unknown;
  /** The shape. */
  readonly dims: readonly number[];
}

/** The part of an `InferenceSession` the engine uses. */
export interface OrtSession {
  /** The model's input names. */
  readonly inputNames: readonly string[];
  /** The model's output names. */
  readonly outputNames: readonly string[];
  /** Runs the model on named inputs. */
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  /** Frees the session. */
  release(): Promise<void>;
}

/**
 * The part of the `onnxruntime-node` module the engine uses, declared here
 * so that this module needs neither the package nor its types until ONNX
 * Runtime is actually loaded (the test checks it against the real types).
 */
export interface OnnxRuntime {
  /** Sessions from serialized models. */
  InferenceSession: {
    create(model: Uint8Array, options?: object): Promise<OrtSession>;
  };
  /** Tensors to feed them. */
  Tensor: new (
    type: "float32",
    data: Float32Array,
    dims: readonly number[],
  ) => OrtTensor;
}

/** What {@link tryLoadOnnxRuntime} returns. */
export type OnnxRuntimeLoad =
  | { ok: true; ort: OnnxRuntime }
  | { ok: false; reason: string };

let loading: Promise<OnnxRuntimeLoad> | null = null;

/**
 * Loads ONNX Runtime once (later calls return the same result). Never
 * throws: `{ ok: false, reason }` when `--allow-ffi` is not granted (checked
 * first, so that no permission prompt appears) or the import fails.
 */
export function tryLoadOnnxRuntime(): Promise<OnnxRuntimeLoad> {
  loading ??= load();
  return loading;
}

async function load(): Promise<OnnxRuntimeLoad> {
  const ffi = await Deno.permissions.query({ name: "ffi" });
  if (ffi.state !== "granted") {
    return {
      ok: false,
      reason:
        "ONNX Runtime is a native addon and needs --allow-ffi (not granted)",
    };
  }
  try {
    const ort = await importOnnxRuntime() as Partial<OnnxRuntime> | null;
    if (
      typeof ort?.InferenceSession?.create !== "function" ||
      typeof ort.Tensor !== "function"
    ) {
      return {
        ok: false,
        reason:
          `${ONNXRUNTIME_SPECIFIER} loaded without InferenceSession and Tensor`,
      };
    }
    return { ok: true, ort: ort as OnnxRuntime };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return {
      ok: false,
      reason:
        `${ONNXRUNTIME_SPECIFIER} did not load on ${Deno.build.os}-${Deno.build.arch}: ${
          message.split("\n")[0]
        }`,
    };
  }
}

/** Options of {@link createOnnxEngine}. */
export interface OnnxEngineOptions {
  /** Intra-op threads. Default `navigator.hardwareConcurrency`. */
  threads?: number;
  /** Graph optimisation level. Default `"all"`. */
  graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all";
  /**
   * Let idle intra-op threads spin for a while after each op
   * (`session.intra_op.allow_spinning`, on in ONNX Runtime itself). Default
   * false: spinning burnt ~30 % more CPU per image in
   * `bench/onnx_forward.ts` and was slower whenever other work (TF.js,
   * decode workers, other processes) wanted the same cores.
   */
  allowSpinning?: boolean;
  /** An already loaded runtime; default: {@link tryLoadOnnxRuntime}'s (throws with its reason if it failed). */
  ort?: OnnxRuntime;
  /**
   * Runs a larger batch as consecutive runs of at most this many images and
   * joins their outputs (each image's values are the same bits as in one
   * run). Default: the whole batch in one run.
   */
  maxBatch?: number;
}

/**
 * {@link OnnxEngineOptions.maxBatch} of the frozen-forward engine: at
 * 224 px, runs of 16 images were 5–18 % faster than runs of 32 (MobileNetV3,
 * EfficientNetB0; the activations of 32 images overflow the caches), and
 * equal at 160 px.
 */
export const ORT_MAX_BATCH = 16;

/** One output of {@link OnnxEngine.run}. */
export interface OnnxOutput {
  /** Graph output name (the IR / Keras layer name). */
  name: string;
  /** Row-major values. */
  data: Float32Array;
  /** Dimensions, batch first. */
  shape: number[];
}

/** An ONNX Runtime session for one model. */
export interface OnnxEngine {
  /** Graph input names (one for our models). */
  readonly inputNames: readonly string[];
  /** Graph output names, in the order {@link run} returns them. */
  readonly outputNames: readonly string[];
  /** Intra-op threads the session uses. */
  readonly threads: number;
  /**
   * Runs one batch: `input` is the row-major float32 batch for the single
   * graph input, `shape` its dimensions (NHWC `[n, H, W, C]` for our
   * exports). Resolves to every graph output, in {@link outputNames} order.
   * `input` is read, never kept or changed.
   */
  run(input: Float32Array, shape: readonly number[]): Promise<OnnxOutput[]>;
  /** Releases the session; {@link run} must not be called afterwards. */
  dispose(): Promise<void>;
}

/** Creates an ONNX Runtime session for the ONNX `model` bytes. */
export async function createOnnxEngine(
  model: Uint8Array,
  opts: OnnxEngineOptions = {},
): Promise<OnnxEngine> {
  let ort = opts.ort;
  if (ort == null) {
    const loaded = await tryLoadOnnxRuntime();
    if (!loaded.ok) throw new Error(loaded.reason);
    ort = loaded.ort;
  }
  const threads = opts.threads ?? navigator.hardwareConcurrency ?? 1;
  if (!(Number.isInteger(threads) && threads >= 1)) {
    throw new RangeError(`threads must be a positive integer, got ${threads}`);
  }
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ["cpu"],
    graphOptimizationLevel: opts.graphOptimizationLevel ?? "all",
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    extra: {
      session: {
        intra_op: { allow_spinning: opts.allowSpinning ? "1" : "0" },
      },
    },
  });
  if (session.inputNames.length !== 1) {
    await session.release();
    throw new Error(
      `ONNX model has ${session.inputNames.length} inputs (${
        session.inputNames.join(", ")
      }); the engine runs single-input models`,
    );
  }
  const maxBatch = opts.maxBatch ?? Infinity;
  if (
    !(maxBatch === Infinity || (Number.isInteger(maxBatch) && maxBatch >= 1))
  ) {
    await session.release();
    throw new RangeError(
      `maxBatch must be a positive integer, got ${opts.maxBatch}`,
    );
  }
  const Tensor = ort.Tensor;
  let disposed = false;
  const runOnce = async (
    input: Float32Array,
    shape: readonly number[],
  ): Promise<OnnxOutput[]> => {
    const feeds = {
      [session.inputNames[0]]: new Tensor("float32", input, [...shape]),
    };
    const results = await session.run(feeds);
    return session.outputNames.map((name) => {
      const t = results[name];
      if (t.type !== "float32") {
        throw new Error(`output "${name}" is ${t.type}, expected float32`);
      }
      return {
        name,
        data: t.data as Float32Array,
        shape: t.dims.map(Number),
      };
    });
  };
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    threads,
    async run(input, shape) {
      if (disposed) throw new Error("ONNX engine used after dispose()");
      const size = shape.reduce((a, b) => a * b, 1);
      if (size !== input.length) {
        throw new RangeError(
          `input has ${input.length} values but shape [${shape}] needs ${size}`,
        );
      }
      const n = shape[0];
      if (!(n > maxBatch)) return await runOnce(input, shape);
      const per = size / n;
      const parts: OnnxOutput[][] = [];
      for (let i = 0; i < n; i += maxBatch) {
        const m = Math.min(maxBatch, n - i);
        parts.push(
          await runOnce(input.subarray(i * per, (i + m) * per), [
            m,
            ...shape.slice(1),
          ]),
        );
      }
      return parts[0].map((o, k) => {
        const data = new Float32Array(
          parts.reduce((sum, p) => sum + p[k].data.length, 0),
        );
        let at = 0;
        for (const p of parts) {
          data.set(p[k].data, at);
          at += p[k].data.length;
        }
        return { name: o.name, data, shape: [n, ...o.shape.slice(1)] };
      });
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      await session.release();
    },
  };
}
