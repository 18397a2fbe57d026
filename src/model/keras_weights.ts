/**
 * Keras `.h5` weights in TF.js: read (`loadKerasWeights`), write
 * (`saveKerasWeights`), and the Keras ImageNet MobileNetV2 files
 * (`imagenetWeightsUrl`, `resolveWeightsSource`).
 *
 * HDF5 is parsed by `h5wasm` (the HDF5 C library compiled to WebAssembly).
 * The layout is Keras' legacy one (`model.save_weights("x.h5")`): the root
 * (or its `model_weights` group, in a full-model file) has the attribute
 * `layer_names`; each layer's group has `weight_names` (e.g. `Conv1/kernel:0`)
 * and the values are datasets at `<layer>/<weight name>`. Names may be stored
 * as fixed-length byte strings (as h5py writes Keras' bytes) or
 * variable-length strings; long lists may be split as `name0`, `name1`, ….
 *
 * @example
 * ```ts
 * import { mobileNetV2 } from "./mobilenet_v2.ts";
 * import { loadKerasWeights, resolveWeightsSource } from "./keras_weights.ts";
 * const base = mobileNetV2({ inputShape: [160, 160, 3], includeTop: false });
 * const path = await resolveWeightsSource("imagenet", {
 *   alpha: 1.0, rows: 160, includeTop: false, cacheDir: ".cache",
 * });
 * if (path) await loadKerasWeights(base, path);
 * ```
 *
 * @module
 */

import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { importH5wasm, tf } from "../deps.ts";
import {
  fetchFile as defaultFetchFile,
  type FetchOptions,
  type FetchResult,
} from "../data/fetch.ts";

type H5 = Awaited<ReturnType<typeof importH5wasm>>;
type H5Group = InstanceType<H5["Group"]>;
type H5File = InstanceType<H5["File"]>;
type LayerVariable = tf.LayerVariable;
type Layer = tf.LayersModel["layers"][number];

/** The part of Emscripten's in-memory file system used here. */
interface MemFs {
  writeFile: (path: string, data: Uint8Array) => void;
  readFile: (path: string) => Uint8Array;
  unlink: (path: string) => void;
}

let h5Ready: Promise<{ h5: H5; fs: MemFs }> | null = null;
let scratchId = 0;

/** h5wasm, loaded once. Files live in its in-memory file system. */
function loadH5() {
  h5Ready ??= (async () => {
    const h5 = await importH5wasm();
    const module = await h5.ready;
    const fs = module.FS as unknown as MemFs;
    return { h5, fs };
  })();
  return h5Ready;
}

/** A Keras weights file that does not fit (or is not) what was asked. */
export class KerasWeightsError extends Error {
  /** One line per problem found (every mismatch is listed, not just the first). */
  readonly problems: string[];
  /** Builds the error from its summary and problem lines. */
  constructor(summary: string, problems: string[] = []) {
    super(
      problems.length ? `${summary}\n  ${problems.join("\n  ")}` : summary,
    );
    this.name = "KerasWeightsError";
    this.problems = problems;
  }
}

/** One weight as stored in a Keras `.h5` file. */
export interface KerasWeight {
  /** Its name in `weight_names`, e.g. `Conv1/kernel:0`. */
  name: string;
  /** Its shape. */
  shape: number[];
  /** Its values, row-major, as float32. */
  values: Float32Array;
}

/** The contents of a Keras legacy weights file. */
export interface KerasWeightsFile {
  /** Every layer name in `layer_names`, in file order (weightless layers included). */
  layerNames: string[];
  /** Weights of each layer, by layer name (empty for weightless layers). */
  layers: Map<string, KerasWeight[]>;
  /** Root attributes `backend` and `keras_version`, when present. */
  backend: string | null;
  /** Keras version that wrote the file, when recorded. */
  kerasVersion: string | null;
}

