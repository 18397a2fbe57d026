/**
 * Matching the weights of a Keras file to a TF.js model's variables, as
 * Keras' own loaders do, without touching the model: each planner returns
 * the (variable, stored weight) pairs to write and one line per problem.
 *
 * - Legacy `.h5` ({@link planLegacy}): the i-th layer with weights in the
 *   file goes to the i-th layer with weights in the model (or by layer name),
 *   each layer's weights in Keras' order ({@link kerasWeightOrder}); a nested
 *   model is matched weight by weight on the names stored in the file.
 * - Keras 3 `.weights.h5` / `.keras` ({@link planKeras3}): every layer of the
 *   model, in order, gets the path Keras 3 gives it — its class name in
 *   snake case, made unique with `_1`, `_2`, … within its container
 *   (`layers/conv2d_3`, `layers/functional/layers/add_1`) — and its variables
 *   are `<path>/vars/0`, `1`, … in Keras' order ({@link keras3Paths}).
 *
 * @module
 */

import * as tf from "../deps/tf.ts";
import type {
  Keras3Vars,
  Keras3WeightsFile,
  KerasWeight,
  KerasWeightsFile,
} from "./keras_h5.ts";

type LayerVariable = tf.LayerVariable;
/** A layer of a TF.js model. */
export type Layer = tf.LayersModel["layers"][number];

/** What a planner found: writes to make, and problems that forbid them. */
export interface WeightPlan {
  /** Layers matched, as `model layer ← file entry` (a legacy layer name or a Keras 3 path). */
  layers: { model: string; file: string }[];
  /** Every variable to write, with its stored value. */
  assignments: { variable: LayerVariable; weight: KerasWeight }[];
  /** One line per mismatch, in model order. */
  problems: string[];
  /** Model layers with weights left as they were (matching by name only). */
  skipped: string[];
}

const KERAS_WEIGHT_ORDER = [
  "kernel",
  "depthwise_kernel",
  "pointwise_kernel",
  "recurrent_kernel",
  "bias",
  "gamma",
  "beta",
  "moving_mean",
  "moving_variance",
];

function shortName(v: LayerVariable): string {
  const name = v.originalName ?? v.name;
  return name.slice(name.lastIndexOf("/") + 1).replace(/:\d+$/, "");
}

/**
 * A layer's weights in the order Keras stores them (`trainable_weights +
 * non_trainable_weights` of an unfrozen layer in Keras 2, `_trainable_variables
 * + _non_trainable_variables` in Keras 3): Conv2D kernel, bias;
 * DepthwiseConv2D depthwise_kernel; BatchNormalization gamma, beta,
 * moving_mean, moving_variance; Dense kernel, bias. Freezing a layer does not
 * change this order.
 */
export function kerasWeightOrder(layer: Layer): LayerVariable[] {
  const weights = [...layer.weights];
  const ranks = weights.map((w) => KERAS_WEIGHT_ORDER.indexOf(shortName(w)));
  if (ranks.some((r) => r < 0)) return weights;
  return weights
    .map((w, i) => ({ w, r: ranks[i] }))
    .sort((a, b) => a.r - b.r)
    .map(({ w }) => w);
}

/**
 * Whether `layer` is the BatchNormalization that stands for Keras'
 * `Normalization` (EfficientNet, `src/model/efficientnet.ts`): named
 * `normalization…`, no gamma/beta. Keras stores its mean, variance and a
 * `count` (V1), which has no counterpart here and is skipped, or nothing
 * (V2, whose mean and variance are constants): then the layer keeps its own.
 */
export function isNormalizationStandIn(layer: Layer): boolean {
  return layer.getClassName() === "BatchNormalization" &&
    layer.name.startsWith("normalization") && layer.weights.length === 2 &&
    layer.weights.every((w) => /moving_(mean|variance)/.test(w.name));
}

/** `[3, 3, 16]`. */
export const fmtShape = (s: readonly (number | null)[]): string =>
  `[${s.join(", ")}]`;

