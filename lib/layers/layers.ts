// Layers, shaped like TensorFlow.js's layers API: constructor(args) -> build(inputShape) -> forward/backward.
// A layer holds no math: forward and backward call the addon, writing into buffers allocated once per
// (model, batch size). Shapes here are per example (no batch axis), channels-last as Keras.
import {
  NATIVE_ACTIVATIONS,
  NEEDS_INPUT,
  native,
  type BelowAct,
  type ConvArgs,
  type Device,
  type DropArgs,
  type NativeActivation,
  type NativeTensor,
  type Padding,
  type PoolArgs,
} from '../core/native.js';
import { Tensor, empty, handleOf } from '../core/tensor.js';
import { applyLayer, releaseLayer, type SymbolicTensor } from '../engine/symbolic.js';
import { ValidationError, stateError } from '../core/errors.js';
import { TfjsInitializer, type InitSpec } from './initializers.js';
import { NOT_USED, checkOptions, ownOptions, fail, intPair, numberIn, oneOf, positiveInt, shapeArg, type NotYet } from '../core/validate.js';

/**
 * An activation by name (tfjs's ActivationIdentifier): Keras 3's relu, relu6, elu, selu, sigmoid, tanh,
 * softplus, swish (alias silu), gelu, leaky_relu (alias leakyRelu), linear, and softmax on a model's last layer.
 */
export type ActivationIdentifier = NativeActivation | 'softmax' | 'silu' | 'leakyRelu';

/** One weight a layer declares when it is built (kernel, bias, gamma...); the model allocates it at compile. */
export interface ParamSpec {
  /** Keras's weight name within the layer: kernel, bias, gamma, beta, moving_mean, moving_variance. */
  name: string;
  /** The weight's shape (kernel [KH, KW, C, F] for Conv2D, [I, O] for Dense). */
  shape: number[];
  /** How the model fills it when it makes it (Keras's initializers with these fans, or tfjs's: initializers.ts). */
  init: InitSpec;
  /** false for a weight no optimizer updates (BatchNormalization's moving statistics); default true. */
  trainable?: boolean;
}

/** A trainable tensor and its gradient, allocated by the model. */
export interface Param extends ParamSpec {
  /** The weight, on the model's device. */
  value: NativeTensor;
  /** Its gradient, written by the layer's backward. */
  grad: NativeTensor;
}

/** Per-batch-size buffers of one layer. */
export interface LayerBuffers {
  /** The output [N, ...outputShape], or null for a layer whose forward returns its input or a view of it. */
  y: NativeTensor | null;
  /** The input gradient [N, ...inputShape], or null when no gradient flows back to the layer before. */
  dx: NativeTensor | null;
  /** A layer-specific buffer: the fused activation's input, MaxPooling2D's argmax, BatchNormalization's mean. */
  extra: NativeTensor | null;
  /** A second layer-specific buffer (GlobalMaxPooling2D's argmax). */
  aux?: NativeTensor;
  /** BatchNormalization folded into the layer before it for inference: the folded weights, made on first use. */
  fold?: { w: NativeTensor; b: NativeTensor };
  /** Reshaped views of tensors passed to the layer, made once per tensor. */
  views: WeakMap<NativeTensor, NativeTensor>;
  /** A merge layer's input gradients, one per input (null where none flows back). */
  dxs?: (NativeTensor | null)[];
  /** A merge of three or more inputs: the running results x0 op x1, (x0 op x1) op x2, ..., and their gradients. */
  partials?: NativeTensor[];
}

/** What a training step's head hands the loss (Dense.forwardLossBackward; native.loss's arguments). */
export interface HeadLoss {
  kind: Parameters<typeof native.loss>[0];
  accuracy: Parameters<typeof native.loss>[1];
  labels: NativeTensor;
  weights: NativeTensor | null;
  dlogits: NativeTensor;
  metrics: NativeTensor;
  step: number;
}

/** What a step passes down: the dropout stream of this layer, (seed, offset + counter[0]). */
export interface StepContext {
  /** Whether the step trains (Dropout drops, BatchNormalization normalises by the batch). */
  training: boolean;
  /** The dropout stream's seed. */
  seed: number;
  /** The dropout stream's offset, to which the step counter is added. */
  offset: number;
  /** The step counter (an int32 tensor [1] advanced on the device after each step), or null for 0. */
  counter: NativeTensor | null;
  /** Backward: whether the gradient must flow on to the layer before (false for the first layer that trains). */
  inputGrad?: boolean;
  /** Backward: whether this layer's weights train (false for a frozen layer: no weight gradients are made). */
  weightGrads?: boolean;
  /** Backward: the layer below's activation, applied to this layer's input gradient (native.ts's BelowAct). */
  below?: BelowAct;
  /** Backward: dy is already the gradient of this layer's activation's input (the layer above applied it). */
  dzGiven?: boolean;
}

/** What dispose() returns (tfjs's DisposeResult). */
export interface DisposeResult {
  /** Always 0: the memory is freed at once. */
  refCountAfterDispose: number;
  /** How many weights were freed. */
  numDisposedVariables: number;
}

/** The options every layer takes (tfjs's LayerArgs). */
export interface LayerArgs {
  /** The layer's name, unique within a model; by default Keras's, from the class name (conv2d, conv2d_1, ...). */
  name?: string;
  /** The shape of one example, without the batch axis (e.g. [28, 28, 1]); needed by a model's first layer. */
  inputShape?: number[];
  /** false freezes the layer's weights (default true). */
  trainable?: boolean;
}

// tfjs-layers' options of every layer (LayerArgs), and those of layers with a kernel and a bias: what kernelnet
// does anyway is accepted, anything else is refused rather than ignored.
const LAYER_OPTIONS = ['name', 'inputShape', 'trainable'] as const;
const LAYER_NOT_YET: Record<string, NotYet> = {
  batchInputShape: { hint: 'pass inputShape, without the batch axis' },
  batchSize: { hint: "pass inputShape; the batch size is fit()'s" },
  dtype: { ok: NOT_USED.float32 },
  inputDType: { ok: NOT_USED.float32 },
  weights: { hint: 'call model.setWeights() after compile()' },
};
const KERNEL_NOT_YET: Record<string, NotYet> = {
  kernelRegularizer: {},
  biasRegularizer: {},
  activityRegularizer: {},
  kernelConstraint: {},
  biasConstraint: {},
};
const KERNEL_OPTIONS = ['useBias', 'kernelInitializer', 'biasInitializer'] as const;

/** Keras's initializers by name (tfjs spellings; snake_case accepted): the variance-scaling ones and constants. */
export type Initializer = 'glorotUniform' | 'glorotNormal' | 'heUniform' | 'heNormal' | 'lecunUniform' | 'lecunNormal' | 'zeros' | 'ones';
const INITIALIZERS = ['glorotUniform', 'glorotNormal', 'heUniform', 'heNormal', 'lecunUniform', 'lecunNormal', 'zeros', 'ones'] as const;
const INITIALIZER_ALIASES: Record<string, Initializer> = {
  glorot_uniform: 'glorotUniform',
  glorot_normal: 'glorotNormal',
  he_uniform: 'heUniform',
  he_normal: 'heNormal',
  lecun_uniform: 'lecunUniform',
  lecun_normal: 'lecunNormal',
};

/**
 * The kernel and bias of a layer with useBias, kernelInitializer and biasInitializer (Keras's defaults). An
 * initializer from kernelnet/tfjs's tf.initializers draws as tfjs's does, with its fans from the weight's shape.
 */
function kernelSpecs(args: KernelArgs, kernelShape: number[], fanIn: number, fanOut: number, units: number): ParamSpec[] {
  const init = (v: unknown, name: string, fallback: Initializer, shape: number[]): InitSpec => {
    if (v instanceof TfjsInitializer) return v.spec(shape, name);
    const kind = oneOf(v ?? fallback, name, INITIALIZERS, INITIALIZER_ALIASES);
    return kind === 'zeros' || kind === 'ones' ? { kind } : { kind, fanIn, fanOut };
  };
  const kernel: ParamSpec = {
    name: 'kernel',
    shape: kernelShape,
    init: init(args.kernelInitializer, 'kernelInitializer', 'glorotUniform', kernelShape),
  };
  return args.useBias === false
    ? [kernel]
    : [kernel, { name: 'bias', shape: [units], init: init(args.biasInitializer, 'biasInitializer', 'zeros', [units]) }];
}