function decodeString(v: unknown, padSpaces: boolean): string {
  let s = typeof v === "string"
    ? v
    : v instanceof Uint8Array
    ? new TextDecoder().decode(v)
    : String(v);
  s = s.replace(/\0+$/, "");
  return padSpaces ? s.replace(/ +$/, "") : s;
}

function attrNames(obj: H5Group): string[] {
  return Object.keys(obj.attrs);
}

function readAttr(obj: H5Group, name: string): unknown {
  // deno-lint-ignore no-explicit-any
  const attr = (obj.attrs as any)[name];
  return attr?.value ?? null;
}

function readScalarString(obj: H5Group, name: string): string | null {
  if (!attrNames(obj).includes(name)) return null;
  const v = readAttr(obj, name);
  if (v == null) return null;
  return decodeString(Array.isArray(v) ? v[0] : v, false);
}

/**
 * Reads a list-of-names attribute as Keras' `load_attributes_from_hdf5_group`
 * does: `name`, or chunks `name0`, `name1`, …; fixed or variable-length
 * strings; an empty numeric array means no names.
 */
function readNameList(obj: H5Group, name: string, where: string): string[] {
  const names = attrNames(obj);
  const parts: string[] = [];
  if (names.includes(name)) parts.push(name);
  else {
    for (let i = 0; names.includes(`${name}${i}`); i++) {
      parts.push(`${name}${i}`);
    }
  }
  if (parts.length === 0) {
    throw new KerasWeightsError(
      `Not a Keras weights file: ${where} has no "${name}" attribute`,
    );
  }
  const out: string[] = [];
  for (const part of parts) {
    // deno-lint-ignore no-explicit-any
    const attr = (obj.attrs as any)[part];
    const padSpaces = attr?.metadata?.strpad === 2;
    const v = attr?.value;
    if (v == null) continue;
    if (typeof v === "string" || v instanceof Uint8Array) {
      out.push(decodeString(v, padSpaces));
    } else if (Array.isArray(v)) {
      for (const s of v) out.push(decodeString(s, padSpaces));
    } else if (ArrayBuffer.isView(v) && (v as Float64Array).length === 0) {
      // h5py stores an empty list as an empty float array.
    } else {
      throw new KerasWeightsError(
        `Not a Keras weights file: ${where} attribute "${part}" is not a list of names`,
      );
    }
  }
  return out;
}

function toFloat32(v: unknown): Float32Array {
  if (v instanceof Float32Array) return v;
  if (ArrayBuffer.isView(v) || Array.isArray(v)) {
    return Float32Array.from(v as ArrayLike<number>, Number);
  }
  if (typeof v === "number") return Float32Array.of(v);
  throw new KerasWeightsError(`unsupported dataset value ${typeof v}`);
}

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** HDF5's superblock signature, at offset 0, 512, 1024, 2048, … (after a user block). */
function hasHdf5Signature(bytes: Uint8Array): boolean {
  for (let at = 0; at + 8 <= bytes.length; at = at === 0 ? 512 : at * 2) {
    if (HDF5_SIGNATURE.every((b, i) => bytes[at + i] === b)) return true;
  }
  return false;
}

function withH5File<T>(
  h5: H5,
  fs: MemFs,
  bytes: Uint8Array,
  fn: (f: H5File) => T,
): T {
  const path = `/keras_weights_${++scratchId}.h5`;
  fs.writeFile(path, bytes);
  let file: H5File | null = null;
  try {
    if (!hasHdf5Signature(bytes)) {
      throw new KerasWeightsError("Not an HDF5 file (no HDF5 signature)");
    }
    file = new h5.File(path, "r");
    if (file.file_id < 0n) {
      file = null;
      throw new KerasWeightsError("Not an HDF5 file (HDF5 could not open it)");
    }
    return fn(file);
  } finally {
    file?.close();
    fs.unlink(path);
  }
}