const sameShape = (a: readonly (number | null)[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

function stripIndex(name: string): string {
  return name.replace(/:\d+$/, "");
}

/**
 * Plans loading a legacy file into `model`, as Keras' `load_weights` does
 * (see the module doc).
 */
export function planLegacy(
  model: tf.LayersModel,
  file: KerasWeightsFile,
  byName = false,
): WeightPlan {
  const fileLayers = file.layerNames.filter((n) =>
    (file.layers.get(n)?.length ?? 0) > 0
  );
  // A Normalization stand-in Keras stored no weights for keeps its own.
  const modelLayers = model.layers.filter((l) =>
    l.weights.length > 0 &&
    !(isNormalizationStandIn(l) && !(file.layers.get(l.name)?.length))
  );
  const plan: WeightPlan = {
    layers: [],
    assignments: [],
    problems: [],
    skipped: [],
  };
  const { problems } = plan;
  const pairs: { layer: Layer; fileName: string; index: number }[] = [];
  if (byName) {
    const inFile = new Set(fileLayers);
    modelLayers.forEach((layer, index) => {
      if (inFile.has(layer.name)) {
        pairs.push({ layer, fileName: layer.name, index });
      } else plan.skipped.push(layer.name);
    });
  } else if (modelLayers.length !== fileLayers.length) {
    const n = Math.min(modelLayers.length, fileLayers.length);
    let first = 0;
    while (first < n && modelLayers[first].name === fileLayers[first]) {
      first++;
    }
    problems.push(
      `layer count: the model has ${modelLayers.length} layers with weights, the file has ${fileLayers.length}` +
        ` (first difference at #${first}: model "${
          modelLayers[first]?.name ?? "—"
        }", file "${fileLayers[first] ?? "—"}")`,
    );
  } else {
    modelLayers.forEach((layer, index) =>
      pairs.push({ layer, fileName: fileLayers[index], index })
    );
  }

  const check = (where: string, v: LayerVariable, weight: KerasWeight) => {
    if (sameShape(v.shape, weight.shape)) {
      plan.assignments.push({ variable: v, weight });
    } else {
      problems.push(
        `${where}: weight "${weight.name}" expected shape ${
          fmtShape(v.shape)
        }, found ${fmtShape(weight.shape)}`,
      );
    }
  };
  for (const { layer, fileName, index } of pairs) {
    plan.layers.push({ model: layer.name, file: fileName });
    const stored = file.layers.get(fileName) ?? [];
    const where = `layer #${index} "${layer.name}"${
      fileName === layer.name ? "" : ` (file: "${fileName}")`
    }`;
    if (layer instanceof tf.LayersModel) {
      // A nested model: match its weights on their stored names.
      const named = new Map<string, LayerVariable>();
      for (const v of layer.weights) named.set(v.originalName ?? v.name, v);
      const used = new Set<LayerVariable>();
      for (const weight of stored) {
        const v = named.get(stripIndex(weight.name));
        if (v == null) {
          problems.push(
            `${where}: file weight "${weight.name}" ${
              fmtShape(weight.shape)
            } has no weight of that name in the model`,
          );
          continue;
        }
        used.add(v);
        check(where, v, weight);
      }
      for (const v of layer.weights) {
        if (!used.has(v)) {
          problems.push(
            `${where}: model weight "${v.originalName}" ${
              fmtShape(v.shape)
            } is not in the file`,
          );
        }
      }
      continue;
    }
    const expected = kerasWeightOrder(layer);
    if (
      isNormalizationStandIn(layer) && stored.length === 3 &&
      /count/.test(stored[2].name)
    ) {
      // Keras' mean, variance → moving mean, variance; its count is skipped.
      expected.forEach((v, i) => check(where, v, stored[i]));
      continue;
    }
    if (expected.length !== stored.length) {
      problems.push(
        `${where}: expected ${expected.length} weights ${
          expected.map((v) => fmtShape(v.shape)).join(" ")
        }, found ${stored.length} ${
          stored.map((w) => fmtShape(w.shape)).join(" ")
        }`,
      );
      continue;
    }
    expected.forEach((v, i) => check(where, v, stored[i]));
  }
  return plan;
}

/**
 * Keras 3's `naming.to_snake_case`: `Conv2D` → `conv2d`, `DepthwiseConv2D` →
 * `depthwise_conv2d`, `ReLU` → `re_lu`, `BatchNormalization` →
 * `batch_normalization`.
 */
export function kerasSnakeCase(name: string): string {
  return name.replace(/\W+/g, "")
    .replace(/(.)([A-Z][a-z]+)/g, "$1_$2")
    .replace(/([a-z])([A-Z])/g, "$1_$2")
    .toLowerCase();
}

/** TF.js class names whose Keras 3 class is named differently. */
const KERAS3_CLASS_NAMES: Record<string, string> = {
  Model: "Functional",
  LayersModel: "Functional",
};

/** The Keras 3 class name of a TF.js layer or model (`Model` → `Functional`). */
export function keras3ClassName(layer: Layer): string {
  if (isNormalizationStandIn(layer)) return "Normalization";
  const name = layer.getClassName();
  return KERAS3_CLASS_NAMES[name] ?? name;
}

/** One layer of a model with the path Keras 3 saves it under. */
export interface Keras3Slot {
  /** e.g. `layers/functional/layers/conv2d_3`. */
  path: string;
  /** The layer (never a model: nested models are walked into). */
  layer: Layer;
  /** Layer names from the top model down, e.g. `mobilenetv2_0.35_96/Conv1`. */
  label: string;
  /** Its index in its own model's layers, as Keras counts them (`base.layers[i]`). */
  index: number;
}

/** The layers Keras 3 lists for a model: a Sequential's input layer is not one of them. */
function keras3Layers(model: tf.LayersModel): Layer[] {
  const layers = [...model.layers];
  if (
    model.getClassName() === "Sequential" &&
    layers[0]?.getClassName() === "InputLayer"
  ) layers.shift();
  return layers;
}

/**
 * Every layer of `model` (nested models walked into) with the path Keras 3's
 * saving library gives it, in model order. A layer met twice keeps its first
 * path, as Keras saves a shared object once.
 */
export function keras3Paths(model: tf.LayersModel): Keras3Slot[] {
  const out: Keras3Slot[] = [];
  const visited = new Set<Layer>();
  const walk = (m: tf.LayersModel, prefix: string, label: string) => {
    const used = new Map<string, number>();
    for (const [index, layer] of keras3Layers(m).entries()) {
      const base = kerasSnakeCase(keras3ClassName(layer));
      const n = used.get(base);
      used.set(base, n == null ? 0 : n + 1);
      const path = `${prefix}layers/${n == null ? base : `${base}_${n + 1}`}`;
      if (visited.has(layer)) continue;
      visited.add(layer);
      const name = label ? `${label}/${layer.name}` : layer.name;
      if (layer instanceof tf.LayersModel) walk(layer, `${path}/`, name);
      else out.push({ path, layer, label: name, index });
    }
  };
  walk(model, "", "");
  return out;
}

/**
 * Plans loading a Keras 3 file into `model`: by path in model order (see the
 * module doc) or, with `byName`, by the layer name stored on each `vars`
 * group. Every model layer with weights must find its variables, with the
 * same count and shapes; file entries with weights that no layer takes are
 * problems too (Keras refuses them as well).
 */
export function planKeras3(
  model: tf.LayersModel,
  file: Keras3WeightsFile,
  byName = false,
): WeightPlan {
  const plan: WeightPlan = {
    layers: [],
    assignments: [],
    problems: [],
    skipped: [],
  };
  const { problems } = plan;
  const slots = keras3Paths(model);
  let named: Map<string, Keras3Vars[]> | null = null;
  if (byName) {
    named = new Map();
    for (const v of file.vars.values()) {
      if (v.name == null) continue;
      named.set(v.name, [...(named.get(v.name) ?? []), v]);
    }
    if (named.size === 0) {
      problems.push(
        "matching by name needs the layer names that recent Keras 3 versions store on each vars group; this file has none (match in model order instead)",
      );
      return plan;
    }
  }
  const taken = new Set<string>();
  for (const { path, layer, label, index } of slots) {
    if (layer.weights.length === 0) continue;
    const expected = kerasWeightOrder(layer);
    const kind = keras3ClassName(layer);
    let stored: Keras3Vars | undefined;
    if (named) {
      const found = named.get(layer.name) ?? [];
      if (found.length === 0) {
        plan.skipped.push(label);
        continue;
      }
      if (found.length > 1) {
        problems.push(
          `layer #${index} "${label}" (${kind}): the file has ${found.length} entries named "${layer.name}" (${
            found.map((v) => v.path).join(", ")
          })`,
        );
        continue;
      }
      stored = found[0];
    } else stored = file.vars.get(path);
    const where = `layer #${index} "${label}" (${kind}, ${
      stored?.path ?? path
    }${
      stored?.name != null && stored.name !== layer.name
        ? `, named "${stored.name}" in the file`
        : ""
    })`;
    if (
      isNormalizationStandIn(layer) &&
      (stored == null || stored.weights.length === 0)
    ) {
      // V2's Normalization: constants, no variables; the layer keeps its own.
      if (stored != null) taken.add(stored.path);
      continue;
    }
    if (stored == null || stored.weights.length === 0) {
      problems.push(
        `${where}: expected ${expected.length} variables ${
          expected.map((v) => fmtShape(v.shape)).join(" ")
        }, the file has none at ${path}/vars`,
      );
      continue;
    }
    taken.add(stored.path);
    plan.layers.push({ model: label, file: stored.path });
    const count = isNormalizationStandIn(layer) &&
        stored.weights.length === 3
      ? 1
      : 0; // Keras' count, skipped
    if (stored.weights.length - count !== expected.length) {
      problems.push(
        `${where}: expected ${expected.length} variables ${
          expected.map((v) => fmtShape(v.shape)).join(" ")
        }, found ${stored.weights.length} ${
          stored.weights.map((w) => fmtShape(w.shape)).join(" ")
        }`,
      );
      continue;
    }
    expected.forEach((v, i) => {
      const w = stored.weights[i];
      if (sameShape(v.shape, w.shape)) {
        plan.assignments.push({ variable: v, weight: w });
      } else {
        problems.push(
          `${where}: variable ${i} (${shortName(v)}) expected shape ${
            fmtShape(v.shape)
          }, found ${fmtShape(w.shape)}`,
        );
      }
    });
  }
  if (!named) {
    for (const v of file.vars.values()) {
      if (v.weights.length === 0 || taken.has(v.path)) continue;
      problems.push(
        `file ${v.path}/vars${
          v.name != null ? ` ("${v.name}")` : ""
        }: ${v.weights.length} variables ${
          v.weights.map((w) => fmtShape(w.shape)).join(" ")
        } that no layer of the model takes`,
      );
    }
  }
  return plan;
}
