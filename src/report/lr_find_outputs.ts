/**
 * The LR finder's folder: `<output.dir>/<name>-lr-find-<UTC stamp>/`, a new
 * one per sweep (never an earlier run's or sweep's, see `run_dir.ts`), with
 * `config.json` (the resolved config), `lr_find.json` (settings, every
 * iteration, the stop, the suggestions) and `lr_find.svg` (the figure).
 * Nothing else is kept: the head the sweep trained is thrown away.
 *
 * @module
 */

import { join } from "node:path";
import type { LrSweepResult } from "../train/lr_sweep.ts";
import { writeFileAtomic } from "../util/fs.ts";
import { renderLrFindChart } from "./lr_find_chart.ts";
import { createRunDir } from "./run_dir.ts";

/** Version of `lr_find.json`'s layout. */
export const LR_FIND_JSON_VERSION = 1;

/** What the sweep ran on, recorded beside its results. */
export interface LrFindFacts {
  /** The TF.js backend. */
  backend: string;
  /** The optimizer and its update rule. */
  optimizer: { name: string; rule: string };
  /** How the frozen stage was fed (the feature plan's mode and reason). */
  features: { mode: string; reason: string; cacheReused: boolean };
  /** Training images, batch size and batches per epoch. */
  train: { images: number; batchSize: number; batchesPerEpoch: number };
  /** Wall seconds: before the sweep (data, model, features) and the sweep. */
  seconds: { prepare: number; sweep: number };
}

/** The files {@link writeLrFindOutputs} wrote. */
export interface LrFindOutputs {
  /** The new folder. */
  dir: string;
  /** `lr_find.json`. */
  json: string;
  /** `lr_find.svg`. */
  svg: string;
}

/**
 * Creates the sweep's folder under `config.output.dir` and writes its three
 * files, each atomically. Non-finite losses are written as `null`.
 */
export async function writeLrFindOutputs(
  config: { name: string; output: { dir: string } },
  result: LrSweepResult,
  facts: LrFindFacts,
): Promise<LrFindOutputs> {
  const dir = await createRunDir(config.output.dir, `${config.name}-lr-find`);
  await writeFileAtomic(
    join(dir, "config.json"),
    JSON.stringify(config, null, 2) + "\n",
  );
  const finite = (v: number) => (Number.isFinite(v) ? v : null);
  const json = join(dir, "lr_find.json");
  await writeFileAtomic(
    json,
    JSON.stringify(
      {
        version: LR_FIND_JSON_VERSION,
        options: result.options,
        stopReason: result.stopReason,
        iterations: result.records.length,
        suggestions: result.suggestions,
        ...facts,
        records: result.records.map((r) => ({
          iteration: r.iteration,
          lr: r.lr,
          loss: finite(r.loss),
          smoothLoss: finite(r.smoothLoss),
        })),
      },
      null,
      2,
    ) + "\n",
  );
  const svg = join(dir, "lr_find.svg");
  await writeFileAtomic(
    svg,
    renderLrFindChart(result.records, result.suggestions, {
      title: `Learning rate finder: ${config.name}`,
    }),
  );
  return { dir, json, svg };
}
