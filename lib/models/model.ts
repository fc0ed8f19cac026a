// LayersModel: the API users train a model with (Keras's and tfjs's names): compile it, fit, evaluate, predict,
// save and load it; Sequential, a stack of layers built with add; the functional Model is lib/models/functional.ts.
// The engine that runs them is Network (network.ts); the training loop is training.ts.
import { DeviceError, ValidationError, stateError } from '../core/errors.js';
import { Layer, defaultLayerName, readParams, writeParams } from '../layers/layers.js';
import { Network } from '../engine/network.js';
import { Merge } from '../layers/merge.js';
import { loadWeights, save, saveWeights } from '../io/serialization.js';
import { exportOptions, onnxModel, type ExportArgs } from '../io/onnx.js';
import { writeAtomic } from '../io/checkpoint.js';
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
  type ModelData,
  type PredictArgs,
} from '../engine/training.js';
import { checkOptions, describe, fail } from '../core/validate.js';
import { isDataset, type Dataset } from '../data/data.js';

export type { EvaluateArgs, FitArgs, History, Logs, ModelData, PredictArgs } from '../engine/training.js';
export type { CompileArgs } from '../engine/network.js';
export type { ExportArgs } from '../io/onnx.js';

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
 * What every model has (tfjs's LayersModel, Keras's Model): compile, fit, evaluate, predict, and save or load it.
 * Sequential and the functional Model are LayersModels.
 */
export abstract class LayersModel extends Network {
  /** @internal */
  protected constructor(args: { name?: string; seed?: number; device?: string }, defaultName: string) {
    super(args, defaultName);
  }

  /** Keras's summary table; printed with printFn (default console.log) and returned. */
  summary(printFn: (line: string) => void = console.log): string {
    return this.summaryTable(printFn);
  }

