// Network: the engine under a model. It holds the layers, their parameters and the compiled loss, optimizer and
// metrics, and runs them: the plan (plan.ts) walked forward and backward, one call into the addon per op,
// writing into buffers allocated once per (model, batch size) and kept in a small LRU cache. Randomness
// (initialisation, dropout, shuffling) comes from counter-based streams keyed by the model's seed, so a run is
// reproducible from its seed. The API users call (fit, evaluate, predict, save, ...) is Sequential's (model.ts);
// the training loop (training.ts) drives a Network.
import { randomInt } from 'node:crypto';
import { DeviceError, ValidationError, stateError } from '../core/errors.js';
import { checkLabels } from './labels.js';
import { Conv2D, Dense, Dropout, Layer, MaxPooling2D, type LayerBuffers, type Param, type StepContext } from '../layers/layers.js';
import { resolveLoss, resolveMetrics, type AccuracyKind, type Loss, type LossIdentifier, type MetricSpec } from './losses.js';
import { METRIC_SLOTS, native, type Device, type NativeProgram, type NativeTensor } from '../core/native.js';
import { OPTIMIZERS, OPTIMIZER_NAMES, Optimizer } from './optimizers.js';
import { Graph, INPUT, bufferNeeds, forwardPlan, stepPlan, type ForwardOp, type FusionSwitches } from './plan.js';
import { defaultDevice, empty, parseDevice } from '../core/tensor.js';
import { NOT_USED, checkOptions, describe, fail, nonNegativeInt, positiveInt } from '../core/validate.js';

/** The arguments of compile (tfjs's ModelCompileArgs spellings). */
export interface CompileArgs {
  /**
   * A loss by name ('categoricalCrossentropy', 'sparseCategoricalCrossentropy', 'binaryCrossentropy', 'mse',
   * 'mae', or Keras's snake_case) or an instance (new BinaryCrossentropy({ fromLogits: true })).
   */
  loss: LossIdentifier | Loss;
  /** An optimizer, or Keras's name for one with its defaults: 'sgd', 'adam', 'adamw', 'rmsprop', 'adagrad', 'adadelta'. */
  optimizer: Optimizer | keyof typeof OPTIMIZER_NAMES;
  /** 'accuracy' (resolved from the loss and the output, as Keras), the explicit accuracies, 'mse', 'mae'. */
  metrics?: string[];
  /**
   * Training steps per execution (Keras's steps_per_execution; default 1): fit runs this many batches as one
   * recorded program (one CUDA graph launch on a GPU) and calls the batch callbacks once per execution, as Keras
   * does: onBatchBegin with the execution's first batch, onBatchEnd with its last, the logs as of then.
   */
  stepsPerExecution?: number;
}

interface Workspace {
  x: NativeTensor;
  y: NativeTensor;
  /** The batch's sample weights, when the data has them. */
  w: NativeTensor;
  dlogits: NativeTensor;
  probs: NativeTensor;
  layers: LayerBuffers[];
}

/** @internal What stays the same for every step of one epoch of fit(). */
export interface TrainStep {
  X: NativeTensor;
  Y: NativeTensor;
  /** One weight per example of X (Keras's sample_weight, or class_weight made into one), or null. */
  W: NativeTensor | null;
  indices: NativeTensor;
  batchSize: number;
  /** The step within the epoch, on the device: 0 at the epoch's start, advanced after each step. */
  counter: NativeTensor;
  /** The model's step count at the epoch's start. */
  base: number;
  optimizer: Optimizer;
  metrics: NativeTensor;
}

// Random streams: key = stream * 2^32 + seed (see philox.h); offsets count steps or epochs.
const STREAM_DROPOUT = 1; // + layer index
const STREAM_INIT = 1000; // + parameter index
const STREAM_SHUFFLE = 3000;

const activationOf = (l: Layer): string => ('activation' in l ? String(l.activation) : 'linear');
const isSoftmax = (l: Layer) => activationOf(l) === 'softmax';

// The options of each method (tfjs spellings), and the Keras/tfjs ones kernelnet does not support yet: those
// are refused unless they ask for what kernelnet does anyway, never silently ignored.
const COMPILE_SCHEMA = {
  what: 'compile args',
  supported: ['optimizer', 'loss', 'metrics', 'stepsPerExecution'],
  notYet: { lossWeights: {}, weightedMetrics: {}, runEagerly: { ok: NOT_USED.false }, jitCompile: { ok: NOT_USED.false } },
};
/** Checked data: the number of examples, the labels as the loss takes them, and how to free them when they were converted. */
export interface LabelData {
  n: number;
  Y: NativeTensor;
  release(): void;
}

