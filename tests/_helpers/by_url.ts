/**
 * Helpers of the by-URL tests: serve this repository read-only over
 * loopback HTTP, and run a script from a temp folder with no `deno.json`
 * that imports from it.
 *
 * @module
 */

import { extname, join, normalize } from "node:path";

const repoRoot = new URL("../../", import.meta.url).pathname;

const contentTypes: Record<string, string> = {
  ".ts": "application/typescript",
  ".js": "application/javascript",
  ".json": "application/json",
};

/** What {@link runScriptByUrl} returns. */
export interface ScriptResult {
  /** Exit code. */
  code: number;
  /** Standard error, decoded. */
  stderr: string;
  /** The last stdout line parsed as JSON (null when the script failed). */
  json: unknown;
}

/**
 * Serves the repository on 127.0.0.1, writes `source(origin)` to a script in
 * a fresh temp folder (no deno.json, no lock file) and runs it with
 * `--allow-import` for the server plus `permissions`.
 */
export async function runScriptByUrl(
  source: (origin: string) => string,
  permissions: string[] = ["--allow-read", "--allow-env"],
): Promise<ScriptResult> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      const rel = normalize(decodeURIComponent(new URL(req.url).pathname));
      if (rel.includes("..")) return new Response("forbidden", { status: 403 });
      try {
        return new Response(await Deno.readFile(join(repoRoot, rel)), {
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
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const dir = await Deno.makeTempDir();
  try {
    const script = join(dir, "script.ts");
    await Deno.writeTextFile(script, source(origin));
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-config",
        "--no-lock",
        `--allow-import=127.0.0.1:${server.addr.port}`,
        ...permissions,
        script,
      ],
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    const last = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1);
    return {
      code: out.code,
      stderr,
      json: out.code === 0 && last ? JSON.parse(last) : null,
    };
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}
