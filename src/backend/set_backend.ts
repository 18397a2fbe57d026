/**
 * Making a TF.js backend current, with one clear error when it cannot start
 * (TF.js and Emscripten report init failures as log lines), and silencing
 * TF.js' Node.js banner.
 *
 * @module
 */

import * as tf from "../deps/tf.ts";

/** Thrown when a named backend cannot be used. */
export class BackendError extends Error {
  /**
   * An error for the user.
   *
   * @param message what failed and what to do about it
   */
  constructor(message: string) {
    super(message);
    this.name = "BackendError";
  }
}

/**
 * Turns off the one-time "Hi, looks like you are running TensorFlow.js in
 * Node.js" banner. TF.js 4.22's CPU backend prints it on its first tensor
 * write when the `IS_NODE` flag is true (Deno exposes `process.versions.node`).
 * Rather than lying about `IS_NODE` (which also steers tf.data file access and
 * the WASM thread detection) or enabling PROD mode (which hides every
 * warning), this marks the CPU backend instance as already used. Idempotent.
 */
export function silenceNodeBanner(): void {
  const cpu = tf.findBackend("cpu") as unknown as { firstUse?: boolean } | null;
  if (cpu && typeof cpu.firstUse === "boolean") cpu.firstUse = false;
}

/**
 * `tf.setBackend(name)`, throwing a {@link BackendError} that carries the
 * first line of each message TF.js or Emscripten logged when it fails.
 */
export async function setBackendOrThrow(name: string): Promise<void> {
  let ok: boolean;
  const { warn, error } = console;
  const messages: string[] = [];
  // TF.js (console.warn) and Emscripten (console.error) report init errors as
  // log lines and setBackend returns false; collect their first lines for one
  // clear error instead.
  const collect = (...args: unknown[]) => {
    const first = args.map(errorText).join(" ").split("\n")[0].trim();
    if (first && !messages.includes(first)) messages.push(first);
  };
  console.warn = collect;
  console.error = collect;
  try {
    ok = await tf.setBackend(name);
  } finally {
    console.warn = warn;
    console.error = error;
  }
  if (!ok || tf.getBackend() !== name) {
    const detail = messages.join(" | ") || "tf.setBackend returned false";
    throw new BackendError(`backend "${name}" failed to initialise: ${detail}`);
  }
  silenceNodeBanner();
}

/** The message of an error-like value. */
export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === "object" && e !== null && "message" in e) {
    return String((e as { message: unknown }).message);
  }
  return String(e);
}
