// Sequential: a stack of layers trained with a fused softmax-cross-entropy head and one optimizer.
// TypeScript here only orchestrates: every forward, backward, loss and update is one call into the addon,
// writing into buffers allocated once per (model, batch size). Randomness (initialisation, dropout, shuffling)
// comes from counter-based streams keyed by the model's seed, so a run is reproducible from its seed.
import { randomInt } from 'node:crypto';
import { CheckpointError, readCheckpoint, writeCheckpoint, type NamedTensor } from './checkpoint.js';
import { Conv2D, Dense, Dropout, Flatten, Layer, MaxPooling2D, type LayerBuffers, type Param, type StepContext } from './layers.js';
import { native, type NativeProgram, type NativeTensor } from './native.js';
import { Adadelta, type Optimizer } from './optimizers.js';
import { ProgressBar, formatLogs, type ProgressStream } from './progress.js';
import { Tensor, empty, handleOf } from './tensor.js';
import { TrainingError, ValidationError, stateError } from './errors.js';
import { NOT_USED, checkOptions, describe, fail, nonNegativeInt, oneOf, positiveInt } from './validate.js';

export interface SequentialArgs {
  layers?: Layer[];
  name?: string;
  /** Seed of every random stream of the model (uint32); random when omitted. */
  seed?: number;
}

export interface CompileArgs {
  optimizer: Optimizer | 'adadelta';
  loss: 'categoricalCrossentropy' | 'categorical_crossentropy';
  metrics?: string[];
}

export type Logs = Record<string, number>;

export interface FitArgs {
  batchSize?: number;
  epochs?: number;
  /** 0 silent, 1 progress bar, 2 one line per epoch. */
  verbose?: 0 | 1 | 2;
  validationData?: [Tensor, Tensor];
  shuffle?: boolean;
  callbacks?: {
    onEpochEnd?: (epoch: number, logs: Logs) => void | Promise<void>;
  };
  /** Where the progress bar goes (default process.stdout). */
  out?: ProgressStream;
  /**
   * Stop with an error naming the epoch and step when the training loss becomes NaN or infinite (default true;
   * as Keras's TerminateOnNaN). The check costs no synchronisation: the loss kernel records the first bad step.
   */
  stopOnNonFiniteLoss?: boolean;
}

export interface EvaluateArgs {
  batchSize?: number;
  /** 0 silent (default), 1 prints the loss and metrics. */
  verbose?: 0 | 1;
}

export interface PredictArgs {
  batchSize?: number;
}

export interface History {
  epoch: number[];
  history: Record<string, number[]>;
  params: { epochs: number; steps: number; batchSize: number; samples: number };
}

interface Workspace {
  x: NativeTensor;
  y: NativeTensor;
  dlogits: NativeTensor;
  probs: NativeTensor;
  layers: LayerBuffers[];
}

/** What stays the same for every step of one epoch of fit(). */
interface TrainStep {
  X: NativeTensor;
  Y: NativeTensor;
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

const isSoftmax = (l: Layer) => 'activation' in l && l.activation === 'softmax';

const LOSS_ALIASES = { categorical_crossentropy: 'categoricalCrossentropy' } as const;

// The options of each method (tfjs spellings), and the Keras/tfjs ones kernelnet does not support yet: those
// are refused unless they ask for what kernelnet does anyway, never silently ignored.
const SEQUENTIAL_SCHEMA = { what: 'Sequential args', supported: ['layers', 'name', 'seed'] };
const COMPILE_SCHEMA = {
  what: 'compile args', supported: ['optimizer', 'loss', 'metrics'],
  notYet: { lossWeights: {}, weightedMetrics: {}, runEagerly: { ok: NOT_USED.false }, stepsPerExecution: { ok: NOT_USED.one }, jitCompile: { ok: NOT_USED.false } },
};
const FIT_SCHEMA = {
  what: 'fit options',
  supported: ['batchSize', 'epochs', 'verbose', 'validationData', 'shuffle', 'callbacks', 'out', 'stopOnNonFiniteLoss'],
  notYet: {
    validationSplit: { ok: NOT_USED.zero, hint: 'pass validationData: [x, y] instead' },
    initialEpoch: { ok: NOT_USED.zero },
    classWeight: {}, sampleWeight: {}, stepsPerEpoch: {}, validationSteps: {}, validationBatchSize: {},
    validationFreq: { ok: NOT_USED.one },
    yieldEvery: { ok: ['auto', 'batch'], hint: 'fit yields to the event loop after every batch' },
  },
};
const CALLBACKS_SCHEMA = {
  what: 'fit callbacks', supported: ['onEpochEnd'],
  notYet: { onTrainBegin: {}, onTrainEnd: {}, onEpochBegin: {}, onBatchBegin: {}, onBatchEnd: {}, onYield: {} },
};
const EVALUATE_SCHEMA = { what: 'evaluate options', supported: ['batchSize', 'verbose'], notYet: { sampleWeight: {}, steps: {} } };
const PREDICT_SCHEMA = { what: 'predict options', supported: ['batchSize'], notYet: { verbose: { ok: [0, false] }, steps: {} } };

/** The verbosity of fit (0, 1 or 2) or evaluate (0 or 1). */
function verbosity<T extends number>(value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) fail(`one of ${allowed.join(', ')}`, 'verbose', value);
  return value as T;
}

