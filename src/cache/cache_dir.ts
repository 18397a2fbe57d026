/**
 * Where deno-transfer keeps downloads, extracted archives, decoded images,
 * features and weights (the layout is described, listed and tidied by
 * `cache_inventory.ts` and `deno task cache`).
 *
 * @module
 */

import { join } from "node:path";

/** Folder name used under the user's cache home. */
export const CACHE_DIR_NAME = "deno-transfer";

/**
 * The default cache folder: `$XDG_CACHE_HOME/deno-transfer`, else
 * `~/.cache/deno-transfer` (`%LOCALAPPDATA%\deno-transfer` on Windows).
 * Falls back to `./.cache/deno-transfer` when no home folder is known.
 * Needs `--allow-env` to look at the environment (without it, the fallback).
 */
export function defaultCacheDir(): string {
  const env = (name: string): string | undefined => {
    try {
      const value = Deno.env.get(name);
      return value && value.length > 0 ? value : undefined;
    } catch {
      return undefined; // no --allow-env
    }
  };
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return join(xdg, CACHE_DIR_NAME);
  if (Deno.build.os === "windows") {
    const local = env("LOCALAPPDATA");
    if (local) return join(local, CACHE_DIR_NAME);
  }
  const home = env("HOME") ?? env("USERPROFILE");
  if (home) return join(home, ".cache", CACHE_DIR_NAME);
  return join(".cache", CACHE_DIR_NAME);
}

/** `dir` when given (the `data.cacheDir` override), else {@link defaultCacheDir}. */
export function resolveCacheDir(dir?: string | null): string {
  return dir && dir.length > 0 ? dir : defaultCacheDir();
}
