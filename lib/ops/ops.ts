// tfjs-core's tensor operations with its names, signatures, broadcasting and dtype rules, on kernelnet's native
// general tensor math (lib/core/native.ts: mathUnary, mathBinary, mathSelect, stridedCopy, reduce, scan,
// gatherAxis, batchMatmul, topk, resize2d, iota, randomGauss). Every value is computed natively on the operands'
// device; this file only works out shapes, dtypes and which native op to call. kernelnet/tfjs exports these
// (lib/tfjs.ts), and lib/ops/methods.ts makes them tensor methods.
import { native, type DType, type MathBinaryOp, type NativeTensor, type ReduceOp, type UnaryOp } from '../core/native.js';
import { Tensor } from '../core/tensor.js';
import { describe } from '../core/validate.js';
import {
  axesArg,
  axisArg,
  broadcastShapes,
  broadcastTo,
  castTo,
  copyAs,
  deviceOf,
  flattenInput,
  fromValues,
  input,
  opError,
  opsDevice,
  scoped,
  sizeOf,
  stridesOf,
  upcast,
  type Scope,
  type TensorInput,
} from './base.js';

export type { TensorInput };
/** tfjs's element types that kernelnet has. */
export type DataType = DType;

function dtypeArg(op: string, dtype: unknown, fallback: DType): DType {
  if (dtype === undefined || dtype === null) return fallback;
  if (dtype === 'float32' || dtype === 'int32' || dtype === 'bool') return dtype;
  throw opError(op, `dtype '${String(dtype)}' is not supported: kernelnet tensors are 'float32', 'int32' or 'bool'`, 'ERR_KERNELNET_UNSUPPORTED');
}

function shapeArg(op: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || !shape.every(d => Number.isInteger(d) && d >= 0))
    throw opError(op, `expected shape to be an array of non-negative integers but received ${describe(shape)}`, 'ERR_KERNELNET_ARG');
  return shape as number[];
}

// --- creation ------------------------------------------------------------------------------------------------

/** tf.tensor(values, shape?, dtype?): values as nested arrays (numbers or booleans), a flat array or a typed array. */
export function tensor(values: TensorInput, shape?: number[], dtype?: DataType): Tensor {
  if (values instanceof Tensor) return clone(values);
  return scoped('tensor', opsDevice(), s => {
    const f = flattenInput('tensor', 'values', values);
    let dims = f.shape;
    if (shape !== undefined && shape !== null) {
      const want = shapeArg('tensor', shape);
      if (sizeOf(want) !== f.values.length)
        throw opError('tensor', `based on the provided shape, [${want}], the tensor should have ${sizeOf(want)} values but has ${f.values.length}`);
      if (f.shape.length > 1 && want.join() !== f.shape.join())
        throw opError('tensor', `the shape [${want}] does not match the nested values' shape [${f.shape}]`);
      dims = want;
    }
    return s.result(fromValues(s, dims, dtypeArg('tensor', dtype, f.dtype), f.values));
  });
}

function ofRank(rank: number, name: string) {
  return (values: TensorInput, shape?: number[], dtype?: DataType): Tensor => {
    const t = tensor(values, shape, dtype);
    if (t.shape.length !== rank) {
      t.dispose();
      throw opError(name, `expected a rank-${rank} tensor but the values make shape [${t.shape}]`);
    }
    return t;
  };
}
/** tf.scalar(value, dtype?): a rank-0 tensor. */
export function scalar(value: number | boolean, dtype?: DataType): Tensor {
  if (typeof value !== 'number' && typeof value !== 'boolean')
    throw opError('scalar', `expected a number or a boolean but received ${describe(value)}`, 'ERR_KERNELNET_ARG');
  return tensor([value] as TensorInput, [], dtype);
}
/** tf.tensor1d(values, dtype?). */
export const tensor1d = (values: TensorInput, dtype?: DataType): Tensor => ofRank(1, 'tensor1d')(values, undefined, dtype);
/** tf.tensor2d(values, shape?, dtype?). */
export const tensor2d = ofRank(2, 'tensor2d');
/** tf.tensor3d(values, shape?, dtype?). */
export const tensor3d = ofRank(3, 'tensor3d');
/** tf.tensor4d(values, shape?, dtype?). */
export const tensor4d = ofRank(4, 'tensor4d');
/** tf.tensor5d(values, shape?, dtype?). */
export const tensor5d = ofRank(5, 'tensor5d');
/** tf.tensor6d(values, shape?, dtype?). */
export const tensor6d = ofRank(6, 'tensor6d');

/** tf.fill(shape, value, dtype?): every element value (dtype: float32 for a number, bool for a boolean, unless given). */
export function fill(shape: number[], value: number | boolean, dtype?: DataType): Tensor {
  const dims = shapeArg('fill', shape);
  const dt = dtypeArg('fill', dtype, typeof value === 'boolean' ? 'bool' : 'float32');
  return scoped('fill', opsDevice(), s => {
    const h = s.make(dims, dt);
    if (h.size) h.fill(Number(value));
    return s.result(h);
  });
}
/** tf.zeros(shape, dtype = 'float32'). */
export const zeros = (shape: number[], dtype?: DataType): Tensor => fill(shape, 0, dtype ?? 'float32');
/** tf.ones(shape, dtype = 'float32'). */
export const ones = (shape: number[], dtype?: DataType): Tensor => fill(shape, 1, dtype ?? 'float32');

function likeOf(op: string, x: TensorInput, value: number): Tensor {
  return scoped(op, deviceOf(x), s => {
    const h = input(s, x, 'x');
    const y = s.make(h.shape, h.dtype);
    if (y.size) y.fill(value);
    return s.result(y);
  });
}
/** tf.zerosLike(x): zeros of x's shape and dtype. */
export const zerosLike = (x: TensorInput): Tensor => likeOf('zerosLike', x, 0);
/** tf.onesLike(x): ones of x's shape and dtype. */
export const onesLike = (x: TensorInput): Tensor => likeOf('onesLike', x, 1);

/** tf.clone(x): a copy. */
export function clone(x: TensorInput): Tensor {
  return scoped('clone', deviceOf(x), s => {
    const h = input(s, x, 'x');
    return s.result(copyAs(s, h, h.shape));
  });
}

/** tf.cast(x, dtype): float to int32 truncates (as tfjs), anything to bool is x != 0. */
export function cast(x: TensorInput, dtype: DataType): Tensor {
  const dt = dtypeArg('cast', dtype, 'float32');
  return scoped('cast', deviceOf(x), s => {
    const h = input(s, x, 'x');
    const y = castTo(s, h, dt);
    return s.result(y === h ? copyAs(s, h, h.shape) : y);
  });
}

/** tf.range(start, stop, step = 1, dtype = 'float32'): start, start + step, ... short of stop (empty when step points away). */
export function range(start: number, stop: number, step = 1, dtype: 'float32' | 'int32' = 'float32'): Tensor {
  for (const [n, v] of [
    ['start', start],
    ['stop', stop],
    ['step', step],
  ] as const)
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw opError('range', `expected ${n} to be a finite number but received ${describe(v)}`, 'ERR_KERNELNET_ARG');
  if (step === 0) throw opError('range', 'step cannot be 0', 'ERR_KERNELNET_ARG');
  const dt = dtypeArg('range', dtype, 'float32');
  if (stop < start && step === 1) step = -1; // tfjs counts down for a default step
  const count = (step > 0 && start >= stop) || (step < 0 && start <= stop) ? 0 : Math.ceil(Math.abs((stop - start) / step));
  return scoped('range', opsDevice(), s => {
    const y = s.make([count], dt);
    if (count) native.iota(y, start, step);
    return s.result(y);
  });
}

/** tf.linspace(start, stop, num): num evenly spaced values from start to stop, both included. */
export function linspace(start: number, stop: number, num: number): Tensor {
  if (!Number.isInteger(num) || num <= 0)
    throw opError('linspace', `expected num to be a positive integer but received ${describe(num)}`, 'ERR_KERNELNET_ARG');
  return scoped('linspace', opsDevice(), s => {
    const y = s.make([num], 'float32');
    native.iota(y, start, num > 1 ? (stop - start) / (num - 1) : 0);
    return s.result(y);
  });
}

/** tf.eye(numRows, numColumns = numRows, batchShape?, dtype = 'float32'): the identity matrix (a batch of them). */
export function eye(numRows: number, numColumns?: number, batchShape?: number[], dtype: DataType = 'float32'): Tensor {
  const cols = numColumns ?? numRows;
  for (const [n, v] of [
    ['numRows', numRows],
    ['numColumns', cols],
  ] as const)
    if (!Number.isInteger(v) || v < 0)
      throw opError('eye', `expected ${n} to be a non-negative integer but received ${describe(v)}`, 'ERR_KERNELNET_ARG');
  const batch = batchShape === undefined ? [] : shapeArg('eye', batchShape);
  const dt = dtypeArg('eye', dtype, 'float32');
  return scoped('eye', opsDevice(), s => {
    // the identity as one-hot rows of 0, 1, ..: rows past the columns are all zero
    const idx = s.make([numRows], 'int32');
    if (numRows) native.iota(idx, 0, 1);
    const m = s.make([numRows, cols], 'float32');
    if (m.size) native.oneHot(idx, m);
    const typed = castTo(s, m, dt);
    return s.result(batch.length ? broadcastTo(s, typed, [...batch, numRows, cols]) : typed);
  });
}