/** The fit callbacks, checked before training: each hook given must be a function. */
function fitCallbacks(value: unknown): NonNullable<FitArgs['callbacks']> {
  if (Array.isArray(value))
    throw new ValidationError('fit: a callbacks array (tfjs\'s CustomCallback objects, EarlyStopping, ...) is not supported yet, and ' +
      'kernelnet does not silently train without it; pass one object, { onEpochEnd(epoch, logs) { ... } }', 'ERR_KERNELNET_UNSUPPORTED');
  const callbacks = checkOptions(value, CALLBACKS_SCHEMA);
  for (const [k, f] of Object.entries(callbacks))
    if (f !== undefined && typeof f !== 'function') fail('a function', `callbacks.${k}`, f);
  return callbacks;
}

/** How many inference and training workspaces (buffers for one batch size) a model keeps, at most. */
const MAX_WORKSPACES = 4;

export class Sequential {
  readonly layers: Layer[] = [];
  readonly name: string;
  readonly seed: number;
  private optimizer: Optimizer | null = null;
  private reportAccuracy = false;
  private params: Param[] = [];
  private readonly workspaces = new Map<string, Workspace>();
  private metrics: NativeTensor | null = null;
  private steps = 0;
  private epochsRun = 0;
  private readonly nameCounts = new Map<string, number>();
  private disposed = false;
  /** True while fit() runs: a second fit() is refused. */
  private fitting = false;
  /** Batch sizes whose workspaces the running fit() uses (never evicted from the cache meanwhile). */
  private readonly pinned = new Set<string>();

  constructor(args: SequentialArgs = {}) {
    checkOptions(args, SEQUENTIAL_SCHEMA);
    args ??= {};
    if (args.name !== undefined && typeof args.name !== 'string') fail('a string', 'name', args.name);
    this.name = args.name ?? 'sequential';
    this.seed = args.seed === undefined ? randomInt(2 ** 32) : nonNegativeInt(args.seed, 'seed');
    if (this.seed >= 2 ** 32) fail('integer in [0, 2^32)', 'seed', args.seed);
    if (args.layers !== undefined && !Array.isArray(args.layers)) fail('an array of layers', 'layers', args.layers);
    for (const layer of args.layers ?? []) this.add(layer);
  }

  add(layer: Layer): void {
    this.alive('add');
    if (!(layer instanceof Layer)) fail('a Layer', 'layer', layer);
    if (layer.model === this) throw new ValidationError(`${this.name}.add: layer ${layer.name} is already in this model`);
    // Keras shares a layer's weights between the models it is added to; until both models can train and save
    // such a layer, it is refused (compiling the second model used to replace the first model's weights).
    if (layer.model)
      throw new ValidationError(`${this.name}.add: layer ${layer.name} already belongs to another model; sharing a layer (and its ` +
        'weights) between models is not supported yet: make a new layer, and copy weights with getWeights/setWeights', 'ERR_KERNELNET_UNSUPPORTED');
    if (this.params.length) throw stateError(`${this.name}: cannot add layers after compile()`);
    const prev = this.layers.at(-1);
    const input = prev ? prev.outputShape : layer.inputShapeArg;
    if (!input) throw new ValidationError(`The first layer of a Sequential model needs an inputShape, e.g. new ${layer.className}({ ..., inputShape: [28, 28, 1] })`);
    if (!layer.name) {
      const base = layer.className.replace(/([a-z])([A-Z])/g, '$1_$2').replace(/([0-9])D$/, '$1d').toLowerCase();
      const n = this.nameCounts.get(base) ?? 0;
      this.nameCounts.set(base, n + 1);
      layer.name = n ? `${base}_${n}` : base;
    }
    layer.build(input);
    layer.model = this;
    this.layers.push(layer);
  }

  get inputShape(): number[] {
    return this.requireLayers().inputShape;
  }

  get outputShape(): number[] {
    return this.layers.at(-1)!.outputShape;
  }

  countParams(): number {
    this.alive('countParams');
    return this.layers.reduce((n, l) => n + l.countParams(), 0);
  }

