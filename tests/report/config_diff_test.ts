/**
 * Config diff for the report: flat dotted key paths of what differs from
 * the defaults.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  configChangesFromDefaults,
  configDiff,
} from "../../src/report/config_diff.ts";
import { parseConfig } from "../../src/config/load.ts";

Deno.test("configDiff: leaves that differ, as dotted paths, sorted", () => {
  const defaults = {
    name: "a",
    data: { imageSize: [160, 160], batchSize: 32, path: null },
    train: { epochs: 10, metrics: ["accuracy"] },
  };
  const config = {
    name: "a",
    data: { imageSize: [96, 96], batchSize: 32, path: "./x", extra: 1 },
    train: { epochs: 3, metrics: ["accuracy"] },
  };
  assert.deepEqual(configDiff(config, defaults), [
    { path: "data.extra", value: 1, default: undefined },
    { path: "data.imageSize", value: [96, 96], default: [160, 160] },
    { path: "data.path", value: "./x", default: null },
    { path: "train.epochs", value: 3, default: 10 },
  ]);
  assert.deepEqual(configDiff(defaults, structuredClone(defaults)), []);
  // An object replaced by a scalar is one change at that key.
  assert.deepEqual(configDiff({ a: 1 }, { a: { b: 2 } }), [
    { path: "a", value: 1, default: { b: 2 } },
  ]);
});

Deno.test("configChangesFromDefaults: against the schema's defaults", () => {
  assert.deepEqual(configChangesFromDefaults(parseConfig({})), []);
  const config = parseConfig({
    name: "flowers",
    data: { imageSize: [96, 96] },
    train: { epochs: 3 },
  });
  assert.deepEqual(configChangesFromDefaults(config).map((c) => c.path), [
    "data.imageSize",
    "name",
    "train.epochs",
  ]);
  const name = configChangesFromDefaults(config).find((c) => c.path === "name");
  assert.deepEqual(name, {
    path: "name",
    value: "flowers",
    default: "cats_vs_dogs",
  });
});
