// The ops that kernelnet/tfjs shares with TensorFlow.js, each with a generator of random calls for
// test/tfjs-ops.test.ts. A generator returns the arguments as data (tensor specs and plain values), so the same call
// is built in both libraries. Dtypes follow tfjs's rules for each op (int32 for arithmetic and comparisons, bool
// for logical ops); a small share of calls is invalid on purpose (shapes that do not broadcast, axes out of range,
// mixed dtypes), where both libraries must throw.

export type DType = 'float32' | 'int32' | 'bool';

/** A tensor argument: built with tensor(values, shape, dtype) (bool ones as cast(int32 tensor, 'bool')). */
export interface TensorSpec {
  t: { shape: number[]; dtype: DType; values: number[] };
}
/** A list of tensors (concat, stack, addN). */
export interface ListSpec {
  list: TensorSpec[];
}
/** A plain JavaScript value (numbers, arrays, booleans, strings, undefined). */
export interface ValueSpec {
  v: unknown;
}
/** A member of the library's tf.Reduction enum. */
export interface ReductionSpec {
  reduction: 'NONE' | 'MEAN' | 'SUM' | 'SUM_BY_NONZERO_WEIGHTS';
}
export type ArgSpec = TensorSpec | ListSpec | ValueSpec | ReductionSpec;

/** Float tolerance: |a - b| <= atol + rtol * max(|a|, |b|); 'exact' for bit-equal results. */
export type Tol = { rtol: number; atol: number } | 'exact';

export interface Case {
  args: ArgSpec[];
  /** Per-case tolerance, when it depends on the inputs (sums over many elements). */
  tol?: Tol;
  /** Call as a tensor method on the first argument: the method's name. */
  method?: string;
}

export interface OpSpec {
  /** tfjs's name, dotted for namespaces ('image.resizeBilinear'). */
  name: string;
  gen: (g: Gen) => Case;
  tol: Tol;
  /** Tensor method of the same meaning (receiver = first argument), tried in a share of the cases. */
  method?: string | false;
  /** Results compared by a custom rule ('topkUnsorted': values as a multiset, indices must point at them). */
  compare?: 'topkUnsorted';
  /** Cases relative to the default count (e.g. 0.5 for slow or simple ops). */
  weight?: number;
}

/** mulberry32: small, fast and good enough for test data; the whole run is a function of the seed. */
export class Gen {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  uniform(lo: number, hi: number): number {
    return lo + this.next() * (hi - lo);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  }
  dim(): number {
    const r = this.next();
    return r < 0.05 ? 0 : r < 0.3 ? 1 : this.int(2, 5);
  }
  /** A shape of the given rank (random 0-5 when absent) with small dims, 0 and 1 included, at most `cap` elements. */
  shape(rank = this.int(0, 5), cap = 240, noZero = false): number[] {
    const s = Array.from({ length: rank }, () => (noZero ? Math.max(1, this.dim()) : this.dim()));
    while (s.reduce((n, d) => n * d, 1) > cap) s[s.indexOf(Math.max(...s))] -= 1;
    return s;
  }
  /** Float values of a domain: 'any' has zeros, halves, large and tiny magnitudes and (with specials) NaN and infinities. */
  floats(n: number, domain: Domain = 'any'): number[] {
    return Array.from({ length: n }, () => this.float(domain));
  }
  float(domain: Domain): number {
    const f = Math.fround;
    const r = this.next();
    switch (domain) {
      case 'positive':
        return f(Math.exp(this.uniform(-4, 3)));
      case 'unit':
        return f(this.uniform(-0.999, 0.999));
      case 'prob':
        return f(this.uniform(0.001, 0.999));
      case 'factor':
        return r < 0.1 ? this.int(-2, 2) : f(this.uniform(-2, 2));
      case 'moderate':
        return r < 0.15 ? this.int(-3, 3) : f(this.uniform(-5, 5));
      case 'finite':
      case 'any': {
        const special = domain === 'any' && r < 0.08;
        if (special) return this.pick([NaN, Infinity, -Infinity]);
        if (r < 0.2) return this.int(-4, 4);
        if (r < 0.27) return this.int(-6, 6) + 0.5;
        if (r < 0.34) return f((this.chance(0.5) ? -1 : 1) * Math.exp(this.uniform(7, 70)));
        if (r < 0.4) return f((this.chance(0.5) ? -1 : 1) * Math.exp(this.uniform(-70, -7)));
        if (r < 0.41) return this.pick([3.4e38, -3.4e38, 1e-40]);
        return f(this.uniform(-4, 4));
      }
    }
  }
  /** Small integers; in the default range, 8% of them up to +-1000. */
  ints(n: number, lo = -10, hi = 10): number[] {
    const wide = lo === -10 && hi === 10;
    return Array.from({ length: n }, () => (wide && this.chance(0.08) ? this.int(-1000, 1000) : this.int(lo, hi)));
  }
  bools(n: number): number[] {
    return Array.from({ length: n }, () => (this.chance(0.5) ? 1 : 0));
  }
  /** A tensor of a shape and dtype with values of the domain (floats) or small integers. */
  tensor(shape: number[], dtype: DType = 'float32', domain: Domain = 'any', intRange: [number, number] = [-10, 10]): TensorSpec {
    const n = size(shape);
    const values = dtype === 'float32' ? this.floats(n, domain) : dtype === 'int32' ? this.ints(n, ...intRange) : this.bools(n);
    return { t: { shape, dtype, values } };
  }
}

export type Domain = 'any' | 'finite' | 'moderate' | 'positive' | 'unit' | 'prob' | 'factor';

export const size = (shape: number[]): number => shape.reduce((n, d) => n * d, 1);
const v = (x: unknown): ValueSpec => ({ v: x });

/** The values of a spec as a nested array (a number at rank 0), for calls that take TensorLike. */
export function nested(values: number[], shape: number[]): unknown {
  if (shape.length === 0) return values[0];
  const inner = size(shape.slice(1));
  return Array.from({ length: shape[0] }, (_, i) => nested(values.slice(i * inner, (i + 1) * inner), shape.slice(1)));
}

/** Two (or more) shapes that broadcast together: suffixes of one shape with some dims set to 1. */
function broadcastShapes(g: Gen, count: number, maxRank = 4): number[][] {
  const out = g.shape(g.int(0, maxRank), 120);
  const shapes = Array.from({ length: count }, () => {
    const rank = g.chance(0.6) ? out.length : g.int(0, out.length);
    return out.slice(out.length - rank).map(d => (g.chance(0.3) ? 1 : d));
  });
  if (g.chance(0.04)) {
    // an invalid pair: a dim that neither equals the other nor is 1
    const s = shapes[g.int(0, count - 1)];
    if (s.length > 0) s[g.int(0, s.length - 1)] += 2;
  }
  return shapes;
}

const ELEMENTWISE: Tol = { rtol: 1e-6, atol: 0 };
const TRANSCENDENTAL: Tol = { rtol: 1e-5, atol: 1e-6 };
const EXACT: Tol = 'exact';

/** The usual tolerance of a reduction over `count` elements of magnitude up to `scale`. */
function sumTol(scale: number, count: number, rtol = 1e-5): Tol {
  return { rtol, atol: 1e-6 * Math.max(1, scale) * Math.max(1, count) };
}
function maxAbs(values: number[]): number {
  let m = 0;
  for (const x of values) if (Number.isFinite(x)) m = Math.max(m, Math.abs(x));
  return m;
}

// --- elementwise unary -----------------------------------------------------------------------------------------

interface UnaryOpts {
  domain?: Domain;
  ints?: boolean;
  extra?: (g: Gen) => unknown[];
  tol?: Tol;
  dtype?: DType;
}
function unary(name: string, o: UnaryOpts = {}): OpSpec {
  return {
    name,
    tol: o.tol ?? TRANSCENDENTAL,
    method: name,
    gen: g => {
      const dtype: DType = o.dtype ?? (o.ints !== false && g.chance(0.2) ? 'int32' : 'float32');
      const x = g.tensor(g.shape(), dtype, o.domain ?? 'any');
      const extra = (o.extra?.(g) ?? []).map(v);
      if (g.chance(0.05)) return { args: [v(nested(x.t.values, x.t.shape)), ...extra] }; // a TensorLike, not a tensor
      return { args: [x, ...extra] };
    },
  };
}

