import assert from "node:assert/strict";
import { extname, join, normalize } from "node:path";

const repoRoot = new URL("../", import.meta.url).pathname;

const contentTypes: Record<string, string> = {
  ".ts": "application/typescript",
  ".js": "application/javascript",
  ".json": "application/json",
};

/** Serves the repository's files read-only on 127.0.0.1, like a static host. */
function serveRepo(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      const rel = normalize(decodeURIComponent(new URL(req.url).pathname));
      if (rel.includes("..")) return new Response("forbidden", { status: 403 });
      try {
        const body = await Deno.readFile(join(repoRoot, rel));
        return new Response(body, {
          headers: {
            "content-type": contentTypes[extname(rel)] ??
              "application/octet-stream",
          },
        });
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
}

Deno.test({
  name:
    "mod.ts imported by URL from a folder without deno.json resolves and runs",
  sanitizeResources: false,
  fn: async () => {
    const server = serveRepo();
    const origin = `http://127.0.0.1:${server.addr.port}`;
    const dir = await Deno.makeTempDir();
    try {
      const script = join(dir, "use_mod.ts");
      await Deno.writeTextFile(
        script,
        `import * as dt from "${origin}/mod.ts";
const config = await dt.loadConfig(null, ["train.epochs=3", "data.imageSize=[96,96]"]);
dt.silenceNodeBanner();
await dt.selectBackend("cpu");
const { model } = await dt.buildClassifier({ imageSize: [32, 32], alpha: 0.35, weights: null, numClasses: 2, seed: 1 });
const p = model.predict(dt.mobileNetV2Preprocess(dt.tf.zeros([1, 32, 32, 3]))) as dt.tf.Tensor;
console.log(JSON.stringify({
  outputShape: p.shape,
  layers: model.layers.length,
  epochs: config.train.epochs,
  imageSize: config.data.imageSize,
  exports: Object.keys(dt).sort(),
}));
`,
      );
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-config",
          "--no-lock",
          `--allow-import=127.0.0.1:${server.addr.port}`,
          "--allow-read",
          "--allow-env",
          "--allow-sys",
          script,
        ],
        cwd: dir,
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, `script failed:\n${stderr}`);
      const result = JSON.parse(stdout.trim().split("\n").at(-1)!);
      assert.equal(result.epochs, 3);
      assert.deepEqual(result.outputShape, [1, 2]);
      assert.deepEqual(result.imageSize, [96, 96]);
      const local = Object.keys(await import("../mod.ts")).sort();
      assert.deepEqual(result.exports, local, "same exports by URL as locally");
    } finally {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
