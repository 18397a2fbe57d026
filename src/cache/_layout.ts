/**
 * The layout of a cache folder (`data.cacheDir`): the names of its parts,
 * how leftovers of interrupted writes are named, and a sorted listing of a
 * folder. What each part holds and when it is stale is decided in
 * `cache_inventory.ts`.
 *
 * ```
 * <name>.zip                     downloads (data.url)
 * <name>/                        its extraction (completion marker inside)
 * extracted/<name>-<hash>/       extractions of local zips (data.path)
 * decoded/v3-160x160-bilinear-imagescript@1.3.1+tiff@7.1.3+jpeg-turbo@0.1.3+webp@0.1.5/ab/<sha>.rgb
 *                                decoded images per size, interpolation,
 *                                cache version and decoder version
 * features/<key>.f32             pooled features of the frozen base
 * weights/<name>-<hash>.h5       downloaded weights (also <name>.h5 at the top)
 * weights-sha256/<hash>.json     remembered SHA-256 of weights files
 * ```
 *
 * Leftovers of killed processes: `*.part` downloads, `.*.tmp` cache writes,
 * `*.partial-*` extractions and `*.stale-*` replaced extractions (see
 * `src/cache/_staging.ts` for how a live writer is told from a dead one).
 *
 * @module
 */

import { ASIDE_INFIX, PARTIAL_INFIX } from "./_unzip_marker.ts";

/** Top-level folder of decoded images. */
export const DECODED = "decoded";
/** Top-level folder of feature files. */
export const FEATURES = "features";
/** Top-level folder of extractions of local zips. */
export const EXTRACTED = "extracted";
/** Top-level folder of downloaded weights. */
export const WEIGHTS = "weights";

const PART = /\.[0-9a-f]{8}\.part$/;
const TMP = /^\.[0-9a-f]{8}\.tmp$/;
const STAGING_DIR = new RegExp(
  `(${PARTIAL_INFIX.replace(".", "\\.")}|${
    ASIDE_INFIX.replace(".", "\\.")
  })[0-9a-f]{8}$`,
);

/** Why a name is a leftover of an interrupted write, or null. */
export function leftoverKind(name: string, isDir: boolean): string | null {
  if (isDir) {
    if (!STAGING_DIR.test(name)) return null;
    return name.includes(PARTIAL_INFIX)
      ? "interrupted extraction"
      : "replaced extraction set aside";
  }
  if (PART.test(name)) return "interrupted download";
  if (TMP.test(name)) return "unfinished cache write";
  return null;
}

/** The entries of `dir` sorted by name; none when it is missing or not a folder. */
export async function listDir(dir: string): Promise<Deno.DirEntry[]> {
  const out: Deno.DirEntry[] = [];
  try {
    for await (const e of Deno.readDir(dir)) out.push(e);
  } catch (e) {
    if (
      e instanceof Deno.errors.NotFound ||
      e instanceof Deno.errors.NotADirectory
    ) return out;
    throw e;
  }
  return out.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}
