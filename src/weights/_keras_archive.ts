/**
 * Keras 3 `.keras` archives (`model.save("x.keras")`): a zip holding
 * `config.json` (the model's architecture), `metadata.json` (Keras version,
 * date) and `model.weights.h5` (Keras 3 weights layout, see `keras_h5.ts`),
 * plus `assets/` for layers that have some. Read in memory with zip.js.
 *
 * @module
 */

import { zipjs } from "../deps/zip.ts";
import {
  type Keras3WeightsFile,
  KerasWeightsError,
  labelled,
  readKeras3Layout,
  sourceBytes,
  withH5Bytes,
} from "./keras_h5.ts";

/** A `.keras` archive's parts. */
export interface KerasArchive {
  /** `config.json`, parsed (class_name, config.layers, …). */
  config: Record<string, unknown>;
  /** `metadata.json`, parsed (`keras_version`, `date_saved`). */
  metadata: Record<string, unknown>;
  /** `model.weights.h5`, read. */
  weights: Keras3WeightsFile;
}

/** The first four bytes of a zip file (a local file header). */
export function hasZipSignature(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b &&
    bytes[2] === 0x03 && bytes[3] === 0x04;
}

function parseJson(
  text: string,
  entry: string,
): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new KerasWeightsError(
      `Not a Keras archive: ${entry} is not JSON (${(e as Error).message})`,
    );
  }
  if (value == null || typeof value !== "object" || Array.isArray(value)) {
    throw new KerasWeightsError(
      `Not a Keras archive: ${entry} is not a JSON object`,
    );
  }
  return value as Record<string, unknown>;
}

/**
 * Reads a `.keras` archive (a path or its bytes): its config, metadata and
 * weights. Sharded weights (`model.weights.json` + several `.h5`) are not
 * supported and say so.
 */
export async function readKerasArchive(
  source: string | Uint8Array,
): Promise<KerasArchive> {
  const { bytes, label } = await sourceBytes(source);
  try {
    if (!hasZipSignature(bytes)) {
      throw new KerasWeightsError(
        "Not a Keras archive (.keras files are zip archives; no zip signature)",
      );
    }
    const reader = new zipjs.ZipReader(new zipjs.Uint8ArrayReader(bytes), {
      useWebWorkers: false,
      checkCrc32: true,
    });
    let entries: zipjs.Entry[];
    try {
      entries = await reader.getEntries();
    } catch (e) {
      throw new KerasWeightsError(
        `Not a Keras archive: the zip cannot be read (${(e as Error).message})`,
      );
    }
    const read = async (name: string): Promise<Uint8Array | null> => {
      const entry = entries.find((e) => e.filename === name && !e.directory);
      if (entry == null || entry.directory) return null;
      try {
        return await entry.getData(new zipjs.Uint8ArrayWriter());
      } catch (e) {
        throw new KerasWeightsError(
          `Not a Keras archive: entry ${name} is damaged (${
            (e as Error).message
          })`,
        );
      }
    };
    const names = entries.map((e) => e.filename);
    const [configBytes, metadataBytes, weightsBytes] = await Promise.all([
      read("config.json"),
      read("metadata.json"),
      read("model.weights.h5"),
    ]);
    await reader.close();
    if (configBytes == null || weightsBytes == null) {
      const sharded = names.includes("model.weights.json");
      throw new KerasWeightsError(
        `Not a Keras archive: expected config.json and model.weights.h5${
          sharded
            ? " (sharded weights, model.weights.json, are not supported)"
            : ""
        }, found ${names.length ? names.join(", ") : "no entries"}`,
      );
    }
    const dec = new TextDecoder();
    const config = parseJson(dec.decode(configBytes), "config.json");
    const metadata = metadataBytes == null
      ? {}
      : parseJson(dec.decode(metadataBytes), "metadata.json");
    const version = typeof metadata.keras_version === "string"
      ? metadata.keras_version
      : null;
    let weights: Keras3WeightsFile;
    try {
      weights = await withH5Bytes(
        weightsBytes,
        (file, h5) => readKeras3Layout(file, h5, version),
      );
    } catch (e) {
      throw labelled(e, "model.weights.h5");
    }
    return { config, metadata, weights };
  } catch (e) {
    throw labelled(e, label);
  }
}
