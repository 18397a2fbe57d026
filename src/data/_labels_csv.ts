/**
 * Labels from a CSV (`data.labels`; listed by `_labels_dataset.ts`):
 * `file,label[,split]` rows with a header, fields quoted per RFC 4180. A
 * dozen lines of parser instead of a dependency: the format needs only quotes,
 * doubled quotes and CRLF, and errors must name the line, which the parser
 * tracks itself.
 *
 * @module
 */

/** One labelled image row. */
export interface LabelRow {
  /** The file, relative to the root. */
  file: string;
  /** The class name. */
  label: string;
  /** "train", "validation", or null when the CSV has no split column. */
  split: "train" | "validation" | null;
  /** 1-based line of the row in the CSV. */
  line: number;
}

/** A bad labels CSV; the message names `file:line`. */
export class LabelsCsvError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "LabelsCsvError";
  }
}

/** RFC 4180 records with the 1-based line each starts on. */
export function parseCsv(
  text: string,
  name: string,
): { fields: string[]; line: number }[] {
  const out: { fields: string[]; line: number }[] = [];
  let line = 1,
    start = 1,
    i = 0,
    field = "",
    fields: string[] = [],
    quoted = false,
    wasQuoted = false;
  const end = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === "" && !wasQuoted)) {
      out.push({ fields, line: start });
    }
    fields = [], field = "", wasQuoted = false;
  };
  for (; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') field += '"', i++;
      else if (c === '"') quoted = false;
      else {
        if (c === "\n") line++;
        field += c;
      }
    } else if (c === '"') {
      if (field !== "") {
        throw new LabelsCsvError(
          `${name}:${line}: a quote inside an unquoted field`,
        );
      }
      quoted = true, wasQuoted = true;
    } else if (c === ",") fields.push(field), field = "", wasQuoted = false;
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      end();
      start = ++line;
    } else field += c;
  }
  if (quoted) {
    throw new LabelsCsvError(`${name}:${start}: unterminated quoted field`);
  }
  end();
  return out;
}

/**
 * Reads and checks the rows of a labels CSV against `root`: a header
 * `file,label[,split]`, every file present, splits "train"/"validation", no
 * duplicate files, no empty label, no path outside `root`. `text` is the
 * CSV's content when the caller has read it already (default: read
 * `csvPath`).
 */
export async function readLabelsCsv(
  csvPath: string,
  root: string,
  text?: string,
): Promise<LabelRow[]> {
  const records = parseCsv(text ?? await Deno.readTextFile(csvPath), csvPath);
  if (records.length === 0) {
    throw new LabelsCsvError(
      `${csvPath}:1: empty file; expected a header file,label[,split]`,
    );
  }
  const header = records[0].fields.map((f) => f.trim().toLowerCase());
  const ok = header.length >= 2 && header.length <= 3 && header[0] === "file" &&
    header[1] === "label" &&
    (header.length === 2 || header[2] === "split");
  if (!ok) {
    throw new LabelsCsvError(
      `${csvPath}:1: expected the header file,label[,split], found ${
        records[0].fields.join(",")
      }`,
    );
  }
  const rows: LabelRow[] = [];
  const seen = new Map<string, number>();
  for (const { fields, line } of records.slice(1)) {
    const at = `${csvPath}:${line}`;
    if (fields.length !== header.length) {
      throw new LabelsCsvError(
        `${at}: expected ${header.length} fields, found ${fields.length}`,
      );
    }
    const [file, label, split] = fields;
    if (file === "") throw new LabelsCsvError(`${at}: empty file name`);
    if (label.trim() === "") {
      throw new LabelsCsvError(`${at}: empty label for ${file}`);
    }
    if (split !== undefined && split !== "train" && split !== "validation") {
      throw new LabelsCsvError(
        `${at}: unknown split "${split}"; expected train or validation`,
      );
    }
    const norm = file.replace(/\\/g, "/").replace(/^\.\//, "");
    if (/^\/|^[A-Za-z]:\//.test(norm) || norm.split("/").includes("..")) {
      throw new LabelsCsvError(
        `${at}: ${file} is not a path inside the dataset root; expected a path relative to ${root}, without ".."`,
      );
    }
    const first = seen.get(norm);
    if (first !== undefined) {
      throw new LabelsCsvError(
        `${at}: duplicate row for ${file} (first at line ${first})`,
      );
    }
    seen.set(norm, line);
    try {
      const info = await Deno.stat(`${root}/${norm}`);
      if (!info.isFile) throw new Error("not a file");
    } catch {
      throw new LabelsCsvError(
        `${at}: file not found: ${norm} (under ${root})`,
      );
    }
    rows.push({
      file: norm,
      label,
      split: (split as LabelRow["split"]) ?? null,
      line,
    });
  }
  if (rows.length === 0) {
    throw new LabelsCsvError(`${csvPath}: no rows after the header`);
  }
  return rows;
}
