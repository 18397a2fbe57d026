import assert from "node:assert/strict";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "../../src/deps/tf.ts";
import {
  importTfWasm,
  importTfWebgpu,
  TFJS_WASM_SPECIFIER,
} from "../../src/deps/tf_backends.ts";
import {
  augmentBatch,
  type AugmentOptions,
  augmentRng,
  augmentTransforms,
  DEFAULT_AUGMENT,
  isAugmentEnabled,
  makeAugmenter,
  projectiveTransform,
} from "../../src/train/augment.ts";

await tf.setBackend("cpu");

/**
 * Test helper: wraps a function that yields an epoch's training batches so that each
 * batch's `xs` is augmented (keyed by seed, epoch and batch index); the
 * original `xs` is disposed once replaced and everything else in the batch
 * passes through. Use it for training data only and leave validation
 * batches unwrapped. Returns `batches` itself when `opts` is all off.
 */
function withAugmentation<B extends { xs: tf.Tensor4D }>(
  batches: (epoch: number) => Iterable<B> | AsyncIterable<B>,
  opts: AugmentOptions,
  seed: number,
): (epoch: number) => Iterable<B> | AsyncIterable<B> {
  const augment = makeAugmenter(opts, seed);
  if (augment == null) return batches;
  return async function* (epoch: number): AsyncGenerator<B> {
    let i = 0;
    for await (const batch of batches(epoch)) {
      const xs = augment(batch.xs, epoch, i++);
      batch.xs.dispose();
      yield { ...batch, xs };
    }
  };
}

const ALL: AugmentOptions = {
  flip: "horizontal",
  rotation: 0.2,
  zoom: 0.2,
  translation: 0.1,
};
const [B, H, W, C] = [6, 20, 16, 3];

/** A batch in [-1, 1] with structure (gradients plus noise), same on all backends. */
function batchValues(seed = 7): Float32Array {
  const rng = augmentRng({ seed, epoch: 0, batch: 0 });
  const v = new Float32Array(B * H * W * C);
  let i = 0;
  for (let b = 0; b < B; b++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        for (let c = 0; c < C; c++) {
          const s = Math.sin((x + 2 * y + 5 * b + c) / 3);
          v[i++] = Math.max(-1, Math.min(1, 0.8 * s + 0.4 * (rng() - 0.5)));
        }
      }
    }
  }
  v[0] = -1; // the full range occurs
  v[1] = 1;
  return v;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function run(opts: AugmentOptions, epoch = 0, batch = 0, seed = 42) {
  const x = tf.tensor4d(batchValues(), [B, H, W, C]);
  const out = augmentBatch(x, opts, { seed, epoch, batch });
  const values = out.dataSync() as Float32Array;
  const shape = out.shape;
  tf.dispose([x, out]);
  return { values, shape };
}

Deno.test("augment: defaults and zero settings are off and return an identical copy", () => {
  assert.equal(isAugmentEnabled({}), false);
  assert.equal(isAugmentEnabled(DEFAULT_AUGMENT), false);
  assert.equal(
    isAugmentEnabled({ flip: "none", rotation: 0, zoom: 0, translation: 0 }),
    false,
  );
  assert.equal(isAugmentEnabled({ translation: [0, 0.1] }), true);
  assert.equal(makeAugmenter({}, 1), null);
  const x = tf.tensor4d(batchValues(), [B, H, W, C]);
  for (const opts of [{}, DEFAULT_AUGMENT, { rotation: 0, zoom: 0 }]) {
    const out = augmentBatch(x, opts, { seed: 1, epoch: 0, batch: 0 });
    assert.notEqual(out, x);
    assert.deepEqual(out.shape, x.shape);
    assert.deepEqual(out.dataSync(), x.dataSync());
    out.dispose();
  }
  x.dispose();
});

Deno.test("augment: invalid settings are rejected", () => {
  const x = tf.zeros([1, 4, 4, 3]) as tf.Tensor4D;
  const key = { seed: 1, epoch: 0, batch: 0 };
  for (
    const bad of [
      { rotation: -0.1 },
      { rotation: NaN },
      { zoom: 1.5 },
      { translation: 2 },
      { translation: [0.1, -1] as const },
      { flip: "diagonal" as "none" },
    ]
  ) {
    assert.throws(() => augmentBatch(x, bad, key), RangeError);
  }
  x.dispose();
});

