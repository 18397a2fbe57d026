/**
 * Step 1 of the data pipeline: download a URL into a cache folder.
 *
 * The body streams into `<file>.<random>.part` (one per download, locked by
 * its writer: see `src/cache/_staging.ts`), which becomes `<file>` only once
 * every byte has arrived (and the SHA-256 matches, when one is given), so an
 * interrupted download never leaves a file that looks complete. A file
 * already in the cache is reused without touching the network.
 *
 * Several processes may fill one cache at once: the finished download is
 * hard-linked into place, never renamed over a file another process
 * finished first (that one is used instead), so a cached file never changes
 * under a process that is reading or extracting it. `.part` files left by
 * killed processes are removed by the next download of the same file.
 * File-system failures (unwritable folder, disk full) name the path and the
 * cause; network failures name the URL.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fetchFile } from "./fetch.ts";
 * const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, () => new Response("zip bytes"));
 * const url = `http://127.0.0.1:${server.addr.port}/data.zip`;
 * const cacheDir = await Deno.makeTempDir();
 * const first = await fetchFile(url, { cacheDir, onProgress: (p) => p.done && console.log(p.bytes) });
 * const again = await fetchFile(url, { cacheDir }); // from the cache, no request
 * assert.equal(first.path, again.path);
 * assert.ok(again.cached);
 * await server.shutdown();
 * ```
 *
 * @module
 */

import { createSha256, sha256File, sha256Hex } from "../util/hash.ts";
import { removeQuietly, statOrNull, writeAll } from "../util/fs.ts";
import { errorCode, fsError } from "../util/fs_errors.ts";
import { createStagingFile, removeIfStale } from "../cache/_staging.ts";
import { basename, join } from "node:path";

/** Progress of one download, as reported by `fetchFile`'s `onProgress`. */
export interface FetchProgress {
  /** The URL being downloaded. */
  url: string;
  /** Bytes received so far. */
  bytes: number;
  /** Expected total bytes (`Content-Length`), or null when unknown. */
  total: number | null;
  /** Milliseconds since the response started. */
  elapsedMs: number;
  /** Average rate so far, bytes per second. */
  bytesPerSecond: number;
  /** True on the last call, once every byte has arrived. */
  done: boolean;
}

/** Options of {@link fetchFile}. */
export interface FetchOptions {
  /** Folder the file is stored in (created when missing). */
  cacheDir: string;
  /** Expected SHA-256 (hex, any case) of the file; checked on download and on cache hits. */
  sha256?: string | null;
  /** Name of the file in `cacheDir`. Default: the last path segment of the URL. */
  fileName?: string;
  /** Called as bytes arrive, and once more with `done: true`. */
  onProgress?: (p: FetchProgress) => void;
  /**
   * What to suggest after a failed download (default: check `data.url` or
   * use `data.path`); e.g. for weights: check `model.weights`.
   */
  hint?: string;
  /** The setting that holds `sha256`, named in a mismatch error. Default "data.sha256". */
  sha256Setting?: string;
  /** Aborts the download (the `.part` file is removed). */
  signal?: AbortSignal;
}

/** What {@link fetchFile} resolves to. */
export interface FetchResult {
  /** Path of the complete file in the cache. */
  path: string;
  /** True when the file was already cached and the network was not used. */
  cached: boolean;
  /** Size of the file in bytes. */
  bytes: number;
  /** SHA-256 of the file (hex), computed when `sha256` was given or the file was downloaded. */
  sha256?: string;
}

/** A download that failed; the message names the URL and the status or cause. */
export class FetchError extends Error {
  /** The URL that was requested. */
  readonly url: string;
  /** HTTP status, when the server answered. */
  readonly status?: number;
  /** Builds the error; `status` when the server answered with one. */
  constructor(
    message: string,
    url: string,
    options?: { status?: number; cause?: unknown },
  ) {
    super(message, { cause: options?.cause });
    this.name = "FetchError";
    this.url = url;
    this.status = options?.status;
  }
}

const DEFAULT_HINT =
  "Check data.url, or download the archive yourself and point data.path at the .zip or the extracted folder.";

/** Options of {@link fileNameForUrl}. */
export interface FileNameOptions {
  /**
   * Add a short hash of the whole URL before the extension
   * (`name-<8 hex>.ext`), so that two URLs ending in the same file name get
   * two cache files. Default false.
   */
  hashed?: boolean;
}

/** Extensions kept whole when a hash goes in front of them. */
const COMPOUND_EXTENSIONS = [".weights.h5", ".tar.gz", ".tar.bz2", ".tar.xz"];

