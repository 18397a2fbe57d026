/**
 * Reads `fixtures/keras/zoo/layers.jsonl` (made by `make_zoo_goldens.py`):
 * one header line per base network, then every node of its functional graph
 * in Keras order.
 *
 * @module
 */

/** One node of a Keras functional graph (a layer, or an op that is not a layer). */
export interface KerasNode {
  /** Index in `model.operations`. */
  i: number;
  /** Index in `model.layers`; null for an op that is not a layer. */
  layer: number | null;
  /** Keras name. */
  name: string;
  /** Keras class name. */
  class: string;
  /** Build config keys that differ from the model's most common ones. */
  config?: Record<string, unknown>;
  /** Output shape (batch first, null batch). */
  out: (number | null)[];
  /** Weights: name, shape, then optionally dtype or "non_trainable". */
  weights?: [string, number[], ...string[]][];
}

/** One base network of the manifest. */
export interface KerasManifest {
  /** Key, e.g. `mobilenet_v3_small_0.75`. */
  model: string;
  /** Architecture, e.g. `mobilenet_v3_small`. */
  arch: string;
  /** Keras kwargs beyond the defaults. */
  kwargs: Record<string, number | boolean>;
  /** `len(model.layers)`. */
  layers: number;
  /** `model.count_params()`. */
  params: number;
  /** Most common config per class. */
  class_config: Record<string, Record<string, unknown>>;
  /** The nodes, in `model.operations` order. */
  nodes: KerasNode[];
}

/** Every base network of `layers.jsonl`, by key. */
export async function readKerasZooManifest(): Promise<
  Map<string, KerasManifest>
> {
  const text = await Deno.readTextFile(
    new URL("../../fixtures/keras/zoo/layers.jsonl", import.meta.url),
  );
  const out = new Map<string, KerasManifest>();
  let current: KerasManifest | null = null;
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const d = JSON.parse(line);
    if ("model" in d) {
      current = { ...d, nodes: [] };
      out.set(d.model, current!);
    } else if ("i" in d && current) {
      current.nodes.push(d);
    }
  }
  return out;
}
