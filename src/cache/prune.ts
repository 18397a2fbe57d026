/**
 * Removing cache entries: {@link pruneCache} (the stale ones),
 * {@link clearCache} (everything not being written) and
 * {@link removeLeftovers} (the cheap start-of-run sweep of leftovers of
 * killed processes). A leftover is judged again right before it is removed,
 * so a live writer's files stay.
 *
 * @module
 */

import { join } from "node:path";
import { stagingState } from "./_staging.ts";
import { WEIGHTS_MEMO_DIR } from "./weights_identity.ts";
import {
  DECODE_CACHE_VERSION,
  parseDecodeCacheFolder,
} from "./_decoded_layout.ts";
import { DECODER_VERSION } from "../deps/decoder_version.ts";
import {
  type CacheItem,
  cacheTotals,
  inventoryCache,
  type InventoryOptions,
} from "./inventory.ts";
import {
  DECODED,
  EXTRACTED,
  FEATURES,
  leftoverKind,
  listDir,
  WEIGHTS,
} from "./_layout.ts";

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
