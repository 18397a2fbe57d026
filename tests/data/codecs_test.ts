// The codecs against real TensorFlow 2.21 (fixtures/tf_decode/: 72 files of
// every legal variant and the usual broken ones, with what
// `tf.io.decode_image(channels=3, expand_animations=False)` and
// `tf.image.resize` made of each). Tolerances: decodes are exact (0/0) on
// every file TF decodes, except the one named deviation (arithmetic-coded
// JPEG, refused); resizes are within 0.5 of TF's float32 (our uint8 rounding).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  absDiff,
  loadDecodeGoldens,
} from "../../fixtures/tf_decode/goldens.ts";
import {
  DecodeFailure,
  decodePixels,
  DEFAULT_MAX_IMAGE_PIXELS,
  type Pixels,
} from "../../src/data/codecs.ts";
import { decodeAndResize } from "../../src/data/resize.ts";
import { pngBomb } from "../_helpers/png_bomb.ts";

const goldens = await loadDecodeGoldens();

/** Files where we knowingly differ from TF, and how. */
const DEVIATIONS: Record<string, RegExp | "decodes"> = {
  // The WebAssembly libjpeg-turbo build has no arithmetic decoder.
  jpeg_arithmetic_420_37x53: /arithmetic-coded JPEG/,
  // TF refuses TIFF; we decode it (and list .tif/.tiff, which Keras does not).
  tiff_rgb_37x53: "decodes",
};

function rgbOf(p: Pixels): Uint8Array {
  if (p.channels === 3) return Uint8Array.from(p.data);
  const out = new Uint8Array(p.width * p.height * 3);
  for (let i = 0, j = 0; j < out.length; i += 4, j += 3) {
    out[j] = p.data[i];
    out[j + 1] = p.data[i + 1];
    out[j + 2] = p.data[i + 2];
  }
  return out;
}

Deno.test("tf_decode goldens: files, checksums and arrays agree", async () => {
  const g = goldens;
  assert.ok(g.manifest.versions.tensorflow.startsWith("2."));
  assert.ok(g.files.length >= 50);
  for (const f of g.files) {
    const bytes = await f.bytes();
    assert.equal(bytes.length, f.entry.bytes, f.entry.name);
    const sha = createHash("sha256").update(bytes).digest("hex");
    assert.equal(sha, f.entry.sha256, `${f.entry.name}: corpus file changed`);
    assert.ok(!!f.decode !== !!f.error, `${f.entry.name}: decode xor error`);
    if (f.decode) {
      const [h, w, c] = f.decode.shape;
      assert.equal(c, 3);
      assert.equal(f.decode.data.length, h * w * 3);
      let r = 0;
      for (let i = 0; i < f.decode.data.length; i += 3) r += f.decode.data[i];
      assert.ok(Math.abs(r / (h * w) - f.entry.decode_mean![0]) < 1e-3);
    }
    if (f.reference) {
      const [h, w, c] = f.reference.shape;
      assert.equal(c, 3);
      assert.equal(f.reference.data.length, h * w * 3);
    }
    if (f.resize) {
      assert.deepEqual(f.resize.shape, [64, 64, 3]);
      let r = 0;
      for (let i = 0; i < f.resize.data.length; i += 3) r += f.resize.data[i];
      assert.ok(Math.abs(r / 4096 - f.entry.resize_mean![0]) < 1e-3);
    }
  }
  assert.equal(g.get("bmp_8_palette_37x53").reference?.shape[2], 3);
  assert.throws(() => g.get("no_such_file"));
});

Deno.test("codecs: every file TF decodes decodes to TF's exact pixels (0/0), every file TF refuses is refused", async () => {
  const formats = new Map<string, number>();
  let exact = 0;
  for (const f of goldens.files) {
    const name = f.entry.name;
    const bytes = await f.bytes();
    const deviation = DEVIATIONS[name];
    if (deviation instanceof RegExp) {
      await assert.rejects(decodePixels(bytes), deviation, name);
      continue;
    }
    if (!f.decode && deviation !== "decodes") {
      await assert.rejects(
        decodePixels(bytes),
        (e) => e instanceof DecodeFailure,
        `${name}: TF refuses it (${f.error})`,
      );
      continue;
    }
    const p = await decodePixels(bytes);
    const target = f.decode ?? f.reference!;
    assert.deepEqual(
      [p.height, p.width, 3],
      target.shape,
      `${name}: size`,
    );
    const d = absDiff(rgbOf(p), target.data);
    assert.deepEqual(d, { mean: 0, max: 0 }, `${name}: mean/max |d|`);
    if (f.decode) {
      exact++;
      formats.set(f.entry.format, (formats.get(f.entry.format) ?? 0) + 1);
    }
  }
  // Every format TF reads is covered, with every JPEG variant of the corpus.
  assert.ok((formats.get("jpeg") ?? 0) >= 30, `jpeg: ${formats.get("jpeg")}`);
  for (const fmt of ["bmp", "png", "gif", "webp"]) {
    assert.ok((formats.get(fmt) ?? 0) >= 3, `${fmt}: ${formats.get(fmt)}`);
  }
  assert.ok(exact >= 55, `${exact} files exact`);
});

