/**
 * `MODEL_CARD.md` in a run folder: what the model is for, what it was
 * trained on (classes with image counts per split, skipped and ignored
 * files), its architecture and where its weights came from, the training
 * recipe, the validation metrics as measured (accuracy with a 95% Wilson
 * interval, loss, per-class precision/recall/F1, the confusion matrix), the
 * model files with their sizes, how to use it, and its known limits. Every
 * number comes from the run's `summary.json` record and its config; the
 * text around them says what was not measured.
 *
 * @module
 */

import type { Config } from "../config/types.ts";
import type { RunSummary } from "./summary.ts";

/** A file of the saved model, for the card's list. */
export interface ModelCardFile {
  /** Path relative to the run folder. */
  path: string;
  /** Size in bytes. */
  bytes: number;
}

/** Escapes text for a Markdown table cell or inline text. */
function md(s: string): string {
  return s.replace(/[\\|`*_[\]<>]/g, (c) => `\\${c}`).replace(/\r?\n/g, " ");
}

/** A Markdown code span (backticks inside become quotes). */
function code(s: string): string {
  return `\`${s.replace(/`/g, "'").replace(/\r?\n/g, " ")}\``;
}

function fixed(v: number | null | undefined, digits = 4): string {
  return v === null || v === undefined || !Number.isFinite(v)
    ? "n/a"
    : v.toFixed(digits);
}

function percent(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v)
    ? "n/a"
    : `${(100 * v).toFixed(1)} %`;
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * Wilson score interval at 95% for `k` successes out of `n` (null for
 * n = 0): the range the accuracy on more images like the validation set
 * would likely fall in.
 */
export function wilsonInterval(
  k: number,
  n: number,
): [number, number] | null {
  if (n <= 0) return null;
  const z = 1.959963984540054;
  const p = k / n;
  const denom = 1 + z * z / n;
  const centre = (p + z * z / (2 * n)) / denom;
  const half = z * Math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [
    line(head),
    line(head.map((_, i) => (i === 0 ? "---" : "---:"))),
    ...rows.map(line),
  ].join("\n");
}

function weightsOrigin(config: Config): string {
  const w = config.model.weights;
  if (w === null) return "random initialisation (no pretrained weights)";
  if (w === "imagenet") {
    return "Keras' published ImageNet weights (`keras.applications`), downloaded once into the cache";
  }
  return `the Keras weights file ${code(w)}${
    config.model.sha256 ? ` (SHA-256 ${config.model.sha256})` : ""
  }`;
}

function dataSection(s: RunSummary, config: Config): string {
  const splits = s.data.splits;
  const rows = s.classNames.map((name, c) => [
    md(name),
    ...splits.map((sp) => String(sp.perClass?.[c] ?? "n/a")),
  ]);
  rows.push([
    "**all**",
    ...splits.map((sp) => `**${sp.images}**`),
  ]);
  const out = [
    "## Data",
    "",
    `- Source: ${s.data.source ? `${code(s.data.source)}` : "n/a"}`,
    `- ${s.classNames.length} classes (the sorted class-folder names; output unit i is class i): ${
      s.classNames.map((c) => `${code(c)}`).join(", ")
    }`,
    `- Validation: ${
      config.data.validationDir
        ? `the ${
          code(config.data.validationDir)
        } folder (or, in a dataset without it, a seeded ${
          percent(config.data.validationSplit)
        } of each class)`
        : `a seeded ${
          percent(config.data.validationSplit)
        } of each class held out (seed ${config.data.seed})`
    }`,
    `- Images decoded as TensorFlow 2.21 decodes them, resized to ${
      config.data.imageSize[0]
    }×${
      config.data.imageSize[1]
    } (${config.data.interpolation}); EXIF orientation ${
      config.data.exifOrientation === "apply" ? "applied" : "ignored (as TF)"
    }`,
    "",
    table(["class", ...splits.map((sp) => `${sp.name} images`)], rows),
    "",
  ];
  const skipped = s.data.skipped;
  if (skipped.length === 0) {
    out.push("No file was skipped as unreadable.");
  } else {
    out.push(
      `${skipped.length} file${
        skipped.length === 1 ? " was" : "s were"
      } skipped as unreadable and not trained or validated on:`,
      "",
      ...skipped.slice(0, 20).map((f) =>
        `- ${code(f.path)}${f.split ? ` (${f.split})` : ""}: ${md(f.reason)}`
      ),
      ...(skipped.length > 20
        ? [`- … and ${skipped.length - 20} more (see summary.json)`]
        : []),
    );
  }
  const ignored = s.images.ignored;
  if (ignored) {
    const parts = [
      ...Object.entries(ignored.junk).map(([k, n]) => `${md(k)}: ${n}`),
      ...Object.entries(ignored.other).map(([k, n]) => `.${md(k)}: ${n}`),
    ];
    if (parts.length > 0) {
      out.push(
        "",
        `Files the listing left out (not images): ${parts.join(", ")}.`,
      );
    }
  }
  return out.join("\n");
}

