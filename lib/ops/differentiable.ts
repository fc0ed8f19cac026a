// tfjs's tensor operations as kernelnet/tfjs exports them: lib/ops/ops.ts's, with every op that has a gradient
// recorded on the gradient tapes that are open (lib/ops/tape.ts) when an operand depends on what they watch, so
// that tf.grad, tf.variableGrads and optimizer.minimize differentiate through them (lib/ops/gradients.ts). The
// ops without a gradient here (comparisons, argMax, zerosLike, random, ...) give results that do not depend on
// the watched tensors, as in tfjs, where their gradients are zero. The composite spellings (pad2d, slice3d,
// euclideanNorm, ...) are made of the recorded ops, so each records as the op it calls.
import * as o from './ops.js';
import { ranked, type TensorInput } from './ops.js';
import { Tensor } from '../core/tensor.js';
import { RECORDED, recorded } from './tape.js';

export * from './ops.js';

/** @internal The names of the recorded ops, as recorded() registered them (each has a gradient in lib/ops/gradients.ts; a test checks it). */
export const RECORDED_OPS: readonly string[] = RECORDED;

/** tf.neg (lib/ops/ops.ts), recorded for gradients. */ export const neg = recorded('neg', o.neg);
/** tf.abs (lib/ops/ops.ts), recorded for gradients. */ export const abs = recorded('abs', o.abs);
/** tf.sign (lib/ops/ops.ts), recorded for gradients. */ export const sign = recorded('sign', o.sign);
/** tf.square (lib/ops/ops.ts), recorded for gradients. */ export const square = recorded('square', o.square);
/** tf.sqrt (lib/ops/ops.ts), recorded for gradients. */ export const sqrt = recorded('sqrt', o.sqrt);
/** tf.rsqrt (lib/ops/ops.ts), recorded for gradients. */ export const rsqrt = recorded('rsqrt', o.rsqrt);
/** tf.exp (lib/ops/ops.ts), recorded for gradients. */ export const exp = recorded('exp', o.exp);
/** tf.expm1 (lib/ops/ops.ts), recorded for gradients. */ export const expm1 = recorded('expm1', o.expm1);
/** tf.log (lib/ops/ops.ts), recorded for gradients. */ export const log = recorded('log', o.log);
/** tf.log1p (lib/ops/ops.ts), recorded for gradients. */ export const log1p = recorded('log1p', o.log1p);
/** tf.logSigmoid (lib/ops/ops.ts), recorded for gradients. */ export const logSigmoid = recorded('logSigmoid', o.logSigmoid);
/** tf.sin (lib/ops/ops.ts), recorded for gradients. */ export const sin = recorded('sin', o.sin);
/** tf.cos (lib/ops/ops.ts), recorded for gradients. */ export const cos = recorded('cos', o.cos);
/** tf.tan (lib/ops/ops.ts), recorded for gradients. */ export const tan = recorded('tan', o.tan);
/** tf.asin (lib/ops/ops.ts), recorded for gradients. */ export const asin = recorded('asin', o.asin);
/** tf.acos (lib/ops/ops.ts), recorded for gradients. */ export const acos = recorded('acos', o.acos);
/** tf.atan (lib/ops/ops.ts), recorded for gradients. */ export const atan = recorded('atan', o.atan);
/** tf.sinh (lib/ops/ops.ts), recorded for gradients. */ export const sinh = recorded('sinh', o.sinh);
/** tf.cosh (lib/ops/ops.ts), recorded for gradients. */ export const cosh = recorded('cosh', o.cosh);
/** tf.tanh (lib/ops/ops.ts), recorded for gradients. */ export const tanh = recorded('tanh', o.tanh);
/** tf.asinh (lib/ops/ops.ts), recorded for gradients. */ export const asinh = recorded('asinh', o.asinh);
/** tf.acosh (lib/ops/ops.ts), recorded for gradients. */ export const acosh = recorded('acosh', o.acosh);
/** tf.atanh (lib/ops/ops.ts), recorded for gradients. */ export const atanh = recorded('atanh', o.atanh);
/** tf.sigmoid (lib/ops/ops.ts), recorded for gradients. */ export const sigmoid = recorded('sigmoid', o.sigmoid);
/** tf.softplus (lib/ops/ops.ts), recorded for gradients. */ export const softplus = recorded('softplus', o.softplus);
/** tf.relu (lib/ops/ops.ts), recorded for gradients. */ export const relu = recorded('relu', o.relu);
/** tf.relu6 (lib/ops/ops.ts), recorded for gradients. */ export const relu6 = recorded('relu6', o.relu6);
/** tf.elu (lib/ops/ops.ts), recorded for gradients. */ export const elu = recorded('elu', o.elu);
/** tf.selu (lib/ops/ops.ts), recorded for gradients. */ export const selu = recorded('selu', o.selu);
/** tf.leakyRelu (lib/ops/ops.ts), recorded for gradients. */ export const leakyRelu = recorded('leakyRelu', o.leakyRelu);
/** tf.step (lib/ops/ops.ts), recorded for gradients. */ export const step = recorded('step', o.step);
/** tf.round (lib/ops/ops.ts), recorded for gradients. */ export const round = recorded('round', o.round);
/** tf.floor (lib/ops/ops.ts), recorded for gradients. */ export const floor = recorded('floor', o.floor);
/** tf.ceil (lib/ops/ops.ts), recorded for gradients. */ export const ceil = recorded('ceil', o.ceil);
/** tf.reciprocal (lib/ops/ops.ts), recorded for gradients. */ export const reciprocal = recorded('reciprocal', o.reciprocal);
/** tf.erf (lib/ops/ops.ts), recorded for gradients. */ export const erf = recorded('erf', o.erf);
/** tf.clipByValue (lib/ops/ops.ts), recorded for gradients. */ export const clipByValue = recorded('clipByValue', o.clipByValue);
/** tf.add (lib/ops/ops.ts), recorded for gradients. */ export const add = recorded('add', o.add);
/** tf.sub (lib/ops/ops.ts), recorded for gradients. */ export const sub = recorded('sub', o.sub);
/** tf.mul (lib/ops/ops.ts), recorded for gradients. */ export const mul = recorded('mul', o.mul);
/** tf.div (lib/ops/ops.ts), recorded for gradients. */ export const div = recorded('div', o.div);
/** tf.divNoNan (lib/ops/ops.ts), recorded for gradients. */ export const divNoNan = recorded('divNoNan', o.divNoNan);
/** tf.floorDiv (lib/ops/ops.ts), recorded for gradients. */ export const floorDiv = recorded('floorDiv', o.floorDiv);
/** tf.pow (lib/ops/ops.ts), recorded for gradients. */ export const pow = recorded('pow', o.pow);
/** tf.mod (lib/ops/ops.ts), recorded for gradients. */ export const mod = recorded('mod', o.mod);
/** tf.minimum (lib/ops/ops.ts), recorded for gradients. */ export const minimum = recorded('minimum', o.minimum);
/** tf.maximum (lib/ops/ops.ts), recorded for gradients. */ export const maximum = recorded('maximum', o.maximum);
/** tf.squaredDifference (lib/ops/ops.ts), recorded for gradients. */ export const squaredDifference = recorded(
  'squaredDifference',
  o.squaredDifference,
);
/** tf.atan2 (lib/ops/ops.ts), recorded for gradients. */ export const atan2 = recorded('atan2', o.atan2);
/** tf.prelu (lib/ops/ops.ts), recorded for gradients. */ export const prelu = recorded('prelu', o.prelu);
/** tf.where (lib/ops/ops.ts), recorded for gradients. */ export const where = recorded('where', o.where);
/** tf.addN (lib/ops/ops.ts), recorded for gradients. */ export const addN = recorded('addN', o.addN);
/** tf.sum (lib/ops/ops.ts), recorded for gradients. */ export const sum = recorded('sum', o.sum);
/** tf.prod (lib/ops/ops.ts), recorded for gradients. */ export const prod = recorded('prod', o.prod);
/** tf.min (lib/ops/ops.ts), recorded for gradients. */ export const min = recorded('min', o.min);
/** tf.max (lib/ops/ops.ts), recorded for gradients. */ export const max = recorded('max', o.max);
/** tf.mean (lib/ops/ops.ts), recorded for gradients. */ export const mean = recorded('mean', o.mean);
/** tf.moments (lib/ops/ops.ts), recorded for gradients. */ export const moments = recorded('moments', o.moments);
/** tf.logSumExp (lib/ops/ops.ts), recorded for gradients. */ export const logSumExp = recorded('logSumExp', o.logSumExp);
/** tf.norm (lib/ops/ops.ts), recorded for gradients. */ export const norm = recorded('norm', o.norm);
/** tf.cumsum (lib/ops/ops.ts), recorded for gradients. */ export const cumsum = recorded('cumsum', o.cumsum);
/** tf.cumprod (lib/ops/ops.ts), recorded for gradients. */ export const cumprod = recorded('cumprod', o.cumprod);
/** tf.transpose (lib/ops/ops.ts), recorded for gradients. */ export const transpose = recorded('transpose', o.transpose);
/** tf.reshape (lib/ops/ops.ts), recorded for gradients. */ export const reshape = recorded('reshape', o.reshape);
/** tf.expandDims (lib/ops/ops.ts), recorded for gradients. */ export const expandDims = recorded('expandDims', o.expandDims);
/** tf.squeeze (lib/ops/ops.ts), recorded for gradients. */ export const squeeze = recorded('squeeze', o.squeeze);
/** tf.broadcastToOp (lib/ops/ops.ts), recorded for gradients. */ export const broadcastToOp = recorded('broadcastToOp', o.broadcastToOp);
/** tf.tile (lib/ops/ops.ts), recorded for gradients. */ export const tile = recorded('tile', o.tile);
/** tf.reverse (lib/ops/ops.ts), recorded for gradients. */ export const reverse = recorded('reverse', o.reverse);
/** tf.slice (lib/ops/ops.ts), recorded for gradients. */ export const slice = recorded('slice', o.slice);
/** tf.stridedSlice (lib/ops/ops.ts), recorded for gradients. */ export const stridedSlice = recorded('stridedSlice', o.stridedSlice);
/** tf.concat (lib/ops/ops.ts), recorded for gradients. */ export const concat = recorded('concat', o.concat);
/** tf.stack (lib/ops/ops.ts), recorded for gradients. */ export const stack = recorded('stack', o.stack);
/** tf.unstack (lib/ops/ops.ts), recorded for gradients. */ export const unstack = recorded('unstack', o.unstack);
/** tf.split (lib/ops/ops.ts), recorded for gradients. */ export const split = recorded('split', o.split);
/** tf.gather (lib/ops/ops.ts), recorded for gradients. */ export const gather = recorded('gather', o.gather);
/** tf.pad (lib/ops/ops.ts), recorded for gradients. */ export const pad = recorded('pad', o.pad);
/** tf.matMul (lib/ops/ops.ts), recorded for gradients. */ export const matMul = recorded('matMul', o.matMul);
/** tf.dot (lib/ops/ops.ts), recorded for gradients. */ export const dot = recorded('dot', o.dot);
/** tf.outerProduct (lib/ops/ops.ts), recorded for gradients. */ export const outerProduct = recorded('outerProduct', o.outerProduct);
/** tf.softmax (lib/ops/ops.ts), recorded for gradients. */ export const softmax = recorded('softmax', o.softmax);
/** tf.logSoftmax (lib/ops/ops.ts), recorded for gradients. */ export const logSoftmax = recorded('logSoftmax', o.logSoftmax);
/** tf.topk (lib/ops/ops.ts), recorded for gradients. */ export const topk = recorded('topk', o.topk);
/** tf.cast (lib/ops/ops.ts), recorded for gradients. */ export const cast = recorded('cast', o.cast);
/** tf.clone (lib/ops/ops.ts), recorded for gradients. */ export const clone = recorded('clone', o.clone);

