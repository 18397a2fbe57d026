/**
 * Progress of an LR-finder sweep: on a terminal one line redrawn in place
 * (`lr-find  37/100 [=====>....] lr 2.85e-5  loss 0.6931  smoothed 0.6912`),
 * otherwise a plain line every tenth of the sweep and at its end, never a
 * carriage return.
 *
 * @module
 */

import type { LrFindRecord, LrSuggestion } from "../train/lr_find.ts";
import type { LrSweepResult } from "../train/lr_sweep.ts";
import { formatLr } from "./lr_find_chart.ts";
import type { ProgressWriter } from "./progbar.ts";

/** Options of {@link lrFindProgress}. */
export interface LrFindProgressOptions {
  /** Where the text goes; default standard output. */
  writer?: ProgressWriter;
  /** Redraw one line (terminal) or print plain lines; default: whether standard output is a terminal. */
  isTty?: boolean;
  /** Bar width in characters (default 20). */
  barWidth?: number;
}

/** A sweep's progress display: `onIteration` for `lrSweep`, then `end`. */
export interface LrFindProgress {
  /** Shows one iteration (`lrSweep`'s `onIteration`). */
  onIteration(record: LrFindRecord, iterations: number): void;
  /** Ends the display (closes the redrawn line). */
  end(): void;
}

/** Makes the progress display of one sweep. */
export function lrFindProgress(
  options: LrFindProgressOptions = {},
): LrFindProgress {
  const opts = {
    writer: options.writer ?? stdoutWriter(),
    isTty: options.isTty ?? stdoutIsTerminal(),
  };
  const width = options.barWidth ?? 20;
  let open = false;
  let last: string | null = null;
  const line = (r: LrFindRecord, n: number) => {
    const step = r.iteration + 1;
    const done = Math.min(width, Math.floor((step / n) * width));
    const bar = done >= width
      ? "=".repeat(width)
      : `${"=".repeat(done)}>${".".repeat(width - done - 1)}`;
    const loss = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : String(v));
    return `lr-find ${
      String(step).padStart(String(n).length)
    }/${n} [${bar}] lr ${formatLr(r.lr)}  loss ${loss(r.loss)}  smoothed ${
      loss(r.smoothLoss)
    }`;
  };
  return {
    onIteration(record, iterations) {
      const text = line(record, iterations);
      if (opts.isTty) {
        opts.writer.write(`\r${text}\x1b[K`);
        open = true;
        return;
      }
      last = text;
      const every = Math.max(1, Math.round(iterations / 10));
      if ((record.iteration + 1) % every === 0) {
        opts.writer.write(text + "\n");
        last = null;
      }
    },
    end() {
      if (open) opts.writer.write("\n");
      else if (last !== null) opts.writer.write(last + "\n");
      open = false;
      last = null;
    },
  };
}

/**
 * What a sweep found, as lines to print: why it stopped, the three
 * suggestions (valley first: fastai's default), or why there are none.
 */
export function lrFindSummaryLines(
  result: Pick<
    LrSweepResult,
    "records" | "stopReason" | "suggestions" | "options"
  >,
): string[] {
  const n = result.records.length;
  const why: Record<LrSweepResult["stopReason"], string> = {
    completed: "all iterations ran",
    diverged: "the smoothed loss passed 4x its best",
    "non-finite-loss": "a loss was not finite",
    interrupted: "stop requested",
  };
  const lines = [
    `lr-find: ${n} iteration${n === 1 ? "" : "s"}, learning rates ${
      n
        ? `${formatLr(result.records[0].lr)} to ${
          formatLr(result.records[n - 1].lr)
        }`
        : "none"
    } (${result.stopReason}: ${why[result.stopReason]})`,
  ];
  const { valley, minimum, steep, window } = result.suggestions;
  if (!valley && !minimum && !steep) {
    lines.push(
      `no suggestion: fastai's window (iterations ${window.start} to 5 before the last) is empty; ` +
        `sweep further (a larger --end-lr or --num-it, or --no-stop-div)`,
    );
    return lines;
  }
  const fmt = (s: LrSuggestion | null) => (s ? formatLr(s.lr) : "n/a");
  lines.push(
    `suggested learning rates: valley ${
      fmt(valley)
    } (fastai's default), minimum ${fmt(minimum)}, steep ${fmt(steep)}`,
  );
  return lines;
}

function stdoutWriter(): ProgressWriter {
  const enc = new TextEncoder();
  return {
    write(text: string) {
      const bytes = enc.encode(text);
      let off = 0;
      while (off < bytes.length) {
        off += Deno.stdout.writeSync(bytes.subarray(off));
      }
    },
  };
}

function stdoutIsTerminal(): boolean {
  try {
    return Deno.stdout.isTerminal();
  } catch {
    return false;
  }
}
