/**
 * weightsSha256 / weightsIdentity: a repeat call reads the memo instead of
 * the file; every way of swapping the file's bytes behind an unchanged
 * size and mtime is caught (new inode, or same inode with a new ctime); a
 * corrupt memo, a file without inode or one changed just before hashing
 * mean hashing again. Reference: SHA-256 of the bytes by node:crypto.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  fileStamp,
  memoMatches,
  RACY_MARGIN_MS,
  safeToMemo,
  weightsIdentity,
  weightsMemoPath,
  weightsSha256,
} from "../../src/cache/weights_identity.ts";

const sha = (bytes: Uint8Array) =>
  createHash("sha256").update(bytes).digest("hex");

function bytesOf(seed: number, n = 50_000): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Files whose last change is old enough to be memoised ({@link RACY_MARGIN_MS}). */
async function settledFiles(dir: string, names: string[]) {
  const contents = new Map<string, Uint8Array>();
  for (const [i, name] of names.entries()) {
    const data = bytesOf(i + 1);
    await Deno.writeFile(join(dir, name), data);
    contents.set(name, data);
  }
  await new Promise((r) => setTimeout(r, RACY_MARGIN_MS + 1100));
  return contents;
}

Deno.test("weights identity: memo hit, and swaps behind the same size and mtime are detected", async () => {
  const dir = await Deno.makeTempDir();
  const cacheDir = join(dir, "cache");
  const files = await settledFiles(dir, ["a.h5", "b.h5", "c.h5"]);
  const a = join(dir, "a.h5");

  // First call hashes and writes the memo; the second reads it.
  const first = await weightsIdentity(a, { cacheDir });
  assert.equal(first.sha256, sha(files.get("a.h5")!));
  assert.deepEqual([first.fromMemo, first.why, first.memo], [
    false,
    "no-memo",
    "written",
  ]);
  const again = await weightsIdentity(a, { cacheDir });
  assert.deepEqual([again.sha256, again.fromMemo], [first.sha256, true]);
  assert.equal(await weightsSha256(a, { cacheDir }), first.sha256);

  // Swap 1: other bytes of the same length copied to a temp file, renamed
  // over it (a new inode), mtime set back to the old one.
  const before = await Deno.stat(a);
  const swapped = bytesOf(99);
  const tmp = join(dir, "a.h5.tmp");
  await Deno.writeFile(tmp, swapped);
  await Deno.rename(tmp, a);
  await Deno.utime(a, before.atime!, before.mtime!);
  const after = await Deno.stat(a);
  assert.equal(after.size, before.size);
  assert.equal(after.mtime!.getTime(), before.mtime!.getTime());
  assert.notEqual(after.ino, before.ino, "rename gives a new inode");
  const r1 = await weightsIdentity(a, { cacheDir });
  assert.equal(r1.fromMemo, false);
  assert.equal(r1.why, "changed");
  assert.equal(r1.sha256, sha(swapped));

  // Swap 2: rewritten in place (same inode), same length, mtime set back.
  // Only the ctime moves, which nobody can set.
  const b = join(dir, "b.h5");
  const hashedB = await weightsIdentity(b, { cacheDir });
  assert.equal(hashedB.memo, "written");
  const bBefore = await Deno.stat(b);
  const inPlace = bytesOf(77);
  {
    using f = await Deno.open(b, { write: true });
    let off = 0;
    while (off < inPlace.length) off += await f.write(inPlace.subarray(off));
  }
  await Deno.utime(b, bBefore.atime!, bBefore.mtime!);
  const bAfter = await Deno.stat(b);
  assert.equal(bAfter.ino, bBefore.ino, "same inode");
  assert.equal(bAfter.size, bBefore.size);
  assert.equal(bAfter.mtime!.getTime(), bBefore.mtime!.getTime());
  assert.notEqual(bAfter.ctime!.getTime(), bBefore.ctime!.getTime());
  const r2 = await weightsIdentity(b, { cacheDir });
  assert.deepEqual([r2.fromMemo, r2.why], [false, "changed"]);
  assert.equal(r2.sha256, sha(inPlace));

  // A corrupt memo is not trusted.
  const c = join(dir, "c.h5");
  await weightsIdentity(c, { cacheDir });
  const memo = weightsMemoPath(cacheDir, c);
  const raw = await Deno.readFile(memo);
  raw[raw.length - 5] ^= 1;
  await Deno.writeFile(memo, raw);
  const r3 = await weightsIdentity(c, { cacheDir });
  assert.deepEqual([r3.fromMemo, r3.why], [false, "no-memo"]);
  assert.equal(r3.sha256, sha(files.get("c.h5")!));

  // Without a cache folder: always hashed.
  const r4 = await weightsIdentity(c, { cacheDir: null });
  assert.deepEqual([r4.fromMemo, r4.why, r4.memo], [false, "no-cache", "none"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("weights identity: a file changed just before hashing is not memoised", async () => {
  const dir = await Deno.makeTempDir();
  const cacheDir = join(dir, "cache");
  const w = join(dir, "fresh.h5");
  await Deno.writeFile(w, bytesOf(5));
  const r = await weightsIdentity(w, { cacheDir });
  assert.equal(r.sha256, sha(bytesOf(5)));
  assert.equal(r.memo, "racy");
  const again = await weightsIdentity(w, { cacheDir });
  assert.equal(again.fromMemo, false, "hashed again");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("weights identity: the memo rules (no inode, any stamp differing, racy times)", async () => {
  const dir = await Deno.makeTempDir();
  const w = join(dir, "w.h5");
  await Deno.writeFile(w, bytesOf(3));
  const stamp = fileStamp(w, await Deno.stat(w));
  assert.ok(memoMatches(stamp, stamp));
  assert.equal(memoMatches(stamp, { ...stamp, ino: null }), false);
  assert.equal(
    memoMatches({ ...stamp, ino: null }, { ...stamp, ino: null }),
    false,
  );
  for (
    const k of ["size", "mtimeMs", "ctimeMs", "ino", "dev"] as const
  ) {
    assert.equal(
      memoMatches(stamp, { ...stamp, [k]: (stamp[k] ?? 0) + 1 }),
      false,
      k,
    );
  }
  assert.equal(memoMatches(stamp, { ...stamp, path: `${w}x` }), false);
  const t = stamp.mtimeMs!;
  const settled = { ...stamp, mtimeMs: t, ctimeMs: t };
  assert.equal(safeToMemo(settled, t + RACY_MARGIN_MS), true);
  assert.equal(safeToMemo(settled, t + RACY_MARGIN_MS - 1), false);
  assert.equal(
    safeToMemo({ ...settled, ctimeMs: t + 1000 }, t + RACY_MARGIN_MS),
    false,
  );
  assert.equal(
    safeToMemo({ ...settled, mtimeMs: null, ctimeMs: null }, t + 1e9),
    false,
  );
  await assert.rejects(
    weightsSha256(join(dir, "missing.h5"), { cacheDir: null }),
    /Weights file not found: .*missing\.h5/,
  );
  await Deno.remove(dir, { recursive: true });
});
