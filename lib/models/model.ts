// Sequential: a stack of layers, and the API users train it with (Keras's and tfjs's names): build it with add,
// compile it, fit, evaluate, predict, save and load it. The engine that runs it is Network (network.ts); the
// training loop is training.ts.
import { DeviceError, ValidationError, stateError } from '../core/errors.js';
import { Layer, readParams, writeParams } from '../layers/layers.js';
import { Network } from '../engine/network.js';
import { loadModelAs, loadWeights, save, saveWeights } from '../io/serialization.js';
import { Tensor, handleOf } from '../core/tensor.js';
import {
  drain,
  drainAsync,
  evaluateDataset,
  evaluation,
  fit,
  fitDataset,
  predictDataset,
  prediction,
  trainOnBatch,
  type EvaluateArgs,
  type FitArgs,
  type FitDatasetArgs,
  type History,
  type PredictArgs,
} from '../engine/training.js';
import { checkOptions, describe, fail } from '../core/validate.js';
import { isDataset, type Dataset } from '../data/data.js';

export type { EvaluateArgs, FitArgs, History, Logs, PredictArgs } from '../engine/training.js';
export type { CompileArgs } from '../engine/network.js';

/** The options of new Sequential(...) (tfjs's tf.sequential config). */
export interface SequentialArgs {
  /** Layers to add(), in order; the first needs an inputShape. */
  layers?: Layer[];
  /** The model's name (default 'sequential'), shown in summary() and error messages. */
  name?: string;
  /** Seed of every random stream of the model (uint32); random when omitted. */
  seed?: number;
  /**
   * Where the model's weights and buffers live and its ops run: 'cpu', or 'cuda' / 'cuda:0'. Default: the
   * environment's backend (CUDA when a GPU answers, else the CPU; KERNELNET_BACKEND forces one).
   */
  device?: string;
}

const SEQUENTIAL_SCHEMA = { what: 'Sequential args', supported: ['layers', 'name', 'seed', 'device'] };

/**
 * A linear stack of layers (Keras's and tfjs's Sequential): add layers, compile, then fit, evaluate, predict, and
 * save or load it.
 */
export class Sequential extends Network {
  private readonly nameCounts = new Map<string, number>();

  constructor(args: SequentialArgs = {}) {
    const own = checkOptions(args, SEQUENTIAL_SCHEMA);
    super(own, 'sequential');
    if (own.layers !== undefined && !Array.isArray(own.layers)) fail('an array of layers', 'layers', own.layers);
    for (const layer of own.layers ?? []) this.add(layer);
  }

  /**
   * Appends a layer and builds it for the previous layer's output shape (the first layer needs an inputShape); not
   * allowed after compile(). An unnamed layer gets Keras's name (conv2d, conv2d_1, ...); a layer already in another
   * model is shared with it, weights and all.
   */
  add(layer: Layer): void {
    this.alive('add');
    if (!(layer instanceof Layer)) fail('a Layer', 'layer', layer);
    if (layer.models.has(this)) throw new ValidationError(`${this.name}.add: layer ${layer.name} is already in this model`);
    if (this.optimizer) throw stateError(`${this.name}.add: cannot add layers after compile(); add every layer, then compile`);
    const prev = this.layers.at(-1);
    // A layer already in another model is shared, as in Keras: the same weights, trained by either model. It
    // keeps the input shape it was built for.
    const shared = layer.models.size > 0;
    const input = prev ? prev.outputShape : shared ? layer.inputShape : layer.inputShapeArg;
    if (!input)
      throw new ValidationError(
        `The first layer of a Sequential model needs an inputShape, e.g. new ${layer.className}({ ..., inputShape: [28, 28, 1] })`,
      );
    if (shared && input.join() !== layer.inputShape.join())
      throw new ValidationError(
        `${this.name}.add: the shared layer ${layer.name} was built for inputs of shape [${layer.inputShape.join(', ')}] ` +
          `but here gets [${input.join(', ')}]`,
        'ERR_KERNELNET_SHAPE',
      );
    if (shared && layer.params.length && layer.params[0].value.device !== this.device)
      throw new DeviceError(
        `${this.name}.add: the shared layer ${layer.name}'s weights live on ${layer.params[0].value.device} but ${this.name} on ${this.device}`,
      );
    if (!layer.name) {
      const base = layer.className
        .replace(/([a-z])([A-Z])/g, '$1_$2')
        .replace(/([0-9])D$/, '$1d')
        .toLowerCase();
      for (;;) {
        // Keras's rule: unique names within a model (a shared layer may hold one already)
        const n = this.nameCounts.get(base) ?? 0;
        this.nameCounts.set(base, n + 1);
        layer.name = n ? `${base}_${n}` : base;
        if (!this.layers.some(l => l.name === layer.name)) break;
      }
    } else if (this.layers.some(l => l.name === layer.name)) {
      throw new ValidationError(
        `${this.name}.add: a layer named '${layer.name}' is already in this model; layer names must be unique within a model (as in Keras)`,
      );
    }
    if (!shared) layer.build(input);
    layer.models.add(this);
    this.layers.push(layer);
    if (this.params.length) {
      // weights made by predict or getWeights before compile: the new layer's are made now
      this.disposeWorkspaces();
      this.params = [];
      this.allocateParams(); // keeps the layers' existing weights, initialises the new layer's as compile would have
    }
  }

