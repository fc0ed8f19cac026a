// Test helpers: naive float64 references of every op, seeded random data, tolerance checks, and tensors made
// and read through the addon. Tolerances are |a - b| <= atol + rtol * |ref|, and a failure names the worst
// element with both values.
import * as assert from 'uvu/assert';
import v8 from 'node:v8';
import vm from 'node:vm';
import {
  Adadelta,
  CheckpointError,
  Conv2D,
  Dense,
  Dropout,
  Flatten,
  MaxPooling2D,
  Reshape,
  Sequential,
  input,
  model,
  tensor,
  toCategorical,
  type LayersModel,
} from '../lib/index.js';
import type { LayerEntry } from '../lib/layers/registry.js';
import { buildMnistCnn } from '../examples/zoo.js';
import { native, type ConvArgs, type Device, type NativeActivation, type NativeTensor } from '../lib/core/native.js';

/** A small conv model on 8x8x1 inputs with 3 classes, for API tests. */
export function smallModel(seed: number, device?: Device): Sequential {
  return new Sequential({
    seed,
    device,
    layers: [
      new Conv2D({ filters: 4, kernelSize: 3, activation: 'relu', inputShape: [8, 8, 1] }),
      new MaxPooling2D({ poolSize: 2 }),
      new Dropout({ rate: 0.25 }),
      new Flatten(),
      new Dense({ units: 3, activation: 'softmax' }),
    ],
  });
}

/** n learnable examples for smallModel: the class is which third of the image is brightest. */
export function syntheticData(n: number, device?: Device) {
  // Class = which third of the image is brightest: learnable by the small model in a few epochs.
  const x = new Float32Array(n * 64),
    labels: number[] = [];
  for (let i = 0; i < n; ++i) {
    const c = i % 3;
    labels.push(c);
    for (let p = 0; p < 64; ++p) x[i * 64 + p] = (p % 8 >= c * 3 && p % 8 < c * 3 + 3 ? 0.8 : 0.1) + 0.1 * Math.sin(i * 7 + p);
  }
  const y = toCategorical(labels, 3);
  if (!device || y.device === device) return { x: tensor(x, [n, 8, 8, 1], { device }), y };
  const moved = y.to(device);
  y.dispose();
  return { x: tensor(x, [n, 8, 8, 1], { device }), y: moved };
}

/** The seed model (Keras mnist_cnn, examples/zoo.ts), compiled unless told otherwise; `rescale`: a Rescaling(1/255) layer first, for 0-255 pixels. */
export function seedModel(seed: number, compile = true, device?: Device, rescale = false): Sequential {
  const model = buildMnistCnn(seed, { rescaling: rescale, device });
  if (compile) model.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta({ learningRate: 1.0 }), metrics: ['accuracy'] });
  return model;
}

/** A small deterministic PRNG (mulberry32) for test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomArray(n: number, r: () => number, lo = -1, hi = 1): Float32Array {
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

/** Small integers in [lo, hi]: products and sums stay exact in float32, so results must match bit for bit. */
export function intArray(n: number, r: () => number, lo = -3, hi = 3): Float32Array {
  return Float32Array.from({ length: n }, () => lo + Math.floor((hi - lo + 1) * r()));
}

/** fn must throw an instance of `kind` whose message matches `pattern`; `what` names the case in failures. */
export function throwsA(kind: new (...args: never[]) => Error, fn: () => unknown, pattern: RegExp, what: string): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, kind, `${what}: ${String(err)}`);
    assert.match((err as Error).message, pattern, what);
    return;
  }
  assert.unreachable(`${what}: no error`);
}

/**
 * load must fail with a CheckpointError (ERR_KERNELNET_CHECKPOINT) that names `file` (err.file and the message's
 * start) and matches `pattern`, keeping the original error as its cause when `cause` is given.
 */