Deno.test("augment: same seed/epoch/batch gives the same output; other keys differ", () => {
  const a = run(ALL, 3, 5);
  assert.deepEqual(run(ALL, 3, 5).values, a.values);
  assert.ok(maxAbsDiff(run(ALL, 3, 6).values, a.values) > 0.1, "batch");
  assert.ok(maxAbsDiff(run(ALL, 4, 5).values, a.values) > 0.1, "epoch");
  assert.ok(maxAbsDiff(run(ALL, 3, 5, 43).values, a.values) > 0.1, "seed");
  // Images within one batch get different transforms.
  const t = augmentTransforms(
    ALL,
    augmentRng({ seed: 1, epoch: 0, batch: 0 }),
    4,
    H,
    W,
  );
  for (let i = 1; i < 4; i++) {
    assert.notDeepEqual(t.slice(0, 8), t.slice(8 * i, 8 * i + 8));
  }
});

Deno.test("augment: shape kept, values stay in the input range and change", () => {
  const input = batchValues();
  let lo = Infinity, hi = -Infinity;
  for (const v of input) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  for (
    const opts of [
      ALL,
      { rotation: 0.5 },
      { zoom: 1 },
      { translation: 1 },
      { flip: "horizontal_and_vertical", rotation: 0.1 } as const,
    ]
  ) {
    for (let batch = 0; batch < 3; batch++) {
      const { values, shape } = run(opts, 0, batch);
      assert.deepEqual(shape, [B, H, W, C]);
      for (const v of values) {
        assert.ok(
          Number.isFinite(v) && v >= lo && v <= hi,
          `${v} out of range`,
        );
      }
      assert.ok(maxAbsDiff(values, input) > 0.1, JSON.stringify(opts));
    }
  }
});

Deno.test("augment: flips alone give exact mirrors, about half of the images", () => {
  const input = tf.tensor4d(batchValues(), [B, H, W, C]);
  const per = (t: tf.Tensor) =>
    tf.unstack(t).map((img) => {
      const d = img.dataSync();
      img.dispose();
      return d;
    });
  const orig = per(input);
  const mirrors: Record<string, Float32Array[]> = {};
  for (
    const [name, axes] of [["h", [2]], ["v", [1]], ["hv", [1, 2]]] as const
  ) {
    const r = tf.reverse(input, [...axes]);
    mirrors[name] = per(r) as Float32Array[];
    r.dispose();
  }
  for (
    const [flip, allowed] of [
      ["horizontal", ["h"]],
      ["vertical", ["v"]],
      ["horizontal_and_vertical", ["h", "v", "hv"]],
    ] as const
  ) {
    const seen = new Set<string>();
    for (let batch = 0; batch < 4; batch++) {
      const out = augmentBatch(input, { flip }, { seed: 9, epoch: 0, batch });
      per(out).forEach((img, i) => {
        const kind = [...allowed, "none"].find((k) =>
          maxAbsDiff(img, k === "none" ? orig[i] : mirrors[k][i]) === 0
        );
        assert.ok(kind, `${flip}: image ${i} is neither original nor a mirror`);
        seen.add(kind);
      });
      out.dispose();
    }
    assert.deepEqual([...seen].sort(), [...allowed, "none"].sort(), flip);
  }
  input.dispose();
});

