/**
 * Step 3 of the data pipeline: list a class-folder image tree, the layout
 * Keras' `flow_from_directory` / `image_dataset_from_directory` read.
 *
 * ```
 * root/train/cats/*.jpg        class names = sorted subfolder names,
 * root/train/dogs/*.jpg        label = index in that list
 * root/validation/cats/*.jpg   (optional: else a seeded per-class split)
 * root/validation/dogs/*.jpg
 * ```
 *
 * @module
 */

import { join, relative, resolve, sep } from "node:path";
import { deriveSeed, shuffleInPlace } from "../util/rng.ts";

/**
 * File extensions read as images (compared case-insensitively): Keras'
 * allowlist (`.bmp .gif .jpeg .jpg .png`) and TIFF; `.webp` only with
 * `includeWebp` ({@link WEBP_EXTENSION}).
 */
export const IMAGE_EXTENSIONS: readonly string[] = [
  "jpg",
  "jpeg",
  "png",
  "gif",
  "bmp",
  "tif",
  "tiff",
];

/** The WebP extension, read only with `data.includeWebp` (Keras leaves it out). */
export const WEBP_EXTENSION = "webp";

/**
 * What a listing left out, counted: junk (AppleDouble `._*`, `__MACOSX/`,
 * `.DS_Store`, `Thumbs.db`, `desktop.ini`, other hidden entries) by kind,
 * and other files in class folders by extension (`(none)` without one).
 */
export interface IgnoredFiles {
  /** Junk entries by kind, e.g. `{ "._*": 3, ".DS_Store": 1 }` (a folder counts once). */
  junk: Record<string, number>;
  /** Non-image files in class folders by lower-case extension, e.g. `{ txt: 2, webp: 1 }`. */
  other: Record<string, number>;
}

/**
 * The junk kind of a file or folder name, or null when it is not junk:
 * what macOS, Windows and version control leave in archives.
 */
export function junkKind(name: string, isDirectory: boolean): string | null {
  if (isDirectory && name === "__MACOSX") return "__MACOSX/";
  if (name.startsWith("._")) return "._* (AppleDouble)";
  if (name === ".DS_Store") return ".DS_Store";
  const lower = name.toLowerCase();
  if (lower === "thumbs.db") return "Thumbs.db";
  if (lower === "desktop.ini") return "desktop.ini";
  if (name.startsWith(".")) return "hidden";
  return null;
}

function add(counts: Record<string, number>, key: string, n = 1): void {
  counts[key] = (counts[key] ?? 0) + n;
}

/** Adds `b`'s counts into `a`. */
export function mergeIgnored(a: IgnoredFiles, b: IgnoredFiles): IgnoredFiles {
  const out: IgnoredFiles = { junk: { ...a.junk }, other: { ...a.other } };
  for (const [k, n] of Object.entries(b.junk)) add(out.junk, k, n);
  for (const [k, n] of Object.entries(b.other)) add(out.other, k, n);
  return out;
}

const total = (counts: Record<string, number>) =>
  Object.values(counts).reduce((a, b) => a + b, 0);

const describe = (counts: Record<string, number>) =>
  Object.entries(counts).sort((a, b) => b[1] - a[1] || compareNames(a[0], b[0]))
    .map(([k, n]) => `${k}: ${n}`).join(", ");

/**
 * The listing's left-out files as at most two lines (none when nothing was
 * left out): junk, then other files by extension, with why.
 */
export function formatIgnored(ignored: IgnoredFiles): string[] {
  const lines: string[] = [];
  const junk = total(ignored.junk);
  if (junk > 0) {
    lines.push(
      `data: ignored ${junk} junk entr${junk === 1 ? "y" : "ies"} (${
        describe(ignored.junk)
      })`,
    );
  }
  const other = total(ignored.other);
  if (other > 0) {
    const webp = ignored.other[WEBP_EXTENSION]
      ? "; .webp is not in Keras' list, set data.includeWebp to read it"
      : "";
    lines.push(
      `data: skipped ${other} file${
        other === 1 ? "" : "s"
      } in class folders that are not ${
        IMAGE_EXTENSIONS.map((e) => `.${e}`).join("/")
      } images, by extension (${describe(ignored.other)})${webp}`,
    );
  }
  return lines;
}

