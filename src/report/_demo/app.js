// The demo page's script (copied into every run as demo/app.js; see
// src/report/demo_page.ts). It classifies chosen, dropped or webcam images
// in the browser with the run's TF.js model, prepared as training prepared
// them: decoded to RGB, resized to preprocessing.json's imageSize with its
// interpolation (the same arithmetic as src/data/resize.ts, which the tests
// compare bit for bit), then scaled as preprocessing.json says
// ("mobilenet_v2": x / 127.5 − 1, computed with TF.js ops as training does).
//
// TF.js (tf-core, tf-layers and the backends, copied from the pinned npm
// packages into vendor/) is the global `tf`, loaded by index.html's classic
// scripts before this module runs. Backends are tried in the order WebGPU →
// WebGL → WASM → CPU (`?backend=NAME` forces one), each probed first, so a
// missing GPU never shows up as a console error.
//
// JPEGs are decoded by libjpeg-turbo with TF's flags (vendor/jpeg-turbo.wasm,
// the build training uses), other formats by the browser.
//
// The pure functions are exported so that Deno can test them against the
// training code; `main()` runs only in a page.

/** Backends in the order the page tries them. */
export const BACKEND_ORDER = ["webgpu", "webgl", "wasm", "cpu"];

/** How many classes each result lists. */
export const TOP_K = 5;

function nearestIndices(outSize, inSize) {
  const idx = new Int32Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    idx[o] = Math.min(Math.floor((o + 0.5) * scale), inSize - 1);
  }
  return idx;
}

function bilinearTaps(outSize, inSize) {
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float32Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const x = (o + 0.5) * scale - 0.5;
    const xf = Math.floor(x);
    lo[o] = Math.max(xf, 0);
    hi[o] = Math.min(Math.ceil(x), inSize - 1);
    frac[o] = x - xf;
  }
  return { lo, hi, frac };
}

/**
 * Resizes `channels`-interleaved pixels (`width`×`height`) to
 * `outHeight`×`outWidth` RGB uint8: the arithmetic of src/data/resize.ts's
 * resizeToRgb ("bilinear": half-pixel centres as tf.image.resize, rounded;
 * "nearest": pixel-centre sampling), extra channels dropped.
 *
 * @param {ArrayLike<number>} data
 * @param {number} width
 * @param {number} height
 * @param {number} channels
 * @param {number} outHeight
 * @param {number} outWidth
 * @param {string} interpolation
 * @returns {Uint8Array}
 */
export function resizeToRgb(
  data,
  width,
  height,
  channels,
  outHeight,
  outWidth,
  interpolation,
) {
  const sw = width, sh = height, c = channels;
  const out = new Uint8Array(outHeight * outWidth * 3);
  if (sw === outWidth && sh === outHeight) {
    for (let p = 0, q = 0; q < out.length; p += c, q += 3) {
      out[q] = data[p];
      out[q + 1] = data[p + 1];
      out[q + 2] = data[p + 2];
    }
    return out;
  }
  if (interpolation === "nearest") {
    const xs = nearestIndices(outWidth, sw);
    const ys = nearestIndices(outHeight, sh);
    let q = 0;
    for (let y = 0; y < outHeight; y++) {
      const row = ys[y] * sw;
      for (let x = 0; x < outWidth; x++) {
        const p = (row + xs[x]) * c;
        out[q++] = data[p];
        out[q++] = data[p + 1];
        out[q++] = data[p + 2];
      }
    }
    return out;
  }
  if (interpolation !== "bilinear") {
    throw new Error(
      `unknown interpolation "${interpolation}" in preprocessing.json (bilinear or nearest)`,
    );
  }
  const xt = bilinearTaps(outWidth, sw);
  const yt = bilinearTaps(outHeight, sh);
  let q = 0;
  for (let y = 0; y < outHeight; y++) {
    const r0 = yt.lo[y] * sw;
    const r1 = yt.hi[y] * sw;
    const fy = yt.frac[y];
    for (let x = 0; x < outWidth; x++) {
      const x0 = xt.lo[x];
      const x1 = xt.hi[x];
      const fx = xt.frac[x];
      const a = (r0 + x0) * c;
      const b = (r0 + x1) * c;
      const d = (r1 + x0) * c;
      const e = (r1 + x1) * c;
      for (let k = 0; k < 3; k++) {
        const top = data[a + k] + (data[b + k] - data[a + k]) * fx;
        const bottom = data[d + k] + (data[e + k] - data[d + k]) * fx;
        out[q++] = Math.round(top + (bottom - top) * fy);
      }
    }
  }
  return out;
}

