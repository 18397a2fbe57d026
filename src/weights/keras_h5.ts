/**
 * Reading Keras weights out of HDF5 with `h5wasm` (the HDF5 C library
 * compiled to WebAssembly), in both layouts Keras writes:
 *
 * - **legacy** (`model.save("x.h5")` in any Keras, `model.save_weights("x.h5")`
 *   in Keras 2): the root, or its `model_weights` group in a full-model file,
 *   has the attribute `layer_names`; each layer's group has `weight_names`
 *   (e.g. `Conv1/kernel:0`, or `Conv1/kernel` from Keras 3) and the values are
 *   datasets at `<layer>/<weight name>`. Names may be fixed-length byte
 *   strings (h5py's encoding of Keras 2's bytes) or variable-length strings;
 *   long lists may be split as `name0`, `name1`, … ({@link readKerasWeights}).
 * - **Keras 3** (`model.save_weights("x.weights.h5")`, and the
 *   `model.weights.h5` inside a `.keras` archive): one group per saveable
 *   object, named after its class in model order (`layers/conv2d_3`,
 *   `layers/functional/layers/add_1`, `optimizer`), each holding a `vars`
 *   group of datasets `0`, `1`, …; Keras ≥ 3.10 also writes the layer's name
 *   as the `vars` group's `name` attribute ({@link readKeras3Weights}).
 *
 * Matching either layout to a model is `keras_weights.ts`' job.
 *
 * @module
 */

import { importH5wasm } from "../deps/hdf5.ts";

type H5 = Awaited<ReturnType<typeof importH5wasm>>;
/** An open h5wasm group (a file is one too). */
export type H5Group = InstanceType<H5["Group"]>;
/** An open h5wasm file. */
export type H5File = InstanceType<H5["File"]>;

/** The part of Emscripten's in-memory file system used here. */
interface MemFs {
  writeFile: (path: string, data: Uint8Array) => void;
  readFile: (path: string) => Uint8Array;
  unlink: (path: string) => void;
}

let h5Ready: Promise<{ h5: H5; fs: MemFs }> | null = null;
let scratchId = 0;

