// Each recorded op's gradient (lib/ops/gradients.ts) against TensorFlow.js's own (@tensorflow/tfjs-core on its CPU
// backend, tf.grads) and against central finite differences of kernelnet's forward op. For every op in
// lib/ops/differentiable.ts's RECORDED_OPS, each case computes tf.grads((...xs) => sum(op(...xs) * W)) with W a fixed
// random tensor of the result's shape (so that each result element has a gradient of its own; an op with several
// results, moments, topk, split, unstack, weights each float32 one and adds them up), on the same float32 inputs on
// both sides. Inputs keep away from kinks and jumps (|x| > 0.1 for abs and relu, x > 0 for log, no ties for max, ...),
// so that tfjs, kernelnet and the finite differences all read the same derivative:
//
//   - against tfjs: |kernelnet - tfjs| <= 1e-5 + 1e-4 |tfjs|, elementwise;
//   - against finite differences: (L(x + h) - L(x - h)) / 2h for each input element, h = 1e-2, computed in float64
//     from the float32 results of kernelnet's forward op: |kernelnet - fd| <= 1e-3 + 1e-2 |fd| (the worst case uses
//     3% of that);
//   - the ops whose derivative is zero (sign, round, floor, ceil, step) give zeros, as tfjs's;
//   - at the kinks themselves (abs and relu at 0, max's ties, ...), where the derivative is a convention, kernelnet's
//     must be tfjs's (finite differences straddle the kink there).
//
// Where tfjs has no gradient (StridedSlice, TopK, Cumprod, FlipLeftRight, divNoNan's Equal), a wrong one (Cumsum along
// a non-last axis, Minimum / Maximum / SquaredDifference / BatchMatMul with broadcasting, Prod over negative axes,
// resizes with halfPixelCenters, floorDiv) or none of the call (norm's ord 3, matrix ord -1), the case says so, checks
// what tfjs does (so that a tfjs that changes is noticed) and checks kernelnet against finite differences only.
// The tf.grad API itself (tidy, errors, variables, models): test/tfjs-grads.test.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as tfc from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers tfjs-core's gradients (its bundle calls registerGradient for every op)
import * as tf from '../lib/tfjs.js';
import { RECORDED_OPS } from '../lib/ops/differentiable.js';
import { GRADIENTS, closeTape, openTape } from '../lib/ops/tape.js';
import { close, rng } from './helpers.js';
import { registerTfjsChainedOps } from './tfjs-ops-table.js';

tfc.env().set('IS_TEST', true);
// tfjs-core alone leaves out the chained ops (x.reshape(...)) that the @tensorflow/tfjs bundle registers and some of its
// gradients call (Prod's)
registerTfjsChainedOps(tfc as unknown as Record<string, unknown>);

/** The namespace a case runs its op in: kernelnet/tfjs, or tfjs-core (called the same way; its types are kernelnet's). */
type NS = typeof tf;
type Tensor = tf.Tensor;
const TFJS = tfc as unknown as NS;

const H = 1e-2,
  FD_ATOL = 1e-3,
  FD_RTOL = 1e-2,
  TF_ATOL = 1e-5,
  TF_RTOL = 1e-4;

interface Input {
  shape: number[];
  values: Float32Array;
}
interface Case {
  /** The call, as the failure names it. */
  what: string;
  /** The float32 operands the gradient is taken of (indices, conditions and the like are made inside f). */
  inputs: Input[];
  /** The op, called in namespace t on the operands. */
  f: (t: NS, ...xs: Tensor[]) => unknown;
  /** The operands whose gradient is compared with tfjs's (all by default; [] for none). */
  tfjs?: number[];
  /** What tfjs's gradient over all operands throws with (where it has none, or a wrong one). */
  tfjsThrows?: string;
  /** false: the inputs sit on a kink, where the derivative is a convention: compared with tfjs only. */
  fd?: false;
}
interface Group {
  /** The RECORDED_OPS name. */
  op: string;
  /** The tfjs behaviour the test pins. */
  pin: string;
  cases: Case[];
  /** The op's derivative is zero: kernelnet's gradient must be all zeros (tfjs's is). */
  zero?: boolean;
  /** More checks of the op (what tfjs does where the cases do not compare with it). */
  extra?: () => void;
}

// --- inputs ---------------------------------------------------------------------------------------------------------

const R = rng(20240611);
const sizeOf = (shape: number[]) => shape.reduce((p, n) => p * n, 1);
const input = (shape: number[], values: ArrayLike<number>): Input => ({ shape, values: Float32Array.from(values) });
/** Uniform values in [lo, hi], each at least `margin` from every kink (so that x +- h stays on one side of it). */
function u(shape: number[], lo: number, hi: number, kinks: number[] = [], margin = 0.1): Input {
  const values = new Float32Array(sizeOf(shape));
  for (let i = 0; i < values.length; ++i) {
    let v: number;
    do v = lo + (hi - lo) * R();
    while (kinks.some(k => Math.abs(v - k) < margin));
    values[i] = v;
  }
  return { shape, values };
}
/** Values in [lo, hi] at least (hi - lo) / 2n apart, in random order: no ties within h for max, min, topk. */
function distinct(shape: number[], lo: number, hi: number): Input {
  const n = sizeOf(shape),
    gap = (hi - lo) / n;
  const v = Array.from({ length: n }, (_, i) => lo + gap * (i + 0.25 + 0.5 * R()));
  for (let i = n - 1; i > 0; --i) {
    const j = Math.floor(R() * (i + 1));
    [v[i], v[j]] = [v[j], v[i]];
  }
  return input(shape, v);
}
/** distinct() magnitudes in [0.2, 2] with random signs: no ties of |x| and no x near 0 (norm's ord 1 and Infinity). */
function distinctAbs(shape: number[]): Input {
  const values = distinct(shape, 0.2, 2).values.map(v => (R() < 0.5 ? -v : v));
  return input(shape, values);
}
/** Values on the grid step * k + offset (k in [-5, 5]), jittered by 0.02: two grids of offsets 0 and step / 2 never tie. */
function grid(shape: number[], offset: number, step = 0.4): Input {
  const values = Array.from({ length: sizeOf(shape) }, () => step * (Math.floor(R() * 11) - 5) + offset + 0.02 * (R() - 0.5));
  return input(shape, values);
}
/** Magnitudes in [lo, hi] with random signs (divisors, cumprod's and prod's factors: away from 0). */
function signed(shape: number[], lo = 0.5, hi = 2): Input {
  const values = u(shape, lo, hi).values.map(v => (R() < 0.5 ? -v : v));
  return input(shape, values);
}
const range = (lo: number, hi: number, step = 1, offset = 0) =>
  Array.from({ length: Math.floor((hi - lo) / step) + 1 }, (_, i) => lo + i * step + offset);
const INTEGERS = range(-4, 4),
  HALVES = range(-4, 4, 1, 0.5);

// --- the cases, one group per recorded op ----------------------------------------------------------------------------

const GROUPS: Group[] = [];
const group = (op: string, pin: string, cases: Case[], more: Partial<Group> = {}) => GROUPS.push({ op, pin, cases, ...more });
/** A case of a one-operand op. */
const on = (what: string, x: Input, f: (t: NS, x: Tensor) => unknown): Case => ({ what, inputs: [x], f: (t, a) => f(t, a) });
const S = [2, 3];

