/**
 * Child process of `data_image_set_test.ts` (run with
 * `--v8-flags=--expose-gc`): decodes one folder with and without a decode
 * cache folder and prints, as JSON, how many bytes each result keeps alive
 * after a full garbage collection (V8 heap + array buffers), with the size
 * of the decoded set.
 *
 * `deno run --v8-flags=--expose-gc -A tests/data/_image_set_memory_child.ts DATASET_TRAIN_DIR CACHE_DIR`
 *
 * @module
 */

import { listClassFolder } from "../../src/data/dataset.ts";
import type { ImageSet } from "../../src/data/image_set.ts";
import { decodeImages } from "../../src/data/decode.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");

/** Heap and array-buffer bytes in use after full collections. */
async function retained(): Promise<number> {
  for (let k = 0; k < 3; k++) {
    gc!();
    await new Promise((r) => setTimeout(r, 20));
  }
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external;
}

const [trainDir, cacheDir] = Deno.args;
const folder = await listClassFolder(trainDir);
const size = [96, 96] as const;
const decode = (dir: string | null) =>
  decodeImages(folder.items, {
    imageSize: size,
    classNames: folder.classNames,
    workers: 1,
    cacheDir: dir,
  });

// Warm-up: codecs, worker start-up and module state, then dropped.
await decode(null);
const base = await retained();
const kept: ImageSet[] = [];
kept.push(await decode(cacheDir));
const withCache = (await retained()) - base;
kept.push(await decode(null));
const inMemory = (await retained()) - base - withCache;
console.log(JSON.stringify({
  count: kept[0].count,
  setBytes: kept[0].count * size[0] * size[1] * 3,
  withCache,
  inMemory,
  storage: kept.map((s) => s.storage),
}));
