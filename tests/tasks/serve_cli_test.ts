/**
 * `deno task serve` as a subprocess, with the task's own permission flags
 * (read from deno.json): it prints the URL it serves on (127.0.0.1, a free
 * port) and serves the run; a run without `demo/` gets one written first;
 * a missing run, a folder without a model, no argument or a bad port fail
 * with a message and exit 1 or 2.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  finished,
  spawnTask,
  taskFlags as runFlags,
} from "../_helpers/tasks.ts";

/** `deno run <flags>` of the serve task. */
const taskFlags = () => runFlags("serve", "tasks/serve.ts");
const serve = (args: string[], flags: string[]) =>
  spawnTask("tasks/serve.ts", flags, args);

Deno.test("serve task: bad arguments and runs fail with a message", async () => {
  const flags = await taskFlags();
  const dir = await Deno.makeTempDir({ prefix: "serve_cli_" });
  try {
    const missing = await finished(serve([join(dir, "runs/nope")], flags));
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /^error: no run folder .*runs\/nope: it does not exist\n$/,
    );
    const noModel = await finished(serve([dir], flags));
    assert.equal(noModel.code, 1);
    assert.match(noModel.stderr, /has no model\/model\.json/);
    const none = await finished(serve([], flags));
    assert.equal(none.code, 2);
    assert.match(none.stderr, /expected one run folder, got 0/);
    const port = await finished(serve([dir, "--port", "http"], flags));
    assert.equal(port.code, 2);
    assert.match(
      port.stderr,
      /--port: expected an integer 0–65535, got "http"/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve task: writes a missing demo page, prints the URL, serves the run", async () => {
  const flags = await taskFlags();
  const dir = await Deno.makeTempDir({ prefix: "serve_cli_" });
  const run = join(dir, "old-run");
  await Deno.mkdir(join(run, "model"), { recursive: true });
  await Deno.writeTextFile(join(run, "model", "model.json"), "{}");
  const child = serve([run], flags);
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  try {
    let out = "";
    while (!out.includes("demo: ") || !out.endsWith("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    const m = out.match(
      /^serving (.+) at (http:\/\/127\.0\.0\.1:\d+\/)\ndemo: (\S+)\n$/,
    );
    assert.ok(m, out);
    assert.equal(m[1], await Deno.realPath(run));
    assert.equal(m[3], `${m[2]}demo/`);
    const page = await fetch(m[3]);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>old-run: try the model<\/title>/);
    const wasm = await fetch(`${m[2]}demo/vendor/tfjs-backend-wasm-simd.wasm`);
    assert.equal(wasm.headers.get("content-type"), "application/wasm");
    await wasm.body?.cancel();
    const model = await fetch(`${m[2]}model/model.json`);
    assert.equal(await model.text(), "{}");
  } finally {
    child.kill("SIGTERM");
    await reader.cancel().catch(() => {});
    await child.status;
  }
  try {
    const err = await stderr;
    assert.match(
      err,
      /wrote .*old-run\/demo\/index\.html \(the run had no demo page\)/,
    );
    assert.match(err, /GET \/demo\/ 200/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
