// The training engine: fit, evaluate and predict over a model's (a Network's) recorded steps. The fit loop calls a
// list of callbacks at fixed points, as Keras's CallbackList does: train begin/end, epoch begin/end, batch
// begin/end. The progress bar, History and the non-finite stop are callbacks in that list, so new training
// behaviours (early stopping, checkpoints, schedules) plug in without touching the loop.
//
// Logs (what a callback sees): `loss`, then each metric (`accuracy`), running means over the epoch so far; at
// epoch end also `val_loss` and `val_<metric>` when there is validation data, and `lr`, the optimizer's
// learning rate. Batch logs are read from the device only for a batch some callback wants them for (on a GPU
// each read is a synchronisation).
import { METRIC_SLOTS, native, type NativeProgram, type NativeTensor } from '../core/native.js';
import { StateError, TrainingError, ValidationError, stateError } from '../core/errors.js';
import { keyedEntries, type LabelData, type Network, type TrainStep } from './network.js';
import { ProgressBar, formatLogs, type ProgressStream } from './progress.js';
import { Tensor, empty, handleOf, sliceRows } from '../core/tensor.js';
import { disposeBatch, isDataset, type Dataset } from '../data/data.js';
import { checkOptions, envFlag, fail, nonNegativeInt, numberIn, positiveInt } from '../core/validate.js';
import { abortJob, distribution } from '../distribution.js';
import { Replicas } from './replicas.js';

/** What a callback sees: `loss`, each metric, and at epoch end `val_*` and `lr`, by name. */
export type Logs = Record<string, number>;

/** Data for a model: one tensor, or for several inputs (outputs) an array in order or an object keyed by name. */
export type ModelData = Tensor | Tensor[] | Record<string, Tensor>;

/**
 * Hooks of a fit callback (tfjs's names); each may return a promise, which fit awaits. onBatchEnd and onYield
 * get the batch's logs, which on a GPU costs a synchronisation per batch: define them only when needed.
 */
export interface Callback {
  /** Called once before training with the model (Keras's set_model). */
  setModel?(model: Network): unknown;
  /** Called once before training with { epochs, steps, batchSize, samples, verbose } (Keras's set_params). */
  setParams?(params: FitParams): unknown;
  /** Called once when training starts, with empty logs. */
  onTrainBegin?(logs: Logs): unknown;
  /** Called once when training ends, with the last epoch's logs (empty when no epoch ran). */
  onTrainEnd?(logs: Logs): unknown;
  /** Called at each epoch's start (0-based epoch), with empty logs. */
  onEpochBegin?(epoch: number, logs: Logs): unknown;
  /** Called at each epoch's end with its logs: the epoch's loss and metrics, `val_*` when it validated, and `lr`. */
  onEpochEnd?(epoch: number, logs: Logs): unknown;
  /** Called before each batch (each execution's first, with stepsPerExecution) with { batch, size }. */
  onBatchBegin?(batch: number, logs: Logs): unknown;
  /** Called after each batch (each execution's last) with the epoch's running loss and metrics. */
  onBatchEnd?(batch: number, logs: Logs): unknown;
  /** tfjs's: after every batch, when fit yields to the event loop (which kernelnet does after every batch). */
  onYield?(epoch: number, batch: number, logs: Logs): unknown;
  /** For onBatchEnd: whether this batch's logs are wanted (default: every batch). */
  wantsBatchLogs?(batch: number): boolean;
}

/** What fit runs, given to Callback.setParams before training (Keras's callback params). */
export interface FitParams {
  /** The epoch fit stops before (fit's epochs). */
  epochs: number;
  /** The first epoch trained (fit's initialEpoch). */
  initialEpoch: number;
  /** Batches per epoch; with a dataset, its `batches`, or 0 when not known yet. */
  steps: number;
  /** The batch size (0 with a dataset, which makes its own batches). */
  batchSize: number;
  /** Training examples per epoch (0 with a dataset). */
  samples: number;
  /** fit's verbose: 0, 1 or 2. */
  verbose: number;
  /** Whether there is validation data (validationData or validationSplit). */
  doValidation: boolean;
}

/** The options of fit over tensors (tfjs's ModelFitArgs spellings). */
export interface FitArgs {
  /** Examples per training step (default 32). */
  batchSize?: number;
  /** The epoch to stop before: epochs initialEpoch..epochs-1 are trained (default 1). */
  epochs?: number;
  /** 0 silent, 1 progress bar, 2 one line per epoch. */
  verbose?: 0 | 1 | 2;
  /** [x, y] tensors (for several inputs or outputs, each an array or an object keyed by name), or a Dataset of batches with targets. */
  validationData?: [ModelData, ModelData] | Dataset;
  /**
   * Keras's rule: the last fraction of x and y (taken before any shuffling) is held out for validation.
   * validationData wins when both are given.
   */
  validationSplit?: number;
  /** Batch size of the validation pass (default batchSize). */
  validationBatchSize?: number;
  /** Validate every N epochs, or at the (1-based) epochs listed (default 1). */
  validationFreq?: number | number[];
  /** The epoch to start from (resuming a run): epochs initialEpoch..epochs-1 are trained. */
  initialEpoch?: number;
  /** Shuffle the training examples before each epoch (default true). */
  shuffle?: boolean;
  /**
   * A weight per class index, e.g. { 0: 1, 1: 5 } (Keras's class_weight; classes not listed weigh 1): each
   * training example's loss and accuracy count times its class's weight. Not with sampleWeight (as Keras).
   */
  classWeight?: Record<number, number>;
  /**
   * One weight per example of x, a float32 tensor [N] (Keras's sample_weight); for several outputs, one for all of
   * them, an array (one per output) or an object keyed by output name (an output left out is unweighted). With
   * validationSplit, the held-out rows' weights weigh the validation too, as Keras splits them with the data.
   */
  sampleWeight?: ModelData;
  /** A callback (tfjs's plain object of hooks, or a Callback such as EarlyStopping), or an array of them. */
  callbacks?: Callback | Callback[];
  /** Where the progress bar goes (default process.stdout). */
  out?: ProgressStream;
  /**
   * Stop with an error naming the epoch and step when the training loss becomes NaN or infinite (default true;
   * as Keras's TerminateOnNaN). The check costs no synchronisation: the loss kernel records the first bad step.
   */
  stopOnNonFiniteLoss?: boolean;
}

/** The options of evaluate. */
export interface EvaluateArgs {
  /** Examples per step (default 32). */
  batchSize?: number;
  /** One weight per example, a float32 tensor [N] (Keras's sample_weight); per output as fit's. */
  sampleWeight?: ModelData;
  /** 0 silent (default), 1 prints the loss and metrics. */
  verbose?: 0 | 1;
}

/** The options of predict. */
export interface PredictArgs {
  /** Examples per step (default 32). */
  batchSize?: number;
}

/** What fit returns (Keras's History): every trained epoch's logs. */
export interface History {
  /** The epochs trained, 0-based. */
  epoch: number[];
  /** Each log's value per trained epoch, by name: `loss`, the metrics, `val_*`, `lr`. */
  history: Record<string, number[]>;
  /** What fit ran (Keras's history.params); with a dataset, batchSize and samples are 0 and steps 0 if unknown at the start. */
  params: {
    /** The epoch fit stopped before (fit's epochs). */
    epochs: number;
    /** Batches per epoch. */
    steps: number;
    /** The batch size. */
    batchSize: number;
    /** Training examples per epoch. */
    samples: number;
  };
}

