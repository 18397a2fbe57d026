import assert from "node:assert/strict";
import {
  applyOverrides,
  ConfigError,
  loadConfig,
  parseConfig,
  parseOverride,
} from "../../src/config/load.ts";
import type { Config } from "../../src/config/types.ts";
import { REFERENCE_DATASET_URL } from "../../src/config/schema.ts";
import {
  configJsonSchema,
  configReferenceMarkdown,
  configTypesSource,
  README_REFERENCE_END,
  README_REFERENCE_START,
} from "../../src/config/docs.ts";
import { parseConfigArgs } from "../../src/config/cli.ts";

const root = new URL("../../", import.meta.url);
const repoFile = (name: string) => new URL(name, root).pathname;

/** Runs `fn`, expecting a ConfigError; returns its problem lines. */
function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    return err.problems;
  }
  assert.fail("expected a ConfigError");
}

async function writeTemp(text: string): Promise<string> {
  const file = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(file, text);
  return file;
}

Deno.test("train.config.json loads and reproduces the reference job", async () => {
  const c: Config = await loadConfig(repoFile("train.config.json"));
  assert.equal(c.data.url, REFERENCE_DATASET_URL);
  assert.equal(c.data.path, null);
  assert.equal(c.data.trainDir, "train");
  assert.equal(c.data.validationDir, "validation");
  assert.deepEqual(c.data.imageSize, [160, 160]);
  assert.equal(c.data.batchSize, 32);
  assert.equal(c.data.shuffle, true);
  assert.equal(typeof c.data.seed, "number");
  assert.equal(c.model.alpha, 1.0);
  assert.equal(c.model.weights, "imagenet");
  assert.equal(c.model.trainable, false);
  assert.equal(c.model.head.dropout, 0);
  assert.equal(c.train.optimizer, "adam");
  assert.equal(c.train.learningRate, 1e-4);
  assert.equal(c.train.loss, "categoricalCrossentropy");
  assert.deepEqual(c.train.metrics, ["accuracy"]);
  assert.equal(c.train.epochs, 10);
  assert.equal(c.backend, "auto");
  assert.equal(c.output.dir, "runs");
});

Deno.test("an empty config gets the same defaults as train.config.json", async () => {
  const fromFile = await loadConfig(repoFile("train.config.json"));
  const { $schema: _, ...withoutSchemaRef } = fromFile;
  assert.deepEqual(parseConfig({}), withoutSchemaRef);
});

Deno.test("unknown keys are rejected with a did-you-mean", () => {
  const top = problemsOf(() => parseConfig({ trian: { epochs: 3 } }));
  assert.equal(top.length, 1);
  assert.match(top[0], /^trian: unknown key \(did you mean "train"\?\)/);

  const nested = problemsOf(() => parseConfig({ train: { learningrate: 1 } }));
  assert.match(
    nested[0],
    /^train\.learningrate: unknown key \(did you mean "learningRate"\?\)/,
  );

  const far = problemsOf(() => parseConfig({ data: { zzzzzzzz: 1 } }));
  assert.match(far[0], /^data\.zzzzzzzz: unknown key; expected one of url,/);
  assert.doesNotMatch(far[0], /did you mean/);
});

