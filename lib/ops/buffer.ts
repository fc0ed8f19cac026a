// tfjs's TensorBuffer (tf.buffer, tensor.bufferSync()): a mutable host array with a shape, filled element by element
// (buffer.set(value, ...loc)) and made into a tensor at once (buffer.toTensor()), as scripts build a batch of game
// states or sparse one-hot rows. Host-side data building only, as tensor() from arrays: no math here.
import type { DType } from '../core/native.js';
import { Tensor, handleOf } from '../core/tensor.js';
import { describe } from '../core/validate.js';
import { opError, sizeOf, stridesOf } from './base.js';
import { tensor } from './ops.js';

/** A mutable array with a shape, made into a Tensor by toTensor() (tfjs's TensorBuffer). */
export class TensorBuffer {
  /** The element count. */
  readonly size: number;
  /** The row-major strides of all but the last axis (as tfjs's). */
  readonly strides: number[];
  /** The values, flat in row-major order. */
  readonly values: Float32Array | Int32Array | Uint8Array;

  /** @internal Use tf.buffer(). */
  constructor(
    /** The buffer's shape. */
    readonly shape: number[],
    /** 'float32', 'int32' or 'bool'. */
    readonly dtype: DType,
    values?: ArrayLike<number>,
  ) {
    this.size = sizeOf(shape);
    this.strides = stridesOf(shape).slice(0, -1);
    const make = dtype === 'float32' ? Float32Array : dtype === 'int32' ? Int32Array : Uint8Array;
    if (values !== undefined && values.length !== this.size)
      throw opError('buffer', `the length of values (${values.length}) does not match the size of the shape [${shape}] (${this.size})`);
    this.values = values instanceof make ? values : values ? make.from(values) : new make(this.size);
  }

  /** Writes value at the location (one index per axis). */
  set(value: number | boolean, ...locs: number[]): void {
    if (locs.length === 0) locs = [0];
    this.values[this.locToIndex(locs)] = Number(value);
  }

  /** The value at the location (one index per axis). */
  get(...locs: number[]): number {
    if (locs.length === 0) locs = [0];
    return this.values[this.locToIndex(locs)];
  }

  /** The flat index of a location, checked against the shape. */
  locToIndex(locs: number[]): number {
    if (locs.length !== this.shape.length)
      throw opError('buffer', `the number of provided coordinates (${locs.length}) must match the rank (${this.shape.length})`);
    let index = 0;
    locs.forEach((l, d) => {
      if (!Number.isInteger(l) || l < 0 || l >= this.shape[d])
        throw opError('buffer', `requested out of range element at [${locs}] in a buffer of shape [${this.shape}]`, 'ERR_KERNELNET_ARG');
      index = index * this.shape[d] + l;
    });
    return index;
  }

  /** The location of a flat index. */
  indexToLoc(index: number): number[] {
    if (!Number.isInteger(index) || index < 0 || index >= Math.max(this.size, 1))
      throw opError('buffer', `index ${describe(index)} is out of range for size ${this.size}`, 'ERR_KERNELNET_ARG');
    const loc = new Array<number>(this.shape.length);
    for (let d = this.shape.length - 1; d >= 0; --d) {
      loc[d] = index % this.shape[d];
      index = Math.floor(index / this.shape[d]);
    }
    return loc;
  }

  /** The number of axes. */
  get rank(): number {
    return this.shape.length;
  }

  /** A new Tensor of the values (a copy: later writes to the buffer do not change it). */
  toTensor(): Tensor {
    return tensor(this.values, this.shape, this.dtype);
  }
}

/** tf.buffer(shape, dtype = 'float32', values?): a TensorBuffer of zeros, or of the given values. */
export function buffer(shape: number[], dtype: DType = 'float32', values?: ArrayLike<number>): TensorBuffer {
  if (!Array.isArray(shape) || !shape.every(d => Number.isInteger(d) && d >= 0))
    throw opError('buffer', `expected shape to be an array of non-negative integers but received ${describe(shape)}`, 'ERR_KERNELNET_ARG');
  if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool')
    throw opError(
      'buffer',
      `dtype '${String(dtype)}' is not supported: kernelnet tensors are 'float32', 'int32' or 'bool'`,
      'ERR_KERNELNET_UNSUPPORTED',
    );
  return new TensorBuffer([...shape], dtype, values);
}

/** tensor.bufferSync(): a TensorBuffer holding a copy of the tensor's values. */
export function bufferOf(t: Tensor): TensorBuffer {
  const h = handleOf(t, 'tensor');
  return new TensorBuffer(h.shape, h.dtype, t.dataSync());
}
