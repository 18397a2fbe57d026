import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import { KerasAdam } from "../../src/train/keras_optimizers.ts";
import { scheduleCallback } from "../../src/train/schedule_callback.ts";
import { lrSchedule } from "../../src/train/lr_schedule.ts";
import {
  learningRateOf,
  setLearningRate,
  setMomentum,
} from "../../src/train/optimizer_rate.ts";
import { fitLoop } from "../../src/train/fit.ts";
import { makeOptimizer } from "../../src/train/stages.ts";

await tf.setBackend("cpu");

/** A KerasAdam that records the rate and β₁ each of its steps used. */
class RecordingAdam extends KerasAdam {
  used: [number, number][] = [];
  override applyGradients(g: Parameters<KerasAdam["applyGradients"]>[0]) {
    this.used.push([this.learningRate, this.beta1]);
    super.applyGradients(g);
  }
}

Deno.test("scheduleCallback: every optimizer step of a fit uses lrAt(step) and one-cycle's β₁; the lr column reads the next step's rate", async () => {
  const steps = 3;
  const epochs = 4;
  const schedule = lrSchedule("one-cycle", {
    learningRate: 1e-2,
    totalSteps: steps * epochs,
    stepsPerEpoch: steps,
  });
  const opt = new RecordingAdam(1e-2);
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [2], units: 2, activation: "softmax" }),
    ],
  });
  model.compile({
    optimizer: opt,
    loss: "categoricalCrossentropy",
    metrics: ["accuracy"],
  });
  const source = {
    count: 6,
    numBatches: steps,
    *batches() {
      for (let b = 0; b < steps; b++) {
        yield {
          xs: tf.tensor2d([[b, 1], [1, -b]]),
          ys: tf.tensor2d([[1, 0], [0, 1]]),
        };
      }
    },
  };
  const { rows } = await fitLoop(model, source, null, {
    epochs,
    callbacks: [scheduleCallback(opt, schedule)],
  });
  const want = Array.from(
    { length: steps * epochs },
    (_, s) => [schedule.lrAt(s), schedule.momentumAt(s)!] as [number, number],
  );
  assert.deepEqual(opt.used, want);
  assert.equal(opt.used[0][1], 0.95);
  assert.deepEqual(
    rows.map((r) => r.lr),
    rows.map((_, e) => schedule.lrAt(steps * (e + 1))),
  );
  model.dispose();
  opt.dispose();
});

Deno.test("optimizer rates: set and read on Keras' and TF.js' optimizers; momentum only where it can change", () => {
  for (const name of ["adam", "sgd", "rmsprop"]) {
    for (const rule of ["keras", "tfjs"] as const) {
      const o = makeOptimizer(name, 1e-3, rule);
      assert.equal(learningRateOf(o), 1e-3);
      setLearningRate(o, 2e-4);
      assert.equal(learningRateOf(o), 2e-4, `${name} ${rule}`);
      assert.equal(setMomentum(o, 0.9), name === "adam" && rule === "keras");
      o.dispose();
    }
  }
  // TF.js' SGD applies its rate through a cached scalar: the setter updates it.
  const v = tf.variable(tf.scalar(1), true, "sgd_rate_probe");
  const sgd = makeOptimizer("sgd", 1, "tfjs");
  setLearningRate(sgd, 0.25);
  sgd.applyGradients({ sgd_rate_probe: tf.scalar(1) });
  assert.equal(v.dataSync()[0], 0.75);
  sgd.dispose();
  v.dispose();
  assert.ok(Number.isNaN(learningRateOf(undefined)));
});
