// tf.test_util: tfjs-core's array assertions (test_util.ts), for test code written against tfjs: the same
// checks and messages ("Arrays differ: actual[i] = a, expected[i] = e."), float32's epsilon 1e-3 by default.
// A failed check throws a ValidationError (ERR_KERNELNET_ARG), an Error as tfjs's is. A Tensor is read as its
// values.
import { ValidationError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { util } from './util.js';

const TEST_EPSILON_FLOAT32 = 1e-3;
/** What tf.test_util's checks compare: a Tensor (its values), a typed array, nested arrays or a number. */
export type TestValues = Tensor | ArrayLike<number> | number | boolean | unknown[];
type Values = TestValues;

const fail = (message: string): never => {
  throw new ValidationError(message, 'ERR_KERNELNET_ARG');
};
const isTyped = (v: unknown) => ArrayBuffer.isView(v) && !(v instanceof DataView);

function shapeOf(v: unknown): number[] {
  const shape: number[] = [];
  while (Array.isArray(v) || isTyped(v)) {
    shape.push((v as ArrayLike<unknown>).length);
    v = (v as ArrayLike<unknown>)[0];
  }
  return shape;
}

function areClose(a: number, e: number, epsilon: number): boolean {
  if (!Number.isFinite(a) && !Number.isFinite(e)) return true;
  return !(Number.isNaN(a) || Number.isNaN(e) || Math.abs(a - e) > epsilon);
}

function expectArraysPredicate(actual: Values, expected: Values, predicate: (a: number, e: number) => boolean): void {
  if (actual instanceof Tensor) actual = actual.dataSync() as ArrayLike<number>;
  if (expected instanceof Tensor) expected = expected.dataSync() as ArrayLike<number>;
  const typedA = isTyped(actual),
    typedE = isTyped(expected);
  if ((!typedA && !typedE) || (typedA && typedE)) {
    const aType = (actual as object).constructor.name,
      eType = (expected as object).constructor.name;
    if (aType !== eType) fail(`Arrays are of different type. Actual: ${aType}. Expected: ${eType}`);
  }
  if (Array.isArray(actual) && Array.isArray(expected)) {
    const as = shapeOf(actual),
      es = shapeOf(expected);
    if (!util.arraysEqual(as, es)) fail(`Arrays have different shapes. Actual: [${as}]. Expected: [${es}]`);
  }
  const a = (typedA ? actual : util.flatten(actual)) as ArrayLike<number>;
  const e = (typedE ? expected : util.flatten(expected)) as ArrayLike<number>;
  if (a.length !== e.length)
    fail(`Arrays have different lengths actual: ${a.length} vs expected: ${e.length}.\nActual:   ${Array.from(a)}.\nExpected: ${Array.from(e)}.`);
  for (let i = 0; i < e.length; ++i)
    if (!predicate(a[i], e[i]))
      fail(`Arrays differ: actual[${i}] = ${a[i]}, expected[${i}] = ${e[i]}.\nActual:   ${Array.from(a)}.\nExpected: ${Array.from(e)}.`);
}

/** tf.test_util, with tfjs-core's names and checks. */
export const testUtil = {
  /** The float32 tolerance tfjs's tests use (1e-3). */
  testEpsilon: (): number => TEST_EPSILON_FLOAT32,
  /** Throws unless actual and expected have the same shape and values within epsilon (default 1e-3). */
  expectArraysClose(actual: Values, expected: Values, epsilon = TEST_EPSILON_FLOAT32): void {
    expectArraysPredicate(actual, expected, (a, e) => areClose(a, e, epsilon));
  },
  /** Throws unless actual and expected have the same shape and equal values. */
  expectArraysEqual(actual: Values, expected: Values): void {
    const exp = typeof expected === 'number' || typeof expected === 'boolean' ? [expected] : expected;
    expectArraysPredicate(actual, exp as Values, (a, e) => areClose(Number(a), Number(e), 0));
  },
  /** Throws unless |a - e| <= epsilon (default 1e-3); two non-finite numbers are close. */
  expectNumbersClose(a: number, e: number, epsilon = TEST_EPSILON_FLOAT32): void {
    if (!areClose(a, e, epsilon)) fail(`Numbers differ: actual === ${a}, expected === ${e}`);
  },
  /** Throws unless every value is in [low, high]. */
  expectValuesInRange(actual: Values, low: number, high: number): void {
    const values = (actual instanceof Tensor ? actual.dataSync() : actual) as ArrayLike<number>;
    for (let i = 0; i < values.length; i++)
      if (values[i] < low || values[i] > high) fail(`Value out of range:${values[i]} low: ${low}, high: ${high}`);
  },
};
