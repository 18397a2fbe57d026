/**
 * The on-disk conventions of an extraction (`unzip.ts`), readable without
 * the zip machinery (the cache inventory reads them): the completion marker
 * written last into an extracted folder, the names of staging folders
 * (`<dest>.partial-<random>` while extracting, `<dest>.stale-<random>` for
 * a replaced extraction set aside), and removing those of killed processes.
 *
 * @module
 */

import { join } from "node:path";
import { removeIfStale } from "./_staging.ts";

/** File name of the completion marker written last into an extracted folder. */
export const UNZIP_MARKER = ".deno-transfer-unzip.json";

/** What the completion marker of an extraction records. */
export interface UnzipMarker {
  /** Marker format. */
  version: 1;
  /** Size of the archive extracted. */
  zipSize: number;
  /** Modification time (ms) of the archive extracted. */
  zipMtime: number | null;
  /** Files in the archive. */
  files: number;
  /** The archive's single top folder, if any. */
  top: string | null;
  /** Absolute path of the archive extracted (absent in older markers). */
  zipPath?: string;
}

/** The completion marker of the extraction in `dir`, or null when there is none (or it is unreadable). */
export async function readUnzipMarker(
  dir: string,
): Promise<UnzipMarker | null> {
  try {
    const marker = JSON.parse(
      await Deno.readTextFile(join(dir, UNZIP_MARKER)),
    ) as UnzipMarker;
    return marker?.version === 1 ? marker : null;
  } catch {
    return null;
  }
}

/** What separates a destination's name from the random part of its staging folders. */
export const PARTIAL_INFIX = ".partial-";
/** What separates a destination's name from the random part of a replaced extraction set aside. */
export const ASIDE_INFIX = ".stale-";

/**
 * Removes staging folders of `name` in `parent` left by killed processes
 * (partial extractions, replaced extractions set aside); those of live
 * processes stay.
 */
export async function removeStaleStaging(
  parent: string,
  name: string,
): Promise<void> {
  const prefixes = [`${name}${PARTIAL_INFIX}`, `${name}${ASIDE_INFIX}`];
  try {
    for await (const e of Deno.readDir(parent)) {
      if (prefixes.some((p) => e.name.startsWith(p))) {
        await removeIfStale(join(parent, e.name));
      }
    }
  } catch {
    // best effort
  }
}
