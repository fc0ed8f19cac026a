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
import { Merge } from '../layers/merge.js';
import { initialize } from '../layers/initializers.js';
import { resolveLoss, resolveMetrics, type AccuracyKind, type Loss, type LossIdentifier, type MetricSpec } from './losses.js';
import { METRIC_SLOTS, native, type Device, type NativeProgram, type NativeTensor } from '../core/native.js';
import { OPTIMIZERS, OPTIMIZER_NAMES, Optimizer } from './optimizers.js';
import { Graph, bufferNeeds, forwardPlan, inputIndex, stepPlan, type ForwardOp, type FusionSwitches } from './plan.js';
import { defaultDevice, empty, parseDevice } from '../core/tensor.js';
import { NOT_USED, checkOptions, describe, fail, nonNegativeInt, positiveInt } from '../core/validate.js';

/** The arguments of compile (tfjs's ModelCompileArgs spellings). */
export interface CompileArgs {
  /**
   * A loss by name ('categoricalCrossentropy', 'sparseCategoricalCrossentropy', 'binaryCrossentropy', 'mse',
   * 'mae', or Keras's snake_case) or an instance (new BinaryCrossentropy({ fromLogits: true })). For a model with
   * several outputs: one for all of them, an array (one per output, in order) or an object keyed by output name.
   */
  loss: LossIdentifier | Loss | (LossIdentifier | Loss)[] | Record<string, LossIdentifier | Loss>;
  /**
   * For several outputs: the weight of each output's loss in the total that training minimises (Keras's
   * loss_weights), an array in output order or an object keyed by output name (missing names weigh 1).
   */
  lossWeights?: number[] | Record<string, number>;
  /** An optimizer, or Keras's name for one with its defaults: 'sgd', 'adam', 'adamw', 'rmsprop', 'adagrad', 'adadelta'. */
  optimizer: Optimizer | keyof typeof OPTIMIZER_NAMES;
  /**
   * 'accuracy' (resolved from the loss and the output, as Keras), the explicit accuracies, 'mse', 'mae'. For
   * several outputs: one list for every output, an array of lists (one per output), or an object keyed by output
   * name (a name or a list each).
   */
  metrics?: string[] | string[][] | Record<string, string | string[]>;
  /**
   * Training steps per execution (Keras's steps_per_execution; default 1): fit runs this many batches as one
   * recorded program (one CUDA graph launch on a GPU) and calls the batch callbacks once per execution, as Keras
   * does: onBatchBegin with the execution's first batch, onBatchEnd with its last, the logs as of then.
   */
  stepsPerExecution?: number;
}

/** One output's loss and metrics (a model has one per output; Keras's compiled loss and metrics per output). */
export interface Head {
  /** The output's name (its layer's), which multi-output logs and keyed data use. */
  name: string;
  /** The graph node whose output this is. */
  node: number;
  loss: Loss;
  metricSpecs: MetricSpec[];
  accuracy: AccuracyKind;
  /** compile's lossWeights entry for this output (default 1): the total loss is the weighted sum. */
  weight: number;
  /** The output's shape per example, and how the loss sees it: rows of `k` values, `per` rows per example. */
  shape: number[];
  k: number;
  per: number;
}

/** The buffers of one output in a workspace. */
interface HeadBuffers {
  /** The targets, in the layout the loss takes (class indices int32 [batch, per] or [batch]; else [batch, ...shape]). */
  y: NativeTensor;
  /** The batch's sample weights [batch] ... */
  w: NativeTensor;
  /** ... and one per loss row [batch * per] when an example has several rows (per > 1). */
  wRows: NativeTensor | null;
  /** ones [1, per] for wRows (per > 1). */
  ones: NativeTensor | null;
  /** The loss's gradient, [batch * per, k] (0 rows for inference). */
  dlogits: NativeTensor;
  probs: NativeTensor;
  /** A tensor [1] holding the head's loss weight, when it is not 1 (scales dlogits). */
  scale: NativeTensor | null;
}

interface Workspace {
  /** One per model input. */
  xs: NativeTensor[];
  /** One per output. */
  heads: HeadBuffers[];
  /** One per graph node. */
  layers: LayerBuffers[];
  /** Per graph node: where the gradients of a node several others read are summed (training), else null. */
  sums: (NativeTensor | null)[];
}

/**
 * @internal A functional model's graph as a checkpoint stores it: its inputs, each node's layer (an index into
 * model.layers) and inputs (a node's index, or -1 - k for input k), and the output nodes.
 */
export interface GraphConfig {
  inputs: { name: string; shape: number[] }[];
  nodes: { layer: number; inputs: number[] }[];
  outputs: number[];
}

