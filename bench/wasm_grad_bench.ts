/**
 * Fine-tuning on the WASM backend with the gradient kernels of
 * `src/backend/wasm_grad_kernels.ts`: MobileNetV2 1.0 at 160×160 (random
 * weights, BatchNormalization in inference mode as for fine-tuning), layers
 * from `--from` (default 100, as the TF fine-tuning tutorial) trainable, plus
 * GlobalAveragePooling2D and a 2-class Dense head, Adam 1e-4.
 *
 * ```sh
 * deno run -A bench/wasm_grad_bench.ts [--cases kernels,split,whole]
 *   [--threads 2] [--batch 32] [--whole-batch 16] [--from 100] [--steps 5]
 * ```
 *
 * Cases:
 * - `kernels`: each gradient kernel on the batch-32 shapes of the layers from
 *   `--from` on, and the backend's own `Conv2DBackpropInput` and `Tile` they
 *   replace;
 * - `split`: one training step as a split loop would run it — the frozen
 *   layers' forward pass outside the gradient tape (`predict` of the prefix
 *   model), then `trainOnBatch` of the trainable rest — and the prefix forward
 *   alone;
 * - `whole`: `trainOnBatch` of the whole model (what `fitLoop` does now).
 *   TF.js' tape keeps every activation of the frozen layers too, ≈ 140 MB per
 *   image at 160×160, so batch 32 overruns the 4 GB WASM heap (the call
 *   never returns); this case runs at `--whole-batch` (default 16).
 *
 * Times are wall-clock per step after 2 warm-up steps.
 *
 * @module
 */

import { parseArgs } from "node:util";
import * as tf from "../src/deps/tf.ts";
import { selectBackend } from "../src/backend/backend.ts";
import { registerWasmGradientKernels } from "../src/backend/wasm_grad_kernels.ts";
import { mobileNetV2 } from "../src/model/mobilenet_v2.ts";
import { setBatchNormInference } from "../src/model/batch_norm.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    cases: { type: "string", default: "kernels,split,whole" },
    threads: { type: "string", default: "2" },
    batch: { type: "string", default: "32" },
    "whole-batch": { type: "string", default: "16" },
    from: { type: "string", default: "100" },
    steps: { type: "string", default: "5" },
    size: { type: "string", default: "160" },
  },
});
const cases = args.cases.split(",").map((c) => c.trim());
const batch = Number(args.batch);
const wholeBatch = Number(args["whole-batch"]);
const from = Number(args.from);
const steps = Number(args.steps);
const size = Number(args.size);

const selection = await selectBackend("wasm", {
  wasmThreads: Number(args.threads),
});
console.log(`backend: ${selection.reason}`);
const ownKernels = {
  Conv2DBackpropInput: tf.getKernel("Conv2DBackpropInput", "wasm")!,
  Tile: tf.getKernel("Tile", "wasm")!,
};
registerWasmGradientKernels();

/** Mean milliseconds of `f` over `n` calls after `warmup` calls. */
async function time(
  f: () => unknown | Promise<unknown>,
  n: number,
  warmup = 2,
): Promise<number> {
  for (let i = 0; i < warmup; i++) await f();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await f();
  return (performance.now() - t0) / n;
}

function buildBase(): tf.LayersModel {
  const base = mobileNetV2({
    alpha: 1.0,
    inputShape: [size, size, 3],
    includeTop: false,
    seed: 1,
  });
  base.layers.slice(0, from).forEach((l) => (l.trainable = false));
  setBatchNormInference(base, true);
  return base;
}

function head(x: tf.SymbolicTensor): tf.SymbolicTensor {
  const pooled = tf.layers.globalAveragePooling2d({}).apply(x);
  return tf.layers.dense({ units: 2, activation: "softmax" })
    .apply(pooled) as tf.SymbolicTensor;
}

function data(n: number): { x: tf.Tensor; y: tf.Tensor } {
  return {
    x: tf.randomUniform([n, size, size, 3], -1, 1, "float32", 1),
    y: tf.oneHot(
      tf.tensor1d(Array.from({ length: n }, (_, i) => i % 2), "int32"),
      2,
    ),
  };
}

