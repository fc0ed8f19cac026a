// Float64 references for the shape sweep (test/sweep.test.ts), beside helpers.ts's: the conv and dense
// products with any activation and an optional bias, their gradients from a given dz, max and average pooling
// with 'same' padding and overlapping windows, every loss kind with its metrics, softmax, batch
// normalization and its fold, and the data ops. Channels last, as the addon; every sum in float64.
import type { BinaryOp, NativeActivation } from '../lib/core/native.js';
import { ACTIVATION_REFS, convOut, convRef, type ConvCase } from './helpers.js';

/** The alpha an op uses (Args::alpha): elu's default 1, leaky_relu's 0.2, as float32. */
export function alphaOf(act: NativeActivation, alpha?: number): number {
  return Math.fround(alpha ?? (act === 'elu' ? 1 : act === 'leaky_relu' ? 0.2 : 0));
}

/** y = act(z) elementwise (Keras's definitions, helpers.ts's ACTIVATION_REFS). */
export function actRef(act: NativeActivation, z: ArrayLike<number>, alpha?: number): Float64Array {
  const f = ACTIVATION_REFS[act].f,
    a = alphaOf(act, alpha);
  return Float64Array.from(z, v => f(v, a));
}

const SELU_ALPHA = 1.6732632423543772,
  SELU_SCALE = 1.0507009873554805;

/**
 * act'(.) as the backward ops take it (cpp/epilogue.h's act_backward): from the activation's output y, or from
 * its input x for swish and gelu, whose derivative is no function of y. The float64 formulas of the same.
 */
export function actGrad(act: NativeActivation, y: number, x: number, alpha?: number): number {
  const a = alphaOf(act, alpha);
  switch (act) {
    case 'relu':
      return y > 0 ? 1 : 0;
    case 'relu6':
      return y > 0 && y < 6 ? 1 : 0;
    case 'elu':
      return y > 0 ? 1 : y + a;
    case 'selu':
      return y > 0 ? SELU_SCALE : y + SELU_SCALE * SELU_ALPHA;
    case 'sigmoid':
      return y * (1 - y);
    case 'tanh':
      return 1 - y * y;
    case 'softplus':
      return -Math.expm1(-y);
    case 'swish':
    case 'gelu':
      return ACTIVATION_REFS[act].df(x, a);
    case 'leaky_relu':
      return y > 0 ? 1 : a;
    default:
      return 1;
  }
}

/** dz = dy * act'(.) from y (and pre, the stored input, for swish and gelu). */
export function maskRef(
  act: NativeActivation,
  y: ArrayLike<number>,
  pre: ArrayLike<number> | null,
  dy: ArrayLike<number>,
  alpha?: number,
): Float64Array {
  const dz = new Float64Array(dy.length);
  for (let i = 0; i < dz.length; ++i) dz[i] = dy[i] * actGrad(act, y[i], pre ? pre[i] : 0, alpha);
  return dz;
}

/** The layer below's activation on an input gradient (epilogue.h's BelowAct): g * act'(.) from x, its output. */
export function belowRef(act: NativeActivation | undefined, x: ArrayLike<number>, g: Float64Array, alpha?: number): Float64Array {
  if (!act || act === 'linear') return g;
  return g.map((v, i) => v * actGrad(act, x[i], 0, alpha));
}

// ---- convolution ----

/** z = conv(x, w) + b (b null: none) and y = act(z). */
export function convForwardRef(s: ConvCase, x: Float32Array, w: Float32Array, b: Float32Array | null, act: NativeActivation, alpha?: number) {
  const z = convRef(s, x, w, b ?? new Float32Array(s.f), false);
  return { z, y: actRef(act, z, alpha) };
}