Deno.test("codecs: named refusals for what TF refuses (BMP bit depths, RLE, sizes; WebP alpha and animation; truncated JPEG)", async () => {
  const cases: [string, RegExp][] = [
    ["bmp_1_37x53", /1-bit BMP: TF reads only 8, 24 and 32-bit/],
    ["bmp_4_palette_37x53", /4-bit BMP/],
    ["bmp_16_565_37x53", /16-bit BMP/],
    ["bmp_rle8_37x53", /compressed \(RLE\), truncated or with trailing bytes/],
    ["bmp_24_trailing2_37x53", /5992 bytes but its header implies 5990/],
    ["bmp_24_os2_37x53", /OS\/2 BMP/],
    ["webp_lossy_alpha_37x53", /WebP with alpha/],
    ["webp_animated_37x53", /animated WebP/],
    ["jpeg_truncated", /truncated: premature end of JPEG file/],
    ["jpeg_no_eoi", /truncated: premature end of JPEG file/],
  ];
  for (const [name, reason] of cases) {
    const bytes = await goldens.get(name).bytes();
    await assert.rejects(decodePixels(bytes), reason, name);
  }
  // A failure does not poison the next decode (libjpeg's longjmp leaves the
  // WebAssembly instance unusable; a fresh one is made).
  const broken = (await goldens.get("jpeg_420_37x53").bytes()).slice(0, 400);
  broken.fill(0xff, 300, 400);
  for (let i = 0; i < 3; i++) {
    await assert.rejects(decodePixels(broken), DecodeFailure);
    const ok = goldens.get("jpeg_420_200x150");
    const p = await decodePixels(await ok.bytes());
    assert.deepEqual(absDiff(rgbOf(p), ok.decode!.data).max, 0);
  }
});

Deno.test("codecs: 64x64 bilinear resizes are within 0.5 of TF's float32 tf.image.resize", async () => {
  let checked = 0;
  for (const f of goldens.files) {
    if (!f.entry.resize_mean || DEVIATIONS[f.entry.name]) continue;
    const rgb = await decodeAndResize(await f.bytes(), 64, 64, "bilinear");
    if (f.resize) {
      const d = absDiff(rgb, f.resize.data);
      assert.ok(d.max <= 0.5 + 1e-3, `${f.entry.name}: max ${d.max}`);
      checked++;
    }
    for (let c = 0; c < 3; c++) {
      let sum = 0;
      for (let i = c; i < rgb.length; i += 3) sum += rgb[i];
      const mean = sum / 4096;
      assert.ok(
        Math.abs(mean - f.entry.resize_mean[c]) < 0.1,
        `${f.entry.name}: channel ${c} mean ${mean} vs TF ${
          f.entry.resize_mean[c]
        }`,
      );
    }
  }
  assert.ok(checked >= 8, `${checked} full resizes`);
});

Deno.test('codecs: data.exifOrientation "apply" turns the pixels as EXIF says; "ignore" (default) keeps TF\'s', async () => {
  // jpeg_exif_orient6_53x37: stored 53 wide, 37 high, orientation 6 (to be
  // turned 90 degrees clockwise); orient3: turned 180 degrees.
  const six = goldens.get("jpeg_exif_orient6_53x37");
  const [h, w] = six.decode!.shape;
  const bytes = await six.bytes();
  const ignored = await decodePixels(bytes);
  assert.deepEqual([ignored.width, ignored.height], [w, h]);
  const turned = await decodePixels(bytes, { exifOrientation: "apply" });
  assert.deepEqual([turned.width, turned.height], [h, w]);
  const src = six.decode!.data;
  const out = rgbOf(turned);
  // Clockwise: the stored bottom-left pixel becomes the top-left one.
  for (let oy = 0; oy < w; oy++) {
    for (let ox = 0; ox < h; ox++) {
      const x = oy, y = h - 1 - ox;
      for (let k = 0; k < 3; k++) {
        assert.equal(out[(oy * h + ox) * 3 + k], src[(y * w + x) * 3 + k]);
      }
    }
  }
  const three = goldens.get("jpeg_exif_orient3_jfif_37x53");
  const t = rgbOf(
    await decodePixels(await three.bytes(), { exifOrientation: "apply" }),
  );
  const s = three.decode!.data;
  const n = s.length / 3;
  for (let p = 0; p < n; p++) {
    for (let k = 0; k < 3; k++) {
      assert.equal(t[p * 3 + k], s[(n - 1 - p) * 3 + k]);
    }
  }
  // A file without EXIF is the same either way.
  const plain = goldens.get("jpeg_420_37x53");
  assert.deepEqual(
    rgbOf(
      await decodePixels(await plain.bytes(), { exifOrientation: "apply" }),
    ),
    plain.decode!.data,
  );
});