Deno.test("augment: random parameters stay within the Keras-style bounds", () => {
  const n = 200;
  const rng = () => augmentRng({ seed: 5, epoch: 1, batch: 2 });
  const cx = (W - 1) / 2, cy = (H - 1) / 2;
  const rot = augmentTransforms({ rotation: 0.1 }, rng(), n, H, W);
  let maxAngle = 0;
  for (let i = 0; i < n; i++) {
    const [a0, a1, , b0, b1] = rot.slice(i * 8);
    assert.ok(Math.abs(a0 - b1) < 1e-6 && Math.abs(a1 + b0) < 1e-6);
    maxAngle = Math.max(maxAngle, Math.abs(Math.atan2(b0, a0)));
    // The centre maps to itself modulo whole reflection periods.
    const x = a0 * cx + a1 * cy + rot[i * 8 + 2];
    const y = b0 * cx + b1 * cy + rot[i * 8 + 5];
    assert.ok(
      Math.abs((x - cx) / (2 * W) - Math.round((x - cx) / (2 * W))) < 1e-4,
    );
    assert.ok(
      Math.abs((y - cy) / (2 * H) - Math.round((y - cy) / (2 * H))) < 1e-4,
    );
  }
  assert.ok(
    maxAngle <= 0.1 * 2 * Math.PI + 1e-6 && maxAngle > 0.5,
    `${maxAngle}`,
  );

  const zoom = augmentTransforms({ zoom: 0.3 }, rng(), n, H, W);
  const zs = Array.from({ length: n }, (_, i) => zoom[i * 8]);
  assert.ok(
    zs.every((z, i) =>
      z >= 0.7 - 1e-6 && z <= 1.3 + 1e-6 && z === zoom[i * 8 + 4]
    ),
  );
  assert.ok(Math.min(...zs) < 0.8 && Math.max(...zs) > 1.2);

  const tr = augmentTransforms({ translation: [0.25, 0.5] }, rng(), n, H, W);
  for (let i = 0; i < n; i++) {
    const [a0, a1, a2, b0, b1, b2] = tr.slice(i * 8);
    assert.deepEqual([a0, a1, b0, b1], [1, 0, 0, 1]);
    // Shift (mod one reflection period) within ±0.5·W and ±0.25·H.
    const dx = a2 - 2 * W * Math.round(a2 / (2 * W));
    const dy = b2 - 2 * H * Math.round(b2 / (2 * H));
    assert.ok(
      Math.abs(dx) <= 0.5 * W + 1e-4 && Math.abs(dy) <= 0.25 * H + 1e-4,
    );
  }
});

/** TF.js' cpu Transform kernel, one image at a time (batched, it fills only image 0). */
function cpuKernelPerImage(x: tf.Tensor4D, t: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() =>
    tf.concat(
      Array.from({ length: x.shape[0] }, (_, i) =>
        tf.image.transform(
          tf.slice(x, [i, 0, 0, 0], [1, -1, -1, -1]),
          tf.slice(t, [i, 0], [1, 8]),
          "bilinear",
          "reflect",
        )),
      0,
    )
  );
}

Deno.test("augment: the TypeScript transform matches the cpu kernel", () => {
  const x = tf.tensor4d(batchValues(), [B, H, W, C]);
  const t = tf.tensor2d(
    augmentTransforms(
      ALL,
      augmentRng({ seed: 3, epoch: 0, batch: 0 }),
      B,
      H,
      W,
    ),
    [B, 8],
  );
  const a = cpuKernelPerImage(x, t);
  const c = projectiveTransform(x, t, "ts"); // what "auto" runs on cpu and wasm
  assert.ok(maxAbsDiff(a.dataSync(), c.dataSync()) < 1e-5, "ts = kernel");
  tf.dispose([x, t, a, c]);
});

Deno.test("augment: no tensors leak", async () => {
  const x = tf.tensor4d(batchValues(), [B, H, W, C]);
  const before = tf.memory().numTensors;
  for (let batch = 0; batch < 3; batch++) {
    for (const opts of [ALL, { flip: "horizontal" } as const, {}]) {
      const out = augmentBatch(x, opts, { seed: 1, epoch: 0, batch });
      assert.equal(tf.memory().numTensors, before + 1);
      out.dispose();
    }
  }
  const t = tf.tensor2d(
    new Float32Array(B * 8).fill(0).map((_, i) => i % 4 === 0 ? 1 : 0),
    [B, 8],
  );
  projectiveTransform(x, t, "ts").dispose();
  projectiveTransform(x, t, "auto").dispose();
  t.dispose();
  assert.equal(tf.memory().numTensors, before);

  // The wrapper disposes the replaced xs; ys pass through untouched.
  const batches = (epoch: number) =>
    [0, 1].map((i) => ({
      xs: tf.tensor4d(batchValues(), [B, H, W, C]),
      ys: tf.tidy(() =>
        tf.oneHot(tf.tensor1d([epoch, i, 0, 1, 0, 1], "int32"), 2)
      ),
      id: i,
    }));
  const train = withAugmentation(batches, ALL, 42);
  const start = tf.memory().numTensors;
  for await (const b of train(1)) {
    assert.deepEqual(b.xs.shape, [B, H, W, C]);
    const labels = tf.tidy(() => tf.argMax(b.ys, 1).dataSync());
    assert.deepEqual(labels, Int32Array.from([1, b.id, 0, 1, 0, 1]));
    tf.dispose([b.xs, b.ys]);
  }
  assert.equal(tf.memory().numTensors, start);
  x.dispose();
});

