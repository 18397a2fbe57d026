import assert from "node:assert/strict";
import type { MetricsRow } from "../../src/train/fit.ts";
import {
  formatMetricsRow,
  MetricsCsvWriter,
  metricsHeader,
  parseMetricsCsv,
  readMetricsCsv,
} from "../../src/report/metrics.ts";

const row = (epoch: number, extra: Partial<MetricsRow> = {}): MetricsRow => ({
  epoch,
  loss: 0.7 / epoch,
  accuracy: 0.5 + epoch / 100,
  val_loss: 0.65 / epoch,
  val_accuracy: 0.55 + epoch / 100,
  seconds: 1.25 * epoch,
  lr: 1e-3 / epoch,
  ...extra,
});

/**
 * Test helper (TF.js `fit` callbacks): builds a row from TF.js `onEpochEnd` logs. TF.js names the metric `acc` /
 * `val_acc` when compiled with `metrics: ["accuracy"]`; both spellings are
 * accepted. `epochIndex` is TF.js' 0-based index; the row's epoch is 1-based.
 */
function rowFromLogs(
  epochIndex: number,
  logs: Record<string, number | undefined>,
  seconds: number,
  stage?: string,
): MetricsRow {
  const pick = (...keys: string[]) => {
    for (const k of keys) {
      const v = logs[k];
      if (typeof v === "number") return v;
    }
    return NaN;
  };
  const row: MetricsRow = {
    epoch: epochIndex + 1,
    loss: pick("loss"),
    accuracy: pick("acc", "accuracy"),
    val_loss: pick("val_loss"),
    val_accuracy: pick("val_acc", "val_accuracy"),
    seconds,
  };
  if (stage !== undefined) row.stage = stage;
  return row;
}

Deno.test("metrics CSV: header, one synced row per append, exact round trip", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/metrics.csv`;
    const w = await MetricsCsvWriter.create(path);
    assert.equal(
      await Deno.readTextFile(path),
      "epoch,loss,accuracy,val_loss,val_accuracy,seconds,lr\n",
    );
    const rows = [row(1), row(2), row(3, { val_loss: NaN, loss: Infinity })];
    for (const [i, r] of rows.entries()) {
      await w.append(r);
      // Visible on disk right after each append.
      const lines = (await Deno.readTextFile(path)).trimEnd().split("\n");
      assert.equal(lines.length, i + 2);
    }
    assert.equal(w.rows, 3);
    assert.deepEqual(await readMetricsCsv(path), rows);
    await assert.rejects(
      MetricsCsvWriter.create(path),
      Deno.errors.AlreadyExists,
    );
    const again = await MetricsCsvWriter.create(path, { overwrite: true });
    assert.equal(again.rows, 0);
    assert.deepEqual(await readMetricsCsv(path), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("metrics CSV: stage column for fine-tuning, quoted when needed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/metrics.csv`;
    const w = await MetricsCsvWriter.create(path, { stage: true });
    await w.append(row(1, { stage: "frozen" }));
    await w.append(row(2, { stage: "fine,tune" }));
    await assert.rejects(w.append(row(3)), /epoch 3 has no stage/);
    const text = await Deno.readTextFile(path);
    assert.equal(text.split("\n")[0], metricsHeader(true));
    assert.ok(text.includes(',"fine,tune"\n'));
    const back = await readMetricsCsv(path);
    assert.deepEqual(back.map((r) => r.stage), ["frozen", "fine,tune"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("metrics CSV: rows written before a SIGKILL survive", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/metrics.csv`;
    const mod = JSON.stringify(
      new URL("../../src/report/metrics.ts", import.meta.url).href,
    );
    const code = `import { MetricsCsvWriter } from ${mod};
      const w = await MetricsCsvWriter.create(${JSON.stringify(path)});
      for (let e = 1; e <= 2; e++) await w.append({ epoch: e, loss: 1 / e,
        accuracy: 0.5, val_loss: 1, val_accuracy: 0.5, seconds: 0.1 });
      console.log("ready");
      setInterval(() => {}, 1000);`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-write", "-"],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(code));
    await w.close();
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let out = "";
    while (!out.includes("ready")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    child.kill("SIGKILL");
    await reader.cancel();
    const status = await child.status;
    assert.equal(status.signal, "SIGKILL");
    const rows = await readMetricsCsv(path);
    assert.deepEqual(rows.map((r) => [r.epoch, r.loss]), [[1, 1], [2, 0.5]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseMetricsCsv: header by name, nan/inf spellings, clear errors", () => {
  const rows = parseMetricsCsv(
    "seconds,epoch,loss,accuracy,val_loss,val_accuracy,extra\r\n" +
      "2.5,1,nan,0.5,inf,,x\r\n\r\n",
  );
  assert.equal(rows.length, 1);
  assert.equal(rows[0].seconds, 2.5);
  assert.equal(rows[0].epoch, 1);
  assert.ok(Number.isNaN(rows[0].loss));
  assert.equal(rows[0].val_loss, Infinity);
  assert.ok(Number.isNaN(rows[0].val_accuracy));
  assert.throws(
    () => parseMetricsCsv("epoch,loss\n1,2\n"),
    /lacks column\(s\): accuracy/,
  );
  assert.throws(
    () => parseMetricsCsv(metricsHeader() + "\n1,2,3\n"),
    /line 2: expected 7 cells, got 3/,
  );
  assert.throws(
    () => parseMetricsCsv(metricsHeader() + "\n1,abc,3,4,5,6,7\n"),
    /line 2: loss "abc" is not a number/,
  );
  assert.throws(
    () => parseMetricsCsv(metricsHeader() + "\n1,2,3,4,5,6,fast\n"),
    /line 2: lr "fast" is not a number/,
  );
  // Files from before the lr column: no lr.
  assert.equal(rows[0].lr, undefined);
});

Deno.test("metrics CSV: the lr column after seconds, NaN when a row has none", () => {
  assert.equal(
    metricsHeader(true),
    "epoch,loss,accuracy,val_loss,val_accuracy,seconds,lr,stage",
  );
  assert.equal(
    formatMetricsRow(row(2, { stage: "frozen" }), true),
    "2,0.35,0.52,0.325,0.5700000000000001,2.5,0.0005,frozen",
  );
  const { lr: _, ...old } = row(1);
  assert.equal(formatMetricsRow(old), "1,0.7,0.51,0.65,0.56,1.25,NaN");
  const back = parseMetricsCsv(
    metricsHeader() + "\n" + formatMetricsRow(row(4)),
  );
  assert.equal(back[0].lr, 2.5e-4);
});

Deno.test("rowFromLogs: maps TF.js acc/val_acc names and 0-based epochs", () => {
  const r = rowFromLogs(
    0,
    { loss: 0.6, acc: 0.7, val_loss: 0.5, val_acc: 0.8 },
    3.5,
  );
  assert.deepEqual(r, {
    epoch: 1,
    loss: 0.6,
    accuracy: 0.7,
    val_loss: 0.5,
    val_accuracy: 0.8,
    seconds: 3.5,
  });
  const k = rowFromLogs(9, { loss: 0.1, accuracy: 0.9 }, 1, "fine_tune");
  assert.equal(k.epoch, 10);
  assert.equal(k.accuracy, 0.9);
  assert.ok(Number.isNaN(k.val_loss));
  assert.equal(k.stage, "fine_tune");
  assert.equal(
    formatMetricsRow(k, true),
    "10,0.1,0.9,NaN,NaN,1,NaN,fine_tune",
  );
});
