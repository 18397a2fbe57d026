/**
 * The base networks `model.architecture` names, and the combinations of
 * `model.alpha`, `model.minimalistic`, `model.weights` and `data.imageSize`
 * that `keras.applications` accepts for each (Keras 3.15; the accepted and
 * rejected cases, with Keras' messages, are recorded in
 * `fixtures/keras/zoo/keras_facts.json`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { architectureIssues } from "./architecture.ts";
 *
 * const ok = architectureIssues(
 *   { architecture: "mobilenet_v3_small", alpha: 0.75, minimalistic: false, weights: "imagenet" },
 *   [96, 96],
 * );
 * assert.deepEqual(ok, []);
 * const bad = architectureIssues(
 *   { architecture: "efficientnet_b0", alpha: 1, minimalistic: true, weights: null },
 *   [96, 96],
 * );
 * assert.equal(bad[0].path.join("."), "model.minimalistic");
 * ```
 *
 * @module
 */

/** Every value `model.architecture` takes, in Keras' order. */
export const ARCHITECTURES = [
  "mobilenet_v2",
  "mobilenet_v3_small",
  "mobilenet_v3_large",
  "efficientnet_b0",
  "efficientnet_b1",
  "efficientnet_b2",
  "efficientnet_b3",
  "efficientnet_v2_b0",
  "efficientnet_v2_b1",
  "efficientnet_v2_b2",
  "efficientnet_v2_b3",
] as const;

/** One of {@link ARCHITECTURES}. */
export type Architecture = typeof ARCHITECTURES[number];

/** The `keras.applications` class name of each architecture. */
export const KERAS_APPLICATION_NAMES: Readonly<Record<Architecture, string>> = {
  mobilenet_v2: "MobileNetV2",
  mobilenet_v3_small: "MobileNetV3Small",
  mobilenet_v3_large: "MobileNetV3Large",
  efficientnet_b0: "EfficientNetB0",
  efficientnet_b1: "EfficientNetB1",
  efficientnet_b2: "EfficientNetB2",
  efficientnet_b3: "EfficientNetB3",
  efficientnet_v2_b0: "EfficientNetV2B0",
  efficientnet_v2_b1: "EfficientNetV2B1",
  efficientnet_v2_b2: "EfficientNetV2B2",
  efficientnet_v2_b3: "EfficientNetV2B3",
};

/** The MobileNetV2 width multipliers Keras publishes ImageNet weights for. */
export const MOBILENET_V2_ALPHAS = [0.35, 0.5, 0.75, 1.0, 1.3, 1.4] as const;

/** The model keys {@link architectureIssues} reads. */
export interface ArchitectureChoice {
  /** `model.architecture`. */
  readonly architecture: Architecture;
  /** `model.alpha`. */
  readonly alpha: number;
  /** `model.minimalistic`. */
  readonly minimalistic: boolean;
  /** `model.weights`. */
  readonly weights: string | null;
}

/** A rejected combination: the config key at fault and why. */
export interface ArchitectureIssue {
  /** The config key path, e.g. `["model", "alpha"]`. */
  readonly path: readonly string[];
  /** What is wrong and what is expected. */
  readonly message: string;
}

/** Whether the architecture is a MobileNetV3 (the only ones with `minimalistic`). */
function isMobileNetV3(a: Architecture): boolean {
  return a === "mobilenet_v3_small" || a === "mobilenet_v3_large";
}

/**
 * The combinations Keras rejects for `choice` at `imageSize` ([height,
 * width]), each naming the config key; empty when Keras accepts it.
 */
export function architectureIssues(
  choice: ArchitectureChoice,
  imageSize: readonly [number, number],
): ArchitectureIssue[] {
  const { architecture: arch, alpha, minimalistic, weights } = choice;
  const name = KERAS_APPLICATION_NAMES[arch];
  const issues: ArchitectureIssue[] = [];
  if (minimalistic && !isMobileNetV3(arch)) {
    issues.push({
      path: ["model", "minimalistic"],
      message:
        `${name} has no minimalistic variant (only MobileNetV3Small and MobileNetV3Large do); remove model.minimalistic or set it to false`,
    });
  }
  if (arch === "mobilenet_v2") {
    if (!(MOBILENET_V2_ALPHAS as readonly number[]).includes(alpha)) {
      issues.push({
        path: ["model", "alpha"],
        message: `expected one of ${
          MOBILENET_V2_ALPHAS.join(", ")
        }, found ${alpha}`,
      });
    }
    return issues;
  }
  if (isMobileNetV3(arch)) {
    if (weights === "imagenet") {
      const allowed = minimalistic ? [1.0] : [0.75, 1.0];
      if (!allowed.includes(alpha)) {
        issues.push({
          path: ["model", "alpha"],
          message:
            "If imagenet weights are being loaded, alpha can be one of `0.75`, `1.0` for non minimalistic or `1.0` for minimalistic only." +
            ` (Keras' ${name}); found ${alpha}${
              minimalistic ? " with model.minimalistic true" : ""
            }`,
        });
      }
    }
  } else if (alpha !== 1.0) {
    issues.push({
      path: ["model", "alpha"],
      message:
        `${name} has no width multiplier (keras.applications.${name} takes no alpha); remove model.alpha or set it to 1, found ${alpha}`,
    });
  }
  const [rows, cols] = imageSize;
  if (rows < 32 || cols < 32) {
    issues.push({
      path: ["data", "imageSize"],
      message:
        `Input size must be at least 32x32 for ${name}; found [${rows}, ${cols}]`,
    });
  }
  return issues;
}
