/**
 * The files of one run folder as training goes: the folder itself (created
 * only once there is something to train, so a run that fails while fetching
 * or decoding leaves nothing behind), `config.json`, `metrics.csv` and
 * `charts.svg` after every epoch, `confusion.svg` at the end.
 *
 * @module
 */

import { join } from "node:path";
import type { tf } from "../deps.ts";
import type { Config } from "../config/schema.ts";
import { saveModel } from "../model/model_io.ts";
import { exportOnnx } from "../model/onnx_export.ts";
import type { StopReason } from "../train/fit.ts";
import { renderConfusionMatrix } from "./confusion_chart.ts";
import { MetricsCsvWriter, type MetricsRow } from "./metrics.ts";
import { createRunDir } from "./run_dir.ts";
import { renderTrainingChart } from "./training_chart.ts";
import { writeFileAtomic } from "../util/fs.ts";

/** A run folder being written; see the module doc. */
export class RunOutputs {
  /** Every finished epoch, across stages. */
  readonly rows: MetricsRow[] = [];

  private constructor(
    /** The run folder. */
    readonly dir: string,
    private readonly config: Config,
    private readonly metrics: MetricsCsvWriter,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Creates `<output.dir>/<name>-<stamp>/` with `config.json` and an empty
   * `metrics.csv`, and says where.
   */
  static async create(
    config: Config,
    log: (line: string) => void,
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
    return new RunOutputs(dir, config, metrics, log);
  }

  /** Records a finished epoch: `metrics.csv` (synced) and `charts.svg`. */
  async appendEpoch(row: MetricsRow): Promise<void> {
    this.rows.push(row);
    await this.metrics.append(row);
    await this.writeChart();
  }

  /** Writes `charts.svg` from the epochs so far. */
  async writeChart(): Promise<void> {
    await writeFileAtomic(
      join(this.dir, "charts.svg"),
      renderTrainingChart(this.rows, {
        title: `${this.config.name}: MobileNetV2 transfer learning`,
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
   * Closes training: says why it stopped early, makes sure `charts.svg`
   * exists (also with no finished epoch) and writes `confusion.svg` when
   * there is an evaluation.
   */
  async finish(
    stop: { stopReason: StopReason; detail?: string },
    evaluation: { matrix: number[][] } | null,
    classNames: readonly string[],
  ): Promise<void> {
    if (stop.stopReason === "interrupted") {
      this.log(
        `stopped on request after ${this.rows.length} epochs; writing outputs`,
      );
    } else if (stop.stopReason === "non-finite-loss") {
      this.log(
        `training stopped: ${stop.detail}; the metrics so far are kept`,
      );
    }
    if (this.rows.length === 0) await this.writeChart();
    if (evaluation) await this.writeConfusion(evaluation.matrix, classNames);
  }

  /**
   * Saves the trained classifier into `model/` with its labels and
   * preprocessing (unless `output.saveModel` is false), and as
   * `model/model.onnx` (unless `output.onnx` is false).
   */
  async saveModel(
    model: tf.LayersModel,
    classNames: string[],
  ): Promise<void> {
    if (!this.config.output.saveModel) return;
    await saveModel(model, join(this.dir, "model"), {
      classNames,
      preprocessing: {
        imageSize: this.config.data.imageSize,
        interpolation: this.config.data.interpolation,
        preprocess: "mobilenet_v2",
      },
    });
    if (this.config.output.onnx) {
      await writeFileAtomic(
        join(this.dir, "model", "model.onnx"),
        exportOnnx(model),
      );
    }
  }
}