/** tf.oneHot(indices, depth, onValue = 1, offValue = 0, dtype = 'int32'): indices' shape with depth last. */
export function oneHot(indices: TensorInput, depth: number, onValue = 1, offValue = 0, dtype: DataType = 'int32'): Tensor {
  if (!Number.isInteger(depth) || depth < 2)
    throw opError('oneHot', `expected depth to be an integer >= 2 (as tfjs) but received ${describe(depth)}`, 'ERR_KERNELNET_ARG');
  const dt = dtypeArg('oneHot', dtype, 'int32');
  return scoped('oneHot', deviceOf(indices), s => {
    const h = input(s, indices, 'indices', 'int32');
    if (h.dtype !== 'int32') throw opError('oneHot', `expected indices to be an int32 tensor but received ${h.dtype}`);
    const flat = h.reshape([h.size]);
    const m = s.make([h.size, depth], 'float32');
    if (m.size) native.oneHot(flat, m);
    let y = m;
    if (onValue !== 1 || offValue !== 0) {
      y = s.make(m.shape, 'float32');
      if (y.size) native.mathUnary('affine', m, y, onValue - offValue, offValue);
    }
    return s.result(copyAs(s, castTo(s, y, dt), [...h.shape, depth]));
  });
}

// --- random ----------------------------------------------------------------------------------------------------

let streams = 0;
/** A seed for a random op: tfjs's seed (a number) hashed to 53 bits, else a fresh one per call. */
function seedOf(seed: unknown): { seed: number; offset: number } {
  if (seed === undefined || seed === null) return { seed: (Math.random() * 2 ** 32) >>> 0, offset: ++streams };
  if (typeof seed !== 'number' || !Number.isFinite(seed))
    throw opError('random', `expected seed to be a number but received ${describe(seed)}`, 'ERR_KERNELNET_ARG');
  return { seed: Math.abs(Math.trunc(seed)) % 2 ** 32, offset: Math.round((seed - Math.trunc(seed)) * 2 ** 20) >>> 0 };
}

/** y as dtype, an int32 rounded to the nearest (tfjs's MPRandGauss rounds its draws for an int dtype). */
function roundedTo(s: Scope, y: NativeTensor, dt: DType): NativeTensor {
  if (dt === 'float32') return y;
  const r = s.make(y.shape, 'float32');
  if (r.size) native.mathUnary('round', y, r);
  return castTo(s, r, dt);
}

/** tf.randomNormal(shape, mean = 0, stdDev = 1, dtype = 'float32', seed?): normal values (a seed repeats them). */
export function randomNormal(shape: number[], mean = 0, stdDev = 1, dtype: 'float32' | 'int32' = 'float32', seed?: number): Tensor {
  const dims = shapeArg('randomNormal', shape),
    dt = dtypeArg('randomNormal', dtype, 'float32');
  const r = seedOf(seed);
  return scoped('randomNormal', opsDevice(), s => {
    const y = s.make(dims, 'float32');
    if (y.size) native.randomGauss(y, mean, stdDev, r.seed, r.offset);
    return s.result(roundedTo(s, y, dt));
  });
}

/** tf.truncatedNormal(shape, mean = 0, stdDev = 1, dtype = 'float32', seed?): normal values redrawn beyond two standard deviations. */
export function truncatedNormal(shape: number[], mean = 0, stdDev = 1, dtype: 'float32' | 'int32' = 'float32', seed?: number): Tensor {
  const dims = shapeArg('truncatedNormal', shape),
    dt = dtypeArg('truncatedNormal', dtype, 'float32');
  const r = seedOf(seed);
  return scoped('truncatedNormal', opsDevice(), s => {
    const z = s.make(dims, 'float32');
    if (z.size) native.randomNormal(z, stdDev, r.seed, r.offset);
    const y = s.make(dims, 'float32');
    if (y.size) native.mathUnary('affine', z, y, 1, mean);
    return s.result(roundedTo(s, y, dt));
  });
}

/**
 * tf.multinomial(logits, numSamples, seed?, normalized = false): numSamples class indices (int32) drawn per row of
 * logits ([k] or [batch, k]) from softmax(logits), or from logits taken as probabilities when normalized. Each
 * draw is the number of the cumulative probabilities below a uniform value (the last class where rounding leaves
 * the total under 1).
 */
export function multinomial(logits: TensorInput, numSamples: number, seed?: number | null, normalized = false): Tensor {
  if (!Number.isInteger(numSamples) || numSamples < 1)
    throw opError('multinomial', `expected numSamples to be a positive integer but received ${describe(numSamples)}`, 'ERR_KERNELNET_ARG');
  const r = seedOf(seed);
  return scoped('multinomial', deviceOf(logits), s => {
    const given = castTo(s, input(s, logits, 'logits'), 'float32');
    const rank = given.shape.length;
    if (rank !== 1 && rank !== 2) throw opError('multinomial', `logits must be rank 1 or 2 but it is rank ${rank}`);
    const [b, k] = rank === 1 ? [1, given.shape[0]] : given.shape;
    if (k < 2) throw opError('multinomial', `expected at least 2 classes but received ${k}`, 'ERR_KERNELNET_ARG');
    const h = copyAs(s, given, [b, k]);
    let p = h;
    if (!normalized) {
      p = s.make([b, k], 'float32');
      if (p.size) native.softmax(h, p);
    }
    const cdf = s.make([b, k], 'float32'),
      u = s.make([b, numSamples], 'float32'),
      below = s.make([b, numSamples, k], 'bool');
    const out = s.make([b, numSamples], 'int32'),
      last = s.make([], 'int32');
    if (!out.size) return s.result(copyAs(s, out, rank === 1 ? [numSamples] : [b, numSamples]));
    native.scan('add', p, [b, k, 1], false, false, cdf);
    native.randomUniform(u, 0, 1, r.seed, r.offset);
    native.mathBinary('less', cdf.reshape([b, 1, k]), u.reshape([b, numSamples, 1]), below);
    const counts = reduceAxes(s, 'sum', castTo(s, below, 'int32'), [2], false);
    last.fill(k - 1);
    native.mathBinary('min', counts, last, out);
    return s.result(copyAs(s, out, rank === 1 ? [numSamples] : [b, numSamples]));
  });
}

/** tf.randomUniform(shape, minval = 0, maxval = 1, dtype = 'float32', seed?): uniform in [minval, maxval) (int32: floored). */
export function randomUniform(shape: number[], minval = 0, maxval = 1, dtype: DataType = 'float32', seed?: number | string): Tensor {
  const dims = shapeArg('randomUniform', shape),
    dt = dtypeArg('randomUniform', dtype, 'float32');
  const r = seedOf(typeof seed === 'string' ? [...seed].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) : seed);
  return scoped('randomUniform', opsDevice(), s => {
    const y = s.make(dims, 'float32');
    if (y.size) native.randomUniform(y, minval, maxval, r.seed, r.offset);
    return s.result(castTo(s, y, dt)); // int32: truncated toward zero, as tfjs
  });
}

// --- elementwise -----------------------------------------------------------------------------------------------

/**
 * A unary op as tfjs types it: 'float' ops compute in float32 and return float32 (an int32 or bool operand cast
 * first); 'floatOnly' ops refuse an int32 or bool tensor (tfjs: "must be float32 tensor"); 'keep' ops compute in
 * float32 and return an int32 operand's dtype, truncated (tfjs's kernels write into the input's typed array);
 * 'same' ops compute an int32 operand in int32 (neg, abs, sign, square, relu, clip); 'bool' ops return bools.
 */
function unary(op: string, native_: UnaryOp, kind: 'float' | 'floatOnly' | 'keep' | 'same' | 'bool', p0 = 0, p1 = 0) {
  return (x: TensorInput): Tensor =>
    scoped(op, deviceOf(x), s => {
      let h = input(s, x, 'x');
      if (kind === 'floatOnly' && x instanceof Tensor && h.dtype !== 'float32')
        throw opError(op, `argument 'x' must be a float32 tensor, but received a ${h.dtype} tensor (as tfjs)`);
      if (h.dtype === 'bool') h = castTo(s, h, kind === 'same' || kind === 'keep' ? 'int32' : 'float32');
      else if (h.dtype === 'int32' && (kind === 'float' || kind === 'floatOnly')) h = castTo(s, h, 'float32');
      // 'keep' and 'same' with int32: computed natively from int32 to int32 (in double, stored as Int32Array does)
      const y = s.make(h.shape, kind === 'bool' ? 'bool' : h.dtype);
      if (y.size) native.mathUnary(native_, h, y, p0, p1);
      return s.result(y);
    });
}