/** How many inference and training workspaces (buffers for one batch size) a model keeps, at most. */
const MAX_WORKSPACES = 4;

/**
 * The engine under a model (Sequential's base): its layers, parameters, compiled loss, optimizer and metrics,
 * and the steps fit, evaluate and predict run.
 */
export abstract class Network {
  /** The model's layers, in order. */
  readonly layers: Layer[] = [];
  /** The model's name (args.name, or a default such as 'sequential'). */
  readonly name: string;
  /** Where the weights and buffers live and the ops run. */
  readonly device: Device;
  /**
   * Set by a callback to end fit() after the current batch (Keras's stop_training; EarlyStopping sets it).
   * fit() clears it when it starts.
   */
  stopTraining = false;
  /** The seed of the model's random streams (initialisation, dropout, shuffling), an integer in [0, 2^32); random unless given. */
  readonly seed: number;
  /** @internal */
  optimizer: Optimizer | null = null;
  /** @internal The compiled loss, the metrics it reports, and the accuracy the loss op measures. */
  loss: Loss | null = null;
  /** @internal */
  metricSpecs: MetricSpec[] = [];
  /** @internal More names for a metric's log (kernelnet/tfjs logs 'accuracy' also as tfjs's 'acc'). */
  logAliases: Record<string, string> = {};
  /** @internal */
  accuracy: AccuracyKind = 'none';
  /** Training steps fit runs per execution (compile's stepsPerExecution, Keras's steps_per_execution). */
  stepsPerExecution = 1;
  /** @internal */
  params: Param[] = [];
  private readonly workspaces = new Map<string, Workspace>();
  /** @internal */
  metrics: NativeTensor | null = null;
  /** @internal */
  steps = 0;
  /** @internal */
  epochsRun = 0;
  /** @internal */
  disposed = false;
  /** @internal True while fit() runs: a second fit() is refused. */
  fitting = false;
  /** @internal Batch sizes whose workspaces the running fit() uses (never evicted from the cache meanwhile). */
  readonly pinned = new Set<string>();

  /** Checks and takes the model's name (default `defaultName`), seed and device. */
  protected constructor(args: { name?: string; seed?: number; device?: string }, defaultName: string) {
    if (args.name !== undefined && typeof args.name !== 'string') fail('a string', 'name', args.name);
    this.name = args.name ?? defaultName;
    this.seed = args.seed === undefined ? randomInt(2 ** 32) : nonNegativeInt(args.seed, 'seed');
    if (this.seed >= 2 ** 32) fail('integer in [0, 2^32)', 'seed', args.seed);
    this.device = args.device === undefined ? defaultDevice() : parseDevice(args.device, 'device');
    if (this.device === 'cuda' && !native.backends().cuda.available)
      throw new DeviceError(`${this.name}: device 'cuda' was asked for, but no CUDA device is usable: ${native.backends().cuda.reason}`);
  }

  /** The shape of one input example, without the batch axis (the first layer's inputShape). */
  get inputShape(): number[] {
    return this.requireLayers().inputShape;
  }

  /** The shape of one output example, without the batch axis (the last layer's outputShape). */
  get outputShape(): number[] {
    return this.layers.at(-1)!.outputShape;
  }

  /** The number of weights (scalars) in every layer, trainable or not (Keras's count_params). */
  countParams(): number {
    this.alive('countParams');
    return this.layers.reduce((n, l) => n + l.countParams(), 0);
  }

