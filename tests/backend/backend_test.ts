import assert from "node:assert/strict";
import { BackendError } from "../../src/backend/set_backend.ts";
import {
  describeAdapter,
  type GpuAdapterLike,
  type GpuLike,
  probeWebGpu,
} from "../../src/backend/webgpu_probe.ts";
import { planBackends, selectBackend } from "../../src/backend/backend.ts";
import {
  WASM_BINARIES,
  wasmBinaryPaths,
} from "../../src/backend/wasm_backend.ts";
import * as tf from "../../src/deps/tf.ts";

const fakeGpu = (adapter: GpuAdapterLike | null | Error): GpuLike => ({
  requestAdapter: () =>
    adapter instanceof Error
      ? Promise.reject(adapter)
      : Promise.resolve(adapter),
});

const hardware = { adapter: "NVIDIA H100", fallbackAdapter: false };
const software = { adapter: "llvmpipe", fallbackAdapter: true };
const none = { adapter: null, fallbackAdapter: false, error: "no adapter" };

Deno.test("planBackends: auto prefers WebGPU only on a hardware adapter", () => {
  assert.deepEqual(
    planBackends("auto", hardware).map((s) => s.backend),
    ["webgpu", "wasm", "cpu"],
  );
  const sw = planBackends("auto", software);
  assert.deepEqual(sw.map((s) => s.backend), ["wasm", "cpu"]);
  assert.match(sw[0].why, /"llvmpipe" is a software fallback adapter/);
  const no = planBackends("auto", none);
  assert.deepEqual(no.map((s) => s.backend), ["wasm", "cpu"]);
  assert.match(no[0].why, /no WebGPU adapter \(no adapter\)/);
});

Deno.test("planBackends: named backends are used as asked or fail clearly", () => {
  assert.deepEqual(planBackends("cpu", null).map((s) => s.backend), ["cpu"]);
  assert.deepEqual(planBackends("wasm", null).map((s) => s.backend), ["wasm"]);
  const gpu = planBackends("webgpu", software);
  assert.deepEqual(gpu.map((s) => s.backend), ["webgpu"]);
  assert.match(gpu[0].why, /software fallback adapter "llvmpipe"/);
  assert.throws(
    () => planBackends("webgpu", none),
    (e) =>
      e instanceof BackendError &&
      /"webgpu" requested but no WebGPU adapter/.test(e.message),
  );
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => planBackends("tpu" as any, null),
    /unknown backend "tpu"/,
  );
});

Deno.test("probeWebGpu: reads both fallback flags, description, failures", async () => {
  assert.deepEqual(
    await probeWebGpu(fakeGpu({
      info: { description: "llvmpipe (LLVM 15)", isFallbackAdapter: true },
    })),
    { adapter: "llvmpipe (LLVM 15)", fallbackAdapter: true },
  );
  assert.deepEqual(
    await probeWebGpu(fakeGpu({
      isFallbackAdapter: true,
      info: { description: "SwiftShader" },
    })),
    { adapter: "SwiftShader", fallbackAdapter: true },
  );
  assert.deepEqual(
    await probeWebGpu(fakeGpu({
      info: { description: "", vendor: "nvidia", architecture: "hopper" },
    })),
    { adapter: "nvidia hopper", fallbackAdapter: false },
  );
  const nul = await probeWebGpu(fakeGpu(null));
  assert.equal(nul.adapter, null);
  assert.match(nul.error ?? "", /returned no adapter/);
  const err = await probeWebGpu(fakeGpu(new Error("driver crashed")));
  assert.match(err.error ?? "", /driver crashed/);
  assert.match((await probeWebGpu(null)).error ?? "", /not available/);
  assert.equal(describeAdapter({}), "unknown adapter");
});

Deno.test("selectBackend: named webgpu with no adapter throws BackendError", async () => {
  await assert.rejects(
    selectBackend("webgpu", { gpu: fakeGpu(null) }),
    (e) => e instanceof BackendError && /no WebGPU adapter/.test(e.message),
  );
});

Deno.test("wasmBinaryPaths: all binaries come from the installed npm package", () => {
  const paths = wasmBinaryPaths();
  assert.deepEqual(Object.keys(paths).sort(), [...WASM_BINARIES].sort());
  for (const [name, path] of Object.entries(paths)) {
    assert.ok(path.endsWith(`/tfjs-backend-wasm/4.22.0/dist/${name}`), path);
    const bytes = Deno.readFileSync(path);
    // "\0asm" magic: a real WebAssembly binary on disk, no URL involved.
    assert.deepEqual([...bytes.subarray(0, 4)], [0, 0x61, 0x73, 0x6d]);
  }
});

Deno.test("selectBackend: cpu and single-threaded wasm compute correctly", async () => {
  const cpu = await selectBackend("cpu");
  assert.deepEqual(
    { backend: cpu.backend, threads: cpu.threads },
    { backend: "cpu", threads: null },
  );
  assert.equal(tf.getBackend(), "cpu");
  const expected = [[19, 22], [43, 50]];
  const mm = () =>
    tf.tidy(() =>
      tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]]))
    );
  const c = mm();
  assert.deepEqual(await c.array(), expected);
  c.dispose();

  const w = await selectBackend("wasm", { wasmThreads: false });
  assert.equal(w.backend, "wasm");
  assert.equal(w.threads, 1);
  assert.match(w.reason, /wasm requested \(SIMD, single-threaded\)/);
  assert.equal(tf.getBackend(), "wasm");
  const r = mm();
  assert.deepEqual(await r.array(), expected);
  r.dispose();
  await selectBackend("cpu");
});

