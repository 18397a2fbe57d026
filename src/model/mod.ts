/**
 * Model stage: MobileNetV2 as Keras builds it (mobilenet_v2.ts) with
 * BatchNormalization that stays frozen (batch_norm.ts), the classifier on top
 * (classifier.ts), Keras HDF5 weights (keras_weights.ts), the build step of a
 * run (build.ts), saving and loading a trained model (model_io.ts) and
 * prediction (predict.ts).
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
