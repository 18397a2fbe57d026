import assert from "node:assert/strict";
import { join } from "node:path";
import { decodePixels } from "../../src/data/codecs.ts";
import { resizeToRgb } from "../../src/data/resize.ts";
import { getFixtures } from "../_helpers/data.ts";
import { runScriptByUrl } from "../_helpers/by_url.ts";

Deno.test({
  name:
    "decode workers load when the modules are imported by URL (no deno.json)",
  sanitizeResources: false,
  fn: async () => {
    const fx = await getFixtures();
    // A PNG (ImageScript) and a JPEG (libjpeg-turbo, whose .wasm is found
    // through import.meta.resolve).
    const image = join(fx.datasetDir, "train", "dogs", "dog_alpha.png");
    const jpeg = join(fx.datasetDir, "train", "cats", "cat.0.jpg");
    const r = await runScriptByUrl((origin) =>
      `import { DecodePool } from "${origin}/src/data/mod.ts";
const pool = new DecodePool(1);
const rgb = await pool.decode(await Deno.readFile(${
        JSON.stringify(image)
      }), 6, 5, "nearest");
const jpeg = await pool.decode(await Deno.readFile(${
        JSON.stringify(jpeg)
      }), 6, 5, "nearest");
pool.close();
console.log(JSON.stringify({ started: pool.started, rgb: Array.from(rgb), jpeg: Array.from(jpeg) }));
`
    );
    assert.equal(r.code, 0, `script failed:\n${r.stderr}`);
    const result = r.json as {
      started: number;
      rgb: number[];
      jpeg: number[];
    };
    assert.equal(result.started, 1);
    const expected = resizeToRgb(
      await decodePixels(await Deno.readFile(image)),
      6,
      5,
      "nearest",
    );
    assert.deepEqual(result.rgb, Array.from(expected));
    const expectedJpeg = resizeToRgb(
      await decodePixels(await Deno.readFile(jpeg)),
      6,
      5,
      "nearest",
    );
    assert.deepEqual(result.jpeg, Array.from(expectedJpeg));
  },
});
