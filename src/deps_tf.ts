/**
 * TensorFlow.js as this project uses it, re-exported as the `tf` namespace by
 * `deps.ts`; the WASM and WebGPU backends are loaded on demand
 * (`importTfWasm` / `importTfWebgpu` in `deps.ts`).
 *
 * Why the `@tensorflow/tfjs` umbrella and not `tfjs-core` + `tfjs-layers` +
 * `tfjs-backend-cpu`: training needs every op's gradient and the chained
 * tensor methods (`x.reshape(…)`), and in TF.js 4.22 those are registered
 * only by the umbrella's bundles. `tfjs-core`'s own
 * `dist/register_all_gradients.js` is ES module source with extension-less
 * imports (`./gradients/Abs_grad`), which Deno's npm loader rejects
 * (ERR_MODULE_NOT_FOUND), and no `tfjs-core` bundle includes the gradients.
 * The cost is the umbrella's other dependencies (WebGL, converter,
 * tfjs-data, core-js) in Deno's cache, and Deno's "Ignored build scripts for
 * core-js" notice on the first install: core-js' postinstall only prints a
 * funding message, so nothing is lost by not running it.
 *
 * @module
 */

export * from "npm:@tensorflow/tfjs@4.22.0";