export function throwsCheckpointError(
  load: () => unknown,
  file: string,
  pattern: RegExp,
  cause: (new (...args: never[]) => Error) | undefined,
  what: string,
): void {
  let err: unknown;
  try {
    load();
  } catch (e) {
    err = e;
  }
  assert.instance(err, CheckpointError, `${what}: ${String(err)}`);
  const e = err as CheckpointError;
  assert.is(e.code, 'ERR_KERNELNET_CHECKPOINT', what);
  assert.is(e.file, file, `${what}: err.file`);
  assert.ok(e.message.startsWith(`${file}: `), `${what}: the message names the file: ${e.message}`);
  assert.match(e.message, pattern, what);
  if (cause) assert.instance(e.cause, cause, `${what}: the cause is the original error`);
}

/**
 * A child process's script (node --input-type=module -e SCRIPT PATH) that saves the seed model to PATH, prints
 * 'saved' once the first save is done, then saves again forever: for tests that kill it in the middle of a save.
 */
export const SAVE_FOREVER_SCRIPT = `
    const k = await import(${JSON.stringify(new URL('../lib/index.js', import.meta.url).href)});
    const { seedModel } = await import(${JSON.stringify(new URL('./helpers.js', import.meta.url).href)});
    const m = seedModel(1); // 14 MB with the optimizer state: each save takes a while
    m.save(process.argv[1]);
    process.stdout.write('saved\\n');
    for (;;) m.save(process.argv[1]);`;

export const live: NativeTensor[] = [];

/** A float32 tensor holding data (tracked so tests can dispose everything they made). */
export function T(shape: number[], data?: Float32Array, device?: Device): NativeTensor {
  const t = new native.Tensor(shape, 'float32', data, device);
  live.push(t);
  return t;
}

/** An output tensor poisoned with NaN, so an element the op forgets to write fails the comparison. */
export function out(shape: number[], device?: Device): NativeTensor {
  const t = T(shape, undefined, device);
  t.fill(NaN);
  return t;
}

export function I(shape: number[], data?: Int32Array, device?: Device): NativeTensor {
  const t = new native.Tensor(shape, 'int32', data, device);
  live.push(t);
  return t;
}

/**
 * Runs fn with the environment variable `name` set to value (undefined: unset), then restores it: when fn returns,
 * or once its promise settles. The native variables read at each use (cpp/env.h) see the value inside fn.
 */
export function withEnv<R>(name: string, value: string | undefined, fn: () => R): R {
  const saved = process.env[name];
  const set = (v: string | undefined) => {
    if (v === undefined) delete process.env[name];
    else process.env[name] = v;
  };
  set(value);
  let result: R;
  try {
    result = fn();
  } catch (e) {
    set(saved);
    throw e;
  }
  if (result instanceof Promise) return result.finally(() => set(saved)) as R;
  set(saved);
  return result;
}

export function disposeAll(): void {
  for (const t of live.splice(0)) t.dispose();
}

export function close(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number, what: string): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  let worst = -1,
    worstExcess = 0;
  for (let i = 0; i < expected.length; ++i) {
    const err = Math.abs(actual[i] - expected[i]);
    const excess = err - (atol + rtol * Math.abs(expected[i]));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
      if (Number.isNaN(excess)) break;
    }
  }
  if (worst >= 0) assert.unreachable(`${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (atol ${atol}, rtol ${rtol})`);
}

export function exact(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  close(actual, expected, 0, 0, what);
}

// ---- naive references (float64), channels-last ----