/** Options of the layers with a kernel (Conv2D, Dense). */
export interface KernelArgs {
  /** Add a learned bias (default true). */
  useBias?: boolean;
  /** Default 'glorotUniform'; or an initializer from kernelnet/tfjs's tf.initializers. */
  kernelInitializer?: Initializer | TfjsInitializer;
  /** Default 'zeros'; or an initializer from kernelnet/tfjs's tf.initializers. */
  biasInitializer?: Initializer | TfjsInitializer;
}

/** The initializers as getConfig gives them: a tfjs initializer by its Keras name where it has one. */
function kernelConfig(args: KernelArgs): Record<string, unknown> {
  const out: Record<string, unknown> = { ...args };
  for (const k of ['kernelInitializer', 'biasInitializer'] as const) {
    const v = args[k];
    if (v instanceof TfjsInitializer) out[k] = v.kerasName() ?? v;
  }
  return out;
}

/** @internal The options schema of a layer class: its own options on top of every layer's. */
export function layerSchema(className: string, own: readonly string[], notYet: Record<string, NotYet> = {}) {
  return { what: `${className} args`, supported: [...LAYER_OPTIONS, ...own], notYet: { ...LAYER_NOT_YET, ...notYet } };
}

/**
 * The base of kernelnet's layers (tfjs's Layer): made with its options, built by model.add() for its input shape,
 * its weights made by the model's compile().
 */
export abstract class Layer {
  /** The class name (tfjs's getClassName()), as checkpoints and tfjs's model.json record it. */
  abstract readonly className: string;
  /** The layer's name: as given, else set by model.add() to Keras's default (conv2d, conv2d_1, ...), unique in the model. */
  name: string;
  /** @internal The inputShape option as given (Dense's inputDim included), the input shape of a model's first layer. */
  readonly inputShapeArg?: number[];
  /** The shape of one input example (no batch axis), set when model.add() builds the layer; [] before. */
  inputShape: number[] = [];
  /** The shape of one output example (no batch axis), set when model.add() builds the layer; [] before. */
  outputShape: number[] = [];
  /** @internal The weights the layer declares, set when it is built. */
  specs: ParamSpec[] = [];
  /** @internal The weights and their gradients, allocated by the model's compile() in the order of specs. */
  params: Param[] = [];
  /**
   * @internal The models this layer is in. A layer added to several models is shared, as in Keras: one set of
   * weights, made by the first of them to compile and freed with the last of them.
   */
  readonly models = new Set<object>();
  /**
   * Whether fit() updates this layer's weights (Keras's layer.trainable). A frozen layer's weights stay as they
   * are; its gradients still flow to the layers before it. Read at every epoch's start.
   */
  trainable = true;
  /**
   * @internal Set by compile on the last layer when the loss applies its activation (softmax for the
   * categorical cross-entropies, sigmoid for binary cross-entropy), fused and stable: the layer then emits logits.
   */
  headFused = false;

  /** @internal Checks the options against the class's schema (unknown ones refused) and takes every layer's. */
  constructor(args: LayerArgs | undefined, schema: ReturnType<typeof layerSchema>) {
    args = checkOptions(args, schema);
    this.name = args?.name ?? '';
    this.trainable = args?.trainable ?? true;
    if (typeof this.trainable !== 'boolean') fail('a boolean', 'trainable', this.trainable);
    if (this.name !== '' && typeof this.name !== 'string') fail('a string', 'name', this.name);
    if (args?.inputShape !== undefined) this.inputShapeArg = shapeArg(args.inputShape, 'inputShape');
  }

  /** Infers the output shape from the input shape and declares the parameters. */
  build(inputShape: number[]): void {
    this.inputShape = inputShape;
    this.outputShape = this.computeOutputShape(inputShape);
    this.built = true;
  }

  /** @internal Whether build() ran: the layer's shapes (and weights' shapes) are fixed. */
  built = false;

  /**
   * @internal Builds the layer for the shapes of its inputs (per example) the first time it is applied, and checks
   * them on a later application (a shared layer takes one input shape); returns the output shape.
   */
  buildFor(shapes: number[][]): number[] {
    const what = this.name || this.className;
    if (shapes.length !== 1)
      throw new ValidationError(
        `${what} takes one input, but was applied to ${shapes.length}; merge them first (Concatenate, Add, ...)`,
        'ERR_KERNELNET_SHAPE',
      );
    if (!this.built) this.build(shapes[0]);
    else if (shapes[0].join() !== this.inputShape.join())
      throw new ValidationError(
        `${what} was built for inputs of shape [N, ${this.inputShape.join(', ')}] but is applied to [N, ${shapes[0].join(', ')}]`,
        'ERR_KERNELNET_SHAPE',
      );
    return this.outputShape;
  }

  /**
   * Applies the layer to a symbolic tensor (or, for a merge layer, an array of them) from `input()` or another
   * layer's apply(), building it on first use: the functional API (tfjs's layer.apply, Keras's layer(x)). The same
   * layer applied twice shares its weights.
   */
  apply(inputs: SymbolicTensor | SymbolicTensor[]): SymbolicTensor;
  /**
   * The layer's output for tensors of data (Keras's layer(x), tfjs's eager apply), as a one-layer model runs it: its
   * weights are made on the first call and kept (dispose() frees them); differentiable inside tf.grad and
   * optimizer.minimize. `training` as model.apply's.
   */
  apply(inputs: Tensor | Tensor[], kwargs?: { training?: boolean }): Tensor;
  apply(inputs: SymbolicTensor | SymbolicTensor[] | Tensor | Tensor[], kwargs?: { training?: boolean }): SymbolicTensor | Tensor {
    return applyLayer(this, inputs as SymbolicTensor | SymbolicTensor[], kwargs);
  }

  /**
   * Frees the weights apply() on tensors made (tfjs's layer.dispose()); a model holding the layer keeps its own.
   * Returns tfjs's DisposeResult.
   */
  dispose(): DisposeResult {
    return { refCountAfterDispose: 0, numDisposedVariables: releaseLayer(this) };
  }

  /** @internal The output shape for an input shape (both per example); declares the weights (specs) too. */
  protected abstract computeOutputShape(inputShape: number[]): number[];

  /**
   * The number of weight values (Keras's count_params()), known once the layer is built; with `trainableOnly`,
   * only those an optimizer updates (BatchNormalization's moving statistics left out).
   */
  countParams(trainableOnly = false): number {
    return this.specs.filter(s => !trainableOnly || s.trainable !== false).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  }

  /** @internal Buffers for a batch of `batch` examples on the model's device; dx only when the gradient must flow back. */
  allocate(batch: number, needInputGrad: boolean, device: Device): LayerBuffers {
    return {
      y: empty([batch, ...this.outputShape], 'float32', device),
      dx: needInputGrad ? empty([batch, ...this.inputShape], 'float32', device) : null,
      extra: null,
      views: new WeakMap(),
    };
  }

  /** @internal Computes the output for a batch x, in buf.y or as a view of x; returns it. */
  abstract forward(x: NativeTensor, buf: LayerBuffers, ctx: StepContext): NativeTensor;
  /** @internal Writes parameter gradients and returns the gradient with respect to x (null if not needed). */
  abstract backward(x: NativeTensor, y: NativeTensor, dy: NativeTensor, buf: LayerBuffers, ctx: StepContext): NativeTensor | null;

  /** The layer's configuration (Keras's get_config(), tfjs's camelCase keys): name, trainable and its own options. */
  getConfig(): Record<string, unknown> {
    return { name: this.name, trainable: this.trainable };
  }

  /** Copies of the layer's weights (kernel, then bias), as Keras's layer.get_weights(); [] for a layer without. */
  getWeights(): Tensor[] {
    return readParams(this.allocatedParams('getWeights'));
  }

  /** Sets the layer's weights (kernel, then bias), checking every tensor before writing any. */
  setWeights(weights: Tensor[]): void {
    writeParams(this.allocatedParams('setWeights'), weights);
  }

  private allocatedParams(op: string): Param[] {
    if (this.specs.length && !this.params.length)
      throw stateError(`${this.name || this.className}.${op}: the weights are made by the model's compile(); compile it first`);
    return this.params;
  }
}

