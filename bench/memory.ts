/**
 * Peak memory of the reference-sized job as the dataset grows: how much more
 * RAM a run needs per 1,000 images (the README's memory figures).
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-env --allow-sys --allow-run \
 *   bench/memory.ts [--sizes 3000,6000,14000] [--cases cached,augmented] \
 *   [--epochs 10] [--augmented-epochs 1] [--child-timeout SECONDS] \
 *   [--json FILE] [--keep]
 * ```
 *
 * - Data: N generated 500×375 JPEGs per size (two classes, N/3 train and
 *   N/6 validation images per class, rounded, in the `cats_and_dogs_filtered` layout), written once by
 *   `fixtures/photos.ts` to `.cache/bench/reference-<N>` (gitignored; about
 *   1 min per 1,000 images) and reused; `reference-3000` is the reference
 *   job's own dataset.
 * - Job: the reference job — MobileNetV2 1.0 @160×160 with random weights
 *   (`model.weights: null`), frozen, GAP + Dense, batch 32, Adam 1e-4,
 *   `--epochs` epochs (default 10), `engine.frozen: "auto"` (ONNX Runtime
 *   here, so the children run with `--allow-ffi`), read from the local
 *   folder (`data.path`).
 * - `cached` (default): features cached. Two runs per size sharing one fresh
 *   cache folder: `cold` decodes the JPEGs and computes the features; `warm`
 *   reuses both.
 * - `augmented`: flip + rotation 0.2, so the base runs on every batch and
 *   the images are read every epoch (`--augmented-epochs`, default 1: the
 *   base on every image is slow on a CPU); fresh cache folder.
 *
 * Each run is its own `deno run` process, so its peak (VmHWM from
 * /proc/self/status: the whole process, decode workers and ONNX Runtime's
 * threads included; the children run with `--allow-all`, which Deno 2.9
 * asks for to read that file) is its own. The child also notes VmHWM at the first
 * log line of each step (`data:`, `features:`, `epoch`…), which says which
 * step set the peak. Growth per 1,000 images is the least-squares slope of
 * peak RSS over N for each case. Caches and run folders go to a new folder
 * under `.cache/bench/`, removed at the end unless `--keep`.
 *
 * The figures depend on what else the machine runs (page cache pressure,
 * other processes); the load average before and after is printed with them.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseConfig } from "../src/config/load.ts";
import { runTraining } from "../src/run.ts";
import { writeReferenceDataset } from "../fixtures/photos.ts";

const SCRIPT = fileURLToPath(import.meta.url);
const BENCH_DIR = fileURLToPath(new URL("../.cache/bench", import.meta.url));
// Deno 2.9 lets a process read /proc/self/status only with all permissions;
// the job itself needs read, write, env, sys and ffi (ONNX Runtime).
const CHILD_PERMISSIONS = ["--allow-all"];

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    sizes: { type: "string", default: "3000,6000" },
    cases: { type: "string", default: "cached" },
    epochs: { type: "string", default: "10" },
    "augmented-epochs": { type: "string", default: "1" },
    "child-timeout": { type: "string", default: "0" },
    json: { type: "string" },
    keep: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
    // Internal: run one training job in this process.
    child: { type: "string" },
    data: { type: "string" },
    "cache-dir": { type: "string" },
    "out-dir": { type: "string" },
    augment: { type: "boolean", default: false },
    result: { type: "string" },
  },
});

/** VmHWM and VmRSS of this process in MiB (null off Linux). */
function procMemory(): { hwm: number; rss: number } | null {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const kb = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, "m").exec(status)?.[1]);
    const hwm = kb("VmHWM"), rss = kb("VmRSS");
    return Number.isFinite(hwm) ? { hwm: hwm / 1024, rss: rss / 1024 } : null;
  } catch {
    return null;
  }
}

/** What one training process reports. */
interface ChildResult {
  images: { train: number; validation: number };
  epochs: number;
  featureCache: { used: boolean; reused: boolean };
  frozenEngine: string | null;
  seconds: Record<string, number>;
  valAccuracy: number | null;
  peakRssMiB: number;
  /**
   * VmHWM and VmRSS when each step began: its first log line (the step is
   * the line's first words, e.g. "data", "features") or, for "train", the
   * first progress line.
   */
  steps: { step: string; hwmMiB: number; rssMiB: number }[];
}