/** tf.neg(x). */ export const neg = unary('neg', 'neg', 'same');
/** tf.abs(x). */ export const abs = unary('abs', 'abs', 'same');
/** tf.sign(x): -1, 0 or 1 (NaN: 0). */ export const sign = unary('sign', 'sign', 'same');
/** tf.square(x). */ export const square = unary('square', 'square', 'same');
/** tf.sqrt(x). */ export const sqrt = unary('sqrt', 'sqrt', 'floatOnly');
/** tf.rsqrt(x): 1 / sqrt(x). */ export const rsqrt = unary('rsqrt', 'rsqrt', 'floatOnly');
/** tf.exp(x). */ export const exp = unary('exp', 'exp', 'float');
/** tf.expm1(x): exp(x) - 1. */ export const expm1 = unary('expm1', 'expm1', 'keep');
/** tf.log(x). */ export const log = unary('log', 'log', 'floatOnly');
/** tf.log1p(x): log(1 + x). */ export const log1p = unary('log1p', 'log1p', 'keep');
/** tf.sin(x). */ export const sin = unary('sin', 'sin', 'floatOnly');
/** tf.cos(x). */ export const cos = unary('cos', 'cos', 'floatOnly');
/** tf.tan(x). */ export const tan = unary('tan', 'tan', 'floatOnly');
/** tf.asin(x). */ export const asin = unary('asin', 'asin', 'keep');
/** tf.acos(x). */ export const acos = unary('acos', 'acos', 'keep');
/** tf.atan(x). */ export const atan = unary('atan', 'atan', 'keep');
/** tf.sinh(x). */ export const sinh = unary('sinh', 'sinh', 'keep');
/** tf.cosh(x). */ export const cosh = unary('cosh', 'cosh', 'floatOnly');
/** tf.tanh(x). */ export const tanh = unary('tanh', 'tanh', 'floatOnly');
/** tf.asinh(x). */ export const asinh = unary('asinh', 'asinh', 'float');
/** tf.acosh(x). */ export const acosh = unary('acosh', 'acosh', 'float');
/** tf.atanh(x). */ export const atanh = unary('atanh', 'atanh', 'float');
/** tf.sigmoid(x). */ export const sigmoid = unary('sigmoid', 'sigmoid', 'floatOnly');
/** tf.softplus(x): log(1 + exp(x)). */ export const softplus = unary('softplus', 'softplus', 'keep');
/** tf.relu(x). */ export const relu = unary('relu', 'relu', 'same');
/** tf.relu6(x): min(max(x, 0), 6). */ export const relu6 = unary('relu6', 'relu6', 'keep');
/** tf.elu(x): x, or exp(x) - 1 below 0. */ export const elu = unary('elu', 'elu', 'floatOnly');
/** tf.selu(x). */ export const selu = unary('selu', 'selu', 'keep');
/** tf.round(x): half to even. */ export const round = unary('round', 'round', 'keep');
/** tf.floor(x). */ export const floor = unary('floor', 'floor', 'floatOnly');
/** tf.ceil(x). */ export const ceil = unary('ceil', 'ceil', 'floatOnly');
/** tf.reciprocal(x): 1 / x. */ export const reciprocal = unary('reciprocal', 'reciprocal', 'keep');
/** tf.erf(x). */ export const erf = unary('erf', 'erf', 'float');
/** tf.isNaN(x): a bool tensor. */ export const isNaN = unary('isNaN', 'is_nan', 'bool');
/** tf.isInf(x): a bool tensor. */ export const isInf = unary('isInf', 'is_inf', 'bool');
/** tf.isFinite(x): a bool tensor. */ export const isFinite = unary('isFinite', 'is_finite', 'bool');

/** tf.logSigmoid(x): log(sigmoid(x)) = -softplus(-x). */
export function logSigmoid(x: TensorInput): Tensor {
  return scoped('logSigmoid', deviceOf(x), s => {
    const h = castTo(s, input(s, x, 'x'), 'float32');
    const a = s.make(h.shape, 'float32'),
      b = s.make(h.shape, 'float32'),
      y = s.make(h.shape, 'float32');
    if (y.size) {
      native.mathUnary('neg', h, a);
      native.mathUnary('softplus', a, b);
      native.mathUnary('neg', b, y);
    }
    return s.result(y);
  });
}
/** tf.leakyRelu(x, alpha = 0.2). */
export const leakyRelu = (x: TensorInput, alpha = 0.2): Tensor => unary('leakyRelu', 'leaky_relu', 'float', alpha)(x);
/** tf.step(x, alpha = 0): 1 above 0, else alpha. */
export const step = (x: TensorInput, alpha = 0): Tensor => unary('step', 'step', 'keep', alpha)(x);
/** tf.clipByValue(x, clipValueMin, clipValueMax). */
export function clipByValue(x: TensorInput, clipValueMin: number, clipValueMax: number): Tensor {
  if (!(clipValueMin <= clipValueMax))
    throw opError('clipByValue', `clipValueMin (${clipValueMin}) must be less than or equal to clipValueMax (${clipValueMax})`, 'ERR_KERNELNET_ARG');
  return unary('clipByValue', 'clip', 'same', clipValueMin, clipValueMax)(x);
}
/** tf.logicalNot(x): x read as bools. */
export function logicalNot(x: TensorInput): Tensor {
  return scoped('logicalNot', deviceOf(x), s => {
    const h = castTo(s, input(s, x, 'x', 'bool'), 'bool');
    const y = s.make(h.shape, 'bool');
    if (y.size) native.mathUnary('logical_not', h, y);
    return s.result(y);
  });
}

/**
 * A binary op with numpy broadcasting: both operands to their upcast dtype (tfjs's makeTypesMatch), 'float' ops
 * in float32, 'logical' ops on bools; comparisons and logical ops give bools.
 */
function binary(op: string, native_: MathBinaryOp, kind: 'same' | 'float' | 'compare' | 'logical' = 'same') {
  return (a: TensorInput, b: TensorInput): Tensor =>
    scoped(op, deviceOf(a, b), s => {
      let x = input(s, a, 'a', kind === 'logical' ? 'bool' : undefined),
        y = input(s, b, 'b', kind === 'logical' ? 'bool' : undefined);
      let dt = kind === 'logical' ? 'bool' : upcast(x.dtype, y.dtype);
      if (kind === 'logical' && (x.dtype !== 'bool' || y.dtype !== 'bool'))
        throw opError(op, `expected bool operands but received ${x.dtype} and ${y.dtype}`);
      if (kind === 'float' || (dt === 'bool' && kind !== 'logical'))
        dt = kind === 'float' ? 'float32' : dt === 'bool' && kind === 'compare' ? 'int32' : 'int32';
      x = castTo(s, x, dt);
      y = castTo(s, y, dt);
      const shape = broadcastShapes(op, x.shape, y.shape);
      const out = s.make(shape, kind === 'compare' || kind === 'logical' ? 'bool' : dt);
      if (out.size) native.mathBinary(native_, x, y, out);
      return s.result(out);
    });
}

/** tf.add(a, b). */ export const add = binary('add', 'add');
/** tf.sub(a, b). */ export const sub = binary('sub', 'sub');
/** tf.mul(a, b). */ export const mul = binary('mul', 'mul');
/** tf.div(a, b): int32 by int32 divides as floorDiv, as tfjs. */ export const div = binary('div', 'div');
/** tf.divNoNan(a, b): a / b, 0 where b is 0. */
export function divNoNan(a: TensorInput, b: TensorInput): Tensor {
  return scoped('divNoNan', deviceOf(a, b), s => {
    let x = input(s, a, 'a'),
      y = input(s, b, 'b');
    const dt = upcast(x.dtype, y.dtype) === 'float32' ? 'float32' : 'int32';
    x = castTo(s, x, dt);
    y = castTo(s, y, dt);
    const shape = broadcastShapes('divNoNan', x.shape, y.shape);
    const q = s.make(shape, dt),
      zero = s.make([], dt),
      isZero = s.make(y.shape, 'bool'),
      out = s.make(shape, dt);
    if (!out.size) return s.result(out);
    native.mathBinary('div', x, y, q);
    zero.fill(0);
    native.mathBinary('equal', y, zero, isZero);
    native.mathSelect(broadcastTo(s, isZero, shape), broadcastTo(s, zero, shape), q, out);
    return s.result(out);
  });
}
/** tf.floorDiv(a, b): floor(a / b), int32 (tfjs's FloorDiv kernel writes int32 whatever it reads). */
export function floorDiv(a: TensorInput, b: TensorInput): Tensor {
  return scoped('floorDiv', deviceOf(a, b), s => {
    let x = input(s, a, 'a'),
      y = input(s, b, 'b');
    const dt = upcast(x.dtype, y.dtype) === 'float32' ? 'float32' : 'int32';
    x = castTo(s, x, dt);
    y = castTo(s, y, dt);
    const out = s.make(broadcastShapes('floorDiv', x.shape, y.shape), 'int32'); // int32 from either dtype
    if (out.size) native.mathBinary('floorDiv', x, y, out);
    return s.result(out);
  });
}
/** tf.pow(base, exp). */ export const pow = binary('pow', 'pow');
/** tf.mod(a, b): the remainder with b's sign (floored). */ export const mod = binary('mod', 'mod');
/** tf.minimum(a, b). */ export const minimum = binary('minimum', 'min');
/** tf.maximum(a, b). */ export const maximum = binary('maximum', 'max');
/** tf.squaredDifference(a, b): (a - b)^2. */ export const squaredDifference = binary('squaredDifference', 'squaredDifference');
/** tf.atan2(a, b). */ export const atan2 = binary('atan2', 'atan2', 'float');
/** tf.prelu(x, alpha): x, or alpha * x below 0. */ export const prelu = binary('prelu', 'prelu', 'float');
/** tf.equal(a, b): a bool tensor. */ export const equal = binary('equal', 'equal', 'compare');
/** tf.notEqual(a, b). */ export const notEqual = binary('notEqual', 'notEqual', 'compare');
/** tf.less(a, b). */ export const less = binary('less', 'less', 'compare');
/** tf.lessEqual(a, b). */ export const lessEqual = binary('lessEqual', 'lessEqual', 'compare');
/** tf.greater(a, b). */ export const greater = binary('greater', 'greater', 'compare');
/** tf.greaterEqual(a, b). */ export const greaterEqual = binary('greaterEqual', 'greaterEqual', 'compare');
/** tf.logicalAnd(a, b): bool operands. */ export const logicalAnd = binary('logicalAnd', 'logicalAnd', 'logical');
/** tf.logicalOr(a, b). */ export const logicalOr = binary('logicalOr', 'logicalOr', 'logical');
/** tf.logicalXor(a, b). */ export const logicalXor = binary('logicalXor', 'logicalXor', 'logical');