// unary: the formulas of tfjs-core's src/gradients/<Op>_grad.ts
group('neg', "tfjs's Neg gradient is -dy", [on('neg(x)', u(S, -2, 2), (t, x) => t.neg(x)), on('neg(scalar)', u([], -2, 2), (t, x) => t.neg(x))]);
group('abs', "tfjs's Abs gradient is dy * step(x, -1)", [on('abs(x)', u(S, -2, 2, [0]), (t, x) => t.abs(x))]);
group('sign', "tfjs's Sign gradient is zero", [on('sign(x)', u(S, -2, 2, [0]), (t, x) => t.sign(x))], { zero: true });
group('square', "tfjs's Square gradient is dy * 2x", [on('square(x)', u(S, -2, 2), (t, x) => t.square(x))]);
group('sqrt', "tfjs's Sqrt gradient is dy / (2 sqrt(x))", [on('sqrt(x)', u(S, 0.5, 3), (t, x) => t.sqrt(x))]);
group('rsqrt', "tfjs's Rsqrt gradient is -dy / (2 x^1.5)", [on('rsqrt(x)', u(S, 0.5, 3), (t, x) => t.rsqrt(x))]);
group('exp', "tfjs's Exp gradient is dy * y", [on('exp(x)', u(S, -2, 2), (t, x) => t.exp(x))]);
group('expm1', "tfjs's Expm1 gradient is dy * exp(x)", [on('expm1(x)', u(S, -2, 2), (t, x) => t.expm1(x))]);
group('log', "tfjs's Log gradient is dy / x", [on('log(x)', u(S, 0.5, 3), (t, x) => t.log(x))]);
group('log1p', "tfjs's Log1p gradient is dy / (1 + x)", [on('log1p(x)', u(S, -0.5, 2), (t, x) => t.log1p(x))]);
group('logSigmoid', "tfjs's logSigmoid is a customGrad: dy * sigmoid(-x)", [on('logSigmoid(x)', u(S, -3, 3), (t, x) => t.logSigmoid(x))]);
group('sin', "tfjs's Sin gradient is dy * cos(x)", [on('sin(x)', u(S, -3, 3), (t, x) => t.sin(x))]);
group('cos', "tfjs's Cos gradient is -dy * sin(x)", [on('cos(x)', u(S, -3, 3), (t, x) => t.cos(x))]);
group('tan', "tfjs's Tan gradient is dy / cos(x)^2", [on('tan(x)', u(S, -1, 1), (t, x) => t.tan(x))]);
group('asin', "tfjs's Asin gradient is dy / sqrt(1 - x^2)", [on('asin(x)', u(S, -0.9, 0.9), (t, x) => t.asin(x))]);
group('acos', "tfjs's Acos gradient is -dy / sqrt(1 - x^2)", [on('acos(x)', u(S, -0.9, 0.9), (t, x) => t.acos(x))]);
group('atan', "tfjs's Atan gradient is dy / (1 + x^2)", [on('atan(x)', u(S, -3, 3), (t, x) => t.atan(x))]);
group('sinh', "tfjs's Sinh gradient is dy * cosh(x)", [on('sinh(x)', u(S, -2, 2), (t, x) => t.sinh(x))]);
group('cosh', "tfjs's Cosh gradient is dy * sinh(x)", [on('cosh(x)', u(S, -2, 2), (t, x) => t.cosh(x))]);
group('tanh', "tfjs's Tanh gradient is dy * (1 - y^2)", [on('tanh(x)', u(S, -2, 2), (t, x) => t.tanh(x))]);
group('asinh', "tfjs's Asinh gradient is dy / sqrt(1 + x^2)", [on('asinh(x)', u(S, -3, 3), (t, x) => t.asinh(x))]);
group('acosh', "tfjs's Acosh gradient is dy / sqrt(x^2 - 1)", [on('acosh(x)', u(S, 1.2, 3), (t, x) => t.acosh(x))]);
group('atanh', "tfjs's Atanh gradient is dy / (1 - x^2)", [on('atanh(x)', u(S, -0.9, 0.9), (t, x) => t.atanh(x))]);
group('sigmoid', "tfjs's Sigmoid gradient is dy * y * (1 - y)", [on('sigmoid(x)', u(S, -3, 3), (t, x) => t.sigmoid(x))]);
group('softplus', "tfjs's Softplus gradient is dy * sigmoid(x)", [on('softplus(x)', u(S, -3, 3), (t, x) => t.softplus(x))]);
group('relu', "tfjs's Relu gradient is dy * step(x)", [on('relu(x)', u(S, -2, 2, [0]), (t, x) => t.relu(x))]);
group('relu6', "tfjs's Relu6 gradient is dy * (x <= 6) * step(x)", [on('relu6(x)', u([3, 3], -2, 8, [0, 6]), (t, x) => t.relu6(x))]);
group('elu', "tfjs's Elu gradient (EluGrad) is dy where y > 0, else dy * (y + 1)", [on('elu(x)', u(S, -2, 2, [0]), (t, x) => t.elu(x))]);
group('selu', "tfjs's Selu gradient is dy * scale where x > 0, else dy * scale * alpha * exp(x)", [
  on('selu(x)', u(S, -2, 2, [0]), (t, x) => t.selu(x)),
]);
group('leakyRelu', "tfjs's LeakyRelu gradient is dy where x > 0, else dy * alpha", [
  on('leakyRelu(x)', u(S, -2, 2, [0]), (t, x) => t.leakyRelu(x)),
  on('leakyRelu(x, 0.1)', u(S, -2, 2, [0]), (t, x) => t.leakyRelu(x, 0.1)),
]);
group(
  'step',
  "tfjs's Step gradient is zero",
  [on('step(x)', u(S, -2, 2, [0]), (t, x) => t.step(x)), on('step(x, 0.3)', u(S, -2, 2, [0]), (t, x) => t.step(x, 0.3))],
  { zero: true },
);
group('round', "tfjs's Round gradient is zero", [on('round(x)', u(S, -3, 3, HALVES), (t, x) => t.round(x))], { zero: true });
group('floor', "tfjs's Floor gradient is zero", [on('floor(x)', u(S, -3, 3, INTEGERS), (t, x) => t.floor(x))], { zero: true });
group('ceil', "tfjs's Ceil gradient is zero", [on('ceil(x)', u(S, -3, 3, INTEGERS), (t, x) => t.ceil(x))], { zero: true });
group('reciprocal', "tfjs's Reciprocal gradient is -dy / x^2", [on('reciprocal(x)', signed(S), (t, x) => t.reciprocal(x))]);
group('erf', "tfjs's Erf gradient is dy * 2 / sqrt(pi) * exp(-x^2)", [on('erf(x)', u(S, -2, 2), (t, x) => t.erf(x))]);
group('clipByValue', "tfjs's ClipByValue gradient is dy where min <= x <= max, else 0", [
  on('clipByValue(x, -1, 1)', u([3, 3], -2, 2, [-1, 1]), (t, x) => t.clipByValue(x, -1, 1)),
  on('clipByValue(x, -5, 5) (nothing clipped)', u(S, -2, 2), (t, x) => t.clipByValue(x, -5, 5)),
]);
group(
  'cast',
  "tfjs's Cast gradient passes dy through (float32 to float32; through an int32 cast too, where kernelnet's tape has no path)",
  [on("cast(x, 'float32')", u(S, -2, 2), (t, x) => t.cast(x, 'float32'))],
  {
    extra: () => {
      // tfjs differentiates through an int32 result as if it were real; on kernelnet's tape an int32 result depends
      // on nothing (as in TensorFlow, where such a cast has no gradient), so the cast pair has no gradient
      const x = input([3], [1.5, -0.5, 2.7]);
      const roundTrip = (t: NS, v: Tensor) => t.sum(t.cast(t.cast(v, 'int32'), 'float32'));
      assert.equal(Array.from(tfjsGrads(roundTrip, [x], [0])[0]), [1, 1, 1], "tfjs: dy through cast(cast(x, 'int32'), 'float32')");
      assert.throws(() => gradsIn(tf, roundTrip, [x], null, [0]), /Cannot compute gradient of y=f\(x\)/, 'kernelnet: no path through an int32 cast');
    },
  },
);
group('clone', "tfjs's Identity gradient is dy", [on('clone(x)', u(S, -2, 2), (t, x) => t.clone(x))]);

