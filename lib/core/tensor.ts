// The public Tensor: a thin owner of a native tensor handle. Memory is freed by dispose(), by tidy() (the tensors
// a function makes, but those it returns), by `using` (Symbol.dispose), by the garbage collector when the Tensor
// is unreachable, and when the process or worker ends. The garbage collector runs native finalizers only when
// the event loop turns (N-API 8), so a synchronous loop that drops tensors should use tidy() or dispose().
//
// The reference below is kept in the published tensor.d.ts (preserve) so that Symbol.dispose there type-checks
// for a consumer whose lib and types do not declare it (no @types/node, a target below ESNext).
/// <reference lib="esnext.disposable" preserve="true" />
import { native, type BackendInfo, type DType, type Device, type MemoryStats, type NativeTensor } from './native.js';
import { StateError, ValidationError } from './errors.js';
import { checkOptions, describe, fail, shapeArg } from './validate.js';

const HANDLE = Symbol('kernelnet.handle');

/**
 * An n-dimensional array of float32 or int32 values on the CPU or the GPU, as tfjs's tf.Tensor: made by tensor(),
 * freed by dispose(), tidy(), `using` or the garbage collector.
 */
export class Tensor {
  /** @internal */
  readonly [HANDLE]: NativeTensor;

  /** @internal Use tensor() to make one. */
  constructor(handle: NativeTensor) {
    this[HANDLE] = handle;
    scopes.at(-1)?.add(this);
  }

  /** The size of each axis, e.g. [N, height, width, channels]; [] for a scalar. */
  get shape(): number[] {
    return this[HANDLE].shape;
  }
  /** The number of axes (tfjs's rank): 0 for a scalar. */
  get rank(): number {
    return this[HANDLE].shape.length;
  }
  /** The element type: 'float32', 'int32' or 'bool'. */
  get dtype(): DType {
    return this[HANDLE].dtype;
  }
  /** The number of values: the product of the shape. */
  get size(): number {
    return this[HANDLE].size;
  }
  /** Whether it was disposed (tfjs's isDisposed): its memory is freed and its values can no longer be read. */
  get isDisposed(): boolean {
    return this[HANDLE].disposed || released.has(this);
  }
  /** Where the tensor lives: 'cpu' or 'cuda'. */
  get device(): Device {
    return this[HANDLE].device;
  }

  /** A copy of this tensor on another device ('cpu', 'cuda', 'cuda:0'); the same tensor's copy when already there. */
  to(device: string): Tensor {
    const d = parseDevice(device, 'device');
    const h = handleOf(this, 'tensor');
    return new Tensor(new native.Tensor(h.shape, h.dtype, h.read(), d));
  }

  /** A copy of the contents (a bool tensor's as a Uint8Array of 0 and 1, as tfjs). Blocks until a GPU has finished the work queued before it; see data(). */
  dataSync(): Float32Array | Int32Array | Uint8Array {
    return asTyped(this[HANDLE], this[HANDLE].read());
  }

  /**
   * A copy of the contents, as a promise (tfjs's data()). On a GPU the copy is queued behind the work before it and
   * waited for off the JavaScript thread, so the event loop keeps running meanwhile.
   */
  async data(): Promise<Float32Array | Int32Array | Uint8Array> {
    const h = handleOf(this, 'tensor');
    return asTyped(h, await h.readAsync()); // a disposed tensor rejects, as every failure of a promise
  }

  /** The values as nested arrays, as a promise (tfjs's array()); see data(). */
  async array(): Promise<NestedArray> {
    return nest(await this.data(), this.shape, this.dtype === 'bool');
  }

  /**
   * The same values with another shape of the same size (tf.reshape); one axis may be -1, inferred from the others.
   * A copy made on the tensor's device (as in tfjs, it outlives this tensor: `tidy(() => tensor(a).reshape(s))`
   * returns a live tensor).
   */
  reshape(shape: number[]): Tensor {
    const h = handleOf(this, 'tensor');
    if (!Array.isArray(shape) || shape.filter(d => d === -1).length > 1 || !shape.every(d => d === -1 || (Number.isInteger(d) && d >= 0)))
      fail('an array of non-negative integers, with at most one -1', 'shape', shape);
    const known = shape.reduce((a, d) => (d === -1 ? a : a * d), 1);
    const dims = shape.map(d => (d === -1 ? (known ? h.size / known : NaN) : d));
    if (!dims.every(Number.isInteger) || dims.reduce((a, b) => a * b, 1) !== h.size)
      throw new ValidationError(
        `reshape: a tensor of shape [${h.shape.join(', ')}] (${h.size} values) cannot take shape [${shape.join(', ')}]`,
        'ERR_KERNELNET_SHAPE',
      );
    const out = empty(dims, h.dtype, h.device);
    if (h.size) native.copyRegion(h.reshape([h.size]), [0], out.reshape([h.size]), [0], [h.size]);
    return new Tensor(out);
  }

