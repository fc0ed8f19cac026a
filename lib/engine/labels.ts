// Labels checked against what the loss needs, once per tensor.
import { ValidationError } from '../core/errors.js';
import type { NativeTensor } from '../core/native.js';

/** Labels already checked, by what they were checked for (a Tensor's contents cannot change through the public API). */
const checkedLabels = new WeakMap<NativeTensor, string>();

/**
 * Labels as the loss needs them, checked once per tensor. Categorical cross-entropy: one-hot (or soft) rows,
 * every value in [0, 1] and every row summing to 1 (integer class labels, a flipped sign or unnormalised scores
 * would otherwise train silently on nonsense). Sparse: class indices in [0, classes). Binary: values in [0, 1].
 * Errors: finite values.
 */
export function checkLabels(Y: NativeTensor, name: string, kind: 'onehot' | 'classes' | 'binary' | 'targets' = 'onehot', classes = 0): void {
  if (checkedLabels.get(Y) === `${kind}:${classes}`) return;
  const values = Y.read();
  const bad = (what: string, i: number) => new ValidationError(`Expected ${name} to hold ${what} but ${name}[${i}] is ${values[i]}`);
  if (kind === 'classes') {
    const i = values.findIndex(v => !(v >= 0 && v < classes));
    if (i >= 0) throw bad(`class indices in [0, ${classes})`, i);
  } else if (kind === 'binary') {
    const i = values.findIndex(v => !(v >= 0 && v <= 1));
    if (i >= 0) throw bad('binary labels (values in [0, 1])', i);
  } else if (kind === 'targets') {
    const i = values.findIndex(v => !Number.isFinite(v));
    if (i >= 0) throw bad('finite targets', i);
  } else {
    checkOneHot(Y, values as Float32Array, name);
  }
  checkedLabels.set(Y, `${kind}:${classes}`);
}

function checkOneHot(Y: NativeTensor, values: Float32Array, name: string): void {
  // One row per position over the last axis (an output of any rank: [N, ..., K]).
  const k = Y.shape.at(-1)!;
  for (let r = 0; r * k < values.length; ++r) {
    let sum = 0;
    for (let j = 0; j < k; ++j) {
      const v = values[r * k + j];
      if (!(v >= 0 && v <= 1))
        throw new ValidationError(`Expected ${name} to hold one-hot labels (values in [0, 1], see toCategorical) but ${name}[${r}][${j}] is ${v}`);
      sum += v;
    }
    if (Math.abs(sum - 1) > 1e-3)
      throw new ValidationError(`Expected ${name} to hold one-hot labels (each row summing to 1, see toCategorical) but row ${r} sums to ${sum}`);
  }
}