Deno.test({
  name: "selectBackend: webgpu as asked, auto skips a software adapter",
  // The WebGPU device TF.js creates lives for the whole process.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const probe = await probeWebGpu();
    const auto = await selectBackend("auto", { wasmThreads: false });
    assert.equal(auto.adapter, probe.adapter);
    assert.equal(auto.fallbackAdapter, probe.fallbackAdapter);
    if (probe.adapter && !probe.fallbackAdapter) {
      assert.equal(auto.backend, "webgpu");
    } else {
      assert.equal(auto.backend, "wasm");
      assert.match(auto.reason, /software fallback adapter|no WebGPU adapter/);
    }
    if (!probe.adapter) {
      await assert.rejects(selectBackend("webgpu"), BackendError);
      return;
    }
    const gpu = await selectBackend("webgpu");
    assert.equal(gpu.backend, "webgpu");
    assert.equal(tf.getBackend(), "webgpu");
    assert.equal(gpu.adapter, probe.adapter);
    const x = tf.tensor1d([1, 2, 3, 4]);
    const y = tf.mul(x, x);
    assert.deepEqual(await y.array(), [1, 4, 9, 16]);
    tf.dispose([x, y]);
    await selectBackend("cpu");
  },
});

/** Runs a TS snippet in a fresh Deno process without network permission. */
async function runIsolated(code: string) {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-env",
      "--allow-sys",
      "-",
    ],
    cwd: new URL("../..", import.meta.url),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const child = cmd.spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(code));
  await writer.close();
  const timer = setTimeout(() => child.kill(), 60_000);
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

const BACKEND = JSON.stringify(
  new URL("../../src/backend/backend.ts", import.meta.url).href,
);
const DEPS = JSON.stringify(
  new URL("../../src/deps/tf.ts", import.meta.url).href,
);

Deno.test("banner: TF.js' Node.js banner shows without the fix, not with it", async () => {
  const op =
    `const t = tf.add(tf.scalar(1), tf.scalar(2)); console.log(await t.data());`;
  const raw = await runIsolated(
    `import * as tf from ${DEPS}; await tf.setBackend("cpu"); ${op}`,
  );
  assert.equal(raw.code, 0, raw.stderr);
  assert.match(
    raw.stdout + raw.stderr,
    /looks like you are running TensorFlow\.js/,
  );
  const fixed = await runIsolated(
    `import * as tf from ${DEPS}; import { selectBackend } from ${BACKEND};
     await selectBackend("cpu"); ${op}`,
  );
  assert.equal(fixed.code, 0, fixed.stderr);
  assert.doesNotMatch(fixed.stdout + fixed.stderr, /running TensorFlow\.js in/);
  assert.match(fixed.stdout, /Float32Array\(1\) \[ 3 \]/);
});

Deno.test("wasm threads: 2 pthreads start under Deno, no network, process exits", async () => {
  const r = await runIsolated(
    `import * as tf from ${DEPS}; import { selectBackend } from ${BACKEND};
     const s = await selectBackend("wasm", { wasmThreads: 2 });
     const a = tf.randomNormal([1, 32, 32, 8], 0, 1, "float32", 1);
     const f = tf.randomNormal([3, 3, 8, 8], 0, 1, "float32", 2);
     const wasmOut = await tf.conv2d(a, f, 1, "same").data();
     const av = await a.data(), fv = await f.data();
     await selectBackend("cpu");
     const cpuOut = await tf.conv2d(tf.tensor(av, a.shape), tf.tensor(fv, f.shape), 1, "same").data();
     const maxDiff = Math.max(...wasmOut.map((v, i) => Math.abs(v - cpuOut[i])));
     console.log(JSON.stringify({ ...s, maxDiff }));`,
  );
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  assert.equal(s.backend, "wasm");
  assert.equal(s.threads, 2);
  assert.match(s.reason, /2 threads/);
  assert.ok(s.maxDiff < 1e-3, `threaded wasm differs from cpu by ${s.maxDiff}`);
});

Deno.test("auto falls back to CPU when WASM cannot start; named wasm throws", async () => {
  const r = await runIsolated(
    `import { selectBackend } from ${BACKEND};
     // Break WebAssembly instantiation so the WASM backend cannot start.
     WebAssembly.instantiate = () => Promise.reject(new Error("wasm broken"));
     const s = await selectBackend("auto", { gpu: null, wasmThreads: false });
     let named = "";
     try { await selectBackend("wasm", { wasmThreads: false }); }
     catch (e) { named = e.name + ": " + e.message; }
     console.log(JSON.stringify({ ...s, named }));`,
  );
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  assert.equal(s.backend, "cpu");
  assert.match(
    s.reason,
    /^auto: no WebGPU adapter \(navigator\.gpu is not available\); wasm failed \(.*wasm broken.*\); CPU$/,
  );
  assert.match(
    s.named,
    /^BackendError: backend "wasm" failed to initialise: .*wasm broken/,
  );
});
