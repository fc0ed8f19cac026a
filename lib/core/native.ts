// The whole native surface of kernelnet, declared once. Nothing else in lib/ touches the raw addon.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LoadError, makeError } from './errors.js';

/** A tensor's element type: 32-bit floats, 32-bit integers (class labels, indices), or bools (stored as int32 0 or 1). */
export type DType = 'float32' | 'int32' | 'bool';
/** The size of a metrics tensor (cpp/loss.h's MetricSlot): loss sum, hits, rows, first bad step, weight sum, squared and absolute error. */
export const METRIC_SLOTS = 8;
/** Keras's padding of convolutions and pooling: 'valid' (none) or 'same' (zero-padded: the output is ceil(input / stride)). */
export type Padding = 'valid' | 'same';
/** Where a tensor lives and its ops run: the CPU, or the CUDA GPU. */
export type Device = 'cpu' | 'cuda';
/** The activation of the fused epilogue of conv and dense ops (cpp/epilogue.h's Act), and of activation(). */
export const NATIVE_ACTIVATIONS = ['linear', 'relu', 'relu6', 'elu', 'selu', 'sigmoid', 'tanh', 'softplus', 'swish', 'gelu', 'leaky_relu'] as const;
/**
 * An activation the native ops compute (fused into conv and dense layers' output), by Keras's names.
 * @useDeclaredType
 */
export type NativeActivation = (typeof NATIVE_ACTIVATIONS)[number];
/** The activations whose derivative needs their input: their forward op stores it in `pre` for the backward op. */
export const NEEDS_INPUT: readonly NativeActivation[] = ['swish', 'gelu'];
/**
 * A backward op's layer below (conv2dBackward's and conv2dPoolBackward's below; denseBackward's trailing
 * belowActivation, belowAlpha?): its input x is the output of the layer below, made by this activation; the input
 * gradient takes the activation's derivative (from x), and that layer's backward then runs with activation
 * 'linear'. Not for an activation whose derivative needs its input.
 */
export interface BelowAct {
  activation: NativeActivation;
  alpha?: number;
}

/**
 * A convolution's geometry and fused epilogue, as the conv ops take it. The addon refuses a key it does not know
 * (ERR_KERNELNET_ARG), so a misspelt field is an error rather than a default.
 */
export interface ConvArgs {
  strides: [number, number];
  padding: Padding;
  /** The activation of the fused epilogue, after the bias. */
  activation: NativeActivation;
  /** elu's alpha (default 1) and leaky_relu's negative slope (default 0.2); unused by the other activations. */
  alpha?: number;
  /** The spacing of the kernel's taps (default [1, 1]): tap (ky, kx) reads input (oy*strides[0] - padTop + ky*dilationRate[0], ...). */
  dilationRate?: [number, number];
  /**
   * Where the forward op stores the pre-activation (shaped as y), which the backward op reads: given exactly for
   * the activations whose derivative needs their input (NEEDS_INPUT), else null or left out. Not taken by the
   * conv + pool ops.
   */
  pre?: NativeTensor | null;
}

/** The max-pool of the conv + pool ops, over the conv's output: its strides are the window (non-overlapping). */
export interface PoolArgs {
  poolSize: [number, number];
  padding: Padding;
}

/** A Dropout after the conv + pool ops' pool, as dropoutForward's (rate, seed, offset, counter?). */
export interface DropArgs {
  rate: number;
  seed: number;
  offset: number;
  counter?: NativeTensor | null;
}

/** The binary elementwise ops (numpy broadcasting) of the merge layers and their gradients. */
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min';
/** mathBinary's ops (cpp/elementwise.h's kBinaryOpNames): the merge layers', then tfjs's; from 'equal' on they write bools. */
export type MathBinaryOp =
  | BinaryOp
  | 'pow'
  | 'mod'
  | 'squaredDifference'
  | 'floorDiv'
  | 'atan2'
  | 'prelu'
  | 'equal'
  | 'notEqual'
  | 'less'
  | 'lessEqual'
  | 'greater'
  | 'greaterEqual'
  | 'logicalAnd'
  | 'logicalOr'
  | 'logicalXor';
