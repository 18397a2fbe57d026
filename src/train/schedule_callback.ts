/**
 * The fit callback that drives an optimizer's learning rate (and momentum)
 * from a schedule (`lr_schedule.ts`), step by step.
 *
 * @module
 */

import type * as tf from "../deps/tf.ts";
import type { FitCallbacks } from "./fit.ts";
import type { LrSchedule } from "./lr_schedule.ts";
import { setLearningRate, setMomentum } from "./optimizer_rate.ts";

/**
 * A {@link FitCallbacks} for one stage that sets `optimizer`'s rate (and
 * momentum, where it has one) to `schedule`'s value of step 0 at once and of
 * the next step after every batch, counting the stage's steps from 0.
 */
export function scheduleCallback(
  optimizer: tf.Optimizer,
  schedule: LrSchedule,
): FitCallbacks {
  let step = 0;
  const apply = () => {
    setLearningRate(optimizer, schedule.lrAt(step));
    const m = schedule.momentumAt(step);
    if (m !== null) setMomentum(optimizer, m);
  };
  apply();
  return {
    onBatchEnd() {
      step++;
      apply();
    },
  };
}
