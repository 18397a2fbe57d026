/**
 * Step 2 of the data pipeline: extract a zip archive with `@zip.js/zip.js`,
 * streaming each entry to disk.
 *
 * Extraction happens in a `<dest>.partial-<random>` folder of its own
 * (locked by its writer: see `src/cache/_staging.ts`) that is renamed to
 * `<dest>` after a completion marker is written into it, so `<dest>` is
 * either absent or complete; a re-run with the same archive skips the work.
 * Processes extracting the same archive at once each fill their own folder;
 * the first rename wins and the others use its result (a complete
 * extraction is never removed from under a process reading it). Partial
 * folders of killed processes are removed by the next extraction; those of
 * live ones are left alone. Entries whose path would escape the destination
 * are refused before anything is written. Local failures (disk full, folder
 * not writable) are reported as such ("io"), never as a corrupt archive.
 * The completion marker and the staging folder names are `_unzip_marker.ts`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { zipjs } from "../deps/zip.ts";
 * import { unzip } from "./unzip.ts";
 * const dir = await Deno.makeTempDir();
 * const writer = new zipjs.ZipWriter(new zipjs.Uint8ArrayWriter());
 * await writer.add("pets/train/cats/a.txt", new zipjs.TextReader("a"));
 * await Deno.writeFile(`${dir}/pets.zip`, await writer.close());
 * const { root } = await unzip(`${dir}/pets.zip`); // into <dir>/pets/, once
 * assert.ok(root.endsWith("pets/pets")); // the archive's single top folder
 * ```
 *
 * @module
 */

import { basename, dirname, join, resolve, sep } from "node:path";
import { zipjs } from "../deps/zip.ts";
import { removeQuietly, writeAll } from "../util/fs.ts";
import { errorCode, fsError } from "../util/fs_errors.ts";
import { createStagingDir, type StagingDir } from "../cache/_staging.ts";
import {
  ASIDE_INFIX,
  PARTIAL_INFIX,
  readUnzipMarker,
  removeStaleStaging,
  UNZIP_MARKER,
  type UnzipMarker,
} from "../cache/_unzip_marker.ts";

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
  /** False when a complete extraction (an earlier one, or another process' finished meanwhile) was used. */
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

async function isEmptyOrMissing(dir: string): Promise<boolean> {
  try {
    if (!(await Deno.lstat(dir)).isDirectory) return false;
    for await (const _ of Deno.readDir(dir)) return false;
    return true;
  } catch (e) {
    // Missing, or below a file (then the extraction fails creating it).
    if (
      e instanceof Deno.errors.NotFound ||
      e instanceof Deno.errors.NotADirectory
    ) return true;
    throw e;
  }
}