/** dx (when wantDx), dw and db of a convolution from dz, the gradient of its pre-activation output. */
export function convGradsRef(s: ConvCase, x: Float32Array, w: Float32Array, dz: ArrayLike<number>, wantDx: boolean) {
  const { oh, ow, pt, pl, dh, dw: dil } = convOut(s);
  const dx = wantDx ? new Float64Array(x.length) : null,
    dw = new Float64Array(w.length),
    db = new Float64Array(s.f);
  const g = new Float64Array(s.f);
  for (let n = 0; n < s.n; ++n)
    for (let oy = 0; oy < oh; ++oy)
      for (let ox = 0; ox < ow; ++ox) {
        const o = ((n * oh + oy) * ow + ox) * s.f;
        for (let f = 0; f < s.f; ++f) {
          g[f] = dz[o + f];
          db[f] += g[f];
        }
        for (let ky = 0; ky < s.kh; ++ky) {
          const iy = oy * s.sh - pt + ky * dh;
          if (iy < 0 || iy >= s.h) continue;
          for (let kx = 0; kx < s.kw; ++kx) {
            const ix = ox * s.sw - pl + kx * dil;
            if (ix < 0 || ix >= s.w) continue;
            for (let c = 0; c < s.c; ++c) {
              const xi = ((n * s.h + iy) * s.w + ix) * s.c + c,
                wi = ((ky * s.kw + kx) * s.c + c) * s.f;
              const xv = x[xi];
              let acc = 0;
              for (let f = 0; f < s.f; ++f) {
                acc += g[f] * w[wi + f];
                dw[wi + f] += g[f] * xv;
              }
              if (dx) dx[xi] += acc;
            }
          }
        }
      }
  return { dx, dw, db };
}

// ---- pooling ----

export interface PoolCase {
  n: number;
  h: number;
  w: number;
  c: number;
  ph: number;
  pw: number;
  sh: number;
  sw: number;
  same: boolean;
}

/** The output size and leading padding along one axis, as the addon's out_size (-1: the window does not fit). */
export function outSize(size: number, k: number, stride: number, same: boolean): { out: number; pad: number } {
  if (!same) return { out: size >= k ? Math.floor((size - k) / stride) + 1 : -1, pad: 0 };
  const out = Math.ceil(size / stride);
  return { out, pad: Math.floor(Math.max((out - 1) * stride + k - size, 0) / 2) };
}

export function poolOut(p: PoolCase) {
  const a = outSize(p.h, p.ph, p.sh, p.same),
    b = outSize(p.w, p.pw, p.sw, p.same);
  return { oh: a.out, ow: b.out, pt: a.pad, pl: b.pad };
}

/** Each output's window clipped to the input (backend.h's pool_window): [y0, y1) x [x0, x1). */
function windows(p: PoolCase) {
  const { oh, ow, pt, pl } = poolOut(p);
  const win = (oy: number, ox: number) => {
    const iy = oy * p.sh - pt,
      ix = ox * p.sw - pl;
    return [Math.max(iy, 0), Math.min(iy + p.ph, p.h), Math.max(ix, 0), Math.min(ix + p.pw, p.w)];
  };
  return { oh, ow, win };
}

/** Max pooling: each window's first maximum and its flat index (iy * W + ix) * C + c within the image. */
export function maxPoolRef(p: PoolCase, x: ArrayLike<number>) {
  const { oh, ow, win } = windows(p),
    y = new Float64Array(p.n * oh * ow * p.c),
    arg = new Int32Array(y.length);
  for (let n = 0; n < p.n; ++n)
    for (let oy = 0; oy < oh; ++oy)
      for (let ox = 0; ox < ow; ++ox) {
        const [y0, y1, x0, x1] = win(oy, ox);
        for (let c = 0; c < p.c; ++c) {
          let best = -Infinity,
            bi = -1;
          for (let iy = y0; iy < y1; ++iy)
            for (let ix = x0; ix < x1; ++ix) {
              const i = (iy * p.w + ix) * p.c + c,
                v = x[n * p.h * p.w * p.c + i];
              if (bi < 0 || v > best) {
                best = v;
                bi = i;
              }
            }
          const o = ((n * oh + oy) * ow + ox) * p.c + c;
          y[o] = best;
          arg[o] = bi;
        }
      }
  return { y, arg, oh, ow };
}