/**
 * Checks preprocessing.json and returns what the page needs from it:
 * `[height, width]`, the interpolation and the input scaling.
 *
 * @param {any} p preprocessing.json's content
 * @returns {{height: number, width: number, interpolation: string, preprocess: string, exifOrientation: string}}
 */
export function readPreprocessing(p) {
  const size = p && p.imageSize;
  if (
    !Array.isArray(size) || size.length !== 2 ||
    !size.every((v) => Number.isInteger(v) && v > 0)
  ) {
    throw new Error(
      `preprocessing.json: imageSize must be [height, width], found ${
        JSON.stringify(size)
      }`,
    );
  }
  if (!["bilinear", "nearest"].includes(p.interpolation)) {
    throw new Error(
      `preprocessing.json: interpolation must be "bilinear" or "nearest", found ${
        JSON.stringify(p.interpolation)
      }`,
    );
  }
  if (!["mobilenet_v2", "identity", "none"].includes(p.preprocess)) {
    throw new Error(
      `preprocessing.json: preprocess "${p.preprocess}" is unknown to this page ("mobilenet_v2", "identity" or "none")`,
    );
  }
  return {
    height: size[0],
    width: size[1],
    interpolation: p.interpolation,
    preprocess: p.preprocess,
    exifOrientation: p.exifOrientation ?? "ignore",
  };
}

/**
 * The model's outputs for one image as class probabilities in label order:
 * the softmax row as it is, or `[1 − p, p]` for the logit head's single
 * sigmoid output with 2 classes (as src/train/head_output.ts does).
 *
 * @param {ArrayLike<number>} values
 * @param {number} numClasses
 * @returns {number[]}
 */
export function classProbabilities(values, numClasses) {
  if (values.length === numClasses) return Array.from(values);
  if (numClasses === 2 && values.length === 1) {
    return [1 - values[0], values[0]];
  }
  throw new Error(
    `the model gives ${values.length} outputs for ${numClasses} classes`,
  );
}

/**
 * The `k` most probable classes, most probable first (ties: label order).
 *
 * @param {number[]} probabilities
 * @param {string[]} classNames
 * @param {number} [k]
 * @returns {{label: string, probability: number, index: number}[]}
 */
export function topClasses(probabilities, classNames, k = TOP_K) {
  return probabilities
    .map((p, i) => ({ label: classNames[i], probability: p, index: i }))
    .sort((a, b) => b.probability - a.probability || a.index - b.index)
    .slice(0, k);
}

// ---------------------------------------------------------------------------
// JPEG decoding as training does it (src/data/_jpeg_turbo.ts and
// _image_header.ts): libjpeg-turbo 2.0 (vendor/jpeg-turbo.wasm, the same
// build) with TF's fast integer IDCT and fancy upsampling, CMYK/YCCK turned
// into RGB as TF's jpeg_mem.cc does. The browser's own JPEG decoder uses
// another IDCT, a level off here and there.

const TJFLAG_FASTDCT = 2048;
const TJPF_RGB = 0;
const TJPF_CMYK = 11;
const ERR_LENGTH = 200;

/**
 * What a JPEG's markers say before its first scan (the frame size and
 * components, the SOF marker, an Adobe APP14 marker), or null when it is
 * not a JPEG or has no frame header.
 *
 * @param {Uint8Array} b
 * @returns {{width: number, height: number, components: number, sof: number, adobe: boolean} | null}
 */
export function readJpegInfo(b) {
  if (!(b.length >= 4 && b[0] === 0xff && b[1] === 0xd8)) return null;
  const u16 = (i) => (b[i] << 8) | b[i + 1];
  let i = 2;
  let adobe = false;
  let frame = null;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) {
      i++;
      continue;
    }
    const m = b[i + 1];
    if (m === 0xff) {
      i++;
      continue;
    }
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      i += 2;
      continue;
    }
    if (m === 0xda || m === 0xd9) break;
    const len = u16(i + 2);
    if (len < 2) return null;
    const data = i + 4;
    const isSof = m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 &&
      m !== 0xcc;
    if (isSof && frame === null && data + 6 <= b.length) {
      frame = {
        sof: m,
        height: u16(data + 1),
        width: u16(data + 3),
        components: b[data + 5],
      };
    } else if (
      m === 0xee && len - 2 >= 12 &&
      String.fromCharCode(...b.subarray(data, data + 5)) === "Adobe"
    ) {
      adobe = true;
    }
    i += 2 + len;
  }
  return frame ? { ...frame, adobe } : null;
}