function firstSegment(name: string): string {
  return name.split("/")[0];
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function ioError(zipPath: string, e: Error): UnzipError {
  return new UnzipError(e.message, zipPath, { kind: "io", cause: e });
}

async function mkdirOrFail(zipPath: string, dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (e) {
    throw ioError(zipPath, fsError("create the folder", dir, e));
  }
}

function isNotEmpty(e: unknown): boolean {
  const code = errorCode(e);
  return code === "ENOTEMPTY" || code === "EEXIST" ||
    e instanceof Deno.errors.AlreadyExists;
}

/**
 * Renames the complete `partial` to `dest`. When `dest` appeared meanwhile:
 * a complete extraction of the same archive is used (and `partial`
 * removed; resolves false); an extraction of another archive is set aside
 * and replaced; anything else is refused.
 */
async function publish(
  zipPath: string,
  partial: string,
  dest: string,
  marker: UnzipMarker,
): Promise<boolean> {
  for (let attempt = 0;; attempt++) {
    try {
      await Deno.rename(partial, dest);
      return true;
    } catch (e) {
      if (!isNotEmpty(e) || attempt >= 3) {
        throw ioError(zipPath, fsError(`move ${partial} to`, dest, e));
      }
    }
    const current = await readUnzipMarker(dest);
    if (
      current && current.zipSize === marker.zipSize &&
      current.zipMtime === marker.zipMtime
    ) {
      await removeQuietly(partial);
      return false;
    }
    if (current === null) {
      throw new UnzipError(
        `Cannot extract ${zipPath} into ${dest}: that folder appeared during the extraction and was not made by one. ` +
          `Move it away or choose another destination.`,
        zipPath,
        { kind: "exists" },
      );
    }
    // An extraction of another archive: set it aside, then retry.
    const aside = `${dest}${ASIDE_INFIX}${crypto.randomUUID().slice(0, 8)}`;
    try {
      await Deno.rename(dest, aside);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        throw ioError(zipPath, fsError(`move ${dest} to`, aside, e));
      }
    }
    try {
      await Deno.rename(partial, dest);
      return true;
    } catch (e) {
      if (!isNotEmpty(e)) {
        throw ioError(zipPath, fsError(`move ${partial} to`, dest, e));
      }
    } finally {
      await removeQuietly(aside);
    }
  }
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
 * (same size and modification time); either way, staging folders of
 * `dest` left by killed processes are removed. Refuses entries that escape the
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
  const previous = await readUnzipMarker(dest);
  if (
    previous && previous.zipSize === stat.size && previous.zipMtime === zipMtime
  ) {
    await removeStaleStaging(dirname(dest), basename(dest));
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

  const parent = dirname(dest);
  try {
    await Deno.mkdir(parent, { recursive: true });
  } catch (e) {
    throw ioError(zipPath, fsError("create the folder", parent, e));
  }
  await removeStaleStaging(parent, basename(dest));

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
    `${basename(dest)}${PARTIAL_INFIX}${crypto.randomUUID().slice(0, 8)}`,
  );
  const files = entries.filter((e) => !e.directory).length;
  let written = 0;
  let bytes = 0;
  let staging: StagingDir;
  try {
    staging = await createStagingDir(partial);
  } catch (e) {
    await reader.close();
    throw ioError(zipPath, fsError("create the folder", partial, e));
  }
  let extracted: boolean;
  try {
    for (const entry of entries) {
      opts.signal?.throwIfAborted();
      const target = join(partial, entry.filename);
      if (entry.directory) {
        await mkdirOrFail(zipPath, target);
        continue;
      }
      await mkdirOrFail(zipPath, dirname(target));
      let out: Deno.FsFile;
      try {
        out = await Deno.open(target, {
          write: true,
          create: true,
          truncate: true,
        });
      } catch (e) {
        throw ioError(zipPath, fsError("create the file", target, e));
      }
      let writeFailure: unknown = null;
      try {
        await entry.getData(
          new WritableStream<Uint8Array>({
            async write(chunk) {
              try {
                await writeAll(out, chunk);
              } catch (e) {
                writeFailure = e;
                throw e;
              }
              bytes += chunk.length;
            },
          }),
          { signal: opts.signal, checkCrc32: true, useWebWorkers: false },
        );
      } catch (e) {
        if (writeFailure !== null) {
          throw ioError(zipPath, fsError("write", target, writeFailure));
        }
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
    const marker: UnzipMarker = {
      version: 1,
      zipSize: stat.size,
      zipMtime,
      files,
      top: singleTop,
      zipPath: resolve(zipPath),
    };
    const markerPath = join(partial, UNZIP_MARKER);
    try {
      await Deno.writeTextFile(markerPath, JSON.stringify(marker));
      await staging.removeOwner();
    } catch (e) {
      throw ioError(zipPath, fsError("write", markerPath, e));
    }
    extracted = await publish(zipPath, partial, dest, marker);
  } catch (e) {
    staging.close();
    await removeQuietly(partial);
    throw e;
  } finally {
    staging.close();
    await reader.close();
  }
  if (!extracted) {
    return {
      dir: dest,
      root: singleTop ? join(dest, singleTop) : dest,
      extracted: false,
      files,
    };
  }
  return {
    dir: dest,
    root: singleTop ? join(dest, singleTop) : dest,
    extracted: true,
    files,
  };
}