  compile(args: CompileArgs): void {
    this.alive('compile');
    if (args === undefined) fail('an options object', 'compile args', args);
    checkOptions(args, COMPILE_SCHEMA);
    if (this.fitting) throw stateError(`${this.name}.compile: the model is inside fit()`, 'ERR_KERNELNET_BUSY');
    this.requireLayers();
    oneOf(args.loss, 'loss', ['categoricalCrossentropy'] as const, LOSS_ALIASES);
    const last = this.layers.at(-1)!;
    if (!isSoftmax(last) || this.outputShape.length !== 1)
      throw new ValidationError(`categoricalCrossentropy needs a last layer with activation 'softmax' (a Dense layer), but the last layer is ${last.name} (${last.className})`);
    for (const l of this.layers.slice(0, -1))
      if (isSoftmax(l))
        throw new ValidationError(`${l.name}: activation 'softmax' is supported on the last layer only`);
    const optimizer = args.optimizer === 'adadelta' ? new Adadelta() : args.optimizer;
    if (!(optimizer instanceof Adadelta)) fail("an optimizer (new Adadelta(...) or 'adadelta')", 'optimizer', args.optimizer);
    const metrics = args.metrics ?? [];
    if (!Array.isArray(metrics)) fail('an array of metric names', 'metrics', metrics);
    for (const m of metrics) oneOf(m, 'metric', ['accuracy'] as const, { acc: 'accuracy' });
    this.reportAccuracy = metrics.length > 0;
    optimizer.claim(this, this.name); // Keras binds an optimizer to one model's variables
    if (!this.params.length) this.allocateParams();
    if (this.optimizer !== optimizer) this.optimizer?.dispose();
    this.optimizer = optimizer;
    optimizer.attach(this.params);
    this.metrics ??= empty([4]);
  }

  /** Keras's summary table; printed with printFn (default console.log) and returned. */
  summary(printFn: (line: string) => void = console.log): string {
    this.alive('summary');
    if (typeof printFn !== 'function') fail('a function', 'printFn', printFn);
    this.requireLayers();
    const cols = [29, 26, 10];
    const row = (a: string, b: string, c: string) =>
      (a.padEnd(cols[0]) + b.padEnd(cols[1]) + c.padEnd(cols[2])).trimEnd();
    const lines = [`Model: "${this.name}"`, '_'.repeat(65), row('Layer (type)', 'Output Shape', 'Param #'), '='.repeat(65)];
    this.layers.forEach((l, i) => {
      lines.push(row(`${l.name} (${l.className})`, `(None, ${l.outputShape.join(', ')})`, String(l.countParams())));
      lines.push(i === this.layers.length - 1 ? '='.repeat(65) : '_'.repeat(65));
    });
    const total = this.countParams().toLocaleString('en-US');
    lines.push(`Total params: ${total}`, `Trainable params: ${total}`, 'Non-trainable params: 0', '_'.repeat(65));
    const text = lines.join('\n');
    printFn(text);
    return text;
  }