// binary: numpy broadcasting, each operand's gradient summed over the axes it was stretched along (getReductionAxes)
const PAIRS: [number[], number[]][] = [
  [S, S],
  [S, [3]],
  [
    [2, 1],
    [1, 3],
  ],
  [[], S],
];
/** The op on each pair of shapes, a from ga and b from gb. */
function binary(
  name: string,
  ga: (s: number[]) => Input,
  gb: (s: number[]) => Input,
  f: (t: NS, a: Tensor, b: Tensor) => unknown,
  tfjsBroadcastThrows?: string,
): Case[] {
  return PAIRS.map(([sa, sb]) => ({
    what: `${name}([${sa}], [${sb}])`,
    inputs: [ga(sa), gb(sb)],
    f: (t, a, b) => f(t, a, b),
    ...(tfjsBroadcastThrows && sa.join() !== sb.join() ? { tfjs: [], tfjsThrows: tfjsBroadcastThrows } : {}),
  }));
}
const any = (s: number[]) => u(s, -2, 2);
group(
  'add',
  "tfjs's Add gradient is dy for each operand, summed over its broadcast axes",
  binary('add', any, any, (t, a, b) => t.add(a, b)),
);
group(
  'sub',
  "tfjs's Sub gradient is dy and -dy, summed over the broadcast axes",
  binary('sub', any, any, (t, a, b) => t.sub(a, b)),
);
group('mul', "tfjs's Multiply gradient is dy * b and dy * a, summed over the broadcast axes (an operand used twice gets both)", [
  ...binary('mul', any, any, (t, a, b) => t.mul(a, b)),
  on('mul(x, x)', any(S), (t, x) => t.mul(x, x)),
  on('mul(x, constant [3])', any(S), (t, x) => t.mul(x, t.tensor([0.5, -2, 1.5]))),
  on('mul(2.5, x)', any(S), (t, x) => t.mul(t.scalar(2.5), x)),
]);
group(
  'div',
  "tfjs's RealDiv gradient is dy / b and -dy * a / b^2, summed over the broadcast axes",
  binary('div', any, signed, (t, a, b) => t.div(a, b)),
);
group(
  'divNoNan',
  "tfjs's divNoNan (where(equal(b, zerosLike(a / b)), 0, a / b)) has no gradient: Equal, on the path from both operands, has none",
  [
    // kernelnet's is RealDiv's where b is not 0, and 0 for both operands where b is 0 (the result is 0 there)
    ...binary('divNoNan', any, signed, (t, a, b) => t.divNoNan(a, b)),
    // (b there is held constant: divNoNan jumps where b crosses 0)
    on('divNoNan(a, [1.5, 0, -0.7, 0])', u([4], -2, 2), (t, a) => t.divNoNan(a, t.tensor([1.5, 0, -0.7, 0]))),
  ].map(c => ({ ...c, tfjs: [], tfjsThrows: 'gradient function not found for Equal' })),
);
group(
  'floorDiv',
  "tfjs's FloorDiv gradient is RealDiv's (dy / b, -dy * a / b^2), although floorDiv is piecewise constant; kernelnet's is its true derivative, 0",
  // floorDiv's result is int32: on kernelnet's tape it depends on nothing (as argMax's), so f adds 0 * a and 0 * b
  // for a path from a and b to y; the gradient through floorDiv itself is then 0 there, as finite differences say.
  // tfjs differentiates through the int32 result (Cast, then FloorDiv's gradient) and gives RealDiv's: not compared.
  [
    {
      what: 'floorDiv(a, b) + 0 * a + 0 * b',
      inputs: [input(S, [2.5, -1.9, 2.9, -2.2, 0.4, 1.9]), input(S, [0.7, -1.3, 1.9, 0.9, -0.6, 1.1])], // a / b 0.4 or more from an integer
      f: (t, a, b) => t.add(t.cast(t.floorDiv(a, b), 'float32'), t.add(t.mul(a, 0), t.mul(b, 0))),
      tfjs: [],
    },
  ],
  {
    extra: () => {
      const a = input([3], [3.3, -2.5, 5.1]),
        b = input([3], [1.5, 2, -1.7]);
      const g = tfjsGrads((t, x, y) => t.sum(t.floorDiv(x, y)), [a, b], [0, 1]);
      close(g[0], [1 / 1.5, 1 / 2, 1 / -1.7], 1e-6, 1e-6, "tfjs's floorDiv gradient of a: RealDiv's dy / b");
      close(g[1], [-3.3 / 1.5 ** 2, 2.5 / 4, -5.1 / 1.7 ** 2], 1e-6, 1e-6, "tfjs's floorDiv gradient of b: RealDiv's -dy * a / b^2");
      // kernelnet: floorDiv's int32 result depends on nothing on the tape, so y = sum(floorDiv(a, b)) has no gradient
      const x = tf.tensor(a.values),
        y = tf.tensor(b.values);
      try {
        assert.throws(
          () => tf.grads((p: Tensor, q: Tensor) => tf.sum(tf.floorDiv(p, q)))([x, y]),
          /Cannot compute gradient of y=f\(x\) with respect to x/,
          "kernelnet's floorDiv alone: no gradient",
        );
      } finally {
        tf.dispose([x, y]);
      }
    },
  },
);
group(
  'pow',
  "tfjs's Pow gradient is dy * b * a^(b - 1) and dy * y * log(a) where a > 0 (else 0)",
  binary(
    'pow',
    s => u(s, 0.5, 2),
    any,
    (t, a, b) => t.pow(a, b),
  ),
);
group(
  'mod',
  "tfjs's Mod gradient is dy and dy * -floor(a / b), summed over the broadcast axes",
  // a / b keeps 0.1 or more from an integer: a jump of mod (and of floor(a / b)) stays out of reach of h
  [
    {
      what: 'mod(a, b) [2, 3]',
      inputs: [input(S, [2.5, -1.3, 4.1, -3.7, 0.4, 1.9]), input(S, [1.5, 1.1, -1.7, 2.1, -0.8, 0.6])],
      f: (t, a, b) => t.mod(a, b),
    },
    { what: 'mod(a [2, 3], b [3])', inputs: [input(S, [2.5, -1.3, 4.1, -3.7, 0.4, 1.9]), input([3], [1.5, 1.1, -1.7])], f: (t, a, b) => t.mod(a, b) },
  ],
);
group(
  'minimum',
  "tfjs's Minimum gradient is dy where a <= b to a, where a > b to b, not summed over broadcast axes (so tfjs's throws there)",
  binary(
    'minimum',
    s => grid(s, 0),
    s => grid(s, 0.2),
    (t, a, b) => t.minimum(a, b),
    'Error in gradient for op Minimum. The gradient of input',
  ),
);
group(
  'maximum',
  "tfjs's Maximum gradient is dy where a >= b to a, where a < b to b, not summed over broadcast axes (so tfjs's throws there)",
  binary(
    'maximum',
    s => grid(s, 0),
    s => grid(s, 0.2),
    (t, a, b) => t.maximum(a, b),
    'Error in gradient for op Maximum. The gradient of input',
  ),
);
group(
  'squaredDifference',
  "tfjs's SquaredDifference gradient is dy * 2 (a - b) and dy * 2 (b - a), not summed over broadcast axes (so tfjs's throws there)",
  binary('squaredDifference', any, any, (t, a, b) => t.squaredDifference(a, b), 'Error in gradient for op SquaredDifference. The gradient of input'),
);
group(
  'atan2',
  "tfjs's Atan2 gradient is dy * b / (a^2 + b^2) and -dy * a / (a^2 + b^2)",
  binary('atan2', signed, signed, (t, a, b) => t.atan2(a, b)),
);
group('prelu', "tfjs's Prelu gradient is dy where x > 0 else dy * alpha, and alpha's 0 where x > 0 else dy * x, summed to alpha's shape", [
  { what: 'prelu(x [2, 3], alpha [2, 3])', inputs: [u(S, -2, 2, [0]), u(S, 0.1, 0.5)], f: (t, x, a) => t.prelu(x, a) },
  { what: 'prelu(x [2, 3], alpha [3])', inputs: [u(S, -2, 2, [0]), u([3], 0.1, 0.5)], f: (t, x, a) => t.prelu(x, a) },
  { what: 'prelu(x [2, 3], alpha [])', inputs: [u(S, -2, 2, [0]), u([], 0.1, 0.5)], f: (t, x, a) => t.prelu(x, a) },
]);
const COND = [true, false, false, true, true, false];
group('where', "tfjs's Select gradient is dy where the condition holds to a, elsewhere to b; a and b broadcast by broadcastTo", [
  { what: 'where(c [2, 3], a [2, 3], constant)', inputs: [any(S)], f: (t, a) => t.where(t.tensor(COND, S, 'bool'), a, t.zeros(S)) },
  { what: 'where(c [2, 3], a [2, 3], b [2, 3])', inputs: [any(S), any(S)], f: (t, a, b) => t.where(t.tensor(COND, S, 'bool'), a, b) },
  { what: 'where(c [2, 3], a [2, 3], b [3])', inputs: [any(S), any([3])], f: (t, a, b) => t.where(t.tensor(COND, S, 'bool'), a, b) },
  {
    what: 'where(c [3], a [2, 3], b [2, 1])',
    inputs: [any(S), any([2, 1])],
    f: (t, a, b) => t.where(t.tensor([true, false, true], [3], 'bool'), a, b),
  },
]);
group('addN', "tfjs's AddN gradient is dy for each tensor", [
  { what: 'addN([a, b, c])', inputs: [any(S), any(S), any(S)], f: (t, a, b, c) => t.addN([a, b, c]) },
  { what: 'addN([a, a * b])', inputs: [any(S), any(S)], f: (t, a, b) => t.addN([a, t.mul(a, b)]) },
  { what: 'addN([a, a, constant])', inputs: [any(S)], f: (t, a) => t.addN([a, a, t.ones(S)]) },
]);