// The options of each call (tfjs spellings), and the Keras/tfjs ones kernelnet does not support yet: those are
// refused unless they ask for what kernelnet does anyway, never silently ignored.
const FIT_SCHEMA = {
  what: 'fit options',
  supported: [
    'batchSize',
    'epochs',
    'verbose',
    'validationData',
    'validationSplit',
    'validationBatchSize',
    'validationFreq',
    'initialEpoch',
    'shuffle',
    'callbacks',
    'out',
    'stopOnNonFiniteLoss',
    'classWeight',
    'sampleWeight',
  ],
  notYet: {
    stepsPerEpoch: {},
    validationSteps: {},
    yieldEvery: { ok: ['auto', 'batch'], hint: 'fit yields to the event loop after every batch' },
  },
};
const HOOKS = ['setModel', 'setParams', 'onTrainBegin', 'onTrainEnd', 'onEpochBegin', 'onEpochEnd', 'onBatchBegin', 'onBatchEnd', 'onYield'] as const;
const CALLBACKS_SCHEMA = { what: 'fit callbacks', supported: HOOKS };
const EVALUATE_SCHEMA = { what: 'evaluate options', supported: ['batchSize', 'verbose', 'sampleWeight'], notYet: { steps: {} } };
const PREDICT_SCHEMA = { what: 'predict options', supported: ['batchSize'], notYet: { verbose: { ok: [0, false] }, steps: {} } };

/** The verbosity of fit (0, 1 or 2) or evaluate (0 or 1). */
function verbosity<T extends number>(value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) fail(`one of ${allowed.join(', ')}`, 'verbose', value);
  return value as T;
}

/**
 * The user's fit callbacks (one or an array, tfjs's forms), checked before training: a plain object may hold
 * only hooks, and each hook given must be a function; a class instance (EarlyStopping, ...) is taken as it is.
 */
function userCallbacks(value: unknown): Callback[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map((c, i) => {
    const name = Array.isArray(value) ? `callbacks[${i}]` : 'callbacks';
    if (c === null || typeof c !== 'object') fail('a callback object', name, c);
    const plain = Object.getPrototypeOf(c) === Object.prototype || Object.getPrototypeOf(c) === null;
    // A plain object's own hooks only (never one set on Object.prototype), still called on the user's object.
    const hooks = plain ? (checkOptions(c, { ...CALLBACKS_SCHEMA, what: `fit ${name}` }) as Record<string, unknown>) : (c as Record<string, unknown>);
    for (const k of HOOKS) {
      const f = hooks[k];
      if (f !== undefined && typeof f !== 'function') fail('a function', `${name}.${k}`, f);
    }
    if (!plain) return c as Callback;
    const own: Record<string, unknown> = Object.create(null);
    for (const k of HOOKS) if (hooks[k]) own[k] = (hooks[k] as (...a: unknown[]) => unknown).bind(c);
    return own as Callback;
  });
}

/** Runs hooks in order, awaiting those that return a promise. */
class CallbackList {
  readonly wantsBatchBegin: boolean;
  private readonly callbacks: Callback[];
  constructor(callbacks: Callback[]) {
    // Each callback's hooks, bound to it; one found only on Object.prototype (set there by other code) is not a hook.
    const inherited = Object.prototype as Record<string, unknown>;
    this.callbacks = callbacks.map(c => {
      const hooks: Record<string, unknown> = Object.create(null);
      for (const k of [...HOOKS, 'wantsBatchLogs']) {
        const f = (c as Record<string, unknown>)[k];
        if (typeof f === 'function' && f !== inherited[k]) hooks[k] = f.bind(c);
      }
      return hooks as Callback;
    });
    this.wantsBatchBegin = this.callbacks.some(c => c.onBatchBegin);
  }

  /** Whether any callback wants this batch's logs (reading them may cost a device synchronisation). */
  wantsBatch(batch: number): boolean {
    return this.callbacks.some(c => c.onYield || (c.onBatchEnd && (c.wantsBatchLogs?.(batch) ?? true)));
  }

  async batchEnd(epoch: number, batch: number, logs: Logs): Promise<void> {
    for (const c of this.callbacks) if (c.onBatchEnd && (c.wantsBatchLogs?.(batch) ?? true)) await c.onBatchEnd(batch, logs);
    for (const c of this.callbacks) if (c.onYield) await c.onYield(epoch, batch, logs);
  }

  async call<K extends 'setModel' | 'setParams' | 'onTrainBegin' | 'onTrainEnd' | 'onEpochBegin' | 'onEpochEnd' | 'onBatchBegin'>(
    hook: K,
    ...args: Parameters<NonNullable<Callback[K]>>
  ): Promise<void> {
    for (const c of this.callbacks) {
      const f = c[hook] as ((...a: unknown[]) => unknown) | undefined;
      if (f) await f(...args);
    }
  }
}

/** What one run of fit() is about, fixed before its first step. */
interface FitRun {
  epochs: number;
  steps: number;
  /** Rows per step (a replica's share of the global batch in data-parallel training). */
  batchSize: number;
  samples: number;
  validation?: [ModelData, ModelData] | Dataset;
  step: TrainStep;
  /** Data-parallel training's collectives beside the steps (lib/engine/replicas.ts), or undefined. */
  replicas?: Replicas;
}

/** What changes in an epoch: its number, where its steps started, and the first non-finite step seen. */
interface EpochState {
  epoch: number;
  firstStep: number;
  /** The model's step (1-based) whose loss was first non-finite this epoch, or 0; set when the logs are read. */
  nonFiniteStep: number;
}

/** Keras's ProgbarLogger: `Epoch 3/12`, a bar redrawn in place on a TTY, and one closing line per epoch. */
class ProgressBarLogger implements Callback {
  private bar: ProgressBar | null = null;
  constructor(
    private readonly run: FitRun,
    private readonly verbose: 1 | 2,
    private readonly out: ProgressStream,
  ) {}
  onEpochBegin(epoch: number) {
    this.out.write(`Epoch ${epoch + 1}/${this.run.epochs}\n`);
    this.bar = new ProgressBar(this.run.steps, this.out);
  }
  wantsBatchLogs(batch: number) {
    return this.verbose === 1 && this.bar!.wantsUpdate(batch + 1);
  }
  onBatchEnd(batch: number, logs: Logs) {
    this.bar!.update(batch + 1, logs);
  }
  onEpochEnd(_epoch: number, logs: Logs) {
    const shown = { ...logs }; // as Keras's bar: the metrics, not the learning rate
    delete shown.lr;
    this.bar!.finish(shown, this.run.steps); // a dataset's, counted by now
  }
}

/** Keras's History: every epoch's logs, returned by fit. */
class HistoryCallback implements Callback {
  readonly history: History;
  constructor(run: FitRun) {
    this.history = { epoch: [], history: {}, params: { epochs: run.epochs, steps: run.steps, batchSize: run.batchSize, samples: run.samples } };
  }
  onEpochEnd(epoch: number, logs: Logs) {
    this.history.epoch.push(epoch);
    for (const [k, v] of Object.entries(logs)) (this.history.history[k] ??= []).push(v);
  }
}

/**
 * Keras's TerminateOnNaN, with the step it happened at: the loss kernel records the first non-finite step on
 * the device, so the check costs no synchronisation. On the CPU, where logs are free, it looks at every batch;
 * on a GPU at the batches whose logs are read anyway, and always at the last one, before validation runs.
 */
