import assert from "node:assert/strict";
import {
  MOBILENET_V3_SIZE_WARNING,
  zooImagenetFile,
} from "../../src/weights/keras_zoo_imagenet.ts";
import { ARCHITECTURES } from "../../src/config/architecture.ts";
import { createHash } from "node:crypto";
import { join } from "node:path";
import * as tf from "../../src/deps/tf.ts";
import {
  type ResolveWeightsOptions,
  resolveWeightsSource,
} from "../../src/weights/keras_imagenet.ts";
import { loadKerasWeights } from "../../src/weights/keras_weights.ts";
import type { FetchOptions, FetchResult } from "../../src/data/fetch.ts";
import { mobileNetV3 } from "../../src/model/mobilenet_v3.ts";
import { saveKerasWeights } from "../../fixtures/keras_h5_writer.ts";
import { randomizeWeights } from "../../fixtures/make_h5.ts";

const read = async (name: string) =>
  JSON.parse(
    await Deno.readTextFile(
      new URL(`../../fixtures/keras/zoo/${name}`, import.meta.url),
    ),
  );
const weights = await read("imagenet_weights.json");
const facts = await read("keras_facts.json");

Deno.test("zooImagenetFile: every file Keras' source names (imagenet_weights.json), with and without the top", () => {
  const entries = Object.entries(weights.architectures) as [string, {
    kwargs: { alpha?: number; minimalistic?: boolean };
    no_top: { url: string; file_name: string; md5: string };
    top: { url: string; file_name: string; md5: string };
  }][];
  assert.equal(entries.length, 14);
  for (const [key, e] of entries) {
    const arch = ARCHITECTURES.find((a) =>
      key === a || key.startsWith(`${a}_`)
    );
    assert.ok(arch && arch !== "mobilenet_v2", key);
    for (const includeTop of [false, true]) {
      const want = includeTop ? e.top : e.no_top;
      assert.deepEqual(
        zooImagenetFile(arch, {
          ...e.kwargs,
          includeTop,
          rows: 224,
          warn: () => assert.fail("warned at 224"),
        }),
        { url: want.url, fileName: want.file_name, md5: want.md5 },
        `${key} top=${includeTop}`,
      );
    }
  }
});

Deno.test("zooImagenetFile: MobileNetV3 at other sizes loads the 224 file with Keras' warning; unpublished widths name model.alpha", () => {
  const kerasWarning = facts.cases.MobileNetV3Small.find((
    c: { warnings?: string[] },
  ) => c.warnings)
    .warnings[0].replace(/^UserWarning: /, "");
  assert.equal(MOBILENET_V3_SIZE_WARNING, kerasWarning);
  for (const [rows, cols] of [[96, 96], [160, 160], [96, 128], [null, null]]) {
    const warnings: string[] = [];
    const f = zooImagenetFile("mobilenet_v3_small", {
      rows,
      cols,
      warn: (m) => warnings.push(m),
    });
    assert.equal(
      f.fileName,
      "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
    );
    assert.deepEqual(warnings, [kerasWarning], `${rows}x${cols}`);
  }
  // EfficientNets' no-top files load at any size without a warning.
  zooImagenetFile("efficientnet_b1", {
    rows: 96,
    warn: () => assert.fail("warned"),
  });
  assert.throws(
    () =>
      zooImagenetFile("mobilenet_v3_large", {
        alpha: 0.75,
        minimalistic: true,
      }),
    /^RangeError: model\.alpha: If imagenet weights are being loaded/,
  );
  assert.throws(
    () => zooImagenetFile("mobilenet_v3_small", { alpha: 0.5 }),
    /model\.alpha/,
  );
});

