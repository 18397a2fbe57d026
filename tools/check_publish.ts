/**
 * `deno task check`'s publish check: `deno publish --dry-run` must pass (no
 * slow types, the licence present). Its two expected warnings — the
 * deliberately unanalyzable `import()` of ONNX Runtime (`src/deps/onnx.ts`)
 * and `import.meta.resolve` of the WASM binaries — are shown only when the
 * dry run fails.
 *
 * @module
 */

const out = await new Deno.Command(Deno.execPath(), {
  args: ["publish", "--dry-run", "--allow-dirty"],
  cwd: new URL("..", import.meta.url),
  env: { NO_COLOR: "1" },
  stdout: "piped",
  stderr: "piped",
}).output();
if (out.code !== 0) {
  await Deno.stdout.write(out.stdout);
  await Deno.stderr.write(out.stderr);
  console.error("publish: the dry run failed");
  Deno.exit(1);
}
console.log("publish: dry run passes");
