/**
 * The report's "Quantized models" section: each variant of `output.quantize`
 * (and the ONNX ones) with its measured size, agreement with float32, max
 * |Δp| and accuracy, as `summary.json`'s `shipping` records them.
 *
 * @module
 */

import type { ReportInput } from "./report_input.ts";
import type { VariantCost } from "../evaluate/variant_costs.ts";
import { num, section } from "./_html_format.ts";
import { escapeXml as esc } from "./_svg.ts";

function rows(format: string, costs: readonly VariantCost[]): string[] {
  return costs.map((c) =>
    `<tr${c.written ? "" : ' class="muted"'}><td>${esc(format)}</td><td>${
      esc(c.variant)
    }</td><td><code>${esc(c.path)}</code>${
      c.written ? "" : " (not written)"
    }</td><td class="num">${
      (c.bytes / 1e6).toFixed(2)
    } MB</td><td class="num">${num(c.sizeRatio, 3)}×</td><td class="num">${
      num(c.agreement, 4)
    }</td><td class="num">${
      c.maxAbsDiff.toExponential(2)
    }</td><td class="num">${num(c.accuracy, 4)}</td><td>${
      esc(c.note ?? "")
    }</td></tr>`
  );
}

/** The section, or "" when the run wrote no variant and used no int8 frozen base. */
export function shippingSection(input: ReportInput): string {
  const s = input.shipping;
  const f = input.frozenInt8Cost;
  if (!s && !f) return "";
  const int8 = f
    ? `<p id="frozen-int8">Features extracted by the int8 frozen base (<code>engine.frozenInt8</code>): validation accuracy ${
      num(f.accuracy, 4)
    } on int8 features against ${
      num(f.floatAccuracy, 4)
    } for the same classifier in float32 (${
      esc(f.floatEngine)
    }); top-1 agreement ${num(f.agreement, 4)}, max |Δp| ${
      f.maxAbsDiff.toExponential(2)
    }, ${f.count} images.</p>`
    : "";
  if (!s) return section("quantized", "Quantized models", int8);
  const body = int8 +
    `<p class="muted">Every variant against the float32 model of its format, on the ${s.images} validation images (TF.js variants run by ${
      esc(s.engine)
    }, ONNX ones by ONNX Runtime): top-1 agreement, the largest change of any class probability, and accuracy.</p>
<table id="shipping"><thead><tr><th>format</th><th>variant</th><th>file</th><th class="num">size</th><th class="num">of float32</th><th class="num">agreement</th><th class="num">max |Δp|</th><th class="num">accuracy</th><th></th></tr></thead>
<tbody>
${[...rows("TF.js", s.tfjs), ...rows("ONNX", s.onnx ?? [])].join("\n")}
</tbody></table>${
      s.calibration
        ? `<p class="muted">int8 activations calibrated ${
          esc(s.calibration.method)
        }${
          s.calibration.percentile
            ? ` (each tensor's central ${s.calibration.percentile} % over every calibration image)`
            : " (each tensor's range over every calibration image)"
        } on ${s.calibration.images} training images, ${s.calibration.tensors} tensors quantized.</p>`
        : ""
    }`;
  return section("quantized", "Quantized models", body);
}
