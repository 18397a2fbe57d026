/**
 * The demo page (`demo/` in a run folder):
 *
 * - its resize is src/data/resize.ts's, bit for bit, on random images
 *   (down, up, same size, both interpolations), and its small helpers
 *   (probabilities of the logit head, top classes, preprocessing.json
 *   checks) do what training does;
 * - the folder holds the page with its CSP and the TF.js browser files,
 *   byte-identical to the pinned npm packages';
 * - end to end: a real tiny run writes it, `deno task serve` (the real
 *   task, a subprocess on 127.0.0.1 port 0) serves it, real headless
 *   Chromium opens it, and files chosen through the page's file input
 *   (DevTools' DOM.setFileInputFiles, the path a user takes) get the
 *   probabilities `predictFiles` (what `deno task predict` runs) gives in
 *   Deno, within 1e-4, on the backend the page picks and on WASM forced, with
 *   no console errors and no request outside the served folder.
 *
 * The browser part is skipped, with a message, only without a Chromium binary.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "../../src/deps/tf.ts";
import { runTraining } from "../../src/run.ts";
import { resizeToRgb } from "../../src/data/resize.ts";
import { decodePixels } from "../../src/data/codecs.ts";
import { loadModel } from "../../src/model/model_io.ts";
import { predictFiles, type Prediction } from "../../src/evaluate/predict.ts";
import {
  BROWSER_JPEG_TURBO_FILE,
  BROWSER_TFJS_FILES,
  browserFilePath,
} from "../../src/deps/browser_tfjs.ts";
import { DEMO_CSP, renderDemoHtml } from "../../src/report/demo_page.ts";
import * as app from "../../src/report/_demo/app.js";
import { photo } from "../../fixtures/photos.ts";
import { encodeJpeg, encodeRgbaPng } from "../../fixtures/make_fixtures.ts";
import { quiet, trainEnv } from "../_helpers/train.ts";
import {
  findChromium,
  launchChromium,
  type Page,
} from "../_helpers/browser.ts";

function randomRgba(w: number, h: number, seed: number): Uint8Array {
  let s = seed >>> 0;
  const out = new Uint8Array(w * h * 4);
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

Deno.test("demo app: resize equals src/data/resize.ts bit for bit", () => {
  const cases: [number, number, number, number][] = [
    [61, 47, 32, 32], // down, non-square source
    [20, 15, 32, 32], // up
    [32, 32, 32, 32], // same size (copy)
    [500, 375, 160, 160],
    [7, 300, 24, 40], // extreme aspect, non-square target
  ];
  let seed = 1;
  for (const [sw, sh, h, w] of cases) {
    for (const interpolation of ["bilinear", "nearest"] as const) {
      for (const channels of [4, 3]) {
        const rgba = randomRgba(sw, sh, seed++);
        const data = channels === 4 ? rgba : rgba.filter((_, i) => i % 4 !== 3);
        const want = resizeToRgb(
          { width: sw, height: sh, channels: channels as 3 | 4, data },
          h,
          w,
          interpolation,
        );
        const got = app.resizeToRgb(
          data,
          sw,
          sh,
          channels,
          h,
          w,
          interpolation,
        );
        assert.deepEqual(
          got,
          want,
          `${sw}×${sh}→${w}×${h} ${interpolation} c=${channels}`,
        );
      }
    }
  }
});

Deno.test("demo app: its JPEG decoder is training's (TF's) on every JPEG of fixtures/tf_decode", async () => {
  const module = await WebAssembly.compile(
    await Deno.readFile(browserFilePath(BROWSER_JPEG_TURBO_FILE)),
  );
  const decoder = app.jpegDecoder(module);
  const dir = join(import.meta.dirname!, "../../fixtures/tf_decode/corpus");
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.name.endsWith(".jpg")) names.push(e.name);
  }
  assert.ok(names.length >= 30, `${names.length} JPEGs`);
  let decoded = 0, refused = 0;
  for (const name of names.sort()) {
    const bytes = await Deno.readFile(join(dir, name));
    let want: { width: number; height: number; data: ArrayLike<number> } | null;
    try {
      const px = await decodePixels(bytes);
      assert.equal(px.channels, 3, name);
      want = { width: px.width, height: px.height, data: px.data };
    } catch {
      want = null;
    }
    if (want === null) {
      assert.throws(() => decoder.decode(bytes), Error, name);
      refused++;
      continue;
    }
    const got = decoder.decode(bytes);
    assert.equal(got.channels, 3);
    assert.deepEqual(
      { width: got.width, height: got.height },
      { width: want.width, height: want.height },
      name,
    );
    assert.ok(
      got.data.every((v: number, i: number) => v === want.data[i]),
      `${name}: pixels differ from training's decode`,
    );
    decoded++;
  }
  assert.ok(
    refused >= 3 && decoded >= 25,
    `${decoded} decoded, ${refused} refused`,
  );
});

Deno.test("demo app: probabilities, top classes and preprocessing.json checks", () => {
  assert.deepEqual(app.classProbabilities([0.2, 0.5, 0.3], 3), [0.2, 0.5, 0.3]);
  // The logit head's single sigmoid output, as src/train/head_output.ts.
  assert.deepEqual(app.classProbabilities([0.25], 2), [0.75, 0.25]);
  assert.throws(() => app.classProbabilities([0.1, 0.9], 3), /2 outputs for 3/);
  assert.deepEqual(
    app.topClasses([0.1, 0.6, 0.3], ["a", "b", "c"], 2).map((t) => t.label),
    ["b", "c"],
  );
  // Ties keep label order.
  assert.deepEqual(
    app.topClasses([0.5, 0.5], ["x", "y"]).map((t) => t.label),
    ["x", "y"],
  );
  const ok = app.readPreprocessing({
    imageSize: [24, 40],
    interpolation: "nearest",
    preprocess: "mobilenet_v2",
  });
  assert.deepEqual(ok, {
    height: 24,
    width: 40,
    interpolation: "nearest",
    preprocess: "mobilenet_v2",
    exifOrientation: "ignore",
  });
  assert.throws(
    () =>
      app.readPreprocessing({
        ...ok,
        imageSize: [24],
        interpolation: "bilinear",
      }),
    /imageSize must be \[height, width\]/,
  );
  assert.throws(
    () =>
      app.readPreprocessing({
        imageSize: [1, 1],
        interpolation: "area",
        preprocess: "mobilenet_v2",
      }),
    /interpolation must be/,
  );
  assert.throws(
    () =>
      app.readPreprocessing({
        imageSize: [1, 1],
        interpolation: "bilinear",
        preprocess: "caffe",
      }),
    /preprocess "caffe" is unknown/,
  );
});

Deno.test("demo page: CSP, classic vendor scripts then the module, no inline script", () => {
  const html = renderDemoHtml("cats <&> dogs", ["vendor/a.js", "vendor/b.js"]);
  assert.ok(html.includes(`content="${DEMO_CSP}"`));
  assert.match(DEMO_CSP, /default-src 'none'/);
  assert.match(DEMO_CSP, /script-src 'self' 'wasm-unsafe-eval';/);
  assert.doesNotMatch(DEMO_CSP, /'unsafe-inline'|'unsafe-eval'|https?:/);
  assert.match(html, /<title>cats &lt;&amp;&gt; dogs: try the model<\/title>/);
  const scripts = [...html.matchAll(/<script([^>]*)>([^<]*)<\/script>/g)];
  assert.deepEqual(scripts.map((m) => m[1].trim()), [
    'src="vendor/a.js"',
    'src="vendor/b.js"',
    'type="module" src="app.js"',
  ]);
  assert.ok(scripts.every((m) => m[2] === ""), "no inline script");
});

// ---------------------------------------------------------------------------
// End to end.

const env = await trainEnv();
Deno.test.afterAll(() => env.close());

const chromium = findChromium();
if (!chromium) {
  console.warn(
    "demo page: no Chromium binary (apt-get install chromium); the browser check is skipped.",
  );
}

/** Tolerance between the page's and Deno's probabilities. */
const TOLERANCE = 1e-4;

