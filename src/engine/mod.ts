/**
 * What runs the frozen part of a model outside TF.js layers: the frozen-graph
 * IR (`frozen_graph_ir.ts`, extracted by `frozen_graph.ts`; the cut for
 * fine-tuning `frozen_graph_cut.ts`), ONNX export (`onnx_export.ts`) and ONNX
 * Runtime (`onnx_runtime.ts`), its fp16 and int8 twins (`onnx_quantize.ts`), the
 * fused TF.js executor (`fused_graph.ts`), and the choice between them
 * (`frozen_engine.ts`, `engine.frozen`); the ONNX Runtime training session of
 * fine-tuning (`train_session.ts`, `engine.train`).
 *
 * @module
 */

export {
  type FrozenEngineChoice,
  type FrozenEngineRequest,
  type FrozenForward,
  selectFrozenEngine,
} from "./frozen_engine.ts";
export { extractFrozenGraph, type ExtractOptions } from "./frozen_graph.ts";
export { crossingTensors, type CutTensors } from "./frozen_graph_cut.ts";
export {
  type ActivationNode,
  type AddNode,
  type AffineNode,
  type ConvActivation,
  type ConvNode,
  countGraphParams,
  type DenseActivation,
  type DenseNode,
  type ExpandSpatialNode,
  type FrozenGraph,
  type FrozenNode,
  type GlobalPoolNode,
  type IdentityNode,
  type MulNode,
  type NodeBase,
  type PadNode,
  type Pads,
  type StandaloneActivation,
  type TensorInfo,
} from "./frozen_graph_ir.ts";
export {
  type FusedGraphModel,
  fusedGraphModel,
  type FusedGraphOptions,
} from "./fused_graph.ts";
export {
  exportOnnx,
  type ExportOnnxOptions,
  frozenGraphToOnnx,
  type OnnxOptions,
} from "./onnx_export.ts";
export { onnxBytesForward } from "./onnx_file_forward.ts";
export {
  type CalibrationBatch,
  exportOnnxFloat16,
  exportOnnxInt8,
  type Int8Calibration,
  type OnnxInt8Export,
} from "./onnx_quantize.ts";
export {
  createOnnxEngine,
  type OnnxEngine,
  type OnnxEngineOptions,
  type OnnxOutput,
  type OnnxRuntime,
  type OnnxRuntimeLoad,
  type OrtSession,
  type OrtTensor,
  tryLoadOnnxRuntime,
} from "./onnx_runtime.ts";
export {
  createTrainSession,
  type TrainDropout,
  type TrainMask,
  type TrainSession,
  type TrainSessionLoss,
  type TrainSessionOptions,
  type TrainSessionWeight,
  type TrainStepExtras,
  type TrainStepOutput,
} from "./train_session.ts";