  /**
   * Sets the loss, optimizer and metrics for training and evaluation (Keras's compile), making the weights if
   * there are none yet; compiling again keeps the weights.
   */
  compile(args: CompileArgs): void {
    this.alive('compile');
    if (args === undefined) fail('an options object', 'compile args', args);
    args = checkOptions(args, COMPILE_SCHEMA);
    if (this.fitting) throw stateError(`${this.name}.compile: the model is inside fit()`, 'ERR_KERNELNET_BUSY');
    this.requireLayers();
    const loss = resolveLoss(args.loss);
    const stepsPerExecution = args.stepsPerExecution === undefined ? 1 : positiveInt(args.stepsPerExecution, 'stepsPerExecution');
    const last = this.layers.at(-1)!,
      head = loss.head(),
      lastAct = activationOf(last);
    if (this.outputShape.length !== 1)
      throw new ValidationError(
        `${loss.className} needs a flat output [N, units] but ${last.name} outputs [N, ${this.outputShape.join(', ')}]; add Flatten and Dense`,
        'ERR_KERNELNET_SHAPE',
      );
    for (const l of this.layers.slice(0, -1))
      if (isSoftmax(l)) throw new ValidationError(`${l.name}: activation 'softmax' is supported on the last layer only`);
    // The cross-entropies fuse their head: the last layer's softmax (sigmoid) is applied by the loss, stably.
    if (head && lastAct !== head)
      throw new ValidationError(
        `${loss.className} needs a last layer with activation '${head}' (or fromLogits: true on a layer without one), ` +
          `but the last layer is ${last.name} (${last.className}, activation '${lastAct}')`,
      );
    if (!head && lastAct === 'softmax')
      throw new ValidationError(
        `${loss.className}${loss.fromLogits ? ' with fromLogits' : ''} takes the last layer's outputs as they are, but ${last.name} ends in softmax, ` +
          'whose gradient kernelnet computes fused with cross-entropy only: use categoricalCrossentropy, or a last layer without softmax',
      );
    if (loss.kind === 'binary_crossentropy' && loss.fromLogits && lastAct === 'sigmoid')
      throw new ValidationError(`BinaryCrossentropy with fromLogits: true, but ${last.name} already applies sigmoid: drop one of them`);
    const { metrics: metricSpecs, accuracy } = resolveMetrics(args.metrics, loss, this.outputShape[0]);
    const optimizer =
      typeof args.optimizer === 'string' && Object.hasOwn(OPTIMIZER_NAMES, args.optimizer)
        ? OPTIMIZERS[OPTIMIZER_NAMES[args.optimizer as keyof typeof OPTIMIZER_NAMES]]({})
        : args.optimizer;
    if (!(optimizer instanceof Optimizer))
      fail(
        `an optimizer (new Adam(...), ...) or one of ${Object.keys(OPTIMIZER_NAMES)
          .map(n => `'${n}'`)
          .join(', ')}`,
        'optimizer',
        args.optimizer,
      );
    optimizer.claim(this, this.name); // Keras binds an optimizer to one model's variables
    if (this.loss && this.loss.labels !== loss.labels) this.disposeWorkspaces(); // the label buffers change dtype
    this.loss = loss;
    this.stepsPerExecution = stepsPerExecution;
    this.metricSpecs = metricSpecs;
    this.accuracy = accuracy;
    this.layers.forEach((l, i) => {
      l.headFused = i === this.layers.length - 1 && head !== null;
    });
    if (!this.params.length) this.allocateParams();
    if (this.optimizer !== optimizer) this.optimizer?.dispose();
    this.optimizer = optimizer;
    optimizer.attach(this.trainableParams);
    this.metrics ??= empty([METRIC_SLOTS], 'float32', this.device);
  }

  /** @internal The optimizer, for callbacks that change its learning rate. */
  optimizerOf(who: string): Optimizer {
    if (!this.optimizer) throw stateError(`${who}: ${this.name} is not compiled`);
    return this.optimizer;
  }

  /** @internal fit() begins: a second is refused, and the workspaces of its batch sizes stay cached meanwhile. */
  beginFit(batchSizes: number[]): void {
    this.fitting = true;
    this.pinned.clear();
    for (const b of batchSizes) if (b) this.pinned.add(`${b}:train`);
  }

  /** @internal */
  endFit(): void {
    this.fitting = false;
    this.pinned.clear();
  }

  /**
   * @internal The activation the loss applies to the last layer's output (fused in training), which predict
   * applies too: the compiled loss's, or before compile the last layer's softmax or sigmoid.
   */
  head(): 'softmax' | 'sigmoid' | null {
    if (this.loss) return this.loss.head();
    return isSoftmax(this.layers.at(-1)!) ? 'softmax' : null;
  }

