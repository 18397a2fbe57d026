import assert from "node:assert/strict";
import { classCounts, classWeights } from "../../src/train/class_weight.ts";
import { ConfigSchema } from "../../src/config/schema.ts";

Deno.test("classWeights balanced: scikit-learn's n / (k · n_c)", () => {
  const labels = [0, 0, 0, 0, 0, 0, 1, 1, 1, 2];
  const counts = classCounts(labels, 3);
  assert.deepEqual(counts, [6, 3, 1]);
  // sklearn.utils.class_weight.compute_class_weight("balanced", ...) by hand:
  // 10 / (3·6), 10 / (3·3), 10 / (3·1).
  assert.deepEqual(classWeights("balanced", ["a", "b", "c"], counts), [
    10 / 18,
    10 / 9,
    10 / 3,
  ]);
  // Balanced weights make every class weigh the same in total: n / k.
  const w = classWeights("balanced", ["a", "b", "c"], counts)!;
  counts.forEach((c, i) => assert.ok(Math.abs(c * w[i] - 10 / 3) < 1e-12));
  assert.throws(
    () => classWeights("balanced", ["a", "b"], [3, 0]),
    /train\.classWeight: "balanced" needs images of every class, but class "b" has none/,
  );
});

Deno.test("classWeights by name: classes left out weigh 1, unknown names fail naming the key", () => {
  assert.deepEqual(
    classWeights({ dogs: 2.5 }, ["cats", "dogs", "foxes"], [1, 1, 1]),
    [1, 2.5, 1],
  );
  assert.equal(classWeights(null, ["a"], [1]), null);
  assert.throws(
    () => classWeights({ dog: 2 }, ["cats", "dogs"], [1, 1]),
    /train\.classWeight\.dog: no class named "dog" \(the classes are "cats", "dogs"\)/,
  );
  // Object keys like "constructor" are not inherited weights.
  assert.throws(
    () => classWeights({ constructor: 2 }, ["a"], [1]),
    /no class named "constructor"/,
  );
});

Deno.test("config: classWeight and labelSmoothing validated", () => {
  const parse = (train: unknown) => ConfigSchema.safeParse({ train });
  const ok = parse({});
  assert.equal(ok.data?.train.classWeight, null);
  assert.equal(ok.data?.train.labelSmoothing, 0);
  assert.ok(parse({ classWeight: "balanced", labelSmoothing: 0.1 }).success);
  assert.ok(parse({ classWeight: { cats: 1, dogs: 0 } }).success);
  for (
    const bad of [
      { classWeight: "even" },
      { classWeight: { cats: -1 } },
      { labelSmoothing: 1.2 },
      { labelSmoothing: -0.1 },
    ]
  ) {
    const r = parse(bad);
    assert.equal(r.success, false, JSON.stringify(bad));
    assert.equal(r.error!.issues[0].path[0], "train");
    assert.equal(r.error!.issues[0].path[1], Object.keys(bad)[0]);
  }
});
