// kernelnet/tfjs: what a TensorFlow.js (tfjs-node) training script calls, with tfjs's names, signatures and return
// types, on kernelnet's layers, optimizers and native tensors, so that such a script runs with one changed import:
//   import * as tf from 'kernelnet/tfjs';   // was '@tensorflow/tfjs-node'
// In scope: sequential models of the layers kernelnet has (tf.layers.*), tf.train.* optimizers, fit/evaluate/
// predict as tfjs returns them, tensor creation, the tensor methods used around a model, memory management
// (tidy, dispose, keep, memory) and the tfjs layers-model format (model.save('file://DIR'), loadLayersModel).
// Out of scope, and refused with ERR_KERNELNET_UNSUPPORTED naming the call: general tensor math (tf.add,
// tf.matMul, ...), gradients, custom layers, functional models, other layers.
import { performance } from 'node:perf_hooks';
import { EarlyStopping, type EarlyStoppingArgs } from './callbacks/callbacks.js';
import { ValidationError } from './core/errors.js';
import { checkOptions, fail, ownOptions } from './core/validate.js';
import type { Layer } from './layers/layers.js';
import { REGISTRY, layerFactories, type LayerEntry } from './layers/registry.js';
import { TFJS_INITIALIZERS, TfjsInitializer, tfjsInitializer } from './layers/initializers.js';
import { Sequential, type CompileArgs, type LayersModel as KernelnetModel, type ModelData, type SequentialArgs } from './models/model.js';
import { Model, type ModelArgs } from './models/functional.js';
import { input as symbolicInput, type InputArgs, type SymbolicTensor } from './engine/symbolic.js';
import { native, type Device } from './core/native.js';
import { Adadelta, Adagrad, Adam, RMSprop, SGD, type Optimizer } from './engine/optimizers.js';
import { resolveTfjsLoss } from './engine/losses.js';
import { fromTfjsArtifacts, loadTfjs, saveTfjs, toTfjsArtifacts, type TfjsArtifacts } from './io/tfjs-format.js';
import { Tensor, dispose, empty, keep, tensor as makeTensor, tidy, toCategorical, type TensorLike } from './core/tensor.js';
import { metricKeys, type EvaluateArgs, type FitArgs, type FitDatasetArgs, type History, type PredictArgs } from './engine/training.js';
import type { Dataset } from './data/data.js';

export { Tensor, tidy, dispose, keep };
export type { History, FitArgs, EvaluateArgs, PredictArgs, Layer, Optimizer, TfjsArtifacts };

const unsupported = (what: string, hint: string) =>
  new ValidationError(`${what} is not supported by kernelnet/tfjs: ${hint}`, 'ERR_KERNELNET_UNSUPPORTED');

/** An object whose unknown members fail with the list of what it has (tf.layers.lstm, tf.train.ftrl, ...). */
function strict<T extends object>(what: string, target: T): T {
  return new Proxy(target, {
    get(t, key, receiver) {
      if (typeof key === 'symbol' || key in t || key === 'then' || key === 'toJSON' || !/^[a-z][A-Za-z0-9]*$/.test(key))
        return Reflect.get(t, key, receiver);
      throw unsupported(`${what}.${key}`, `kernelnet has ${Object.keys(t).join(', ')}`);
    },
  });
}

// --- backends: tfjs's names onto kernelnet's devices ---------------------------------------------------------

let device: Device | undefined;

function usable(d: Device): boolean {
  try {
    new native.Tensor([1], 'float32', undefined, d).dispose();
    return true;
  } catch {
    return false;
  }
}

/**
 * 'cpu' runs on kernelnet's CPU backend; 'tensorflow' (tfjs-node's name) takes kernelnet's default device (the GPU
 * when one answers, else the CPU); 'cuda' (or 'cuda:0', 'gpu') the GPU. Resolves false, as tfjs does, for a
 * backend that is not there (a browser one, or a GPU that does not answer), and leaves the device as it was.
 */
export async function setBackend(name: string): Promise<boolean> {
  const wanted: Device | 'default' | null =
    name === 'cpu' ? 'cpu' : name === 'tensorflow' ? 'default' : name === 'cuda' || name === 'cuda:0' || name === 'gpu' ? 'cuda' : null;
  if (wanted === null) {
    console.warn(`kernelnet/tfjs: backend '${name}' is not available; kernelnet has 'cpu', 'cuda' and 'tensorflow' (its default device)`);
    return false;
  }
  if (wanted === 'default') {
    device = undefined;
    return true;
  }
  if (!usable(wanted)) return false;
  device = wanted;
  return true;
}

