// The public Tensor: a thin owner of a native tensor handle. Memory is freed by dispose(), by tidy() (the tensors
// a function makes, but those it returns), by `using` (Symbol.dispose), by the garbage collector when the Tensor
// is unreachable, and when the process or worker ends. The garbage collector runs native finalizers only when
// the event loop turns (N-API 8), so a synchronous loop that drops tensors should use tidy() or dispose().
import { native, type DType, type Device, type MemoryStats, type NativeTensor } from './native.js';
import { StateError, ValidationError } from './errors.js';
import { checkOptions, describe, fail, shapeArg } from './validate.js';

const HANDLE = Symbol('kernelnet.handle');

export class Tensor {
  /** @internal */
  readonly [HANDLE]: NativeTensor;

  /** @internal Use tensor() to make one. */
  constructor(handle: NativeTensor) {
    this[HANDLE] = handle;
    scopes.at(-1)?.add(this);
  }

  get shape(): number[] { return this[HANDLE].shape; }
  get dtype(): DType { return this[HANDLE].dtype; }
  get size(): number { return this[HANDLE].size; }
  get isDisposed(): boolean { return this[HANDLE].disposed; }
  /** Where the tensor lives: 'cpu' or 'cuda'. */
  get device(): Device { return this[HANDLE].device; }

  /** A copy of this tensor on another device ('cpu', 'cuda', 'cuda:0'); the same tensor's copy when already there. */
  to(device: string): Tensor {
    const d = parseDevice(device, 'device');
    const h = handleOf(this, 'tensor');
    return new Tensor(new native.Tensor(h.shape, h.dtype, h.read(), d));
  }

  /** A copy of the contents. */
  dataSync(): Float32Array | Int32Array { return this[HANDLE].read(); }

  /** A view with another shape of the same size (as tf.reshape); shares memory with this tensor. */
  reshape(shape: number[]): Tensor { return new Tensor(this[HANDLE].reshape(shapeArg(shape, 'shape'))); }

  dispose(): void { this[HANDLE].dispose(); }

  /** `using t = tensor(...)` disposes t at the end of the block. */
  [Symbol.dispose](): void { this.dispose(); }

  /** The values as nested arrays of the tensor's shape (tfjs's arraySync); a number for a scalar. */
  arraySync(): NestedArray {
    const values = this[HANDLE].read(), shape = this.shape;
    const build = (axis: number, offset: number): NestedArray => {
      if (axis === shape.length) return values[offset];
      const stride = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
      return Array.from({ length: shape[axis] }, (_, i) => build(axis + 1, offset + i * stride));
    };
    return build(0, 0);
  }

  /**
   * The dtype, shape, device and values, the values cut to a few per axis for a large tensor:
   * `Tensor float32 [2, 3] cpu [[1, 2, 3], [4, 5, 6]]`.
   */
  toString(): string {
    if (this.isDisposed) return 'Tensor(disposed)';
    const head = `Tensor ${this.dtype} [${this.shape.join(', ')}] ${this.device}`;
    const values = this[HANDLE].read(), shape = this.shape, edge = 3;
    const show = (axis: number, offset: number): string => {
      if (axis === shape.length) return this.dtype === 'int32' ? String(values[offset]) : String(+values[offset].toPrecision(6));
      const n = shape[axis], stride = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
      const items = n <= 2 * edge ? Array.from({ length: n }, (_, i) => i) : [0, 1, 2, -1, n - 3, n - 2, n - 1];
      return `[${items.map(i => (i < 0 ? '...' : show(axis + 1, offset + i * stride))).join(', ')}]`;
    };
    return `${head} ${show(0, 0)}`;
  }

  /** Prints toString() (tfjs's print). */
  print(): void {
    console.log(this.toString());
  }

