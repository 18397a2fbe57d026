/**
 * Small helpers every stage shares: hashing (hash.ts), atomic file writes
 * (fs.ts), number formatting (format.ts), the seeded RNG (rng.ts) and step
 * timing (timer.ts).
 *
 * @module
 */

export * from "./hash.ts";
export * from "./fs.ts";
export * from "./format.ts";
export * from "./rng.ts";
export * from "./timer.ts";
export * from "./cache_file.ts";
export * from "./fs_errors.ts";
export * from "./staging.ts";
export * from "./weights_identity.ts";