/** The device new models and tensors get: 'cpu' or 'cuda'. */
export function getBackend(): string {
  return device ?? native.backend().name;
}

/** Resolves at once: kernelnet's backends need no asynchronous start-up (tfjs's ready). */
export async function ready(): Promise<void> {}

// --- tensors -------------------------------------------------------------------------------------------------

/** The tensor element types kernelnet has (tfjs's DataType less 'bool', 'complex64' and 'string'). */
export type DataType = 'float32' | 'int32';

function checkDtype(dtype: unknown): DataType | undefined {
  if (dtype === undefined || dtype === 'float32' || dtype === 'int32') return dtype;
  throw unsupported(`dtype '${String(dtype)}'`, "kernelnet tensors are 'float32' or 'int32'");
}

/** tf.tensor(values, shape?, dtype?): values as nested arrays, a flat array or a typed array. */
export function tensor(values: TensorLike, shape?: number[], dtype?: DataType): Tensor {
  const d = checkDtype(dtype);
  let data = values;
  if (d === 'int32' && !(values instanceof Int32Array))
    data = Int32Array.from((Array.isArray(values) ? (values as unknown[]).flat(Infinity) : Array.from(values as ArrayLike<number>)) as number[]);
  else if (d === 'float32' && values instanceof Int32Array) data = Float32Array.from(values);
  if (data !== values && shape === undefined && Array.isArray(values)) shape = inferShape(values);
  return makeTensor(data, shape ?? null, { device });
}

function inferShape(v: unknown): number[] {
  const shape: number[] = [];
  while (Array.isArray(v)) {
    shape.push(v.length);
    v = v[0];
  }
  return shape;
}

function ofRank(rank: number, name: string) {
  return (values: TensorLike, shape?: number[], dtype?: DataType): Tensor => {
    const t = tensor(values, shape, dtype);
    if (t.shape.length !== rank) {
      t.dispose();
      throw new ValidationError(`${name}: expected a rank-${rank} tensor but the values make shape [${t.shape}]`, 'ERR_KERNELNET_SHAPE');
    }
    return t;
  };
}

/** tf.scalar(value, dtype?): a rank-0 tensor holding one number (float32 by default). */
export function scalar(value: number, dtype?: DataType): Tensor {
  return tensor([value], [], dtype);
}
/** tf.tensor1d(values, dtype?): tf.tensor whose values must make a rank-1 tensor (else ERR_KERNELNET_SHAPE). */
export function tensor1d(values: TensorLike, dtype?: DataType): Tensor {
  return ofRank(1, 'tensor1d')(values, undefined, dtype);
}
/** tf.tensor2d(values, shape?, dtype?): tf.tensor whose result must be of rank 2 (else ERR_KERNELNET_SHAPE). */
export const tensor2d = ofRank(2, 'tensor2d');
/** tf.tensor3d(values, shape?, dtype?): tf.tensor whose result must be of rank 3 (else ERR_KERNELNET_SHAPE). */
export const tensor3d = ofRank(3, 'tensor3d');
/** tf.tensor4d(values, shape?, dtype?): tf.tensor whose result must be of rank 4 (else ERR_KERNELNET_SHAPE). */
export const tensor4d = ofRank(4, 'tensor4d');

function filled(shape: number[], dtype: DataType | undefined, value: number): Tensor {
  if (checkDtype(dtype) === 'int32') return tensor(new Int32Array(shape.reduce((n, d) => n * d, 1)).fill(value), shape);
  const t = empty(shape, 'float32', device); // filled natively, where it lives
  t.fill(value);
  return new Tensor(t);
}
/** tf.zeros(shape, dtype?): a tensor of zeros (float32 by default) on the current backend's device. */
export const zeros = (shape: number[], dtype?: DataType): Tensor => filled(shape, dtype, 0);
/** tf.ones(shape, dtype?): a tensor of ones (float32 by default) on the current backend's device. */
export const ones = (shape: number[], dtype?: DataType): Tensor => filled(shape, dtype, 1);

/**
 * One-hot rows for int32 class indices [N] (or an array of them): a float32 [N, depth] tensor. tfjs returns
 * int32 and casts it to float in fit(); kernelnet's losses take float labels, so it returns them as float32.
 */
export function oneHot(indices: Tensor | number[] | Int32Array, depth: number): Tensor {
  return toCategorical(indices, depth);
}

/** tf.memory(): numTensors and numBytes as tfjs counts them (kernelnet's own counters). */
export function memory(): {
  /** Tensor buffers not yet freed, models' weights and workspaces included. */
  numTensors: number;
  /** numTensors again: in kernelnet each tensor has its own buffer. */
  numDataBuffers: number;
  /** Bytes held by those tensors. */
  numBytes: number;
  /** Always false: the counts are exact. */
  unreliable: false;
} {
  const s = native.stats();
  return { numTensors: s.liveTensors, numDataBuffers: s.liveTensors, numBytes: s.bytesInUse, unreliable: false };
}

