/**
 * The GPU measurement kit's driver: everything `bench/gpu.sh run` measures
 * on whatever WebGPU adapter the machine has, printed as one table.
 *
 * ```sh
 * deno run -A bench/gpu_kit.ts [--quick] [--cases forward,cached,fine-tune,augmented] \
 *   [--epochs 10] [--train-per-class 1000] [--validation-per-class 500] [--json FILE]
 * ```
 *
 * - `forward`: the frozen base's forward pass on WebGPU, the plain layers
 *   model against the fused frozen graph (`bench/fused_forward.ts`):
 *   MobileNetV2 1.0 @160, batch 32, random weights, read-back included.
 * - `cached`: the reference-sized frozen job on WebGPU (3,000 generated
 *   JPEGs, 160 px, batch 32, 10 epochs; `bench/reference_job.ts`), first run
 *   (decode + features) and second run (caches warm); its train seconds per
 *   epoch are the head-training figure.
 * - `fine-tune`: 10 frozen + 10 fine-tuning epochs from layer 100 on WebGPU;
 *   the fine-tuning seconds per epoch are its train seconds minus the cached
 *   first run's (the same 10 head epochs), over the epochs.
 * - `augmented`: the tutorial's flip + rotation 0.2, base on every batch.
 * - `--quick`: small sizes that finish in minutes on a software adapter
 *   (lavapipe), to check the kit, not to quote.
 *
 * Every case runs in its own child process with this Deno, so a crash in
 * one still prints the others. Nothing here is a test: it runs where a GPU
 * is, and its figures go in the README.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { probeWebGpu } from "../src/backend/webgpu_probe.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    cases: { type: "string", default: "forward,cached,fine-tune,augmented" },
    epochs: { type: "string" },
    "train-per-class": { type: "string" },
    "validation-per-class": { type: "string" },
    json: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help) {
  console.log(
    "usage: deno run -A bench/gpu_kit.ts [--quick] [--cases forward,cached,fine-tune,augmented] [--epochs N] [--train-per-class N] [--validation-per-class N] [--json FILE]",
  );
  Deno.exit(0);
}

const quick = args.quick;
const cases = args.cases.split(",").map((s) => s.trim());
const epochs = args.epochs ?? (quick ? "2" : "10");
const trainPerClass = args["train-per-class"] ?? (quick ? "48" : "1000");
const validationPerClass = args["validation-per-class"] ??
  (quick ? "16" : "500");
const forwardArgs = quick
  ? ["--batch", "8", "--size", "96", "--warmup", "1", "--iterations", "2"]
  : ["--batch", "32", "--size", "160", "--warmup", "2", "--iterations", "8"];

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const work = await Deno.makeTempDir({ prefix: "gpu-kit-" });
const f1 = (x: number) => x.toFixed(1);

const gpu = await probeWebGpu();
const adapter = gpu.adapter
  ? `${gpu.adapter}${gpu.fallbackAdapter ? " (fallback/software adapter)" : ""}`
  : null;
console.error(`WebGPU: ${adapter ?? `none (${gpu.error})`}`);
if (!adapter) {
  console.error(
    "gpu kit: no WebGPU adapter, nothing to measure. On a Linux GPU machine, check that libvulkan.so.1 and the vendor's Vulkan ICD are present (bench/gpu.sh run installs the packed loader when it is missing).",
  );
  Deno.exit(1);
}

/** Runs one bench script as a child; its JSON report, or why not. */
async function child(
  script: string,
  extra: string[],
  json: string,
): Promise<{ ok: true; report: unknown } | { ok: false; error: string }> {
  console.error(`\n== ${script} ${extra.join(" ")}`);
  const status = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", here(script), ...extra, "--json", json],
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) return { ok: false, error: `exit ${status.code}` };
  return { ok: true, report: JSON.parse(await Deno.readTextFile(json)) };
}

interface Row {
  what: string;
  figure: string;
  detail: string;
}
const rows: Row[] = [];
const raw: Record<string, unknown> = { adapter, quick, cases };

