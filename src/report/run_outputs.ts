/**
 * The files of one run folder as training goes: the folder itself (created
 * only once there is something to train, so a run that fails while fetching
 * or decoding leaves nothing behind), `config.json`, then `metrics.csv`,
 * `charts.svg` and `report.html` after every epoch (the page can be watched
 * while a long run goes on), `confusion.svg`, `model/` (with Teachable
 * Machine's `metadata.json`), `best_model/`, `demo/`, `summary.json`,
 * `MODEL_CARD.md` and the final `report.html` at the end.
 *
 * @module
 */

import { join } from "node:path";
import type * as tf from "../deps/tf.ts";
import type { Config } from "../config/types.ts";
import { saveModel } from "../model/model_io.ts";
import { basePreprocess } from "../model/bases.ts";
import { KERAS_APPLICATION_NAMES } from "../config/architecture.ts";
import { exportOnnx } from "../engine/onnx_export.ts";
import { renderConfusionMatrix } from "./confusion_chart.ts";
import type { MetricsRow } from "../train/fit.ts";
import { MetricsCsvWriter } from "./metrics.ts";
import { createRunDir } from "./run_dir.ts";
import { renderTrainingChart } from "./training_chart.ts";
import { writeFileAtomic } from "../util/fs.ts";
import { writeReportHtml } from "./html_report.ts";
import { runReportInput } from "./run_report.ts";
import {
  type RunFacts,
  type RunSummary,
  type StepSeconds,
  summarize,
  writeSummary,
} from "./summary.ts";
import {
  type GalleryCam,
  type TopLossEntry,
  topLossGallery,
} from "./top_losses.ts";
import type { ImageSet } from "../data/image_set.ts";
import {
  frozenInt8Cost,
  type ShippingRecord,
  shipVariants,
} from "./shipping.ts";
import { writeDemoPage } from "./demo_page.ts";
import { type ModelCardFile, renderModelCard } from "./model_card.ts";
import { teachableMachineMetadata } from "./tm_metadata.ts";

/** What the run knows once its data and model are ready. */
export interface RunContext {
  /** The backend selection. */
  backend: RunFacts["backend"];
  /** The decoded data. */
  data: {
    classNames: string[];
    train: ImageSet;
    validation: ImageSet;
    source: { zipPath: string | null };
  };
}

/** A run folder being written; see the module doc. */
export class RunOutputs {
  /** Every finished epoch, across stages. */
  readonly rows: MetricsRow[] = [];
  /** The quantized variants and their costs, once {@link saveModel} wrote them. */
  private shipping: ShippingRecord | null = null;

  private constructor(
    /** The run folder. */
    readonly dir: string,
    private readonly config: Config,
    private readonly metrics: MetricsCsvWriter,
    private readonly log: (line: string) => void,
    private readonly context: RunContext,
  ) {}

  /**
   * Creates `<output.dir>/<name>-<stamp>/` with `config.json` and an empty
   * `metrics.csv`, and says where.
   */
  static async create(
    config: Config,
    log: (line: string) => void,
    context: RunContext,
  ): Promise<RunOutputs> {
    const dir = await createRunDir(config.output.dir, config.name);
    await writeFileAtomic(
      join(dir, "config.json"),
      JSON.stringify(config, null, 2) + "\n",
    );
    const metrics = await MetricsCsvWriter.create(join(dir, "metrics.csv"), {
      stage: config.fineTune.enabled,
    });
    log(`run folder: ${dir}`);
    return new RunOutputs(dir, config, metrics, log, context);
  }

  /** Records a finished epoch: `metrics.csv` (synced), `charts.svg`, `report.html`. */
  async appendEpoch(row: MetricsRow): Promise<void> {
    this.rows.push(row);
    await this.metrics.append(row);
    await this.writeChart();
    await this.writeReport();
  }

  /** The run's record so far (`"running"`), or the final one with `stop`. */
  summary(facts: Partial<Omit<RunFacts, "rows" | "dir">> = {}): RunSummary {
    return summarize(this.config, {
      ...this.context,
      ...facts,
      shipping: this.shipping,
      rows: this.rows,
      dir: this.dir,
    });
  }

