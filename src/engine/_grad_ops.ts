/**
 * Reverse-mode differentiation over ONNX nodes: a tape that records forward
 * ONNX nodes with their static shapes, and a table of gradient rules, one
 * per ONNX op type. `backward` walks the tape in reverse and emits the
 * gradient nodes, summing the contributions of tensors read more than once.
 *
 * Adding an op: one entry in {@link GRAD_RULES} that, given the forward
 * node, its input and output shapes and the output's gradient, emits nodes
 * through the tape and returns one gradient name (or null) per input. The
 * rules follow TF.js' gradients (e.g. ReLU6's mask is `0 < x ≤ 6`, Relu's
 * `x > 0`), so that the parity tests against `tf.grads` hold.
 *
 * Batch dimensions are symbolic (`null`); every other dimension is static.
 *
 * @module
 */

import type { AttrValue, Initializer, OnnxNode } from "./_onnx_proto.ts";

/** A static shape with a symbolic batch (`null`). */
export type Shape = (number | null)[];

/** One recorded forward node. */
interface TapeEntry {
  node: OnnxNode;
  inputShapes: Shape[];
  outputShape: Shape;
}

/** Records forward nodes and emits gradient nodes. */
export class Tape {
  /** Every node, forward then backward, in execution order. */
  readonly nodes: OnnxNode[] = [];
  /** Constants. */
  readonly initializers: Initializer[] = [];
  /** Static shape of every tensor. */
  readonly shapes = new Map<string, Shape>();
  #entries: TapeEntry[] = [];
  #count = 0;
  #consts = new Map<string, string>();
  #noGrad = new Set<string>();

  /** Declares a graph input (or any externally provided tensor). */
  input(name: string, shape: Shape): string {
    this.shapes.set(name, shape);
    return name;
  }

  /**
   * Declares a graph input that no gradient is wanted for (labels, sample
   * weights, dropout masks): rules skip emitting its gradient.
   */
  dataInput(name: string, shape: Shape): string {
    return this.stopGradient(this.input(name, shape));
  }

  /** Marks `name` as one whose gradient is never wanted; returns it. */
  stopGradient(name: string): string {
    this.#noGrad.add(name);
    return name;
  }

  /** Whether the gradient of `name` is never wanted ({@link stopGradient}). */
  noGrad(name: string): boolean {
    return this.#noGrad.has(name);
  }

  /** A fresh tensor name. */
  fresh(hint: string): string {
    return `${hint}:${this.#count++}`;
  }

  /** A float constant (deduplicated by value and shape). */
  constFloat(values: number[], dims: number[] = []): string {
    const key = `f[${dims}]${values}`;
    const have = this.#consts.get(key);
    if (have != null) return have;
    const name = `const:${this.#consts.size}`;
    this.initializers.push({
      name,
      dims,
      type: "float",
      data: new Float32Array(values),
    });
    this.shapes.set(name, dims);
    this.#consts.set(key, name);
    return name;
  }

  /** An int64 constant (shapes, axes). */
  constInt(values: number[]): string {
    const key = `i${values}`;
    const have = this.#consts.get(key);
    if (have != null) return have;
    const name = `const:${this.#consts.size}`;
    this.initializers.push({
      name,
      dims: [values.length],
      type: "int64",
      data: values,
    });
    this.shapes.set(name, [values.length]);
    this.#consts.set(key, name);
    return name;
  }

  /** Values of an int64 constant made by {@link constInt}. */
  intValues(name: string): number[] {
    const t = this.initializers.find((i) => i.name === name);
    if (t == null || t.type !== "int64") {
      throw new Error(`internal: "${name}" is not an int64 constant`);
    }
    return t.data as number[];
  }

  /** Emits a node without recording it for differentiation. */
  emit(
    op: string,
    inputs: string[],
    shape: Shape,
    attrs?: Record<string, AttrValue>,
  ): string {
    const out = this.fresh(op);
    this.nodes.push({ op, name: out, inputs, outputs: [out], attrs });
    this.shapes.set(out, shape);
    return out;
  }

