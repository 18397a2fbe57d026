/**
 * Web Worker of {@link DecodePool}: decodes and resizes one image per
 * message. Loaded with `new URL("./_decode_worker.ts", import.meta.url)`, so
 * it also works when `mod.ts` is imported by URL.
 *
 * @module
 */

import { decodeAndResize } from "./resize.ts";
import { DecodeFailure, type DecodeOptions } from "./codecs.ts";
import type { Interpolation } from "./resize.ts";

/** Message sent to this worker. */
export interface DecodeRequest {
  /** Task id, echoed back. */
  id: number;
  /** The file's bytes (transferred). */
  bytes: ArrayBuffer;
  /** Target height. */
  height: number;
  /** Target width. */
  width: number;
  /** Resize interpolation. */
  interpolation: Interpolation;
  /** Pixel limit and EXIF orientation. */
  options: DecodeOptions;
}

/** Message this worker sends back. */
export type DecodeResponse =
  | { id: number; ok: true; data: ArrayBuffer }
  | { id: number; ok: false; error: string; failure: boolean };

/**
 * The worker's global scope, typed here rather than with a `deno.worker`
 * lib directive (which would change the globals of every module that a
 * published package type-checks with).
 */
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<DecodeRequest>) => void) | null;
  postMessage(message: DecodeResponse, transfer?: Transferable[]): void;
};

scope.onmessage = async (event: MessageEvent<DecodeRequest>) => {
  const { id, bytes, height, width, interpolation, options } = event.data;
  let response: DecodeResponse;
  try {
    const rgb = await decodeAndResize(
      new Uint8Array(bytes),
      height,
      width,
      interpolation,
      options,
    );
    response = { id, ok: true, data: rgb.buffer as ArrayBuffer };
    scope.postMessage(response, [response.data]);
    return;
  } catch (e) {
    response = {
      id,
      ok: false,
      error: e instanceof Error ? e.message : String(e),
      failure: e instanceof DecodeFailure,
    };
  }
  scope.postMessage(response);
};
