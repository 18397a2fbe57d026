/**
 * Python's float formatting, for Keras' file names.
 *
 * @module
 */

/** A number as Python's `str(float(x))` writes it (`1` → `"1.0"`, `0.5` → `"0.5"`). */
export function pythonFloatString(x: number): string {
  return Number.isInteger(x) ? x.toFixed(1) : String(x);
}