/** One image file of a class-folder tree. */
export interface ImageItem {
  /** Path of the file (as found under the folder given). */
  path: string;
  /** Index of its class in the sorted class names. */
  label: number;
  /** Name of its class folder. */
  className: string;
}

/** A listed class-folder tree. */
export interface ClassFolder {
  /** The folder listed. */
  dir: string;
  /** Class names: the sorted names of the subfolders. */
  classNames: string[];
  /** Every image, in deterministic order: by class, then by relative path. */
  items: ImageItem[];
  /** What was left out, counted. */
  ignored: IgnoredFiles;
}

/** Train and validation image lists sharing one set of classes. */
export interface DatasetSplits {
  /** The dataset root that `trainDir` / `validationDir` were resolved in. */
  root: string;
  /** Class names (sorted); labels index into it. */
  classNames: string[];
  /** Training images, shuffled with the seed. */
  train: ImageItem[];
  /** Validation images (sorted by class, then path). */
  validation: ImageItem[];
  /** The training folder used. */
  trainDir: string;
  /** The validation folder used, or null when validation was split off train. */
  validationDir: string | null;
  /**
   * "folder" when a validation folder was used, "split" for a seeded split,
   * "csv" for the labels CSV's split column, "none".
   */
  validationSource: "folder" | "split" | "csv" | "none";
  /** Files the listings of both folders left out, counted. */
  ignored: IgnoredFiles;
  /** Where the labels came from, when a labels CSV (`data.labels`) gave them; absent for class folders. */
  labels?: LabelsSource;
}

/** The labels CSV a dataset was listed from (`data.labels`). */
export interface LabelsSource {
  /** The CSV file (absolute, or as resolved in the dataset root). */
  csv: string;
  /** SHA-256 (hex) of its bytes. */
  sha256: string;
  /** Rows after the header. */
  rows: number;
  /** "column": the CSV's split column; "validationSplit": the seeded per-class split. */
  split: "column" | "validationSplit";
}

/** Options of {@link loadDataset}. */
export interface DatasetOptions {
  /** Dataset root (e.g. the extracted archive's top folder, or `data.path`). */
  root: string;
  /** Training folder relative to `root` (`data.trainDir`); "." for the root itself. Default "train". */
  trainDir?: string;
  /** Validation folder relative to `root` (`data.validationDir`); null for none. Default "validation". */
  validationDir?: string | null;
  /** Fraction of each class held out when there is no validation folder (`data.validationSplit`); 0 for none. Default 0.2. */
  validationSplit?: number;
  /** Seed for the shuffle and the split (`data.seed`). Default 42. */
  seed?: number;
  /** List `.webp` files too (`data.includeWebp`). Default false, as Keras. */
  includeWebp?: boolean;
}

/** A dataset layout problem; the message names the folder and what to fix. */
export class DatasetError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "DatasetError";
  }
}

/** The lower-case extension of a file name, or "" without one. */
function extensionOf(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot <= 0 ? "" : name.slice(dot + 1).toLowerCase();
}

/**
 * True when `name` has one of {@link IMAGE_EXTENSIONS} (any case), or
 * `.webp` with `includeWebp`.
 */
export function isImageFile(name: string, includeWebp = false): boolean {
  const ext = extensionOf(name);
  if (ext === "") return false;
  return IMAGE_EXTENSIONS.includes(ext) ||
    (includeWebp && ext === WEBP_EXTENSION);
}

/** Locale-independent string order (UTF-16 code units), for reproducible listings. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

async function listImagesRecursive(
  dir: string,
  includeWebp: boolean,
  ignored: IgnoredFiles,
): Promise<string[]> {
  const out: string[] = [];
  const walk = async (current: string) => {
    const entries: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(current)) entries.push(e);
    for (const e of entries) {
      const junk = junkKind(e.name, e.isDirectory);
      if (junk) { // .DS_Store, ._foo.jpg, __MACOSX/, .git/
        add(ignored.junk, junk);
        continue;
      }
      const path = join(current, e.name);
      if (e.isDirectory) await walk(path);
      else if (!(e.isFile || e.isSymlink)) continue;
      else if (isImageFile(e.name, includeWebp)) out.push(path);
      else add(ignored.other, extensionOf(e.name) || "(none)");
    }
  };
  await walk(dir);
  return out.sort((a, b) => compareNames(relative(dir, a), relative(dir, b)));
}

/**
 * Lists a class-folder tree: each non-hidden subfolder of `dir` is a class
 * (sorted by name, label = position), and holds image files (searched
 * recursively). Junk and other files are left out and counted
 * (`ignored`); `.webp` files are listed with `includeWebp`. Fails with a
 * {@link DatasetError} when `dir` is missing, has fewer than two classes, or
 * a class has no images.
 */