// reductions: over all axes, one axis, several axes, keepDims
const X3 = [2, 3, 2];
/** The reduction over all axes, axis 1, axes [0, 2] with keepDims, axis -1, and axes [-1, 0], on a [2, 3, 2] x from g. */
function reductions(
  name: string,
  g: (s: number[]) => Input,
  f: (t: NS, x: Tensor, axis: number | number[] | undefined, keepDims: boolean) => unknown,
  tfjsNegativeThrows?: string,
): Case[] {
  const calls: [number | number[] | undefined, boolean][] = [
    [undefined, false],
    [1, false],
    [[0, 2], true],
    [-1, false],
    [[-1, 0], false],
  ];
  return calls.map(([axis, keepDims]) => ({
    what: `${name}(x [${X3}], ${JSON.stringify(axis)}, ${keepDims})`,
    inputs: [g(X3)],
    f: (t, x) => f(t, x, axis, keepDims),
    ...(tfjsNegativeThrows && [axis ?? []].flat().some(a => a < 0) ? { tfjs: [], tfjsThrows: tfjsNegativeThrows } : {}),
  }));
}
group(
  'sum',
  "tfjs's Sum gradient is dy broadcast back over the reduced axes",
  reductions('sum', any, (t, x, a, k) => t.sum(x, a, k)),
);
group(
  'mean',
  "tfjs's Mean gradient is dy / n broadcast back over the reduced axes",
  reductions('mean', any, (t, x, a, k) => t.mean(x, a, k)),
);
group(
  'prod',
  "tfjs's Prod gradient is dy times the product of the others (exclusive cumprods from each side, right where x has a zero); with a negative axis tfjs's throws",
  [
    ...reductions(
      'prod',
      s => signed(s, 0.5, 1.5),
      (t, x, a, k) => t.prod(x, a, k),
      'Error in transpose: rank of input 3 must match length of perm', // tfjs's prodsGradFn_ takes the axes as given
    ),
    { what: 'prod(x [2, 3] with a zero, 1)', inputs: [input(S, [0.7, 0, -1.2, 1.3, 0.9, -0.8])], f: (t, x) => t.prod(x, 1) },
    { what: 'prod(x [2, 3] with two zeros in a row)', inputs: [input(S, [0, 0, -1.2, 1.3, 0.9, -0.8])], f: (t, x) => t.prod(x, 1) },
  ],
);
group(
  'min',
  "tfjs's Min gradient is dy where x equals the min (gradForMinAndMax)",
  reductions(
    'min',
    s => distinct(s, -2, 2),
    (t, x, a, k) => t.min(x, a, k),
  ),
);
group(
  'max',
  "tfjs's Max gradient is dy where x equals the max (gradForMinAndMax)",
  reductions(
    'max',
    s => distinct(s, -2, 2),
    (t, x, a, k) => t.max(x, a, k),
  ),
);
group(
  'moments',
  "tfjs's moments is mean(x) and mean(square(x - mean)): dmean / n + dvariance * 2 (x - mean) / n (the path through the mean adds 0)",
  reductions('moments', any, (t, x, a, k) => t.moments(x, a, k)),
);
group(
  'logSumExp',
  "tfjs's logSumExp is max + log(sum(exp(x - max))): its gradient is dy * exp(x - y) (the max's parts cancel)",
  reductions('logSumExp', any, (t, x, a, k) => t.logSumExp(x, a, k)),
);
const MATRIX = input([3, 3], [1.1, -0.4, 0.9, -0.3, 1.6, -0.8, 0.7, 0.5, -1.9]),
  MATRIX3 = input(X3, [0.3, -1.2, 0.8, 0.4, -0.5, 1.9, 1.1, 0.6, -0.7, 0.2, 1.4, -0.9]);
group(
  'norm',
  "tfjs's norm is made of abs, sum, sqrt, max and min: dy * x / y for 'euclidean', dy * sign(x) for 1, dy * sign(x) at the max |x| for Infinity; a matrix norm's dy * sign(x) in the columns (rows) at the max",
  [
    on("norm(x) ('euclidean' over all axes)", u(S, -2, 2, [0]), (t, x) => t.norm(x)),
    on("norm(x, 'euclidean', 1)", u(S, -2, 2, [0]), (t, x) => t.norm(x, 'euclidean', 1)),
    on("norm(x, 'euclidean', 0, true)", u(S, -2, 2, [0]), (t, x) => t.norm(x, 'euclidean', 0, true)),
    on("norm(x, 'fro', [0, 1])", u(S, -2, 2, [0]), (t, x) => t.norm(x, 'fro', [0, 1])),
    on('norm(x, 2, 1)', u(S, -2, 2, [0]), (t, x) => t.norm(x, 2, 1)),
    on('norm(x, 1) (all axes)', u(S, -2, 2, [0]), (t, x) => t.norm(x, 1)),
    on('norm(x, 1, 0)', u(S, -2, 2, [0]), (t, x) => t.norm(x, 1, 0)),
    on('norm(x, Infinity, 1)', distinctAbs(S), (t, x) => t.norm(x, Infinity, 1)),
    on('norm(x, Infinity) (all axes)', distinctAbs(S), (t, x) => t.norm(x, Infinity)),
    on('norm(x, -Infinity, 1, true)', distinctAbs(S), (t, x) => t.norm(x, -Infinity, 1, true)),
    // tfjs's norm has no vector ord other than 1, 2, Infinity, -Infinity ('invalid ord value'); kernelnet's (sum |x|^p)^(1/p)
    { ...on('norm(x, 3)', u(S, -2, 2, [0]), (t, x) => t.norm(x, 3)), tfjs: [], tfjsThrows: 'invalid ord value: 3' },
    on('norm(scalar, 1) (abs)', input([], [-1.3]), (t, x) => t.norm(x, 1)),
    // matrix norms: max (min) of |x|'s column sums (ord +-1) or row sums (ord +-Infinity) over two axes; MATRIX's
    // column sums 2.1, 2.5, 3.6 and row sums 2.4, 2.7, 3.1 are far apart
    on('norm(x [3, 3], 1, [0, 1], true)', MATRIX, (t, x) => t.norm(x, 1, [0, 1], true)),
    // (tfjs has no matrix ord -1: 'invalid ord value'; kernelnet's is the min column sum)
    { ...on('norm(x [3, 3], -1, [0, 1], true)', MATRIX, (t, x) => t.norm(x, -1, [0, 1], true)), tfjs: [], tfjsThrows: 'invalid ord value: -1' },
    on('norm(x [3, 3], Infinity, [0, 1], true)', MATRIX, (t, x) => t.norm(x, Infinity, [0, 1], true)),
    on('norm(x [3, 3], -Infinity, [0, 1], true)', MATRIX, (t, x) => t.norm(x, -Infinity, [0, 1], true)),
    on('norm(x [2, 3, 2], 1, [0, 2], true)', MATRIX3, (t, x) => t.norm(x, 1, [0, 2], true)),
    // without keepDims both axes go, as tfjs's ([] and [3])
    on('norm(x [3, 3], 1, [0, 1])', MATRIX, (t, x) => t.norm(x, 1, [0, 1])),
    on('norm(x [2, 3, 2], Infinity, [0, 2])', MATRIX3, (t, x) => t.norm(x, Infinity, [0, 2])),
  ],
);
// tfjs's Cumsum gradient transposes cumsum(dy, axis, exclusive, !reverse) when axis is not the last one (a bug:
// the cumsum op itself does not transpose), which gives the wrong shape; kernelnet's is cumsum(dy, ...) as it is.
const cumCalls: [string, number, boolean, boolean][] = [
  ['', 1, false, false],
  ['exclusive', 1, true, false],
  ['reverse', 1, false, true],
  ['exclusive, reverse', 1, true, true],
  ['axis 0', 0, false, false],
  ['axis 0, exclusive, reverse', 0, true, true],
];
group('cumsum', "tfjs's Cumsum gradient is cumsum(dy, axis, exclusive, !reverse) (along the last axis; along another, tfjs's throws)", [
  ...cumCalls.map(([name, axis, exclusive, reverse]): Case => ({
    what: `cumsum(x [3, 4], ${axis}, ${exclusive}, ${reverse}) ${name}`,
    inputs: [any([3, 4])],
    f: (t, x) => t.cumsum(x, axis, exclusive, reverse),
    ...(axis === 0 ? { tfjs: [], tfjsThrows: "Cumsum. The gradient of input 'x' has shape '4,3'" } : {}),
  })),
  on('cumsum(x [5])', any([5]), (t, x) => t.cumsum(x)),
]);
group('cumprod', 'tfjs has no Cumprod gradient (throws); d y_j / d x_i = y_j / x_i for each y_j that takes x_i', [
  ...cumCalls.map(([name, axis, exclusive, reverse]): Case => ({
    what: `cumprod(x [3, 4], ${axis}, ${exclusive}, ${reverse}) ${name}`,
    inputs: [signed([3, 4], 0.5, 1.5)],
    f: (t, x) => t.cumprod(x, axis, exclusive, reverse),
    tfjs: [],
    tfjsThrows: 'Cumprod',
  })),
  // zeros: y_j / x_i is 0 / 0 there (the first zero in scan order has a gradient, the ones after it 0)
  ...cumCalls.map(([name, axis, exclusive, reverse]): Case => ({
    what: `cumprod(x [3, 4] with zeros, ${axis}, ${exclusive}, ${reverse}) ${name}`,
    inputs: [input([3, 4], [0.7, 0, 1.3, -0.9, 0, 1.2, 0, 0.8, 1.1, -0.6, 0.9, 0])],
    f: (t, x) => t.cumprod(x, axis, exclusive, reverse),
    tfjs: [],
    tfjsThrows: 'Cumprod',
  })),
]);