/** @internal Keras's default name for a layer of this class: Conv2D -> conv2d, BatchNormalization -> batch_normalization. */
export function defaultLayerName(className: string): string {
  return className
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .replace(/([0-9])D$/, '$1d')
    .toLowerCase();
}

/** Copies of parameters, each on its device. */
export function readParams(params: Param[]): Tensor[] {
  return params.map(p => new Tensor(new native.Tensor(p.shape, 'float32', p.value.read(), p.value.device)));
}

/** Writes new values into parameters, atomically: every tensor is checked and read before any is written. */
export function writeParams(params: Param[], weights: unknown): void {
  if (!Array.isArray(weights) || weights.length !== params.length) fail(`an array of ${params.length} tensors`, 'weights', weights);
  const values = weights.map((w, i) => {
    const h = handleOf(w, `weights[${i}]`);
    if (h.dtype !== 'float32' || h.shape.join() !== params[i].shape.join())
      throw new ValidationError(
        `Expected weights[${i}] to be a float32 tensor of shape [${params[i].shape}] but received ${h.dtype} [${h.shape}]`,
        'ERR_KERNELNET_SHAPE',
      );
    return h.read();
  });
  values.forEach((v, i) => params[i].value.write(v));
}

/** The activation a layer's fused epilogue applies: softmax belongs to the model's head (fused with the loss). */
function epilogueActivation(a: NativeActivation | 'softmax'): NativeActivation {
  return a === 'softmax' ? 'linear' : a;
}

const ACTIVATION_ALIASES = { silu: 'swish', leakyRelu: 'leaky_relu' } as const;

/** An activation name, aliases resolved; softmax only where the layer may end a model. */
function activationArg(value: unknown, name: string, softmax: boolean): NativeActivation | 'softmax' {
  const names = softmax ? [...NATIVE_ACTIVATIONS, 'softmax' as const] : NATIVE_ACTIVATIONS;
  return oneOf(value ?? 'linear', name, names, ACTIVATION_ALIASES);
}

/** Buffers of a layer with a fused activation: `extra` holds its input when its derivative needs it (swish, gelu). */
function withPre(buf: LayerBuffers, activation: NativeActivation | 'softmax', shape: number[], device: Device): LayerBuffers {
  if (NEEDS_INPUT.includes(epilogueActivation(activation))) buf.extra = empty(shape, 'float32', device);
  return buf;
}

/** The bias, when the layer has one (useBias). */
function bias(layer: Layer): Param | null {
  if (!layer.specs.some(s => s.name === 'bias')) return null;
  return param(layer, 'bias');
}

/** useBias and the initializers, checked (kept as given, for getConfig; Keras's defaults apply when absent). */
function kernelArgs(args: KernelArgs): KernelArgs {
  const out: KernelArgs = {};
  if (args.useBias !== undefined) {
    if (typeof args.useBias !== 'boolean') fail('a boolean', 'useBias', args.useBias);
    out.useBias = args.useBias;
  }
  for (const k of ['kernelInitializer', 'biasInitializer'] as const)
    if (args[k] instanceof TfjsInitializer) out[k] = args[k];
    else if (args[k] !== undefined) out[k] = oneOf(args[k], k, INITIALIZERS, INITIALIZER_ALIASES);
  return out;
}

function param(layer: Layer, name: string): Param {
  const p = layer.params.find(q => q.name === name);
  if (!p) throw stateError(`${layer.name}: parameters are not allocated; compile the model first`);
  return p;
}

/** Conv2D's options (tfjs's conv2d args). */
export interface Conv2DArgs extends LayerArgs, KernelArgs {
  /** The number of filters: the output's channels. */
  filters: number;
  /** The kernel's size: n for n x n, or [height, width]. */
  kernelSize: number | [number, number];
  /** The kernel's step: n, or [down, across] (default 1). */
  strides?: number | [number, number];
  /** 'valid' (default: no padding, the output shrinks) or 'same' (zeros around: the output is ceil(input / strides)). */
  padding?: Padding;
  /**
   * The spacing of the kernel's taps (default 1): tap (ky, kx) reads input row oy*strideH + ky*dilationH, so a
   * 3x3 kernel with rate 2 spans 5x5. As in Keras and tfjs, a rate above 1 needs strides of 1.
   */
  dilationRate?: number | [number, number];
  /** The activation applied to the output, fused into the convolution (default 'linear'; not softmax). */
  activation?: ActivationIdentifier;
}

const CONV2D_SCHEMA = layerSchema('Conv2D', ['filters', 'kernelSize', 'strides', 'padding', 'dilationRate', 'activation', ...KERNEL_OPTIONS], {
  ...KERNEL_NOT_YET,
  dataFormat: { ok: NOT_USED.channelsLast },
  groups: { ok: NOT_USED.one },
});

/** 2-D convolution (im2col + GEMM), kernel [KH, KW, C, F] (glorot_uniform by default), bias (zeros). */
export class Conv2D extends Layer {
  readonly className = 'Conv2D';
  /** @internal useBias and the initializers, as given. */
  readonly kernelArgs: KernelArgs;
  /** The number of filters: the output's channels. */
  readonly filters: number;
  /** The kernel's [height, width]. */
  readonly kernelSize: [number, number];
  /** The kernel's step, [down, across] (default [1, 1]). */
  readonly strides: [number, number];
  /** 'valid' (default) or 'same'. */
  readonly padding: Padding;
  /** The spacing of the kernel's taps, [rows, columns] (default [1, 1]). */
  readonly dilationRate: [number, number];
  /** The activation fused into the convolution's output, aliases resolved (default 'linear'); softmax (over the channels) on an output layer only. */
  readonly activation: NativeActivation | 'softmax';

  constructor(args: Conv2DArgs) {
    super(args, CONV2D_SCHEMA);
    args = ownOptions(args); // own properties only (see checkOptions)
    args ??= {} as Conv2DArgs; // refused below with what is missing
    this.filters = positiveInt(args.filters, 'filters');
    this.kernelSize = intPair(args.kernelSize, 'kernelSize');
    this.strides = intPair(args.strides ?? 1, 'strides');
    this.dilationRate = intPair(args.dilationRate ?? 1, 'dilationRate');
    // Keras's Conv2D and tfjs's conv2d refuse the pair (TensorFlow has no kernel for it).
    if (this.dilationRate.some(d => d > 1) && this.strides.some(st => st > 1))
      throw new ValidationError(
        `${this.name}: dilationRate [${this.dilationRate}] needs strides of 1, but received strides [${this.strides}] (as in Keras and tfjs)`,
      );
    this.padding = oneOf(args.padding ?? 'valid', 'padding', ['valid', 'same'] as const);
    this.activation = activationArg(args.activation, 'activation', true);
    this.kernelArgs = kernelArgs(args);
  }

  protected computeOutputShape(s: number[]): number[] {
    if (s.length !== 3) fail('an input shape [height, width, channels]', `${this.name} input shape`, s);
    const [kh, kw] = this.kernelSize,
      [sh, sw] = this.strides,
      [dh, dw] = this.dilationRate;
    const out = (n: number, k: number, st: number) => (this.padding === 'same' ? Math.ceil(n / st) : Math.floor((n - k) / st) + 1);
    const oh = out(s[0], (kh - 1) * dh + 1, sh),
      ow = out(s[1], (kw - 1) * dw + 1, sw);
    if (oh < 1 || ow < 1)
      throw new ValidationError(
        `${this.name}: a ${kh}x${kw} kernel${dh * dw > 1 ? ` dilated by [${dh}, ${dw}]` : ''} does not fit an input of shape [${s.join(', ')}] with 'valid' padding`,
        'ERR_KERNELNET_SHAPE',
      );
    this.specs = kernelSpecs(this.kernelArgs, [kh, kw, s[2], this.filters], kh * kw * s[2], kh * kw * this.filters, this.filters);
    return [oh, ow, this.filters];
  }

  override allocate(batch: number, needInputGrad: boolean, device: Device): LayerBuffers {
    return withPre(super.allocate(batch, needInputGrad, device), this.epilogue(), [batch, ...this.outputShape], device);
  }