/** h5wasm, loaded once. Files live in its in-memory file system. */
export function loadH5(): Promise<{ h5: H5; fs: MemFs }> {
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
  /** One line per problem found (every mismatch is listed, the first one first). */
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

/** One weight as stored in a Keras weights file. */
export interface KerasWeight {
  /** Its name: in `weight_names` (legacy, e.g. `Conv1/kernel:0`), or its index (Keras 3, `"0"`). */
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
  /** Root attribute `backend`, when present. */
  backend: string | null;
  /** Keras version that wrote the file, when recorded. */
  kerasVersion: string | null;
}

/** One `vars` group of a Keras 3 weights file. */
export interface Keras3Vars {
  /** The object's path without `/vars`, e.g. `layers/conv2d_3`. */
  path: string;
  /** The `name` attribute (the layer's name; Keras ≥ 3.10), else null. */
  name: string | null;
  /** Datasets `0`, `1`, … in index order. */
  weights: KerasWeight[];
}

/** The contents of a Keras 3 `.weights.h5` (the layers' part; the optimizer's is skipped). */
export interface Keras3WeightsFile {
  /** Tells this apart from a legacy {@link KerasWeightsFile}. */
  format: "keras3";
  /** Every `vars` group under `layers/`, in path order, weightless ones included. */
  vars: Map<string, Keras3Vars>;
  /** Keras version that wrote the file, when known (from a `.keras` archive's metadata). */
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

function readScalarString(obj: H5Group, name: string): string | null {
  if (!attrNames(obj).includes(name)) return null;
  // deno-lint-ignore no-explicit-any
  const v = (obj.attrs as any)[name]?.value ?? null;
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

function toFloat32(v: unknown, where: string): Float32Array {
  if (v instanceof Float32Array) return v;
  if (ArrayBuffer.isView(v) || Array.isArray(v)) {
    return Float32Array.from(v as ArrayLike<number>, Number);
  }
  if (typeof v === "number") return Float32Array.of(v);
  throw new KerasWeightsError(
    `dataset "${where}" holds ${typeof v} values, not numbers`,
  );
}

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** HDF5's superblock signature, at offset 0, 512, 1024, 2048, … (after a user block). */
export function hasHdf5Signature(bytes: Uint8Array): boolean {
  for (let at = 0; at + 8 <= bytes.length; at = at === 0 ? 512 : at * 2) {
    if (HDF5_SIGNATURE.every((b, i) => bytes[at + i] === b)) return true;
  }
  return false;
}

/** Opens `bytes` as an HDF5 file for the duration of `fn`. */
export async function withH5Bytes<T>(
  bytes: Uint8Array,
  fn: (f: H5File, h5: H5) => T,
): Promise<T> {
  const { h5, fs } = await loadH5();
  if (!hasHdf5Signature(bytes)) {
    throw new KerasWeightsError("Not an HDF5 file (no HDF5 signature)");
  }
  const path = `/keras_weights_${++scratchId}.h5`;
  fs.writeFile(path, bytes);
  let file: H5File | null = null;
  try {
    file = new h5.File(path, "r");
    if (file.file_id < 0n) {
      file = null;
      throw new KerasWeightsError("Not an HDF5 file (HDF5 could not open it)");
    }
    return fn(file, h5);
  } finally {
    file?.close();
    fs.unlink(path);
  }
}

/**
 * Creates an HDF5 file, lets `fn` fill it, and returns its bytes (for
 * writers of test fixtures).
 */
export async function writeH5(
  fn: (f: H5File, h5: H5) => void | Promise<void>,
): Promise<Uint8Array<ArrayBuffer>> {
  const { h5, fs } = await loadH5();
  const path = `/keras_weights_${++scratchId}.h5`;
  const file = new h5.File(path, "w");
  try {
    await fn(file, h5);
  } finally {
    file.close();
  }
  try {
    return new Uint8Array(fs.readFile(path));
  } finally {
    fs.unlink(path);
  }
}

/** A path's bytes, or the bytes themselves, with a label for messages. */
export async function sourceBytes(
  source: string | Uint8Array,
): Promise<{ bytes: Uint8Array; label: string | null }> {
  if (typeof source !== "string") return { bytes: source, label: null };
  try {
    return { bytes: await Deno.readFile(source), label: source };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new KerasWeightsError(`Keras weights file not found: ${source}`);
    }
    throw e;
  }
}

/** Prefixes a {@link KerasWeightsError}'s message with the file it is about. */
export function labelled(e: unknown, label: string | null): unknown {
  if (e instanceof KerasWeightsError && label != null) {
    return new KerasWeightsError(`${label}: ${e.message}`, e.problems);
  }
  return e;
}

/** True when an open HDF5 file is in Keras 3's layout (no `layer_names`, a `layers` or `vars` group). */
export function isKeras3Layout(file: H5File): boolean {
  const keys = file.keys();
  return !attrNames(file).some((n) => /^layer_names\d*$/.test(n)) &&
    !keys.includes("model_weights") &&
    (keys.includes("layers") || keys.includes("vars"));
}

/** Reads an open legacy-layout file (see the module doc). */
export function readLegacyLayout(file: H5File, h5: H5): KerasWeightsFile {
  let root: H5Group = file;
  if (!attrNames(file).some((n) => /^layer_names\d*$/.test(n))) {
    const mw = file.keys().includes("model_weights")
      ? file.get("model_weights")
      : null;
    if (mw instanceof h5.Group) root = mw;
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
          values: toFloat32(ds.value, `${layerName}/${name}`),
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
}

/** Reads an open Keras 3-layout file: every `vars` group under `layers/`. */
export function readKeras3Layout(
  file: H5File,
  h5: H5,
  kerasVersion: string | null = null,
): Keras3WeightsFile {
  const vars = new Map<string, Keras3Vars>();
  const visit = (group: H5Group, path: string) => {
    for (const key of group.keys()) {
      const child = group.get(key);
      if (!(child instanceof h5.Group)) continue;
      if (key !== "vars") {
        visit(child, `${path}/${key}`);
        continue;
      }
      const indices = child.keys().filter((k) => /^\d+$/.test(k))
        .sort((a, b) => Number(a) - Number(b));
      indices.forEach((k, i) => {
        if (Number(k) !== i) {
          throw new KerasWeightsError(
            `Not a Keras 3 weights file: ${path}/vars has datasets ${indices} (expected 0..${
              indices.length - 1
            })`,
          );
        }
      });
      vars.set(path, {
        path,
        name: readScalarString(child, "name"),
        weights: indices.map((k) => {
          const ds = child.get(k);
          if (!(ds instanceof h5.Dataset)) {
            throw new KerasWeightsError(
              `Not a Keras 3 weights file: ${path}/vars/${k} is not a dataset`,
            );
          }
          return {
            name: k,
            shape: [...(ds.shape ?? [])],
            values: toFloat32(ds.value, `${path}/vars/${k}`),
          };
        }),
      });
    }
  };
  const layers = file.keys().includes("layers") ? file.get("layers") : null;
  if (layers instanceof h5.Group) visit(layers, "layers");
  return { format: "keras3", vars, kerasVersion };
}

/**
 * Reads a Keras legacy `.h5` weights file (a path or its bytes) into memory:
 * layer names and every layer's weights, in file order. A Keras 3 file is
 * refused with a pointer to {@link readKeras3Weights}.
 */
export async function readKerasWeights(
  source: string | Uint8Array,
): Promise<KerasWeightsFile> {
  const { bytes, label } = await sourceBytes(source);
  try {
    return await withH5Bytes(bytes, (file, h5) => {
      if (isKeras3Layout(file)) {
        throw new KerasWeightsError(
          "This is a Keras 3 `.weights.h5` file, not the legacy layout: read it with readKeras3Weights " +
            "(loadKerasWeights reads both)",
        );
      }
      return readLegacyLayout(file, h5);
    });
  } catch (e) {
    throw labelled(e, label);
  }
}

/**
 * Reads a Keras 3 `.weights.h5` file (a path or its bytes): every layer's
 * `vars` group. A legacy file is refused with a pointer to
 * {@link readKerasWeights}.
 */
export async function readKeras3Weights(
  source: string | Uint8Array,
): Promise<Keras3WeightsFile> {
  const { bytes, label } = await sourceBytes(source);
  try {
    return await withH5Bytes(bytes, (file, h5) => {
      if (!isKeras3Layout(file)) {
        throw new KerasWeightsError(
          "Not a Keras 3 `.weights.h5` file (no `layers` or `vars` group" +
            (attrNames(file).some((n) => /^layer_names/.test(n)) ||
                file.keys().includes("model_weights")
              ? "; it is a legacy Keras .h5: read it with readKerasWeights)"
              : ")"),
        );
      }
      return readKeras3Layout(file, h5);
    });
  } catch (e) {
    throw labelled(e, label);
  }
}
