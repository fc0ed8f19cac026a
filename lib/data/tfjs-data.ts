// tf.data for kernelnet/tfjs: tfjs-data's datasets (@tensorflow/tfjs-data 4.22's dataset.ts, lazy_iterator.ts,
// csv_dataset.ts) with its element structures, sizes and memory behaviour, made of kernelnet tensors:
//
//   array(items), generator(fn), csv('file://path', config), zip(datasets)        sources
//   map, mapAsync, filter, batch, shuffle, take, skip, repeat, prefetch, concatenate  transformations
//   forEachAsync, toArray, iterator()                                               consumption
//
// Each iteration (iterator()) is a fresh pass. As in tfjs-data, a transformation owns the tensors of the elements
// it receives: map and mapAsync dispose the input tensors their output does not contain (map's transform runs in
// tidy), filter and skip dispose what they drop, batch disposes the elements it stacks, forEachAsync disposes each
// element after f; array() yields clones of its tensors (the array keeps its own), and what toArray() and
// iterator() hand out is the caller's to dispose.
//
// csv() streams: the file is read through a stream and csv-parse, a row at a time, so only the rows in flight are
// in memory. Values are parsed as tfjs-data parses them (Number(); empty fields take the column's default, are
// undefined, or fail if the column is required or a label; int32 floors, bool is 1 or 0).
//
// shuffle keeps tfjs-data's buffer: a window of bufferSize upstream reads, one drawn at random and replaced by the
// next read. Its random numbers come from an Alea generator seeded as tfjs-data seeds seedrandom's alea (the
// dataset's generator draws a seed per iteration), so a seeded shuffle gives tfjs-data's order; unseeded, the seed
// is the time. One difference: reshuffleEachIteration=false gives the same order every iteration, as documented,
// where tfjs-data 4.22 still draws a new seed per iteration.
import { createReadStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse';
import { DataError, ValidationError } from '../core/errors.js';
import { Tensor, dispose, tidy } from '../core/tensor.js';
import { fail } from '../core/validate.js';
import { stack, tensor } from '../ops/ops.js';
import { Dataset as KernelnetDataset, type BatchLike } from './data.js';

/** What next() resolves to: an element, or done (value null), as tfjs-data's LazyIterator. */
export type IteratorResult<T> =
  | {
      /** The element. */
      value: T;
      /** False: an element. */
      done: false;
    }
  | {
      /** null at the end. */
      value: null;
      /** True: the iteration is over. */
      done: true;
    };

/** One pass over a dataset (tfjs-data's LazyIterator): next() resolves { value, done }. */
export interface LazyIterator<T> {
  /** The next element, or done. */
  next(): Promise<IteratorResult<T>>;
}

const DONE = { value: null, done: true } as const;

/** The tensors in a container (a tensor, or arrays and plain objects of them), as tfjs's getTensorsInContainer. */
function tensorsIn(v: unknown, into = new Set<Tensor>(), seen = new Set<unknown>()): Set<Tensor> {
  if (v instanceof Tensor) into.add(v);
  else if (v !== null && typeof v === 'object' && !seen.has(v) && !ArrayBuffer.isView(v)) {
    seen.add(v);
    for (const x of Object.values(v)) tensorsIn(x, into, seen);
  }
  return into;
}

/** Disposes the tensors of `input` that `output` does not contain (tfjs-data's MapIterator). */
function disposeDropped(input: unknown, output: unknown): void {
  const kept = tensorsIn(output);
  for (const t of tensorsIn(input)) if (!kept.has(t) && !t.isDisposed) t.dispose();
}

/** Whether deep maps recurse into v: arrays and objects that are not tensors, typed arrays or promises. */
function isContainer(v: unknown): v is Record<string, unknown> | unknown[] {
  return v != null && typeof v === 'object' && !ArrayBuffer.isView(v) && !(v instanceof Tensor) && !(v instanceof Promise);
}

/** A copy of a structure with its tensors cloned (tfjs-data's deepClone). */
function deepClone<T>(v: T): T {
  if (v instanceof Tensor) return v.clone() as T;
  if (!isContainer(v)) return v;
  const out: Record<string, unknown> = Array.isArray(v) ? ([] as unknown as Record<string, unknown>) : {};
  for (const k in v) out[k] = deepClone((v as Record<string, unknown>)[k]);
  if (!Array.isArray(v)) Object.setPrototypeOf(out, Object.getPrototypeOf(v));
  return out as T;
}

/** One batch of rows stacked per leaf, as tfjs-data's deepBatchConcat: tensors by stack, the rest by tensor(). */
function batchConcat(rows: unknown[]): unknown {
  const first = rows[0];
  const tensorify = first == null || typeof first !== 'object' || Array.isArray(first) || first instanceof Tensor || ArrayBuffer.isView(first);
  if (tensorify) {
    if (first instanceof Tensor) return stack(rows as Tensor[]);
    if (typeof first === 'string') throw new ValidationError('tf.data batch: string values cannot be batched (kernelnet has no string tensors)');
    return tensor(rows as number[]);
  }
  const out: Record<string, unknown> = Array.isArray(first) ? ([] as unknown as Record<string, unknown>) : {};
  for (const k in first as object) out[k] = batchConcat(rows.map(r => (r as Record<string, unknown>)[k]));
  return out;
}

// --- the Alea generator (Johannes Baagøe's, as seedrandom's alea) -----------------------------------------------

function mash(): (data: string) => number {
  let n = 0xefc8249d;
  return data => {
    for (let i = 0; i < data.length; i++) {
      n += data.charCodeAt(i);
      let h = 0.02519603282416938 * n;
      n = h >>> 0;
      h -= n;
      h *= n;
      n = h >>> 0;
      h -= n;
      n += h * 0x100000000;
    }
    return (n >>> 0) * 2.3283064365386963e-10;
  };
}

/** @internal A seeded generator of numbers in [0, 1) (the same sequence as seedrandom.alea(seed)), with int32(). */
export function alea(seed: string): { (): number; int32(): number } {
  const m = mash();
  let s0 = m(' '),
    s1 = m(' '),
    s2 = m(' '),
    c = 1;
  s0 -= m(seed);
  if (s0 < 0) s0 += 1;
  s1 -= m(seed);
  if (s1 < 0) s1 += 1;
  s2 -= m(seed);
  if (s2 < 0) s2 += 1;
  const next = () => {
    const t = 2091639 * s0 + c * 2.3283064365386963e-10;
    s0 = s1;
    s1 = s2;
    return (s2 = t - (c = t | 0));
  };
  return Object.assign(next, { int32: () => (next() * 0x100000000) | 0 });
}

// --- iterators ------------------------------------------------------------------------------------------------

/** An iterator from a next function whose calls run one after another even when not awaited (tfjs's serial()). */
function serial<T>(next: () => Promise<IteratorResult<T>>): LazyIterator<T> {
  let last: Promise<unknown> = Promise.resolve();
  return {
    next() {
      const p = last.then(next);
      last = p.catch(() => {});
      return p;
    },
  };
}

function fromAsyncIterator<T>(it: AsyncIterator<T> | Iterator<T>): LazyIterator<T> {
  let finished = false;
  return serial<T>(async () => {
    if (finished) return DONE;
    const r = await it.next();
    if (r.done) {
      finished = true;
      return DONE;
    }
    return { value: r.value, done: false };
  });
}

/** Iterators one after another (tfjs-data's ChainedIterator). */
function chain<T>(iterators: LazyIterator<LazyIterator<T>>): LazyIterator<T> {
  let current: LazyIterator<T> | null = null;
  return serial(async () => {
    for (;;) {
      if (!current) {
        const r = await iterators.next();
        if (r.done) return DONE;
        current = r.value;
      }
      const item = await current.next();
      if (!item.done) return item;
      current = null;
    }
  });
}

// --- datasets -------------------------------------------------------------------------------------------------

/** Values the elements of a dataset may hold: tensors, numbers, arrays and objects of them. */
export type TensorContainer = unknown;

/**
 * tfjs-data's Dataset: an ordered collection of elements, each iteration a fresh pass. `size` is the element
 * count where it is known (tfjs-data's rules), Infinity for an endless one, else null.
 */
export abstract class TfDataset<T = TensorContainer> {
  /** The element count where known, Infinity for an endless dataset, else null. */
  readonly size: number | null = null;

  /** A fresh pass over the elements. */
  abstract iterator(): Promise<LazyIterator<T>>;

  /** Consecutive elements stacked: tensors with tf.stack, numbers and arrays with tf.tensor, objects per key. */
  batch(batchSize: number, smallLastBatch = true): TfDataset<TensorContainer> {
    if (!(Number.isInteger(batchSize) && batchSize > 0)) fail('a positive integer', 'batchSize', batchSize);
    const size =
      this.size === Infinity || this.size == null ? this.size : smallLastBatch ? Math.ceil(this.size / batchSize) : Math.floor(this.size / batchSize);
    return datasetFrom(async () => {
      const up = await this.iterator();
      return serial(async () => {
        const rows: T[] = [];
        while (rows.length < batchSize) {
          const item = await up.next();
          if (item.done) {
            if (smallLastBatch && rows.length > 0) break;
            dispose(rows);
            return DONE;
          }
          rows.push(item.value);
        }
        try {
          return { value: batchConcat(rows), done: false };
        } finally {
          dispose(rows); // tfjs-data's columnMajorBatch maps the rows, disposing what it stacked
        }
      });
    }, size);
  }

  /** This dataset's elements, then `dataset`'s. */
  concatenate(dataset: TfDataset<T>): TfDataset<T> {
    if (!(dataset instanceof TfDataset)) fail('a tf.data dataset', 'dataset', dataset);
    const size =
      this.size === Infinity || dataset.size === Infinity ? Infinity : this.size != null && dataset.size != null ? this.size + dataset.size : null;
    return datasetFrom(async () => {
      const its = [await this.iterator(), await dataset.iterator()];
      return chain(fromAsyncIterator(its[Symbol.iterator]()));
    }, size);
  }

  /** The elements for which predicate (run in tidy) is true; the others are disposed. */
  filter(predicate: (value: T) => boolean): TfDataset<T> {
    if (typeof predicate !== 'function') fail('a function', 'predicate', predicate);
    return datasetFrom(
      async () => {
        const up = await this.iterator();
        return serial(async () => {
          for (;;) {
            const item = await up.next();
            if (item.done || tidy(() => predicate(item.value))) return item;
            dispose(item.value);
          }
        });
      },
      this.size === Infinity ? Infinity : null,
    );
  }

  /** Calls f on each element, then disposes the element's tensors (as tfjs-data). f may return a promise, awaited. */
  async forEachAsync(f: (input: T) => void | Promise<void>): Promise<void> {
    if (typeof f !== 'function') fail('a function', 'f', f);
    const it = await this.iterator();
    for (let item = await it.next(); !item.done; item = await it.next()) {
      try {
        await f(item.value);
      } finally {
        dispose(item.value);
      }
    }
  }

  /** Each element through transform, run in tidy; the input's tensors the output does not hold are disposed. */
  map<O>(transform: (value: T) => O): TfDataset<O> {
    if (typeof transform !== 'function') fail('a function', 'transform', transform);
    return datasetFrom(async () => {
      const up = await this.iterator();
      return serial(async (): Promise<IteratorResult<O>> => {
        const item = await up.next();
        if (item.done) return DONE;
        const mapped = tidy(() => transform(item.value));
        disposeDropped(item.value, mapped);
        return { value: mapped, done: false };
      });
    }, this.size);
  }

  /** map with an async transform (not in tidy: dispose its intermediate tensors yourself). */
  mapAsync<O>(transform: (value: T) => Promise<O>): TfDataset<O> {
    if (typeof transform !== 'function') fail('a function', 'transform', transform);
    return datasetFrom(async () => {
      const up = await this.iterator();
      return serial(async (): Promise<IteratorResult<O>> => {
        const item = await up.next();
        if (item.done) return DONE;
        const mapped = await transform(item.value);
        disposeDropped(item.value, mapped);
        return { value: mapped, done: false };
      });
    }, this.size);
  }

  /** Reads up to bufferSize elements ahead of the consumer. */
  prefetch(bufferSize: number): TfDataset<T> {
    if (bufferSize == null) throw new ValidationError('`Dataset.prefetch()` requires bufferSize to be specified.');
    if (!(Number.isInteger(bufferSize) && bufferSize > 0)) fail('a positive integer', 'bufferSize', bufferSize);
    return datasetFrom(async () => {
      const up = await this.iterator();
      const buffer: Promise<IteratorResult<T>>[] = [];
      let last: Promise<unknown> = Promise.resolve();
      const read = () => {
        const p = last.then(() => up.next());
        last = p.catch(() => {});
        return p;
      };
      return {
        next() {
          while (buffer.length < bufferSize) buffer.push(read());
          return buffer.shift()!;
        },
      };
    }, this.size);
  }

  /** The elements `count` times over (undefined or negative: endlessly), each time a fresh iteration. */
  repeat(count?: number): TfDataset<T> {
    if (count !== undefined && !Number.isInteger(count)) fail('an integer or undefined', 'count', count);
    const size =
      this.size != null && count !== undefined && count > 0
        ? this.size * count
        : count === 0
          ? 0
          : this.size != null && (count === undefined || count < 0)
            ? Infinity
            : null;
    return datasetFrom(async () => {
      let made = 0;
      const iterators: LazyIterator<LazyIterator<T>> = serial<LazyIterator<T>>(async () =>
        count !== undefined && count >= 0 && made++ >= count ? DONE : { value: await this.iterator(), done: false },
      );
      return chain(iterators);
    }, size);
  }

  /** All but the first `count` elements (those are read and disposed). */
  skip(count: number): TfDataset<T> {
    const size =
      this.size != null && count >= 0 && this.size >= count
        ? this.size - count
        : this.size != null && (this.size < count || count == null || count < 0)
          ? 0
          : null;
    return datasetFrom(async () => {
      const up = await this.iterator();
      if (count == null || count < 0) return up;
      let skipped = 0;
      return serial(async () => {
        while (skipped++ < count) {
          const s = await up.next();
          if (s.done) return s;
          dispose(s.value);
        }
        return up.next();
      });
    }, size);
  }

  /**
   * The elements in random order through a buffer of bufferSize (tfjs-data's ShuffleIterator): the buffer holds
   * the next bufferSize reads; each element out is drawn from it at random and its slot takes the next read. A
   * seed (string or number) fixes the orders; reshuffleEachIteration=false repeats the first iteration's order.
   */
  shuffle(bufferSize: number, seed?: string | number, reshuffleEachIteration = true): TfDataset<T> {
    if (bufferSize == null || bufferSize < 0) {
      throw new ValidationError(
        this.size == null
          ? '`Dataset.shuffle()` requires bufferSize to be specified.'
          : '`Dataset.shuffle()` requires bufferSize to be specified.  If your data fits in main memory (for regular JS objects), ' +
              'and/or GPU memory (for `tf.Tensor`s), consider setting ' +
              `bufferSize to the dataset size (${this.size} elements)`,
      );
    }
    if (!Number.isInteger(bufferSize) || bufferSize < 1) fail('a positive integer', 'bufferSize', bufferSize);
    const random = alea(String(seed || Date.now()));
    let fixed: number | undefined;
    return datasetFrom(async () => {
      let seed2: number;
      if (reshuffleEachIteration) seed2 = random.int32() + random.int32();
      else seed2 = fixed ??= random.int32();
      const up = await this.iterator();
      const rng = alea(String(seed2));
      const buffer: IteratorResult<T>[] = [];
      let exhausted = false;
      const refill = async () => {
        while (buffer.length < bufferSize) buffer.push(await up.next());
      };
      return serial(async () => {
        if (!exhausted) await refill();
        while (buffer.length) {
          const i = Math.floor(rng() * buffer.length);
          const result = buffer[i];
          const last = buffer.pop()!;
          if (i < buffer.length) buffer[i] = last;
          if (result.done) exhausted = true;
          else {
            await refill();
            return result;
          }
        }
        return DONE;
      });
    }, this.size);
  }

  /** The first `count` elements (negative or undefined: all). */
  take(count: number): TfDataset<T> {
    const size = this.size != null && this.size > count ? count : this.size != null && this.size <= count ? this.size : null;
    return datasetFrom(async () => {
      const up = await this.iterator();
      if (count == null || count < 0) return up;
      let taken = 0;
      return { next: async () => (taken++ >= count ? DONE : up.next()) };
    }, size);
  }

  /** Every element in an array (the caller disposes their tensors); refused for an endless dataset. */
  async toArray(): Promise<T[]> {
    if (this.size === Infinity) throw new ValidationError('Can not convert infinite data stream to array.');
    const it = await this.iterator();
    const out: T[] = [];
    for (let item = await it.next(); !item.done; item = await it.next()) out.push(item.value);
    return out;
  }

  /** `for await (const x of dataset)`: one pass (the caller disposes the elements). */
  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    const it = await this.iterator();
    for (let item = await it.next(); !item.done; item = await it.next()) yield item.value;
  }
}

