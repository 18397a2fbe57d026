/**
 * Web Worker of {@link ForwardWorker} (`forward.ts`): selects one TF.js
 * backend in its own isolate, builds MobileNetV2 (random weights, no top,
 * global average pooling: the part feature caching runs) and runs one
 * forward pass of a fixed batch per `"step"` message, replying with its
 * milliseconds (prediction and read-back of the features).
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

import * as tf from "../src/deps/tf.ts";
import { selectBackend } from "../src/backend/backend.ts";
import { mobileNetV2 } from "../src/model/mobilenet_v2.ts";
import type { ForwardReply, ForwardRequest } from "./forward.ts";

let model: tf.LayersModel | null = null;
let input: tf.Tensor4D | null = null;

function reply(message: ForwardReply): void {
  self.postMessage(message);
}

self.onmessage = async (event: MessageEvent<ForwardRequest>) => {
  const req = event.data;
  try {
    if (req.cmd === "init") {
      const sel = await selectBackend(req.backend, {
        wasmThreads: req.threads,
      });
      model = mobileNetV2({
        inputShape: [req.size, req.size, 3],
        alpha: req.alpha,
        includeTop: false,
        pooling: "avg",
        seed: 1,
      });
      // Preprocessed images are in [-1, 1].
      input = tf.randomUniform(
        [req.batch, req.size, req.size, 3],
        -1,
        1,
        "float32",
        2,
      );
      reply({
        cmd: "ready",
        backend: sel.backend,
        reason: sel.reason,
        threads: sel.threads,
        adapter: sel.adapter,
      });
    } else {
      if (!model || !input) throw new Error("step before init");
      const t = performance.now();
      const y = model.predict(input) as tf.Tensor;
      await y.data();
      const ms = performance.now() - t;
      y.dispose();
      reply({ cmd: "step", ms });
    }
  } catch (e) {
    reply({ cmd: "error", error: e instanceof Error ? e.message : String(e) });
  }
};