  async fit(x: Tensor, y: Tensor, args: FitArgs = {}): Promise<History> {
    this.alive('fit');
    checkOptions(args, FIT_SCHEMA);
    args ??= {};
    if (this.fitting) throw stateError(`${this.name}.fit: the model is already training; wait for the running fit() to finish`, 'ERR_KERNELNET_BUSY');
    const { optimizer, metrics } = this.requireCompiled('fit');
    const batchSize = positiveInt(args.batchSize ?? 32, 'batchSize');
    const epochs = nonNegativeInt(args.epochs ?? 1, 'epochs');
    const verbose = verbosity(args.verbose, [0, 1, 2] as const, 1);
    const shuffle = args.shuffle ?? true;
    if (typeof shuffle !== 'boolean') fail('a boolean', 'shuffle', shuffle);
    const stopOnNonFinite = args.stopOnNonFiniteLoss ?? true;
    if (typeof stopOnNonFinite !== 'boolean') fail('a boolean', 'stopOnNonFiniteLoss', stopOnNonFinite);
    const callbacks = fitCallbacks(args.callbacks);
    const out: ProgressStream = args.out ?? process.stdout;
    if (typeof out?.write !== 'function') fail('a stream with a write() method', 'out', out);
    const X = handleOf(x, 'x'), Y = handleOf(y, 'y');
    const n = this.checkData(X, Y, 'x', 'y');
    let validation: [Tensor, Tensor] | undefined;
    if (args.validationData !== undefined) {
      if (!Array.isArray(args.validationData) || args.validationData.length !== 2)
        fail('[x, y] tensors', 'validationData', args.validationData);
      validation = args.validationData;
      this.checkData(handleOf(validation[0], 'validationData[0]'), handleOf(validation[1], 'validationData[1]'),
        'validationData[0]', 'validationData[1]');
    }
    const steps = Math.ceil(n / batchSize);
    const history: History = { epoch: [], history: {}, params: { epochs, steps, batchSize, samples: n } };
    const inputs: [string, Tensor][] = [['x', x], ['y', y], ...(validation ? [['validationData[0]', validation[0]], ['validationData[1]', validation[1]]] as [string, Tensor][] : [])];
    /** After each await: the user may have disposed the model or the data meanwhile. */
    const stillThere = (epoch: number, step: number) => {
      const where = `(epoch ${epoch + 1}/${epochs}, step ${step}/${steps})`;
      if (this.disposed) throw stateError(`${this.name}.fit: the model was disposed during training ${where}`, 'ERR_KERNELNET_DISPOSED');
      for (const [name, t] of inputs)
        if (t.isDisposed) throw stateError(`${this.name}.fit: ${name} was disposed during training ${where}`, 'ERR_KERNELNET_DISPOSED');
    };
    this.fitting = true;
    this.pinned.clear();
    for (const b of [batchSize, n % batchSize]) if (b) this.pinned.add(`${b}:train`);
    const indices = empty([n], 'int32');
    const counter = empty([1], 'int32');
    // Full batches run as one recorded program per epoch (a CUDA graph on a GPU); KERNELNET_GRAPHS=0 makes
    // every op its own call instead. Same work, same results.
    const useProgram = process.env.KERNELNET_GRAPHS !== '0';
    let program: NativeProgram | null = null;
    try {
      if (!shuffle) indices.write(Int32Array.from({ length: n }, (_, i) => i));
      for (let epoch = 0; epoch < epochs; ++epoch) {
        if (shuffle) native.permutation(indices, this.key(STREAM_SHUFFLE), this.epochsRun);
        this.epochsRun++;
        if (verbose !== 0) out.write(`Epoch ${epoch + 1}/${epochs}\n`);
        const bar = new ProgressBar(steps, out);
        metrics.fill(0);
        const firstStep = this.steps;
        // Reading the metrics is free on the CPU, so check every step there; on a GPU, whenever they are read.
        const checkEveryStep = stopOnNonFinite && native.backend().name === 'cpu';
        const check = (logs: Logs) => {
          if (stopOnNonFinite && this.nonFiniteStep) {
            const step = this.nonFiniteStep - firstStep;
            throw new TrainingError(`fit: the training loss became non-finite at epoch ${epoch + 1}/${epochs}, step ${step}/${steps} ` +
              `(the model's step ${this.nonFiniteStep}); lower the learning rate or check the data for NaN or huge values ` +
              '(pass stopOnNonFiniteLoss: false to train on)', 'ERR_KERNELNET_NON_FINITE', { epoch: epoch + 1, step });
          }
          return logs;
        };
        counter.write(Int32Array.of(0));
        const step: TrainStep = { X, Y, indices, batchSize, counter, base: this.steps, optimizer, metrics };
        for (let s = 0; s < steps; ++s) {
          const rows = Math.min(batchSize, n - s * batchSize);
          if (rows === batchSize && useProgram) {
            program ??= this.recordStep(step);
            program.run();
            this.steps++;
          } else {
            this.trainStep(step, s * batchSize, rows);
          }
          if (verbose === 1 && bar.wantsUpdate(s + 1)) bar.update(s + 1, check(this.readLogs(metrics)));
          else if (checkEveryStep) check(this.readLogs(metrics));
          await new Promise(setImmediate); // keep the event loop (timers, I/O, signals) alive between steps
          stillThere(epoch, s + 1);
        }
        const logs = check(this.readLogs(metrics));
        if (program) {
          this.lastStepProgram = { ops: program.ops, device: program.device, graph: program.graph, reason: program.reason };
          program.dispose();
          program = null;
        }
        if (validation) {
          // Awaitable: the event loop runs between validation batches too.
          const [vl, va] = await this.evaluateAsync(validation[0], validation[1], { batchSize });
          stillThere(epoch, steps);
          logs.val_loss = vl;
          if (this.reportAccuracy) logs.val_accuracy = va;
        }
        if (verbose !== 0) bar.finish(logs);
        history.epoch.push(epoch);
        for (const [k, v] of Object.entries(logs)) (history.history[k] ??= []).push(v);
        await callbacks.onEpochEnd?.(epoch, logs);
        stillThere(epoch, steps);
      }
    } finally {
      program?.dispose();
      indices.dispose();
      counter.dispose();
      this.fitting = false;
      this.pinned.clear();
    }
    return history;
  }

  /**
   * Loss and accuracy over (x, y), as Keras's evaluate: [loss, accuracy]. Synchronous, as in Keras and tfjs;
   * evaluateAsync does the same work and lets the event loop run between batches.
   */
  evaluate(x: Tensor, y: Tensor, args: EvaluateArgs = {}): number[] {
    const run = this.evaluation(x, y, args);
    for (let r = run.next(); ; r = run.next()) if (r.done) return r.value;
  }

  /** evaluate(), yielding to the event loop after every batch: a server stays responsive while it runs. */
  async evaluateAsync(x: Tensor, y: Tensor, args: EvaluateArgs = {}): Promise<number[]> {
    const run = this.evaluation(x, y, args);
    for (let r = run.next(); ; r = run.next()) {
      if (r.done) return r.value;
      await new Promise(setImmediate);
    }
  }

