/**
 * The exit codes every task shares: 0 done, 1 error, 2 bad config or
 * flags, 130 interrupted.
 *
 * @module
 */

import { ConfigError } from "../src/config/load.ts";

/**
 * Runs a task's `main` and exits with the code it returns. A config error
 * exits 2 with its message; a stop request before `main` could finish
 * (an `AbortError`) exits 130 with `abortMessage`; any other error exits 1
 * with `error: <message>`.
 */
export async function runTask(
  main: () => Promise<number>,
  abortMessage = "interrupted",
): Promise<never> {
  try {
    Deno.exit(await main());
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      Deno.exit(2);
    }
    if (err instanceof DOMException && err.name === "AbortError") {
      console.error(abortMessage);
      Deno.exit(130);
    }
    console.error(`error: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
