/**
 * What a cache folder holds, and tidying it: the listing behind
 * `deno task cache --list`, and what `--prune` and `--clear` remove.
 *
 * Layout of a cache folder (`data.cacheDir`):
 *
 * ```
 * <name>.zip                     downloads (data.url)
 * <name>/                        its extraction (completion marker inside)
 * extracted/<name>-<hash>/       extractions of local zips (data.path)
 * decoded/v2-160x160-bilinear-imagescript@1.3.1+tiff@7.1.3/ab/<sha>.rgb
 *                                decoded images per size, interpolation,
 *                                cache version and decoder version
 * features/<key>.f32             pooled features of the frozen base
 * weights/<name>-<hash>.h5       downloaded weights (also <name>.h5 at the top)
 * weights-sha256/<hash>.json     remembered SHA-256 of weights files
 * ```
 *
 * Stale, and removed by {@link pruneCache}: leftovers of killed processes
 * (`*.part` downloads, `.*.tmp` cache writes, `*.partial-*` extractions,
 * `*.stale-*` replaced extractions; only those whose writer is gone, see
 * `src/util/staging.ts`), decoded images of another cache or decoder
 * version, feature files of an older format or version, extractions whose
 * archive is gone or has changed. {@link clearCache} removes everything
 * but what live processes are writing.
 *
 * @module
 */

import { basename, join, relative } from "node:path";
import { formatBytes } from "../util/format.ts";
import { CACHE_FILE_MAGIC } from "../util/cache_file.ts";
import { stagingState } from "../util/staging.ts";
import { WEIGHTS_MEMO_DIR } from "../util/weights_identity.ts";
import {
  DECODE_CACHE_VERSION,
  DECODER_VERSION,
  parseDecodeCacheFolder,
} from "./decode.ts";
import { ASIDE_INFIX, PARTIAL_INFIX, readUnzipMarker } from "./unzip.ts";

/** What a cache entry is. */
export type CacheKind =
  | "download"
  | "extracted"
  | "decoded"
  | "features"
  | "weights"
  | "weights-memo"
  | "leftover"
  | "other";

/** Whether an entry is in use: current, stale (prunable), or being written by a live process. */
export type CacheStatus = "current" | "stale" | "in-use";

/** One file or folder of the cache. */
export interface CacheItem {
  /** What it is. */
  kind: CacheKind;
  /** Absolute path. */
  path: string;
  /** Path relative to the cache folder. */
  rel: string;
  /** Bytes on disk (sum of file sizes). */
  bytes: number;
  /** Files (1 for a file). */
  files: number;
  /** current / stale / in-use. */
  status: CacheStatus;
  /** What it holds, or why it is stale. */
  detail: string;
}

/** What {@link inventoryCache} found. */
export interface CacheInventory {
  /** The cache folder. */
  dir: string;
  /** False when the folder does not exist. */
  exists: boolean;
  /** Every entry, in listing order. */
  items: CacheItem[];
  /** Total bytes. */
  bytes: number;
  /** Total files. */
  files: number;
}

/** Options of {@link inventoryCache} and {@link pruneCache}. */
export interface InventoryOptions {
  /**
   * The feature cache version of the running code (`FEATURE_CACHE_VERSION`
   * of `src/train/features.ts`): feature files named `v<N>-…` with another
   * N are stale. Unset: only files of the old unverified format are.
   */
  featureCacheVersion?: number;
}

/** Top-level folders with a meaning of their own. */
const DECODED = "decoded";
const FEATURES = "features";
const EXTRACTED = "extracted";
const WEIGHTS = "weights";

const PART = /\.[0-9a-f]{8}\.part$/;
const TMP = /^\.[0-9a-f]{8}\.tmp$/;
const STAGING_DIR = new RegExp(
  `(${PARTIAL_INFIX.replace(".", "\\.")}|${
    ASIDE_INFIX.replace(".", "\\.")
  })[0-9a-f]{8}$`,
);
const WEIGHTS_FILE = /\.(h5|keras)$/i;