interface Node {
  inputTensors: tf.SymbolicTensor[];
  outputTensors: tf.SymbolicTensor[];
}
const nodeOf = (layer: tf.layers.Layer) =>
  (layer as unknown as { inboundNodes: Node[] }).inboundNodes[0];

/**
 * Splits a functional `base` before layer `index`: `prefix` maps the image to
 * every tensor that layers from `index` on read from earlier layers (the
 * block input of a residual connection too), `suffix` maps those to the
 * base's output through the same layer objects (shared weights).
 */
function splitAt(base: tf.LayersModel, index: number) {
  const earlier = new Set<number>();
  for (const layer of base.layers.slice(0, index)) {
    for (const t of nodeOf(layer).outputTensors) earlier.add(t.id);
  }
  const cut: tf.SymbolicTensor[] = [];
  for (const layer of base.layers.slice(index)) {
    for (const t of nodeOf(layer).inputTensors) {
      if (earlier.has(t.id) && !cut.includes(t)) cut.push(t);
    }
  }
  const prefix = tf.model({ inputs: base.inputs, outputs: cut });
  const inputs = cut.map((t) => tf.input({ shape: t.shape.slice(1) }));
  const mapped = new Map(cut.map((t, i) => [t.id, inputs[i]]));
  for (const layer of base.layers.slice(index)) {
    const node = nodeOf(layer);
    const ins = node.inputTensors.map((t) => mapped.get(t.id)!);
    const out = layer.apply(ins.length === 1 ? ins[0] : ins);
    mapped.set(node.outputTensors[0].id, out as tf.SymbolicTensor);
  }
  return { prefix, inputs, output: mapped.get(base.outputs[0].id)! };
}

const results: [string, string][] = [];
const report = (name: string, ms: number, n: number) => {
  const line = `${ms.toFixed(0)} ms (${(n / ms * 1000).toFixed(1)} images/s)`;
  results.push([name, line]);
  console.log(`${name}: ${line}`);
};

if (cases.includes("kernels")) {
  const base = buildBase();
  const convs = base.layers.slice(from).filter((l) =>
    ["Conv2D", "DepthwiseConv2D"].includes(l.getClassName())
  );
  const totals = new Map<string, number>();
  const add = (k: string, ms: number) =>
    totals.set(k, (totals.get(k) ?? 0) + ms);
  const run = (name: string, inputs: tf.NamedTensorMap, attrs: object) => {
    const out = tf.engine().runKernel(
      name,
      inputs,
      attrs as tf.NamedAttrMap,
    ) as tf.Tensor;
    out.dispose();
  };
  for (const layer of convs) {
    const depthwise = layer.getClassName() === "DepthwiseConv2D";
    const cfg = layer.getConfig() as {
      strides: [number, number];
      padding: string;
    };
    const inShape = [
      batch,
      ...(layer.input as tf.SymbolicTensor).shape.slice(1),
    ]
      .map(Number);
    const filter = layer.getWeights()[0];
    const attrs = {
      strides: cfg.strides,
      pad: cfg.padding,
      dilations: [1, 1],
      dataFormat: "NHWC",
    };
    const x = tf.randomNormal(inShape);
    const y = depthwise
      ? tf.depthwiseConv2d(
        x as tf.Tensor4D,
        filter as tf.Tensor4D,
        cfg.strides,
        cfg.padding as "same",
      )
      : tf.conv2d(
        x as tf.Tensor4D,
        filter as tf.Tensor4D,
        cfg.strides,
        cfg.padding as "same",
      );
    const dy = tf.randomNormal(y.shape);
    const [fk, ik] = depthwise
      ? [
        "DepthwiseConv2dNativeBackpropFilter",
        "DepthwiseConv2dNativeBackpropInput",
      ]
      : ["Conv2DBackpropFilter", "Conv2DBackpropInput"];
    add(
      fk,
      await time(
        () => run(fk, { x, dy }, { ...attrs, filterShape: filter.shape }),
        5,
      ),
    );
    add(
      ik,
      await time(
        () => run(ik, { dy, filter }, { ...attrs, inputShape: inShape }),
        5,
      ),
    );
    add(
      depthwise ? "forward DepthwiseConv2dNative" : "forward Conv2D",
      await time(
        () =>
          run(
            depthwise ? "DepthwiseConv2dNative" : "Conv2D",
            { x, filter },
            attrs,
          ),
        5,
      ),
    );
    if (!depthwise) {
      // The backend's own kernel, called directly for comparison.
      add(
        "Conv2DBackpropInput, backend's own",
        await time(
          () => {
            const out = ownKernels.Conv2DBackpropInput.kernelFunc(
              {
                inputs: { dy, filter },
                backend: tf.backend(),
                attrs: { ...attrs, inputShape: inShape },
              } as unknown as Parameters<tf.KernelFunc>[0],
            ) as tf.TensorInfo;
            tf.backend().disposeData(out.dataId);
          },
          2,
          1,
        ),
      );
    }
    tf.dispose([x, y, dy]);
  }
  // FusedBatchNorm's gradient tiles [1, 1, 1, C] to the activation's shape.
  const c = tf.randomNormal([1, 1, 1, 576]);
  const reps = [batch, 10, 10, 1];
  add(
    "Tile [1,1,1,576] → [B,10,10,576]",
    await time(() => run("Tile", { x: c }, { reps }), 10),
  );
  add(
    "Tile, backend's own",
    await time(() => {
      const out = ownKernels.Tile.kernelFunc(
        {
          inputs: { x: c },
          backend: tf.backend(),
          attrs: { reps },
        } as unknown as Parameters<tf.KernelFunc>[0],
      ) as tf.TensorInfo;
      tf.backend().disposeData(out.dataId);
    }, 10),
  );
  c.dispose();
  console.log(
    `\nkernels, batch ${batch}, summed over the ${convs.length} convolutions from layer ${from}:`,
  );
  for (const [k, ms] of totals) {
    console.log(`  ${k.padEnd(42)} ${ms.toFixed(1)} ms`);
    results.push([`kernel ${k}`, `${ms.toFixed(1)} ms`]);
  }
  base.dispose();
}

