/**
 * The one seeded PRNG of the project (mulberry32), with the seed mixing and
 * the shuffle built on it: shuffles, splits, augmentation and fixtures all
 * draw from it, so a seed means the same thing everywhere.
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

/**
 * A deterministic PRNG (mulberry32) returning floats in [0, 1); the same
 * seed always gives the same sequence.
 */
export function createRng(seed: number): () => number {
  return mulberry32(Math.trunc(seed) ^ 0x9e3779b9);
}

/** Mixes a seed with extra integers (epoch, class index...) into a new seed. */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let h = (Math.trunc(seed) >>> 0) ^ 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (Math.trunc(p) >>> 0), 0x01000193) >>> 0;
    h ^= h >>> 13;
  }
  return h >>> 0;
}

/** Fisher–Yates shuffle of `array` in place with a seeded PRNG; returns it. */
export function shuffleInPlace<T>(array: T[], seed: number): T[] {
  const rand = createRng(seed);
  for (let i = array.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const tmp = array[i];
    array[i] = array[j];
    array[j] = tmp;
  }
  return array;
}
