// Datasets: batches that fit(), evaluate() and predict() take in place of whole tensors, so that data larger than
// memory streams (Keras's fit(dataset), tfjs's fitDataset). A Dataset makes a fresh pass of batches each time it
// is iterated (each epoch), on the device the consumer asks for; fit disposes every batch after its step, so
// memory holds only the batches in flight (the current one and what the source prefetches).
//
//   Dataset.fromTensors(x, y, { batchSize, shuffle, seed })   slices of tensors already in memory
//   Dataset.fromGenerator(() => batches)                      a function returning a (sync or async) iterable of
//                                                             { xs, ys } batches (tfjs's shape) or [x, y] pairs
//   imageDatasetFromDirectory(dir, options)                   lib/data/images.ts: image files, decoded by sharp
import { ValidationError } from '../core/errors.js';
import { native, type Device } from '../core/native.js';
import { Tensor, empty, handleOf } from '../core/tensor.js';
import { checkOptions, fail, positiveInt } from '../core/validate.js';

/** A batch's inputs or targets: one tensor, or for a model with several an array in order or an object keyed by name. */
export type BatchTensors = Tensor | Tensor[] | Record<string, Tensor>;

/** One batch of a model with several inputs or outputs: each side a tensor, an array in order, or an object keyed by name. */
export interface MultiBatch {
  /** The inputs, one row per example (several inputs: an array, or an object keyed by input name). */
  xs: BatchTensors;
  /** The targets, one row per example (several outputs likewise); optional for predict, which ignores them. */
  ys?: BatchTensors;
}

/** One batch: inputs and, for training and evaluation, targets (tfjs's { xs, ys }). */
export interface Batch extends MultiBatch {
  /** The inputs, one row per example. */
  xs: Tensor;
  /** The targets, one row per example; optional for predict, which ignores them. */
  ys?: Tensor;
}

/** What a generator may yield: tfjs's { xs, ys } or Keras's [x, y] (or [x] / a lone tensor for predict). */
export type BatchLike = MultiBatch | [BatchTensors, BatchTensors?] | Tensor;

/** Whether v is a tensor, or an array or a plain object of them (non-empty). */
function isTensors(v: unknown): v is BatchTensors {
  if (v instanceof Tensor) return true;
  const items = Array.isArray(v) ? v : v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype ? Object.values(v) : null;
  return !!items && items.length > 0 && items.every(t => t instanceof Tensor);
}

/** The tensors of a batch's xs or ys, in order. */
function tensorList(v: BatchTensors): Tensor[] {
  return v instanceof Tensor ? [v] : Array.isArray(v) ? v : Object.values(v);
}

/** The batches of one pass, made on `device` where the source makes tensors itself (undefined: its default). */
type Source = (device: Device | undefined) => AsyncIterable<BatchLike> | Iterable<BatchLike>;

/** The options of Dataset.fromTensors. */
export interface FromTensorsOptions {
  /** Rows per batch (default 32); the last batch may be smaller. */
  batchSize?: number;
  /** A new order every pass (default false). */
  shuffle?: boolean;
  /** The shuffle's seed (default: a random one per dataset). */
  seed?: number;
}

function asBatch(v: BatchLike, where: string): MultiBatch {
  if (v instanceof Tensor) return { xs: v };
  if (Array.isArray(v)) {
    if (!isTensors(v[0]) || (v[1] !== undefined && !isTensors(v[1]))) fail('[x, y] tensors', where, v);
    return { xs: v[0], ys: v[1] };
  }
  if (v === null || typeof v !== 'object' || !isTensors(v.xs) || (v.ys !== undefined && !isTensors(v.ys)))
    fail('a batch: { xs, ys } tensors (or arrays or objects of them, one per input or output) or [x, y]', where, v);
  return v;
}

/** @internal Frees a batch's tensors. */
export function disposeBatch(b: MultiBatch): void {
  for (const t of [...tensorList(b.xs), ...(b.ys ? tensorList(b.ys) : [])]) t.dispose();
}

/**
 * Batches that fit, evaluate and predict take in place of whole tensors (Keras's fit(dataset), tfjs's
 * fitDataset), made afresh on each pass (epoch), so that data larger than memory streams. `B` is the batches'
 * type: Batch (one tensor each side) for Dataset.fromTensors of tensors and image folders.
 */
export class Dataset<B extends MultiBatch = MultiBatch> {
  /**
   * Batches per pass when known (fromTensors, image folders), else null (a generator: counted after a pass).
   */
  readonly batches: number | null;
  /** @internal */
  readonly source: Source;

  /** @internal Use Dataset.fromTensors, Dataset.fromGenerator or imageDatasetFromDirectory. */
  constructor(source: Source, batches: number | null) {
    this.source = source;
    this.batches = batches;
  }