  /** Emits a differentiable forward node (its op must have a rule). */
  op(
    op: string,
    inputs: string[],
    shape: Shape,
    attrs?: Record<string, AttrValue>,
  ): string {
    if (!(op in GRAD_RULES)) {
      throw new Error(`no gradient rule for ONNX op "${op}"`);
    }
    const out = this.emit(op, inputs, shape, attrs);
    const node = this.nodes[this.nodes.length - 1];
    this.#entries.push({
      node,
      inputShapes: inputs.map((i) => this.shape(i)),
      outputShape: shape,
    });
    return out;
  }

  /** Shape of a known tensor. */
  shape(name: string): Shape {
    const s = this.shapes.get(name);
    if (s == null) throw new Error(`internal: no shape for "${name}"`);
    return s;
  }

  /**
   * Emits the gradient of `loss` (a scalar) with respect to each of `wrt`;
   * returns their gradient tensor names (a zero tensor for one that `loss`
   * does not depend on).
   */
  backward(loss: string, wrt: string[]): string[] {
    const grads = new Map<string, string>();
    grads.set(loss, this.constFloat([1]));
    const accumulate = (name: string, g: string) => {
      const have = grads.get(name);
      grads.set(
        name,
        have == null ? g : this.emit("Add", [have, g], this.shape(name)),
      );
    };
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const e = this.#entries[i];
      const dy = grads.get(e.node.outputs[0]);
      if (dy == null) continue;
      const rule = GRAD_RULES[e.node.op];
      const dxs = rule(this, e.node, e.inputShapes, e.outputShape, dy);
      dxs.forEach((g, k) => {
        if (g != null) accumulate(e.node.inputs[k], g);
      });
    }
    return wrt.map((w) => {
      const g = grads.get(w);
      if (g != null) return g;
      const s = this.shape(w);
      if (s.some((d) => d == null)) {
        throw new Error(`internal: zero gradient of batched "${w}"`);
      }
      return this.emit(
        "ConstantOfShape",
        [this.constInt(s as number[])],
        s,
        {},
      );
    });
  }
}

/** A gradient rule: one gradient name (or null) per input of `node`. */
export type GradRule = (
  tape: Tape,
  node: OnnxNode,
  inputShapes: Shape[],
  outputShape: Shape,
  dy: string,
) => (string | null)[];

/**
 * Sums `g` (of shape `from`) down to `to` under NumPy broadcasting: the
 * leading axes that `to` lacks and the axes where `to` has 1.
 */
function unbroadcast(tape: Tape, g: string, from: Shape, to: Shape): string {
  if (from.length === to.length && from.every((d, i) => d === to[i])) return g;
  const lead = from.length - to.length;
  const axes: number[] = [];
  for (let i = 0; i < from.length; i++) {
    if (i < lead || (to[i - lead] === 1 && from[i] !== 1)) axes.push(i);
  }
  if (axes.length === 0) return g;
  if (lead === 0) {
    // Same rank: sum over the size-1 axes keeping them (works with a
    // symbolic batch, e.g. an SE gate [n, C, 1, 1]).
    return tape.emit("ReduceSum", [g, tape.constInt(axes)], to, {
      keepdims: 1,
    });
  }
  const summed = tape.emit(
    "ReduceSum",
    [g, tape.constInt(axes)],
    from.filter((_, i) => !axes.includes(i)),
    { keepdims: 0 },
  );
  if (to.some((d) => d == null)) return summed;
  return tape.emit("Reshape", [summed, tape.constInt(to as number[])], to);
}

/**
 * `dy` where `mask` (a boolean tensor) holds, else 0: one `Where` (a Cast of
 * the mask and a Mul took 1.5× its time in ONNX Runtime).
 */
