// kernelnet/tfjs: what a TensorFlow.js (tfjs-node) training script calls, with tfjs's names, signatures and return
// types, on kernelnet's layers, optimizers and native tensors, so that such a script runs with one changed import:
//   import * as tf from 'kernelnet/tfjs';   // was '@tensorflow/tfjs-node'
// In scope: models of the layers kernelnet has (tf.layers.*), tf.train.* optimizers, fit/evaluate/predict as tfjs
// returns them, tfjs's tensor operations and tensor methods (lib/ops/, computed natively on the current backend's
// device), memory management (tidy, dispose, keep, memory), tf.data's datasets (lib/data/tfjs-data.ts) and the tfjs
// layers-model format through tf.io's handlers (model.save and loadLayersModel with 'file://', 'http(s)://', fromMemory,
// withSaveHandler: lib/io/tfjs-io.ts), and custom training loops (tf.grad, tf.variableGrads, optimizer.minimize,
// models applied inside them: lib/ops/autodiff.ts, lib/ops/model-tape.ts). Refused with ERR_KERNELNET_UNSUPPORTED
// naming the call: convolution and pooling as functions, graph models, and the other ops listed at the end.
import { EarlyStopping, type EarlyStoppingArgs } from './callbacks/callbacks.js';
import { StateError, ValidationError } from './core/errors.js';
import { checkOptions, fail, ownOptions } from './core/validate.js';
import type { Layer } from './layers/layers.js';
import { REGISTRY, layerFactories, type LayerEntry } from './layers/registry.js';
import { TFJS_INITIALIZERS, TfjsInitializer, tfjsInitializer } from './layers/initializers.js';
import { Sequential, type CompileArgs, type LayersModel as KernelnetModel, type ModelData, type SequentialArgs } from './models/model.js';
import { Model, type ModelArgs } from './models/functional.js';
import { input as symbolicInput, type InputArgs, type SymbolicTensor } from './engine/symbolic.js';
import './ops/eager.js';
import { native, type Device } from './core/native.js';
import { Adadelta, Adagrad, Adam, RMSprop, SGD, type Optimizer } from './engine/optimizers.js';
import { resolveTfjsLoss } from './engine/losses.js';
import { fromTfjsArtifacts, loadTfjs, saveTfjs, toTfjsArtifacts, type TfjsArtifacts } from './io/tfjs-format.js';
import {
  FileSystemHandler,
  HTTPRequest,
  getLoadHandlers,
  getSaveHandlers,
  ioNamespace,
  refuseBrowserScheme,
  type EncodedWeights,
  type FetchFunction,
  type LoadedArtifacts,
  type LoadHandler,
  type LoadOptions,
  type MemoryLoader,
  type MemoryLoaderSync,
  type ModelArtifacts,
  type ModelArtifactsInfo,
  type PassthroughSaver,
  type SaveHandler,
  type SaveResult,
  type WeightsManifestEntry,
  type WeightsManifestGroupConfig,
} from './io/tfjs-io.js';
import { Tensor, dispose, isHeld, keep, tidy } from './core/tensor.js';
import { setOpsDevice } from './ops/base.js';
import { Variable, addVariableSource } from './ops/autodiff.js';
import { ModelVariables, applyModel, taped } from './ops/model-tape.js';
import { cast as castOp, scalar } from './ops/differentiable.js';
import './ops/methods.js';
import { Reduction, losses as lossFunctions, metrics as metricFunctions } from './ops/metrics.js';
import { util as utilFunctions } from './ops/util.js';
import { node as nodeFunctions } from './ops/node.js';
import { testUtil } from './ops/test-util.js';
import { metricKeys, type EvaluateArgs, type FitArgs, type FitDatasetArgs, type History, type PredictArgs } from './engine/training.js';
import type { Dataset } from './data/data.js';
import { TfDataBatches, adaptFitDataset, array, csv, generator, isTfDataset, zip, type TfDataFitArgs, type TfDataset } from './data/tfjs-data.js';

export { Tensor, tidy, dispose, keep };
export type { History, FitArgs, EvaluateArgs, PredictArgs, Layer, Optimizer, TfjsArtifacts };
export type { DisposeResult } from './layers/layers.js';

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
    setOpsDevice(undefined);
    return true;
  }
  if (!usable(wanted)) return false;
  device = wanted;
  setOpsDevice(wanted);
  return true;
}