class LongJmp extends Error {}

const turboImports = {
  env: {
    setjmp: () => 0,
    longjmp: () => {
      throw new LongJmp("libjpeg error");
    },
  },
  wasi_snapshot_preview1: {
    environ_sizes_get: () => 0,
    environ_get: () => 0,
    proc_exit: () => {
      throw new Error("libjpeg-turbo called proc_exit");
    },
    fd_close: () => 0,
    fd_seek: () => 0,
    fd_write: () => 0,
  },
};

function findErrStr(memory) {
  const needle = [..."No error"].map((c) => c.charCodeAt(0));
  outer: for (let i = 0; i + ERR_LENGTH <= memory.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (memory[i + j] !== needle[j]) continue outer;
    }
    for (let j = needle.length; j < ERR_LENGTH; j++) {
      if (memory[i + j] !== 0) continue outer;
    }
    return i;
  }
  return -1;
}

/**
 * A JPEG decoder on a compiled libjpeg-turbo module: `decode(bytes)` gives
 * `{width, height, channels: 3, data}` RGB, or throws libjpeg's message for
 * a file TF refuses too.
 *
 * @param {WebAssembly.Module} module
 */
export function jpegDecoder(module) {
  let current = null;
  let errStr = null;
  const instance = () => {
    if (current) return current;
    current = new WebAssembly.Instance(module, turboImports).exports;
    errStr ??= findErrStr(new Uint8Array(current.memory.buffer));
    return current;
  };
  const message = (ex) => {
    if (errStr === null || errStr < 0) return "";
    const mem = new Uint8Array(ex.memory.buffer, errStr, ERR_LENGTH);
    const end = mem.indexOf(0);
    return new TextDecoder().decode(
      mem.subarray(0, end < 0 ? ERR_LENGTH : end),
    );
  };
  /** @param {Uint8Array} bytes */
  const decode = (bytes) => {
    const info = readJpegInfo(bytes);
    if (!info) throw new Error("corrupt or unsupported JPEG: no frame header");
    if (info.sof >= 0xc9 && info.sof <= 0xcf) {
      throw new Error("arithmetic-coded JPEG: not supported (as in training)");
    }
    if (info.sof === 0xc3 || info.sof === 0xc7) {
      throw new Error("lossless JPEG (SOF3) is not supported (nor by TF)");
    }
    const { width, height } = info;
    if (!(width > 0 && height > 0)) {
      throw new Error(`the frame header gives no size (${width}x${height})`);
    }
    const cmyk = info.components === 4;
    const channels = cmyk ? 4 : 3;
    const ex = instance();
    const size = width * height * channels;
    const src = ex.malloc(bytes.length);
    const dst = ex.malloc(size);
    const handle = ex.tjInitDecompress();
    try {
      if (!src || !dst || !handle) {
        throw new Error(`out of memory for a ${width}x${height} image`);
      }
      new Uint8Array(ex.memory.buffer, src, bytes.length).set(bytes);
      if (errStr !== null && errStr >= 0) {
        new Uint8Array(ex.memory.buffer)[errStr] = 0;
      }
      const rc = ex.tjDecompress2(
        handle,
        src,
        bytes.length,
        dst,
        width,
        width * channels,
        height,
        cmyk ? TJPF_CMYK : TJPF_RGB,
        TJFLAG_FASTDCT,
      );
      if (rc !== 0) {
        const msg = message(ex);
        if (!msg) throw new Error("libjpeg-turbo refused the file");
        if (msg.startsWith("tj")) throw new Error(msg);
        if (msg === "Premature end of JPEG file") {
          throw new Error("truncated: premature end of JPEG file");
        }
      }
      const raw = new Uint8Array(ex.memory.buffer, dst, size);
      if (!cmyk) return { width, height, channels: 3, data: raw.slice() };
      const data = new Uint8Array(width * height * 3);
      for (let p = 0, q = 0; p < size; p += 4, q += 3) {
        const c = raw[p], m = raw[p + 1], y = raw[p + 2], k = raw[p + 3];
        if (info.adobe) {
          data[q] = (k * c / 255) | 0;
          data[q + 1] = (k * m / 255) | 0;
          data[q + 2] = (k * y / 255) | 0;
        } else {
          data[q] = ((255 - k) * (255 - c) / 255) | 0;
          data[q + 1] = ((255 - k) * (255 - m) / 255) | 0;
          data[q + 2] = ((255 - k) * (255 - y) / 255) | 0;
        }
      }
      return { width, height, channels: 3, data };
    } catch (e) {
      if (e instanceof LongJmp) {
        const msg = message(ex);
        current = null; // its stack is left unwound: a fresh instance next time
        throw new Error(msg || "libjpeg failed");
      }
      throw e;
    } finally {
      if (current === ex) {
        if (handle) ex.tjDestroy(handle);
        if (src) ex.free(src);
        if (dst) ex.free(dst);
      }
    }
  };
  return { decode };
}

