/**
 * Running a `deno task` as a subprocess the way `deno task <name>` runs it:
 * with the permission flags deno.json gives the task, from the repository
 * root, colours off.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (where deno.json is). */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/**
 * `deno run <flags>` of a task in the deno.json of `root` (default
 * {@link ROOT}), e.g. `["--allow-read", …]`, checking that the task runs
 * `script` when one is given.
 */
export async function taskFlags(
  task: string,
  script?: string,
  root: string = ROOT,
): Promise<string[]> {
  const deno = JSON.parse(await Deno.readTextFile(join(root, "deno.json")));
  const line = deno.tasks[task];
  assert.equal(typeof line, "string", `deno.json has no task "${task}"`);
  const words = (line as string).split(/\s+/);
  assert.deepEqual(words.slice(0, 2), ["deno", "run"], task);
  if (script !== undefined) assert.equal(words.at(-1), script, task);
  return words.slice(2, -1);
}

/** Starts `script` with `flags` and `args` (stdout and stderr piped). */
export function spawnTask(
  script: string,
  flags: string[],
  args: string[],
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, script, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

/** What a finished task printed, and its exit code. */
export interface TaskOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Waits for `child` and decodes what it printed. */
export async function finished(child: Deno.ChildProcess): Promise<TaskOutput> {
  const { code, stdout, stderr } = await child.output();
  const dec = new TextDecoder();
  return { code, stdout: dec.decode(stdout), stderr: dec.decode(stderr) };
}

/** Runs deno.json's `task` (whose script is `script`) with `args` to the end. */
export async function runTask(
  task: string,
  script: string,
  args: string[],
): Promise<TaskOutput> {
  return finished(spawnTask(script, await taskFlags(task, script), args));
}
