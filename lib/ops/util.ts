// tf.util: tfjs-core's helpers for plain JavaScript arrays and shapes (util_base.ts), with tfjs's behaviour:
// assert throws an Error with the message function's text, shuffle permutes an array in place with Math.random
// (Fisher-Yates, as tfjs), sizeFromShape multiplies a shape's sizes. Its errors are kernelnet's coded ones (assert's
// a ValidationError, an Error, with the message given).
import { performance } from 'node:perf_hooks';
import { ValidationError } from '../core/errors.js';
import { describe } from '../core/validate.js';

/** What tf.util.shuffle permutes in place: an array or a typed array. */
export type Shuffleable = unknown[] | Float32Array | Int32Array | Uint8Array;

function shuffle(array: Shuffleable): void {
  let counter = array.length,
    index = 0;
  while (counter > 0) {
    index = (Math.random() * counter) | 0;
    counter--;
    const t = array[counter];
    array[counter] = array[index] as never;
    array[index] = t as never;
  }
}

/** tf.util, with tfjs's names and behaviour. */
export const util = {
  /** Throws an Error (a ValidationError, ERR_KERNELNET_ARG) with msg()'s text as its message when expr is false. */
  assert(expr: boolean, msg: () => string): void {
    if (!expr) throw new ValidationError(typeof msg === 'string' ? msg : msg(), 'ERR_KERNELNET_ARG');
  },
  /** Shuffles an array in place (Fisher-Yates with Math.random, as tfjs). */
  shuffle,
  /** Shuffles two arrays of one length in place with the same permutation. */
  shuffleCombo(array: Shuffleable, array2: Shuffleable): void {
    if (array.length !== array2.length)
      throw new ValidationError(
        `tf.util.shuffleCombo: array sizes must match, but received ${array.length} and ${array2.length}`,
        'ERR_KERNELNET_ARG',
      );
    let counter = array.length,
      index = 0;
    while (counter > 0) {
      index = (Math.random() * counter) | 0;
      counter--;
      for (const a of [array, array2]) {
        const t = a[counter];
        a[counter] = a[index] as never;
        a[index] = t as never;
      }
    }
  },
  /** The indices 0 .. n - 1 in a random order, as a Uint32Array. */
  createShuffledIndices(n: number): Uint32Array {
    const a = new Uint32Array(n);
    for (let i = 0; i < n; ++i) a[i] = i;
    shuffle(a as unknown as Int32Array);
    return a;
  },
  /** The number of elements of a shape (1 for []). */
  sizeFromShape(shape: number[]): number {
    if (!Array.isArray(shape))
      throw new ValidationError(`tf.util.sizeFromShape: expected an array but received ${describe(shape)}`, 'ERR_KERNELNET_ARG');
    return shape.reduce((a, b) => a * b, 1);
  },
  /** Whether two arrays have the same length and elements. */
  arraysEqual(n1: ArrayLike<unknown>, n2: ArrayLike<unknown>): boolean {
    if (n1 === n2) return true;
    if (n1 == null || n2 == null || n1.length !== n2.length) return false;
    for (let i = 0; i < n1.length; i++) if (n1[i] !== n2[i]) return false;
    return true;
  },
  /** Nested arrays (and typed arrays within) flattened into one array. */
  flatten<T>(arr: unknown, result: T[] = []): T[] {
    if (Array.isArray(arr) || ArrayBuffer.isView(arr)) for (const v of Array.from(arr as ArrayLike<unknown>)) util.flatten(v, result);
    else result.push(arr as T);
    return result;
  },
  /** Whether a value is a Float32Array, Int32Array, Uint8Array or Uint8ClampedArray. */
  isTypedArray(a: unknown): boolean {
    return a instanceof Float32Array || a instanceof Int32Array || a instanceof Uint8Array || a instanceof Uint8ClampedArray;
  },
  /** x clamped to [min, max]. */
  clamp(min: number, x: number, max: number): number {
    return Math.max(min, Math.min(x, max));
  },
  /** A uniform number in [a, b). */
  randUniform(a: number, b: number): number {
    return Math.random() * (b - a) + a;
  },
  /** A string as UTF-8 bytes. */
  encodeString(s: string): Uint8Array {
    return new TextEncoder().encode(s);
  },
  /** UTF-8 bytes as a string. */
  decodeString(bytes: Uint8Array): string {
    return new TextDecoder().decode(bytes);
  },
  /** Milliseconds since the process started, sub-millisecond (performance.now()). */
  now: (): number => performance.now(),
};