/** tf.util: only now(). */
export const util = strict('tf.util', {
  /** Milliseconds since the process started, sub-millisecond (performance.now()). */
  now: (): number => performance.now(),
});

/** Resolves after the event loop turns (tfjs's nextFrame; in Node there is no animation frame). */
export function nextFrame(): Promise<void> {
  return new Promise(resolve => setImmediate(resolve));
}

// --- layers, optimizers, callbacks ---------------------------------------------------------------------------

/**
 * An initializer as a layer made through kernelnet/tfjs takes it: tfjs's identifiers ('glorotNormal',
 * 'leCunNormal', 'varianceScaling', ...; Keras's snake_case too) and class names draw as tfjs-layers' do
 * (initializers.ts: the normals truncated at 2 sigma with no correction), as do tf.initializers' objects; the
 * rest is left for the layer to check.
 */
function tfjsInit(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const camel = value.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()).replace(/^lecun/, 'leCun');
  return tfjsInitializer(camel) ?? value;
}

/**
 * tf.layers' factories (tf.layers.dense(args) is new Dense(args)), named by the layer registry. The layers with
 * a kernel take tfjs's initializers, and default to tfjs's: glorotNormal for the kernel (tfjs-layers' core.ts
 * and convolutional.ts DEFAULT_KERNEL_INITIALIZER; Keras's is glorotUniform), zeros for the bias.
 */
export const layers = strict(
  'tf.layers',
  (() => {
    const out = layerFactories() as unknown as Record<string, (args?: unknown) => Layer>;
    for (const e of REGISTRY as readonly LayerEntry[]) {
      if (!e.tfjs.kernel) continue;
      for (const f of e.factories) {
        const make = out[f];
        out[f] = args => {
          if (!args || typeof args !== 'object' || Array.isArray(args)) return make(args); // refused there, with its message
          const own = args as Record<string, unknown>;
          return make({
            ...own,
            kernelInitializer: tfjsInit(own.kernelInitializer ?? 'glorotNormal'),
            ...(own.biasInitializer === undefined ? {} : { biasInitializer: tfjsInit(own.biasInitializer) }),
          });
        };
      }
    }
    return out as unknown as ReturnType<typeof layerFactories>;
  })(),
);

/**
 * tf.initializers: tfjs-layers' factories with its names, arguments and defaults, for a layer's
 * kernelInitializer or biasInitializer: zeros, ones, constant, randomUniform, truncatedNormal, identity,
 * varianceScaling, glorotNormal, glorotUniform, heNormal, heUniform, leCunNormal, leCunUniform. randomNormal
 * (an untruncated normal) and orthogonal (a QR factorisation) are refused with ERR_KERNELNET_UNSUPPORTED.
 */
export const initializers = strict('tf.initializers', TFJS_INITIALIZERS);

const lr = (value: unknown, name: string) => {
  if (typeof value !== 'number') throw new ValidationError(`${name}: expected a learning rate (a number) but received ${String(value)}`);
  return value;
};

/**
 * tfjs's optimizer factories with its defaults, onto kernelnet's optimizers (Keras 3's update rules; tfjs-core's
 * RMSProp puts epsilon inside the square root, Keras and kernelnet outside).
 */
export const train = strict('tf.train', {
  /** tf.train.sgd(learningRate): plain SGD; the rate is required, as in tfjs. */
  sgd: (learningRate: number) => new SGD({ learningRate: lr(learningRate, 'tf.train.sgd') }),
  /** tf.train.momentum(learningRate, momentum, useNesterov = false): SGD with momentum. */
  momentum: (learningRate: number, momentum: number, useNesterov = false) =>
    new SGD({ learningRate: lr(learningRate, 'tf.train.momentum'), momentum, nesterov: useNesterov }),
  /** tf.train.adam(learningRate = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon?): Adam (epsilon defaults to Adam's). */
  adam: (learningRate = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon?: number) => new Adam({ learningRate, beta1, beta2, epsilon }),
  /** tf.train.rmsprop(learningRate, decay = 0.9, momentum = 0, epsilon?, centered = false): RMSprop with rho = decay. */
  rmsprop: (learningRate: number, decay = 0.9, momentum = 0, epsilon?: number, centered = false) =>
    new RMSprop({ learningRate: lr(learningRate, 'tf.train.rmsprop'), rho: decay, momentum, epsilon, centered }),
  /** tf.train.adagrad(learningRate, initialAccumulatorValue = 0.1): Adagrad. */
  adagrad: (learningRate: number, initialAccumulatorValue = 0.1) =>
    new Adagrad({ learningRate: lr(learningRate, 'tf.train.adagrad'), initialAccumulatorValue }),
  /** tf.train.adadelta(learningRate = 0.001, rho = 0.95, epsilon?): Adadelta. */
  adadelta: (learningRate = 0.001, rho = 0.95, epsilon?: number) => new Adadelta({ learningRate, rho, epsilon }),
});

