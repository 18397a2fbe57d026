/**
 * The reference-sized job end to end, and the base forward throughput per
 * backend, as the figures for the README (issue 6, "Benchmarks").
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-env --allow-sys --allow-run \
 *   bench/reference_job.ts [--cases forward,cached,uncached,augmented,fine-tune,tutorial] \
 *   [--epochs 10] [--uncached-epochs 1] [--backend auto] [--wasm-threads auto] \
 *   [--data DIR] [--train-per-class 1000] [--validation-per-class 500] \
 *   [--uncached-batch-size 32] [--child-timeout SECONDS] [--json FILE] [--keep]
 * ```
 *
 * - Data: 3,000 generated 500×375 JPEGs in two classes, 2,000 train / 1,000
 *   validation in the reference `cats_and_dogs_filtered` layout, written once
 *   to `.cache/bench/reference-3000` (gitignored; ~100 MB, ~3 min) and
 *   reused. Read from the local folder (`data.path`), so no download.
 * - Model: MobileNetV2 1.0 @160×160 without top, random weights
 *   (`model.weights: null`; same compute as ImageNet's), frozen, GAP + Dense;
 *   batch 32, Adam 1e-4, `--epochs` epochs (default 10).
 * - `forward`: base forward images/s, batch 32, on cpu, wasm with 1 thread,
 *   wasm with the threads `selectBackend` picks, and webgpu when an adapter
 *   exists (each in its own worker).
 * - `cached`: two runs sharing one fresh cache folder. The first decodes the
 *   JPEGs and computes the features (base once per image); the second reuses
 *   both from the cache.
 * - `augmented`: flip + rotation 0.2 (the base on every augmented batch).
 * - `fine-tune`: 10 frozen epochs, then 10 from layer 100 with RMSprop 1e-5,
 *   prefix cached; once per `--train-engines` value.
 * - `tutorial`: the TensorFlow tutorial as `configs/tutorial.json` has it:
 *   `fine-tune` with the augmentation (so the frozen prefix runs on every
 *   augmented batch) and the Dropout(0.2) + Dense(1) logit head; once per
 *   `--train-engines` value.
 * - `uncached`: `train.cacheFeatures=false` (the base runs on every image in
 *   every epoch, as Keras does), fresh cache folder. With
 *   `--uncached-epochs N` below `--epochs` it runs N epochs and
 *   extrapolates: total − train + train × epochs / N (labelled as such).
 *   Its batch is `--uncached-batch-size` (default 32, as the reference).
 *   With a frozen base the run computes the base outside the gradient tape,
 *   so batch 32 fits in memory (~1.1 GiB peak); before that change the tape
 *   held every base activation and batch 32 exceeded WASM's 4 GiB heap.
 *
 * Each run is its own `deno run` process (hence `--allow-run`), so its peak
 * memory (VmHWM from /proc/self/status: the whole process, decode workers and
 * WASM threads included; else the peak of sampled `Deno.memoryUsage().rss`)
 * is its own. Wall seconds are the process's (start-up and module loading
 * included) and `runTraining`'s own `summary.seconds` per stage. Run folders
 * and caches go to a new folder under `.cache/bench/`, removed at the end
 * unless `--keep`. A run that fails or passes `--child-timeout` is reported
 * as such and the others still run.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseConfig } from "../src/config/load.ts";
import type { RunSummary } from "../src/report/summary.ts";
import { runTraining } from "../src/run.ts";
import { type BackendRequest, selectBackend } from "../src/backend/backend.ts";
import { probeWebGpu } from "../src/backend/webgpu_probe.ts";
import {
  REFERENCE_DATASET_DIR,
  writeReferenceDataset,
} from "../fixtures/photos.ts";
import { type ForwardResult, measureForward } from "./forward.ts";

const SCRIPT = fileURLToPath(import.meta.url);
const CHILD_PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
  "--allow-ffi",
];

/** What one training process reports. */
interface JobResult {
  case: string;
  backend: string;
  backendReason: string;
  epochs: number;
  batchSize: number;
  images: RunSummary["images"];
  featureCache: RunSummary["featureCache"];
  seconds: RunSummary["seconds"];
  final: RunSummary["final"];
  /** Seconds since the process started (module loading included). */
  processSeconds: number;
  peakRssMiB: number;
  peakSource: "VmHWM" | "sampled rss";
}

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    cases: { type: "string", default: "forward,cached,uncached" },
    epochs: { type: "string", default: "10" },
    "uncached-epochs": { type: "string", default: "1" },
    backend: { type: "string", default: "auto" },
    "wasm-threads": { type: "string", default: "auto" },
    "uncached-batch-size": { type: "string", default: "32" },
    "child-timeout": { type: "string", default: "0" },
    data: { type: "string", default: REFERENCE_DATASET_DIR },
    "train-per-class": { type: "string", default: "1000" },
    "validation-per-class": { type: "string", default: "500" },
    json: { type: "string" },
    keep: { type: "boolean", default: false },
    engines: { type: "string", default: "onnxruntime,tfjs" },
    "augmented-epochs": { type: "string", default: "10" },
    // engine.train values the fine-tune case runs (each frozen engine × each).
    "train-engines": { type: "string", default: "tfjs,onnxruntime" },
    "train-engine": { type: "string", default: "tfjs" },
    help: { type: "boolean", short: "h", default: false },
    // Internal: run one training job in this process.
    engine: { type: "string", default: "auto" },
    augment: { type: "string", default: "false" },
    "fine-tune": { type: "string", default: "false" },
    head: { type: "string", default: "softmax" },
    child: { type: "string" },
    "cache-dir": { type: "string" },
    "out-dir": { type: "string" },
    "cache-features": { type: "string" },
    "batch-size": { type: "string", default: "32" },
    result: { type: "string" },
  },
});

