/**
 * Child process of `codecs_test.ts`: with `bomb`, decodes one file through
 * `decodePixels` and through `decodeImages` (one worker) with the default
 * `maxImagePixels`; with `baseline`, only reads it after loading the same
 * modules and decoding a tiny image. Prints, as JSON, the reasons and the
 * peak resident memory (VmHWM, bytes).
 *
 * `deno run -A tests/data/_bomb_child.ts bomb|baseline FILE SMALL_IMAGE`
 *
 * @module
 */

import { decodePixels } from "../../src/data/codecs.ts";
import { decodeImages } from "../../src/data/decode.ts";

const [mode, file, small] = Deno.args;
await decodePixels(await Deno.readFile(small)); // codecs loaded and warm
const bytes = await Deno.readFile(file);
const reasons: string[] = [];
if (mode === "bomb") {
  try {
    await decodePixels(bytes);
  } catch (e) {
    reasons.push((e as Error).message);
  }
  const set = await decodeImages([{ path: file, label: 0, className: "a" }], {
    imageSize: [8, 8],
    classNames: ["a"],
    workers: 1,
    warn: () => {},
  });
  reasons.push(...set.skipped.map((s) => s.reason));
}
const status = await Deno.readTextFile("/proc/self/status");
const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
console.log(JSON.stringify({ reasons, peak: hwm, size: bytes.length }));