  /** Writes `report.html` from a record of the run (default: the one so far). */
  async writeReport(
    summary: RunSummary = this.summary(),
    topLosses: readonly TopLossEntry[] | null = null,
  ): Promise<void> {
    await writeReportHtml(
      join(this.dir, "report.html"),
      runReportInput(summary, this.rows, topLosses),
    );
  }

  /**
   * A saver for `output.saveBest`: writes the classifier of a new best
   * epoch to `best_model/` (null when `output.saveBest` is off).
   */
  bestSaver(
    model: tf.LayersModel,
  ): ((epoch: number, row: MetricsRow) => Promise<void>) | null {
    if (!this.config.output.saveBest) return null;
    return async (epoch, row) => {
      await this.saveModelTo(model, "best_model");
      this.log(
        `best model: epoch ${epoch}, val_loss ${
          row.val_loss.toFixed(4)
        }, val_accuracy ${row.val_accuracy.toFixed(4)} → best_model/`,
      );
    };
  }

  /**
   * Closes the run: says why training stopped early, makes sure
   * `charts.svg` exists (also with no finished epoch), writes
   * `confusion.svg` when there is an evaluation, then `summary.json` and the
   * final `report.html`. Resolves to the summary.
   */
  async close(
    facts:
      & Omit<RunFacts, "rows" | "dir" | "seconds" | "backend" | "data">
      & { stop: NonNullable<RunFacts["stop"]> },
    seconds: StepSeconds,
    opts: {
      /** Heatmaps in the top-loss gallery (`output.heatmaps`): the classifier's CAM graph. */
      cam?: GalleryCam | null;
      /** The trained classifier, for the cost of `engine.frozenInt8`. */
      model?: tf.LayersModel;
    } = {},
  ): Promise<RunSummary> {
    const { stop, evaluation } = facts;
    if (stop.stopReason === "early-stopped") {
      this.log(`early stopping: ${stop.detail}`);
    } else if (stop.stopReason === "interrupted") {
      this.log(
        `stopped on request after ${this.rows.length} epochs; writing outputs`,
      );
    } else if (stop.stopReason === "non-finite-loss") {
      this.log(
        `training stopped: ${stop.detail}; the metrics so far are kept`,
      );
    }
    if (this.rows.length === 0) await this.writeChart();
    if (evaluation) {
      await this.writeConfusion(
        evaluation.matrix,
        this.context.data.classNames,
      );
    }
    // engine.frozenInt8: what the int8 features cost (plain evaluations only).
    const int8Cost = this.config.engine.frozenInt8 && evaluation &&
        !facts.tta && facts.inputs?.frozenEngine && opts.model
      ? await frozenInt8Cost(
        this.config,
        opts.model,
        {
          validation: this.context.data.validation,
          backend: this.context.backend,
        },
        evaluation.probabilities,
      )
      : null;
    if (int8Cost) {
      this.log(
        `engine.frozenInt8: validation accuracy ${
          int8Cost.accuracy.toFixed(4)
        } on int8 features, ${
          int8Cost.floatAccuracy.toFixed(4)
        } on float32 features; top-1 agreement ${
          int8Cost.agreement.toFixed(4)
        }, max |Δp| ${int8Cost.maxAbsDiff.toExponential(2)}`,
      );
    }
    const summary = this.summary({
      ...facts,
      seconds,
      ...(int8Cost ? { frozenInt8Cost: int8Cost } : {}),
    });
    await writeSummary(join(this.dir, "summary.json"), summary);
    await this.writeModelCard(summary);
    const topLosses = evaluation && this.config.output.topLosses > 0
      ? await topLossGallery(
        this.context.data.validation,
        evaluation.probabilities,
        this.context.data.classNames,
        { count: this.config.output.topLosses, cam: opts.cam },
      )
      : null;
    await this.writeReport(summary, topLosses);
    return summary;
  }