  /**
   * The box of `size` values starting at `begin` (tf.slice): begin and size have an entry per axis, or fewer (the
   * rest run whole); a size of -1 runs to the end of its axis; a number is the first axis's. A copy, made on the
   * tensor's device.
   */
  slice(begin: number | number[], size?: number | number[]): Tensor {
    const h = handleOf(this, 'tensor'),
      shape = h.shape;
    const b = typeof begin === 'number' ? [begin] : begin,
      s = size === undefined ? [] : typeof size === 'number' ? [size] : size;
    if (!Array.isArray(b) || b.length > shape.length || !b.every(v => Number.isInteger(v) && v >= 0))
      fail(`at most ${shape.length} non-negative integers`, 'begin', begin);
    if (!Array.isArray(s) || s.length > shape.length || !s.every(v => Number.isInteger(v) && v >= -1))
      fail(`at most ${shape.length} integers (-1: to the end)`, 'size', size);
    const from = shape.map((_, d) => b[d] ?? 0);
    const count = shape.map((n, d) => (s[d] === undefined || s[d] === -1 ? n - from[d] : s[d]));
    const bad = shape.findIndex((n, d) => count[d] < 0 || from[d] + count[d] > n);
    if (bad >= 0)
      throw new ValidationError(`slice: begin [${from}] and size [${count}] run past the shape [${shape}] at axis ${bad}`, 'ERR_KERNELNET_SHAPE');
    return regionCopy(h, from, count);
  }

  /**
   * The slices of this tensor at `indices` along an axis (tf.gather; axis 0, the rows, by default): indices is an
   * int32 Tensor or an array of integers, each in range (checked). A copy, made on the tensor's device.
   */
  gather(indices: Tensor | number[] | Int32Array, axis = 0): Tensor {
    const h = handleOf(this, 'tensor');
    if (axis !== 0)
      throw new ValidationError('gather: only axis 0 (rows) is supported; transpose with slice and concat for others', 'ERR_KERNELNET_UNSUPPORTED');
    if (h.dtype !== 'float32' || !h.shape.length)
      throw new ValidationError(`gather: expected a float32 tensor of rank >= 1 but this is ${h.dtype} [${h.shape}]`, 'ERR_KERNELNET_SHAPE');
    const given = indices instanceof Tensor ? handleOf(indices, 'indices') : null;
    if (given && (given.dtype !== 'int32' || given.shape.length !== 1))
      throw new ValidationError(
        `gather: expected indices to be an int32 tensor of shape [M] but received ${given.dtype} [${given.shape}]`,
        'ERR_KERNELNET_SHAPE',
      );
    if (!given && !(Array.isArray(indices) || indices instanceof Int32Array)) fail('an int32 Tensor or an array of integers', 'indices', indices);
    const values = given ? given.read() : (indices as ArrayLike<number>);
    const bad = Array.prototype.findIndex.call(values, (v: number) => !(Number.isInteger(v) && v >= 0 && v < h.shape[0]));
    if (bad >= 0) throw new ValidationError(`gather: indices[${bad}] is ${values[bad]}, outside [0, ${h.shape[0]})`, 'ERR_KERNELNET_SHAPE');
    const idx = given && given.device === h.device ? given : new native.Tensor([values.length], 'int32', Int32Array.from(values), h.device);
    try {
      const out = empty([values.length, ...h.shape.slice(1)], 'float32', h.device);
      native.gatherRows(h, idx, 0, out);
      return new Tensor(out);
    } finally {
      if (idx !== given) idx.dispose();
    }
  }

  /** The index of the largest value along an axis (tf.argMax; axis 0 by default, -1 the last): an int32 tensor. */
  argMax(axis = 0): Tensor {
    const h = handleOf(this, 'tensor'),
      rank = h.shape.length;
    if (!Number.isInteger(axis) || axis < -rank || axis >= rank) fail(`an axis in [${-rank}, ${rank})`, 'axis', axis);
    const a = axis < 0 ? axis + rank : axis;
    if (h.dtype !== 'float32') throw new ValidationError(`argMax: expected a float32 tensor but this is ${h.dtype}`, 'ERR_KERNELNET_SHAPE');
    const out = empty(
      h.shape.filter((_, d) => d !== a),
      'int32',
      h.device,
    );
    native.argMax(h, a, out);
    return new Tensor(out);
  }

  /** Frees the tensor's memory now (and that of views sharing it); disposing twice is harmless. */
  dispose(): void {
    const held = holds.get(this[HANDLE]);
    if (held) {
      // a gradient tape still reads it: this Tensor reads as disposed now, the memory goes when the tape lets go
      released.add(this);
      held.pending = true;
    } else this[HANDLE].dispose();
  }

