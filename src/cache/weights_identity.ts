/**
 * The SHA-256 of a weights file, remembered between runs so a repeat run
 * does not hash the file again: a small memo per file in
 * `<cacheDir>/weights-sha256/`, keyed by the file's absolute path and
 * checked against its size, modification time (ms), change time, inode
 * and device. Any doubt means hashing again:
 *
 * - any of size, mtime, ctime, inode or device differ from the memo;
 * - the file system reports no inode (`Deno.stat().ino` null, e.g. some
 *   Windows or network file systems): never memoised;
 * - the memo is missing, corrupt or for another path (a verified cache
 *   file, see `cache_file.ts`);
 * - the file changed while it was hashed, or changed within 2 s before
 *   the hash started ("racily clean", as git calls it): not memoised,
 *   because a later change could then keep the same time stamps.
 *
 * What this covers: a file replaced by another of equal size with its
 * mtime set back (`cp` + `mv`, downloads, `touch -d`) gets a new inode;
 * a file rewritten in place with size and mtime restored (`Deno.utime`,
 * `touch -r`) keeps its inode but not its ctime, which only the kernel
 * sets (to the current time) on every write, chmod or utime. Deno reports
 * ctime in whole seconds, which is why a memo is written only for files
 * whose last change is at least 2 s older than the hash. What is left: a
 * rewrite that also turns the system clock back to the very second of the
 * memo's ctime (or a file system without ctime, where `ctime` is null and
 * only inode, size and mtime are compared).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sha256File } from "../util/hash.ts";
 * import { weightsSha256 } from "./weights_identity.ts";
 * const dir = await Deno.makeTempDir();
 * const file = `${dir}/weights.h5`;
 * await Deno.writeFile(file, new Uint8Array([1, 2, 3]));
 * const sha = await weightsSha256(file, { cacheDir: `${dir}/cache` }); // hashed, then remembered
 * assert.equal(sha, await sha256File(file));
 * assert.equal(await weightsSha256(file, { cacheDir: `${dir}/cache` }), sha); // from the memo
 * ```
 *
 * @module
 */

import { join, resolve } from "node:path";
import { sha256File, sha256Hex } from "../util/hash.ts";
import { readCacheFile, writeCacheFile } from "./cache_file.ts";

/** Folder of the memo files inside the cache folder. */
export const WEIGHTS_MEMO_DIR = "weights-sha256";

/** A file's identity as the memo records it. */
export interface FileStamp {
  /** Absolute path. */
  path: string;
  /** Size in bytes. */
  size: number;
  /** Modification time, ms since the epoch (null when unknown). */
  mtimeMs: number | null;
  /** Change time, ms since the epoch (whole seconds in Deno; null when unknown). */
  ctimeMs: number | null;
  /** Inode (null when the file system has none). */
  ino: number | null;
  /** Device. */
  dev: number;
}

/** What a memo file holds. */
export interface WeightsMemo extends FileStamp {
  /** SHA-256 (hex) of the file's bytes. */
  sha256: string;
  /** When the hash started, ms since the epoch. */
  hashedAt: number;
}

/** Options of {@link weightsIdentity}. */
export interface WeightsIdentityOptions {
  /** Cache folder holding the memos; null hashes every time. */
  cacheDir: string | null;
}

/** What {@link weightsIdentity} found. */
export interface WeightsIdentity {
  /** SHA-256 (hex) of the file. */
  sha256: string;
  /** True when the memo answered (the file was not read). */
  fromMemo: boolean;
  /**
   * Why the file was hashed — "no-memo", "changed" (the memo describes other
   * stamps), "no-inode", "no-cache" — or "memo" when it was not.
   */
  why: "memo" | "no-memo" | "changed" | "no-inode" | "no-cache";
  /**
   * The memo after hashing: "written", or why none was — "racy" (the file
   * changed less than {@link RACY_MARGIN_MS} before the hash), "unstable"
   * (it changed while hashed), "failed" (could not be written), "none" (not
   * hashed, or no cache folder or inode).
   */
  memo: "written" | "racy" | "unstable" | "failed" | "none";
}

/** Files changed less than this before their hash started are not memoised. */
export const RACY_MARGIN_MS = 2000;

/** The stamp of `info` for the file at absolute path `path`. */
export function fileStamp(path: string, info: Deno.FileInfo): FileStamp {
  return {
    path,
    size: info.size,
    mtimeMs: info.mtime?.getTime() ?? null,
    ctimeMs: info.ctime?.getTime() ?? null,
    ino: info.ino,
    dev: info.dev,
  };
}