/** tf.where(condition, a, b): a where condition is true, else b, the three broadcast together; a bool condition. */
export function where(condition: TensorInput, a: TensorInput, b: TensorInput): Tensor {
  return scoped('where', deviceOf(condition, a, b), s => {
    const c = input(s, condition, 'condition', 'bool');
    if (c.dtype !== 'bool') throw opError('where', `expected condition to be a bool tensor but received ${c.dtype}`);
    let x = input(s, a, 'a'),
      y = input(s, b, 'b');
    const dt = upcast(x.dtype, y.dtype);
    if (x.dtype !== y.dtype) throw opError('where', `a and b must have the same dtype, but received ${x.dtype} and ${y.dtype}`);
    const shape = broadcastShapes('where', broadcastShapes('where', c.shape, x.shape), y.shape);
    x = broadcastTo(s, castTo(s, x, dt), shape);
    y = broadcastTo(s, castTo(s, y, dt), shape);
    const cb = broadcastTo(s, c, shape);
    const out = s.make(shape, dt);
    if (out.size) native.mathSelect(cb, x, y, out);
    return s.result(out);
  });
}

/** tf.addN(tensors): their sum, all of one shape and dtype. */
export function addN(tensors: TensorInput[]): Tensor {
  if (!Array.isArray(tensors) || !tensors.length) throw opError('addN', 'expected a non-empty array of tensors', 'ERR_KERNELNET_ARG');
  return scoped('addN', deviceOf(...tensors), s => {
    const hs = tensors.map((t, i) => input(s, t, `tensors[${i}]`));
    hs.forEach((h, i) => {
      if (h.shape.join() !== hs[0].shape.join() || h.dtype !== hs[0].dtype)
        throw opError('addN', `tensors[${i}] (${h.dtype} [${h.shape}]) differs from tensors[0] (${hs[0].dtype} [${hs[0].shape}])`);
    });
    let acc = copyAs(s, hs[0], hs[0].shape);
    for (const h of hs.slice(1)) {
      const next = s.make(acc.shape, acc.dtype);
      if (next.size) native.mathBinary('add', acc, h, next);
      acc = next;
    }
    return s.result(acc);
  });
}

// --- reductions ------------------------------------------------------------------------------------------------

/**
 * op over the given axes of h: contiguous axes reduce in place ([outer, n, inner]); others are moved last by a
 * transpose first. The result has the kept axes (size-1 ones where keepDims).
 */
function reduceAxes(s: Scope, op: ReduceOp, h: NativeTensor, axes: number[], keepDims: boolean): NativeTensor {
  const shape = h.shape,
    rank = shape.length;
  const kept = shape.map((n, d) => (axes.includes(d) ? (keepDims ? 1 : -1) : n)).filter(n => n >= 0);
  const outDtype: DType = op === 'argMax' || op === 'argMin' ? 'int32' : h.dtype;
  let src = h,
    dims: [number, number, number];
  const contiguous = axes.every((a, i) => i === 0 || a === axes[i - 1] + 1);
  if (!axes.length) dims = [h.size, 1, 1];
  else if (contiguous) dims = [sizeOf(shape.slice(0, axes[0])), sizeOf(axes.map(a => shape[a])), sizeOf(shape.slice(axes[axes.length - 1] + 1))];
  else {
    const perm = [...shape.keys()].filter(d => !axes.includes(d)).concat(axes);
    src = transposeH(s, h, perm);
    const n = sizeOf(axes.map(a => shape[a]));
    dims = [h.size / Math.max(n, 1), n, 1];
    if (n === 0) dims = [sizeOf(perm.slice(0, rank - axes.length).map(d => shape[d])), 0, 1];
  }
  const y = s.make(kept, outDtype);
  if (y.size) {
    if (dims[1] === 0 && (op === 'argMax' || op === 'argMin')) throw opError(op, 'cannot reduce an empty axis');
    native.reduce(op, src, dims, y);
  }
  return y;
}

function reduction(op: string, native_: ReduceOp, input_: 'any' | 'bool' | 'numeric') {
  return (x: TensorInput, axis?: number | number[] | null, keepDims = false): Tensor =>
    scoped(op, deviceOf(x), s => {
      let h = input(s, x, 'x');
      if (input_ === 'bool') h = castTo(s, h, 'bool');
      else if (h.dtype === 'bool') h = castTo(s, h, 'int32'); // tfjs sums bools as int32
      return s.result(reduceAxes(s, native_, h, axesArg(op, axis, h.shape.length), keepDims));
    });
}

/** tf.sum(x, axis?, keepDims = false): a bool or int32 x sums to int32. */ export const sum = reduction('sum', 'sum', 'numeric');
/** tf.prod(x, axis?, keepDims = false). */ export const prod = reduction('prod', 'prod', 'numeric');
/** tf.min(x, axis?, keepDims = false). */ export const min = reduction('min', 'min', 'numeric');
/** tf.max(x, axis?, keepDims = false). */ export const max = reduction('max', 'max', 'numeric');
/** tf.all(x, axis?, keepDims = false): bools. */ export const all = reduction('all', 'all', 'bool');
/** tf.any(x, axis?, keepDims = false): bools. */ export const any = reduction('any', 'any', 'bool');

function argReduce(op: 'argMax' | 'argMin') {
  return (x: TensorInput, axis = 0): Tensor =>
    scoped(op, deviceOf(x), s => {
      let h = input(s, x, 'x');
      if (h.dtype === 'bool') h = castTo(s, h, 'int32');
      return s.result(reduceAxes(s, op, h, [axisArg(op, axis, h.shape.length)], false));
    });
}
/** tf.argMax(x, axis = 0): the index of the first largest value along axis (int32). */ export const argMax = argReduce('argMax');
/** tf.argMin(x, axis = 0): the index of the first smallest value along axis (int32). */ export const argMin = argReduce('argMin');

/** tf.mean(x, axis?, keepDims = false): float32 (an int32 x is cast first). */
export function mean(x: TensorInput, axis?: number | number[] | null, keepDims = false): Tensor {
  return scoped('mean', deviceOf(x), s => s.result(meanH(s, input(s, x, 'x'), axis, keepDims)));
}
function meanH(s: Scope, h: NativeTensor, axis: unknown, keepDims: boolean): NativeTensor {
  const f = castTo(s, h, 'float32');
  const axes = axesArg('mean', axis, f.shape.length);
  const total = reduceAxes(s, 'sum', f, axes, keepDims);
  const n = s.make([], 'float32');
  n.fill(sizeOf(axes.map(a => f.shape[a])));
  const y = s.make(total.shape, 'float32');
  if (y.size) native.mathBinary('div', total, n, y);
  return y;
}

/** tf.moments' result. */
export interface Moments {
  /** The mean over the axes. */
  mean: Tensor;
  /** The variance over the axes (of the population). */
  variance: Tensor;
}

/** tf.moments(x, axes?, keepDims = false): { mean, variance } (the variance of the population). */
export function moments(x: TensorInput, axis?: number | number[] | null, keepDims = false): Moments {
  return scoped('moments', deviceOf(x), s => {
    const h = castTo(s, input(s, x, 'x'), 'float32');
    const axes = axesArg('moments', axis, h.shape.length);
    const m = meanH(s, h, axes, true);
    const d = s.make(h.shape, 'float32');
    if (d.size) native.mathBinary('squaredDifference', h, m, d);
    const v = meanH(s, d, axes, keepDims);
    const meanOut = keepDims ? m : m.reshape(v.shape);
    return { mean: s.result(keepDims ? m : copyAs(s, meanOut, v.shape)), variance: s.result(v) };
  });
}

/** tf.logSumExp(x, axis?, keepDims = false): log(sum(exp(x))), computed from x - max(x). */
export function logSumExp(x: TensorInput, axis?: number | number[] | null, keepDims = false): Tensor {
  return scoped('logSumExp', deviceOf(x), s => s.result(logSumExpH(s, castTo(s, input(s, x, 'x'), 'float32'), axis, keepDims)));
}

function logSumExpH(s: Scope, h: NativeTensor, axis: unknown, keepDims: boolean): NativeTensor {
  {
    const axes = axesArg('logSumExp', axis, h.shape.length);
    const m = reduceAxes(s, 'max', h, axes, true);
    const d = s.make(h.shape, 'float32');
    if (d.size) native.mathBinary('sub', h, m, d);
    const e = s.make(h.shape, 'float32');
    if (e.size) native.mathUnary('exp', d, e);
    const total = reduceAxes(s, 'sum', e, axes, true);
    const l = s.make(total.shape, 'float32');
    if (l.size) native.mathUnary('log', total, l);
    const y = s.make(total.shape, 'float32');
    if (y.size) native.mathBinary('add', l, m, y);
    return keepDims
      ? y
      : copyAs(
          s,
          y,
          h.shape.filter((_, i) => !axes.includes(i)),
        );
  }
}

