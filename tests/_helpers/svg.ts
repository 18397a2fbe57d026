/**
 * Strict SVG parsing for the chart tests (xmldom): any warning fails.
 *
 * @module
 */

import assert from "node:assert/strict";
import { importXmlDom } from "../../fixtures/deps_dev.ts";

const { DOMParser } = await importXmlDom();
/** A parsed XML element. */
export type XmlElement =
  & ReturnType<
    InstanceType<typeof DOMParser>["parseFromString"]
  >["documentElement"]
  & object;

/** Parses an SVG strictly (any xmldom warning fails) and returns its root. */
export function parseSvg(svg: string): XmlElement {
  // xmldom tolerates a bare "&"; make sure every "&" starts an entity.
  assert.doesNotMatch(svg, /&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);)/i);
  const doc = new DOMParser({
    onError: (level: string, msg: string) => {
      throw new Error(`${level}: ${msg}`);
    },
  }).parseFromString(svg, "image/svg+xml");
  const root = doc.documentElement;
  assert.ok(root);
  assert.equal(root.tagName, "svg");
  assert.equal(root.getAttribute("xmlns"), "http://www.w3.org/2000/svg");
  return root;
}

/** Descendants named `tag`. */
export function all(el: XmlElement, tag: string): XmlElement[] {
  return Array.from(el.getElementsByTagName(tag)) as unknown as XmlElement[];
}

/** Descendants named `tag` with class `cls`. */
export function byClass(
  el: XmlElement,
  tag: string,
  cls: string,
): XmlElement[] {
  return all(el, tag).filter((e) =>
    (e.getAttribute("class") ?? "").split(" ").includes(cls)
  );
}