/** Convolution shapes for op tests: awkward sizes, strides, 'same' padding, and the seed model's layers. */
export const CONV_CASES: ConvCase[] = [
  { n: 1, h: 3, w: 3, c: 1, kh: 3, kw: 3, f: 1, sh: 1, sw: 1, same: false },
  { n: 3, h: 7, w: 6, c: 3, kh: 3, kw: 2, f: 5, sh: 1, sw: 1, same: false },
  { n: 2, h: 9, w: 8, c: 4, kh: 3, kw: 3, f: 17, sh: 2, sw: 2, same: true },
  { n: 3, h: 11, w: 13, c: 2, kh: 5, kw: 3, f: 7, sh: 2, sw: 3, same: false },
  { n: 2, h: 6, w: 7, c: 3, kh: 4, kw: 4, f: 3, sh: 1, sw: 1, same: true },
  { n: 2, h: 9, w: 10, c: 3, kh: 3, kw: 2, f: 4, sh: 1, sw: 1, same: false, dilH: 2, dilW: 3 }, // dilated
  { n: 2, h: 7, w: 8, c: 2, kh: 3, kw: 3, f: 5, sh: 1, sw: 1, same: true, dilH: 3, dilW: 2 }, // dilated, 'same'
  // Channels a multiple of 16 (the CPU's implicit weight gradient) with strides and 'same' padding, more images
  // than the backward pass's 16 chunks (uneven), filters not a multiple of a tile
  { n: 17, h: 6, w: 5, c: 16, kh: 3, kw: 3, f: 20, sh: 2, sw: 1, same: true },
  // K = 432 taps x channels: the CPU's implicit GEMM splits the taps into two blocks; dilated, 'same'
  { n: 3, h: 7, w: 6, c: 48, kh: 3, kw: 3, f: 9, sh: 1, sw: 1, same: true, dilH: 2, dilW: 1 },
  // 3x3, stride 1, channels and filters multiples of 8: the CPU's Winograd forward and input gradient (the
  // latter a Winograd conv of dy padded by 2 - pad); odd outputs (partial 2x2 tiles), with and without padding
  { n: 3, h: 7, w: 9, c: 8, kh: 3, kw: 3, f: 24, sh: 1, sw: 1, same: true },
  { n: 2, h: 8, w: 7, c: 16, kh: 3, kw: 3, f: 8, sh: 1, sw: 1, same: false },
  // Channels and filters multiples of 4 (CUDA's implicit GEMMs with TF32): 4 channels, so each K step wraps the
  // taps 4 times, dilated and strided with 'same' padding; then more than 1024 output pixels, so the weight
  // gradient's implicit GEMM is split along K
  { n: 2, h: 9, w: 8, c: 4, kh: 3, kw: 3, f: 8, sh: 1, sw: 2, same: true, dilH: 2, dilW: 2 },
  { n: 4, h: 18, w: 18, c: 8, kh: 3, kw: 3, f: 12, sh: 1, sw: 1, same: true },
  // ... and its input gradient (stride 1): filters spanning K steps unevenly (20 = 16 + 4), a dilated 'same'
  // window, and more than one 64-channel tile of dx
  { n: 2, h: 7, w: 6, c: 68, kh: 3, kw: 2, f: 20, sh: 1, sw: 1, same: true, dilH: 2, dilW: 1 },
  // 28 channels: the FP32 input gradient's narrow tile (128 x 32) with its last 4 columns empty; K = 6 taps x
  // 13 filters, not a multiple of its 8-deep step; dilated, 'same'
  { n: 2, h: 9, w: 7, c: 28, kh: 3, kw: 2, f: 13, sh: 1, sw: 1, same: true, dilH: 2, dilW: 1 },
  // 3x3 stride 1, channels a multiple of 16: the CPU's Winograd weight gradient too (dy's 2x2 tiles, odd outputs with 'same'
  // padding), more images than the backward pass's 16 chunks
  { n: 18, h: 7, w: 9, c: 16, kh: 3, kw: 3, f: 24, sh: 1, sw: 1, same: true },
  // A first layer's small window (CUDA's direct conv, one thread per pixel and 8 or 16 of its filters): 'same'
  // padding and a stride, so pixels near the border skip taps
  { n: 2, h: 7, w: 9, c: 2, kh: 3, kw: 3, f: 24, sh: 1, sw: 2, same: true },
  { n: 3, h: 6, w: 5, c: 1, kh: 5, kw: 5, f: 16, sh: 1, sw: 1, same: true },
  { n: 4, h: 28, w: 28, c: 1, kh: 3, kw: 3, f: 32, sh: 1, sw: 1, same: false }, // the seed's conv1
  { n: 2, h: 26, w: 26, c: 32, kh: 3, kw: 3, f: 64, sh: 1, sw: 1, same: false }, // the seed's conv2
];