  /** Class probabilities for each example of x: a float32 tensor [N, classes]. Synchronous; see predictAsync. */
  predict(x: Tensor, args: PredictArgs = {}): Tensor {
    const run = this.prediction(x, args);
    for (let r = run.next(); ; r = run.next()) if (r.done) return r.value;
  }

  /** predict(), yielding to the event loop after every batch. */
  async predictAsync(x: Tensor, args: PredictArgs = {}): Promise<Tensor> {
    const run = this.prediction(x, args);
    for (let r = run.next(); ; r = run.next()) {
      if (r.done) return r.value;
      await new Promise(setImmediate);
    }
  }

  /** The work of evaluate, one batch per step of the generator. */
  private *evaluation(x: Tensor, y: Tensor, args: EvaluateArgs): Generator<void, number[]> {
    this.alive('evaluate');
    checkOptions(args, EVALUATE_SCHEMA);
    args ??= {};
    this.requireCompiled('evaluate');
    const batchSize = positiveInt(args.batchSize ?? 32, 'batchSize');
    const verbose = verbosity(args.verbose, [0, 1] as const, 0);
    const X = handleOf(x, 'x'), Y = handleOf(y, 'y');
    const n = this.checkData(X, Y, 'x', 'y');
    const metrics = empty([4]);
    const indices = this.identity(n);
    try {
      metrics.fill(0);
      for (let start = 0; start < n; start += batchSize) {
        if (start) {
          yield;
          if (this.disposed) throw stateError(`${this.name}.evaluate: the model was disposed during evaluation`, 'ERR_KERNELNET_DISPOSED');
          handleOf(x, 'x'); // still there
          handleOf(y, 'y');
        }
        const ws = this.workspace(Math.min(batchSize, n - start), false);
        native.gatherRows(X, indices, start, ws.x);
        native.gatherRows(Y, indices, start, ws.y);
        native.softmaxCrossEntropy(this.forward(ws, null), ws.y, null, metrics, 0);
      }
      const logs = this.readLogs(metrics);
      if (verbose) process.stdout.write(`${formatLogs(logs).slice(3)}\n`);
      return [logs.loss, logs.accuracy ?? NaN];
    } finally {
      metrics.dispose();
      indices.dispose();
    }
  }

  /** The work of predict, one batch per step of the generator. */
  private *prediction(x: Tensor, args: PredictArgs): Generator<void, Tensor> {
    this.alive('predict');
    checkOptions(args, PREDICT_SCHEMA);
    args ??= {};
    this.requireParams('predict');
    const batchSize = positiveInt(args.batchSize ?? 32, 'batchSize');
    const X = handleOf(x, 'x');
    const n = this.checkInput(X, 'x');
    const k = this.outputShape[0];
    const result = new Float32Array(n * k);
    const indices = this.identity(n);
    try {
      for (let start = 0; start < n; start += batchSize) {
        if (start) {
          yield;
          if (this.disposed) throw stateError(`${this.name}.predict: the model was disposed during prediction`, 'ERR_KERNELNET_DISPOSED');
          handleOf(x, 'x');
        }
        const ws = this.workspace(Math.min(batchSize, n - start), false);
        native.gatherRows(X, indices, start, ws.x);
        // compile() made sure the head is softmax; the last layer emits logits.
        native.softmax(this.forward(ws, null), ws.probs);
        result.set(ws.probs.read() as Float32Array, start * k);
      }
    } finally {
      indices.dispose();
    }
    return new Tensor(new native.Tensor([n, k], 'float32', result));
  }

  /** Copies of every parameter, in layer order (kernel then bias). */
  getWeights(): Tensor[] {
    this.alive('getWeights');
    return this.requireParams('getWeights').map(p => new Tensor(new native.Tensor(p.shape, 'float32', p.value.read())));
  }

  setWeights(weights: Tensor[]): void {
    this.alive('setWeights');
    const params = this.requireParams('setWeights');
    if (!Array.isArray(weights) || weights.length !== params.length)
      fail(`an array of ${params.length} tensors`, 'weights', weights);
    // Atomic: every tensor is checked and read before any parameter is written.
    const values = weights.map((w, i) => {
      const h = handleOf(w, `weights[${i}]`);
      if (h.dtype !== 'float32' || h.shape.join() !== params[i].shape.join())
        throw new ValidationError(`Expected weights[${i}] to be a float32 tensor of shape [${params[i].shape}] but received ${h.dtype} [${h.shape}]`, 'ERR_KERNELNET_SHAPE');
      return h.read();
    });
    values.forEach((v, i) => params[i].value.write(v));
  }

  /**
   * Saves the parameters to a safetensors file (tensor names "<layer>/<param>"), atomically: a crash while
   * saving leaves the previous file intact.
   */
  saveWeights(path: string): void {
    this.alive('saveWeights');
    writeCheckpoint(path, this.weightTensors(), { architecture: JSON.stringify(this.architecture()) });
  }

