/**
 * A dataset on which the LR finder's loss diverges: the fixture dataset
 * with every training cat also filed under dogs.
 *
 * @module
 */

import { join } from "node:path";
import { getFixtures, listDir } from "./data.ts";

/**
 * Writes the fixture dataset to `<dir>/contradictory/` with every training
 * cat also under dogs (as `dup-<name>`), and returns that folder. On those
 * images no head is right for both labels (the loss has a floor above 0),
 * so large steps overshoot and the loss diverges, as on real data; on the
 * clean fixture the training images are separable in the 1280 pooled
 * features, and the loss only falls, to 0, up to lr 10.
 */
export async function contradictoryDataset(dir: string): Promise<string> {
  const { datasetDir } = await getFixtures();
  const root = join(dir, "contradictory");
  const classes = ["cats", "dogs", "horses"];
  for (const split of ["train", "validation"]) {
    for (const cls of classes) {
      await Deno.mkdir(join(root, split, cls), { recursive: true });
    }
    for (const cls of classes) {
      const from = join(datasetDir, split, cls);
      for (const name of await listDir(from)) {
        await Deno.copyFile(join(from, name), join(root, split, cls, name));
        if (split === "train" && cls === "cats") {
          await Deno.copyFile(
            join(from, name),
            join(root, split, "dogs", `dup-${name}`),
          );
        }
      }
    }
  }
  return root;
}

/** Sweep settings under which the loss on {@link contradictoryDataset} diverges. */
export const DIVERGING_SWEEP = { numIt: 300, endLr: 1e3 } as const;
