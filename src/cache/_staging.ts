/**
 * Staging files and folders: what a writer fills before renaming it into
 * place — a download's `<file>.<random>.part`, a cache entry's
 * `.<random>.tmp`, an extraction's `<dest>.partial-<random>/` folder.
 *
 * The writer holds an exclusive lock (`flock`) on the staging file — for a
 * folder, on an owner file inside it — from the moment it is created until
 * it has been renamed into place. The OS drops the lock when the process
 * ends, however it ends (`kill -9` included). So anyone can tell a live
 * writer's staging item from the leftover of a dead one
 * ({@link stagingState}) and remove only leftovers
 * ({@link removeIfStale}), while other runs keep writing into the same
 * cache.
 *
 * The one window without a lock — a file just created, not yet locked — is
 * covered by the writer locking before writing anything: an unlocked file is
 * a leftover only when it holds bytes or is older than
 * {@link STAGING_GRACE_MS}. Where the file system has no locks (tryLock
 * throws), nothing is ever judged a leftover.
 *
 * @module
 */

import { join } from "node:path";

/** An unlocked, empty staging item younger than this may be one being created. */
export const STAGING_GRACE_MS = 60_000;

/** Name of the locked owner file inside a staging folder. */
export const STAGING_OWNER_FILE = ".deno-transfer-owner";

/**
 * Creates the staging file `path` (it must not exist) and locks it; write
 * through the returned handle, rename the path into place, then close the
 * handle (which drops the lock).
 */
export async function createStagingFile(path: string): Promise<Deno.FsFile> {
  const file = await Deno.open(path, {
    read: true,
    write: true,
    createNew: true,
  });
  try {
    await file.lock(true);
  } catch {
    // No locks on this file system: the file is then never judged stale
    // (tryLock throws there too).
  }
  return file;
}

/** A staging folder and the lock that marks it as in use. */
export interface StagingDir {
  /** The folder. */
  path: string;
  /** Removes the owner file (do this just before renaming the folder into place). */
  removeOwner(): Promise<void>;
  /** Drops the lock (closes the owner file). Safe to call twice. */
  close(): void;
}

/**
 * Creates the staging folder `path` (it must not exist; its parent must) and
 * a locked owner file inside it holding this process' id.
 */
export async function createStagingDir(path: string): Promise<StagingDir> {
  await Deno.mkdir(path);
  const ownerPath = join(path, STAGING_OWNER_FILE);
  const owner = await createStagingFile(ownerPath);
  await owner.write(new TextEncoder().encode(`${Deno.pid}\n`));
  let open = true;
  return {
    path,
    removeOwner: () => Deno.remove(ownerPath),
    close: () => {
      if (open) owner.close();
      open = false;
    },
  };
}

/** What {@link stagingState} found. */
export type StagingState = "gone" | "in-use" | "stale";

function age(info: Deno.FileInfo): number {
  return Date.now() - (info.mtime?.getTime() ?? 0);
}

async function fileState(path: string): Promise<StagingState> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "gone";
    return "in-use"; // unreadable: leave it alone
  }
  try {
    let locked: boolean;
    try {
      locked = await file.tryLock(true);
    } catch {
      return "in-use"; // no locks here: never judge
    }
    if (!locked) return "in-use";
    const info = await file.stat();
    return info.size > 0 || age(info) > STAGING_GRACE_MS ? "stale" : "in-use";
  } finally {
    file.close();
  }
}

/**
 * Whether the staging file or folder at `path` is being written by a live
 * process ("in-use"), a leftover of a dead one ("stale"), or gone.
 */
export async function stagingState(path: string): Promise<StagingState> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "gone";
    throw e;
  }
  if (!info.isDirectory) return await fileState(path);
  const owner = await fileState(join(path, STAGING_OWNER_FILE));
  if (owner !== "gone") return owner;
  // No owner file: being created (or renamed into place) right now, or
  // left by a process that died in that instant.
  return age(info) > STAGING_GRACE_MS ? "stale" : "in-use";
}

/** Removes `path` when {@link stagingState} says it is stale; true when removed. */
export async function removeIfStale(path: string): Promise<boolean> {
  if (await stagingState(path) !== "stale") return false;
  try {
    await Deno.remove(path, { recursive: true });
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
