import assert from "node:assert/strict";
import {
  cosineDecay,
  exponentialDecay,
  lrSchedule,
  oneCycle,
} from "../../src/train/lr_schedule.ts";
import { assertClose, recipeGoldens } from "../_helpers/recipe_goldens.ts";
import { ConfigSchema } from "../../src/config/schema.ts";

const goldens = await recipeGoldens();
// Keras computes schedules in float32 (its cos near 0 is off by ~5e-7
// relative); ours are double.
const RTOL = 1e-6;

Deno.test("cosineDecay: Keras' CosineDecay per step, with and without warmup", () => {
  const cos = goldens.schedules.filter((s) => s.type === "cosine");
  assert.equal(cos.length, 4);
  for (const g of cos) {
    const a = g.args as Record<string, number>;
    const f = cosineDecay({
      initialLearningRate: a.initial_learning_rate,
      decaySteps: a.decay_steps,
      alpha: a.alpha,
      warmupTarget: a.warmup_target ?? null,
      warmupSteps: a.warmup_steps ?? 0,
    });
    assertClose(
      g.lr.map((_, s) => f(s)),
      g.lr,
      RTOL,
      1e-12,
      `cosine ${JSON.stringify(a)}`,
    );
  }
});

Deno.test("exponentialDecay: Keras' ExponentialDecay, smooth and staircase", () => {
  const exp = goldens.schedules.filter((s) => s.type === "exponential");
  assert.equal(exp.length, 2);
  for (const g of exp) {
    const f = exponentialDecay({
      initialLearningRate: g.args.initial_learning_rate as number,
      decaySteps: g.args.decay_steps as number,
      decayRate: g.args.decay_rate as number,
      staircase: g.args.staircase as boolean,
    });
    assertClose(g.lr.map((_, s) => f(s)), g.lr, RTOL, 0, "exponential");
  }
});

Deno.test("oneCycle: fastai's fit_one_cycle formula (rates and momenta)", () => {
  for (const g of goldens.one_cycle) {
    const a = g.args;
    const f = oneCycle({
      lrMax: a.lr_max,
      totalSteps: a.total_steps,
      pctStart: a.pct_start,
      div: a.div,
      divFinal: a.div_final,
      moms: a.moms,
    });
    const steps = g.lr.map((_, s) => s);
    assertClose(steps.map(f.lrAt), g.lr, 1e-12, 1e-18, "one-cycle lr");
    assertClose(steps.map((s) => f.momentumAt(s)!), g.mom, 1e-12, 0, "mom");
  }
  // The cycle's shape: lr_max/div at step 0, lr_max at pct_start, the
  // momentum at its low there.
  const f = oneCycle({ lrMax: 1, totalSteps: 100 });
  assert.equal(f.lrAt(0), 1 / 25);
  assert.equal(f.lrAt(25), 1);
  assert.ok(Math.abs(f.momentumAt(25)! - 0.85) < 1e-15);
  assert.ok(f.lrAt(99) < 1e-3 && f.lrAt(99) > 1e-5);
  assert.equal(
    oneCycle({ lrMax: 1, totalSteps: 4, moms: null }).momentumAt(1),
    null,
  );
});

Deno.test("lrSchedule: config values resolved per stage, with the stage's defaults", () => {
  const ctx = { learningRate: 1e-3, totalSteps: 30, stepsPerEpoch: 10 };
  const constant = lrSchedule("constant", ctx);
  assert.deepEqual([0, 29, 1000].map(constant.lrAt), [1e-3, 1e-3, 1e-3]);
  // "cosine": Keras' CosineDecay(lr, decay_steps = the stage's steps).
  const cos = lrSchedule("cosine", ctx);
  const keras = cosineDecay({ initialLearningRate: 1e-3, decaySteps: 30 });
  assert.deepEqual([0, 7, 29, 30].map(cos.lrAt), [0, 7, 29, 30].map(keras));
  assert.equal(cos.params.decaySteps, 30);
  // Warmup: from warmupFrom up to the learning rate, then decay over the rest.
  const warm = lrSchedule(
    { type: "cosine", warmupSteps: 5, warmupFrom: 1e-5, alpha: 0.1 },
    ctx,
  );
  const kerasWarm = cosineDecay({
    initialLearningRate: 1e-5,
    decaySteps: 25,
    alpha: 0.1,
    warmupTarget: 1e-3,
    warmupSteps: 5,
  });
  for (let s = 0; s < 32; s++) assert.equal(warm.lrAt(s), kerasWarm(s));
  assert.equal(warm.lrAt(5), 1e-3);
  // "exponential": decaySteps defaults to one epoch.
  const exp = lrSchedule({ type: "exponential", decayRate: 0.5 }, ctx);
  assert.equal(exp.lrAt(10), 5e-4);
  assert.throws(
    () => lrSchedule({ type: "exponential" }, ctx),
    /train\.lrSchedule\.decayRate/,
  );
  assert.throws(
    () =>
      lrSchedule({ type: "cosine", warmupSteps: 30 }, {
        ...ctx,
        key: "fineTune.lrSchedule",
      }),
    /fineTune\.lrSchedule\.warmupSteps: 30 warmup steps leave no decay steps/,
  );
  const oc = lrSchedule("one-cycle", ctx);
  assert.equal(oc.lrAt(0), 1e-3 / 25);
  assert.equal(oc.momentumAt(0), 0.95);
  assert.deepEqual(oc.params.moms, [0.95, 0.85, 0.95]);
});

Deno.test("config: lrSchedule strings and objects validated, naming the key", () => {
  const parse = (train: unknown) => ConfigSchema.safeParse({ train });
  assert.equal(parse({}).data?.train.lrSchedule, "constant");
  assert.ok(parse({ lrSchedule: "cosine" }).success);
  assert.ok(
    parse({ lrSchedule: { type: "one-cycle", pctStart: 0.3 } }).success,
  );
  const messages = (train: unknown) => {
    const r = parse(train);
    assert.equal(r.success, false);
    return r.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`)
      .join("\n");
  };
  assert.match(
    messages({ lrSchedule: { type: "cosine", decayRate: 0.5 } }),
    /train\.lrSchedule\.decayRate: decayRate is not a parameter of the "cosine" schedule \(it takes decaySteps, alpha, warmupSteps, warmupFrom\)/,
  );
  assert.match(
    messages({ lrSchedule: { type: "exponential" } }),
    /train\.lrSchedule\.decayRate: the "exponential" schedule needs a decayRate/,
  );
  assert.match(
    messages({ lrSchedule: { type: "cosine", warmupSteps: 2, extra: 1 } }),
    /extra/,
  );
  assert.match(
    messages({ lrSchedule: "cosine", reduceLrOnPlateau: { enabled: true } }),
    /train\.reduceLrOnPlateau\.enabled: ReduceLROnPlateau cannot change a scheduled learning rate/,
  );
  assert.match(
    messages({ lrSchedule: "one-cycle", optimizerRule: "tfjs" }),
    /train\.lrSchedule: one-cycle cycles Adam's beta_1/,
  );
  assert.ok(
    parse({
      lrSchedule: { type: "one-cycle", moms: null },
      optimizerRule: "tfjs",
    }).success,
  );
  const ft = ConfigSchema.safeParse({
    fineTune: { lrSchedule: "one-cycle", reduceLrOnPlateau: { enabled: true } },
  });
  assert.match(
    ft.error!.issues.map((i) => i.path.join(".")).join(),
    /fineTune\.reduceLrOnPlateau\.enabled/,
  );
});
