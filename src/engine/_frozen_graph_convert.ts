/**
 * Converting one TF.js layer application into one unfused frozen-graph node
 * (`frozen_graph.ts`): reads the layer's config and copies its
 * weights out; a frozen BatchNormalization becomes a per-channel affine
 * (folding it into its convolution or Dense is `frozen_graph_fold.ts`; one
 * with neither gamma nor beta, Keras' `Normalization` as EfficientNet
 * composes it, is marked `constant`), and so does a Rescaling (`x * scale +
 * offset`, scale and offset each a number or one value per channel; always
 * `constant`).
 * Throws, naming the layer and its class, for what the IR cannot express.
 *
 * @module
 */

import type { FrozenNode } from "./frozen_graph_ir.ts";
import { convPads } from "./_frozen_graph_pads.ts";
import {
  type Layer,
  type RawEntry,
  type Shape,
  unsupported,
} from "./_frozen_graph_walk.ts";

/** Layer classes the frozen graph accepts (`extractFrozenGraph`), for error messages. */
export const SUPPORTED_LAYER_CLASSES: readonly string[] = [
  "InputLayer",
  "Conv2D",
  "DepthwiseConv2D",
  "BatchNormalization",
  "ReLU",
  "Activation",
  "ZeroPadding2D",
  "Add",
  "GlobalAveragePooling2D",
  "GlobalMaxPooling2D",
  "Dense",
  "Dropout",
  "Rescaling",
  "Multiply",
  "Reshape",
];

/** Reads a layer weight by its short name (`kernel`, `gamma`, …) as a copy. */
function weight(layer: Layer, short: string): Float32Array | null {
  const v = layer.weights.find((w) =>
    w.originalName.slice(w.originalName.lastIndexOf("/") + 1) === short
  );
  if (v == null) return null;
  return new Float32Array(v.read().dataSync() as Float32Array);
}

function requireWeight(layer: Layer, short: string): Float32Array {
  const w = weight(layer, short);
  if (w == null) throw unsupported(layer, `has no "${short}" weight`);
  return w;
}

const pair = (v: number | number[]): [number, number] =>
  typeof v === "number" ? [v, v] : [v[0], v[v.length > 1 ? 1 : 0]];

type Config = Record<string, unknown>;

function checkChannelsLast(layer: Layer, config: Config) {
  const f = config.dataFormat;
  if (f != null && f !== "channelsLast") {
    throw unsupported(
      layer,
      `dataFormat "${f}" is not supported (channels-last only)`,
    );
  }
}

function activationOf<T extends string>(
  layer: Layer,
  name: unknown,
  allowed: readonly T[],
): T {
  const a = (name ?? "linear") as T;
  if (!allowed.includes(a)) {
    throw unsupported(
      layer,
      `activation "${name}" is not supported (expected one of ${
        allowed.join(", ")
      })`,
    );
  }
  return a;
}

const CONV_ACTIVATIONS = [
  "linear",
  "relu",
  "relu6",
  "sigmoid",
  "swish",
] as const;
const DENSE_ACTIVATIONS = [...CONV_ACTIVATIONS, "softmax"] as const;