/** Why a name is a leftover of an interrupted write, or null. */
export function leftoverKind(name: string, isDir: boolean): string | null {
  if (isDir) {
    if (!STAGING_DIR.test(name)) return null;
    return name.includes(PARTIAL_INFIX)
      ? "interrupted extraction"
      : "replaced extraction set aside";
  }
  if (PART.test(name)) return "interrupted download";
  if (TMP.test(name)) return "unfinished cache write";
  return null;
}

async function listDir(dir: string): Promise<Deno.DirEntry[]> {
  const out: Deno.DirEntry[] = [];
  try {
    for await (const e of Deno.readDir(dir)) out.push(e);
  } catch (e) {
    if (
      e instanceof Deno.errors.NotFound ||
      e instanceof Deno.errors.NotADirectory
    ) return out;
    throw e;
  }
  return out.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** Bytes and files under `path` (a file or a folder; links not followed). */
export async function diskUsage(
  path: string,
): Promise<{ bytes: number; files: number }> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { bytes: 0, files: 0 };
    throw e;
  }
  if (!info.isDirectory) return { bytes: info.size, files: 1 };
  let bytes = 0;
  let files = 0;
  for (const e of await listDir(path)) {
    const u = await diskUsage(join(path, e.name));
    bytes += u.bytes;
    files += u.files;
  }
  return { bytes, files };
}

async function startsWithMagic(path: string): Promise<boolean> {
  try {
    using f = await Deno.open(path, { read: true });
    const head = new Uint8Array(CACHE_FILE_MAGIC.length);
    let n = 0;
    while (n < head.length) {
      const r = await f.read(head.subarray(n));
      if (r === null) break;
      n += r;
    }
    return n === head.length && CACHE_FILE_MAGIC.every((b, i) => head[i] === b);
  } catch {
    return false;
  }
}

/** Lists what the cache folder `dir` holds; see {@link CacheInventory}. */
export async function inventoryCache(
  dir: string,
  opts: InventoryOptions = {},
): Promise<CacheInventory> {
  const items: CacheItem[] = [];
  let exists = true;
  try {
    await Deno.stat(dir);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    exists = false;
  }
  const add = async (
    kind: CacheKind,
    path: string,
    status: CacheStatus,
    detail: string,
  ) => {
    const usage = await diskUsage(path);
    items.push({
      kind,
      path,
      rel: relative(dir, path),
      status,
      detail,
      ...usage,
    });
  };
  /** Adds `e` as a leftover when it is one; true when it was. */
  const leftover = async (parent: string, e: Deno.DirEntry) => {
    const why = leftoverKind(e.name, e.isDirectory);
    if (why === null) return false;
    const path = join(parent, e.name);
    const state = await stagingState(path);
    if (state === "gone") return true;
    await add(
      "leftover",
      path,
      state === "stale" ? "stale" : "in-use",
      state === "stale" ? why : `${why}, still being written`,
    );
    return true;
  };
  const extraction = async (path: string, siblingZip: string | null) => {
    const marker = await readUnzipMarker(path);
    if (marker === null) {
      await add("other", path, "current", "folder not made by deno-transfer");
      return;
    }
    const zip = marker.zipPath ?? siblingZip;
    let status: CacheStatus = "current";
    let detail = zip ? `from ${basename(zip)}` : "archive unknown";
    if (zip) {
      let info: Deno.FileInfo | null = null;
      try {
        info = await Deno.stat(zip);
      } catch {
        info = null;
      }
      if (info === null) {
        status = "stale";
        detail = `its archive ${zip} is gone`;
      } else if (
        info.size !== marker.zipSize ||
        (info.mtime?.getTime() ?? null) !== marker.zipMtime
      ) {
        status = "stale";
        detail = `extracted from an older copy of ${basename(zip)}`;
      }
    }
    await add("extracted", path, status, detail);
  };

  for (const e of await listDir(dir)) {
    const path = join(dir, e.name);
    if (await leftover(dir, e)) continue;
    if (e.isDirectory) {
      switch (e.name) {
        case DECODED:
          await decodedItems(path, add, leftover);
          continue;
        case FEATURES:
          await featureItems(path, opts, add, leftover);
          continue;
        case EXTRACTED:
          for (const x of await listDir(path)) {
            if (await leftover(path, x)) continue;
            await extraction(join(path, x.name), null);
          }
          continue;
        case WEIGHTS:
          for (const x of await listDir(path)) {
            if (await leftover(path, x)) continue;
            await add("weights", join(path, x.name), "current", "");
          }
          continue;
        case WEIGHTS_MEMO_DIR: {
          for (const x of await listDir(path)) {
            if (await leftover(path, x)) continue;
            await add(
              "weights-memo",
              join(path, x.name),
              "current",
              "SHA-256 of weights files",
            );
          }
          continue;
        }
      }
      await extraction(path, join(dir, `${e.name}.zip`));
      continue;
    }
    await add(
      WEIGHTS_FILE.test(e.name) ? "weights" : "download",
      path,
      "current",
      "",
    );
  }
  const bytes = items.reduce((a, i) => a + i.bytes, 0);
  const files = items.reduce((a, i) => a + i.files, 0);
  return { dir, exists, items, bytes, files };
}