  /** Loads parameters saved by saveWeights or save; refuses a file that does not match, changing nothing. */
  loadWeights(path: string): void {
    this.alive('loadWeights');
    const { tensors } = readCheckpoint(path);
    const params = this.requireParams('loadWeights');
    const values = this.matchParams(path, tensors, '');
    params.forEach((p, i) => p.value.write(values[i]));
  }

  /**
   * Saves everything needed to resume training exactly: architecture, compile settings, parameters, optimizer
   * state, and the step, epoch and seed that drive dropout and shuffling. Atomic, like saveWeights.
   */
  save(path: string): void {
    this.alive('save');
    const { optimizer } = this.requireCompiled('save');
    const { accums, deltas } = optimizer.slots();
    const tensors = this.weightTensors();
    this.params.forEach((p, i) => {
      const name = this.paramName(i);
      tensors.push({ name: `optimizer/${name}/accum`, shape: p.shape, data: accums[i].read() as Float32Array });
      tensors.push({ name: `optimizer/${name}/delta_accum`, shape: p.shape, data: deltas[i].read() as Float32Array });
    });
    writeCheckpoint(path, tensors, {
      architecture: JSON.stringify(this.architecture()),
      compile: JSON.stringify({ loss: 'categoricalCrossentropy', optimizer: { className: optimizer.className, config: optimizer.getConfig() },
        metrics: this.reportAccuracy ? ['accuracy'] : [] }),
      training: JSON.stringify({ seed: this.seed, steps: this.steps, epochs: this.epochsRun }),
    });
  }

  /** @internal Restores what save() wrote; used by loadModel. */
  restore(path: string, tensors: Map<string, NamedTensor>, training: { steps: number; epochs: number }): void {
    const { optimizer } = this.requireCompiled('restore');
    const values = this.matchParams(path, tensors, '');
    const accums = this.matchParams(path, tensors, 'accum'), deltas = this.matchParams(path, tensors, 'delta_accum');
    const slots = optimizer.slots();
    this.params.forEach((p, i) => {
      p.value.write(values[i]);
      slots.accums[i].write(accums[i]);
      slots.deltas[i].write(deltas[i]);
    });
    this.steps = training.steps;
    this.epochsRun = training.epochs;
  }

  /** Frees every tensor the model holds (parameters, optimizer state, buffers); every method then refuses. */
  dispose(): void {
    this.disposed = true;
    for (const p of this.params) {
      p.value.dispose();
      p.grad.dispose();
    }
    this.params = [];
    for (const l of this.layers) l.params = [];
    this.optimizer?.dispose();
    this.optimizer = null;
    this.disposeWorkspaces();
    this.metrics?.dispose();
    this.metrics = null;
  }

  // ---- internals ----

  private paramName(i: number): string {
    const layer = this.layers.find(l => l.params.includes(this.params[i]))!;
    return `${layer.name}/${this.params[i].name}`;
  }

  private weightTensors(): NamedTensor[] {
    return this.requireParams('saveWeights').map((p, i) => ({ name: this.paramName(i), shape: p.shape, data: p.value.read() as Float32Array }));
  }

  /** The data of every parameter (or optimizer slot) from a checkpoint, all checked before any is used. */
  private matchParams(path: string, tensors: Map<string, NamedTensor>, slot: '' | 'accum' | 'delta_accum'): Float32Array[] {
    return this.params.map((p, i) => {
      const name = slot ? `optimizer/${this.paramName(i)}/${slot}` : this.paramName(i);
      const t = tensors.get(name);
      if (!t) throw new CheckpointError(path, `has no tensor ${name}: it was saved from a different model`);
      if (t.shape.join() !== p.shape.join())
        throw new CheckpointError(path, `tensor ${name} has shape [${t.shape}] but this model's is [${p.shape}]`);
      return t.data;
    });
  }

  /** @internal The model's layers as data, for checkpoints. */
  architecture(): { name: string; inputShape: number[]; layers: { className: string; config: Record<string, unknown> }[] } {
    return { name: this.name, inputShape: this.inputShape, layers: this.layers.map(l => ({ className: l.className, config: l.getConfig() })) };
  }

  private key(stream: number): number {
    return stream * 2 ** 32 + this.seed;
  }

  /** Refuses every call on a disposed model, saying so (not "not compiled"). */
  private alive(op: string): void {
    if (this.disposed) throw stateError(`${this.name}.${op}: the model was disposed`, 'ERR_KERNELNET_DISPOSED');
  }

  private requireLayers(): Layer {
    if (!this.layers.length) throw stateError(`${this.name}: the model has no layers; add() some first`);
    return this.layers[0];
  }

  private requireParams(op: string): Param[] {
    if (!this.params.length) throw stateError(`${this.name}.${op}: the model is not compiled; call compile() first`);
    return this.params;
  }