/** mathUnary's ops (cpp/tensor_math.h's KN_UNARY_OPS). */
export type UnaryOp =
  | 'neg'
  | 'abs'
  | 'sign'
  | 'square'
  | 'sqrt'
  | 'rsqrt'
  | 'exp'
  | 'expm1'
  | 'log'
  | 'log1p'
  | 'sin'
  | 'cos'
  | 'tan'
  | 'asin'
  | 'acos'
  | 'atan'
  | 'sinh'
  | 'cosh'
  | 'tanh'
  | 'asinh'
  | 'acosh'
  | 'atanh'
  | 'sigmoid'
  | 'softplus'
  | 'relu'
  | 'relu6'
  | 'elu'
  | 'selu'
  | 'leaky_relu'
  | 'step'
  | 'round'
  | 'floor'
  | 'ceil'
  | 'reciprocal'
  | 'erf'
  | 'clip'
  | 'affine'
  | 'cast'
  | 'to_bool'
  | 'is_nan'
  | 'is_inf'
  | 'is_finite'
  | 'logical_not';
/** reduce()'s ops (cpp/tensor_math.h's kReduceOpNames). */
export type ReduceOp = 'sum' | 'prod' | 'min' | 'max' | 'all' | 'any' | 'argMax' | 'argMin';

/** A learning-rate schedule of cpp/schedule.h (lib/engine/schedules.ts gives each its parameters). */
export type ScheduleKind = 'exponential' | 'piecewise' | 'cosine';

export interface NativeTensor {
  readonly shape: number[];
  readonly dtype: DType;
  readonly device: Device;
  readonly size: number;
  readonly disposed: boolean;
  read(): Float32Array | Int32Array;
  /** read(), as a promise: on a GPU the thread does not wait for the queued work (a libuv thread does). */
  readAsync(): Promise<Float32Array | Int32Array>;
  write(data: Float32Array | Int32Array): void;
  fill(value: number): void;
  /** A view of the same memory with another shape; disposing either disposes both. */
  reshape(shape: number[]): NativeTensor;
  dispose(): void;
}

/** What backend() returns: the backend that computes, on what, and why. */
export interface BackendInfo {
  /** 'cpu' or 'cuda'. */
  name: string;
  /** The device in words, e.g. "CPU, 2 threads, avx2+fma GEMM". */
  device: string;
  /** Why this backend was chosen. */
  reason: string;
}

/** What memory() returns: what this environment's tensors hold. */
export interface MemoryStats {
  /** Tensor buffers not yet freed: yours, and models' weights and workspaces (a reshape() view shares its tensor's). */
  liveTensors: number;
  /** Bytes held by this environment's tensors. */
  bytesInUse: number;
  /** Bytes of the CUDA backend's scratch buffers (im2col columns, split-K partials), shared by the process. */
  scratchBytes: number;
}

/**
 * Ops recorded between native.record() and native.endRecord(), ready to run again: run() does the work of making
 * all those calls again, in order (on a GPU, as one CUDA graph launch). It keeps the tensors it uses from being
 * collected, and refuses to run once one of them was disposed.
 */
export interface NativeProgram {
  run(): void;
  dispose(): void;
  readonly ops: number;
  readonly device: Device;
  /** Whether the last run() was one CUDA graph launch. */
  readonly graph: boolean;
  /** Why the last run() was not a graph launch ('' when it was). */
  readonly reason: string;
  /**
   * Parallel branches in that graph: each backward op with both weight and input gradients forks its weight
   * gradient onto a second stream and joins it at the op's end (0 when not a graph).
   */
  readonly branches: number;
  /** The nodes of that graph: its kernels, copies and memsets (0 when not a graph). */
  readonly nodes: number;
  /** The names of that graph's kernels in the order they were captured (empty when not a graph). */
  readonly kernels: string[];
  readonly disposed: boolean;
}

