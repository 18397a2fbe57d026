/**
 * Step 2 of the data pipeline: extract a zip archive with `@zip.js/zip.js`,
 * streaming each entry to disk.
 *
 * Extraction happens in a `<dest>.partial-*` folder that is renamed to
 * `<dest>` after a completion marker is written into it, so `<dest>` is
 * either absent or complete; a re-run with the same archive skips the work.
 * Entries whose path would escape the destination are refused before
 * anything is written.
 *
 * @example
 * ```ts
 * import { unzip } from "./unzip.ts";
 * const { root } = await unzip("/tmp/cache/cats_and_dogs_filtered.zip");
 * // root = /tmp/cache/cats_and_dogs_filtered/cats_and_dogs_filtered
 * ```
 *
 * @module
 */

import { basename, dirname, join, resolve, sep } from "node:path";
import { zipjs } from "../deps.ts";
import { removeQuietly, writeAll } from "../util/fs.ts";

/** File name of the completion marker written last into an extracted folder. */
export const UNZIP_MARKER = ".deno-transfer-unzip.json";

/** Options of {@link unzip}. */
export interface UnzipOptions {
  /** Destination folder. Default: the zip path without its `.zip` extension. */
  dest?: string;
  /** Aborts the extraction (nothing is marked complete). */
  signal?: AbortSignal;
  /** Called after each extracted entry. */
  onProgress?: (p: UnzipProgress) => void;
}

/** Progress of {@link unzip}. */
export interface UnzipProgress {
  /** Entries written so far. */
  entries: number;
  /** Entries in the archive (after skipping `__MACOSX/`). */
  total: number;
  /** Uncompressed bytes written so far. */
  bytes: number;
}

/** What {@link unzip} resolves to. */
export interface UnzipResult {
  /** The destination folder. */
  dir: string;
  /** Where to resolve `trainDir` / `validationDir`: the archive's single top folder, else `dir`. */
  root: string;
  /** False when a previous complete extraction was reused. */
  extracted: boolean;
  /** Number of files in the archive. */
  files: number;
}

/** A zip that cannot be extracted safely; names the archive and, when known, the entry. */
export class UnzipError extends Error {
  /** The archive. */
  readonly zipPath: string;
  /** The offending entry, when one is to blame. */
  readonly entry?: string;
  /** "unsafe" (zip-slip), "corrupt" (truncated or damaged archive), "io" or "exists" (destination taken). */
  readonly kind: "unsafe" | "corrupt" | "io" | "exists";
  /** Builds the error. */
  constructor(
    message: string,
    zipPath: string,
    options: {
      kind: "unsafe" | "corrupt" | "io" | "exists";
      entry?: string;
      cause?: unknown;
    },
  ) {
    super(message, { cause: options.cause });
    this.name = "UnzipError";
    this.zipPath = zipPath;
    this.kind = options.kind;
    this.entry = options.entry;
  }
}

interface Marker {
  version: 1;
  zipSize: number;
  zipMtime: number | null;
  files: number;
  top: string | null;
}

/**
 * Why an entry name is unsafe to extract (absolute path, drive letter,
 * `..` component, NUL), or null when it is safe.
 */
export function unsafeEntryReason(name: string): string | null {
  if (name.includes("\0")) return "contains a NUL character";
  if (/^[\\/]/.test(name) || /^[A-Za-z]:/.test(name)) {
    return "is an absolute path";
  }
  if (name.split(/[\\/]/).includes("..")) {
    return 'has a ".." component that escapes the destination folder';
  }
  return null;
}