  /** The conv ops' geometry and epilogue (native.ts's ConvArgs): this layer's, with this activation. */
  private convArgs(activation: NativeActivation, pre: NativeTensor | null, alpha?: number): ConvArgs {
    return { strides: this.strides, padding: this.padding, activation, alpha, dilationRate: this.dilationRate, pre };
  }

  /** @internal The layer's op with other weights and epilogue, into y (the inference folding of BatchNormalization). */
  forwardWith(x: NativeTensor, w: NativeTensor, b: NativeTensor, y: NativeTensor, act: NativeActivation, alpha?: number): void {
    native.conv2dForward(x, w, b, y, this.convArgs(act, null, alpha));
  }

  forward(x: NativeTensor, buf: LayerBuffers): NativeTensor {
    native.conv2dForward(x, param(this, 'kernel').value, bias(this)?.value ?? null, buf.y!, this.convArgs(this.epilogue(), buf.extra));
    return buf.y!;
  }

  backward(x: NativeTensor, y: NativeTensor, dy: NativeTensor, buf: LayerBuffers, ctx: StepContext): NativeTensor | null {
    const k = param(this, 'kernel'),
      b = bias(this),
      dx = ctx.inputGrad === false ? null : buf.dx;
    const grads = ctx.weightGrads !== false;
    native.conv2dBackward(
      x,
      k.value,
      y,
      dy,
      dx,
      grads ? k.grad : null,
      grads && b ? b.grad : null,
      ctx.dzGiven ? this.convArgs('linear', null) : this.convArgs(this.epilogue(), buf.extra),
      ctx.below,
    );
    return dx;
  }

  /** @internal The activation backward applies (and the layer above may apply for it: StepContext's below). */
  get epilogueActivation(): NativeActivation {
    return this.epilogue();
  }

  /** The activation the epilogue applies: none when the loss applies it (an output's fused softmax or sigmoid). */
  private epilogue(): NativeActivation {
    return this.headFused ? 'linear' : epilogueActivation(this.activation);
  }

  /**
   * @internal This layer and the MaxPooling2D after it as one op (plan.ts's convPool rule): the pool's output and argmax
   * are written to its buffers, and the conv's output is never stored. With `dropout` (the Dropout layer after the
   * pool, its buffers and its step context, in training), the dropout's forward too: returns its output.
   */
  forwardPooled(
    x: NativeTensor,
    pool: MaxPooling2D,
    poolBuf: LayerBuffers,
    dropout?: { layer: Dropout; buf: LayerBuffers; ctx: StepContext },
  ): NativeTensor {
    const d = dropout;
    native.conv2dPoolForward(
      x,
      param(this, 'kernel').value,
      bias(this)?.value ?? null,
      poolBuf.y!,
      poolBuf.extra!,
      this.convArgs(this.epilogue(), null),
      poolArgs(pool),
      d && dropArgs(d.layer, d.ctx),
      d?.buf.y ?? undefined,
    );
    return d ? d.buf.y! : poolBuf.y!;
  }

  /**
   * @internal The backward of forwardPooled, from the pool's output gradient; with `dropout` (the Dropout layer
   * after the pool and its step context), from the dropout's output gradient, the dropout's backward folded in.
   */
  backwardPooled(
    x: NativeTensor,
    pool: MaxPooling2D,
    poolBuf: LayerBuffers,
    dpooled: NativeTensor,
    buf: LayerBuffers,
    ctx: StepContext,
    dropout?: { layer: Dropout; ctx: StepContext },
  ): NativeTensor | null {
    const k = param(this, 'kernel'),
      b = bias(this),
      dx = ctx.inputGrad === false ? null : buf.dx;
    const grads = ctx.weightGrads !== false;
    native.conv2dPoolBackward(
      x,
      k.value,
      poolBuf.y!,
      poolBuf.extra!,
      dpooled,
      dx,
      grads ? k.grad : null,
      grads && b ? b.grad : null,
      this.convArgs(this.epilogue(), null),
      poolArgs(pool),
      dropout && dropArgs(dropout.layer, dropout.ctx),
      ctx.below,
    );
    return dx;
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      filters: this.filters,
      kernelSize: this.kernelSize,
      strides: this.strides,
      padding: this.padding,
      dilationRate: this.dilationRate,
      activation: this.activation,
      ...kernelConfig(this.kernelArgs),
    };
  }
}

/** The max-pool of the conv + pool ops (native.ts's PoolArgs): the layer's window and padding (its strides are the window). */
function poolArgs(pool: MaxPooling2D): PoolArgs {
  return { poolSize: pool.poolSize, padding: pool.padding };
}

/** A Dropout folded into the conv + pool ops (native.ts's DropArgs): its rate and the step's stream. */
function dropArgs(layer: Dropout, ctx: StepContext): DropArgs {
  return { rate: layer.rate, seed: ctx.seed, offset: ctx.offset, counter: ctx.counter };
}

/** The options of MaxPooling2D and AveragePooling2D (tfjs's Pooling2DLayerArgs). */
export interface Pooling2DArgs extends LayerArgs {
  /** The window: n for n x n, or [height, width] (default 2). */
  poolSize?: number | [number, number];
  /** The window's step: n, or [down, across] (default poolSize: windows that do not overlap). */
  strides?: number | [number, number];
  /** 'valid' (default) or 'same' (positions outside the input are left out: of the max, and of the average's count). */
  padding?: Padding;
}
/** MaxPooling2D's options: Pooling2DArgs. */
export type MaxPooling2DArgs = Pooling2DArgs;

/** The output size of a pooling window along one axis, or 0 when it does not fit. */
function pooledSize(size: number, pool: number, stride: number, padding: Padding): number {
  return padding === 'same' ? Math.ceil(size / stride) : size >= pool ? Math.floor((size - pool) / stride) + 1 : 0;
}

/** Max- and average-pooling over windows (default 2x2, strides = poolSize), channels last. */
abstract class Pooling2D extends Layer {
  /** The window's [height, width] (default [2, 2]). */
  readonly poolSize: [number, number];
  /** The window's step, [down, across] (default poolSize). */
  readonly strides: [number, number];
  /** 'valid' (default) or 'same'. */
  readonly padding: Padding;

  constructor(args: Pooling2DArgs, className: string) {
    super(args, layerSchema(className, ['poolSize', 'strides', 'padding'], { dataFormat: { ok: NOT_USED.channelsLast } }));
    args = ownOptions(args); // own properties only (see checkOptions)
    args ??= {};
    this.poolSize = intPair(args.poolSize ?? 2, 'poolSize');
    this.strides = intPair(args.strides ?? this.poolSize, 'strides');
    this.padding = oneOf(args.padding ?? 'valid', 'padding', ['valid', 'same'] as const);
  }

  protected computeOutputShape(s: number[]): number[] {
    if (s.length !== 3) fail('an input shape [height, width, channels]', `${this.name} input shape`, s);
    const oh = pooledSize(s[0], this.poolSize[0], this.strides[0], this.padding);
    const ow = pooledSize(s[1], this.poolSize[1], this.strides[1], this.padding);
    if (oh < 1 || ow < 1)
      throw new ValidationError(
        `${this.name}: a ${this.poolSize.join('x')} pool does not fit an input of shape [${s.join(', ')}]`,
        'ERR_KERNELNET_SHAPE',
      );
    return [oh, ow, s[2]];
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), poolSize: this.poolSize, strides: this.strides, padding: this.padding };
  }
}

/** Max-pooling: the first maximum of each window. */
export class MaxPooling2D extends Pooling2D {
  readonly className = 'MaxPooling2D';

  constructor(args: Pooling2DArgs = {}) {
    super(args, 'MaxPooling2D');
  }

  override allocate(batch: number, needInputGrad: boolean, device: Device): LayerBuffers {
    const buf = super.allocate(batch, needInputGrad, device);
    buf.extra = empty([batch, ...this.outputShape], 'int32', device);
    return buf;
  }

  forward(x: NativeTensor, buf: LayerBuffers): NativeTensor {
    native.maxPool2dForward(x, buf.y!, buf.extra!, ...this.poolSize, ...this.strides, this.padding);
    return buf.y!;
  }

  backward(_x: NativeTensor, _y: NativeTensor, dy: NativeTensor, buf: LayerBuffers): NativeTensor | null {
    if (!buf.dx) return null;
    native.maxPool2dBackward(dy, buf.extra!, buf.dx, ...this.poolSize, ...this.strides, this.padding);
    return buf.dx;
  }
}