  /** @internal The summary table, with a graph's rows (and its "Connected to" column) when given. */
  protected summaryTable(printFn: (line: string) => void, rows?: string[][]): string {
    this.alive('summary');
    if (typeof printFn !== 'function') fail('a function', 'printFn', printFn);
    this.requireLayers();
    // Keras's column widths, each widened to its longest entry (plus a space) so that long names stay aligned; a
    // graph's rows (rows given) have a fourth, "Connected to".
    const cells = rows ?? this.layers.map(l => [`${l.name} (${l.className})`, `(None, ${l.outputShape.join(', ')})`, String(l.countParams())]);
    const heads = ['Layer (type)', 'Output Shape', 'Param #', ...(rows ? ['Connected to'] : [])];
    const cols = [29, 26, 10, 20].slice(0, heads.length).map((w, c) => Math.max(w, ...cells.map(r => r[c].length + 1)));
    const width = cols.reduce((a, b) => a + b, 0);
    const row = (r: string[]) =>
      r
        .map((cell, c) => cell.padEnd(cols[c]))
        .join('')
        .trimEnd();
    const lines = [`Model: "${this.name}"`, '_'.repeat(width), row(heads), '='.repeat(width)];
    cells.forEach((r, i) => {
      lines.push(row(r));
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
  fit(x: ModelData, y: ModelData, args?: FitArgs): Promise<History>;
  fit(dataset: Dataset, args?: FitDatasetArgs): Promise<History>;
  fit(x: ModelData | Dataset, y?: ModelData | FitDatasetArgs, args?: FitArgs): Promise<History> {
    if (isDataset(x)) {
      if (y instanceof Tensor || Array.isArray(y))
        return Promise.reject(new ValidationError('fit: with a dataset, pass no y (the dataset yields the targets): fit(dataset, options)'));
      if (args !== undefined) return Promise.reject(datasetOptionsSecond('fit'));
      return fitDataset(this, x, (y ?? {}) as FitDatasetArgs);
    }
    return fit(this, x, y as ModelData, args ?? {});
  }

  /** tfjs's fitDataset(dataset, args): fit on a Dataset. */
  fitDataset(dataset: Dataset, args: FitDatasetArgs = {}): Promise<History> {
    if (!isDataset(dataset)) return Promise.reject(new ValidationError(`fitDataset: expected a Dataset but received ${describe(dataset)}`));
    return fitDataset(this, dataset, args);
  }

  /** One training step on exactly this batch: its loss, or [loss, ...metrics] when compiled with metrics (tfjs's trainOnBatch). */
  trainOnBatch(x: ModelData, y: ModelData): Promise<number | number[]> {
    return trainOnBatch(this, x, y);
  }

  /** The outputs for x as one batch (tfjs's predictOnBatch). */
  predictOnBatch(x: ModelData): Tensor | Tensor[] {
    const first = this.dataList(x, 'input', 'x').list[0];
    return this.predict(x, { batchSize: Math.max(1, handleOf(first, 'x').shape[0] ?? 1) });
  }

  /**
   * The loss and metrics over (x, y), as Keras's evaluate: [loss, ...metrics in compile's order]. Synchronous, as in
   * Keras and tfjs;
   * evaluateAsync does the same work and lets the event loop run between batches.
   */
  evaluate(x: ModelData, y: ModelData, args?: EvaluateArgs): number[];
  /** Over a Dataset's batches (asynchronous: the batches may come from disk). */
  evaluate(dataset: Dataset, args?: { verbose?: 0 | 1 }): Promise<number[]>;
  evaluate(x: ModelData | Dataset, y?: ModelData | { verbose?: 0 | 1 }, args?: EvaluateArgs): number[] | Promise<number[]> {
    if (isDataset(x)) {
      if (y instanceof Tensor || Array.isArray(y))
        return Promise.reject(
          new ValidationError('evaluate: with a dataset, pass no y (the dataset yields the targets): evaluate(dataset, options)'),
        );
      if (args !== undefined) return Promise.reject(datasetOptionsSecond('evaluate'));
      return evaluateDataset(this, x, (y ?? {}) as { verbose?: 0 | 1 });
    }
    return drain(evaluation(this, x, y as ModelData, args ?? {}));
  }

  /** tfjs's evaluateDataset: evaluate over a Dataset. */
  evaluateDataset(dataset: Dataset, args: { verbose?: 0 | 1 } = {}): Promise<number[]> {
    return evaluateDataset(this, dataset, args);
  }

  /** evaluate(), yielding to the event loop after every batch: a server stays responsive while it runs. */
  evaluateAsync(x: ModelData, y: ModelData, args: EvaluateArgs = {}): Promise<number[]> {
    return drainAsync(evaluation(this, x, y, args));
  }

  /**
   * The outputs for each example of x (class probabilities for a classifier): a float32 tensor [N, ...outputShape],
   * or for a model with several outputs an array of them in output order (as tfjs). Synchronous; see predictAsync.
   */
  predict(x: ModelData, args?: PredictArgs): Tensor | Tensor[];
  /** Over a Dataset's batches (their targets unused): asynchronous, one [N, outputs] tensor. */
  predict(dataset: Dataset): Promise<Tensor | Tensor[]>;
  predict(x: ModelData | Dataset, args?: PredictArgs): Tensor | Tensor[] | Promise<Tensor | Tensor[]> {
    if (isDataset(x)) {
      // Nothing predict's options set applies to a dataset (its batches are the dataset's): refused, not ignored.
      if (args !== undefined)
        return Promise.reject(new ValidationError("predict: a dataset takes no options (its batches are the dataset's): predict(dataset)"));
      return predictDataset(this, x);
    }
    return drain(prediction(this, x, args ?? {}));
  }

  /** predict(), yielding to the event loop after every batch. */
  predictAsync(x: ModelData, args: PredictArgs = {}): Promise<Tensor | Tensor[]> {
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

  /**
   * Writes the model for inference elsewhere (Keras 3's export): `export('model.onnx', { format: 'onnx' })` writes an
   * ONNX model (default operator set 17) that onnxruntime, and any ONNX runtime, runs on the same NHWC inputs as
   * predict(), returning what predict() returns. Atomic, like save. A layer with no ONNX form is refused, by name.
   */
  export(path: string, args: ExportArgs): void {
    const { opset, verbose } = exportOptions(args);
    const bytes = onnxModel(this, opset);
    writeAtomic(path, [bytes]);
    if (verbose)
      console.log(
        `Saved ${this.name} as ONNX (opset ${opset}) at '${path}': inputs ${this.inputNames.map((n, k) => `${n} [batch, ${this.inputShapes[k].join(', ')}]`).join(', ')}; ` +
          `outputs ${this.outputNames.join(', ')}`,
      );
  }
}
/**
 * A linear stack of layers (Keras's and tfjs's Sequential): add layers, compile, then fit, evaluate, predict, and
 * save or load it.
 */
export class Sequential extends LayersModel {
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
    if (layer instanceof Merge)
      throw new ValidationError(
        `${this.name}.add: ${layer.className} merges several inputs, which a Sequential model does not have; build a functional model (input(), layer.apply(), model())`,
      );
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
      const base = defaultLayerName(layer.className);
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
    this.layersChanged();
    if (this.params.length) {
      // weights made by predict or getWeights before compile: the new layer's are made now
      this.disposeWorkspaces();
      this.params = [];
      this.allocateParams(); // keeps the layers' existing weights, initialises the new layer's as compile would have
    }
  }

  /** The outputs for each example of x: a float32 tensor [N, ...outputShape] (class probabilities for a classifier). */
  override predict(x: Tensor, args?: PredictArgs): Tensor;
  override predict(dataset: Dataset): Promise<Tensor>;
  override predict(x: Tensor | Dataset, args?: PredictArgs): Tensor | Promise<Tensor> {
    return super.predict(x as Tensor, args) as Tensor | Promise<Tensor>;
  }

  /** predict(), yielding to the event loop after every batch. */
  override predictAsync(x: Tensor, args: PredictArgs = {}): Promise<Tensor> {
    return super.predictAsync(x, args) as Promise<Tensor>;
  }

  /** Class probabilities for x as one batch (tfjs's predictOnBatch). */
  override predictOnBatch(x: Tensor): Tensor {
    return super.predictOnBatch(x) as Tensor;
  }
}

/** fit(dataset, undefined, options) would otherwise drop the options: with a dataset they are the second argument. */
function datasetOptionsSecond(method: string): ValidationError {
  return new ValidationError(`${method}: with a dataset, options are the second argument: ${method}(dataset, options)`);
}