// shapes
group('transpose', "tfjs's Transpose gradient is dy transposed by the inverse permutation", [
  on('transpose(x [2, 3])', any(S), (t, x) => t.transpose(x)),
  on('transpose(x [2, 3, 2], [1, 2, 0])', any(X3), (t, x) => t.transpose(x, [1, 2, 0])),
  on('transpose(x [2, 3, 2], [2, 0, 1])', any(X3), (t, x) => t.transpose(x, [2, 0, 1])),
]);
group('reshape', "tfjs's Reshape gradient is dy reshaped to x's shape", [
  on('reshape(x [2, 3], [3, 2])', any(S), (t, x) => t.reshape(x, [3, 2])),
  on('reshape(x [2, 3, 2], [-1, 4])', any(X3), (t, x) => t.reshape(x, [-1, 4])),
  on('reshape(x [6], [1, 2, 3])', any([6]), (t, x) => t.reshape(x, [1, 2, 3])),
]);
group('expandDims', "tfjs's ExpandDims gradient is dy reshaped to x's shape", [
  on('expandDims(x)', any(S), (t, x) => t.expandDims(x)),
  on('expandDims(x, 1)', any(S), (t, x) => t.expandDims(x, 1)),
  on('expandDims(x, -1)', any(S), (t, x) => t.expandDims(x, -1)),
]);
group('squeeze', "tfjs's squeeze is a reshape: dy reshaped to x's shape", [
  on('squeeze(x [2, 1, 3])', any([2, 1, 3]), (t, x) => t.squeeze(x)),
  on('squeeze(x [1, 3, 1], [2])', any([1, 3, 1]), (t, x) => t.squeeze(x, [2])),
]);
group('broadcastToOp', "tfjs's BroadcastTo gradient is dy summed over the broadcast axes (tf.broadcastTo)", [
  on('broadcastTo(x [3], [2, 3])', any([3]), (t, x) => t.broadcastTo(x, [2, 3])),
  on('broadcastTo(x [2, 1], [2, 3])', any([2, 1]), (t, x) => t.broadcastTo(x, [2, 3])),
  on('broadcastTo(x [1, 3], [2, 2, 3])', any([1, 3]), (t, x) => t.broadcastTo(x, [2, 2, 3])),
  on('broadcastTo(x [], [2, 2])', any([]), (t, x) => t.broadcastTo(x, [2, 2])),
]);
group('tile', "tfjs's Tile gradient adds up dy's tiles", [
  on('tile(x [3], [3])', any([3]), (t, x) => t.tile(x, [3])),
  on('tile(x [2, 3], [2, 1])', any(S), (t, x) => t.tile(x, [2, 1])),
  on('tile(x [2, 3], [1, 2])', any(S), (t, x) => t.tile(x, [1, 2])),
  on('tile(x [2, 3], [2, 2])', any(S), (t, x) => t.tile(x, [2, 2])),
  on('tile(x [1, 2, 2], [2, 1, 3])', any([1, 2, 2]), (t, x) => t.tile(x, [2, 1, 3])),
]);
group('reverse', "tfjs's Reverse gradient is dy reversed along the same axes", [
  on('reverse(x [2, 3]) (all axes)', any(S), (t, x) => t.reverse(x)),
  on('reverse(x, 0)', any(S), (t, x) => t.reverse(x, 0)),
  on('reverse(x, -1)', any(S), (t, x) => t.reverse(x, -1)),
  on('reverse(x [2, 3, 2], [0, 2])', any(X3), (t, x) => t.reverse(x, [0, 2])),
]);
group('slice', "tfjs's Slice gradient is dy padded with zeros back to x's shape", [
  on('slice(x [3, 4], [1, 1], [2, 2])', any([3, 4]), (t, x) => t.slice(x, [1, 1], [2, 2])),
  on('slice(x [3, 4], [0, 2], [-1, -1])', any([3, 4]), (t, x) => t.slice(x, [0, 2], [-1, -1])),
  on('slice(x [3, 4], 1)', any([3, 4]), (t, x) => t.slice(x, 1)),
  on('slice(x [5], 1, 3)', any([5]), (t, x) => t.slice(x, 1, 3)),
]);
group(
  'stridedSlice',
  'tfjs has no StridedSlice gradient (throws): kernelnet scatters dy back to the elements taken',
  [
    on('stridedSlice(x [4, 5], [0, 1], [4, 5], [2, 2])', any([4, 5]), (t, x) => t.stridedSlice(x, [0, 1], [4, 5], [2, 2])),
    on('stridedSlice(x [4, 5], [3, 4], [0, 0], [-1, -2], 0, 0b11) (strides -1 and -2 to the start)', any([4, 5]), (t, x) =>
      t.stridedSlice(x, [3, 4], [0, 0], [-1, -2], 0, 0b11),
    ),
    on('stridedSlice(x [4, 5], [2, 4], [0, 1], [-1, -1])', any([4, 5]), (t, x) => t.stridedSlice(x, [2, 4], [0, 1], [-1, -1])),
    on('stridedSlice(x [4, 5], [1, 0], [2, 5], [1, 2], 0, 0, 0, 0, 1) (shrinkAxisMask)', any([4, 5]), (t, x) =>
      t.stridedSlice(x, [1, 0], [2, 5], [1, 2], 0, 0, 0, 0, 1),
    ),
    on('stridedSlice(x [4, 5], [0, 3], [4, 4], [-2, 1], 1, 0, 0, 0, 2) (beginMask, shrink axis 1)', any([4, 5]), (t, x) =>
      t.stridedSlice(x, [0, 3], [4, 4], [-2, 1], 1, 0, 0, 0, 2),
    ),
    on('stridedSlice(x [4, 5], [-3, -1], [4, 0], [1, -2]) (negative indices)', any([4, 5]), (t, x) => t.stridedSlice(x, [-3, -1], [4, 0], [1, -2])),
    on('stridedSlice(x [6], [1], [6], [3])', any([6]), (t, x) => t.stridedSlice(x, [1], [6], [3])),
  ].map(c => ({ ...c, tfjs: [], tfjsThrows: 'StridedSlice' })),
);
group('concat', "tfjs's Concat gradient is dy split into the operands' sizes along the axis", [
  { what: 'concat([a [2, 1], b [2, 3], c [2, 2]], 1)', inputs: [any([2, 1]), any(S), any([2, 2])], f: (t, a, b, c) => t.concat([a, b, c], 1) },
  { what: 'concat([a [1, 3], b [2, 3]])', inputs: [any([1, 3]), any(S)], f: (t, a, b) => t.concat([a, b]) },
  { what: 'concat([a [2, 2], b [2, 3]], -1)', inputs: [any([2, 2]), any(S)], f: (t, a, b) => t.concat([a, b], -1) },
  { what: 'concat([a [2], b [3]])', inputs: [any([2]), any([3])], f: (t, a, b) => t.concat([a, b]) },
  { what: 'concat([a, constant, a], 1)', inputs: [any(S)], f: (t, a) => t.concat([a, t.ones([2, 2]), a], 1) },
]);
group('stack', "tfjs's Pack gradient is unstack(dy, axis)", [
  { what: 'stack([a, b, c])', inputs: [any(S), any(S), any(S)], f: (t, a, b, c) => t.stack([a, b, c]) },
  { what: 'stack([a, b], 1)', inputs: [any(S), any(S)], f: (t, a, b) => t.stack([a, b], 1) },
  { what: 'stack([a, b], 2)', inputs: [any(S), any(S)], f: (t, a, b) => t.stack([a, b], 2) },
  { what: 'stack([constant, a, a], -1)', inputs: [any(S)], f: (t, a) => t.stack([t.zeros(S), a, a], -1) },
]);
group('unstack', "tfjs's Unpack gradient is stack(dys, axis) (each result weighted)", [
  on('unstack(x [2, 3, 2])', any(X3), (t, x) => t.unstack(x)),
  on('unstack(x [2, 3, 2], 1)', any(X3), (t, x) => t.unstack(x, 1)),
  on('unstack(x [2, 3, 2], 2)', any(X3), (t, x) => t.unstack(x, 2)),
  on('unstack(x [2, 3, 2], -2)', any(X3), (t, x) => t.unstack(x, -2)),
]);
group('split', "tfjs's SplitV gradient is concat(dys, axis) (each part weighted)", [
  on('split(x [2, 6], 3, 1)', any([2, 6]), (t, x) => t.split(x, 3, 1)),
  on('split(x [2, 6], [1, -1, 2], 1)', any([2, 6]), (t, x) => t.split(x, [1, -1, 2], 1)),
  on('split(x [4, 3], [3, 1])', any([4, 3]), (t, x) => t.split(x, [3, 1])),
  on('split(x [2, 4], 2, -1)', any([2, 4]), (t, x) => t.split(x, 2, -1)),
]);
group('gather', "tfjs's GatherV2 gradient adds dy's slices into the rows they were taken from (unsortedSegmentSum)", [
  on('gather(x [4, 3], [2, 0, 2])', any([4, 3]), (t, x) => t.gather(x, t.tensor([2, 0, 2], [3], 'int32'))),
  on('gather(x [4, 3], [1, 1, 0, 2], 1)', any([4, 3]), (t, x) => t.gather(x, t.tensor([1, 1, 0, 2], [4], 'int32'), 1)),
  on('gather(x [4, 3], [[0, 3], [3, 1]])', any([4, 3]), (t, x) => t.gather(x, t.tensor([0, 3, 3, 1], [2, 2], 'int32'))),
  on('gather(x [2, 3, 2], [2, 0], 1)', any(X3), (t, x) => t.gather(x, t.tensor([2, 0], [2], 'int32'), 1)),
  on('gather(x [2, 3, 2], [1, 1, 0], -1) (indices as an array)', any(X3), (t, x) => t.gather(x, [1, 1, 0], -1)),
]);
group('pad', "tfjs's PadV2 gradient is dy sliced back to x (the constant has none)", [
  on('pad(x [2, 3], [[1, 0], [0, 2]])', any(S), (t, x) =>
    t.pad(x, [
      [1, 0],
      [0, 2],
    ]),
  ),
  on('pad(x [2, 3], [[0, 1], [2, 1]], 1.5)', any(S), (t, x) =>
    t.pad(
      x,
      [
        [0, 1],
        [2, 1],
      ],
      1.5,
    ),
  ),
  on('pad(x [3], [[2, 1]])', any([3]), (t, x) => t.pad(x, [[2, 1]])),
]);

