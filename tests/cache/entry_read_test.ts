/**
 * Reads into reused buffers (`src/cache/_entry_read.ts`): whole files of any
 * size in any order through one scratch buffer, and cache entries verified
 * with exactly `readCacheFile`'s answers.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  readEntry,
  readEntrySync,
  readFileInto,
  readFileIntoSync,
  Scratch,
} from "../../src/cache/_entry_read.ts";
import { readCacheFile, writeCacheFile } from "../../src/cache/cache_file.ts";
import { sha256Hex } from "../../src/util/hash.ts";

function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);
}

Deno.test("readFileInto: files larger and smaller than the buffer, one scratch, async and sync", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sizes = [10, 5000, 0, 3, 70000, 64];
    const files = sizes.map((n, k) => ({
      path: join(dir, `f${k}`),
      data: bytes(n, k),
    }));
    for (const f of files) await Deno.writeFile(f.path, f.data);
    const scratch = new Scratch(16);
    for (const f of files) {
      assert.deepEqual(await readFileInto(f.path, scratch), f.data, f.path);
      assert.deepEqual(readFileIntoSync(f.path, scratch), f.data, f.path);
    }
    await assert.rejects(
      () => readFileInto(join(dir, "none"), scratch),
      Deno.errors.NotFound,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readEntry: the same answers and reasons as readCacheFile, with the data's SHA-256", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = bytes(3000, 1);
    const good = join(dir, "good");
    await writeCacheFile(good, "k", data);
    const file = await Deno.readFile(good);
    const cases: Record<string, Uint8Array> = {
      good: file,
      flipped: file.map((b, i) => (i === file.length - 9 ? b ^ 4 : b)),
      truncated: file.subarray(0, file.length - 10),
      raw: data,
      "other-key": await (async () => {
        const p = join(dir, "tmp");
        await writeCacheFile(p, "other", data);
        return await Deno.readFile(p);
      })(),
    };
    const scratch = new Scratch();
    for (const [name, content] of Object.entries(cases)) {
      const path = join(dir, name);
      await Deno.writeFile(path, content);
      const expected = await readCacheFile(path, "k");
      for (
        const got of [
          await readEntry(path, "k", scratch),
          readEntrySync(path, "k", scratch),
        ]
      ) {
        if (expected.ok) {
          assert.ok(got.ok, name);
          assert.deepEqual(got.data, expected.data, name);
          assert.equal(got.sha256, sha256Hex(expected.data), name);
        } else assert.deepEqual(got, expected, name);
      }
    }
    assert.deepEqual(await readEntry(join(dir, "none"), "k", scratch), {
      ok: false,
      missing: true,
    });
    // A folder in its place is unreadable, with the path and the cause.
    await Deno.mkdir(join(dir, "folder"));
    const folder = await readEntry(join(dir, "folder"), "k", scratch);
    assert.ok(!folder.ok && !folder.missing);
    assert.match(folder.reason, /^Cannot read .*folder/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