export async function listClassFolder(
  dir: string,
  opts: { includeWebp?: boolean } = {},
): Promise<ClassFolder> {
  if (!await isDirectory(dir)) {
    throw new DatasetError(`Image folder not found: ${dir}`);
  }
  const classNames: string[] = [];
  const ignored: IgnoredFiles = { junk: {}, other: {} };
  for await (const e of Deno.readDir(dir)) {
    const junk = junkKind(e.name, e.isDirectory);
    if (junk) add(ignored.junk, junk);
    else if (e.isDirectory) classNames.push(e.name);
  }
  classNames.sort(compareNames);
  if (classNames.length < 2) {
    throw new DatasetError(
      `${dir} must hold one subfolder per class and at least 2 classes; found ${
        classNames.length === 0 ? "none" : `only "${classNames[0]}"`
      }. Check data.path / data.trainDir.`,
    );
  }
  const items: ImageItem[] = [];
  const empty: string[] = [];
  for (let label = 0; label < classNames.length; label++) {
    const className = classNames[label];
    const files = await listImagesRecursive(
      join(dir, className),
      opts.includeWebp ?? false,
      ignored,
    );
    if (files.length === 0) empty.push(join(dir, className));
    for (const path of files) items.push({ path, label, className });
  }
  if (empty.length > 0) {
    throw new DatasetError(
      `Class folder${empty.length > 1 ? "s" : ""} with no images (${
        IMAGE_EXTENSIONS.join(", ")
      }): ${empty.join(", ")}. Remove ${
        empty.length > 1 ? "them" : "it"
      } or add images.`,
    );
  }
  return { dir, classNames, items, ignored };
}

function sameClasses(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((name, i) => name === b[i]);
}

function resolveInside(root: string, sub: string, key: string): string {
  const path = resolve(root, sub);
  const rootAbs = resolve(root);
  if (path !== rootAbs && !path.startsWith(rootAbs + sep)) {
    throw new DatasetError(
      `${key} "${sub}" points outside the dataset root ${root}`,
    );
  }
  return path;
}

/**
 * Splits each class of `items` reproducibly: per class, a seeded shuffle
 * then the first `round(n * fraction)` images (at least 1, and at most
 * n - 1, when the class has 2 or more) go to validation.
 */
export function splitPerClass(
  items: readonly ImageItem[],
  fraction: number,
  seed: number,
): { train: ImageItem[]; validation: ImageItem[] } {
  if (!(fraction >= 0 && fraction < 1)) {
    throw new DatasetError(
      `data.validationSplit must be in [0, 1), got ${fraction}`,
    );
  }
  const byLabel = new Map<number, ImageItem[]>();
  for (const item of items) {
    const list = byLabel.get(item.label) ?? [];
    list.push(item);
    byLabel.set(item.label, list);
  }
  const train: ImageItem[] = [];
  const validation: ImageItem[] = [];
  for (const label of [...byLabel.keys()].sort((a, b) => a - b)) {
    const list = shuffleInPlace(
      [...byLabel.get(label)!],
      deriveSeed(seed, 1, label),
    );
    let n = Math.round(list.length * fraction);
    if (fraction > 0 && list.length >= 2) {
      n = Math.min(Math.max(n, 1), list.length - 1);
    }
    validation.push(...list.slice(0, n));
    train.push(...list.slice(n));
  }
  const byPath = (a: ImageItem, b: ImageItem) =>
    a.label - b.label || compareNames(a.path, b.path);
  return { train: train.sort(byPath), validation: validation.sort(byPath) };
}

