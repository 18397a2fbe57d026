/**
 * Evaluation and prediction, above training: the confusion matrix, per-class
 * report and loss of a classifier on labelled data (`evaluate.ts`), the
 * evaluate step of a run (`validate.ts`), and prediction with a saved model
 * (`predict.ts`: `deno task predict`), class-activation maps (`cam.ts`) and test-time augmentation (`tta.ts`).
 *
 * @module
 */

export {
  type CamGraph,
  camGraphOf,
  classActivationMap,
  normalizeCam,
  rawCam,
} from "./cam.ts";
export {
  type ClassificationReport,
  classificationReport,
  type ClassMetrics,
  confusionMatrix,
  evaluateModel,
  evaluateProbabilities,
  type Evaluation,
  formatClassificationReport,
  type LabelledBatch,
  type Predictor,
} from "./evaluate.ts";
export {
  collectImageFiles,
  evaluateFolder,
  type ExplainOptions,
  type Explanation,
  predictFiles,
  type Prediction,
  type PredictionError,
} from "./predict.ts";
export {
  applyView,
  averageProbabilities,
  TTA_CROP_FRACTION,
  ttaEvaluation,
  type TtaMode,
  type TtaResult,
  type TtaView,
  ttaViews,
} from "./tta.ts";
export { evaluateValidation } from "./validate.ts";
export {
  compareWithReference,
  type RawForward,
  rawForwardOf,
  setProbabilities,
  type VariantComparison,
  type VariantCost,
} from "./variant_costs.ts";
