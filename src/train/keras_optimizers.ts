/**
 * Keras 3's Adam and RMSprop update rules as TF.js optimizers, for training
 * that follows Keras step for step. Use them wherever a `tf.Optimizer` goes
 * (`model.compile({ optimizer: new KerasAdam(1e-4), … })`).
 *
 * How TF.js 4.22's own optimizers differ from Keras 3.15's:
 *
 * - **Adam.** TF.js adds epsilon to the bias-corrected root,
 *   `w -= lr · m̂ / (√v̂ + ε)`; Keras folds the bias correction into the step
 *   and adds epsilon to the raw root ("epsilon hat"),
 *   `w -= lr · √(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε)`, i.e. TF.js' rule with
 *   ε/√(1−β₂ᵗ) in place of ε (3.2e-6 instead of 1e-7 at step 1). The two
 *   differ only where |gradient| is near that size; `tf.train.adam`'s epsilon
 *   is also the backend's (1e-7 on cpu/wasm/webgpu, 1e-4 on WebGL float16),
 *   Keras' is 1e-7.
 * - **RMSprop.** `tf.train.rmsprop(lr)` (decay 0.9, momentum 0, epsilon the
 *   backend's) is Keras' rule (rho 0.9, momentum 0, epsilon 1e-7) on
 *   cpu/wasm/webgpu; the defaults match. The centered variant differs: TF.js
 *   takes √(ms − mg² − ε), Keras √(ms − mg² + ε).
 *
 * The slots are keyed by variable name, so a variable joining or leaving the
 * trained set (fine-tuning) keeps or gets its own moments.
 *
 * @module
 */

import * as tf from "../deps/tf.ts";

/** A named tensor, as `tf.Optimizer`'s weights are listed. */
/** A named variable value, as TF.js optimizers get and set their weights. */
export type NamedTensor = Parameters<tf.Optimizer["setWeights"]>[0][number];
/** Gradients by variable name, as `Optimizer.applyGradients` takes them. */
export type Grads = tf.NamedTensorMap | NamedTensor[];

function gradientList(grads: Grads): [string, tf.Tensor | null][] {
  return Array.isArray(grads)
    ? grads.map((g) => [g.name, g.tensor])
    : Object.entries(grads);
}

/** The trained variable registered under `name`. */
function variableNamed(name: string): tf.Variable {
  const v = tf.engine().registeredVariables[name];
  if (v == null) {
    throw new Error(`optimizer: no variable named "${name}" is registered`);
  }
  return v;
}

/** Per-variable slot variables, created as zeros on first use. */
class Slots {
  readonly byName = new Map<string, tf.Variable>();
  constructor(readonly suffix: string) {}
  get(name: string, like: tf.Tensor): tf.Variable {
    let slot = this.byName.get(name);
    if (slot == null) {
      slot = tf.tidy(() => tf.zerosLike(like).variable(false));
      this.byName.set(name, slot);
    }
    return slot;
  }
  named(): NamedTensor[] {
    return [...this.byName].map(([name, tensor]) => ({
      name: `${name}/${this.suffix}`,
      tensor,
    }));
  }
  set(values: NamedTensor[]): void {
    for (const { name, tensor } of values) {
      if (!name.endsWith(`/${this.suffix}`)) continue;
      const key = name.slice(0, -this.suffix.length - 1);
      this.byName.get(key)?.dispose();
      this.byName.set(key, tensor.variable(false));
    }
  }
  dispose(): void {
    for (const v of this.byName.values()) v.dispose();
    this.byName.clear();
  }
}

/**
 * Keras 3's Adam (`keras.optimizers.Adam`, amsgrad off): with t the step
 * (1-based), `m += (g − m)(1 − β₁)`, `v += (g² − v)(1 − β₂)`,
 * `w −= m · lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ) / (√v + ε)`.
 */
export class KerasAdam extends tf.Optimizer {
  /** Serialized class name. */
  static get className(): string {
    return "KerasAdam";
  }
  private readonly m = new Slots("m");
  private readonly v = new Slots("v");

  /** Keras' defaults: learning rate 0.001, β₁ 0.9, β₂ 0.999, ε 1e-7. */
  constructor(
    public learningRate = 0.001,
    public beta1 = 0.9,
    readonly beta2 = 0.999,
    readonly epsilon = 1e-7,
  ) {
    super();
  }

  /** One Adam step for every variable with a gradient. */
  override applyGradients(variableGradients: Grads): void {
    const t = this.iterations + 1;
    const pow = (b: number) => Math.fround(Math.pow(Math.fround(b), t));
    const alpha = this.learningRate * Math.sqrt(1 - pow(this.beta2)) /
      (1 - pow(this.beta1));
    tf.tidy(() => {
      for (const [name, g] of gradientList(variableGradients)) {
        if (g == null) continue;
        const w = variableNamed(name);
        const m = this.m.get(name, w);
        const v = this.v.get(name, w);
        m.assign(tf.add(m, tf.mul(tf.sub(g, m), 1 - this.beta1)));
        v.assign(tf.add(v, tf.mul(tf.sub(tf.square(g), v), 1 - this.beta2)));
        w.assign(
          tf.sub(w, tf.div(tf.mul(m, alpha), tf.add(tf.sqrt(v), this.epsilon))),
        );
      }
    });
    this.incrementIterations();
  }

  /** Frees the moments. */
  override dispose(): void {
    super.dispose();
    this.m.dispose();
    this.v.dispose();
  }