/** dx of max pooling: each dy added at its argmax (an index outside the image is dropped). */
export function maxPoolBackwardRef(p: PoolCase, dy: ArrayLike<number>, arg: ArrayLike<number>): Float64Array {
  const per = dy.length / p.n,
    size = p.h * p.w * p.c,
    dx = new Float64Array(p.n * size);
  for (let o = 0; o < dy.length; ++o) {
    const i = arg[o];
    if (i >= 0 && i < size) dx[Math.floor(o / per) * size + i] += dy[o];
  }
  return dx;
}

/** Average pooling over the positions inside the input. */
export function avgPoolRef(p: PoolCase, x: ArrayLike<number>): Float64Array {
  const { oh, ow, win } = windows(p),
    y = new Float64Array(p.n * oh * ow * p.c);
  for (let n = 0; n < p.n; ++n)
    for (let oy = 0; oy < oh; ++oy)
      for (let ox = 0; ox < ow; ++ox) {
        const [y0, y1, x0, x1] = win(oy, ox),
          count = (y1 - y0) * (x1 - x0);
        for (let c = 0; c < p.c; ++c) {
          let sum = 0;
          for (let iy = y0; iy < y1; ++iy) for (let ix = x0; ix < x1; ++ix) sum += x[((n * p.h + iy) * p.w + ix) * p.c + c];
          y[((n * oh + oy) * ow + ox) * p.c + c] = sum / count;
        }
      }
  return y;
}

export function avgPoolBackwardRef(p: PoolCase, dy: ArrayLike<number>): Float64Array {
  const { oh, ow, win } = windows(p),
    dx = new Float64Array(p.n * p.h * p.w * p.c);
  for (let n = 0; n < p.n; ++n)
    for (let oy = 0; oy < oh; ++oy)
      for (let ox = 0; ox < ow; ++ox) {
        const [y0, y1, x0, x1] = win(oy, ox),
          count = (y1 - y0) * (x1 - x0);
        for (let iy = y0; iy < y1; ++iy)
          for (let ix = x0; ix < x1; ++ix)
            for (let c = 0; c < p.c; ++c) dx[((n * p.h + iy) * p.w + ix) * p.c + c] += dy[((n * oh + oy) * ow + ox) * p.c + c] / count;
      }
  return dx;
}

// ---- dense ----

export function denseForwardRef(
  n: number,
  i: number,
  o: number,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number> | null,
  act: NativeActivation,
  alpha?: number,
) {
  const z = new Float64Array(n * o);
  for (let r = 0; r < n; ++r) {
    const zr = z.subarray(r * o, r * o + o);
    if (b) for (let j = 0; j < o; ++j) zr[j] = b[j];
    for (let k = 0; k < i; ++k) {
      const xv = x[r * i + k],
        wk = k * o;
      if (xv !== 0) for (let j = 0; j < o; ++j) zr[j] += xv * w[wk + j];
    }
  }
  return { z, y: actRef(act, z, alpha) };
}

export function denseGradsRef(n: number, i: number, o: number, x: ArrayLike<number>, w: ArrayLike<number>, dz: ArrayLike<number>) {
  const dx = new Float64Array(n * i),
    dw = new Float64Array(i * o),
    db = new Float64Array(o);
  for (let r = 0; r < n; ++r) for (let j = 0; j < o; ++j) db[j] += dz[r * o + j];
  for (let r = 0; r < n; ++r)
    for (let k = 0; k < i; ++k) {
      const xv = x[r * i + k],
        wk = k * o,
        dzr = r * o;
      let acc = 0;
      for (let j = 0; j < o; ++j) {
        acc += dz[dzr + j] * w[wk + j];
        dw[wk + j] += xv * dz[dzr + j];
      }
      dx[r * i + k] = acc;
    }
  return { dx, dw, db };
}

// ---- losses (cpp/loss.h) ----