// ---------------------------------------------------------------------------
// The page.

/** Creates an element with attributes and children (text or nodes). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) {
    el.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return el;
}

function setStatus(state, text) {
  const el = document.getElementById("status");
  el.dataset.state = state;
  el.textContent = text;
}

async function fetchJson(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return await r.json();
}

/** Whether a backend can start here, probed without TF.js' console warnings. */
async function backendAvailable(name) {
  const tf = globalThis.tf;
  if (!tf.findBackendFactory(name)) return "not in this page";
  if (name === "webgpu") {
    if (!navigator.gpu) return "navigator.gpu missing";
    try {
      const adapter = await navigator.gpu.requestAdapter();
      return adapter ? null : "no adapter";
    } catch (e) {
      return String(e && e.message || e);
    }
  }
  if (name === "webgl") {
    const canvas = document.createElement("canvas");
    return canvas.getContext("webgl2") || canvas.getContext("webgl")
      ? null
      : "no WebGL context";
  }
  return null;
}

async function chooseBackend() {
  const tf = globalThis.tf;
  const forced = new URLSearchParams(location.search).get("backend");
  if (forced && !BACKEND_ORDER.includes(forced)) {
    throw new Error(
      `?backend=${forced}: expected one of ${BACKEND_ORDER.join(", ")}`,
    );
  }
  // The threaded WASM build needs cross-origin isolation and a worker;
  // the single-threaded SIMD build needs neither.
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  if (tf.wasm) tf.wasm.setWasmPaths("vendor/");
  const skipped = [];
  for (const name of forced ? [forced] : BACKEND_ORDER) {
    const why = await backendAvailable(name);
    if (why) {
      skipped.push(`${name}: ${why}`);
      continue;
    }
    if (await tf.setBackend(name)) {
      await tf.ready();
      return { name, skipped };
    }
    skipped.push(`${name}: failed to start`);
  }
  throw new Error(`no TF.js backend started (${skipped.join("; ")})`);
}

/**
 * Decoded pixels of an image file: JPEGs by libjpeg-turbo as training
 * decodes them (unless training applied EXIF orientation: then by the
 * browser, which applies it too); other formats by the browser, without
 * colour management.
 */
async function decodeFile(file, jpeg, prep) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  if (isJpeg && jpeg && prep.exifOrientation !== "apply") {
    return { ...jpeg.decode(bytes), decoder: "libjpeg-turbo" };
  }
  const bitmap = await createImageBitmap(new Blob([bytes]), {
    colorSpaceConversion: "none",
    premultiplyAlpha: "none",
    imageOrientation: "from-image",
  });
  try {
    return {
      ...rgbaOf(bitmap, bitmap.width, bitmap.height),
      decoder: "browser",
    };
  } finally {
    bitmap.close();
  }
}

function rgbaOf(source, width, height) {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(source, 0, 0);
  return {
    data: ctx.getImageData(0, 0, width, height).data,
    width,
    height,
    channels: 4,
  };
}

class Classifier {
  constructor(model, classNames, prep, jpeg) {
    this.model = model;
    this.classNames = classNames;
    this.prep = prep;
    this.jpeg = jpeg;
  }

  /** Class probabilities of decoded pixels (RGB or RGBA). */
  async classify({ data, width, height, channels }) {
    const tf = globalThis.tf;
    const { height: h, width: w, interpolation, preprocess } = this.prep;
    const rgb = resizeToRgb(data, width, height, channels, h, w, interpolation);
    const y = tf.tidy(() => {
      const x = tf.tensor4d(rgb, [1, h, w, 3], "float32");
      const input = preprocess === "mobilenet_v2"
        ? tf.sub(tf.div(x, 127.5), 1)
        : x;
      return this.model.predict(input);
    });
    try {
      return classProbabilities(await y.data(), this.classNames.length);
    } finally {
      y.dispose();
    }
  }
}

/** A bar's filled part (sized through the CSSOM: the CSP forbids style attributes). */
function fill(probability) {
  const el = h("span", { class: "fill" });
  el.style.width = `${(100 * probability).toFixed(2)}%`;
  return el;
}