function masked(tape: Tape, dy: string, mask: string, shape: Shape): string {
  return tape.emit("Where", [mask, dy, tape.constFloat([0])], shape);
}

/** The gradient rules, by ONNX op type. */
export const GRAD_RULES: Record<string, GradRule> = {
  Add(tape, _node, [a, b], y, dy) {
    return [unbroadcast(tape, dy, y, a), unbroadcast(tape, dy, y, b)];
  },
  Sub(tape, _node, [a, b], y, dy) {
    const neg = tape.emit("Neg", [dy], y);
    return [unbroadcast(tape, dy, y, a), unbroadcast(tape, neg, y, b)];
  },
  Mul(tape, node, [a, b], y, dy) {
    const [x0, x1] = node.inputs;
    const grad = (other: string, self: string, shape: Shape) =>
      tape.noGrad(self)
        ? null
        : unbroadcast(tape, tape.emit("Mul", [dy, other], y), y, shape);
    return [grad(x1, x0, a), grad(x0, x1, b)];
  },
  MatMul(tape, node, [a, b], _y, dy) {
    // 2-D only: dA = dY·Bᵀ, dB = Aᵀ·dY.
    if (a.length !== 2 || b.length !== 2) {
      throw new Error(`internal: MatMul gradient needs 2-D operands`);
    }
    const [x0, x1] = node.inputs;
    const bt = tape.emit("Transpose", [x1], [b[1], b[0]], { perm: [1, 0] });
    const at = tape.emit("Transpose", [x0], [a[1], a[0]], { perm: [1, 0] });
    return [
      tape.emit("MatMul", [dy, bt], a),
      tape.emit("MatMul", [at, dy], b),
    ];
  },
  Relu(tape, node, [x], _y, dy) {
    const pos = tape.emit("Greater", [node.inputs[0], tape.constFloat([0])], x);
    return [masked(tape, dy, pos, x)];
  },
  Clip(tape, node, [x], _y, dy) {
    // TF.js' ReLU6 gradient: lo < x ≤ hi.
    const [xi, lo, hi] = node.inputs;
    const above = tape.emit("Greater", [xi, lo], x);
    const below = tape.emit("LessOrEqual", [xi, hi], x);
    const inside = tape.emit("And", [above, below], x);
    return [masked(tape, dy, inside, x), null, null];
  },
  Sigmoid(tape, node, [x], _y, dy) {
    const y = node.outputs[0];
    const one = tape.constFloat([1]);
    const oneMinus = tape.emit("Sub", [one, y], x);
    const d = tape.emit("Mul", [y, oneMinus], x);
    return [tape.emit("Mul", [dy, d], x)];
  },
  Neg(tape, _node, [x], _y, dy) {
    return [tape.emit("Neg", [dy], x)];
  },
  HardSigmoid(tape, node, [x], _y, dy) {
    // y = clip(αx + β, 0, 1): dx = α·dy where 0 < αx + β < 1.
    const alpha = (node.attrs?.alpha as { float: number } | undefined)?.float ??
      0.2;
    const beta = (node.attrs?.beta as { float: number } | undefined)?.float ??
      0.5;
    const lin = tape.emit("Add", [
      tape.emit("Mul", [node.inputs[0], tape.constFloat([alpha])], x),
      tape.constFloat([beta]),
    ], x);
    const inside = tape.emit("And", [
      tape.emit("Greater", [lin, tape.constFloat([0])], x),
      tape.emit("Less", [lin, tape.constFloat([1])], x),
    ], x);
    const g = tape.emit("Mul", [dy, tape.constFloat([alpha])], x);
    return [masked(tape, g, inside, x)];
  },
  HardSwish(tape, node, [x], _y, dy) {
    // y = x·clip(x/6 + 1/2, 0, 1): dy/dx = 0 below −3, 1 above 3, (2x + 3)/6
    // between, as TF's x·relu6(x + 3)/6 (Keras' hard_silu).
    const xi = node.inputs[0];
    const mid = tape.emit("Add", [
      tape.emit("Mul", [xi, tape.constFloat([1 / 3])], x),
      tape.constFloat([0.5]),
    ], x);
    const above = tape.emit(
      "Cast",
      [
        tape.emit("Greater", [xi, tape.constFloat([3])], x),
      ],
      x,
      { to: 1 },
    );
    const inside = tape.emit(
      "Cast",
      [
        tape.emit("And", [
          tape.emit("Greater", [xi, tape.constFloat([-3])], x),
          tape.emit("LessOrEqual", [xi, tape.constFloat([3])], x),
        ], x),
      ],
      x,
      { to: 1 },
    );
    const d = tape.emit("Add", [tape.emit("Mul", [mid, inside], x), above], x);
    return [tape.emit("Mul", [dy, d], x)];
  },
  Softplus(tape, node, [x], _y, dy) {
    const s = tape.emit("Sigmoid", [node.inputs[0]], x);
    return [tape.emit("Mul", [dy, s], x)];
  },
  LogSoftmax(tape, node, [x], _y, dy) {
    // dx = dy - softmax(x) · Σ dy over the last axis.
    const axis = x.length - 1;
    const p = tape.emit("Exp", [node.outputs[0]], x);
    const kept = x.map((d, i) => (i === axis ? 1 : d));
    const sum = tape.emit("ReduceSum", [dy, tape.constInt([axis])], kept, {
      keepdims: 1,
    });
    const ps = tape.emit("Mul", [p, sum], x);
    return [tape.emit("Sub", [dy, ps], x)];
  },
  Transpose(tape, node, [x], _y, dy) {
    const perm = node.attrs?.perm as number[];
    const inv = perm.map((_, i) => perm.indexOf(i));
    return [tape.emit("Transpose", [dy], x, { perm: inv })];
  },
  Reshape(tape, node, [x], _y, dy) {
    const shape = tape.emit("Shape", [node.inputs[0]], [x.length]);
    return [tape.emit("Reshape", [dy, shape], x), null];
  },
  Pad(tape, node, [x], _y, dy) {
    // Constant zero padding of the spatial axes of NCHW: slice it back out.
    const pads = tape.intValues(node.inputs[1]);
    const [, , h, w] = x as number[];
    const [t, l] = [pads[2], pads[3]];
    return [
      tape.emit("Slice", [
        dy,
        tape.constInt([t, l]),
        tape.constInt([t + h, l + w]),
        tape.constInt([2, 3]),
      ], x),
      null,
    ];
  },
  Conv(tape, node, shapes, y, dy) {
    return convGrads(tape, node, shapes, y, dy);
  },
  ReduceMean(tape, node, [x], _y, dy) {
    const axes = tape.intValues(node.inputs[1]);
    const dx = reduceGrad(tape, node, x, dy);
    let count: string;
    if (axes.every((a) => x[a] != null)) {
      count = tape.constFloat([
        axes.reduce((n, a) => n * (x[a] as number), 1),
      ]);
    } else {
      const shape = tape.emit("Shape", [node.inputs[0]], [x.length]);
      const dims = tape.emit("Gather", [shape, tape.constInt(axes)], [
        axes.length,
      ]);
      const prod = tape.emit("ReduceProd", [dims], [], { keepdims: 0 });
      count = tape.emit("Cast", [prod], [], { to: 1 });
    }
    return [tape.emit("Div", [dx, count], x), null];
  },
  ReduceSum(tape, node, [x], _y, dy) {
    return [reduceGrad(tape, node, x, dy), null];
  },
};