async function sourceBytes(
  source: string | Uint8Array,
): Promise<{ bytes: Uint8Array; label: string }> {
  if (typeof source !== "string") return { bytes: source, label: "<bytes>" };
  try {
    return { bytes: await Deno.readFile(source), label: source };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new KerasWeightsError(`Keras weights file not found: ${source}`);
    }
    throw e;
  }
}

/**
 * Reads a Keras legacy `.h5` weights file (a path or its bytes) into memory:
 * layer names and every layer's weights, in file order.
 */
export async function readKerasWeights(
  source: string | Uint8Array,
): Promise<KerasWeightsFile> {
  const { bytes, label } = await sourceBytes(source);
  const { h5, fs } = await loadH5();
  try {
    return withH5File(h5, fs, bytes, (file) => {
      let root: H5Group = file;
      if (!attrNames(file).some((n) => /^layer_names\d*$/.test(n))) {
        const mw = file.keys().includes("model_weights")
          ? file.get("model_weights")
          : null;
        if (mw instanceof h5.Group) root = mw;
      }
      if (
        !attrNames(root).some((n) => /^layer_names\d*$/.test(n)) &&
        file.keys().some((k) =>
          k === "layers" || k === "_layer_checkpoint_dependencies"
        )
      ) {
        throw new KerasWeightsError(
          "This looks like a Keras 3 `.weights.h5` file; only the legacy layout is supported " +
            '(write it with `model.save("model.h5")`, legacy HDF5 in any Keras, or `model.save_weights("x.h5")` in Keras 2)',
        );
      }
      const layerNames = readNameList(root, "layer_names", "the file root");
      const layers = new Map<string, KerasWeight[]>();
      for (const layerName of layerNames) {
        const group = root.get(layerName);
        if (!(group instanceof h5.Group)) {
          throw new KerasWeightsError(
            `Not a Keras weights file: layer "${layerName}" is listed in layer_names but has no group`,
          );
        }
        const weightNames = readNameList(
          group,
          "weight_names",
          `layer "${layerName}"`,
        );
        layers.set(
          layerName,
          weightNames.map((name) => {
            const ds = group.get(name);
            if (!(ds instanceof h5.Dataset)) {
              throw new KerasWeightsError(
                `Not a Keras weights file: dataset "${layerName}/${name}" is missing`,
              );
            }
            return {
              name,
              shape: [...(ds.shape ?? [])],
              values: toFloat32(ds.value),
            };
          }),
        );
      }
      return {
        layerNames,
        layers,
        backend: readScalarString(file, "backend"),
        kerasVersion: readScalarString(file, "keras_version"),
      };
    });
  } catch (e) {
    if (e instanceof KerasWeightsError && label !== "<bytes>") {
      throw new KerasWeightsError(`${label}: ${e.message}`, e.problems);
    }
    throw e;
  }
}

const KERAS_WEIGHT_ORDER = [
  "kernel",
  "depthwise_kernel",
  "pointwise_kernel",
  "recurrent_kernel",
  "bias",
  "gamma",
  "beta",
  "moving_mean",
  "moving_variance",
];

function shortName(v: LayerVariable): string {
  const name = v.originalName ?? v.name;
  return name.slice(name.lastIndexOf("/") + 1).replace(/:\d+$/, "");
}

/**
 * A layer's weights in the order Keras stores them (`trainable_weights +
 * non_trainable_weights` of an unfrozen layer): Conv2D kernel, bias;
 * DepthwiseConv2D depthwise_kernel; BatchNormalization gamma, beta,
 * moving_mean, moving_variance; Dense kernel, bias. Freezing a layer does not
 * change this order.
 */
export function kerasWeightOrder(layer: Layer): LayerVariable[] {
  const weights = [...layer.weights];
  const ranks = weights.map((w) => KERAS_WEIGHT_ORDER.indexOf(shortName(w)));
  if (ranks.some((r) => r < 0)) return weights;
  return weights
    .map((w, i) => ({ w, r: ranks[i] }))
    .sort((a, b) => a.r - b.r)
    .map(({ w }) => w);
}