Deno.test("wrong types and ranges name the key, the expectation and the value", () => {
  const cases: [unknown, RegExp][] = [
    [
      { train: { epochs: "ten" } },
      /^train\.epochs: expected number, found "ten" \(string\)$/,
    ],
    [{ train: { epochs: 0 } }, /^train\.epochs: expected number >= 1, found 0/],
    [
      { train: { epochs: 2.5 } },
      /^train\.epochs: expected integer, found 2\.5/,
    ],
    [
      { train: { learningRate: -1 } },
      /^train\.learningRate: expected number > 0, found -1/,
    ],
    [
      { train: { optimizer: "adamw" } },
      /^train\.optimizer: expected one of "adam", "sgd", "rmsprop", found "adamw"/,
    ],
    [
      { data: { imageSize: [160] } },
      /^data\.imageSize: expected an array of >= 2 items, found \[160\]/,
    ],
    [
      { data: { imageSize: [160, "x"] } },
      /^data\.imageSize\[1\]: expected number, found "x"/,
    ],
    [
      { data: { batchSize: null } },
      /^data\.batchSize: expected number, found null/,
    ],
    [
      { data: { validationSplit: 1 } },
      /^data\.validationSplit: expected number < 1, found 1/,
    ],
    [{ data: { sha256: "abc" } }, /^data\.sha256: expected 64 hex digits/],
    [
      { data: { url: "not a url" } },
      /^data\.url: expected a URL, found "not a url"/,
    ],
    [
      { data: { interpolation: "bicubic" } },
      /^data\.interpolation: expected one of "bilinear", "nearest", found "bicubic"/,
    ],
    [
      { model: { alpha: 0.4 } },
      /^model\.alpha: expected one of 0\.35, 0\.5, 0\.75, 1, 1\.3, 1\.4, found 0\.4/,
    ],
    [
      { model: { weights: 3 } },
      /^model\.weights: expected string, found 3 \(number\)/,
    ],
    [
      { model: { head: { dropout: 1.5 } } },
      /^model\.head\.dropout: expected number < 1, found 1\.5/,
    ],
    [
      { backend: "gpu" },
      /^backend: expected one of "auto", "webgpu", "wasm", "cpu", found "gpu"/,
    ],
    [{ name: "my run" }, /^name: expected letters, digits/],
    [
      { data: { url: null, path: null } },
      /^data: set data\.url or data\.path$/,
    ],
    [{ output: "runs" }, /^output: expected object, found "runs"/],
  ];
  for (const [input, expected] of cases) {
    const problems = problemsOf(() => parseConfig(input, "t.json"));
    assert.ok(
      problems.some((p) => expected.test(p)),
      `${JSON.stringify(input)} gave ${JSON.stringify(problems)}`,
    );
  }
});

Deno.test("every problem is reported at once, and the message names the file", () => {
  try {
    parseConfig({ train: { epochs: 0 }, backend: "gpu" }, "my.json");
    assert.fail("expected an error");
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.problems.length, 2);
    assert.match(err.message, /^Invalid config my\.json:\n {2}- /);
  }
});

Deno.test("loadConfig reports missing files and bad JSON by file name", async () => {
  await assert.rejects(
    loadConfig("/nonexistent/cfg.json"),
    /Invalid config \/nonexistent\/cfg\.json:\n {2}- cannot read: file not found/,
  );
  const bad = await writeTemp('{ "train": ');
  await assert.rejects(loadConfig(bad), (err: Error) => {
    assert.ok(err instanceof ConfigError);
    assert.ok(err.message.includes(bad));
    assert.match(err.message, /not valid JSON/);
    return true;
  });
  const arr = await writeTemp("[1,2]");
  await assert.rejects(loadConfig(arr), /\(root\): expected an object/);
});

Deno.test("--set values parse as JSON when they parse, else as strings", () => {
  assert.deepEqual(parseOverride("train.epochs=3"), {
    path: ["train", "epochs"],
    value: 3,
  });
  assert.deepEqual(parseOverride("data.imageSize=[96,96]").value, [96, 96]);
  assert.equal(parseOverride("data.path=null").value, null);
  assert.equal(parseOverride("model.trainable=true").value, true);
  assert.equal(parseOverride("name=my-run").value, "my-run");
  assert.equal(
    parseOverride("data.url=https://example.com/a=b.zip").value,
    "https://example.com/a=b.zip",
  );
  assert.equal(parseOverride('name="3"').value, "3");
  assert.throws(
    () => parseOverride("train.epochs"),
    /expected dotted\.key=value/,
  );
  assert.throws(() => parseOverride("=3"), /expected dotted\.key=value/);
  assert.throws(() => parseOverride("train..epochs=3"), /empty segment/);
});