  /**
   * Batches of rows of x (and y) as they are in memory (Keras's Dataset.from_tensor_slices(...).batch(n)): each
   * batch is a copy made on the tensors' device, which its consumer disposes.
   */
  static fromTensors(x: Tensor, y?: Tensor, options?: FromTensorsOptions): Dataset<Batch>;
  /** Several inputs or outputs: arrays in order, or objects keyed by name; each batch has the same structure. */
  static fromTensors(x: BatchTensors, y?: BatchTensors, options?: FromTensorsOptions): Dataset;
  static fromTensors(x: BatchTensors, y?: BatchTensors, options: FromTensorsOptions = {}): Dataset {
    options = checkOptions(options, { what: 'Dataset.fromTensors options', supported: ['batchSize', 'shuffle', 'seed'] });
    if (!isTensors(x)) fail('a tensor, or an array or object of tensors (one per input)', 'x', x);
    if (y !== undefined && !isTensors(y)) fail('a tensor, or an array or object of tensors (one per output)', 'y', y);
    const all = [...tensorList(x), ...(y === undefined ? [] : tensorList(y))];
    const handles = all.map((t, i) => handleOf(t, i < tensorList(x).length ? 'x' : 'y'));
    const X = handles[0];
    const n = X.shape[0];
    if (!X.shape.length || !n)
      throw new ValidationError(`Dataset.fromTensors: expected x with at least one row but received shape [${X.shape}]`, 'ERR_KERNELNET_SHAPE');
    const other = handles.find(h => h.shape[0] !== n || h.device !== X.device);
    if (other)
      throw new ValidationError(
        `Dataset.fromTensors: x has ${n} rows on ${X.device}, another tensor ${other.shape[0]} on ${other.device}`,
        'ERR_KERNELNET_SHAPE',
      );
    const batchSize = positiveInt(options.batchSize ?? 32, 'batchSize');
    const shuffle = options.shuffle ?? false;
    if (typeof shuffle !== 'boolean') fail('a boolean', 'shuffle', shuffle);
    const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
    if (!Number.isInteger(seed) || seed < 0) fail('a non-negative integer', 'seed', seed);
    let pass = 0;
    return new Dataset(
      function* () {
        if (all.some(t => t.isDisposed)) throw new ValidationError('Dataset.fromTensors: its tensors were disposed', 'ERR_KERNELNET_DISPOSED');
        const order = new native.Tensor(
          [n],
          'int32',
          Int32Array.from({ length: n }, (_, i) => i),
          X.device,
        );
        try {
          if (shuffle) native.permutation(order, seed, pass);
          pass++;
          for (let start = 0; start < n; start += batchSize) {
            const rows = Math.min(batchSize, n - start);
            const take = (t: Tensor) => {
              const src = handleOf(t, 'x');
              const out = empty([rows, ...src.shape.slice(1)], src.dtype, src.device);
              native.gatherRows(src, order, start, out);
              return new Tensor(out);
            };
            // the same structure as given: a tensor, an array, or an object keyed by name
            const slice = (v: BatchTensors): BatchTensors =>
              v instanceof Tensor ? take(v) : Array.isArray(v) ? v.map(take) : Object.fromEntries(Object.entries(v).map(([k, t]) => [k, take(t)]));
            yield { xs: slice(x), ys: y === undefined ? undefined : slice(y) };
          }
        } finally {
          order.dispose();
        }
      },
      Math.ceil(n / batchSize),
    );
  }

  /**
   * Batches from a function returning an iterable or async iterable of them (an async generator function, for
   * data read from disk or the network), called once per pass: tfjs's tf.data.generator over batches. Each batch
   * is { xs, ys } or [x, y]; the consumer disposes it after use.
   */
  static fromGenerator<B extends MultiBatch = Batch>(fn: () => AsyncIterable<BatchLike> | Iterable<BatchLike>): Dataset<B> {
    if (typeof fn !== 'function') fail('a function returning an iterable of batches', 'fn', fn);
    return new Dataset<B>(() => {
      const it = fn();
      if (it === null || typeof it !== 'object' || !(Symbol.asyncIterator in it || Symbol.iterator in it))
        fail('an iterable or async iterable of batches', 'what the generator function returned', it);
      return it;
    }, null);
  }

  /** @internal One pass of batches, checked, made on `device` where the source makes them. */
  async *pass(device?: Device): AsyncGenerator<B> {
    let i = 0;
    for await (const b of this.source(device)) yield asBatch(b, `batch ${i++}`) as B;
  }

  /** One pass of batches on their own device (for inspection; the caller disposes them). */
  [Symbol.asyncIterator](): AsyncIterator<B> {
    return this.pass()[Symbol.asyncIterator]();
  }
}

/** Whether a value is a dataset fit/evaluate/predict take in place of tensors. */
export function isDataset(v: unknown): v is Dataset {
  return v instanceof Dataset;
}