function wasmThreadsArg(s: string): number | "auto" {
  return s === "auto" ? "auto" : Number(s);
}

function vmHwmMiB(): number | null {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const m = status.match(/^VmHWM:\s+(\d+)\s+kB/m);
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

async function child(): Promise<void> {
  let sampled = 0;
  const sample = () => (sampled = Math.max(sampled, Deno.memoryUsage().rss));
  const timer = setInterval(sample, 100);
  const backend = args.backend as BackendRequest;
  const threads = wasmThreadsArg(args["wasm-threads"]);
  if (threads !== "auto" && (backend === "auto" || backend === "wasm")) {
    // runTraining's selectBackend reuses an initialised WASM backend, so this
    // fixes its thread count (the config has no key for it).
    await selectBackend("wasm", { wasmThreads: threads });
  }
  const config = parseConfig({
    name: `bench-${args.child}`,
    data: {
      url: null,
      path: args.data,
      cacheDir: args["cache-dir"],
      imageSize: [160, 160],
      batchSize: Number(args["batch-size"]),
    },
    model: {
      weights: null,
      alpha: 1.0,
      trainable: false,
      // The tutorial's head: Dropout(0.2) + Dense(1) on its logit.
      head: args.head === "tutorial" ? { dropout: 0.2, output: "logit" } : {},
    },
    train: {
      epochs: Number(args.epochs),
      cacheFeatures: args["cache-features"] === "true",
    },
    // The TensorFlow tutorial's augmentation: flip + rotation 0.2.
    augment: args.augment === "true"
      ? { flip: "horizontal", rotation: 0.2 }
      : {},
    engine: {
      frozen: args.engine as "auto" | "onnxruntime" | "tfjs",
      train: args["train-engine"] as "auto" | "onnxruntime" | "tfjs",
    },
    // The tutorial's fine-tuning: from layer 100, RMSprop 1e-5, 10 epochs.
    fineTune: args["fine-tune"] === "true"
      ? {
        enabled: true,
        fromLayer: 100,
        epochs: Number(args.epochs),
        optimizer: "rmsprop",
        learningRate: 1e-5,
      }
      : {},
    backend,
    output: { dir: args["out-dir"], saveModel: true },
  });
  const prefix = `[${args.child}] `;
  const err = (s: string) => Deno.stderr.writeSync(new TextEncoder().encode(s));
  const { summary, model } = await runTraining(config, {
    log: (line) => err(`${prefix}${line}\n`),
    progress: { write: (text) => err(text.replace(/^(?=.)/gm, prefix)) },
    isTty: false,
  });
  model.dispose();
  sample();
  clearInterval(timer);
  const hwm = vmHwmMiB();
  const result: JobResult = {
    case: args.child!,
    backend: summary.backend,
    backendReason: summary.backendReason,
    epochs: summary.epochs,
    batchSize: config.data.batchSize,
    images: summary.images,
    featureCache: summary.featureCache,
    seconds: summary.seconds,
    final: summary.final,
    processSeconds: performance.now() / 1000,
    peakRssMiB: hwm ?? sampled / 2 ** 20,
    peakSource: hwm !== null ? "VmHWM" : "sampled rss",
  };
  await Deno.writeTextFile(args.result!, JSON.stringify(result, null, 2));
}

/** A finished training process, or why it did not finish. */
type ChildOutcome =
  | (JobResult & { ok: true; wallSeconds: number })
  | {
    ok: false;
    case: string;
    epochs: number;
    batchSize: number;
    error: string;
    wallSeconds: number;
  };

async function runChild(
  name: string,
  opts: {
    cacheDir: string;
    outDir: string;
    epochs: number;
    batchSize: number;
    cache: boolean;
    engine?: string;
    trainEngine?: string;
    augment?: boolean;
    fineTune?: boolean;
    head?: "softmax" | "tutorial";
  },
): Promise<ChildOutcome> {
  const resultPath = join(opts.outDir, `${name}.result.json`);
  await Deno.mkdir(opts.outDir, { recursive: true });
  console.error(
    `\n== ${name}: ${opts.epochs} epochs, batch ${opts.batchSize}, ` +
      `cacheFeatures ${opts.cache}`,
  );
  const timeout = Number(args["child-timeout"]);
  const t = performance.now();
  const status = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...CHILD_PERMISSIONS,
      SCRIPT,
      "--child",
      name,
      "--data",
      args.data,
      "--cache-dir",
      opts.cacheDir,
      "--out-dir",
      opts.outDir,
      "--epochs",
      String(opts.epochs),
      "--batch-size",
      String(opts.batchSize),
      "--cache-features",
      String(opts.cache),
      "--backend",
      args.backend,
      "--wasm-threads",
      args["wasm-threads"],
      "--engine",
      opts.engine ?? "auto",
      "--augment",
      String(opts.augment ?? false),
      "--fine-tune",
      String(opts.fineTune ?? false),
      "--train-engine",
      opts.trainEngine ?? "tfjs",
      "--head",
      opts.head ?? "softmax",
      "--result",
      resultPath,
    ],
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
    signal: timeout > 0 ? AbortSignal.timeout(timeout * 1000) : undefined,
  }).spawn().status;
  const wallSeconds = (performance.now() - t) / 1000;
  if (!status.success) {
    const error = status.signal === "SIGTERM" && timeout > 0 &&
        wallSeconds >= timeout
      ? `killed after the ${timeout} s timeout`
      : `exit ${status.code}${status.signal ? ` (${status.signal})` : ""}`;
    console.error(`== ${name} failed: ${error}`);
    return {
      ok: false,
      case: name,
      epochs: opts.epochs,
      batchSize: opts.batchSize,
      error,
      wallSeconds,
    };
  }
  const r = JSON.parse(await Deno.readTextFile(resultPath)) as JobResult;
  return { ...r, ok: true, wallSeconds };
}

