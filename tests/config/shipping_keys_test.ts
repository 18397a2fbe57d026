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

Deno.test("output.onnxQuantize: off by default, needs output.onnx and output.saveModel; the int8 keys are checked", () => {
  const c = parseConfig(base).output;
  assert.deepEqual(
    [
      c.onnxQuantize,
      c.onnxInt8MinAgreement,
      c.onnxInt8CalibrationImages,
      c.onnxInt8Calibration,
    ],
    [[], 0.99, 256, "minmax"],
  );
  assert.match(
    message(() =>
      parseConfig({ ...base, output: { onnxInt8Calibration: "entropy" } })
    ),
    /output\.onnxInt8Calibration/,
  );
  assert.deepEqual(
    parseConfig({ ...base, output: { onnxQuantize: ["fp16", "int8"] } }).output
      .onnxQuantize,
    ["fp16", "int8"],
  );
  for (const output of [{ onnx: false }, { saveModel: false }]) {
    assert.match(
      message(() =>
        parseConfig({ ...base, output: { onnxQuantize: "int8", ...output } })
      ),
      /output\.onnxQuantize: the ONNX twins are made next to model\/model\.onnx/,
    );
  }
  assert.match(
    message(() =>
      parseConfig({ ...base, output: { onnxInt8MinAgreement: 1.5 } })
    ),
    /output\.onnxInt8MinAgreement/,
  );
  assert.match(
    message(() =>
      parseConfig({ ...base, output: { onnxInt8CalibrationImages: 0 } })
    ),
    /output\.onnxInt8CalibrationImages/,
  );
});

Deno.test("engine.frozenInt8: off by default, refused with engine.frozen tfjs", () => {
  assert.equal(parseConfig(base).engine.frozenInt8, false);
  assert.match(
    message(() =>
      parseConfig({ ...base, engine: { frozenInt8: true, frozen: "tfjs" } })
    ),
    /engine\.frozenInt8: the int8 frozen base runs in ONNX Runtime/,
  );
  assert.match(
    message(() =>
      parseConfig({
        ...base,
        engine: { frozenInt8: true },
        model: { trainable: true },
      })
    ),
    /engine\.frozenInt8: a trainable base has no frozen part/,
  );
});