/**
 * Loads train/validation image lists from a dataset root. Uses
 * `validationDir` when that folder exists; otherwise splits
 * `validationSplit` of each class off the training folder (reproducibly,
 * by `seed`). Training images are shuffled with `seed`. Fails with a
 * {@link DatasetError} on empty classes, fewer than 2 classes, or
 * train/validation folders whose classes differ.
 */
export async function loadDataset(
  opts: DatasetOptions,
): Promise<DatasetSplits> {
  const root = opts.root;
  const seed = opts.seed ?? 42;
  const split = opts.validationSplit ?? 0.2;
  const trainDir = resolveInside(
    root,
    opts.trainDir ?? "train",
    "data.trainDir",
  );
  if (!await isDirectory(trainDir)) {
    const found: string[] = [];
    try {
      for await (const e of Deno.readDir(root)) {
        if (e.isDirectory && !e.name.startsWith(".")) found.push(e.name);
      }
    } catch {
      // root itself missing: reported below
    }
    throw new DatasetError(
      `Training folder not found: ${trainDir}. ` +
        (found.length > 0
          ? `${root} holds: ${found.sort(compareNames).join(", ")}. `
          : `${root} has no subfolders. `) +
        `Set data.trainDir (relative to the dataset root; "." if the class folders are at the root).`,
    );
  }
  const listOpts = { includeWebp: opts.includeWebp ?? false };
  const trainFolder = await listClassFolder(trainDir, listOpts);
  let ignored = trainFolder.ignored;
  const classNames = trainFolder.classNames;

  const validationDir = opts.validationDir === null ? null : resolveInside(
    root,
    opts.validationDir ?? "validation",
    "data.validationDir",
  );
  let train: ImageItem[];
  let validation: ImageItem[];
  let source: DatasetSplits["validationSource"];
  let usedValidationDir: string | null = null;
  if (validationDir !== null && await isDirectory(validationDir)) {
    const valFolder = await listClassFolder(validationDir, listOpts);
    ignored = mergeIgnored(ignored, valFolder.ignored);
    if (!sameClasses(classNames, valFolder.classNames)) {
      const onlyTrain = classNames.filter((c) =>
        !valFolder.classNames.includes(c)
      );
      const onlyVal = valFolder.classNames.filter((c) =>
        !classNames.includes(c)
      );
      throw new DatasetError(
        `Training and validation folders have different classes: ` +
          `${trainDir} has [${classNames.join(", ")}], ${validationDir} has [${
            valFolder.classNames.join(", ")
          }]` +
          (onlyTrain.length
            ? `; only in training: ${onlyTrain.join(", ")}`
            : "") +
          (onlyVal.length
            ? `; only in validation: ${onlyVal.join(", ")}`
            : "") +
          `. Make the class folders match.`,
      );
    }
    train = [...trainFolder.items];
    validation = valFolder.items;
    source = "folder";
    usedValidationDir = validationDir;
  } else if (split > 0) {
    ({ train, validation } = splitPerClass(trainFolder.items, split, seed));
    source = "split";
  } else {
    train = [...trainFolder.items];
    validation = [];
    source = "none";
  }
  shuffleInPlace(train, deriveSeed(seed, 0));
  return {
    root,
    classNames,
    train,
    validation,
    trainDir,
    validationDir: usedValidationDir,
    validationSource: source,
    ignored,
  };
}

/**
 * The folder to resolve `trainDir` / `validationDir` in: `dir` itself, or,
 * when `dir` holds exactly one subfolder and nothing else that matters (as
 * in `cats_and_dogs_filtered.zip`), that subfolder. Junk entries
 * ({@link junkKind}: hidden ones, `__MACOSX`, `Thumbs.db`, ...) are ignored. When `trainDir` is given and exists directly in
 * `dir`, `dir` is returned.
 */
export async function resolveDatasetRoot(
  dir: string,
  trainDir?: string,
): Promise<string> {
  if (trainDir && await isDirectory(resolve(dir, trainDir))) return dir;
  const dirs: string[] = [];
  let files = 0;
  for await (const e of Deno.readDir(dir)) {
    if (junkKind(e.name, e.isDirectory)) continue;
    if (e.isDirectory) dirs.push(e.name);
    else files++;
  }
  if (dirs.length === 1 && files === 0) return join(dir, dirs[0]);
  return dir;
}