function modelSection(s: RunSummary, config: Config): string {
  const [h, w] = config.data.imageSize;
  const head = config.model.head;
  return [
    "## Model",
    "",
    `- ${md(s.model)}`,
    `- Base: ${config.model.architecture} (alpha ${config.model.alpha}), built as \`keras.applications\` builds it, without its top; weights: ${
      weightsOrigin(config)
    }`,
    `- Head: GlobalAveragePooling2D${
      head.dropout > 0 ? ` → Dropout(${head.dropout})` : ""
    } → ${
      head.output === "logit"
        ? "Dense(1) on the logit, saved with a sigmoid (the probability of the second class)"
        : `Dense(${s.classNames.length}, softmax)`
    }`,
    `- Input: ${h}×${w} RGB, scaled as x / 127.5 − 1 (\`model/preprocessing.json\`)`,
  ].join("\n");
}

function trainingSection(s: RunSummary, config: Config): string {
  const t = config.train;
  const a = config.augment;
  const aug = [
    a.flip !== "none" ? `flip ${a.flip}` : "",
    a.rotation > 0 ? `rotation ${a.rotation}` : "",
    a.zoom > 0 ? `zoom ${a.zoom}` : "",
    a.translation > 0 ? `translation ${a.translation}` : "",
  ].filter((x) => x !== "");
  const es = t.earlyStopping;
  const ft = config.fineTune;
  return [
    "## Training",
    "",
    `- ${t.optimizer} at learning rate ${t.learningRate}, batch size ${config.data.batchSize}, ${t.epochs} epochs planned${
      config.model.trainable ? ", whole model trainable" : ", base frozen"
    }`,
    `- Fine-tuning: ${
      ft.enabled
        ? `from layer ${ft.fromLayer}, ${ft.optimizer} at ${ft.learningRate}, ${ft.epochs} more epochs, BatchNormalization ${ft.batchNorm}`
        : "none"
    }`,
    `- Augmentation: ${aug.length ? aug.join(", ") : "none"}`,
    `- Early stopping: ${
      es.enabled
        ? `on ${es.monitor}, patience ${es.patience}, min delta ${es.minDelta}${
          es.restoreBestWeights ? ", best weights restored" : ""
        }`
        : "off"
    }`,
    `- Ran ${s.epochs} of ${s.totalEpochs} epochs; stopped: ${s.stopReason}${
      s.stopDetail ? ` (${md(s.stopDetail)})` : ""
    }`,
    `- Backend: TF.js ${s.backend}${
      s.frozenEngine ? `; frozen base on ${md(s.frozenEngine.engine)}` : ""
    }; seed ${config.data.seed}`,
    `- Config changes from the defaults: ${
      s.configChanges.length === 0
        ? "none"
        : s.configChanges.map((c) =>
          `${code(c.path)} = ${code(JSON.stringify(c.value) ?? "unset")}`
        ).join(", ")
    } (the full config is \`config.json\`)`,
  ].join("\n");
}