class NonFiniteStop implements Callback {
  constructor(
    private readonly run: FitRun,
    private readonly state: EpochState,
    private readonly everyBatch: boolean,
  ) {}
  wantsBatchLogs(batch: number) {
    return this.everyBatch || batch === this.run.steps - 1;
  }
  onBatchEnd() {
    const { epoch, firstStep, nonFiniteStep } = this.state;
    if (!nonFiniteStep) return;
    const step = nonFiniteStep - firstStep;
    // A generator's steps are 0 (unknown) until its first pass is counted: then no total, rather than "4/0".
    const of = this.run.steps ? `/${this.run.steps}` : '';
    throw new TrainingError(
      `fit: the training loss became non-finite at epoch ${epoch + 1}/${this.run.epochs}, step ${step}${of} ` +
        `(the model's step ${nonFiniteStep}); lower the learning rate or check the data for NaN or huge values ` +
        '(pass stopOnNonFiniteLoss: false to train on)',
      'ERR_KERNELNET_NON_FINITE',
      { epoch: epoch + 1, step },
    );
  }
}

/**
 * The running loss and metrics of each output's metrics tensor [sum of losses, correct, rows, first non-finite
 * step, sum of weights, ...]. As Keras 3 reduces them with sample weights: the loss is sum(w * loss) / rows (the
 * loss's "sum_over_batch_size", tracked per batch by batch size), the accuracy sum(w * hit) / sum(w) (a weighted
 * Mean metric; 0 when every weight is 0, as its divide_no_nan). With several outputs, as Keras 3 names them:
 * `loss` is the sum of each output's loss times its lossWeights entry, `<output>_loss` each output's own, and
 * `<output>_<metric>` its metrics.
 */
function readLogs(model: Network, metrics: NativeTensor[], state?: EpochState): Logs {
  const multi = model.heads.length > 1;
  const logs: Logs = { loss: 0 },
    losses: Logs = {},
    named: Logs = {};
  if (state) state.nonFiniteStep = 0;
  model.heads.forEach((h, o) => {
    const [lossSum, correct, count, badStep, weightSum, squared, absolute] = metrics[o].read();
    if (state && badStep && (!state.nonFiniteStep || badStep < state.nonFiniteStep)) state.nonFiniteStep = badStep;
    const loss = lossSum / count;
    if (multi) {
      logs.loss += h.weight * loss;
      losses[`${h.name}_loss`] = loss;
    } else logs.loss = h.weight === 1 ? loss : h.weight * loss;
    const mean = (sum: number) => (weightSum ? sum / weightSum : 0);
    for (const m of h.metricSpecs) {
      const value = mean(m.measures === 'accuracy' ? correct : m.measures === 'mse' ? squared : absolute);
      named[multi ? `${h.name}_${m.key}` : m.key] = value;
      const alias = model.logAliases[m.key]; // kernelnet/tfjs: tfjs's <output>_acc beside <output>_accuracy
      if (multi && alias && !(`${h.name}_${alias}` in named)) named[`${h.name}_${alias}`] = value;
    }
  });
  Object.assign(logs, losses, named); // metricKeys' order: each output's loss, then the metrics
  if (!multi)
    for (const m of model.metricSpecs) {
      const alias = model.logAliases[m.key];
      if (alias && !(alias in logs)) logs[alias] = logs[m.key];
    }
  return logs;
}

/** The log keys after `loss`, in evaluate's order: each output's loss (several outputs), then each output's metrics. */
export function metricKeys(model: Network): string[] {
  if (model.heads.length === 1) return model.metricSpecs.map(m => m.key);
  return [...model.heads.map(h => `${h.name}_loss`), ...model.heads.flatMap(h => h.metricSpecs.map(m => `${h.name}_${m.key}`))];
}

/** The logs as Keras's evaluate returns them: [loss, ...metrics in compile's order]. */
function logList(model: Network, logs: Logs): number[] {
  return [logs.loss, ...metricKeys(model).map(k => logs[k])];
}

/** A sampleWeight argument, checked against its data: a float32 tensor [n] of finite weights on the model's device. */
function sampleWeights(model: Network, value: unknown, n: number, name: string): NativeTensor {
  const W = handleOf(value, name);
  if (W.dtype !== 'float32' || W.shape.length !== 1 || W.shape[0] !== n)
    throw new ValidationError(
      `Expected ${name} to be a float32 tensor of shape [${n}] (one weight per example) but received ${W.dtype} [${W.shape.join(', ')}]`,
      'ERR_KERNELNET_SHAPE',
    );
  if (W.device !== model.device)
    throw new ValidationError(
      `${name} lives on ${W.device} but ${model.name} on ${model.device}; copy it with .to('${model.device}')`,
      'ERR_KERNELNET_DEVICE',
    );
  const values = W.read(),
    bad = values.findIndex(v => !Number.isFinite(v));
  if (bad >= 0) throw new ValidationError(`Expected finite weights in ${name} but ${name}[${bad}] is ${values[bad]}`);
  return W;
}

/**
 * A sampleWeight argument per output: none, one tensor (for every output), an array in output order or an object
 * keyed by output name (an output left out is unweighted); each checked as sampleWeights does.
 */
