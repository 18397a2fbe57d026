/**
 * zod, the schema library behind the config (`src/config/schema.ts`).
 *
 * @module
 */

export { z } from "npm:zod@4.6.7";
