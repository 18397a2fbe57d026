/**
 * Loading a config: parse and validate against {@link ConfigSchema}, apply
 * `--set key=value` overrides, and turn zod's issues into errors that name
 * the key path, what was expected and the value found (with a "did you
 * mean" for unknown keys).
 *
 * @example Load the default config with overrides
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadConfig } from "./load.ts";
 * const config = await loadConfig("train.config.json", ["train.epochs=3"]);
 * assert.equal(config.train.epochs, 3);
 * ```
 *
 * @module
 */

import type { z } from "../deps/zod.ts";
import type { Config } from "./types.ts";
import { ConfigSchema } from "./schema.ts";

/** A config that failed to load; `message` names the file, key and problem. */
export class ConfigError extends Error {
  /** One line per problem, e.g. `train.epochs: expected integer >= 1, found 0`. */
  readonly problems: string[];
  /**
   * A config that failed validation.
   *
   * @param source the file (and overrides) the config came from
   * @param problems one line per problem
   */
  constructor(source: string, problems: string[]) {
    super(
      `Invalid config ${source}:\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** Formats a key path as users write it: `data.imageSize[0]`. */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? String(seg) : `.${String(seg)}`;
  }
  return out === "" ? "(root)" : out;
}

function describeValue(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return `${JSON.stringify(v)} (array)`;
  if (typeof v === "object") return "an object";
  return `${JSON.stringify(v)} (${typeof v})`;
}

/** Levenshtein distance, for "did you mean" hints. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      const cost = a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1;
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + cost);
      prev = cur;
    }
  }
  return row[b.length];
}

/** The closest known key to `key`, when close enough to be a typo. */
export function suggestKey(
  key: string,
  known: readonly string[],
): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < bestDist) [best, bestDist] = [k, d];
  }
  return bestDist <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/** Walks the schema to the object schema at `path`, returning its keys. */
function knownKeysAt(path: readonly PropertyKey[]): string[] {
  // deno-lint-ignore no-explicit-any
  let node: any = ConfigSchema;
  for (const seg of [...path, null]) {
    // Unwrap defaults, prefaults, nullables, optionals and refinements.
    for (let guard = 0; guard < 10 && node?.def; guard++) {
      if (node.def.innerType) node = node.def.innerType;
      else if (node.def.type === "pipe") node = node.def.in;
      else break;
    }
    if (seg === null) break;
    node = node?.shape?.[seg as string];
  }
  return node?.shape ? Object.keys(node.shape) : [];
}

function expectedFor(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return `expected ${
        issue.expected === "int" ? "integer" : issue.expected
      }`;
    case "too_small": {
      const op = issue.inclusive ? ">=" : ">";
      if (issue.origin === "array") {
        return `expected an array of ${op} ${issue.minimum} items`;
      }
      if (issue.origin === "string") {
        return `expected a non-empty string`;
      }
      return `expected ${issue.origin} ${op} ${issue.minimum}`;
    }
    case "too_big": {
      const op = issue.inclusive ? "<=" : "<";
      if (issue.origin === "array") {
        return `expected an array of ${op} ${issue.maximum} items`;
      }
      return `expected ${issue.origin} ${op} ${issue.maximum}`;
    }
    case "invalid_value":
      return `expected one of ${
        issue.values.map((v) => JSON.stringify(v)).join(", ")
      }`;
    case "invalid_union": {
      const options = issue.errors.flat()
        .map((e) => e.code === "invalid_value" ? e.values.map(String) : [])
        .flat();
      return options.length > 0
        ? `expected one of ${options.join(", ")}`
        : issue.message;
    }
    case "invalid_format":
      return issue.format === "url" ? "expected a URL" : issue.message;
    default:
      return issue.message;
  }
}

/** Turns zod issues into one readable line each. */
function formatIssues(
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      const known = knownKeysAt(issue.path);
      for (const key of issue.keys) {
        const where = formatKeyPath([...issue.path, key]);
        const hint = suggestKey(key, known);
        lines.push(
          `${where}: unknown key${hint ? ` (did you mean "${hint}"?)` : ""}` +
            (known.length ? `; expected one of ${known.join(", ")}` : ""),
        );
      }
      continue;
    }
    let found: unknown = input;
    for (const seg of issue.path) {
      found = found != null && typeof found === "object"
        ? (found as Record<PropertyKey, unknown>)[seg as string]
        : undefined;
    }
    const what = issue.code === "custom"
      ? issue.message
      : `${expectedFor(issue)}, found ${describeValue(found)}`;
    lines.push(`${formatKeyPath(issue.path)}: ${what}`);
  }
  return lines;
}

/**
 * Validates a parsed config object, filling in defaults.
 *
 * @param raw the parsed JSON
 * @param source where it came from, for error messages (e.g. the file name)
 * @throws {ConfigError} naming every bad key, what was expected and what was found
 */
export function parseConfig(raw: unknown, source = "config"): Config {
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(source, formatIssues(result.error.issues, raw));
  }
  return result.data;
}

/**
 * Parses one `--set dotted.key=value` override. The value is read as JSON
 * when it parses (`3`, `[96,96]`, `null`, `true`), else as a plain string.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseOverride } from "./load.ts";
 * assert.equal(JSON.stringify(parseOverride("data.imageSize=[96,96]").value), "[96,96]");
 * assert.equal(parseOverride("name=my-run").value, "my-run");
 * ```
 */
export function parseOverride(
  text: string,
): { path: string[]; value: unknown } {
  const eq = text.indexOf("=");
  if (eq <= 0) {
    throw new ConfigError("--set", [
      `"${text}": expected dotted.key=value, e.g. train.epochs=3`,
    ]);
  }
  const key = text.slice(0, eq).trim();
  const path = key.split(".");
  if (path.some((p) => p === "")) {
    throw new ConfigError("--set", [`"${key}": empty segment in key path`]);
  }
  const rawValue = text.slice(eq + 1);
  let value: unknown;
  try {
    value = JSON.parse(rawValue);
  } catch {
    value = rawValue;
  }
  return { path, value };
}

/**
 * Applies `--set` overrides to a raw config object (a copy is returned).
 * Unknown keys are kept so validation can report them with a suggestion.
 */
export function applyOverrides(
  raw: Record<string, unknown>,
  overrides: readonly string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(raw);
  for (const text of overrides) {
    const { path, value } = parseOverride(text);
    let node: Record<string, unknown> = out;
    for (let i = 0; i < path.length - 1; i++) {
      const next = node[path[i]];
      if (next === undefined || next === null) {
        node = node[path[i]] = {};
      } else if (typeof next === "object" && !Array.isArray(next)) {
        node = next as Record<string, unknown>;
      } else {
        throw new ConfigError("--set", [
          `${path.slice(0, i + 1).join(".")}: is ${
            describeValue(next)
          }, cannot set ${path.join(".")} inside it`,
        ]);
      }
    }
    node[path[path.length - 1]] = value;
  }
  return out;
}

/**
 * Reads a JSON config file, applies `--set` overrides and validates it.
 *
 * @param file path of the config file; `null` means "no file, defaults only"
 * @param overrides `dotted.key=value` strings, applied in order
 * @throws {ConfigError} when the file is missing, is not JSON, or fails validation
 */
export async function loadConfig(
  file: string | null = "train.config.json",
  overrides: readonly string[] = [],
): Promise<Config> {
  let raw: unknown = {};
  if (file !== null) {
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (err) {
      const why = err instanceof Deno.errors.NotFound
        ? "file not found"
        : (err as Error).message;
      throw new ConfigError(file, [`cannot read: ${why}`]);
    }
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(file, [
        `not valid JSON: ${(err as Error).message}`,
      ]);
    }
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      throw new ConfigError(file, [
        `(root): expected an object, found ${describeValue(raw)}`,
      ]);
    }
  }
  const merged = applyOverrides(raw as Record<string, unknown>, overrides);
  const source = (file ?? "defaults") +
    (overrides.length ? " (with --set overrides)" : "");
  return parseConfig(merged, source);
}
