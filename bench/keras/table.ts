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
const pairs: [string, string, string][] = [
  ["frozen base", "frozen", "cached-first-auto"],
  ["frozen base + augmentation", "augmented", "augmented-auto"],
  [
    "fine-tuning (10 + 10 epochs), engine.train tfjs",
    "fine_tune",
    "fine-tune-auto-train-tfjs",
  ],
  [
    "fine-tuning (10 + 10 epochs), engine.train onnxruntime",
    "fine_tune",
    "fine-tune-auto-train-onnxruntime",
  ],
  [
    "fine-tuning (10 + 10 epochs), engine.train auto",
    "fine_tune",
    "fine-tune-auto-train-auto",
  ],
  [
    "TF tutorial preset (augmented, dropout + logit head, 10 + 10 epochs), engine.train auto",
    "tutorial",
    "tutorial-auto-train-auto",
  ],
  [
    "TF tutorial preset (augmented, dropout + logit head, 10 + 10 epochs), engine.train onnxruntime",
    "tutorial",
    "tutorial-auto-train-onnxruntime",
  ],
  [
    "TF tutorial preset (augmented, dropout + logit head, 10 + 10 epochs), engine.train tfjs",
    "tutorial",
    "tutorial-auto-train-tfjs",
  ],
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
