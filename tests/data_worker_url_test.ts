import assert from "node:assert/strict";
import { extname, join, normalize } from "node:path";
import { decodePixels, resizeToRgb } from "../src/decode.ts";
import { getFixtures } from "./data_helpers.ts";

const repoRoot = new URL("../", import.meta.url).pathname;

Deno.test({
  name:
    "decode workers load when the modules are imported by URL (no deno.json)",
  sanitizeResources: false,
  fn: async () => {
    const fx = await getFixtures();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async (req) => {
        const rel = normalize(decodeURIComponent(new URL(req.url).pathname));
        if (rel.includes("..")) {
          return new Response("forbidden", { status: 403 });
        }
        try {
          return new Response(await Deno.readFile(join(repoRoot, rel)), {
            headers: {
              "content-type": extname(rel) === ".ts"
                ? "application/typescript"
                : "application/octet-stream",
            },
          });
        } catch {
          return new Response("not found", { status: 404 });
        }
      },
    );
    const origin = `http://127.0.0.1:${server.addr.port}`;
    const dir = await Deno.makeTempDir();
    const image = join(fx.datasetDir, "train", "dogs", "dog_alpha.png");
    try {
      const script = join(dir, "decode_by_url.ts");
      await Deno.writeTextFile(
        script,
        `import { DecodePool } from "${origin}/src/decode.ts";
const pool = new DecodePool(1);
const rgb = await pool.decode(await Deno.readFile(${
          JSON.stringify(image)
        }), 6, 5, "nearest");
pool.close();
console.log(JSON.stringify({ started: pool.started, rgb: Array.from(rgb) }));
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
          script,
        ],
        cwd: dir,
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, `script failed:\n${stderr}`);
      const result = JSON.parse(
        new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!,
      );
      assert.equal(result.started, 1);
      const expected = resizeToRgb(
        await decodePixels(await Deno.readFile(image)),
        6,
        5,
        "nearest",
      );
      assert.deepEqual(result.rgb, Array.from(expected));
    } finally {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