/** Weights of a nested model in Keras' legacy order (trainable, then non-trainable). */
function nestedWeightOrder(model: tf.LayersModel): LayerVariable[] {
  return [...model.trainableWeights, ...model.nonTrainableWeights];
}

function kerasWeightName(v: LayerVariable): string {
  return `${v.originalName ?? v.name}:0`;
}

function stripIndex(name: string): string {
  return name.replace(/:\d+$/, "");
}

const fmtShape = (s: readonly (number | null)[]) => `[${s.join(", ")}]`;

/** Options of {@link loadKerasWeights}. */
export interface LoadKerasWeightsOptions {
  /**
   * Match layers by name instead of by position. Default false: like Keras'
   * `load_weights`, the i-th layer with weights in the file goes to the i-th
   * layer with weights in the model. By name, model layers absent from the
   * file keep their weights and file layers absent from the model are ignored.
   */
  byName?: boolean;
}

/** What {@link loadKerasWeights} did. */
export interface LoadKerasWeightsReport {
  /** Layers whose weights were set, as `model layer ← file layer` pairs. */
  layers: { model: string; file: string }[];
  /** Number of weight tensors set. */
  weights: number;
  /** Model layers with weights that were left as they were (only `byName`). */
  skipped: string[];
}

/**
 * Sets `model`'s weights from a Keras legacy `.h5` weights file (a local path
 * or its bytes), as Keras' `model.load_weights` does: layers with weights are
 * matched in order (or by name), each layer's weights in Keras' order
 * ({@link kerasWeightOrder}); a nested model (e.g. a base inside a classifier)
 * is matched weight by weight on the names stored in the file. Every count and
 * shape is checked before anything is set: any mismatch throws one
 * {@link KerasWeightsError} listing every layer with its expected and found
 * shapes, and the model is left untouched.
 */