/** The device new models and tensors get: 'cpu' or 'cuda'. */
export function getBackend(): string {
  return device ?? native.backend().name;
}

/** Resolves at once: kernelnet's backends need no asynchronous start-up (tfjs's ready). */
export async function ready(): Promise<void> {}

// --- tensors -------------------------------------------------------------------------------------------------

// Tensor creation and math: lib/ops/ops.ts (native, on the current backend's device), re-exported below.

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

/** tf.util: tfjs's helpers (assert, shuffle, sizeFromShape, now, ...); an unknown member is refused by name. */
export const util = strict('tf.util', utilFunctions);
/** tf.metrics: tfjs-layers' metric functions. */
export const metrics = strict('tf.metrics', metricFunctions);
/** tf.losses: tfjs-core's loss functions. */
export const losses = strict('tf.losses', lossFunctions);
export { Reduction };
/** tf.node: tfjs-node's image decoding and encoding (decodeImage, decodePng, decodeJpeg, encodePng, ...), through sharp. */
export const node = strict('tf.node', nodeFunctions);

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

/**
 * tf.data: tfjs-data's datasets (lib/data/tfjs-data.ts): array, generator, csv (a 'file://' path, streamed) and
 * zip, with map, mapAsync, filter, batch, shuffle, take, skip, repeat, prefetch, concatenate, forEachAsync,
 * toArray and iterator(); fitDataset and evaluateDataset take them (and kernelnet's Dataset).
 */
export const data = strict('tf.data', {
  /** A dataset of the items of an array (tensors are cloned as each is read). */
  array,
  /** A dataset of what a (sync or async) generator function's iterator yields, the function called per iteration. */
  generator,
  /** The rows of a CSV file ('file://'), streamed; with a label column, { xs, ys } objects, as tfjs-data. */
  csv,
  /** Datasets read together: an array or object of datasets gives arrays or objects of their elements. */
  zip,
});
export type {
  TfDataset,
  CSVDataset,
  CSVConfig,
  ColumnConfig,
  TfDataFitArgs,
  DatasetTree,
  TensorContainer,
  LazyIterator,
  IteratorResult,
} from './data/tfjs-data.js';

/**
 * tf.io: fromMemory, withSaveHandler, fileSystem and http handlers for model.save and tf.loadLayersModel,
 * getLoadHandlers and getSaveHandlers for 'file://' and 'http(s)://' URLs, and the artifact helpers (encodeWeights,
 * decodeWeights, concatenateArrayBuffers, getModelArtifactsInfoForJSON, ...). Browser-only members (browserFiles,
 * browserDownloads, the localStorage and IndexedDB model stores) are refused by name.
 */
export const io = strict('tf.io', ioNamespace());
export type {
  EncodedWeights,
  FetchFunction,
  FileSystemHandler,
  HTTPRequest,
  LoadedArtifacts,
  LoadHandler,
  LoadOptions,
  MemoryLoader,
  MemoryLoaderSync,
  ModelArtifacts,
  ModelArtifactsInfo,
  PassthroughSaver,
  SaveHandler,
  SaveResult,
  WeightsManifestEntry,
  WeightsManifestGroupConfig,
};