  private requireCompiled(op: string): { optimizer: Optimizer; metrics: NativeTensor } {
    this.requireParams(op);
    return { optimizer: this.optimizer!, metrics: this.metrics! };
  }

  private allocateParams(): void {
    let index = 0;
    for (const layer of this.layers) {
      layer.params = layer.specs.map(spec => {
        const value = empty(spec.shape), grad = empty(spec.shape);
        if (spec.init.kind === 'zeros') value.fill(0);
        else {
          const limit = Math.sqrt(6 / (spec.init.fanIn + spec.init.fanOut));
          native.randomUniform(value, -limit, limit, this.key(STREAM_INIT + index), 0);
        }
        grad.fill(0);
        index++;
        return { ...spec, value, grad };
      });
      this.params.push(...layer.params);
    }
  }

  private checkInput(X: NativeTensor, name: string): number {
    const want = this.inputShape;
    if (X.dtype !== 'float32' || X.shape.length !== want.length + 1 || X.shape.slice(1).join() !== want.join())
      throw new ValidationError(`Expected ${name} to be a float32 tensor of shape [N, ${want.join(', ')}] but received ${X.dtype} [${X.shape.join(', ')}]`, 'ERR_KERNELNET_SHAPE');
    return X.shape[0];
  }

  private checkData(X: NativeTensor, Y: NativeTensor, xName: string, yName: string): number {
    const n = this.checkInput(X, xName);
    const k = this.outputShape[0];
    if (Y.dtype !== 'float32' || Y.shape.length !== 2 || Y.shape[1] !== k)
      throw new ValidationError(`Expected ${yName} to be a float32 tensor of shape [N, ${k}] (one-hot, see toCategorical) but received ${Y.dtype} [${Y.shape.join(', ')}]`, 'ERR_KERNELNET_SHAPE');
    if (Y.shape[0] !== n)
      throw new ValidationError(`Expected ${xName} and ${yName} to hold the same number of examples but received ${n} and ${Y.shape[0]}`, 'ERR_KERNELNET_SHAPE');
    if (n === 0) throw new ValidationError(`Expected at least one example in ${xName} but received ${describe(X.shape)}`, 'ERR_KERNELNET_SHAPE');
    checkLabels(Y, yName);
    return n;
  }

  private identity(n: number): NativeTensor {
    return new native.Tensor([n], 'int32', Int32Array.from({ length: n }, (_, i) => i));
  }

  /**
   * Buffers for a batch size, made once and reused. Inference (evaluate, predict) reuses a training workspace of
   * the same size when there is one and otherwise makes one without gradient buffers, about half the memory. At
   * most MAX_WORKSPACES are kept, the least recently used going first (never one a running fit() uses), so a
   * server predicting at many batch sizes does not grow without bound.
   */
  private workspace(batch: number, training: boolean): Workspace {
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
      const k = this.outputShape[0];
      ws = {
        x: empty([batch, ...this.inputShape]),
        y: empty([batch, k]),
        dlogits: empty([batch, training ? k : 0]),
        probs: empty([batch, k]),
        layers: this.layers.map((l, i) => l.allocate(batch, training && i > 0)),
      };
    }
    this.workspaces.set(key, ws);
    return ws;
  }

  /** @internal The batch sizes (and kinds) of the workspaces kept now, least recently used first. */
  get workspaceKeys(): string[] {
    return [...this.workspaces.keys()];
  }

  private disposeWorkspaces(): void {
    for (const ws of this.workspaces.values()) disposeWorkspace(ws);
    this.workspaces.clear();
  }

  private context(layerIndex: number, training: boolean, step?: TrainStep): StepContext {
    return { training, seed: this.key(STREAM_DROPOUT + layerIndex), offset: step?.base ?? this.steps, counter: step?.counter ?? null };
  }

  /** Runs every layer forward from ws.x; returns the last layer's output (logits for a softmax head). */
  private forward(ws: Workspace, step: TrainStep | null, inputs?: NativeTensor[], outputs?: NativeTensor[]): NativeTensor {
    let a = ws.x;
    this.layers.forEach((layer, i) => {
      inputs?.push(a);
      a = layer.forward(a, ws.layers[i], this.context(i, step !== null, step ?? undefined));
      outputs?.push(a);
    });
    return a;
  }

  /**
   * One training step on rows [start, start + rows) of the epoch's order. What varies from step to step (the
   * batch's rows, dropout's offset, the step number the loss records) comes from the step counter on the
   * device, so every full batch of an epoch makes exactly the same calls; only the short last batch names its
   * rows from the host.
   */
  private trainStep(step: TrainStep, start: number, rows: number): void {
    this.stepOps(step, start, rows, this.workspace(rows, true));
    this.steps++;
  }

  /** Records the ops of a full-batch step (the same for every full batch of the epoch) as a program. */
  private recordStep(step: TrainStep): NativeProgram {
    const ws = this.workspace(step.batchSize, true);
    native.record();
    try {
      this.stepOps(step, 0, step.batchSize, ws);
    } catch (err) {
      native.endRecord().dispose();
      throw err;
    }
    return native.endRecord();
  }

  /** @internal How the last epoch's full batches ran: as a recorded program of `ops` ops, a CUDA graph or not. */
  lastStepProgram: { ops: number; device: string; graph: boolean; reason: string } | null = null;

  private stepOps(step: TrainStep, start: number, rows: number, ws: Workspace): void {
    const { X, Y, indices, counter, base, optimizer, metrics } = step;
    const full = rows === step.batchSize;
    native.gatherRows(X, indices, full ? 0 : start, ws.x, full ? counter : null);
    native.gatherRows(Y, indices, full ? 0 : start, ws.y, full ? counter : null);
    const inputs: NativeTensor[] = [], outputs: NativeTensor[] = [];
    const logits = this.forward(ws, step, inputs, outputs);
    native.softmaxCrossEntropy(logits, ws.y, ws.dlogits, metrics, base, counter);
    let grad: NativeTensor | null = ws.dlogits;
    for (let i = this.layers.length - 1; i >= 0 && grad; --i)
      grad = this.layers[i].backward(inputs[i], outputs[i], grad, ws.layers[i], this.context(i, true, step));
    optimizer.step();
    native.advance(counter);
  }

  /** The model's step (1-based) whose loss was first non-finite in the current epoch, or 0; set by readLogs. */
  private nonFiniteStep = 0;

  private readLogs(metrics: NativeTensor): Logs {
    const [lossSum, correct, count, badStep] = metrics.read();
    this.nonFiniteStep = badStep;
    const logs: Logs = { loss: lossSum / count };
    if (this.reportAccuracy) logs.accuracy = correct / count;
    return logs;
  }
}

