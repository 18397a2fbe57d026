/**
 * The declarative description of a training run (`train.config.json`).
 *
 * One zod schema, {@link ConfigSchema}, is the single source of truth for the
 * config's types, defaults, validation, the generated `config.schema.json`
 * (which editors use for autocompletion) and the README's config reference.
 *
 * @example Load the default config with overrides
 * ```ts
 * import { loadConfig } from "./schema.ts";
 * const config = await loadConfig("train.config.json", ["train.epochs=3"]);
 * console.log(config.train.epochs); // 3
 * ```
 *
 * @module
 */

import { z } from "../deps.ts";

/** The reference dataset: Keras' cats-vs-dogs transfer-learning example. */
export const REFERENCE_DATASET_URL =
  "https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip";

/** The MobileNetV2 width multipliers Keras publishes ImageNet weights for. */
export const MOBILENET_V2_ALPHAS = [0.35, 0.5, 0.75, 1.0, 1.3, 1.4] as const;

const positiveInt = z.number().int().min(1);

const DataSchema = z.strictObject({
  url: z.string().url().nullable().default(REFERENCE_DATASET_URL).describe(
    "URL of a .zip holding the class-folder dataset; downloaded once into data.cacheDir.",
  ),
  path: z.string().min(1).nullable().default(null).describe(
    "Local folder (or .zip) to use instead of data.url; wins over data.url when set.",
  ),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, "expected 64 hex digits")
    .nullable().default(null).describe(
      "Expected SHA-256 of the downloaded zip; a mismatch deletes the file and fails.",
    ),
  trainDir: z.string().min(1).default("train").describe(
    "Training folder (one subfolder per class), relative to the dataset root.",
  ),
  validationDir: z.string().min(1).nullable().default("validation").describe(
    "Validation folder relative to the dataset root; when missing or null, data.validationSplit is used.",
  ),
  validationSplit: z.number().gt(0).lt(1).default(0.2).describe(
    "Fraction of each class held out for validation when there is no validation folder.",
  ),
  imageSize: z.tuple([positiveInt, positiveInt]).default([160, 160]).describe(
    "[height, width] every image is resized to.",
  ),
  batchSize: positiveInt.default(32).describe("Images per training batch."),
  shuffle: z.boolean().default(true).describe(
    "Shuffle the training images each epoch (seeded by data.seed).",
  ),
  seed: z.number().int().min(0).default(42).describe(
    "Seed for shuffling, validation splits and weight initialisation.",
  ),
  interpolation: z.enum(["bilinear", "nearest"]).default("bilinear").describe(
    "Resize interpolation.",
  ),
  cacheDir: z.string().min(1).nullable().default(null).describe(
    "Cache folder for downloads, extracted archives and decoded images; null means $XDG_CACHE_HOME/deno-transfer or ~/.cache/deno-transfer.",
  ),
  onBadImage: z.enum(["warn", "error"]).default("warn").describe(
    'What to do with corrupt or unsupported image files: "warn" skips them, "error" fails the run.',
  ),
  workers: positiveInt.nullable().default(null).describe(
    "Parallel decode workers; null means one per CPU core.",
  ),
});

const HeadSchema = z.strictObject({
  dropout: z.number().min(0).lt(1).default(0).describe(
    "Dropout rate between the pooled features and the Dense classifier.",
  ),
});

const ModelSchema = z.strictObject({
  architecture: z.literal("mobilenet_v2").default("mobilenet_v2").describe(
    "Base network (Keras' keras.applications name).",
  ),
  alpha: z.union(MOBILENET_V2_ALPHAS.map((a) => z.literal(a))).default(1.0)
    .describe("MobileNetV2 width multiplier."),
  weights: z.string().min(1).nullable().default("imagenet").describe(
    '"imagenet" (Keras\' published weights), a URL or local path to a Keras .h5 weights file, or null for random initialisation.',
  ),
  trainable: z.boolean().default(false).describe(
    "Train the base too; false freezes it (weights fixed, BatchNormalization in inference mode).",
  ),
  head: HeadSchema.prefault({}).describe("Classifier head on top of the base."),
});

const optimizer = z.enum(["adam", "sgd", "rmsprop"]);

const TrainSchema = z.strictObject({
  epochs: positiveInt.default(10).describe("Training epochs."),
  optimizer: optimizer.default("adam").describe("Optimizer."),
  learningRate: z.number().positive().default(1e-4).describe(
    "Optimizer learning rate.",
  ),
  loss: z.literal("categoricalCrossentropy").default("categoricalCrossentropy")
    .describe("Loss (labels are one-hot)."),
  metrics: z.array(z.literal("accuracy")).default(["accuracy"]).describe(
    "Metrics reported each epoch.",
  ),
  cacheFeatures: z.boolean().default(true).describe(
    "With a frozen base and no augmentation, run the base once, cache its pooled features on disk and train the head on them (same results, much faster).",
  ),
});

const FineTuneSchema = z.strictObject({
  enabled: z.boolean().default(false).describe(
    "After the frozen stage, unfreeze the base from fineTune.fromLayer and train more.",
  ),
  fromLayer: z.union([z.number().int().min(0), z.string().min(1)]).default(100)
    .describe(
      "First base layer to unfreeze: an index in Keras' order (the base has 154 layers) or a layer name such as block_13_expand.",
    ),
  epochs: positiveInt.default(10).describe("Fine-tuning epochs."),
  optimizer: optimizer.default("adam").describe("Fine-tuning optimizer."),
  learningRate: z.number().positive().default(1e-5).describe(
    "Fine-tuning learning rate (keep it small).",
  ),
});