/** Dense shapes [n, in, out]: 1s, odd and prime sizes, bigger than a tile, the seed's flattened input. */
export const DENSE_CASES: [number, number, number][] = [
  [1, 1, 1],
  [7, 13, 19],
  [3, 300, 10],
  [128, 300, 37],
  [5, 200, 700],
  [33, 9216, 17],
];

export interface ConvCase {
  n: number;
  h: number;
  w: number;
  c: number;
  kh: number;
  kw: number;
  f: number;
  sh: number;
  sw: number;
  same: boolean;
  /** Dilation (default 1): tap (ky, kx) reads input (oy*sh - pt + ky*dilH, ox*sw - pl + kx*dilW). */
  dilH?: number;
  dilW?: number;
}

/** The conv ops' ConvArgs for a case: its strides, padding and dilation, with this activation (and alpha, pre). */
export function convArgs(s: ConvCase, activation: NativeActivation, extra: { alpha?: number; pre?: NativeTensor | null } = {}): ConvArgs {
  return { strides: [s.sh, s.sw], padding: s.same ? 'same' : 'valid', activation, dilationRate: [s.dilH ?? 1, s.dilW ?? 1], ...extra };
}

export function convOut(s: ConvCase) {
  const o = (n: number, k: number, st: number) => (s.same ? Math.ceil(n / st) : Math.floor((n - k) / st) + 1);
  const dh = s.dilH ?? 1,
    dw = s.dilW ?? 1,
    kh = (s.kh - 1) * dh + 1,
    kw = (s.kw - 1) * dw + 1; // dilated spans
  const oh = o(s.h, kh, s.sh),
    ow = o(s.w, kw, s.sw);
  const pt = s.same ? Math.floor(Math.max((oh - 1) * s.sh + kh - s.h, 0) / 2) : 0;
  const pl = s.same ? Math.floor(Math.max((ow - 1) * s.sw + kw - s.w, 0) / 2) : 0;
  return { oh, ow, pt, pl, dh, dw };
}

export function convRef(s: ConvCase, x: Float32Array, w: Float32Array, b: Float32Array, relu: boolean): Float64Array {
  const { oh, ow, pt, pl, dh, dw } = convOut(s);
  const y = new Float64Array(s.n * oh * ow * s.f);
  for (let n = 0; n < s.n; ++n)
    for (let oy = 0; oy < oh; ++oy)
      for (let ox = 0; ox < ow; ++ox)
        for (let f = 0; f < s.f; ++f) {
          let acc = b[f];
          for (let ky = 0; ky < s.kh; ++ky)
            for (let kx = 0; kx < s.kw; ++kx) {
              const iy = oy * s.sh - pt + ky * dh,
                ix = ox * s.sw - pl + kx * dw;
              if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
              for (let c = 0; c < s.c; ++c) acc += x[((n * s.h + iy) * s.w + ix) * s.c + c] * w[((ky * s.kw + kx) * s.c + c) * s.f + f];
            }
          y[((n * oh + oy) * ow + ox) * s.f + f] = relu ? Math.max(acc, 0) : acc;
        }
  return y;
}