/**
 * Log entries Chromium writes by itself in a headless run without a GPU
 * (`--disable-gpu`), whatever the page does: WebGPU has no adapter, and
 * WebGL falls back to SwiftShader with a deprecation notice.
 */
const ENVIRONMENT_LOG = [
  /^rendering: No available adapters\./,
  /^rendering: .*Automatic fallback to software WebGL has been deprecated/,
];

/** Starts `deno task serve RUN` (the task's own command) and reads its URL. */
async function startServeTask(run: string) {
  const root = join(import.meta.dirname!, "../..");
  const task = JSON.parse(await Deno.readTextFile(join(root, "deno.json")))
    .tasks.serve as string;
  const words = task.split(/\s+/);
  assert.deepEqual([words[0], words.at(-1)], ["deno", "tasks/serve.ts"]);
  const child = new Deno.Command(Deno.execPath(), {
    args: [...words.slice(1), run, "--quiet"],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  const deadline = Date.now() + 60_000;
  while (!/demo: (\S+)\n/.test(out)) {
    if (Date.now() > deadline) throw new Error(`serve printed: ${out}`);
    const { value, done } = await reader.read();
    if (done) {
      const err = await new Response(child.stderr).text();
      throw new Error(`serve exited: ${out}\n${err}`);
    }
    out += value;
  }
  const demoUrl = out.match(/demo: (\S+)\n/)![1];
  return {
    out,
    demoUrl,
    async close() {
      child.kill("SIGTERM");
      await child.status;
      await reader.cancel().catch(() => {});
      await child.stderr.cancel().catch(() => {});
    },
  };
}

async function waitFor<T>(
  page: Page,
  expression: string,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await page.evaluate<T>(expression);
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface PageResult {
  file: string;
  decoder?: string;
  probabilities?: number[];
  error?: string;
  shown: string[];
}

/** Opens the demo, chooses `files` in its file input and returns what it shows. */
async function classifyInPage(
  url: string,
  files: string[],
): Promise<{ page: Page; backend: string; results: PageResult[] }> {
  const browser = await launchChromium(chromium!);
  try {
    const page = await browser.openPage();
    await page.goto(url);
    const state = await waitFor<string>(
      page,
      `(() => { const s = document.getElementById("status").dataset.state;
        return s === "loading" ? "" : s + ": " + document.getElementById("status").textContent; })()`,
      "the model to load",
    );
    assert.match(state, /^ready/, state);
    const { root } = await page.send("DOM.getDocument") as {
      root: { nodeId: number };
    };
    const { nodeId } = await page.send("DOM.querySelector", {
      nodeId: root.nodeId,
      selector: "#files",
    }) as { nodeId: number };
    await page.send("DOM.setFileInputFiles", { nodeId, files });
    await waitFor(
      page,
      `document.body.dataset.classified === "${files.length}"`,
      "the results",
    );
    const results = await page.evaluate<PageResult[]>(
      `[...document.querySelectorAll("#results .result")].reverse().map((e) => ({
        file: e.dataset.file,
        decoder: e.dataset.decoder,
        probabilities: e.dataset.probabilities ? JSON.parse(e.dataset.probabilities) : undefined,
        error: e.dataset.error,
        shown: [...e.querySelectorAll("ol.top li")].map((li) =>
          li.querySelector(".label").textContent + " " + li.querySelector(".pct").textContent),
      }))`,
    );
    const backend = await page.evaluate<string>(
      "document.body.dataset.backend",
    );
    return { page, backend, results };
  } finally {
    await browser.close();
  }
}

function checkLog(page: Page, origin: string) {
  assert.deepEqual(page.log.consoleErrors, [], "console errors");
  assert.deepEqual(page.log.exceptions, [], "exceptions");
  const log = page.log.logErrors.filter((l) =>
    !ENVIRONMENT_LOG.some((re) => re.test(l))
  );
  assert.deepEqual(log, [], "log errors (CSP, failed loads)");
  const outside = page.log.requests.filter((u) =>
    !u.startsWith(origin) && !u.startsWith(`blob:${origin}`)
  );
  assert.deepEqual(outside, [], "requests outside the served run");
}

/**
 * The webcam path with Chromium's fake camera (a generated test pattern):
 * frames are classified continuously into probability rows over the
 * classes, and Stop ends the stream.
 */
async function checkWebcam(url: string, classNames: string[], origin: string) {
  const browser = await launchChromium(chromium!, {
    args: [
      "--use-fake-device-for-media-stream",
      "--use-fake-ui-for-media-stream",
    ],
  });
  try {
    const page = await browser.openPage();
    await page.goto(url + "?backend=wasm");
    await waitFor(
      page,
      `document.getElementById("status").dataset.state === "ready"`,
      "the model to load",
    );
    await page.evaluate(`document.getElementById("webcam").click()`);
    await waitFor(
      page,
      `Number(document.getElementById("live").dataset.frames ?? 0) >= 3`,
      "three classified webcam frames",
    );
    const live = await page.evaluate<{ p: number[]; labels: string[] }>(
      `(() => { const live = document.getElementById("live");
        return { p: JSON.parse(live.dataset.probabilities),
          labels: [...live.querySelectorAll("li .label")].map((e) => e.textContent) }; })()`,
    );
    assert.equal(live.p.length, classNames.length);
    assert.ok(Math.abs(live.p.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    assert.deepEqual([...live.labels].sort(), [...classNames].sort());
    await page.evaluate(`document.getElementById("webcam").click()`);
    const after = await waitFor<string>(
      page,
      `(() => { const v = document.getElementById("video");
        return v.srcObject === null ? document.getElementById("webcam").textContent : ""; })()`,
      "the webcam to stop",
    );
    assert.equal(after, "Start webcam");
    checkLog(page, origin);
  } finally {
    await browser.close();
  }
}

Deno.test({
  name: "demo page e2e: Chromium's probabilities equal predict's within 1e-4",
  ignore: !chromium,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const r = await runTraining(
    env.config({ train: { epochs: 2 }, output: { topLosses: 0 } }),
    { log: () => {}, progress: quiet, isTty: false },
  );
  r.model.dispose();
  for (const f of [...BROWSER_TFJS_FILES, BROWSER_JPEG_TURBO_FILE]) {
    const name = f.path.split("/").pop()!;
    assert.deepEqual(
      await Deno.readFile(join(r.dir, "demo", "vendor", name)),
      await Deno.readFile(browserFilePath(f)),
      `${name} is the npm package's file`,
    );
  }
  // Images the page and predict both decode exactly (PNG, lossless): a
  // non-square photo to shrink and a small one to enlarge.
  const images = join(env.dir, "demo-images");
  await Deno.mkdir(images, { recursive: true });
  const files: string[] = [];
  for (const [i, [w, h]] of [[61, 47], [20, 15], [90, 120]].entries()) {
    const file = join(images, `photo${i}.png`);
    await Deno.writeFile(
      file,
      await encodeRgbaPng(photo(11 + i, { width: w, height: h }), w, h),
    );
    files.push(file);
  }
  // JPEGs: decoded in the page by libjpeg-turbo with TF's flags, as training.
  for (const [i, [w, h]] of [[75, 50], [33, 40]].entries()) {
    const file = join(images, `photo${3 + i}.jpg`);
    await Deno.writeFile(
      file,
      encodeJpeg(photo(21 + i, { width: w, height: h }), w, h, 80),
    );
    files.push(file);
  }
  const previous = tf.getBackend();
  await tf.setBackend("cpu");
  const saved = await loadModel(r.dir);
  const want = await predictFiles(saved, files) as Prediction[];
  saved.model.dispose();
  if (previous) await tf.setBackend(previous);
  const serve = await startServeTask(r.dir);
  try {
    assert.match(serve.out, /^serving .* at http:\/\/127\.0\.0\.1:\d+\/\n/);
    const origin = new URL(serve.demoUrl).origin;
    const backends: string[] = [];
    for (const query of ["", "?backend=wasm"]) {
      const { page, backend, results } = await classifyInPage(
        serve.demoUrl + query,
        files,
      );
      backends.push(backend);
      checkLog(page, origin);
      assert.equal(results.length, files.length);
      let maxDiff = 0;
      results.forEach((got, i) => {
        assert.equal(got.error, undefined, got.error);
        assert.equal(got.file, files[i].split("/").pop());
        assert.equal(
          got.decoder,
          files[i].endsWith(".jpg") ? "libjpeg-turbo" : "browser",
        );
        const p = saved.classNames.map((c) => want[i].probabilities[c]);
        assert.equal(got.probabilities!.length, p.length);
        got.probabilities!.forEach((v, c) => {
          maxDiff = Math.max(maxDiff, Math.abs(v - p[c]));
        });
        // The page shows the top class first, as a percentage.
        const [label, pct] = got.shown[0].split(" ");
        assert.equal(label, want[i].label);
        assert.ok(Math.abs(Number(pct) - 100 * want[i].probability) <= 0.011);
      });
      assert.ok(
        maxDiff <= TOLERANCE,
        `backend ${backend}: max |Δp| ${maxDiff} > ${TOLERANCE}`,
      );
      console.log(
        `demo page on ${backend}: max |Δp| vs predict ${
          maxDiff.toExponential(2)
        }`,
      );
    }
    assert.equal(backends[1], "wasm");
    await checkWebcam(serve.demoUrl, saved.classNames, origin);
  } finally {
    await serve.close();
  }
});