Deno.test("resolveWeightsSource 'imagenet' for MobileNetV3: Keras' URL, MD5 checked on download and on every use (a bad cached file is fetched again), loads by position into our base", async () => {
  await tf.setBackend("cpu");
  const dir = await Deno.makeTempDir({ prefix: "zoo-weights-" });
  const source = mobileNetV3({ variant: "small", inputShape: [64, 64, 3] });
  randomizeWeights(source, 5);
  const bytes = await saveKerasWeights(source);
  const md5 = createHash("md5").update(bytes).digest("hex");
  let hits = 0;
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, () => {
    hits++;
    return new Response(bytes);
  });
  const cacheDir = join(dir, "cache");
  try {
    // Keras' table, with the download redirected to the loopback server.
    const asked: unknown[] = [];
    const local: ResolveWeightsOptions["imagenetFile"] = (arch, o) => {
      asked.push({ arch, ...o, warn: undefined });
      const keras = zooImagenetFile(arch, o);
      return {
        ...keras,
        url: `http://127.0.0.1:${server.addr.port}/${keras.fileName}`,
        md5,
      };
    };
    const warnings: string[] = [];
    const opts = {
      architecture: "mobilenet_v3_small" as const,
      alpha: 1.0,
      rows: 64,
      cacheDir,
      imagenetFile: local,
      warn: (m: string) => warnings.push(m),
    };
    const path = await resolveWeightsSource("imagenet", opts);
    assert.deepEqual(asked[0], {
      arch: "mobilenet_v3_small",
      alpha: 1.0,
      minimalistic: false,
      includeTop: false,
      rows: 64,
      cols: 64,
      warn: undefined,
    });
    assert.deepEqual(warnings, [MOBILENET_V3_SIZE_WARNING]); // 224 px weights at 64
    assert.match(
      path!,
      /weights_mobilenet_v3_small_224_1\.0_float_no_top_v2-[0-9a-f]{8}\.h5$/,
    );
    assert.deepEqual(await Deno.readFile(path!), bytes);
    assert.equal(await resolveWeightsSource("imagenet", opts), path);
    assert.equal(hits, 1, "cached: MD5 checked, no new request");
    // A cached file whose MD5 no longer matches is fetched again, as Keras'
    // get_file does.
    await Deno.writeFile(path!, new Uint8Array([1, 2, 3]));
    assert.equal(await resolveWeightsSource("imagenet", opts), path);
    assert.equal(hits, 2);
    assert.deepEqual(await Deno.readFile(path!), bytes);

    const target = mobileNetV3({ variant: "small", inputShape: [64, 64, 3] });
    try {
      const report = await loadKerasWeights(target, path!);
      assert.equal(report.format, "h5");
      assert.equal(
        report.weights,
        source.weights.length,
        "every weight set, by position",
      );
      const x = tf.randomUniform([2, 64, 64, 3], 0, 255, "float32", 2);
      const a = source.predict(x) as tf.Tensor;
      const b = target.predict(x) as tf.Tensor;
      assert.deepEqual(await b.data(), await a.data());
      tf.dispose([x, a, b]);
    } finally {
      target.dispose();
    }

    // Keras' real URL through the fetch step; a file that never matches
    // Keras' MD5 is removed and fails, naming the URL and both digests.
    const fetched: string[] = [];
    const wrong = join(dir, "wrong.h5");
    const fakeFetch = async (
      url: string,
      o: FetchOptions,
    ): Promise<FetchResult> => {
      fetched.push(url);
      await Deno.writeFile(wrong, bytes);
      assert.equal(o.cacheDir, join(cacheDir, "weights"));
      return { path: wrong, cached: false, bytes: bytes.length };
    };
    await assert.rejects(
      () =>
        resolveWeightsSource("imagenet", {
          architecture: "mobilenet_v3_large",
          alpha: 0.75,
          rows: 224,
          cacheDir,
          fetchFile: fakeFetch,
        }),
      new RegExp(
        `model\\.weights "imagenet": https://storage\\.googleapis\\.com/tensorflow/keras-applications/mobilenet_v3/weights_mobilenet_v3_large_224_0\\.75_float_no_top_v2\\.h5 has MD5 ${md5}, but Keras publishes weights_mobilenet_v3_large_224_0\\.75_float_no_top_v2\\.h5 with MD5 40af19a13ebea4e2ee0c676887f69a2e`,
      ),
    );
    assert.equal(fetched.length, 2, "fetched again once, as Keras does");
    assert.equal(await exists(wrong), false, "the bad file is removed");
  } finally {
    source.dispose();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