/** Average-pooling: the mean of each window's positions inside the input (Keras's: 'same' padding excluded). */
export class AveragePooling2D extends Pooling2D {
  readonly className = 'AveragePooling2D';

  constructor(args: Pooling2DArgs = {}) {
    super(args, 'AveragePooling2D');
  }

  forward(x: NativeTensor, buf: LayerBuffers): NativeTensor {
    native.avgPool2dForward(x, buf.y!, ...this.poolSize, ...this.strides, this.padding);
    return buf.y!;
  }

  backward(_x: NativeTensor, _y: NativeTensor, dy: NativeTensor, buf: LayerBuffers): NativeTensor | null {
    if (!buf.dx) return null;
    native.avgPool2dBackward(dy, buf.dx, ...this.poolSize, ...this.strides, this.padding);
    return buf.dx;
  }
}

/** ZeroPadding2D's options (tfjs's zeroPadding2d args). */
export interface ZeroPadding2DArgs extends LayerArgs {
  /**
   * Keras's and tfjs's forms: n (every side), [rows, columns] (top = bottom = rows, left = right = columns), or
   * [[top, bottom], [left, right]]. Default 1.
   */
  padding?: number | [number, number] | [[number, number], [number, number]];
  /** 'channelsLast' only (kernelnet's images are NHWC). */
  dataFormat?: 'channelsLast';
}

/** The padding as tfjs's ZeroPadding2D holds it, [[top, bottom], [left, right]], from any of its forms. */
function paddingPairs(value: unknown): [[number, number], [number, number]] {
  const what = 'a non-negative integer, [rows, columns] or [[top, bottom], [left, right]]';
  const count = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  if (count(value))
    return [
      [value as number, value as number],
      [value as number, value as number],
    ];
  if (Array.isArray(value) && value.length === 2) {
    if (value.every(count))
      return [
        [value[0], value[0]],
        [value[1], value[1]],
      ];
    if (value.every(p => Array.isArray(p) && p.length === 2 && p.every(count)))
      return [
        [value[0][0], value[0][1]],
        [value[1][0], value[1][1]],
      ];
  }
  return fail(what, 'ZeroPadding2D padding', value);
}

/** Rows and columns of zeros around each image (Keras's ZeroPadding2D): [H, W, C] -> [top + H + bottom, left + W + right, C]. */
export class ZeroPadding2D extends Layer {
  readonly className = 'ZeroPadding2D';
  /** [[top, bottom], [left, right]], as tfjs's layer holds it. */
  readonly padding: [[number, number], [number, number]];

  constructor(args: ZeroPadding2DArgs = {}) {
    super(args, layerSchema('ZeroPadding2D', ['padding'], { dataFormat: { ok: NOT_USED.channelsLast } }));
    args = ownOptions(args); // own properties only (see checkOptions)
    this.padding = paddingPairs(args?.padding ?? 1);
  }

  protected computeOutputShape(s: number[]): number[] {
    if (s.length !== 3) fail('an input shape [height, width, channels]', `${this.name} input shape`, s);
    const [[top, bottom], [left, right]] = this.padding;
    return [top + s[0] + bottom, left + s[1] + right, s[2]];
  }

  forward(x: NativeTensor, buf: LayerBuffers): NativeTensor {
    native.pad2dForward(x, buf.y!, this.padding);
    return buf.y!;
  }

  backward(_x: NativeTensor, _y: NativeTensor, dy: NativeTensor, buf: LayerBuffers): NativeTensor | null {
    if (!buf.dx) return null;
    native.pad2dBackward(dy, buf.dx, this.padding);
    return buf.dx;
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), padding: this.padding };
  }
}

/** UpSampling2D's options (tfjs's upSampling2d args). */
export interface UpSampling2DArgs extends LayerArgs {
  /** The factor for rows and columns: n, or [rows, columns] (default 2). */
  size?: number | [number, number];
  /** 'nearest' (the default; each value repeated over its block); 'bilinear' is not supported yet. */
  interpolation?: 'nearest';
  /** 'channelsLast' only (kernelnet's images are NHWC). */
  dataFormat?: 'channelsLast';
}

/**
 * Repeats each pixel over a size[0] x size[1] block (Keras's UpSampling2D, nearest): [H, W, C] -> [H*sh, W*sw, C].
 * It runs as the broadcasting elementwise op, the input seen as [N, H, 1, W, 1, C] times ones [1, 1, sh, 1, sw, 1]
 * into the output seen as [N, H, sh, W, sw, C]; the backward sums each block's gradients (exactly: times one).
 */
export class UpSampling2D extends Layer {
  readonly className = 'UpSampling2D';
  /** The factor for [rows, columns]. */
  readonly size: [number, number];
  /** Always 'nearest'. */
  readonly interpolation = 'nearest';

  constructor(args: UpSampling2DArgs = {}) {
    super(args, layerSchema('UpSampling2D', ['size', 'interpolation'], { dataFormat: { ok: NOT_USED.channelsLast } }));
    args = ownOptions(args); // own properties only (see checkOptions)
    this.size = intPair(args?.size ?? 2, 'size');
    if (args?.interpolation !== undefined && args.interpolation !== 'nearest')
      throw new ValidationError(
        `${this.name || 'UpSampling2D'}: interpolation '${String(args.interpolation)}' is not supported yet; 'nearest' is`,
        'ERR_KERNELNET_UNSUPPORTED',
      );
  }

  protected computeOutputShape(s: number[]): number[] {
    if (s.length !== 3) fail('an input shape [height, width, channels]', `${this.name} input shape`, s);
    return [s[0] * this.size[0], s[1] * this.size[1], s[2]];
  }

  /** @internal With the ones [1, 1, sh, 1, sw, 1] the broadcast multiplies by. */
  override allocate(batch: number, needInputGrad: boolean, device: Device): LayerBuffers {
    const buf = super.allocate(batch, needInputGrad, device);
    buf.extra = empty([1, 1, this.size[0], 1, this.size[1], 1], 'float32', device);
    buf.extra.fill(1);
    return buf;
  }

  /** x [N, H, W, C] as [N, H, 1, W, 1, C], and y [N, H*sh, W*sw, C] as [N, H, sh, W, sw, C] (views, made once). */
  private views(t: NativeTensor, input: boolean, buf: LayerBuffers): NativeTensor {
    let v = buf.views.get(t);
    if (!v) {
      const [h, w, c] = this.inputShape;
      buf.views.set(t, (v = t.reshape(input ? [t.shape[0], h, 1, w, 1, c] : [t.shape[0], h, this.size[0], w, this.size[1], c])));
    }
    return v;
  }

  forward(x: NativeTensor, buf: LayerBuffers): NativeTensor {
    native.binary('mul', this.views(x, true, buf), buf.extra!, this.views(buf.y!, false, buf));
    return buf.y!;
  }

  backward(x: NativeTensor, _y: NativeTensor, dy: NativeTensor, buf: LayerBuffers): NativeTensor | null {
    if (!buf.dx) return null;
    native.binaryBackward('mul', this.views(x, true, buf), buf.extra!, this.views(dy, false, buf), this.views(buf.dx, true, buf), null);
    return buf.dx;
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), size: this.size, interpolation: this.interpolation };
  }
}

/** Pooling over the whole image, per channel: [H, W, C] -> [C] (Keras's global pooling, keepdims false). */
abstract class GlobalPooling2D extends Layer {
  constructor(args: LayerArgs | undefined, className: string) {
    super(args, layerSchema(className, [], { dataFormat: { ok: NOT_USED.channelsLast }, keepdims: { ok: NOT_USED.false } }));
  }

  protected computeOutputShape(s: number[]): number[] {
    if (s.length !== 3) fail('an input shape [height, width, channels]', `${this.name} input shape`, s);
    return [s[2]];
  }

  /** @internal The pooled [N, 1, 1, C] buffer behind the [N, C] output, and views between the two shapes. */
  override allocate(batch: number, needInputGrad: boolean, device: Device): LayerBuffers {
    const pooled = empty([batch, 1, 1, this.inputShape[2]], 'float32', device);
    return {
      y: pooled.reshape([batch, this.inputShape[2]]),
      dx: needInputGrad ? empty([batch, ...this.inputShape], 'float32', device) : null,
      extra: pooled,
      views: new WeakMap(),
    };
  }

