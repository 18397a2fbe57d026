import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { FetchError, fetchFile, fileNameForUrl } from "../../src/data/fetch.ts";
import type { FetchProgress } from "../../src/data/fetch.ts";
import { createProgressPrinter } from "../../src/report/progress.ts";
import { formatBytes, formatDuration } from "../../src/util/format.ts";
import { defaultCacheDir, resolveCacheDir } from "../../src/cache/cache_dir.ts";
import { exists, getFixtures, listDir, serve } from "../_helpers/data.ts";

const sha = (bytes: Uint8Array) =>
  createHash("sha256").update(bytes).digest("hex");

Deno.test("fetch: downloads once, then serves from the cache without a request", async () => {
  const fx = await getFixtures();
  const zip = await Deno.readFile(fx.zips.dataset);
  const server = serve({ "/data/dataset.zip": zip });
  const cacheDir = await Deno.makeTempDir();
  try {
    const progress: FetchProgress[] = [];
    const url = `${server.url}/data/dataset.zip`;
    const first = await fetchFile(url, {
      cacheDir,
      onProgress: (p) => progress.push(p),
    });
    assert.equal(first.cached, false);
    assert.equal(first.path, join(cacheDir, "dataset.zip"));
    assert.equal(first.bytes, zip.length);
    assert.equal(first.sha256, sha(zip));
    assert.deepEqual(await Deno.readFile(first.path), zip);
    assert.deepEqual(server.requests, ["/data/dataset.zip"]);
    const last = progress.at(-1)!;
    assert.equal(last.done, true);
    assert.equal(last.bytes, zip.length);
    assert.equal(last.total, zip.length);
    assert.ok(progress.slice(0, -1).every((p) => !p.done));
    assert.deepEqual(await listDir(cacheDir), ["dataset.zip"]); // no .part left

    const second = await fetchFile(url, {
      cacheDir,
      sha256: sha(zip).toUpperCase(),
    });
    assert.equal(second.cached, true);
    assert.equal(second.path, first.path);
    assert.equal(second.bytes, zip.length);
    assert.equal(server.requests.length, 1, "a cache hit makes no request");
  } finally {
    await server.close();
  }
});

Deno.test("fetch: sha256 mismatch removes the download and says so", async () => {
  const fx = await getFixtures();
  const zip = await Deno.readFile(fx.zips.dataset);
  const server = serve({ "/d.zip": zip });
  const cacheDir = await Deno.makeTempDir();
  const wrong = "0".repeat(64);
  try {
    const url = `${server.url}/d.zip`;
    const err = await fetchFile(url, { cacheDir, sha256: wrong }).then(
      () => assert.fail("expected a mismatch"),
      (e) => e,
    );
    assert.ok(err instanceof FetchError);
    assert.match(err.message, /SHA-256 mismatch/);
    assert.ok(err.message.includes(url));
    assert.ok(err.message.includes(wrong));
    assert.ok(err.message.includes(sha(zip)));
    assert.deepEqual(await listDir(cacheDir), [], "nothing left in the cache");

    // A cached file that does not match the expected hash is fetched again.
    await fetchFile(url, { cacheDir });
    assert.equal(server.requests.length, 2);
    await assert.rejects(
      fetchFile(url, { cacheDir, sha256: wrong }),
      /SHA-256 mismatch/,
    );
    assert.equal(server.requests.length, 3);
    assert.deepEqual(await listDir(cacheDir), []);
  } finally {
    await server.close();
  }
});

Deno.test("fetch: HTTP 404 names the URL, the status and data.path", async () => {
  const server = serve({});
  const cacheDir = await Deno.makeTempDir();
  try {
    const url = `${server.url}/missing.zip`;
    const err = await fetchFile(url, { cacheDir }).then(
      () => assert.fail("expected 404"),
      (e) => e,
    );
    assert.ok(err instanceof FetchError);
    assert.equal(err.status, 404);
    assert.equal(err.url, url);
    assert.ok(err.message.includes(url));
    assert.match(err.message, /HTTP 404/);
    assert.match(err.message, /data\.path/);
    assert.deepEqual(await listDir(cacheDir), []);
  } finally {
    await server.close();
  }
});

Deno.test("fetch: connection refused names the URL and the cause", async () => {
  const server = serve({});
  const url = `${server.url}/x.zip`;
  await server.close(); // nothing listens on that port any more
  const cacheDir = await Deno.makeTempDir();
  const err = await fetchFile(url, { cacheDir }).then(
    () => assert.fail("expected a network error"),
    (e) => e,
  );
  assert.ok(err instanceof FetchError);
  assert.equal(err.status, undefined);
  assert.ok(err.message.includes(url));
  assert.match(err.message, /data\.path/);
  assert.ok(err.message.length > url.length + 40, err.message);
});

