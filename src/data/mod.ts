/**
 * Data stage: fetch → unzip → dataset → decode, each step in its own
 * file, and prepareData (prepare.ts) chaining them from the data.* config
 * keys. Decoding runs in workers (decode_pool.ts, decode_worker.ts) over the
 * codecs (codecs.ts) and resizing (resize.ts); batches.ts turns decoded
 * images into tensors; image_set.ts says where a split's pixels live (memory,
 * or read back from the verified decode cache, entry_read.ts).
 *
 * @module
 */

export * from "./fetch.ts";
export * from "./unzip.ts";
export * from "./dataset.ts";
export * from "./decode.ts";
export * from "./decode_pool.ts";
export * from "./codecs.ts";
export * from "./resize.ts";
export * from "./batches.ts";
export * from "./cache_dir.ts";
export * from "./prepare.ts";
export * from "./cache_inventory.ts";
export * from "./image_set.ts";
export * from "./entry_read.ts";