export const UNARY: OpSpec[] = [
  unary('abs', { tol: EXACT }),
  unary('neg', { tol: EXACT }),
  unary('sqrt', { tol: ELEMENTWISE }),
  unary('rsqrt'),
  unary('square', { tol: ELEMENTWISE }),
  unary('exp'),
  unary('expm1'),
  unary('log'),
  unary('log1p'),
  unary('sin'),
  unary('cos'),
  unary('tan'),
  unary('asin'),
  unary('acos'),
  unary('atan'),
  unary('sinh'),
  unary('cosh'),
  unary('tanh'),
  unary('sigmoid'),
  unary('softplus'),
  unary('relu', { tol: EXACT }),
  unary('relu6', { tol: EXACT }),
  unary('elu'),
  unary('selu'),
  unary('leakyRelu', { extra: g => (g.chance(0.3) ? [] : [g.pick([0.2, 0.01, 0.5, -0.3, 2])]) }),
  unary('step', { tol: EXACT, extra: g => (g.chance(0.4) ? [] : [g.pick([0, 0.1, -2, 0.5])]) }),
  unary('round', { tol: EXACT }),
  unary('floor', { tol: EXACT }),
  unary('ceil', { tol: EXACT }),
  unary('sign', { tol: EXACT }),
  unary('reciprocal', { tol: ELEMENTWISE }),
  unary('erf'),
  unary('isNaN', { tol: EXACT }),
  unary('isInf', { tol: EXACT }),
  unary('isFinite', { tol: EXACT }),
  unary('logicalNot', { tol: EXACT, dtype: 'bool' }),
  unary('clipByValue', {
    tol: EXACT,
    extra: g => {
      const lo = g.pick([-1, 0, -2.5, 1]);
      const hi = lo + g.pick([0, 0.5, 2, 6]);
      return g.chance(0.05) ? [hi + 1, lo] : [lo, hi]; // min > max: both refuse
    },
  }),
];

// --- elementwise binary with broadcasting ----------------------------------------------------------------------

interface BinaryOpts {
  tol?: Tol;
  dtypes?: 'numeric' | 'bool' | 'float';
  nonZeroDivisor?: boolean;
  intRange?: [number, number];
  exponent?: boolean;
  method?: string | false;
}
function binary(name: string, o: BinaryOpts = {}): OpSpec {
  return {
    name,
    tol: o.tol ?? ELEMENTWISE,
    method: o.method ?? name,
    gen: g => {
      const [sa, sb] = broadcastShapes(g, 2);
      let da: DType, db: DType;
      if (o.dtypes === 'bool') da = db = 'bool';
      else if (o.dtypes === 'float') da = db = 'float32';
      else {
        da = db = g.chance(0.35) ? 'int32' : 'float32';
        if (g.chance(0.04)) db = da === 'int32' ? 'float32' : 'int32'; // mixed dtypes: tfjs refuses
      }
      const a = g.tensor(sa, da, 'any', o.intRange);
      const b = g.tensor(sb, db, 'any', o.intRange);
      if (o.nonZeroDivisor && db === 'int32') b.t.values = b.t.values.map(x => x || 3);
      if (o.exponent && db === 'int32') b.t.values = b.t.values.map(x => Math.abs(x) % 5);
      if (o.exponent && db === 'float32' && g.chance(0.5)) b.t.values = b.t.values.map(x => (Number.isFinite(x) ? Math.round(x) % 4 : x));
      const r = g.next();
      // tfjs takes numbers and nested arrays for either operand (a number is float32: int32 + 2 is float32)
      if (o.dtypes !== 'bool' && r < 0.08) return { args: [a, v(g.pick([2, -1, 0.5, 0, 3]))] };
      if (o.dtypes !== 'bool' && r < 0.12) return { args: [v(nested(a.t.values, a.t.shape)), b] };
      return { args: [a, b] };
    },
  };
}

export const BINARY: OpSpec[] = [
  binary('add'),
  binary('sub'),
  binary('mul'),
  binary('div', { nonZeroDivisor: true }),
  binary('floorDiv', { nonZeroDivisor: true }),
  binary('pow', { tol: TRANSCENDENTAL, intRange: [-5, 5], exponent: true }),
  binary('mod', { nonZeroDivisor: true, tol: { rtol: 1e-6, atol: 1e-6 } }),
  binary('minimum', { tol: EXACT }),
  binary('maximum', { tol: EXACT }),
  binary('squaredDifference'),
  binary('atan2', { tol: TRANSCENDENTAL, dtypes: 'float' }),
  binary('equal', { tol: EXACT }),
  binary('notEqual', { tol: EXACT }),
  binary('less', { tol: EXACT }),
  binary('lessEqual', { tol: EXACT }),
  binary('greater', { tol: EXACT }),
  binary('greaterEqual', { tol: EXACT }),
  binary('logicalAnd', { tol: EXACT, dtypes: 'bool' }),
  binary('logicalOr', { tol: EXACT, dtypes: 'bool' }),
  binary('logicalXor', { tol: EXACT, dtypes: 'bool' }),
  {
    name: 'prelu',
    tol: ELEMENTWISE,
    method: 'prelu',
    gen: g => {
      const [sx, sa] = broadcastShapes(g, 2);
      return { args: [g.tensor(sx, 'float32'), g.tensor(sa, 'float32', 'moderate')] };
    },
  },
  {
    name: 'where',
    tol: EXACT,
    method: false, // tfjs's t.where(condition, b) takes the receiver as the first operand: tested apart
    gen: g => {
      const [sc, sa, sb] = broadcastShapes(g, 3);
      const dtype: DType = g.chance(0.3) ? 'int32' : 'float32';
      return { args: [g.tensor(sc, g.chance(0.03) ? 'float32' : 'bool'), g.tensor(sa, dtype), g.tensor(sb, dtype)] };
    },
  },
  {
    name: 'addN',
    tol: ELEMENTWISE,
    method: false,
    gen: g => {
      const shape = g.shape();
      const dtype: DType = g.chance(0.3) ? 'int32' : 'float32';
      const list = Array.from({ length: g.int(1, 4) }, () => g.tensor(shape, dtype));
      if (g.chance(0.05)) list.push(g.tensor([...shape, 2], dtype)); // shapes differ: refused
      return { args: [{ list }] };
    },
  },
];

// --- reductions --------------------------------------------------------------------------------------------------

/** An axis argument for a tensor of `rank`: undefined, a number (maybe negative) or a list; rarely out of range. */
function axisArg(g: Gen, rank: number, single = false): number | number[] | undefined {
  if (g.chance(0.03)) return rank + g.int(0, 1); // out of range: refused
  if (rank === 0) return g.chance(0.8) ? undefined : single ? 0 : [];
  const r = g.next();
  const one = () => {
    const a = g.int(0, rank - 1);
    return g.chance(0.3) ? a - rank : a;
  };
  if (single) return r < 0.25 ? undefined : one();
  if (r < 0.2) return undefined;
  if (r < 0.55) return one();
  const axes = g.shuffle(Array.from({ length: rank }, (_, i) => i)).slice(0, g.int(1, rank));
  return axes.map(a => (g.chance(0.3) ? a - rank : a));
}
function reducedCount(shape: number[], axis: number | number[] | undefined): number {
  if (axis === undefined) return size(shape);
  const axes = (Array.isArray(axis) ? axis : [axis]).map(a => (a < 0 ? a + shape.length : a));
  return axes.reduce((n, a) => n * (shape[a] ?? 1), 1);
}

interface ReduceOpts {
  dtypes: DType[];
  domain?: Domain;
  /**
   * No 0-sized dims: what tfjs returns for a reduction over nothing is an accident of its kernels where it is
   * not 0 (sum) or 1 (prod): the min or max of nothing, all([]) false, mean([]) 0.
   */
  nonEmpty?: boolean;
  keepDims?: boolean;
  tolFor?: (x: number[], count: number) => Tol;
  single?: boolean;
  intRange?: [number, number];
  /** At most this many elements (a product of 240 factors overflows). */
  cap?: number;
}
function reduction(name: string, o: ReduceOpts): OpSpec {
  return {
    name,
    tol: EXACT,
    method: name,
    gen: g => {
      const dtype = g.pick(o.dtypes);
      const shape = g.shape(g.int(0, 4), o.cap ?? 240, o.nonEmpty);
      const x = g.tensor(shape, dtype, o.domain ?? 'finite', o.intRange);
      const axis = axisArg(g, shape.length, o.single);
      const args: ArgSpec[] = [x, v(axis)];
      if (o.keepDims !== false && g.chance(0.6)) args.push(v(g.chance(0.5)));
      return { args, tol: o.tolFor?.(x.t.values, reducedCount(shape, axis)) };
    },
  };
}