Deno.test("fetch: an interrupted download leaves no complete file and no .part", async () => {
  const fx = await getFixtures();
  const zip = await Deno.readFile(fx.zips.dataset);
  // A raw TCP server that promises the whole file, sends half, and hangs up.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    for await (const conn of listener) {
      const buf = new Uint8Array(4096);
      await conn.read(buf); // the request
      const head =
        `HTTP/1.1 200 OK\r\ncontent-type: application/zip\r\ncontent-length: ${zip.length}\r\n\r\n`;
      await conn.write(new TextEncoder().encode(head));
      let off = 0;
      const half = zip.subarray(0, Math.floor(zip.length / 2));
      while (off < half.length) off += await conn.write(half.subarray(off));
      conn.close();
    }
  })();
  const cacheDir = await Deno.makeTempDir();
  const url = `http://127.0.0.1:${listener.addr.port}/cut.zip`;
  try {
    const err = await fetchFile(url, { cacheDir }).then(
      () => assert.fail("expected an interrupted download"),
      (e) => e,
    );
    assert.ok(err instanceof FetchError, String(err));
    assert.ok(err.message.includes(url));
    assert.match(err.message, /interrupted|incomplete/);
    assert.equal(await exists(join(cacheDir, "cut.zip")), false);
    assert.deepEqual(await listDir(cacheDir), []);
  } finally {
    listener.close();
    await served.catch(() => {});
  }
});

Deno.test("fetch: aborting mid-download removes the .part file", async () => {
  let release!: () => void;
  const hold = new Promise<void>((r) => (release = r));
  const server = serve({
    "/slow.zip": () =>
      new Response(
        new ReadableStream<Uint8Array>({
          async start(controller) {
            controller.enqueue(new Uint8Array(1000).fill(7));
            await hold;
            controller.close();
          },
        }),
        { headers: { "content-length": "2000" } },
      ),
  });
  const cacheDir = await Deno.makeTempDir();
  const ac = new AbortController();
  try {
    await assert.rejects(
      fetchFile(`${server.url}/slow.zip`, {
        cacheDir,
        signal: ac.signal,
        onProgress: (p) => {
          if (p.bytes >= 1000) ac.abort();
        },
      }),
    );
    assert.deepEqual(await listDir(cacheDir), []);
  } finally {
    release();
    await server.close();
  }
});

Deno.test("fetch: file names come from the URL and are sanitised", () => {
  assert.equal(
    fileNameForUrl(
      "https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip",
    ),
    "cats_and_dogs_filtered.zip",
  );
  assert.equal(fileNameForUrl("http://h/a%20b.zip?x=1"), "a b.zip");
  assert.equal(fileNameForUrl("http://h/"), "download");
  assert.equal(fileNameForUrl("http://h/%2E%2E"), "download");
  assert.equal(fileNameForUrl("http://h/a%2Fb.zip"), "a_b.zip");
});

Deno.test("progress: plain output is a few lines; TTY output redraws one line", () => {
  const base = { url: "http://h/x.zip", total: 1000, elapsedMs: 1000 };
  const lines: string[] = [];
  const plain = createProgressPrinter({
    label: "x.zip",
    tty: false,
    write: (t) => lines.push(t),
  });
  for (let b = 0; b <= 1000; b += 10) {
    plain({ ...base, bytes: b, bytesPerSecond: b, done: false });
  }
  plain({ ...base, bytes: 1000, bytesPerSecond: 1000, done: true });
  // start + 25/50/75 % + done
  assert.equal(lines.length, 5, lines.join(""));
  assert.match(lines[0], /downloading http:\/\/h\/x\.zip/);
  assert.match(lines[1], / 25%/);
  assert.match(lines[3], / 75%/);
  assert.match(lines[4], /done, 1000 B \/ 1000 B\s+100%/);
  assert.ok(lines.every((l) => l.endsWith("\n") && !l.includes("\r")));

  const out: string[] = [];
  const tty = createProgressPrinter({
    tty: true,
    write: (t) => out.push(t),
    intervalMs: 0,
  });
  tty({ ...base, bytes: 500, bytesPerSecond: 250, done: false });
  tty({ ...base, bytes: 1000, bytesPerSecond: 250, done: true });
  assert.equal(out.length, 2);
  assert.ok(out[0].startsWith("\r"));
  assert.match(out[0], /500 B \/ 1000 B\s+50%\s+250 B\/s\s+ETA 2s/);
  assert.ok(out[1].endsWith("\n"));

  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(68_606_236), "65.4 MiB");
  assert.equal(formatDuration(3725), "1:02:05");
  assert.equal(formatDuration(65), "1:05");
});

Deno.test("cache dir: XDG_CACHE_HOME, else ~/.cache; an explicit dir wins", () => {
  const saved = {
    xdg: Deno.env.get("XDG_CACHE_HOME"),
    home: Deno.env.get("HOME"),
  };
  try {
    Deno.env.set("XDG_CACHE_HOME", "/tmp/xdg-test");
    assert.equal(defaultCacheDir(), join("/tmp/xdg-test", "deno-transfer"));
    Deno.env.delete("XDG_CACHE_HOME");
    Deno.env.set("HOME", "/home/someone");
    if (Deno.build.os !== "windows") {
      assert.equal(defaultCacheDir(), "/home/someone/.cache/deno-transfer");
    }
    assert.equal(resolveCacheDir("/my/cache"), "/my/cache");
    assert.equal(resolveCacheDir(null), defaultCacheDir());
  } finally {
    if (saved.xdg === undefined) Deno.env.delete("XDG_CACHE_HOME");
    else Deno.env.set("XDG_CACHE_HOME", saved.xdg);
    if (saved.home === undefined) Deno.env.delete("HOME");
    else Deno.env.set("HOME", saved.home);
  }
});
