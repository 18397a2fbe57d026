/**
 * `deno task cache [--list | --prune | --clear] [--dry-run]`: shows what the
 * cache folder (`data.cacheDir`) holds and how big each part is, removes
 * stale entries, or empties it. See `src/cache/inventory.ts`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { loadConfig } from "../src/config/load.ts";
import { runTask } from "./_run_task.ts";
import { resolveCacheDir } from "../src/cache/cache_dir.ts";
import {
  clearCache,
  pruneCache,
  type RemovalResult,
} from "../src/cache/prune.ts";
import { formatInventory } from "../src/cache/inventory_format.ts";
import { type CacheItem, inventoryCache } from "../src/cache/inventory.ts";
import { FEATURE_CACHE_VERSION } from "../src/train/features.ts";
import { formatBytes } from "../src/util/format.ts";

const HELP =
  `Usage: deno task cache [--list | --prune | --clear] [--dry-run] [--dir DIR | --config FILE [--set KEY=VALUE ...]]

Shows or tidies the cache folder: downloads, extracted datasets, decoded
images (per size, interpolation and version), features, weights.

      --list           what the cache holds and how big each part is (default)
      --prune          remove stale entries: leftovers of killed runs (.part,
                       .tmp, partial extractions), decoded images and features
                       of older versions, extractions of archives that changed
      --clear          remove everything (prints what first)
      --dry-run        with --prune or --clear: only print what would go
      --dir DIR        the cache folder (default: data.cacheDir of the config)
  -c, --config FILE    config whose data.cacheDir to use (default:
                       train.config.json when it exists)
      --set KEY=VALUE  config override, as for deno task train
  -h, --help           this help
`;

function describe(item: CacheItem): string {
  return `${item.rel} (${formatBytes(item.bytes)}, ${item.files} file${
    item.files === 1 ? "" : "s"
  })${item.detail ? `: ${item.detail}` : ""}`;
}

function report(
  verb: [done: string, would: string],
  result: RemovalResult,
  dryRun: boolean,
): string {
  const lines = [
    `${dryRun ? `Would ${verb[1]}` : verb[0]} ${result.removed.length} entr${
      result.removed.length === 1 ? "y" : "ies"
    }: ${formatBytes(result.bytes)} in ${result.files} files.`,
  ];
  if (result.kept.length > 0) {
    lines.push(
      `Left ${result.kept.length} entr${
        result.kept.length === 1 ? "y" : "ies"
      } that a running process is writing:`,
      ...result.kept.map((i) => `  ${describe(i)}`),
    );
  }
  return lines.join("\n");
}

async function cacheDirOf(values: {
  dir?: string;
  config?: string;
  set?: string[];
}): Promise<string> {
  if (values.dir) return resolveCacheDir(values.dir);
  let file: string | null = values.config ?? "train.config.json";
  if (values.config === undefined) {
    try {
      await Deno.stat(file);
    } catch {
      file = null; // no config here: defaults (and --set)
    }
  }
  const config = await loadConfig(file, values.set ?? []);
  return resolveCacheDir(config.data.cacheDir);
}

async function main(): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: Deno.args,
      options: {
        list: { type: "boolean" },
        prune: { type: "boolean" },
        clear: { type: "boolean" },
        "dry-run": { type: "boolean" },
        dir: { type: "string" },
        config: { type: "string", short: "c" },
        set: { type: "string", multiple: true },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const actions = ["list", "prune", "clear"].filter((a) => values[a as "list"]);
  if (actions.length > 1) {
    console.error(
      `Choose one of --list, --prune, --clear (got ${
        actions.map((a) => `--${a}`).join(", ")
      }).\n\n${HELP}`,
    );
    return 2;
  }
  const action = actions[0] ?? "list";
  const dryRun = values["dry-run"] ?? false;
  if (dryRun && action === "list") {
    console.error(`--dry-run goes with --prune or --clear.\n\n${HELP}`);
    return 2;
  }
  const dir = await cacheDirOf(values);
  const opts = { featureCacheVersion: FEATURE_CACHE_VERSION };

  if (action === "list") {
    console.log(formatInventory(await inventoryCache(dir, opts)));
    return 0;
  }
  const onRemove = (item: CacheItem) =>
    console.log(`${dryRun ? "would remove" : "removing"} ${describe(item)}`);
  if (action === "prune") {
    const result = await pruneCache(dir, { ...opts, dryRun, onRemove });
    console.log(report(["Pruned", "prune"], result, dryRun));
    return 0;
  }
  console.log(`Clearing ${dir}:`);
  const result = await clearCache(dir, { ...opts, dryRun, onRemove });
  console.log(report(["Removed", "remove"], result, dryRun));
  return 0;
}

await runTask(main);