async function child(): Promise<void> {
  const config = parseConfig({
    name: `memory-${args.child}`,
    data: {
      url: null,
      path: args.data,
      cacheDir: args["cache-dir"],
      imageSize: [160, 160],
      batchSize: 32,
    },
    model: { weights: null, alpha: 1.0, trainable: false },
    train: { epochs: Number(args.epochs), cacheFeatures: true },
    augment: args.augment ? { flip: "horizontal", rotation: 0.2 } : {},
    engine: { frozen: "auto" },
    output: { dir: args["out-dir"], saveModel: true },
  });
  const steps: ChildResult["steps"] = [];
  const note = (line: string, train = false) => {
    const step = train
      ? "train"
      : /^([a-z][a-z ]*?)(?::| \d)/i.exec(line)?.[1] ?? "other";
    if (steps.at(-1)?.step === step) return;
    const m = procMemory();
    if (m) steps.push({ step, hwmMiB: m.hwm, rssMiB: m.rss });
  };
  const prefix = `[${args.child}] `;
  const err = (s: string) => Deno.stderr.writeSync(new TextEncoder().encode(s));
  const { summary, model } = await runTraining(config, {
    log: (line) => {
      note(line);
      err(`${prefix}${line}\n`);
    },
    progress: {
      write: (text) => {
        note(text, true);
        err(text.replace(/^(?=.)/gm, prefix));
      },
    },
    isTty: false,
  });
  model.dispose();
  const mem = procMemory();
  if (!mem) throw new Error("memory bench: /proc/self/status has no VmHWM");
  const result: ChildResult = {
    images: summary.images,
    epochs: summary.epochs,
    featureCache: summary.featureCache,
    frozenEngine: summary.frozenEngine?.id ?? null,
    seconds: { ...summary.seconds },
    valAccuracy: summary.final?.val_accuracy ?? null,
    peakRssMiB: mem.hwm,
    steps,
  };
  await Deno.writeTextFile(args.result!, JSON.stringify(result, null, 2));
}

/** One measured run, or why it did not finish. */
type Outcome = {
  size: number;
  run: string;
  wallSeconds: number;
} & ({ ok: true; result: ChildResult } | { ok: false; error: string });

async function runChild(
  name: string,
  size: number,
  run: string,
  opts: { data: string; cacheDir: string; outDir: string; augment: boolean },
): Promise<Outcome> {
  const resultPath = join(opts.outDir, `${name}.result.json`);
  await Deno.mkdir(opts.outDir, { recursive: true });
  console.error(`\n== ${name}`);
  const timeout = Number(args["child-timeout"]);
  const epochs = opts.augment ? args["augmented-epochs"] : args.epochs;
  const t = performance.now();
  const status = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...CHILD_PERMISSIONS,
      SCRIPT,
      "--child",
      name,
      "--data",
      opts.data,
      "--cache-dir",
      opts.cacheDir,
      "--out-dir",
      opts.outDir,
      "--epochs",
      epochs,
      ...(opts.augment ? ["--augment"] : []),
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
    const error = timeout > 0 && wallSeconds >= timeout
      ? `killed after the ${timeout} s timeout`
      : `exit ${status.code}${status.signal ? ` (${status.signal})` : ""}`;
    console.error(`== ${name} failed: ${error}`);
    return { ok: false, size, run, wallSeconds, error };
  }
  const result = JSON.parse(await Deno.readTextFile(resultPath));
  return { ok: true, size, run, wallSeconds, result };
}

/** Least-squares slope of y over x (null with fewer than two points). */
function slope(points: readonly [number, number][]): number | null {
  if (points.length < 2) return null;
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let sxy = 0, sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx === 0 ? null : sxy / sxx;
}

const f0 = (x: number) => x.toFixed(0);
const f1 = (x: number) => x.toFixed(1);

