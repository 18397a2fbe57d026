/**
 * Serving a run folder over HTTP on the loopback interface, for its demo
 * page (`deno task serve RUN`): GET and HEAD of files inside the folder
 * only, with the MIME types the page needs (`.wasm` as
 * `application/wasm`, which `WebAssembly.instantiateStreaming` requires),
 * `Cache-Control: no-store` (a newer run in the same tab never sees old
 * files) and `X-Content-Type-Options: nosniff`. Paths that leave the folder
 * (`..`, encoded or not, symbolic links pointing out) are refused with 403;
 * `/` redirects to `demo/`.
 *
 * @module
 */

import { extname, join, resolve, sep } from "node:path";

/** MIME types by file extension. */
export const MIME_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".bin": "application/octet-stream",
  ".onnx": "application/octet-stream",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".csv": "text/csv; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json",
};

/** A running server. */
export interface RunServer {
  /** `http://127.0.0.1:<port>/` */
  url: string;
  /** The demo page's URL. */
  demoUrl: string;
  /** The served folder (absolute, symbolic links resolved). */
  root: string;
  /** Stops the server. */
  close(): Promise<void>;
}

/** Options of {@link serveRun}. */
export interface ServeRunOptions {
  /** Port (default 0: any free port). */
  port?: number;
  /** Interface (default 127.0.0.1). */
  hostname?: string;
  /** Called once per request with `METHOD path status`. */
  onRequest?: (line: string) => void;
}

/**
 * Checks that `dir` is a run folder (a folder with `model/model.json`),
 * with a message saying what is missing.
 */
export async function checkRunFolder(dir: string): Promise<string> {
  let root: string;
  try {
    root = await Deno.realPath(dir);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`no run folder ${dir}: it does not exist`);
    }
    throw e;
  }
  if (!(await Deno.stat(root)).isDirectory) {
    throw new Error(
      `${dir} is not a folder: pass a run folder (runs/<name>-<stamp>)`,
    );
  }
  try {
    await Deno.stat(join(root, "model", "model.json"));
  } catch {
    throw new Error(
      `${dir} has no model/model.json: pass a run folder made with output.saveModel (runs/<name>-<stamp>)`,
    );
  }
  return root;
}

function text(status: number, body: string): Response {
  return new Response(body + "\n", {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** The file under `root` that `pathname` names, or null when it leaves `root`. */
function inside(root: string, pathname: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (decoded.includes("\0") || decoded.includes("\\")) return null;
  const parts = decoded.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.some((p) => p === "..")) return null;
  const path = resolve(root, ...parts);
  return path === root || path.startsWith(root + sep) ? path : null;
}

/**
 * Serves the run folder `dir` (see the module doc). Rejects, naming the
 * folder, when it is not a run folder.
 */
export async function serveRun(
  dir: string,
  opts: ServeRunOptions = {},
): Promise<RunServer> {
  const root = await checkRunFolder(dir);
  const handler = async (req: Request): Promise<Response> => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return text(405, `${req.method} not allowed`);
    }
    const { pathname } = new URL(req.url);
    if (pathname === "/") {
      return new Response(null, {
        status: 302,
        headers: { location: "/demo/" },
      });
    }
    let path = inside(root, pathname);
    if (path === null) return text(403, `${pathname}: outside the run folder`);
    try {
      // Symbolic links must not lead out of the folder either.
      path = await Deno.realPath(path);
      if (path !== root && !path.startsWith(root + sep)) {
        return text(403, `${pathname}: outside the run folder`);
      }
      let info = await Deno.stat(path);
      if (info.isDirectory) {
        if (!pathname.endsWith("/")) {
          return new Response(null, {
            status: 301,
            headers: { location: pathname + "/" },
          });
        }
        path = join(path, "index.html");
        info = await Deno.stat(path);
      }
      const headers = {
        "content-type": MIME_TYPES[extname(path).toLowerCase()] ??
          "application/octet-stream",
        "content-length": String(info.size),
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
      };
      if (req.method === "HEAD") return new Response(null, { headers });
      const file = await Deno.open(path);
      return new Response(file.readable, { headers });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        return text(404, `${pathname}: not found`);
      }
      return text(500, `${pathname}: ${(e as Error).message}`);
    }
  };
  const { promise: listening, resolve: onListen } = Promise.withResolvers<
    Deno.NetAddr
  >();
  const server = Deno.serve({
    hostname: opts.hostname ?? "127.0.0.1",
    port: opts.port ?? 0,
    onListen: (addr) => onListen(addr as Deno.NetAddr),
  }, async (req) => {
    const res = await handler(req);
    opts.onRequest?.(
      `${req.method} ${new URL(req.url).pathname} ${res.status}`,
    );
    return res;
  });
  const addr = await listening;
  const host = addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;
  const url = `http://${host}:${addr.port}/`;
  return {
    url,
    demoUrl: `${url}demo/`,
    root,
    close: () => server.shutdown(),
  };
}