/** tf.image (lib/ops/ops.ts), its ops recorded for gradients. */
export const image = {
  /** resizeBilinear(images, [newHeight, newWidth], alignCorners = false, halfPixelCenters = false). */
  resizeBilinear: recorded('resizeBilinear', o.image.resizeBilinear),
  /** resizeNearestNeighbor(images, [newHeight, newWidth], alignCorners = false, halfPixelCenters = false). */
  resizeNearestNeighbor: recorded('resizeNearestNeighbor', o.image.resizeNearestNeighbor),
  /** flipLeftRight(images [N, H, W, C]): each image mirrored left to right. */
  flipLeftRight: recorded('flipLeftRight', o.image.flipLeftRight),
};

/** tf.euclideanNorm(x, axis?, keepDims = false). */
export const euclideanNorm = (x: TensorInput, axis?: number | number[] | null, keepDims = false): Tensor => norm(x, 'euclidean', axis, keepDims);
/** tf.concat1d(tensors). */ export const concat1d = (tensors: TensorInput[]): Tensor => concat(tensors, 0);
/** tf.concat2d(tensors, axis). */ export const concat2d = (tensors: TensorInput[], axis: number): Tensor => concat(tensors, axis);
/** tf.concat3d(tensors, axis). */ export const concat3d = (tensors: TensorInput[], axis: number): Tensor => concat(tensors, axis);
/** tf.concat4d(tensors, axis). */ export const concat4d = (tensors: TensorInput[], axis: number): Tensor => concat(tensors, axis);
/** tf.pad1d(x, paddings, constantValue). */
export const pad1d = (x: TensorInput, paddings: [number, number], c = 0): Tensor => ranked('pad1d', 1, pad)(x, [paddings], c);
/** tf.pad2d(x, paddings, constantValue). */ export const pad2d = ranked('pad2d', 2, pad);
/** tf.pad3d(x, paddings, constantValue). */ export const pad3d = ranked('pad3d', 3, pad);
/** tf.pad4d(x, paddings, constantValue). */ export const pad4d = ranked('pad4d', 4, pad);
/** tf.reverse1d(x). */ export const reverse1d = (x: TensorInput): Tensor => ranked('reverse1d', 1, reverse)(x, 0);
/** tf.reverse2d(x, axis?). */ export const reverse2d = ranked('reverse2d', 2, reverse);
/** tf.reverse3d(x, axis?). */ export const reverse3d = ranked('reverse3d', 3, reverse);
/** tf.reverse4d(x, axis?). */ export const reverse4d = ranked('reverse4d', 4, reverse);
/** tf.slice1d(x, begin, size). */
export const slice1d = (x: TensorInput, begin: number, size: number): Tensor => ranked('slice1d', 1, slice)(x, [begin], [size]);
/** tf.slice2d(x, begin, size). */ export const slice2d = ranked('slice2d', 2, slice);
/** tf.slice3d(x, begin, size). */ export const slice3d = ranked('slice3d', 3, slice);
/** tf.slice4d(x, begin, size). */ export const slice4d = ranked('slice4d', 4, slice);
/** tf.tensor(values, shape?, dtype?): a Tensor as values is cloned (recorded, as tfjs). */
export const tensor = (values: o.TensorInput, shape?: number[], dtype?: o.DataType): Tensor =>
  values instanceof Tensor ? clone(values) : o.tensor(values, shape, dtype);
