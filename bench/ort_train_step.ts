/**
 * One fine-tuning training step (forward + loss + every weight gradient) of
 * MobileNetV2 1.0's suffix from layer 100 + GAP + Dense softmax, run by ONNX
 * Runtime from the generated gradient graph (`src/engine/_train_graph.ts`),
 * with random weights (seed 1) and random crossing-tensor inputs.
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-env --allow-sys --allow-ffi \
 *   bench/ort_train_step.ts [--threads 2] [--batch 32] [--size 160] \
 *   [--cut 100] [--warmup 3] [--iterations 15] [--profile]
 * ```
 *
 * Prints ms per step (median and best) and GFLOP/s, counting a step as three
 * times the suffix's forward multiply-adds × 2 (forward, input and filter
 * gradients), and the process's minor page faults per step (ONNX Runtime's
 * arena settles after about three runs, hence the warm-up). The optimizer
 * update (TypeScript) is not included. `--profile` writes ONNX Runtime's
 * per-node profile (`/tmp/ort_train_step_*.json`, Chrome trace format) for
 * finding the slow gradient nodes.
 *
 * @module
 */

import { parseArgs } from "node:util";
import * as tf from "../src/deps/tf.ts";
import { silenceNodeBanner } from "../src/backend/set_backend.ts";
import { mobileNetV2 } from "../src/model/mobilenet_v2.ts";
import { crossingTensors } from "../src/engine/frozen_graph_cut.ts";
import { extractFrozenGraph } from "../src/engine/frozen_graph.ts";
import type { FrozenGraph } from "../src/engine/frozen_graph_ir.ts";
import { buildTrainGraph } from "../src/engine/_train_graph.ts";
import { tryLoadOnnxRuntime } from "../src/engine/onnx_runtime.ts";
import { randomizeWeights } from "../fixtures/make_h5.ts";

const { values } = parseArgs({
  options: {
    threads: { type: "string", default: "2" },
    batch: { type: "string", default: "32" },
    size: { type: "string", default: "160" },
    cut: { type: "string", default: "100" },
    warmup: { type: "string", default: "3" },
    iterations: { type: "string", default: "15" },
    profile: { type: "boolean", default: false },
  },
});
const threads = Number(values.threads), batch = Number(values.batch);
const size = Number(values.size), cut = Number(values.cut);
const warmup = Number(values.warmup), iterations = Number(values.iterations);

await tf.setBackend("cpu");
silenceNodeBanner();
const loaded = await tryLoadOnnxRuntime();
if (!loaded.ok) throw new Error(loaded.reason);
const ort = loaded.ort;

const base = mobileNetV2({ inputShape: [size, size, 3], includeTop: false });
const pooled = tf.layers.globalAveragePooling2d({ name: "gap" })
  .apply(base.outputs[0]) as tf.SymbolicTensor;
const model = tf.model({
  inputs: base.inputs,
  outputs: tf.layers.dense({ units: 2, activation: "softmax", name: "head" })
    .apply(pooled) as tf.SymbolicTensor,
});
randomizeWeights(model, 1);

// The suffix from `cut`, fed by the crossing tensors.
const crossing = crossingTensors(model, cut);
const mapped = new Map<number, tf.SymbolicTensor>();
const inputs = crossing.tensors.map((t) => {
  const i = tf.input({
    shape: t.shape.slice(1) as number[],
    name: `cut_${t.sourceLayer.name}`,
  });
  mapped.set(t.id, i);
  return i;
});
for (const layer of model.layers.slice(cut)) {
  const node = layer.inboundNodes[0];
  const ins = node.inputTensors.map((t) => mapped.get(t.id)!);
  mapped.set(
    node.outputTensors[0].id,
    layer.apply(ins.length === 1 ? ins[0] : ins) as tf.SymbolicTensor,
  );
}
const last = model.layers[model.layers.length - 1].inboundNodes[0];
const upper = tf.model({
  inputs,
  outputs: mapped.get(last.outputTensors[0].id)!,
});
const graph = extractFrozenGraph(upper, { fold: false });
const tg = buildTrainGraph(graph, "softmaxCrossEntropy");

/** Multiply-adds of the forward pass per image. */
function forwardMacs(g: FrozenGraph): number {
  let macs = 0;
  for (const n of g.nodes) {
    if (n.op === "conv") {
      const [, oh, ow] = g.shapes[n.output] as number[];
      const perOut = n.kernelSize[0] * n.kernelSize[1] *
        (n.depthwise ? 1 : n.inChannels);
      macs += oh * ow * n.outChannels * perOut;
    } else if (n.op === "dense") macs += n.inFeatures * n.units;
  }
  return macs;
}
const stepFlop = 3 * 2 * forwardMacs(graph) * batch;

const session = await ort.InferenceSession.create(tg.onnx, {
  executionProviders: ["cpu"],
  graphOptimizationLevel: "all",
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: "sequential",
  ...(values.profile
    ? { enableProfiling: true, profileFilePrefix: "/tmp/ort_train_step" }
    : {}),
});
const feeds: Record<string, unknown> = {};
graph.inputs.forEach((i) => {
  const s = [batch, ...(i.shape.slice(1) as number[])];
  const data = new Float32Array(s.reduce((a, b) => a * b, 1)).map(() =>
    Math.random() * 2 - 1
  );
  feeds[i.name] = new ort.Tensor("float32", data, s);
});
const labels = new Float32Array(batch * 2);
for (let i = 0; i < batch; i++) labels[i * 2 + (i % 2)] = 1;
feeds[tg.labels] = new ort.Tensor("float32", labels, [batch, 2]);
for (const w of tg.weights) {
  feeds[w.name] = new ort.Tensor("float32", w.value, w.shape);
}

/** Minor page faults of this process so far (Linux; 0 elsewhere). */
function minorFaults(): number {
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[7]);
  } catch {
    return 0;
  }
}
const times: number[] = [];
let faults = 0;
for (let i = 0; i < warmup + iterations; i++) {
  const f0 = minorFaults();
  const t0 = performance.now();
  // deno-lint-ignore no-explicit-any
  await session.run(feeds as any);
  if (i >= warmup) {
    times.push(performance.now() - t0);
    faults += minorFaults() - f0;
  }
}
if (values.profile) {
  // deno-lint-ignore no-explicit-any
  (session as any).endProfiling();
}
await session.release();
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
console.log(
  `ORT training step, MobileNetV2 1.0 @${size} from layer ${cut}, batch ${batch}, ${threads} threads: ` +
    `median ${median.toFixed(0)} ms, best ${times[0].toFixed(0)} ms; ` +
    `${(stepFlop / 1e9).toFixed(2)} GFLOP/step → ${
      (stepFlop / median / 1e6).toFixed(1)
    } GFLOP/s (median); ` +
    `${tg.weights.length} weight tensors; ${
      Math.round(faults / iterations)
    } minor page faults per step; RSS at end ${
      (Deno.memoryUsage().rss / 2 ** 30).toFixed(2)
    } GiB`,
);
model.dispose();