export interface Native {
  /** A tensor on `device` (default: the environment's backend), or a view of another tensor's buffer. */
  Tensor: new (shape: number[], dtype: DType, data?: Float32Array | Int32Array | NativeTensor, device?: Device) => NativeTensor;
  /** The class of endRecord()'s programs: made only by endRecord() (constructing one throws a StateError). */
  Program: new () => NativeProgram;
  /** y = conv.activation(conv(x, w) + b), the bias and activation fused into the GEMM's epilogue; b may be null. */
  conv2dForward(x: NativeTensor, w: NativeTensor, b: NativeTensor | null, y: NativeTensor, conv: ConvArgs): void;
  /**
   * dy is the gradient of y, the activation's output (its derivative is taken from y; conv.pre is what the
   * forward op stored there). A gradient passed as null is not computed: dx for the first layer, dw and db for a
   * frozen layer. below: the layer below's activation, applied to dx.
   */
  conv2dBackward(
    x: NativeTensor,
    w: NativeTensor,
    y: NativeTensor,
    dy: NativeTensor,
    dx: NativeTensor | null,
    dw: NativeTensor | null,
    db: NativeTensor | null,
    conv: ConvArgs,
    below?: BelowAct,
  ): void;
  /**
   * conv2dForward then maxPool2dForward (strides equal to the window) as one op that stores no conv output: the
   * pooled output and its argmax, bit for bit those of the two ops. Its backward sums over each window's argmax
   * alone (dz is zero elsewhere): the two ops' gradients up to float32 rounding. Not for an activation whose derivative needs
   * its input (swish, gelu). With drop (a Dropout after the pool, in training), also dropped =
   * dropoutForward(pooled, drop.rate, drop.seed, drop.offset, drop.counter), bit for bit: on a GPU's FP32 path the
   * mask is drawn in the conv's epilogue, with no pass reading the pooled output back.
   */
  conv2dPoolForward(
    x: NativeTensor,
    w: NativeTensor,
    b: NativeTensor | null,
    pooled: NativeTensor,
    argmax: NativeTensor,
    conv: ConvArgs,
    pool: PoolArgs,
    drop?: DropArgs,
    dropped?: NativeTensor,
  ): void;
  /**
   * The backward of conv2dPoolForward from its outputs and the pooled gradient: as maxPool2dBackward then
   * conv2dBackward; with drop, dpooled is the dropout's output gradient, its backward folded in.
   */
  conv2dPoolBackward(
    x: NativeTensor,
    w: NativeTensor,
    pooled: NativeTensor,
    argmax: NativeTensor,
    dpooled: NativeTensor,
    dx: NativeTensor | null,
    dw: NativeTensor | null,
    db: NativeTensor | null,
    conv: ConvArgs,
    pool: PoolArgs,
    drop?: DropArgs,
    below?: BelowAct,
  ): void;
  maxPool2dForward(
    x: NativeTensor,
    y: NativeTensor,
    argmax: NativeTensor,
    poolH: number,
    poolW: number,
    strideH: number,
    strideW: number,
    padding?: Padding,
  ): void;
  maxPool2dBackward(
    dy: NativeTensor,
    argmax: NativeTensor,
    dx: NativeTensor,
    poolH: number,
    poolW: number,
    strideH: number,
    strideW: number,
    padding?: Padding,
  ): void;
  /** The mean of each window's positions inside the input ('same' padding excluded from the count). */
  avgPool2dForward(x: NativeTensor, y: NativeTensor, poolH: number, poolW: number, strideH: number, strideW: number, padding?: Padding): void;
  avgPool2dBackward(dy: NativeTensor, dx: NativeTensor, poolH: number, poolW: number, strideH: number, strideW: number, padding?: Padding): void;
  /** y = x [N, H, W, C] with zeros around each image: [N, top + H + bottom, left + W + right, C]. */
  pad2dForward(x: NativeTensor, y: NativeTensor, padding: [[number, number], [number, number]]): void;
  /** dx = dy's region inside the padding (pad2dForward's gradient). */
  pad2dBackward(dy: NativeTensor, dx: NativeTensor, padding: [[number, number], [number, number]]): void;
  /** pre: where swish and gelu store their input (shaped as y), for the backward op; alpha: elu's and leaky_relu's. */
  denseForward(
    x: NativeTensor,
    w: NativeTensor,
    b: NativeTensor | null,
    y: NativeTensor,
    activation: NativeActivation,
    pre?: NativeTensor | null,
    alpha?: number,
  ): void;
  denseBackward(
    x: NativeTensor,
    w: NativeTensor,
    y: NativeTensor,
    dy: NativeTensor,
    dx: NativeTensor | null,
    dw: NativeTensor | null,
    db: NativeTensor | null,
    activation: NativeActivation,
    pre?: NativeTensor | null,
    alpha?: number,
    belowActivation?: NativeActivation,
    belowAlpha?: number,
  ): void;
  /** y = activation(x) elementwise (alpha: elu's, default 1, and leaky_relu's negative slope, default 0.2 as keras.activations.leaky_relu; the LeakyReLU layer passes its 0.3). */
  activation(x: NativeTensor, y: NativeTensor, activation: NativeActivation, alpha?: number): void;
  /** dx = dy * activation'(x), from y = activation(x) and x. */
  activationBackward(x: NativeTensor, y: NativeTensor, dy: NativeTensor, dx: NativeTensor, activation: NativeActivation, alpha?: number): void;
  /**
   * Inverted dropout with the Philox stream (seed, offset + counter[0]). `counter` is the step counter: an
   * int32 tensor [1] on the same device that ops read on the device, so a step's calls stay the same from one
   * step to the next (and can be replayed) while its randomness, batch and step number move on.
   */
  dropoutForward(x: NativeTensor, y: NativeTensor, rate: number, seed: number, offset: number, counter?: NativeTensor | null): void;
  /**
   * Given below, dx also takes the derivative of the layer below's activation, from x (the dropout's input, that
   * layer's output), as the conv and dense ops' input gradients do: that layer's backward then runs from dz.
   */
  dropoutBackward(
    dy: NativeTensor,
    dx: NativeTensor,
    rate: number,
    seed: number,
    offset: number,
    counter?: NativeTensor | null,
    below?: BelowAct,
    x?: NativeTensor,
  ): void;
  /**
   * Accumulates metrics += [sum of row losses, correct predictions, rows, -, sum of weights] (each row's loss
   * and hit times its weight, 1 without weights), and sets metrics[3] = step + counter[0] + 1 when this batch's
   * loss is not finite and metrics[3] is still 0. dlogits = weight * (softmax - labels) / rows.
   */
  softmaxCrossEntropy(
    logits: NativeTensor,
    labels: NativeTensor,
    dlogits: NativeTensor | null,
    metrics: NativeTensor,
    step: number,
    counter?: NativeTensor | null,
    weights?: NativeTensor | null,
  ): void;
  /**
   * Batch normalization over x [..., C] (cpp/batchnorm.h): training uses the batch's statistics and updates the
   * moving ones, else the moving ones; mean and invstd [C] receive the statistics used, for the backward op.
   */
  batchNormForward(
    x: NativeTensor,
    y: NativeTensor,
    gamma: NativeTensor | null,
    beta: NativeTensor | null,
    mean: NativeTensor,
    invstd: NativeTensor,
    movingMean: NativeTensor,
    movingVar: NativeTensor,
    momentum: number,
    epsilon: number,
    training: boolean,
  ): void;
  batchNormBackward(
    x: NativeTensor,
    dy: NativeTensor,
    gamma: NativeTensor | null,
    mean: NativeTensor,
    invstd: NativeTensor,
    dx: NativeTensor | null,
    dgamma: NativeTensor | null,
    dbeta: NativeTensor | null,
    training: boolean,
  ): void;
  /**
   * A BatchNormalization's moving statistics folded into the conv or dense weights before it, for inference:
   * wOut = w * scale (per last-axis channel), bOut = (b - movingMean) * scale + beta, scale = gamma /
   * sqrt(movingVar + epsilon). w of any rank, channels last; b, gamma and beta may be null.
   */
  batchNormFold(
    w: NativeTensor,
    b: NativeTensor | null,
    gamma: NativeTensor | null,
    beta: NativeTensor | null,
    movingMean: NativeTensor,
    movingVar: NativeTensor,
    epsilon: number,
    wOut: NativeTensor,
    bOut: NativeTensor,
  ): void;
  /** y = x * scale + offset elementwise (the Rescaling layer). */
  affine(x: NativeTensor, y: NativeTensor, scale: number, offset: number): void;
  /** dst[dstBegin + i] = src[srcBegin + i] for every index i < size (slice, concat), on their device. */
  copyRegion(src: NativeTensor, srcBegin: number[], dst: NativeTensor, dstBegin: number[], size: number[]): void;
  /** y's slab [offset, offset + x.shape[axis]) along axis = x (all other dimensions equal): a Concatenate input's place. */
  concatInto(x: NativeTensor, y: NativeTensor, axis: number, offset: number): void;
  /** x = y's slab [offset, offset + x.shape[axis]) along axis (concatInto's gradient; a slice). */
  sliceFrom(y: NativeTensor, x: NativeTensor, axis: number, offset: number): void;
  /**
   * y = scale * (a op b), elementwise with numpy broadcasting over the full shapes (batch axis included): shapes
   * right-aligned, a missing or size-1 dimension repeats. y must have the broadcast shape; y may be a or b itself
   * when that operand already has y's shape. float32; scale defaults to 1.
   */
  binary(op: BinaryOp, a: NativeTensor, b: NativeTensor, y: NativeTensor, scale?: number): void;
  /**
   * The gradients of binary(op, a, b, y, scale) given dy (y's shape): da = the sum over a's broadcast axes of
   * dy * scale * d(a op b)/da, db likewise; either may be null (not computed). Sums in a fixed order (bit-identical
   * at every thread count, and CPU == CUDA on small-integer data). max/min: ties go to a (TensorFlow's
   * MaximumGrad/MinimumGrad: a's mask is a >= b for max, a <= b for min; b gets the rest).
   */
  binaryBackward(
    op: BinaryOp,
    a: NativeTensor,
    b: NativeTensor,
    dy: NativeTensor,
    da: NativeTensor | null,
    db: NativeTensor | null,
    scale?: number,
  ): void;
  /** out = the first index of the largest value of x along axis (int32, x's shape without the axis). */
  argMax(x: NativeTensor, axis: number, out: NativeTensor): void;
  softmax(logits: NativeTensor, probs: NativeTensor): void;
  /**
   * A loss over predictions [N, K] (cpp/loss.h): kind 'crossentropy' (logits; labels float32 [N, K] or int32 [N]
   * class indices), 'binary_crossentropy' (logits), 'mse', 'mae', or the cross-entropies as tfjs-layers computes
   * them ('crossentropy_clipped', 'binary_crossentropy_clipped': on the head's probabilities clipped to
   * [1e-7, 1 - 1e-7]); accumulates into metrics (METRIC_SLOTS floats) and writes dpred = weight * dloss / dpred / N
   * when given.
   */
  loss(
    kind: 'crossentropy' | 'binary_crossentropy' | 'mse' | 'mae' | 'crossentropy_clipped' | 'binary_crossentropy_clipped',
    accuracy: 'none' | 'categorical' | 'sparse' | 'binary',
    pred: NativeTensor,
    labels: NativeTensor,
    weights: NativeTensor | null,
    dpred: NativeTensor | null,
    metrics: NativeTensor,
    step: number,
    counter?: NativeTensor | null,
  ): void;
  /**
   * The model's head in one op: logits = x w + b (a linear Dense layer), loss() on them with dlogits as dpred, then
   * the layer's backward dx, dw, db (each may be null).
   */
  denseLoss(
    kind: 'crossentropy' | 'binary_crossentropy' | 'mse' | 'mae' | 'crossentropy_clipped' | 'binary_crossentropy_clipped',
    accuracy: 'none' | 'categorical' | 'sparse' | 'binary',
    x: NativeTensor,
    w: NativeTensor,
    b: NativeTensor | null,
    logits: NativeTensor,
    labels: NativeTensor,
    weights: NativeTensor | null,
    dlogits: NativeTensor,
    dx: NativeTensor | null,
    dw: NativeTensor | null,
    db: NativeTensor | null,
    metrics: NativeTensor,
    step: number,
    counter?: NativeTensor | null,
  ): void;
  /** Adadelta over every parameter in one call; lr is a float32 tensor [1] on their device, read when the update runs. */
  adadelta(
    params: NativeTensor[],
    grads: NativeTensor[],
    accums: NativeTensor[],
    deltaAccums: NativeTensor[],
    lr: NativeTensor,
    rho: number,
    epsilon: number,
  ): void;
  /**
   * One update of every parameter by SGD, Adam(W), RMSprop or Adagrad (cpp/optim.h), in one call. hyper = [beta1
   * (RMSprop: rho), beta2, epsilon, momentum, nesterov, amsgrad, centered, weightDecay]; slots holds one array per
   * slot, one tensor per parameter; lr (float32 [1]) and iterations (int32 [1]) are read when the update runs.
   */
  optimizerStep(
    kind: 'sgd' | 'adam' | 'rmsprop' | 'adagrad',
    hyper: number[],
    params: NativeTensor[],
    grads: NativeTensor[],
    slots: NativeTensor[][],
    lr: NativeTensor,
    iterations: NativeTensor,
  ): void;
  /** lr[0] = the schedule's rate at iterations[0] (cpp/schedule.h), on their device: no host round trip. */
  learningRate(schedule: ScheduleKind, params: number[], iterations: NativeTensor, lr: NativeTensor): void;
  /** The schedule's rate at `step`, computed on the host by the same function. */
  scheduleValue(schedule: ScheduleKind, params: number[], step: number): number;
  /**
   * dst[i] = src[indices[start + counter[0] * rows + i]] (rows = dst.shape[0]); positions past the end of
   * indices, which only the device sees when there is a counter, give zero rows. src and dst may be arrays of as
   * many tensors, gathered by the same indices (dst[k] from src[k], all with the same rows): one launch on a GPU.
   */
  gatherRows(
    src: NativeTensor | NativeTensor[],
    indices: NativeTensor,
    start: number,
    dst: NativeTensor | NativeTensor[],
    counter?: NativeTensor | null,
  ): void;
  /** counter[0] += 1 on the counter's device (saturating at 2^31 - 1), and also[0] += 1 when given (one launch on a GPU). */
  advance(counter: NativeTensor, also?: NativeTensor | null): void;
  /**
   * Starts recording: until endRecord(), ops on `device` (default: the environment's backend) are checked and
   * stored instead of run. Tensor reads and writes, permutation, fromBytes and synchronize are refused meanwhile.
   */
  record(device?: Device): void;
  /** Stops recording and returns the recorded ops as a program. */
  endRecord(): NativeProgram;
  permutation(indices: NativeTensor, seed: number, offset: number): void;
  randomUniform(t: NativeTensor, low: number, high: number, seed: number, offset: number): void;
  /** Normal with this standard deviation, redrawn beyond two of them (Keras's TruncatedNormal). */
  randomNormal(t: NativeTensor, stddev: number, seed: number, offset: number): void;
  oneHot(labels: NativeTensor, out: NativeTensor): void;
  fromBytes(bytes: Uint8Array, divisor: number, out: NativeTensor): void;
  // General tensor math (cpp/tensor_math.h, cpp/math_addon.cc; lib/ops/ builds kernelnet/tfjs's operations on it).
  // Every output is a fresh tensor sharing memory with no input; a bool is stored as int32 0 or 1.
  /**
   * y = op(x) elementwise (x and y of one size). A bool op writes a bool y; 'cast' converts float32 and int32 (a
   * float to int32 as Int32Array stores it); the rest keep x's dtype (an int32 exactly for the integer ops, else
   * computed in double and stored as Int32Array stores it). p0, p1: leakyRelu's alpha and step's value (p0), clip's [p0, p1], affine's x * p0 + p1.
   */
  mathUnary(op: UnaryOp, x: NativeTensor, y: NativeTensor, p0?: number, p1?: number): void;
  /** y = a op b with numpy broadcasting, a and b of one dtype; y a bool for a comparison or logical op, else a's dtype. */
  mathBinary(op: MathBinaryOp, a: NativeTensor, b: NativeTensor, y: NativeTensor): void;
  /** y = cond ? a : b elementwise over one size; cond a bool, a, b and y of one dtype. */
  mathSelect(cond: NativeTensor, a: NativeTensor, b: NativeTensor, y: NativeTensor): void;
  /** y (its shape the view's) = x's elements offset + sum_d i_d * strides[d] (a stride may be 0 or negative); the view must lie inside x. */
  stridedCopy(x: NativeTensor, y: NativeTensor, strides: number[], offset: number): void;
  /** y[o, i] = op over x[o, :, i] of x as [outer, n, inner], in a fixed order; y int32 for argMax/argMin, else x's dtype (all/any: bool). */
  reduce(op: ReduceOp, x: NativeTensor, dims: [number, number, number], y: NativeTensor): void;
  /** y = the running sum ('add') or product ('mul') of x as [outer, n, inner] along n. */
  scan(op: 'add' | 'mul', x: NativeTensor, dims: [number, number, number], exclusive: boolean, reverse: boolean, y: NativeTensor): void;
  /** y[o, j, i] = x[o, indices[j], i] of x as [outer, n, inner]; indices int32 [m] in [0, n) (checked by the caller). */
  gatherAxis(x: NativeTensor, dims: [number, number, number], indices: NativeTensor, y: NativeTensor): void;
  /** y[i] (m x n) = a[i] (m x k) x b[i] (k x n), float32; a repeated operand is one matrix for every i. */
  batchMatmul(a: NativeTensor, b: NativeTensor, y: NativeTensor, dims: [number, number, number, number], aRepeat: boolean, bRepeat: boolean): void;
  /** The k largest values of each row (last axis) of a float32 x, descending (ties: lower index first), and their indices. */
  topk(x: NativeTensor, k: number, values: NativeTensor, indices: NativeTensor): void;
  /** tf.image's resizes of x [n, h, w, c] into y [n, oh, ow, c] (bilinear or nearest). */
  resize2d(x: NativeTensor, y: NativeTensor, bilinear: boolean, alignCorners: boolean, halfPixelCenters: boolean): void;
  /** y[i] = start + i * step, computed in double and rounded once (float32 or int32 y). */
  iota(y: NativeTensor, start: number, step: number): void;
  /** t = mean + stddev * a standard normal (not truncated), from the Philox stream (seed, offset). */
  randomGauss(t: NativeTensor, mean: number, stddev: number, seed: number, offset: number): void;
  // Data-parallel training's collectives (cpp/collective.h, cpp/distributed_addon.cc; lib/distribution.ts).
  /** Loads and starts the collective engine (Open MPI from `library`, a path, or libmpi.so.40; once per process); each collective bounded by timeoutS. */
  distInit(timeoutS: number, library?: string): void;
  /** The engine's name and version, this process's rank and the job's size. */
  distInfo(): { engine: string; rank: number; size: number };
  /** Each float32 tensor (CPU) = scale * the sum of its copies over the ranks, summed in rank order: the same bits everywhere. */
  distAverage(tensors: NativeTensor[], scale: number): void;
  /** Each tensor (CPU, any dtype) = the root rank's. */
  distBroadcast(tensors: NativeTensor[], root: number): void;
  /**
   * Ends the whole job (every rank) with this exit code, printing the message with this rank's number: now, or with
   * atExit when this process exits (after Node has printed what it prints).
   */
  distAbort(code: number, message: string, atExit?: boolean): void;
  stats(): MemoryStats;
  backend(): BackendInfo;
  /** What each backend would run on; for a usable GPU also its datasheet FP32 peak and DRAM bandwidth. */
  backends(): {
    cpu: { available: true; device: string };
    cuda: {
      available: boolean;
      device: string;
      reason: string;
      peakGflops?: number;
      peakGBs?: number;
      tf32?: boolean;
      /** The variant each op family runs (the kernel lab's numbering), e.g. { gemm: '1 simt-fp32' }. */
      kernels?: Record<string, string>;
      /** Every numbered variant per family, as gemmVariant() takes them (1-based). */
      variants?: Record<string, string[]>;
    };
  };
  /** Waits for the queued work of a backend (default: the environment's). */
  synchronize(device?: Device): void;
  /** The kernel lab: c = op(a) op(b) with the backend's GEMM variant `kernel` (backends().cuda.variants.gemm, 1-based). */
  gemmVariant(kernel: number, a: NativeTensor, b: NativeTensor, c: NativeTensor, ta: boolean, tb: boolean): void;
  /**
   * Starts (true) or stops (false) a profiler's collection range after waiting for the queued work: on CUDA
   * cudaProfilerStart/Stop, which `ncu --profile-from-start off` honours; a no-op on the CPU.
   */
  profile(on: boolean, device?: Device): void;
  numThreads(n?: number): number;
  cpuKernel(): string;
  /** The CPU's measured FMA peak over all threads, GFLOP/s, measured for about `seconds`. */
  cpuPeakGflops(seconds: number): number;
  /** The package version the binary was built from. */
  version(): string;
  /** Hands the addon lib/core/errors.ts's makeError: every error it throws is then one of kernelnet's classes. */
  setErrorFactory(makeError: (code: string, message: string, props?: Record<string, unknown>) => Error): void;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const require = createRequire(import.meta.url);
const packageVersion: string = require(join(root, 'package.json')).version;

/** The platforms whose prebuilt binary the package ships (scripts/pack-check.mjs holds a tarball to the same list). */
export const PREBUILD_PLATFORMS: readonly string[] = ['linux-x64', 'linux-arm64'];

/** The places a binary may be, in order: a local build (from source), then the prebuild for this platform. */
function candidates(): { kind: string; path: string }[] {
  return [
    { kind: 'local build', path: join(root, 'build', 'Release', 'kernelnet.node') },
    { kind: 'prebuild', path: join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'kernelnet.node') },
  ];
}

