/**
 * The smaller copies of a run's model and what each costs
 * (`output.quantize`, `output.onnxQuantize`), written after `model/` and
 * recorded in `summary.json`'s `shipping` and the report: the quantized
 * TF.js model folders (`model/float16/`, `model/uint8/`, `model/uint16/`;
 * `model/quantized_weights.ts`) and the ONNX twins of `model.onnx`
 * (`model/model.fp16.onnx`, `model/model.int8.onnx`;
 * `engine/onnx_quantize.ts`). The int8 file is kept only when its top-1
 * agreement with `model.onnx` reaches `output.onnxInt8MinAgreement`.
 *
 * Every variant runs through the same frozen-forward engine as the float32
 * reference (`engine.frozen`; for TF.js variants the model as
 * `tf.loadLayersModel` dequantizes it), over the whole validation set, so
 * that the differences are the quantization's, not the engines'. The ONNX
 * twins run in ONNX Runtime against `model.onnx` in ONNX Runtime.
 *
 * @module
 */

import { type Preprocess, preprocessFor } from "../data/batches.ts";
import { basePreprocess } from "../model/bases.ts";
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
  exportOnnxFloat16,
  exportOnnxInt8,
  type Int8Calibration,
} from "../engine/onnx_quantize.ts";
import {
  createOnnxEngine,
  tryLoadOnnxRuntime,
} from "../engine/onnx_runtime.ts";
import { ONNXRUNTIME_SPECIFIER } from "../deps/onnx.ts";
import { calibrationBatches } from "../train/calibration.ts";
import { writeFileAtomic } from "../util/fs.ts";
import {
  compareWithReference,
  rawForwardOf,
  setProbabilities,
  type VariantComparison,
  type VariantCost,
} from "../evaluate/variant_costs.ts";

/** `summary.json`'s `shipping`: the variants written and their measured costs. */
export interface ShippingRecord {
  /** What ran every variant's forward pass (`engine.frozen`'s choice). */
  engine: string;
  /** Validation images every variant was measured on. */
  images: number;
  /** TF.js layers models: "float32" (the reference) first, then `output.quantize`'s; [] when none. */
  tfjs: VariantCost[];
  /**
   * ONNX models, run by ONNX Runtime: "fp32" (`model.onnx`, the reference)
   * first, then `output.onnxQuantize`'s; [] when none.
   */
  onnx?: VariantCost[];
  /** How the int8 model was calibrated, when there is one. */
  calibration?: Int8Calibration | null;
}

/** `output.onnxQuantize` as a list without repeats. */
export function onnxQuantizations(config: Config): ("fp16" | "int8")[] {
  const q = config.output.onnxQuantize;
  return [...new Set(Array.isArray(q) ? q : [q])];
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
  /** The training images (int8 calibration). */
  train: ImageSet;
  /** The backend the run selected. */
  backend: { backend: string; fallbackAdapter?: boolean };
  /** Status lines. */
  log: (line: string) => void;
}

/**
 * Writes the configured variants of the model saved in `<dir>/model/` and
 * measures them on the validation set; null when none is configured.
 */
export async function shipVariants(
  config: Config,
  model: tf.LayersModel,
  ctx: ShipContext,
): Promise<ShippingRecord | null> {
  const dtypes = weightQuantizations(config);
  const onnxKinds = onnxQuantizations(config);
  if (dtypes.length === 0 && onnxKinds.length === 0) return null;
  const tfjs = dtypes.length > 0
    ? await shipTfjs(config, model, ctx, dtypes)
    : null;
  const onnx = onnxKinds.length > 0
    ? await shipOnnx(config, model, ctx, onnxKinds)
    : null;
  if (!tfjs && !onnx) return null;
  return {
    engine: tfjs?.engine ?? onnx!.engine,
    images: ctx.validation.count,
    tfjs: tfjs?.costs ?? [],
    onnx: onnx?.costs ?? [],
    calibration: onnx?.calibration ?? null,
  };
}

async function shipTfjs(
  config: Config,
  model: tf.LayersModel,
  ctx: ShipContext,
  dtypes: WeightQuantization[],
): Promise<{ engine: string; costs: VariantCost[] } | null> {
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
        probs: await setProbabilities(validation, rawForwardOf(forward), {
          preprocess: preprocessOfConfig(config),
        }),
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
  return { engine: reference.id, costs: tfjs };
}

async function shipOnnx(
  config: Config,
  model: tf.LayersModel,
  ctx: ShipContext,
  kinds: ("fp16" | "int8")[],
): Promise<
  {
    engine: string;
    costs: VariantCost[];
    calibration: Int8Calibration | null;
  } | null