  /**
   * @internal Which layers train from now on (layer.trainable, read here: at each epoch's start and each
   * trainOnBatch): the optimizer updates their parameters only, and the backward pass makes weight gradients
   * for them only and stops at the first of them (the layers before it have nothing to learn).
   */
  applyTrainable(): void {
    this.training = this.layers.map(l => l.trainable);
    this.optimizer?.train(this.layers.flatMap((l, i) => l.params.filter(p => p.trainable !== false).map(() => this.training[i])));
  }

  /** @internal Each layer's trainable flag as applyTrainable() last read it. */
  private training: boolean[] = [];

  /** @internal The key of the shuffle's random stream. */
  shuffleKey(): number {
    return this.key(STREAM_SHUFFLE);
  }

  /** Frees every tensor the model holds (parameters, optimizer state, buffers); every method then refuses. */
  dispose(): void {
    this.disposed = true;
    // A shared layer's weights stay while another live model holds the layer.
    for (const l of this.layers) {
      l.models.delete(this);
      if (l.models.size) continue;
      for (const p of l.params) {
        p.value.dispose();
        p.grad.dispose();
      }
      l.params = [];
    }
    this.params = [];
    this.optimizer?.dispose();
    this.optimizer = null;
    this.disposeWorkspaces();
    this.metrics?.dispose();
    this.metrics = null;
  }

  // ---- internals ----

  /** @internal */
  key(stream: number): number {
    return stream * 2 ** 32 + this.seed;
  }

  /** @internal Refuses every call on a disposed model, saying so (not "not compiled"). */
  alive(op: string): void {
    if (this.disposed) throw stateError(`${this.name}.${op}: the model was disposed`, 'ERR_KERNELNET_DISPOSED');
  }

  /** @internal The first layer, or a StateError when the model has none. */
  protected requireLayers(): Layer {
    if (!this.layers.length) throw stateError(`${this.name}: the model has no layers; add() some first`);
    return this.layers[0];
  }

  /** @internal */
  requireParams(op: string): Param[] {
    this.alive(op);
    this.ensureParams(); // as Keras: a model with an input shape is built, its weights made, before compile
    return this.params;
  }

  /** @internal */
  requireCompiled(op: string): { optimizer: Optimizer; metrics: NativeTensor } {
    // compile() makes the optimizer; the weights alone may come from predict() or getWeights() before it
    if (!this.optimizer || !this.loss) throw stateError(`${this.name}.${op}: the model is not compiled; call compile() first`);
    return { optimizer: this.optimizer, metrics: this.metrics! };
  }

  /** @internal Makes the weights (as compile does) if no compile has yet: predict works on a model never compiled. */
  ensureParams(): void {
    this.requireLayers();
    if (!this.params.length) this.allocateParams();
  }

  /** @internal Makes the weights of the layers that have none yet, initialised from the model's seed. */
  protected allocateParams(): void {
    let index = 0;
    for (const layer of this.layers) {
      if (layer.params.length) {
        // a shared layer whose weights another model made
        index += layer.params.length;
        this.params.push(...layer.params);
        continue;
      }
      layer.params = layer.specs.map(spec => {
        const value = empty(spec.shape, 'float32', this.device),
          grad = empty(spec.shape, 'float32', this.device);
        const init = spec.init;
        if (init.kind === 'zeros' || init.kind === 'ones') {
          value.fill(init.kind === 'ones' ? 1 : 0);
        } else {
          // Keras's VarianceScaling: scale 1 (glorot, lecun) or 2 (he) over fan_avg (glorot) or fan_in; uniform
          // within sqrt(3 scale / fan), or a normal truncated at 2 sigma with stddev sqrt(scale / fan) / 0.8796...
          // (glorot's variance written 2 / (fan_in + fan_out), the seed model's own arithmetic).
          const variance = init.kind.startsWith('glorot')
            ? 2 / (init.fanIn + init.fanOut)
            : (init.kind.startsWith('he') ? 2 : 1) / Math.max(1, init.fanIn);
          const key = this.key(STREAM_INIT + index);
          if (init.kind.endsWith('Uniform')) {
            const limit = init.kind === 'glorotUniform' ? Math.sqrt(6 / (init.fanIn + init.fanOut)) : Math.sqrt(3 * variance);
            native.randomUniform(value, -limit, limit, key, 0);
          } else {
            native.randomNormal(value, Math.sqrt(variance) / 0.87962566103423978, key, 0);
          }
        }
        grad.fill(0);
        index++;
        return { ...spec, value, grad };
      });
      this.params.push(...layer.params);
    }
  }

