/**
 * Shared helpers of the data-pipeline tests: fixtures generated once per
 * test file, and a loopback HTTP server that counts requests.
 *
 * @module
 */

import { type Fixtures, makeFixtures } from "../../fixtures/make_fixtures.ts";

let fixtures: Promise<Fixtures> | null = null;

/** The generated fixtures (made once per test module, in a temp folder). */
export function getFixtures(): Promise<Fixtures> {
  fixtures ??= makeFixtures();
  return fixtures;
}

/** A route: fixed bytes, or a handler. */
export type Route =
  | Uint8Array
  | ((req: Request) => Response | Promise<Response>);

/** A running loopback server. */
export interface TestServer {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** Paths requested so far, in order. */
  requests: string[];
  /** Stops the server. */
  close(): Promise<void>;
}

/** Serves `routes` on 127.0.0.1, port chosen by the OS; unknown paths get 404. */
export function serve(routes: Record<string, Route>): TestServer {
  const requests: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      const path = new URL(req.url).pathname;
      requests.push(path);
      const route = routes[path];
      if (route === undefined) {
        return new Response("not found", {
          status: 404,
          statusText: "Not Found",
        });
      }
      if (route instanceof Uint8Array) {
        return new Response(route as Uint8Array<ArrayBuffer>, {
          headers: { "content-type": "application/zip" },
        });
      }
      return await route(req);
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    close: () => server.shutdown(),
  };
}

/** Names in a folder (empty when it does not exist). */
export async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) names.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return names.sort();
}

/** True when `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