/**
 * The optimizer names tfjs's compile takes (tfjs-layers' getOptimizer), each with tfjs's defaults, which are not
 * Keras's: Adagrad at 0.01 and Adadelta at 1. 'Adamax' is tfjs's too, and refused: kernelnet has no Adamax.
 */
const TFJS_OPTIMIZERS: Record<string, () => Optimizer> = {
  Adagrad: () => train.adagrad(0.01),
  Adadelta: () => train.adadelta(1, 0.95, 1e-7),
  Adam: () => train.adam(0.001, 0.9, 0.999, 1e-7),
  RMSProp: () => train.rmsprop(0.001, 0.9, 0, 1e-7),
  SGD: () => train.sgd(0.01),
};
for (const name of Object.keys(TFJS_OPTIMIZERS)) TFJS_OPTIMIZERS[name.toLowerCase()] = TFJS_OPTIMIZERS[name];

function tfjsOptimizer(name: string): Optimizer {
  if (Object.hasOwn(TFJS_OPTIMIZERS, name)) return TFJS_OPTIMIZERS[name]();
  if (name === 'Adamax' || name === 'adamax') throw unsupported(`optimizer '${name}'`, 'kernelnet has no Adamax; use adam');
  return fail(
    `an optimizer or one of tfjs's names (${Object.keys(TFJS_OPTIMIZERS)
      .map(n => `'${n}'`)
      .join(', ')})`,
    'optimizer',
    name,
  );
}

/**
 * The losses of a compile, one name or a list or a record of them, with the cross-entropies named as tfjs-layers
 * computes them (losses.ts: on the probabilities clipped to [1e-7, 1 - 1e-7], not Keras's logits); anything
 * else is passed on for compile to check.
 */
function tfjsLosses(loss: unknown): unknown {
  const one = (l: unknown) => (typeof l === 'string' ? resolveTfjsLoss(l) : l);
  if (Array.isArray(loss)) return loss.map(one);
  if (loss && typeof loss === 'object' && Object.getPrototypeOf(loss) === Object.prototype)
    return Object.fromEntries(Object.entries(loss).map(([k, v]) => [k, one(v)]));
  return one(loss);
}

/** tfjs's compile arguments: the optimizer by tfjs's names, and metrics as one name or a list. */
export interface TfjsCompileArgs extends Omit<CompileArgs, 'optimizer' | 'metrics'> {
  /** An optimizer, or one of tfjs's names ('adam', 'sgd', 'rmsprop', 'adagrad', 'adadelta', or capitalised) with tfjs's defaults. */
  optimizer: Optimizer | string;
  /** Metric names ('accuracy', ...), one or a list. */
  metrics?: string | string[];
}

/** tf.data is not here: kernelnet's Dataset (fromTensors, fromGenerator, imageDatasetFromDirectory) feeds fitDataset. */
export const data = new Proxy(
  {},
  {
    get(_t, key) {
      if (typeof key === 'symbol' || key === 'then' || key === 'toJSON') return undefined;
      throw unsupported(
        `tf.data.${key}`,
        "use kernelnet's Dataset (Dataset.fromGenerator for batches, Dataset.fromTensors, imageDatasetFromDirectory) with model.fitDataset",
      );
    },
  },
);

/** tf.callbacks: only earlyStopping. */
export const callbacks = strict('tf.callbacks', {
  /** tf.callbacks.earlyStopping(args?): an EarlyStopping callback (monitor defaults to 'val_loss', patience to 0). */
  earlyStopping: (args?: EarlyStoppingArgs) => new EarlyStopping(args),
});

// --- models --------------------------------------------------------------------------------------------------

/** What tfjs's save handlers receive and return (tf.io.withSaveHandler, custom IOHandlers). */
export interface IOHandler {
  /** Receives the artifacts of model.save(handler); what it resolves to, model.save resolves to. */
  save?: (artifacts: TfjsArtifacts) => Promise<unknown>;
  /** Gives tf.loadLayersModel(handler) the artifacts to build the model from. */
  load?: () => Promise<{
    /** The Keras topology, as in model.json's modelTopology. */
    modelTopology: unknown;
    /** Every weight's name, shape and dtype, in weightData's order (default none). */
    weightSpecs?: TfjsArtifacts['weightSpecs'];
    /** The weights' values, little-endian float32: one buffer, or parts that are concatenated. */
    weightData?: ArrayBuffer | ArrayBuffer[];
  }>;
}

