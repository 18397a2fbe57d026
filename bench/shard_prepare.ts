/**
 * Sharded preparation: `deno task prepare` as 1 process against 2 (or any
 * counts) on this machine, then the merge a run does, and a projection of
 * wall time and storage to a million images (the README's sharding figures).
 *
 * ```sh
 * deno run -A bench/shard_prepare.ts [--images 2000] [--processes 1,2] \
 *   [--size 160] [--alpha 1] [--workers N] [--project 1000000] \
 *   [--json FILE] [--keep]
 * ```
 *
 * - Data: `--images` generated 500×375 JPEGs (two classes, 2/3 train and 1/3
 *   validation, `fixtures/photos.ts`), written once to
 *   `.cache/bench/shards-<N>` (gitignored) and reused.
 * - Job: MobileNetV2 `--alpha` @ `--size` with random weights
 *   (`model.weights: null`, no download; the cost is that of real weights),
 *   frozen, `engine.frozen: "auto"` (ONNX Runtime here), read from the local
 *   folder. For each process count P, a fresh cache folder, then P
 *   `prepare --shard i/P` processes at once (P = 1: a plain `prepare`), each
 *   with the task's own permission flags; wall time is from the first start
 *   to the last exit. Each process decodes with `--workers` threads (default:
 *   one per core, so 2 processes on one machine share its cores: this
 *   measures what a second process adds here, not a second machine).
 * - Merge: a plain `prepare` on the sharded cache of the largest P, which
 *   finds the shard entries and writes the whole sets' feature entries (what
 *   the first `train` run does before training).
 * - Fixed cost F: a second plain `prepare` of a 6-image dataset whose caches
 *   are warm (Deno and module start, listing, model build, engine start):
 *   what every process pays whatever its share.
 * - Projection to `--project` images: per-image costs are (measured − F) / N
 *   for the cold single process (decode + features) and for the merge run
 *   (hashing every file for the decode cache, reading the shards, writing
 *   the merged entry). Wall time on M machines like this one (M = 1, 10,
 *   100; one process each) is F + N·cold / M, then F + N·merge on the
 *   training machine. Storage from the bytes per image of the decode cache
 *   and of the feature entries (shard entries + the merged entry).
 *
 * Run it alone on an idle machine: any other load changes every figure.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { writeReferenceDataset } from "../fixtures/photos.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BENCH_DIR = join(ROOT, ".cache", "bench");

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    images: { type: "string", default: "2000" },
    processes: { type: "string", default: "1,2" },
    size: { type: "string", default: "160" },
    alpha: { type: "string", default: "1" },
    workers: { type: "string" },
    project: { type: "string", default: "1000000" },
    json: { type: "string" },
    keep: { type: "boolean", default: false },
  },
  strict: true,
});

const images = Number(args.images);
const counts = args.processes.split(",").map(Number);
const size = Number(args.size);
const project = Number(args.project);

/** `deno run <flags>` of the prepare task, from deno.json. */
async function prepareFlags(): Promise<string[]> {
  const deno = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  return (deno.tasks.prepare as string).split(/\s+/).slice(2, -1);
}

async function du(path: string): Promise<number> {
  let total = 0;
  try {
    for await (const e of Deno.readDir(path)) {
      const p = join(path, e.name);
      total += e.isDirectory ? await du(p) : (await Deno.stat(p)).size;
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return total;
}

async function prepare(config: string, extra: string[]): Promise<string> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...await prepareFlags(),
      "tasks/prepare.ts",
      "--config",
      config,
      ...extra,
    ],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(stderr);
  if (code !== 0) {
    throw new Error(`prepare ${extra.join(" ")} failed:\n${text}`);
  }
  return text;
}

const perClass = { train: Math.round(images / 3), val: Math.round(images / 6) };
const dataset = await writeReferenceDataset(
  join(BENCH_DIR, `shards-${images}`),
  {
    trainPerClass: perClass.train,
    validationPerClass: perClass.val,
    onProgress: (done, total) => {
      if (done % 500 === 0 || done === total) {
        console.error(`dataset: ${done}/${total} images`);
      }
    },
  },
);
const work = await Deno.makeTempDir({ dir: BENCH_DIR, prefix: "shards-run-" });
const configFor = async (name: string) => {
  const path = join(work, `${name}.config.json`);
  await Deno.writeTextFile(
    path,
    JSON.stringify({
      name: "shard-bench",
      data: {
        path: dataset.root,
        cacheDir: join(work, name),
        imageSize: [size, size],
        ...(args.workers ? { workers: Number(args.workers) } : {}),
      },
      model: { alpha: Number(args.alpha), weights: null },
      output: { dir: join(work, "runs") },
    }),
  );
  return path;
};

/** Wall seconds of one prepare of `config` with `extra` flags. */
async function timed(config: string, extra: string[] = []) {
  const started = performance.now();
  const log = await prepare(config, extra);
  return { seconds: (performance.now() - started) / 1000, log };
}