  /** @internal A [N, C] tensor as the [N, 1, 1, C] one the pooling ops take (a view, made once). */
  protected view4(t: NativeTensor, buf: LayerBuffers): NativeTensor {
    let v = buf.views.get(t);
    if (!v) buf.views.set(t, (v = t.reshape([t.shape[0], 1, 1, this.inputShape[2]])));
    return v;
  }

  /** @internal The pooling ops' window and strides: the whole image, [H, W, 1, 1]. */
  protected window(): [number, number, number, number] {
    return [this.inputShape[0], this.inputShape[1], 1, 1];
  }
}

/** The mean over each channel's image (Keras's GlobalAveragePooling2D). */
export class GlobalAveragePooling2D extends GlobalPooling2D {
  readonly className = 'GlobalAveragePooling2D';

  constructor(args: LayerArgs = {}) {
    super(args, 'GlobalAveragePooling2D');
  }

  forward(x: NativeTensor, buf: LayerBuffers): NativeTensor {
    native.avgPool2dForward(x, buf.extra!, ...this.window());
    return buf.y!;
  }

  backward(_x: NativeTensor, _y: NativeTensor, dy: NativeTensor, buf: LayerBuffers): NativeTensor | null {
    if (!buf.dx) return null;
    native.avgPool2dBackward(this.view4(dy, buf), buf.dx, ...this.window());
    return buf.dx;
  }
}

/** The maximum over each channel's image (Keras's GlobalMaxPooling2D). */
export class GlobalMaxPooling2D extends GlobalPooling2D {
  readonly className = 'GlobalMaxPooling2D';

  override allocate(batch: number, needInputGrad: boolean, device: Device): LayerBuffers {
    const buf = super.allocate(batch, needInputGrad, device);
    buf.aux = empty([batch, 1, 1, this.inputShape[2]], 'int32', device); // the argmax
    return buf;
  }

  constructor(args: LayerArgs = {}) {
    super(args, 'GlobalMaxPooling2D');
  }

  forward(x: NativeTensor, buf: LayerBuffers): NativeTensor {
    native.maxPool2dForward(x, buf.extra!, buf.aux!, ...this.window());
    return buf.y!;
  }

  backward(_x: NativeTensor, _y: NativeTensor, dy: NativeTensor, buf: LayerBuffers): NativeTensor | null {
    if (!buf.dx) return null;
    native.maxPool2dBackward(this.view4(dy, buf), buf.aux!, buf.dx, ...this.window());
    return buf.dx;
  }
}

/** Dropout's options (tfjs's dropout args). */
export interface DropoutArgs extends LayerArgs {
  /** The fraction of units zeroed in training, in [0, 1). */
  rate: number;
}

const DROPOUT_SCHEMA = layerSchema('Dropout', ['rate'], {
  noiseShape: {},
  seed: { hint: "dropout draws from the model's seed: new Sequential({ seed })" },
});

/** Inverted dropout: in training, zeroes each unit with probability `rate` and scales the rest by 1/(1-rate). */
export class Dropout extends Layer {
  readonly className = 'Dropout';
  /** The fraction of units zeroed in training, in [0, 1). */
  readonly rate: number;

  constructor(args: DropoutArgs) {
    super(args, DROPOUT_SCHEMA);
    args = ownOptions(args); // own properties only (see checkOptions)
    args ??= {} as DropoutArgs; // refused below with what is missing
    this.rate = numberIn(args.rate, 'rate', 0, 1, true);
  }

  protected computeOutputShape(s: number[]): number[] {
    return s;
  }

  forward(x: NativeTensor, buf: LayerBuffers, ctx: StepContext): NativeTensor {
    if (!ctx.training || this.rate === 0) return x;
    native.dropoutForward(x, buf.y!, this.rate, ctx.seed, ctx.offset, ctx.counter);
    return buf.y!;
  }

  backward(x: NativeTensor, _y: NativeTensor, dy: NativeTensor, buf: LayerBuffers, ctx: StepContext) {
    if (!buf.dx) return null;
    if (this.rate === 0 || !ctx.training) return dy; // inference: the identity (a gradient through predict)
    if (ctx.below) native.dropoutBackward(dy, buf.dx, this.rate, ctx.seed, ctx.offset, ctx.counter, ctx.below, x);
    else native.dropoutBackward(dy, buf.dx, this.rate, ctx.seed, ctx.offset, ctx.counter);
    return buf.dx;
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), rate: this.rate };
  }
}

const FLATTEN_SCHEMA = layerSchema('Flatten', [], { dataFormat: { ok: NOT_USED.channelsLast } });

/** A layer that only gives each example another shape: no buffers, views of its input and of its gradient. */
abstract class ViewLayer extends Layer {
  override allocate(): LayerBuffers {
    return { y: null, dx: null, extra: null, views: new WeakMap() };
  }

  private view(t: NativeTensor, shape: number[], buf: LayerBuffers): NativeTensor {
    let v = buf.views.get(t);
    if (!v) buf.views.set(t, (v = t.reshape([t.shape[0], ...shape])));
    return v;
  }

  forward(x: NativeTensor, buf: LayerBuffers): NativeTensor {
    return this.view(x, this.outputShape, buf);
  }

  backward(_x: NativeTensor, _y: NativeTensor, dy: NativeTensor, buf: LayerBuffers): NativeTensor | null {
    return this.view(dy, this.inputShape, buf);
  }
}

/** Flattens each example to one axis. No copy: the output is a view of the input. */
export class Flatten extends ViewLayer {
  readonly className = 'Flatten';

  constructor(args: LayerArgs = {}) {
    super(args, FLATTEN_SCHEMA);
  }

  protected computeOutputShape(s: number[]): number[] {
    return [s.reduce((a, b) => a * b, 1)];
  }
}

/** Dense's options (tfjs's dense args). */
export interface DenseArgs extends LayerArgs, KernelArgs {
  /** The number of output units. */
  units: number;
  /** The activation applied to the output, fused into the matmul (default 'linear'); 'softmax' on a model's last layer only. */
  activation?: ActivationIdentifier;
  /** The input's size, as tfjs's inputDim: the same as inputShape [inputDim]. */
  inputDim?: number;
}

const DENSE_SCHEMA = layerSchema('Dense', ['units', 'activation', 'inputDim', ...KERNEL_OPTIONS], KERNEL_NOT_YET);

/** Fully connected layer: y = activation(x w + b), kernel [I, O] glorot_uniform, bias zeros. */
export class Dense extends Layer {
  readonly className = 'Dense';
  /** The number of output units. */
  readonly units: number;
  /** The activation, aliases resolved (default 'linear'); softmax is applied by the model's head. */
  readonly activation: NativeActivation | 'softmax';
  /** @internal useBias and the initializers, as given. */
  readonly kernelArgs: KernelArgs;

  constructor(args: DenseArgs) {
    super(args, DENSE_SCHEMA);
    args = ownOptions(args); // own properties only (see checkOptions)
    args ??= {} as DenseArgs; // refused below with what is missing
    if (args.inputDim !== undefined) {
      if (args.inputShape !== undefined) throw new ValidationError('Dense args: pass inputShape or inputDim, not both');
      (this as { inputShapeArg?: number[] }).inputShapeArg = [positiveInt(args.inputDim, 'inputDim')];
    }
    this.units = positiveInt(args.units, 'units');
    this.activation = activationArg(args.activation, 'activation', true);
    this.kernelArgs = kernelArgs(args);
  }

  protected computeOutputShape(s: number[]): number[] {
    if (s.length !== 1)
      throw new ValidationError(
        `${this.name}: Dense expects a flat input but the input shape is [${s.join(', ')}]; add a Flatten layer before it`,
        'ERR_KERNELNET_SHAPE',
      );
    this.specs = kernelSpecs(this.kernelArgs, [s[0], this.units], s[0], this.units, this.units);
    return [this.units];
  }

  /** @internal Softmax is applied by the model's head (fused with the loss in training), so the layer emits logits. */
  override allocate(batch: number, needInputGrad: boolean, device: Device): LayerBuffers {
    return withPre(super.allocate(batch, needInputGrad, device), this.epilogue(), [batch, this.units], device);
  }