export async function loadKerasWeights(
  model: tf.LayersModel,
  source: string | Uint8Array | KerasWeightsFile,
  options: LoadKerasWeightsOptions = {},
): Promise<LoadKerasWeightsReport> {
  const file = typeof source === "string" || source instanceof Uint8Array
    ? await readKerasWeights(source)
    : source;
  const label = typeof source === "string" ? `${source}: ` : "";
  const modelLayers = model.layers.filter((l) => l.weights.length > 0);
  const fileLayers = file.layerNames.filter((n) =>
    (file.layers.get(n)?.length ?? 0) > 0
  );
  const problems: string[] = [];
  const pairs: { layer: Layer; fileName: string; index: number }[] = [];
  const skipped: string[] = [];
  if (options.byName) {
    const inFile = new Set(fileLayers);
    modelLayers.forEach((layer, index) => {
      if (inFile.has(layer.name)) {
        pairs.push({ layer, fileName: layer.name, index });
      } else skipped.push(layer.name);
    });
  } else {
    if (modelLayers.length !== fileLayers.length) {
      const n = Math.min(modelLayers.length, fileLayers.length);
      let first = 0;
      while (first < n && modelLayers[first].name === fileLayers[first]) {
        first++;
      }
      problems.push(
        `layer count: the model has ${modelLayers.length} layers with weights, the file has ${fileLayers.length}` +
          ` (first difference at #${first}: model "${
            modelLayers[first]?.name ?? "—"
          }", file "${fileLayers[first] ?? "—"}")`,
      );
    } else {
      modelLayers.forEach((layer, index) =>
        pairs.push({ layer, fileName: fileLayers[index], index })
      );
    }
  }

  const assignments: { variable: LayerVariable; weight: KerasWeight }[] = [];
  for (const { layer, fileName, index } of pairs) {
    const stored = file.layers.get(fileName) ?? [];
    const where = `layer #${index} "${layer.name}"${
      fileName === layer.name ? "" : ` (file: "${fileName}")`
    }`;
    if (layer instanceof tf.LayersModel) {
      // A nested model: match its weights on their stored names.
      const byName = new Map<string, LayerVariable>();
      for (const v of layer.weights) byName.set(v.originalName ?? v.name, v);
      const used = new Set<LayerVariable>();
      for (const weight of stored) {
        const v = byName.get(stripIndex(weight.name));
        if (v == null) {
          problems.push(
            `${where}: file weight "${weight.name}" ${
              fmtShape(weight.shape)
            } has no weight of that name in the model`,
          );
          continue;
        }
        used.add(v);
        checkShape(where, v, weight);
      }
      for (const v of layer.weights) {
        if (!used.has(v)) {
          problems.push(
            `${where}: model weight "${v.originalName}" ${
              fmtShape(v.shape)
            } is not in the file`,
          );
        }
      }
      continue;
    }
    const expected = kerasWeightOrder(layer);
    if (expected.length !== stored.length) {
      problems.push(
        `${where}: expected ${expected.length} weights ${
          expected.map((v) => fmtShape(v.shape)).join(" ")
        }, found ${stored.length} ${
          stored.map((w) => fmtShape(w.shape)).join(" ")
        }`,
      );
      continue;
    }
    expected.forEach((v, i) => checkShape(where, v, stored[i]));
  }

  function checkShape(where: string, v: LayerVariable, weight: KerasWeight) {
    const ok = v.shape.length === weight.shape.length &&
      v.shape.every((d, i) => d === weight.shape[i]);
    if (ok) assignments.push({ variable: v, weight });
    else {
      problems.push(
        `${where}: weight "${weight.name}" expected shape ${
          fmtShape(v.shape)
        }, found ${fmtShape(weight.shape)}`,
      );
    }
  }

  if (problems.length > 0) {
    throw new KerasWeightsError(
      `${label}Keras weights do not fit model "${model.name}" (${problems.length} problem${
        problems.length === 1 ? "" : "s"
      }):`,
      problems,
    );
  }
  for (const { variable, weight } of assignments) {
    tf.tidy(() => {
      variable.write(tf.tensor(weight.values, weight.shape, "float32"));
    });
  }
  return {
    layers: pairs.map(({ layer, fileName }) => ({
      model: layer.name,
      file: fileName,
    })),
    weights: assignments.length,
    skipped,
  };
}

/** Options of {@link saveKerasWeights}. */
export interface SaveKerasWeightsOptions {
  /**
   * How names are stored: `"fixed"` (fixed-length byte strings, as h5py writes
   * Keras' `bytes`; the default) or `"vlen"` (variable-length UTF-8 strings).
   */
  strings?: "fixed" | "vlen";
  /** Root attribute `keras_version`. Default `"2.15.0"` (the legacy layout written). */
  kerasVersion?: string;
  /** Root attribute `backend`. Default `"tensorflow"` (kernel layouts are TensorFlow's). */
  backend?: string;
}

/**
 * Writes `model`'s weights as a Keras legacy `.h5` file (what Keras'
 * `model.save_weights("x.h5")` writes, loadable by Keras' `load_weights` and
 * by {@link loadKerasWeights}) and returns its bytes. A nested model is
 * written as one group, its weights in Keras' legacy order (trainable, then
 * non-trainable).
 */