export type LossKind = 'crossentropy' | 'binary_crossentropy' | 'mse' | 'mae';
export type Accuracy = 'none' | 'categorical' | 'sparse' | 'binary';

/**
 * A loss over predictions z [n, k] with targets (float [n, k]) or class indices (int [n]) and optional row
 * weights: the increments of the metrics tensor (loss.h's MetricSlot: loss sum, hits, rows, first bad step,
 * weight sum, squared and absolute error sums) and dpred = weight * dloss / dpred / n.
 */
export function lossRef(
  kind: LossKind,
  acc: Accuracy,
  n: number,
  k: number,
  z: ArrayLike<number>,
  labels: ArrayLike<number> | null,
  classes: ArrayLike<number> | null,
  weights: ArrayLike<number> | null,
) {
  const metrics = new Float64Array(8),
    grad = new Float64Array(n * k);
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  for (let r = 0; r < n; ++r) {
    const t = (j: number) => (labels ? labels[r * k + j] : j === classes![r] ? 1 : 0);
    let zi = 0,
      yi = 0;
    for (let j = 1; j < k; ++j) {
      if (z[r * k + j] > z[r * k + zi]) zi = j;
      if (labels && labels[r * k + j] > labels[r * k + yi]) yi = j;
    }
    let lse = 0;
    if (kind === 'crossentropy') {
      const m = z[r * k + zi];
      let s = 0;
      for (let j = 0; j < k; ++j) s += Math.exp(z[r * k + j] - m);
      lse = m + Math.log(s);
    }
    const w = weights ? weights[r] : 1;
    let loss = 0,
      sq = 0,
      ab = 0,
      bh = 0;
    for (let j = 0; j < k; ++j) {
      const v = z[r * k + j],
        y = t(j);
      let out: number, g: number;
      if (kind === 'crossentropy') {
        out = Math.exp(v - lse);
        g = out - y;
        loss += y * (lse - v);
      } else if (kind === 'binary_crossentropy') {
        out = sig(v);
        g = (out - y) / k;
        loss += (Math.max(v, 0) - v * y + Math.log1p(Math.exp(-Math.abs(v)))) / k;
      } else {
        out = v;
        const d = v - y;
        g = kind === 'mse' ? (2 * d) / k : Math.sign(d) / k;
        loss += kind === 'mse' ? (d * d) / k : Math.abs(d) / k;
      }
      grad[r * k + j] = (g * w) / n;
      sq += (out - y) ** 2;
      ab += Math.abs(out - y);
      bh += (out > 0.5 ? 1 : 0) === y ? 1 : 0;
    }
    const hit = acc === 'categorical' ? (zi === yi ? 1 : 0) : acc === 'sparse' ? (zi === classes![r] ? 1 : 0) : acc === 'binary' ? bh / k : 0;
    metrics[0] += w * loss;
    metrics[1] += w * hit;
    metrics[4] += w;
    metrics[5] += (w * sq) / k;
    metrics[6] += (w * ab) / k;
  }
  metrics[2] = n;
  return { metrics, grad };
}

export function softmaxRef(n: number, k: number, z: ArrayLike<number>): Float64Array {
  const p = new Float64Array(n * k);
  for (let r = 0; r < n; ++r) {
    let m = -Infinity,
      s = 0;
    for (let j = 0; j < k; ++j) m = Math.max(m, z[r * k + j]);
    for (let j = 0; j < k; ++j) s += Math.exp(z[r * k + j] - m);
    for (let j = 0; j < k; ++j) p[r * k + j] = Math.exp(z[r * k + j] - m) / s;
  }
  return p;
}

// ---- batch normalization (cpp/batchnorm.h) ----

