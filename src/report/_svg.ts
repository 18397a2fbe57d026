/**
 * SVG text helpers shared by the charts: XML escaping, the font stack and
 * number formatting.
 *
 * @module
 */

/** Escapes text for use in SVG/XML content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) =>
      ({
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "'": "&apos;",
      })[c]!,
  );
}

/** Font stack of every chart label. */
export const FONT = "DejaVu Sans, Helvetica, Arial, sans-serif";
/** A coordinate rounded to 2 decimals, as SVG attribute text. */
export const r2 = (n: number) => String(Math.round(n * 100) / 100);

/** Shortens `s` to at most `max` characters, ending with "…" when cut. */
export function truncate(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max
    ? s
    : chars.slice(0, Math.max(1, max - 1)).join("") + "…";
}