/** Gradients of sum(y * dy) through conv (+relu, masked by the reference output y). */
export function convBackwardRef(s: ConvCase, x: Float32Array, w: Float32Array, y: ArrayLike<number>, dy: Float32Array, relu: boolean) {
  const { oh, ow, pt, pl, dh, dw: dilW } = convOut(s);
  const dx = new Float64Array(x.length),
    dw = new Float64Array(w.length),
    db = new Float64Array(s.f);
  for (let n = 0; n < s.n; ++n)
    for (let oy = 0; oy < oh; ++oy)
      for (let ox = 0; ox < ow; ++ox)
        for (let f = 0; f < s.f; ++f) {
          const o = ((n * oh + oy) * ow + ox) * s.f + f;
          const g = relu && !(y[o] > 0) ? 0 : dy[o];
          db[f] += g;
          for (let ky = 0; ky < s.kh; ++ky)
            for (let kx = 0; kx < s.kw; ++kx) {
              const iy = oy * s.sh - pt + ky * dh,
                ix = ox * s.sw - pl + kx * dilW;
              if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
              for (let c = 0; c < s.c; ++c) {
                const xi = ((n * s.h + iy) * s.w + ix) * s.c + c,
                  wi = ((ky * s.kw + kx) * s.c + c) * s.f + f;
                dx[xi] += g * w[wi];
                dw[wi] += g * x[xi];
              }
            }
        }
  return { dx, dw, db };
}

export function denseRef(n: number, i: number, o: number, x: Float32Array, w: Float32Array, b: Float32Array, relu: boolean): Float64Array {
  const y = new Float64Array(n * o);
  for (let r = 0; r < n; ++r)
    for (let j = 0; j < o; ++j) {
      let acc = b[j];
      for (let k = 0; k < i; ++k) acc += x[r * i + k] * w[k * o + j];
      y[r * o + j] = relu ? Math.max(acc, 0) : acc;
    }
  return y;
}

export function denseBackwardRef(
  n: number,
  i: number,
  o: number,
  x: Float32Array,
  w: Float32Array,
  y: ArrayLike<number>,
  dy: Float32Array,
  relu: boolean,
) {
  const dx = new Float64Array(n * i),
    dw = new Float64Array(i * o),
    db = new Float64Array(o);
  for (let r = 0; r < n; ++r)
    for (let j = 0; j < o; ++j) {
      const g = relu && !(y[r * o + j] > 0) ? 0 : dy[r * o + j];
      db[j] += g;
      for (let k = 0; k < i; ++k) {
        dx[r * i + k] += g * w[k * o + j];
        dw[k * o + j] += g * x[r * i + k];
      }
    }
  return { dx, dw, db };
}

export function maxPoolRef(n: number, h: number, w: number, c: number, ph: number, pw: number, sh: number, sw: number, x: Float32Array) {
  const oh = Math.floor((h - ph) / sh) + 1,
    ow = Math.floor((w - pw) / sw) + 1;
  const y = new Float64Array(n * oh * ow * c),
    arg = new Int32Array(y.length);
  for (let b = 0; b < n; ++b)
    for (let oy = 0; oy < oh; ++oy)
      for (let ox = 0; ox < ow; ++ox)
        for (let ch = 0; ch < c; ++ch) {
          let best = -Infinity,
            bi = -1;
          for (let ky = 0; ky < ph; ++ky)
            for (let kx = 0; kx < pw; ++kx) {
              const i = ((oy * sh + ky) * w + ox * sw + kx) * c + ch;
              if (x[b * h * w * c + i] > best) {
                best = x[b * h * w * c + i];
                bi = i;
              }
            }
          const o = ((b * oh + oy) * ow + ox) * c + ch;
          y[o] = best;
          arg[o] = bi;
        }
  return { y, arg, oh, ow };
}

