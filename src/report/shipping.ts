/**
 * The smaller copies of a run's model and what each costs
 * (`output.quantize`), written after `model/` and recorded in
 * `summary.json`'s `shipping` and the report: the quantized TF.js model
 * folders (`model/float16/`, `model/uint8/`, `model/uint16/`,
 * `model/quantized_weights.ts`).
 *
 * Every variant runs through the same frozen-forward engine as the float32
 * reference (`engine.frozen`; for TF.js variants the model as
 * `tf.loadLayersModel` dequantizes it), over the whole validation set, so
 * that the differences are the quantization's, not the engines'.
 *
 * @module
 */

import { join } from "node:path";
import type * as tf from "../deps/tf.ts";
import type { Config } from "../config/types.ts";
import type { ImageSet } from "../data/image_set.ts";
import { loadModel } from "../model/model_io.ts";
import {
  saveQuantizedModel,
  type WeightQuantization,
} from "../model/quantized_weights.ts";
import { selectFrozenEngine } from "../engine/frozen_engine.ts";
import {
  compareWithReference,
  rawForwardOf,
  setProbabilities,
  type VariantCost,
} from "../evaluate/variant_costs.ts";

/** `summary.json`'s `shipping`: the variants written and their measured costs. */
export interface ShippingRecord {
  /** What ran every variant's forward pass (`engine.frozen`'s choice). */
  engine: string;
  /** Validation images every variant was measured on. */
  images: number;
  /** TF.js layers models: "float32" (the reference) first, then `output.quantize`'s. */
  tfjs: VariantCost[];
}

/** `output.quantize` as a list without repeats. */
export function weightQuantizations(config: Config): WeightQuantization[] {
  const q = config.output.quantize;
  return [...new Set(Array.isArray(q) ? q : [q])];
}

/** What {@link shipVariants} needs from the run. */
export interface ShipContext {
  /** The run folder (`model/` saved in it). */
  dir: string;
  /** The validation images. */
  validation: ImageSet;
  /** The backend the run selected. */
  backend: { backend: string; fallbackAdapter?: boolean };
  /** Status lines. */
  log: (line: string) => void;
}

/**
 * Writes the configured variants of the model saved in `<dir>/model/` and
 * measures them on the validation set; null when none is configured or
 * there are no validation images.
 */
export async function shipVariants(
  config: Config,
  model: tf.LayersModel,
  ctx: ShipContext,
): Promise<ShippingRecord | null> {
  const dtypes = weightQuantizations(config);
  if (dtypes.length === 0) return null;
  const modelDir = join(ctx.dir, "model");
  const { validation } = ctx;
  const written = await Promise.all(
    dtypes.map((dtype) =>
      saveQuantizedModel(modelDir, dtype, join(modelDir, dtype))
    ),
  );
  const float32Bytes = (await Deno.stat(join(modelDir, "weights.bin"))).size;
  if (validation.count === 0) {
    ctx.log("quantized models: written, not measured (no validation images)");
    return null;
  }
  const probabilitiesOf = async (m: tf.LayersModel) => {
    const { forward } = await selectFrozenEngine(
      config.engine.frozen,
      ctx.backend,
      m,
      { fused: config.engine.fused },
    );
    try {
      return {
        id: forward.id,
        probs: await setProbabilities(validation, rawForwardOf(forward)),
      };
    } finally {
      await forward.dispose();
    }
  };
  const reference = await probabilitiesOf(model);
  const tfjs: VariantCost[] = [{
    variant: "float32",
    path: "model/",
    bytes: float32Bytes,
    sizeRatio: 1,
    written: true,
    ...compareWithReference(
      reference.probs,
      reference.probs,
      validation.labels,
    ),
  }];
  for (const files of written) {
    const saved = await loadModel(files.dir);
    try {
      const { probs } = await probabilitiesOf(saved.model);
      const cost: VariantCost = {
        variant: files.dtype,
        path: `model/${files.dtype}/`,
        bytes: files.weightBytes,
        sizeRatio: files.weightBytes / float32Bytes,
        written: true,
        ...compareWithReference(reference.probs, probs, validation.labels),
      };
      tfjs.push(cost);
      ctx.log(
        `quantized ${files.dtype}: model/${files.dtype}/ ${
          (files.weightBytes / 1e6).toFixed(2)
        } MB (${(cost.sizeRatio * 100).toFixed(0)}% of float32), agreement ${
          cost.agreement.toFixed(4)
        }, max |Δp| ${cost.maxAbsDiff.toExponential(2)}, accuracy ${
          cost.accuracy.toFixed(4)
        } (float32 ${tfjs[0].accuracy.toFixed(4)})`,
      );
    } finally {
      saved.model.dispose();
    }
  }
  return { engine: reference.id, images: validation.count, tfjs };
}