export const REDUCTIONS: OpSpec[] = [
  reduction('sum', { dtypes: ['float32', 'float32', 'int32', 'bool'], tolFor: (x, n) => sumTol(maxAbs(x), n) }),
  reduction('mean', { dtypes: ['float32', 'float32', 'int32'], nonEmpty: true, tolFor: (x, n) => sumTol(maxAbs(x), Math.sqrt(n)) }),
  reduction('min', { dtypes: ['float32', 'int32'], nonEmpty: true }),
  reduction('max', { dtypes: ['float32', 'int32'], nonEmpty: true }),
  reduction('prod', { dtypes: ['float32', 'int32'], domain: 'factor', intRange: [-2, 2], cap: 30, tolFor: () => ({ rtol: 3e-5, atol: 1e-6 }) }),
  reduction('argMax', { dtypes: ['float32', 'int32'], nonEmpty: true, keepDims: false, single: true }),
  reduction('argMin', { dtypes: ['float32', 'int32'], nonEmpty: true, keepDims: false, single: true }),
  reduction('all', { dtypes: ['bool'], nonEmpty: true }),
  reduction('any', { dtypes: ['bool'] }),
  reduction('logSumExp', { dtypes: ['float32'], domain: 'moderate', nonEmpty: true, tolFor: () => ({ rtol: 1e-5, atol: 1e-5 }) }),
  {
    ...reduction('moments', { dtypes: ['float32', 'float32', 'int32'], domain: 'moderate', nonEmpty: true, tolFor: x => sumTol(maxAbs(x) ** 2, 4) }),
    method: false,
  },
  {
    name: 'norm',
    tol: TRANSCENDENTAL,
    method: 'norm',
    gen: g => {
      const shape = g.shape(g.int(0, 3), 240, true);
      const x = g.tensor(shape, 'float32', 'moderate');
      const r = shape.length;
      let axis: number | number[] | undefined;
      const ord = g.pick(['euclidean', 1, 2, Infinity, -Infinity, 'fro', undefined] as const);
      // a matrix norm's two axes ascending: tfjs's reduces axis[1] - 1 after axis[0]
      if (ord === 'fro' || g.chance(0.3))
        axis =
          r >= 2
            ? g
                .shuffle(Array.from({ length: r }, (_, i) => i))
                .slice(0, 2)
                .sort((a, b) => a - b)
            : undefined;
      else axis = r > 0 && g.chance(0.6) ? g.int(-r, r - 1) : undefined;
      const args: ArgSpec[] = [x, v(ord), v(axis)];
      if (g.chance(0.5)) args.push(v(g.chance(0.5)));
      return { args, tol: sumTol(maxAbs(x.t.values), Math.sqrt(size(shape)), 1e-5) };
    },
  },
  {
    name: 'cumsum',
    tol: EXACT,
    method: 'cumsum',
    gen: g => {
      const shape = g.shape(g.int(1, 4));
      const dtype: DType = g.chance(0.3) ? 'int32' : 'float32';
      const x = g.tensor(shape, dtype, 'finite');
      // tfjs's cumsum takes axes from 0 and checks none (a negative one gives a shape with undefined in it)
      const axis = g.int(0, shape.length - 1);
      const args: ArgSpec[] = [x, v(axis)];
      if (g.chance(0.7)) args.push(v(g.chance(0.5)), v(g.chance(0.5)));
      return { args, tol: sumTol(maxAbs(x.t.values), shape[axis] ?? 1) };
    },
  },
];

// --- creation ----------------------------------------------------------------------------------------------------

function creationOfRank(rank: number): OpSpec {
  const name = `tensor${rank}d`;
  return {
    name,
    tol: EXACT,
    method: false,
    gen: g => {
      const shape = g.shape(g.chance(0.05) ? rank + 1 : rank); // the wrong rank: refused
      const dtype = g.pick(['float32', 'int32', 'bool', undefined] as const);
      const values = g.tensor(shape, dtype ?? 'float32', 'any').t.values;
      const asNested = g.chance(0.5) && size(shape) > 0;
      let args: ArgSpec[];
      if (rank === 1) args = [v(asNested || shape.length !== 1 ? nested(values, shape) : values)];
      else args = asNested ? [v(nested(values, shape)), v(undefined)] : [v(values), v(shape)];
      if (dtype) args.push(v(dtype));
      return { args };
    },
  };
}

export const CREATION: OpSpec[] = [
  ...[1, 2, 3, 4, 5, 6].map(creationOfRank),
  {
    name: 'tensor',
    tol: EXACT,
    gen: g => {
      const shape = g.shape(g.int(0, 5));
      const dtype = g.pick(['float32', 'int32', 'bool', undefined] as const);
      const spec = g.tensor(shape, dtype ?? 'float32', 'any');
      if (g.chance(0.5)) return { args: [v(nested(spec.t.values, shape)), v(undefined), v(dtype)] };
      const s = g.chance(0.05) ? [...shape, 2] : shape; // values that do not fill the shape: refused
      return { args: [v(spec.t.values), v(s), v(dtype)] };
    },
  },
  {
    name: 'scalar',
    tol: EXACT,
    gen: g => ({ args: [v(g.float('any')), v(g.pick(['float32', 'int32', 'bool', undefined]))] }),
  },
  ...['zeros', 'ones'].map((name): OpSpec => ({
    name,
    tol: EXACT,
    gen: g => ({ args: [v(g.shape(g.int(0, 5))), v(g.pick(['float32', 'int32', 'bool', undefined]))] }),
  })),
  {
    name: 'fill',
    tol: EXACT,
    gen: g => {
      const dtype = g.pick(['float32', 'int32', 'bool', undefined] as const);
      // a bool fill takes 0, 1, true or false (tfjs stores another number as a byte: -1 becomes 255)
      const value = dtype === 'bool' ? g.pick([0, 1, true, false]) : dtype === 'int32' ? g.int(-3, 3) : g.float('any');
      return { args: [v(g.shape(g.int(0, 5))), v(value), v(dtype)] };
    },
  },
  ...['zerosLike', 'onesLike', 'clone'].map((name): OpSpec => ({
    name,
    tol: EXACT,
    method: name,
    gen: g => ({ args: [g.tensor(g.shape(), g.pick(['float32', 'int32', 'bool'] as const))] }),
  })),
  {
    name: 'range',
    // tfjs adds the step element after element in float32
    tol: { rtol: 1e-6, atol: 1e-5 },
    gen: g => {
      const dtype = g.pick([undefined, 'float32', 'int32'] as const);
      const ints = dtype === 'int32' || g.chance(0.5);
      const start = ints ? g.int(-10, 10) : Math.fround(g.uniform(-5, 5));
      const stop = ints ? g.int(-10, 30) : Math.fround(g.uniform(-5, 15));
      const down = stop < start;
      let step: number | undefined = g.chance(0.2) ? undefined : ints ? g.pick([1, 2, 3]) : g.pick([0.5, 0.25, 1.5, 0.1]);
      if (step !== undefined && down) step = -step;
      // a step away from stop gives nothing, where it is beyond 1 (tfjs's rangeImpl: a smaller one going down counts up)
      if (step !== undefined && g.chance(0.1)) step = down ? 2 : -2;
      if (step === undefined && dtype) step = down ? -1 : 1; // tfjs's default step
      return { args: [v(start), v(stop), v(step), v(dtype)].filter((a, i) => i < 3 || a.v !== undefined) };
    },
  },
  {
    name: 'linspace',
    // tfjs adds the step num times in float32: its last values are that far from start + i * step
    tol: { rtol: 1e-6, atol: 1e-4 },
    gen: g => ({ args: [v(Math.fround(g.uniform(-10, 10))), v(Math.fround(g.uniform(-10, 10))), v(g.int(g.chance(0.05) ? 0 : 1, 40))] }),
  },
  {
    name: 'eye',
    tol: EXACT,
    gen: g => {
      const args: ArgSpec[] = [v(g.int(0, 6))];
      if (g.chance(0.6)) args.push(v(g.chance(0.3) ? undefined : g.int(0, 6)));
      if (g.chance(0.4)) args.push(v(g.chance(0.3) ? undefined : g.shape(g.int(1, 2), 12, true)));
      if (g.chance(0.4)) {
        while (args.length < 3) args.push(v(undefined));
        args.push(v(g.pick(['float32', 'int32', 'bool'])));
      }
      return { args };
    },
  },
  {
    name: 'oneHot',
    tol: EXACT,
    method: 'oneHot',
    gen: g => {
      const depth = g.int(1, 6);
      const indices = g.tensor(g.shape(g.int(0, 3)), g.chance(0.05) ? 'float32' : 'int32', 'moderate', [-1, depth]);
      const args: ArgSpec[] = [indices, v(depth)];
      if (g.chance(0.5)) args.push(v(g.pick([1, 5, -2])), v(g.pick([0, -1, 3])));
      if (g.chance(0.5)) {
        while (args.length < 4) args.push(v(g.pick([1, 0])));
        args.push(v(g.pick(['int32', 'float32'])));
      }
      return { args };
    },
  },
  {
    name: 'cast',
    tol: EXACT,
    method: 'cast',
    gen: g => {
      const from = g.pick(['float32', 'int32', 'bool'] as const);
      const to = g.pick(['float32', 'int32', 'bool'] as const);
      // float -> int32 truncates; NaN, infinities and values beyond int32 have no defined int32
      const x = g.tensor(g.shape(), from, to === 'int32' ? 'finite' : 'any');
      if (from === 'float32' && to === 'int32') x.t.values = x.t.values.map(y => (Math.abs(y) < 2e9 ? y : Math.sign(y) * 1e9));
      return { args: [x, v(to)] };
    },
  },
];

// --- shapes ------------------------------------------------------------------------------------------------------

const anyDtype = (g: Gen): DType => g.pick(['float32', 'float32', 'int32', 'bool'] as const);