/** Length of the URL hash {@link fileNameForUrl} adds with `hashed`. */
export const URL_HASH_LENGTH = 8;

/**
 * The cache file name for a URL: its last path segment, URL-decoded, with
 * characters that are unsafe in file names replaced by `_`; with `hashed`,
 * `<stem>-<first 8 hex of SHA-256(url)><ext>`, e.g.
 * `mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_160_no_top-1a2b3c4d.h5`.
 */
export function fileNameForUrl(
  url: string,
  options: FileNameOptions = {},
): string {
  let segment = "";
  try {
    const parsed = new URL(url);
    const parts = parsed.pathname.split("/").filter((s) => s.length > 0);
    segment = parts.length > 0
      ? decodeURIComponent(parts[parts.length - 1])
      : "";
  } catch {
    segment = basename(url);
  }
  segment = Array.from(
    segment,
    (ch) => ch.charCodeAt(0) < 0x20 || '\\/:*?"<>|'.includes(ch) ? "_" : ch,
  ).join("");
  if (segment === "" || segment === "." || segment === "..") {
    segment = "download";
  }
  if (!options.hashed) return segment;
  const hash = sha256Hex(url).slice(0, URL_HASH_LENGTH);
  const lower = segment.toLowerCase();
  const compound = COMPOUND_EXTENSIONS.find((e) =>
    lower.endsWith(e) && lower.length > e.length
  );
  const dot = segment.lastIndexOf(".");
  const extLength = compound?.length ??
    (dot > 0 && dot >= segment.length - 10 ? segment.length - dot : 0);
  const stem = segment.slice(0, segment.length - extLength);
  return `${stem}-${hash}${segment.slice(segment.length - extLength)}`;
}

/** Matches the `.part` files of downloads into `fileName`. */
export function partFilePattern(fileName: string): RegExp {
  const escaped = fileName.replace(/[.*+?^$|()[\]{}\\]/g, "\\$&");
  return new RegExp(`^${escaped}\\.[0-9a-f]{8}\\.part$`);
}

function describeCause(e: unknown): string {
  if (e instanceof Error) {
    const cause = e.cause instanceof Error ? `: ${e.cause.message}` : "";
    return `${e.message}${cause}`;
  }
  return String(e);
}

/**
 * Removes the `.part` files of earlier downloads into `dest` whose writer is
 * gone (killed mid-download); parts being written by live processes stay.
 */
async function removeStaleParts(dir: string, fileName: string): Promise<void> {
  const pattern = partFilePattern(fileName);
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && pattern.test(e.name)) {
        await removeIfStale(join(dir, e.name));
      }
    }
  } catch {
    // best effort: a folder we cannot list fails below with a clear error
  }
}

/** Marks a failure of the local file (not of the network) while downloading. */
class LocalWriteError extends Error {}

/**
 * Puts the finished `part` in place as `dest`: hard-linked, so that a file
 * another process put there meanwhile is never replaced (it is used
 * instead, after checking its SHA-256 when one is expected). Resolves to
 * whether `part`'s bytes became `dest`.
 */
async function publish(
  part: string,
  dest: string,
  expected: string | null,
): Promise<boolean> {
  try {
    await Deno.link(part, dest);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      if (expected === null || await sha256File(dest) === expected) {
        return false;
      }
      await Deno.rename(part, dest); // the other copy is wrong; ours is checked
      return true;
    }
    const code = errorCode(e);
    if (
      e instanceof Deno.errors.NotSupported || code === "EPERM" ||
      code === "EXDEV" || code === "EMLINK"
    ) {
      // No hard links here: a plain rename (last writer wins).
      await Deno.rename(part, dest);
      return true;
    }
    throw e;
  }
}

/**
 * Downloads `url` into `opts.cacheDir` (or reuses the cached copy) and
 * resolves to its path. Errors name the URL and the HTTP status or network
 * cause, and hint at `data.path`; local failures (folder not writable, disk
 * full) name the file and the cause. With `sha256`, a mismatching download
 * is removed and rejected; a mismatching cached file is removed and
 * downloaded again.
 */
