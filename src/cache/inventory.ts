/**
 * What a cache folder holds: the inventory behind `deno task cache --list`,
 * every entry with its kind, size and status (current, stale, or being
 * written by a live process), which `--prune` and `--clear` act on.
 *
 * The layout of the folder and the names of leftovers are
 * `cache_layout.ts`; the `--list` table is `cache_inventory_format.ts`;
 * removing entries (`--prune`, `--clear`, the start-of-run leftover sweep)
 * is `cache_prune.ts`.
 *
 * Stale, and removed by {@link pruneCache}: leftovers of killed processes
 * (`*.part` downloads, `.*.tmp` cache writes, `*.partial-*` extractions,
 * `*.stale-*` replaced extractions; only those whose writer is gone, see
 * `src/cache/_staging.ts`), decoded images of another cache or decoder
 * version, feature files of an older format or version, extractions whose
 * archive is gone or has changed. {@link clearCache} removes everything
 * but what live processes are writing.
 *
 * @module
 */

import { basename, join, relative } from "node:path";
import { CACHE_FILE_MAGIC } from "./cache_file.ts";
import { stagingState } from "./_staging.ts";
import { WEIGHTS_MEMO_DIR } from "./weights_identity.ts";
import {
  DECODE_CACHE_VERSION,
  parseDecodeCacheFolder,
} from "./_decoded_layout.ts";
import { DECODER_VERSION } from "../deps/decoder_version.ts";
import { readUnzipMarker } from "./_unzip_marker.ts";
import {
  DECODED,
  EXTRACTED,
  FEATURES,
  leftoverKind,
  listDir,
  WEIGHTS,
} from "./_layout.ts";

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

const WEIGHTS_FILE = /\.(h5|keras)$/i;

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
  return { dir, exists, items, ...cacheTotals(items) };
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
    // v<N>-<key>.f32, and v<N>-shard-<id>-<I>of<N>-<key>.f32 (prepare --shard)
    const versioned = /^v(\d+)-(shard-[0-9a-f]{16}-\d+of\d+-)?[0-9a-f]+\.f32$/
      .exec(e.name);
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
          : versioned[2]
          ? "pooled features of one shard (prepare --shard)"
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

/** Sums of items. */
export function cacheTotals(
  items: readonly CacheItem[],
): { bytes: number; files: number } {
  return {
    bytes: items.reduce((a, i) => a + i.bytes, 0),
    files: items.reduce((a, i) => a + i.files, 0),
  };
}