Deno.test("augment: training wrapper is deterministic per epoch and batch; off leaves data alone", async () => {
  const make = () => (_epoch: number) =>
    [0, 1].map(() => ({ xs: tf.tensor4d(batchValues(), [B, H, W, C]) }));
  const collect = async (
    f: (
      e: number,
    ) => Iterable<{ xs: tf.Tensor4D }> | AsyncIterable<{ xs: tf.Tensor4D }>,
    epoch: number,
  ) => {
    const out: Float32Array[] = [];
    for await (const b of f(epoch)) {
      out.push(b.xs.dataSync() as Float32Array);
      b.xs.dispose();
    }
    return out;
  };
  const e2 = await collect(withAugmentation(make(), ALL, 7), 2);
  assert.deepEqual(await collect(withAugmentation(make(), ALL, 7), 2), e2);
  assert.deepEqual(e2[0], run(ALL, 2, 0, 7).values);
  assert.deepEqual(e2[1], run(ALL, 2, 1, 7).values);
  assert.ok(maxAbsDiff(e2[0], e2[1]) > 0.1);
  const e3 = await collect(withAugmentation(make(), ALL, 7), 3);
  assert.ok(maxAbsDiff(e2[0], e3[0]) > 0.1);
  // Validation: not wrapped, or wrapped with augmentation off, is the same function.
  const validation = make();
  assert.equal(withAugmentation(validation, {}, 7), validation);
  for (const v of await collect(validation, 2)) {
    assert.deepEqual(v, batchValues());
  }
});

// --- other backends: the same transforms give the same images -------------

async function onBackend(
  name: string,
  f: () => Promise<Float32Array>,
): Promise<Float32Array> {
  assert.ok(await tf.setBackend(name), `backend ${name}`);
  try {
    return await f();
  } finally {
    await tf.setBackend("cpu");
  }
}

async function augmentAll(): Promise<Float32Array> {
  const x = tf.tensor4d(batchValues(), [B, H, W, C]);
  const out = tf.tidy(() =>
    tf.concat([
      augmentBatch(x, ALL, { seed: 11, epoch: 0, batch: 0 }),
      augmentBatch(x, ALL, { seed: 11, epoch: 0, batch: 1 }),
      augmentBatch(x, { flip: "horizontal" }, { seed: 11, epoch: 0, batch: 2 }),
      augmentBatch(x, { rotation: 0.5, zoom: 0.5, translation: 0.5 }, {
        seed: 11,
        epoch: 0,
        batch: 3,
      }),
    ])
  );
  const v = (await out.data()) as Float32Array; // dataSync fails on webgpu in Deno
  tf.dispose([x, out]);
  return v;
}

const cpuReference = await augmentAll();

let webgpuOk = false;
try {
  const adapter =
    await (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu
      ?.requestAdapter();
  if (adapter) {
    await importTfWebgpu();
    webgpuOk = true;
  }
} catch {
  webgpuOk = false;
}
await tf.setBackend("cpu"); // importing webgpu raises its priority above cpu

Deno.test({
  name:
    "augment: webgpu gives the cpu result (within float tolerance), no leak",
  ignore: !webgpuOk,
  fn: async () => {
    const got = await onBackend("webgpu", async () => {
      const before = tf.memory().numTensors;
      const v = await augmentAll();
      assert.equal(tf.memory().numTensors, before);
      return v;
    });
    assert.ok(maxAbsDiff(got, cpuReference) < 1e-3);
  },
});

Deno.test("augment: wasm gives the cpu result (within float tolerance)", async () => {
  const wasm = await importTfWasm();
  wasm.setWasmPaths(
    dirname(fileURLToPath(import.meta.resolve(TFJS_WASM_SPECIFIER))) + "/",
  );
  const got = await onBackend("wasm", augmentAll);
  assert.ok(maxAbsDiff(got, cpuReference) < 1e-3);
});