export function batchNormRef(
  m: number,
  c: number,
  x: ArrayLike<number>,
  gamma: ArrayLike<number> | null,
  beta: ArrayLike<number> | null,
  movingMean: ArrayLike<number>,
  movingVar: ArrayLike<number>,
  momentum: number,
  eps: number,
  training: boolean,
) {
  const mean = new Float64Array(c),
    invstd = new Float64Array(c),
    mm = Float64Array.from(movingMean),
    mv = Float64Array.from(movingVar);
  for (let j = 0; j < c; ++j) {
    if (!training) {
      mean[j] = movingMean[j];
      invstd[j] = 1 / Math.sqrt(movingVar[j] + eps);
      continue;
    }
    let s = 0,
      q = 0;
    for (let r = 0; r < m; ++r) s += x[r * c + j];
    const mu = s / m;
    for (let r = 0; r < m; ++r) q += (x[r * c + j] - mu) ** 2;
    const v = q / m;
    mean[j] = mu;
    invstd[j] = 1 / Math.sqrt(v + eps);
    mm[j] = movingMean[j] * momentum + mu * (1 - momentum);
    mv[j] = movingVar[j] * momentum + v * (1 - momentum);
  }
  const y = new Float64Array(m * c);
  for (let r = 0; r < m; ++r)
    for (let j = 0; j < c; ++j) y[r * c + j] = (x[r * c + j] - mean[j]) * invstd[j] * (gamma ? gamma[j] : 1) + (beta ? beta[j] : 0);
  return { y, mean, invstd, movingMean: mm, movingVar: mv };
}

/** The backward from the statistics the forward pass stored (mean, invstd). */
export function batchNormBackwardRef(
  m: number,
  c: number,
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  gamma: ArrayLike<number> | null,
  mean: ArrayLike<number>,
  invstd: ArrayLike<number>,
  training: boolean,
) {
  const dgamma = new Float64Array(c),
    dbeta = new Float64Array(c),
    dx = new Float64Array(m * c);
  for (let r = 0; r < m; ++r)
    for (let j = 0; j < c; ++j) {
      dbeta[j] += dy[r * c + j];
      dgamma[j] += dy[r * c + j] * (x[r * c + j] - mean[j]) * invstd[j];
    }
  for (let r = 0; r < m; ++r)
    for (let j = 0; j < c; ++j) {
      const g = gamma ? gamma[j] : 1,
        i = r * c + j;
      dx[i] = training ? g * invstd[j] * (dy[i] - dbeta[j] / m - ((x[i] - mean[j]) * invstd[j] * dgamma[j]) / m) : dy[i] * g * invstd[j];
    }
  return { dx, dgamma, dbeta };
}

export function batchNormFoldRef(
  rows: number,
  c: number,
  w: ArrayLike<number>,
  b: ArrayLike<number> | null,
  gamma: ArrayLike<number> | null,
  beta: ArrayLike<number> | null,
  movingMean: ArrayLike<number>,
  movingVar: ArrayLike<number>,
  eps: number,
) {
  const scale = Float64Array.from({ length: c }, (_, j) => (gamma ? gamma[j] : 1) / Math.sqrt(movingVar[j] + eps));
  const wOut = new Float64Array(rows * c),
    bOut = new Float64Array(c);
  for (let i = 0; i < rows * c; ++i) wOut[i] = w[i] * scale[i % c];
  for (let j = 0; j < c; ++j) bOut[j] = ((b ? b[j] : 0) - movingMean[j]) * scale[j] + (beta ? beta[j] : 0);
  return { wOut, bOut };
}

// ---- data ops ----

const strides = (shape: number[]) => {
  const s = new Array<number>(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; --d) s[d] = s[d + 1] * shape[d + 1];
  return s;
};

/** dst (a copy of dstInit) with the box of `size` from src at srcBegin written at dstBegin. */
export function copyRegionRef(
  srcShape: number[],
  src: ArrayLike<number>,
  srcBegin: number[],
  dstShape: number[],
  dstInit: ArrayLike<number>,
  dstBegin: number[],
  size: number[],
): Float64Array {
  const dst = Float64Array.from(dstInit),
    ss = strides(srcShape),
    ds = strides(dstShape),
    count = size.reduce((a, b) => a * b, 1);
  for (let e = 0; e < count; ++e) {
    let rest = e,
      so = 0,
      to = 0;
    for (let d = size.length - 1; d >= 0; --d) {
      const i = rest % size[d];
      rest = Math.floor(rest / size[d]);
      so += (srcBegin[d] + i) * ss[d];
      to += (dstBegin[d] + i) * ds[d];
    }
    dst[to] = src[so];
  }
  return dst;
}

