/**
 * The one seeded PRNG of the project (mulberry32): shuffles, splits,
 * augmentation and fixtures all draw from it, so a seed means the same thing
 * everywhere.
 *
 * @module
 */

/**
 * mulberry32 from a raw 32-bit state: floats in [0, 1), the same state
 * always giving the same sequence.
 */
export function mulberry32(state: number): () => number {
  let a = state >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
