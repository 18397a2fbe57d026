/**
 * Step 1 of the data pipeline: download a URL into a cache folder.
 *
 * The body streams into `<file>.<random>.part` (one per download, so two
 * processes filling one cache never share it), which is renamed only once
 * every byte has arrived (and the SHA-256 matches, when one is given), so an interrupted
 * download never leaves a file that looks complete. A file already in the
 * cache is reused without touching the network.
 *
 * @example
 * ```ts
 * import { fetchFile } from "./fetch.ts";
 * import { createProgressPrinter } from "../report/progress.ts";
 * const { path, cached } = await fetchFile(
 *   "https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip",
 *   { cacheDir: "/tmp/cache", onProgress: createProgressPrinter() },
 * );
 * ```
 *
 * @module
 */

import { createSha256, sha256File } from "../util/hash.ts";
import { removeQuietly, statOrNull, writeAll } from "../util/fs.ts";
import { basename, join } from "node:path";
import type { FetchProgress } from "../report/progress.ts";

export type { FetchProgress } from "../report/progress.ts";

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

const HINT =
  "Check data.url, or download the archive yourself and point data.path at the .zip or the extracted folder.";

/**
 * The cache file name for a URL: its last path segment, URL-decoded, with
 * characters that are unsafe in file names replaced by `_`.
 */
export function fileNameForUrl(url: string): string {
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
  if (segment === "" || segment === "." || segment === "..") return "download";
  return segment;
}

function describeCause(e: unknown): string {
  if (e instanceof Error) {
    const cause = e.cause instanceof Error ? `: ${e.cause.message}` : "";
    return `${e.message}${cause}`;
  }
  return String(e);
}

/**
 * Downloads `url` into `opts.cacheDir` (or reuses the cached copy) and
 * resolves to its path. Errors name the URL and the HTTP status or network
 * cause, and hint at `data.path`. With `sha256`, a mismatching download is
 * removed and rejected; a mismatching cached file is removed and downloaded
 * again.
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
  await Deno.mkdir(opts.cacheDir, { recursive: true });
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
    await Deno.remove(dest);
  }

  const part = `${dest}.${crypto.randomUUID().slice(0, 8)}.part`;
  let response: Response;
  try {
    response = await fetch(url, { signal: opts.signal });
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    throw new FetchError(
      `Download failed: GET ${url}: ${describeCause(e)}. ${HINT}`,
      url,
      { cause: e },
    );
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new FetchError(
      `Download failed: GET ${url} answered HTTP ${response.status}${
        response.statusText ? ` ${response.statusText}` : ""
      }. ${HINT}`,
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

  try {
    const file = await Deno.open(part, {
      write: true,
      create: true,
      truncate: true,
    });
    try {
      if (response.body) {
        report(false);
        for await (const chunk of response.body) {
          await writeAll(file, chunk);
          hash.update(chunk);
          bytes += chunk.length;
          report(false);
        }
      }
      await file.syncData();
    } finally {
      file.close();
    }
  } catch (e) {
    await removeQuietly(part);
    if (opts.signal?.aborted) throw e;
    throw new FetchError(
      `Download interrupted: GET ${url} after ${bytes} bytes${
        total !== null ? ` of ${total}` : ""
      }: ${describeCause(e)}. ${HINT}`,
      url,
      { cause: e },
    );
  }

  if (total !== null && bytes !== total) {
    await removeQuietly(part);
    throw new FetchError(
      `Download incomplete: GET ${url} ended after ${bytes} of ${total} bytes. ${HINT}`,
      url,
    );
  }
  const actual = hash.hex();
  if (expected !== null && actual !== expected) {
    await removeQuietly(part);
    throw new FetchError(
      `SHA-256 mismatch for ${url}: expected ${expected}, got ${actual}; the download was removed. ` +
        `Fix data.sha256 (or set it to null), or check data.url / data.path.`,
      url,
    );
  }
  await Deno.rename(part, dest);
  report(true);
  return { path: dest, cached: false, bytes, sha256: actual };
}
