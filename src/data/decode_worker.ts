/**
 * Web Worker of {@link DecodePool}: decodes and resizes one image per
 * message. Loaded with `new URL("./decode_worker.ts", import.meta.url)`, so
 * it also works when `mod.ts` is imported by URL.
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

import { decodeAndResize } from "./resize.ts";
import { DecodeFailure } from "./codecs.ts";
import type { DecodeRequest, DecodeResponse } from "./decode_pool.ts";

self.onmessage = async (event: MessageEvent<DecodeRequest>) => {
  const { id, bytes, height, width, interpolation } = event.data;
  let response: DecodeResponse;
  try {
    const rgb = await decodeAndResize(
      new Uint8Array(bytes),
      height,
      width,
      interpolation,
    );
    response = { id, ok: true, data: rgb.buffer as ArrayBuffer };
    self.postMessage(response, [response.data]);
    return;
  } catch (e) {
    response = {
      id,
      ok: false,
      error: e instanceof Error ? e.message : String(e),
      failure: e instanceof DecodeFailure,
    };
  }
  self.postMessage(response);
};