/** The first index of the largest value along axis. */
export function argMaxRef(shape: number[], x: ArrayLike<number>, axis: number): Int32Array {
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1),
    n = shape[axis],
    inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const out = new Int32Array(outer * inner);
  for (let o = 0; o < outer; ++o)
    for (let i = 0; i < inner; ++i) {
      let best = 0;
      for (let j = 1; j < n; ++j) if (x[(o * n + j) * inner + i] > x[(o * n + best) * inner + i]) best = j;
      out[o * inner + i] = best;
    }
  return out;
}

/** dst[r] = src[indices[first + r]] (first = start + counter * rows); zero rows past the end or out of range. */
export function gatherRowsRef(
  src: ArrayLike<number>,
  srcRows: number,
  rowSize: number,
  indices: ArrayLike<number>,
  first: number,
  rows: number,
): Float64Array {
  const dst = new Float64Array(rows * rowSize);
  for (let r = 0; r < rows; ++r) {
    const i = first + r < indices.length ? indices[first + r] : -1;
    if (i >= 0 && i < srcRows) for (let c = 0; c < rowSize; ++c) dst[r * rowSize + c] = src[i * rowSize + c];
  }
  return dst;
}

/** One-hot rows; a label outside [0, k) gives a zero row. */
export function oneHotRef(labels: ArrayLike<number>, k: number): Float64Array {
  const out = new Float64Array(labels.length * k);
  for (let i = 0; i < labels.length; ++i) if (labels[i] >= 0 && labels[i] < k) out[i * k + labels[i]] = 1;
  return out;
}

// ---- broadcasting elementwise ops ----

/** The binary ops of the native binary() (cpp/elementwise.h). */
export const BINARY_OPS: readonly BinaryOp[] = ['add', 'sub', 'mul', 'div', 'max', 'min'];

/** Operand shapes [a, b] that broadcast: equal, trailing, inner, both ways, scalar-like, rank 5, rank 0. */
export const BINARY_CASES: [number[], number[]][] = [
  [
    [2, 3, 4],
    [2, 3, 4],
  ],
  [[2, 3, 4], [4]],
  [
    [2, 3, 4],
    [3, 1],
  ],
  [
    [2, 1, 4],
    [1, 3, 1],
  ],
  [[2, 3, 4], [1]],
  [[1], [2, 3, 4]],
  [[5], []],
  [
    [2, 3, 1, 2, 3],
    [3, 4, 1, 1],
  ],
  [
    [1, 3, 1],
    [2, 3, 4],
  ],
];

/** numpy's broadcast shape of a and b (right-aligned; a missing or size-1 dimension repeats). */
export function broadcastShape(a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length);
  return Array.from({ length: r }, (_, d) => {
    const da = a[d - r + a.length] ?? 1,
      db = b[d - r + b.length] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`${JSON.stringify(a)} and ${JSON.stringify(b)} do not broadcast`);
    return da === 1 ? db : da;
  });
}

/** The element of an operand of shape `shape` that y's element o (y of shape ys) reads. */
function broadcastIndex(ys: number[], shape: number[], o: number): number {
  let offset = 0,
    stride = 1,
    rest = o;
  for (let d = ys.length - 1; d >= 0; --d) {
    const i = rest % ys[d];
    rest = Math.floor(rest / ys[d]);
    const k = d - ys.length + shape.length;
    if (k < 0) continue;
    if (shape[k] !== 1) offset += i * stride;
    stride *= shape[k];
  }
  return offset;
}