  /** @internal */
  checkInput(X: NativeTensor, name: string): number {
    const want = this.inputShape;
    if (X.dtype !== 'float32' || X.shape.length !== want.length + 1 || X.shape.slice(1).join() !== want.join())
      throw new ValidationError(
        `Expected ${name} to be a float32 tensor of shape [N, ${want.join(', ')}] but received ${X.dtype} [${X.shape.join(', ')}]`,
        'ERR_KERNELNET_SHAPE',
      );
    sameDevice(this, X, name);
    return X.shape[0];
  }

  /**
   * @internal x and y checked against the model and its loss, y in the layout the loss kernels take. As Keras,
   * sparse class labels may be int32 or float32 (whole numbers), of shape [N] or [N, 1], and a one-unit head's
   * labels [N] or [N, 1]; `Y` is then a view of y, or int32 class indices copied from whole-number floats, which
   * the caller frees with `release()` when done.
   */
  checkData(X: NativeTensor, Y: NativeTensor, xName: string, yName: string): LabelData {
    const n = this.checkInput(X, xName);
    const k = this.outputShape[0],
      labels = this.loss?.labels ?? 'onehot';
    const got = `${Y.dtype} [${Y.shape.join(', ')}]`;
    let Z = Y,
      copied = false; // a view (reshape) shares Y's buffer and is never disposed; a copy is
    if (labels === 'classes') {
      if (!(Y.shape.length === 1 || (Y.shape.length === 2 && Y.shape[1] === 1)))
        throw new ValidationError(
          `Expected ${yName} to be class indices of shape [N] or [N, 1] (int32, or float32 whole numbers; for ${this.loss!.className}) but received ${got}` +
            (Y.shape.length === 2 && Y.shape[1] === k ? '; one-hot labels take categoricalCrossentropy' : ''),
          'ERR_KERNELNET_SHAPE',
        );
      if (Y.dtype === 'float32') {
        // Keras casts sparse labels to int; a fractional value is refused rather than truncated without a word.
        const values = Y.read(),
          bad = values.findIndex(v => !Number.isInteger(v));
        if (bad >= 0) throw new ValidationError(`Expected ${yName} to hold class indices (whole numbers) but ${yName}[${bad}] is ${values[bad]}`);
        Z = new native.Tensor([Y.shape[0]], 'int32', Int32Array.from(values), Y.device);
        copied = true;
      } else if (Y.shape.length === 2) {
        Z = Y.reshape([Y.shape[0]]);
      }
    } else {
      if (k === 1 && Y.dtype === 'float32' && Y.shape.length === 1) Z = Y.reshape([Y.shape[0], 1]); // a one-unit head's [N]
      if (Z.dtype !== 'float32' || Z.shape.length !== 2 || Z.shape[1] !== k) {
        const hint = labels === 'onehot' ? ' (one-hot, see toCategorical; or sparseCategoricalCrossentropy for class indices)' : '';
        throw new ValidationError(
          `Expected ${yName} to be a float32 tensor of shape [N, ${k}]${k === 1 ? ' or [N]' : ''}${hint} but received ${got}`,
          'ERR_KERNELNET_SHAPE',
        );
      }
    }
    const release = () => {
      if (copied) Z.dispose();
    };
    try {
      if (Y.shape[0] !== n)
        throw new ValidationError(
          `Expected ${xName} and ${yName} to hold the same number of examples but received ${n} and ${Y.shape[0]}`,
          'ERR_KERNELNET_SHAPE',
        );
      if (n === 0) throw new ValidationError(`Expected at least one example in ${xName} but received ${describe(X.shape)}`, 'ERR_KERNELNET_SHAPE');
      sameDevice(this, Y, yName);
      checkLabels(Z, yName, labels, k);
    } catch (e) {
      release();
      throw e;
    }
    return { n, Y: Z, release };
  }

  /** @internal */
  identity(n: number): NativeTensor {
    return new native.Tensor(
      [n],
      'int32',
      Int32Array.from({ length: n }, (_, i) => i),
      this.device,
    );
  }