type Add = (
  kind: CacheKind,
  path: string,
  status: CacheStatus,
  detail: string,
) => Promise<void>;
type Leftover = (parent: string, e: Deno.DirEntry) => Promise<boolean>;

async function decodedItems(root: string, add: Add, leftover: Leftover) {
  for (const e of await listDir(root)) {
    const path = join(root, e.name);
    if (await leftover(root, e)) continue;
    const parsed = e.isDirectory ? parseDecodeCacheFolder(e.name) : null;
    if (parsed === null) {
      await add("decoded", path, "stale", "not a decode cache folder of ours");
      continue;
    }
    const what = `${parsed.height}x${parsed.width} ${parsed.interpolation}`;
    if (parsed.version !== DECODE_CACHE_VERSION) {
      await add(
        "decoded",
        path,
        "stale",
        `${what}: old cache version ${parsed.version} (now ${DECODE_CACHE_VERSION})`,
      );
      continue;
    }
    if (parsed.decoder !== DECODER_VERSION) {
      await add(
        "decoded",
        path,
        "stale",
        `${what}: decoded by ${
          parsed.decoder ?? "an unknown decoder"
        } (now ${DECODER_VERSION})`,
      );
      continue;
    }
    // Leftover writes inside the shards are listed on their own.
    for (const shard of await listDir(path)) {
      if (!shard.isDirectory) continue;
      const shardPath = join(path, shard.name);
      for (const f of await listDir(shardPath)) await leftover(shardPath, f);
    }
    await add("decoded", path, "current", what);
  }
}

async function featureItems(
  root: string,
  opts: InventoryOptions,
  add: Add,
  leftover: Leftover,
) {
  for (const e of await listDir(root)) {
    const path = join(root, e.name);
    if (await leftover(root, e)) continue;
    const versioned = /^v(\d+)-[0-9a-f]+\.f32$/.exec(e.name);
    if (e.isFile && versioned) {
      const v = Number(versioned[1]);
      const stale = opts.featureCacheVersion !== undefined &&
        v !== opts.featureCacheVersion;
      await add(
        "features",
        path,
        stale ? "stale" : "current",
        stale
          ? `old feature cache version ${v} (now ${opts.featureCacheVersion})`
          : "pooled features",
      );
    } else if (e.isFile && /^[0-9a-f]+\.f32$/.test(e.name)) {
      const verified = await startsWithMagic(path);
      await add(
        "features",
        path,
        verified ? "current" : "stale",
        verified ? "pooled features" : "old unverified format",
      );
    } else {
      await add("features", path, "stale", "not a feature cache file");
    }
  }
}