/**
 * One scalar tensor per number, as tfjs's evaluate returns them: the loss alone (no metrics) as one Scalar, not a
 * list of one (tfjs-layers' singletonOrArray), so `model.evaluate(x, y).dataSync()` works as in tfjs.
 */
function scalars(v: number | number[]): Tensor | Tensor[] {
  return Array.isArray(v) && v.length !== 1 ? v.map(x => scalar(x)) : scalar(Array.isArray(v) ? v[0] : v);
}

/**
 * A tfjs LayersModel: a kernelnet model (Sequential, or functional from tf.model) behind tfjs's method signatures
 * (evaluate returns scalar tensors, fit logs 'acc' and 'val_acc' beside 'accuracy', save takes a URL or an
 * IOHandler).
 */
export class LayersModel {
  /** @internal */
  readonly model: KernelnetModel;

  /** @internal */
  constructor(model: KernelnetModel) {
    this.model = model;
    model.logAliases = { accuracy: 'acc' };
  }

  /** The model's name. */
  get name(): string {
    return this.model.name;
  }
  /** The model's layers, in order. */
  get layers(): Layer[] {
    return this.model.layers;
  }
  /** Set by a callback to end fit() after the current batch (Keras's stop_training); fit() clears it when it starts. */
  get stopTraining(): boolean {
    return this.model.stopTraining;
  }
  /** Set by a callback to end fit() after the current batch (Keras's stop_training); fit() clears it when it starts. */
  set stopTraining(v: boolean) {
    this.model.stopTraining = v;
  }
  /** The optimizer compile set, or null before compile. */
  get optimizer(): Optimizer | null {
    return this.model.optimizer;
  }

  /** Appends a layer to the model (a sequential model's). */
  add(layer: Layer): void {
    if (!(this.model instanceof Sequential)) throw new ValidationError(`${this.model.name}.add: a functional model's layers are fixed by tf.model()`);
    this.model.add(layer);
  }
  /**
   * tfjs's compile: optimizer names and defaults as tfjs's getOptimizer ('adagrad' is Adagrad at 0.01 here, where
   * Keras's is 0.001), and `metrics` as one name or a list, as tfjs takes them.
   */
  compile(args: TfjsCompileArgs): void {
    const own = ownOptions(args);
    const optimizer = typeof own.optimizer === 'string' ? tfjsOptimizer(own.optimizer) : own.optimizer;
    const metrics = typeof own.metrics === 'string' ? [own.metrics] : own.metrics;
    this.model.compile({ ...own, optimizer, metrics, loss: tfjsLosses(own.loss) } as CompileArgs);
  }

  /** tfjs's metricsNames once compiled: 'loss', then each metric by the name fit logs it under ('acc' for 'accuracy'). */
  get metricsNames(): string[] {
    if (!this.model.optimizer) return [];
    const m = this.model,
      name = (key: string) => m.logAliases[key] ?? key;
    if (m.heads.length === 1) return ['loss', ...metricKeys(m).map(name)];
    // tfjs's names with several outputs: <output>_loss, then <output>_<metric> ('acc' for 'accuracy')
    return ['loss', ...m.heads.map(h => `${h.name}_loss`), ...m.heads.flatMap(h => h.metricSpecs.map(s => `${h.name}_${name(s.key)}`))];
  }

