/**
 * What the engine tests (tests/engine/) share: reading tensors back, the
 * relative comparison every engine is held to, and the upper part of a model
 * cut at a layer index (as fine-tuning cuts it).
 *
 * @module
 */

import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import { crossingTensors } from "../../src/engine/frozen_graph_cut.ts";

/** A tensor's values and shape, read back. */
export interface Values {
  data: Float32Array;
  shape: number[];
}

/** Reads `out` (one tensor or several) back and disposes it. */
export async function take(out: tf.Tensor | tf.Tensor[]): Promise<Values[]> {
  const list = Array.isArray(out) ? out : [out];
  try {
    return await Promise.all(
      list.map(async (t) => ({
        data: await t.data() as Float32Array,
        shape: t.shape,
      })),
    );
  } finally {
    tf.dispose(list);
  }
}

/**
 * Asserts equal shapes and max |got − want| ≤ `rtol` · max |want|, and
 * refuses a reference that is (mostly) zeros, which would let a broken graph
 * pass. Returns the relative error. `label` names the two sides in the
 * message, e.g. "ort - tfjs".
 */
export function assertClose(
  got: Values,
  want: Values,
  what: string,
  opts: { rtol: number; label: string },
): number {
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  let maxRef = 0;
  let maxErr = 0;
  let nonZero = 0;
  for (let i = 0; i < want.data.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(want.data[i]));
    maxErr = Math.max(maxErr, Math.abs(got.data[i] - want.data[i]));
    if (want.data[i] !== 0) nonZero++;
  }
  assert.ok(
    nonZero > want.data.length * 0.1,
    `${what}: reference is ${nonZero}/${want.data.length} non-zero`,
  );
  assert.ok(
    maxErr <= opts.rtol * maxRef,
    `${what}: max |${opts.label}| = ${maxErr} > ${opts.rtol} · max |reference| (${maxRef})`,
  );
  return maxErr / maxRef;
}

/**
 * Re-applies the layers of `model` from index `cut` on new inputs standing
 * for the crossing tensors (as fine-tuning from layer `cut` does): the TF.js
 * model of the part above the cut, with `model`'s outputs.
 */
export function upperPart(model: tf.LayersModel, cut: number): tf.LayersModel {
  const crossing = crossingTensors(model, cut);
  const mapped = new Map<number, tf.SymbolicTensor>();
  const inputs = crossing.tensors.map((t) => {
    const i = tf.input({
      shape: t.shape.slice(1) as number[],
      name: `cut_${t.sourceLayer.name}`,
    });
    mapped.set(t.id, i);
    return i;
  });
  for (const layer of model.layers.slice(cut)) {
    const node = layer.inboundNodes[0];
    const ins = node.inputTensors.map((t) => {
      const v = mapped.get(t.id);
      if (v == null) {
        throw new Error(
          `${layer.name} reads ${t.name}, which is not a crossing tensor`,
        );
      }
      return v;
    });
    const out = layer.apply(
      ins.length === 1 ? ins[0] : ins,
    ) as tf.SymbolicTensor;
    mapped.set(node.outputTensors[0].id, out);
  }
  return tf.model({
    inputs,
    outputs: model.outputs.map((o) => mapped.get(o.id)!),
  });
}