export async function fetchFile(
  url: string,
  opts: FetchOptions,
): Promise<FetchResult> {
  const fileName = opts.fileName ?? fileNameForUrl(url);
  if (/[\\/]/.test(fileName) || fileName === "." || fileName === "..") {
    throw new Error(
      `fetchFile: fileName must be a plain file name, got "${fileName}"`,
    );
  }
  const expected = opts.sha256 ? opts.sha256.toLowerCase() : null;
  const hint = opts.hint ?? DEFAULT_HINT;
  try {
    await Deno.mkdir(opts.cacheDir, { recursive: true });
  } catch (e) {
    throw fsError("create the download folder", opts.cacheDir, e);
  }
  const dest = join(opts.cacheDir, fileName);

  const existing = await statOrNull(dest);
  if (existing?.isFile) {
    if (expected === null) {
      return { path: dest, cached: true, bytes: existing.size };
    }
    const actual = await sha256File(dest);
    if (actual === expected) {
      return { path: dest, cached: true, bytes: existing.size, sha256: actual };
    }
    // A cached file that no longer matches: drop it and download again.
    await removeQuietly(dest);
  }
  await removeStaleParts(opts.cacheDir, fileName);

  let response: Response;
  try {
    response = await fetch(url, { signal: opts.signal });
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    throw new FetchError(
      `Download failed: GET ${url}: ${describeCause(e)}. ${hint}`,
      url,
      { cause: e },
    );
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new FetchError(
      `Download failed: GET ${url} answered HTTP ${response.status}${
        response.statusText ? ` ${response.statusText}` : ""
      }. ${hint}`,
      url,
      { status: response.status },
    );
  }

  const lengthHeader = response.headers.get("content-length");
  const encoded = (response.headers.get("content-encoding") ?? "identity") !==
    "identity";
  const total = lengthHeader !== null && !encoded &&
      Number.isFinite(Number(lengthHeader))
    ? Number(lengthHeader)
    : null;
  const hash = createSha256();
  const started = performance.now();
  let bytes = 0;
  const report = (done: boolean) => {
    if (!opts.onProgress) return;
    const elapsedMs = performance.now() - started;
    opts.onProgress({
      url,
      bytes,
      total,
      elapsedMs,
      bytesPerSecond: elapsedMs > 0 ? bytes / (elapsedMs / 1000) : 0,
      done,
    });
  };

  const part = `${dest}.${crypto.randomUUID().slice(0, 8)}.part`;
  // The part file is created with the first bytes (a run killed before any
  // arrive leaves nothing) and stays open until the end: its lock tells
  // other processes it is being written.
  let file: Deno.FsFile | null = null;
  const openPart = async (): Promise<Deno.FsFile> => {
    if (file) return file;
    try {
      file = await createStagingFile(part);
    } catch (e) {
      throw new LocalWriteError("create", { cause: e });
    }
    return file;
  };
  try {
    try {
      if (response.body) {
        report(false);
        for await (const chunk of response.body) {
          const out = await openPart();
          try {
            await writeAll(out, chunk);
          } catch (e) {
            throw new LocalWriteError("write", { cause: e });
          }
          hash.update(chunk);
          bytes += chunk.length;
          report(false);
        }
      }
      const out = await openPart();
      try {
        await out.syncData();
      } catch (e) {
        throw new LocalWriteError("sync", { cause: e });
      }
    } catch (e) {
      if (e instanceof LocalWriteError) {
        await response.body?.cancel().catch(() => {});
        throw fsError(
          e.message === "create"
            ? "create the download file"
            : "write the download file",
          part,
          e.cause,
        );
      }
      if (opts.signal?.aborted) throw e;
      throw new FetchError(
        `Download interrupted: GET ${url} after ${bytes} bytes${
          total !== null ? ` of ${total}` : ""
        }: ${describeCause(e)}. ${hint}`,
        url,
        { cause: e },
      );
    }

    if (total !== null && bytes !== total) {
      throw new FetchError(
        `Download incomplete: GET ${url} ended after ${bytes} of ${total} bytes. ${hint}`,
        url,
      );
    }
    const actual = hash.hex();
    if (expected !== null && actual !== expected) {
      throw new FetchError(
        `SHA-256 mismatch for ${url}: expected ${expected}, got ${actual}; the download was removed. ` +
          `Fix ${
            opts.sha256Setting ?? "data.sha256"
          } (or set it to null), or check where it points. ${hint}`,
        url,
      );
    }
    let ours: boolean;
    try {
      ours = await publish(part, dest, expected);
    } catch (e) {
      throw fsError("move the download into place as", dest, e);
    }
    report(true);
    if (ours) return { path: dest, cached: false, bytes, sha256: actual };
    const info = await Deno.stat(dest);
    return {
      path: dest,
      cached: true,
      bytes: info.size,
      sha256: expected ?? undefined,
    };
  } finally {
    (file as Deno.FsFile | null)?.close();
    await removeQuietly(part);
  }
}