// linear algebra
const mm = (sa: number[], sb: number[], tA: boolean, tB: boolean): Case => ({
  what: `matMul(a [${sa}], b [${sb}], ${tA}, ${tB})`,
  inputs: [any(sa), any(sb)],
  f: (t, a, b) => t.matMul(a, b, tA, tB),
});
group(
  'matMul',
  "tfjs's BatchMatMul gradient is dy b^T and a^T dy (transposed to match transposeA / transposeB); kernelnet's also sums over broadcast batch axes",
  [
    mm([2, 3], [3, 4], false, false),
    mm([3, 2], [3, 4], true, false),
    mm([2, 3], [4, 3], false, true),
    mm([3, 2], [4, 3], true, true),
    { what: 'matMul(a [2, 3], constant [3, 2])', inputs: [any(S)], f: (t, a) => t.matMul(a, t.tensor([1, -1, 0.5, 2, -0.5, 1], [3, 2])) },
    mm([2, 2, 3], [2, 3, 2], false, false),
    mm([2, 3, 2], [2, 2, 3], true, true),
    // tfjs's BatchMatMul gradient does not sum over broadcast batch axes (its gradient has the wrong shape: throws)
    { ...mm([2, 2, 3], [3, 2], false, false), tfjs: [], tfjsThrows: "Error in gradient for op BatchMatMul. The gradient of input 'b'" },
    { ...mm([1, 2, 3], [2, 2, 3], false, true), tfjs: [], tfjsThrows: "Error in gradient for op BatchMatMul. The gradient of input 'a'" },
  ],
);
group('dot', "tfjs's dot is a matMul of the operands reshaped to matrices: its gradient is BatchMatMul's, reshaped back", [
  { what: 'dot(a [3], b [3])', inputs: [any([3]), any([3])], f: (t, a, b) => t.dot(a, b) },
  { what: 'dot(a [2], b [2, 3])', inputs: [any([2]), any(S)], f: (t, a, b) => t.dot(a, b) },
  { what: 'dot(a [2, 3], b [3])', inputs: [any(S), any([3])], f: (t, a, b) => t.dot(a, b) },
  { what: 'dot(a [2, 3], b [3, 2])', inputs: [any(S), any([3, 2])], f: (t, a, b) => t.dot(a, b) },
]);
group('outerProduct', "tfjs's outerProduct is a matMul of [m, 1] and [1, n]: dy b and a dy", [
  { what: 'outerProduct(a [3], b [4])', inputs: [any([3]), any([4])], f: (t, a, b) => t.outerProduct(a, b) },
]);
group('softmax', "tfjs's Softmax gradient is dy * y - sum(dy * y, -1) * y", [
  on('softmax(x [2, 4])', any([2, 4]), (t, x) => t.softmax(x)),
  on('softmax(x [5])', any([5]), (t, x) => t.softmax(x)),
  on('softmax(x [2, 2, 3], -1)', any([2, 2, 3]), (t, x) => t.softmax(x, -1)),
]);
group('logSoftmax', "tfjs's LogSoftmax gradient is dy - sum(dy, -1) * exp(y)", [
  on('logSoftmax(x [2, 4])', any([2, 4]), (t, x) => t.logSoftmax(x)),
  on('logSoftmax(x [5])', any([5]), (t, x) => t.logSoftmax(x)),
  on('logSoftmax(x [2, 2, 3], -1)', any([2, 2, 3]), (t, x) => t.logSoftmax(x, -1)),
]);
group(
  'topk',
  'tfjs has no TopK gradient (throws): kernelnet gives dy of the values to the elements they came from',
  [
    on('topk(x [2, 5], 2)', distinct([2, 5], -2, 2), (t, x) => t.topk(x, 2)),
    on('topk(x [6], 3)', distinct([6], -2, 2), (t, x) => t.topk(x, 3)),
    on('topk(x [2, 2, 3], 3)', distinct([2, 2, 3], -2, 2), (t, x) => t.topk(x, 3)),
  ].map(c => ({ ...c, tfjs: [], tfjsThrows: 'TopK' })),
);