  /** console.log(t) shows toString(). */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/** What arraySync returns: a number, or nested arrays of numbers. */
export type NestedArray = number | NestedArray[];

/**
 * A device name: 'cpu', or 'cuda' / 'cuda:0' for the GPU. Other ordinals are refused until kernelnet drives
 * several GPUs; a GPU that is not usable is refused where a tensor is made on it, with the reason.
 */
export function parseDevice(value: unknown, name: string): Device {
  if (value === 'cpu' || value === 'cuda') return value;
  if (value === 'cuda:0') return 'cuda';
  if (typeof value === 'string' && /^cuda:\d+$/.test(value))
    throw new ValidationError(`Expected 'cuda:0' for ${name}: kernelnet drives one GPU for now, but received '${value}'`, 'ERR_KERNELNET_UNSUPPORTED');
  return fail("'cpu', 'cuda' or 'cuda:0'", name, value);
}

/** The device a new tensor or model gets when none is named: KERNELNET_BACKEND's, else CUDA when it answers. */
export function defaultDevice(): Device {
  return native.backend().name as Device;
}

/** The tensors made inside each running tidy(), innermost last. */
const scopes: Set<Tensor>[] = [];
/** Tensors tidy() must not dispose (keep()). */
const kept = new WeakSet<Tensor>();

/** The tensors in a value: a Tensor, or arrays and plain objects holding tensors (tfjs's TensorContainer). */
function tensorsIn(value: unknown, into = new Set<Tensor>(), seen = new Set<unknown>()): Set<Tensor> {
  if (value instanceof Tensor) into.add(value);
  else if (value !== null && typeof value === 'object' && !seen.has(value) && (Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype)) {
    seen.add(value);
    for (const v of Object.values(value)) tensorsIn(v, into, seen);
  }
  return into;
}

/**
 * Runs fn and disposes every Tensor made while it ran (by tensor(), predict(), getWeights(), toCategorical(), ...),
 * except those it returns (a Tensor, or arrays and objects of tensors) and those passed to keep(): tfjs's tidy.
 * Memory is freed at once, inside synchronous code, where the garbage collector's finalizers would wait for the
 * event loop. Tidies nest: what an inner one returns belongs to the outer one. fn must be synchronous.
 */
export function tidy<T>(fn: () => T): T;
export function tidy<T>(name: string, fn: () => T): T;
export function tidy<T>(nameOrFn: string | (() => T), maybeFn?: () => T): T {
  const fn = typeof nameOrFn === 'function' ? nameOrFn : maybeFn;
  if (typeof fn !== 'function') fail('a function', 'tidy fn', fn);
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T | undefined, returned = new Set<Tensor>();
  try {
    result = fn();
    if (result instanceof Promise) {
      result.catch(() => {}); // refused below; its rejection is not the caller's to handle
      throw new ValidationError('tidy: fn returned a Promise; tidy() runs synchronous code only (dispose() tensors in async code)');
    }
    returned = tensorsIn(result);
    return result;
  } finally {
    scopes.pop();
    for (const t of scope) {
      if (kept.has(t)) continue; // no tidy disposes it
      if (returned.has(t)) scopes.at(-1)?.add(t);
      else t.dispose();
    }
  }
}

/** Keeps a tensor made inside tidy() from being disposed by it. */
export function keep<T extends Tensor>(t: T): T {
  if (!(t instanceof Tensor)) fail('a Tensor', 'keep', t);
  kept.add(t);
  return t;
}

/** Disposes a Tensor, or every Tensor in arrays and plain objects of them. */
export function dispose(container: unknown): void {
  for (const t of tensorsIn(container)) t.dispose();
}

/** @internal The native handle of a public tensor, checked. */
export function handleOf(t: unknown, name: string): NativeTensor {
  if (!(t instanceof Tensor)) fail('a Tensor', name, t);
  if (t.isDisposed) throw new StateError(`${name} is a disposed Tensor`, 'ERR_KERNELNET_DISPOSED');
  return t[HANDLE];
}

/** Numbers, nested arrays of numbers (as tfjs takes them), or a typed array. */
export type TensorLike = number | number[] | number[][] | number[][][] | number[][][][] | number[][][][][] | ArrayLike<number> | ArrayLike<number>[];

type Numeric = Exclude<ArrayBufferView, DataView | BigInt64Array | BigUint64Array>;
const isNumericArray = (v: unknown): v is Numeric =>
  ArrayBuffer.isView(v) && !(v instanceof DataView) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array);

/**
 * The shape of nested arrays (tfjs's rule: each level's length; every sibling must have the same shape) and
 * their numbers, flattened. Ragged arrays and anything but numbers (strings, booleans, null, ...) are refused.
 */
function flatten(data: unknown): { shape: number[]; values: Float32Array } {
  const shape: number[] = [];
  for (let level: unknown = data; Array.isArray(level) || isNumericArray(level); level = (level as ArrayLike<unknown>)[0]) {
    shape.push((level as ArrayLike<unknown>).length);
    if (!(level as ArrayLike<unknown>).length) break;
  }
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  let at = 0;
  const walk = (v: unknown, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (typeof v !== 'number') fail('a number', `data${path}`, v);
      values[at++] = v;
      return;
    }
    if (!(Array.isArray(v) || isNumericArray(v)) || (v as ArrayLike<unknown>).length !== shape[depth])
      throw new ValidationError(`Expected data${path} to be an array of length ${shape[depth]} (nested arrays must not be ragged; ` +
        `the first element's shape is [${shape.slice(depth).join(', ')}]) but received ${describe(v)}`, 'ERR_KERNELNET_SHAPE');
    for (let i = 0; i < shape[depth]; ++i) walk((v as ArrayLike<unknown>)[i], depth + 1, `${path}[${i}]`);
  };
  walk(data, 0, '');
  return { shape, values };
}

