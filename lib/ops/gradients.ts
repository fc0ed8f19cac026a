// Each recorded op's gradient (lib/ops/tape.ts's GRADIENTS), written with the recorded ops themselves so that a
// gradient is differentiable again (tf.grad of tf.grad), and the backward walk over a tape. The formulas are
// tfjs-core's (src/gradients/*_grad.ts) where tfjs has the op's gradient, so that kernelnet and tfjs agree also
// where a derivative is a convention (abs at 0, relu at 0, max's ties); test/tfjs-grads-ops.test.ts checks each one
// against tfjs's tf.grads and against finite differences.
import { ValidationError } from '../core/errors.js';
import type { NativeTensor } from '../core/native.js';
import { Tensor, handleKey } from '../core/tensor.js';
import * as d from './differentiable.js';
import { stridedAxes, type TensorInput } from './ops.js';
import { GRADIENTS, isConnected, noGradient, type GradientFn, type Tape } from './tape.js';

const T = (v: unknown): Tensor => v as Tensor;
const f32 = (t: Tensor): Tensor => (t.dtype === 'float32' ? t : d.cast(t, 'float32'));
const rankOf = (v: unknown): number => (v instanceof Tensor ? v.shape.length : 0);
const shapeOf = (v: unknown): number[] => (v instanceof Tensor ? v.shape : []);

/** g summed over the axes it was broadcast along, to `shape` (the gradient of an operand numpy broadcasting stretched). */
export function unbroadcast(g: Tensor, shape: number[]): Tensor {
  if (g.shape.join() === shape.join()) return g;
  const lead = g.shape.length - shape.length;
  const axes: number[] = [];
  g.shape.forEach((n, i) => {
    if (i < lead || (shape[i - lead] === 1 && n !== 1)) axes.push(i);
  });
  return d.reshape(axes.length ? d.sum(g, axes) : g, shape);
}

