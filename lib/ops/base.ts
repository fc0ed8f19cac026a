// What every op of lib/ops/ shares: turning tfjs's arguments (tensors, numbers, nested arrays, typed arrays) into
// native tensors on one device, tfjs's dtype rules (upcastType: bool < int32 < float32), axes, and the
// bookkeeping of temporaries (each op disposes what it made but what it returns). No math here: every value is
// computed by a native op (lib/core/native.ts's general tensor math).
import { ValidationError, type ErrorCode } from '../core/errors.js';
import { native, type DType, type Device, type NativeTensor } from '../core/native.js';
import { Tensor, empty, handleOf } from '../core/tensor.js';
import { describe } from '../core/validate.js';

/** What an op takes where tfjs takes a TensorLike: a Tensor, a number or boolean, nested arrays, or a typed array. */
export type TensorInput = Tensor | number | boolean | ArrayLike<number> | NestedInput;
/** Nested arrays of numbers or booleans. */
export type NestedInput = ReadonlyArray<number | boolean | NestedInput | ArrayLike<number>>;

/** The device new tensors get when an op has no tensor operand (kernelnet/tfjs's setBackend sets it). */
let current: Device | undefined;
/** @internal Sets the device of tensors made without a tensor operand (undefined: the environment's default). */
export function setOpsDevice(d: Device | undefined): void {
  current = d;
}
/** @internal The device of tensors made without a tensor operand. */
export function opsDevice(): Device {
  return current ?? (native.backend().name as Device);
}

/** tfjs's upcastType: bool < int32 < float32. */
export function upcast(a: DType, b: DType): DType {
  if (a === 'float32' || b === 'float32') return 'float32';
  if (a === 'int32' || b === 'int32') return 'int32';
  return 'bool';
}

/** The error an op throws for a bad argument (ERR_KERNELNET_SHAPE for shapes, ERR_KERNELNET_ARG otherwise). */
export function opError(op: string, message: string, code: ErrorCode = 'ERR_KERNELNET_SHAPE'): ValidationError {
  return new ValidationError(`${op}: ${message}`, code);
}

/** The product of a shape's sizes. */
export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * One op's scope: native tensors made along the way are disposed when it ends, except the one it returns
 * (wrapped in a Tensor by `result`).
 */
export class Scope {
  private temps: NativeTensor[] = [];
  constructor(
    readonly op: string,
    readonly device: Device,
  ) {}
  /** A new native tensor, disposed at the end of the op unless returned. */
  make(shape: number[], dtype: DType): NativeTensor {
    const h = empty(shape, dtype, this.device);
    this.temps.push(h);
    return h;
  }
  /**
   * h, disposed at the end of the op. Never a view (NativeTensor.reshape) of a tensor the op does not own: disposing
   * a view frees the buffer it shares. Views are left to the garbage collector, which only drops the reference.
   */
  own(h: NativeTensor): NativeTensor {
    this.temps.push(h);
    return h;
  }
  /** The op's result as a public Tensor (kept from disposal). */
  result(h: NativeTensor): Tensor {
    const i = this.temps.indexOf(h);
    if (i >= 0) this.temps.splice(i, 1);
    return new Tensor(h);
  }
  dispose(): void {
    for (const t of this.temps) t.dispose();
    this.temps = [];
  }
}

/** Runs fn in a Scope on `device`, disposing its temporaries however it ends. */
export function scoped<T>(op: string, device: Device, fn: (s: Scope) => T): T {
  const s = new Scope(op, device);
  try {
    return fn(s);
  } finally {
    s.dispose();
  }
}

/** The device of the first Tensor among args, else the current one. */
export function deviceOf(...args: unknown[]): Device {
  for (const a of args) if (a instanceof Tensor && !a.isDisposed) return a.device;
  return opsDevice();
}

const isTyped = (v: unknown): v is ArrayLike<number> & ArrayBufferView => ArrayBuffer.isView(v) && !(v instanceof DataView);

/** The shape, dtype and flat values of nested arrays (tfjs's inferShape and inferDtype), ragged arrays refused. */
export function flattenInput(op: string, name: string, v: unknown): { shape: number[]; dtype: DType; values: ArrayLike<number> } {
  if (typeof v === 'number') return { shape: [], dtype: 'float32', values: [v] };
  if (typeof v === 'boolean') return { shape: [], dtype: 'bool', values: [v ? 1 : 0] };
  if (isTyped(v))
    return {
      shape: [v.length],
      dtype: v instanceof Int32Array || v instanceof Uint8Array || v instanceof Uint8ClampedArray ? 'int32' : 'float32',
      values: v,
    };
  if (!Array.isArray(v))
    throw opError(op, `expected ${name} to be a Tensor, a number, a boolean or nested arrays but received ${describe(v)}`, 'ERR_KERNELNET_ARG');
  const shape: number[] = [];
  for (let level: unknown = v; Array.isArray(level) || isTyped(level); level = (level as ArrayLike<unknown>)[0]) {
    shape.push((level as ArrayLike<unknown>).length);
    if (!(level as ArrayLike<unknown>).length) break;
  }
  const values: number[] = [];
  let dtype: DType | null = null;
  const walk = (x: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (typeof x === 'boolean') {
        dtype ??= 'bool';
        values.push(x ? 1 : 0);
      } else if (typeof x === 'number') {
        dtype = 'float32';
        values.push(x);
      } else throw opError(op, `expected ${name} to hold numbers or booleans but it holds ${describe(x)}`, 'ERR_KERNELNET_ARG');
      return;
    }
    if (!(Array.isArray(x) || isTyped(x)) || (x as ArrayLike<unknown>).length !== shape[depth])
      throw opError(op, `${name} is ragged: expected an array of length ${shape[depth]} at depth ${depth} but received ${describe(x)}`);
    for (let i = 0; i < shape[depth]; ++i) walk((x as ArrayLike<unknown>)[i], depth + 1);
  };
  walk(v, 0);
  return { shape, dtype: dtype ?? 'float32', values };
}