/** Converts one layer application into one unfused IR node. */
export function convertLayer(
  entry: RawEntry,
  shapeOf: (n: string) => Shape,
): FrozenNode {
  const { layer, inputs, name } = entry;
  const cls = layer.getClassName();
  const config = layer.getConfig() as Config;
  const base = { name, inputs, output: name, layers: [layer.name] };
  const inShape = shapeOf(inputs[0]);
  switch (cls) {
    case "Conv2D":
    case "DepthwiseConv2D": {
      checkChannelsLast(layer, config);
      if (inShape.length !== 4) {
        throw unsupported(layer, `expects a rank-4 input, got [${inShape}]`);
      }
      const depthwise = cls === "DepthwiseConv2D";
      const k = pair(config.kernelSize as number | number[]);
      const s = pair(config.strides as number | number[]);
      const d = pair((config.dilationRate ?? 1) as number | number[]);
      const inChannels = inShape[3] as number;
      const depthMultiplier = depthwise
        ? (config.depthMultiplier as number ?? 1)
        : 1;
      const outChannels = depthwise
        ? inChannels * depthMultiplier
        : config.filters as number;
      const kernel = requireWeight(
        layer,
        depthwise ? "depthwise_kernel" : "kernel",
      );
      if (
        kernel.length !==
          k[0] * k[1] * inChannels * (depthwise ? depthMultiplier : outChannels)
      ) {
        throw unsupported(
          layer,
          `kernel has ${kernel.length} values, which does not match its config`,
        );
      }
      return {
        ...base,
        op: "conv",
        depthwise,
        kernelSize: k,
        strides: s,
        dilations: d,
        pads: convPads(layer, config.padding as string, inShape, k, s, d),
        inChannels,
        outChannels,
        depthMultiplier,
        kernel,
        bias: config.useBias ? requireWeight(layer, "bias") : null,
        activation: activationOf(layer, config.activation, CONV_ACTIVATIONS),
      };
    }
    case "BatchNormalization": {
      const axis = config.axis as number;
      const rank = inShape.length;
      if (!(axis === -1 || axis === rank - 1)) {
        throw unsupported(
          layer,
          `axis ${axis} is not supported (the last axis only)`,
        );
      }
      const channels = inShape[rank - 1] as number;
      const mean = requireWeight(layer, "moving_mean");
      const variance = requireWeight(layer, "moving_variance");
      const gamma = weight(layer, "gamma");
      const beta = weight(layer, "beta");
      const eps = config.epsilon as number;
      const scale = new Float32Array(channels);
      const shift = new Float32Array(channels);
      for (let c = 0; c < channels; c++) {
        const sc = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + eps);
        scale[c] = sc;
        shift[c] = (beta ? beta[c] : 0) - mean[c] * sc;
      }
      return {
        ...base,
        op: "affine",
        scale,
        shift,
        ...(gamma == null && beta == null ? { constant: true } : {}),
      };
    }
    case "ReLU": {
      const max = config.maxValue;
      if (max == null) return { ...base, op: "activation", activation: "relu" };
      if (max === 6) return { ...base, op: "activation", activation: "relu6" };
      throw unsupported(layer, `maxValue ${max} is not supported (none or 6)`);
    }
    case "Activation": {
      const a = activationOf(layer, config.activation, DENSE_ACTIVATIONS);
      return a === "linear"
        ? { ...base, op: "identity" }
        : { ...base, op: "activation", activation: a };
    }
    case "ZeroPadding2D": {
      checkChannelsLast(layer, config);
      const p = config.padding as number | [number, number] | [
        [number, number],
        [number, number],
      ];
      const [[top, bottom], [left, right]] = typeof p === "number"
        ? [[p, p], [p, p]]
        : (p.map((v) => pair(v)) as [[number, number], [number, number]]);
      return { ...base, op: "pad", pads: { top, bottom, left, right } };
    }
    case "Add":
      return { ...base, op: "add" };
    case "Multiply": {
      if (inputs.length !== 2) {
        throw unsupported(
          layer,
          `multiplies ${inputs.length} tensors (two are supported)`,
        );
      }
      const [a, b] = inputs.map(shapeOf);
      const fits = a.length === b.length &&
        a.every((d, i) => i === 0 || d === b[i] || b[i] === 1);
      if (!fits) {
        throw unsupported(
          layer,
          `shapes [${a}] and [${b}] are not supported (the second must equal the first or have size 1 where it differs)`,
        );
      }
      return { ...base, op: "mul" };
    }
    case "Rescaling": {
      // x * scale + offset, as a per-channel affine over the last axis;
      // scale and offset are scalars or one value per channel (ImageNet's
      // per-channel standard deviations in EfficientNet).
      const channels = inShape[inShape.length - 1];
      if (channels == null) {
        throw unsupported(layer, "needs a known channel count");
      }
      const perChannel = (key: "scale" | "offset"): Float32Array => {
        const v = config[key] ?? (key === "offset" ? 0 : undefined);
        if (typeof v === "number") return new Float32Array(channels).fill(v);
        const flat = Array.isArray(v) ? v as unknown[] : null;
        if (
          flat == null || !flat.every((e) => typeof e === "number") ||
          !(flat.length === 1 || flat.length === channels)
        ) {
          throw unsupported(
            layer,
            `${key} ${
              JSON.stringify(v)
            } is not supported (a number, or ${channels} numbers: one per channel of the last axis)`,
          );
        }
        return flat.length === 1
          ? new Float32Array(channels).fill(flat[0] as number)
          : Float32Array.from(flat as number[]);
      };
      return {
        ...base,
        op: "affine",
        scale: perChannel("scale"),
        shift: perChannel("offset"),
        constant: true,
      };
    }
    case "Reshape": {
      const target = config.targetShape as number[];
      const c = inShape[1];
      if (
        !(inShape.length === 2 && target.length === 3 && target[0] === 1 &&
          target[1] === 1 && target[2] === c)
      ) {
        throw unsupported(
          layer,
          `reshape [${inShape}] → [${target}] is not supported (only [n, C] → [1, 1, C])`,
        );
      }
      return { ...base, op: "expandSpatial" };
    }
    case "GlobalAveragePooling2D":
    case "GlobalMaxPooling2D":
      checkChannelsLast(layer, config);
      return {
        ...base,
        op: "globalPool",
        mode: cls === "GlobalAveragePooling2D" ? "avg" : "max",
        ...(config.keepDims ? { keepDims: true } : {}),
      };
    case "Dense": {
      if (inShape.length !== 2) {
        throw unsupported(
          layer,
          `expects a rank-2 input [batch, features], got [${inShape}]`,
        );
      }
      const inFeatures = inShape[1] as number;
      const units = config.units as number;
      return {
        ...base,
        op: "dense",
        inFeatures,
        units,
        kernel: requireWeight(layer, "kernel"),
        bias: config.useBias ? requireWeight(layer, "bias") : null,
        activation: activationOf(layer, config.activation, DENSE_ACTIVATIONS),
      };
    }
    case "Dropout":
      return { ...base, op: "identity" };
    default:
      throw unsupported(
        layer,
        `not supported by the frozen graph (supported: ${
          SUPPORTED_LAYER_CLASSES.join(", ")
        })`,
      );
  }
}
