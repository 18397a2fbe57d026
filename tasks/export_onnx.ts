/**
 * `deno task export-onnx --model RUN [--out FILE]`: exports a saved run's
 * classifier (base + head + softmax) to ONNX, for runs made before
 * `output.onnx` existed or with it off. Default output:
 * `<model folder>/model.onnx`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { loadModel, resolveModelDir } from "../src/model/model_io.ts";
import { exportOnnx } from "../src/engine/onnx_export.ts";
import { selectBackend } from "../src/backend/backend.ts";
import { writeFileAtomic } from "../src/util/fs.ts";
import { formatBytes } from "../src/util/format.ts";

const HELP = `Usage: deno task export-onnx --model DIR [--out FILE]

Writes the saved classifier as ONNX (opset 17, NHWC float32 input
[batch, height, width, 3] preprocessed as in model/preprocessing.json,
output: class probabilities in model/labels.json order).

  -m, --model DIR   a run folder (runs/<name>-<stamp>) or its model/ folder
  -o, --out FILE    where to write (default: <model folder>/model.onnx)
  -h, --help        this help
`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        model: { type: "string", short: "m" },
        out: { type: "string", short: "o" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.model) {
    console.error(`--model is required\n\n${HELP}`);
    return 2;
  }
  await selectBackend("cpu");
  const saved = await loadModel(values.model);
  const out = values.out ??
    join(await resolveModelDir(values.model), "model.onnx");
  const bytes = exportOnnx(saved.model);
  await writeFileAtomic(out, bytes);
  console.error(`wrote ${out} (${formatBytes(bytes.length)})`);
  return 0;
}

try {
  Deno.exit(await main());
} catch (err) {
  console.error(`error: ${(err as Error).message}`);
  Deno.exit(1);
}
