/**
 * End to end: a real fixture run (cpu) with early stopping, the best-model
 * checkpoint and fine-tuning writes `report.html`, which real headless
 * Chromium opens with no console errors and no requests beyond the page,
 * showing the charts, the confusion matrix and decoded top-loss
 * thumbnails, in a screenshot that is not blank.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { runTraining } from "../../src/run.ts";
import { imagescriptPng } from "../../src/deps/codecs.ts";
import { quiet, trainEnv } from "../_helpers/train.ts";
import { findChromium, launchChromium } from "../_helpers/browser.ts";

const env = await trainEnv();
Deno.test.afterAll(() => env.close());

Deno.test("report e2e (cpu): early stopping in both stages, best checkpoint, report.html written every epoch", async () => {
  const logs: string[] = [];
  const seenReports: number[] = [];
  const r = await runTraining(
    env.config({
      train: {
        epochs: 5,
        // val_accuracy can never improve by more than 1: the stage stops
        // after its second epoch, and the best (first) epoch's weights return.
        earlyStopping: {
          enabled: true,
          monitor: "val_accuracy",
          patience: 0,
          minDelta: 1,
          restoreBestWeights: true,
        },
      },
      fineTune: { enabled: true, fromLayer: 140, epochs: 5 },
      output: { saveBest: true, topLosses: 4 },
    }),
    {
      log: (l) => logs.push(l),
      progress: quiet,
      isTty: false,
      callbacks: [{
        onEpochEnd: async (epoch) => {
          const html = await Deno.readTextFile(join(r_dir(), "report.html"));
          assert.match(html, /running/);
          seenReports.push(epoch);
        },
      }],
    },
  );
  function r_dir() {
    const line = logs.find((l) => l.startsWith("run folder: "))!;
    return line.slice("run folder: ".length);
  }
  try {
    const s = r.summary;
    assert.equal(s.stopReason, "early-stopped");
    assert.deepEqual(r.rows.map((row) => row.stage), [
      "frozen",
      "frozen",
      "fine_tune",
      "fine_tune",
    ]);
    assert.deepEqual(seenReports, [0, 1, 2, 3]);
    assert.deepEqual(
      s.earlyStopping.map((e) => [e.stage, e.stoppedEpoch, e.bestEpoch]),
      [["frozen", 2, 1], ["fine_tune", 4, 3]],
    );
    assert.ok(s.earlyStopping.every((e) => e.restoredEpoch === e.bestEpoch));
    assert.match(logs.join("\n"), /early stopping: /);
    // One checkpoint for the whole run, by val_accuracy.
    const best = Math.max(...r.rows.map((row) => row.val_accuracy));
    assert.equal(s.bestCheckpoint?.bestValue, best);
    assert.ok((s.bestCheckpoint?.saves ?? 0) >= 1);
    for (
      const f of ["model.json", "weights.bin", "labels.json", "model.onnx"]
    ) {
      await Deno.stat(join(r.dir, "best_model", f));
    }
    // Restored weights: the evaluation ran again on them (no stale reuse).
    assert.ok(s.evaluation);

    const html = await Deno.readTextFile(join(r.dir, "report.html"));
    assert.doesNotMatch(html, /<script/);
    assert.match(html, /stopped early/);
    assert.equal((html.match(/<img src=/g) ?? []).length, 4);
    assert.equal(
      (html.match(/<img class="cam" src="data:image\/png;/g) ?? []).length,
      8,
    );
    await checkInChromium(join(r.dir, "report.html"));
  } finally {
    r.model.dispose();
  }
});

const chromium = findChromium();
if (!chromium) {
  console.warn(
    "report e2e: no Chromium binary (apt-get install chromium); the browser check is skipped.",
  );
}

async function checkInChromium(path: string): Promise<void> {
  if (!chromium) return;
  const browser = await launchChromium(chromium);
  try {
    const page = await browser.openPage();
    await page.send("Emulation.setDeviceMetricsOverride", {
      width: 1200,
      height: 900,
      deviceScaleFactor: 1,
      mobile: false,
    });
    const url = pathToFileURL(path).href;
    await page.goto(url);
    const facts = await page.evaluate<{
      chartPaths: number;
      matrixCells: number;
      thumbs: { ok: boolean; width: number; cam: boolean }[];
    }>(`(async () => {
      const thumbs = [];
      for (const img of document.querySelectorAll("#top-losses img")) {
        let ok = true;
        try { await img.decode(); } catch { ok = false; }
        thumbs.push({ ok, width: img.naturalWidth, cam: img.classList.contains("cam") });
      }
      return {
        chartPaths: document.querySelectorAll("#training-chart svg path").length,
        matrixCells: document.querySelectorAll("svg rect.cell").length,
        thumbs,
      };
    })()`);
    assert.deepEqual(page.log.consoleErrors, []);
    assert.deepEqual(page.log.exceptions, []);
    assert.deepEqual(page.log.logErrors, []);
    // Only the page itself and its inline data: images; nothing from a network.
    assert.deepEqual(
      page.log.requests.filter((u) => u !== url && !u.startsWith("data:")),
      [],
    );
    assert.ok(facts.chartPaths >= 4, `chart paths: ${facts.chartPaths}`);
    assert.ok(facts.matrixCells >= 9, `matrix cells: ${facts.matrixCells}`);
    // Each top loss: its thumbnail and the CAM heatmaps of the true and the
    // predicted class (output.heatmaps, on by default).
    assert.equal(facts.thumbs.filter((t) => !t.cam).length, 4);
    assert.equal(facts.thumbs.filter((t) => t.cam).length, 8);
    assert.ok(facts.thumbs.every((t) => t.ok && t.width > 0));
    const shot = await page.screenshot({ width: 1200, maxHeight: 2400 });
    const png = await imagescriptPng.init();
    const fb: Uint8Array = png.decode(shot).framebuffer;
    const colours = new Set<number>();
    for (let i = 0; i < fb.length; i += 4 * 7) {
      colours.add((fb[i] << 16) | (fb[i + 1] << 8) | fb[i + 2]);
    }
    assert.ok(colours.size > 50, `${colours.size} colours: blank page?`);
  } finally {
    await browser.close();
  }
}