function disposeWorkspace(ws: Workspace): void {
  for (const t of [ws.x, ws.y, ws.dlogits, ws.probs]) t.dispose();
  for (const b of ws.layers) for (const t of [b.y, b.dx, b.extra]) t?.dispose();
}

/** Label tensors already checked (a Tensor's contents cannot change through the public API). */
const checkedLabels = new WeakSet<NativeTensor>();

/**
 * Categorical cross-entropy needs one-hot (or soft) labels: every value in [0, 1] and every row summing to 1.
 * Integer class labels, a flipped sign or unnormalised scores would otherwise train silently on nonsense.
 */
function checkLabels(Y: NativeTensor, name: string): void {
  if (checkedLabels.has(Y)) return;
  const k = Y.shape[1], values = Y.read() as Float32Array;
  for (let r = 0; r < Y.shape[0]; ++r) {
    let sum = 0;
    for (let j = 0; j < k; ++j) {
      const v = values[r * k + j];
      if (!(v >= 0 && v <= 1))
        throw new ValidationError(`Expected ${name} to hold one-hot labels (values in [0, 1], see toCategorical) but ${name}[${r}][${j}] is ${v}`, 'ERR_KERNELNET_ARG');
      sum += v;
    }
    if (Math.abs(sum - 1) > 1e-3)
      throw new ValidationError(`Expected ${name} to hold one-hot labels (each row summing to 1, see toCategorical) but row ${r} sums to ${sum}`, 'ERR_KERNELNET_ARG');
  }
  checkedLabels.add(Y);
}

const LAYERS: Record<string, (config: Record<string, unknown>) => Layer> = {
  Conv2D: c => new Conv2D(c as never),
  MaxPooling2D: c => new MaxPooling2D(c as never),
  Dropout: c => new Dropout(c as never),
  Flatten: c => new Flatten(c as never),
  Dense: c => new Dense(c as never),
};

/** Loads a model saved by `model.save(path)`, compiled and ready to predict or to resume training exactly. */
export function loadModel(path: string): Sequential {
  const { metadata, tensors } = readCheckpoint(path);
  const parse = (key: string) => {
    try {
      return JSON.parse(metadata[key]);
    } catch {
      throw new CheckpointError(path, `no valid "${key}" in the metadata: it was not written by model.save()`);
    }
  };
  const arch = parse('architecture'), compile = parse('compile'), training = parse('training');
  const model = new Sequential({ name: arch.name, seed: training.seed });
  arch.layers.forEach((l: { className: string; config: Record<string, unknown> }, i: number) => {
    const make = LAYERS[l.className];
    if (!make) throw new CheckpointError(path, `unknown layer class ${l.className}`);
    model.add(make(i === 0 ? { ...l.config, inputShape: arch.inputShape } : l.config));
  });
  if (compile.optimizer?.className !== 'Adadelta') throw new CheckpointError(path, `unknown optimizer ${compile.optimizer?.className}`);
  model.compile({ loss: compile.loss, optimizer: new Adadelta(compile.optimizer.config), metrics: compile.metrics });
  try {
    model.restore(path, tensors, training);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}