/** A dataset made from an iterator factory and a size (tfjs-data's datasetFromIteratorFn). */
function datasetFrom<T>(iteratorFn: () => Promise<LazyIterator<T>>, size: number | null): TfDataset<T> {
  return new (class extends TfDataset<T> {
    override readonly size = size;
    iterator() {
      return iteratorFn();
    }
  })();
}

/** tf.data.array(items): the items in order; tensors are cloned each time they are read. */
export function array<T>(items: T[]): TfDataset<T> {
  if (!Array.isArray(items)) fail('an array', 'items', items);
  return datasetFrom<T>(async () => {
    let i = 0;
    return { next: async () => (i >= items.length ? DONE : { value: deepClone(items[i++]), done: false }) };
  }, items.length);
}

/** tf.data.generator(fn): the elements of a (sync or async) generator function, called once per iteration. */
export function generator<T>(fn: () => Iterator<T> | AsyncIterator<T> | Promise<Iterator<T> | AsyncIterator<T>>): TfDataset<T> {
  if (typeof fn !== 'function') fail('a generator function', 'generator', fn);
  return datasetFrom(async () => {
    const it = await fn();
    if (it === null || typeof it !== 'object' || typeof (it as Iterator<T>).next !== 'function')
      fail('an iterator (a generator function)', 'what the generator function returned', it);
    return fromAsyncIterator(it);
  }, null);
}