/** Keras's weighted categorical cross-entropy (weights null: all 1), its gradient of sum(w l) / n, and the weighted hits. */
/** Keras 3's activations in float64 (keras/src/activations/activations.py), and their derivatives. */
export const ACTIVATION_REFS: Record<string, { f: (x: number, alpha: number) => number; df: (x: number, alpha: number) => number }> = (() => {
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  const SA = 1.6732632423543772,
    SS = 1.0507009873554805;
  // erfc(t) for t >= 0 to about 1e-15 relative: 1 - the Maclaurin series below 3, a continued fraction above
  // (Abramowitz-Stegun 7.1.26 is too coarse). gelu takes 1 + erf(z) as erfc(-z), exact in the negative tail.
  const erfc = (t: number) => {
    if (t < 3) {
      let sum = t,
        term = t;
      for (let n = 1; n < 100; ++n) {
        term *= (-t * t) / n;
        sum += term / (2 * n + 1);
      }
      return 1 - (2 / Math.sqrt(Math.PI)) * sum;
    }
    let f = 0;
    for (let n = 60; n >= 1; --n) f = n / 2 / (t + f);
    return Math.exp(-t * t) / Math.sqrt(Math.PI) / (t + f);
  };
  const onePlusErf = (z: number) => (z < 0 ? erfc(-z) : 2 - erfc(z));
  return {
    linear: { f: x => x, df: () => 1 },
    relu: { f: x => Math.max(x, 0), df: x => (x > 0 ? 1 : 0) },
    relu6: { f: x => Math.min(Math.max(x, 0), 6), df: x => (x > 0 && x < 6 ? 1 : 0) },
    elu: { f: (x, a) => (x > 0 ? x : a * Math.expm1(x)), df: (x, a) => (x > 0 ? 1 : a * Math.exp(x)) },
    selu: { f: x => SS * (x > 0 ? x : SA * Math.expm1(x)), df: x => (x > 0 ? SS : SS * SA * Math.exp(x)) },
    sigmoid: { f: sig, df: x => sig(x) * (1 - sig(x)) },
    tanh: { f: Math.tanh, df: x => 1 - Math.tanh(x) ** 2 },
    softplus: { f: x => Math.log1p(Math.exp(x)), df: sig },
    swish: { f: x => x * sig(x), df: x => sig(x) * (1 + x * (1 - sig(x))) },
    gelu: {
      f: x => 0.5 * x * onePlusErf(x / Math.SQRT2),
      df: x => 0.5 * onePlusErf(x / Math.SQRT2) + (x * Math.exp((-x * x) / 2)) / Math.sqrt(2 * Math.PI),
    },
    leaky_relu: { f: (x, a) => (x < 0 ? a * x : x), df: (x, a) => (x > 0 ? 1 : a) },
  };
})();

export function softmaxCrossEntropyRef(n: number, k: number, z: Float32Array, labels: Float32Array, weights?: Float32Array) {
  let loss = 0,
    correct = 0,
    weightSum = 0;
  const grad = new Float64Array(n * k),
    probs = new Float64Array(n * k);
  for (let r = 0; r < n; ++r) {
    const row = z.subarray(r * k, r * k + k),
      lab = labels.subarray(r * k, r * k + k);
    const m = Math.max(...row);
    const sum = row.reduce((s, v) => s + Math.exp(v - m), 0);
    const lse = m + Math.log(sum);
    let zi = 0,
      yi = 0;
    for (let j = 0; j < k; ++j) {
      if (row[j] > row[zi]) zi = j;
      if (lab[j] > lab[yi]) yi = j;
      const w = weights ? weights[r] : 1;
      probs[r * k + j] = Math.exp(row[j] - lse);
      loss += w * lab[j] * (lse - row[j]);
      grad[r * k + j] = (w * (probs[r * k + j] - lab[j])) / n;
    }
    const w = weights ? weights[r] : 1;
    correct += zi === yi ? w : 0;
    weightSum += w;
  }
  return { loss, correct, grad, probs, weightSum };
}

/**
 * A recorded sequence of ops (a dense layer forward and backward, dropout by the step counter, Adadelta, the
 * counter's advance) run three times by a program, against the same calls made one by one on twin tensors:
 * the results must agree bit for bit, and nothing may run while recording. Returns the program's last state.
 */