Deno.test("--set overrides apply in order on top of the file, and are validated", async () => {
  const file = repoFile("train.config.json");
  const c = await loadConfig(file, [
    "train.epochs=3",
    "data.imageSize=[96,96]",
    "train.epochs=4",
    "model.head.dropout=0.2",
  ]);
  assert.equal(c.train.epochs, 4);
  assert.deepEqual(c.data.imageSize, [96, 96]);
  assert.equal(c.model.head.dropout, 0.2);
  assert.equal(c.data.batchSize, 32, "untouched keys keep the file's value");

  await assert.rejects(
    loadConfig(file, ["train.epoch=3"]),
    /train\.epoch: unknown key \(did you mean "epochs"\?\)/,
  );
  await assert.rejects(
    loadConfig(file, ["data.batchSize=big"]),
    /data\.batchSize: expected number, found "big"/,
  );
  assert.throws(
    () => applyOverrides({ train: { epochs: 3 } }, ["train.epochs.x=1"]),
    /train\.epochs: is 3 \(number\), cannot set train\.epochs\.x/,
  );
  const raw = { train: { epochs: 1 } };
  applyOverrides(raw, ["train.epochs=2"]);
  assert.equal(raw.train.epochs, 1, "the input object is not mutated");
});

Deno.test("CLI flags: --config, repeatable --set, unknown flags rejected", () => {
  const a = parseConfigArgs([
    "--config",
    "x.json",
    "--set",
    "train.epochs=3",
    "--set=data.imageSize=[96,96]",
  ]);
  assert.equal(a.config, "x.json");
  assert.deepEqual(a.set, ["train.epochs=3", "data.imageSize=[96,96]"]);
  assert.equal(parseConfigArgs([]).config, "train.config.json");
  assert.throws(() => parseConfigArgs(["--epochs", "3"]), /--epochs/);
  assert.deepEqual(
    parseConfigArgs(["a.jpg", "b.jpg"], { allowPositionals: true }).positionals,
    ["a.jpg", "b.jpg"],
  );
});

Deno.test("config.schema.json is up to date with the schema", async () => {
  const onDisk = JSON.parse(
    await Deno.readTextFile(repoFile("config.schema.json")),
  );
  assert.deepEqual(
    onDisk,
    JSON.parse(JSON.stringify(configJsonSchema())),
    "config.schema.json is stale: run `deno task schema`",
  );
  const cfg = JSON.parse(
    await Deno.readTextFile(repoFile("train.config.json")),
  );
  assert.equal(cfg.$schema, "./config.schema.json");
});

Deno.test("src/config/types.ts is the schema's generated types", async () => {
  // Formatted as `deno task schema` writes it.
  const fmt = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext=ts", "-"],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = fmt.stdin.getWriter();
  await writer.write(new TextEncoder().encode(configTypesSource()));
  await writer.close();
  const out = await fmt.output();
  assert.equal(out.code, 0);
  assert.equal(
    await Deno.readTextFile(repoFile("src/config/types.ts")),
    new TextDecoder().decode(out.stdout),
    "src/config/types.ts is stale: run `deno task schema`",
  );
});

Deno.test("README's config reference is up to date with the schema", async () => {
  const readme = await Deno.readTextFile(repoFile("README.md"));
  const start = readme.indexOf(README_REFERENCE_START);
  const end = readme.indexOf(README_REFERENCE_END);
  assert.ok(start >= 0 && end > start, "README has the reference markers");
  // `deno fmt` pads table cells, so compare cell by cell.
  const cells = (table: string) =>
    table.trim().split("\n").map((line) =>
      line.split(/(?<!\\)\|/).map((c) => c.trim().replace(/^-+$/, "---"))
    );
  assert.deepEqual(
    cells(readme.slice(start + README_REFERENCE_START.length, end)),
    cells(configReferenceMarkdown()),
    "README config reference is stale: run `deno task schema`",
  );
});

Deno.test("the required config keys all exist under their documented names", () => {
  const required = [
    "name",
    "data.url",
    "data.path",
    "data.sha256",
    "data.trainDir",
    "data.validationDir",
    "data.validationSplit",
    "data.imageSize",
    "data.batchSize",
    "data.seed",
    "data.interpolation",
    "data.cacheDir",
    "model.alpha",
    "model.weights",
    "model.trainable",
    "model.head.dropout",
    "train.epochs",
    "train.optimizer",
    "train.learningRate",
    "backend",
    "output.dir",
  ];
  const c = parseConfig({}) as unknown as Record<string, unknown>;
  for (const key of required) {
    let node: unknown = c;
    for (const seg of key.split(".")) {
      assert.ok(
        node !== null && typeof node === "object" && seg in node,
        `missing ${key}`,
      );
      node = (node as Record<string, unknown>)[seg];
    }
  }
});
