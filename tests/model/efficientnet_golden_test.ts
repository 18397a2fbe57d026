/**
 * EfficientNetB0 (in the ImageNet layout, with Keras' per-channel
 * `Rescaling` after its `Normalization`) and EfficientNetV2B0 against real
 * Keras 3.15 (fixtures/keras/zoo, made by make_zoo_goldens.py): formula
 * weights with calibrated BatchNormalization statistics at 72 px, the probe
 * layers' outputs and the pooled features on two formula images fed as raw
 * 0–255 pixels (the model carries its Rescaling and Normalization).
 *
 * Tolerance: relative error max|ours − Keras| / max|Keras| per layer ≤ 1e-4,
 * as for MobileNetV2/V3: float32 sums in another order, the Normalization as
 * (x − mean)·rsqrt(variance + 1e-14) where Keras divides by
 * max(√variance, 1e-7).
 *
 * The training record (frozen stage, then fine-tuning from Keras' layer
 * index) follows Keras' within MobileNetV2's tolerances; see
 * tests/_helpers/zoo_goldens.ts.
 */

import { silenceNodeBanner } from "../../src/backend/set_backend.ts";
import { readZooGoldens } from "../../fixtures/keras/zoo/zoo_goldens.ts";
import {
  fineTuneMatchesKeras,
  frozenStageMatchesKeras,
  probeTests,
} from "../_helpers/zoo_goldens.ts";

silenceNodeBanner();
const goldens = await readZooGoldens();

// efficientnet_b0's goldens are in the ImageNet layout: with Keras'
// per-channel Rescaling (rescaling_1) after the Normalization. Keras'
// Normalization count is not a weight here (V1: − 1); V2's mean and variance
// are Keras constants and our weights (+ 6).
probeTests(
  goldens,
  ["efficientnet_b0", "efficientnet_v2_b0"],
  (key, params) => params + (key === "efficientnet_v2_b0" ? 6 : -1),
);

for (const key of ["efficientnet_b0", "efficientnet_v2_b0"] as const) {
  Deno.test(`${key} @72 px: the frozen stage (features, Keras' Adam, 3 epochs) follows Keras' record (cpu)`, async () => {
    await frozenStageMatchesKeras(goldens, key);
  });
  Deno.test(`${key} @72 px: fine-tuning from Keras' layer index (RMSprop, BatchNormalization and drop-connect in inference) follows Keras' record (wasm)`, async () => {
    // wasm: its gradient kernels take seconds where the cpu backend takes
    // about 5 minutes per variant.
    await fineTuneMatchesKeras(goldens, key, "wasm");
  });
}
