/**
 * Small helpers every layer shares, at the bottom of the import order: hashing
 * (`hash.ts`), atomic writes and stat (`fs.ts`), file-system errors a user can
 * act on (`fs_errors.ts`), human-readable numbers (`format.ts`), the one seeded
 * PRNG (`rng.ts`), step timing (`timer.ts`) and typed-array helpers
 * (`arrays.ts`).
 *
 * @module
 */

export { concatRows } from "./arrays.ts";
export { formatBytes, formatDuration } from "./format.ts";
export { removeQuietly, statOrNull, writeAll, writeFileAtomic } from "./fs.ts";
export {
  checkWritableDir,
  describeFsCause,
  errorCode,
  FsError,
  fsError,
} from "./fs_errors.ts";
export { createSha256, md5File, sha256File, sha256Hex } from "./hash.ts";
export { createRng, deriveSeed, mulberry32, shuffleInPlace } from "./rng.ts";
export { StepTimer } from "./timer.ts";