/**
 * Loads the addon: the local build when it was built from this version of the package, else the prebuild. A
 * stale local build (left from another version) never shadows the prebuild. On failure, the error lists what
 * was tried and possible solutions for the cause.
 */
function load(): { addon: Native; binary: NativeBinary } {
  const tried: string[] = [];
  let loadError: Error | undefined;
  for (const c of candidates()) {
    if (!existsSync(c.path)) {
      tried.push(`${c.kind} ${c.path}: not found`);
      continue;
    }
    let addon: Native;
    try {
      addon = require(c.path) as Native;
    } catch (err) {
      loadError ??= err as Error;
      tried.push(`${c.kind} ${c.path}: ${(err as Error).message.split('\n')[0]}`);
      continue;
    }
    const built = typeof addon.version === 'function' ? addon.version() : 'unknown';
    if (built === packageVersion) {
      addon.setErrorFactory(makeError);
      return { addon, binary: { kind: c.kind, path: c.path, version: built } };
    }
    tried.push(`${c.kind} ${c.path}: built for kernelnet ${built}, this is ${packageVersion} (stale, skipped)`);
  }
  throw new LoadError(
    `kernelnet: could not load the native addon.\nTried:\n${tried.map(t => `  - ${t}`).join('\n')}\n` +
      `Possible solutions:\n${loadSolutions({
        platform: `${process.platform}-${process.arch}`,
        nodeVersion: process.versions.node,
        root,
        loadError: loadError?.message,
        built: existsSync(join(root, 'build')),
      })
        .map(t => `  - ${t}`)
        .join('\n')}`,
    'ERR_KERNELNET_LOAD',
    { cause: loadError },
  );
}