  /**
   * @internal Buffers for a batch size, made once and reused. Inference (evaluate, predict) reuses a training workspace of
   * the same size when there is one and otherwise makes one without gradient buffers, about half the memory. At
   * most MAX_WORKSPACES are kept, the least recently used going first (never one a running fit() uses), so a
   * server predicting at many batch sizes does not grow without bound.
   */
  workspace(batch: number, training: boolean): Workspace {
    const key = this.workspaces.has(`${batch}:train`) || training ? `${batch}:train` : `${batch}:infer`;
    let ws = this.workspaces.get(key);
    if (ws) {
      this.workspaces.delete(key); // most recently used last
    } else {
      for (const old of [...this.workspaces.keys()]) {
        if (this.workspaces.size < MAX_WORKSPACES) break;
        if (this.pinned.has(old)) continue;
        disposeWorkspace(this.workspaces.get(old)!);
        this.workspaces.delete(old);
      }
      this.checkBatchFits(batch);
      const k = this.outputShape[0];
      ws = {
        x: empty([batch, ...this.inputShape], 'float32', this.device),
        y: this.loss?.labels === 'classes' ? empty([batch], 'int32', this.device) : empty([batch, k], 'float32', this.device),
        w: empty([batch], 'float32', this.device),
        dlogits: empty([batch, training ? k : 0], 'float32', this.device),
        probs: empty([batch, k], 'float32', this.device),
        layers: this.allocateLayers(batch, training),
      };
    }
    this.workspaces.set(key, ws);
    return ws;
  }

  /**
   * A batch whose input or some layer's output would not fit in one tensor (2^36 elements, the addon's limit) is
   * refused as out of memory, naming batchSize and the largest that fits, before anything is allocated.
   */
  private checkBatchFits(batch: number): void {
    const LIMIT = 2 ** 36,
      size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
    let shape = this.inputShape,
      what = 'the input';
    for (const l of this.layers) if (size(l.outputShape) > size(shape)) [shape, what] = [l.outputShape, `${l.name}'s output`];
    if (batch * size(shape) > LIMIT)
      throw new DeviceError(
        `${this.name}: a batch of ${batch} examples needs ${what} of [${[batch, ...shape].join(', ')}], ` +
          `${(batch * size(shape)).toExponential(2)} elements, more than one tensor holds (2^36); ` +
          `pass a smaller batchSize (at most ${Math.floor(LIMIT / size(shape))} here)`,
        'ERR_KERNELNET_OOM',
      );
  }

  /** @internal The batch sizes (and kinds) of the workspaces kept now, least recently used first. */
  get workspaceKeys(): string[] {
    return [...this.workspaces.keys()];
  }

  /** @internal */
  disposeWorkspaces(): void {
    for (const ws of this.workspaces.values()) disposeWorkspace(ws);
    this.workspaces.clear();
  }

  /** @internal The parameters an optimizer updates (all but BatchNormalization's moving statistics). */
  get trainableParams(): Param[] {
    return this.params.filter(p => p.trainable !== false);
  }

  private context(layerIndex: number, training: boolean, step?: TrainStep): StepContext {
    return {
      training,
      seed: this.key(STREAM_DROPOUT + layerIndex),
      offset: step?.base ?? this.steps,
      counter: step?.counter ?? null,
      weightGrads: this.training[layerIndex] ?? true, // a frozen layer (BatchNormalization then runs in inference mode, as Keras)
    };
  }

  /** @internal The model's layers as a graph (a chain for Sequential), which the plan is made from. */
  get graph(): Graph {
    return Graph.chain(this.layers);
  }

  /**
   * @internal Runs the forward plan (plan.ts) from ws.x and returns the model's output (logits for a softmax
   * head). Inference applies the inference rules too (BatchNormalization folded).
   */
  forward(ws: Workspace, step: TrainStep | null): NativeTensor {
    const graph = this.graph;
    return this.runForward(graph, forwardPlan(graph, step !== null, this.fusion), ws, step)[graph.output];
  }