function outputWeights(model: Network, value: unknown, n: number, name: string): (NativeTensor | null)[] {
  const names = model.outputNames;
  if (value == null) return names.map(() => null);
  if (value instanceof Tensor || names.length === 1) {
    const W = sampleWeights(model, value, n, name);
    return names.map(() => W);
  }
  if (Array.isArray(value)) {
    if (value.length !== names.length) fail(`an array of ${names.length} tensors (one per output: ${names.join(', ')})`, name, value);
    return value.map((w, o) => (w == null ? null : sampleWeights(model, w, n, `${name}[${o}]`)));
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    return keyedEntries(value as Record<string, unknown>, names, name, false).map((w, o) =>
      w == null ? null : sampleWeights(model, w, n, `${name}.${names[o]}`),
    );
  return fail('a float32 tensor [N], or one per output (an array or an object keyed by output name)', name, value);
}

/** x and y as the model's lists of tensors (see Network.dataList), with their names for messages. */
function modelData(model: Network, x: unknown, y: unknown, xName = 'x', yName = 'y') {
  const xs = model.dataList(x as ModelData, 'input', xName),
    ys = model.dataList(y as ModelData, 'output', yName);
  return {
    x: xs.list as Tensor[],
    y: ys.list as Tensor[],
    Xs: xs.list.map((t, i) => handleOf(t, xs.names[i])),
    Ys: ys.list.map((t, i) => handleOf(t, ys.names[i])),
    xNames: xs.names,
    yNames: ys.names,
  };
}

/**
 * Keras's class_weight made into one weight per example (keras/src/trainers/data_adapters/data_adapter_utils.py,
 * class_weight_to_sample_weights): each row's class is the argmax of its one-hot label, a sparse label itself, or a
 * one-unit head's label rounded (np.round: 0.5 goes to 0); classes not listed weigh 1. Found natively on the
 * device. Keys must be classes the model can output ([0, 2) for a one-unit head): a weight for a class that can
 * never occur is refused as a mistake rather than ignored.
 */
function classWeights(model: Network, value: unknown, Y: NativeTensor): NativeTensor {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('an object mapping class indices to weights', 'classWeight', value);
  if (model.heads.length > 1)
    throw new ValidationError(
      'fit: classWeight is only supported for models with a single output (as in Keras); pass sampleWeight per output',
      'ERR_KERNELNET_UNSUPPORTED',
    );
  if (model.heads[0].per > 1)
    throw new ValidationError(
      'fit: classWeight needs one label per example; this output has several per example (pass sampleWeight)',
      'ERR_KERNELNET_UNSUPPORTED',
    );
  const labels = model.loss!.labels,
    units = model.outputShape[0];
  if (labels === 'targets')
    throw new ValidationError(
      `fit: classWeight needs class labels (a crossentropy loss), not ${model.loss!.className}'s targets; pass sampleWeight instead`,
      'ERR_KERNELNET_UNSUPPORTED',
    );
  const k = labels === 'classes' || units > 1 ? units : 2,
    n = Y.shape[0],
    table = new Float32Array(k).fill(1);
  for (const [key, w] of Object.entries(value as Record<string, unknown>)) {
    const c = Number(key);
    if (!Number.isInteger(c) || c < 0 || c >= k)
      throw new ValidationError(`Expected classWeight's keys to be class indices in [0, ${k}) but received '${key}'`);
    if (typeof w !== 'number' || !Number.isFinite(w)) fail('a finite number', `classWeight[${key}]`, w);
    table[c] = w;
  }
  const owned: NativeTensor[] = [];
  try {
    const perClass = new native.Tensor([k], 'float32', table, model.device);
    owned.push(perClass);
    let classes = Y;
    if (labels !== 'classes') {
      let scores = Y;
      if (units === 1) {
        // round(y) for y in [0, 1] as the argmax of [0.5, y]: the first of equals wins, as np.round(0.5) = 0
        owned.push((scores = empty([n, 2], 'float32', model.device)));
        scores.fill(0.5);
        native.copyRegion(Y, [0, 0], scores, [0, 1], [n, 1]);
      }
      owned.push((classes = empty([n], 'int32', model.device)));
      native.argMax(scores, 1, classes);
    }
    const W = empty([n], 'float32', model.device);
    native.gatherRows(perClass, classes, 0, W);
    return W;
  } finally {
    for (const t of owned) t.dispose();
  }
}

/** The options fit over tensors and fit over a dataset share, checked in one place. */
function commonFitArgs(model: Network, args: FitDatasetArgs) {
  if (model.fitting) throw stateError(`${model.name}.fit: the model is already training; wait for the running fit() to finish`, 'ERR_KERNELNET_BUSY');
  const epochs = nonNegativeInt(args.epochs ?? 1, 'epochs');
  const initialEpoch = nonNegativeInt(args.initialEpoch ?? 0, 'initialEpoch');
  const verbose = verbosity(args.verbose, [0, 1, 2] as const, 1);
  const stopOnNonFinite = args.stopOnNonFiniteLoss ?? true;
  if (typeof stopOnNonFinite !== 'boolean') fail('a boolean', 'stopOnNonFiniteLoss', stopOnNonFinite);
  const user = userCallbacks(args.callbacks);
  const out: ProgressStream = args.out ?? process.stdout;
  if (typeof out?.write !== 'function') fail('a stream with a write() method', 'out', out);
  const validationFreq = args.validationFreq ?? 1;
  if (
    !(Number.isInteger(validationFreq) && (validationFreq as number) > 0) &&
    !(Array.isArray(validationFreq) && validationFreq.every(e => Number.isInteger(e) && e > 0))
  )
    fail('a positive integer or an array of (1-based) epochs', 'validationFreq', validationFreq);
  /** Whether to validate after `epoch` (0-based), given validation data. */
  const validateAt = (epoch: number, doValidation: boolean) =>
    doValidation && (Array.isArray(validationFreq) ? validationFreq.includes(epoch + 1) : (epoch + 1) % (validationFreq as number) === 0);
  /**
   * The callback list: the non-finite stop, the progress bar, History, then the user's; on a data-parallel replica
   * other than rank 0 (`quiet`), no progress bar and no user callbacks.
   */
  const callbackList = (run: FitRun, state: EpochState, everyBatch: boolean, quiet = false) => {
    const history = new HistoryCallback(run);
    const callbacks = new CallbackList([
      ...(stopOnNonFinite ? [new NonFiniteStop(run, state, everyBatch)] : []),
      ...(verbose !== 0 && !quiet ? [new ProgressBarLogger(run, verbose, out)] : []),
      history,
      ...(quiet ? [] : user),
    ]);
    return { history, callbacks };
  };
  return { epochs, initialEpoch, verbose, validateAt, callbackList };
}

export async function fit(model: Network, x: ModelData, y: ModelData, args: FitArgs): Promise<History> {
  model.alive('fit');
  args = checkOptions(args, FIT_SCHEMA);
  const { epochs, initialEpoch, verbose, validateAt: validateAfter, callbackList } = commonFitArgs(model, args);
  const { optimizer, metrics } = model.requireCompiled('fit');
  const batchSize = positiveInt(args.batchSize ?? 32, 'batchSize');
  const shuffle = args.shuffle ?? true;
  if (typeof shuffle !== 'boolean') fail('a boolean', 'shuffle', shuffle);
  const validationBatchSize = positiveInt(args.validationBatchSize ?? batchSize, 'validationBatchSize');
  const d = modelData(model, x, y),
    data = model.checkData(d.Xs, d.Ys, d.xNames, d.yNames);
  try {
    return await fitTensors(model, d, data, args, {
      epochs,
      initialEpoch,
      verbose,
      validateAfter,
      callbackList,
      optimizer,
      metrics,
      batchSize,
      shuffle,
      validationBatchSize,
    });
  } finally {
    data.release(); // labels converted for the loss (see checkData)
  }
}

type FitSetup = ReturnType<typeof commonFitArgs> &
  ReturnType<Network['requireCompiled']> & {
    validateAfter: ReturnType<typeof commonFitArgs>['validateAt'];
    batchSize: number;
    shuffle: boolean;
    validationBatchSize: number;
  };

/** fit over tensors, its options and data checked. */
async function fitTensors(
  model: Network,
  { x, y, Xs, xNames, yNames }: ReturnType<typeof modelData>,
  { n, Ys }: LabelData,
  args: FitArgs,
  {
    epochs,
    initialEpoch,
    verbose,
    validateAfter,
    callbackList,
    optimizer,
    metrics,
    batchSize,
    shuffle,
    validationBatchSize,
  }: Omit<FitSetup, 'validateAt'>,
): Promise<History> {
  if (args.classWeight != null && args.sampleWeight != null)
    throw new ValidationError('fit: classWeight and sampleWeight cannot be given together (as in Keras); fold the class weights into sampleWeight');
  const givenW = outputWeights(model, args.sampleWeight, n, 'sampleWeight');
  const weighted = givenW.some(w => w !== null);
  let validation: [ModelData, ModelData] | undefined,
    owned: Tensor[] = [],
    samples = n,
    validationW: ModelData | undefined;
  let validationSet: Dataset | undefined;
  if (isDataset(args.validationData)) {
    validationSet = args.validationData;
  } else if (args.validationData !== undefined) {
    if (!Array.isArray(args.validationData) || args.validationData.length !== 2)
      fail('[x, y] tensors or a Dataset', 'validationData', args.validationData);
    validation = args.validationData;
    const v = modelData(model, validation[0], validation[1], 'validationData[0]', 'validationData[1]');
    model.checkData(v.Xs, v.Ys, v.xNames, v.yNames).release();
  } else if (args.validationSplit !== undefined && args.validationSplit !== 0) {
    // Keras: train on x[:split_at], validate on x[split_at:], split_at = floor(n * (1 - validationSplit)).
    const split = numberIn(args.validationSplit, 'validationSplit', 0, 1, true);
    samples = Math.floor(n * (1 - split));
    if (samples === 0 || samples === n)
      throw new ValidationError(`fit: validationSplit ${split} of ${n} examples leaves ${samples === 0 ? 'no training' : 'no validation'} examples`);
    const tail = (ts: Tensor[]) => ts.map(t => sliceRows(t, samples, n - samples));
    const vx = tail(x),
      vy = tail(y);
    owned = [...vx, ...vy];
    validation = [model.inputNames.length > 1 ? vx : vx[0], model.outputNames.length > 1 ? vy : vy[0]];
    if (weighted) {
      // each output's held-out weights (one tensor shared by several outputs is sliced once)
      const cut = new Map<NativeTensor, Tensor>();
      const vw = givenW.map(W => {
        if (!W) return null;
        if (!cut.has(W)) {
          const t = sliceRows(W, samples, n - samples);
          owned.push(t);
          cut.set(W, t);
        }
        return cut.get(W)!;
      });
      validationW = (model.outputNames.length > 1 ? vw : vw[0]) as ModelData;
    }
  }
  const doValidation = validation !== undefined || validationSet !== undefined;
  const validateAt = (epoch: number) => validateAfter(epoch, doValidation);
  // The first `samples` rows train (all of them without validationSplit): the epoch's order is a permutation of them.
  // Data-parallel (a distribution set): each replica trains on its batchSize / P rows of every global batch of
  // batchSize, the last partial global batch dropped (docs/distributed.md).
  const dp = distribution();
  let steps = Math.ceil(samples / batchSize),
    rows = batchSize;
  if (dp) {
    if (model.device !== 'cpu')
      throw new ValidationError(
        `fit: data-parallel training runs on the CPU backend for now (this model is on '${model.device}'); on CUDA it needs NCCL, which this build does not have`,
        'ERR_KERNELNET_UNSUPPORTED',
      );
    if (batchSize % dp.numProcesses !== 0)
      throw new ValidationError(
        `fit: the global batch size ${batchSize} does not split evenly across ${dp.numProcesses} processes (DataParallel); give a multiple of ${dp.numProcesses}`,
      );
    steps = Math.floor(samples / batchSize);
    if (steps === 0)
      throw new ValidationError(`fit: ${samples} training examples make no whole global batch of ${batchSize} (DataParallel drops a partial one)`);
    rows = batchSize / dp.numProcesses;
  }
  const Ws = args.classWeight != null ? [classWeights(model, args.classWeight, Ys[0])] : givenW;
  const indices = empty([dp ? steps * rows : samples], 'int32', model.device),
    order = dp ? empty([samples], 'int32', model.device) : indices,
    counter = empty([1], 'int32', model.device);
  const replicas = dp ? new Replicas(model, optimizer, dp, steps, batchSize) : undefined;
  const run: FitRun = {
    epochs,
    steps,
    batchSize: rows,
    samples: dp ? steps * rows : samples,
    validation: validation ?? validationSet,
    step: {
      Xs,
      Ys,
      Ws,
      indices,
      batchSize: rows,
      counter,
      base: 0,
      optimizer,
      metrics,
      ...(replicas ? { replicas: { size: replicas.size, rank: replicas.rank } } : {}),
    },
    replicas,
  };
  const state: EpochState = { epoch: 0, firstStep: 0, nonFiniteStep: 0 };
  const { history, callbacks } = callbackList(run, state, model.device === 'cpu', (replicas?.rank ?? 0) !== 0);
  const inputs: [string, Tensor][] = [
    ...x.map((t, i): [string, Tensor] => [xNames[i], t]),
    ...y.map((t, i): [string, Tensor] => [yNames[i], t]),
    ...(args.validationData && validation
      ? dataTensors(validation[0], 'validationData[0]').concat(dataTensors(validation[1], 'validationData[1]'))
      : []),
    ...dataTensors(args.sampleWeight, 'sampleWeight'),
  ];
  /** After each await: the user may have disposed the model or the data meanwhile. */
  const stillThere = (step: number) => {
    const where = `(epoch ${state.epoch + 1}/${epochs}, step ${step}/${run.steps})`;
    if (model.disposed) throw stateError(`${model.name}.fit: the model was disposed during training ${where}`, 'ERR_KERNELNET_DISPOSED');
    for (const [name, t] of inputs)
      if (t.isDisposed) throw stateError(`${model.name}.fit: ${name} was disposed during training ${where}`, 'ERR_KERNELNET_DISPOSED');
  };
  const loop = trainLoop(
    model,
    { epochs, initialEpoch, verbose, validateAt },
    {
      run,
      state,
      callbacks,
      history,
      fitShape: [run.batchSize, run.samples % run.batchSize],
      start: () => {
        replicas?.start();
        if (!shuffle) {
          order.write(Int32Array.from({ length: samples }, (_, i) => i));
          replicas?.shard(order, indices);
        }
      },
      beginEpoch: () => {
        if (!shuffle) return;
        native.permutation(order, model.shuffleKey(), model.epochsRun);
        replicas?.shard(order, indices); // rank 0's order, each replica's rows of it
      },
      epoch: () => trainEpoch(model, run, state, callbacks, stillThere),
      stepsDone: () => run.steps,
      validate: () =>
        validationSet
          ? evaluateDataset(model, validationSet, {})
          : drainAsync(evaluation(model, validation![0], validation![1], { batchSize: validationBatchSize, sampleWeight: validationW }, replicas)), // yields between batches
      stillThere,
      dispose: () => {
        indices.dispose();
        if (order !== indices) order.dispose();
        counter.dispose();
        replicas?.dispose();
        if (args.classWeight != null) Ws[0]?.dispose();
        for (const t of owned) t.dispose();
      },
    },
  );
  if (!replicas || replicas.size === 1) return loop;
  // A replica that raises would leave the others waiting in their next collective: the whole job ends at once,
  // naming the rank and the error.
  return loop.catch((e: unknown) => {
    const err = e as { code?: string; name?: string; message?: string };
    return abortJob(`fit raised ${err.code ?? err.name ?? 'an error'}: ${err.message ?? String(e)}`);
  });
}

/** The tensors of a data argument (a tensor, an array or an object of them), named for messages. */
function dataTensors(value: unknown, name: string): [string, Tensor][] {
  if (value instanceof Tensor) return [[name, value]];
  if (Array.isArray(value)) return value.filter(t => t instanceof Tensor).map((t, i) => [`${name}[${i}]`, t]);
  if (value !== null && typeof value === 'object')
    return Object.entries(value)
      .filter(([, t]) => t instanceof Tensor)
      .map(([k, t]) => [`${name}.${k}`, t as Tensor]);
  return [];
}

/** val_loss and val_<metric> (and their aliases) from evaluate's [loss, ...metrics]. */
function addValidationLogs(model: Network, logs: Logs, values: number[]): void {
  ['loss', ...metricKeys(model)].forEach((key, i) => {
    logs[`val_${key}`] = values[i];
  });
  if (model.heads.length > 1)
    for (const h of model.heads)
      for (const m of h.metricSpecs) {
        const alias = model.logAliases[m.key];
        if (alias && !(`val_${h.name}_${alias}` in logs)) logs[`val_${h.name}_${alias}`] = logs[`val_${h.name}_${m.key}`];
      }
  if (model.heads.length === 1)
    for (const m of model.metricSpecs) {
      const alias = model.logAliases[m.key];
      if (alias && !(`val_${alias}` in logs)) logs[`val_${alias}`] = logs[`val_${m.key}`];
    }
}

// fit over a Dataset: Keras's fit(dataset) and tfjs's fitDataset. The dataset makes the batches, so the options
// that make them from tensors are refused with what to do instead.
const FIT_DATASET_SCHEMA = {
  what: 'fit options (with a dataset)',
  supported: ['epochs', 'verbose', 'validationData', 'validationFreq', 'initialEpoch', 'callbacks', 'out', 'stopOnNonFiniteLoss'],
  notYet: {
    batchSize: { hint: 'the dataset makes the batches (Dataset.fromTensors(x, y, { batchSize }))' },
    validationSplit: { ok: [0], hint: 'not with a dataset, as in Keras: pass validationData' },
    shuffle: {
      ok: [false],
      hint: 'shuffle the dataset itself (Dataset.fromTensors(x, y, { shuffle: true }), or imageDatasetFromDirectory shuffles)',
    },
    validationBatchSize: { hint: 'validation batches come from the validation data' },
    classWeight: {},
    sampleWeight: {},
    stepsPerEpoch: {},
    batchesPerEpoch: {},
    validationSteps: {},
    validationBatches: {},
    yieldEvery: { ok: ['auto', 'batch'], hint: 'fit yields to the event loop after every batch' },
  },
};

/**
 * The options of fit over a Dataset: FitArgs without batchSize, shuffle, validationSplit, validationBatchSize,
 * classWeight and sampleWeight (the dataset makes the batches).
 */
export type FitDatasetArgs = Pick<
  FitArgs,
  'epochs' | 'verbose' | 'validationData' | 'validationFreq' | 'initialEpoch' | 'callbacks' | 'out' | 'stopOnNonFiniteLoss'
>;

/**
 * Trains on the batches of a Dataset, one step per batch, every epoch a new pass over it. Each batch is disposed
 * after its step (fit owns what the dataset yields). The steps per epoch are the dataset's `batches` when known,
 * else counted in the first epoch.
 */
export async function fitDataset(model: Network, dataset: Dataset, args: FitDatasetArgs): Promise<History> {
  if (distribution())
    throw new ValidationError(
      'fit: data-parallel training (a DataParallel distribution is set) takes tensors for now, not a Dataset: pass x and y, or setDistribution(null)',
      'ERR_KERNELNET_UNSUPPORTED',
    );
  model.alive('fit');
  args = checkOptions(args, FIT_DATASET_SCHEMA);
  const { epochs, initialEpoch, verbose, validateAt: validateAfter, callbackList } = commonFitArgs(model, args);
  const { optimizer, metrics } = model.requireCompiled('fit');
  const validation = args.validationData;
  if (validation !== undefined && !isDataset(validation)) {
    if (!Array.isArray(validation) || validation.length !== 2) fail('[x, y] tensors or a Dataset', 'validationData', validation);
    const v = modelData(model, validation[0], validation[1], 'validationData[0]', 'validationData[1]');
    model.checkData(v.Xs, v.Ys, v.xNames, v.yNames).release();
  }
  const validateAt = (epoch: number) => validateAfter(epoch, validation !== undefined);
  const counter = empty([1], 'int32', model.device),
    batches = new DatasetBatches(model, dataset, 'fit');
  const run: FitRun = {
    epochs,
    steps: dataset.batches ?? 0,
    batchSize: 0,
    samples: 0,
    validation,
    step: { Xs: [], Ys: [], Ws: [], indices: counter, batchSize: 0, counter, base: 0, optimizer, metrics },
  };
  const state: EpochState = { epoch: 0, firstStep: 0, nonFiniteStep: 0 };
  const { history, callbacks } = callbackList(run, state, true);
  const stillThere = (step: number) => {
    if (model.disposed)
      throw stateError(
        `${model.name}.fit: the model was disposed during training (epoch ${state.epoch + 1}/${epochs}, step ${step})`,
        'ERR_KERNELNET_DISPOSED',
      );
  };
  let s = 0; // the batches of the current epoch so far
  /** One pass over the dataset, one step per batch. */
  const epoch = async (): Promise<Logs> => {
    const { epoch } = state;
    for (const m of metrics) m.fill(0);
    // stepsPerExecution: the batch callbacks once per execution of that many batches (Keras's fit); the batches
    // themselves come from the dataset one by one.
    s = 0;
    const per = model.stepsPerExecution;
    await batches.pass(
      async ({ Xs, Ys, rows, indices }) => {
        if (callbacks.wantsBatchBegin && s % per === 0) await callbacks.call('onBatchBegin', s, { batch: s, size: rows });
        counter.write(Int32Array.of(0));
        model.trainStep({ Xs, Ys: Ys!, Ws: Ys!.map(() => null), indices, batchSize: rows, counter, base: model.steps, optimizer, metrics }, 0, rows);
        run.samples = Math.max(run.samples, rows);
        if ((s + 1) % per === 0 && callbacks.wantsBatch(s)) await callbacks.batchEnd(epoch, s, readLogs(model, metrics, state));
      },
      { stop: () => model.stopTraining && s % per === 0, after: done => stillThere((s = done)) },
    );
    if (s === 0) throw new ValidationError(`fit: the dataset yielded no batches in epoch ${epoch + 1}`);
    if (s % per && callbacks.wantsBatch(s - 1)) await callbacks.batchEnd(epoch, s - 1, readLogs(model, metrics, state)); // a shorter last execution
    if (!run.steps || (s !== run.steps && !model.stopTraining)) run.steps = s; // counted (a generator's length may change)
    return readLogs(model, metrics, state);
  };
  return trainLoop(
    model,
    { epochs, initialEpoch, verbose, validateAt },
    {
      run,
      state,
      callbacks,
      history,
      fitShape: [],
      start: () => {},
      beginEpoch: () => {},
      epoch,
      stepsDone: () => s,
      validate: () =>
        isDataset(validation) ? evaluateDataset(model, validation, {}) : drainAsync(evaluation(model, validation![0], validation![1], {})),
      stillThere,
      dispose: () => {
        counter.dispose();
        batches.dispose();
      },
    },
  );
}

/**
 * Where fit's batches come from, behind one loop (as Keras 3's EpochIterator): the resident tensors (a known
 * step count, the epoch's order a permutation on the device, recorded programs) or a dataset's passes (steps
 * counted in the first). The loop owns the callbacks' order, validation, the `lr` log and epochsRun.
 */
interface TrainSource {
  run: FitRun;
  state: EpochState;
  callbacks: CallbackList;
  history: HistoryCallback;
  /** model.beginFit's batch shapes. */
  fitShape: number[];
  start(): void;
  /** Before the epoch is counted: a new order for the tensors' rows. */
  beginEpoch(): void;
  /** Trains one epoch; returns its logs. */
  epoch(): Promise<Logs>;
  /** The steps the epoch just ended ran, for the messages of stillThere. */
  stepsDone(): number;
  validate(): Promise<number[]>;
  /** After each await: the user may have disposed the model or the data meanwhile. */
  stillThere(step: number): void;
  dispose(): void;
}

/** fit's loop over the epochs, from tensors or a dataset alike. */
async function trainLoop(
  model: Network,
  { epochs, initialEpoch, verbose, validateAt }: { epochs: number; initialEpoch: number; verbose: 0 | 1 | 2; validateAt: (epoch: number) => boolean },
  source: TrainSource,
): Promise<History> {
  const { run, state, callbacks, history } = source;
  model.beginFit(source.fitShape);
  model.stopTraining = false;
  try {
    source.start();
    await callbacks.call('setModel', model);
    await callbacks.call('setParams', {
      epochs,
      initialEpoch,
      steps: run.steps,
      batchSize: run.batchSize,
      samples: run.samples,
      verbose,
      doValidation: run.validation !== undefined,
    });
    await callbacks.call('onTrainBegin', {});
    let last: Logs = {}; // Keras 3 ends with the last epoch's logs (none when no epoch ran)
    for (let epoch = initialEpoch; epoch < epochs && !model.stopTraining; ++epoch) {
      Object.assign(state, { epoch, firstStep: model.steps, nonFiniteStep: 0 });
      model.applyTrainable(); // layer.trainable, read at each epoch's start (the step is recorded per epoch)
      source.beginEpoch();
      model.epochsRun++;
      await callbacks.call('onEpochBegin', epoch, {});
      run.replicas?.sync(); // rank 0's callbacks may have set the rate
      const logs = await source.epoch();
      if (validateAt(epoch)) {
        const values = await source.validate();
        source.stillThere(source.stepsDone());
        addValidationLogs(model, logs, values);
      }
      logs.lr = run.step.optimizer.learningRate;
      await callbacks.call('onEpochEnd', epoch, logs);
      run.replicas?.sync(); // ... or stopped training
      last = logs;
      source.stillThere(source.stepsDone());
    }
    await callbacks.call('onTrainEnd', last);
  } finally {
    source.dispose();
    model.endFit();
  }
  return history.history;
}

/** The loss and metrics over every batch of a dataset ([loss, ...metrics]); each batch disposed after use. */
export async function evaluateDataset(model: Network, dataset: Dataset, args: { verbose?: 0 | 1 }): Promise<number[]> {
  model.alive('evaluate');
  args = checkOptions(args, {
    what: 'evaluate options (with a dataset)',
    supported: ['verbose'],
    notYet: { batchSize: { hint: 'the dataset makes the batches' }, steps: {}, sampleWeight: {} },
  });
  model.requireCompiled('evaluate');
  const verbose = verbosity(args.verbose, [0, 1] as const, 0);
  const metrics = model.heads.map(() => empty([METRIC_SLOTS], 'float32', model.device)),
    batches = new DatasetBatches(model, dataset, 'evaluate');
  try {
    for (const m of metrics) m.fill(0);
    const s = await batches.pass(
      ({ Xs, Ys, rows, indices }) =>
        model.evaluateBatch(
          Xs,
          Ys!,
          Ys!.map(() => null),
          indices,
          0,
          rows,
          metrics,
        ),
      {
        after: () => model.alive('evaluate'),
      },
    );
    if (s === 0) throw new ValidationError('evaluate: the dataset yielded no batches');
    return evaluateResult(model, metrics, verbose);
  } finally {
    for (const m of metrics) m.dispose();
    batches.dispose();
  }
}

/** One batch of a dataset as a step takes it: checked against the model, with identity row indices for its size. */
interface DatasetBatch {
  /** One per model input. */
  Xs: NativeTensor[];
  /** Each output's targets, checked as its loss takes them; null for predict (a batch's targets, if any, unused). */
  Ys: NativeTensor[] | null;
  rows: number;
  indices: NativeTensor;
}

/**
 * A dataset's batches for fit, evaluate and predict alike (as Keras 3's EpochIterator adapts a tf.data dataset):
 * each batch checked against the model, the identity row indices kept per batch size for the whole run, every
 * batch disposed after its step whatever happens, and the event loop let run after each.
 */
class DatasetBatches {
  private readonly identities = new Map<number, NativeTensor>();

  constructor(
    private readonly model: Network,
    private readonly dataset: Dataset,
    private readonly op: 'fit' | 'evaluate' | 'predict',
  ) {}

  /**
   * One pass: `step` for each batch in order; `stop` is asked before each step and ends the pass; `after` runs
   * once the event loop has had its turn, with the count of batches done. Returns that count.
   */
  async pass(
    step: (batch: DatasetBatch) => void | Promise<void>,
    { stop, after }: { stop?: () => boolean; after: (done: number) => void },
  ): Promise<number> {
    const { model, op } = this;
    let s = 0;
    for await (const batch of this.dataset.pass(model.device)) {
      let labels = () => {};
      try {
        if (stop?.()) break;
        const xs = model.dataList(batch.xs as ModelData, 'input', `batch ${s} xs`);
        const Xs = xs.list.map((t, i) => handleOf(t, xs.names[i]));
        let rows: number,
          Ys: NativeTensor[] | null = null;
        if (op === 'predict') rows = model.checkInputs(Xs, xs.names);
        else {
          if (!batch.ys) throw new ValidationError(`${op}: batch ${s} of the dataset has no targets (ys)`);
          const ys = model.dataList(batch.ys as ModelData, 'output', `batch ${s} ys`);
          const checked = model.checkData(
            Xs,
            ys.list.map((t, i) => handleOf(t, ys.names[i])),
            xs.names,
            ys.names,
          );
          ({ n: rows, Ys } = checked);
          labels = checked.release;
        }
        let indices = this.identities.get(rows);
        if (!indices) this.identities.set(rows, (indices = model.identity(rows)));
        await step({ Xs, Ys, rows, indices });
      } finally {
        labels();
        disposeBatch(batch);
      }
      s++;
      await new Promise(setImmediate);
      after(s);
    }
    return s;
  }

  dispose(): void {
    for (const t of this.identities.values()) t.dispose();
  }
}

/** predict over every batch of a dataset (its targets, if any, unused): one [N, ...outputShape] tensor per output. */
export async function predictDataset(model: Network, dataset: Dataset): Promise<Tensor | Tensor[]> {
  model.alive('predict');
  model.ensureParams();
  const shapes = model.outputShapes,
    parts: Float32Array[][] = shapes.map(() => []);
  const batches = new DatasetBatches(model, dataset, 'predict');
  try {
    await batches.pass(
      ({ Xs, rows, indices }) => {
        model.predictBatch(Xs, indices, 0, rows).forEach((p, o) => parts[o].push(p.read() as Float32Array));
      },
      { after: () => model.alive('predict') },
    );
  } finally {
    batches.dispose();
  }
  const out = shapes.map((shape, o) => {
    const k = shape.reduce((a, b) => a * b, 1),
      n = parts[o].reduce((a, p) => a + p.length / k, 0),
      result = new Float32Array(n * k);
    let at = 0;
    for (const p of parts[o]) {
      result.set(p, at);
      at += p.length;
    }
    return new Tensor(new native.Tensor([n, ...shape], 'float32', result, model.device));
  });
  return out.length === 1 ? out[0] : out;
}

/**
 * One epoch: its full batches run as one recorded program (a CUDA graph on a GPU; KERNELNET_GRAPHS=0 makes every
 * op its own call instead: same work, same results), a short last batch op by op. With stepsPerExecution N, an
 * execution is N batches: one program of N steps (a shorter one for the epoch's last full batches), and the batch
 * callbacks once per execution, as Keras's fit: onBatchBegin(first batch), onBatchEnd(last batch, logs). A learning
 * rate changed by a callback takes effect from the next execution, without recording the step again (the update
 * reads the rate from device memory). `model.stopTraining` ends the epoch after the current execution, as in
 * Keras. Returns the epoch's logs.
 */
async function trainEpoch(
  model: Network,
  run: FitRun,
  state: EpochState,
  callbacks: CallbackList,
  stillThere: (step: number) => void,
): Promise<Logs> {
  const { step, steps, batchSize, samples } = run;
  for (const m of step.metrics) m.fill(0);
  step.counter.write(Int32Array.of(0));
  step.base = model.steps;
  const useProgram = envFlag('KERNELNET_GRAPHS', true),
    per = model.stepsPerExecution;
  const programs = new Map<number, NativeProgram>(); // by steps per program: per, and the epoch's last execution's
  const rowsOf = (s: number) => Math.min(batchSize, samples - s * batchSize);
  try {
    for (let s = 0; s < steps && !model.stopTraining;) {
      const end = Math.min(s + per, steps); // this execution: batches s .. end - 1
      if (callbacks.wantsBatchBegin) await callbacks.call('onBatchBegin', s, { batch: s, size: rowsOf(s) });
      const fullEnd = rowsOf(end - 1) === batchSize ? end : end - 1; // a short last batch runs op by op
      if (useProgram && fullEnd > s) {
        const count = fullEnd - s;
        let program = programs.get(count);
        if (!program) programs.set(count, (program = model.recordStep(step, count)));
        program.run();
        for (let b = s; b < fullEnd; ++b) {
          model.steps++;
          step.optimizer.counted();
        }
      } else {
        for (let b = s; b < fullEnd; ++b) model.trainStep(step, b * batchSize, batchSize);
      }
      if (fullEnd < end) model.trainStep(step, fullEnd * batchSize, rowsOf(fullEnd));
      s = end;
      const wants = callbacks.wantsBatch(end - 1);
      // (data-parallel: rank 0 logs the global batches' sums, each process its own non-finite check)
      const logged = run.replicas ? run.replicas.batchMetrics(wants, step.metrics) : step.metrics;
      if (wants) await callbacks.batchEnd(state.epoch, end - 1, readLogs(model, logged, state));
      run.replicas?.sync(); // rank 0's batch callbacks' stopTraining and rate on every replica
      await new Promise(setImmediate); // keep the event loop (timers, I/O, signals) alive between executions
      stillThere(end);
    }
    const last = programs.get(per) ?? [...programs.values()][0];
    if (last)
      model.lastStepProgram = {
        ops: last.ops,
        device: last.device,
        graph: last.graph,
        branches: last.branches,
        nodes: last.nodes,
        kernels: last.kernels,
        reason: last.reason,
      };
  } finally {
    for (const p of programs.values()) p.dispose();
  }
  run.replicas?.endEpoch(step.metrics); // the global batch's sums; BatchNormalization's statistics averaged
  return readLogs(model, step.metrics, state);
}

/**
 * One training step on exactly this batch (Keras's train_on_batch, tfjs's trainOnBatch): returns its loss, or
 * [loss, ...metrics] when the model was compiled with metrics. The same step fit() takes, so a fit over one batch without
 * shuffling trains identically.
 */
export async function trainOnBatch(model: Network, x: ModelData, y: ModelData): Promise<number | number[]> {
  model.alive('trainOnBatch');
  if (model.fitting) throw stateError(`${model.name}.trainOnBatch: the model is inside fit()`, 'ERR_KERNELNET_BUSY');
  const { optimizer, metrics } = model.requireCompiled('trainOnBatch');
  const d = modelData(model, x, y),
    { n, Ys, release } = model.checkData(d.Xs, d.Ys, d.xNames, d.yNames);
  const indices = model.identity(n),
    counter = empty([1], 'int32', model.device);
  model.beginFit([n]);
  try {
    for (const m of metrics) m.fill(0);
    counter.write(Int32Array.of(0));
    model.applyTrainable();
    model.trainStep({ Xs: d.Xs, Ys, Ws: Ys.map(() => null), indices, batchSize: n, counter, base: model.steps, optimizer, metrics }, 0, n);
    const logs = readLogs(model, metrics);
    return metricKeys(model).length ? logList(model, logs) : logs.loss;
  } finally {
    release();
    indices.dispose();
    counter.dispose();
    model.endFit();
  }
}

/** Loss and accuracy over (x, y): evaluate's work, one batch per step of the generator. */
/**
 * evaluate's work, one batch per step of the generator. With `replicas` (fit's validation in data-parallel training)
 * each process evaluates its contiguous 1/P of the rows and the loss and metric sums are added over the processes.
 */
export function* evaluation(model: Network, x: ModelData, y: ModelData, args: EvaluateArgs, replicas?: Replicas): Generator<void, number[]> {
  model.alive('evaluate');
  args = checkOptions(args, EVALUATE_SCHEMA);
  model.requireCompiled('evaluate');
  const batchSize = positiveInt(args.batchSize ?? 32, 'batchSize');
  const verbose = verbosity(args.verbose, [0, 1] as const, 0);
  const d = modelData(model, x, y),
    { n, Ys, release } = model.checkData(d.Xs, d.Ys, d.xNames, d.yNames);
  let metrics: NativeTensor[] = [],
    indices: NativeTensor | null = null;
  try {
    const Ws = outputWeights(model, args.sampleWeight, n, 'sampleWeight');
    const data: [string, Tensor][] = [
      ...d.x.map((t, i): [string, Tensor] => [d.xNames[i], t]),
      ...d.y.map((t, i): [string, Tensor] => [d.yNames[i], t]),
      ...dataTensors(args.sampleWeight, 'sampleWeight'),
    ];
    metrics = model.heads.map(() => empty([METRIC_SLOTS], 'float32', model.device));
    indices = model.identity(n);
    for (const m of metrics) m.fill(0);
    const from = replicas ? Math.floor((n * replicas.rank) / replicas.size) : 0,
      to = replicas ? Math.floor((n * (replicas.rank + 1)) / replicas.size) : n;
    for (let start = from; start < to; start += batchSize) {
      if (start > from) {
        yield;
        stillUsable(model, 'evaluate', data);
      }
      model.evaluateBatch(d.Xs, Ys, Ws, indices, start, Math.min(batchSize, to - start), metrics);
    }
    replicas?.sumMetrics(metrics); // (every process, after its share: no collective inside the loop)
    return evaluateResult(model, metrics, verbose);
  } finally {
    release();
    for (const m of metrics) m.dispose();
    indices?.dispose();
  }
}

/** evaluate's [loss, ...metrics], printed on one line when verbose. */
function evaluateResult(model: Network, metrics: NativeTensor[], verbose: 0 | 1): number[] {
  const logs = readLogs(model, metrics);
  if (verbose) process.stdout.write(`${formatLogs(logs).slice(3)}\n`);
  return logList(model, logs);
}

/** The outputs for each example of x: predict's work, one batch per step of the generator. */
export function* prediction(model: Network, x: ModelData, args: PredictArgs): Generator<void, Tensor | Tensor[]> {
  model.alive('predict');
  args = checkOptions(args, PREDICT_SCHEMA);
  model.ensureParams(); // Keras predicts with a built model that was never compiled
  const batchSize = positiveInt(args.batchSize ?? 32, 'batchSize');
  const xs = model.dataList(x, 'input', 'x'),
    Xs = xs.list.map((t, i) => handleOf(t, xs.names[i]));
  const n = model.checkInputs(Xs, xs.names);
  // Any output shape, as Keras: a Conv2D or Reshape output predicts [N, h, w, c]. Each batch's outputs are copied
  // into the results on the model's device (no copy through JavaScript arrays).
  const shapes = model.outputShapes;
  const results = shapes.map(shape => empty([n, ...shape], 'float32', model.device));
  const indices = model.identity(n);
  let done = false;
  try {
    for (let start = 0; start < n; start += batchSize) {
      if (start) {
        yield;
        stillUsable(
          model,
          'predict',
          xs.list.map((t, i): [string, Tensor] => [xs.names[i], t]),
        );
      }
      model.predictBatch(Xs, indices, start, Math.min(batchSize, n - start)).forEach((p, o) => native.concatInto(p, results[o], 0, start));
    }
    done = true;
  } finally {
    indices.dispose();
    if (!done) for (const r of results) r.dispose();
  }
  const out = results.map(r => new Tensor(r));
  return out.length === 1 ? out[0] : out;
}

/** Between the batches of an awaited evaluate or predict: the model and the data must still be there. */
function stillUsable(model: Network, op: string, data: [string, Tensor][]): void {
  if (model.disposed) throw stateError(`${model.name}.${op}: the model was disposed during the call`, 'ERR_KERNELNET_DISPOSED');
  for (const [name, t] of data)
    if (t.isDisposed) throw new StateError(`${model.name}.${op}: ${name} was disposed during the call`, 'ERR_KERNELNET_DISPOSED');
}

/** Runs a generator of batches to its end, synchronously. */
export function drain<T>(run: Generator<void, T>): T {
  for (let r = run.next(); ; r = run.next()) if (r.done) return r.value;
}

/** Runs a generator of batches to its end, letting the event loop run after every batch. */
export async function drainAsync<T>(run: Generator<void, T>): Promise<T> {
  for (let r = run.next(); ; r = run.next()) {
    if (r.done) return r.value;
    await new Promise(setImmediate);
  }
}
