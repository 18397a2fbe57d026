/**
 * Downloads and extractions sharing one cache: two at once both succeed and
 * a finished download is never replaced; `.part` files and partial
 * extractions are removed only when their writer is gone (its lock
 * released), never while it is alive; URL-hashed file names.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  fetchFile,
  fileNameForUrl,
  partFilePattern,
} from "../../src/data/fetch.ts";
import { UNZIP_MARKER } from "../../src/cache/_unzip_marker.ts";
import { unzip } from "../../src/data/unzip.ts";
import {
  createStagingDir,
  createStagingFile,
  STAGING_GRACE_MS,
  STAGING_OWNER_FILE,
  stagingState,
} from "../../src/cache/_staging.ts";
import { exists, getFixtures, listDir, serve } from "../_helpers/data.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

Deno.test("fileNameForUrl hashed: one file per URL, extension kept", () => {
  const url =
    "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_160_no_top.h5";
  const h = sha(new TextEncoder().encode(url)).slice(0, 8);
  assert.equal(
    fileNameForUrl(url, { hashed: true }),
    `mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_160_no_top-${h}.h5`,
  );
  assert.equal(fileNameForUrl(url), fileNameForUrl(url, { hashed: false }));
  const a = fileNameForUrl("http://a/x/model.weights.h5", { hashed: true });
  const b = fileNameForUrl("http://b/x/model.weights.h5", { hashed: true });
  assert.match(a, /^model-[0-9a-f]{8}\.weights\.h5$/);
  assert.notEqual(a, b, "same name, other URL: another file");
  assert.match(
    fileNameForUrl("http://h/", { hashed: true }),
    /^download-[0-9a-f]{8}$/,
  );
  assert.match(
    fileNameForUrl("http://h/d.tar.gz?v=2", { hashed: true }),
    /^d-[0-9a-f]{8}\.tar\.gz$/,
  );
  assert.ok(partFilePattern("a+b.zip").test("a+b.zip.0123abcd.part"));
  assert.ok(!partFilePattern("a+b.zip").test("aab.zip.0123abcd.part"));
});

Deno.test("staging: a locked file or folder is in use; once its writer is gone it is stale", async () => {
  const dir = await Deno.makeTempDir();
  const file = join(dir, "x.zip.0123abcd.part");
  const handle = await createStagingFile(file);
  await handle.write(new Uint8Array([1, 2, 3]));
  assert.equal(await stagingState(file), "in-use");
  handle.close();
  assert.equal(await stagingState(file), "stale");
  // Empty and unlocked: maybe just created, not yet locked — in use while young.
  const empty = join(dir, ".0123abcd.tmp");
  await Deno.writeFile(empty, new Uint8Array(0));
  assert.equal(await stagingState(empty), "in-use");
  const old = new Date(Date.now() - STAGING_GRACE_MS - 1000);
  await Deno.utime(empty, old, old);
  assert.equal(await stagingState(empty), "stale");

  const folder = await createStagingDir(join(dir, "d.partial-0123abcd"));
  assert.equal(await stagingState(folder.path), "in-use");
  folder.close();
  assert.equal(await stagingState(folder.path), "stale");
  assert.equal(await stagingState(join(dir, "missing")), "gone");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("fetch: two downloads of one URL at once both succeed; the first finished copy stays", async () => {
  const fx = await getFixtures();
  const zip = await Deno.readFile(fx.zips.dataset);
  const server = serve({ "/d.zip": zip });
  const cacheDir = await Deno.makeTempDir();
  try {
    const url = `${server.url}/d.zip`;
    const [a, b] = await Promise.all([
      fetchFile(url, { cacheDir }),
      fetchFile(url, { cacheDir }),
    ]);
    assert.equal(a.path, b.path);
    assert.deepEqual(await Deno.readFile(a.path), zip);
    assert.deepEqual(await listDir(cacheDir), ["d.zip"]);
    assert.deepEqual(
      [a.cached, b.cached].sort(),
      [false, true],
      "one put its copy in place, the other used it",
    );
    // A later download finishing (e.g. after a sha256 check of a cached
    // copy failed elsewhere) never swaps the inode under readers.
    const ino = (await Deno.stat(a.path)).ino;
    await fetchFile(url, { cacheDir, sha256: sha(zip) });
    assert.equal((await Deno.stat(a.path)).ino, ino);
  } finally {
    await server.close();
  }
});

Deno.test("fetch: a dead download's .part is removed, a live one's is not", async () => {
  const fx = await getFixtures();
  const zip = await Deno.readFile(fx.zips.dataset);
  const server = serve({ "/d.zip": zip });
  const cacheDir = await Deno.makeTempDir();
  try {
    const dead = join(cacheDir, "d.zip.0000dead.part");
    await Deno.writeFile(dead, zip.subarray(0, 100)); // no lock: its writer died
    const alive = join(cacheDir, "d.zip.0000beef.part");
    const handle = await createStagingFile(alive);
    await handle.write(zip.subarray(0, 100));
    try {
      const r = await fetchFile(`${server.url}/d.zip`, { cacheDir });
      assert.deepEqual(await Deno.readFile(r.path), zip);
      assert.deepEqual(await listDir(cacheDir), [
        "d.zip",
        "d.zip.0000beef.part",
      ]);
    } finally {
      handle.close();
    }
  } finally {
    await server.close();
  }
});

Deno.test("unzip: two extractions of one archive at once both succeed; live partials of others stay, dead ones go", async () => {
  const fx = await getFixtures();
  const dir = await Deno.makeTempDir();
  const zip = join(dir, "tiny.zip");
  await Deno.copyFile(fx.zips.dataset, zip);
  const dest = join(dir, "tiny");
  // Another process' extraction in progress (locked), and a dead one's.
  const live = await createStagingDir(join(dir, "tiny.partial-0000beef"));
  await Deno.mkdir(join(dir, "tiny.partial-0000dead"));
  await Deno.writeTextFile(
    join(dir, "tiny.partial-0000dead", STAGING_OWNER_FILE),
    "123\n",
  );
  try {
    const [a, b] = await Promise.all([unzip(zip), unzip(zip)]);
    assert.equal(a.root, b.root);
    assert.ok(await exists(join(dest, UNZIP_MARKER)));
    assert.equal(a.files, b.files);
    for (const img of fx.images) {
      assert.deepEqual(
        await Deno.readFile(join(a.root, img.rel)),
        await Deno.readFile(join(fx.datasetDir, img.rel)),
      );
    }
    assert.deepEqual(await listDir(dir), [
      "tiny",
      "tiny.partial-0000beef",
      "tiny.zip",
    ]);
  } finally {
    live.close();
  }
  // Its writer gone, the next extraction takes it away.
  await unzip(zip);
  assert.deepEqual(await listDir(dir), ["tiny", "tiny.zip"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("fetch: a weights download names its own settings on a SHA-256 mismatch", async () => {
  const server = serve({ "/w.h5": new Uint8Array(1000).fill(3) });
  const cacheDir = await Deno.makeTempDir();
  try {
    const err = await fetchFile(`${server.url}/w.h5`, {
      cacheDir,
      fileName: fileNameForUrl(`${server.url}/w.h5`, { hashed: true }),
      sha256: "0".repeat(64),
      sha256Setting: "model.sha256",
      hint: "Check model.weights.",
    }).then(() => assert.fail("accepted"), (e) => e);
    assert.match(err.message, /Fix model\.sha256 \(or set it to null\)/);
    assert.match(err.message, /Check model\.weights\.$/);
    assert.doesNotMatch(err.message, /data\./);
    assert.deepEqual(await listDir(cacheDir), [], "the download was removed");
  } finally {
    await server.close();
  }
});