  /**
   * Runs forward ops, returning each node's output by node id. In training (`step` given) each node's input and
   * output are also collected for backward, by node id (a fused group's pooled output stands in for the outputs
   * it does not store; backward, which takes the group at once, does not read them).
   */
  private runForward(
    graph: Graph,
    ops: ForwardOp[],
    ws: Workspace,
    step: TrainStep | null,
    inputs?: NativeTensor[],
    outputs?: NativeTensor[],
  ): NativeTensor[] {
    const value: NativeTensor[] = [];
    const input = (id: number) => {
      const from = graph.nodes[id].inputs[0]; // one input per node until merge layers
      return from === INPUT ? ws.x : value[from];
    };
    for (const node of ops) {
      const i = node.at,
        a = input(i);
      if (node.op === 'foldedBatchNorm') {
        const { group } = node;
        const { w, b } = group.bn.fold(ws.layers[group.bnAt], group.producer);
        const y = ws.layers[group.last].y!;
        group.producer.forwardWith(a, w, b, y, group.activation, group.alpha);
        value[group.last] = y;
      } else if (node.op === 'convPool') {
        // The conv's output is never stored; a Dropout in the op has its mask drawn in the conv's epilogue on a GPU.
        const d = node.dropout;
        const drop = d === null ? undefined : { layer: this.layers[d] as Dropout, buf: ws.layers[d], ctx: this.context(d, true, step!) };
        const y = (this.layers[i] as Conv2D).forwardPooled(a, this.layers[node.pool] as MaxPooling2D, ws.layers[node.pool], drop);
        const p = ws.layers[node.pool].y!;
        if (inputs && outputs) {
          [inputs[i], outputs[i], inputs[node.pool], outputs[node.pool]] = [a, p, p, p];
          if (d !== null) [inputs[d], outputs[d]] = [p, y];
        }
        value[node.out] = y;
      } else {
        const y = this.layers[i].forward(a, ws.layers[i], this.context(i, step !== null, step ?? undefined));
        if (inputs && outputs) [inputs[i], outputs[i]] = [a, y];
        value[i] = y;
      }
    }
    return value;
  }

  /**
   * @internal One training step on rows [start, start + rows) of the epoch's order. What varies from step to step (the
   * batch's rows, dropout's offset, the step number the loss records) comes from the step counter on the
   * device, so every full batch of an epoch makes exactly the same calls; only the short last batch names its
   * rows from the host.
   */
  trainStep(step: TrainStep, start: number, rows: number): void {
    this.stepOps(step, start, rows, this.workspace(rows, true));
    this.steps++;
    step.optimizer.counted();
  }

  /**
   * @internal Records the ops of `count` full-batch steps (the same for every full batch of the epoch: each step's batch,
   * dropout offset and step number come from the step counter, which each step advances) as one program.
   */
  recordStep(step: TrainStep, count = 1): NativeProgram {
    const ws = this.workspace(step.batchSize, true);
    native.record(this.device);
    try {
      for (let i = 0; i < count; ++i) this.stepOps(step, 0, step.batchSize, ws); // each advances the step counter
    } catch (err) {
      native.endRecord().dispose();
      throw err;
    }
    return native.endRecord();
  }

  /** @internal Whether inference folds BatchNormalization into the layer before it (tests compare both ways). */
  foldInference = true;

  /**
   * @internal Whether a Conv2D or Dense layer's activation is applied by the input gradient of the op above it
   * (StepContext's below; tests compare both ways).
   */
  foldBelow = true;

  /** @internal Whether a Dropout after a Conv2D + MaxPooling2D pair runs its forward in the pair's op (tests compare both ways). */
  foldDropout = true;

  /** @internal Whether Conv2D + MaxPooling2D pairs run as one op (plan.ts's convPool rule; tests compare both ways). */
  get fuseConvPool(): boolean {
    return this.fusingConvPool;
  }
  /** @internal Turns the convPool fusion on or off (frees the workspaces, whose buffers depend on it). */
  set fuseConvPool(on: boolean) {
    this.fusingConvPool = on;
    this.disposeWorkspaces(); // their buffers depend on it
  }
  private fusingConvPool = true;

  /** @internal Whether a linear Dense head runs its forward, the loss and its backward as one op (tests compare both ways). */
  fuseHead = true;

  /** The fusion rules' switches, as plan.ts takes them. */
  private get fusion(): FusionSwitches {
    return {
      fuseConvPool: this.fusingConvPool,
      fuseHead: this.fuseHead,
      foldInference: this.foldInference,
      foldDropout: this.foldDropout,
      foldBelow: this.foldBelow,
    };
  }