/** What was found when no binary loaded, for loadSolutions. */
export interface LoadFacts {
  /** process.platform-process.arch. */
  platform: string;
  nodeVersion: string;
  /** The package's folder: how it was installed shows in its path (pnpm's node_modules/.pnpm/, Yarn's .yarn/). */
  root: string;
  /** The first error of a binary that was found but did not load. */
  loadError?: string;
  /** Whether the package has a build/ folder, i.e. a build from source was at least attempted. */
  built: boolean;
}

/**
 * What to do when no binary loads, most likely first. A platform without a prebuild needs the install script to
 * build from source, and package managers increasingly skip dependencies' install scripts until allowed (pnpm
 * 10 and later, npm 12, Yarn 4, bun): with no build/ folder at all, that is the likely cause.
 */
export function loadSolutions(f: LoadFacts): string[] {
  const solutions: string[] = [];
  const [major, minor] = f.nodeVersion.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 19)) solutions.push(`upgrade Node.js: kernelnet needs Node 20.19 or newer, this is v${f.nodeVersion}`);
  const hasPrebuild = PREBUILD_PLATFORMS.includes(f.platform);
  if (!hasPrebuild)
    solutions.push(`no prebuilt binary exists for ${f.platform} (prebuilds cover ${PREBUILD_PLATFORMS.join(', ')}): build from source`);
  if (f.loadError && /GLIBC|GLIBCXX/.test(f.loadError))
    solutions.push("this system's C/C++ runtime is older than the prebuild needs (glibc 2.34, libstdc++ of GCC 12): build from source");
  const tools = "needs cmake and a C++17 compiler, or node-gyp's toolchain; nvcc on PATH adds the CUDA backend";
  const path = f.root.replaceAll('\\', '/');
  if (!f.built && !f.loadError) {
    // Nothing was built and nothing failed to load: the install script that builds from source never ran.
    const skipped = 'no binary was built at install: install scripts may have been skipped';
    if (path.includes('/node_modules/.pnpm/'))
      solutions.push(
        `${skipped} (pnpm runs a dependency's only once allowed): run \`pnpm approve-builds\` and choose kernelnet, ` + `which builds it (${tools})`,
      );
    else if (path.includes('/.yarn/'))
      solutions.push(
        `${skipped} (Yarn 4 runs a dependency's only once allowed): add "dependenciesMeta": { "kernelnet": { "built": true } } ` +
          `to package.json, then run \`yarn install\` (${tools})`,
      );
    else if (path.includes('/node_modules/.bun/') || path.includes('/.bun/install/'))
      solutions.push(`${skipped} (bun runs a dependency's only once trusted): run \`bun pm trust kernelnet\` (${tools})`);
    else
      solutions.push(
        `${skipped} (npm 12, pnpm, Yarn 4 and bun run a dependency's only once allowed; --ignore-scripts skips them): ` +
          `with npm 12 run \`npm install-scripts approve kernelnet\` then \`npm rebuild kernelnet\`; with npm 11 or older \`npm rebuild kernelnet\`; ` +
          `with pnpm \`pnpm approve-builds\` (${tools})`,
      );
  } else {
    solutions.push(`build from source: \`npm rebuild kernelnet --foreground-scripts\` (${tools}), which shows the build's output`);
  }
  return solutions;
}

/** What nativeBinary() returns: which binary of the addon was loaded. */
export interface NativeBinary {
  /** 'local build' or 'prebuild'. */
  kind: string;
  /** The kernelnet.node file's absolute path. */
  path: string;
  /** The package version the binary was built from (the same as the package's: a stale build is skipped). */
  version: string;
}

const loaded = load();

/** The loaded addon. */
export const native: Native = loaded.addon;
// The first call checks the environment variables (cpp/env.h) and chooses the backend: made here, at import, so
// that a variable set to a value kernelnet does not accept (a ValidationError, ERR_KERNELNET_ARG) or a
// KERNELNET_BACKEND that cannot run (a DeviceError, ERR_KERNELNET_BACKEND) is reported now rather than at the
// first op.
native.backend();

/** Which binary was loaded, and from where. */
export function nativeBinary(): NativeBinary {
  return { ...loaded.binary };
}