const f1 = (x: number) => x.toFixed(1);

function forwardTable(rows: ForwardResult[]): string[] {
  return [
    "| Backend (MobileNetV2 1.0 @160, batch 32, base + GAP forward) | images/s | best pass | timed passes |",
    "| --- | ---: | ---: | ---: |",
    ...rows.map((r) =>
      `| ${r.label} | ${f1(r.imagesPerSecond)} | ${
        f1(r.bestImagesPerSecond)
      } | ${r.ms.length} |`
    ),
  ];
}

interface JobRow {
  label: string;
  r: ChildOutcome;
  /** Extrapolated to this many epochs (uncached, measured fewer). */
  extrapolateTo?: number;
}

function backendLabel(r: JobResult): string {
  if (r.backend !== "wasm") return r.backend;
  const threads = r.backendReason.match(/(\d+) threads/)?.[1] ?? "1";
  return `wasm, ${threads} thread${threads === "1" ? "" : "s"}`;
}

/** Uncached runs of fewer epochs, scaled to `epochs`: the train stage × k. */
function extrapolated(r: JobResult & { wallSeconds: number }, epochs: number) {
  const k = epochs / r.epochs;
  const extra = r.seconds.train * (k - 1);
  return {
    k,
    wall: r.wallSeconds + extra,
    total: r.seconds.total + extra,
    train: r.seconds.train * k,
  };
}