function table(outcomes: readonly Outcome[]): string[] {
  const lines = [
    "| Images | Run | Peak RSS (MiB) | Peak before the data step, then its rise in each step (MiB) | Wall (s) | decode | features | train |",
    "| ---: | --- | ---: | --- | ---: | ---: | ---: | ---: |",
  ];
  for (const o of outcomes) {
    const n = o.size.toLocaleString("en-US");
    if (!o.ok) {
      lines.push(
        `| ${n} | ${o.run} | failed after ${
          f1(o.wallSeconds)
        } s: ${o.error} | | | | | |`,
      );
      continue;
    }
    const r = o.result;
    // A step's rise: the peak when the next one began (or at the end) minus
    // the peak when it began. Steps that raised it by under 5 MiB are left out.
    const at = r.steps.findIndex((s) => s.step === "data");
    const from = at < 0 ? 0 : at;
    const rises = r.steps.slice(from).map((s, k, all) => {
      const end = all[k + 1]?.hwmMiB ?? r.peakRssMiB;
      return [s.step, end - s.hwmMiB] as const;
    }).filter(([, rise]) => rise >= 5);
    const steps = [
      `${f0(r.steps[from]?.hwmMiB ?? 0)}`,
      ...rises.map(([step, rise]) => `${step} +${f0(rise)}`),
    ].join(", ");
    lines.push(
      `| ${n} | ${o.run} | ${f0(r.peakRssMiB)} | ${steps} | ${
        f1(o.wallSeconds)
      } | ${f1(r.seconds.decode ?? 0)} | ${f1(r.seconds.features ?? 0)} | ${
        f1(r.seconds.train ?? 0)
      } |`,
    );
  }
  lines.push("");
  const runs = [...new Set(outcomes.map((o) => o.run))];
  for (const run of runs) {
    const points = outcomes.filter((o) => o.run === run && o.ok).map((
      o,
    ) =>
      [o.size, (o as { result: ChildResult }).result.peakRssMiB] as [
        number,
        number,
      ]
    );
    const s = slope(points);
    lines.push(
      `${run}: ${
        s === null
          ? "growth needs two sizes"
          : `${f1(s * 1000)} MiB more peak RSS per 1,000 images`
      } (${points.map(([x, y]) => `${x}: ${f0(y)}`).join(", ")})`,
    );
  }
  return lines;
}

async function main(): Promise<void> {
  if (args.help) {
    console.log(
      (await Deno.readTextFile(SCRIPT)).match(/\/\*\*([\s\S]*?)\*\//)![1]
        .replace(/^ \* ?/gm, ""),
    );
    return;
  }
  const sizes = args.sizes.split(",").map((s) => Number(s.trim()));
  for (const n of sizes) {
    if (!(Number.isInteger(n) && n >= 6 && n % 2 === 0)) {
      throw new Error(
        `--sizes: expected even image counts (two classes) of 6 or more, got ${n}`,
      );
    }
  }
  const cases = args.cases.split(",").map((s) => s.trim());
  const report: Record<string, unknown> = {
    date: new Date().toISOString(),
    cores: navigator.hardwareConcurrency,
    memoryGiB: Deno.systemMemoryInfo().total / 2 ** 30,
    deno: Deno.version.deno,
    loadavg: Deno.loadavg(),
  };
  await Deno.mkdir(BENCH_DIR, { recursive: true });
  const work = await Deno.makeTempDir({ dir: BENCH_DIR, prefix: "memory-" });
  const outcomes: Outcome[] = [];
  try {
    for (const n of sizes) {
      // 2/3 train, 1/3 validation, as the reference's 2,000 / 1,000.
      const trainPerClass = Math.round(n / 3);
      const t = performance.now();
      const ds = await writeReferenceDataset(
        join(BENCH_DIR, `reference-${n}`),
        {
          trainPerClass,
          validationPerClass: n / 2 - trainPerClass,
          onProgress: (done, total) => {
            if (done % 500 === 0) {
              console.error(`generated ${done}/${total} JPEGs`);
            }
          },
        },
      );
      console.error(
        `data: ${ds.images} JPEGs in ${ds.root}, ${
          ds.reused
            ? "reused"
            : `generated in ${f1((performance.now() - t) / 1000)} s`
        }`,
      );
      const outDir = join(work, "runs");
      if (cases.includes("cached")) {
        const run = {
          data: ds.root,
          cacheDir: join(work, `cache-${n}`),
          outDir,
          augment: false,
        };
        outcomes.push(await runChild(`cold-${n}`, n, "cold", run));
        outcomes.push(await runChild(`warm-${n}`, n, "warm", run));
      }
      if (cases.includes("augmented")) {
        outcomes.push(
          await runChild(`augmented-${n}`, n, "augmented", {
            data: ds.root,
            cacheDir: join(work, `cache-augmented-${n}`),
            outDir,
            augment: true,
          }),
        );
      }
      // A size's caches are not needed by the next one.
      if (!args.keep) {
        for (const c of [`cache-${n}`, `cache-augmented-${n}`]) {
          await Deno.remove(join(work, c), { recursive: true }).catch(() => {});
        }
      }
    }
  } finally {
    if (args.keep) console.error(`kept ${work}`);
    else await Deno.remove(work, { recursive: true });
  }
  report.outcomes = outcomes;
  report.loadavgAfter = Deno.loadavg();
  const lines = table(outcomes);
  lines.push(
    `Load average before / after: ${
      (report.loadavg as number[]).map(f1).join(" ")
    } / ${
      Deno.loadavg().map(f1).join(" ")
    } (${navigator.hardwareConcurrency} cores, ${
      f1(report.memoryGiB as number)
    } GiB, shared machine)`,
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
