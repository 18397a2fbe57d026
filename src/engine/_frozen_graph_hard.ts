/**
 * Recognises Keras 3's hard activations in a frozen graph, in place.
 * TF.js has no `hard_silu` layer, so MobileNetV3 composes it (and its
 * squeeze-and-excitation gate's hard sigmoid) from native layers
 * (`model/mobilenet_v3.ts`):
 *
 * - hard sigmoid: Rescaling(1, +3) → ReLU(6) → Rescaling(float32(1/6));
 * - hard_silu: that gate, then Multiply(x, gate) with the same x.
 *
 * Walked layer by layer that is four or five element-wise passes; here each
 * becomes one `activation` node (`hard_sigmoid` / `hard_silu`), which the
 * folds then fuse into the preceding convolution, the ONNX export writes as
 * one `HardSigmoid` / `HardSwish`, and the fused TF.js executor computes as
 * the composing layers do. A chain is rewritten only when none of its inner
 * tensors is a requested output or read elsewhere, and only when its
 * constants are exactly those (the affines constant, every channel's scale
 * and shift equal to them), so nothing else can match.
 *
 * @module
 */

import type {
  ActivationNode,
  AffineNode,
  FrozenGraph,
  FrozenNode,
} from "./frozen_graph_ir.ts";

const SIXTH = Math.fround(1 / 6);

/** True for a constant affine whose every channel is `x * scale + shift`. */
const isConstAffine = (
  n: FrozenNode | undefined,
  scale: number,
  shift: number,
): n is AffineNode =>
  n?.op === "affine" && n.constant === true &&
  n.scale.every((s) => s === scale) && n.shift.every((s) => s === shift);

/**
 * Rewrites every composed hard sigmoid / hard_silu of `graph` into one
 * `activation` node (see the module doc). Node order stays topological. One
 * pass finds every chain, then one rewrite replaces them: chains share no
 * node, and a fused node keeps its chain's last output name, so finding one
 * chain never depends on rewriting another.
 */
export function fuseHardActivations(graph: FrozenGraph): void {
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const consumers = new Map<string, FrozenNode[]>();
  for (const node of graph.nodes) {
    for (const i of node.inputs) {
      consumers.set(i, [...consumers.get(i) ?? [], node]);
    }
  }
  const producer = new Map(graph.nodes.map((n) => [n.output, n]));
  // The sole consumer of an inner tensor, or undefined.
  const only = (t: string) => {
    const c = consumers.get(t);
    return c?.length === 1 && !outputs.has(t) ? c[0] : undefined;
  };
  /** Each chain's last node → its fused node; the chains' other nodes. */
  const replace = new Map<FrozenNode, ActivationNode>();
  const gone = new Set<FrozenNode>();
  for (const relu6 of graph.nodes) {
    if (relu6.op !== "activation" || relu6.activation !== "relu6") continue;
    const add3 = producer.get(relu6.inputs[0]);
    if (!isConstAffine(add3, 1, 3) || only(add3.output) !== relu6) continue;
    const div6 = only(relu6.output);
    if (!isConstAffine(div6, SIXTH, 0)) continue;
    const x = add3.inputs[0];
    const mul = only(div6.output);
    const silu = mul?.op === "mul" && mul.inputs.length === 2 &&
      mul.inputs.includes(x) && mul.inputs.includes(div6.output);
    const chain = [add3, relu6, div6, ...silu ? [mul] : []];
    const last = chain[chain.length - 1];
    replace.set(last, {
      op: "activation",
      name: last.name,
      inputs: [x],
      output: last.output,
      layers: chain.flatMap((n) => n.layers),
      activation: silu ? "hard_silu" : "hard_sigmoid",
    });
    for (const n of chain.slice(0, -1)) gone.add(n);
  }
  if (replace.size === 0) return;
  graph.nodes = graph.nodes.filter((n) => !gone.has(n)).map((n) =>
    replace.get(n) ?? n
  );
}
