/**
 * The cut of a frozen base for fine-tuning: which tensors cross a cut of a
 * flat model before a layer index ({@link crossingTensors}), so that the
 * frozen part can be extracted up to exactly those tensors.
 *
 * @module
 */

import * as tf from "../deps/tf.ts";
import { isInputLayer, type Layer, type Sym } from "./_frozen_graph_walk.ts";

/** What {@link crossingTensors} returns. */
export interface CutTensors {
  /** IR names of the crossing tensors (= their producing layers' names), ordered by producing layer index. */
  names: string[];
  /** The same tensors as symbolic tensors of `model`'s graph (for `tf.model({ inputs, outputs })`). */
  tensors: tf.SymbolicTensor[];
  /** Index in `model.layers` of each one's producing layer. */
  layerIndices: number[];
}

/**
 * The tensors that cross a cut of `model` before layer index `cutIndex`
 * (Keras numbering: `model.layers[cutIndex]` is the first layer after the
 * cut, as in `fine_tune_at`): every output of a layer with index
 * `< cutIndex` that a layer with index `>= cutIndex` reads, or that is a
 * model output. For MobileNetV2 1.0 at 100 these are `block_10_project_BN`
 * (the residual skip that `block_11_add` reads) and `block_11_expand_BN`.
 * `model` must be flat (no nested models), like the MobileNetV2 base.
 */
export function crossingTensors(
  model: tf.LayersModel,
  cutIndex: number,
): CutTensors {
  const layers = model.layers;
  if (
    !Number.isInteger(cutIndex) || cutIndex < 1 || cutIndex >= layers.length
  ) {
    throw new RangeError(
      `cut index must be an integer in [1, ${
        layers.length - 1
      }] for model "${model.name}" (${layers.length} layers), got ${cutIndex}`,
    );
  }
  const index = new Map(layers.map((l, i) => [l, i]));
  for (const l of layers) {
    if (l instanceof tf.LayersModel) {
      throw new Error(
        `model "${model.name}": crossingTensors needs a flat model, but layer "${l.name}" is a nested model; pass that model instead`,
      );
    }
  }
  const found = new Map<number, Sym>();
  const consider = (t: Sym) => {
    const i = index.get(t.sourceLayer as Layer);
    if (i != null && i < cutIndex) found.set(t.id, t);
  };
  const inModel = (layer: Layer, nodeIndex: number) =>
    layer.inboundNodes[nodeIndex]?.outputTensors.some((t) =>
      walkable.has(t.id)
    );
  // Tensors of the model's own graph (a layer shared with another model has
  // inbound nodes that are not ours).
  const walkable = new Set<number>();
  const stack = [...model.outputs];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (walkable.has(t.id)) continue;
    walkable.add(t.id);
    const layer = t.sourceLayer as Layer;
    if (!isInputLayer(layer)) {
      stack.push(...layer.inboundNodes[t.nodeIndex].inputTensors);
    }
  }
  for (const [layer, i] of index) {
    if (i < cutIndex) continue;
    layer.inboundNodes.forEach((node, k) => {
      if (inModel(layer, k)) node.inputTensors.forEach(consider);
    });
  }
  model.outputs.forEach(consider);
  const tensors = [...found.values()].sort((a, b) =>
    index.get(a.sourceLayer as Layer)! - index.get(b.sourceLayer as Layer)! ||
    a.tensorIndex - b.tensorIndex
  );
  return {
    names: tensors.map((t) => (t.sourceLayer as Layer).name),
    tensors,
    layerIndices: tensors.map((t) => index.get(t.sourceLayer as Layer)!),
  };
}