if (cases.includes("split")) {
  const base = buildBase();
  const { prefix, inputs, output } = splitAt(base, from);
  const suffix = tf.model({ inputs, outputs: head(output) });
  suffix.compile({
    optimizer: tf.train.adam(1e-4),
    loss: "categoricalCrossentropy",
  });
  const { x, y } = data(batch);
  const prefixOnly = await time(() => {
    const feats = prefix.predict(x) as tf.Tensor[];
    tf.dispose(feats);
  }, steps);
  report(
    `split: frozen layers' forward (predict), batch ${batch}`,
    prefixOnly,
    batch,
  );
  const step = await time(async () => {
    const feats = prefix.predict(x) as tf.Tensor[];
    await suffix.trainOnBatch(feats, y);
    tf.dispose(feats);
  }, steps);
  report(`split: training step, batch ${batch}`, step, batch);
  const epochs = 10;
  const images = 2000;
  console.log(
    `  → ${epochs} epochs of ${images} images ≈ ${
      (step * Math.ceil(images / batch) * epochs / 60000).toFixed(1)
    } min (training steps only)`,
  );
  tf.dispose([x, y]);
  suffix.dispose();
  base.dispose();
}

if (cases.includes("whole")) {
  const base = buildBase();
  const input = tf.input({ shape: [size, size, 3] });
  const model = tf.model({
    inputs: input,
    outputs: head(base.apply(input) as tf.SymbolicTensor),
  });
  model.compile({
    optimizer: tf.train.adam(1e-4),
    loss: "categoricalCrossentropy",
  });
  const { x, y } = data(wholeBatch);
  const forward = await time(() => {
    (model.predict(x) as tf.Tensor).dispose();
  }, steps);
  report(`whole: forward (predict), batch ${wholeBatch}`, forward, wholeBatch);
  const step = await time(() => model.trainOnBatch(x, y), steps);
  report(`whole: trainOnBatch, batch ${wholeBatch}`, step, wholeBatch);
  const heap = (tf.backend() as unknown as {
    wasm: { HEAPU8: Uint8Array };
  }).wasm.HEAPU8.buffer.byteLength;
  console.log(
    `  WASM heap after the steps: ${(heap / 2 ** 20).toFixed(0)} MiB`,
  );
  tf.dispose([x, y]);
  model.dispose();
}

console.log("\nsummary:");
for (const [k, v] of results) console.log(`  ${k}: ${v}`);