function metricsSection(s: RunSummary): string {
  const out = ["## Validation metrics", ""];
  const ev = s.evaluation;
  const n = s.evaluationLoss?.count ?? s.images.validation;
  if (!ev || n === 0) {
    out.push(
      "Not measured: the run has no validation images, so nothing here says how well the model does.",
    );
    return out.join("\n");
  }
  const acc = ev.report.accuracy;
  const correct = Math.round(acc * n);
  const ci = wilsonInterval(correct, n);
  out.push(
    `Measured on the ${n} validation images after training (the model as saved):`,
    "",
    `- Accuracy: **${percent(acc)}** (${correct} of ${n}; 95% interval ${
      ci ? `${percent(ci[0])} – ${percent(ci[1])}` : "n/a"
    })`,
    `- Loss (cross-entropy): ${fixed(s.evaluationLoss?.loss)}`,
    `- Macro-average F1: ${fixed(ev.report.macroAvg.f1)}; weighted F1: ${
      fixed(ev.report.weightedAvg.f1)
    }`,
  );
  if (s.best && s.final && s.best.epoch !== s.final.epoch) {
    out.push(
      `- Best epoch by val_accuracy: ${s.best.epoch} (${
        percent(s.best.val_accuracy)
      }); the last epoch, ${s.final.epoch}, had ${
        percent(s.final.val_accuracy)
      }`,
    );
  }
  if (s.tta) {
    out.push(
      `- With test-time augmentation (${s.tta.mode}): accuracy ${
        percent(s.tta.accuracy)
      }, loss ${fixed(s.tta.loss)}; without: ${
        percent(s.tta.accuracyWithout)
      }, ${fixed(s.tta.lossWithout)} (the numbers above are with it)`,
    );
  }
  out.push(
    "",
    "Per class:",
    "",
    table(
      ["class", "precision", "recall", "F1", "support"],
      ev.report.classes.map((c) => [
        md(c.name),
        fixed(c.precision),
        fixed(c.recall),
        fixed(c.f1),
        String(c.support),
      ]),
    ),
    "",
    "Confusion matrix (rows: true class, columns: predicted):",
    "",
    table(
      ["true \\ predicted", ...s.classNames.map(md)],
      ev.matrix.map((row, i) => [md(s.classNames[i]), ...row.map(String)]),
    ),
  );
  return out.join("\n");
}

function filesSection(files: readonly ModelCardFile[]): string {
  if (files.length === 0) {
    return "## Files\n\nThe model was not saved (`output.saveModel` was off).";
  }
  return [
    "## Files",
    "",
    table(
      ["file", "size"],
      files.map((f) => [`${code(f.path)}`, size(f.bytes)]),
    ),
    "",
    "`model/model.json` + `weights.bin` load with plain `tf.loadLayersModel`; `model.onnx` (when written) runs in ONNX Runtime with the same input; `model/metadata.json` (square inputs) is Teachable Machine's format. Only float32 weights are written unless the run says otherwise above.",
  ].join("\n");
}

/**
 * The quantized variants' measured costs (`summary.shipping`), as
 * `report.html` shows them; nothing when the run made none.
 */
function shippingSection(s: RunSummary): string[] {
  const ship = s.shipping;
  if (!ship) return [];
  const rows = [
    ...ship.tfjs.map((v) => ["TF.js", v] as const),
    ...(ship.onnx ?? []).map((v) => ["ONNX", v] as const),
  ];
  if (rows.length === 0) return [];
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  return [
    "## Quantized variants",
    "",
    `Each variant against the float32 model of its format, on the ${ship.images} validation images (run by ${
      code(ship.engine)
    }); measured by the run, not assumed.`,
    "",
    table(
      [
        "format",
        "variant",
        "file",
        "size",
        "× float32",
        "top-1 agreement",
        "max abs Δp",
        "accuracy",
        "written",
      ],
      rows.map(([format, v]) => [
        format,
        v.variant,
        code(v.path),
        size(v.bytes),
        v.sizeRatio.toFixed(3),
        pct(v.agreement),
        v.maxAbsDiff.toExponential(2),
        pct(v.accuracy),
        v.written ? "yes" : `no${v.note ? ` (${md(v.note)})` : ""}`,
      ]),
    ),
    ...(ship.calibration
      ? [
        "",
        `int8 calibration: ${ship.calibration.method}${
          ship.calibration.percentile != null
            ? ` (${ship.calibration.percentile} %)`
            : ""
        } on ${ship.calibration.images} training images.`,
      ]
      : []),
    "",
  ];
}