/** tf.test_util: tfjs-core's array assertions, for tests written for tfjs. */
export const test_util = strict('tf.test_util', testUtil);

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

  /** @internal The model's weights as registered variables (tfjs's LayerVariables read()). */
  private readonly variables: ModelVariables;
  private readonly dropSource: () => void;

  /** @internal */
  constructor(model: KernelnetModel) {
    this.model = model;
    model.logAliases = { accuracy: 'acc' };
    this.variables = new ModelVariables(model);
    this.dropSource = addVariableSource(this.variables);
  }

  private trainableFlag = true;
  /** Whether the model's weights train (tfjs's container trainable): setting it sets every layer's trainable. */
  get trainable(): boolean {
    return this.trainableFlag;
  }
  /** Freezes (false) or unfreezes (true) every layer. */
  set trainable(value: boolean) {
    if (typeof value !== 'boolean') fail('a boolean', 'trainable', value);
    for (const l of this.model.layers) l.trainable = value;
    this.trainableFlag = value;
  }

  /** The weights of the model's layers, in getWeights() order, as tfjs's LayerVariables (read() gives the tf.Variable). */
  get weights(): LayerVariable[] {
    return this.layerVariables(() => true);
  }
  /** The weights training updates: those of trainable layers, but BatchNormalization's moving statistics. */
  get trainableWeights(): LayerVariable[] {
    return this.layerVariables(v => v.trainable);
  }
  /** The weights training does not update (frozen layers', BatchNormalization's moving statistics). */
  get nonTrainableWeights(): LayerVariable[] {
    return this.layerVariables(v => !v.trainable);
  }
  private layerVariables(keep: (v: Variable) => boolean): LayerVariable[] {
    this.model.alive('weights');
    return this.variables
      .sync()
      .filter(keep)
      .map(v => ({ name: v.name, shape: v.shape, dtype: 'float32' as const, trainable: v.trainable, read: () => v }));
  }

  /**
   * tfjs's model.apply(inputs, { training }) on tensors: the outputs for the whole batch (one tensor per output, an
   * array for several), with dropout and batch statistics when training (default false). Differentiable: inside
   * tf.grad, tf.variableGrads or optimizer.minimize the gradients flow to the inputs and the model's weights.
   */
  apply(inputs: Tensor | Tensor[], kwargs?: { training?: boolean }): Tensor | Tensor[] {
    checkOptions(kwargs, { what: 'apply kwargs', supported: ['training'], notYet: { mask: {} } });
    const training = kwargs?.training ?? false;
    if (typeof training !== 'boolean') fail('a boolean', 'training', training);
    const xs = Array.isArray(inputs) ? inputs : [inputs];
    if (!xs.every(x => x instanceof Tensor))
      throw unsupported(
        'model.apply on symbolic tensors (a model as a layer of another)',
        'apply the model to tensors, or build one tf.model of all the layers',
      );
    const outs = applyModel(this.model, xs, training, this.variables);
    return outs.length === 1 ? outs[0] : outs;
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

  /**
   * The model's inputs as tfjs's SymbolicTensors describe them: name, dtype and shape with the batch axis null
   * ([null, ...inputShape]), one per input (model.inputs[0].shape in a tfjs script).
   */
  get inputs(): SymbolicTensorInfo[] {
    const m = this.model;
    return m.inputShapes.map((shape, k) => ({ name: m.inputNames[k], dtype: 'float32' as const, shape: [null, ...shape] }));
  }
  /** The model's outputs likewise: name (the output layer's), dtype and shape with the batch axis null. */
  get outputs(): SymbolicTensorInfo[] {
    const m = this.model;
    return m.outputShapes.map((shape, k) => ({ name: m.outputNames[k], dtype: 'float32' as const, shape: [null, ...shape] }));
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

  /**
   * tfjs's fit; the History's params also list the logged names (`params.metrics`), as tfjs's do. Targets may be
   * int32 or bool (tf.oneHot's int32 rows): tfjs casts them to float32, and so does this, natively.
   */
  async fit(x: ModelData, y: ModelData, args?: FitArgs): Promise<TfjsHistory> {
    const t = floatTargets(y);
    try {
      return this.withMetrics(await this.model.fit(x, t.y, args));
    } finally {
      dispose(t.made);
    }
  }
  /**
   * Trains on a tf.data dataset of { xs, ys } batches (tfjs's fitDataset: `batchesPerEpoch` takes each epoch's
   * batches from one iteration; `validationData` a dataset, with `validationBatches`, or tensors) or on a
   * kernelnet Dataset (Dataset.fromTensors, Dataset.fromGenerator, imageDatasetFromDirectory).
   */
  async fitDataset(dataset: Dataset | TfDataset<unknown>, args?: FitDatasetArgs | TfDataFitArgs): Promise<TfjsHistory> {
    const a = adaptFitDataset(dataset, args as TfDataFitArgs, () => (this.model.stopTraining = true));
    try {
      return this.withMetrics(await this.model.fitDataset(a.dataset, a.args as FitDatasetArgs));
    } finally {
      a.close();
    }
  }
  private withMetrics(h: History): TfjsHistory {
    const names = this.metricsNames;
    const validated = Object.hasOwn(h.history, 'val_loss');
    return { ...h, params: { ...h.params, metrics: validated ? [...names, ...names.map(n => `val_${n}`)] : names } };
  }
  /**
   * Evaluates on a tf.data dataset of { xs, ys } batches (at most `batches` of them) or a kernelnet Dataset,
   * returning scalar tensors as evaluate does.
   */
  async evaluateDataset(dataset: Dataset | TfDataset<unknown>, args?: { verbose?: 0 | 1; batches?: number }): Promise<Tensor | Tensor[]> {
    const { batches, ...rest } = args ?? {};
    if (isTfDataset(dataset)) {
      if (batches !== undefined && !(Number.isInteger(batches) && batches > 0)) fail('a positive integer', 'batches', batches);
      const adapted = new TfDataBatches(dataset, { limit: batches });
      return scalars(await this.model.evaluateDataset(adapted, rest));
    }
    return scalars(await this.model.evaluateDataset(dataset, args));
  }
  /** The loss and metrics on (x, y) as scalar tensors: one Scalar without metrics, else a list, as tfjs returns them. */
  evaluate(x: ModelData, y: ModelData, args?: EvaluateArgs): Tensor | Tensor[] {
    const t = floatTargets(y);
    try {
      return scalars(this.model.evaluate(x, t.y, args) as number | number[]);
    } finally {
      dispose(t.made);
    }
  }
  /** The model's outputs for x, computed in batches of args.batchSize (default 32): one tensor per output (an array for several). */
  predict(x: ModelData, args?: PredictArgs): Tensor | Tensor[] {
    // inside tf.grad or optimizer.minimize, differentiable, as tfjs's (one batch: gradients need the whole pass)
    const xs = x instanceof Tensor ? [x] : Array.isArray(x) && x.every(t => t instanceof Tensor) ? x : null;
    if (xs && taped(xs, this.variables)) {
      checkOptions(args, { what: 'predict args', supported: ['batchSize', 'verbose'], notYet: {} });
      const outs = applyModel(this.model, xs, false, this.variables);
      return outs.length === 1 ? outs[0] : outs;
    }
    return this.model.predict(x, args);
  }
  /** The model's outputs for x as one batch. */
  predictOnBatch(x: ModelData): Tensor | Tensor[] {
    return this.model.predictOnBatch(x);
  }
  /** One training step on (x, y) as one batch; resolves to the loss, or the loss and metrics. */
  async trainOnBatch(x: ModelData, y: ModelData): Promise<number | number[]> {
    const t = floatTargets(y);
    try {
      return await this.model.trainOnBatch(x, t.y);
    } finally {
      dispose(t.made);
    }
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
    if (this.variables.sync().some(isHeld))
      throw new StateError(`${this.name}.setWeights: a gradient being computed reads the weights; set them after it returns`, 'ERR_KERNELNET_STATE');
    this.model.setWeights(weights);
  }
  /** The layer called name, or the one at index. */
  getLayer(name?: string, index?: number): Layer {
    return this.model.getLayer(name, index);
  }

  /**
   * Writes tfjs's layers-model format: 'file://DIR' gives DIR/model.json and DIR/weights.bin (tfjs-node's layout,
   * which tf.loadLayersModel reads in a browser or in Node); 'http(s)://URL' POSTs tfjs's multipart form
   * (model.json and model.weights.bin); an IOHandler (tf.io.withSaveHandler, fileSystem, http) receives the artifacts.
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
      if (handlerOrUrl.startsWith('file://')) return saveTfjs(this.model, handlerOrUrl);
      refuseBrowserScheme(handlerOrUrl, 'model.save');
      const [handler] = getSaveHandlers(handlerOrUrl);
      if (!handler) throw unsupported(`model.save('${handlerOrUrl}')`, "save to a 'file://' or 'http(s)://' URL or pass an IOHandler");
      handlerOrUrl = handler;
    }
    if (!handlerOrUrl || typeof handlerOrUrl.save !== 'function')
      throw new ValidationError("model.save: expected a 'file://' or 'http(s)://' URL or an IOHandler with a save method");
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
    this.dropSource();
    this.variables.disposeModel();
    return { refCountAfterDispose: 0, numDisposedVariables: n };
  }
}

/**
 * Targets as kernelnet's losses take them: an int32 or bool tensor of rank >= 2 (one-hot rows, binary labels) cast to
 * float32 as tfjs's fit does (rank-1 int32 class indices are kept for the sparse losses). `made` are the casts.
 */
function floatTargets(y: ModelData): { y: ModelData; made: Tensor[] } {
  const made: Tensor[] = [];
  const conv = (t: Tensor) => {
    if (!(t instanceof Tensor) || t.isDisposed || t.dtype === 'float32' || t.shape.length < 2) return t;
    const c = castOp(t, 'float32');
    made.push(c);
    return c;
  };
  if (y instanceof Tensor) return { y: conv(y), made };
  if (Array.isArray(y)) return { y: y.map(conv), made };
  if (y && typeof y === 'object') return { y: Object.fromEntries(Object.entries(y).map(([k, v]) => [k, conv(v)])), made };
  return { y, made };
}

/** A model's weight as tfjs's LayerVariable describes it: read() gives the tf.Variable over the model's memory. */
export interface LayerVariable {
  /** `layer/weight`, e.g. 'dense/kernel' (unique among live variables: '_1' and so on are added where two models share names). */
  readonly name: string;
  /** The weight's shape. */
  readonly shape: number[];
  /** Always 'float32'. */
  readonly dtype: 'float32';
  /** Whether training updates it. */
  readonly trainable: boolean;
  /** The weight as a tf.Variable (optimizer.minimize's varList takes these). */
  read(): Variable;
}

/** What model.inputs and model.outputs describe of each input or output, as tfjs's SymbolicTensor does. */
export interface SymbolicTensorInfo {
  /** The input's name, or the output layer's. */
  name: string;
  /** Always 'float32'. */
  dtype: 'float32';
  /** The shape with the batch axis first, as null. */
  shape: Array<number | null>;
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
 * kernelnet), 'http(s)://.../model.json' through fetch (options: requestInit, weightPathPrefix, fetchFunc,
 * onProgress), or an IOHandler (tf.io.fromMemory, fileSystem, http). Returned uncompiled, as tfjs does: compile it
 * to train.
 */
export async function loadLayersModel(pathOrHandler: string | IOHandler | MemoryLoaderSync, options?: LoadOptions): Promise<LayersModel> {
  if (typeof pathOrHandler === 'string') {
    if (pathOrHandler.startsWith('file://')) return new LayersModel(loadTfjs({ Sequential, Model }, pathOrHandler, { device }) as KernelnetModel);
    refuseBrowserScheme(pathOrHandler, 'loadLayersModel');
    const [handler] = getLoadHandlers(pathOrHandler, options);
    if (!handler) throw unsupported(`loadLayersModel('${pathOrHandler}')`, "load from a 'file://' or 'http(s)://' URL or pass an IOHandler");
    pathOrHandler = handler;
  }
  if (pathOrHandler instanceof FileSystemHandler)
    return new LayersModel(loadTfjs({ Sequential, Model }, pathOrHandler.path, { device }) as KernelnetModel);
  if (!pathOrHandler || typeof pathOrHandler.load !== 'function')
    throw new ValidationError("loadLayersModel: expected a 'file://' or 'http(s)://' URL or an IOHandler with a load method");
  const where = pathOrHandler instanceof HTTPRequest ? `loadLayersModel('${pathOrHandler.path}')` : 'loadLayersModel';
  const a = await pathOrHandler.load();
  const data = a.weightData;
  const weightData = Array.isArray(data) ? concatBuffers(data) : (data ?? new ArrayBuffer(0));
  return new LayersModel(
    fromTfjsArtifacts(
      { Sequential, Model },
      { modelTopology: a.modelTopology as Record<string, unknown>, weightSpecs: a.weightSpecs ?? [], weightData },
      where,
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

// --- tensor operations ---------------------------------------------------------------------------------------

export {
  tensor,
  scalar,
  tensor1d,
  tensor2d,
  tensor3d,
  tensor4d,
  tensor5d,
  tensor6d,
  fill,
  zeros,
  ones,
  zerosLike,
  onesLike,
  clone,
  cast,
  range,
  linspace,
  eye,
  oneHot,
  randomNormal,
  truncatedNormal,
  randomUniform,
  neg,
  abs,
  sign,
  square,
  sqrt,
  rsqrt,
  exp,
  expm1,
  log,
  log1p,
  logSigmoid,
  sin,
  cos,
  tan,
  asin,
  acos,
  atan,
  sinh,
  cosh,
  tanh,
  asinh,
  acosh,
  atanh,
  sigmoid,
  softplus,
  relu,
  relu6,
  elu,
  selu,
  leakyRelu,
  step,
  round,
  floor,
  ceil,
  reciprocal,
  erf,
  isNaN,
  isInf,
  isFinite,
  clipByValue,
  logicalNot,
  add,
  sub,
  mul,
  div,
  divNoNan,
  floorDiv,
  pow,
  mod,
  minimum,
  maximum,
  squaredDifference,
  atan2,
  prelu,
  equal,
  notEqual,
  less,
  lessEqual,
  greater,
  greaterEqual,
  logicalAnd,
  logicalOr,
  logicalXor,
  where,
  addN,
  sum,
  prod,
  min,
  max,
  all,
  any,
  argMax,
  argMin,
  mean,
  moments,
  logSumExp,
  norm,
  cumsum,
  cumprod,
  transpose,
  reshape,
  expandDims,
  squeeze,
  broadcastToOp as broadcastTo,
  tile,
  reverse,
  slice,
  stridedSlice,
  concat,
  stack,
  unstack,
  split,
  gather,
  pad,
  matMul,
  dot,
  outerProduct,
  softmax,
  logSoftmax,
  topk,
  image,
  euclideanNorm,
  concat1d,
  concat2d,
  concat3d,
  concat4d,
  pad1d,
  pad2d,
  pad3d,
  pad4d,
  reverse1d,
  reverse2d,
  reverse3d,
  reverse4d,
  slice1d,
  slice2d,
  slice3d,
  slice4d,
  randomStandardNormal,
  randomUniformInt,
  multinomial,
  upcastType,
  print,
} from './ops/differentiable.js';
export type { DataType, TensorInput, Moments, TopKResult } from './ops/ops.js';
export type { NestedInput } from './ops/base.js';
export { buffer, TensorBuffer } from './ops/buffer.js';
export {
  Variable,
  variable,
  disposeVariables,
  grad,
  grads,
  valueAndGrad,
  valueAndGrads,
  variableGrads,
  customGrad,
  type CustomGradientResult,
  type NamedTensorMap,
  type VariableGradients,
  type ValueAndGrad,
  type ValueAndGrads,
} from './ops/autodiff.js';
export type { TestValues } from './ops/test-util.js';
export type { Shuffleable } from './ops/util.js';
export type { VarianceScalingArgs, FanMode, Distribution } from './layers/initializers.js';
export { TfjsInitializer } from './layers/initializers.js';

// --- out of scope: refused by name ---------------------------------------------------------------------------

const OUT_OF_SCOPE = [
  'conv1d',
  'conv2d',
  'conv2dTranspose',
  'depthwiseConv2d',
  'separableConv2d',
  'maxPool',
  'avgPool',
  'pool',
  'batchNorm',
  'localResponseNormalization',
  'fft',
  'ifft',
  'rfft',
  'irfft',
  'unique',
  'unsortedSegmentSum',
  'mirrorPad',
  'spaceToBatchND',
  'batchToSpaceND',
  'depthToSpace',
  'complex',
  'loadGraphModel',
  'avgPool3d',
  'maxPool3d',
  'maxPoolWithArgmax',
  'conv3d',
  'conv3dTranspose',
  'dilation2d',
  'einsum',
  'basicLSTMCell',
  'multiRNNCell',
  'bincount',
  'denseBincount',
  'bitwiseAnd',
  'booleanMaskAsync',
  'whereAsync',
  'setdiff1dAsync',
  'inTopKAsync',
  'gatherND',
  'scatterND',
  'tensorScatterUpdate',
  'sparseToDense',
  'searchSorted',
  'lowerBound',
  'upperBound',
  'diag',
  'meshgrid',
  'randomGamma',
  'rand',
  'dropout',
  'movingAverage',
  'cosineWindow',
  'broadcastArgs',
  'real',
  'imag',
  'raggedGather',
  'raggedRange',
  'raggedTensorToTensor',
] as const;

function refuse(name: string, hint: string) {
  return (): never => {
    throw unsupported(`tf.${name}`, hint);
  };
}
const NO_OP = "kernelnet/tfjs has tfjs's tensor math (see docs/tfjs.md) but not this op; compute it with @tensorflow/tfjs itself";

/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call. */
export const conv1d = refuse('conv1d', NO_OP),
  conv2d = refuse('conv2d', NO_OP),
  conv2dTranspose = refuse('conv2dTranspose', NO_OP),
  depthwiseConv2d = refuse('depthwiseConv2d', NO_OP),
  separableConv2d = refuse('separableConv2d', NO_OP);
/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call. */
export const maxPool = refuse('maxPool', NO_OP),
  avgPool = refuse('avgPool', NO_OP),
  pool = refuse('pool', NO_OP),
  batchNorm = refuse('batchNorm', NO_OP),
  localResponseNormalization = refuse('localResponseNormalization', NO_OP);
/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call. */
export const fft = refuse('fft', NO_OP),
  ifft = refuse('ifft', NO_OP),
  rfft = refuse('rfft', NO_OP),
  irfft = refuse('irfft', NO_OP),
  unique = refuse('unique', NO_OP),
  unsortedSegmentSum = refuse('unsortedSegmentSum', NO_OP);
/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call. */
export const mirrorPad = refuse('mirrorPad', NO_OP),
  spaceToBatchND = refuse('spaceToBatchND', NO_OP),
  batchToSpaceND = refuse('batchToSpaceND', NO_OP),
  depthToSpace = refuse('depthToSpace', NO_OP),
  complex = refuse('complex', NO_OP);
/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call. */
export const avgPool3d = refuse('avgPool3d', NO_OP),
  maxPool3d = refuse('maxPool3d', NO_OP),
  maxPoolWithArgmax = refuse('maxPoolWithArgmax', NO_OP),
  conv3d = refuse('conv3d', NO_OP),
  conv3dTranspose = refuse('conv3dTranspose', NO_OP),
  dilation2d = refuse('dilation2d', NO_OP),
  einsum = refuse('einsum', NO_OP);
/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call. */
export const basicLSTMCell = refuse('basicLSTMCell', NO_OP),
  multiRNNCell = refuse('multiRNNCell', NO_OP),
  bincount = refuse('bincount', NO_OP),
  denseBincount = refuse('denseBincount', NO_OP),
  bitwiseAnd = refuse('bitwiseAnd', NO_OP),
  booleanMaskAsync = refuse('booleanMaskAsync', NO_OP),
  whereAsync = refuse('whereAsync', NO_OP);
/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call. */
export const setdiff1dAsync = refuse('setdiff1dAsync', NO_OP),
  inTopKAsync = refuse('inTopKAsync', NO_OP),
  gatherND = refuse('gatherND', NO_OP),
  scatterND = refuse('scatterND', NO_OP),
  tensorScatterUpdate = refuse('tensorScatterUpdate', NO_OP),
  sparseToDense = refuse('sparseToDense', NO_OP),
  searchSorted = refuse('searchSorted', NO_OP);
/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call. */
export const lowerBound = refuse('lowerBound', NO_OP),
  upperBound = refuse('upperBound', NO_OP),
  diag = refuse('diag', NO_OP),
  meshgrid = refuse('meshgrid', NO_OP),
  randomGamma = refuse('randomGamma', NO_OP),
  rand = refuse('rand', NO_OP);
/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call. */
export const dropout = refuse('dropout', NO_OP),
  movingAverage = refuse('movingAverage', NO_OP),
  cosineWindow = refuse('cosineWindow', NO_OP),
  broadcastArgs = refuse('broadcastArgs', NO_OP),
  real = refuse('real', NO_OP),
  imag = refuse('imag', NO_OP),
  raggedGather = refuse('raggedGather', NO_OP);
/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call. */
export const raggedRange = refuse('raggedRange', NO_OP),
  raggedTensorToTensor = refuse('raggedTensorToTensor', NO_OP);
/** Refused: throws a ValidationError (ERR_KERNELNET_UNSUPPORTED) naming the call. */
export const loadGraphModel = refuse('loadGraphModel', 'kernelnet loads layers models (tf.loadLayersModel), not graph models');
/** @internal The names above, for the test that each is refused. */
export const OUT_OF_SCOPE_NAMES: readonly string[] = OUT_OF_SCOPE;

// The namespace as the default export too: tfjs-node is CommonJS, so `import tf from '@tensorflow/tfjs-node'`
// works in Node, and the same line with 'kernelnet/tfjs' must as well.
import * as self from './tfjs.js';
/** The kernelnet/tfjs namespace itself, for `import tf from 'kernelnet/tfjs'`. */
// A member it does not have (tf.someOp) is refused by name, ERR_KERNELNET_UNSUPPORTED, instead of being undefined
// (the named imports cannot be guarded: an ES module namespace is fixed).
const tf: Omit<typeof self, 'default'> = strict('tf', self);
export default tf;
