/**
 * Real headless Chromium for the tests, driven over the DevTools protocol
 * with Deno's built-in WebSocket (no puppeteer, nothing downloaded).
 *
 * {@link findChromium} looks for a browser binary (`$CHROMIUM_PATH`, then
 * Debian's `chromium` package); {@link launchChromium} starts it headless
 * with a fresh temporary profile and the background-networking features
 * off (the test machines have a closed network), reads the DevTools port
 * from the profile's `DevToolsActivePort` file and connects;
 * {@link Browser.openPage} opens a tab that records console messages,
 * exceptions, log entries and network requests. {@link Browser.close}
 * always ends the process and removes the profile folder.
 *
 * @module
 */

import { join } from "node:path";

/** Where to look for a Chromium binary, in order (after `$CHROMIUM_PATH`). */
export const CHROMIUM_CANDIDATES = [
  "/usr/lib/chromium/chromium", // Debian's binary (its /usr/bin wrapper is a shell script)
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
  "/usr/bin/google-chrome-stable",
];

/** The first Chromium binary that exists, or null. */
export function findChromium(): string | null {
  let env: string | undefined;
  try {
    env = Deno.env.get("CHROMIUM_PATH");
  } catch {
    env = undefined;
  }
  for (const path of [...(env ? [env] : []), ...CHROMIUM_CANDIDATES]) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not there
    }
  }
  return null;
}

/** Flags every launch uses. */
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--no-default-browser-check",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-extensions",
  "--disable-default-apps",
  "--mute-audio",
  "--hide-scrollbars",
];

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
  method: string;
}

/** A DevTools protocol event. */
export interface CdpEvent {
  /** Event name, e.g. `Page.loadEventFired`. */
  method: string;
  /** Its parameters. */
  params: Record<string, unknown>;
  /** The target session it came from, for flattened sessions. */
  sessionId?: string;
}