/** @internal What stays the same for every step of one epoch of fit(). */
export interface TrainStep {
  /** One per model input. */
  Xs: NativeTensor[];
  /** One per output, as checkData returns them. */
  Ys: NativeTensor[];
  /** One weight per example (Keras's sample_weight, or class_weight made into one) per output, or null. */
  Ws: (NativeTensor | null)[];
  indices: NativeTensor;
  batchSize: number;
  /** The step within the epoch, on the device: 0 at the epoch's start, advanced after each step. */
  counter: NativeTensor;
  /** The model's step count at the epoch's start. */
  base: number;
  optimizer: Optimizer;
  /** One per output: its running loss and metrics (METRIC_SLOTS floats). */
  metrics: NativeTensor[];
  /**
   * Data-parallel training (lib/engine/replicas.ts): the number of replicas whose gradients each step averages
   * before the update, and this one's index (its dropout draws from its own stream); absent for one process.
   */
  replicas?: { size: number; rank: number };
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
  supported: ['optimizer', 'loss', 'metrics', 'stepsPerExecution', 'lossWeights'],
  notYet: { weightedMetrics: {}, runEagerly: { ok: NOT_USED.false }, jitCompile: { ok: NOT_USED.false } },
};
/** Checked data: the number of examples, each output's labels as its loss takes them, and how to free those that were converted. */
export interface LabelData {
  n: number;
  Ys: NativeTensor[];
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
  /** @internal The compiled loss and metrics of each output, in output order ([] before compile). */
  heads: Head[] = [];
  /** @internal The first output's loss (the model's, with one output), or null before compile. */
  get loss(): Loss | null {
    return this.heads[0]?.loss ?? null;
  }
  /** @internal The first output's metrics. */
  get metricSpecs(): MetricSpec[] {
    return this.heads[0]?.metricSpecs ?? [];
  }
  /** @internal The accuracy the first output's loss op measures. */
  get accuracy(): AccuracyKind {
    return this.heads[0]?.accuracy ?? 'none';
  }
  /** @internal More names for a metric's log (kernelnet/tfjs logs 'accuracy' also as tfjs's 'acc'). */
  logAliases: Record<string, string> = {};
  /** Training steps fit runs per execution (compile's stepsPerExecution, Keras's steps_per_execution). */
  stepsPerExecution = 1;
  /** @internal */
  params: Param[] = [];
  private readonly workspaces = new Map<string, Workspace>();
  /** @internal One per output: the running loss and metrics fit accumulates ([] before compile). */
  metrics: NativeTensor[] = [];
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
    return this.inputShapes[0];
  }

  /** The shape of one output example, without the batch axis (the first output's, for a model with several). */
  get outputShape(): number[] {
    return this.outputShapes[0];
  }

  /** The shape of one example of each input, in order (one for a Sequential model). */
  get inputShapes(): number[][] {
    return [this.requireLayers().inputShape];
  }

  /** The shape of one example of each output, in order. */
  get outputShapes(): number[][] {
    this.requireLayers();
    const graph = this.graph;
    return graph.outputs.map(id => graph.nodes[id].layer.outputShape);
  }

  /** The names fit, evaluate and predict take data by, when given as an object: one per input, in order. */
  get inputNames(): string[] {
    return [this.requireLayers().name];
  }

  /** The outputs' names (their layers'), which keyed targets, losses and multi-output logs use: one per output. */
  get outputNames(): string[] {
    const graph = this.graph;
    return graph.outputs.map(id => graph.nodes[id].layer.name);
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
    const stepsPerExecution = args.stepsPerExecution === undefined ? 1 : positiveInt(args.stepsPerExecution, 'stepsPerExecution');
    const graph = this.graph,
      names = this.outputNames;
    const losses = perOutput(args.loss, names, 'loss', true) as (LossIdentifier | Loss)[];
    const metricLists = perOutput(args.metrics ?? [], names, 'metrics', false, true) as unknown[];
    const weights = perOutput(args.lossWeights ?? 1, names, 'lossWeights', false, false, 1) as unknown[];
    const heads: Head[] = graph.outputs.map((node, o) => {
      const layer = graph.nodes[node].layer,
        shape = layer.outputShape;
      const loss = resolveLoss(losses[o]);
      const head = loss.head(),
        lastAct = activationOf(layer),
        where = graph.outputs.length > 1 ? ` for output ${names[o]}` : '';
      const which = graph.outputs.length > 1 ? 'output' : 'last';
      // The cross-entropies fuse their head: the output layer's softmax (sigmoid) is applied by the loss, stably.
      if (head && lastAct !== head)
        throw new ValidationError(
          `${loss.className}${where} needs a ${which} layer with activation '${head}' (or fromLogits: true on a layer without one), ` +
            `but the ${which} layer is ${layer.name} (${layer.className}, activation '${lastAct}')`,
        );
      if (!head && lastAct === 'softmax')
        throw new ValidationError(
          `${loss.className}${loss.fromLogits ? ' with fromLogits' : ''}${where} takes the ${which} layer's outputs as they are, but ${layer.name} ends in softmax, ` +
            `whose gradient kernelnet computes fused with cross-entropy only: use categoricalCrossentropy, or a ${which} layer without softmax`,
        );
      if (loss.kind === 'binary_crossentropy' && loss.fromLogits && lastAct === 'sigmoid')
        throw new ValidationError(`BinaryCrossentropy with fromLogits: true, but ${layer.name} already applies sigmoid: drop one of them`);
      if (head && graph.consumers(node).length)
        throw new ValidationError(
          `${layer.name} is an output whose ${head} the loss applies (fused), but other layers read it too; ` +
            `end that output with its own Activation('${head}') layer`,
          'ERR_KERNELNET_UNSUPPORTED',
        );
      if (!shape.length) throw new ValidationError(`${layer.name}: an output needs at least one axis per example`, 'ERR_KERNELNET_SHAPE');
      const k = shape.at(-1)!,
        per = shape.slice(0, -1).reduce((a, b) => a * b, 1);
      const { metrics: metricSpecs, accuracy } = resolveMetrics(metricLists[o], loss, k);
      const weight = weights[o];
      if (typeof weight !== 'number' || !Number.isFinite(weight)) fail('a finite number', `lossWeights[${names[o]}]`, weight);
      return { name: names[o], node, loss, metricSpecs, accuracy, weight, shape, k, per };
    });
    for (const n of graph.nodes)
      if (isSoftmax(n.layer) && !graph.outputs.includes(n.id))
        throw new ValidationError(
          `${n.layer.name}: activation 'softmax' is supported on ${graph.outputs.length > 1 || !this.graph.nodes.every(m => m.inputs.length === 1) ? 'an output layer' : 'the last layer'} only`,
        );
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
    this.disposeWorkspaces(); // the label buffers depend on the losses
    this.heads = heads;
    this.stepsPerExecution = stepsPerExecution;
    for (const l of this.layers) l.headFused = false;
    for (const h of heads) if (h.loss.head()) graph.nodes[h.node].layer.headFused = true;
    if (!this.params.length) this.allocateParams();
    if (this.optimizer !== optimizer) this.optimizer?.dispose();
    this.optimizer = optimizer;
    optimizer.attach(this.trainableParams, this.device); // (the rate and count on the model's device, parameters or not)
    this.applyTrainable(); // as Keras: which layers train is fixed by compile (and read again at each fit)
    for (const m of this.metrics.splice(heads.length)) m.dispose();
    while (this.metrics.length < heads.length) this.metrics.push(empty([METRIC_SLOTS], 'float32', this.device));
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
    return this.headOf(0);
  }

  /** @internal head() of output o. */
  headOf(o: number): 'softmax' | 'sigmoid' | null {
    if (this.heads.length) return this.heads[o].loss.head();
    const graph = this.graph;
    return isSoftmax(graph.nodes[graph.outputs[o]].layer) ? 'softmax' : null;
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
    for (const m of this.metrics) m.dispose();
    this.metrics = [];
    for (const ts of this.gradScratch.values()) for (const t of ts) t.dispose();
    this.gradScratch.clear();
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
  requireCompiled(op: string): { optimizer: Optimizer; metrics: NativeTensor[] } {
    // compile() makes the optimizer; the weights alone may come from predict() or getWeights() before it
    if (!this.optimizer || !this.heads.length) throw stateError(`${this.name}.${op}: the model is not compiled; call compile() first`);
    return { optimizer: this.optimizer, metrics: this.metrics };
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
        initialize(spec.init, value, this.key(STREAM_INIT + index)); // layers/initializers.ts
        grad.fill(0);
        index++;
        return { ...spec, value, grad };
      });
      this.params.push(...layer.params);
    }
  }

  /** @internal Each input checked against the model (shape, dtype, device) and the number of examples they share. */
  checkInputs(Xs: NativeTensor[], names: string[]): number {
    const shapes = this.inputShapes;
    let n = -1;
    Xs.forEach((X, i) => {
      const want = shapes[i],
        name = names[i];
      if (X.dtype !== 'float32' || X.shape.length !== want.length + 1 || X.shape.slice(1).join() !== want.join())
        throw new ValidationError(
          `Expected ${name} to be a float32 tensor of shape [N, ${want.join(', ')}] but received ${X.dtype} [${X.shape.join(', ')}]`,
          'ERR_KERNELNET_SHAPE',
        );
      sameDevice(this, X, name);
      if (n >= 0 && X.shape[0] !== n)
        throw new ValidationError(
          `Expected every input to hold the same number of examples but ${names[0]} holds ${n} and ${name} ${X.shape[0]}`,
          'ERR_KERNELNET_SHAPE',
        );
      n = X.shape[0];
    });
    return n;
  }

  /**
   * @internal Inputs and targets checked against the model and its losses, each output's targets in the layout its
   * loss kernels take. As Keras, sparse class labels may be int32 or float32 (whole numbers), of the output's shape
   * without its last axis, or with a last axis of 1; a one-unit output's targets may leave out its last axis. `Ys`
   * are views of the targets, or int32 class indices copied from whole-number floats, which the caller frees with
   * `release()` when done.
   */
  checkData(Xs: NativeTensor[], Ys: NativeTensor[], xNames: string[], yNames: string[]): LabelData {
    const n = this.checkInputs(Xs, xNames);
    const copies: NativeTensor[] = [];
    const release = () => {
      for (const t of copies) t.dispose();
    };
    try {
      if (n === 0)
        throw new ValidationError(`Expected at least one example in ${xNames[0]} but received ${describe(Xs[0].shape)}`, 'ERR_KERNELNET_SHAPE');
      const heads = this.heads.length ? this.heads : null;
      const out = Ys.map((Y, o) => {
        const yName = yNames[o],
          shape = heads ? heads[o].shape : this.outputShapes[o];
        if (Y.shape[0] !== n)
          throw new ValidationError(
            `Expected ${xNames[0]} and ${yName} to hold the same number of examples but received ${n} and ${Y.shape[0]}`,
            'ERR_KERNELNET_SHAPE',
          );
        sameDevice(this, Y, yName);
        const Z = this.labelsFor(Y, yName, heads?.[o].loss.labels ?? 'onehot', shape, copies);
        checkLabels(Z, yName, heads?.[o].loss.labels ?? 'onehot', shape.at(-1)!);
        return Z;
      });
      return { n, Ys: out, release };
    } catch (e) {
      release();
      throw e;
    }
  }

  /** One output's targets in its loss's layout (see checkData); a copy made is pushed on `copies`. */
  private labelsFor(Y: NativeTensor, yName: string, labels: Loss['labels'], shape: number[], copies: NativeTensor[]): NativeTensor {
    const k = shape.at(-1)!,
      inner = shape.slice(0, -1),
      per = inner.reduce((a, b) => a * b, 1);
    const got = `${Y.dtype} [${Y.shape.join(', ')}]`,
      N = Y.shape[0];
    const rest = Y.shape.slice(1).join();
    if (labels === 'classes') {
      const fits = rest === inner.join() || rest === [...inner, 1].join();
      if (!fits)
        throw new ValidationError(
          `Expected ${yName} to be class indices of shape [N${inner.map(d => `, ${d}`).join('')}] or [N${inner.map(d => `, ${d}`).join('')}, 1] ` +
            `(int32, or float32 whole numbers; for ${this.loss?.className ?? 'the loss'}) but received ${got}` +
            (rest === shape.join() ? '; one-hot labels take categoricalCrossentropy' : ''),
          'ERR_KERNELNET_SHAPE',
        );
      // Class indices as [N] for one row per example, else [N, per] (the loss reads them as [N * per]).
      const layout = per === 1 ? [N] : [N, per];
      if (Y.dtype === 'float32') {
        // Keras casts sparse labels to int; a fractional value is refused rather than truncated without a word.
        const values = Y.read(),
          bad = values.findIndex(v => !Number.isInteger(v));
        if (bad >= 0) throw new ValidationError(`Expected ${yName} to hold class indices (whole numbers) but ${yName}[${bad}] is ${values[bad]}`);
        const Z = new native.Tensor(layout, 'int32', Int32Array.from(values), Y.device);
        copies.push(Z);
        return Z;
      }
      return Y.shape.join() === [N, ...layout.slice(1)].join() ? Y : Y.reshape(layout);
    }
    // A one-unit output's targets may leave out that axis: [N] for [N, 1].
    if (k === 1 && Y.dtype === 'float32' && rest === inner.join()) return Y.reshape([N, ...shape]);
    if (Y.dtype !== 'float32' || rest !== shape.join()) {
      const hint = labels === 'onehot' ? ' (one-hot, see toCategorical; or sparseCategoricalCrossentropy for class indices)' : '';
      throw new ValidationError(
        `Expected ${yName} to be a float32 tensor of shape [N, ${shape.join(', ')}]${k === 1 && !inner.length ? ' or [N]' : ''}${hint} but received ${got}`,
        'ERR_KERNELNET_SHAPE',
      );
    }
    return Y;
  }

  /**
   * @internal x or y as a list in model order: a tensor (one input or output), an array, or an object keyed by
   * input (output) name. `what` names the argument in errors ('x', 'y', 'validationData[0]').
   */
  dataList<T>(value: T | T[] | Record<string, T>, kind: 'input' | 'output', what: string): { list: T[]; names: string[] } {
    const names = kind === 'input' ? this.inputNames : this.outputNames;
    const n = names.length;
    if (Array.isArray(value)) {
      if (value.length !== n)
        throw new ValidationError(
          `Expected ${what} to hold ${n} tensor${n > 1 ? 's' : ''} (one per ${kind}: ${names.join(', ')}) but received an array of ${value.length}`,
          'ERR_KERNELNET_SHAPE',
        );
      return { list: value, names: value.map((_, i) => (n > 1 ? `${what}[${i}]` : what)) };
    }
    if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      const list = keyedEntries(value as Record<string, unknown>, names, what, false) as T[];
      const missing = names.filter((_, i) => list[i] === undefined);
      if (missing.length)
        throw new ValidationError(`${what} has no tensor for ${kind} ${missing.map(m => `'${m}'`).join(', ')}`, 'ERR_KERNELNET_SHAPE');
      return { list, names: names.map(m => `${what}.${m}`) };
    }
    if (n > 1)
      throw new ValidationError(
        `${this.name} has ${n} ${kind}s (${names.join(', ')}): pass ${what} as an array of ${n} tensors or an object keyed by ${kind} name`,
        'ERR_KERNELNET_SHAPE',
      );
    return { list: [value as T], names: [what] };
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
      const d = this.device;
      const heads = this.outputShapes.map((shape, o): HeadBuffers => {
        const head = this.heads[o],
          k = shape.at(-1)!,
          per = shape.slice(0, -1).reduce((a, b) => a * b, 1);
        const classes = head?.loss.labels === 'classes';
        return {
          y: classes ? empty(per === 1 ? [batch] : [batch, per], 'int32', d) : empty([batch, ...shape], 'float32', d),
          w: empty([batch], 'float32', d),
          wRows: per > 1 ? empty([batch * per], 'float32', d) : null,
          ones: per > 1 ? onesTensor([1, per], d) : null,
          dlogits: empty([batch * per, training ? k : 0], 'float32', d),
          probs: empty([batch, ...shape], 'float32', d),
          scale: head && head.weight !== 1 ? new native.Tensor([1], 'float32', Float32Array.of(head.weight), d) : null,
        };
      });
      const { layers, sums } = this.allocateLayers(batch, training);
      ws = { xs: this.inputShapes.map(s => empty([batch, ...s], 'float32', d)), heads, layers, sums };
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
    let shape = this.inputShapes.reduce((a, b) => (size(b) > size(a) ? b : a)),
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

  /** A node's step context: its dropout stream (by node id: a layer's index in a Sequential model) and whether its layer trains. */
  private context(node: number, training: boolean, step?: TrainStep): StepContext {
    return {
      training,
      seed: this.key(STREAM_DROPOUT + node),
      // (a replica's dropout masks from a stream of its own, 2^40 steps past the previous replica's)
      offset: (step?.base ?? this.steps) + (step?.replicas?.rank ?? 0) * 2 ** 40,
      counter: step?.counter ?? null,
      weightGrads: (this.trainingNow ?? this.training)[this.layerIndex(this.graph.nodes[node].layer)] ?? true, // a frozen layer (BatchNormalization then runs in inference mode, as Keras)
    };
  }

  private graphCache: Graph | null = null;
  private indexCache: Map<Layer, number> | null = null;

  /** @internal The model's layers as a graph (a chain for Sequential), which the plan is made from. */
  get graph(): Graph {
    return (this.graphCache ??= this.buildGraph());
  }

  /** @internal The graph as a checkpoint stores it: null for a chain (a Sequential model). */
  graphConfig(): GraphConfig | null {
    return null;
  }

  /** @internal The graph of the model's layers: a chain of them here (Sequential); a functional model's own. */
  protected buildGraph(): Graph {
    return Graph.chain(this.layers);
  }

  /** @internal After the layers change (Sequential's add): the graph and what was derived from it are made again. */
  protected layersChanged(): void {
    this.graphCache = null;
    this.indexCache = null;
  }

  /** @internal A layer's index in this.layers (its weights' and trainable flag's). */
  layerIndex(layer: Layer): number {
    this.indexCache ??= new Map(this.layers.map((l, i) => [l, i]));
    return this.indexCache.get(layer)!;
  }

  /**
   * @internal Runs the forward plan (plan.ts) from ws.xs and returns the model's outputs (logits for a softmax
   * head), in output order. Inference applies the inference rules too (BatchNormalization folded).
   */
  forward(ws: Workspace, step: TrainStep | null): NativeTensor[] {
    const graph = this.graph;
    const value = this.runForward(graph, forwardPlan(graph, step !== null, this.fusion), ws, step);
    return graph.outputs.map(id => value[id]);
  }

  /**
   * Runs forward ops, returning each node's output by node id. In training (`step` given) each node's inputs and
   * output are also collected for backward, by node id (a fused group's pooled output stands in for the outputs
   * it does not store; backward, which takes the group at once, does not read them).
   */
  private runForward(
    graph: Graph,
    ops: ForwardOp[],
    ws: Workspace,
    step: TrainStep | null,
    inputs?: NativeTensor[][],
    outputs?: NativeTensor[],
  ): NativeTensor[] {
    const value: NativeTensor[] = [];
    const valueOf = (ref: number) => (ref < 0 ? ws.xs[inputIndex(ref)] : value[ref]);
    for (const node of ops) {
      const i = node.at,
        layer = graph.nodes[i].layer,
        xs = graph.nodes[i].inputs.map(valueOf),
        a = xs[0];
      if (node.op === 'foldedBatchNorm') {
        const { group } = node;
        const { w, b } = group.bn.fold(ws.layers[group.bnAt], group.producer);
        const y = ws.layers[group.last].y!;
        group.producer.forwardWith(a, w, b, y, group.activation, group.alpha);
        value[group.last] = y;
      } else if (node.op === 'convPool') {
        // The conv's output is never stored; a Dropout in the op has its mask drawn in the conv's epilogue on a GPU.
        const d = node.dropout;
        const drop = d === null ? undefined : { layer: graph.nodes[d].layer as Dropout, buf: ws.layers[d], ctx: this.context(d, true, step!) };
        const y = (layer as Conv2D).forwardPooled(a, graph.nodes[node.pool].layer as MaxPooling2D, ws.layers[node.pool], drop);
        const p = ws.layers[node.pool].y!;
        if (inputs && outputs) {
          [inputs[i], outputs[i], inputs[node.pool], outputs[node.pool]] = [[a], p, [p], p];
          if (d !== null) [inputs[d], outputs[d]] = [[p], y];
        }
        value[node.out] = y;
      } else {
        const y =
          layer instanceof Merge
            ? layer.forwardAll(xs, ws.layers[i])
            : layer.forward(a, ws.layers[i], this.context(i, step !== null, step ?? undefined));
        if (inputs && outputs) [inputs[i], outputs[i]] = [xs, y];
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

  /**
   * Each node's buffers, as the plan needs them (plan.ts's bufferNeeds), and in training a buffer for each node
   * whose gradient is a sum (several readers).
   */
  private allocateLayers(batch: number, training: boolean): { layers: LayerBuffers[]; sums: (NativeTensor | null)[] } {
    const graph = this.graph,
      needs = bufferNeeds(graph, training, this.fusion);
    const layers = graph.nodes.map((n, i) => {
      const l = n.layer;
      const buf =
        l instanceof Merge
          ? l.allocateFor(
              batch,
              n.inputs.map(ref => training && ref >= 0),
              this.device,
            )
          : l.allocate(batch, needs[i].inputGrad, this.device);
      if (!needs[i].output) {
        buf.y?.dispose();
        buf.y = null;
      }
      return buf;
    });
    const sums = graph.nodes.map(n => (training && graph.fansOut(n.id) ? empty([batch, ...n.layer.outputShape], 'float32', this.device) : null));
    return { layers, sums };
  }

  /** @internal evaluate's step: `rows` rows from `start` of the inputs and targets added to each output's running metrics. */
  evaluateBatch(
    Xs: NativeTensor[],
    Ys: NativeTensor[],
    Ws: (NativeTensor | null)[],
    indices: NativeTensor,
    start: number,
    rows: number,
    metrics: NativeTensor[],
  ): void {
    const ws = this.workspace(rows, false);
    this.gatherBatch(ws, indices, start, null, Xs, Ys, Ws);
    const outs = this.forward(ws, null);
    this.heads.forEach((h, o) => {
      const v = this.lossViews(h, ws.heads[o], outs[o], rows, Ws[o] !== null);
      native.loss(h.loss.kind, h.accuracy, v.pred, v.labels, v.weights, null, metrics[o], 0);
    });
  }

  /**
   * @internal predict's step: the outputs of `rows` rows from `start`, one tensor per output: the workspace's own
   * buffers, to be copied out before the next call. A head fused with the loss (softmax, sigmoid) is applied here:
   * the output layer emits logits.
   */
  predictBatch(Xs: NativeTensor[], indices: NativeTensor, start: number, rows: number): NativeTensor[] {
    const ws = this.workspace(rows, false);
    this.gatherBatch(ws, indices, start, null, Xs);
    const outs = this.forward(ws, null),
      shapes = this.outputShapes;
    return outs.map((out, o) => {
      const head = this.headOf(o),
        probs = ws.heads[o].probs,
        k = shapes[o].at(-1)!;
      const rowsOf = (t: NativeTensor) => (shapes[o].length === 1 ? t : t.reshape([t.size / k, k]));
      if (head === 'softmax') native.softmax(rowsOf(out), rowsOf(probs));
      else if (head === 'sigmoid') native.activation(out, probs, 'sigmoid');
      return head ? probs : out;
    });
  }

  /** How many tapeCall()s ran: their dropout streams' offsets, apart from fit's steps. */
  private tapeCalls = 0;
  /**
   * During a tapeCall's forward and backward: each layer's trainable flag as the call read it (not as fit's last
   * applyTrainable did), so that a layer frozen since runs both passes in the same mode.
   */
  private trainingNow: boolean[] | null = null;

  /**
   * @internal One forward pass of the whole batch Xs (one per input) for a gradient tape (kernelnet/tfjs's
   * model.apply and predict inside tf.grad, tf.variableGrads, optimizer.minimize), with buffers of its own that
   * live until dispose(): the outputs before the head (predict's softmax or sigmoid, which the caller applies),
   * and backward(dys), which runs the layers' own backward ops from the outputs' gradients (null: none) and
   * returns the gradient of each input asked for in `inputGrads` and copies of the trainable weights'
   * gradients, all the caller's to dispose. No fusion rule runs (each layer is its own op), so every layer's input gradient can be had.
   * In training mode (Dropout drops, BatchNormalization uses and updates the batch's statistics, as tfjs's
   * apply with training: true) each call draws new dropout masks; in inference mode Dropout is the identity and
   * BatchNormalization the affine map of its moving statistics, and their backward passes are those maps'.
   */
  tapeCall(
    Xs: NativeTensor[],
    training: boolean,
    inputGrads: boolean[],
  ): {
    outputs: NativeTensor[];
    backward(dys: (NativeTensor | null)[]): { dxs: (NativeTensor | null)[]; params: Map<Param, NativeTensor> };
    dispose(): void;
  } {
    this.alive('apply');
    this.ensureParams();
    const batch = this.checkInputs(Xs, this.inputNames);
    if (!batch && training)
      throw new ValidationError(
        `${this.name}.apply: an empty batch in training mode (no statistics to normalise or update with)`,
        'ERR_KERNELNET_SHAPE',
      );
    this.checkBatchFits(batch);
    const graph = this.graph,
      device = this.device;
    const sw: FusionSwitches = { fuseConvPool: false, fuseHead: false, foldInference: false, foldDropout: false, foldBelow: false };
    const wanted = (ref: number) => ref < 0 && inputGrads[inputIndex(ref)] === true;
    const frozen = new Set(this.layers.filter(l => l.trainable === false));
    const trains = (id: number) => {
      const l = graph.nodes[id].layer;
      return !frozen.has(l) && l.params.some(p => p.trainable !== false);
    };
    const plan = stepPlan(graph, id => trains(id) || graph.nodes[id].inputs.some(wanted), sw);
    const flows = (ref: number) => (ref < 0 ? wanted(ref) : plan.needsBackward(ref));
    const layers = graph.nodes.map(n =>
      n.layer instanceof Merge
        ? n.layer.allocateFor(
            batch,
            n.inputs.map(ref => ref >= 0 || wanted(ref)),
            device,
          )
        : n.layer.allocate(
            batch,
            n.inputs.some(ref => ref >= 0 || wanted(ref)),
            device,
          ),
    );
    const sums = graph.nodes.map(n => (graph.fansOut(n.id) ? empty([batch, ...n.layer.outputShape], 'float32', device) : null));
    const ws: Workspace = { xs: Xs, heads: [], layers, sums };
    let alive = true;
    const free = () => {
      if (!alive) return;
      alive = false;
      disposeWorkspace({ ...ws, xs: [] }); // the inputs are the caller's
    };
    const step = training ? ({ base: 2 ** 31 + this.tapeCalls++, counter: null } as unknown as TrainStep) : null;
    const inputs: NativeTensor[][] = [],
      outputs: NativeTensor[] = [];
    let value: NativeTensor[];
    const modes = this.layers.map(l => l.trainable);
    this.trainingNow = modes;
    try {
      value = this.runForward(graph, plan.forward, ws, step, inputs, outputs);
    } catch (err) {
      free();
      throw err;
    } finally {
      this.trainingNow = null;
    }
    return {
      outputs: graph.outputs.map(id => value[id]),
      backward: dys => {
        if (!alive) throw stateError(`${this.name}: this forward pass was disposed`, 'ERR_KERNELNET_DISPOSED');
        const grads = new Map<number, NativeTensor>();
        const dxs: (NativeTensor | null)[] = Xs.map(() => null);
        const contribute = (ref: number, g: NativeTensor | null) => {
          if (!g) return;
          if (ref < 0) {
            const k = inputIndex(ref);
            if (!inputGrads[k]) return;
            const sum = empty(g.shape, 'float32', device); // the caller's
            if (dxs[k]) {
              native.binary('add', dxs[k]!, g, sum);
              dxs[k]!.dispose();
            } else if (g.size) native.copyRegion(g.reshape([g.size]), [0], sum.reshape([g.size]), [0], [g.size]);
            dxs[k] = sum;
            return;
          }
          accumulate(grads, ws.sums, ref, g);
        };
        graph.outputs.forEach((id, o) => contribute(id, dys[o]));
        const seen = new Set<Layer>();
        this.trainingNow = modes;
        try {
          for (const op of plan.backward) {
            const grad = grads.get(op.out);
            if (!grad) continue;
            const i = op.at,
              node = graph.nodes[i],
              layer = node.layer;
            const ctx = { ...this.context(i, training, step ?? undefined), inputGrad: node.inputs.some(flows), weightGrads: trains(i) };
            this.backwardOf(layer, ctx.weightGrads, seen, () => {
              if (layer instanceof Merge) {
                const dx = layer.backwardAll(inputs[i], outputs[i], grad, ws.layers[i], node.inputs.map(flows));
                node.inputs.forEach((ref, j) => contribute(ref, dx[j]));
              } else contribute(node.inputs[0], layer.backward(inputs[i][0], outputs[i], grad, ws.layers[i], { ...ctx, dzGiven: false }));
            });
          }
        } finally {
          this.trainingNow = null;
        }
        const params = new Map<Param, NativeTensor>();
        for (const l of seen)
          for (const p of l.params) {
            if (p.trainable === false) continue;
            const copy = empty(p.shape, 'float32', device);
            if (p.grad.size) native.copyRegion(p.grad.reshape([p.grad.size]), [0], copy.reshape([p.grad.size]), [0], [p.grad.size]);
            params.set(p, copy);
          }
        return { dxs, params };
      },
      dispose: free,
    };
  }

  /** @internal How the last epoch's full batches ran: as a recorded program of `ops` ops, a CUDA graph or not. */
  lastStepProgram: { ops: number; device: string; graph: boolean; branches: number; nodes: number; kernels: string[]; reason: string } | null = null;

  /** Per shared layer (one applied at several nodes): where a later node's weight gradients go before they are added. */
  private readonly gradScratch = new Map<Layer, NativeTensor[]>();

  /**
   * Runs a node's backward. A layer applied at several nodes (shared weights) has its weight gradients summed:
   * the first of its nodes this step writes them, each later one writes into scratch tensors that are then added,
   * in the plan's fixed order.
   */
  private backwardOf(layer: Layer, weightGrads: boolean, seen: Set<Layer>, run: () => void): void {
    if (!weightGrads || !layer.params.length || !seen.has(layer)) {
      if (weightGrads) seen.add(layer);
      run();
      return;
    }
    const params = layer.params.filter(p => p.trainable !== false);
    let scratch = this.gradScratch.get(layer);
    if (!scratch) this.gradScratch.set(layer, (scratch = params.map(p => empty(p.shape, 'float32', this.device))));
    const grads = params.map(p => p.grad);
    params.forEach((p, j) => (p.grad = scratch[j]));
    try {
      run();
    } finally {
      params.forEach((p, j) => (p.grad = grads[j]));
    }
    params.forEach((p, j) => native.binary('add', p.grad, scratch[j], p.grad));
  }

  /** A head's prediction, targets and weights as the loss op takes them: rows of k values ([rows * per, k]). */
  private lossViews(h: Head, hb: HeadBuffers, pred: NativeTensor, rows: number, weighted: boolean) {
    if (h.shape.length === 1) return { pred, labels: hb.y, weights: weighted ? hb.w : null };
    const n = rows * h.per;
    let weights: NativeTensor | null = null;
    if (weighted) {
      // Keras broadcasts an example's weight over its loss's positions.
      weights = h.per > 1 ? hb.wRows! : hb.w;
      if (h.per > 1) native.binary('mul', hb.w.reshape([rows, 1]), hb.ones!, hb.wRows!.reshape([rows, h.per]));
    }
    return { pred: pred.reshape([n, h.k]), labels: hb.y.reshape(h.loss.labels === 'classes' ? [n] : [n, h.k]), weights };
  }

  /** The batch's rows of every input (and, given Ys, target and sample weight) into the workspace: one native call, one GPU launch. */
  private gatherBatch(
    ws: Workspace,
    indices: NativeTensor,
    start: number,
    counter: NativeTensor | null,
    Xs: NativeTensor[],
    Ys?: NativeTensor[],
    Ws?: (NativeTensor | null)[],
  ): void {
    const src = [...Xs],
      dst = [...ws.xs];
    if (Ys)
      this.heads.forEach((_, o) => {
        src.push(Ys[o]);
        dst.push(ws.heads[o].y);
        if (Ws?.[o]) {
          src.push(Ws[o]!);
          dst.push(ws.heads[o].w);
        }
      });
    native.gatherRows(src, indices, start, dst, counter);
  }

  private stepOps(step: TrainStep, start: number, rows: number, ws: Workspace): void {
    const { Xs, Ys, Ws, indices, counter, base, optimizer, metrics } = step;
    const full = rows === step.batchSize;
    this.gatherBatch(ws, indices, full ? 0 : start, full ? counter : null, Xs, Ys, Ws);
    const inputs: NativeTensor[][] = [],
      outputs: NativeTensor[] = [];
    const graph = this.graph;
    const trains = (id: number) => {
      const l = graph.nodes[id].layer;
      return (this.training[this.layerIndex(l)] ?? true) && l.params.length > 0;
    };
    const plan = stepPlan(graph, trains, this.fusion);
    const inputGrad = (id: number) => graph.nodes[id].inputs.some(plan.needsBackward);
    const value = this.runForward(graph, plan.forward, ws, step, inputs, outputs);
    // The gradient of each node's output, by node id: a node several others read (or the loss and others) gets
    // the sum of their gradients, added in the plan's order into its sum buffer.
    const grads = new Map<number, NativeTensor>();
    const contribute = (ref: number, g: NativeTensor | null) => {
      if (ref < 0 || !g) return;
      accumulate(grads, ws.sums, ref, g);
    };
    const seen = new Set<Layer>(); // layers whose weight gradients this step has written (a shared layer adds the rest)
    if (plan.fusedHead) {
      const out = graph.output,
        h = this.heads[0],
        hb = ws.heads[0],
        from = graph.nodes[out].inputs[0],
        x = from < 0 ? ws.xs[inputIndex(from)] : value[from];
      const g = (graph.nodes[out].layer as Dense).forwardLossBackward(
        x,
        ws.layers[out],
        { ...this.context(out, true, step), inputGrad: inputGrad(out), weightGrads: trains(out) },
        { kind: h.loss.kind, accuracy: h.accuracy, labels: hb.y, weights: Ws[0] ? hb.w : null, dlogits: hb.dlogits, metrics: metrics[0], step: base },
      );
      if (trains(out)) seen.add(graph.nodes[out].layer);
      contribute(from, g);
    } else {
      this.heads.forEach((h, o) => {
        const hb = ws.heads[o],
          v = this.lossViews(h, hb, value[h.node], rows, Ws[o] !== null);
        native.loss(h.loss.kind, h.accuracy, v.pred, v.labels, v.weights, hb.dlogits, metrics[o], base, counter);
        if (hb.scale) native.binary('mul', hb.dlogits, hb.scale, hb.dlogits); // lossWeights
        contribute(h.node, h.shape.length === 1 ? hb.dlogits : hb.dlogits.reshape([rows, ...h.shape]));
      });
    }
    const dzGiven = new Set<number>(); // nodes whose activation the op above applied to their gradient
    for (const op of plan.backward) {
      const grad = grads.get(op.out);
      if (!grad) continue;
      const i = op.at,
        node = graph.nodes[i],
        layer = node.layer,
        from = node.inputs[0];
      const ctx = { ...this.context(i, true, step), inputGrad: inputGrad(i), weightGrads: trains(i), below: op.below };
      this.backwardOf(layer, ctx.weightGrads, seen, () => {
        if (op.op === 'convPool') {
          const drop =
            op.dropout === null ? undefined : { layer: graph.nodes[op.dropout].layer as Dropout, ctx: this.context(op.dropout, true, step) };
          contribute(
            from,
            (layer as Conv2D).backwardPooled(
              inputs[i][0],
              graph.nodes[op.pool].layer as MaxPooling2D,
              ws.layers[op.pool],
              grad,
              ws.layers[i],
              ctx,
              drop,
            ),
          );
        } else if (layer instanceof Merge) {
          const dxs = layer.backwardAll(inputs[i], outputs[i], grad, ws.layers[i], node.inputs.map(plan.needsBackward));
          node.inputs.forEach((ref, j) => contribute(ref, dxs[j]));
        } else {
          contribute(from, layer.backward(inputs[i][0], outputs[i], grad, ws.layers[i], { ...ctx, dzGiven: dzGiven.has(i) }));
        }
      });
      if (op.below) dzGiven.add(from);
    }
    // Data-parallel: the replicas' gradients averaged (summed in rank order: the same bits on every replica).
    if (step.replicas && step.replicas.size > 1) native.distAverage(optimizer.trainedGrads(), 1 / step.replicas.size);
    optimizer.step(counter); // advances the step counter with its iteration count (one launch on a GPU)
  }
}

/**
 * Adds g to node ref's gradient: the first contribution is taken as it is, the next are summed into the node's sum
 * buffer (a node several others read), in the order they come.
 */
function accumulate(grads: Map<number, NativeTensor>, sums: (NativeTensor | null)[], ref: number, g: NativeTensor): void {
  const prev = grads.get(ref);
  if (!prev) grads.set(ref, g);
  else {
    native.binary('add', prev, g, sums[ref]!);
    grads.set(ref, sums[ref]!);
  }
}

/**
 * A compile argument given once for every output, as an array (one per output, in order) or as an object keyed by
 * output name; returned as one entry per output. `required`: every output needs an entry (loss); else a missing
 * name takes `fallback`. `lists`: the value itself is a list (metrics), so an array of strings is one list for all.
 */
function perOutput(value: unknown, names: string[], what: string, required: boolean, lists = false, fallback?: unknown): unknown[] {
  const n = names.length;
  if (value === undefined && required) fail(`a ${what}`, what, value);
  const isList = (v: unknown) => Array.isArray(v) && v.every(e => typeof e === 'string');
  if (Array.isArray(value) && !(lists && isList(value))) {
    if (value.length !== n)
      throw new ValidationError(
        `compile: ${what} has ${value.length} entries but the model has ${n} output${n > 1 ? 's' : ''} (${names.join(', ')})`,
      );
    return value;
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype && !lists) {
    return keyedEntries(value as Record<string, unknown>, names, what, required, fallback);
  }
  if (lists && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return keyedEntries(value as Record<string, unknown>, names, what, false, []).map(v => (typeof v === 'string' ? [v] : v));
  }
  return names.map(() => value);
}

/** @internal An object keyed by output (or input) name as one entry per name; an unknown key is refused, naming the known. */
export function keyedEntries(value: Record<string, unknown>, names: string[], what: string, required: boolean, fallback?: unknown): unknown[] {
  for (const key of Object.keys(value)) if (!names.includes(key)) fail(`keys among the names ${names.map(m => `'${m}'`).join(', ')}`, what, key);
  return names.map(name => {
    if (Object.hasOwn(value, name)) return value[name];
    if (required) throw new ValidationError(`compile: ${what} has no entry for output '${name}' (keys: ${Object.keys(value).join(', ')})`);
    return fallback;
  });
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
  for (const t of ws.xs) t.dispose();
  for (const h of ws.heads) for (const t of [h.y, h.w, h.wRows, h.ones, h.dlogits, h.probs, h.scale]) t?.dispose();
  for (const b of ws.layers) for (const t of [b.y, b.dx, b.extra, b.aux, b.fold?.w, b.fold?.b, ...(b.dxs ?? []), ...(b.partials ?? [])]) t?.dispose();
  for (const t of ws.sums) t?.dispose();
}

/** A float32 tensor of ones. */
function onesTensor(shape: number[], device: Device): NativeTensor {
  const t = empty(shape, 'float32', device);
  t.fill(1);
  return t;
}
