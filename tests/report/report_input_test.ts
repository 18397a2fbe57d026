/**
 * Report input: per-class counts from labels, skipped files tagged with
 * their split.
 *
 * @module
 */

import assert from "node:assert/strict";
import { reportData } from "../../src/report/report_input.ts";

Deno.test("reportData: counts per split and class; skipped files keep their split", () => {
  const d = reportData(["cats", "dogs", "fish"], {
    train: {
      count: 5,
      labels: new Int32Array([0, 1, 1, 0, 1]),
      skipped: [{ path: "t/cats/x.jpg", reason: "bad" }],
    },
    validation: {
      count: 2,
      labels: [2, 0],
      skipped: [{ path: "v/fish/y.png", reason: "truncated" }],
    },
  }, "./data");
  assert.deepEqual(d, {
    source: "./data",
    classNames: ["cats", "dogs", "fish"],
    splits: [
      { name: "train", images: 5, perClass: [2, 3, 0] },
      { name: "validation", images: 2, perClass: [1, 0, 1] },
    ],
    skipped: [
      { path: "t/cats/x.jpg", reason: "bad", split: "train" },
      { path: "v/fish/y.png", reason: "truncated", split: "validation" },
    ],
  });
  assert.throws(
    () => reportData(["a"], { train: { count: 1, labels: [1], skipped: [] } }),
    /train label 1 \(image 0\) is not a class index in \[0, 1\)/,
  );
});