const KIND_LABELS: Record<CacheKind, string> = {
  download: "downloads",
  extracted: "extracted",
  decoded: "decoded images",
  features: "features",
  weights: "weights",
  "weights-memo": "weights SHA-256",
  leftover: "leftovers",
  other: "other",
};
const KIND_ORDER: CacheKind[] = [
  "download",
  "extracted",
  "decoded",
  "features",
  "weights",
  "weights-memo",
  "leftover",
  "other",
];

/** Groups items of one kind, status and detail (many feature files → one line). */
function groupItems(items: readonly CacheItem[]) {
  const groups = new Map<
    string,
    { first: CacheItem; count: number; bytes: number; files: number }
  >();
  for (const i of items) {
    const many = i.kind === "features" || i.kind === "weights-memo";
    const k = many
      ? `${i.kind}\0${i.status}\0${i.detail}`
      : `${i.kind}\0${i.path}`;
    const g = groups.get(k);
    if (g) {
      g.count++;
      g.bytes += i.bytes;
      g.files += i.files;
    } else groups.set(k, { first: i, count: 1, ...i });
  }
  return [...groups.values()].sort((a, b) =>
    KIND_ORDER.indexOf(a.first.kind) - KIND_ORDER.indexOf(b.first.kind) ||
    (a.first.rel < b.first.rel ? -1 : a.first.rel > b.first.rel ? 1 : 0)
  );
}

/** Sums of items. */
export function cacheTotals(
  items: readonly CacheItem[],
): { bytes: number; files: number } {
  return {
    bytes: items.reduce((a, i) => a + i.bytes, 0),
    files: items.reduce((a, i) => a + i.files, 0),
  };
}

/** The `--list` table: one line per entry (feature files grouped), then the stale total. */
export function formatInventory(inv: CacheInventory): string {
  if (!inv.exists) return `Cache folder ${inv.dir} does not exist (empty).`;
  const lines = [
    `Cache folder ${inv.dir}: ${formatBytes(inv.bytes)} in ${
      inv.files.toLocaleString("en-US")
    } files`,
  ];
  const rows = groupItems(inv.items).map((g) => [
    KIND_LABELS[g.first.kind],
    formatBytes(g.bytes),
    g.files.toLocaleString("en-US"),
    g.first.status,
    g.count === 1
      ? `${g.first.rel}${g.first.detail ? `: ${g.first.detail}` : ""}`
      : `${g.count} entries: ${g.first.detail}`,
  ]);
  if (rows.length === 0) {
    lines.push("  (empty)");
    return lines.join("\n");
  }
  const head = ["what", "size", "files", "status", "entry"];
  const widths = head.map((h, c) =>
    Math.max(h.length, ...rows.map((r) => r[c].length))
  );
  const fmt = (r: string[]) =>
    "  " +
    r.map((cell, c) =>
      c === 4
        ? cell
        : c === 1 || c === 2
        ? cell.padStart(widths[c])
        : cell.padEnd(widths[c])
    ).join("  ");
  lines.push(fmt(head), ...rows.map(fmt));
  const stale = inv.items.filter((i) => i.status === "stale");
  if (stale.length > 0) {
    const t = cacheTotals(stale);
    lines.push(
      `Stale: ${formatBytes(t.bytes)} in ${
        t.files.toLocaleString("en-US")
      } files (deno task cache --prune removes them).`,
    );
  }
  const busy = inv.items.filter((i) => i.status === "in-use");
  if (busy.length > 0) {
    lines.push(
      `${busy.length} entr${
        busy.length === 1 ? "y is" : "ies are"
      } being written by a running process.`,
    );
  }
  return lines.join("\n");
}

