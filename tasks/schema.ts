/**
 * Regenerates `config.schema.json`, the config's types
 * (`src/config/types.ts`) and the README's config reference from the zod
 * schema in `src/config/schema.ts`. Run with `deno task schema`.
 *
 * @module
 */

import {
  configJsonSchema,
  configReferenceMarkdown,
  configTypesSource,
  README_REFERENCE_END,
  README_REFERENCE_START,
  replaceBetweenMarkers,
} from "../src/config/docs.ts";

const root = new URL("../", import.meta.url);
const schemaFile = new URL("config.schema.json", root);
await Deno.writeTextFile(
  schemaFile,
  JSON.stringify(configJsonSchema(), null, 2) + "\n",
);
const readmeFile = new URL("README.md", root);
const readme = await Deno.readTextFile(readmeFile);
await Deno.writeTextFile(
  readmeFile,
  replaceBetweenMarkers(
    readme,
    README_REFERENCE_START,
    README_REFERENCE_END,
    configReferenceMarkdown(),
  ),
);
const typesFile = new URL("src/config/types.ts", root);
await Deno.writeTextFile(typesFile, configTypesSource());
await new Deno.Command(Deno.execPath(), {
  args: ["fmt", "--quiet", readmeFile.pathname, typesFile.pathname],
}).output();
console.log(
  "wrote config.schema.json, src/config/types.ts and README.md's config reference",
);