> {
  const warn = (m: string) => ctx.log(`warning: ${m}`);
  const modelDir = join(ctx.dir, "model");
  const fp32 = await Deno.readFile(join(modelDir, "model.onnx"));
  const fp16 = kinds.includes("fp16") ? exportOnnxFloat16(model) : null;
  if (fp16) await writeFileAtomic(join(modelDir, "model.fp16.onnx"), fp16);
  const loaded = await tryLoadOnnxRuntime();
  const { validation } = ctx;
  if (!loaded.ok || validation.count === 0) {
    const why = !loaded.ok
      ? `ONNX Runtime cannot load (${loaded.reason})`
      : "there are no validation images";
    warn(
      `output.onnxQuantize: ${
        fp16 ? "model.fp16.onnx written but not measured" : ""
      }${fp16 && kinds.includes("int8") ? "; " : ""}${
        kinds.includes("int8")
          ? "model.int8.onnx not written, as its agreement cannot be checked"
          : ""
      }: ${why}`,
    );
    return null;
  }
  const probabilitiesOf = async (bytes: Uint8Array) => {
    const engine = await createOnnxEngine(bytes, { ort: loaded.ort });
    try {
      return await setProbabilities(
        validation,
        async (input, shape) => (await engine.run(input, shape))[0].data,
        { preprocess: preprocessOfConfig(config) },
      );
    } finally {
      await engine.dispose();
    }
  };
  const reference = await probabilitiesOf(fp32);
  const cost = (
    variant: string,
    path: string,
    bytes: number,
    probs: number[][],
    written: boolean,
  ): VariantCost => ({
    variant,
    path,
    bytes,
    sizeRatio: bytes / fp32.length,
    written,
    ...compareWithReference(reference, probs, validation.labels),
  });
  const costs = [
    cost("fp32", "model/model.onnx", fp32.length, reference, true),
  ];
  const report = (c: VariantCost) =>
    ctx.log(
      `ONNX ${c.variant}: ${c.path}${c.written ? "" : " (not written)"} ${
        (c.bytes / 1e6).toFixed(2)
      } MB (${(c.sizeRatio * 100).toFixed(0)}% of fp32), agreement ${
        c.agreement.toFixed(4)
      }, max |Δp| ${c.maxAbsDiff.toExponential(2)}, accuracy ${
        c.accuracy.toFixed(4)
      } (fp32 ${costs[0].accuracy.toFixed(4)})`,
    );
  if (fp16) {
    costs.push(
      cost(
        "fp16",
        "model/model.fp16.onnx",
        fp16.length,
        await probabilitiesOf(fp16),
        true,
      ),
    );
    report(costs.at(-1)!);
  }
  let calibration: Int8Calibration | null = null;
  if (kinds.includes("int8")) {
    const int8 = await exportOnnxInt8(
      model,
      calibrationBatches(
        ctx.train.count > 0 ? ctx.train : validation,
        config.output.onnxInt8CalibrationImages,
        config.data.seed,
        preprocessOfConfig(config),
      ),
      { ort: loaded.ort, calibration: config.output.onnxInt8Calibration },
    );
    calibration = int8.calibration;
    const c = cost(
      "int8",
      "model/model.int8.onnx",
      int8.bytes.length,
      await probabilitiesOf(int8.bytes),
      false,
    );
    const min = config.output.onnxInt8MinAgreement;
    if (c.agreement >= min) {
      await writeFileAtomic(join(modelDir, "model.int8.onnx"), int8.bytes);
      c.written = true;
    } else {
      c.note = `agreement ${
        c.agreement.toFixed(4)
      } < output.onnxInt8MinAgreement ${min}`;
      warn(
        `model.int8.onnx not written: its top-1 agreement with model.onnx on the validation set is ${
          c.agreement.toFixed(4)
        }, below output.onnxInt8MinAgreement (${min}); model.onnx is unchanged`,
      );
    }
    costs.push(c);
    report(c);
  }
  return {
    engine: ONNXRUNTIME_SPECIFIER.replace(/^npm:/, ""),
    costs,
    calibration,
  };
}

/**
 * `summary.json`'s `frozenInt8Cost` (`engine.frozenInt8`): the trained
 * classifier's validation predictions from int8 features (what the run
 * evaluated) against the same classifier run in float32 end to end.
 * `agreement`, `maxAbsDiff` and `accuracy` are the int8 features'.
 */
export interface FrozenInt8Cost extends VariantComparison {
  /** Validation accuracy of the same classifier on float32 features. */
  floatAccuracy: number;
  /** What ran the float32 classifier. */
  floatEngine: string;
}

/**
 * The accuracy cost of `engine.frozenInt8`: `probabilities` (the run's
 * evaluation, `[count, classes]` row-major, on int8 features) against the
 * float32 `model` on the validation images.
 */
export async function frozenInt8Cost(
  config: Config,
  model: tf.LayersModel,
  ctx: Pick<ShipContext, "validation" | "backend">,
  probabilities: Float32Array,
): Promise<FrozenInt8Cost> {
  const { validation } = ctx;
  const k = validation.classNames.length;
  const { forward } = await selectFrozenEngine(
    config.engine.frozen,
    ctx.backend,
    model,
    { fused: config.engine.fused },
  );
  let float: number[][];
  try {
    float = await setProbabilities(validation, rawForwardOf(forward), {
      preprocess: preprocessOfConfig(config),
    });
  } finally {
    await forward.dispose();
  }
  const int8 = Array.from(
    { length: validation.count },
    (_, i) => Array.from(probabilities.subarray(i * k, (i + 1) * k)),
  );
  const floatSelf = compareWithReference(float, float, validation.labels);
  return {
    ...compareWithReference(float, int8, validation.labels),
    floatAccuracy: floatSelf.accuracy,
    floatEngine: forward.id,
  };
}

/** The input scaling of the configured base (as in training). */
function preprocessOfConfig(config: Config): Preprocess {
  return preprocessFor(basePreprocess(config.model.architecture));
}