/** Broadcasts a reduction's output gradient back to its input's shape. */
function reduceGrad(tape: Tape, node: OnnxNode, x: Shape, dy: string): string {
  const axes = tape.intValues(node.inputs[1]).map((a) =>
    a < 0 ? a + x.length : a
  );
  const kept = x.map((d, i) => (axes.includes(i) ? 1 : d));
  const g = node.attrs?.keepdims === 0
    ? tape.emit("Unsqueeze", [dy, tape.constInt(axes)], kept)
    : dy;
  const shape = tape.emit("Shape", [node.inputs[0]], [x.length]);
  return tape.emit("Expand", [g, shape], x);
}

/**
 * Emits a differentiable ReduceMean / ReduceSum over static `axes` (opset
 * 18: the axes are an int64 input).
 */
export function reduce(
  tape: Tape,
  op: "ReduceMean" | "ReduceSum",
  x: string,
  axes: number[],
  keepdims: boolean,
): string {
  const s = tape.shape(x);
  const shape = keepdims
    ? s.map((d, i) => (axes.includes(i) ? 1 : d))
    : s.filter((_, i) => !axes.includes(i));
  return tape.op(op, [x, tape.constInt(axes)], shape, {
    keepdims: keepdims ? 1 : 0,
  });
}

/**
 * Gradients of an NCHW `Conv` (inputs X, W[, B]; attrs group, strides,
 * dilations, pads `[t, l, b, r]`): dX as `ConvTranspose` of dY with W; dW as
 * a convolution of X by dY with batch and channels swapped (stride and
 * dilation exchanged), for group 1 and depthwise (one input channel per
 * group); dB as Σ dY over batch and space.
 */