/** tf.norm(x, ord = 'euclidean', axis?, keepDims = false): a vector norm over axis, or a matrix norm over two axes. */
export function norm(x: TensorInput, ord: number | 'euclidean' | 'fro' = 'euclidean', axis?: number | number[] | null, keepDims = false): Tensor {
  return scoped('norm', deviceOf(x), s => {
    const h = castTo(s, input(s, x, 'x'), 'float32');
    const axes = axesArg('norm', axis, h.shape.length);
    const a = s.make(h.shape, 'float32');
    if (!h.shape.length) {
      // tfjs: the norm of a scalar is its absolute value, whatever the ord
      native.mathUnary('abs', h, a);
      return s.result(a);
    }
    if (a.size) native.mathUnary('abs', h, a);
    const vector = axes.length === 1 || axis === undefined || axis === null;
    if (!vector && axes.length !== 2) throw opError('norm', `expected one or two axes but received ${describe(axis)}`, 'ERR_KERNELNET_ARG');
    if (vector && ord === 'fro') throw opError('norm', "ord 'fro' is a matrix norm: give two axes", 'ERR_KERNELNET_ARG');
    if (vector || ord === 'fro' || ord === 'euclidean') {
      if (!vector && ord !== 'fro' && ord !== 'euclidean')
        throw opError('norm', `ord ${ord} over two axes is not supported`, 'ERR_KERNELNET_UNSUPPORTED');
      if (ord === Infinity) return s.result(reduceAxes(s, 'max', a, axes, keepDims));
      if (ord === -Infinity) return s.result(reduceAxes(s, 'min', a, axes, keepDims));
      if (ord === 1) return s.result(reduceAxes(s, 'sum', a, axes, keepDims));
      if (ord === 'euclidean' || ord === 'fro' || ord === 2) {
        const q = s.make(h.shape, 'float32');
        if (q.size) native.mathUnary('square', a, q);
        const t = reduceAxes(s, 'sum', q, axes, keepDims);
        const y = s.make(t.shape, 'float32');
        if (y.size) native.mathUnary('sqrt', t, y);
        return s.result(y);
      }
      if (typeof ord === 'number' && ord !== 0) {
        // (sum |x|^p)^(1/p)
        const p = s.make([], 'float32');
        p.fill(ord);
        const q = s.make(h.shape, 'float32');
        if (q.size) native.mathBinary('pow', a, p, q);
        const t = reduceAxes(s, 'sum', q, axes, keepDims);
        const ip = s.make([], 'float32');
        ip.fill(1 / ord);
        const y = s.make(t.shape, 'float32');
        if (y.size) native.mathBinary('pow', t, ip, y);
        return s.result(y);
      }
      throw opError('norm', `ord ${String(ord)} is not supported`, 'ERR_KERNELNET_UNSUPPORTED');
    }
    // matrix norms: 1 = the largest column sum, Infinity = the largest row sum (of |x|)
    if (ord !== 1 && ord !== Infinity && ord !== -Infinity && ord !== -1)
      throw opError('norm', `ord ${ord} over two axes is not supported`, 'ERR_KERNELNET_UNSUPPORTED');
    const [r, c] = axes;
    const inner = reduceAxes(s, 'sum', a, [Math.abs(ord) === 1 ? r : c], true);
    const y = reduceAxes(s, ord > 0 ? 'max' : 'min', inner, [Math.abs(ord) === 1 ? c : r], true);
    // without keepDims both axes go (the first reduction kept its axis for the second)
    return s.result(
      keepDims
        ? y
        : copyAs(
            s,
            y,
            y.shape.filter((_, d) => d !== r && d !== c),
          ),
    );
  });
}

function cumulative(op: 'cumsum' | 'cumprod', nativeOp: 'add' | 'mul') {
  return (x: TensorInput, axis = 0, exclusive = false, reverse = false): Tensor =>
    scoped(op, deviceOf(x), s => {
      let h = input(s, x, 'x');
      if (h.dtype === 'bool') h = castTo(s, h, 'int32');
      const a = axisArg(op, axis, h.shape.length);
      const y = s.make(h.shape, h.dtype);
      if (y.size) native.scan(nativeOp, h, [sizeOf(h.shape.slice(0, a)), h.shape[a] ?? 1, sizeOf(h.shape.slice(a + 1))], !!exclusive, !!reverse, y);
      return s.result(y);
    });
}
/** tf.cumsum(x, axis = 0, exclusive = false, reverse = false). */ export const cumsum = cumulative('cumsum', 'add');
/** tf.cumprod(x, axis = 0, exclusive = false, reverse = false). */ export const cumprod = cumulative('cumprod', 'mul');

// --- shapes ------------------------------------------------------------------------------------------------------

function transposeH(s: Scope, h: NativeTensor, perm: number[]): NativeTensor {
  const st = stridesOf(h.shape);
  const y = s.make(
    perm.map(p => h.shape[p]),
    h.dtype,
  );
  if (y.size)
    native.stridedCopy(
      h,
      y,
      perm.map(p => st[p]),
      0,
    );
  return y;
}

/** tf.transpose(x, perm?): axes permuted (reversed by default). */
export function transpose(x: TensorInput, perm?: number[]): Tensor {
  return scoped('transpose', deviceOf(x), s => {
    const h = input(s, x, 'x'),
      rank = h.shape.length;
    const p = perm ?? [...h.shape.keys()].reverse();
    if (!Array.isArray(p) || p.length !== rank || [...p].sort((a, b) => a - b).some((v, i) => v !== i))
      throw opError('transpose', `expected perm to be a permutation of [0, ${rank}) but received ${describe(perm)}`, 'ERR_KERNELNET_ARG');
    return s.result(transposeH(s, h, p));
  });
}

/** tf.reshape(x, shape): the same values in another shape (one axis may be -1). A copy: it outlives x. */
export function reshape(x: TensorInput, shape: number[]): Tensor {
  return scoped('reshape', deviceOf(x), s => {
    const h = input(s, x, 'x');
    return s.result(copyAs(s, h, inferShape('reshape', shape, h.size)));
  });
}

/** shape with its -1 filled in for a tensor of `size` values. */
export function inferShape(op: string, shape: unknown, size: number): number[] {
  if (!Array.isArray(shape) || shape.filter(d => d === -1).length > 1 || !shape.every(d => d === -1 || (Number.isInteger(d) && d >= 0)))
    throw opError(op, `expected shape to be non-negative integers with at most one -1 but received ${describe(shape)}`, 'ERR_KERNELNET_ARG');
  const known = (shape as number[]).reduce((a, d) => (d === -1 ? a : a * d), 1);
  const dims = (shape as number[]).map(d => (d === -1 ? (known ? size / known : NaN) : d));
  if (!dims.every(Number.isInteger) || sizeOf(dims) !== size)
    throw opError(op, `the new shape [${shape as number[]}] has a different size from the tensor's ${size} values`);
  return dims;
}

/** tf.expandDims(x, axis = 0): a size-1 axis inserted. */
export function expandDims(x: TensorInput, axis = 0): Tensor {
  return scoped('expandDims', deviceOf(x), s => {
    const h = input(s, x, 'x'),
      rank = h.shape.length;
    if (!Number.isInteger(axis) || axis < -(rank + 1) || axis > rank)
      throw opError('expandDims', `expected axis in [${-(rank + 1)}, ${rank}] but received ${describe(axis)}`, 'ERR_KERNELNET_ARG');
    const a = axis < 0 ? axis + rank + 1 : axis;
    return s.result(copyAs(s, h, [...h.shape.slice(0, a), 1, ...h.shape.slice(a)]));
  });
}

/** tf.squeeze(x, axis?): size-1 axes removed (those given, each of size 1, or all). */
export function squeeze(x: TensorInput, axis?: number[]): Tensor {
  return scoped('squeeze', deviceOf(x), s => {
    const h = input(s, x, 'x');
    // tfjs: no axes (undefined or []) squeezes every size-1 axis
    const axes =
      axis === undefined || axis === null || (Array.isArray(axis) && !axis.length)
        ? h.shape.map((n, d) => (n === 1 ? d : -1)).filter(d => d >= 0)
        : axesArg('squeeze', axis, h.shape.length);
    for (const a of axes) if (h.shape[a] !== 1) throw opError('squeeze', `cannot squeeze axis ${a} of size ${h.shape[a]} (shape [${h.shape}])`);
    return s.result(
      copyAs(
        s,
        h,
        h.shape.filter((_, d) => !axes.includes(d)),
      ),
    );
  });
}

/** tf.broadcastTo(x, shape). */
export function broadcastToOp(x: TensorInput, shape: number[]): Tensor {
  return scoped('broadcastTo', deviceOf(x), s => {
    const h = input(s, x, 'x');
    const dims = shapeArg('broadcastTo', shape);
    if (dims.length < h.shape.length) throw opError('broadcastTo', `shape [${dims}] has a lower rank than x [${h.shape}]`);
    const b = broadcastShapes('broadcastTo', h.shape, dims);
    if (b.join() !== dims.join()) throw opError('broadcastTo', `x [${h.shape}] does not broadcast to [${dims}]`);
    const y = broadcastTo(s, h, dims);
    return s.result(y === h ? copyAs(s, h, dims) : y);
  });
}

/** tf.tile(x, reps): x repeated reps[d] times along each axis. */
export function tile(x: TensorInput, reps: number[]): Tensor {
  return scoped('tile', deviceOf(x), s => {
    let h = input(s, x, 'x');
    const rank = h.shape.length;
    if (!Array.isArray(reps) || reps.length !== rank || !reps.every(r => Number.isInteger(r) && r >= 0))
      throw opError('tile', `expected reps to be ${rank} non-negative integers but received ${describe(reps)}`, 'ERR_KERNELNET_ARG');
    // one axis at a time: [outer, n, inner] viewed as [outer, r, n, inner] with stride 0 on r
    for (let d = 0; d < rank; ++d) {
      if (reps[d] === 1) continue;
      const outer = sizeOf(h.shape.slice(0, d)),
        n = h.shape[d],
        inner = sizeOf(h.shape.slice(d + 1));
      const shape = [...h.shape];
      shape[d] *= reps[d];
      const y = s.make([outer, reps[d], n, inner], h.dtype);
      if (y.size) native.stridedCopy(h, y, [n * inner, 0, inner, 1], 0);
      h = y.reshape(shape);
    }
    return s.result(copyAs(s, h, h.shape));
  });
}

