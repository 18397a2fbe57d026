/**
 * File-system errors as messages a user can act on: what was being done,
 * to which path, and the cause in words ("no space left on the device",
 * "a part of the path is a file, not a folder") with the errno code, instead
 * of a bare `os error 28`. The original error stays as `cause`. And
 * {@link checkWritableDir}, to fail before any work when a configured folder
 * cannot be written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fsError } from "./fs_errors.ts";
 * const file = await Deno.makeTempFile();
 * try {
 *   await Deno.mkdir(`${file}/sub`, { recursive: true });
 * } catch (e) {
 *   const err = fsError("create the folder", `${file}/sub`, e);
 *   // "Cannot create the folder …/sub: a part of the path is a file, not a folder (ENOTDIR)"
 *   assert.match(err.message, /a part of the path is a file/);
 * }
 * ```
 *
 * @module
 */

import { join } from "node:path";

const CAUSES: Record<string, string> = {
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOTDIR: "a part of the path is a file, not a folder",
  ENOENT: "no such file or folder",
  EISDIR: "it is a folder, not a file",
  EEXIST: "it already exists",
  ENOTEMPTY: "the folder is not empty",
  ENAMETOOLONG: "the name is too long",
  EMFILE: "too many open files",
  ENFILE: "too many open files in the system",
  EIO: "input/output error",
  EXDEV: "source and destination are on different file systems",
  ELOOP: "too many symbolic links",
};

/** The errno-style code of a Deno or Node error (`"ENOSPC"`), if any. */
export function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * The cause of a file-system error in words, with its code:
 * `"no space left on the device (ENOSPC)"`. A missing Deno permission says
 * which flag is missing; anything else falls back to the error's message.
 */
export function describeFsCause(e: unknown): string {
  if (e instanceof Deno.errors.NotCapable) {
    return `Deno permission missing (${
      e.message.replace(/^Requires /, "requires ")
    })`;
  }
  const code = errorCode(e);
  if (code && CAUSES[code]) return `${CAUSES[code]} (${code})`;
  return e instanceof Error ? e.message : String(e);
}

/** A file-system operation that failed; the message names the action, the path and the cause. */
export class FsError extends Error {
  /** The path the operation was on. */
  readonly path: string;
  /** The errno-style code of the cause (`"ENOSPC"`), when known. */
  readonly code?: string;
  /** Builds the error; see {@link fsError}. */
  constructor(message: string, path: string, cause: unknown) {
    super(message, { cause });
    this.name = "FsError";
    this.path = path;
    this.code = errorCode(cause);
  }
}

/**
 * Wraps the file-system error `e` of `action` on `path` as an
 * {@link FsError}: `Cannot <action> <path>: <cause>[. <hint>]`. An
 * `AbortError` or an error that is already an {@link FsError} is returned
 * unchanged.
 */
export function fsError(
  action: string,
  path: string,
  e: unknown,
  hint?: string,
): Error {
  if (e instanceof FsError) return e;
  if (e instanceof DOMException && e.name === "AbortError") return e;
  return new FsError(
    `Cannot ${action} ${path}: ${describeFsCause(e)}${hint ? `. ${hint}` : ""}`,
    path,
    e,
  );
}

/**
 * Makes sure the folder `dir` (the value of the setting `setting`, e.g.
 * `"data.cacheDir"`) can be written: creates it, then writes and removes a
 * one-byte file `.<random>.tmp` in it. Fails with an {@link FsError} naming
 * the setting, the folder and the cause — before any work is done, rather
 * than after it.
 */
export async function checkWritableDir(
  dir: string,
  setting: string,
): Promise<void> {
  const hint = `Set ${setting} to a folder this user can write to`;
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (e) {
    throw fsError(`create ${setting}`, dir, e, hint);
  }
  const probe = join(dir, `.${crypto.randomUUID().slice(0, 8)}.tmp`);
  try {
    await Deno.writeFile(probe, new Uint8Array([1]), { createNew: true });
    await Deno.remove(probe);
  } catch (e) {
    throw fsError(`write into ${setting}`, dir, e, hint);
  }
}