/** What {@link pruneCache} or {@link clearCache} removed (or, with `dryRun`, would remove). */
export interface RemovalResult {
  /** The entries removed. */
  removed: CacheItem[];
  /** Entries left because a live process is writing them. */
  kept: CacheItem[];
  /** Bytes removed. */
  bytes: number;
  /** Files removed. */
  files: number;
}

/** Options of {@link pruneCache} and {@link clearCache}. */
export interface RemovalOptions extends InventoryOptions {
  /** Only say what would be removed. */
  dryRun?: boolean;
  /** Told about each entry as it is removed (or would be). */
  onRemove?: (item: CacheItem) => void;
}

async function removeItems(
  items: CacheItem[],
  opts: RemovalOptions,
): Promise<RemovalResult> {
  const removed: CacheItem[] = [];
  const kept: CacheItem[] = [];
  for (const item of items) {
    if (item.kind === "leftover") {
      // Judge again right before removing: its writer may have finished.
      const state = await stagingState(item.path);
      if (state === "gone") continue;
      if (state === "in-use") {
        kept.push(item);
        continue;
      }
    }
    opts.onRemove?.(item);
    if (!opts.dryRun) {
      try {
        await Deno.remove(item.path, { recursive: true });
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    removed.push(item);
  }
  return { removed, kept, ...cacheTotals(removed) };
}

/**
 * Removes the stale entries of the cache folder `dir`: leftovers of killed
 * processes, decoded images and features of other versions, extractions of
 * archives that are gone or changed. Entries live processes are writing
 * stay.
 */
export async function pruneCache(
  dir: string,
  opts: RemovalOptions = {},
): Promise<RemovalResult> {
  const inv = await inventoryCache(dir, opts);
  const result = await removeItems(
    inv.items.filter((i) => i.status === "stale"),
    opts,
  );
  result.kept.push(...inv.items.filter((i) => i.status === "in-use"));
  return result;
}

/**
 * Removes everything in the cache folder `dir` except what live processes
 * are writing (the folder itself stays). Do not run it while a training run
 * reads the cache.
 */
export async function clearCache(
  dir: string,
  opts: RemovalOptions = {},
): Promise<RemovalResult> {
  const inv = await inventoryCache(dir, opts);
  const result = await removeItems(
    inv.items.filter((i) => i.status !== "in-use"),
    opts,
  );
  result.kept.push(...inv.items.filter((i) => i.status === "in-use"));
  return result;
}

/**
 * Removes leftovers of killed processes from the places a run writes to
 * (top level, `extracted/`, `weights/`, `weights-sha256/`, `features/`, and
 * the shards of the current decode folders) — cheap enough to run at the
 * start of every run: it reads folder listings, and opens only files whose
 * names mark them as staging files. Resolves to the number removed.
 */
export async function removeLeftovers(dir: string): Promise<number> {
  let removed = 0;
  const sweep = async (parent: string) => {
    for (const e of await listDir(parent)) {
      if (leftoverKind(e.name, e.isDirectory) === null) continue;
      const path = join(parent, e.name);
      if (await stagingState(path) !== "stale") continue;
      try {
        await Deno.remove(path, { recursive: true });
        removed++;
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
  };
  await sweep(dir);
  for (const sub of [EXTRACTED, WEIGHTS, WEIGHTS_MEMO_DIR, FEATURES]) {
    await sweep(join(dir, sub));
  }
  for (const e of await listDir(join(dir, DECODED))) {
    const parsed = parseDecodeCacheFolder(e.name);
    if (
      !e.isDirectory || parsed?.version !== DECODE_CACHE_VERSION ||
      parsed.decoder !== DECODER_VERSION
    ) continue;
    const folder = join(dir, DECODED, e.name);
    await sweep(folder);
    for (const shard of await listDir(folder)) {
      if (shard.isDirectory) await sweep(join(folder, shard.name));
    }
  }
  return removed;
}
