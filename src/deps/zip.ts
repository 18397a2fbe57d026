/**
 * `@zip.js/zip.js`: reading dataset zips and Keras 3 `.keras` archives.
 *
 * @module
 */

export * as zipjs from "npm:@zip.js/zip.js@2.24.0";