function useSection(s: RunSummary): string {
  return [
    "## Intended use",
    "",
    `- Sorting images into exactly these ${s.classNames.length} classes: ${
      s.classNames.map((c) => `${code(c)}`).join(", ")
    }, for images like the training data (same kind of camera, framing and content).`,
    "- Trying it: `deno task predict --model <run> image.jpg`, or `deno task serve <run>` for the demo page (`demo/index.html`), which runs the model in the browser.",
    "- Not for: decisions about people, safety-critical or medical use, or any use where a wrong class is costly, without an evaluation on data from that use.",
  ].join("\n");
}

function limitsSection(s: RunSummary): string {
  const out = ["## Known limits", ""];
  out.push(
    `- Closed set: every image gets one of the ${s.classNames.length} classes, also an image of none of them; the probabilities are the model's softmax, not calibrated confidences.`,
  );
  const n = s.images.validation;
  if (n > 0 && n < 1000) {
    out.push(
      `- The validation set is small (${n} images): the accuracy's 95% interval above is how uncertain it is.`,
    );
  }
  const ev = s.evaluation;
  if (ev) {
    const weak = ev.report.classes
      .filter((c) => c.support > 0 && c.recall < ev.report.accuracy - 0.05)
      .map((c) => `${code(c.name)} (recall ${fixed(c.recall, 3)})`);
    if (weak.length > 0) {
      out.push(
        `- Weaker classes, recall more than 5 points below the accuracy: ${
          weak.join(", ")
        }.`,
      );
    }
  }
  const counts = s.data.splits.find((sp) => sp.name === "train")?.perClass;
  if (counts && counts.length > 1) {
    const min = Math.min(...counts), max = Math.max(...counts);
    if (min > 0 && max / min >= 1.5) {
      out.push(
        `- Imbalanced training data: ${min} to ${max} images per class; rarer classes tend to be predicted less often.`,
      );
    }
  }
  if (s.data.skipped.length > 0) {
    out.push(
      `- ${s.data.skipped.length} unreadable file${
        s.data.skipped.length === 1 ? " was" : "s were"
      } skipped (listed above); images like ${
        s.data.skipped.length === 1 ? "it" : "them"
      } are not covered.`,
    );
  }
  out.push(
    "- The validation images come from the same source as the training images; accuracy on images from elsewhere is not measured.",
    "- EXIF orientation is ignored unless `data.exifOrientation` said otherwise: photos stored sideways are seen sideways, in training and in `predict`.",
  );
  return out.join("\n");
}

/**
 * Renders `MODEL_CARD.md` for a finished run (`summary` as written to
 * `summary.json`, `config` as resolved, `files` the saved model's files).
 */
export function renderModelCard(
  summary: RunSummary,
  config: Config,
  opts: { files?: readonly ModelCardFile[]; generatedAt?: string } = {},
): string {
  return [
    `# Model card: ${md(summary.name)}`,
    "",
    `An image classifier for ${summary.classNames.length} classes, trained by transfer learning with deno-transfer${
      opts.generatedAt ? ` (written ${opts.generatedAt})` : ""
    }. Generated from this run's \`summary.json\` and \`config.json\`; \`report.html\` has the curves and the images with the highest loss.`,
    "",
    useSection(summary),
    "",
    dataSection(summary, config),
    "",
    modelSection(summary, config),
    "",
    trainingSection(summary, config),
    "",
    metricsSection(summary),
    "",
    filesSection(opts.files ?? []),
    "",
    ...shippingSection(summary),
    limitsSection(summary),
    "",
  ].join("\n");
}