function jobTable(rows: JobRow[], imageCount: string): string[] {
  const out = [
    `| Run (${imageCount} JPEGs 500×375 → 160×160) | Backend | Batch | Epochs | Wall, process (s) | runTraining (s) | decode | features | train | eval + save | Peak RSS (MiB) |`,
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const { label, r, extrapolateTo } of rows) {
    if (!r.ok) {
      out.push(
        `| ${label} | ${args.backend} | ${r.batchSize} | ${r.epochs} | failed at ${
          f1(r.wallSeconds)
        } s: ${r.error} | | | | | | |`,
      );
      continue;
    }
    const s = r.seconds;
    const backend = backendLabel(r);
    const cells = [
      label,
      backend,
      String(r.batchSize),
      String(r.epochs),
      f1(r.wallSeconds),
      f1(s.total),
      f1(s.decode),
      f1(s.features),
      f1(s.train),
      f1(s.evaluate + s.save),
      r.peakRssMiB.toFixed(0),
    ];
    out.push(`| ${cells.join(" | ")} |`);
    if (extrapolateTo && extrapolateTo !== r.epochs) {
      const e = extrapolated(r, extrapolateTo);
      out.push(
        `| ↳ **extrapolated** to ${extrapolateTo} epochs (train stage × ${
          f1(e.k)
        }) | ${backend} | ${r.batchSize} | ${extrapolateTo} | ~${
          f1(e.wall)
        } | ~${f1(e.total)} | ${f1(s.decode)} | ${f1(s.features)} | ~${
          f1(e.train)
        } | ${f1(s.evaluate + s.save)} | ${r.peakRssMiB.toFixed(0)}¹ |`,
      );
    }
  }
  return out;
}

