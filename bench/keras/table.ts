/**
 * Prints the parity table of `bench/keras/run.sh` from the two result files:
 * deno-transfer's `bench/reference_job.ts --json` and the JSON lines of
 * `bench/keras/reference_job.py`.
 *
 * @module
 */

const [denoFile, kerasFile] = Deno.args;
const deno = JSON.parse(await Deno.readTextFile(denoFile)) as {
  jobs?: {
    label: string;
    r: {
      ok: boolean;
      case: string;
      wallSeconds: number;
      final?: { val_accuracy: number } | null;
    };
  }[];
};
const keras = (await Deno.readTextFile(kerasFile)).trim().split("\n")
  .filter(Boolean).map((l) =>
    JSON.parse(l) as {
      case: string;
      wallSeconds: number;
      final: { val_accuracy: number };
    }
  );
// [label, Keras' case, deno-transfer's case]; the two-stage cases once per
// engine.train value (bench/reference_job.ts names them
// `<case>-auto-train-<engine>`).
const twoStage: [string, string, string][] = [
  ["fine-tuning (10 + 10 epochs)", "fine_tune", "fine-tune"],
  [
    "TF tutorial preset (augmented, dropout + logit head, 10 + 10 epochs)",
    "tutorial",
    "tutorial",
  ],
];
const pairs: [string, string, string][] = [
  ["frozen base", "frozen", "cached-first-auto"],
  ["frozen base + augmentation", "augmented", "augmented-auto"],
  ...twoStage.flatMap(([label, k, d]) =>
    ["tfjs", "onnxruntime", "auto"].map((e): [string, string, string] => [
      `${label}, engine.train ${e}`,
      k,
      `${d}-auto-train-${e}`,
    ])
  ),
];
const f1 = (n: number) => n.toFixed(1);
console.log(
  "| job | Keras wall (s) | deno-transfer wall (s) | Keras ÷ deno-transfer | Keras val_accuracy | deno-transfer val_accuracy |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
for (const [label, k, d] of pairs) {
  const kr = keras.find((r) => r.case === k);
  const dr = deno.jobs?.find((j) => j.r.case === d)?.r;
  if (!kr || !dr?.ok) continue;
  console.log(
    `| ${label} | ${f1(kr.wallSeconds)} | ${f1(dr.wallSeconds)} | ${
      f1(kr.wallSeconds / dr.wallSeconds)
    }× | ${kr.final.val_accuracy.toFixed(3)} | ${
      dr.final?.val_accuracy.toFixed(3) ?? "—"
    } |`,
  );
}
