import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import {
  camOverlay,
  camOverlayPng,
  jetColor,
  upsampleBilinear,
} from "../../src/report/cam_overlay.ts";
import { decodePixels } from "../../src/data/codecs.ts";
import { mulberry32 } from "../../src/util/rng.ts";
import { silenceNodeBanner } from "../../src/backend/set_backend.ts";

silenceNodeBanner();
await tf.setBackend("cpu");

Deno.test("upsampleBilinear equals tf.image.resizeBilinear with half-pixel centres within 1e-6", () => {
  const rand = mulberry32(7);
  const [h, w, oh, ow] = [3, 5, 96, 80];
  const map = Float32Array.from({ length: h * w }, () => rand());
  const ours = upsampleBilinear(map, h, w, oh, ow);
  const ref = tf.tidy(() =>
    tf.image.resizeBilinear(tf.tensor3d(map, [h, w, 1]), [oh, ow], false, true)
      .dataSync()
  );
  let max = 0;
  for (let i = 0; i < ours.length; i++) {
    max = Math.max(max, Math.abs(ours[i] - ref[i]));
  }
  assert.ok(max <= 1e-6, `off by ${max}`);
  assert.throws(() => upsampleBilinear([1, 2], 2, 2, 4, 4), /expected 2×2/);
});

Deno.test("jetColor follows matplotlib's jet segments (256 levels)", () => {
  assert.deepEqual(jetColor(0), [0, 0, 128]);
  assert.deepEqual(jetColor(1), [128, 0, 0]);
  // matplotlib: jet(128) = (0.4902, 1.0, 0.4775).
  assert.deepEqual(jetColor(128 / 255), [125, 255, 122]);
  // Clamped, NaN as 0.
  assert.deepEqual(jetColor(-3), jetColor(0));
  assert.deepEqual(jetColor(7), jetColor(1));
  assert.deepEqual(jetColor(NaN), jetColor(0));
});

Deno.test("camOverlay blends (1 − α)·image + α·jet; the PNG decodes back to it", async () => {
  const [w, h] = [8, 6];
  const pixels = Uint8Array.from(
    { length: w * h * 3 },
    (_, i) => (i * 37) % 256,
  );
  const map = [0, 1, 0.5, 0.25];
  assert.deepEqual(camOverlay(pixels, w, h, map, 2, 2, { alpha: 0 }), pixels);
  const full = camOverlay(pixels, w, h, map, 2, 2, { alpha: 1 });
  const up = upsampleBilinear(map, 2, 2, h, w);
  for (let p = 0; p < w * h; p++) {
    assert.deepEqual(
      Array.from(full.subarray(p * 3, p * 3 + 3)),
      jetColor(up[p]),
    );
  }
  const mixed = camOverlay(pixels, w, h, map, 2, 2);
  for (let i = 0; i < mixed.length; i++) {
    const want = Math.round(0.6 * pixels[i] + 0.4 * full[i]);
    assert.ok(Math.abs(mixed[i] - want) <= 1, `byte ${i}`);
  }
  const png = await camOverlayPng(pixels, w, h, map, 2, 2);
  const back = await decodePixels(png);
  assert.equal(back.width, w);
  assert.equal(back.height, h);
  const rgb = back.channels === 3 ? back.data : Uint8Array.from(
    { length: w * h * 3 },
    (_, i) => back.data[Math.floor(i / 3) * back.channels + (i % 3)],
  );
  assert.deepEqual(Array.from(rgb), Array.from(mixed));
  assert.throws(
    () => camOverlay(pixels, w, h, map, 2, 2, { alpha: 2 }),
    /alpha/,
  );
});
