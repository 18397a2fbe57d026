/**
 * `deno task serve RUN [--port N] [--host ADDR] [--quiet]`: serves a run
 * folder on the loopback interface and prints the demo page's URL. A run
 * made without `demo/` (before `output.demo`, or with it off) gets one
 * written first, said in one line. Ctrl-C stops.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { checkRunFolder, serveRun } from "../src/report/run_server.ts";
import { writeDemoPage } from "../src/report/demo_page.ts";
import { statOrNull } from "../src/util/fs.ts";
import { runTask } from "./_run_task.ts";

const HELP = `Usage: deno task serve RUN [--port N] [--host ADDR]

Serves the run folder RUN (runs/<name>-<stamp>) over HTTP and prints the
URL of its demo page (demo/index.html), which classifies images in the
browser with the run's model. Only files inside RUN are served.

  -p, --port N      port (default 0: any free port)
      --host ADDR   interface to listen on (default 127.0.0.1; another
                    address makes the run's files reachable from the network)
  -q, --quiet       do not log requests
  -h, --help        this help
`;

async function main(): Promise<number> {
  let values, positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: Deno.args,
      allowPositionals: true,
      options: {
        port: { type: "string", short: "p", default: "0" },
        host: { type: "string", default: "127.0.0.1" },
        quiet: { type: "boolean", short: "q", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(
      `expected one run folder, got ${positionals.length}\n\n${HELP}`,
    );
    return 2;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port: expected an integer 0–65535, got "${values.port}"`);
    return 2;
  }
  const dir = positionals[0];
  const root = await checkRunFolder(dir);
  if (!await statOrNull(join(root, "demo", "index.html"))) {
    const page = await writeDemoPage(root, root.split(/[\\/]/).pop()!);
    console.error(`wrote ${page.index} (the run had no demo page)`);
  }
  const server = await serveRun(root, {
    port,
    hostname: values.host,
    onRequest: values.quiet ? undefined : (line) => console.error(line),
  });
  console.log(`serving ${server.root} at ${server.url}`);
  console.log(`demo: ${server.demoUrl}`);
  await new Promise(() => {});
  return 0;
}

await runTask(main);