/** Random-access reader over an open file, so the archive is never loaded whole. */
class FileRangeReader extends zipjs.Reader<null> {
  #file: Deno.FsFile;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(file: Deno.FsFile, size: number) {
    super(null);
    this.#file = file;
    this.size = size;
  }

  override readUint8Array(index: number, length: number): Promise<Uint8Array> {
    const run = this.#queue.then(async () => {
      await this.#file.seek(index, Deno.SeekMode.Start);
      const data = new Uint8Array(length);
      let read = 0;
      while (read < length) {
        const n = await this.#file.read(data.subarray(read));
        if (n === null) return data.subarray(0, read);
        read += n;
      }
      return data;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

async function readMarker(dir: string): Promise<Marker | null> {
  try {
    const marker = JSON.parse(
      await Deno.readTextFile(join(dir, UNZIP_MARKER)),
    ) as Marker;
    return marker?.version === 1 ? marker : null;
  } catch {
    return null;
  }
}

async function isEmptyOrMissing(dir: string): Promise<boolean> {
  try {
    for await (const _ of Deno.readDir(dir)) return false;
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return true;
    throw e;
  }
}

function firstSegment(name: string): string {
  return name.split("/")[0];
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The destination {@link unzip} uses by default for `zipPath`. */
export function defaultUnzipDest(zipPath: string): string {
  const name = basename(zipPath);
  const stem = name.toLowerCase().endsWith(".zip")
    ? name.slice(0, -4)
    : `${name}.d`;
  return join(dirname(zipPath), stem || "archive");
}

/**
 * Extracts `zipPath` into `opts.dest` (default: beside the zip, without the
 * `.zip`), or reuses a previous complete extraction of the same archive
 * (same size and modification time). Refuses entries that escape the
 * destination, and fails with an {@link UnzipError} on truncated or corrupt
 * archives, leaving nothing marked complete.
 */
export async function unzip(
  zipPath: string,
  opts: UnzipOptions = {},
): Promise<UnzipResult> {
  const dest = resolve(opts.dest ?? defaultUnzipDest(zipPath));
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(zipPath);
  } catch (e) {
    throw new UnzipError(
      `Cannot open zip archive ${zipPath}: ${describe(e)}`,
      zipPath,
      { kind: "io", cause: e },
    );
  }
  const zipMtime = stat.mtime?.getTime() ?? null;
  const previous = await readMarker(dest);
  if (
    previous && previous.zipSize === stat.size && previous.zipMtime === zipMtime
  ) {
    return {
      dir: dest,
      root: previous.top ? join(dest, previous.top) : dest,
      extracted: false,
      files: previous.files,
    };
  }

  if (previous === null && !await isEmptyOrMissing(dest)) {
    throw new UnzipError(
      `Cannot extract ${zipPath} into ${dest}: that folder exists and was not made by a previous extraction. ` +
        `Move it away or choose another destination.`,
      zipPath,
      { kind: "exists" },
    );
  }

  // Leftovers of interrupted runs.
  const parent = dirname(dest);
  await Deno.mkdir(parent, { recursive: true });
  const partialPrefix = `${basename(dest)}.partial-`;
  for await (const e of Deno.readDir(parent)) {
    if (e.name.startsWith(partialPrefix)) {
      await removeQuietly(join(parent, e.name));
    }
  }

  using file = await Deno.open(zipPath, { read: true });
  const reader = new zipjs.ZipReader(new FileRangeReader(file, stat.size), {
    useWebWorkers: false,
    filenameValidation: "tolerant", // checked below, with our own message
    checkCrc32: true,
    signal: opts.signal,
  });
  let entries: zipjs.Entry[];
  try {
    entries = await reader.getEntries();
  } catch (e) {
    throw new UnzipError(
      `Cannot read zip archive ${zipPath} (${
        describe(e)
      }): the file is truncated or not a zip archive. ` +
        `Delete it to download it again, or check data.url / data.path.`,
      zipPath,
      { kind: "corrupt", cause: e },
    );
  }
  entries = entries.filter((e) => firstSegment(e.filename) !== "__MACOSX");

  for (const entry of entries) {
    const reason = unsafeEntryReason(entry.filename);
    const target = resolve(dest, entry.filename);
    if (reason || (target !== dest && !target.startsWith(dest + sep))) {
      throw new UnzipError(
        `Refusing to extract ${zipPath}: entry "${entry.filename}" ${
          reason ?? "resolves outside the destination folder"
        } (zip-slip). Nothing was extracted.`,
        zipPath,
        { kind: "unsafe", entry: entry.filename },
      );
    }
  }

  const tops = new Set(
    entries.map((e) => firstSegment(e.filename)).filter((s) =>
      !s.startsWith(".")
    ),
  );
  const singleTop = tops.size === 1 &&
      entries.every((e) =>
        firstSegment(e.filename).startsWith(".") || e.filename.includes("/")
      )
    ? [...tops][0]
    : null;

  const partial = join(
    parent,
    `${partialPrefix}${crypto.randomUUID().slice(0, 8)}`,
  );
  const files = entries.filter((e) => !e.directory).length;
  let written = 0;
  let bytes = 0;
  try {
    await Deno.mkdir(partial, { recursive: true });
    for (const entry of entries) {
      opts.signal?.throwIfAborted();
      const target = join(partial, entry.filename);
      if (entry.directory) {
        await Deno.mkdir(target, { recursive: true });
        continue;
      }
      await Deno.mkdir(dirname(target), { recursive: true });
      const out = await Deno.open(target, {
        write: true,
        create: true,
        truncate: true,
      });
      try {
        await entry.getData(
          new WritableStream<Uint8Array>({
            async write(chunk) {
              await writeAll(out, chunk);
              bytes += chunk.length;
            },
          }),
          { signal: opts.signal, checkCrc32: true, useWebWorkers: false },
        );
      } catch (e) {
        if (opts.signal?.aborted) throw e;
        throw new UnzipError(
          `Cannot extract entry "${entry.filename}" of ${zipPath} (${
            describe(e)
          }): the archive is corrupt. Delete it to download it again, or check data.url / data.path.`,
          zipPath,
          { kind: "corrupt", entry: entry.filename, cause: e },
        );
      } finally {
        out.close();
      }
      written++;
      opts.onProgress?.({ entries: written, total: files, bytes });
    }
    const marker: Marker = {
      version: 1,
      zipSize: stat.size,
      zipMtime,
      files,
      top: singleTop,
    };
    await Deno.writeTextFile(
      join(partial, UNZIP_MARKER),
      JSON.stringify(marker),
    );
    await removeQuietly(dest);
    await Deno.rename(partial, dest);
  } catch (e) {
    await removeQuietly(partial);
    throw e;
  } finally {
    await reader.close();
  }
  return {
    dir: dest,
    root: singleTop ? join(dest, singleTop) : dest,
    extracted: true,
    files,
  };
}
