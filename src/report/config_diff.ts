/**
 * What a run changed from the default config, as a flat list of dotted key
 * paths (`train.epochs`, `data.imageSize`) with both values, for the report.
 * Plain objects are walked key by key; anything else (arrays included) is
 * compared as a whole value.
 *
 * @module
 */

import { parseConfig } from "../config/load.ts";

/** One key whose value differs from its default. */
export interface ConfigChange {
  /** Dotted key path, e.g. `data.imageSize`. */
  path: string;
  /** The run's value (`undefined` when the run lacks the key). */
  value: unknown;
  /** The default (`undefined` when the defaults lack the key). */
  default: unknown;
}

/**
 * Every leaf where `config` and `defaults` differ, sorted by path. Values
 * are compared structurally (arrays element by element), so `[96, 96]`
 * equals another `[96, 96]`.
 */
export function configDiff(config: unknown, defaults: unknown): ConfigChange[] {
  const out: ConfigChange[] = [];
  walk(config, defaults, "", out);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * {@link configDiff} against the schema's defaults (`parseConfig({})`):
 * what the run's config file and `--set` overrides changed.
 */
export function configChangesFromDefaults(config: unknown): ConfigChange[] {
  return configDiff(config, parseConfig({}, "defaults"));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function walk(a: unknown, b: unknown, path: string, out: ConfigChange[]) {
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) walk(a[k], b[k], path ? `${path}.${k}` : k, out);
    return;
  }
  if (!sameValue(a, b)) out.push({ path, value: a, default: b });
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => sameValue(a[k], b[k]));
  }
  return false;
}
