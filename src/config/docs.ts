/**
 * Documentation generated from the config schema: the JSON Schema file
 * (`config.schema.json`) and the README's config reference table.
 *
 * @module
 */

import { z } from "../deps.ts";
import { ConfigSchema } from "./schema.ts";

/** The JSON Schema (draft 2020-12) of the config file, generated from {@link ConfigSchema}. */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ConfigSchema, { io: "input" }) as Record<
    string,
    unknown
  >;
  return {
    ...schema,
    title: "deno-transfer training config",
    description:
      "Declarative description of a deno-transfer training run (train.config.json).",
  };
}

/** A leaf of the config for documentation: dotted key, type, default, description. */
export interface ConfigKeyDoc {
  key: string;
  type: string;
  default: unknown;
  description: string;
}

function typeOf(node: Record<string, unknown>): string {
  if (node.anyOf) {
    return (node.anyOf as Record<string, unknown>[]).map(typeOf).join(" \\| ");
  }
  if (node.const !== undefined) return JSON.stringify(node.const);
  if (node.enum) {
    return (node.enum as unknown[]).map((v) => JSON.stringify(v)).join(
      " \\| ",
    );
  }
  if (node.prefixItems) {
    return `[${
      (node.prefixItems as Record<string, unknown>[]).map(typeOf).join(", ")
    }]`;
  }
  if (node.type === "array" && node.items) {
    return `${typeOf(node.items as Record<string, unknown>)}[]`;
  }
  return String(node.type ?? "any");
}

/** Lists every leaf key of the config with its type, default and description. */
export function configKeyDocs(): ConfigKeyDoc[] {
  const out: ConfigKeyDoc[] = [];
  const walk = (node: Record<string, unknown>, prefix: string) => {
    const props = node.properties as
      | Record<string, Record<string, unknown>>
      | undefined;
    for (const [key, child] of Object.entries(props ?? {})) {
      if (key === "$schema") continue;
      const dotted = prefix ? `${prefix}.${key}` : key;
      if (child.type === "object" && child.properties) walk(child, dotted);
      else {
        out.push({
          key: dotted,
          type: typeOf(child),
          default: child.default,
          description: String(child.description ?? ""),
        });
      }
    }
  };
  walk(configJsonSchema(), "");
  return out;
}

/** The README's config reference table, generated from the schema. */
export function configReferenceMarkdown(): string {
  const rows = configKeyDocs().map((d) =>
    `| \`${d.key}\` | ${d.type} | \`${JSON.stringify(d.default)}\` | ${
      d.description.replaceAll("|", "\\|")
    } |`
  );
  return [
    "| key | type | default | meaning |",
    "| --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
}

/** Marker before the generated config reference in README.md. */
export const README_REFERENCE_START = "<!-- config-reference:start -->";
/** Marker after the generated config reference in README.md. */
export const README_REFERENCE_END = "<!-- config-reference:end -->";

/** Replaces the text between two marker lines (markers kept). */
export function replaceBetweenMarkers(
  text: string,
  start: string,
  end: string,
  body: string,
): string {
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`markers ${start} … ${end} not found`);
  return text.slice(0, i + start.length) + "\n" + body + "\n" +
    text.slice(j);
}