export const SHAPE_OPS: OpSpec[] = [
  {
    name: 'reshape',
    tol: EXACT,
    method: 'reshape',
    gen: g => {
      const shape = g.shape(g.int(0, 5));
      const x = g.tensor(shape, anyDtype(g));
      let to = g.shuffle([...shape]);
      if (g.chance(0.3)) to = [size(shape)];
      if (g.chance(0.3) && size(shape) > 0 && to.length > 0) to[g.int(0, to.length - 1)] = -1;
      if (g.chance(0.2)) to = [...to, 1];
      if (g.chance(0.05)) to = [...to, 2]; // does not fit: refused
      return { args: [x, v(to)] };
    },
  },
  {
    name: 'expandDims',
    tol: EXACT,
    method: 'expandDims',
    gen: g => {
      const shape = g.shape(g.int(0, 4));
      const args: ArgSpec[] = [g.tensor(shape, anyDtype(g))];
      if (g.chance(0.8)) args.push(v(g.int(-shape.length - 1, shape.length + (g.chance(0.05) ? 1 : 0))));
      return { args };
    },
  },
  {
    name: 'squeeze',
    tol: EXACT,
    method: 'squeeze',
    gen: g => {
      const shape = g.shape(g.int(0, 5)).map(d => (g.chance(0.4) ? 1 : d));
      const args: ArgSpec[] = [g.tensor(shape, anyDtype(g))];
      const ones = shape.map((d, i) => (d === 1 ? i : -1)).filter(i => i >= 0);
      if (g.chance(0.6)) {
        const axes = g.chance(0.1) && shape.length > 0 ? [g.int(0, shape.length - 1)] : ones.filter(() => g.chance(0.6));
        args.push(v(axes.map(a => (g.chance(0.3) ? a - shape.length : a))));
      }
      return { args };
    },
  },
  {
    name: 'transpose',
    tol: EXACT,
    method: 'transpose',
    gen: g => {
      const shape = g.shape(g.int(0, 5));
      const args: ArgSpec[] = [g.tensor(shape, anyDtype(g))];
      if (g.chance(0.7)) {
        const perm = g.shuffle(Array.from({ length: shape.length }, (_, i) => i));
        if (g.chance(0.04)) perm.push(perm.length);
        args.push(v(perm));
      }
      return { args };
    },
  },
  {
    name: 'concat',
    tol: EXACT,
    method: false,
    gen: g => {
      const shape = g.shape(g.int(1, 4));
      const axis = g.int(0, shape.length - 1);
      const dtype = anyDtype(g);
      const list = Array.from({ length: g.int(1, 4) }, () =>
        g.tensor(
          shape.map((d, i) => (i === axis ? g.int(0, 3) : d)),
          dtype,
        ),
      );
      if (g.chance(0.04)) list.push(g.tensor([...shape, 1], dtype));
      const args: ArgSpec[] = [{ list }];
      if (axis !== 0 || g.chance(0.5)) args.push(v(g.chance(0.3) ? axis - shape.length : axis));
      return { args };
    },
  },
  {
    name: 'stack',
    tol: EXACT,
    method: false,
    gen: g => {
      const shape = g.shape(g.int(0, 4));
      const dtype = anyDtype(g);
      const list = Array.from({ length: g.int(1, 4) }, () => g.tensor(shape, dtype));
      if (g.chance(0.04)) list.push(g.tensor([...shape, 2], dtype));
      return { args: [{ list }, v(g.int(-shape.length - 1, shape.length))] };
    },
  },
  {
    name: 'unstack',
    tol: EXACT,
    method: 'unstack',
    gen: g => {
      const shape = g.shape(g.int(1, 4));
      return { args: [g.tensor(shape, anyDtype(g)), v(g.int(-shape.length, shape.length - 1))] };
    },
  },
  {
    name: 'split',
    tol: EXACT,
    method: 'split',
    gen: g => {
      const shape = g.shape(g.int(1, 4), 240, true);
      const axis = g.int(0, shape.length - 1);
      const d = shape[axis];
      let sizes: number | number[];
      if (g.chance(0.5)) {
        const divisors = Array.from({ length: d }, (_, i) => i + 1).filter(k => d % k === 0);
        sizes = g.chance(0.05) ? d + 1 : g.pick(divisors);
      } else {
        const parts: number[] = [];
        let left = d;
        while (left > 0 && parts.length < 4) {
          const p = g.int(0, left);
          parts.push(p);
          left -= p;
        }
        if (left > 0) parts.push(left);
        if (g.chance(0.3)) parts[g.int(0, parts.length - 1)] = -1;
        else if (g.chance(0.05)) parts.push(1);
        sizes = parts;
      }
      return { args: [g.tensor(shape, anyDtype(g)), v(sizes), v(g.chance(0.3) ? axis - shape.length : axis)] };
    },
  },
  {
    name: 'slice',
    tol: EXACT,
    method: 'slice',
    gen: g => {
      const shape = g.shape(g.int(1, 5));
      const begin = shape.map(d => g.int(0, d));
      const sz = shape.map((d, i) => (g.chance(0.2) ? -1 : g.int(0, d - begin[i])));
      if (g.chance(0.04)) sz[0] = shape[0] - begin[0] + 1;
      if (shape.length === 1 && g.chance(0.3)) return { args: [g.tensor(shape, anyDtype(g)), v(begin[0]), v(sz[0])] };
      const args: ArgSpec[] = [g.tensor(shape, anyDtype(g)), v(begin)];
      if (g.chance(0.8)) args.push(v(sz));
      return { args };
    },
  },
  {
    name: 'stridedSlice',
    tol: EXACT,
    method: 'stridedSlice',
    gen: g => {
      const shape = g.shape(g.int(1, 4));
      const r = shape.length;
      const withStrides = g.chance(0.8);
      const strides = shape.map(() => (withStrides ? g.pick([1, 1, 2, 3, -1, -2]) : 1));
      const begin = shape.map(d => g.int(-d - 1, d + 1));
      const end = shape.map(d => g.int(-d - 1, d + 1));
      // begin and end in the stride's direction: tfjs throws where TensorFlow gives an empty slice (a negative size)
      const at = (i: number, d: number) => Math.min(Math.max(i < 0 ? i + d : i, 0), d);
      shape.forEach((d, i) => {
        if ((strides[i] > 0 && at(end[i], d) < at(begin[i], d)) || (strides[i] < 0 && at(end[i], d) > at(begin[i], d)))
          [begin[i], end[i]] = [end[i], begin[i]];
      });
      const mask = () => (g.chance(0.7) ? 0 : g.int(0, (1 << r) - 1));
      const args: ArgSpec[] = [g.tensor(shape, anyDtype(g)), v(begin), v(end)];
      if (withStrides) args.push(v(strides));
      if (g.chance(0.5)) {
        while (args.length < 4) args.push(v(undefined));
        args.push(v(mask()), v(mask()));
      }
      return { args };
    },
  },
  {
    name: 'gather',
    tol: EXACT,
    method: 'gather',
    gen: g => {
      const shape = g.shape(g.int(1, 4), 240, true);
      const axis = g.int(0, shape.length - 1);
      const n = shape[axis];
      const ishape = g.shape(g.int(0, 2), 12);
      const indices: TensorSpec = { t: { shape: ishape, dtype: 'int32', values: Array.from({ length: size(ishape) }, () => g.int(0, n - 1)) } };
      const args: ArgSpec[] = [g.tensor(shape, anyDtype(g)), g.chance(0.1) ? v(indices.t.values) : indices];
      if (axis !== 0 || g.chance(0.5)) args.push(v(g.chance(0.2) ? axis - shape.length : axis));
      return { args };
    },
  },
  {
    name: 'tile',
    tol: EXACT,
    method: 'tile',
    gen: g => {
      const shape = g.shape(g.int(1, 4), 40);
      const reps = shape.map(() => g.pick([1, 1, 2, 3, 0]));
      if (g.chance(0.04)) reps.push(2);
      return { args: [g.tensor(shape, anyDtype(g)), v(reps)] };
    },
  },
  {
    name: 'pad',
    tol: EXACT,
    method: 'pad',
    gen: g => {
      const shape = g.shape(g.int(0, 4), 100);
      const dtype: DType = g.chance(0.3) ? 'int32' : 'float32';
      const paddings = shape.map(() => [g.int(0, 2), g.int(0, 2)]);
      if (g.chance(0.04)) paddings.push([1, 1]);
      const args: ArgSpec[] = [g.tensor(shape, dtype), v(paddings)];
      if (g.chance(0.6)) args.push(v(dtype === 'int32' ? g.int(-3, 3) : g.pick([0, 1.5, -2, NaN])));
      return { args };
    },
  },
  {
    name: 'reverse',
    tol: EXACT,
    method: 'reverse',
    gen: g => {
      const shape = g.shape(g.int(0, 4));
      const args: ArgSpec[] = [g.tensor(shape, anyDtype(g))];
      if (g.chance(0.7) && shape.length > 0) args.push(v(axisArg(g, shape.length)));
      return { args };
    },
  },
  {
    name: 'broadcastTo',
    tol: EXACT,
    method: 'broadcastTo',
    gen: g => {
      const [to, from] = broadcastShapes(g, 2);
      const target = to.length >= from.length ? to.map((d, i) => Math.max(d, from[i - (to.length - from.length)] ?? d)) : to;
      return { args: [g.tensor(from, anyDtype(g)), v(target)] };
    },
  },
];

// --- linear algebra, softmax, topk, images -------------------------------------------------------------------------