  /** Keras's summary table; printed with printFn (default console.log) and returned. */
  summary(printFn: (line: string) => void = console.log): string {
    this.alive('summary');
    if (typeof printFn !== 'function') fail('a function', 'printFn', printFn);
    this.requireLayers();
    // Keras's column widths, each widened to its longest entry (plus a space) so that long names stay aligned.
    const cells = this.layers.map(l => [`${l.name} (${l.className})`, `(None, ${l.outputShape.join(', ')})`, String(l.countParams())]);
    const cols = [29, 26, 10].map((w, c) => Math.max(w, ...cells.map(r => r[c].length + 1)));
    const width = cols[0] + cols[1] + cols[2];
    const row = (a: string, b: string, c: string) => (a.padEnd(cols[0]) + b.padEnd(cols[1]) + c.padEnd(cols[2])).trimEnd();
    const lines = [`Model: "${this.name}"`, '_'.repeat(width), row('Layer (type)', 'Output Shape', 'Param #'), '='.repeat(width)];
    cells.forEach(([a, b, c], i) => {
      lines.push(row(a, b, c));
      lines.push(i === cells.length - 1 ? '='.repeat(width) : '_'.repeat(width));
    });
    const total = this.countParams().toLocaleString('en-US');
    const trainable = this.layers.reduce((n, l) => n + (l.trainable ? l.countParams(true) : 0), 0);
    const fmt = (n: number) => n.toLocaleString('en-US');
    lines.push(
      `Total params: ${total}`,
      `Trainable params: ${fmt(trainable)}`,
      `Non-trainable params: ${fmt(this.countParams() - trainable)}`,
      '_'.repeat(width),
    );
    const text = lines.join('\n');
    printFn(text);
    return text;
  }

  /**
   * Trains the model (Keras's fit): lib/engine/training.ts runs the loop. Returns the History of every epoch's logs. With
   * a Dataset in place of x and y (Keras's fit(dataset)), one step per batch it yields.
   */
  fit(x: Tensor, y: Tensor, args?: FitArgs): Promise<History>;
  fit(dataset: Dataset, args?: FitDatasetArgs): Promise<History>;
  fit(x: Tensor | Dataset, y?: Tensor | FitDatasetArgs, args?: FitArgs): Promise<History> {
    if (isDataset(x)) {
      if (y instanceof Tensor)
        return Promise.reject(new ValidationError('fit: with a dataset, pass no y (the dataset yields the targets): fit(dataset, options)'));
      if (args !== undefined) return Promise.reject(datasetOptionsSecond('fit'));
      return fitDataset(this, x, (y ?? {}) as FitDatasetArgs);
    }
    return fit(this, x, y as Tensor, args ?? {});
  }

  /** tfjs's fitDataset(dataset, args): fit on a Dataset. */
  fitDataset(dataset: Dataset, args: FitDatasetArgs = {}): Promise<History> {
    if (!isDataset(dataset)) return Promise.reject(new ValidationError(`fitDataset: expected a Dataset but received ${describe(dataset)}`));
    return fitDataset(this, dataset, args);
  }

  /** One training step on exactly this batch: its loss, or [loss, ...metrics] when compiled with metrics (tfjs's trainOnBatch). */
  trainOnBatch(x: Tensor, y: Tensor): Promise<number | number[]> {
    return trainOnBatch(this, x, y);
  }

  /** Class probabilities for x as one batch (tfjs's predictOnBatch). */
  predictOnBatch(x: Tensor): Tensor {
    return this.predict(x, { batchSize: Math.max(1, handleOf(x, 'x').shape[0] ?? 1) });
  }