/** What tf.data.zip takes: datasets, or arrays and objects of them, nested. */
export type DatasetTree = TfDataset<unknown> | DatasetTree[] | { [key: string]: DatasetTree };

/**
 * tf.data.zip(datasets): elements of the same structure as `datasets` (an array or object of datasets, nested
 * allowed), one from each; ends with the shortest. Its size is the least of the sizes, null if one is unknown.
 */
export function zip<O = TensorContainer>(datasets: DatasetTree[] | { [key: string]: DatasetTree }): TfDataset<O> {
  if (!isContainer(datasets)) throw new ValidationError('The argument to zip() must be an object or array.');
  const leaves: TfDataset<unknown>[] = [];
  const walk = (d: DatasetTree): void => {
    if (d instanceof TfDataset) leaves.push(d);
    else if (isContainer(d)) for (const k in d) walk((d as Record<string, DatasetTree>)[k]);
    else throw new ValidationError('Leaves of the structure passed to zip() must be Datasets, not primitives.');
  };
  walk(datasets as DatasetTree);
  const size = leaves.some(d => d.size == null) ? null : leaves.reduce((a, d) => Math.min(a, d.size!), Infinity);
  return datasetFrom(async () => {
    const its = new Map<TfDataset<unknown>, LazyIterator<unknown>[]>();
    for (const d of leaves) (its.get(d) ?? its.set(d, []).get(d)!).push(await d.iterator());
    const order = leaves.map(d => its.get(d)!.shift()!);
    return serial(async (): Promise<IteratorResult<O>> => {
      const results = await Promise.all(order.map(it => it.next()));
      if (results.some(r => r.done)) {
        dispose(results.map(r => r.value));
        return DONE;
      }
      let i = 0;
      const build = (d: DatasetTree): unknown => {
        if (d instanceof TfDataset) return results[i++].value;
        const out: Record<string, unknown> = Array.isArray(d) ? ([] as unknown as Record<string, unknown>) : {};
        for (const k in d) out[k] = build((d as Record<string, DatasetTree>)[k]);
        return out;
      };
      return { value: build(datasets as DatasetTree) as O, done: false };
    });
  }, size);
}

