/**
 * Report thumbnails: area-average shrinking against hand-computed pixels,
 * and the PNG encoder checked by decoding its output with an independent
 * decoder (ImageScript) pixel for pixel.
 *
 * @module
 */

import assert from "node:assert/strict";
import { imagescriptPng } from "../../src/deps/codecs.ts";
import {
  crc32,
  encodePng,
  imageThumbnail,
  shrinkToFit,
} from "../../src/report/_thumbnails.ts";

const png = await imagescriptPng.init();

function rgbOf(rgba: Uint8Array): number[] {
  return Array.from(rgba).filter((_, i) => i % 4 !== 3);
}

Deno.test("shrinkToFit: averages each covered block; never enlarges", () => {
  // 4×2 RGB → size 2 → 2×1: left block pixels (0,0),(1,0),(0,1),(1,1).
  const px = [
    [0, 0, 0],
    [4, 8, 12],
    [100, 0, 0],
    [200, 0, 0],
    [8, 16, 24],
    [12, 0, 0],
    [0, 100, 0],
    [0, 0, 100],
  ].flat();
  const s = shrinkToFit(px, 4, 2, 2);
  assert.deepEqual([s.width, s.height], [2, 1]);
  // Left: R (0+4+8+12)/4 = 6, G (0+8+16+0)/4 = 6, B (0+12+24+0)/4 = 9.
  // Right: R 300/4 = 75, G 100/4 = 25, B 100/4 = 25.
  assert.deepEqual(Array.from(s.data), [6, 6, 9, 75, 25, 25]);
  const same = shrinkToFit([1, 2, 3, 4, 5, 6], 2, 1, 96);
  assert.deepEqual([same.width, same.height, ...same.data], [
    2,
    1,
    1,
    2,
    3,
    4,
    5,
    6,
  ]);
  // RGBA input: alpha is dropped.
  const rgba = shrinkToFit([10, 20, 30, 0, 30, 40, 50, 255], 2, 1, 1, 4);
  assert.deepEqual(Array.from(rgba.data), [20, 30, 40]);
  // Aspect ratio kept: 160×120 → 96×72.
  const big = shrinkToFit(new Uint8Array(160 * 120 * 3), 160, 120, 96);
  assert.deepEqual([big.width, big.height], [96, 72]);
  assert.throws(
    () => shrinkToFit([1, 2], 1, 1, 4),
    /expected 1×1×3 = 3 bytes, found 2/,
  );
  assert.throws(() => shrinkToFit([], 0, 1, 4), /positive integers/);
  assert.throws(() => shrinkToFit([1, 2, 3], 1, 1, 0), /size/);
});

Deno.test("crc32: the PNG chunk checksum", () => {
  // The CRC every PNG's IEND chunk carries, and the classic check value.
  assert.equal(crc32(new TextEncoder().encode("IEND")), 0xae426082);
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
});

Deno.test("encodePng: decodes back to the same pixels (noise, gradients, flat)", async () => {
  let s = 7;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24);
  const w = 37, h = 23;
  const cases: Record<string, Uint8Array> = {
    noise: Uint8Array.from({ length: w * h * 3 }, rand),
    gradient: Uint8Array.from(
      { length: w * h * 3 },
      (_, i) => ((i % (w * 3)) * 3 + Math.floor(i / (w * 3)) * 5) & 0xff,
    ),
    flat: new Uint8Array(w * h * 3).fill(200),
  };
  for (const [name, data] of Object.entries(cases)) {
    const bytes = await encodePng({ width: w, height: h, data });
    assert.deepEqual(
      Array.from(bytes.subarray(0, 8)),
      [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
    );
    const d = png.decode(bytes);
    assert.deepEqual([d.width, d.height], [w, h], name);
    assert.deepEqual(rgbOf(d.framebuffer), Array.from(data), name);
    assert.ok(
      d.framebuffer.every((v: number, i: number) => i % 4 !== 3 || v === 255),
    );
  }
  // Smooth and flat images compress well below their raw size.
  const flat = await encodePng({ width: w, height: h, data: cases.flat });
  assert.ok(flat.length < (w * h * 3) / 10, `${flat.length} bytes`);
  await assert.rejects(
    () => encodePng({ width: 2, height: 2, data: new Uint8Array(5) }),
    /expected 2×2×3 bytes, found 5/,
  );
});

Deno.test("imageThumbnail: a PNG data URI of the shrunk image", async () => {
  const w = 200, h = 100;
  const px = new Uint8Array(w * h * 3);
  // Left half red, right half blue.
  for (let i = 0; i < w * h; i++) {
    px[i * 3 + ((i % w) < w / 2 ? 0 : 2)] = 255;
  }
  const uri = await imageThumbnail(px, w, h);
  const m = uri.match(/^data:image\/png;base64,(.+)$/);
  assert.ok(m);
  const d = png.decode(Uint8Array.from(atob(m[1]), (c) => c.charCodeAt(0)));
  assert.deepEqual([d.width, d.height], [96, 48]);
  const at = (x: number, y: number) =>
    Array.from(d.framebuffer.subarray((y * 96 + x) * 4, (y * 96 + x) * 4 + 3));
  assert.deepEqual(at(10, 10), [255, 0, 0]);
  assert.deepEqual(at(90, 40), [0, 0, 255]);
});
