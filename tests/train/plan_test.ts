import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/load.ts";
import { type FeatureMode, planFeatures } from "../../src/train/plan.ts";

Deno.test("planFeatures: the cache/feature decision for every combination that matters", () => {
  const table: [string, Record<string, unknown>, FeatureMode, RegExp][] = [
    ["defaults (the seed)", {}, "cached", /frozen base, no augmentation/],
    [
      "cache off",
      { train: { cacheFeatures: false } },
      "per-batch",
      /train\.cacheFeatures is false/,
    ],
    [
      "flip only",
      { augment: { flip: "horizontal" } },
      "cached-flips",
      /flip-only augmentation/,
    ],
    [
      "both flips",
      { augment: { flip: "horizontal_and_vertical" } },
      "cached-flips",
      /mirror/,
    ],
    [
      "flip + rotation",
      { augment: { flip: "horizontal", rotation: 0.2 } },
      "per-batch",
      /augmentation is on/,
    ],
    [
      "flip, cache off",
      { augment: { flip: "horizontal" }, train: { cacheFeatures: false } },
      "per-batch",
      /cacheFeatures is false/,
    ],
    ["rotation", { augment: { rotation: 0.2 } }, "per-batch", /augmentation/],
    ["zoom", { augment: { zoom: 0.1 } }, "per-batch", /augmentation/],
    [
      "translation",
      { augment: { translation: 0.1 } },
      "per-batch",
      /augmentation/,
    ],
    ["trainable base", { model: { trainable: true } }, "images", /trainable/],
    [
      "trainable base wins over cache off",
      { model: { trainable: true }, train: { cacheFeatures: false } },
      "images",
      /trainable/,
    ],
    [
      "fine-tuning alone keeps the frozen stage cached",
      { fineTune: { enabled: true } },
      "cached",
      /frozen base/,
    ],
  ];
  for (const [what, raw, mode, reason] of table) {
    const plan = planFeatures(parseConfig(raw));
    assert.equal(plan.mode, mode, what);
    assert.match(plan.reason, reason, what);
  }
});

Deno.test("planFeatures: fine-tuning trains on the cached prefix exactly when nothing changes its input", () => {
  const table: [string, Record<string, unknown>, string, RegExp][] = [
    ["off", {}, "none", /fineTune\.enabled is false/],
    [
      "on (the tutorial without augmentation)",
      {
        fineTune: { enabled: true },
      },
      "prefix",
      /frozen layers' outputs are cached/,
    ],
    [
      "with augmentation",
      {
        fineTune: { enabled: true },
        augment: { flip: "horizontal" },
      },
      "prefix-per-batch",
      /augmentation is on.*per batch/,
    ],
    [
      "cache off",
      {
        fineTune: { enabled: true },
        train: { cacheFeatures: false },
      },
      "prefix-per-batch",
      /cacheFeatures is false.*per batch/,
    ],
    [
      "trainable base",
      {
        fineTune: { enabled: true },
        model: { trainable: true },
      },
      "images",
      /trainable/,
    ],
  ];
  for (const [what, raw, mode, reason] of table) {
    const plan = planFeatures(parseConfig(raw)).fineTune;
    assert.equal(plan.mode, mode, what);
    assert.match(plan.reason, reason, what);
  }
});
