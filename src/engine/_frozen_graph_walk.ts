/**
 * Walking a TF.js `LayersModel` for the frozen graph (`frozen_graph.ts`):
 * finds every layer application on the way to the model's outputs, nested
 * models flattened, and resolves requested outputs (layer names or symbolic
 * tensors) to IR tensor names. Layers are not converted here; that is
 * `frozen_graph_convert.ts`.
 *
 * @module
 */

import * as tf from "../deps/tf.ts";

/** A TF.js layer. */
export type Layer = tf.layers.Layer;
/** A symbolic tensor of a TF.js model graph. */
export type Sym = tf.SymbolicTensor;
/** A TF.js shape, batch `null`. */
export type Shape = (number | null)[];

/** One layer application found by walking the model graph. */
export interface RawEntry {
  name: string;
  layer: Layer;
  inputs: string[];
  shape: Shape;
}

/** The whole model graph, walked from its outputs, layers not yet converted. */
export interface RawGraph {
  entries: Map<string, RawEntry>;
  inputs: Map<string, Shape>;
  /** Symbolic tensor id → IR names it got (one per nesting scope it appears in). */
  byTensorId: Map<number, string[]>;
  /** Layer name → IR names of its outputs. */
  byLayerName: Map<string, string[]>;
}

/** True for a model's input layer. */
export const isInputLayer = (layer: Layer) =>
  layer.getClassName() === "InputLayer";

/**
 * Walks `model` from its outputs, flattening nested models (their inputs are
 * substituted by the outer tensors they are applied to), and records every
 * layer application under the name of its layer. Throws when a tensor name
 * would be produced twice (a layer or nested model applied more than once).
 */
export function walkModel(model: tf.LayersModel): RawGraph {
  const raw: RawGraph = {
    entries: new Map(),
    inputs: new Map(),
    byTensorId: new Map(),
    byLayerName: new Map(),
  };
  const memo = new Map<string, string>();
  const owner = new Map<string, string>();
  const note = (
    map: Map<number | string, string[]>,
    k: number | string,
    v: string,
  ) => {
    const list = map.get(k) ?? [];
    if (!list.includes(v)) list.push(v);
    map.set(k, list);
  };
  const claim = (name: string, key: string) => {
    const other = owner.get(name);
    if (other != null && other !== key) {
      throw new Error(
        `model "${model.name}": tensor name "${name}" is produced twice (a layer or nested model applied more than once); the frozen graph needs unique layer names`,
      );
    }
    owner.set(name, key);
  };

  const walk = (
    sym: Sym,
    scope: string,
    subst: Map<number, string>,
  ): string => {
    const key = `${scope}#${sym.id}`;
    const known = memo.get(key);
    if (known != null) return known;
    const layer = sym.sourceLayer as Layer;
    let name: string;
    if (isInputLayer(layer)) {
      const s = subst.get(sym.id);
      if (s != null) {
        name = s;
      } else {
        name = layer.name;
        claim(name, key);
        raw.inputs.set(name, [...sym.shape]);
        note(raw.byLayerName, layer.name, name);
      }
    } else if (layer instanceof tf.LayersModel) {
      const node = layer.inboundNodes[sym.nodeIndex];
      const outer = node.inputTensors.map((t) => walk(t, scope, subst));
      const inner = new Map<number, string>();
      layer.inputs.forEach((t, i) => inner.set(t.id, outer[i]));
      name = walk(
        layer.outputs[sym.tensorIndex],
        `${scope}/${layer.name}@${sym.nodeIndex}`,
        inner,
      );
    } else {
      if (sym.tensorIndex !== 0) {
        throw unsupported(
          layer,
          "layers with several outputs are not supported",
        );
      }
      const node = layer.inboundNodes[sym.nodeIndex];
      const inputs = node.inputTensors.map((t) => walk(t, scope, subst));
      name = layer.name;
      claim(name, key);
      raw.entries.set(name, { name, layer, inputs, shape: [...sym.shape] });
      note(raw.byLayerName, layer.name, name);
    }
    memo.set(key, name);
    note(raw.byTensorId, sym.id, name);
    return name;
  };
  for (const out of model.outputs) walk(out, "", new Map());
  return raw;
}

/** An error naming `layer`, its class and why it cannot be extracted. */
export function unsupported(layer: Layer, why: string): Error {
  return new Error(
    `layer "${layer.name}" (class ${layer.getClassName()}): ${why}`,
  );
}

/**
 * The IR name of a requested output: a layer name (its only output in the
 * walked graph) or a symbolic tensor of the graph. Throws, naming the model,
 * when it is ambiguous or not on the path to the model's outputs.
 */
export function resolveOutput(
  raw: RawGraph,
  model: tf.LayersModel,
  out: string | Sym,
): string {
  if (typeof out === "string") {
    const names = raw.byLayerName.get(out) ??
      (raw.entries.has(out) || raw.inputs.has(out) ? [out] : []);
    if (names.length === 1) return names[0];
    if (names.length > 1) {
      throw new Error(
        `model "${model.name}": layer "${out}" has several outputs in the graph (${
          names.join(", ")
        }); pass its symbolic tensor instead`,
      );
    }
    throw new Error(
      `model "${model.name}": no layer named "${out}" on the path to the model's outputs`,
    );
  }
  const names = raw.byTensorId.get(out.id) ?? [];
  if (names.length === 1) return names[0];
  throw new Error(
    names.length > 1
      ? `model "${model.name}": tensor "${out.name}" appears several times in the graph (${
        names.join(", ")
      })`
      : `model "${model.name}": tensor "${out.name}" is not on the path to the model's outputs`,
  );
}