  /** The activation the epilogue applies: none when the loss applies it (a fused head). */
  private epilogue(): NativeActivation {
    return this.headFused ? 'linear' : epilogueActivation(this.activation);
  }

  /** @internal The layer's op with other weights and epilogue, into y (the inference folding of BatchNormalization). */
  forwardWith(x: NativeTensor, w: NativeTensor, b: NativeTensor, y: NativeTensor, act: NativeActivation, alpha?: number): void {
    native.denseForward(x, w, b, y, act, null, alpha);
  }

  forward(x: NativeTensor, buf: LayerBuffers): NativeTensor {
    native.denseForward(x, param(this, 'kernel').value, bias(this)?.value ?? null, buf.y!, this.epilogue(), buf.extra);
    return buf.y!;
  }

  backward(x: NativeTensor, y: NativeTensor, dy: NativeTensor, buf: LayerBuffers, ctx: StepContext): NativeTensor | null {
    const k = param(this, 'kernel'),
      b = bias(this),
      dx = ctx.inputGrad === false ? null : buf.dx;
    const grads = ctx.weightGrads !== false;
    native.denseBackward(
      x,
      k.value,
      y,
      dy,
      dx,
      grads ? k.grad : null,
      grads && b ? b.grad : null,
      ctx.dzGiven ? 'linear' : this.epilogue(),
      ctx.dzGiven ? null : buf.extra,
      undefined,
      ctx.below?.activation,
      ctx.below?.alpha,
    );
    return dx;
  }

  /** @internal The activation backward applies (and the layer above may apply for it: StepContext's below). */
  get epilogueActivation(): NativeActivation {
    return this.epilogue();
  }

  /** @internal Whether the layer emits logits or plain outputs with no activation (it can then be a training step's head). */
  get linear(): boolean {
    return this.epilogue() === 'linear';
  }

  /**
   * @internal A training step's head: this (linear) layer's forward, the loss and this layer's backward as one op
   * (native.denseLoss: one kernel on a GPU for a small head). Returns the gradient for the layer before.
   */
  forwardLossBackward(x: NativeTensor, buf: LayerBuffers, ctx: StepContext, loss: HeadLoss): NativeTensor | null {
    const k = param(this, 'kernel'),
      b = bias(this),
      dx = ctx.inputGrad === false ? null : buf.dx;
    const grads = ctx.weightGrads !== false;
    native.denseLoss(
      loss.kind,
      loss.accuracy,
      x,
      k.value,
      b?.value ?? null,
      buf.y!,
      loss.labels,
      loss.weights,
      loss.dlogits,
      dx,
      grads ? k.grad : null,
      grads && b ? b.grad : null,
      loss.metrics,
      loss.step,
      ctx.counter,
    );
    return dx;
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), units: this.units, activation: this.activation, ...kernelConfig(this.kernelArgs) };
  }
}

/** Activation's options (tfjs's activation args). */
export interface ActivationArgs extends LayerArgs {
  /** The activation, by name; 'softmax' on a model's last layer only. */
  activation: ActivationIdentifier;
}

const ACTIVATION_SCHEMA = layerSchema('Activation', ['activation']);

/**
 * Applies an activation to its input (Keras's and tfjs's Activation layer), elementwise and natively. As the last
 * layer, 'softmax' makes the model's head (fused with the loss, so the layer passes logits on).
 */
export class Activation extends Layer {
  readonly className: string = 'Activation';
  /** The activation, aliases resolved ('leaky_relu' for LeakyReLU). */
  readonly activation: NativeActivation | 'softmax';
  /** leaky_relu's negative slope (LeakyReLU), elu's alpha (1). */
  protected alpha: number | undefined;

  constructor(args: ActivationArgs);
  /** @internal A subclass fixing the activation (LeakyReLU), with its own options. */
  constructor(args: LayerArgs, schema: ReturnType<typeof layerSchema>, fixed: NativeActivation);
  constructor(args: ActivationArgs | LayerArgs, schema = ACTIVATION_SCHEMA, fixed?: NativeActivation) {
    super(args, schema);
    args = ownOptions(args); // own properties only (see checkOptions)
    const given = (args as ActivationArgs | undefined)?.activation;
    if (!fixed && given === undefined) fail('an activation name', 'activation', given);
    this.activation = fixed ?? activationArg(given, 'activation', true);
  }

  protected computeOutputShape(s: number[]): number[] {
    return s;
  }

  /** @internal Whether the layer passes its input on (linear, or a head the loss or predict applies). */
  passes(): boolean {
    return this.activation === 'linear' || this.activation === 'softmax' || this.headFused;
  }

  /** @internal The activation's parameter as the native ops take it (elu's alpha, leaky_relu's slope). */
  get nativeAlpha(): number | undefined {
    return this.alpha;
  }

  override allocate(batch: number, needInputGrad: boolean, device: Device): LayerBuffers {
    if (this.passes()) return { y: null, dx: null, extra: null, views: new WeakMap() };
    return super.allocate(batch, needInputGrad, device);
  }

  forward(x: NativeTensor, buf: LayerBuffers): NativeTensor {
    if (this.passes()) return x;
    native.activation(x, buf.y!, this.activation as NativeActivation, this.alpha);
    return buf.y!;
  }

  backward(x: NativeTensor, y: NativeTensor, dy: NativeTensor, buf: LayerBuffers, ctx: StepContext): NativeTensor | null {
    if (this.passes() || ctx.dzGiven) return dy; // dzGiven: the op above applied the derivative (plan.ts's activationBelow)
    if (!buf.dx || ctx.inputGrad === false) return null;
    native.activationBackward(x, y, dy, buf.dx, this.activation as NativeActivation, this.alpha);
    return buf.dx;
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), activation: this.activation };
  }
}

/** LeakyReLU's options (tfjs's leakyReLU args). */
export interface LeakyReLUArgs extends LayerArgs {
  /** The slope for x < 0 (tfjs's alpha, Keras 3's negative_slope), default 0.3. */
  alpha?: number;
}

const LEAKY_SCHEMA = layerSchema('LeakyReLU', ['alpha'], { negativeSlope: { hint: 'tfjs spells it alpha' } });

/** max(x, 0) + alpha min(x, 0) elementwise (Keras's and tfjs's LeakyReLU, alpha 0.3 by default). */
export class LeakyReLU extends Activation {
  override readonly className = 'LeakyReLU';

  constructor(args: LeakyReLUArgs = {}) {
    super(args, LEAKY_SCHEMA, 'leaky_relu');
    args = ownOptions(args); // own properties only (see checkOptions)
    this.alpha = numberIn(args?.alpha ?? 0.3, 'alpha', 0, Number.MAX_VALUE);
  }

  override getConfig(): Record<string, unknown> {
    const config = super.getConfig();
    delete config.activation; // fixed by the class
    return { ...config, alpha: this.alpha };
  }
}

/** Reshape's options (tfjs's reshape args). */
export interface ReshapeArgs extends LayerArgs {
  /** The shape of each example (no batch axis); one axis may be -1, inferred. */
  targetShape: number[];
}

/** Gives each example another shape of the same size (Keras's Reshape). No copy: a view of the input. */
export class Reshape extends ViewLayer {
  readonly className = 'Reshape';
  /** The shape of each output example, as given (one axis may be -1, inferred when built). */
  readonly targetShape: number[];

  constructor(args: ReshapeArgs) {
    super(args, layerSchema('Reshape', ['targetShape']));
    args = ownOptions(args); // own properties only (see checkOptions)
    const t = args?.targetShape;
    if (!Array.isArray(t) || !t.length || t.filter(d => d === -1).length > 1 || !t.every(d => d === -1 || (Number.isInteger(d) && d > 0)))
      fail('an array of positive integers, with at most one -1', 'targetShape', t);
    this.targetShape = [...t];
  }

  protected computeOutputShape(s: number[]): number[] {
    const size = s.reduce((a, b) => a * b, 1),
      known = this.targetShape.reduce((a, d) => (d === -1 ? a : a * d), 1);
    const shape = this.targetShape.map(d => (d === -1 ? size / known : d));
    if (!shape.every(Number.isInteger) || shape.reduce((a, b) => a * b, 1) !== size)
      throw new ValidationError(
        `${this.name}: an input of shape [${s.join(', ')}] (${size} values) cannot take the shape [${this.targetShape.join(', ')}]`,
        'ERR_KERNELNET_SHAPE',
      );
    return shape;
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), targetShape: this.targetShape };
  }
}