function probabilityList(probabilities, classNames) {
  return h(
    "ol",
    { class: "top" },
    ...topClasses(probabilities, classNames).map((t) =>
      h(
        "li",
        { "data-label": t.label },
        h("span", { class: "label" }, t.label),
        h("span", { class: "bar" }, fill(t.probability)),
        h("span", { class: "pct" }, `${(100 * t.probability).toFixed(2)} %`),
      )
    ),
  );
}

async function classifyFiles(classifier, files) {
  const list = document.getElementById("results");
  for (const file of files) {
    const item = h("li", { class: "result", "data-file": file.name });
    list.prepend(item);
    const thumb = h("img", { alt: file.name });
    thumb.src = URL.createObjectURL(file);
    item.append(thumb, h("div", { class: "name" }, file.name));
    try {
      const pixels = await decodeFile(file, classifier.jpeg, classifier.prep);
      const p = await classifier.classify(pixels);
      item.dataset.decoder = pixels.decoder;
      item.dataset.probabilities = JSON.stringify(p);
      item.append(probabilityList(p, classifier.classNames));
    } catch (e) {
      item.dataset.error = String(e && e.message || e);
      item.append(h("div", { class: "error" }, `cannot classify: ${e}`));
    }
  }
  document.body.dataset.classified = String(
    document.querySelectorAll("#results .result").length,
  );
}

function setUpFiles(classifier) {
  const input = document.getElementById("files");
  input.addEventListener("change", () => {
    classifyFiles(classifier, [...input.files]);
    input.value = "";
  });
  const zone = document.getElementById("drop");
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    classifyFiles(
      classifier,
      [...e.dataTransfer.files].filter((f) => f.type.startsWith("image/")),
    );
  });
}

function setUpWebcam(classifier) {
  const button = document.getElementById("webcam");
  const video = document.getElementById("video");
  const live = document.getElementById("live");
  let stream = null;
  const stop = () => {
    for (const t of stream ? stream.getTracks() : []) t.stop();
    stream = null;
    video.srcObject = null;
    button.textContent = "Start webcam";
  };
  button.addEventListener("click", async () => {
    if (stream) return stop();
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: true });
    } catch (e) {
      live.textContent = `webcam unavailable: ${e && e.message || e}`;
      return;
    }
    video.srcObject = stream;
    await video.play();
    button.textContent = "Stop webcam";
    while (stream) {
      if (video.videoWidth > 0) {
        try {
          const p = await classifier.classify(
            rgbaOf(video, video.videoWidth, video.videoHeight),
          );
          live.dataset.probabilities = JSON.stringify(p);
          live.dataset.frames = String(Number(live.dataset.frames ?? 0) + 1);
          live.replaceChildren(probabilityList(p, classifier.classNames));
        } catch (e) {
          live.textContent = `cannot classify the frame: ${
            e && e.message || e
          }`;
          stop();
        }
      }
      await new Promise((r) => requestAnimationFrame(r));
    }
  });
}

async function main() {
  const tf = globalThis.tf;
  try {
    setStatus("loading", "loading the model…");
    const base = new URL("../model/", location.href);
    const [classNames, preprocessing] = await Promise.all([
      fetchJson(new URL("labels.json", base)),
      fetchJson(new URL("preprocessing.json", base)),
    ]);
    const prep = readPreprocessing(preprocessing);
    const backend = await chooseBackend();
    const [model, jpeg] = await Promise.all([
      tf.loadLayersModel(new URL("model.json", base).href),
      WebAssembly.compileStreaming(fetch("vendor/jpeg-turbo.wasm")).then(
        jpegDecoder,
      ),
    ]);
    const classifier = new Classifier(model, classNames, prep, jpeg);
    document.getElementById("classes").textContent = classNames.join(", ");
    document.getElementById("size").textContent =
      `${prep.width}×${prep.height} px, ${prep.interpolation} resize, ${
        prep.preprocess === "mobilenet_v2" ? "x / 127.5 − 1" : "raw 0–255"
      }`;
    document.getElementById("backend").textContent =
      `TF.js ${tf.version_core} on ${backend.name}${
        backend.skipped.length ? ` (skipped ${backend.skipped.join("; ")})` : ""
      }`;
    document.body.dataset.backend = backend.name;
    setUpFiles(classifier);
    setUpWebcam(classifier);
    setStatus("ready", "ready: choose or drop images, or start the webcam");
  } catch (e) {
    setStatus("error", `cannot start: ${e && e.message || e}`);
    console.error(e);
  }
}

if (typeof document !== "undefined" && globalThis.tf) main();