/** tf.reverse(x, axis?): x reversed along the given axes (all by default). */
export function reverse(x: TensorInput, axis?: number | number[]): Tensor {
  return scoped('reverse', deviceOf(x), s => s.result(reverseH(s, input(s, x, 'x'), axis)));
}

function reverseH(s: Scope, h: NativeTensor, axis: unknown): NativeTensor {
  {
    const axes = axesArg('reverse', axis, h.shape.length);
    const st = stridesOf(h.shape);
    let offset = 0;
    const strides = h.shape.map((n, d) => {
      if (!axes.includes(d)) return st[d];
      offset += (n - 1) * st[d];
      return -st[d];
    });
    const y = s.make(h.shape, h.dtype);
    if (y.size) native.stridedCopy(h, y, strides, offset);
    return y;
  }
}

/** tf.slice(x, begin, size?): the box from begin (size -1: to the end of the axis). */
export function slice(x: TensorInput, begin: number | number[], size?: number | number[]): Tensor {
  return scoped('slice', deviceOf(x), s => {
    const h = input(s, x, 'x'),
      shape = h.shape;
    const b = typeof begin === 'number' ? [begin, ...shape.slice(1).map(() => 0)] : begin;
    const z = size === undefined ? [] : typeof size === 'number' ? [size, ...shape.slice(1).map(() => -1)] : size;
    if (!Array.isArray(b) || b.length > shape.length || !b.every(v => Number.isInteger(v) && v >= 0))
      throw opError(
        'slice',
        `expected begin to be at most ${shape.length} non-negative integers but received ${describe(begin)}`,
        'ERR_KERNELNET_ARG',
      );
    if (!Array.isArray(z) || z.length > shape.length || !z.every(v => Number.isInteger(v) && v >= -1))
      throw opError(
        'slice',
        `expected size to be at most ${shape.length} integers (-1: to the end) but received ${describe(size)}`,
        'ERR_KERNELNET_ARG',
      );
    const from = shape.map((_, d) => b[d] ?? 0);
    const count = shape.map((n, d) => (z[d] === undefined || z[d] === -1 ? n - from[d] : z[d]));
    const bad = shape.findIndex((n, d) => count[d] < 0 || from[d] + count[d] > n);
    if (bad >= 0) throw opError('slice', `begin [${from}] and size [${count}] run past the shape [${shape}] at axis ${bad}`);
    const st = stridesOf(shape);
    const y = s.make(count, h.dtype);
    if (y.size)
      native.stridedCopy(
        h,
        y,
        st,
        from.reduce((o, f, d) => o + f * st[d], 0),
      );
    return s.result(y);
  });
}

/** @internal stridedSlice's selection on each axis of `shape`: the first index, how many, the step, and whether the axis is dropped (shrinkAxisMask). */
export function stridedAxes(
  shape: readonly number[],
  begin: number[],
  end: number[],
  strides: number[] | undefined,
  beginMask: number,
  endMask: number,
  shrinkAxisMask: number,
): { b: number; count: number; step: number; shrink: boolean }[] {
  return shape.map((n, d) => {
    const step = strides?.[d] ?? 1;
    if (!Number.isInteger(step) || step === 0) throw opError('stridedSlice', `strides[${d}] must be a non-zero integer`, 'ERR_KERNELNET_ARG');
    const norm = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + n : v, lo), hi);
    let b: number, e: number;
    if (shrinkAxisMask & (1 << d)) {
      b = (begin[d] ?? 0) < 0 ? (begin[d] ?? 0) + n : (begin[d] ?? 0);
      if (b < 0 || b >= n) throw opError('stridedSlice', `index ${begin[d]} is out of range for axis ${d} of size ${n}`);
      return { b, count: 1, step: 1, shrink: true };
    }
    if (step > 0) {
      b = beginMask & (1 << d) || begin[d] === undefined ? 0 : norm(begin[d], 0, n);
      e = endMask & (1 << d) || end[d] === undefined ? n : norm(end[d], 0, n);
    } else {
      b = beginMask & (1 << d) || begin[d] === undefined ? n - 1 : norm(begin[d], -1, n - 1);
      e = endMask & (1 << d) || end[d] === undefined ? -1 : norm(end[d], -1, n - 1);
    }
    return { b, count: Math.max(0, Math.ceil((e - b) / step)), step, shrink: false };
  });
}

/**
 * tf.stridedSlice(x, begin, end, strides?, beginMask = 0, endMask = 0, ellipsisMask = 0, newAxisMask = 0,
 * shrinkAxisMask = 0): Python's x[begin:end:stride] per axis (negative indices count from the end; a mask bit
 * ignores that axis's begin or end; shrinkAxisMask drops an axis after taking index begin).
 */
export function stridedSlice(
  x: TensorInput,
  begin: number[],
  end: number[],
  strides?: number[],
  beginMask = 0,
  endMask = 0,
  ellipsisMask = 0,
  newAxisMask = 0,
  shrinkAxisMask = 0,
): Tensor {
  if (ellipsisMask || newAxisMask) throw opError('stridedSlice', 'ellipsisMask and newAxisMask are not supported', 'ERR_KERNELNET_UNSUPPORTED');
  return scoped('stridedSlice', deviceOf(x), s => {
    const h = input(s, x, 'x'),
      st = stridesOf(h.shape);
    const dims: number[] = [],
      vstrides: number[] = [];
    let offset = 0;
    stridedAxes(h.shape, begin, end, strides, beginMask, endMask, shrinkAxisMask).forEach(({ b, count, step, shrink }, d) => {
      if (!shrink) {
        dims.push(count);
        vstrides.push(step * st[d]);
      }
      if (count) offset += b * st[d];
    });
    const y = s.make(dims, h.dtype);
    if (y.size) native.stridedCopy(h, y, vstrides, offset);
    return s.result(y);
  });
}

function concatH(s: Scope, hs: NativeTensor[], a: number): NativeTensor {
  const first = hs[0],
    rank = first.shape.length;
  hs.forEach((h, i) => {
    if (h.shape.length !== rank || h.shape.some((n, d) => d !== a && n !== first.shape[d]))
      throw opError('concat', `tensors[${i}] ([${h.shape}]) does not join tensors[0] ([${first.shape}]) along axis ${a}`);
  });
  const shape = [...first.shape];
  shape[a] = hs.reduce((n, h) => n + h.shape[a], 0);
  const out = s.make(shape, first.dtype);
  let at = 0;
  for (const h of hs) {
    if (h.size)
      native.copyRegion(
        h,
        h.shape.map(() => 0),
        out,
        h.shape.map((_, d) => (d === a ? at : 0)),
        h.shape,
      );
    at += h.shape[a];
  }
  return out;
}

/** tf.concat(tensors, axis = 0): the dtypes upcast to a common one. */
export function concat(tensors: TensorInput[], axis = 0): Tensor {
  if (!Array.isArray(tensors) || !tensors.length) throw opError('concat', 'expected a non-empty array of tensors', 'ERR_KERNELNET_ARG');
  return scoped('concat', deviceOf(...tensors), s => {
    const hs = tensors.map((t, i) => input(s, t, `tensors[${i}]`));
    const dt = hs.map(h => h.dtype).reduce(upcast);
    const rank = hs[0].shape.length;
    if (rank === 0) throw opError('concat', 'cannot concatenate scalars (rank 0): use stack');
    const a = axisArg('concat', axis, rank);
    return s.result(
      concatH(
        s,
        hs.map(h => castTo(s, h, dt)),
        a,
      ),
    );
  });
}

/** tf.stack(tensors, axis = 0): tensors of one shape joined along a new axis. */
export function stack(tensors: TensorInput[], axis = 0): Tensor {
  if (!Array.isArray(tensors) || !tensors.length) throw opError('stack', 'expected a non-empty array of tensors', 'ERR_KERNELNET_ARG');
  return scoped('stack', deviceOf(...tensors), s => {
    const hs = tensors.map((t, i) => input(s, t, `tensors[${i}]`));
    hs.forEach((h, i) => {
      if (h.shape.join() !== hs[0].shape.join()) throw opError('stack', `tensors[${i}] has shape [${h.shape}], tensors[0] [${hs[0].shape}]`);
    });
    const rank = hs[0].shape.length;
    if (!Number.isInteger(axis) || axis < -(rank + 1) || axis > rank)
      throw opError('stack', `axis ${axis} is out of range for rank ${rank + 1}`, 'ERR_KERNELNET_ARG');
    const a = axis < 0 ? axis + rank + 1 : axis;
    const dt = hs.map(h => h.dtype).reduce(upcast);
    const shape = [...hs[0].shape.slice(0, a), 1, ...hs[0].shape.slice(a)];
    return s.result(
      concatH(
        s,
        hs.map(h => castTo(s, h, dt).reshape(shape)),
        a,
      ),
    );
  });
}

