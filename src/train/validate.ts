/**
 * The evaluate step of a run: the confusion matrix and per-class report of
 * the trained classifier on the validation set (on cached features when the
 * head alone trained, on images otherwise).
 *
 * @module
 */

import type { Config } from "../config/schema.ts";
import type { BuiltModel } from "../model/build.ts";
import { evaluateModel, type Evaluation } from "./evaluate.ts";
import type { StopReason } from "./fit.ts";
import type { TrainingInputs } from "./inputs.ts";

/**
 * Evaluates on the validation set, or answers null when there is none or
 * training diverged (non-finite loss).
 */
export async function evaluateValidation(
  config: Pick<Config, "fineTune">,
  model: BuiltModel,
  inputs: TrainingInputs,
  stopReason: StopReason,
  classNames: string[],
): Promise<Evaluation | null> {
  if (inputs.validation.count === 0 || stopReason === "non-finite-loss") {
    return null;
  }
  const onHead = inputs.trainModel === model.head && !config.fineTune.enabled;
  return await evaluateModel(
    onHead ? model.head : model.model,
    (onHead ? inputs.validation : inputs.images.validation).batches(0),
    classNames,
  );
}