  /** Writes `charts.svg` from the epochs so far. */
  async writeChart(): Promise<void> {
    await writeFileAtomic(
      join(this.dir, "charts.svg"),
      renderTrainingChart(this.rows, {
        title: `${this.config.name}: ${
          KERAS_APPLICATION_NAMES[this.config.model.architecture]
        } transfer learning`,
      }),
    );
  }

  /** Writes `confusion.svg`. */
  async writeConfusion(
    matrix: number[][],
    classNames: readonly string[],
  ): Promise<void> {
    await writeFileAtomic(
      join(this.dir, "confusion.svg"),
      renderConfusionMatrix(matrix, classNames, {
        title: `${this.config.name}: validation confusion matrix`,
      }),
    );
  }

  /**
   * Saves the trained classifier into `model/` with its labels and
   * preprocessing (unless `output.saveModel` is false), and as
   * `model/model.onnx` (unless `output.onnx` is false), then the
   * quantized variants of `output.quantize`, measured on the validation set
   * (`shipping.ts`).
   */
  async saveModel(model: tf.LayersModel): Promise<void> {
    if (!this.config.output.saveModel) return;
    await this.saveModelTo(model, "model");
    this.shipping = await shipVariants(this.config, model, {
      dir: this.dir,
      validation: this.context.data.validation,
      train: this.context.data.train,
      backend: this.context.backend,
      log: this.log,
    });
    if (this.config.output.demo) await this.writeDemo();
  }

  /**
   * Writes `demo/` (`output.demo`) for `model/`. A page that cannot be
   * written (TF.js' browser files missing from the npm cache) is said in
   * one line and does not fail the run.
   */
  private async writeDemo(): Promise<void> {
    try {
      const page = await writeDemoPage(this.dir, this.config.name);
      this.log(
        `demo page: ${page.index} (open it with: deno task serve ${this.dir})`,
      );
    } catch (e) {
      this.log(`demo page not written: ${(e as Error).message}`);
    }
  }

  /** Writes `MODEL_CARD.md` from the final record and the saved model's files. */
  private async writeModelCard(summary: RunSummary): Promise<void> {
    const files: ModelCardFile[] = [];
    for (const folder of ["model", "best_model"]) {
      try {
        const names: string[] = [];
        for await (const e of Deno.readDir(join(this.dir, folder))) {
          if (e.isFile) names.push(e.name);
        }
        for (const name of names.sort()) {
          const { size } = await Deno.stat(join(this.dir, folder, name));
          files.push({ path: `${folder}/${name}`, bytes: size });
        }
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    await writeFileAtomic(
      join(this.dir, "MODEL_CARD.md"),
      renderModelCard(summary, this.config, {
        files,
        generatedAt: new Date().toISOString(),
      }),
    );
  }

  /** Saves the classifier (and its ONNX twin, with `output.onnx`) into `<run>/<folder>/`. */
  private async saveModelTo(
    model: tf.LayersModel,
    folder: string,
  ): Promise<void> {
    await saveModel(model, join(this.dir, folder), {
      classNames: this.context.data.classNames,
      preprocessing: {
        imageSize: this.config.data.imageSize,
        interpolation: this.config.data.interpolation,
        preprocess: basePreprocess(this.config.model.architecture),
        // Decoding other than TF's, recorded only when chosen (so that
        // models trained the default way keep their preprocessing.json).
        ...(this.config.data.exifOrientation === "apply"
          ? { exifOrientation: "apply" as const }
          : {}),
        ...(this.config.data.bmp === "full" ? { bmp: "full" as const } : {}),
      },
    });
    if (this.config.output.onnx) {
      await writeFileAtomic(
        join(this.dir, folder, "model.onnx"),
        exportOnnx(model),
      );
    }
    const tm = teachableMachineMetadata({
      modelName: this.config.name,
      classNames: this.context.data.classNames,
      imageSize: this.config.data.imageSize,
      interpolation: this.config.data.interpolation,
      preprocess: basePreprocess(this.config.model.architecture),
      timeStamp: new Date().toISOString(),
    });
    if (tm) {
      await writeFileAtomic(
        join(this.dir, folder, "metadata.json"),
        JSON.stringify(tm, null, 2) + "\n",
      );
    }
  }
}
