/**
 * `demo/` in a run folder (`output.demo`): a page that classifies images
 * chosen, dropped or seen by the webcam, in the browser, with the run's
 * `model/` (TF.js layers format), preprocessed as training did
 * (`model/preprocessing.json`, read by the page at load time).
 *
 * - `demo/index.html`: the page, with a Content-Security-Policy that allows
 *   only its own folder's scripts (and WebAssembly compilation for the WASM
 *   backend), fetches from the run folder, and `blob:` images (the chosen
 *   files' thumbnails): no CDN, no inline script, nothing from the network.
 * - `demo/app.js`: the page's script (`src/report/_demo/app.js`).
 * - `demo/vendor/`: TF.js 4.22.0's browser builds and WASM binaries, and
 *   libjpeg-turbo's WebAssembly build (JPEGs are decoded as TF decodes
 *   them), copied from the pinned npm packages (`src/deps/browser_tfjs.ts`).
 *
 * Browsers do not let a page opened from `file://` fetch its model, so the
 * page is meant to be served: `deno task serve RUN` (`run_server.ts`).
 *
 * @module
 */

import { join } from "node:path";
import {
  BROWSER_JPEG_TURBO_FILE,
  BROWSER_TFJS_FILES,
  BROWSER_TFJS_VERSION,
  browserFilePath,
} from "../deps/browser_tfjs.ts";
import { writeFileAtomic } from "../util/fs.ts";
import { escapeXml as esc } from "./_svg.ts";

/** The page's Content-Security-Policy. */
export const DEMO_CSP: string = "default-src 'none'; script-src 'self' " +
  "'wasm-unsafe-eval'; connect-src 'self'; img-src 'self' blob: data:; " +
  "media-src 'self' blob:; style-src 'self'; base-uri 'none'; " +
  "form-action 'none'";

const STYLE =
  `body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
main{max-width:960px;margin:0 auto;padding:1rem 1.5rem 3rem}
h1{font-size:1.4rem;margin:.5rem 0}
.meta{color:#59636e;font-size:.9rem;margin:.2rem 0}
#status{padding:.5rem .75rem;border-radius:6px;background:#ddf4ff;margin:1rem 0}
#status[data-state=error]{background:#ffebe9;color:#82071e}
#status[data-state=ready]{background:#dafbe1}
.inputs{display:flex;gap:1rem;flex-wrap:wrap;align-items:stretch}
#drop{flex:1 1 320px;border:2px dashed #8c959f;border-radius:8px;padding:1.5rem;text-align:center;background:#fff}
#drop.over{border-color:#0969da;background:#ddf4ff}
.cam{flex:0 1 320px;background:#fff;border-radius:8px;padding:.75rem;border:1px solid #d1d9e0}
video{width:100%;border-radius:4px;background:#000;min-height:120px}
button{font:inherit;padding:.35rem .8rem;border-radius:6px;border:1px solid #8c959f;background:#f6f8fa;cursor:pointer}
ol.top{list-style:none;padding:0;margin:.3rem 0}
ol.top li{display:grid;grid-template-columns:minmax(6rem,12rem) 1fr 5.5rem;gap:.5rem;align-items:center;font-size:.9rem}
.bar{height:.7rem;background:#eaeef2;border-radius:4px;overflow:hidden}
.fill{display:block;height:100%;background:#0969da}
.pct{text-align:right;font-variant-numeric:tabular-nums}
#results{list-style:none;padding:0}
.result{display:grid;grid-template-columns:96px 1fr;gap:.3rem 1rem;background:#fff;border:1px solid #d1d9e0;border-radius:8px;padding:.6rem;margin:.6rem 0}
.result img{width:96px;height:96px;object-fit:cover;border-radius:4px;grid-row:span 2}
.name{font-weight:600;overflow-wrap:anywhere}
.error{color:#82071e}
footer{color:#59636e;font-size:.8rem;margin-top:2rem}
`;

/** The page's HTML for a run called `title`. */
export function renderDemoHtml(
  title: string,
  scripts: readonly string[],
): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${DEMO_CSP}">
<meta name="generator" content="deno-transfer">
<title>${esc(title)}: try the model</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="style.css">
${scripts.map((s) => `<script src="${esc(s)}"></script>`).join("\n")}
<script type="module" src="app.js"></script>
</head>
<body>
<main>
<h1>${esc(title)}: try the model</h1>
<p class="meta">Classes: <span id="classes">…</span></p>
<p class="meta">Input: <span id="size">…</span></p>
<p class="meta">Runs on: <span id="backend">…</span></p>
<div id="status" data-state="loading">loading…</div>
<div class="inputs">
<label id="drop">Drop images here, or <input type="file" id="files" accept="image/*" multiple></label>
<div class="cam"><button id="webcam" type="button">Start webcam</button>
<video id="video" muted playsinline></video>
<div id="live"></div></div>
</div>
<ol id="results"></ol>
<footer>Inference runs in this browser with TensorFlow.js ${
    esc(BROWSER_TFJS_VERSION)
  } (WebGPU, else WebGL, else WASM; <code>?backend=wasm</code> forces one) on the run's <code>model/</code>; images never leave the page. Written by deno-transfer.</footer>
</main>
</body>
</html>
`;
}

/** Reads one of this module's sibling files (`file:` or `https:`). */
async function readAsset(name: string): Promise<Uint8Array> {
  const url = new URL(name, import.meta.url);
  if (url.protocol === "file:") return await Deno.readFile(url);
  const r = await fetch(url);
  if (!r.ok) throw new Error(`fetching ${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

/** What {@link writeDemoPage} wrote. */
export interface DemoPage {
  /** `demo/index.html`. */
  index: string;
  /** Bytes written in all. */
  bytes: number;
}

/**
 * Writes `<runDir>/demo/` (see the module doc) for the model in
 * `<runDir>/model/`. Throws, naming the package, when a TF.js browser file
 * is not on disk.
 */
export async function writeDemoPage(
  runDir: string,
  title: string,
): Promise<DemoPage> {
  const dir = join(runDir, "demo");
  await Deno.mkdir(join(dir, "vendor"), { recursive: true });
  let bytes = 0;
  const write = async (name: string, data: Uint8Array | string) => {
    await writeFileAtomic(join(dir, name), data);
    bytes += typeof data === "string"
      ? new TextEncoder().encode(data).length
      : data.length;
  };
  const scripts: string[] = [];
  for (const f of [...BROWSER_TFJS_FILES, BROWSER_JPEG_TURBO_FILE]) {
    const name = `vendor/${f.path.split("/").pop()}`;
    await write(name, await Deno.readFile(browserFilePath(f)));
    if (f.kind === "script") scripts.push(name);
  }
  await write("app.js", await readAsset("./_demo/app.js"));
  await write("style.css", STYLE);
  const index = join(dir, "index.html");
  await write("index.html", renderDemoHtml(title, scripts));
  return { index, bytes };
}