  /**
   * tfjs's summary(lineLength?, positions?, printFn?) with tfjs's layout (tfjs-layers' printSummary for a
   * sequential model): columns Layer (type), Input Shape, Output shape, Param #, at `positions` (fractions of
   * lineLength, or columns), default 90 and [0.32, 0.61, 0.89, 1]; fields cut at their column as tfjs cuts them;
   * printFn called once per line.
   */
  summary(lineLength?: number, positions?: number[], printFn: (line: string) => void = console.log): void {
    this.model.alive('summary');
    if (lineLength !== undefined && !(Number.isInteger(lineLength) && lineLength > 0)) fail('a positive integer', 'lineLength', lineLength);
    if (
      positions !== undefined &&
      !(
        Array.isArray(positions) &&
        positions.length === 4 &&
        positions.every((p, i) => typeof p === 'number' && p > 0 && (i === 0 || p > positions[i - 1]))
      )
    )
      fail('4 increasing column positions (fractions of lineLength, or columns)', 'positions', positions);
    if (typeof printFn !== 'function') fail('a function', 'printFn', printFn);
    const length = lineLength || 90;
    let at = positions ?? [0.32, 0.61, 0.89, 1];
    if (at[at.length - 1] <= 1) at = at.map(p => Math.floor(length * p));
    const row = (fields: string[]) => {
      let line = '';
      fields.forEach((f, i) => {
        if (i > 0) line = `${line.slice(0, line.length - 1)} `;
        line = (line + f).slice(0, at[i]);
        line += ' '.repeat(at[i] - line.length);
      });
      printFn(line);
    };
    const layers = this.model.layers;
    printFn('_'.repeat(length));
    row(['Layer (type)', 'Input Shape', 'Output shape', 'Param #']);
    printFn('='.repeat(length));
    layers.forEach((l, i) => {
      row([
        `${l.name} (${l.className})`,
        JSON.stringify([[null, ...l.inputShape]]),
        JSON.stringify([null, ...l.outputShape]),
        String(l.countParams()),
      ]);
      printFn((i === layers.length - 1 ? '=' : '_').repeat(length));
    });
    const trainable = layers.reduce((n, l) => n + (l.trainable ? l.countParams(true) : 0), 0);
    printFn(`Total params: ${this.model.countParams()}`);
    printFn(`Trainable params: ${trainable}`);
    printFn(`Non-trainable params: ${this.model.countParams() - trainable}`);
    printFn('_'.repeat(length));
  }

  /** tfjs's fit; the History's params also list the logged names (`params.metrics`), as tfjs's do. */
  async fit(x: ModelData, y: ModelData, args?: FitArgs): Promise<TfjsHistory> {
    return this.withMetrics(await this.model.fit(x, y, args));
  }
  /** Trains on a kernelnet Dataset (Dataset.fromTensors, Dataset.fromGenerator, imageDatasetFromDirectory). */
  async fitDataset(dataset: Dataset, args?: FitDatasetArgs): Promise<TfjsHistory> {
    return this.withMetrics(await this.model.fitDataset(dataset, args));
  }
  private withMetrics(h: History): TfjsHistory {
    const names = this.metricsNames;
    const validated = Object.hasOwn(h.history, 'val_loss');
    return { ...h, params: { ...h.params, metrics: validated ? [...names, ...names.map(n => `val_${n}`)] : names } };
  }
  /** Evaluates on a kernelnet Dataset, returning scalar tensors as evaluate does. */
  async evaluateDataset(dataset: Dataset, args?: { verbose?: 0 | 1 }): Promise<Tensor | Tensor[]> {
    return scalars(await this.model.evaluateDataset(dataset, args));
  }
  /** The loss and metrics on (x, y) as scalar tensors: one Scalar without metrics, else a list, as tfjs returns them. */
  evaluate(x: ModelData, y: ModelData, args?: EvaluateArgs): Tensor | Tensor[] {
    const v = this.model.evaluate(x, y, args) as number | number[];
    return scalars(v);
  }
  /** The model's outputs for x, computed in batches of args.batchSize (default 32): one tensor per output (an array for several). */
  predict(x: ModelData, args?: PredictArgs): Tensor | Tensor[] {
    return this.model.predict(x, args);
  }
  /** The model's outputs for x as one batch. */
  predictOnBatch(x: ModelData): Tensor | Tensor[] {
    return this.model.predictOnBatch(x);
  }
  /** One training step on (x, y) as one batch; resolves to the loss, or the loss and metrics. */
  trainOnBatch(x: ModelData, y: ModelData): Promise<number | number[]> {
    return this.model.trainOnBatch(x, y);
  }
  /** tfjs's getWeights(trainableOnly = false): with trainableOnly, the weights of trainable layers that training updates. */
  getWeights(trainableOnly = false): Tensor[] {
    if (typeof trainableOnly !== 'boolean') fail('a boolean', 'trainableOnly', trainableOnly);
    const all = this.model.getWeights();
    if (!trainableOnly) return all;
    const keep = this.model.layers.flatMap(l => l.params.map(p => l.trainable && p.trainable !== false));
    all.forEach((t, i) => {
      if (!keep[i]) t.dispose();
    });
    return all.filter((_, i) => keep[i]);
  }
  /** Writes every weight, in getWeights() order, from the given tensors (their values are copied). */
  setWeights(weights: Tensor[]): void {
    this.model.setWeights(weights);
  }
  /** The layer called name, or the one at index. */
  getLayer(name?: string, index?: number): Layer {
    return this.model.getLayer(name, index);
  }