/** tf.unstack(x, axis = 0): the slices along axis, each without it. */
export function unstack(x: TensorInput, axis = 0): Tensor[] {
  return scoped('unstack', deviceOf(x), s => {
    const h = input(s, x, 'x');
    const a = axisArg('unstack', axis, h.shape.length);
    const st = stridesOf(h.shape);
    const shape = h.shape.filter((_, d) => d !== a);
    return Array.from({ length: h.shape[a] }, (_, i) => {
      const y = s.make(shape, h.dtype);
      if (y.size)
        native.stridedCopy(
          h,
          y,
          st.filter((_, d) => d !== a),
          i * st[a],
        );
      return s.result(y);
    });
  });
}

/** tf.split(x, numOrSizeSplits, axis = 0): equal parts, or parts of the given sizes (one may be -1). */
export function split(x: TensorInput, numOrSizeSplits: number | number[], axis = 0): Tensor[] {
  return scoped('split', deviceOf(x), s => {
    const h = input(s, x, 'x');
    const a = axisArg('split', axis, h.shape.length),
      n = h.shape[a];
    let sizes: number[];
    if (typeof numOrSizeSplits === 'number') {
      if (!Number.isInteger(numOrSizeSplits) || numOrSizeSplits <= 0 || n % numOrSizeSplits)
        throw opError('split', `number of splits must evenly divide the axis (${n}), but received ${describe(numOrSizeSplits)}`);
      sizes = new Array(numOrSizeSplits).fill(n / numOrSizeSplits);
    } else {
      const given = numOrSizeSplits;
      if (!Array.isArray(given) || given.filter(v => v === -1).length > 1 || !given.every(v => v === -1 || (Number.isInteger(v) && v >= 0)))
        throw opError('split', `expected sizes to be non-negative integers with at most one -1 but received ${describe(given)}`, 'ERR_KERNELNET_ARG');
      // tfjs's prepareSplitSize: the -1 gets n minus a total summed without a start value (so a leading -1 counts
      // as -1 in it, and such a split fails the sum check below, as in tfjs)
      const known = given.reduce((p, c) => (c > 0 ? p + c : p));
      sizes = given.map(v => (v === -1 ? n - known : v));
      if (sizes.some(v => v < 0)) throw opError('split', `the sizes [${given}] must sum to the axis (${n})`);
      if (sizes.reduce((p, c) => p + c, 0) !== n) throw opError('split', `the sizes [${numOrSizeSplits}] must sum to the axis (${n})`);
    }
    const st = stridesOf(h.shape);
    let at = 0;
    return sizes.map(size => {
      const shape = [...h.shape];
      shape[a] = size;
      const y = s.make(shape, h.dtype);
      if (y.size) native.stridedCopy(h, y, st, at * st[a]);
      at += size;
      return s.result(y);
    });
  });
}

/** tf.gather(x, indices, axis = 0, batchDims = 0): the slices at indices along axis (each index checked). */
export function gather(x: TensorInput, indices: TensorInput, axis = 0, batchDims = 0): Tensor {
  if (batchDims !== 0) throw opError('gather', 'batchDims other than 0 is not supported', 'ERR_KERNELNET_UNSUPPORTED');
  return scoped('gather', deviceOf(x, indices), s => {
    const h = input(s, x, 'x');
    let idx = input(s, indices, 'indices', 'int32');
    if (idx.dtype !== 'int32') throw opError('gather', `expected indices to be int32 but received ${idx.dtype}`);
    const a = axisArg('gather', axis, h.shape.length),
      n = h.shape[a];
    const values = idx.read();
    const bad = values.findIndex(v => v < 0 || v >= n);
    if (bad >= 0) throw opError('gather', `indices[${bad}] = ${values[bad]} is not in [0, ${n})`);
    const shape = [...h.shape.slice(0, a), ...idx.shape, ...h.shape.slice(a + 1)];
    idx = idx.reshape([idx.size]);
    const y = s.make(shape, h.dtype);
    if (y.size) native.gatherAxis(h, [sizeOf(h.shape.slice(0, a)), n, sizeOf(h.shape.slice(a + 1))], idx, y);
    return s.result(y);
  });
}

/** tf.pad(x, paddings, constantValue = 0): paddings[d] = [before, after] for each axis. */
export function pad(x: TensorInput, paddings: Array<[number, number]>, constantValue = 0): Tensor {
  return scoped('pad', deviceOf(x), s => {
    const h = input(s, x, 'x');
    if (
      !Array.isArray(paddings) ||
      paddings.length !== h.shape.length ||
      !paddings.every(p => Array.isArray(p) && p.length === 2 && p.every(v => Number.isInteger(v) && v >= 0))
    )
      throw opError(
        'pad',
        `expected paddings to be ${h.shape.length} pairs of non-negative integers but received ${describe(paddings)}`,
        'ERR_KERNELNET_ARG',
      );
    const shape = h.shape.map((n, d) => n + paddings[d][0] + paddings[d][1]);
    const y = s.make(shape, h.dtype);
    if (y.size) y.fill(constantValue);
    if (h.size)
      native.copyRegion(
        h,
        h.shape.map(() => 0),
        y,
        paddings.map(p => p[0]),
        h.shape,
      );
    return s.result(y);
  });
}

// --- linear algebra ------------------------------------------------------------------------------------------------

/**
 * tf.matMul(a, b, transposeA = false, transposeB = false): rank >= 2, the batch axes broadcast (as tfjs); float32
 * (int32 operands are computed in float32 and cast back).
 */
export function matMul(a: TensorInput, b: TensorInput, transposeA = false, transposeB = false): Tensor {
  return scoped('matMul', deviceOf(a, b), s => s.result(matMulH(s, input(s, a, 'a'), input(s, b, 'b'), transposeA, transposeB)));
}

function matMulH(s: Scope, x: NativeTensor, y: NativeTensor, transposeA: boolean, transposeB: boolean): NativeTensor {
  {
    const dt = upcast(x.dtype, y.dtype);
    if (x.shape.length < 2 || y.shape.length < 2)
      throw opError('matMul', `expected operands of rank >= 2 but received [${x.shape}] and [${y.shape}]`);
    x = castTo(s, x, 'float32');
    y = castTo(s, y, 'float32');
    const swapLast = (h: NativeTensor) => {
      const r = h.shape.length;
      return transposeH(
        s,
        h,
        [...h.shape.keys()].map(d => (d === r - 2 ? r - 1 : d === r - 1 ? r - 2 : d)),
      );
    };
    if (transposeA) x = swapLast(x);
    if (transposeB) y = swapLast(y);
    const [m, k] = x.shape.slice(-2),
      [k2, n] = y.shape.slice(-2);
    if (k !== k2)
      throw opError(
        'matMul',
        `inner dimensions of a ([${x.shape}]) and b ([${y.shape}]) must match (transposeA=${transposeA}, transposeB=${transposeB})`,
      );
    const batch = broadcastShapes('matMul', x.shape.slice(0, -2), y.shape.slice(0, -2));
    const nb = sizeOf(batch);
    const aRepeat = sizeOf(x.shape.slice(0, -2)) === 1 && nb > 1,
      bRepeat = sizeOf(y.shape.slice(0, -2)) === 1 && nb > 1;
    if (!aRepeat) x = broadcastTo(s, x, [...batch, m, k]);
    if (!bRepeat) y = broadcastTo(s, y, [...batch, k, n]);
    const out = s.make([...batch, m, n], 'float32');
    if (out.size) native.batchMatmul(x, y, out, [nb, m, k, n], aRepeat, bRepeat);
    return castTo(s, out, dt === 'bool' ? 'int32' : dt);
  }
}

/** tf.dot(a, b): vector or matrix product of rank-1 or rank-2 tensors. */
export function dot(a: TensorInput, b: TensorInput): Tensor {
  return scoped('dot', deviceOf(a, b), s => {
    const x = input(s, a, 't1'),
      y = input(s, b, 't2');
    const ra = x.shape.length,
      rb = y.shape.length;
    if (ra < 1 || ra > 2 || rb < 1 || rb > 2) throw opError('dot', `expected rank-1 or rank-2 tensors but received [${x.shape}] and [${y.shape}]`);
    const x2 = ra === 1 ? x.reshape([1, x.shape[0]]) : x;
    const y2 = rb === 1 ? y.reshape([y.shape[0], 1]) : y;
    const r = matMulH(s, x2, y2, false, false);
    const shape = [...(ra === 2 ? [x.shape[0]] : []), ...(rb === 2 ? [y.shape[1]] : [])];
    return s.result(copyAs(s, r, shape));
  });
}

/** tf.outerProduct(v1, v2): [m] x [n] -> [m, n]. */
export function outerProduct(v1: TensorInput, v2: TensorInput): Tensor {
  return scoped('outerProduct', deviceOf(v1, v2), s => {
    const x = input(s, v1, 'v1'),
      y = input(s, v2, 'v2');
    if (x.shape.length !== 1 || y.shape.length !== 1)
      throw opError('outerProduct', `expected rank-1 tensors but received [${x.shape}] and [${y.shape}]`);
    const dt = upcast(x.dtype, y.dtype);
    const out = s.make([x.shape[0], y.shape[0]], dt === 'bool' ? 'int32' : dt);
    if (out.size) native.mathBinary('mul', castTo(s, x, out.dtype).reshape([x.shape[0], 1]), castTo(s, y, out.dtype).reshape([1, y.shape[0]]), out);
    return s.result(out);
  });
}

// --- softmax, topk -------------------------------------------------------------------------------------------------

