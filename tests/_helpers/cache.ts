/**
 * Shared setup of the cache tests: a larger generated dataset (enough
 * images and files that unzip and decode print progress lines mid-way),
 * `deno task train` as a subprocess whose stderr can be waited on line by
 * line, and a scan of a cache folder for leftovers of interrupted writes.
 *
 * `DT_TEST_TREE=/path/to/other/checkout` runs the subprocesses from another
 * checkout (e.g. the code before a change, to see a test fail there).
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32 } from "node:zlib";
import { mulberry32 } from "../../src/util/rng.ts";
import { encodeJpeg } from "../../fixtures/make_fixtures.ts";
import type { MetricsRow } from "../../src/train/fit.ts";
import { readMetricsCsv } from "../../src/report/metrics.ts";
import { listDir } from "./data.ts";
import { taskFlags as taskFlagsIn } from "./tasks.ts";

/** The repository the subprocesses run from. */
export const TREE = Deno.env.get("DT_TEST_TREE") ??
  fileURLToPath(new URL("../..", import.meta.url));

/** Class names of {@link makeDatasetZip}'s dataset. */
export const CLASSES = ["cats", "dogs", "horses"];
const COLOURS = [[210, 60, 50], [50, 190, 70], [60, 70, 210]];

/** Options of {@link makeDatasetZip}. */
export interface DatasetZipOptions {
  /** Training images per class. */
  train: number;
  /** Validation images per class. */
  validation: number;
  /** Extra non-image files (in `padding/`, outside train and validation). */
  padding: number;
  /** Image side in pixels. */
  size?: number;
}

/**
 * A zip of stored (uncompressed) entries, written directly: zip.js takes
 * seconds for thousands of entries, this takes milliseconds.
 */
export function storedZip(
  files: { name: string; data: Uint8Array }[],
): Uint8Array {
  const enc = new TextEncoder();
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const f of files) {
    const name = enc.encode(f.name);
    const crc = crc32(f.data) >>> 0;
    const local = new Uint8Array(30 + name.length);
    const l = new DataView(local.buffer);
    l.setUint32(0, 0x04034b50, true);
    l.setUint16(4, 10, true); // version needed
    l.setUint32(14, crc, true);
    l.setUint32(18, f.data.length, true);
    l.setUint32(22, f.data.length, true);
    l.setUint16(26, name.length, true);
    local.set(name, 30);
    const central = new Uint8Array(46 + name.length);
    const c = new DataView(central.buffer);
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, 20, true); // version made by
    c.setUint16(6, 10, true);
    c.setUint32(16, crc, true);
    c.setUint32(20, f.data.length, true);
    c.setUint32(24, f.data.length, true);
    c.setUint16(28, name.length, true);
    c.setUint32(42, offset, true);
    central.set(name, 46);
    locals.push(local, f.data);
    centrals.push(central);
    offset += local.length + f.data.length;
  }
  const centralSize = centrals.reduce((a, b) => a + b.length, 0);
  const end = new Uint8Array(22);
  const e = new DataView(end.buffer);
  e.setUint32(0, 0x06054b50, true);
  e.setUint16(8, files.length, true);
  e.setUint16(10, files.length, true);
  e.setUint32(12, centralSize, true);
  e.setUint32(16, offset, true);
  const out = new Uint8Array(offset + centralSize + end.length);
  let at = 0;
  for (const part of [...locals, ...centrals, end]) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** `jpeg` with a comment segment after its start marker: other bytes, same pixels. */
function withComment(jpeg: Uint8Array, text: string): Uint8Array {
  const body = new TextEncoder().encode(text);
  const out = new Uint8Array(jpeg.length + 4 + body.length);
  out.set(jpeg.subarray(0, 2)); // SOI
  out.set([0xff, 0xfe, (body.length + 2) >> 8, (body.length + 2) & 0xff], 2);
  out.set(body, 6);
  out.set(jpeg.subarray(2), 6 + body.length);
  return out;
}

/**
 * A zip of `big/{train,validation}/{cats,dogs,horses}/*.jpg` and
 * `big/padding/*.txt`. Each class has 8 distinct pictures (class colour plus
 * seeded noise; jpeg-js takes ~25 ms per encode); every file differs (a
 * comment segment), so each is decoded and cached on its own.
 */
