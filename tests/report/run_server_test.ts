/**
 * `serveRun`: a real server on 127.0.0.1 port 0 over a run folder on disk.
 * MIME types per extension, HEAD, redirects, 404/405, and every way out of
 * the folder refused with 403 — plain and percent-encoded `..`, encoded
 * slashes, NUL, backslashes (sent as raw HTTP, which `fetch` would
 * normalise away) and symbolic links pointing out — without the outside
 * file's content ever in a response. Plus the run-folder checks' messages.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { checkRunFolder, serveRun } from "../../src/report/run_server.ts";

const SECRET = "outside-the-run-secret";

async function makeRun(): Promise<{ base: string; run: string }> {
  const base = await Deno.makeTempDir({ prefix: "run_server_" });
  const run = join(base, "run");
  for (const d of ["model", "demo/vendor"]) {
    await Deno.mkdir(join(run, d), { recursive: true });
  }
  const files: Record<string, string> = {
    "model/model.json": '{"format":"layers-model"}',
    "model/weights.bin": "\x00\x01\x02",
    "model/labels.json": '["a","b"]',
    "demo/index.html": "<!DOCTYPE html><title>demo</title>",
    "demo/app.js": "export {};",
    "demo/style.css": "body{}",
    "demo/vendor/x.wasm": "\x00asm",
    "demo/vendor/tf.min.js": "var tf;",
    "summary.json": "{}",
    "MODEL_CARD.md": "# card",
    "charts.svg": "<svg/>",
  };
  for (const [p, text] of Object.entries(files)) {
    await Deno.writeTextFile(join(run, p), text);
  }
  await Deno.writeTextFile(join(base, "secret.txt"), SECRET);
  await Deno.symlink(base, join(run, "link"));
  await Deno.symlink(join(base, "secret.txt"), join(run, "demo", "s.txt"));
  return { base, run };
}

/** One raw HTTP/1.1 request, the target sent exactly as given. */
async function rawGet(
  port: number,
  target: string,
): Promise<{ status: number; text: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
      ),
    );
    const text = await new Response(conn.readable).text();
    return { status: Number(text.split(" ")[1]), text };
  } catch (e) {
    conn.close();
    throw e;
  }
}

Deno.test("serveRun: MIME types, HEAD, redirects, 404 and 405", async () => {
  const { base, run } = await makeRun();
  const lines: string[] = [];
  const server = await serveRun(run, { onRequest: (l) => lines.push(l) });
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal(server.demoUrl, `${server.url}demo/`);
    const want: Record<string, string> = {
      "demo/": "text/html; charset=utf-8",
      "demo/index.html": "text/html; charset=utf-8",
      "demo/app.js": "text/javascript; charset=utf-8",
      "demo/style.css": "text/css; charset=utf-8",
      "demo/vendor/x.wasm": "application/wasm",
      "demo/vendor/tf.min.js": "text/javascript; charset=utf-8",
      "model/model.json": "application/json",
      "model/weights.bin": "application/octet-stream",
      "summary.json": "application/json",
      "MODEL_CARD.md": "text/markdown; charset=utf-8",
      "charts.svg": "image/svg+xml",
    };
    for (const [path, type] of Object.entries(want)) {
      const r = await fetch(server.url + path);
      const body = await r.bytes();
      assert.equal(r.status, 200, path);
      assert.equal(r.headers.get("content-type"), type, path);
      assert.equal(r.headers.get("x-content-type-options"), "nosniff");
      assert.equal(r.headers.get("cache-control"), "no-store");
      const file = path.endsWith("/") ? `${path}index.html` : path;
      assert.deepEqual(body, await Deno.readFile(join(run, file)), path);
    }
    const head = await fetch(server.url + "model/weights.bin", {
      method: "HEAD",
    });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), "3");
    assert.equal((await head.bytes()).length, 0);

    const root = await fetch(server.url, { redirect: "manual" });
    await root.body?.cancel();
    assert.equal(root.status, 302);
    assert.equal(root.headers.get("location"), "/demo/");
    const noSlash = await fetch(server.url + "demo", { redirect: "manual" });
    await noSlash.body?.cancel();
    assert.equal(noSlash.status, 301);
    assert.equal(noSlash.headers.get("location"), "/demo/");

    const missing = await fetch(server.url + "model/nope.json");
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /\/model\/nope\.json: not found/);
    const post = await fetch(server.url + "demo/", { method: "POST" });
    assert.equal(post.status, 405);
    await post.body?.cancel();
    assert.ok(lines.includes("GET /demo/vendor/x.wasm 200"), lines.join("\n"));
    assert.ok(lines.includes("POST /demo/ 405"));
  } finally {
    await server.close();
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("serveRun: nothing outside the run folder is served", async () => {
  const { base, run } = await makeRun();
  const server = await serveRun(run);
  const port = Number(new URL(server.url).port);
  try {
    const targets = [
      "/../secret.txt",
      "/demo/../../secret.txt",
      "/%2e%2e/secret.txt",
      "/%2E%2E/%2E%2E/secret.txt",
      "/demo/..%2f..%2fsecret.txt",
      "/demo/%2e%2e%2f%2e%2e%2fsecret.txt",
      "/..%5csecret.txt",
      "/demo/%00",
      "/link/secret.txt", // a symbolic link to the folder above
      "/demo/s.txt", // a symbolic link to the file outside
    ];
    for (const target of targets) {
      const r = await rawGet(port, target);
      assert.ok(!r.text.includes(SECRET), `${target} leaked the file`);
      // Some are normalised to a path inside by the URL parser (404);
      // the rest are refused.
      assert.ok([403, 404].includes(r.status), `${target}: ${r.status}`);
    }
    for (
      const target of [
        "/demo/..%2f..%2fsecret.txt",
        "/link/secret.txt",
        "/demo/s.txt",
      ]
    ) {
      const r = await rawGet(port, target);
      assert.equal(r.status, 403, target);
      assert.match(r.text, /outside the run folder/);
    }
    // A percent-encoded name inside the folder still works.
    assert.equal((await rawGet(port, "/demo/%61pp.js")).status, 200);
  } finally {
    await server.close();
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("checkRunFolder: a missing folder, a file, a folder without a model", async () => {
  const { base, run } = await makeRun();
  try {
    assert.equal(await checkRunFolder(run), await Deno.realPath(run));
    await assert.rejects(
      checkRunFolder(join(base, "no-such-run")),
      /no run folder .*no-such-run: it does not exist/,
    );
    await assert.rejects(
      checkRunFolder(join(base, "secret.txt")),
      /secret\.txt is not a folder/,
    );
    await Deno.remove(join(run, "model"), { recursive: true });
    await assert.rejects(
      serveRun(run),
      /has no model\/model\.json: pass a run folder made with output\.saveModel/,
    );
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});
