/**
 * Every third-party dependency of deno-transfer, pinned with full `npm:`
 * specifiers so that `mod.ts` resolves even when imported by URL from a
 * folder that has no `deno.json`. Add new dependencies here, nowhere else.
 *
 * @module
 */

export * as tf from "npm:@tensorflow/tfjs@4.22.0";
export { z } from "npm:zod@4.6.7";
export * as imagescript from "npm:imagescript@1.3.1";
export * as zipjs from "npm:@zip.js/zip.js@2.24.0";
