/**
 * `deno task lr-find`'s chain: the run's own steps up to the features —
 * backend → data (fetch → unzip → decode) → build → features (cached once,
 * as `deno task train` caches them) — then fastai's learning-rate sweep of
 * what the frozen stage trains (the head, on the cached features) with
 * `train.optimizer`, and a new folder with the figure and the records. The
 * head is built fresh for the sweep and thrown away afterwards: nothing is
 * saved, and no later run starts from it (fastai restores the weights it
 * had). Fine-tuning is not swept: `fineTune` is ignored (and no prefix is
 * computed).
 *
 * @example
 * ```ts ignore
 * import { loadConfig, runLrFind } from "../mod.ts";
 * // Downloads the cats-vs-dogs zip and Keras' ImageNet weights once (not
 * // run by `deno test --doc`).
 * const r = await runLrFind(await loadConfig("train.config.json"));
 * console.log(r.suggestions.valley?.lr, r.dir);
 * ```
 *
 * @module
 */

import type { Config } from "./config/types.ts";
import { prepareData } from "./data/prepare.ts";
import {
  buildModel,
  checkArchitectureBuilt,
  disposeModel,
} from "./model/build.ts";
import { planFeatures } from "./train/plan.ts";
import { trainingInputs } from "./train/inputs.ts";
import type { LrFindOptions } from "./train/lr_find.ts";
import { lrSweep, type LrSweepResult } from "./train/lr_sweep.ts";
import { splitClassWeights } from "./train/class_weight.ts";
import {
  lrFindProgress,
  lrFindSummaryLines,
} from "./report/lr_find_progress.ts";
import { formatLr } from "./report/lr_find_chart.ts";
import {
  type LrFindFacts,
  type LrFindOutputs,
  writeLrFindOutputs,
} from "./report/lr_find_outputs.ts";
import type { ProgressWriter } from "./report/progbar.ts";
import { checkWritableDir } from "./util/fs_errors.ts";
import { startBackend, stepContext } from "./run.ts";

/** Options of {@link runLrFind} beyond the config. */
export interface LrFindRunOptions {
  /** The sweep's settings; fastai's defaults for what is missing. */
  finder?: Partial<LrFindOptions>;
  /** Status lines; default `console.error`. */
  log?: (line: string) => void;
  /** Where the sweep's progress goes; default stdout. */
  progress?: ProgressWriter;
  /** Force TTY (redrawing) or plain progress; default: detect. */
  isTty?: boolean;
  /** Stop the sweep after the current batch (the outputs are still written). */
  signal?: AbortSignal;
  /** Seed of the head's initial weights; default `data.seed`. */
  initSeed?: number;
}

/** What {@link runLrFind} resolves to. */
export interface LrFindRunResult extends LrSweepResult, LrFindOutputs {
  /** What the sweep ran on (also in `lr_find.json`). */
  facts: LrFindFacts;
  /** The summary lines it printed (stop, suggestions). */
  summary: string[];
}

/**
 * Runs fastai's LR finder for `config` (see the module doc) and writes
 * `<output.dir>/<name>-lr-find-<UTC stamp>/` with `config.json`,
 * `lr_find.json` and `lr_find.svg`. A stop request before the sweep
 * (download, decode, features) rejects with the signal's `AbortError`; one
 * during the sweep ends it, and what was swept is written.
 */
export async function runLrFind(
  config: Config,
  opts: LrFindRunOptions = {},
): Promise<LrFindRunResult> {
  const started = performance.now();
  // Only the frozen stage is swept: no fine-tuning inputs, no prefix cache.
  const swept: Config = {
    ...config,
    fineTune: { ...config.fineTune, enabled: false },
  };
  checkArchitectureBuilt(swept.model);
  const ctx = stepContext(swept, opts);
  const { log } = ctx;
  await checkWritableDir(config.output.dir, "output.dir");
  const backend = await startBackend(swept, log);
  const data = await prepareData({ ...swept.data, ...ctx });
  // The sweep trains on the run's loss; a wrong class name fails before any
  // building, as in `deno task train`.
  const weights = splitClassWeights(
    config.train.classWeight,
    data.classNames,
    data.train.labels,
  );
  const model = await buildModel(swept, {
    ...ctx,
    classNames: data.classNames,
  });
  try {
    const plan = planFeatures(swept);
    const inputs = await trainingInputs(swept, plan, model, data, {
      ...ctx,
      backend,
    });
    let result: LrSweepResult;
    let sweepSeconds: number;
    const prepareSeconds = (performance.now() - started) / 1000;
    try {
      const what = plan.mode === "images" ? "the whole classifier" : "the head";
      log(
        `lr-find: sweeping the learning rate of ${what} (${plan.mode}: ${plan.reason}) with ${config.train.optimizer}, ` +
          `${data.train.count} training images in batches of ${config.data.batchSize}`,
      );
      const progress = lrFindProgress({
        writer: opts.progress,
        isTty: opts.isTty,
      });
      const t0 = performance.now();
      try {
        result = await lrSweep(inputs.trainModel, inputs.train, {
          finder: opts.finder,
          optimizer: config.train.optimizer,
          optimizerRule: config.train.optimizerRule,
          output: config.model.head.output,
          loss: {
            classWeights: weights,
            labelSmoothing: config.train.labelSmoothing,
          },
          signal: opts.signal,
          onIteration: (r, n) => progress.onIteration(r, n),
        });
      } finally {
        progress.end();
      }
      sweepSeconds = (performance.now() - t0) / 1000;
    } finally {
      await inputs.dispose();
    }
    const facts: LrFindFacts = {
      backend: backend.backend,
      optimizer: {
        name: config.train.optimizer,
        rule: config.train.optimizerRule,
      },
      features: {
        mode: plan.mode,
        reason: plan.reason,
        cacheReused: inputs.featureCache.reused,
      },
      train: {
        images: data.train.count,
        batchSize: config.data.batchSize,
        batchesPerEpoch: inputs.train.numBatches,
      },
      seconds: { prepare: prepareSeconds, sweep: sweepSeconds },
    };
    const out = await writeLrFindOutputs(config, result, facts);
    const summary = [
      ...lrFindSummaryLines(result),
      `lr-find: sweep ${sweepSeconds.toFixed(1)} s (${
        formatLr(result.options.startLr)
      } to ${formatLr(result.options.endLr)}), data and features ${
        prepareSeconds.toFixed(1)
      } s`,
    ];
    return { ...result, ...out, facts, summary };
  } finally {
    disposeModel(model);
  }
}
