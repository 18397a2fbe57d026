/**
 * `deno task predict --model <run or model folder> <image|folder>... [--json]`
 * prints the top class and the probabilities of each image;
 * `--eval <folder>` evaluates the model on a labelled class-folder tree.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { basename, join, resolve } from "node:path";
import {
  explainOutputPaths,
  reportData,
  topLossGallery,
  writeExplanationPng,
  writeReportHtml,
} from "../src/report/mod.ts";
import { loadModel, resolveModelDir } from "../src/model/mod.ts";
import {
  camGraphOf,
  collectImageFiles,
  evaluateFolder,
  formatClassificationReport,
  predictFiles,
  type TtaMode,
} from "../src/evaluate/mod.ts";
import {
  type BackendRequest,
  selectBackend,
  silenceNodeBanner,
} from "../src/backend/mod.ts";
import {
  type FrozenEngineRequest,
  onnxBytesForward,
  selectFrozenEngine,
} from "../src/engine/mod.ts";

const HELP =
  `Usage: deno task predict --model DIR [--json] [--backend B] <image|folder>...
       deno task predict --model DIR --eval FOLDER [--json]

  -m, --model DIR      a run folder (runs/<name>-<stamp>) or its model/ folder
      --eval FOLDER    evaluate on a labelled class-folder tree instead
      --json           print JSON (one object per image, or the evaluation)
      --report FILE    with --eval: where to write the HTML report
                       (default: <model folder>/eval_report.html)
      --backend B      auto | webgpu | wasm | cpu (default: cpu, fastest to start)
      --engine E       auto | onnxruntime | tfjs (default: auto, ONNX Runtime
                       unless the backend is a hardware WebGPU adapter);
                       onnxruntime-int8 | onnxruntime-fp16: the run's
                       model/model.int8.onnx | model.fp16.onnx as written
                       (output.onnxQuantize) in ONNX Runtime
      --explain DIR    also write a class-activation heatmap of the predicted
                       class over each image: DIR/<name>.cam.png (GAP + Dense
                       heads; CAM, equal to Grad-CAM; never replaces a file)
      --overwrite      with --explain: replace existing overlay files
      --tta MODE       test-time augmentation: flip (the image and its mirror)
                       or flip-crops (also 4 corner crops of 90%); the mean
                       of their probabilities (with --eval: the report and
                       --json give accuracy with and without)
  -h, --help           this help
`;

async function main(): Promise<number> {
  let values, positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: Deno.args,
      options: {
        model: { type: "string", short: "m" },
        eval: { type: "string" },
        json: { type: "boolean", default: false },
        backend: { type: "string", default: "cpu" },
        engine: { type: "string", default: "auto" },
        report: { type: "string" },
        explain: { type: "string" },
        overwrite: { type: "boolean", default: false },
        tta: { type: "string", default: "none" },
        help: { type: "boolean", short: "h", default: false },
      },
      allowPositionals: true,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.model || (positionals.length === 0 && !values.eval)) {
    console.error(
      `${
        values.model ? "give images or --eval" : "--model is required"
      }\n\n${HELP}`,
    );
    return 2;
  }
  if (!["auto", "webgpu", "wasm", "cpu"].includes(values.backend!)) {
    console.error(
      `--backend: expected auto, webgpu, wasm or cpu, got ${values.backend}`,
    );
    return 2;
  }
  const quantizedEngines: Record<string, string> = {
    "onnxruntime-int8": "model.int8.onnx",
    "onnxruntime-fp16": "model.fp16.onnx",
  };
  const onnxFile = quantizedEngines[values.engine!] ?? null;
  if (
    !["auto", "onnxruntime", "tfjs"].includes(values.engine!) && !onnxFile
  ) {
    console.error(
      `--engine: expected auto, onnxruntime, tfjs, onnxruntime-int8 or onnxruntime-fp16, got ${values.engine}`,
    );
    return 2;
  }
  if (onnxFile && values.explain !== undefined) {
    console.error(
      `--explain: not with --engine ${values.engine} (heatmaps need the CAM graph's second output, which ${onnxFile} does not have)`,
    );
    return 2;
  }
  if (!["none", "flip", "flip-crops"].includes(values.tta!)) {
    console.error(
      `--tta: expected none, flip or flip-crops, got ${values.tta}`,
    );
    return 2;
  }
  const tta = values.tta as TtaMode;
  if (values.explain !== undefined && tta !== "none") {
    console.error(`--explain: not with --tta (a heatmap explains one view)`);
    return 2;
  }
  if (values.explain !== undefined && values.eval) {
    console.error(`--explain: not with --eval (the report shows heatmaps)`);
    return 2;
  }
  silenceNodeBanner();
  const backend = await selectBackend(values.backend as BackendRequest);
  const saved = await loadModel(values.model);
  // With --explain the engine runs the CAM graph: probabilities, then the
  // feature map before GlobalAveragePooling2D (ONNX: a second output).
  const graph = values.explain !== undefined
    ? await camGraphOf(saved.model)
    : null;
  const { forward, reason } = onnxFile
    ? await quantizedForward(saved.dir, onnxFile, saved.model)
    : await selectFrozenEngine(
      values.engine as FrozenEngineRequest,
      backend,
      graph?.model ?? saved.model,
    );
  console.error(`engine: ${forward.id} (${reason})`);

  if (values.eval) {
    const e = await evaluateFolder(saved, values.eval, { forward, tta });
    const reportPath = values.report ??
      join(await resolveModelDir(values.model), "eval_report.html");
    await writeReportHtml(reportPath, {
      kind: "evaluation",
      name: basename(resolve(values.eval)),
      subtitle: `model ${resolve(values.model)} on ${resolve(values.eval)}`,
      generatedAt: new Date().toISOString(),
      status: { state: "completed" },
      data: reportData(saved.classNames, { [values.eval]: e.set }, values.eval),
      backend: {
        name: backend.backend,
        adapter: backend.adapter,
        reason: `${backend.reason}; frozen engine ${forward.id}`,
        threads: backend.threads,
      },
      evaluation: {
        split: values.eval,
        matrix: e.matrix,
        report: e.report,
        loss: e.loss,
        count: e.count,
        tta: e.tta,
      },
      topLosses: await topLossGallery(
        e.set,
        e.probabilities,
        saved.classNames,
        {
          cam: { graph: await camGraphOf(saved.model) },
        },
      ),
    });
    console.error(`report: ${reportPath}`);
    if (values.json) {
      console.log(JSON.stringify(
        {
          loss: e.loss,
          accuracy: e.accuracy,
          count: e.count,
          skipped: e.skipped,
          classNames: saved.classNames,
          matrix: e.matrix,
          report: e.report,
          tta: e.tta,
        },
        null,
        2,
      ));
    } else {
      console.log(
        `${e.count} images, loss ${e.loss.toFixed(4)}, accuracy ${
          e.accuracy.toFixed(4)
        }` +
          (e.skipped ? ` (${e.skipped} unreadable files skipped)` : "") +
          (e.tta
            ? `; TTA ${e.tta.mode} (${e.tta.views.length} views), without: loss ${
              e.tta.lossWithout.toFixed(4)
            }, accuracy ${e.tta.accuracyWithout.toFixed(4)}`
            : ""),
      );
      console.log(formatClassificationReport(e.report));
    }
    return 0;
  }

  const files = await collectImageFiles(positionals);
  if (files.length === 0) {
    console.error(`no image files in ${positionals.join(", ")}`);
    return 1;
  }
  const outPaths = new Map<string, string[]>();
  if (graph && values.explain !== undefined) {
    const paths = await explainOutputPaths(files, values.explain, {
      overwrite: values.overwrite,
    });
    files.forEach((f, i) =>
      outPaths.set(f, [...outPaths.get(f) ?? [], paths[i]])
    );
  }
  const results = await predictFiles(saved, files, {
    forward,
    tta,
    explain: graph
      ? {
        graph,
        onImage: async (e) => {
          const path = outPaths.get(e.prediction.file)!.shift()!;
          await writeExplanationPng(path, e);
          if (!values.json) console.error(`heatmap: ${path}`);
        },
      }
      : undefined,
  });
  let failed = 0;
  for (const r of results) {
    if ("error" in r) {
      failed++;
      if (values.json) console.log(JSON.stringify(r));
      else console.error(`${r.file}: error: ${r.error}`);
      continue;
    }
    if (values.json) {
      console.log(JSON.stringify(r));
    } else {
      const all = Object.entries(r.probabilities)
        .map(([name, p]) => `${name} ${p.toFixed(4)}`).join(", ");
      console.log(
        `${r.file}: ${r.label} (${r.probability.toFixed(4)})  [${all}]`,
      );
    }
  }
  return failed > 0 ? 1 : 0;
}

/** The run's quantized ONNX file `name` in ONNX Runtime, or a clear error. */
async function quantizedForward(
  dir: string,
  name: string,
  model: { outputs: { shape: (number | null)[] }[] },
) {
  const path = join(dir, name);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch {
    throw new Error(
      `no ${path}: train with output.onnxQuantize including "${
        name.split(".")[1]
      }" (an int8 model below output.onnxInt8MinAgreement is not written; summary.json's shipping says why)`,
    );
  }
  const forward = await onnxBytesForward(
    bytes,
    model.outputs.map((o) => o.shape.slice(1) as number[]),
    name.split(".")[1],
  );
  return { forward, reason: `${name} as written, in ONNX Runtime` };
}

try {
  Deno.exit(await main());
} catch (err) {
  console.error(`error: ${(err as Error).message}`);
  Deno.exit(1);
}