export async function saveKerasWeights(
  model: tf.LayersModel,
  options: SaveKerasWeightsOptions = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const { strings = "fixed" } = options;
  const { h5, fs } = await loadH5();
  const path = `/keras_weights_${++scratchId}.h5`;
  const enc = new TextEncoder();
  const putNames = (obj: H5Group, name: string, names: string[]) => {
    if (names.length === 0) {
      obj.create_attribute(name, new Float64Array(0), [0], "<d");
    } else if (strings === "vlen") {
      obj.create_attribute(name, names, [names.length], "S");
    } else {
      const len = Math.max(1, ...names.map((n) => enc.encode(n).length));
      obj.create_attribute(name, names, [names.length], `A${len}`);
    }
  };
  const putString = (obj: H5Group, name: string, value: string) => {
    if (strings === "vlen") obj.create_attribute(name, value, null, "S");
    else {
      obj.create_attribute(
        name,
        value,
        null,
        `A${Math.max(1, enc.encode(value).length)}`,
      );
    }
  };
  const file = new h5.File(path, "w");
  try {
    putString(file, "backend", options.backend ?? "tensorflow");
    putString(file, "keras_version", options.kerasVersion ?? "2.15.0");
    putNames(file, "layer_names", model.layers.map((l) => l.name));
    for (const layer of model.layers) {
      const group = file.create_group(layer.name);
      const weights = layer instanceof tf.LayersModel
        ? nestedWeightOrder(layer)
        : kerasWeightOrder(layer);
      const names = weights.map(kerasWeightName);
      putNames(group, "weight_names", names);
      for (let i = 0; i < weights.length; i++) {
        const segments = names[i].split("/");
        let parent: H5Group = group;
        for (const seg of segments.slice(0, -1)) {
          const existing = parent.keys().includes(seg) ? parent.get(seg) : null;
          parent = existing instanceof h5.Group
            ? existing
            : parent.create_group(seg);
        }
        const values = await weights[i].read().data() as Float32Array;
        parent.create_dataset({
          name: segments[segments.length - 1],
          data: values,
          shape: weights[i].shape as number[],
          dtype: "<f",
        });
      }
    }
  } finally {
    file.close();
  }
  try {
    return new Uint8Array(fs.readFile(path));
  } finally {
    fs.unlink(path);
  }
}

// ---------------------------------------------------------------------------
// Keras' ImageNet MobileNetV2 weights

/** Folder of Keras' published MobileNetV2 weights. */
export const KERAS_MOBILENET_V2_WEIGHTS_BASE =
  "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/";
/** Alphas Keras publishes ImageNet weights for. */
export const IMAGENET_ALPHAS: readonly number[] = [
  0.35,
  0.5,
  0.75,
  1.0,
  1.3,
  1.4,
];
/** Input sizes Keras publishes ImageNet weights for (alphas 1.3 and 1.4: 224 only). */
export const IMAGENET_ROWS: readonly number[] = [96, 128, 160, 192, 224];

/** A number as Python's `str(float(x))` writes it (`1` → `"1.0"`, `0.5` → `"0.5"`). */
export function pythonFloatString(x: number): string {
  return Number.isInteger(x) ? x.toFixed(1) : String(x);
}

/**
 * The input size whose ImageNet weights Keras loads for a model of
 * `rows`×`cols` (cols defaults to rows): the size itself when weights exist
 * for it, else 224 with Keras' warning (non-square, unknown, or not one of
 * {@link IMAGENET_ROWS}; alphas 1.3/1.4 only exist at 224). Throws for an
 * alpha without ImageNet weights.
 */
export function resolveImagenetRows(
  alpha: number,
  rows: number | null,
  cols: number | null = rows,
): { rows: number; warning: string | null } {
  if (!IMAGENET_ALPHAS.includes(alpha)) {
    throw new RangeError(
      `ImageNet weights for MobileNetV2 exist only for alpha in {${
        IMAGENET_ALPHAS.map(pythonFloatString).join(", ")
      }}, got ${alpha}`,
    );
  }
  if (rows == null || rows !== cols || !IMAGENET_ROWS.includes(rows)) {
    return {
      rows: 224,
      warning:
        `input shape is undefined or non-square, or rows (${rows}) is not in [${IMAGENET_ROWS}]: ` +
        `weights for input shape (224, 224) will be loaded as the default (as Keras does).`,
    };
  }
  if (alpha > 1.0 && rows !== 224) {
    return {
      rows: 224,
      warning:
        `Keras publishes MobileNetV2 alpha ${alpha} weights only for 224x224: ` +
        `weights for input shape (224, 224) will be loaded for ${rows}x${cols}.`,
    };
  }
  return { rows, warning: null };
}

