/**
 * Formatting helpers and small HTML building blocks of `report.html`
 * (`html_report.ts`): numbers, percentages and durations as the page shows
 * them, and the card, section and placeholder markup the sections share.
 *
 * @module
 */

import { escapeXml as esc } from "./_svg.ts";
import { formatDuration } from "../util/format.ts";

/** A number with `digits` decimals; "—" when missing, NaN and ±∞ spelled out. */
export function num(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined) return "—";
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
  return v.toFixed(digits);
}

/** A fraction as a percentage with one decimal. */
export function pct(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return num(v);
  return `${(v * 100).toFixed(1)} %`;
}

/** A duration: seconds below a minute, else `formatDuration`. */
export function seconds(v: number): string {
  return v < 60 ? `${v.toFixed(v < 10 ? 2 : 1)} s` : formatDuration(v);
}

/** A config value as JSON, "(not set)" when undefined. */
export function json(v: unknown): string {
  return v === undefined ? "(not set)" : JSON.stringify(v);
}

/** A summary card: label, value and an optional line under it. */
export function card(label: string, value: string, sub = ""): string {
  return `<div class="card"><div class="label">${esc(label)}</div>` +
    `<div class="value">${esc(value)}</div>` +
    (sub ? `<div class="sub">${esc(sub)}</div>` : "") + `</div>`;
}

/** A page section with its id (the table of contents links to it) and heading. */
export function section(id: string, heading: string, body: string): string {
  return `<section id="${id}">\n<h2>${esc(heading)}</h2>\n${body}\n</section>`;
}

/** A muted line standing in for what is not there yet. */
export function placeholder(text: string): string {
  return `<p class="placeholder">${esc(text)}</p>`;
}