  /** Each layer's buffers, as the plan needs them (plan.ts's bufferNeeds). */
  private allocateLayers(batch: number, training: boolean): LayerBuffers[] {
    const needs = bufferNeeds(this.graph, training, this.fusion);
    return this.layers.map((l, i) => {
      const buf = l.allocate(batch, needs[i].inputGrad, this.device);
      if (!needs[i].output) {
        buf.y?.dispose();
        buf.y = null;
      }
      return buf;
    });
  }

  /** @internal How the last epoch's full batches ran: as a recorded program of `ops` ops, a CUDA graph or not. */
  lastStepProgram: { ops: number; device: string; graph: boolean; branches: number; reason: string } | null = null;

  private stepOps(step: TrainStep, start: number, rows: number, ws: Workspace): void {
    const { X, Y, W, indices, counter, base, optimizer, metrics } = step;
    const full = rows === step.batchSize;
    native.gatherRows(X, indices, full ? 0 : start, ws.x, full ? counter : null);
    native.gatherRows(Y, indices, full ? 0 : start, ws.y, full ? counter : null);
    if (W) native.gatherRows(W, indices, full ? 0 : start, ws.w, full ? counter : null);
    const inputs: NativeTensor[] = [],
      outputs: NativeTensor[] = [];
    const loss = this.loss!;
    const trains = (i: number) => (this.training[i] ?? true) && this.layers[i].params.length > 0;
    const graph = this.graph,
      plan = stepPlan(graph, trains, this.fusion),
      out = graph.output;
    const inputGrad = (id: number) => graph.nodes[id].inputs.some(plan.needsBackward);
    const value = this.runForward(graph, plan.forward, ws, step, inputs, outputs);
    // The gradient of each node's output, by node id (one consumer per node until merge layers).
    const grads = new Map<number, NativeTensor | null>();
    if (plan.fusedHead) {
      const from = graph.nodes[out].inputs[0],
        x = from === INPUT ? ws.x : value[from];
      grads.set(
        from,
        (this.layers[out] as Dense).forwardLossBackward(
          x,
          ws.layers[out],
          { ...this.context(out, true, step), inputGrad: inputGrad(out), weightGrads: trains(out) },
          { kind: loss.kind, accuracy: this.accuracy, labels: ws.y, weights: W ? ws.w : null, dlogits: ws.dlogits, metrics, step: base },
        ),
      );
    } else {
      native.loss(loss.kind, this.accuracy, value[out], ws.y, W ? ws.w : null, ws.dlogits, metrics, base, counter);
      grads.set(out, ws.dlogits);
    }
    const dzGiven = new Set<number>(); // nodes whose activation the op above applied to their gradient
    for (const op of plan.backward) {
      const grad = grads.get(op.out);
      if (!grad) continue;
      const i = op.at,
        from = graph.nodes[i].inputs[0];
      const ctx = { ...this.context(i, true, step), inputGrad: inputGrad(i), weightGrads: trains(i), below: op.below };
      if (op.op === 'convPool') {
        const drop = op.dropout === null ? undefined : { layer: this.layers[op.dropout] as Dropout, ctx: this.context(op.dropout, true, step) };
        grads.set(
          from,
          (this.layers[i] as Conv2D).backwardPooled(
            inputs[i],
            this.layers[op.pool] as MaxPooling2D,
            ws.layers[op.pool],
            grad,
            ws.layers[i],
            ctx,
            drop,
          ),
        );
      } else {
        grads.set(from, this.layers[i].backward(inputs[i], outputs[i], grad, ws.layers[i], { ...ctx, dzGiven: dzGiven.has(i) }));
      }
      if (op.below) dzGiven.add(from);
    }
    optimizer.step();
    native.advance(counter);
  }
}

/** Data must live where the model does (kernelnet copies nothing behind the user's back). */
function sameDevice(model: Network, t: NativeTensor, name: string): void {
  if (t.device !== model.device)
    throw new DeviceError(
      `${name} lives on ${t.device} but ${model.name} on ${model.device}; make the data there ` +
        `(tensor(data, shape, { device: '${model.device}' }), loadMnist(dir, { device: '${model.device}' })) or copy it with .to('${model.device}')`,
    );
}

function disposeWorkspace(ws: Workspace): void {
  for (const t of [ws.x, ws.y, ws.w, ws.dlogits, ws.probs]) t.dispose();
  for (const b of ws.layers) for (const t of [b.y, b.dx, b.extra, b.aux, b.fold?.w, b.fold?.b]) t?.dispose();
}
