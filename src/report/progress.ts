/**
 * A download-progress printer: one rewritten status line (bytes, percent,
 * rate, ETA) on a terminal, a few plain lines otherwise (logs, CI).
 *
 * @module
 */

import type { FetchProgress } from "../data/fetch.ts";
import { formatBytes, formatDuration } from "../util/format.ts";

/** Options of {@link createProgressPrinter}. */
export interface ProgressPrinterOptions {
  /** Prefix of every line, e.g. the file name. Default "download". */
  label?: string;
  /** Rewrite one line with `\r` (terminal) or print plain lines. Default: whether stderr is a TTY. */
  tty?: boolean;
  /** Where text goes. Default: stderr. */
  write?: (text: string) => void;
  /** Minimum milliseconds between two TTY redraws. Default 100. */
  intervalMs?: number;
  /** Plain mode: print at each of these percentages (default 25, 50, 75), plus start and end. */
  milestones?: number[];
}

/** One human-readable status: `12.0 MiB / 65.4 MiB  18%  3.2 MiB/s  ETA 17s`. */
export function formatProgress(p: FetchProgress): string {
  const rate = `${formatBytes(Math.round(p.bytesPerSecond))}/s`;
  if (p.total === null || p.total <= 0) {
    return `${formatBytes(p.bytes)}  ${rate}`;
  }
  const pct = Math.min(100, Math.floor((p.bytes / p.total) * 100));
  const eta = p.done
    ? `in ${formatDuration(p.elapsedMs / 1000)}`
    : `ETA ${
      formatDuration(
        p.bytesPerSecond > 0 ? (p.total - p.bytes) / p.bytesPerSecond : NaN,
      )
    }`;
  return `${formatBytes(p.bytes)} / ${formatBytes(p.total)}  ${
    String(pct).padStart(3)
  }%  ${rate}  ${eta}`;
}

function stderrIsTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

const encoder = new TextEncoder();

/**
 * Returns an `onProgress` callback for `fetchFile` that prints progress:
 * on a TTY one line redrawn at most every `intervalMs`; otherwise a line at
 * the start, at each milestone percentage (or every 25 MiB when the size is
 * unknown) and at the end.
 */
export function createProgressPrinter(
  opts: ProgressPrinterOptions = {},
): (p: FetchProgress) => void {
  const label = opts.label ?? "download";
  const tty = opts.tty ?? stderrIsTerminal();
  const write = opts.write ??
    ((text: string) => Deno.stderr.writeSync(encoder.encode(text)));
  const intervalMs = opts.intervalMs ?? 100;
  const milestones = [...(opts.milestones ?? [25, 50, 75])].sort((a, b) =>
    a - b
  );
  let lastDraw = -Infinity;
  let started = false;
  let nextMilestone = 0;
  let nextUnknownMark = 25 * 1024 * 1024;
  return (p: FetchProgress) => {
    if (tty) {
      const now = performance.now();
      if (!p.done && now - lastDraw < intervalMs) return;
      lastDraw = now;
      write(`\r\x1b[2K${label}: ${formatProgress(p)}${p.done ? "\n" : ""}`);
      return;
    }
    if (!started) {
      started = true;
      const size = p.total === null ? "unknown size" : formatBytes(p.total);
      write(`${label}: downloading ${p.url} (${size})\n`);
    }
    if (p.done) {
      write(`${label}: done, ${formatProgress(p)}\n`);
      return;
    }
    if (p.total !== null && p.total > 0) {
      const pct = (p.bytes / p.total) * 100;
      let crossed = false;
      while (
        nextMilestone < milestones.length && pct >= milestones[nextMilestone]
      ) {
        nextMilestone++;
        crossed = true;
      }
      if (crossed) write(`${label}: ${formatProgress(p)}\n`);
    } else if (p.bytes >= nextUnknownMark) {
      while (p.bytes >= nextUnknownMark) nextUnknownMark += 25 * 1024 * 1024;
      write(`${label}: ${formatProgress(p)}\n`);
    }
  };
}