/** The axes a reduction took (as axesArg reads them). */
function axesOf(axis: unknown, rank: number): number[] {
  if (axis === undefined || axis === null) return Array.from({ length: rank }, (_, i) => i);
  const list = (Array.isArray(axis) ? axis : [axis]) as number[];
  return [...new Set(list.map(a => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
}
/** A reduction's result (or its gradient) with the reduced axes back as size 1, broadcast to the input's shape. */
function expand(y: Tensor, xShape: number[], axes: number[]): Tensor {
  const kept = xShape.map((n, i) => (axes.includes(i) ? 1 : n));
  return d.broadcastToOp(d.reshape(y, kept), xShape);
}

const unaryGrads: Record<string, (dy: Tensor, x: Tensor, y: Tensor, args: unknown[]) => Tensor> = {
  neg: dy => d.neg(dy),
  abs: (dy, x) => d.mul(dy, d.step(f32(x), -1)),
  sign: dy => d.zerosLike(dy),
  round: dy => d.zerosLike(dy),
  floor: dy => d.zerosLike(dy),
  ceil: dy => d.zerosLike(dy),
  step: dy => d.zerosLike(dy),
  square: (dy, x) => d.mul(dy, d.mul(f32(x), 2)),
  sqrt: (dy, x) => d.div(dy, d.mul(d.sqrt(f32(x)), 2)),
  rsqrt: (dy, x) => d.neg(d.div(dy, d.mul(d.pow(f32(x), 1.5), 2))),
  exp: (dy, _x, y) => d.mul(dy, y),
  expm1: (dy, x) => d.mul(dy, d.exp(f32(x))),
  log: (dy, x) => d.div(dy, f32(x)),
  log1p: (dy, x) => d.div(dy, d.add(f32(x), 1)),
  sin: (dy, x) => d.mul(d.cos(f32(x)), dy),
  cos: (dy, x) => d.mul(d.neg(d.sin(f32(x))), dy),
  tan: (dy, x) => d.div(dy, d.square(d.cos(f32(x)))),
  asin: (dy, x) => d.div(dy, d.sqrt(d.sub(1, d.square(f32(x))))),
  acos: (dy, x) => d.neg(d.div(dy, d.sqrt(d.sub(1, d.square(f32(x)))))),
  atan: (dy, x) => d.div(dy, d.add(d.square(f32(x)), 1)),
  sinh: (dy, x) => d.mul(d.cosh(f32(x)), dy),
  cosh: (dy, x) => d.mul(d.sinh(f32(x)), dy),
  tanh: (dy, _x, y) => d.mul(d.sub(1, d.square(y)), dy),
  asinh: (dy, x) => d.div(dy, d.sqrt(d.add(d.square(f32(x)), 1))),
  acosh: (dy, x) => d.div(dy, d.sqrt(d.sub(d.square(f32(x)), 1))),
  atanh: (dy, x) => d.div(dy, d.sub(1, d.square(f32(x)))),
  sigmoid: (dy, _x, y) => d.mul(dy, d.mul(y, d.sub(1, y))),
  softplus: (dy, x) => d.mul(dy, d.sigmoid(f32(x))),
  logSigmoid: (dy, x) => d.mul(dy, d.sigmoid(d.neg(f32(x)))),
  relu: (dy, x) => d.mul(dy, d.step(f32(x))),
  relu6: (dy, x) => d.mul(dy, d.mul(d.cast(d.lessEqual(x, 6), 'float32'), d.step(f32(x)))),
  elu: (dy, _x, y) => d.where(d.greater(y, 0), dy, d.mul(dy, d.add(y, 1))),
  selu: (dy, x) => d.where(d.greater(x, 0), d.mul(dy, SELU_SCALE), d.mul(d.mul(dy, SELU_SCALE * SELU_ALPHA), d.exp(f32(x)))),
  reciprocal: (dy, x) => d.neg(d.div(dy, d.square(f32(x)))),
  erf: (dy, x) => d.mul(dy, d.mul(d.exp(d.neg(d.square(f32(x)))), 2 / Math.sqrt(Math.PI))),
  leakyRelu: (dy, x, _y, args) => d.mul(dy, d.step(f32(x), (args[1] as number | undefined) ?? 0.2)),
  clipByValue: (dy, x, _y, args) =>
    d.where(d.logicalAnd(d.greaterEqual(x, args[1] as number), d.lessEqual(x, args[2] as number)), dy, d.zerosLike(dy)),
  cast: dy => d.clone(dy),
  clone: dy => d.clone(dy),
};
const SELU_SCALE = 1.0507009873554804934193349852946,
  SELU_ALPHA = 1.6732632423543772848170429916717;
for (const [name, g] of Object.entries(unaryGrads)) GRADIENTS[name] = ([dy], args, [y]) => [g(dy, T(args[0]), y, args)];

/** A binary op's gradient: the two operands' before unbroadcasting. */
function binaryGrad(g: (dy: Tensor, a: Tensor, b: Tensor, y: Tensor) => [() => Tensor, () => Tensor]): GradientFn {
  return ([dy], [a, b], [y], needs) => {
    const at = a instanceof Tensor ? f32(a) : d.tensor(a as TensorInput),
      bt = b instanceof Tensor ? f32(b) : d.tensor(b as TensorInput);
    const [ga, gb] = g(dy, at, bt, y);
    return [needs[0] ? unbroadcast(ga(), shapeOf(a)) : null, needs[1] ? unbroadcast(gb(), shapeOf(b)) : null];
  };
}
GRADIENTS.add = binaryGrad(dy => [() => dy, () => dy]);
GRADIENTS.sub = binaryGrad(dy => [() => dy, () => d.neg(dy)]);
GRADIENTS.mul = binaryGrad((dy, a, b) => [() => d.mul(dy, b), () => d.mul(dy, a)]);
GRADIENTS.div = binaryGrad((dy, a, b) => [() => d.div(dy, b), () => d.neg(d.div(d.mul(dy, a), d.square(b)))]);
GRADIENTS.floorDiv = GRADIENTS.div;
GRADIENTS.divNoNan = binaryGrad((dy, a, b) => [() => d.divNoNan(dy, b), () => d.neg(d.divNoNan(d.mul(dy, a), d.square(b)))]);
GRADIENTS.pow = binaryGrad((dy, a, b, y) => [
  () => d.mul(dy, d.mul(b, d.pow(a, d.sub(b, 1)))),
  () => d.mul(dy, d.mul(y, d.where(d.greater(a, 0), d.log(d.where(d.greater(a, 0), a, d.onesLike(a))), d.zerosLike(a)))),
]);
GRADIENTS.mod = binaryGrad((dy, a, b) => [() => dy, () => d.mul(dy, d.neg(d.floor(d.div(a, b))))]);
GRADIENTS.minimum = binaryGrad((dy, a, b) => [
  () => d.mul(dy, d.cast(d.lessEqual(a, b), 'float32')),
  () => d.mul(dy, d.cast(d.greater(a, b), 'float32')),
]);
GRADIENTS.maximum = binaryGrad((dy, a, b) => [
  () => d.mul(dy, d.cast(d.greaterEqual(a, b), 'float32')),
  () => d.mul(dy, d.cast(d.less(a, b), 'float32')),
]);
GRADIENTS.squaredDifference = binaryGrad((dy, a, b) => [() => d.mul(dy, d.mul(d.sub(a, b), 2)), () => d.mul(dy, d.mul(d.sub(b, a), 2))]);
GRADIENTS.atan2 = binaryGrad((dy, a, b) => {
  const r = () => d.add(d.square(a), d.square(b));
  return [() => d.mul(dy, d.div(b, r())), () => d.mul(dy, d.div(d.neg(a), r()))];
});
GRADIENTS.prelu = binaryGrad((dy, x, alpha) => {
  const pos = () => d.greater(x, 0);
  return [() => d.where(pos(), dy, d.mul(dy, d.broadcastToOp(alpha, dy.shape))), () => d.where(pos(), d.zerosLike(dy), d.mul(dy, x))];
});

GRADIENTS.where = ([dy], [c, a, b], _y, needs) => {
  const cond = d.broadcastToOp(T(c), dy.shape);
  return [
    null,
    needs[1] ? unbroadcast(d.where(cond, dy, d.zerosLike(dy)), shapeOf(a)) : null,
    needs[2] ? unbroadcast(d.where(cond, d.zerosLike(dy), dy), shapeOf(b)) : null,
  ];
};
GRADIENTS.addN = ([dy], [list]) => [(list as unknown[]).map(t => (t instanceof Tensor ? dy : null))];

// --- reductions ------------------------------------------------------------------------------------------------

GRADIENTS.sum = ([dy], [x, axis]) => [expand(dy, shapeOf(x), axesOf(axis, rankOf(x)))];
GRADIENTS.mean = ([dy], [x, axis]) => {
  const axes = axesOf(axis, rankOf(x)),
    n = axes.reduce((p, a) => p * shapeOf(x)[a], 1);
  return [d.div(expand(dy, shapeOf(x), axes), n)];
};
const minMax: GradientFn = ([dy], [x, axis], [y]) => {
  const axes = axesOf(axis, rankOf(x));
  return [d.mul(expand(dy, shapeOf(x), axes), d.cast(d.equal(f32(T(x)), expand(y, shapeOf(x), axes)), 'float32'))];
};
GRADIENTS.min = minMax;
GRADIENTS.max = minMax;
GRADIENTS.prod = ([dy], [x, axis]) => {
  // tfjs's: the product of the others, as an exclusive cumulative product from each side (right where x has zeros)
  const shape = shapeOf(x),
    axes = axesOf(axis, shape.length);
  const rest = [...shape.keys()].filter(i => !axes.includes(i)),
    perm = [...rest, ...axes];
  const n = axes.reduce((p, a) => p * shape[a], 1);
  const flat = d.reshape(d.transpose(f32(T(x)), perm), [...rest.map(i => shape[i]), n]);
  const last = rest.length;
  const others = d.mul(d.cumprod(flat, last, true, false), d.cumprod(flat, last, true, true));
  const g = d.mul(others, d.reshape(dy, [...rest.map(i => shape[i]), 1]));
  const back = d.reshape(
    g,
    perm.map(i => shape[i]),
  );
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return [d.transpose(back, inverse)];
};
GRADIENTS.logSumExp = ([dy], [x, axis], [y]) => {
  const axes = axesOf(axis, rankOf(x));
  return [d.mul(expand(dy, shapeOf(x), axes), d.exp(d.sub(f32(T(x)), expand(y, shapeOf(x), axes))))];
};
GRADIENTS.moments = ([dMean, dVar], [x, axis], [m]) => {
  const shape = shapeOf(x),
    axes = axesOf(axis, shape.length),
    n = axes.reduce((p, a) => p * shape[a], 1);
  const centred = d.sub(f32(T(x)), expand(m, shape, axes));
  return [d.add(d.div(expand(dMean, shape, axes), n), d.mul(expand(dVar, shape, axes), d.div(d.mul(centred, 2), n)))];
};
GRADIENTS.norm = ([dy], [x, ord = 'euclidean', axis], [y]) => {
  const shape = shapeOf(x),
    xf = f32(T(x));
  if (!shape.length) return [d.mul(dy, d.step(xf, -1))];
  const axes = axesOf(axis, shape.length);
  const vector = axes.length === 1 || axis === undefined || axis === null;
  const g = expand(dy, shape, axes),
    s = d.step(xf, -1); // abs's derivative, as tfjs's (its norm is made of abs, pow, sum)
  if (ord === 'euclidean' || ord === 'fro' || ord === 2) return [d.mul(g, d.div(xf, expand(y, shape, axes)))];
  if (vector && ord === 1) return [d.mul(g, s)];
  if (vector && (ord === Infinity || ord === -Infinity)) return [d.mul(d.mul(g, s), d.cast(d.equal(d.abs(xf), expand(y, shape, axes)), 'float32'))];
  if (vector && typeof ord === 'number' && ord !== 0) {
    // d/dx (sum |x|^p)^(1/p) = |x|^(p-1) sign(x) y^(1-p)
    return [d.mul(g, d.mul(d.mul(d.pow(d.abs(xf), ord - 1), s), d.pow(expand(y, shape, axes), 1 - ord)))];
  }
  if (!vector && (ord === 1 || ord === -1 || ord === Infinity || ord === -Infinity)) {
    // A matrix norm, the max (min for -1, -Infinity) of |x|'s column sums (ord +-1) or row sums (ord +-Infinity):
    // dy * sign(x) in the columns (rows) that reach it, ties included, as tfjs's max(sum(abs(x))) differentiates.
    const along = Math.abs(ord) === 1 ? axes[0] : axes[1],
      kept = shape.map((n, i) => (axes.includes(i) ? 1 : n));
    const sums = d.sum(d.abs(xf), along, true);
    const hit = d.cast(d.equal(sums, d.reshape(y, kept)), 'float32');
    return [d.mul(d.mul(g, s), hit)];
  }
  throw noGradient(`norm with ord ${String(ord)} over two axes`);
};
GRADIENTS.cumsum = ([dy], [, axis = 0, exclusive = false, reverse = false]) => [d.cumsum(dy, axis as number, exclusive as boolean, !reverse)];
GRADIENTS.cumprod = ([dy], [x, axis = 0, exclusive = false, reverse = false], [y]) => {
  // d y_j / d x_i = y_j / x_i for the j that include i: a reverse cumulative sum of dy * y, over x. Where x_i is 0
  // that quotient is 0 / 0: the first zero in scan order gets the same sum over the products that skip it (a cumprod
  // of x with that zero as 1), and a later zero gets 0 (each product that takes it takes the first zero too).
  const a = axis as number,
    ex = exclusive as boolean,
    rev = reverse as boolean,
    xf = f32(T(x));
  const zero = d.equal(xf, 0),
    ones = d.onesLike(xf);
  const nonzero = d.div(d.cumsum(d.mul(dy, y), a, ex, !rev), d.where(zero, ones, xf));
  const first = d.logicalAnd(zero, d.equal(d.cumsum(d.cast(zero, 'float32'), a, true, rev), 0));
  const skipping = d.cumprod(d.where(first, ones, xf), a, ex, rev);
  const atFirst = d.cumsum(d.mul(dy, skipping), a, ex, !rev);
  return [d.where(zero, d.where(first, atFirst, d.zerosLike(xf)), nonzero)];
};

// --- shapes ---------------------------------------------------------------------------------------------------

GRADIENTS.reshape = ([dy], [x]) => [d.reshape(dy, shapeOf(x))];
GRADIENTS.expandDims = GRADIENTS.reshape;
GRADIENTS.squeeze = GRADIENTS.reshape;
GRADIENTS.broadcastToOp = ([dy], [x]) => [unbroadcast(dy, shapeOf(x))];
GRADIENTS.transpose = ([dy], [x, perm]) => {
  const p = (perm as number[] | undefined) ?? shapeOf(x).map((_, i) => rankOf(x) - 1 - i);
  return [
    d.transpose(
      dy,
      p.map((_, i) => p.indexOf(i)),
    ),
  ];
};
GRADIENTS.tile = ([dy], [x, reps]) => {
  const shape = shapeOf(x),
    r = reps as number[];
  const split = shape.flatMap((n, i) => [r[i], n]);
  return [
    d.sum(
      d.reshape(dy, split),
      shape.map((_, i) => 2 * i),
    ),
  ];
};
GRADIENTS.reverse = ([dy], [, axis]) => [d.reverse(dy, axis as number | number[] | undefined)];
GRADIENTS.flipLeftRight = ([dy]) => [d.image.flipLeftRight(dy)];
GRADIENTS.slice = ([dy], [x, begin]) => {
  const shape = shapeOf(x),
    b = typeof begin === 'number' ? [begin] : (begin as number[]);
  return [
    d.pad(
      dy,
      shape.map((n, i) => [b[i] ?? 0, n - (b[i] ?? 0) - dy.shape[i]] as [number, number]),
    ),
  ];
};
GRADIENTS.pad = ([dy], [x, paddings]) => [
  d.slice(
    dy,
    (paddings as [number, number][]).map(p => p[0]),
    shapeOf(x),
  ),
];
GRADIENTS.stridedSlice = ([dy], [x, begin, end, strides, beginMask = 0, endMask = 0, , , shrinkAxisMask = 0]) => {
  const shape = shapeOf(x);
  const axes = stridedAxes(
    shape,
    begin as number[],
    end as number[],
    strides as number[] | undefined,
    beginMask as number,
    endMask as number,
    shrinkAxisMask as number,
  );
  if (axes.some(a => a.count === 0)) return [d.zeros(shape)];
  // Each axis in turn: the `count` values spread `step` apart from index b, zeros between and around them.
  let g = d.reshape(
    dy,
    axes.map(a => a.count),
  );
  axes.forEach(({ b, count, step }, i) => {
    const s = Math.abs(step);
    let first = b;
    if (step < 0) {
      g = d.reverse(g, i);
      first = b + (count - 1) * step;
    }
    if (s > 1) {
      const dims = g.shape;
      const spread = d.pad(
        d.expandDims(g, i + 1),
        [...dims, 1].map((_, j) => (j === i + 1 ? [0, s - 1] : [0, 0]) as [number, number]),
      );
      const merged = d.reshape(spread, [...dims.slice(0, i), dims[i] * s, ...dims.slice(i + 1)]);
      g = d.slice(
        merged,
        dims.map(() => 0),
        dims.map((n, j) => (j === i ? (count - 1) * s + 1 : n)),
      );
    }
    const span = g.shape[i];
    g = d.pad(
      g,
      g.shape.map((_, j) => (j === i ? [first, shape[i] - first - span] : [0, 0]) as [number, number]),
    );
  });
  return [g];
};
GRADIENTS.concat = ([dy], [list, axis = 0]) => {
  const ts = list as unknown[],
    rank = dy.shape.length,
    a = (axis as number) < 0 ? (axis as number) + rank : (axis as number);
  const sizes = ts.map(t => (t instanceof Tensor ? t.shape[a] : (d.tensor(t as TensorInput).shape[a] ?? 0)));
  const parts = d.split(dy, sizes, a);
  return [parts.map((p, i) => (ts[i] instanceof Tensor ? p : null))];
};
GRADIENTS.stack = ([dy], [list, axis = 0]) => {
  const parts = d.unstack(dy, axis as number);
  return [(list as unknown[]).map((t, i) => (t instanceof Tensor ? parts[i] : null))];
};
GRADIENTS.unstack = (dys, [, axis = 0]) => [d.stack(dys, axis as number)];
GRADIENTS.split = (dys, [, , axis = 0]) => [d.concat(dys, axis as number)];
GRADIENTS.gather = ([dy], [x, indices, axis = 0]) => {
  // the rows of dy added into the rows of x they came from: a one-hot matrix product (no scatter op natively)
  const shape = shapeOf(x),
    a = (axis as number) < 0 ? (axis as number) + shape.length : (axis as number);
  const idx = d.reshape(indices instanceof Tensor ? indices : d.tensor(indices as TensorInput, undefined, 'int32'), [-1]);
  const m = idx.shape[0],
    n = shape[a],
    outer = shape.slice(0, a).reduce((p, v) => p * v, 1),
    inner = shape.slice(a + 1).reduce((p, v) => p * v, 1);
  const picks = d.cast(d.oneHot(idx, n), 'float32'); // [m, n]
  const g = d.reshape(dy, [outer, m, inner]);
  const summed = d.matMul(d.broadcastToOp(picks, [outer, m, n]), g, true, false); // [outer, n, inner]
  return [d.reshape(summed, shape), null];
};

// --- linear algebra, softmax, topk, images -------------------------------------------------------------------

GRADIENTS.matMul = ([dy], [a, b, tA = false, tB = false], _y, needs) => {
  const A = f32(T(a)),
    B = f32(T(b));
  let da: () => Tensor, db: () => Tensor;
  if (!tA && !tB) [da, db] = [() => d.matMul(dy, B, false, true), () => d.matMul(A, dy, true, false)];
  else if (!tA && tB) [da, db] = [() => d.matMul(dy, B, false, false), () => d.matMul(dy, A, true, false)];
  else if (tA && !tB) [da, db] = [() => d.matMul(B, dy, false, true), () => d.matMul(A, dy, false, false)];
  else [da, db] = [() => d.matMul(B, dy, true, true), () => d.matMul(dy, A, true, true)];
  return [needs[0] ? unbroadcast(da(), A.shape) : null, needs[1] ? unbroadcast(db(), B.shape) : null];
};
GRADIENTS.dot = ([dy], [a, b], _y, needs) => {
  const A = f32(T(a)),
    B = f32(T(b));
  const A2 = A.shape.length === 1 ? d.reshape(A, [1, -1]) : A,
    B2 = B.shape.length === 1 ? d.reshape(B, [-1, 1]) : B;
  const g = d.reshape(dy, [A2.shape[0], B2.shape[1]]);
  return [needs[0] ? d.reshape(d.matMul(g, B2, false, true), A.shape) : null, needs[1] ? d.reshape(d.matMul(A2, g, true, false), B.shape) : null];
};
GRADIENTS.outerProduct = ([dy], [a, b], _y, needs) => {
  const A = d.reshape(f32(T(a)), [-1, 1]),
    B = d.reshape(f32(T(b)), [1, -1]);
  return [needs[0] ? d.reshape(d.matMul(dy, B, false, true), [-1]) : null, needs[1] ? d.reshape(d.matMul(A, dy, true, false), [-1]) : null];
};
GRADIENTS.softmax = ([dy], _args, [y]) => [d.mul(y, d.sub(dy, d.sum(d.mul(dy, y), -1, true)))];
GRADIENTS.logSoftmax = ([dy], _args, [y]) => [d.sub(dy, d.mul(d.exp(y), d.sum(dy, -1, true)))];
GRADIENTS.topk = ([dValues], [x], [, indices]) => {
  const n = shapeOf(x).at(-1)!;
  const picks = d.cast(d.oneHot(indices, n), 'float32'); // [..., k, n]
  return [d.sum(d.mul(picks, d.expandDims(dValues, -1)), -2)];
};
/**
 * A resize is linear and separable: out = Rh x Rw per channel. Rh [newH, H] comes from resizing an identity
 * (H images of height H and width 1), likewise Rw, so the gradient is Rh^T dy Rw^T.
 */
function resizeGrad(name: 'resizeBilinear' | 'resizeNearestNeighbor'): GradientFn {
  return ([dy], [images, size, alignCorners = false, halfPixelCenters = false]) => {
    const x = T(images),
      batched = x.shape.length === 4;
    const [H, W] = batched ? x.shape.slice(1, 3) : x.shape.slice(0, 2);
    const [nh, nw] = size as [number, number];
    const resize = d.image[name];
    const along = (n: number, m: number) =>
      d.reshape(resize(d.reshape(d.eye(n), [n, n, 1, 1]), [m, 1], alignCorners as boolean, halfPixelCenters as boolean), [n, m]); // [n, m] = R^T
    const Rh = along(H, nh),
      Rw = along(W, nw);
    const g = batched ? dy : d.expandDims(dy, 0); // [N, nh, nw, C]
    const N = g.shape[0],
      C = g.shape[3];
    // over height: [N, nh, nw*C] -> [N, H, nw*C]
    const h = d.matMul(d.broadcastToOp(Rh, [N, H, nh]), d.reshape(g, [N, nh, nw * C]));
    // over width: [N*H, nw, C] -> [N*H, W, C]
    const w = d.matMul(d.broadcastToOp(Rw, [N * H, W, nw]), d.reshape(h, [N * H, nw, C]));
    const out = d.reshape(w, [N, H, W, C]);
    return [batched ? out : d.reshape(out, [H, W, C])];
  };
}
GRADIENTS.resizeBilinear = resizeGrad('resizeBilinear');
GRADIENTS.resizeNearestNeighbor = resizeGrad('resizeNearestNeighbor');

// --- backward ---------------------------------------------------------------------------------------------------

/**
 * The gradients of ys (seeded with dys: ones where null) with respect to every tensor on the tape, by memory,
 * walking the tape from the last op. Runs inside the caller's tidy(): every tensor made here but those the caller
 * returns is freed by it.
 */
export function backward(tape: Tape, ys: Tensor[], dys: (Tensor | null)[]): Map<NativeTensor, Tensor> {
  const grads = new Map<NativeTensor, Tensor>();
  const add = (t: Tensor, g: Tensor) => {
    const k = handleKey(t),
      prev = grads.get(k);
    grads.set(k, prev ? d.add(prev, g) : g);
  };
  ys.forEach((y, i) => add(y, dys[i] ?? d.onesLike(f32(y))));
  for (let n = tape.nodes.length - 1; n >= 0; --n) {
    const node = tape.nodes[n];
    const dOut = node.outputs.map(o => grads.get(handleKey(o)) ?? null);
    if (dOut.every(g => g === null)) continue;
    const fn = node.grad ?? GRADIENTS[node.name];
    if (!fn) throw noGradient(node.name);
    const filled = dOut.map((g, i) => g ?? d.zerosLike(f32(node.outputs[i])));
    const result = fn(filled, node.args, node.outputs, node.needs, node.extra);
    node.args.forEach((arg, i) => {
      if (!node.needs[i]) return;
      const g = result[i];
      if (Array.isArray(arg)) {
        arg.forEach((t, j) => {
          const gj = Array.isArray(g) ? g[j] : null;
          if (gj && isConnected(tape, t)) add(t, checked(node.name, t, gj));
        });
      } else if (g && !Array.isArray(g) && isConnected(tape, arg)) add(arg, checked(node.name, arg, g));
    });
  }
  return grads;
}

function checked(op: string, x: Tensor, g: Tensor): Tensor {
  if (g.shape.join() !== x.shape.join())
    throw new ValidationError(
      `Error in gradient of ${op}: the gradient has shape [${g.shape}] where its input has [${x.shape}]`,
      'ERR_KERNELNET_SHAPE',
    );
  return g;
}