function applyRef(op: BinaryOp, a: number, b: number): number {
  switch (op) {
    case 'add':
      return a + b;
    case 'sub':
      return a - b;
    case 'mul':
      return a * b;
    case 'div':
      return a / b;
    case 'max':
      return Number.isNaN(a) || Number.isNaN(b) ? NaN : a >= b ? a : b;
    case 'min':
      return Number.isNaN(a) || Number.isNaN(b) ? NaN : a <= b ? a : b;
  }
}

/** y = scale * (a op b) with numpy broadcasting. */
export function binaryRef(op: BinaryOp, a: ArrayLike<number>, as: number[], b: ArrayLike<number>, bs: number[], scale: number): Float64Array {
  const ys = broadcastShape(as, bs),
    y = new Float64Array(ys.reduce((p, d) => p * d, 1));
  for (let o = 0; o < y.length; ++o) y[o] = scale * applyRef(op, a[broadcastIndex(ys, as, o)], b[broadcastIndex(ys, bs, o)]);
  return y;
}

/** binaryRef's gradients given dy: each term g d(a op b)/d(operand) with g = dy * scale, summed over the repeats. */
export function binaryBackwardRef(
  op: BinaryOp,
  a: ArrayLike<number>,
  as: number[],
  b: ArrayLike<number>,
  bs: number[],
  dy: ArrayLike<number>,
  scale: number,
): { da: Float64Array; db: Float64Array } {
  const ys = broadcastShape(as, bs);
  const da = new Float64Array(as.reduce((p, d) => p * d, 1)),
    db = new Float64Array(bs.reduce((p, d) => p * d, 1));
  for (let o = 0; o < dy.length; ++o) {
    const i = broadcastIndex(ys, as, o),
      j = broadcastIndex(ys, bs, o);
    const x = a[i],
      w = b[j],
      g = dy[o] * scale;
    const [ga, gb] =
      op === 'add'
        ? [g, g]
        : op === 'sub'
          ? [g, -g]
          : op === 'mul'
            ? [g * w, g * x]
            : op === 'div'
              ? [g / w, (-g * x) / (w * w)]
              : op === 'max'
                ? x >= w
                  ? [g, 0]
                  : [0, g]
                : x <= w
                  ? [g, 0]
                  : [0, g];
    da[i] += ga;
    db[j] += gb;
  }
  return { da, db };
}

/**
 * Operands for op: in [-1, 1], a divisor of magnitude in [0.5, 2]; for max and min a grid where a and b differ by
 * at least 1/8 (no ties, so finite differences see one branch).
 */
export function operandData(op: BinaryOp, na: number, nb: number, r: () => number): [Float32Array, Float32Array] {
  const uniform = (n: number) => Float32Array.from({ length: n }, () => r() * 2 - 1);
  if (op === 'div') return [uniform(na), Float32Array.from({ length: nb }, () => (r() < 0.5 ? -1 : 1) * (0.5 + 1.5 * r()))];
  if (op === 'max' || op === 'min') {
    const grid = (n: number, shift: number) => Float32Array.from({ length: n }, () => Math.floor(r() * 17 - 8) / 4 + shift);
    return [grid(na, 0.125), grid(nb, 0)];
  }
  return [uniform(na), uniform(nb)];
}

/** The parts (each of its shape) concatenated along axis. */
export function concatRef(parts: ArrayLike<number>[], shapes: number[][], axis: number): Float64Array {
  const outer = shapes[0].slice(0, axis).reduce((p, d) => p * d, 1),
    inner = shapes[0].slice(axis + 1).reduce((p, d) => p * d, 1);
  const total = shapes.reduce((p, s) => p + s[axis], 0);
  const y = new Float64Array(outer * total * inner);
  let offset = 0;
  parts.forEach((x, k) => {
    const n = shapes[k][axis];
    for (let o = 0; o < outer; ++o) for (let j = 0; j < n * inner; ++j) y[(o * total + offset) * inner + j] = x[o * n * inner + j];
    offset += n;
  });
  return y;
}
