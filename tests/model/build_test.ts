import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/load.ts";
import { ARCHITECTURES } from "../../src/config/architecture.ts";
import { buildModel, checkArchitectureBuilt } from "../../src/model/build.ts";

Deno.test("buildModel: architectures without a builder yet fail before any download, naming model.architecture", async () => {
  for (
    const architecture of ARCHITECTURES.filter((a) => a !== "mobilenet_v2")
  ) {
    const config = parseConfig({
      data: { imageSize: [64, 64] },
      model: { architecture, weights: "http://127.0.0.1:9/never-fetched.h5" },
    });
    assert.throws(
      () => checkArchitectureBuilt(config.model),
      new RegExp(
        `^Error: model\\.architecture "${architecture}": this version builds only "mobilenet_v2"`,
      ),
    );
    await assert.rejects(
      buildModel(config, {
        classNames: ["a", "b"],
        cacheDir: "/nonexistent",
        initSeed: 1,
      }),
      /model\.architecture/,
    );
  }
  checkArchitectureBuilt(parseConfig({}).model);
});
