import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import {
  ReduceLrOnPlateau,
  reduceLrOnPlateauCallback,
} from "../../src/train/reduce_lr_on_plateau.ts";
import { KerasAdam } from "../../src/train/keras_optimizers.ts";
import { learningRateOf } from "../../src/train/optimizer_rate.ts";
import { recipeGoldens } from "../_helpers/recipe_goldens.ts";

await tf.setBackend("cpu");
const goldens = await recipeGoldens();

Deno.test("ReduceLrOnPlateau: Keras 3.15's callback on fixed monitored sequences, exactly", () => {
  assert.equal(goldens.reduce_lr.length, 4);
  for (const g of goldens.reduce_lr) {
    const r = new ReduceLrOnPlateau(g.initial_learning_rate, {
      monitor: g.monitor,
      factor: g.args.factor,
      patience: g.args.patience,
      minDelta: g.args.min_delta,
      cooldown: g.args.cooldown,
      minLr: g.args.min_lr,
    });
    const logged: number[] = [];
    const after: number[] = [];
    for (const v of g.values) {
      const d = r.update(v);
      logged.push(d.logged);
      after.push(d.learningRate);
    }
    // Both float32, as Keras' optimizer variable.
    assert.deepEqual(logged, g.logged_learning_rate, JSON.stringify(g.args));
    assert.deepEqual(after, g.learning_rate_after, JSON.stringify(g.args));
  }
});

Deno.test("ReduceLrOnPlateau: reductions recorded, floor at minLr, bad options refused", () => {
  const r = new ReduceLrOnPlateau(1, { patience: 0, factor: 0.5, minLr: 0.3 });
  for (const v of [1, 1, 1, 1]) r.update(v);
  assert.deepEqual(r.reductions, [
    { epoch: 2, learningRate: 0.5 },
    { epoch: 3, learningRate: Math.fround(0.3) },
  ]);
  // An epoch without the metric changes nothing.
  assert.equal(r.update(undefined).reduced, false);
  assert.throws(
    () => new ReduceLrOnPlateau(1, { factor: 1 }),
    /factor: expected a number in \(0, 1\)/,
  );
  assert.throws(
    () => new ReduceLrOnPlateau(1, { patience: 1.5 }),
    /patience: expected an integer/,
  );
});

Deno.test("reduceLrOnPlateauCallback: writes the reduced rate into the optimizer", async () => {
  const opt = new KerasAdam(0.01);
  const lines: string[] = [];
  const cb = reduceLrOnPlateauCallback(
    opt,
    { patience: 1, factor: 0.5 },
    (l) => lines.push(l),
  );
  for (const [e, v] of [[0, 1], [1, 1.1], [2, 0.5]]) {
    await cb.onEpochEnd?.(e, { val_loss: v }, {} as never);
  }
  assert.equal(learningRateOf(opt), Math.fround(0.005));
  assert.deepEqual(lines, [
    `epoch 2: ReduceLROnPlateau reducing learning rate to ${
      Math.fround(0.005)
    }`,
  ]);
  opt.dispose();
});