/** A native tensor of `values` (numbers; bools as 0 and 1) with this shape and dtype, on the scope's device. */
export function fromValues(s: Scope, shape: number[], dtype: DType, values: ArrayLike<number>): NativeTensor {
  const h = s.make(shape, dtype);
  if (sizeOf(shape)) {
    if (dtype === 'float32') h.write(values instanceof Float32Array ? values : Float32Array.from(values));
    else if (dtype === 'int32') h.write(values instanceof Int32Array ? values : Int32Array.from(values, v => v | 0));
    else h.write(Int32Array.from(values, v => (v ? 1 : 0)));
  }
  return h;
}

/**
 * An operand as a native tensor on the scope's device: a Tensor's own handle (copied over when on another
 * device), or a new tensor from numbers and arrays (tfjs's convertToTensor: numbers are float32, booleans bool,
 * an Int32Array int32). `dtype`, when given, is what arrays are read as (a Tensor keeps its own).
 */
export function input(s: Scope, x: unknown, name: string, dtype?: DType): NativeTensor {
  if (x instanceof Tensor) {
    const h = handleOf(x, name);
    if (h.device === s.device) return h;
    return s.own(new native.Tensor(h.shape, h.dtype, h.read(), s.device));
  }
  const f = flattenInput(s.op, name, x);
  return fromValues(s, f.shape, dtype ?? f.dtype, f.values);
}

/** h as dtype (a new tensor unless it is already), tfjs's cast: float to int32 truncates; to bool is x != 0. */
export function castTo(s: Scope, h: NativeTensor, dtype: DType): NativeTensor {
  if (h.dtype === dtype) return h;
  const y = s.make(h.shape, dtype);
  native.mathUnary(dtype === 'bool' ? 'to_bool' : 'cast', h, y);
  return y;
}

/** An axis in [-rank, rank) as a non-negative one. */
export function axisArg(op: string, axis: unknown, rank: number, name = 'axis'): number {
  if (!Number.isInteger(axis) || (axis as number) < -Math.max(rank, 1) || (axis as number) >= Math.max(rank, 1))
    throw opError(op, `expected ${name} to be an integer in [${-rank}, ${rank}) but received ${describe(axis)}`, 'ERR_KERNELNET_ARG');
  return (axis as number) < 0 ? (axis as number) + rank : (axis as number);
}

/** tfjs's parseAxisParam: undefined or null is every axis; a number or an array, negative counting from the end; sorted, unique. */
export function axesArg(op: string, axis: unknown, rank: number): number[] {
  if (axis === undefined || axis === null) return Array.from({ length: rank }, (_, i) => i);
  const list = Array.isArray(axis) ? axis : [axis];
  const out = list.map(a => {
    if (!Number.isInteger(a) || a < -rank || a >= rank)
      throw opError(op, `expected axis to be integers in [${-rank}, ${rank}) but received ${describe(axis)}`, 'ERR_KERNELNET_ARG');
    return a < 0 ? a + rank : a;
  });
  return [...new Set(out)].sort((a, b) => a - b);
}

/** Row-major element strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; --d) {
    st[d] = acc;
    acc *= shape[d];
  }
  return st;
}

/** A copy of h with another shape of the same size (no view: tfjs's reshape gives a tensor that outlives its source). */
export function copyAs(s: Scope, h: NativeTensor, shape: number[]): NativeTensor {
  const y = s.make(shape, h.dtype);
  if (h.size) native.stridedCopy(h, y, stridesOf(shape), 0);
  return y;
}

/** numpy broadcasting of two shapes, or an error naming them. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length),
    out: number[] = [];
  for (let d = 0; d < r; ++d) {
    const x = a[a.length - r + d] ?? 1,
      y = b[b.length - r + d] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw opError(op, `operands could not be broadcast together with shapes [${a}] and [${b}]`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** h broadcast to shape (a strided view with zero strides on the repeated axes, copied). */
export function broadcastTo(s: Scope, h: NativeTensor, shape: number[]): NativeTensor {
  if (h.shape.join() === shape.join()) return h;
  const pad = shape.length - h.shape.length,
    st = stridesOf(h.shape);
  const strides = shape.map((n, d) => (d < pad || h.shape[d - pad] === 1 ? 0 : st[d - pad]));
  const y = s.make(shape, h.dtype);
  if (y.size) native.stridedCopy(h, y, strides, 0);
  return y;
}