  /** `[iterations, …first moments, …second moments]`, named `<variable>/m|v`. */
  override async getWeights(): Promise<NamedTensor[]> {
    return [await this.saveIterations(), ...this.m.named(), ...this.v.named()];
  }

  /** Restores what {@link getWeights} returned. */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    this.m.set(rest);
    this.v.set(rest);
  }

  /** Hyperparameters. */
  getConfig(): tf.serialization.ConfigDict {
    return {
      learningRate: this.learningRate,
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
    };
  }

  /** Builds one from {@link getConfig}'s output. */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(
      config.learningRate,
      config.beta1,
      config.beta2,
      config.epsilon,
    );
  }
}

/** Options of {@link KerasRMSprop}, named as Keras' arguments. */
export interface KerasRMSpropOptions {
  /** Discount of the squared-gradient average. Default 0.9. */
  rho?: number;
  /** Momentum. Default 0. */
  momentum?: number;
  /** Added under the root. Default 1e-7. */
  epsilon?: number;
  /** Divide by the gradient's estimated variance instead of its second moment. Default false. */
  centered?: boolean;
}

/**
 * Keras 3's RMSprop: `s = ρ s + (1 − ρ) g²` (centered: also
 * `a = ρ a + (1 − ρ) g`, and `s − a²` below), `Δ = lr · g / √(s + ε)`, then
 * `w −= Δ`, or with momentum `μ = momentum · μ + Δ; w −= μ`.
 */
export class KerasRMSprop extends tf.Optimizer {
  /** Serialized class name. */
  static get className(): string {
    return "KerasRMSprop";
  }
  private readonly s = new Slots("rms");
  private readonly a = new Slots("mg");
  private readonly mu = new Slots("momentum");
  /** Discount of the squared-gradient average. */
  readonly rho: number;
  /** Momentum. */
  readonly momentum: number;
  /** Added under the root. */
  readonly epsilon: number;
  /** Centered variant. */
  readonly centered: boolean;

  /** Keras' defaults: learning rate 0.001, rho 0.9, momentum 0, epsilon 1e-7, not centered. */
  constructor(
    public learningRate = 0.001,
    options: KerasRMSpropOptions = {},
  ) {
    super();
    this.rho = options.rho ?? 0.9;
    this.momentum = options.momentum ?? 0;
    this.epsilon = options.epsilon ?? 1e-7;
    this.centered = options.centered ?? false;
  }

  /** One RMSprop step for every variable with a gradient. */
  override applyGradients(variableGradients: Grads): void {
    const { rho, epsilon } = this;
    tf.tidy(() => {
      for (const [name, g] of gradientList(variableGradients)) {
        if (g == null) continue;
        const w = variableNamed(name);
        const s = this.s.get(name, w);
        s.assign(tf.add(tf.mul(rho, s), tf.mul(1 - rho, tf.square(g))));
        let denominator: tf.Tensor;
        if (this.centered) {
          const a = this.a.get(name, w);
          a.assign(tf.add(tf.mul(rho, a), tf.mul(1 - rho, g)));
          denominator = tf.add(tf.sub(s, tf.square(a)), epsilon);
        } else denominator = tf.add(s, epsilon);
        const increment = tf.div(
          tf.mul(this.learningRate, g),
          tf.sqrt(denominator),
        );
        if (this.momentum > 0) {
          const mu = this.mu.get(name, w);
          mu.assign(tf.add(tf.mul(this.momentum, mu), increment));
          w.assign(tf.sub(w, mu));
        } else w.assign(tf.sub(w, increment));
      }
    });
    this.incrementIterations();
  }

  /** Frees the slots. */
  override dispose(): void {
    super.dispose();
    this.s.dispose();
    this.a.dispose();
    this.mu.dispose();
  }

  /** `[iterations, …rms, …mg, …momentum]`, named `<variable>/<slot>`. */
  override async getWeights(): Promise<NamedTensor[]> {
    return [
      await this.saveIterations(),
      ...this.s.named(),
      ...this.a.named(),
      ...this.mu.named(),
    ];
  }

  /** Restores what {@link getWeights} returned. */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    this.s.set(rest);
    this.a.set(rest);
    this.mu.set(rest);
  }

  /** Hyperparameters. */
  getConfig(): tf.serialization.ConfigDict {
    return {
      learningRate: this.learningRate,
      rho: this.rho,
      momentum: this.momentum,
      epsilon: this.epsilon,
      centered: this.centered,
    };
  }

  /** Builds one from {@link getConfig}'s output. */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(config.learningRate, {
      rho: config.rho,
      momentum: config.momentum,
      epsilon: config.epsilon,
      centered: config.centered,
    });
  }
}

tf.serialization.registerClass(KerasAdam);
tf.serialization.registerClass(KerasRMSprop);

/** Optimizer names of the config (`train.optimizer`, `fineTune.optimizer`). */
export type OptimizerName = "adam" | "sgd" | "rmsprop";

/**
 * The optimizer `name` with Keras' update rule and defaults: {@link KerasAdam},
 * {@link KerasRMSprop}, or `tf.train.sgd` (plain SGD is the same rule in both).
 */
export function kerasOptimizer(
  name: OptimizerName,
  learningRate: number,
): tf.Optimizer {
  switch (name) {
    case "adam":
      return new KerasAdam(learningRate);
    case "rmsprop":
      return new KerasRMSprop(learningRate);
    case "sgd":
      return tf.train.sgd(learningRate);
    default:
      throw new RangeError(
        `unknown optimizer "${name as string}" (expected adam, sgd or rmsprop)`,
      );
  }
}