Deno.test("codecs: data.maxImagePixels refuses from the header, naming the size and the key", async () => {
  assert.equal(DEFAULT_MAX_IMAGE_PIXELS, 89_478_485);
  for (
    const name of [
      "jpeg_420_200x150",
      "png_rgb_37x53",
      "gif_animated_37x53",
      "bmp_24_37x53",
      "webp_lossy_120x90",
      "webp_lossless_37x53",
      "tiff_rgb_37x53",
    ]
  ) {
    const g = goldens.get(name);
    const [h, w] = (g.decode ?? g.reference)!.shape;
    const bytes = await g.bytes();
    await assert.rejects(
      decodePixels(bytes, { maxImagePixels: w * h - 1 }),
      new RegExp(
        `of ${w}\u00d7${h} = [\\d,]+ pixels exceeds data\\.maxImagePixels \\(${
          (w * h - 1).toLocaleString("en-US")
        }\\)`,
      ),
      name,
    );
    await decodePixels(bytes, { maxImagePixels: w * h });
    await decodePixels(bytes, { maxImagePixels: null });
  }
});

Deno.test({
  name:
    "codecs: a 30000x30000 PNG bomb is named with its size and data.maxImagePixels, without allocating it (peak RSS of a child process)",
  ignore: Deno.build.os !== "linux", // VmHWM is Linux's
  fn: async () => {
    // The generator makes real PNGs: a small one decodes, all black.
    const tiny = await decodePixels(pngBomb(61, 45));
    assert.deepEqual([tiny.width, tiny.height], [61, 45]);
    assert.ok(rgbOf(tiny).every((v) => v === 0));
    const dir = await Deno.makeTempDir({ prefix: "bomb-" });
    try {
      const file = join(dir, "bomb.png");
      await Deno.writeFile(file, pngBomb(30000, 30000));
      const small = goldens.get("png_rgb_37x53").path;
      const child = fileURLToPath(
        new URL("./_bomb_child.ts", import.meta.url),
      );
      const run = async (mode: string) => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", child, mode, file, small],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.ok(out.success, new TextDecoder().decode(out.stderr));
        return JSON.parse(new TextDecoder().decode(out.stdout)) as {
          reasons: string[];
          peak: number;
          size: number;
        };
      };
      const base = await run("baseline");
      const bomb = await run("bomb");
      assert.ok(bomb.size < 200_000, `${bomb.size} bytes on disk`);
      assert.equal(bomb.reasons.length, 2);
      for (const r of bomb.reasons) {
        assert.match(
          r,
          /^PNG of 30000×30000 = 900,000,000 pixels exceeds data\.maxImagePixels \(89,478,485\)/,
        );
      }
      // Decoded, it would take 900 MB (grey) to 3.6 GB (RGBA); the header
      // check keeps the peak within 64 MiB of a process that only read it.
      const mib = (n: number) => (n / 2 ** 20).toFixed(0);
      assert.ok(
        bomb.peak - base.peak < 64 * 2 ** 20,
        `peak ${mib(bomb.peak)} MiB vs ${mib(base.peak)} MiB baseline`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test('codecs: data.bmp "full" (opt-in, not TF\'s) reads every BMP variant with its palette, as the file holds it', async () => {
  let n = 0;
  for (const f of goldens.files) {
    if (f.entry.format !== "bmp") continue;
    const bytes = await f.bytes();
    if (f.entry.name === "bmp_24_truncated_37x53") {
      await assert.rejects(decodePixels(bytes, { bmp: "full" }), DecodeFailure);
      continue;
    }
    const p = await decodePixels(bytes, { bmp: "full" });
    // What the file holds: the reference where TF reads it otherwise, else
    // TF's decode (the same, for the files TF reads right).
    const target = f.reference ?? f.decode!;
    assert.deepEqual([p.height, p.width, 3], target.shape, f.entry.name);
    const d = absDiff(rgbOf(p), target.data);
    // 16-bit: libnsbmp widens 5/6-bit channels by shifting, the reference
    // by bit replication (at most 7 levels apart); all others exact.
    const max = /^bmp_16_/.test(f.entry.name) ? 7 : 0;
    assert.ok(d.max <= max, `${f.entry.name}: ${d.mean}/${d.max}`);
    n++;
  }
  assert.ok(n >= 17, `${n} BMPs`);
  // The 8-bit palette file: TF's grey index by default, colours when "full".
  const pal = goldens.get("bmp_8_palette_37x53");
  const tfWay = rgbOf(await decodePixels(await pal.bytes()));
  assert.deepEqual(tfWay, pal.decode!.data);
  assert.notDeepEqual(tfWay, pal.reference!.data);
});