export function makeDatasetZip(opts: DatasetZipOptions): Uint8Array {
  const size = opts.size ?? 24;
  const files: { name: string; data: Uint8Array }[] = [];
  const pictures = COLOURS.map((colour, c) =>
    Array.from({ length: 8 }, (_, k) => {
      const r = mulberry32(c * 100 + k + 1);
      const rgba = new Uint8Array(size * size * 4);
      for (let p = 0; p < size * size; p++) {
        for (let ch = 0; ch < 3; ch++) {
          const v = colour[ch] + (r() - 0.5) * 120;
          rgba[p * 4 + ch] = Math.max(0, Math.min(255, Math.round(v)));
        }
        rgba[p * 4 + 3] = 255;
      }
      return encodeJpeg(rgba, size, size);
    })
  );
  let n = 0;
  for (
    const [split, count] of [
      ["train", opts.train],
      ["validation", opts.validation],
    ] as const
  ) {
    for (const [c, name] of CLASSES.entries()) {
      for (let i = 0; i < count; i++) {
        files.push({
          name: `big/${split}/${name}/${name}.${i}.jpg`,
          data: withComment(pictures[c][(i * 5 + n) % 8], `image ${n++}`),
        });
      }
    }
  }
  const enc = new TextEncoder();
  for (let i = 0; i < opts.padding; i++) {
    files.push({
      name: `big/padding/p${i}.txt`,
      data: enc.encode(`padding ${i}\n`),
    });
  }
  return storedZip(files);
}

/** `deno run <flags>` of a task, read from {@link TREE}'s deno.json. */
export const taskFlags = (task: string): Promise<string[]> =>
  taskFlagsIn(task, undefined, TREE);

/** A running `deno task train`, its stderr collected line by line. */
export interface TrainChild {
  /** The process. */
  process: Deno.ChildProcess;
  /** Resolves with the first stderr line matching `re` (rejects if the process ends first). */
  waitFor(re: RegExp): Promise<string>;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Waits for the end: exit code and the whole stderr. */
  finish(): Promise<{ code: number; signal: string | null; stderr: string }>;
}

/** Starts `tasks/train.ts --config <config>` from {@link TREE} with the task's own flags. */
export async function startTrain(config: string): Promise<TrainChild> {
  const process = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...await taskFlags("train"),
      "tasks/train.ts",
      "--config",
      config,
    ],
    cwd: TREE,
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let text = "";
  const waiters: {
    re: RegExp;
    resolve: (l: string) => void;
    reject: (e: Error) => void;
  }[] = [];
  const check = () => {
    const lines = text.split("\n");
    for (const w of [...waiters]) {
      const line = lines.find((l) => w.re.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  const pump = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of process.stderr) {
      text += dec.decode(chunk, { stream: true });
      check();
    }
    for (const w of waiters.splice(0)) {
      w.reject(
        new Error(`process ended before a line matched ${w.re}:\n${text}`),
      );
    }
  })();
  return {
    process,
    stderr: () => text,
    waitFor: (re) =>
      new Promise((resolve, reject) => {
        waiters.push({ re, resolve, reject });
        check();
      }),
    finish: async () => {
      const status = await process.status;
      await pump;
      return { code: status.code, signal: status.signal, stderr: text };
    },
  };
}

/** A finished run folder: its metrics rows and summary. */
export async function readRunDir(
  dir: string,
): Promise<
  { dir: string; rows: MetricsRow[]; summary: Record<string, unknown> }
> {
  return {
    dir,
    rows: await readMetricsCsv(join(dir, "metrics.csv")),
    summary: JSON.parse(await Deno.readTextFile(join(dir, "summary.json"))),
  };
}

/** Every run folder in `outDir` (all finished), in name order. */
export async function readRun(outDir: string) {
  const runs = [];
  for (const name of await listDir(outDir)) {
    runs.push(await readRunDir(join(outDir, name)));
  }
  return runs;
}

/** The losses and accuracies of each epoch (no timings). */
export function learningCurve(rows: MetricsRow[]) {
  return rows.map(({ epoch, loss, accuracy, val_loss, val_accuracy }) => ({
    epoch,
    loss,
    accuracy,
    val_loss,
    val_accuracy,
  }));
}

/** Paths under `dir` (relative) whose names mark leftovers of interrupted writes. */
export async function findLeftoverNames(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string) => {
    for await (const e of Deno.readDir(d)) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (
        /\.part$|\.tmp$|\.partial-|\.stale-/.test(e.name)
      ) out.push(r);
      else if (e.isDirectory) await walk(join(d, e.name), r);
    }
  };
  try {
    await walk(dir, "");
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort();
}