// --- csv ------------------------------------------------------------------------------------------------------

/** A column's configuration in tf.data.csv. */
export interface ColumnConfig {
  /** Whether an empty value fails (default false). */
  required?: boolean;
  /** How values parse: 'float32' (as numbers), 'int32' (floored), 'bool' (1 for '1' or 'true', else 0). */
  dtype?: 'float32' | 'int32' | 'bool' | 'string';
  /** The value of an empty field. */
  default?: unknown;
  /** Whether the column is a label: the element is then { xs: features, ys: labels }. */
  isLabel?: boolean;
}

/** tf.data.csv's configuration (tfjs-data's CSVConfig). */
export interface CSVConfig {
  /** Whether the first row names the columns (default true). */
  hasHeader?: boolean;
  /** The column names (instead of the header's, or checked against its length). */
  columnNames?: string[];
  /** Per-column configuration, by name. */
  columnConfigs?: { [name: string]: ColumnConfig };
  /** Only the configured columns in the elements (default false). */
  configuredColumnsOnly?: boolean;
  /** The field delimiter (default ','). */
  delimiter?: string;
  /** Runs of spaces delimit fields (no delimiter then). */
  delimWhitespace?: boolean;
}

/** tf.data.csv's dataset: the rows of a CSV file, streamed. */
export class CSVDataset extends TfDataset<TensorContainer> {
  private readonly path: string;
  private readonly hasHeader: boolean;
  private fullColumnNames: string[] | null;
  private readonly columnConfigs: { [name: string]: ColumnConfig } | null;
  private readonly configuredColumnsOnly: boolean;
  private readonly delimiter: string;
  private readonly delimWhitespace: boolean;
  private validated = false;

