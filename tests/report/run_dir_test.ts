import assert from "node:assert/strict";
import { createRunDir, utcStamp } from "../../src/report/run_dir.ts";

Deno.test("utcStamp is compact UTC", () => {
  assert.equal(
    utcStamp(new Date("2026-11-28T02:51:30.123Z")),
    "20261128T025130Z",
  );
});

Deno.test("createRunDir never reuses a folder, even within one second", async () => {
  const out = await Deno.makeTempDir();
  try {
    const now = new Date("2026-11-28T02:51:30Z");
    const dirs = await Promise.all(
      [1, 2, 3].map(() => createRunDir(`${out}/runs`, "job", now)),
    );
    assert.equal(new Set(dirs).size, 3);
    assert.deepEqual(
      dirs.map((d) => d.slice(out.length + 6)).sort(),
      [
        "job-20261128T025130Z",
        "job-20261128T025130Z-2",
        "job-20261128T025130Z-3",
      ],
    );
    await Deno.writeTextFile(`${dirs[0]}/metrics.csv`, "kept");
    const again = await createRunDir(`${out}/runs`, "job", now);
    assert.ok(!dirs.includes(again));
    assert.equal(await Deno.readTextFile(`${dirs[0]}/metrics.csv`), "kept");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
