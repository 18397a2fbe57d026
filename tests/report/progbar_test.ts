import assert from "node:assert/strict";
import { formatValue, Progbar } from "../../src/report/progbar.ts";
import { formatDuration } from "../../src/util/format.ts";
import { selectBackend } from "../../src/backend/backend.ts";
import * as tf from "../../src/deps/tf.ts";

function capture() {
  let out = "";
  return { writer: { write: (s: string) => void (out += s) }, text: () => out };
}

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

Deno.test("Progbar (no TTY): epoch header, periodic plain lines, epoch line", () => {
  const out = capture();
  const c = clock();
  const bar = new Progbar({
    epochs: 2,
    stepsPerEpoch: 8,
    writer: out.writer,
    isTty: false,
    now: c.now,
    barWidth: 10,
  });
  bar.onEpochBegin(0);
  for (let b = 0; b < 8; b++) {
    c.advance(250);
    // Two batches of 32, one of 16 at the end: running means weight by size.
    bar.onBatchEnd(b, {
      batch: b,
      size: b === 7 ? 16 : 32,
      loss: b < 4 ? 1 : 0.5,
      acc: 0.5,
    });
  }
  bar.onEpochEnd(0, { loss: 0.7, acc: 0.75, val_loss: 0.6, val_acc: 0.8 });
  const lines = out.text().split("\n");
  assert.equal(lines[0], "Epoch 1/2");
  // Plain lines every quarter (2 batches), not at the last batch.
  assert.deepEqual(lines.slice(1, 4), [
    "2/8 [==>.......] - 1s - ETA: 2s - loss: 1.0000 - accuracy: 0.5000",
    "4/8 [=====>....] - 1s - ETA: 1s - loss: 1.0000 - accuracy: 0.5000",
    "6/8 [=======>..] - 2s - ETA: 1s - loss: 0.8333 - accuracy: 0.5000",
  ]);
  assert.equal(
    lines[4],
    "8/8 [==========] - 2s 250ms/step - loss: 0.7000 - accuracy: 0.7500 - " +
      "val_loss: 0.6000 - val_accuracy: 0.8000",
  );
  assert.equal(lines.length, 6); // trailing ""
  assert.ok(!out.text().includes("\r") && !out.text().includes("\x1b"));
});

Deno.test("Progbar (TTY): redraws in place, ends each epoch with a newline", () => {
  const out = capture();
  const c = clock();
  const bar = new Progbar({
    epochs: 10,
    stepsPerEpoch: 3,
    writer: out.writer,
    isTty: true,
    now: c.now,
    barWidth: 6,
    columns: 200,
    firstEpoch: 1,
  });
  bar.onEpochBegin(4); // TF.js index 4 → epoch 5 (e.g. fine-tuning continues)
  for (let b = 0; b < 3; b++) {
    c.advance(1000);
    bar.onBatchEnd(b, { size: 2, loss: 0.3 * (b + 1), acc: 1 });
  }
  bar.onEpochEnd(4, { loss: 0.6, acc: 1, val_loss: 0.5, val_acc: 0.9 });
  const text = out.text();
  assert.ok(text.startsWith("Epoch 5/10\n"));
  const frames = text.slice("Epoch 5/10\n".length).split("\r").filter(Boolean);
  assert.deepEqual(frames, [
    "1/3 [==>...] - 1s - ETA: 2s - loss: 0.3000 - accuracy: 1.0000\x1b[K",
    "2/3 [====>.] - 2s - ETA: 1s - loss: 0.4500 - accuracy: 1.0000\x1b[K",
    "3/3 [======] - 3s - loss: 0.6000 - accuracy: 1.0000\x1b[K",
    "3/3 [======] - 3s 1000ms/step - loss: 0.6000 - accuracy: 1.0000 - " +
    "val_loss: 0.5000 - val_accuracy: 0.9000\x1b[K\n",
  ]);
});

Deno.test("Progbar: unknown steps, truncation to terminal width, interrupted epoch", () => {
  const out = capture();
  const bar = new Progbar({
    epochs: 1,
    writer: out.writer,
    isTty: true,
    columns: 30,
    now: () => 0,
  });
  bar.onEpochBegin(0);
  bar.onBatchEnd(0, { size: 4, loss: 0.123456789, acc: 0.25 });
  bar.onTrainEnd();
  const frame = out.text().split("\r")[1];
  assert.equal(frame, "batch 1 - 0s - loss: 0.1235 -\x1b[K\n");
  assert.equal(frame.replace("\x1b[K\n", "").length, 29);
});

Deno.test("formatDuration and formatValue match Keras' style", () => {
  assert.equal(formatDuration(4.4), "4s");
  assert.equal(formatDuration(185), "3:05");
  assert.equal(formatDuration(3723), "1:02:03");
  assert.equal(formatDuration(NaN), "?");
  assert.equal(formatValue(0.69314718), "0.6931");
  assert.equal(formatValue(0.00001234), "1.2340e-5");
  assert.equal(formatValue(NaN), "NaN");
});

Deno.test("Progbar works as a real model.fit callback", async () => {
  await selectBackend("cpu");
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [2], units: 1, activation: "sigmoid" }),
    ],
  });
  model.compile({
    optimizer: "adam",
    loss: "binaryCrossentropy",
    metrics: ["accuracy"],
  });
  const xs = tf.tensor2d([[0, 0], [0, 1], [1, 0], [1, 1], [0, 0], [1, 1]]);
  const ys = tf.tensor2d([[0], [0], [0], [1], [0], [1]]);
  const out = capture();
  const bar = new Progbar({
    epochs: 2,
    stepsPerEpoch: 3,
    writer: out.writer,
    isTty: false,
  });
  await model.fit(xs, ys, {
    epochs: 2,
    batchSize: 2,
    validationData: [xs, ys],
    callbacks: bar,
    verbose: 0,
  });
  const lines = out.text().trimEnd().split("\n");
  assert.equal(lines[0], "Epoch 1/2");
  assert.match(
    lines.at(-1)!,
    /^3\/3 \[=+\] - \d+s \d+ms\/step - loss: \d\.\d{4} - accuracy: \d\.\d{4} - val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4}$/,
  );
  assert.equal(lines.filter((l) => l.startsWith("Epoch ")).length, 2);
  tf.dispose([xs, ys]);
  model.dispose();
});
