/**
 * Keras weights in TF.js: {@link loadKerasWeights} sets a model's weights
 * from any of the files Keras writes —
 *
 * - a legacy HDF5 `.h5` (`model.save("x.h5")`, Keras 2's
 *   `model.save_weights("x.h5")`, Keras' published ImageNet files),
 * - a Keras 3 `.weights.h5` (`model.save_weights("x.weights.h5")`),
 * - a Keras 3 `.keras` archive (`model.save("x.keras")`) —
 *
 * told apart by their contents. Reading is in `keras_h5.ts` and
 * `keras_archive.ts`, matching in `keras_match.ts`, and Keras' ImageNet files
 * in `keras_imagenet.ts`; this module re-exports their public names.
 *
 * @example
 * ```ts ignore
 * import { mobileNetV2 } from "../model/mobilenet_v2.ts";
 * import { resolveWeightsSource } from "./keras_imagenet.ts";
 * import { loadKerasWeights } from "./keras_weights.ts";
 * // Downloads Keras' ImageNet weights (9 MB) once: not run by `deno test --doc`.
 * const base = mobileNetV2({ inputShape: [160, 160, 3], includeTop: false });
 * const path = await resolveWeightsSource("imagenet", {
 *   alpha: 1.0, rows: 160, includeTop: false, cacheDir: ".cache",
 * });
 * if (path) await loadKerasWeights(base, path);
 * ```
 *
 * @module
 */

import * as tf from "../deps/tf.ts";
import {
  isKeras3Layout,
  type Keras3WeightsFile,
  KerasWeightsError,
  type KerasWeightsFile,
  labelled,
  readKeras3Layout,
  readLegacyLayout,
  sourceBytes,
  withH5Bytes,
} from "./keras_h5.ts";
import { hasZipSignature, readKerasArchive } from "./_keras_archive.ts";
import { planKeras3, planLegacy, type WeightPlan } from "./_keras_match.ts";

/** Which kind of file the weights came from. */
export type KerasWeightsFormat = "h5" | "weights.h5" | "keras";

/** Options of {@link loadKerasWeights}. */
export interface LoadKerasWeightsOptions {
  /**
   * Match layers by name instead of by position. Default false: like Keras'
   * `load_weights`, a legacy file's i-th layer with weights goes to the
   * model's i-th layer with weights, and a Keras 3 file's entries go to the
   * layers at the same place in model order. By name (legacy: the layer
   * names in the file; Keras 3: the `name` stored on each `vars` group by
   * recent Keras versions), model layers absent from the file keep their
   * weights and file layers absent from the model are ignored.
   */
  byName?: boolean;
}

/** What {@link loadKerasWeights} did. */
export interface LoadKerasWeightsReport {
  /** The file's kind. */
  format: KerasWeightsFormat;
  /** Layers whose weights were set, as `model layer ← file layer` (a legacy name or a Keras 3 path). */
  layers: { model: string; file: string }[];
  /** Number of weight tensors set. */
  weights: number;
  /** Model layers with weights that were left as they were (only `byName`). */
  skipped: string[];
}

/** Reads a weights file of any kind from a path or bytes. */
async function readAny(
  source: string | Uint8Array,
): Promise<
  { format: KerasWeightsFormat; file: KerasWeightsFile | Keras3WeightsFile }
> {
  const { bytes, label } = await sourceBytes(source);
  if (hasZipSignature(bytes)) {
    return {
      format: "keras",
      file: (await readKerasArchive(bytes).catch((e) => {
        throw labelled(e, label);
      })).weights,
    };
  }
  try {
    return await withH5Bytes(
      bytes,
      (file, h5) =>
        isKeras3Layout(file)
          ? { format: "weights.h5", file: readKeras3Layout(file, h5) }
          : { format: "h5", file: readLegacyLayout(file, h5) },
    );
  } catch (e) {
    if (e instanceof KerasWeightsError && /^Not an HDF5 file/.test(e.message)) {
      throw labelled(
        new KerasWeightsError(
          `${e.message}; expected a Keras .h5, .weights.h5 or .keras (zip) file`,
        ),
        label,
      );
    }
    throw labelled(e, label);
  }
}

/**
 * Sets `model`'s weights from a Keras weights file — a local path, its bytes,
 * or a file already read — as Keras' `model.load_weights` does: a legacy
 * `.h5` layer by layer in order (or by name), a Keras 3 `.weights.h5` or
 * `.keras` by the paths Keras 3 gives the model's layers (see
 * `keras_match.ts`). Every count and shape is checked before anything is
 * set: any mismatch throws one {@link KerasWeightsError} whose lines name
 * every mismatching layer (the first one first) with its expected and found
 * shapes, and the model is left untouched.
 */
export async function loadKerasWeights(
  model: tf.LayersModel,
  source: string | Uint8Array | KerasWeightsFile | Keras3WeightsFile,
  options: LoadKerasWeightsOptions = {},
): Promise<LoadKerasWeightsReport> {
  let format: KerasWeightsFormat;
  let file: KerasWeightsFile | Keras3WeightsFile;
  if (typeof source === "string" || source instanceof Uint8Array) {
    ({ format, file } = await readAny(source));
  } else {
    file = source;
    format = "format" in source ? "weights.h5" : "h5";
  }
  const plan: WeightPlan = "format" in file
    ? planKeras3(model, file, options.byName)
    : planLegacy(model, file, options.byName);
  if (plan.problems.length > 0) {
    const label = typeof source === "string" ? `${source}: ` : "";
    const n = plan.problems.length;
    throw new KerasWeightsError(
      `${label}Keras ${
        format === "h5" ? "legacy .h5" : `3 .${format}`
      } weights do not fit model "${model.name}" (${n} problem${
        n === 1 ? "" : "s"
      }):`,
      plan.problems,
    );
  }
  for (const { variable, weight } of plan.assignments) {
    tf.tidy(() => {
      variable.write(tf.tensor(weight.values, weight.shape, "float32"));
    });
  }
  return {
    format,
    layers: plan.layers,
    weights: plan.assignments.length,
    skipped: plan.skipped,
  };
}