// images: resizes are linear, so the gradient is the transposed resize (ResizeBilinearGrad, ResizeNearestNeighborGrad)
/**
 * A resize of x [1, 3, 3, 2] to [5, 4] (plain, alignCorners, halfPixelCenters), [1, 4, 4, 1] down to [2, 3], [3, 3, 1]
 * (rank 3) and [2, 2, 3, 1]. tfjs's CPU gradient kernels read alignCorners only: with halfPixelCenters its gradient is
 * the one without (checked in resizeExtra), which finite differences refute, so those cases are not compared.
 */
function resizes(name: 'resizeBilinear' | 'resizeNearestNeighbor'): Case[] {
  const calls: [number[], [number, number], boolean, boolean][] = [
    [[1, 3, 3, 2], [5, 4], false, false],
    [[1, 3, 3, 2], [5, 4], true, false],
    [[1, 3, 3, 2], [5, 4], false, true],
    [[1, 4, 4, 1], [2, 3], false, false],
    [[1, 4, 4, 1], [2, 3], true, false],
    [[1, 4, 4, 1], [2, 3], false, true],
    [[3, 3, 1], [4, 5], false, false],
    [[2, 2, 3, 1], [3, 5], false, true],
  ];
  return calls.map(([shape, size, alignCorners, halfPixelCenters]) => ({
    ...on(`image.${name}(x [${shape}], [${size}], ${alignCorners}, ${halfPixelCenters})`, any(shape), (t, x) =>
      t.image[name](x, size, alignCorners, halfPixelCenters),
    ),
    ...(halfPixelCenters ? { tfjs: [] } : {}),
  }));
}
/** tfjs's resize gradient with halfPixelCenters is its gradient without it; kernelnet's is not. */
const resizeExtra = (name: 'resizeBilinear' | 'resizeNearestNeighbor') => () => {
  const x = any([1, 3, 3, 1]);
  const grads = (t: NS, half: boolean) =>
    gradsIn(t, (t, x) => t.sum(t.mul(t.image[name](x, [5, 4], false, half), t.range(0, 20).reshape([1, 5, 4, 1]))), [x], null, [0])[0];
  close(grads(TFJS, true), grads(TFJS, false), 0, 0, `tfjs's ${name} gradient with halfPixelCenters: the one without it`);
  assert.not.equal(Array.from(grads(tf, true)), Array.from(grads(tf, false)), `kernelnet's ${name} gradient with halfPixelCenters: its own`);
};
group(
  'resizeBilinear',
  "tfjs's ResizeBilinear gradient (ResizeBilinearGrad) spreads dy back with the interpolation weights (halfPixelCenters ignored: not compared)",
  resizes('resizeBilinear'),
  { extra: resizeExtra('resizeBilinear') },
);
group(
  'resizeNearestNeighbor',
  "tfjs's ResizeNearestNeighbor gradient (ResizeNearestNeighborGrad) adds dy into the pixel each output took (halfPixelCenters ignored: not compared)",
  resizes('resizeNearestNeighbor'),
  { extra: resizeExtra('resizeNearestNeighbor') },
);
group(
  'flipLeftRight',
  'tfjs has no FlipLeftRight gradient (throws): kernelnet flips dy back',
  [
    on('image.flipLeftRight(x [1, 2, 3, 2])', any([1, 2, 3, 2]), (t, x) => t.image.flipLeftRight(x)),
    on('image.flipLeftRight(x [2, 2, 2, 1])', any([2, 2, 2, 1]), (t, x) => t.image.flipLeftRight(x)),
  ].map(c => ({ ...c, tfjs: [], tfjsThrows: 'FlipLeftRight' })),
);

// conventions at kinks, where tfjs's formula decides the derivative (tfjs only: finite differences straddle the kink)
const KINKS = input([2, 4], [0, 0, -1, 1, 6, -2, 2, 0.5]);
const kink = (what: string, f: (t: NS, x: Tensor) => unknown, x = KINKS): Case => ({ ...on(what, x, f), fd: false });
group('abs', "at 0 tfjs's Abs gradient is step(0, -1) = -1", [kink('abs(x) at 0', (t, x) => t.abs(x))]);
group('relu', "at 0 tfjs's Relu gradient is step(0) = 0", [kink('relu(x) at 0', (t, x) => t.relu(x))]);
group('relu6', "at 0 tfjs's Relu6 gradient is 0, at 6 it is 1 (x <= 6)", [kink('relu6(x) at 0 and 6', (t, x) => t.relu6(x))]);
group('leakyRelu', "at 0 tfjs's LeakyRelu gradient is alpha (x > 0 fails)", [kink('leakyRelu(x, 0.3) at 0', (t, x) => t.leakyRelu(x, 0.3))]);
group('elu', "at 0 tfjs's Elu gradient is dy * (y + 1) = dy", [kink('elu(x) at 0', (t, x) => t.elu(x))]);
group('selu', "at 0 tfjs's Selu gradient is scale * alpha (x > 0 fails)", [kink('selu(x) at 0', (t, x) => t.selu(x))]);
group('prelu', "at 0 tfjs's Prelu gradient is alpha for x and x = 0 for alpha", [
  { what: 'prelu(x, alpha) at 0', inputs: [KINKS, u([4], 0.1, 0.5)], f: (t, x, a) => t.prelu(x, a), fd: false },
]);
group('clipByValue', "at the bounds tfjs's ClipByValue gradient is dy (min <= x <= max, inclusive)", [
  kink('clipByValue(x, -1, 1) at -1 and 1', (t, x) => t.clipByValue(x, -1, 1)),
]);
group('sign', "at 0 tfjs's Sign gradient is 0 too", [kink('sign(x) at 0', (t, x) => t.sign(x))], { zero: true });
group('step', "at 0 tfjs's Step gradient is 0 too", [kink('step(x) at 0', (t, x) => t.step(x))], { zero: true });
const TIES = input([2, 4], [1, 3, 3, -2, 0.5, 0.5, 0.5, 0.5]);
group('max', "tfjs's Max gradient gives dy to every element tied at the max", [
  kink('max(x, 1) with ties', (t, x) => t.max(x, 1), TIES),
  kink('max(x) with ties', (t, x) => t.max(x), TIES),
]);
group('min', "tfjs's Min gradient gives dy to every element tied at the min", [kink('min(x, 1) with ties', (t, x) => t.min(x, 1), TIES)]);
group('norm', "tfjs's norm with ord Infinity gives dy * sign(x) to every element tied at the max |x|", [
  kink('norm(x, Infinity, 1) with ties', (t, x) => t.norm(x, Infinity, 1), input([2, 3], [1, -3, 3, -2, 2, 0.5])),
]);
group('maximum', "at a tie tfjs's Maximum gradient goes to a (a >= b), none to b", [
  { what: 'maximum(a, b) with ties', inputs: [TIES, input([2, 4], [1, 2, 3, 4, 0.5, 0, 1, 0.5])], f: (t, a, b) => t.maximum(a, b), fd: false },
]);
group('minimum', "at a tie tfjs's Minimum gradient goes to a (a <= b), none to b", [
  { what: 'minimum(a, b) with ties', inputs: [TIES, input([2, 4], [1, 2, 3, 4, 0.5, 0, 1, 0.5])], f: (t, a, b) => t.minimum(a, b), fd: false },
]);
group('pow', "tfjs's Pow gradient of the exponent is 0 where the base is <= 0 (log taken where base > 0 only)", [
  {
    what: 'pow(a, b) with bases 0 and negative (integer exponents)',
    inputs: [input([4], [0, -1.5, 2, -0.5]), input([4], [2, 2, 3, 3])],
    f: (t, a, b) => t.pow(a, b),
    fd: false,
  },
]);