  /** `using t = tensor(...)` disposes t at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** The values as nested arrays of the tensor's shape (tfjs's arraySync); a number for a scalar. */
  arraySync(): NestedArray {
    return nest(this.dataSync(), this.shape, this.dtype === 'bool');
  }

  /**
   * The dtype, shape, device and values, the values cut to a few per axis for a large tensor:
   * `Tensor float32 [2, 3] cpu [[1, 2, 3], [4, 5, 6]]`.
   */
  toString(): string {
    if (this.isDisposed) return 'Tensor(disposed)';
    const head = `Tensor ${this.dtype} [${this.shape.join(', ')}] ${this.device}`;
    const values = this[HANDLE].read(),
      shape = this.shape,
      edge = 3;
    const show = (axis: number, offset: number): string => {
      if (axis === shape.length)
        return this.dtype === 'int32'
          ? String(values[offset])
          : this.dtype === 'bool'
            ? String(!!values[offset])
            : String(+values[offset].toPrecision(6));
      const n = shape[axis],
        stride = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
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

/** What arraySync returns: a number (a boolean for a bool tensor, as tfjs), or nested arrays of them. */
export type NestedArray = number | boolean | NestedArray[];

/** A native read as the tensor's dtype gives it to JavaScript: a bool's int32 0 and 1 as a Uint8Array. */
function asTyped(h: NativeTensor, values: Float32Array | Int32Array): Float32Array | Int32Array | Uint8Array {
  return h.dtype === 'bool' ? Uint8Array.from(values) : values;
}

/** Flat values as nested arrays of a shape (booleans for a bool tensor). */
function nest(values: ArrayLike<number>, shape: number[], bool = false): NestedArray {
  const build = (axis: number, offset: number): NestedArray => {
    if (axis === shape.length) return bool ? values[offset] !== 0 : values[offset];
    const stride = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: shape[axis] }, (_, i) => build(axis + 1, offset + i * stride));
  };
  return build(0, 0);
}

/** A new tensor holding the box [from, from + count) of h, copied on h's device. */
function regionCopy(h: NativeTensor, from: number[], count: number[]): Tensor {
  const out = empty(count, h.dtype, h.device);
  if (count.every(c => c > 0))
    native.copyRegion(
      h,
      from,
      out,
      count.map(() => 0),
      count,
    );
  return new Tensor(out);
}

/**
 * Joins tensors along an axis (tf.concat; axis 0 by default): the same dtype, device and rank, equal sizes on
 * the other axes. A new tensor, copied on their device.
 */
export function concat(tensors: Tensor[], axis = 0): Tensor {
  if (!Array.isArray(tensors) || !tensors.length) fail('a non-empty array of tensors', 'tensors', tensors);
  const hs = tensors.map((t, i) => handleOf(t, `tensors[${i}]`)),
    first = hs[0],
    rank = first.shape.length;
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) fail(`an axis in [${-rank}, ${rank})`, 'axis', axis);
  const a = axis < 0 ? axis + rank : axis;
  hs.forEach((h, i) => {
    if (h.dtype !== first.dtype || h.device !== first.device || h.shape.length !== rank || h.shape.some((n, d) => d !== a && n !== first.shape[d]))
      throw new ValidationError(
        `concat: tensors[${i}] is ${h.dtype} [${h.shape}] on ${h.device}, which does not join ${first.dtype} ` +
          `[${first.shape}] on ${first.device} along axis ${a}`,
        'ERR_KERNELNET_SHAPE',
      );
  });
  const shape = [...first.shape];
  shape[a] = hs.reduce((n, h) => n + h.shape[a], 0);
  const out = empty(shape, first.dtype, first.device);
  let at = 0;
  for (const h of hs) {
    if (h.size)
      native.copyRegion(
        h,
        h.shape.map(() => 0),
        out,
        h.shape.map((_, d) => (d === a ? at : 0)),
        h.shape,
      );
    at += h.shape[a];
  }
  return new Tensor(out);
}

/**
 * A float32 tensor from raw pixel bytes (a Uint8Array, Buffer or Uint8ClampedArray, e.g. sharp's raw output),
 * each divided by `divisor` (default 1; 255 for values in [0, 1]) by the native backend: no JavaScript loop
 * over the pixels.
 */