/** One DevTools protocol connection (browser endpoint, flattened sessions). */
export class CdpConnection {
  #ws: WebSocket;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #listeners = new Set<(e: CdpEvent) => void>();
  #closed: Promise<void>;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    this.#closed = new Promise((resolve) => {
      ws.addEventListener("close", () => {
        for (const p of this.#pending.values()) {
          p.reject(new Error(`DevTools connection closed during ${p.method}`));
        }
        this.#pending.clear();
        resolve();
      });
    });
    ws.addEventListener("message", (ev) => {
      const msg = JSON.parse(String(ev.data));
      if (typeof msg.id === "number") {
        const p = this.#pending.get(msg.id);
        if (!p) return;
        this.#pending.delete(msg.id);
        if (msg.error) {
          p.reject(
            new Error(`${p.method}: ${msg.error.message} (${msg.error.code})`),
          );
        } else {
          p.resolve(msg.result ?? {});
        }
      } else if (typeof msg.method === "string") {
        const e: CdpEvent = {
          method: msg.method,
          params: msg.params ?? {},
          sessionId: msg.sessionId,
        };
        for (const l of this.#listeners) l(e);
      }
    });
  }

  /** Connects to a `ws://` DevTools endpoint. */
  static connect(url: string, timeoutMs = 15_000): Promise<CdpConnection> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const timer = setTimeout(() => {
        ws.close();
        reject(
          new Error(`no DevTools connection to ${url} in ${timeoutMs} ms`),
        );
      }, timeoutMs);
      ws.addEventListener("open", () => {
        clearTimeout(timer);
        resolve(new CdpConnection(ws));
      }, { once: true });
      ws.addEventListener("error", (e) => {
        clearTimeout(timer);
        reject(
          new Error(
            `DevTools connection to ${url} failed: ${
              (e as ErrorEvent).message ?? e.type
            }`,
          ),
        );
      }, { once: true });
    });
  }

  /** Sends a command (to a target when `sessionId` is given) and awaits its result. */
  send(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, method });
      this.#ws.send(
        JSON.stringify({
          id,
          method,
          params,
          ...(sessionId ? { sessionId } : {}),
        }),
      );
    });
  }

  /** Calls `listener` for every event; returns a function that unsubscribes. */
  on(listener: (e: CdpEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves with the first event matching `pred`, or rejects after `timeoutMs`. */
  waitFor(
    pred: (e: CdpEvent) => boolean,
    what: string,
    timeoutMs = 30_000,
  ): Promise<CdpEvent> {
    return new Promise((resolve, reject) => {
      const off = this.on((e) => {
        if (!pred(e)) return;
        clearTimeout(timer);
        off();
        resolve(e);
      });
      const timer = setTimeout(() => {
        off();
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for ${what}`),
        );
      }, timeoutMs);
    });
  }

  /** Closes the socket and waits until it is closed. */
  async close(): Promise<void> {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.close();
    await this.#closed;
  }
}

/** What a page reported while it was open. */
export interface PageLog {
  /** Console calls of type error/assert/warning, as text. */
  consoleErrors: string[];
  /** Uncaught exceptions, as text. */
  exceptions: string[];
  /** Browser log entries of level error/warning (CSP violations land here). */
  logErrors: string[];
  /** URLs of every network request the page made. */
  requests: string[];
}

/** A tab attached through a flattened session. */
export interface Page {
  /** What the page logged so far. */
  log: PageLog;
  /** Sends a command to this tab. */
  send(
    method: string,
    params?: Record<string, unknown>,
  ): Promise<Record<string, unknown>>;
  /** Evaluates an expression in the page and returns its value (JSON-able). */
  evaluate<T>(expression: string): Promise<T>;
  /** Navigates and waits for the load event. */
  goto(url: string): Promise<void>;
  /**
   * A PNG screenshot of the page at `width` CSS px; the full page height, or
   * at most `maxHeight` px from the top.
   */
  screenshot(
    opts?: { width?: number; maxHeight?: number },
  ): Promise<Uint8Array>;
}

/** A running headless Chromium. */
export interface Browser {
  /** The DevTools connection. */
  cdp: CdpConnection;
  /** Opens a new blank tab with logging on. */
  openPage(): Promise<Page>;
  /** Ends the browser (politely, then by force) and removes its profile. */
  close(): Promise<void>;
}

function remoteObjectText(o: Record<string, unknown> | undefined): string {
  if (!o) return "";
  if ("value" in o) return String(o.value);
  return String(o.description ?? o.type ?? "");
}

async function readPortFile(
  dir: string,
  child: Deno.ChildProcess,
  stderr: () => string,
  timeoutMs: number,
): Promise<string> {
  const file = join(dir, "DevToolsActivePort");
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.status.then(() => (exited = true));
  while (Date.now() < deadline) {
    try {
      const [port, path] = (await Deno.readTextFile(file)).split("\n");
      if (port && path) return `ws://127.0.0.1:${port.trim()}${path.trim()}`;
    } catch {
      // not written yet
    }
    if (exited) {
      throw new Error(`chromium exited before DevTools started:\n${stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `chromium wrote no ${file} within ${timeoutMs} ms:\n${stderr()}`,
  );
}

/**
 * Starts headless Chromium with a new temporary profile and connects to it.
 * On failure everything started is cleaned up before the error is thrown.
 */
export async function launchChromium(
  binary: string,
  opts: {
    timeoutMs?: number;
    /** Flags added to {@link CHROMIUM_FLAGS}, e.g. a fake webcam. */
    args?: readonly string[];
  } = {},
): Promise<Browser> {
  const profile = await Deno.makeTempDir({ prefix: "report_chromium_" });
  const child = new Deno.Command(binary, {
    args: [
      ...CHROMIUM_FLAGS,
      ...(opts.args ?? []),
      "--remote-debugging-port=0",
      `--user-data-dir=${profile}`,
      "about:blank",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // Keep the last 20 kB of stderr for error messages; reading it also keeps
  // the pipe from filling up.
  let errText = "";
  const stderrDone = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      errText = (errText + decoder.decode(chunk, { stream: true })).slice(
        -20_000,
      );
    }
  })();
  let cdp: CdpConnection | null = null;
  const close = async () => {
    try {
      if (cdp) {
        await Promise.race([
          cdp.send("Browser.close").catch(() => {}),
          new Promise((r) => setTimeout(r, 3000)),
        ]);
        await cdp.close();
      }
    } finally {
      const exited = await Promise.race([
        child.status.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 5000)),
      ]);
      if (!exited) {
        try {
          child.kill("SIGKILL");
        } catch {
          // already gone
        }
      }
      await child.status;
      await stderrDone;
      // Chromium's helper processes may still be writing for a moment.
      for (let i = 0; i < 20; i++) {
        try {
          await Deno.remove(profile, { recursive: true });
          break;
        } catch (e) {
          if (e instanceof Deno.errors.NotFound) break;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
  };
  try {
    const url = await readPortFile(
      profile,
      child,
      () => errText,
      opts.timeoutMs ?? 30_000,
    );
    cdp = await CdpConnection.connect(url);
  } catch (e) {
    await close();
    throw e;
  }
  const conn = cdp;
  return {
    cdp: conn,
    close,
    async openPage(): Promise<Page> {
      const { targetId } = await conn.send("Target.createTarget", {
        url: "about:blank",
      });
      const { sessionId } = await conn.send("Target.attachToTarget", {
        targetId,
        flatten: true,
      }) as { sessionId: string };
      const log: PageLog = {
        consoleErrors: [],
        exceptions: [],
        logErrors: [],
        requests: [],
      };
      conn.on((e) => {
        if (e.sessionId !== sessionId) return;
        // deno-lint-ignore no-explicit-any
        const p = e.params as Record<string, any>;
        if (e.method === "Runtime.consoleAPICalled") {
          if (["error", "assert", "warning"].includes(p.type)) {
            log.consoleErrors.push(
              `${p.type}: ${
                (p.args ?? []).map((a: Record<string, unknown>) =>
                  remoteObjectText(a)
                ).join(" ")
              }`,
            );
          }
        } else if (e.method === "Runtime.exceptionThrown") {
          const d = p.exceptionDetails ?? {};
          log.exceptions.push(
            `${d.text ?? "exception"} ${remoteObjectText(d.exception)}`,
          );
        } else if (e.method === "Log.entryAdded") {
          const entry = p.entry ?? {};
          if (["error", "warning"].includes(entry.level)) {
            log.logErrors.push(
              `${entry.source}: ${entry.text} ${entry.url ?? ""}`,
            );
          }
        } else if (e.method === "Network.requestWillBeSent") {
          log.requests.push(String(p.request?.url ?? ""));
        }
      });
      const send = (method: string, params: Record<string, unknown> = {}) =>
        conn.send(method, params, sessionId);
      await send("Runtime.enable");
      await send("Log.enable");
      await send("Page.enable");
      await send("Network.enable");
      const evaluate = async <T>(expression: string): Promise<T> => {
        const r = await send("Runtime.evaluate", {
          expression,
          returnByValue: true,
          awaitPromise: true,
        }) as { result: { value: T }; exceptionDetails?: { text: string } };
        if (r.exceptionDetails) {
          throw new Error(
            `evaluating ${expression.slice(0, 80)}: ${r.exceptionDetails.text}`,
          );
        }
        return r.result.value;
      };
      return {
        log,
        send,
        evaluate,
        async goto(url: string): Promise<void> {
          const loaded = conn.waitFor(
            (e) =>
              e.sessionId === sessionId && e.method === "Page.loadEventFired",
            `load of ${url}`,
          );
          const r = await send("Page.navigate", { url });
          if (r.errorText) {
            throw new Error(`navigating to ${url}: ${r.errorText}`);
          }
          await loaded;
        },
        async screenshot(o = {}): Promise<Uint8Array> {
          const width = o.width ?? 1200;
          await send("Emulation.setDeviceMetricsOverride", {
            width,
            height: 900,
            deviceScaleFactor: 1,
            mobile: false,
          });
          const height = await evaluate<number>(
            "Math.ceil(document.documentElement.scrollHeight)",
          );
          const h = Math.min(height, o.maxHeight ?? Infinity);
          await send("Emulation.setDeviceMetricsOverride", {
            width,
            height: h,
            deviceScaleFactor: 1,
            mobile: false,
          });
          const { data } = await send("Page.captureScreenshot", {
            format: "png",
            clip: { x: 0, y: 0, width, height: h, scale: 1 },
          }) as { data: string };
          return Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
        },
      };
    },
  };
}