// --- running a case --------------------------------------------------------------------------------------------------

const isTensor = (v: unknown): v is Tensor => v instanceof tf.Tensor || v instanceof tfc.Tensor;
/** An op's float32 results: the tensor, the tensors of an array (split, unstack) or of an object (moments, topk), in order. */
function floatResults(out: unknown): Tensor[] {
  const list = isTensor(out) ? [out] : Array.isArray(out) ? out : Object.values(out as object);
  return list.filter((t): t is Tensor => isTensor(t) && t.dtype === 'float32');
}
/** sum(result * W) over the float32 results. */
function weighted(t: NS, out: unknown, ws: Input[]): Tensor {
  const outs = floatResults(out);
  assert.is(outs.length, ws.length, 'the number of float32 results');
  let total: Tensor | null = null;
  outs.forEach((o, i) => {
    assert.equal(o.shape, ws[i].shape, 'the shape of a result');
    const term = t.sum(t.mul(o, t.tensor(ws[i].values, ws[i].shape)));
    total = total ? t.add(total, term) : term;
  });
  return total!;
}
/** The gradient in namespace t of sum(f(...xs) * W) with respect to the operands `which` (the others held constant). */
function gradsIn(t: NS, f: (t: NS, ...xs: Tensor[]) => unknown, inputs: Input[], ws: Input[] | null, which: number[]): Float32Array[] {
  let result: Float32Array[] = [];
  t.tidy(() => {
    const xs = inputs.map(x => t.tensor(x.values, x.shape));
    const fn = (...sub: Tensor[]) => {
      const out = f(t, ...xs.map((x, i) => (which.includes(i) ? sub[which.indexOf(i)] : x)));
      return ws ? weighted(t, out, ws) : (out as Tensor);
    };
    const gs = t.grads(fn)(which.map(i => xs[i]));
    gs.forEach((g, k) => assert.equal(g.shape, inputs[which[k]].shape, `the gradient of operand ${which[k]} has its shape`));
    result = gs.map(g => Float32Array.from(g.dataSync()));
  });
  return result;
}
/** tfjs's gradient of f (which returns the scalar to differentiate) with respect to the operands `which`. */
const tfjsGrads = (f: (t: NS, ...xs: Tensor[]) => Tensor, inputs: Input[], which: number[]) => gradsIn(TFJS, f, inputs, null, which);

/** L = sum(f(...xs) * W) in float64 from kernelnet's forward op (no tape). */
function loss(c: Case, ws: Input[], values: Float32Array[]): number {
  let total = 0;
  tf.tidy(() => {
    const outs = floatResults(c.f(tf, ...values.map((v, i) => tf.tensor(v, c.inputs[i].shape))));
    outs.forEach((o, k) => {
      const y = o.dataSync(),
        w = ws[k].values;
      for (let j = 0; j < y.length; ++j) total += y[j] * w[j];
    });
  });
  return total;
}
/** Central differences of L for each element of each operand, over the float32 values x +- h actually take. */
function finiteDifferences(c: Case, ws: Input[]): Float64Array[] {
  return c.inputs.map((x, k) => {
    const fd = new Float64Array(x.values.length);
    for (let j = 0; j < fd.length; ++j) {
      const at = (v: number) => {
        const values = c.inputs.map(i => i.values.slice());
        values[k][j] = v;
        return loss(c, ws, values);
      };
      const up = Math.fround(x.values[j] + H),
        down = Math.fround(x.values[j] - H);
      fd[j] = (at(up) - at(down)) / (up - down);
    }
    return fd;
  });
}

let caseSeed = 1;
function runCase(g: Group, c: Case): void {
  const what = `${g.op}: ${c.what}`;
  // W: random weights of each float32 result's shape, from kernelnet's forward op
  const r = rng(caseSeed++);
  let ws: Input[] = [];
  tf.tidy(() => {
    const outs = floatResults(c.f(tf, ...c.inputs.map(x => tf.tensor(x.values, x.shape))));
    ws = outs.map(o => input(o.shape, randomWeights(o.size, r)));
  });
  assert.ok(ws.length > 0, `${what}: the op has a float32 result`);
  const all = c.inputs.map((_, i) => i);
  const kn = gradsIn(tf, c.f, c.inputs, ws, all);

  // against finite differences of kernelnet's forward op
  if (c.fd !== false)
    finiteDifferences(c, ws).forEach((fd, i) => close(kn[i], fd, FD_ATOL, FD_RTOL, `${what}: operand ${i}'s gradient against finite differences`));

  // against tfjs
  const compared = c.tfjs ?? all;
  if (compared.length) {
    const ref = gradsIn(TFJS, c.f, c.inputs, ws, compared);
    compared.forEach((i, k) => close(kn[i], ref[k], TF_ATOL, TF_RTOL, `${what}: operand ${i}'s gradient against tfjs's`));
  }
  if (c.tfjsThrows) {
    let message = '';
    try {
      gradsIn(TFJS, c.f, c.inputs, ws, all);
    } catch (e) {
      message = (e as Error).message;
    }
    assert.ok(message.includes(c.tfjsThrows), `${what}: tfjs's gradient throws "${c.tfjsThrows}" (it says: ${message || 'nothing'})`);
  }
  if (g.zero)
    kn.forEach((gr, i) =>
      assert.ok(
        gr.every(v => v === 0),
        `${what}: operand ${i}'s gradient is zero, as tfjs's`,
      ),
    );
}
/** Weights in [-1, -0.2] or [0.2, 1]: none near 0, so that each result element counts. */
const randomWeights = (n: number, r: () => number) => Float32Array.from({ length: n }, () => (r() < 0.5 ? -1 : 1) * (0.2 + 0.8 * r()));

// --- the tests -------------------------------------------------------------------------------------------------------

const G = suite('kernelnet/tfjs: each op gradient against tfjs and finite differences');
G.before(async () => {
  await tfc.setBackend('cpu');
});

for (const g of GROUPS)
  G(`tf.${g.op}: ${g.pin}`, () => {
    const before = tf.memory().numTensors;
    for (const c of g.cases) runCase(g, c);
    g.extra?.();
    assert.is(tf.memory().numTensors, before, `tf.${g.op}: every tensor the gradients made is freed`);
  });

// kernelnet's own list: every recorded op has a gradient, and a case above that records it on a tape
G('every op in RECORDED_OPS has a gradient in GRADIENTS and a case here that records it on the tape', () => {
  const missing = RECORDED_OPS.filter(op => typeof GRADIENTS[op] !== 'function');
  assert.equal(missing, [], 'recorded ops without a gradient');
  const covered = new Set<string>();
  for (const g of GROUPS)
    for (const c of g.cases) {
      const names = new Set<string>();
      tf.tidy(() => {
        const xs = c.inputs.map(x => tf.tensor(x.values, x.shape));
        const tape = openTape(xs);
        try {
          c.f(tf, ...xs);
          for (const node of tape.nodes) names.add(node.name);
        } finally {
          closeTape(tape);
        }
      });
      assert.ok(names.has(g.op), `${g.op}: ${c.what} records ${g.op} (it records ${[...names].join(', ')})`);
      covered.add(g.op);
    }
  assert.equal([...covered].sort(), [...RECORDED_OPS].sort(), 'the ops the cases cover are RECORDED_OPS');
});

G.run();