  /** @internal Use tf.data.csv. */
  constructor(source: string, config: CSVConfig = {}) {
    super();
    if (typeof source !== 'string') fail("a 'file://' path", 'source', source);
    this.path = source.startsWith('file://') ? (source.startsWith('file:///') ? fileURLToPath(source) : source.slice(7)) : source;
    if (/^[a-z]+:\/\//i.test(this.path))
      throw new ValidationError(`tf.data.csv: only 'file://' sources are supported, not ${source}`, 'ERR_KERNELNET_UNSUPPORTED');
    this.hasHeader = config.hasHeader !== false;
    this.fullColumnNames = config.columnNames ?? null;
    this.columnConfigs = config.columnConfigs ?? null;
    this.configuredColumnsOnly = !!config.configuredColumnsOnly;
    if (config.delimWhitespace) {
      if (config.delimiter != null) throw new ValidationError('Delimiter should not be provided when delimWhitespace is true.');
      this.delimWhitespace = true;
      this.delimiter = ' ';
    } else {
      this.delimWhitespace = false;
      this.delimiter = config.delimiter || ',';
    }
  }

  /** The records of the file, one array of fields each, streamed. */
  private async *records(): AsyncGenerator<string[]> {
    const parser = createReadStream(this.path).pipe(
      parse({ delimiter: this.delimiter, relax_column_count: true, skip_empty_lines: true, relax_quotes: true }),
    );
    try {
      for await (const r of parser as AsyncIterable<string[]>) yield this.delimWhitespace ? r.filter(f => f !== '') : r;
    } finally {
      parser.destroy();
    }
  }

  /** The column names: the configured ones with configuredColumnsOnly, else all (from the header or columnNames). */
  async columnNames(): Promise<string[]> {
    if (!this.validated) await this.setColumnNames();
    return this.configuredColumnsOnly ? Object.keys(this.columnConfigs ?? {}) : this.fullColumnNames!;
  }

  private async setColumnNames(): Promise<void> {
    let fromFile: string[] | null = null;
    if (this.hasHeader) {
      const it = this.records();
      const first = await it.next();
      await it.return(undefined);
      if (first.done) throw new DataError('No data was found for CSV parsing.');
      fromFile = first.value;
    }
    if (!this.fullColumnNames && !fromFile) throw new ValidationError('Column names must be provided if there is no header line.');
    if (this.fullColumnNames && fromFile && fromFile.length !== this.fullColumnNames.length)
      throw new DataError(
        `The length of provided columnNames (${this.fullColumnNames.length}) does not match the length of the header line read from file (${fromFile.length}).`,
      );
    this.fullColumnNames ??= fromFile;
    const names = this.fullColumnNames!;
    const dup = names.filter((n, i) => names.indexOf(n) !== i);
    if (dup.length) throw new DataError('Duplicate column names found: ' + [...new Set(dup)].toString());
    for (const key of Object.keys(this.columnConfigs ?? {}))
      if (!names.includes(key))
        throw new ValidationError(`The key "${key}" provided in columnConfigs does not match any of the column names (${names.toString()}).`);
    this.validated = true;
  }

  async iterator(): Promise<LazyIterator<TensorContainer>> {
    if (!this.validated) await this.setColumnNames();
    const records = this.records();
    if (this.hasHeader) await records.next();
    return fromAsyncIterator(
      (async function* (self: CSVDataset) {
        for await (const r of records) yield self.element(r);
      })(this),
    );
  }

  /** One row as tfjs-data makes it: { column: value }, or { xs, ys } when a column is a label. */
  private element(values: string[]): TensorContainer {
    const names = this.fullColumnNames!;
    if (values.length !== names.length)
      throw new ValidationError(`Invalid row in csv file. Should have ${names.length} elements in a row, but got ${values.toString()}`);
    const features: Record<string, unknown> = {},
      labels: Record<string, unknown> = {};
    names.forEach((key, i) => {
      const config = this.columnConfigs?.[key];
      if (this.configuredColumnsOnly && !config) return;
      const value = values[i];
      let parsed: unknown;
      if (value === '') {
        if (config?.default !== undefined) parsed = config.default;
        else if (config && (config.required || config.isLabel))
          throw new ValidationError(`Required column ${key} is empty in this line: ${values.join(this.delimiter)}`);
        else parsed = undefined;
      } else {
        const num = Number(value);
        const bool = () => (value === '1' || value.toLowerCase() === 'true' ? 1 : 0);
        if (isNaN(num)) parsed = config?.dtype === 'bool' ? bool() : value;
        else if (!config?.dtype) parsed = num;
        else parsed = config.dtype === 'int32' ? Math.floor(num) : config.dtype === 'bool' ? bool() : num;
      }
      if (config?.isLabel) labels[key] = parsed;
      else features[key] = parsed;
    });
    return Object.keys(labels).length === 0 ? features : { xs: features, ys: labels };
  }
}

/** tf.data.csv(source, config): the rows of a CSV file ('file://path'), streamed. */
export function csv(source: string, config: CSVConfig = {}): CSVDataset {
  return new CSVDataset(source, config);
}

// --- fitDataset's adapter ------------------------------------------------------------------------------------

/**
 * @internal A tf.data dataset of { xs, ys } batches as kernelnet's Dataset, for fitDataset and evaluateDataset.
 * With `persistent`, one iteration runs across passes (tfjs's batchesPerEpoch: each epoch takes the next
 * `limit` batches); when it runs out, `onExhausted` is called. Otherwise each pass is a fresh iteration, of at
 * most `limit` batches.
 */
export class TfDataBatches extends KernelnetDataset {
  private held: IteratorResult<unknown> | null = null;
  private it: LazyIterator<unknown> | null = null;

