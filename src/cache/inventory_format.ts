/**
 * The `deno task cache --list` table of a cache inventory
 * (`cache_inventory.ts`): one line per entry, many feature files or weights
 * memos of one status grouped into one line, then the stale total.
 *
 * @module
 */

import { formatBytes } from "../util/format.ts";
import {
  type CacheInventory,
  type CacheItem,
  type CacheKind,
  cacheTotals,
} from "./inventory.ts";

const KIND_LABELS: Record<CacheKind, string> = {
  download: "downloads",
  extracted: "extracted",
  decoded: "decoded images",
  features: "features",
  weights: "weights",
  "weights-memo": "weights SHA-256",
  leftover: "leftovers",
  other: "other",
};
const KIND_ORDER: CacheKind[] = [
  "download",
  "extracted",
  "decoded",
  "features",
  "weights",
  "weights-memo",
  "leftover",
  "other",
];

/** Groups items of one kind, status and detail (many feature files → one line). */
function groupItems(items: readonly CacheItem[]) {
  const groups = new Map<
    string,
    { first: CacheItem; count: number; bytes: number; files: number }
  >();
  for (const i of items) {
    const many = i.kind === "features" || i.kind === "weights-memo";
    const k = many
      ? `${i.kind}\0${i.status}\0${i.detail}`
      : `${i.kind}\0${i.path}`;
    const g = groups.get(k);
    if (g) {
      g.count++;
      g.bytes += i.bytes;
      g.files += i.files;
    } else groups.set(k, { first: i, count: 1, ...i });
  }
  return [...groups.values()].sort((a, b) =>
    KIND_ORDER.indexOf(a.first.kind) - KIND_ORDER.indexOf(b.first.kind) ||
    (a.first.rel < b.first.rel ? -1 : a.first.rel > b.first.rel ? 1 : 0)
  );
}

/** The `--list` table: one line per entry (feature files grouped), then the stale total. */
export function formatInventory(inv: CacheInventory): string {
  if (!inv.exists) return `Cache folder ${inv.dir} does not exist (empty).`;
  const lines = [
    `Cache folder ${inv.dir}: ${formatBytes(inv.bytes)} in ${
      inv.files.toLocaleString("en-US")
    } files`,
  ];
  const rows = groupItems(inv.items).map((g) => [
    KIND_LABELS[g.first.kind],
    formatBytes(g.bytes),
    g.files.toLocaleString("en-US"),
    g.first.status,
    g.count === 1
      ? `${g.first.rel}${g.first.detail ? `: ${g.first.detail}` : ""}`
      : `${g.count} entries: ${g.first.detail}`,
  ]);
  if (rows.length === 0) {
    lines.push("  (empty)");
    return lines.join("\n");
  }
  const head = ["what", "size", "files", "status", "entry"];
  const widths = head.map((h, c) =>
    Math.max(h.length, ...rows.map((r) => r[c].length))
  );
  const fmt = (r: string[]) =>
    "  " +
    r.map((cell, c) =>
      c === 4
        ? cell
        : c === 1 || c === 2
        ? cell.padStart(widths[c])
        : cell.padEnd(widths[c])
    ).join("  ");
  lines.push(fmt(head), ...rows.map(fmt));
  const stale = inv.items.filter((i) => i.status === "stale");
  if (stale.length > 0) {
    const t = cacheTotals(stale);
    lines.push(
      `Stale: ${formatBytes(t.bytes)} in ${
        t.files.toLocaleString("en-US")
      } files (deno task cache --prune removes them).`,
    );
  }
  const busy = inv.items.filter((i) => i.status === "in-use");
  if (busy.length > 0) {
    lines.push(
      `${busy.length} entr${
        busy.length === 1 ? "y is" : "ies are"
      } being written by a running process.`,
    );
  }
  return lines.join("\n");
}