const loadavg = () => Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
console.error(`load average before: ${loadavg()}`);
const tiny = await writeReferenceDataset(join(BENCH_DIR, "shards-fixed"), {
  trainPerClass: 2,
  validationPerClass: 1,
});
const tinyConfig = await configFor("fixed");
await Deno.writeTextFile(
  tinyConfig,
  (await Deno.readTextFile(tinyConfig)).replace(
    JSON.stringify(dataset.root),
    JSON.stringify(tiny.root),
  ),
);
await prepare(tinyConfig, []);
const fixed = (await timed(tinyConfig)).seconds;
console.error(
  `fixed cost per process (warm prepare of 6 images): ${fixed.toFixed(1)} s`,
);
const rows: {
  processes: number;
  seconds: number;
  imagesPerSecond: number;
  decodedBytes: number;
  featureBytes: number;
}[] = [];
let lastConfig = "";
for (const p of counts) {
  const config = await configFor(`p${p}`);
  const started = performance.now();
  await Promise.all(
    Array.from(
      { length: p },
      (_, i) => prepare(config, p === 1 ? [] : ["--shard", `${i}/${p}`]),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  const cache = join(work, `p${p}`);
  rows.push({
    processes: p,
    seconds,
    imagesPerSecond: dataset.images / seconds,
    decodedBytes: await du(join(cache, "decoded")),
    featureBytes: await du(join(cache, "features")),
  });
  if (p > 1) lastConfig = config;
  console.error(
    `${p} process${p > 1 ? "es" : ""}: ${seconds.toFixed(1)} s, ${
      (dataset.images / seconds).toFixed(1)
    } images/s`,
  );
}
let mergeSeconds: number | null = null;
let mergedFeatureBytes: number | null = null;
if (lastConfig) {
  const { seconds, log } = await timed(lastConfig);
  mergeSeconds = seconds;
  if (!/merged \d+ of \d+ shards/.test(log)) {
    throw new Error(`the merge run merged no shards:\n${log}`);
  }
  const features = join(lastConfig.replace(/\.config\.json$/, ""), "features");
  mergedFeatureBytes = 0;
  for await (const e of Deno.readDir(features)) {
    if (!e.name.includes("-shard-")) {
      mergedFeatureBytes += (await Deno.stat(join(features, e.name))).size;
    }
  }
  console.error(
    `merge (a plain prepare on the shards): ${mergeSeconds.toFixed(1)} s`,
  );
}
console.error(`load average after: ${loadavg()}`);

const one = rows.find((r) => r.processes === 1) ?? rows[0];
const perImage = Math.max(0, one.seconds - fixed) / dataset.images;
const perImageMerge = mergeSeconds === null
  ? 0
  : Math.max(0, mergeSeconds - fixed) / dataset.images;
const decodedPerImage = one.decodedBytes / dataset.images;
const featuresPerImage = one.featureBytes / dataset.images;
const gb = (b: number) => `${(b / 1e9).toFixed(1)} GB`;
const hours = (s: number) => `${(s / 3600).toFixed(1)} h`;
const projection = [1, 10, 100].map((machines) => ({
  machines,
  seconds: fixed + (project * perImage) / machines + fixed +
    project * perImageMerge,
}));
console.log(
  `\n| processes | wall s | images/s | speed-up |\n| --: | --: | --: | --: |`,
);
for (const r of rows) {
  console.log(
    `| ${r.processes} | ${r.seconds.toFixed(1)} | ${
      r.imagesPerSecond.toFixed(1)
    } | ${(one.seconds / r.seconds).toFixed(2)}× |`,
  );
}
console.log(
  `\n${
    project.toLocaleString("en-US")
  } images projected from ${dataset.images} at ${size}×${size}, alpha ${args.alpha}: ` +
    `${(perImage * 1000).toFixed(2)} ms/image decode + features, ` +
    `${(perImageMerge * 1000).toFixed(3)} ms/image merge, ${
      fixed.toFixed(1)
    } s fixed per process`,
);
for (const p of projection) {
  console.log(
    `- ${p.machines} machine${p.machines > 1 ? "s" : ""}: ${hours(p.seconds)}`,
  );
}
console.log(
  `- storage: decode cache ${gb(decodedPerImage * project)}, features ${
    gb(featuresPerImage * project)
  } (x2 while both the shard entries and the merged entry are kept)`,
);
if (args.json) {
  await Deno.writeTextFile(
    args.json,
    JSON.stringify(
      {
        images: dataset.images,
        size,
        alpha: Number(args.alpha),
        rows,
        mergeSeconds,
        fixedSeconds: fixed,
        mergedFeatureBytes,
        projection: {
          images: project,
          machines: projection,
          decodedBytes: decodedPerImage * project,
          featureBytes: featuresPerImage * project,
        },
        loadavg: Deno.loadavg(),
      },
      null,
      2,
    ),
  );
}
if (!args.keep) await Deno.remove(work, { recursive: true });