  /**
   * The loss and metrics over (x, y), as Keras's evaluate: [loss, ...metrics in compile's order]. Synchronous, as in
   * Keras and tfjs;
   * evaluateAsync does the same work and lets the event loop run between batches.
   */
  evaluate(x: Tensor, y: Tensor, args?: EvaluateArgs): number[];
  /** Over a Dataset's batches (asynchronous: the batches may come from disk). */
  evaluate(dataset: Dataset, args?: { verbose?: 0 | 1 }): Promise<number[]>;
  evaluate(x: Tensor | Dataset, y?: Tensor | { verbose?: 0 | 1 }, args?: EvaluateArgs): number[] | Promise<number[]> {
    if (isDataset(x)) {
      if (y instanceof Tensor)
        return Promise.reject(
          new ValidationError('evaluate: with a dataset, pass no y (the dataset yields the targets): evaluate(dataset, options)'),
        );
      if (args !== undefined) return Promise.reject(datasetOptionsSecond('evaluate'));
      return evaluateDataset(this, x, (y ?? {}) as { verbose?: 0 | 1 });
    }
    return drain(evaluation(this, x, y as Tensor, args ?? {}));
  }

  /** tfjs's evaluateDataset: evaluate over a Dataset. */
  evaluateDataset(dataset: Dataset, args: { verbose?: 0 | 1 } = {}): Promise<number[]> {
    return evaluateDataset(this, dataset, args);
  }

  /** evaluate(), yielding to the event loop after every batch: a server stays responsive while it runs. */
  evaluateAsync(x: Tensor, y: Tensor, args: EvaluateArgs = {}): Promise<number[]> {
    return drainAsync(evaluation(this, x, y, args));
  }

  /** Class probabilities for each example of x: a float32 tensor [N, classes]. Synchronous; see predictAsync. */
  predict(x: Tensor, args?: PredictArgs): Tensor;
  /** Over a Dataset's batches (their targets unused): asynchronous, one [N, outputs] tensor. */
  predict(dataset: Dataset): Promise<Tensor>;
  predict(x: Tensor | Dataset, args?: PredictArgs): Tensor | Promise<Tensor> {
    if (isDataset(x)) {
      // Nothing predict's options set applies to a dataset (its batches are the dataset's): refused, not ignored.
      if (args !== undefined)
        return Promise.reject(new ValidationError("predict: a dataset takes no options (its batches are the dataset's): predict(dataset)"));
      return predictDataset(this, x);
    }
    return drain(prediction(this, x, args ?? {}));
  }

  /** predict(), yielding to the event loop after every batch. */
  predictAsync(x: Tensor, args: PredictArgs = {}): Promise<Tensor> {
    return drainAsync(prediction(this, x, args));
  }

  /** Copies of every parameter, in layer order (kernel then bias). */
  getWeights(): Tensor[] {
    this.alive('getWeights');
    return readParams(this.requireParams('getWeights'));
  }

  /** Sets every parameter, in getWeights()'s order; every tensor is checked before any is written. */
  setWeights(weights: Tensor[]): void {
    this.alive('setWeights');
    writeParams(this.requireParams('setWeights'), weights);
  }

  /** A layer by name, or by index (tfjs's getLayer(name?, index?)). */
  getLayer(name?: string, index?: number): Layer {
    this.alive('getLayer');
    if (name !== undefined) {
      const layer = this.layers.find(l => l.name === name);
      if (!layer) fail(`one of the layer names ${this.layers.map(l => `'${l.name}'`).join(', ')}`, 'name', name);
      return layer;
    }
    if (index === undefined) throw new ValidationError(`${this.name}.getLayer: pass a layer name or an index`);
    if (!Number.isInteger(index) || index < 0 || index >= this.layers.length) fail(`an index in [0, ${this.layers.length})`, 'index', index);
    return this.layers[index];
  }

  /**
   * Saves the parameters to a safetensors file (tensor names "<layer>/<param>"), atomically: a crash while
   * saving leaves the previous file intact.
   */
  saveWeights(path: string): void {
    saveWeights(this, path);
  }

  /** Loads parameters saved by saveWeights or save; refuses a file that does not match, changing nothing. */
  loadWeights(path: string): void {
    loadWeights(this, path);
  }

  /**
   * Saves everything needed to resume training exactly: architecture, compile settings, parameters, optimizer
   * state, and the step, epoch and seed that drive dropout and shuffling. Atomic, like saveWeights.
   */
  save(path: string): void {
    save(this, path);
  }
}
/**
 * Loads a model saved by `model.save(path)`, compiled and ready to predict or to resume training exactly, on
 * options.device (default: the environment's backend).
 */
export function loadModel(path: string, options?: { device?: string }): Sequential {
  options = checkOptions(options, { what: 'loadModel options', supported: ['device'] });
  return loadModelAs(Sequential, path, options?.device);
}

/** fit(dataset, undefined, options) would otherwise drop the options: with a dataset they are the second argument. */
function datasetOptionsSecond(method: string): ValidationError {
  return new ValidationError(`${method}: with a dataset, options are the second argument: ${method}(dataset, options)`);
}