  /**
   * Writes tfjs's layers-model format: 'file://DIR' gives DIR/model.json and DIR/weights.bin (tfjs-node's layout,
   * which tf.loadLayersModel reads in a browser or in Node); an IOHandler receives the artifacts.
   */
  async save(handlerOrUrl: string | IOHandler, config?: { trainableOnly?: boolean; includeOptimizer?: boolean }): Promise<unknown> {
    checkOptions(config, { what: 'save config', supported: [], notYet: { trainableOnly: { ok: [false] }, includeOptimizer: { ok: [false] } } });
    for (const l of this.model.layers) {
      const k = (l as { kernelArgs?: Record<string, unknown> }).kernelArgs ?? {};
      for (const key of ['kernelInitializer', 'biasInitializer'])
        if (k[key] instanceof TfjsInitializer && (k[key] as TfjsInitializer).kerasName() === null)
          throw unsupported(
            `model.save with ${l.name}'s ${key} ${(k[key] as TfjsInitializer).className}(${JSON.stringify((k[key] as TfjsInitializer).config)})`,
            "kernelnet's tfjs-format writer records the glorot, he and lecun initializers (seedless), zeros and ones",
          );
    }
    if (typeof handlerOrUrl === 'string') {
      if (!handlerOrUrl.startsWith('file://')) throw unsupported(`model.save('${handlerOrUrl}')`, "save to a 'file://' URL or pass an IOHandler");
      return saveTfjs(this.model, handlerOrUrl);
    }
    if (!handlerOrUrl || typeof handlerOrUrl.save !== 'function')
      throw new ValidationError('model.save: expected a file:// URL or an IOHandler with a save method');
    return handlerOrUrl.save(toTfjsArtifacts(this.model));
  }

  /** Frees every tensor the model holds (weights, optimizer state, buffers); every method then refuses. */
  dispose(): {
    /** Always 0: the model is freed at once. */
    refCountAfterDispose: number;
    /** The number of the model's weights (getWeights().length). */
    numDisposedVariables: number;
  } {
    const n = this.model.params.length;
    this.model.dispose();
    return { refCountAfterDispose: 0, numDisposedVariables: n };
  }
}

/** A History as tfjs's fit returns it: params.metrics lists the names logged each epoch. */
export interface TfjsHistory extends History {
  /** fit's parameters, with the names logged each epoch. */
  params: History['params'] & {
    /** The names logged each epoch: 'loss' and the metrics, then their 'val_' forms when fit validated. */
    metrics: string[];
  };
}

/** tf.sequential({ layers?, name? }): a model on the current backend's device. */
export function sequential(config: { layers?: Layer[]; name?: string } = {}): LayersModel {
  return new LayersModel(new Sequential({ ...config, device } as SequentialArgs));
}

/** tf.model({ inputs, outputs, name? }): a functional model (tf.input, layer.apply) on the current backend's device. */
export function model(config: Omit<ModelArgs, 'device' | 'seed'>): LayersModel {
  return new LayersModel(new Model({ ...config, device }));
}

/** tf.input({ shape, name?, dtype? }): a functional model's input, a symbolic tensor. */
export function input(config: InputArgs): SymbolicTensor {
  return symbolicInput(config);
}

/**
 * Loads a tfjs layers model: 'file://DIR/model.json' (written by tfjs-node's model.save('file://DIR') or by
 * kernelnet), or an IOHandler (tf.io.fromMemory's shape). Returned uncompiled, as tfjs does: compile it to train.
 */
export async function loadLayersModel(pathOrHandler: string | IOHandler): Promise<LayersModel> {
  if (typeof pathOrHandler === 'string') {
    if (!pathOrHandler.startsWith('file://'))
      throw unsupported(`loadLayersModel('${pathOrHandler}')`, "load from a 'file://' URL or pass an IOHandler");
    return new LayersModel(loadTfjs({ Sequential, Model }, pathOrHandler, { device }) as KernelnetModel);
  }
  if (!pathOrHandler || typeof pathOrHandler.load !== 'function')
    throw new ValidationError('loadLayersModel: expected a file:// URL or an IOHandler with a load method');
  const a = await pathOrHandler.load();
  const data = a.weightData;
  const weightData = Array.isArray(data) ? concatBuffers(data) : (data ?? new ArrayBuffer(0));
  return new LayersModel(
    fromTfjsArtifacts(
      { Sequential, Model },
      { modelTopology: a.modelTopology as Record<string, unknown>, weightSpecs: a.weightSpecs ?? [], weightData },
      'loadLayersModel',
      { device },
    ) as KernelnetModel,
  );
}

function concatBuffers(parts: ArrayBuffer[]): ArrayBuffer {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), at);
    at += p.byteLength;
  }
  return out.buffer;
}

