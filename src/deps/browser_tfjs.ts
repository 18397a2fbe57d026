/**
 * TensorFlow.js for the browser, as files: the UMD builds (`dist/*.min.js`)
 * of tfjs-core, tfjs-layers and the CPU, WebGL, WebGPU and WASM backends,
 * and the WASM backend's `.wasm` binaries, at the versions training uses.
 * A run's demo page copies them into `demo/vendor/` (no CDN), with
 * libjpeg-turbo's WebAssembly build (`@cwasm/jpeg-turbo`, the one training
 * decodes JPEGs with), so that the page decodes JPEGs as TF does.
 *
 * Only each package's `package.json` is imported: that puts the package in
 * the module graph and `deno.lock` (so `import.meta.resolve` gives its files
 * `file:` URLs in Deno's npm cache) without running any of its code —
 * tfjs-backend-webgl is never executed in Deno.
 *
 * @module
 */

import corePackage from "npm:@tensorflow/tfjs-core@4.22.0/package.json" with {
  type: "json",
};
import layersPackage from "npm:@tensorflow/tfjs-layers@4.22.0/package.json" with {
  type: "json",
};
import cpuPackage from "npm:@tensorflow/tfjs-backend-cpu@4.22.0/package.json" with {
  type: "json",
};
import webglPackage from "npm:@tensorflow/tfjs-backend-webgl@4.22.0/package.json" with {
  type: "json",
};
import webgpuPackage from "npm:@tensorflow/tfjs-backend-webgpu@4.22.0/package.json" with {
  type: "json",
};
import jpegTurboPackage from "npm:@cwasm/jpeg-turbo@0.1.3/package.json" with {
  type: "json",
};
import wasmPackage from "npm:@tensorflow/tfjs-backend-wasm@4.22.0/package.json" with {
  type: "json",
};

/** One file of an npm package that the browser loads. */
export interface BrowserFile {
  /** `name@version` of the package. */
  package: string;
  /** Path inside the package. */
  path: string;
  /** Its `npm:` specifier, for `import.meta.resolve`. */
  specifier: string;
  /** How the page loads it: a classic `<script>` (in this order) or fetched by the WASM backend. */
  kind: "script" | "wasm";
}

function file(
  pkg: { name: string; version: string },
  path: string,
  kind: BrowserFile["kind"],
): BrowserFile {
  const id = `${pkg.name}@${pkg.version}`;
  return { package: id, path, specifier: `npm:${id}/${path}`, kind };
}

/** The TF.js version of every file (all packages are pinned together). */
export const BROWSER_TFJS_VERSION: string = corePackage.version;

/**
 * The files, scripts in the order they must load (core, then what needs
 * the global `tf`). The threaded WASM build is left out: it needs
 * cross-origin isolation, and the page turns it off.
 */
export const BROWSER_TFJS_FILES: readonly BrowserFile[] = [
  file(corePackage, "dist/tf-core.min.js", "script"),
  file(cpuPackage, "dist/tf-backend-cpu.min.js", "script"),
  file(layersPackage, "dist/tf-layers.min.js", "script"),
  file(webglPackage, "dist/tf-backend-webgl.min.js", "script"),
  file(webgpuPackage, "dist/tf-backend-webgpu.min.js", "script"),
  file(wasmPackage, "dist/tf-backend-wasm.min.js", "script"),
  file(wasmPackage, "dist/tfjs-backend-wasm.wasm", "wasm"),
  file(wasmPackage, "dist/tfjs-backend-wasm-simd.wasm", "wasm"),
];

/**
 * libjpeg-turbo 2.0 for WebAssembly (`@cwasm/jpeg-turbo`), instantiated by
 * the page itself with TF's decoding flags (see `src/data/_jpeg_turbo.ts`).
 */
export const BROWSER_JPEG_TURBO_FILE: BrowserFile = file(
  jpegTurboPackage,
  "jpeg-turbo.wasm",
  "wasm",
);

/**
 * Where `f` lies on disk (Deno's npm cache or `node_modules`). Throws,
 * naming the package, when it does not resolve to a local file.
 */
export function browserFilePath(f: BrowserFile): URL {
  const url = import.meta.resolve(f.specifier);
  if (!url.startsWith("file:")) {
    throw new Error(
      `cannot locate ${f.path} of ${f.package} on disk (resolved to ${url}); ` +
        `is the npm package installed? (deno install --entrypoint mod.ts)`,
    );
  }
  return new URL(url);
}