function convGrads(
  tape: Tape,
  node: OnnxNode,
  [xs, ws, bs]: Shape[],
  ys: Shape,
  dy: string,
): (string | null)[] {
  const [x, w] = node.inputs;
  const group = (node.attrs?.group as number | undefined) ?? 1;
  const [sh, sw] = node.attrs?.strides as number[];
  const [dh, dw] = node.attrs?.dilations as number[];
  const [pt, pl, pb, pr] = node.attrs?.pads as number[];
  const [co, cig, kh, kw] = ws as number[];
  const [, ci, h, wd] = xs as number[];
  const [, , oh, ow] = ys as number[];
  // ConvTranspose's size is s·(o−1) + extra + (k−1)·d + 1 − pads.
  const extraH = h - (sh * (oh - 1) + (kh - 1) * dh + 1 - pt - pb);
  const extraW = wd - (sw * (ow - 1) + (kw - 1) * dw + 1 - pl - pr);
  const reachH = (kh - 1) * dh, reachW = (kw - 1) * dw;
  let dx: string;
  if (
    sh === 1 && sw === 1 &&
    (group === 1 || (cig === 1 && group === ci)) &&
    Math.max(pt, pb) <= reachH && Math.max(pl, pr) <= reachW
  ) {
    // Stride 1: dX is the convolution of dY by the spatially flipped kernel
    // with the complementary pads (1×1: the transposed kernel), which ONNX
    // Runtime's CPU Conv runs 1.4–2.6× faster than ConvTranspose for
    // depthwise kernels (bench/ort_train_step.ts --profile).
    const flipped = kh === 1 && kw === 1 ? w : tape.emit(
      "Slice",
      [
        w,
        tape.constInt([-1, -1]),
        tape.constInt([-(2 ** 53), -(2 ** 53)]),
        tape.constInt([2, 3]),
        tape.constInt([-1, -1]),
      ],
      ws,
    );
    // Group 1: [co, ci, kh, kw] → [ci, co, kh, kw]. Depthwise (multiplier
    // m = co / ci, output channel c·m + j reads input c): [ci, m, kh, kw].
    const wT = group === 1
      ? tape.emit("Transpose", [flipped], [ci, co, kh, kw], {
        perm: [1, 0, 2, 3],
      })
      : tape.emit("Reshape", [flipped, tape.constInt([ci, co / ci, kh, kw])], [
        ci,
        co / ci,
        kh,
        kw,
      ]);
    dx = tape.emit("Conv", [dy, wT], xs, {
      group,
      strides: [1, 1],
      dilations: [dh, dw],
      pads: [reachH - pt, reachW - pl, reachH - pb, reachW - pr],
      kernel_shape: [kh, kw],
    });
  } else {
    dx = tape.emit("ConvTranspose", [dy, w], xs, {
      group,
      strides: [sh, sw],
      dilations: [dh, dw],
      pads: [pt, pl, pb, pr],
      output_padding: [extraH, extraW],
      kernel_shape: [kh, kw],
    });
  }
  // Rows and columns the weight-gradient convolution produces before slicing.
  const fullH = Math.floor((h + pt + pb - (oh - 1) * sh - 1) / dh) + 1;
  const fullW = Math.floor((wd + pl + pr - (ow - 1) * sw - 1) / dw) + 1;
  const attrs = {
    strides: [dh, dw],
    dilations: [sh, sw],
    pads: [pt, pl, pb, pr],
    kernel_shape: [oh, ow],
  };
  const dyT = tape.emit("Transpose", [dy], [co, null, oh, ow], {
    perm: [1, 0, 2, 3],
  });
  // Every filter gradient below reads X with batch and channels swapped.
  const xT = tape.emit("Transpose", [x], [ci, null, h, wd], {
    perm: [1, 0, 2, 3],
  });
  let full: string;
  if (
    group === 1 && kh === 1 && kw === 1 && sh === 1 && sw === 1 &&
    pt + pl + pb + pr === 0
  ) {
    // Pointwise: dW[co, ci] = Σ_{n,p} dY[n, co, p] · X[n, ci, p], one GEMM of
    // [co, n·hw] by [ci, n·hw]ᵀ (a batched MatMul + ReduceSum over n was
    // 1–4× slower and held an [n, co, ci] intermediate).
    const dy2 = tape.emit("Reshape", [dyT, tape.constInt([co, -1])], [
      co,
      null,
    ]);
    const x2 = tape.emit("Reshape", [xT, tape.constInt([ci, -1])], [ci, null]);
    const sum = tape.emit("Gemm", [dy2, x2], [co, ci], { transB: 1 });
    full = tape.emit("Reshape", [sum, tape.constInt([co, ci, 1, 1])], ws);
  } else if (group === 1) {
    // [ci, n, h, w] ⊛ [co, n, oh, ow] → [ci, co, fullH, fullW].
    const c = tape.emit("Conv", [xT, dyT], [ci, co, fullH, fullW], attrs);
    full = tape.emit("Transpose", [c], [co, ci, fullH, fullW], {
      perm: [1, 0, 2, 3],
    });
  } else if (cig === 1 && group === ci) {
    // [1, ci·n, h, w] ⊛ [co, n, oh, ow] in ci groups → [1, co, fullH, fullW].
    const x1 = tape.emit("Reshape", [xT, tape.constInt([1, -1, h, wd])], [
      1,
      null,
      h,
      wd,
    ]);
    const c = tape.emit("Conv", [x1, dyT], [1, co, fullH, fullW], {
      ...attrs,
      group,
    });
    full = tape.emit("Reshape", [c, tape.constInt([co, 1, fullH, fullW])], [
      co,
      1,
      fullH,
      fullW,
    ]);
  } else {
    throw new Error(
      `internal: Conv weight gradient for group ${group} with ${cig} channels per group`,
    );
  }
  const dW = fullH === kh && fullW === kw ? full : tape.emit(
    "Slice",
    [
      full,
      tape.constInt([0, 0]),
      tape.constInt([kh, kw]),
      tape.constInt([2, 3]),
    ],
    ws,
  );
  const grads: (string | null)[] = [dx, dW];
  if (bs != null) {
    grads.push(tape.emit("ReduceSum", [dy, tape.constInt([0, 2, 3])], [co], {
      keepdims: 0,
    }));
  }
  return grads;
}