  constructor(
    readonly tfDataset: TfDataset<unknown>,
    { limit, persistent = false, onExhausted }: { limit?: number; persistent?: boolean; onExhausted?: () => void } = {},
  ) {
    const size = tfDataset.size;
    if (limit === undefined && size === Infinity)
      throw new ValidationError('fitDataset: the dataset is endless (its size is Infinity): pass batchesPerEpoch', 'ERR_KERNELNET_ARG');
    const batches = limit !== undefined ? (size != null && !persistent ? Math.min(size, limit) : limit) : size;
    const ref: { to?: TfDataBatches } = {}; // the source runs after construction
    super(() => ref.to!.pass$(limit, persistent, onExhausted), batches === 0 ? null : batches);
    ref.to = this;
  }

  private async *pass$(limit: number | undefined, persistent: boolean, onExhausted?: () => void): AsyncGenerator<BatchLike> {
    const it = persistent ? (this.it ??= await this.tfDataset.iterator()) : await this.tfDataset.iterator();
    for (let n = 0; limit === undefined || n < limit; n++) {
      const r = this.held ?? (await it.next());
      this.held = null;
      if (r.done) {
        if (persistent) onExhausted?.();
        return;
      }
      yield r.value as BatchLike;
    }
    // batchesPerEpoch: look one batch ahead, so that an iteration ending with the epoch stops training then
    if (persistent) {
      this.held = await it.next();
      if (this.held.done) onExhausted?.();
    }
  }

