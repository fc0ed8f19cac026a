// The public Tensor: a thin owner of a native tensor handle. Memory is freed by dispose(), or by the garbage
// collector when the Tensor is unreachable, or when the process or worker ends.
import { native, type DType, type MemoryStats, type NativeTensor } from './native.js';
import { StateError, ValidationError } from './errors.js';
import { fail, shapeArg } from './validate.js';

const HANDLE = Symbol('kernelnet.handle');

export class Tensor {
  /** @internal */
  readonly [HANDLE]: NativeTensor;

  /** @internal Use tensor() to make one. */
  constructor(handle: NativeTensor) {
    this[HANDLE] = handle;
  }

  get shape(): number[] { return this[HANDLE].shape; }
  get dtype(): DType { return this[HANDLE].dtype; }
  get size(): number { return this[HANDLE].size; }
  get isDisposed(): boolean { return this[HANDLE].disposed; }

  /** A copy of the contents. */
  dataSync(): Float32Array | Int32Array { return this[HANDLE].read(); }

  /** A view with another shape of the same size (as tf.reshape); shares memory with this tensor. */
  reshape(shape: number[]): Tensor { return new Tensor(this[HANDLE].reshape(shapeArg(shape, 'shape'))); }

  dispose(): void { this[HANDLE].dispose(); }

  toString(): string {
    return this.isDisposed ? 'Tensor(disposed)' : `Tensor(${this.dtype}, [${this.shape.join(', ')}])`;
  }
}

/** @internal The native handle of a public tensor, checked. */
export function handleOf(t: unknown, name: string): NativeTensor {
  if (!(t instanceof Tensor)) fail('a Tensor', name, t);
  if (t.isDisposed) throw new StateError(`${name} is a disposed Tensor`, 'ERR_KERNELNET_DISPOSED');
  return t[HANDLE];
}

/** Makes a tensor from data (copied) with the given shape; dtype follows the array (Float32Array or Int32Array). */
export function tensor(data: Float32Array | Int32Array | number[], shape?: number[]): Tensor {
  const array = Array.isArray(data) ? Float32Array.from(data) : data;
  if (!(array instanceof Float32Array) && !(array instanceof Int32Array))
    fail('a Float32Array, Int32Array or number[]', 'data', data);
  const dims = shape === undefined ? [array.length] : shapeArg(shape, 'shape');
  const size = dims.reduce((a, b) => a * b, 1);
  if (size !== array.length)
    throw new ValidationError(`Expected ${size} values for shape [${dims.join(', ')}] but received ${array.length}`, 'ERR_KERNELNET_SHAPE');
  return new Tensor(new native.Tensor(dims, array instanceof Float32Array ? 'float32' : 'int32', array));
}

/** @internal A new uninitialised native tensor. */
export function empty(shape: number[], dtype: DType = 'float32'): NativeTensor {
  return new native.Tensor(shape, dtype);
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
  const src = labels instanceof Tensor ? handleOf(labels, 'labels')
    : new native.Tensor([labels.length], 'int32', Int32Array.from(labels));
  try {
    if (src.dtype !== 'int32' || src.shape.length !== 1)
      throw new ValidationError(`Expected labels to be an int32 tensor of shape [N] but received ${src.dtype} [${src.shape}]`, 'ERR_KERNELNET_SHAPE');
    const values = src.read();
    const bad = values.findIndex(v => !(v >= 0 && v < numClasses));
    if (bad >= 0) throw new ValidationError(`Expected labels in [0, ${numClasses}) but labels[${bad}] is ${values[bad]}`, 'ERR_KERNELNET_SHAPE');
    const out = new native.Tensor([src.shape[0], numClasses], 'float32');
    native.oneHot(src, out);
    return new Tensor(out);
  } finally {
    if (owned) src.dispose();
  }
}