export const LINALG: OpSpec[] = [
  {
    name: 'matMul',
    tol: EXACT,
    method: 'matMul',
    gen: g => {
      const [m, k, n] = [g.int(1, 6), g.int(0, 6), g.int(1, 6)];
      const ta = g.chance(0.4),
        tb = g.chance(0.4);
      let batchA: number[] = [],
        batchB: number[] = [];
      if (g.chance(0.5)) {
        const b = g.int(1, 4);
        batchA = g.chance(0.2) ? [1] : [b];
        batchB = g.chance(0.2) ? [] : g.chance(0.2) ? [1] : [b];
        if (g.chance(0.2)) batchA = [];
        if (batchA.length === 0 && batchB.length === 0) batchA = [b];
      }
      const dtype: DType = g.chance(0.15) ? 'int32' : 'float32';
      const a = g.tensor([...batchA, ...(ta ? [k, m] : [m, k])], dtype, 'moderate');
      const b = g.tensor([...batchB, ...(tb ? [n, k + (g.chance(0.04) ? 1 : 0)] : [k + (g.chance(0.04) ? 1 : 0), n])], dtype, 'moderate');
      const args: ArgSpec[] = [a, b];
      if (ta || tb || g.chance(0.3)) args.push(v(ta), v(tb));
      return { args, tol: sumTol(25, k) };
    },
  },
  {
    name: 'dot',
    tol: EXACT,
    method: 'dot',
    gen: g => {
      const k = g.int(1, 6);
      const ra = g.int(1, 2),
        rb = g.int(1, 2);
      const a = g.tensor(ra === 1 ? [k] : [g.int(1, 4), k], 'float32', 'moderate');
      const b = g.tensor(rb === 1 ? [k + (g.chance(0.05) ? 1 : 0)] : [k, g.int(1, 4)], 'float32', 'moderate');
      return { args: [a, b], tol: sumTol(25, k) };
    },
  },
  {
    name: 'outerProduct',
    tol: ELEMENTWISE,
    method: false,
    gen: g => ({ args: [g.tensor([g.int(0, 6)], 'float32'), g.tensor([g.int(0, 6)], 'float32')] }),
  },
  ...['softmax', 'logSoftmax'].map((name): OpSpec => ({
    name,
    tol: TRANSCENDENTAL,
    method: name,
    gen: g => {
      const shape = g.shape(g.int(1, 4), 240, true);
      const args: ArgSpec[] = [g.tensor(shape, 'float32', g.chance(0.1) ? 'any' : 'moderate')];
      if (g.chance(0.4)) args.push(v(g.chance(0.8) ? -1 : g.int(0, shape.length - 1)));
      return { args };
    },
  })),
  ...[true, false].map((sorted): OpSpec => ({
    name: 'topk',
    tol: EXACT,
    method: 'topk',
    compare: sorted ? undefined : 'topkUnsorted',
    gen: g => {
      const shape = g.shape(g.int(1, 3), 240, true);
      const last = shape[shape.length - 1];
      const dtype: DType = g.chance(0.4) ? 'int32' : 'float32';
      const args: ArgSpec[] = [g.tensor(shape, dtype, 'finite', [-3, 3])];
      const k = g.chance(0.05) ? last + 1 : g.int(0, last);
      if (sorted) {
        if (g.chance(0.8)) args.push(v(k));
        if (g.chance(0.4)) args.push(v(true));
      } else args.push(v(k), v(false));
      return { args };
    },
  })),
];

function resizeOp(name: string): OpSpec {
  return {
    name: `image.${name}`,
    tol: { rtol: 1e-5, atol: 1e-5 },
    method: false,
    gen: g => {
      const batched = g.chance(0.7);
      const shape = [...(batched ? [g.int(1, 2)] : []), g.int(1, 5), g.int(1, 5), g.int(1, 3)];
      const size2 = [g.int(1, 7), g.int(1, 7)];
      const align = g.chance(0.4),
        half = !align && g.chance(0.5);
      const args: ArgSpec[] = [g.tensor(shape, g.chance(0.2) ? 'int32' : 'float32', 'moderate'), v(size2)];
      if (align || half || g.chance(0.3)) args.push(v(align), v(half));
      return { args };
    },
  };
}

export const IMAGE: OpSpec[] = [
  resizeOp('resizeBilinear'),
  resizeOp('resizeNearestNeighbor'),
  {
    name: 'image.flipLeftRight',
    tol: EXACT,
    method: false,
    gen: g => ({
      args: [g.tensor([g.int(1, 3), g.int(1, 4), g.int(1, 5), g.int(1, 3)].slice(g.chance(0.05) ? 1 : 0), g.chance(0.3) ? 'int32' : 'float32')],
    }),
  },
];

// --- metrics (tfjs-layers' tf.metrics) and losses (tfjs-core's tf.losses) ---------------------------------------------

/** Labels and predictions of one shape [batch, classes] (or rank 1 or 3). */
function pairShape(g: Gen, minRank = 1): number[] {
  const rank = g.int(minRank, 3);
  return [g.int(1, 6), ...Array.from({ length: rank - 1 }, () => g.int(1, 5))];
}
function oneHotRows(g: Gen, shape: number[]): TensorSpec {
  const k = shape[shape.length - 1];
  const rows = size(shape) / k;
  const values: number[] = [];
  for (let r = 0; r < rows; r++) {
    const hot = g.int(0, k - 1);
    for (let c = 0; c < k; c++) values.push(c === hot ? 1 : 0);
  }
  return { t: { shape, dtype: 'float32', values } };
}
function probRows(g: Gen, shape: number[]): TensorSpec {
  const k = shape[shape.length - 1];
  const x = g.floats(size(shape), 'prob');
  for (let i = 0; i < x.length; i += k) {
    const s = x.slice(i, i + k).reduce((a, b) => a + b, 0);
    for (let j = i; j < i + k; j++) x[j] = Math.fround(x[j] / s);
  }
  return { t: { shape, dtype: 'float32', values: x } };
}
const binaryLabels = (g: Gen, shape: number[]): TensorSpec => ({ t: { shape, dtype: 'float32', values: g.bools(size(shape)) } });

const METRIC_TOL: Tol = { rtol: 1e-5, atol: 1e-6 };

export const METRICS: OpSpec[] = [
  {
    name: 'metrics.binaryAccuracy',
    tol: METRIC_TOL,
    gen: g => {
      const s = pairShape(g);
      return { args: [binaryLabels(g, s), g.tensor(s, 'float32', 'prob')] };
    },
  },
  {
    name: 'metrics.categoricalAccuracy',
    tol: METRIC_TOL,
    gen: g => {
      const s = pairShape(g, 2);
      return { args: [oneHotRows(g, s), g.tensor(s, 'float32', 'prob')] };
    },
  },
  ...['precision', 'recall'].map((name): OpSpec => ({
    name: `metrics.${name}`,
    tol: METRIC_TOL,
    gen: g => {
      const s = pairShape(g);
      return { args: [binaryLabels(g, s), binaryLabels(g, s)] };
    },
  })),
  ...['meanSquaredError', 'meanAbsoluteError', 'meanAbsolutePercentageError', 'cosineProximity'].map((name): OpSpec => ({
    name: `metrics.${name}`,
    tol: METRIC_TOL,
    gen: g => {
      const s = pairShape(g);
      return { args: [g.tensor(s, 'float32', 'moderate'), g.tensor(s, 'float32', 'moderate')] };
    },
  })),
  {
    name: 'metrics.categoricalCrossentropy',
    tol: METRIC_TOL,
    gen: g => {
      const s = pairShape(g, 2);
      return { args: [oneHotRows(g, s), probRows(g, s)] };
    },
  },
  {
    name: 'metrics.binaryCrossentropy',
    tol: METRIC_TOL,
    gen: g => {
      const s = pairShape(g);
      return { args: [binaryLabels(g, s), g.tensor(s, 'float32', 'prob')] };
    },
  },
  {
    name: 'metrics.sparseCategoricalAccuracy',
    tol: METRIC_TOL,
    gen: g => {
      const n = g.int(1, 6),
        k = g.int(2, 5);
      const labels = { t: { shape: [n], dtype: 'float32' as DType, values: Array.from({ length: n }, () => g.int(0, k - 1)) } };
      return { args: [labels, g.tensor([n, k], 'float32', 'prob')] };
    },
  },
];

const REDUCTIONS_ENUM = ['NONE', 'MEAN', 'SUM', 'SUM_BY_NONZERO_WEIGHTS'] as const;

/** weights (absent, a number, or a tensor broadcasting to the per-element losses) and a reduction, maybe absent. */
function weightsAndReduction(g: Gen, lossShape: number[]): ArgSpec[] {
  const r = g.next();
  let weights: ArgSpec | undefined;
  if (r < 0.3) weights = undefined;
  else if (r < 0.5) weights = v(g.pick([0.5, 2, 0]));
  else {
    const ws = lossShape.map(d => (g.chance(0.5) ? 1 : d));
    weights = g.tensor(ws, 'float32', 'prob');
    if (g.chance(0.3)) weights.t.values = weights.t.values.map(w => (g.chance(0.4) ? 0 : w));
  }
  const out: ArgSpec[] = [weights ?? v(undefined)];
  if (g.chance(0.75)) out.push({ reduction: g.pick(REDUCTIONS_ENUM) });
  return out;
}

