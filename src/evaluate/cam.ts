/**
 * Class-activation maps (CAM) of a classifier whose head is
 * GlobalAveragePooling2D → (Dropout) → Dense: which parts of the image the
 * prediction of a class rests on.
 *
 * **Why no gradient tape is needed.** Grad-CAM (Selvaraju et al.; Keras'
 * keras.io example) weights each channel `k` of the last feature map `A`
 * (`[H, W, C]`) by the mean gradient of the class score `y_c` (the Dense
 * output before softmax) with respect to it, sums the weighted channels and
 * applies ReLU. With `y_c = b_c + Σ_k W[k, c] · mean_ij A[i, j, k]`, the
 * gradient at every position is `W[k, c] / (H·W)`, so Grad-CAM's channel
 * weights are the Dense column divided by `H·W` and the Grad-CAM map is
 * `Σ_k A[i, j, k] W[k, c] / (H·W)` — CAM (Zhou et al.), the Dense column
 * applied to the map before pooling, up to the positive factor `1/(H·W)`.
 * After ReLU and division by the maximum both are equal. So one forward pass
 * that also returns the pre-pooling map gives every class's map, on any
 * engine (TF.js layers or fused, ONNX Runtime). The softmax (and the bias)
 * play no part. For the logit head (Dense(1), sigmoid) the score of class 1
 * is the logit `z` and that of class 0 is `−z`, so class 0's map uses `−W`.
 * A map with no positive value (ReLU leaves nothing) is all zeros here;
 * Keras' example would divide 0 by 0.
 *
 * The map is "the input of the classifier's GlobalAveragePooling2D" — found
 * by layer class, not by name, walking back from the model's output (an
 * optional Activation, the Dense, any Dropout, the pooling), so it works for
 * any base network, pooling inside the base (squeeze-and-excitation) aside.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { normalizeCam } from "./cam.ts";
 * assert.deepEqual(Array.from(normalizeCam(new Float32Array([-1, 2, 4]))), [0, 0.5, 1]);
 * ```
 *
 * @module
 */

import * as tf from "../deps/tf.ts";

/** The pieces of a classifier CAM needs; see {@link camGraphOf}. */
export interface CamGraph {
  /**
   * The classifier with two outputs: its own (class probabilities) first,
   * then the feature map GlobalAveragePooling2D reads, `[n, H, W, C]`. It
   * shares the classifier's layers: never dispose it (the classifier owns
   * them).
   */
  model: tf.LayersModel;
  /** Per-image shape of the feature map, `[H, W, C]`. */
  mapShape: [number, number, number];
  /** The Dense kernel, `[C, units]` row-major. */
  kernel: Float32Array;
  /** Dense units: the number of classes, or 1 for the logit head. */
  units: number;
}

/**
 * Finds the classifier's head from its output back — an optional Activation
 * (the logit head's sigmoid), the Dense layer, any Dropout, the
 * GlobalAveragePooling2D — and returns
 * the two-output model and the Dense kernel. Throws, naming the model, when
 * there is no such head.
 */
export async function camGraphOf(model: tf.LayersModel): Promise<CamGraph> {
  const fail = (why: string): never => {
    throw new Error(
      `model "${model.name}": class-activation maps need a GlobalAveragePooling2D → (Dropout) → Dense head; ${why}`,
    );
  };
  // Walk back from the output, so that pooling layers inside the base
  // (squeeze-and-excitation blocks) never count.
  const inputOf = (t: tf.SymbolicTensor): tf.SymbolicTensor => {
    const node = t.sourceLayer.inboundNodes[t.nodeIndex];
    if (node?.inputTensors.length !== 1) {
      fail(`layer "${t.sourceLayer.name}" has no single input`);
    }
    return node.inputTensors[0];
  };
  const kind = (t: tf.SymbolicTensor) => t.sourceLayer.getClassName();
  let t = model.outputs[0];
  if (kind(t) === "Activation") t = inputOf(t); // the logit head's sigmoid
  if (kind(t) !== "Dense") {
    fail(`the output comes from ${kind(t)} "${t.sourceLayer.name}"`);
  }
  const dense = t.sourceLayer;
  t = inputOf(t);
  while (kind(t) === "Dropout") t = inputOf(t);
  if (kind(t) !== "GlobalAveragePooling2D") {
    fail(`Dense "${dense.name}" reads ${kind(t)} "${t.sourceLayer.name}"`);
  }
  const map = inputOf(t);
  if (map.shape.length !== 4) fail(`the pooled map is not [n, H, W, C]`);
  const next = dense;
  const shape = map.shape.slice(1) as [number, number, number];
  const [kernelVar] = next.getWeights();
  const kernel = await kernelVar.data() as Float32Array;
  const units = kernelVar.shape[1] ?? 1;
  const camModel = tf.model({
    inputs: model.inputs,
    outputs: [model.outputs[0], map],
    name: `${model.name}_cam`,
  });
  return { model: camModel, mapShape: shape, kernel, units };
}

/**
 * The raw (un-normalised) CAM of class `cls` for one image's feature map
 * (`[H·W·C]` row-major, as an engine returns it): `Σ_k A[i, j, k] W[k, c]`,
 * `[H·W]`. With `units` 1 (logit head) class 1 uses `W`, class 0 `−W`.
 */
export function rawCam(
  map: ArrayLike<number>,
  graph: Pick<CamGraph, "kernel" | "units" | "mapShape">,
  cls: number,
): Float32Array {
  const [h, w, c] = graph.mapShape;
  const { kernel, units } = graph;
  const col = units === 1 ? 0 : cls;
  const sign = units === 1 && cls === 0 ? -1 : 1;
  if (col < 0 || col >= units || (units === 1 && cls > 1)) {
    throw new RangeError(`class ${cls} is not one of the head's classes`);
  }
  if (map.length !== h * w * c) {
    throw new RangeError(
      `feature map has ${map.length} values, expected ${h}×${w}×${c}`,
    );
  }
  const out = new Float32Array(h * w);
  for (let p = 0; p < h * w; p++) {
    let s = 0;
    for (let k = 0; k < c; k++) s += map[p * c + k] * kernel[k * units + col];
    out[p] = sign * s;
  }
  return out;
}

/**
 * ReLU, then division by the maximum: values in [0, 1] (all zeros when no
 * value is positive). A new array.
 */
export function normalizeCam(raw: ArrayLike<number>): Float32Array {
  let max = 0;
  for (let i = 0; i < raw.length; i++) if (raw[i] > max) max = raw[i];
  const out = new Float32Array(raw.length);
  if (max > 0) {
    for (let i = 0; i < raw.length; i++) out[i] = Math.max(raw[i], 0) / max;
  }
  return out;
}

/**
 * The normalised CAM (`[H·W]`, values in [0, 1]) of class `cls`: {@link rawCam}
 * then {@link normalizeCam}; equal to Grad-CAM on the same map (module doc).
 */
export function classActivationMap(
  map: ArrayLike<number>,
  graph: Pick<CamGraph, "kernel" | "units" | "mapShape">,
  cls: number,
): Float32Array {
  return normalizeCam(rawCam(map, graph, cls));
}
