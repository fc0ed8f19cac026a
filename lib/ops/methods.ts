// tfjs's chained tensor methods (t.add(b), t.mean(axis), t.toFloat(), ...) on kernelnet's Tensor, each the op of
// lib/ops/ops.ts with the tensor as its first operand. A tfjs method kernelnet does not have (t.fft(), t.conv2d(),
// ...) throws ERR_KERNELNET_UNSUPPORTED naming it, rather than JavaScript's "is not a function" TypeError.
// Imported for its effect by lib/index.ts and lib/tfjs.ts.
import { ValidationError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import * as ops from './differentiable.js';
import type { DataType, TensorInput } from './ops.js';
import { bufferOf, type TensorBuffer } from './buffer.js';
import { variable, type Variable } from './autodiff.js';

/** The axes a reduction takes: one, several, or null (and left out) for all. */
export type AxisArg = number | number[] | null;
type Axis = AxisArg;
/** topk's result: the k largest values along the last axis and their indices. */
export interface TopK {
  /** The values, descending. */
  values: Tensor;
  /** Their indices along the last axis (int32). */
  indices: Tensor;
}

declare module '../core/tensor.js' {
  interface Tensor {
    /** tf.add(this, b). */ add(b: TensorInput): Tensor;
    /** tf.sub(this, b). */ sub(b: TensorInput): Tensor;
    /** tf.mul(this, b). */ mul(b: TensorInput): Tensor;
    /** tf.div(this, b). */ div(b: TensorInput): Tensor;
    /** tf.divNoNan(this, b). */ divNoNan(b: TensorInput): Tensor;
    /** tf.floorDiv(this, b). */ floorDiv(b: TensorInput): Tensor;
    /** tf.pow(this, exp). */ pow(exp: TensorInput): Tensor;
    /** tf.mod(this, b). */ mod(b: TensorInput): Tensor;
    /** tf.minimum(this, b). */ minimum(b: TensorInput): Tensor;
    /** tf.maximum(this, b). */ maximum(b: TensorInput): Tensor;
    /** tf.squaredDifference(this, b). */ squaredDifference(b: TensorInput): Tensor;
    /** tf.atan2(this, b). */ atan2(b: TensorInput): Tensor;
    /** tf.prelu(this, alpha). */ prelu(alpha: TensorInput): Tensor;
    /** tf.equal(this, b). */ equal(b: TensorInput): Tensor;
    /** tf.notEqual(this, b). */ notEqual(b: TensorInput): Tensor;
    /** tf.less(this, b). */ less(b: TensorInput): Tensor;
    /** tf.lessEqual(this, b). */ lessEqual(b: TensorInput): Tensor;
    /** tf.greater(this, b). */ greater(b: TensorInput): Tensor;
    /** tf.greaterEqual(this, b). */ greaterEqual(b: TensorInput): Tensor;
    /** tf.logicalAnd(this, b). */ logicalAnd(b: TensorInput): Tensor;
    /** tf.logicalOr(this, b). */ logicalOr(b: TensorInput): Tensor;
    /** tf.logicalXor(this, b). */ logicalXor(b: TensorInput): Tensor;
    /** tf.logicalNot(this). */ logicalNot(): Tensor;
    /** tf.where(condition, this, b). */ where(condition: TensorInput, b: TensorInput): Tensor;
    /** tf.neg(this). */ neg(): Tensor;
    /** tf.abs(this). */ abs(): Tensor;
    /** tf.sign(this). */ sign(): Tensor;
    /** tf.square(this). */ square(): Tensor;
    /** tf.sqrt(this). */ sqrt(): Tensor;
    /** tf.rsqrt(this). */ rsqrt(): Tensor;
    /** tf.exp(this). */ exp(): Tensor;
    /** tf.expm1(this). */ expm1(): Tensor;
    /** tf.log(this). */ log(): Tensor;
    /** tf.log1p(this). */ log1p(): Tensor;
    /** tf.logSigmoid(this). */ logSigmoid(): Tensor;
    /** tf.sin(this). */ sin(): Tensor;
    /** tf.cos(this). */ cos(): Tensor;
    /** tf.tan(this). */ tan(): Tensor;
    /** tf.asin(this). */ asin(): Tensor;
    /** tf.acos(this). */ acos(): Tensor;
    /** tf.atan(this). */ atan(): Tensor;
    /** tf.sinh(this). */ sinh(): Tensor;
    /** tf.cosh(this). */ cosh(): Tensor;
    /** tf.tanh(this). */ tanh(): Tensor;
    /** tf.asinh(this). */ asinh(): Tensor;
    /** tf.acosh(this). */ acosh(): Tensor;
    /** tf.atanh(this). */ atanh(): Tensor;
    /** tf.sigmoid(this). */ sigmoid(): Tensor;
    /** tf.softplus(this). */ softplus(): Tensor;
    /** tf.relu(this). */ relu(): Tensor;
    /** tf.relu6(this). */ relu6(): Tensor;
    /** tf.elu(this). */ elu(): Tensor;
    /** tf.selu(this). */ selu(): Tensor;
    /** tf.leakyRelu(this, alpha). */ leakyRelu(alpha?: number): Tensor;
    /** tf.step(this, alpha). */ step(alpha?: number): Tensor;
    /** tf.round(this). */ round(): Tensor;
    /** tf.floor(this). */ floor(): Tensor;
    /** tf.ceil(this). */ ceil(): Tensor;
    /** tf.reciprocal(this). */ reciprocal(): Tensor;
    /** tf.erf(this). */ erf(): Tensor;
    /** tf.isNaN(this). */ isNaN(): Tensor;
    /** tf.isInf(this). */ isInf(): Tensor;
    /** tf.isFinite(this). */ isFinite(): Tensor;
    /** tf.clipByValue(this, min, max). */ clipByValue(min: number, max: number): Tensor;
    /** tf.sum(this, axis, keepDims). */ sum(axis?: Axis, keepDims?: boolean): Tensor;
    /** tf.prod(this, axis, keepDims). */ prod(axis?: Axis, keepDims?: boolean): Tensor;
    /** tf.min(this, axis, keepDims). */ min(axis?: Axis, keepDims?: boolean): Tensor;
    /** tf.max(this, axis, keepDims). */ max(axis?: Axis, keepDims?: boolean): Tensor;
    /** tf.all(this, axis, keepDims). */ all(axis?: Axis, keepDims?: boolean): Tensor;
    /** tf.any(this, axis, keepDims). */ any(axis?: Axis, keepDims?: boolean): Tensor;
    /** tf.mean(this, axis, keepDims). */ mean(axis?: Axis, keepDims?: boolean): Tensor;
    /** tf.argMin(this, axis). */ argMin(axis?: number): Tensor;
    /** tf.logSumExp(this, axis, keepDims). */ logSumExp(axis?: Axis, keepDims?: boolean): Tensor;
    /** tf.norm(this, ord, axis, keepDims). */ norm(ord?: number | 'euclidean' | 'fro', axis?: Axis, keepDims?: boolean): Tensor;
    /** tf.euclideanNorm(this, axis, keepDims). */ euclideanNorm(axis?: Axis, keepDims?: boolean): Tensor;
    /** tf.cumsum(this, axis, exclusive, reverse). */ cumsum(axis?: number, exclusive?: boolean, reverse?: boolean): Tensor;
    /** tf.cumprod(this, axis, exclusive, reverse). */ cumprod(axis?: number, exclusive?: boolean, reverse?: boolean): Tensor;
    /** tf.reshape(this, x.shape). */ reshapeAs(x: Tensor): Tensor;
    /** tf.expandDims(this, axis). */ expandDims(axis?: number): Tensor;
    /** tf.squeeze(this, axis). */ squeeze(axis?: number[]): Tensor;
    /** tf.transpose(this, perm). */ transpose(perm?: number[]): Tensor;
    /** tf.tile(this, reps). */ tile(reps: number[]): Tensor;
    /** tf.reverse(this, axis). */ reverse(axis?: number | number[]): Tensor;
    /** tf.stridedSlice(this, begin, end, strides, ...masks). */
    stridedSlice(begin: number[], end: number[], strides?: number[], beginMask?: number, endMask?: number): Tensor;
    /** tf.pad(this, paddings, constantValue). */ pad(paddings: Array<[number, number]>, constantValue?: number): Tensor;
    /** tf.concat([this, ...x], axis). */ concat(x: Tensor | Tensor[], axis?: number): Tensor;
    /** tf.stack([this, ...x], axis). */ stack(x: Tensor | Tensor[], axis?: number): Tensor;
    /** tf.unstack(this, axis). */ unstack(axis?: number): Tensor[];
    /** tf.split(this, numOrSizeSplits, axis). */ split(numOrSizeSplits: number | number[], axis?: number): Tensor[];
    /** tf.broadcastTo(this, shape). */ broadcastTo(shape: number[]): Tensor;
    /** tf.matMul(this, b, transposeA, transposeB). */ matMul(b: TensorInput, transposeA?: boolean, transposeB?: boolean): Tensor;
    /** tf.dot(this, b). */ dot(b: TensorInput): Tensor;
    /** tf.softmax(this, dim). */ softmax(dim?: number): Tensor;
    /** tf.logSoftmax(this, axis). */ logSoftmax(axis?: number): Tensor;
    /** tf.topk(this, k, sorted). */ topk(k?: number, sorted?: boolean): TopK;
    /** tf.oneHot(this, depth, onValue, offValue, dtype). */ oneHot(depth: number, onValue?: number, offValue?: number, dtype?: DataType): Tensor;
    /** tf.zerosLike(this). */ zerosLike(): Tensor;
    /** tf.onesLike(this). */ onesLike(): Tensor;
    /** tf.clone(this). */ clone(): Tensor;
    /** tf.cast(this, dtype). */ cast(dtype: DataType): Tensor;
    /** tf.cast(this, dtype). */ asType(dtype: DataType): Tensor;
    /** tf.cast(this, 'float32'). */ toFloat(): Tensor;
    /** tf.cast(this, 'int32'). */ toInt(): Tensor;
    /** tf.cast(this, 'bool'). */ toBool(): Tensor;
    /** A rank-1 copy. */ flatten(): Tensor;
    /** A rank-1 copy. */ as1D(): Tensor;
    /** A [rows, columns] copy. */ as2D(rows: number, columns: number): Tensor;
    /** A rank-3 copy. */ as3D(rows: number, columns: number, depth: number): Tensor;
    /** A rank-4 copy. */ as4D(rows: number, columns: number, depth: number, depth2: number): Tensor;
    /** A rank-5 copy. */ as5D(rows: number, columns: number, depth: number, depth2: number, depth3: number): Tensor;
    /** A rank-0 copy of a one-element tensor. */ asScalar(): Tensor;
    /** tf.image.resizeBilinear(this, size, alignCorners, halfPixelCenters). */
    resizeBilinear(size: [number, number], alignCorners?: boolean, halfPixelCenters?: boolean): Tensor;
    /** tf.image.resizeNearestNeighbor(this, size, alignCorners, halfPixelCenters). */
    resizeNearestNeighbor(size: [number, number], alignCorners?: boolean, halfPixelCenters?: boolean): Tensor;
    /** A TensorBuffer holding a copy of the values (tf.buffer). */ bufferSync(): TensorBuffer;
    /** bufferSync(), as a promise. */ buffer(): Promise<TensorBuffer>;
    /** tf.variable(this, trainable, name, dtype). */ variable(trainable?: boolean, name?: string, dtype?: DataType): Variable;
  }
}

type Method = (this: Tensor, ...args: never[]) => unknown;
const methods: Record<string, Method> = {
  where(this: Tensor, condition: TensorInput, b: TensorInput) {
    return ops.where(condition, this, b);
  },
  euclideanNorm(this: Tensor, axis?: Axis, keepDims?: boolean) {
    return ops.norm(this, 'euclidean', axis, keepDims);
  },
  reshapeAs(this: Tensor, x: Tensor) {
    return ops.reshape(this, x.shape);
  },
  concat(this: Tensor, x: Tensor | Tensor[], axis?: number) {
    return ops.concat([this, ...(Array.isArray(x) ? x : [x])], axis);
  },
  stack(this: Tensor, x: Tensor | Tensor[], axis?: number) {
    return ops.stack([this, ...(Array.isArray(x) ? x : [x])], axis);
  },
  broadcastTo(this: Tensor, shape: number[]) {
    return ops.broadcastToOp(this, shape);
  },
  asType(this: Tensor, dtype: DataType) {
    return ops.cast(this, dtype);
  },
  toFloat(this: Tensor) {
    return ops.cast(this, 'float32');
  },
  toInt(this: Tensor) {
    return ops.cast(this, 'int32');
  },
  toBool(this: Tensor) {
    return ops.cast(this, 'bool');
  },
  flatten(this: Tensor) {
    return ops.reshape(this, [this.size]);
  },
  as1D(this: Tensor) {
    return ops.reshape(this, [this.size]);
  },
  as2D(this: Tensor, ...shape: number[]) {
    return ops.reshape(this, shape);
  },
  as3D(this: Tensor, ...shape: number[]) {
    return ops.reshape(this, shape);
  },
  as4D(this: Tensor, ...shape: number[]) {
    return ops.reshape(this, shape);
  },
  as5D(this: Tensor, ...shape: number[]) {
    return ops.reshape(this, shape);
  },
  asScalar(this: Tensor) {
    return ops.reshape(this, []);
  },
  resizeBilinear(this: Tensor, size: [number, number], alignCorners?: boolean, halfPixelCenters?: boolean) {
    return ops.image.resizeBilinear(this, size, alignCorners, halfPixelCenters);
  },
  resizeNearestNeighbor(this: Tensor, size: [number, number], alignCorners?: boolean, halfPixelCenters?: boolean) {
    return ops.image.resizeNearestNeighbor(this, size, alignCorners, halfPixelCenters);
  },
  bufferSync(this: Tensor) {
    return bufferOf(this);
  },
  async buffer(this: Tensor) {
    return bufferOf(this);
  },
  variable(this: Tensor, trainable?: boolean, name?: string, dtype?: DataType) {
    return variable(this, trainable, name, dtype);
  },
};

// The ops whose method is the op with the tensor first, unchanged.
const SAME = [
  'add',
  'sub',
  'mul',
  'div',
  'divNoNan',
  'floorDiv',
  'pow',
  'mod',
  'minimum',
  'maximum',
  'squaredDifference',
  'atan2',
  'prelu',
  'equal',
  'notEqual',
  'less',
  'lessEqual',
  'greater',
  'greaterEqual',
  'logicalAnd',
  'logicalOr',
  'logicalXor',
  'logicalNot',
  'neg',
  'abs',
  'sign',
  'square',
  'sqrt',
  'rsqrt',
  'exp',
  'expm1',
  'log',
  'log1p',
  'logSigmoid',
  'sin',
  'cos',
  'tan',
  'asin',
  'acos',
  'atan',
  'sinh',
  'cosh',
  'tanh',
  'asinh',
  'acosh',
  'atanh',
  'sigmoid',
  'softplus',
  'relu',
  'relu6',
  'elu',
  'selu',
  'leakyRelu',
  'step',
  'round',
  'floor',
  'ceil',
  'reciprocal',
  'erf',
  'isNaN',
  'isInf',
  'isFinite',
  'clipByValue',
  'sum',
  'prod',
  'min',
  'max',
  'all',
  'any',
  'mean',
  'argMax',
  'argMin',
  'logSumExp',
  'norm',
  'cumsum',
  'cumprod',
  'reshape',
  'expandDims',
  'squeeze',
  'transpose',
  'tile',
  'reverse',
  'slice',
  'stridedSlice',
  'gather',
  'pad',
  'unstack',
  'split',
  'matMul',
  'dot',
  'softmax',
  'logSoftmax',
  'topk',
  'oneHot',
  'zerosLike',
  'onesLike',
  'clone',
  'cast',
] as const;
for (const name of SAME) {
  const op = ops[name] as (...args: unknown[]) => unknown;
  methods[name] = function (this: Tensor, ...args: unknown[]) {
    return op(this, ...args);
  } as Method;
}
for (const [name, fn] of Object.entries(methods))
  Object.defineProperty(Tensor.prototype, name, { value: fn, writable: true, configurable: true, enumerable: false });

/**
 * tfjs's tensor methods kernelnet does not have: reading one throws ERR_KERNELNET_UNSUPPORTED (a Proxy as the
 * prototype's prototype sees only the names the class lacks, so nothing else is slowed or changed).
 */
export const UNSUPPORTED_METHODS: readonly string[] = [
  'avgPool',
  'batchToSpaceND',
  'batchNorm',
  'conv1d',
  'conv2d',
  'conv2dTranspose',
  'depthToSpace',
  'depthwiseConv2d',
  'dilation2d',
  'fft',
  'ifft',
  'irfft',
  'rfft',
  'localResponseNormalization',
  'maxPool',
  'mirrorPad',
  'pool',
  'separableConv2d',
  'spaceToBatchND',
  'unique',
  'unsortedSegmentSum',
  'bytes',
  'complex',
  'real',
  'imag',
];
const unsupportedSet = new Set(UNSUPPORTED_METHODS);
const base = Object.getPrototypeOf(Tensor.prototype) as object;
Object.setPrototypeOf(
  Tensor.prototype,
  new Proxy(base, {
    get(target, key, receiver) {
      if (typeof key === 'string' && unsupportedSet.has(key))
        throw new ValidationError(
          `tensor.${key}() is not supported by kernelnet: it has tfjs's tensor math, but not this op (see docs/tfjs.md)`,
          'ERR_KERNELNET_UNSUPPORTED',
        );
      return Reflect.get(target, key, receiver);
    },
  }),
);
