import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/load.ts";

const base = { data: { path: "./images" } };

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail("expected the config to be rejected");
}

Deno.test("output.quantize: off by default, one name or a list, checked", () => {
  assert.deepEqual(parseConfig(base).output.quantize, []);
  assert.equal(
    parseConfig({ ...base, output: { quantize: "uint8" } }).output.quantize,
    "uint8",
  );
  assert.deepEqual(
    parseConfig({ ...base, output: { quantize: ["float16", "uint8"] } })
      .output.quantize,
    ["float16", "uint8"],
  );
  assert.match(
    message(() => parseConfig({ ...base, output: { quantize: "int4" } })),
    /output\.quantize/,
  );
  assert.match(
    message(() =>
      parseConfig({ ...base, output: { quantize: "uint8", saveModel: false } })
    ),
    /output\.quantize: quantized copies are made from the saved model: set output\.saveModel/,
  );
});