  /** Frees the batch read ahead, if any. */
  close(): void {
    if (this.held && !this.held.done) dispose(this.held.value);
    this.held = null;
  }
}

/** Whether v is a tf.data dataset. */
export function isTfDataset(v: unknown): v is TfDataset<unknown> {
  return v instanceof TfDataset;
}

/** tfjs's fitDataset options: kernelnet's, with batchesPerEpoch, validationBatches and tf.data validation. */
export interface TfDataFitArgs {
  /** Batches per epoch, read on from one iterator across epochs (default: the dataset once per epoch). */
  batchesPerEpoch?: number;
  /** Batches of a validation dataset to evaluate (default: all of it). */
  validationBatches?: number;
  /** A tf.data dataset of { xs, ys } batches, or [x, y] tensors. */
  validationData?: unknown;
  /** fitDataset's other options (epochs, callbacks, verbose, ...). */
  [option: string]: unknown;
}

/**
 * @internal fitDataset's data for kernelnet: a tf.data dataset adapted (batchesPerEpoch), validation data too;
 * kernelnet's Dataset passes through. `stop` ends training (an iteration that ran out, as tfjs does).
 */
export function adaptFitDataset(
  dataset: unknown,
  args: TfDataFitArgs = {},
  stop: () => void,
): { dataset: KernelnetDataset; args: Record<string, unknown>; close(): void } {
  const { batchesPerEpoch, validationBatches, ...rest } = args ?? {};
  const made: TfDataBatches[] = [];
  const positive = (v: unknown, name: string) => {
    if (v !== undefined && !(Number.isInteger(v) && (v as number) > 0)) fail('a positive integer', name, v);
    return v as number | undefined;
  };
  let ds = dataset as KernelnetDataset;
  if (isTfDataset(dataset)) {
    const limit = positive(batchesPerEpoch, 'batchesPerEpoch');
    made.push(
      (ds = new TfDataBatches(dataset, {
        limit,
        persistent: limit !== undefined,
        onExhausted: () => {
          console.warn('fitDataset: the dataset ran out of data; training stops (pass a dataset that repeats, or fewer batchesPerEpoch)');
          stop();
        },
      })),
    );
  } else if (batchesPerEpoch !== undefined) rest.batchesPerEpoch = batchesPerEpoch; // kernelnet's refusal
  if (isTfDataset(rest.validationData))
    made.push(
      (rest.validationData = new TfDataBatches(rest.validationData, { limit: positive(validationBatches, 'validationBatches') })) as TfDataBatches,
    );
  else if (validationBatches !== undefined) rest.validationBatches = validationBatches;
  return { dataset: ds, args: rest, close: () => made.forEach(m => m.close()) };
}