// --- out of scope: tfjs's general tensor math, refused by name ---------------------------------------------

const OUT_OF_SCOPE = [
  'add',
  'sub',
  'mul',
  'div',
  'matMul',
  'dot',
  'conv2d',
  'maxPool',
  'avgPool',
  'relu',
  'sigmoid',
  'tanh',
  'softmax',
  'exp',
  'log',
  'sqrt',
  'square',
  'pow',
  'abs',
  'neg',
  'mean',
  'sum',
  'max',
  'min',
  'argMin',
  'variable',
  'grad',
  'grads',
  'valueAndGrad',
  'valueAndGrads',
  'randomNormal',
  'randomUniform',
  'truncatedNormal',
  'stack',
  'unstack',
  'split',
  'cast',
  'squeeze',
  'expandDims',
  'transpose',
  'pad',
  'clipByValue',
  'where',
  'equal',
  'greater',
  'less',
  'logicalAnd',
  'fill',
  'zerosLike',
  'onesLike',
  'linspace',
  'range',
  'loadGraphModel',
] as const;

function refuse(name: string) {
  return (): never => {
    throw unsupported(
      `tf.${name}`,
      'kernelnet trains Keras-style models and does not do general tensor math or graph models; ' +
        'compute with typed arrays, or with @tensorflow/tfjs itself',
    );
  };
}

/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call; out of kernelnet/tfjs's scope. */
export const add = refuse('add'),
  sub = refuse('sub'),
  mul = refuse('mul'),
  div = refuse('div'),
  matMul = refuse('matMul');
/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call; out of kernelnet/tfjs's scope. */
export const dot = refuse('dot'),
  conv2d = refuse('conv2d'),
  maxPool = refuse('maxPool'),
  avgPool = refuse('avgPool');
/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call; out of kernelnet/tfjs's scope. */
export const relu = refuse('relu'),
  sigmoid = refuse('sigmoid'),
  tanh = refuse('tanh'),
  softmax = refuse('softmax');
/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call; out of kernelnet/tfjs's scope. */
export const exp = refuse('exp'),
  log = refuse('log'),
  sqrt = refuse('sqrt'),
  square = refuse('square'),
  pow = refuse('pow');
/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call; out of kernelnet/tfjs's scope. */
export const abs = refuse('abs'),
  neg = refuse('neg'),
  mean = refuse('mean'),
  sum = refuse('sum'),
  max = refuse('max');
/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call; out of kernelnet/tfjs's scope. */
export const min = refuse('min'),
  argMin = refuse('argMin'),
  variable = refuse('variable'),
  grad = refuse('grad');
/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call; out of kernelnet/tfjs's scope. */
export const grads = refuse('grads'),
  valueAndGrad = refuse('valueAndGrad'),
  valueAndGrads = refuse('valueAndGrads');
/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call; out of kernelnet/tfjs's scope. */
export const randomNormal = refuse('randomNormal'),
  randomUniform = refuse('randomUniform'),
  truncatedNormal = refuse('truncatedNormal');
/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call; out of kernelnet/tfjs's scope. */
export const stack = refuse('stack'),
  unstack = refuse('unstack'),
  split = refuse('split'),
  cast = refuse('cast');
/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call; out of kernelnet/tfjs's scope. */
export const squeeze = refuse('squeeze'),
  expandDims = refuse('expandDims'),
  transpose = refuse('transpose'),
  pad = refuse('pad');
/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call; out of kernelnet/tfjs's scope. */
export const clipByValue = refuse('clipByValue'),
  where = refuse('where'),
  equal = refuse('equal'),
  greater = refuse('greater');
/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call; out of kernelnet/tfjs's scope. */
export const less = refuse('less'),
  logicalAnd = refuse('logicalAnd'),
  fill = refuse('fill'),
  zerosLike = refuse('zerosLike');
/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call; out of kernelnet/tfjs's scope. */
export const onesLike = refuse('onesLike'),
  linspace = refuse('linspace'),
  range = refuse('range');
/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call; out of kernelnet/tfjs's scope. */
export const loadGraphModel = refuse('loadGraphModel');
/** @internal The names above, for the test that each is refused. */
export const OUT_OF_SCOPE_NAMES: readonly string[] = OUT_OF_SCOPE;

// The namespace as the default export too: tfjs-node is CommonJS, so `import tf from '@tensorflow/tfjs-node'`
// works in Node, and the same line with 'kernelnet/tfjs' must as well.
import * as self from './tfjs.js';
/** The kernelnet/tfjs namespace itself, for `import tf from 'kernelnet/tfjs'`. */
const tf: Omit<typeof self, 'default'> = self;
export default tf;
