/**
 * The cache folder (`data.cacheDir`) and everything that keeps it safe to
 * share: where it is (`cache_dir.ts`), verified entry files (`cache_file.ts`,
 * read into reused buffers by `_entry_read.ts`), staging files and locks of
 * live writers (`_staging.ts`), the layout of its parts (`_layout.ts`, the
 * decode cache's `_decoded_layout.ts`, an extraction's marker
 * `_unzip_marker.ts`), the remembered SHA-256 of weights files
 * (`weights_identity.ts`), and what it holds and removing what is stale
 * (`inventory.ts`, `inventory_format.ts`, `prune.ts`; `deno task cache`).
 *
 * @module
 */

export {
  CACHE_DIR_NAME,
  defaultCacheDir,
  resolveCacheDir,
} from "./cache_dir.ts";
export {
  type CacheHeader,
  type CacheRead,
  readCacheFile,
  verifyCacheFile,
  writeCacheFile,
} from "./cache_file.ts";
export {
  type CacheInventory,
  type CacheItem,
  type CacheKind,
  type CacheStatus,
  cacheTotals,
  diskUsage,
  inventoryCache,
  type InventoryOptions,
} from "./inventory.ts";
export { formatInventory } from "./inventory_format.ts";
export {
  clearCache,
  pruneCache,
  type RemovalOptions,
  type RemovalResult,
  removeLeftovers,
} from "./prune.ts";
export {
  type WeightsIdentity,
  type WeightsIdentityOptions,
  weightsSha256,
} from "./weights_identity.ts";