async function main(): Promise<void> {
  if (args.help) {
    console.log(
      (await Deno.readTextFile(SCRIPT)).match(/\/\*\*([\s\S]*?)\*\//)![1]
        .replace(/^ \* ?/gm, ""),
    );
    return;
  }
  const cases = args.cases.split(",").map((s) => s.trim());
  const epochs = Number(args.epochs);
  const uncachedEpochs = Math.min(epochs, Number(args["uncached-epochs"]));
  const lines: string[] = [];
  const report: Record<string, unknown> = {
    date: new Date().toISOString(),
    cores: navigator.hardwareConcurrency,
    deno: Deno.version.deno,
    loadavg: Deno.loadavg(),
  };

  if (cases.includes("forward")) {
    const gpu = await probeWebGpu();
    const specs = [
      { backend: "cpu" as const, warmup: 1, iterations: 2 },
      { backend: "wasm" as const, threads: 1, warmup: 3, iterations: 10 },
      {
        backend: "wasm" as const,
        threads: "auto" as const,
        warmup: 3,
        iterations: 10,
      },
      ...gpu.adapter
        ? [{ backend: "webgpu" as const, warmup: 2, iterations: 3 }]
        : [],
    ];
    const rows: ForwardResult[] = [];
    for (const s of specs) {
      console.error(`\n== forward: ${s.backend} ${s.threads ?? ""}`);
      const r = await measureForward(s, {
        warmup: s.warmup,
        iterations: s.iterations,
        onPass: (ms, timed) =>
          console.error(
            `  ${timed ? "pass" : "warm-up"} ${f1(ms / 1000)} s, ${
              f1(32000 / ms)
            } images/s`,
          ),
      });
      console.error(`  ${r.reason}: ${f1(r.imagesPerSecond)} images/s`);
      rows.push(r);
    }
    report.forward = rows;
    lines.push(...forwardTable(rows), "");
  }

  const jobs: JobRow[] = [];
  const engines = args.engines.split(",").map((s) => s.trim());
  if (
    ["cached", "uncached", "augmented", "fine-tune", "tutorial"].some((c) =>
      cases.includes(c)
    )
  ) {
    const t = performance.now();
    const ds = await writeReferenceDataset(args.data, {
      trainPerClass: Number(args["train-per-class"]),
      validationPerClass: Number(args["validation-per-class"]),
      onProgress: (done, total) => {
        if (done % 250 === 0) console.error(`generated ${done}/${total} JPEGs`);
      },
    });
    console.error(
      `data: ${ds.images} JPEGs (${
        f1(ds.bytes / 2 ** 20)
      } MiB) in ${ds.root}, ${
        ds.reused
          ? "reused"
          : `generated in ${f1((performance.now() - t) / 1000)} s`
      }`,
    );
    // Not /tmp: other jobs on a shared machine may clean it mid-run.
    const benchDir = fileURLToPath(new URL("../.cache/bench", import.meta.url));
    await Deno.mkdir(benchDir, { recursive: true });
    const work = await Deno.makeTempDir({ dir: benchDir, prefix: "work-" });
    const outDir = join(work, "runs");
    try {
      // Each engine gets its own cold cache, so each first run decodes too.
      for (const engine of engines) {
        if (!cases.includes("cached")) break;
        const cacheDir = join(work, `cache-${engine}`);
        const run = {
          cacheDir,
          outDir,
          epochs,
          batchSize: 32,
          cache: true,
          engine,
        };
        jobs.push({
          label: `${engine}: cached, first run (decode + features computed)`,
          r: await runChild(`cached-first-${engine}`, run),
        });
        jobs.push({
          label:
            `${engine}: cached, second run (decoded images + features reused)`,
          r: await runChild(`cached-second-${engine}`, run),
        });
      }
      const trainEngines = args["train-engines"].split(",").map((s) =>
        s.trim()
      );
      // The two-stage cases: each frozen engine × each engine.train value.
      const twoStage = [
        {
          kind: "fine-tune",
          what: "fine-tuning",
          detail: "10 frozen + 10 from layer 100, prefix cached",
          augment: false,
          head: "softmax" as const,
        },
        {
          kind: "tutorial",
          what: "tutorial",
          detail:
            "augmented, Dropout 0.2 + logit head, 10 frozen + 10 from layer 100, prefix per batch",
          augment: true,
          head: "tutorial" as const,
        },
      ].filter((c) => cases.includes(c.kind));
      for (const { kind, what, detail, augment, head } of twoStage) {
        for (const engine of engines) {
          for (const trainEngine of trainEngines) {
            const name = `${kind}-${engine}-train-${trainEngine}`;
            jobs.push({
              label:
                `${engine}: ${what} (${detail}; engine.train ${trainEngine})`,
              r: await runChild(name, {
                cacheDir: join(work, `cache-${name}`),
                outDir,
                epochs,
                batchSize: 32,
                cache: true,
                engine,
                trainEngine,
                augment,
                fineTune: true,
                head,
              }),
            });
          }
        }
      }
      for (const engine of engines) {
        if (!cases.includes("augmented")) break;
        jobs.push({
          label: `${engine}: augmented (flip + rotation 0.2, base every batch)`,
          r: await runChild(`augmented-${engine}`, {
            cacheDir: join(work, `cache-${engine}`),
            outDir,
            epochs: Number(args["augmented-epochs"]),
            batchSize: 32,
            cache: false,
            engine,
            augment: true,
          }),
        });
      }
      if (cases.includes("uncached")) {
        jobs.push({
          label: "uncached (`train.cacheFeatures=false`: base every epoch)",
          r: await runChild("uncached", {
            cacheDir: join(work, "cache-uncached"),
            outDir,
            epochs: uncachedEpochs,
            batchSize: Number(args["uncached-batch-size"]),
            cache: false,
          }),
          extrapolateTo: epochs,
        });
      }
    } finally {
      if (args.keep) console.error(`kept ${work}`);
      else await Deno.remove(work, { recursive: true });
    }
    report.jobs = jobs;
    lines.push(...jobTable(jobs, ds.images.toLocaleString("en-US")), "");
    if (
      jobs.some((j) =>
        j.r.ok && j.extrapolateTo && j.r.epochs !== j.extrapolateTo
      )
    ) {
      lines.push(
        "¹ peak of the epochs measured; per-epoch work is the same, so more epochs should not raise it.",
        "",
      );
    }
    const first = jobs.find((j) => j.r.case.startsWith("cached-first"))?.r;
    const second = jobs.find((j) => j.r.case.startsWith("cached-second"))?.r;
    const byCase = (c: string) => jobs.find((j) => j.r.case === c)?.r;
    for (const kind of ["cached-first", "augmented"]) {
      const ort = byCase(`${kind}-onnxruntime`);
      const tfjs = byCase(`${kind}-tfjs`);
      if (ort?.ok && tfjs?.ok) {
        const ratio = tfjs.wallSeconds / ort.wallSeconds;
        lines.push(
          `${kind}: TF.js ÷ ONNX Runtime, process wall: ${f1(ratio)}× (${
            f1(tfjs.wallSeconds)
          } s vs ${f1(ort.wallSeconds)} s)`,
        );
      }
    }
    const unc = jobs.find((j) => j.r.case === "uncached")?.r;
    if (first?.ok && unc?.ok) {
      const e = extrapolated(unc, epochs);
      const ratio = e.wall / first.wallSeconds;
      report.speedup = { first: ratio };
      let line = `Uncached ÷ cached, process wall: ${
        f1(ratio)
      }× (first cached run)`;
      if (second?.ok) {
        const r2 = e.wall / second.wallSeconds;
        (report.speedup as Record<string, number>).second = r2;
        line += `, ${f1(r2)}× (second cached run)`;
      }
      lines.push(line + (e.k !== 1 ? "; uncached extrapolated" : ""));
    }
  }
  report.loadavgAfter = Deno.loadavg();
  lines.push(
    `Load average before / after: ${
      (report.loadavg as number[]).map(f1).join(" ")
    } / ${
      Deno.loadavg().map(f1).join(" ")
    } (${navigator.hardwareConcurrency} cores)`,
  );
  console.log("\n" + lines.join("\n"));
  if (args.json) {
    await Deno.writeTextFile(args.json, JSON.stringify(report, null, 2) + "\n");
  }
}

if (import.meta.main) {
  if (args.child) await child();
  else await main();
}