/** Rescaling's options (Keras's Rescaling args). */
export interface RescalingArgs extends LayerArgs {
  /** Multiplies each input, e.g. 1 / 255 for 0-255 pixels. */
  scale: number;
  /** Added after scaling (default 0). */
  offset?: number;
}

/** x * scale + offset (Keras's Rescaling): how Keras users feed 0-255 pixels. */
export class Rescaling extends Layer {
  readonly className = 'Rescaling';
  /** Multiplies each input. */
  readonly scale: number;
  /** Added after scaling (default 0). */
  readonly offset: number;

  constructor(args: RescalingArgs) {
    super(args, layerSchema('Rescaling', ['scale', 'offset']));
    args = ownOptions(args); // own properties only (see checkOptions)
    const finite = (v: unknown, name: string) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) fail('a finite number', name, v);
      return v;
    };
    this.scale = finite(args?.scale, 'scale');
    this.offset = finite(args?.offset ?? 0, 'offset');
  }

  protected computeOutputShape(s: number[]): number[] {
    return s;
  }

  forward(x: NativeTensor, buf: LayerBuffers): NativeTensor {
    native.affine(x, buf.y!, this.scale, this.offset);
    return buf.y!;
  }

  backward(_x: NativeTensor, _y: NativeTensor, dy: NativeTensor, buf: LayerBuffers, ctx: StepContext): NativeTensor | null {
    if (!buf.dx || ctx.inputGrad === false) return null;
    native.affine(dy, buf.dx, this.scale, 0);
    return buf.dx;
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), scale: this.scale, offset: this.offset };
  }
}

/** BatchNormalization's options (tfjs's batchNormalization args). */
export interface BatchNormalizationArgs extends LayerArgs {
  /** The normalised axis: -1 (the channels, as Keras's default), the only one supported. */
  axis?: number;
  /** Of the moving averages (default 0.99; PyTorch's momentum 0.01). */
  momentum?: number;
  /** Added to the variance (default 1e-3). */
  epsilon?: number;
  /** Learn beta, an offset (default true). */
  center?: boolean;
  /** Learn gamma, a scale (default true). */
  scale?: boolean;
}

const BN_SCHEMA = layerSchema('BatchNormalization', ['axis', 'momentum', 'epsilon', 'center', 'scale'], {
  betaInitializer: { ok: ['zeros'] },
  gammaInitializer: { ok: ['ones'] },
  movingMeanInitializer: { ok: ['zeros'] },
  movingVarianceInitializer: { ok: ['ones'] },
  betaRegularizer: {},
  gammaRegularizer: {},
  betaConstraint: {},
  gammaConstraint: {},
  synchronized: { ok: NOT_USED.false },
  renorm: { ok: NOT_USED.false },
});

/**
 * Keras's BatchNormalization over the last axis (cpp/batchnorm.h): in training, each channel normalised by the
 * batch's mean and variance, which also move the moving averages; in evaluate and predict, and while the layer is
 * frozen (trainable = false, as Keras), by the moving averages. Weights, in Keras's order: gamma, beta (trained),
 * moving_mean, moving_variance (not trained; saved in checkpoints).
 */
export class BatchNormalization extends Layer {
  readonly className = 'BatchNormalization';
  /** Of the moving averages: moving = momentum * moving + (1 - momentum) * batch's (default 0.99). */
  readonly momentum: number;
  /** Added to the variance (default 1e-3). */
  readonly epsilon: number;
  /** Whether the layer learns beta, an offset (default true). */
  readonly center: boolean;
  /** Whether the layer learns gamma, a scale (default true). */
  readonly scale: boolean;

  constructor(args: BatchNormalizationArgs = {}) {
    super(args, BN_SCHEMA);
    args = ownOptions(args); // own properties only (see checkOptions)
    args ??= {};
    const rank = args.inputShape?.length;
    if (args.axis !== undefined && args.axis !== -1 && !(rank !== undefined && args.axis === rank))
      throw new ValidationError(
        `BatchNormalization: axis ${args.axis} is not supported yet; kernelnet normalises the last axis (-1), the channels`,
        'ERR_KERNELNET_UNSUPPORTED',
      );
    this.momentum = numberIn(args.momentum ?? 0.99, 'momentum', 0, 1);
    this.epsilon = numberIn(args.epsilon ?? 1e-3, 'epsilon', 0, Number.MAX_VALUE);
    for (const k of ['center', 'scale'] as const) if (args[k] !== undefined && typeof args[k] !== 'boolean') fail('a boolean', k, args[k]);
    this.center = args.center ?? true;
    this.scale = args.scale ?? true;
  }

  protected computeOutputShape(s: number[]): number[] {
    const c = s.at(-1)!;
    if (!s.length) fail('an input shape with a channel axis', `${this.name} input shape`, s);
    this.specs = [
      ...(this.scale ? [{ name: 'gamma', shape: [c], init: { kind: 'ones' as const } }] : []),
      ...(this.center ? [{ name: 'beta', shape: [c], init: { kind: 'zeros' as const } }] : []),
      { name: 'moving_mean', shape: [c], init: { kind: 'zeros' as const }, trainable: false },
      { name: 'moving_variance', shape: [c], init: { kind: 'ones' as const }, trainable: false },
    ];
    return s;
  }

  /** @internal y and dx, and the statistics the forward pass normalised with: extra = mean, aux = 1 / sqrt(var + eps). */
  override allocate(batch: number, needInputGrad: boolean, device: Device): LayerBuffers {
    const buf = super.allocate(batch, needInputGrad, device),
      c = this.inputShape.at(-1)!;
    buf.extra = empty([c], 'float32', device);
    buf.aux = empty([c], 'float32', device);
    return buf;
  }

  private p(name: string): Param | null {
    return this.params.find(q => q.name === name) ?? null;
  }

  /** Batch statistics in training, unless the layer is frozen (Keras then runs it in inference mode). */
  private batchMode(ctx: StepContext): boolean {
    return ctx.training && ctx.weightGrads !== false;
  }

  forward(x: NativeTensor, buf: LayerBuffers, ctx: StepContext): NativeTensor {
    native.batchNormForward(
      x,
      buf.y!,
      this.p('gamma')?.value ?? null,
      this.p('beta')?.value ?? null,
      buf.extra!,
      buf.aux!,
      param(this, 'moving_mean').value,
      param(this, 'moving_variance').value,
      this.momentum,
      this.epsilon,
      this.batchMode(ctx),
    );
    return buf.y!;
  }

  backward(x: NativeTensor, _y: NativeTensor, dy: NativeTensor, buf: LayerBuffers, ctx: StepContext): NativeTensor | null {
    const dx = ctx.inputGrad === false ? null : buf.dx,
      grads = ctx.weightGrads !== false;
    const g = this.p('gamma'),
      b = this.p('beta');
    native.batchNormBackward(
      x,
      dy,
      g?.value ?? null,
      buf.extra!,
      buf.aux!,
      dx,
      grads && g ? g.grad : null,
      grads && b ? b.grad : null,
      this.batchMode(ctx),
    );
    return dx;
  }

  /**
   * @internal The weights of the Conv2D or Dense before this layer with the moving statistics folded in (for
   * inference: plan.ts's foldedBatchNorm rule), made in this layer's buffers.
   */
  fold(buf: LayerBuffers, producer: Conv2D | Dense): { w: NativeTensor; b: NativeTensor } {
    const k = param(producer, 'kernel').value;
    buf.fold ??= { w: empty(k.shape, 'float32', k.device), b: empty([k.shape.at(-1)!], 'float32', k.device) };
    native.batchNormFold(
      k,
      bias(producer)?.value ?? null,
      this.p('gamma')?.value ?? null,
      this.p('beta')?.value ?? null,
      param(this, 'moving_mean').value,
      param(this, 'moving_variance').value,
      this.epsilon,
      buf.fold.w,
      buf.fold.b,
    );
    return buf.fold;
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), axis: -1, momentum: this.momentum, epsilon: this.epsilon, center: this.center, scale: this.scale };
  }
}
