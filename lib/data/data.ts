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

/** One batch: inputs and, for training and evaluation, targets (tfjs's { xs, ys }). */
export interface Batch {
  /** The inputs, one row per example. */
  xs: Tensor;
  /** The targets, one row per example; optional for predict, which ignores them. */
  ys?: Tensor;
}

/** What a generator may yield: tfjs's { xs, ys } or Keras's [x, y] (or [x] / a lone tensor for predict). */
export type BatchLike = Batch | [Tensor, Tensor?] | Tensor;

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

function asBatch(v: BatchLike, where: string): Batch {
  if (v instanceof Tensor) return { xs: v };
  if (Array.isArray(v)) {
    if (!(v[0] instanceof Tensor) || (v[1] !== undefined && !(v[1] instanceof Tensor))) fail('[x, y] tensors', where, v);
    return { xs: v[0], ys: v[1] };
  }
  if (v === null || typeof v !== 'object' || !(v.xs instanceof Tensor) || (v.ys !== undefined && !(v.ys instanceof Tensor)))
    fail('a batch: { xs, ys } tensors or [x, y]', where, v);
  return v;
}

/**
 * Batches that fit, evaluate and predict take in place of whole tensors (Keras's fit(dataset), tfjs's
 * fitDataset), made afresh on each pass (epoch), so that data larger than memory streams.
 */
export class Dataset {
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
  static fromTensors(x: Tensor, y?: Tensor, options: FromTensorsOptions = {}): Dataset {
    options = checkOptions(options, { what: 'Dataset.fromTensors options', supported: ['batchSize', 'shuffle', 'seed'] });
    const X = handleOf(x, 'x'),
      Y = y === undefined ? null : handleOf(y, 'y');
    const n = X.shape[0];
    if (!X.shape.length || !n)
      throw new ValidationError(`Dataset.fromTensors: expected x with at least one row but received shape [${X.shape}]`, 'ERR_KERNELNET_SHAPE');
    if (Y && (Y.shape[0] !== n || Y.device !== X.device))
      throw new ValidationError(`Dataset.fromTensors: x has ${n} rows on ${X.device}, y ${Y.shape[0]} on ${Y.device}`, 'ERR_KERNELNET_SHAPE');
    const batchSize = positiveInt(options.batchSize ?? 32, 'batchSize');
    const shuffle = options.shuffle ?? false;
    if (typeof shuffle !== 'boolean') fail('a boolean', 'shuffle', shuffle);
    const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
    if (!Number.isInteger(seed) || seed < 0) fail('a non-negative integer', 'seed', seed);
    let pass = 0;
    return new Dataset(
      function* () {
        if (x.isDisposed || y?.isDisposed) throw new ValidationError('Dataset.fromTensors: its tensors were disposed', 'ERR_KERNELNET_DISPOSED');
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
            const take = (src: typeof X) => {
              const out = empty([rows, ...src.shape.slice(1)], src.dtype, src.device);
              native.gatherRows(src, order, start, out);
              return new Tensor(out);
            };
            yield { xs: take(X), ys: Y ? take(Y) : undefined };
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
  static fromGenerator(fn: () => AsyncIterable<BatchLike> | Iterable<BatchLike>): Dataset {
    if (typeof fn !== 'function') fail('a function returning an iterable of batches', 'fn', fn);
    return new Dataset(() => {
      const it = fn();
      if (it === null || typeof it !== 'object' || !(Symbol.asyncIterator in it || Symbol.iterator in it))
        fail('an iterable or async iterable of batches', 'what the generator function returned', it);
      return it;
    }, null);
  }

  /** @internal One pass of batches, checked, made on `device` where the source makes them. */
  async *pass(device?: Device): AsyncGenerator<Batch> {
    let i = 0;
    for await (const b of this.source(device)) yield asBatch(b, `batch ${i++}`);
  }

  /** One pass of batches on their own device (for inspection; the caller disposes them). */
  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    return this.pass()[Symbol.asyncIterator]();
  }
}

/** Whether a value is a dataset fit/evaluate/predict take in place of tensors. */
export function isDataset(v: unknown): v is Dataset {
  return v instanceof Dataset;
}