if (cases.includes("forward")) {
  const r = await child(
    "fused_forward.ts",
    ["--backend", "webgpu", ...forwardArgs],
    join(work, "forward.json"),
  );
  raw.forward = r;
  if (r.ok) {
    const rep = r.report as {
      batch: number;
      size: number;
      rows: { label: string; imagesPerSecond: number }[];
    };
    for (const row of rep.rows) {
      rows.push({
        what: `frozen forward, ${row.label}`,
        figure: `${f1(row.imagesPerSecond)} images/s`,
        detail: `MobileNetV2 1.0 @${rep.size}, batch ${rep.batch}`,
      });
    }
  } else {
    rows.push({ what: "frozen forward", figure: "failed", detail: r.error });
  }
}

const jobCases = cases.filter((c) =>
  ["cached", "fine-tune", "augmented"].includes(c)
);
if (jobCases.length) {
  const r = await child("reference_job.ts", [
    "--backend",
    "webgpu",
    "--engines",
    "tfjs",
    "--cases",
    jobCases.join(","),
    "--epochs",
    epochs,
    "--augmented-epochs",
    epochs,
    "--train-per-class",
    trainPerClass,
    "--validation-per-class",
    validationPerClass,
    "--data",
    join(work, "data"),
  ], join(work, "jobs.json"));
  raw.jobs = r;
  type Job = {
    label: string;
    r: {
      ok: boolean;
      case: string;
      wallSeconds: number;
      error?: string;
      epochs: number;
      backend?: string;
      seconds?: Record<string, number>;
      images?: { train: number; validation: number };
      peakRssMiB?: number;
    };
  };
  const jobs = r.ok ? ((r.report as { jobs?: Job[] }).jobs ?? []) : [];
  if (!r.ok) rows.push({ what: "jobs", figure: "failed", detail: r.error });
  const images = (j: Job["r"]) =>
    j.images ? `${j.images.train + j.images.validation} images` : "";
  for (const j of jobs) {
    if (!j.r.ok) {
      rows.push({ what: j.label, figure: "failed", detail: j.r.error ?? "" });
      continue;
    }
    rows.push({
      what: j.label,
      figure: `${f1(j.r.wallSeconds)} s wall`,
      detail: `${images(j.r)}, ${j.r.epochs} epochs, backend ${j.r.backend}, ` +
        `decode ${f1(j.r.seconds!.decode)} s, features ${
          f1(j.r.seconds!.features)
        } s, train ${f1(j.r.seconds!.train)} s, peak RSS ${
          f1(j.r.peakRssMiB ?? 0)
        } MiB`,
    });
  }
  const byCase = (c: string) => jobs.find((j) => j.r.case === c)?.r;
  const first = byCase("cached-first-tfjs");
  if (first?.ok && first.seconds) {
    rows.push({
      what: "head training (cached features)",
      figure: `${f1(first.seconds.train / first.epochs)} s/epoch`,
      detail: "train seconds of the cached first run ÷ epochs",
    });
  }
  const ft = byCase("fine-tune-tfjs");
  if (ft?.ok && ft.seconds && first?.ok && first.seconds) {
    rows.push({
      what: "fine-tuning from layer 100 (prefix cached)",
      figure: `${
        f1((ft.seconds.train - first.seconds.train) / Number(epochs))
      } s/epoch`,
      detail:
        "(fine-tune job's train − cached first run's train) ÷ fine-tuning epochs",
    });
  }
}

const lines = [
  `GPU kit — WebGPU adapter: ${adapter}; Deno ${Deno.version.deno}; ${navigator.hardwareConcurrency} CPU cores${
    quick ? "; --quick sizes (a check of the kit, not figures)" : ""
  }`,
  "",
  "| measured | figure | detail |",
  "| --- | ---: | --- |",
  ...rows.map((r) => `| ${r.what} | ${r.figure} | ${r.detail} |`),
];
console.log("\n" + lines.join("\n"));
if (args.json) {
  await Deno.writeTextFile(
    args.json,
    JSON.stringify({ ...raw, rows }, null, 2) + "\n",
  );
}
await Deno.remove(work, { recursive: true });
