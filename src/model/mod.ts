/**
 * Model stage: MobileNetV2 as Keras builds it (mobilenet_v2.ts) with
 * BatchNormalization that stays frozen (batch_norm.ts), the classifier on
 * top (classifier.ts), Keras weights in legacy .h5, Keras 3 .weights.h5 and
 * .keras (keras_weights.ts with keras_h5.ts, keras_match.ts,
 * keras_archive.ts, keras_imagenet.ts), the build step of a run (build.ts),
 * saving and loading a trained model (model_io.ts), prediction (predict.ts),
 * and the frozen graph for other engines: its IR with BatchNormalization
 * folded (frozen_graph.ts), ONNX export (onnx_export.ts) and ONNX Runtime
 * (onnx_runtime.ts).
 *
 * @module
 */

export * from "./mobilenet_v2.ts";
export * from "./batch_norm.ts";
export * from "./classifier.ts";
export * from "./keras_weights.ts";
export * from "./build.ts";
export * from "./model_io.ts";
export * from "./predict.ts";
export * from "./frozen_graph.ts";
export * from "./onnx_export.ts";
export * from "./onnx_runtime.ts";
export * from "./fused_graph.ts";