/**
 * Makes a tensor from data (copied). A Float32Array or Int32Array keeps its dtype; numbers, nested arrays (their
 * shape inferred as tfjs does) and other numeric typed arrays make a float32 tensor. `shape` reshapes flat data;
 * for nested arrays it must match theirs.
 */
export function tensor(data: TensorLike, shape?: number[] | null, options?: { device?: string }): Tensor {
  checkOptions(options, { what: 'tensor options', supported: ['device'] });
  const device = options?.device === undefined ? undefined : parseDevice(options.device, 'device');
  let array: Float32Array | Int32Array, dims: number[];
  if (data instanceof Float32Array || data instanceof Int32Array) {
    array = data;
    dims = [data.length];
  } else if (typeof data === 'number') {
    array = Float32Array.of(data);
    dims = [];
  } else if (Array.isArray(data) || isNumericArray(data)) {
    ({ shape: dims, values: array } = flatten(data));
  } else {
    return fail('numbers, nested arrays of numbers, or a typed array', 'data', data);
  }
  if (shape !== undefined && shape !== null) {
    const want = shapeArg(shape, 'shape');
    if (dims.length > 1 && want.join() !== dims.join())
      throw new ValidationError(`Expected shape [${want.join(', ')}] to match the nested data's shape [${dims.join(', ')}]`, 'ERR_KERNELNET_SHAPE');
    dims = want;
  }
  const size = dims.reduce((a, b) => a * b, 1);
  if (size !== array.length)
    throw new ValidationError(`Expected ${size} values for shape [${dims.join(', ')}] but received ${array.length}`, 'ERR_KERNELNET_SHAPE');
  return new Tensor(new native.Tensor(dims, array instanceof Int32Array ? 'int32' : 'float32', array, device));
}

/** @internal Rows [start, start + count) of a float32 tensor, copied on its device. */
export function sliceRows(t: Tensor, start: number, count: number): Tensor {
  const src = handleOf(t, 'tensor');
  const rows = new native.Tensor([count], 'int32', Int32Array.from({ length: count }, (_, i) => start + i), src.device);
  try {
    const out = empty([count, ...src.shape.slice(1)], 'float32', src.device);
    native.gatherRows(src, rows, 0, out);
    return new Tensor(out);
  } finally {
    rows.dispose();
  }
}

/** @internal A new uninitialised native tensor (on the environment's default device unless told). */
export function empty(shape: number[], dtype: DType = 'float32', device?: Device): NativeTensor {
  return new native.Tensor(shape, dtype, undefined, device);
}

/** Live tensors and bytes held by this thread's kernelnet (for leak checks), and the GPU scratch in use. */
export function memory(): MemoryStats {
  return native.stats();
}

/** Which backend computes, on what, and why it was chosen. */
export function backend(): { name: string; device: string; reason: string } {
  return native.backend();
}

/** One-hot encodes integer class labels (Keras's to_categorical) into a float32 [N, numClasses] tensor. */
export function toCategorical(labels: Tensor | Int32Array | number[], numClasses: number): Tensor {
  if (!Number.isInteger(numClasses) || numClasses <= 0) fail('positive integer', 'numClasses', numClasses);
  const owned = !(labels instanceof Tensor);
  if (owned) {
    if (!Array.isArray(labels) && !(labels instanceof Int32Array)) fail('a Tensor, an Int32Array or an array of class indices', 'labels', labels);
    const bad = Array.prototype.findIndex.call(labels, (v: unknown) => !Number.isInteger(v));
    if (bad >= 0) fail('an integer class index', `labels[${bad}]`, labels[bad]);
  }
  const src = labels instanceof Tensor ? handleOf(labels, 'labels')
    : new native.Tensor([labels.length], 'int32', Int32Array.from(labels));
  try {
    if (src.dtype !== 'int32' || src.shape.length !== 1)
      throw new ValidationError(`Expected labels to be an int32 tensor of shape [N] but received ${src.dtype} [${src.shape}]`, 'ERR_KERNELNET_SHAPE');
    const values = src.read();
    const bad = values.findIndex(v => !(v >= 0 && v < numClasses));
    if (bad >= 0) throw new ValidationError(`Expected labels in [0, ${numClasses}) but labels[${bad}] is ${values[bad]}`, 'ERR_KERNELNET_SHAPE');
    const out = empty([src.shape[0], numClasses], 'float32', src.device); // beside the labels
    native.oneHot(src, out);
    return new Tensor(out);
  } finally {
    if (owned) src.dispose();
  }
}