function lossOp(name: string, make: (g: Gen) => { args: ArgSpec[]; lossShape: number[]; extra?: () => unknown }): OpSpec {
  return {
    name: `losses.${name}`,
    tol: { rtol: 1e-5, atol: 1e-5 },
    gen: g => {
      const { args, lossShape, extra } = make(g);
      const wr = weightsAndReduction(g, lossShape);
      if (extra) {
        if (wr.length === 1) wr.push({ reduction: 'SUM_BY_NONZERO_WEIGHTS' });
        wr.splice(1, 0, v(extra()));
      }
      return { args: [...args, ...wr] };
    },
  };
}

export const LOSSES: OpSpec[] = [
  lossOp('absoluteDifference', g => {
    const s = pairShape(g);
    return { args: [g.tensor(s, 'float32', 'moderate'), g.tensor(s, 'float32', 'moderate')], lossShape: s };
  }),
  lossOp('meanSquaredError', g => {
    const s = pairShape(g);
    return { args: [g.tensor(s, 'float32', 'moderate'), g.tensor(s, 'float32', 'moderate')], lossShape: s };
  }),
  lossOp('sigmoidCrossEntropy', g => {
    const s = pairShape(g);
    return {
      args: [binaryLabels(g, s), g.tensor(s, 'float32', 'moderate')],
      lossShape: s,
      extra: () => g.pick([0, 0.1]),
    };
  }),
  lossOp('softmaxCrossEntropy', g => {
    const s = [g.int(1, 6), g.int(2, 5)];
    return { args: [oneHotRows(g, s), g.tensor(s, 'float32', 'moderate')], lossShape: [s[0]], extra: () => g.pick([0, 0.1]) };
  }),
  lossOp('logLoss', g => {
    const s = pairShape(g);
    return { args: [binaryLabels(g, s), g.tensor(s, 'float32', 'prob')], lossShape: s, extra: () => g.pick([1e-7, 1e-3]) };
  }),
  lossOp('huberLoss', g => {
    const s = pairShape(g);
    return { args: [g.tensor(s, 'float32', 'moderate'), g.tensor(s, 'float32', 'moderate')], lossShape: s, extra: () => g.pick([1, 0.5, 2]) };
  }),
  lossOp('hingeLoss', g => {
    const s = pairShape(g);
    return { args: [binaryLabels(g, s), g.tensor(s, 'float32', 'moderate')], lossShape: s };
  }),
  {
    name: 'losses.cosineDistance',
    tol: { rtol: 1e-5, atol: 1e-5 },
    gen: g => {
      const s = pairShape(g, 2);
      const axis = g.int(0, s.length - 1);
      const lossShape = s.map((d, i) => (i === axis ? 1 : d));
      return {
        args: [g.tensor(s, 'float32', 'unit'), g.tensor(s, 'float32', 'unit'), v(axis), ...weightsAndReduction(g, lossShape)],
      };
    },
  },
  {
    name: 'losses.computeWeightedLoss',
    tol: { rtol: 1e-5, atol: 1e-5 },
    gen: g => {
      const s = pairShape(g);
      return { args: [g.tensor(s, 'float32', 'moderate'), ...weightsAndReduction(g, s)] };
    },
  },
];

// --- tensor methods without a tf.* function of the same name ------------------------------------------------------

export const METHODS_ONLY: OpSpec[] = [
  ...['toFloat', 'toInt', 'toBool', 'flatten', 'as1D', 'clone'].map((name): OpSpec => ({
    name: `Tensor.${name}`,
    tol: EXACT,
    method: name,
    gen: g => {
      const x = g.tensor(g.shape(), g.pick(['float32', 'int32', 'bool'] as const), 'finite');
      x.t.values = x.t.values.map(y => (Math.abs(y) < 2e9 ? y : 7));
      return { args: [x], method: name };
    },
  })),
  {
    name: 'Tensor.asType',
    tol: EXACT,
    method: 'asType',
    gen: g => {
      const x = g.tensor(g.shape(), g.pick(['float32', 'int32', 'bool'] as const), 'finite');
      x.t.values = x.t.values.map(y => (Math.abs(y) < 2e9 ? y : 7));
      return { args: [x, v(g.pick(['float32', 'int32', 'bool']))], method: 'asType' };
    },
  },
  {
    name: 'Tensor.as2D',
    tol: EXACT,
    method: 'as2D',
    gen: g => {
      const r = g.int(1, 4),
        c = g.int(1, 4);
      const n = g.chance(0.05) ? r * c + 1 : r * c;
      return { args: [g.tensor(g.shuffle([n, 1]), anyDtype(g)), v(r), v(c)], method: 'as2D' };
    },
  },
  {
    name: 'Tensor.asScalar',
    tol: EXACT,
    method: 'asScalar',
    gen: g => ({ args: [g.tensor(g.chance(0.9) ? [1] : [2], anyDtype(g))], method: 'asScalar' }),
  },
  {
    name: 'Tensor.reshapeAs',
    tol: EXACT,
    method: 'reshapeAs',
    gen: g => {
      const shape = g.shape();
      return { args: [g.tensor(g.shuffle([...shape]), anyDtype(g)), g.tensor(shape, 'float32')], method: 'reshapeAs' };
    },
  },
  {
    name: 'Tensor.where',
    tol: EXACT,
    method: 'where',
    gen: g => {
      const [sa, sc, sb] = broadcastShapes(g, 3);
      return { args: [g.tensor(sa, 'float32'), g.tensor(sc, 'bool'), g.tensor(sb, 'float32')], method: 'where' };
    },
  },
];

export const ALL_OPS: OpSpec[] = [
  ...CREATION,
  ...UNARY,
  ...BINARY,
  ...REDUCTIONS,
  ...SHAPE_OPS,
  ...LINALG,
  ...IMAGE,
  ...METRICS,
  ...LOSSES,
  ...METHODS_ONLY,
];

/** Real tfjs names kernelnet/tfjs does not do: refused by name, both as tf.X(...) and as the tensor method t.X(). */
export const UNSUPPORTED = ['fft', 'ifft', 'rfft', 'irfft', 'conv3d', 'maxPool3d', 'einsum', 'unique', 'dilation2d', 'spaceToBatchND'] as const;

// --- the harness: one op's cases on a reference (tfjs) and on the library under test ---------------------------------

/** A library as the harness drives it. */
export interface Side {
  label: string;
  /** The namespace (tf): functions by name, tf.image / tf.metrics / tf.losses, tf.Reduction. */
  ns: Record<string, unknown>;
  isTensor(x: unknown): boolean;
  /** Live tensors now (to catch a call that leaks). */
  liveTensors(): number;
  /** When both libraries throw: null if this side's error is an acceptable refusal, else why not. */
  refusal(e: unknown): string | null;
  /** The device results must be on (a tensor's `device`), when one was asked for. */
  device?: string;
  /** Runs the call (tfjs's side: in tf.tidy, as tfjs's own tf.metrics.sparseCategoricalAccuracy leaks). */
  wrap?: <R>(fn: () => R) => R;
}

interface Leaf {
  path: string;
  dtype?: string;
  shape?: number[];
  values?: number[];
  device?: string;
  /** The result is one of the call's input tensors itself (tfjs returns new tensors). */
  alias?: boolean;
  plain?: unknown;
}
type Outcome =
  { kind: 'ok'; leaves: Leaf[] } | { kind: 'threw'; error: unknown } | { kind: 'missing'; what: string } | { kind: 'inputs'; error: unknown };

class Missing extends Error {}

/** A deep copy of a plain argument, so that one library cannot change what the other receives. */
const copy = (x: unknown): unknown => (Array.isArray(x) ? x.map(copy) : x);

function build(side: Side, a: ArgSpec, made: object[]): unknown {
  if ('t' in a) {
    const { shape, dtype, values } = a.t;
    const make = side.ns.tensor as (v: unknown, s: number[], d: string) => object;
    if (dtype !== 'bool') {
      const t = make(dtype === 'int32' ? Int32Array.from(values) : Float32Array.from(values), [...shape], dtype);
      made.push(t);
      return t;
    }
    const i = make(Int32Array.from(values), [...shape], 'int32');
    made.push(i);
    const cast = side.ns.cast;
    if (typeof cast !== 'function') throw new Missing('tf.cast (bool inputs are made with it)');
    const b = cast(i, 'bool') as object;
    made.push(b);
    return b;
  }
  if ('list' in a) return a.list.map(x => build(side, x, made));
  if ('reduction' in a) {
    const r = side.ns.Reduction as Record<string, unknown> | undefined;
    if (r === undefined || r === null) throw new Missing('tf.Reduction');
    return r[a.reduction];
  }
  return copy(a.v);
}