/** tf.softmax(logits, dim = -1): over the last axis. */
export function softmax(logits: TensorInput, dim = -1): Tensor {
  return scoped('softmax', deviceOf(logits), s => {
    const h = castTo(s, input(s, logits, 'logits'), 'float32');
    const rank = h.shape.length;
    if (rank === 0 || axisArg('softmax', dim, rank, 'dim') !== rank - 1)
      throw opError(
        'softmax',
        `softmax along a non-last dimension is not yet supported (logits [${h.shape}], dim ${dim})`,
        'ERR_KERNELNET_UNSUPPORTED',
      );
    const k = h.shape[rank - 1];
    const y = s.make(h.shape, 'float32');
    if (y.size) native.softmax(h.reshape([h.size / k, k]), y.reshape([h.size / k, k]));
    return s.result(y);
  });
}

/** tf.logSoftmax(logits, axis = -1): logits - logSumExp(logits) over the last axis. */
export function logSoftmax(logits: TensorInput, axis = -1): Tensor {
  return scoped('logSoftmax', deviceOf(logits), s => {
    const h = castTo(s, input(s, logits, 'logits'), 'float32');
    const rank = h.shape.length;
    if (rank === 0 || axisArg('logSoftmax', axis, rank) !== rank - 1)
      throw opError(
        'logSoftmax',
        `logSoftmax along a non-last axis is not yet supported (logits [${h.shape}], axis ${axis})`,
        'ERR_KERNELNET_UNSUPPORTED',
      );
    const lse = logSumExpH(s, h, rank - 1, true);
    const y = s.make(h.shape, 'float32');
    if (y.size) native.mathBinary('sub', h, lse, y);
    return s.result(y);
  });
}

/** tf.topk's result. */
export interface TopKResult {
  /** The k largest values along the last axis, descending. */
  values: Tensor;
  /** Their indices along the last axis (int32). */
  indices: Tensor;
}

/** tf.topk(x, k = 1, sorted = true): the k largest values of the last axis, descending, and their indices. */
export function topk(x: TensorInput, k = 1, sorted = true): TopKResult {
  return scoped('topk', deviceOf(x), s => {
    const h0 = input(s, x, 'x');
    const h = castTo(s, h0, 'float32');
    const rank = h.shape.length;
    if (rank === 0) throw opError('topk', 'expected x of rank >= 1');
    const n = h.shape[rank - 1];
    if (!Number.isInteger(k) || k < 0 || k > n) throw opError('topk', `k (${describe(k)}) must be in [0, ${n}]`, 'ERR_KERNELNET_ARG');
    void sorted; // always sorted, as tfjs's CPU backend returns them
    const shape = [...h.shape.slice(0, -1), k];
    const v = s.make(shape, 'float32'),
      i = s.make(shape, 'int32');
    native.topk(h, k, v, i);
    return { values: s.result(castTo(s, v, h0.dtype === 'bool' ? 'int32' : h0.dtype)), indices: s.result(i) };
  });
}

// --- images ------------------------------------------------------------------------------------------------------

function resize(op: string, bilinear: boolean) {
  return (images: TensorInput, size: [number, number], alignCorners = false, halfPixelCenters = false): Tensor =>
    scoped(op, deviceOf(images), s => {
      const given = input(s, images, 'images');
      let h = castTo(s, given, 'float32');
      const batched = h.shape.length === 4;
      if (h.shape.length !== 3 && !batched) throw opError(op, `expected images of rank 3 or 4 but received [${h.shape}]`);
      if (!Array.isArray(size) || size.length !== 2 || !size.every(v => Number.isInteger(v) && v > 0))
        throw opError(op, `expected size to be [newHeight, newWidth] (positive integers) but received ${describe(size)}`, 'ERR_KERNELNET_ARG');
      if (alignCorners && halfPixelCenters) throw opError(op, 'if halfPixelCenters is true, alignCorners must be false', 'ERR_KERNELNET_ARG');
      if (!batched) h = h.reshape([1, ...h.shape]);
      const y = s.make([h.shape[0], size[0], size[1], h.shape[3]], 'float32');
      if (y.size) native.resize2d(h, y, bilinear, alignCorners, halfPixelCenters);
      // nearest keeps an int32 image's dtype (tfjs); bilinear interpolates in float32
      const typed = !bilinear && given.dtype === 'int32' ? castTo(s, y, 'int32') : y;
      return s.result(batched ? typed : copyAs(s, typed, typed.shape.slice(1)));
    });
}

/** tf.image: resizeBilinear, resizeNearestNeighbor, flipLeftRight (NHWC float32 images). */
export const image = {
  /** resizeBilinear(images, [newHeight, newWidth], alignCorners = false, halfPixelCenters = false). */
  resizeBilinear: resize('resizeBilinear', true),
  /** resizeNearestNeighbor(images, [newHeight, newWidth], alignCorners = false, halfPixelCenters = false). */
  resizeNearestNeighbor: resize('resizeNearestNeighbor', false),
  /** flipLeftRight(images [N, H, W, C]): each image mirrored left to right. */
  flipLeftRight(images: TensorInput): Tensor {
    return scoped('flipLeftRight', deviceOf(images), s => {
      const h = input(s, images, 'images');
      if (h.shape.length !== 4) throw opError('flipLeftRight', `expected images of rank 4 but received [${h.shape}]`);
      if (h.dtype !== 'float32') throw opError('flipLeftRight', `argument 'image' must be a float32 tensor, but received ${h.dtype} (as tfjs)`);
      return s.result(reverseH(s, h, 2));
    });
  },
};

// --- tfjs's rank-checked spellings and small extras ---------------------------------------------------------------

/** @internal fn, refusing a Tensor operand (args[pick]) of another rank than `rank`: tfjs's pad2d, slice3d, ... */
export function ranked<A extends unknown[]>(name: string, rank: number, fn: (x: TensorInput, ...a: A) => Tensor, pick = 0) {
  return (...args: [TensorInput, ...A]): Tensor => {
    const x = args[pick];
    if (x instanceof Tensor && x.shape.length !== rank) throw opError(name, `expected a rank-${rank} tensor but received [${x.shape}]`);
    return fn(...args);
  };
}
/** tf.euclideanNorm(x, axis?, keepDims = false). */
export const euclideanNorm = (x: TensorInput, axis?: number | number[] | null, keepDims = false): Tensor => norm(x, 'euclidean', axis, keepDims);
/** tf.concat1d(tensors). */ export const concat1d = (tensors: TensorInput[]): Tensor => concat(tensors, 0);
/** tf.concat2d(tensors, axis). */ export const concat2d = (tensors: TensorInput[], axis: number): Tensor => concat(tensors, axis);
/** tf.concat3d(tensors, axis). */ export const concat3d = (tensors: TensorInput[], axis: number): Tensor => concat(tensors, axis);
/** tf.concat4d(tensors, axis). */ export const concat4d = (tensors: TensorInput[], axis: number): Tensor => concat(tensors, axis);
/** tf.pad1d(x, paddings, constantValue). */
export const pad1d = (x: TensorInput, paddings: [number, number], c = 0): Tensor => ranked('pad1d', 1, pad)(x, [paddings], c);
/** tf.pad2d(x, paddings, constantValue). */
export const pad2d = ranked('pad2d', 2, pad);
/** tf.pad3d(x, paddings, constantValue). */
export const pad3d = ranked('pad3d', 3, pad);
/** tf.pad4d(x, paddings, constantValue). */
export const pad4d = ranked('pad4d', 4, pad);
/** tf.reverse1d(x). */ export const reverse1d = (x: TensorInput): Tensor => ranked('reverse1d', 1, reverse)(x, 0);
/** tf.reverse2d(x, axis?). */ export const reverse2d = ranked('reverse2d', 2, reverse);
/** tf.reverse3d(x, axis?). */ export const reverse3d = ranked('reverse3d', 3, reverse);
/** tf.reverse4d(x, axis?). */ export const reverse4d = ranked('reverse4d', 4, reverse);
/** tf.slice1d(x, begin, size). */
export const slice1d = (x: TensorInput, begin: number, size: number): Tensor => ranked('slice1d', 1, slice)(x, [begin], [size]);
/** tf.slice2d(x, begin, size). */ export const slice2d = ranked('slice2d', 2, slice);
/** tf.slice3d(x, begin, size). */ export const slice3d = ranked('slice3d', 3, slice);
/** tf.slice4d(x, begin, size). */ export const slice4d = ranked('slice4d', 4, slice);
/** tf.randomStandardNormal(shape, dtype?, seed?): randomNormal with mean 0 and standard deviation 1. */
export const randomStandardNormal = (shape: number[], dtype: 'float32' | 'int32' = 'float32', seed?: number): Tensor =>
  randomNormal(shape, 0, 1, dtype, seed);
/** tf.randomUniformInt(shape, minval, maxval, seed?): int32 uniform in [minval, maxval). */
export function randomUniformInt(shape: number[], minval: number, maxval: number, seed?: number): Tensor {
  return scoped('randomUniformInt', opsDevice(), s => {
    const dims = shapeArg('randomUniformInt', shape);
    const r = seedOf(seed);
    const y = s.make(dims, 'float32'),
      f = s.make(dims, 'float32');
    if (y.size) {
      native.randomUniform(y, minval, maxval, r.seed, r.offset);
      native.mathUnary('floor', y, f);
    }
    return s.result(castTo(s, f, 'int32'));
  });
}
/** tf.upcastType(a, b): the dtype two operands compute in (bool < int32 < float32). */
export const upcastType = (a: DataType, b: DataType): DataType => upcast(a, b);
/** tf.print(x): prints the tensor (its toString()). */
export function print(x: Tensor): void {
  if (!(x instanceof Tensor)) throw opError('print', `expected a Tensor but received ${describe(x)}`, 'ERR_KERNELNET_ARG');
  x.print();
}
