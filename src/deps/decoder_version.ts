/**
 * The version of the image decoders, as a string kept next to their pins
 * (`codecs.ts`; a test checks the two agree), so that the cache can name its
 * decode folders without loading the codecs.
 *
 * @module
 */

/**
 * The third-party decoders whose output the cache holds (the versions
 * pinned in `src/deps/codecs.ts`; a test checks they agree). Part of the
 * cache key: another decoder version decodes into other entries.
 */
export const DECODER_VERSION =
  "imagescript@1.3.1+tiff@7.1.3+jpeg-turbo@0.1.3+webp@0.1.5+nsbmp@0.1.3";