/**
 * Whether a memo still describes the file with stamp `now`: every field
 * equal, and an inode known (without one, the answer is always no).
 */
export function memoMatches(memo: FileStamp, now: FileStamp): boolean {
  return now.ino !== null && memo.ino === now.ino && memo.dev === now.dev &&
    memo.path === now.path && memo.size === now.size &&
    memo.mtimeMs === now.mtimeMs && memo.ctimeMs === now.ctimeMs;
}

/**
 * Whether a file with stamp `stamp`, hashed from `hashedAt` on, may be
 * memoised: its last change (ctime, else mtime) is at least
 * {@link RACY_MARGIN_MS} older, so any later change moves the stamps.
 */
export function safeToMemo(stamp: FileStamp, hashedAt: number): boolean {
  const times = [stamp.mtimeMs, stamp.ctimeMs].filter((t) => t !== null);
  return times.length > 0 &&
    times.every((t) => t! + RACY_MARGIN_MS <= hashedAt);
}

/** Where the memo of the file at absolute path `path` lives. */
export function weightsMemoPath(cacheDir: string, path: string): string {
  return join(
    cacheDir,
    WEIGHTS_MEMO_DIR,
    `${sha256Hex(path).slice(0, 16)}.json`,
  );
}

function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs &&
    a.ctimeMs === b.ctimeMs && a.ino === b.ino && a.dev === b.dev;
}

async function statFile(path: string): Promise<FileStamp> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`Weights file not found: ${path}`, { cause: e });
    }
    throw e;
  }
  if (!info.isFile) throw new Error(`Weights path is not a file: ${path}`);
  return fileStamp(path, info);
}

/**
 * The SHA-256 of the weights file `path`, from the memo when it still
 * describes the file, else hashed (and memoised when safe); see the module
 * documentation for what counts as "still describes".
 */
export async function weightsIdentity(
  path: string,
  opts: WeightsIdentityOptions,
): Promise<WeightsIdentity> {
  const abs = resolve(path);
  let stamp = await statFile(abs);
  const memoPath = opts.cacheDir ? weightsMemoPath(opts.cacheDir, abs) : null;
  let why: WeightsIdentity["why"] = memoPath === null
    ? "no-cache"
    : stamp.ino === null
    ? "no-inode"
    : "no-memo";
  if (memoPath !== null && stamp.ino !== null) {
    const read = await readCacheFile(memoPath, `weights-sha256:${abs}`);
    if (read.ok) {
      try {
        const memo = JSON.parse(
          new TextDecoder().decode(read.data),
        ) as WeightsMemo;
        if (memoMatches(memo, stamp) && /^[0-9a-f]{64}$/.test(memo.sha256)) {
          return {
            sha256: memo.sha256,
            fromMemo: true,
            why: "memo",
            memo: "none",
          };
        }
        why = "changed";
      } catch {
        // unreadable memo: hash again
      }
    }
  }

  // Hash until the file holds still (its stamp the same before and after).
  let sha = "";
  let hashedAt = 0;
  let stable = false;
  for (let attempt = 0; attempt < 3 && !stable; attempt++) {
    hashedAt = Date.now();
    sha = await sha256File(abs);
    const after = await statFile(abs);
    stable = sameStamp(stamp, after);
    stamp = after;
  }
  const result = (memo: WeightsIdentity["memo"]): WeightsIdentity => ({
    sha256: sha,
    fromMemo: false,
    why,
    memo,
  });
  if (memoPath === null || stamp.ino === null) return result("none");
  if (!stable) return result("unstable");
  if (!safeToMemo(stamp, hashedAt)) return result("racy");
  const memo: WeightsMemo = { ...stamp, sha256: sha, hashedAt };
  try {
    await writeCacheFile(
      memoPath,
      `weights-sha256:${abs}`,
      new TextEncoder().encode(JSON.stringify(memo)),
    );
  } catch {
    return result("failed"); // only an optimisation: the hash stands
  }
  return result("written");
}

/**
 * The SHA-256 (hex) of the weights file `path`; a repeat call for an
 * unchanged file reads the memo in `opts.cacheDir` instead of the file.
 */
export async function weightsSha256(
  path: string,
  opts: WeightsIdentityOptions,
): Promise<string> {
  return (await weightsIdentity(path, opts)).sha256;
}
