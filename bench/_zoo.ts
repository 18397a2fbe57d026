/**
 * What the base-network benchmarks share: the `--architectures` argument
 * and the frozen model they time (a base without top + global average
 * pooling, random weights of seed 1, the same compute as ImageNet's).
 *
 * @module
 */

import * as tf from "../src/deps/tf.ts";
import { baseNetwork } from "../src/model/bases.ts";
import {
  type Architecture,
  ARCHITECTURES,
} from "../src/config/architecture.ts";

/**
 * The architectures a comma-separated `--architectures` value names (every
 * one when `value` is undefined); throws naming an unknown one.
 */
export function architecturesArg(value: string | undefined): Architecture[] {
  const archs = value?.split(",") ?? [...ARCHITECTURES];
  for (const a of archs) {
    if (!(ARCHITECTURES as readonly string[]).includes(a)) {
      throw new Error(
        `--architectures: unknown "${a}"; expected some of ${
          ARCHITECTURES.join(", ")
        }`,
      );
    }
  }
  return archs as Architecture[];
}

/** `architecture` at `size`×`size` without top, then GlobalAveragePooling2D; seed 1. */
export function pooledBase(
  architecture: Architecture,
  size: number,
): tf.LayersModel {
  const base = baseNetwork({
    architecture,
    inputShape: [size, size, 3],
    seed: 1,
  });
  const pooled = tf.layers.globalAveragePooling2d({}).apply(
    base.outputs[0],
  ) as tf.SymbolicTensor;
  return tf.model({ inputs: base.inputs, outputs: pooled });
}