/** Options of {@link imagenetWeightsUrl}. */
export interface ImagenetUrlOptions {
  /** Input cols when they differ from rows (non-square falls back to 224). */
  cols?: number | null;
  /** Receives the 224 fallback warning. Default `console.warn`. */
  warn?: (message: string) => void;
}

/**
 * URL of Keras' ImageNet MobileNetV2 weights for (alpha, input size, top):
 * `…/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{rows}[_no_top].h5`,
 * with the size resolved by {@link resolveImagenetRows} (warning on fallback).
 */
export function imagenetWeightsUrl(
  alpha: number,
  rows: number | null,
  includeTop: boolean,
  options: ImagenetUrlOptions = {},
): string {
  const resolved = resolveImagenetRows(alpha, rows, options.cols ?? rows);
  if (resolved.warning) (options.warn ?? console.warn)(resolved.warning);
  return `${KERAS_MOBILENET_V2_WEIGHTS_BASE}mobilenet_v2_weights_tf_dim_ordering_tf_kernels_${
    pythonFloatString(alpha)
  }_${resolved.rows}${includeTop ? "" : "_no_top"}.h5`;
}

/** Options of {@link resolveWeightsSource}. */
export interface ResolveWeightsOptions {
  /** MobileNetV2 alpha (for `"imagenet"`). */
  alpha: number;
  /** Input rows (for `"imagenet"`). */
  rows: number | null;
  /** Input cols; default rows. */
  cols?: number | null;
  /** Whether the model has Keras' classification top (for `"imagenet"`). Default false. */
  includeTop?: boolean;
  /** Where downloads are cached. */
  cacheDir: string;
  /** Download progress. */
  onProgress?: FetchOptions["onProgress"];
  /** Aborts a download. */
  signal?: AbortSignal;
  /** Receives the 224 fallback warning. Default `console.warn`. */
  warn?: (message: string) => void;
  /** The download step; default `fetchFile` of `src/data/fetch.ts` (replaceable in tests). */
  fetchFile?: (url: string, opts: FetchOptions) => Promise<FetchResult>;
}

/**
 * Turns a `model.weights` value into a local `.h5` path: `null` → `null`;
 * `"imagenet"` → Keras' file for (alpha, size, top) downloaded once into
 * `cacheDir`; an `http(s)://` URL → downloaded once into `cacheDir`; a
 * `file://` URL or a path → that file, which must exist.
 */
export async function resolveWeightsSource(
  weights: string | null,
  options: ResolveWeightsOptions,
): Promise<string | null> {
  if (weights == null) return null;
  const fetchFile = options.fetchFile ?? defaultFetchFile;
  const download = async (url: string, fileName?: string) =>
    (await fetchFile(url, {
      cacheDir: options.cacheDir,
      fileName,
      onProgress: options.onProgress,
      signal: options.signal,
    })).path;
  if (weights === "imagenet") {
    const url = imagenetWeightsUrl(
      options.alpha,
      options.rows,
      options.includeTop ?? false,
      { cols: options.cols, warn: options.warn },
    );
    return await download(url, basename(new URL(url).pathname));
  }
  if (/^https?:\/\//i.test(weights)) return await download(weights);
  const path = /^file:/i.test(weights) ? fileURLToPath(weights) : weights;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new KerasWeightsError(
        `model.weights: no such file: ${path} (expected "imagenet", a URL or a path to a Keras .h5 weights file, or null)`,
      );
    }
    throw e;
  }
  if (!info.isFile) {
    throw new KerasWeightsError(`model.weights: not a file: ${path}`);
  }
  return path;
}