export function checkProgramMatchesCalls(device: Device): { graph: boolean; reason: string; branches: number } {
  const r = rng(31);
  const make = () => {
    const x = T([16, 24], randomArray(16 * 24, r), device),
      w = T([24, 8], randomArray(24 * 8, r), device);
    const b = T([8], randomArray(8, r), device),
      y = T([16, 8], undefined, device),
      dy = T([16, 8], randomArray(16 * 8, r), device);
    const d = T([16, 8], undefined, device),
      dx = T([16, 24], undefined, device),
      dw = T([24, 8], undefined, device),
      db = T([8], undefined, device);
    const acc = [T([24, 8], new Float32Array(24 * 8), device), T([8], new Float32Array(8), device)];
    const dacc = [T([24, 8], new Float32Array(24 * 8), device), T([8], new Float32Array(8), device)];
    const counter = I([1], new Int32Array([0]), device),
      lr = T([1], new Float32Array([1]), device);
    return { x, w, b, y, dy, d, dx, dw, db, acc, dacc, counter, lr };
  };
  const a = make(),
    b = make();
  for (const k of ['x', 'w', 'b', 'dy'] as const) b[k].write(a[k].read() as Float32Array);
  const step = (t: ReturnType<typeof make>) => {
    native.denseForward(t.x, t.w, t.b, t.y, 'relu');
    native.dropoutForward(t.y, t.d, 0.5, 3, 100, t.counter);
    native.denseBackward(t.x, t.w, t.y, t.dy, t.dx, t.dw, t.db, 'relu');
    native.adadelta([t.w, t.b], [t.dw, t.db], t.acc, t.dacc, t.lr, 0.95, 1e-7);
    native.advance(t.counter);
  };
  a.d.fill(NaN);
  native.record(device);
  try {
    step(a);
  } catch (err) {
    native.endRecord().dispose();
    throw err;
  }
  const program = native.endRecord();
  try {
    assert.is(program.ops, 5);
    assert.is(program.device, device);
    assert.ok(Number.isNaN(a.d.read()[0]), 'nothing runs while recording');
    assert.equal(Array.from(a.counter.read()), [0], 'the counter did not move while recording');
    for (let i = 0; i < 3; ++i) {
      program.run();
      step(b);
    }
    for (const k of ['y', 'd', 'dx', 'w', 'b', 'counter'] as const) exact(a[k].read(), b[k].read(), `${k} after 3 runs`);
    for (let j = 0; j < 2; ++j) exact(a.acc[j].read(), b.acc[j].read(), `accumulator ${j}`);
    return { graph: program.graph, reason: program.reason, branches: program.branches };
  } finally {
    program.dispose();
  }
}

/**
 * A registry entry's sample model: the layer alone in a Sequential model on its sample input; a merge layer
 * (sample.inputShapes) in a functional model whose inputs each pass through Dense (so that its backward runs
 * into weights) before it. A Flatten after an output of more than one axis.
 */
export function registryModel(e: LayerEntry, args: { seed?: number; device?: string } = {}): LayersModel {
  if (!e.sample.inputShapes) {
    const m = new Sequential({ ...args, layers: [new e.ctor({ ...e.sample.args, inputShape: e.sample.inputShape } as never)] });
    if (m.outputShape.length !== 1) m.add(new Flatten());
    return m;
  }
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const inputs = e.sample.inputShapes.map(s => input({ shape: s }));
  const branches = inputs.map((t, j) => {
    const s = e.sample.inputShapes![j];
    return new Reshape({ targetShape: s }).apply(new Dense({ units: size(s) }).apply(s.length > 1 ? new Flatten().apply(t) : t));
  });
  let out = new e.ctor(e.sample.args as never).apply(branches);
  if (out.shape.length > 2) out = new Flatten().apply(out);
  return model({ ...args, inputs, outputs: out });
}

/** The registry's layer in its sample model. */
export function registryLayer(m: LayersModel, e: LayerEntry) {
  return m.layers.find(l => l.className === e.className)!;
}

v8.setFlagsFromString('--expose-gc');
const collect = vm.runInNewContext('gc') as () => void;
/**
 * The live native tensors once the garbage collector has run and the finalizers of what it found have (they run on
 * later turns of the event loop): a count that tensors another test dropped without disposing cannot move later.
 */
export async function settledLiveTensors(): Promise<number> {
  for (let i = 0; i < 3; ++i) {
    collect();
    await new Promise(resolve => setImmediate(resolve));
  }
  return native.stats().liveTensors;
}