export function fromPixels(pixels: Uint8Array | Uint8ClampedArray, shape: number[], options?: { divisor?: number; device?: string }): Tensor {
  options = checkOptions(options, { what: 'fromPixels options', supported: ['divisor', 'device'] });
  if (!(pixels instanceof Uint8Array || pixels instanceof Uint8ClampedArray)) fail('a Uint8Array, Buffer or Uint8ClampedArray', 'pixels', pixels);
  const dims = shapeArg(shape, 'shape'),
    divisor = options?.divisor ?? 1;
  if (typeof divisor !== 'number' || !(divisor > 0) || !Number.isFinite(divisor)) fail('a positive number', 'divisor', divisor);
  if (dims.reduce((a, b) => a * b, 1) !== pixels.length)
    throw new ValidationError(
      `fromPixels: shape [${dims.join(', ')}] needs ${dims.reduce((a, b) => a * b, 1)} values but received ${pixels.length}`,
      'ERR_KERNELNET_SHAPE',
    );
  const out = empty(dims, 'float32', options?.device === undefined ? undefined : parseDevice(options.device, 'device'));
  try {
    native.fromBytes(new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.length), divisor, out);
  } catch (err) {
    out.dispose();
    throw err;
  }
  return new Tensor(out);
}

/**
 * A device name: 'cpu', or 'cuda' / 'cuda:0' for the GPU. Other ordinals are refused until kernelnet drives
 * several GPUs; a GPU that is not usable is refused where a tensor is made on it, with the reason.
 */
export function parseDevice(value: unknown, name: string): Device {
  if (value === 'cpu' || value === 'cuda') return value;
  if (value === 'cuda:0') return 'cuda';
  if (typeof value === 'string' && /^cuda:\d+$/.test(value))
    throw new ValidationError(
      `Expected 'cuda:0' for ${name}: kernelnet drives one GPU for now, but received '${value}'`,
      'ERR_KERNELNET_UNSUPPORTED',
    );
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
  else if (
    value !== null &&
    typeof value === 'object' &&
    !seen.has(value) &&
    (Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype)
  ) {
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
  let result: T | undefined,
    returned = new Set<Tensor>();
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

/** Handles a gradient tape holds (hold()): how many holds, and whether some Tensor over it was disposed meanwhile. */
const holds = new Map<NativeTensor, { count: number; pending: boolean }>();
/** Tensors disposed while their handle was held: they read as disposed, their memory waits for release(). */
const released = new WeakSet<Tensor>();

/**
 * @internal Another Tensor over t's memory, for a gradient tape: no tidy() disposes it, and disposing t (or any
 * Tensor over the same memory) meanwhile only marks that Tensor disposed; the memory is freed when the last hold
 * is release()d. The Tensor returned must not be disposed: release() it.
 */
export function hold(t: Tensor): Tensor {
  const h = t[HANDLE];
  const held = holds.get(h);
  if (held) held.count++;
  else holds.set(h, { count: 1, pending: h.disposed });
  const alias = Object.create(Tensor.prototype) as Tensor;
  Object.defineProperty(alias, HANDLE, { value: h });
  return alias;
}

/** @internal The memory a Tensor is over (the same for every Tensor over it, disposed or not): a gradient tape's key. */
export function handleKey(t: Tensor): NativeTensor {
  return t[HANDLE];
}

/** @internal Whether a gradient tape holds t's memory (hold()). */
export function isHeld(t: Tensor): boolean {
  return holds.has(t[HANDLE]);
}

/** @internal Lets go of a hold(); frees the memory if some Tensor over it was disposed meanwhile. */
export function release(alias: Tensor): void {
  const h = alias[HANDLE],
    held = holds.get(h);
  if (!held || --held.count > 0) return;
  holds.delete(h);
  if (held.pending) h.dispose();
}

/** @internal Takes t out of the running tidy() scopes (a variable lives until it is disposed). */
export function untrack(t: Tensor): void {
  for (const scope of scopes) scope.delete(t);
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
      throw new ValidationError(
        `Expected data${path} to be an array of length ${shape[depth]} (nested arrays must not be ragged; ` +
          `the first element's shape is [${shape.slice(depth).join(', ')}]) but received ${describe(v)}`,
        'ERR_KERNELNET_SHAPE',
      );
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
  options = checkOptions(options, { what: 'tensor options', supported: ['device'] });
  const device = options?.device === undefined ? undefined : parseDevice(options.device, 'device');
  let array: Float32Array | Int32Array, dims: number[];
  if (data instanceof Float32Array || data instanceof Int32Array) {
    array = data;
    dims = [data.length];
  } else if ((data instanceof Uint8Array || data instanceof Uint8ClampedArray) && shape !== undefined && shape !== null) {
    return fromPixels(data, shape, { device }); // bytes converted natively, as fromPixels
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
export function sliceRows(t: Tensor | NativeTensor, start: number, count: number): Tensor {
  const src = t instanceof Tensor ? handleOf(t, 'tensor') : t;
  const rows = new native.Tensor(
    [count],
    'int32',
    Int32Array.from({ length: count }, (_, i) => start + i),
    src.device,
  );
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
export function backend(): BackendInfo {
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
  const src = labels instanceof Tensor ? handleOf(labels, 'labels') : new native.Tensor([labels.length], 'int32', Int32Array.from(labels));
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