const AugmentSchema = z.strictObject({
  flip: z.enum(["none", "horizontal"]).default("none").describe(
    "Random horizontal flip (Keras RandomFlip).",
  ),
  rotation: z.number().min(0).max(1).default(0).describe(
    "Random rotation up to ± this fraction of a full turn (Keras RandomRotation).",
  ),
  zoom: z.number().min(0).lt(1).default(0).describe(
    "Random zoom up to ± this fraction (Keras RandomZoom).",
  ),
  translation: z.number().min(0).lt(1).default(0).describe(
    "Random shift up to ± this fraction of height and width (Keras RandomTranslation).",
  ),
});

const OutputSchema = z.strictObject({
  dir: z.string().min(1).default("runs").describe(
    "Each run writes into a new folder <output.dir>/<name>-<UTC timestamp>/.",
  ),
  saveModel: z.boolean().default(true).describe(
    "Save the trained classifier (TF.js layers format) under model/.",
  ),
});

/** The zod schema of `train.config.json`: types, defaults and validation. */
export const ConfigSchema = z.strictObject({
  $schema: z.string().optional().describe("JSON Schema reference for editors."),
  name: z.string().regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
    "expected letters, digits, '.', '_' or '-'",
  ).default("cats_vs_dogs").describe(
    "Run name; used in the run folder name.",
  ),
  data: DataSchema.prefault({}).describe(
    "Where the images come from and how they are read.",
  ),
  model: ModelSchema.prefault({}).describe("The network."),
  train: TrainSchema.prefault({}).describe("Training hyperparameters."),
  fineTune: FineTuneSchema.prefault({}).describe(
    "Optional second stage that unfreezes the top of the base.",
  ),
  augment: AugmentSchema.prefault({}).describe(
    "Training-time augmentation, applied per batch on the active backend (off by default).",
  ),
  backend: z.enum(["auto", "webgpu", "wasm", "cpu"]).default("auto").describe(
    '"auto" picks WebGPU on a real GPU adapter, else WASM, else CPU.',
  ),
  output: OutputSchema.prefault({}).describe("What a run writes and where."),
}).refine((c) => c.data.url !== null || c.data.path !== null, {
  message: "set data.url or data.path",
  path: ["data"],
});

/** A fully resolved config: every key present, defaults applied. */
export type Config = z.output<typeof ConfigSchema>;

/** A config as written in a file: every key optional. */
export type ConfigInput = z.input<typeof ConfigSchema>;

/** A config that failed to load; `message` names the file, key and problem. */
export class ConfigError extends Error {
  /** One line per problem, e.g. `train.epochs: expected integer >= 1, found 0`. */
  readonly problems: string[];
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
 * parseOverride("data.imageSize=[96,96]"); // { path: ["data","imageSize"], value: [96,96] }
 * parseOverride("name=my-run");            // { path: ["name"], value: "my-run" }
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

/** The JSON Schema (draft 2020-12) of the config file, generated from {@link ConfigSchema}. */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ConfigSchema, { io: "input" }) as Record<
    string,
    unknown
  >;
  return {
    ...schema,
    title: "deno-transfer training config",
    description:
      "Declarative description of a deno-transfer training run (train.config.json).",
  };
}

/** A leaf of the config for documentation: dotted key, type, default, description. */
export interface ConfigKeyDoc {
  key: string;
  type: string;
  default: unknown;
  description: string;
}

function typeOf(node: Record<string, unknown>): string {
  if (node.anyOf) {
    return (node.anyOf as Record<string, unknown>[]).map(typeOf).join(" \\| ");
  }
  if (node.const !== undefined) return JSON.stringify(node.const);
  if (node.enum) {
    return (node.enum as unknown[]).map((v) => JSON.stringify(v)).join(
      " \\| ",
    );
  }
  if (node.prefixItems) {
    return `[${
      (node.prefixItems as Record<string, unknown>[]).map(typeOf).join(", ")
    }]`;
  }
  if (node.type === "array" && node.items) {
    return `${typeOf(node.items as Record<string, unknown>)}[]`;
  }
  return String(node.type ?? "any");
}

/** Lists every leaf key of the config with its type, default and description. */
export function configKeyDocs(): ConfigKeyDoc[] {
  const out: ConfigKeyDoc[] = [];
  const walk = (node: Record<string, unknown>, prefix: string) => {
    const props = node.properties as
      | Record<string, Record<string, unknown>>
      | undefined;
    for (const [key, child] of Object.entries(props ?? {})) {
      if (key === "$schema") continue;
      const dotted = prefix ? `${prefix}.${key}` : key;
      if (child.type === "object" && child.properties) walk(child, dotted);
      else {
        out.push({
          key: dotted,
          type: typeOf(child),
          default: child.default,
          description: String(child.description ?? ""),
        });
      }
    }
  };
  walk(configJsonSchema(), "");
  return out;
}

/** The README's config reference table, generated from the schema. */
export function configReferenceMarkdown(): string {
  const rows = configKeyDocs().map((d) =>
    `| \`${d.key}\` | ${d.type} | \`${JSON.stringify(d.default)}\` | ${
      d.description.replaceAll("|", "\\|")
    } |`
  );
  return [
    "| key | type | default | meaning |",
    "| --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
}

/** Marker before the generated config reference in README.md. */
export const README_REFERENCE_START = "<!-- config-reference:start -->";
/** Marker after the generated config reference in README.md. */
export const README_REFERENCE_END = "<!-- config-reference:end -->";

/** Replaces the text between two marker lines (markers kept). */
export function replaceBetweenMarkers(
  text: string,
  start: string,
  end: string,
  body: string,
): string {
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`markers ${start} … ${end} not found`);
  return text.slice(0, i + start.length) + "\n" + body + "\n" +
    text.slice(j);
}