function resolve(ns: Record<string, unknown>, dotted: string): unknown {
  let at: unknown = ns;
  for (const part of dotted.split('.')) {
    if (at === undefined || at === null) return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

/** Runs one call on one side, reads every result tensor and disposes everything the call and its inputs made. */
export function runSide(side: Side, spec: OpSpec, c: Case): Outcome {
  const made: object[] = [];
  const outs: object[] = [];
  try {
    let args: unknown[];
    try {
      args = c.args.map(a => build(side, a, made));
    } catch (e) {
      return e instanceof Missing ? { kind: 'missing', what: e.message } : { kind: 'inputs', error: e };
    }
    let result: unknown;
    try {
      if (c.method) {
        const recv = args[0] as Record<string, unknown>;
        const f = recv[c.method];
        if (typeof f !== 'function') return { kind: 'missing', what: `tensor method t.${c.method}()` };
        const wrap = side.wrap ?? (fn => fn());
        result = wrap(() => f.apply(recv, args.slice(1)));
      } else {
        const f = resolve(side.ns, spec.name);
        if (typeof f !== 'function') return { kind: 'missing', what: `tf.${spec.name}` };
        const wrap = side.wrap ?? (fn => fn());
        result = wrap(() => f(...args));
      }
    } catch (e) {
      return e instanceof Missing ? { kind: 'missing', what: e.message } : { kind: 'threw', error: e };
    }
    const leaves: Leaf[] = [];
    const walk = (x: unknown, path: string) => {
      if (side.isTensor(x)) {
        const t = x as { dtype: string; shape: number[]; dataSync(): ArrayLike<number>; device?: string };
        outs.push(t);
        leaves.push({
          path,
          dtype: t.dtype,
          shape: [...t.shape],
          values: Array.from(t.dataSync(), Number),
          device: t.device,
          alias: made.includes(t),
        });
      } else if (Array.isArray(x)) x.forEach((y, i) => walk(y, `${path}[${i}]`));
      else if (x !== null && typeof x === 'object')
        for (const k of Object.keys(x).sort()) walk((x as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
      else leaves.push({ path, plain: x });
    };
    try {
      walk(result, '');
    } catch (e) {
      return { kind: 'threw', error: e };
    }
    return { kind: 'ok', leaves };
  } finally {
    for (const t of new Set([...outs, ...made])) {
      try {
        (t as { dispose(): void }).dispose();
      } catch {
        // a tensor already freed by a failed call
      }
    }
  }
}

const fmt = (x: number): string => (Object.is(x, -0) ? '-0' : String(x));
function fmtValue(x: unknown): string {
  if (typeof x === 'number') return fmt(x);
  if (Array.isArray(x)) return `[${x.map(fmtValue).join(', ')}]`;
  if (typeof x === 'string') return `'${x}'`;
  return String(x);
}
function fmtTensor(t: TensorSpec['t']): string {
  const n = size(t.shape);
  const vals = n <= 24 ? ` ${fmtValue(t.values)}` : ` (${n} values)`;
  return `${t.dtype}[${t.shape.join(',')}]${vals}`;
}
/** The call as text: tf.add(float32[2,3] [...], int32[3] [...]) or t.add(...) on the first argument. */
export function describeCall(spec: OpSpec, c: Case): string {
  const arg = (a: ArgSpec): string =>
    't' in a ? fmtTensor(a.t) : 'list' in a ? `[${a.list.map(arg).join(', ')}]` : 'reduction' in a ? `tf.Reduction.${a.reduction}` : fmtValue(a.v);
  const args = c.args.map(arg);
  return c.method ? `(${args[0]}).${c.method}(${args.slice(1).join(', ')})` : `tf.${spec.name}(${args.join(', ')})`;
}
function errorText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as { code?: unknown }).code;
  return `${e.name}${code ? ` ${String(code)}` : ''}: ${e.message.split('\n')[0].slice(0, 300)}`;
}
function leavesText(ls: Leaf[]): string {
  return ls
    .map(l => {
      const head = l.path ? `${l.path}: ` : '';
      if (l.values === undefined) return `${head}${fmtValue(l.plain)}`;
      const vals = l.values.length <= 16 ? ` ${fmtValue(l.values)}` : '';
      return `${head}${l.dtype}[${l.shape!.join(',')}]${vals}`;
    })
    .join('; ');
}

function closeEnough(a: number, b: number, tol: Tol): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (a === b) return true;
  if (tol === 'exact') return false;
  if (!Number.isFinite(a) || !Number.isFinite(b)) {
    // one side overflowed float32 where the other rounded to its largest finite value
    const f = Number.isFinite(a) ? a : b,
      inf = Number.isFinite(a) ? b : a;
    return Number.isFinite(f) && Math.sign(f) === Math.sign(inf) && Math.abs(f) >= 3.4028234e38 * (1 - 2 * tol.rtol);
  }
  return Math.abs(a - b) <= tol.atol + tol.rtol * Math.max(Math.abs(a), Math.abs(b));
}

/** Where two results' values differ, as text (null when they agree). */
function valuesDiff(ref: Leaf, sut: Leaf, tol: Tol, labels: [string, string]): string | null {
  const a = ref.values!,
    b = sut.values!;
  if (a.length !== b.length) return `${a.length} values in ${labels[0]}, ${b.length} in ${labels[1]}`;
  const float = ref.dtype === 'float32' && sut.dtype === 'float32';
  const bad: number[] = [];
  for (let i = 0; i < a.length; i++) if (!closeEnough(a[i], b[i], float ? tol : 'exact')) bad.push(i);
  if (bad.length === 0) return null;
  const shape = ref.shape!;
  const index = (k: number) => {
    const idx: number[] = [];
    for (let d = shape.length - 1; d >= 0; d--) {
      idx.unshift(shape[d] ? k % shape[d] : 0);
      k = shape[d] ? Math.floor(k / shape[d]) : 0;
    }
    return `[${idx.join(',')}]`;
  };
  const shown = bad
    .slice(0, 4)
    .map(i => `at ${index(i)}: ${labels[0]} ${fmt(a[i])}, ${labels[1]} ${fmt(b[i])}`)
    .join('; ');
  const tolText = float && tol !== 'exact' ? ` (rtol ${tol.rtol}, atol ${tol.atol})` : ' (exact)';
  return `${bad.length} of ${a.length} values differ${tolText}: ${shown}`;
}

/** topk with sorted = false: the order is free, so the values are compared as a multiset and each index must hold its value. */
function topkUnsortedDiff(c: Case, ref: Leaf[], sut: Leaf[], labels: [string, string]): string | null {
  const [rIdx, rVal] = [ref.find(l => l.path === 'indices')!, ref.find(l => l.path === 'values')!];
  const [sIdx, sVal] = [sut.find(l => l.path === 'indices'), sut.find(l => l.path === 'values')];
  if (!sIdx || !sVal) return `${labels[1]} returned ${leavesText(sut)}, not {values, indices}`;
  for (const [r, s] of [
    [rIdx, sIdx],
    [rVal, sVal],
  ])
    if (r.dtype !== s.dtype || String(r.shape) !== String(s.shape))
      return `${s.path}: ${labels[0]} ${r.dtype}[${r.shape}], ${labels[1]} ${s.dtype}[${s.shape}]`;
  const x = (c.args[0] as TensorSpec).t;
  const last = x.shape[x.shape.length - 1];
  const k = rVal.shape![rVal.shape!.length - 1];
  for (let row = 0; row * k < rVal.values!.length; row++) {
    const mine = sVal.values!.slice(row * k, row * k + k);
    const sortDesc = (xs: number[]) => [...xs].sort((p, q) => q - p).join(',');
    if (sortDesc(mine) !== sortDesc(rVal.values!.slice(row * k, row * k + k)))
      return `row ${row}: ${labels[0]} values {${rVal.values!.slice(row * k, row * k + k)}}, ${labels[1]} {${mine}}`;
    for (let j = 0; j < k; j++) {
      const i = sIdx.values![row * k + j];
      if (Math.fround(x.values[row * last + i]) !== mine[j]) return `row ${row}: ${labels[1]}'s index ${i} does not hold its value ${mine[j]}`;
    }
  }
  return null;
}

/** Why the two outcomes disagree, or null when they agree. */
export function compareOutcomes(spec: OpSpec, c: Case, ref: Outcome, sut: Outcome, refSide: Side, sutSide: Side): string | null {
  const labels: [string, string] = [refSide.label, sutSide.label];
  if (ref.kind === 'missing' || ref.kind === 'inputs')
    return `the test itself is wrong: ${refSide.label} ${ref.kind === 'missing' ? `has no ${ref.what}` : `could not build the inputs: ${errorText(ref.error)}`}`;
  if (sut.kind === 'missing') return `${sutSide.label} has no ${sut.what}`;
  if (sut.kind === 'inputs') return `${sutSide.label} could not build the inputs: ${errorText(sut.error)}`;
  if (ref.kind === 'threw' && sut.kind === 'threw') {
    const why = sutSide.refusal(sut.error);
    return why && `both throw, but ${sutSide.label} ${why} (${sutSide.label}: ${errorText(sut.error)}; ${refSide.label}: ${errorText(ref.error)})`;
  }
  if (ref.kind === 'threw' && sut.kind === 'ok')
    return `${refSide.label} throws (${errorText(ref.error)}) but ${sutSide.label} returns ${leavesText(sut.leaves)}`;
  if (ref.kind === 'ok' && sut.kind === 'threw')
    return `${sutSide.label} throws (${errorText(sut.error)}) but ${refSide.label} returns ${leavesText(ref.leaves)}`;
  if (ref.kind !== 'ok' || sut.kind !== 'ok') return null;
  const rp = ref.leaves.map(l => l.path).join(' '),
    sp = sut.leaves.map(l => l.path).join(' ');
  if (rp !== sp) return `results differ in structure: ${labels[0]} ${leavesText(ref.leaves)}; ${labels[1]} ${leavesText(sut.leaves)}`;
  if (spec.compare === 'topkUnsorted') return topkUnsortedDiff(c, ref.leaves, sut.leaves, labels);
  const tol = c.tol ?? spec.tol;
  const problems: string[] = [];
  ref.leaves.forEach((r, i) => {
    const s = sut.leaves[i];
    const at = r.path ? `${r.path}: ` : '';
    if (r.values === undefined || s.values === undefined) {
      if (!Object.is(r.plain, s.plain) && !(r.values === undefined && s.values === undefined && r.plain === s.plain))
        problems.push(`${at}${labels[0]} ${leavesText([r])}, ${labels[1]} ${leavesText([s])}`);
      return;
    }
    if (r.dtype !== s.dtype) problems.push(`${at}dtype ${labels[0]} ${r.dtype}, ${labels[1]} ${s.dtype}`);
    if (String(r.shape) !== String(s.shape) || r.shape!.length !== s.shape!.length)
      problems.push(`${at}shape ${labels[0]} [${r.shape}], ${labels[1]} [${s.shape}]`);
    else {
      const d = valuesDiff(r, s, tol, labels);
      if (d) problems.push(`${at}${d}`);
    }
    if (s.alias && !r.alias) problems.push(`${at}${labels[1]} returns its input tensor itself, ${labels[0]} a new tensor`);
    if (sutSide.device && s.device !== undefined && s.device !== sutSide.device)
      problems.push(`${at}${labels[1]}'s result is on '${s.device}', not '${sutSide.device}'`);
  });
  return problems.length ? problems.join('; ') : null;
}

/** A case's seed from the run's seed, the op and the case number (FNV-1a), so one case replays alone. */
export function caseSeed(seed: number, name: string, i: number): number {
  let h = 0x811c9dc5 ^ seed;
  for (const ch of `${name}#${i}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  return h >>> 0;
}

/** The case `i` of an op: its arguments and whether it calls the tensor method. */
export function makeCase(spec: OpSpec, seed: number, i: number): Case {
  const g = new Gen(caseSeed(seed, spec.name, i));
  const c = spec.gen(g);
  if (!c.method && spec.method && 't' in c.args[0] && g.chance(0.35)) c.method = spec.method;
  return c;
}

export interface OpReport {
  cases: number;
  failures: string[];
  failed: number;
}

/** Runs `cases` cases of one op (or only case `only`) on both sides; the failures say how to replay each. */
export function runOp(spec: OpSpec, ref: Side, sut: Side, o: { seed: number; cases: number; only?: number; keep?: number }): OpReport {
  const failures: string[] = [];
  const missing = new Set<string>();
  let failed = 0;
  const indices = o.only !== undefined ? [o.only] : Array.from({ length: o.cases }, (_, i) => i);
  for (const i of indices) {
    const c = makeCase(spec, o.seed, i);
    const before = [ref.liveTensors(), sut.liveTensors()];
    const r = runSide(ref, spec, c);
    const s = runSide(sut, spec, c);
    let why = compareOutcomes(spec, c, r, s, ref, sut);
    const leaked = [ref.liveTensors() - before[0], sut.liveTensors() - before[1]];
    if (!why && leaked[1] !== 0) why = `${sut.label} leaves ${leaked[1]} more live tensor(s) after the call (its inputs and results were disposed)`;
    if (!why && leaked[0] !== 0) why = `the test itself leaks ${leaked[0]} ${ref.label} tensor(s)`;
    if (!why) continue;
    failed++;
    if (s.kind === 'missing') {
      // the same for every case of this form: said once
      if (!missing.has(why)) failures.unshift(why);
      missing.add(why);
    } else if (failures.length - missing.size < (o.keep ?? 3))
      failures.push(
        `${why}\n    call: ${describeCall(spec, c)}\n    replay: KERNELNET_TFJS_OPS_SEED=${o.seed} KERNELNET_TFJS_OPS_REPLAY='${spec.name}#${i}'`,
      );
  }
  return { cases: indices.length, failures, failed };
}

// --- random ops: statistics only (kernelnet's streams differ from tfjs's by design) ---------------------------------

export interface Stats {
  mean: number;
  std: number;
  min: number;
  max: number;
  n: number;
  dtype: string;
  shape: number[];
}
export function statsOf(t: { dtype: string; shape: number[]; dataSync(): ArrayLike<number> }): Stats {
  const x = t.dataSync();
  let s = 0,
    s2 = 0,
    min = Infinity,
    max = -Infinity;
  for (let i = 0; i < x.length; i++) {
    s += x[i];
    min = Math.min(min, x[i]);
    max = Math.max(max, x[i]);
  }
  const mean = s / x.length;
  for (let i = 0; i < x.length; i++) s2 += (x[i] - mean) ** 2;
  return { mean, std: Math.sqrt(s2 / x.length), min, max, n: x.length, dtype: t.dtype, shape: [...t.shape] };
}

/**
 * Puts tfjs's chained ops (t.add(b), t.mean(axis), t.toFloat(), ...) on tfjs-core's Tensor, as @tensorflow/tfjs and
 * tfjs-node do when imported (tfjs-core's public/chained_ops/register_all_chained_ops, whose extensionless ES
 * modules Node cannot import): each is the op with the tensor as its first argument, and the exceptions below are
 * tfjs's own.
 */
export function registerTfjsChainedOps(tf: Record<string, unknown>): void {
  const proto = (tf.Tensor as { prototype: Record<string, unknown> }).prototype;
  const op = (name: string) => tf[name] as (...a: unknown[]) => unknown;
  const image = tf.image as Record<string, (...a: unknown[]) => unknown>;
  type T = { shape: number[]; size: number; throwIfDisposed(): void };
  const special: Record<string, (this: T, ...a: unknown[]) => unknown> = {
    as1D() {
      return op('reshape')(this, [this.size]);
    },
    flatten() {
      return op('reshape')(this, [this.size]);
    },
    as2D(...dims) {
      return op('reshape')(this, dims.slice(0, 2));
    },
    as3D(...dims) {
      return op('reshape')(this, dims.slice(0, 3));
    },
    as4D(...dims) {
      return op('reshape')(this, dims.slice(0, 4));
    },
    as5D(...dims) {
      return op('reshape')(this, dims.slice(0, 5));
    },
    asScalar() {
      return op('reshape')(this, []);
    },
    reshapeAs(x) {
      return op('reshape')(this, (x as T).shape);
    },
    asType(dtype) {
      return op('cast')(this, dtype);
    },
    toBool() {
      return op('cast')(this, 'bool');
    },
    toFloat() {
      return op('cast')(this, 'float32');
    },
    toInt() {
      return op('cast')(this, 'int32');
    },
    where(condition, x) {
      return op('where')(condition, this, x);
    },
    concat(x, axis) {
      return op('concat')([this, ...(x instanceof (tf.Tensor as new () => unknown) ? [x] : (x as unknown[]))], axis);
    },
    stack(x, axis) {
      return op('stack')([this, ...(x instanceof (tf.Tensor as new () => unknown) ? [x] : (x as unknown[]))], axis);
    },
    resizeBilinear(...a) {
      return image.resizeBilinear(this, ...a);
    },
    resizeNearestNeighbor(...a) {
      return image.resizeNearestNeighbor(this, ...a);
    },
  };
  for (const name of CHAINED_OPS) {
    if (typeof proto[name] === 'function') continue;
    const f = special[name];
    proto[name] = function (this: T, ...a: unknown[]) {
      this.throwIfDisposed();
      return f ? f.apply(this, a) : op(name)(this, ...a);
    };
  }
}

const CHAINED_OPS = `abs acos acosh add all any argMax argMin as1D as2D as3D as4D as5D asScalar asType asin asinh atan atan2 atanh
  avgPool batchNorm batchToSpaceND broadcastTo cast ceil clipByValue concat conv1d conv2d conv2dTranspose cos cosh cumprod
  cumsum depthToSpace depthwiseConv2d dilation2d div divNoNan dot elu equal erf euclideanNorm exp expandDims expm1 fft
  flatten floor floorDiv gather greater greaterEqual ifft irfft isFinite isInf isNaN leakyRelu less lessEqual
  localResponseNormalization log log1p logSigmoid logSoftmax logSumExp logicalAnd logicalNot logicalOr logicalXor matMul
  max maxPool maximum mean min minimum mirrorPad mod mul neg norm notEqual oneHot onesLike pad pool pow prelu prod
  reciprocal relu relu6 reshape reshapeAs resizeBilinear resizeNearestNeighbor reverse rfft round rsqrt selu
  separableConv2d sigmoid sign sin sinh slice softmax softplus spaceToBatchND split sqrt square squaredDifference squeeze
  stack step stridedSlice sub sum tan tanh tile toBool toFloat toInt topk transpose unique unsortedSegmentSum unstack where
  zerosLike`.split(/\s+/);
