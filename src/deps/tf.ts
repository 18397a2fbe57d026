/**
 * TensorFlow.js as this project uses it: `tfjs-core` and `tfjs-layers` with
 * the CPU backend, imported as a namespace (`import * as tf from
 * "./tf.ts"`). The WASM and WebGPU backends load on demand
 * (`tf_backends.ts`).
 *
 * Not the `@tensorflow/tfjs` umbrella: that one adds WebGL, the converter,
 * tfjs-data and core-js (59 packages, 296 MB in Deno's cache, and Deno's
 * "Ignored build scripts for core-js" notice on the first install), none of
 * which training in Deno uses. What the umbrella also brought is kept
 * without it: `tfjs-layers`' main bundle registers every op gradient
 * (`tfjs-core`'s own `register_all_gradients.js` is extension-less ES module
 * source that Deno's npm loader rejects), and the chained tensor methods
 * (`x.reshape(…)`) are not used — the code calls the ops (`tf.reshape(x, …)`).
 *
 * @module
 */

export * from "npm:@tensorflow/tfjs-core@4.22.0";
export * from "npm:@tensorflow/tfjs-layers@4.22.0";
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
