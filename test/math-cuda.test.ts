// The general tensor math (cpp/tensor_math.h) on the CUDA backend against its CPU twin: every op of the family
// runs on the same data on both devices and the results are compared element by element, NaN equal to NaN and
// -0 apart from 0 (Object.is), bit for bit where the arithmetic is exact (small integers, data movement, every
// int32 and bool op, comparisons, selections) and within a stated tolerance only where the two devices' math
// libraries (double-precision transcendentals, logf and cosf in randomGauss) or the order of float sums (GEMMs
// of random floats) may differ in the last bit. GPU outputs are poisoned first, so an element a kernel does not
// write fails. Shapes reach every kernel route (reduce's per-output, warp-per-row and block-per-row kernels;
// batchMatmul's per-batch GEMMs and batched kernel). Without a usable CUDA device these tests are skipped and
// say why.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { native, type DType, type Device, type MathBinaryOp, type NativeTensor, type ReduceOp, type UnaryOp } from '../lib/core/native.js';
import { intArray, randomArray, rng } from './helpers.js';

const cuda = native.backends().cuda;
const M = suite('tensor math: cuda vs cpu');

const live: NativeTensor[] = [];
M.after.each(() => {
  for (const t of live.splice(0)) t.dispose();
});

type Data = Float32Array | Int32Array;
const DEVICES: Device[] = ['cpu', 'cuda'];

function make(shape: number[], dtype: DType, device: Device, data?: Data): NativeTensor {
  const t = new native.Tensor(shape, dtype, data, device);
  live.push(t);
  return t;
}

/** The same data on both devices: [cpu, cuda]. */
function twin(shape: number[], dtype: DType, data: Data): NativeTensor[] {
  return DEVICES.map(d => make(shape, dtype, d, data));
}

/** Outputs on both devices; the GPU's poisoned (NaN, or an int32 / bool no op writes here). */
function outs(shape: number[], dtype: DType): NativeTensor[] {
  return DEVICES.map(d => {
    const t = make(shape, dtype, d);
    if (d === 'cuda') {
      if (dtype === 'float32') t.fill(NaN);
      else if (dtype === 'int32') t.fill(-123456789);
      else t.write(new Int32Array(t.size).fill(7)); // a bool that is neither 0 nor 1
    }
    return t;
  });
}

const ints = (values: number[]) => Int32Array.from(values);

/**
 * The GPU's result against the CPU's: Object.is per element (NaN is NaN, -0 is not 0), or with a tolerance
 * |g - c| <= atol + rtol |c| for finite values (NaN and infinities must still agree).
 */
function same(pair: NativeTensor[], what: string, tol?: { atol: number; rtol: number }): void {
  const [c, g] = pair.map(t => t.read());
  assert.is(g.length, c.length, `${what}: length`);
  for (let i = 0; i < c.length; ++i) {
    if (Object.is(g[i], c[i])) continue;
    if (tol && Number.isFinite(c[i]) && Number.isFinite(g[i]) && Math.abs(g[i] - c[i]) <= tol.atol + tol.rtol * Math.abs(c[i])) continue;
    assert.unreachable(`${what}: element ${i}: cuda ${g[i]}, cpu ${c[i]}`);
  }
}

/** Two reads of one device's results, bit for bit (determinism). */
function identical(a: NativeTensor, b: NativeTensor, what: string): void {
  const x = a.read(),
    y = b.read();
  assert.is(x.length, y.length);
  for (let i = 0; i < x.length; ++i) if (!Object.is(x[i], y[i])) assert.unreachable(`${what}: element ${i}: ${x[i]} then ${y[i]}`);
}

/** Float data with small integers, halves, zeros of both signs and the special values. */
function specialFloats(n: number, r: () => number): Float32Array {
  const special = [0, -0, 0.5, -0.5, 1.5, -2.5, 2.5, 0.25, 1e-3, -1e-3, 100, -100, 1e30, -1e30, NaN, Infinity, -Infinity];
  return Float32Array.from({ length: n }, (_, i) => (i < special.length ? special[i] : r() < 0.7 ? Math.floor(7 * r()) - 3 : 8 * r() - 4));
}

// The double-precision library functions of two devices may round a float32 result differently in rare cases.
const LIBM = { atol: 1e-7, rtol: 2e-7 };
const GEMM_TOL = { atol: 1e-5, rtol: 1e-4 };

const EXACT_UNARY: UnaryOp[] = [
  'neg',
  'abs',
  'sign',
  'square',
  'relu',
  'relu6',
  'leaky_relu',
  'step',
  'round',
  'floor',
  'ceil',
  'clip',
  'affine',
  'cast',
  'to_bool',
  'is_nan',
  'is_inf',
  'is_finite',
  'logical_not',
];
const LIBM_UNARY: UnaryOp[] = [
  'sqrt',
  'rsqrt',
  'exp',
  'expm1',
  'log',
  'log1p',
  'sin',
  'cos',
  'tan',
  'asin',
  'acos',
  'atan',
  'sinh',
  'cosh',
  'tanh',
  'asinh',
  'acosh',
  'atanh',
  'sigmoid',
  'softplus',
  'elu',
  'selu',
  'reciprocal',
  'erf',
];
const BOOL_UNARY = new Set<UnaryOp>(['to_bool', 'is_nan', 'is_inf', 'is_finite', 'logical_not']);

const BINARY_OPS: MathBinaryOp[] = [
  'add',
  'sub',
  'mul',
  'div',
  'max',
  'min',
  'pow',
  'mod',
  'squaredDifference',
  'floorDiv',
  'atan2',
  'prelu',
  'equal',
  'notEqual',
  'less',
  'lessEqual',
  'greater',
  'greaterEqual',
  'logicalAnd',
  'logicalOr',
  'logicalXor',
];
const BOOL_BINARY = new Set<MathBinaryOp>(BINARY_OPS.slice(BINARY_OPS.indexOf('equal')));

/** numpy broadcasting of two shapes. */
function broadcast(a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length);
  return Array.from({ length: r }, (_, d) => {
    const x = a[d - (r - a.length)] ?? 1,
      y = b[d - (r - b.length)] ?? 1;
    return x === 1 ? y : x;
  });
}
const size = (shape: number[]) => shape.reduce((p, d) => p * d, 1);

if (!cuda.available) {
  console.log(`  skipped: no CUDA device (${cuda.reason})`);
  M.skip('every tensor math op matches the CPU backend (skipped: no CUDA device)', () => {});
} else {
  M('mathUnary: float32 ops (exact where the arithmetic is, to the last bit of libm elsewhere) and casts', () => {
    const r = rng(1),
      n = 1000; // past one block of 256
    const x = twin([n], 'float32', specialFloats(n, r));
    for (const op of [...EXACT_UNARY, ...LIBM_UNARY]) {
      const dtype: DType = BOOL_UNARY.has(op) ? 'bool' : op === 'cast' ? 'int32' : 'float32';
      const [p0, p1] = op === 'clip' ? [-1.5, 2] : op === 'affine' ? [3, -2] : op === 'leaky_relu' ? [0.5, 0] : op === 'step' ? [0.25, 0] : [0, 0];
      const y = outs([n], dtype);
      for (let d = 0; d < 2; ++d) native.mathUnary(op, x[d], y[d], p0, p1);
      same(y, `float32 ${op}`, LIBM_UNARY.includes(op) ? LIBM : undefined);
    }
    // float32 to float32 'cast' (a copy), and int32 to float32
    const y = outs([n], 'float32');
    for (let d = 0; d < 2; ++d) native.mathUnary('cast', x[d], y[d]);
    same(y, 'float32 cast to float32');
  });

  M('mathUnary: int32 and bool operands', () => {
    const r = rng(2),
      n = 777;
    const data = Int32Array.from({ length: n }, (_, i) => (i < 6 ? [2147483647, -2147483648, 46341, -46341, 0, 1][i] : Math.floor(11 * r()) - 5));
    const x = twin([n], 'int32', data);
    // Every op that keeps the dtype: the integer ones exact, the rest in double stored as Int32Array stores it
    // (truncated: a transcendental of an integer is never within a rounding error of another integer).
    for (const op of [...EXACT_UNARY, ...LIBM_UNARY].filter(op => op !== 'cast' && !BOOL_UNARY.has(op))) {
      const [p0, p1] = op === 'clip' ? [-2, 3] : op === 'affine' ? [3, -2] : op === 'leaky_relu' ? [0.5, 0] : op === 'step' ? [4, 0] : [0, 0];
      const y = outs([n], 'int32');
      for (let d = 0; d < 2; ++d) native.mathUnary(op, x[d], y[d], p0, p1);
      same(y, `int32 ${op}`);
    }
    for (const [op, dtype] of [
      ['cast', 'float32'],
      ['to_bool', 'bool'],
      ['logical_not', 'bool'],
    ] as [UnaryOp, DType][]) {
      const y = outs([n], dtype);
      for (let d = 0; d < 2; ++d) native.mathUnary(op, x[d], y[d]);
      same(y, `int32 ${op} to ${dtype}`);
    }
    const b = twin(
      [n],
      'bool',
      Int32Array.from(data, v => (v > 0 ? 1 : 0)),
    );
    for (const [op, dtype] of [
      ['logical_not', 'bool'],
      ['cast', 'float32'],
      ['cast', 'int32'],
    ] as [UnaryOp, DType][]) {
      const y = outs([n], dtype);
      for (let d = 0; d < 2; ++d) native.mathUnary(op, b[d], y[d]);
      same(y, `bool ${op} to ${dtype}`);
    }
    // float32 to int32 as Int32Array stores it: truncated, wrapped, NaN and infinities 0
    const f = twin([8], 'float32', Float32Array.from([2.7, -2.7, 3e9, -3e9, NaN, Infinity, -Infinity, 2147483648]));
    const y = outs([8], 'int32');
    for (let d = 0; d < 2; ++d) native.mathUnary('cast', f[d], y[d]);
    same(y, 'float32 cast to int32');
  });

  M('mathBinary: every op, float32 and int32, broadcast shapes; comparisons write bools', () => {
    const r = rng(3);
    const shapes: [number[], number[]][] = [
      [[7], [7]],
      [
        [2, 3, 4],
        [3, 1],
      ],
      [[4], [2, 3, 4]],
      [[], [5]],
      [[1], [1]],
      [
        [3, 1, 5],
        [1, 4, 1],
      ],
      [
        [2, 33, 9],
        [2, 33, 9],
      ], // past one block
      [
        [2, 1, 3, 1, 2, 1, 3],
        [1, 2, 1, 3, 1, 2, 1],
      ], // rank 7
    ];
    for (const [as, bs] of shapes) {
      const ys = broadcast(as, bs);
      const fa = twin(as, 'float32', specialFloats(size(as), r)),
        fb = twin(bs, 'float32', intArray(size(bs), r, -3, 3));
      const ia = twin(as, 'int32', Int32Array.from(intArray(size(as), r, -4, 4))),
        ib = twin(bs, 'int32', Int32Array.from(intArray(size(bs), r, -3, 3)));
      for (const op of BINARY_OPS) {
        const bool = BOOL_BINARY.has(op);
        // floorDiv writes int32 from float32 operands too (tfjs's FloorDiv kernel)
        const yf = outs(ys, bool ? 'bool' : op === 'floorDiv' ? 'int32' : 'float32'),
          yi = outs(ys, bool ? 'bool' : 'int32');
        for (let d = 0; d < 2; ++d) {
          native.mathBinary(op, fa[d], fb[d], yf[d]);
          native.mathBinary(op, ia[d], ib[d], yi[d]);
        }
        const label = `${JSON.stringify(as)} ${op} ${JSON.stringify(bs)}`;
        same(yf, `float32 ${label}`, op === 'pow' || op === 'atan2' ? LIBM : undefined);
        same(yi, `int32 ${label}`);
      }
    }
    // int32 arithmetic wraps as Int32Array stores it
    const a = twin([6], 'int32', ints([2147483647, -2147483648, 65536, -7, 7, 100000])),
      b = twin([6], 'int32', ints([1, -1, 65536, 2, -2, 100000]));
    for (const op of ['add', 'sub', 'mul', 'div', 'floorDiv', 'mod', 'pow', 'squaredDifference', 'prelu'] as MathBinaryOp[]) {
      const y = outs([6], 'int32');
      for (let d = 0; d < 2; ++d) native.mathBinary(op, a[d], b[d], y[d]);
      same(y, `int32 wrap ${op}`);
    }
  });

  M('mathSelect: float32, int32 and bool operands', () => {
    const r = rng(4),
      n = 1025;
    const cond = twin(
      [n],
      'bool',
      Int32Array.from({ length: n }, () => (r() < 0.5 ? 1 : 0)),
    );
    for (const dtype of ['float32', 'int32', 'bool'] as DType[]) {
      const gen = (): Data =>
        dtype === 'float32'
          ? specialFloats(n, r)
          : Int32Array.from({ length: n }, () => (dtype === 'bool' ? (r() < 0.5 ? 1 : 0) : Math.floor(1e6 * r()) - 5e5));
      const a = twin([n], dtype, gen()),
        b = twin([n], dtype, gen()),
        y = outs([n], dtype);
      for (let d = 0; d < 2; ++d) native.mathSelect(cond[d], a[d], b[d], y[d]);
      same(y, `select ${dtype}`);
    }
  });

  M('stridedCopy: transposes, reversals, broadcasts, strided slices, a scalar', () => {
    const r = rng(5);
    const cases: { x: number[]; y: number[]; strides: number[]; offset: number; what: string }[] = [
      { x: [3, 4, 5], y: [5, 3, 4], strides: [1, 20, 5], offset: 0, what: 'transpose [2, 0, 1]' },
      { x: [4], y: [4], strides: [-1], offset: 3, what: 'reverse' },
      { x: [4], y: [3, 4], strides: [0, 1], offset: 0, what: 'broadcastTo' },
      { x: [6, 7], y: [2, 3], strides: [14, 2], offset: 1, what: 'strided slice' },
      { x: [6, 7], y: [3, 2], strides: [-7, -3], offset: 40, what: 'reversed strided slice' },
      { x: [5], y: [], strides: [], offset: 3, what: 'a scalar' },
      { x: [2, 3], y: [2, 1, 3, 1], strides: [3, 0, 1, 0], offset: 0, what: 'dims of 1' },
      { x: [64, 33, 17], y: [17, 64, 33], strides: [1, 33 * 17, 17], offset: 0, what: 'large transpose' },
      { x: [2, 3, 2, 3, 2, 3, 2, 3], y: [3, 2, 3, 2, 3, 2, 3, 2], strides: [1, 3, 6, 18, 36, 108, 216, 648], offset: 0, what: 'rank 8' },
    ];
    for (const c of cases)
      for (const dtype of ['float32', 'int32'] as DType[]) {
        const data = dtype === 'float32' ? specialFloats(size(c.x), r) : Int32Array.from({ length: size(c.x) }, (_, i) => i * 7 - 100);
        const x = twin(c.x, dtype, data),
          y = outs(c.y, dtype);
        for (let d = 0; d < 2; ++d) native.stridedCopy(x[d], y[d], c.strides, c.offset);
        same(y, `${c.what} ${dtype}`);
      }
  });

  M('reduce: every op on each kernel route (per output, a warp per row, a block per row), exact on small integers', () => {
    const r = rng(6);
    const dimsList: [number, number, number][] = [
      [3, 5, 1], // per output
      [1, 1, 1],
      [4, 40, 1], // a warp per row
      [37, 100, 1], // a warp per row, rows past one block's eight
      [2, 5000, 1], // a block per row
      [3, 7, 5], // columns
      [2, 300, 70], // columns past one block
      [5, 0, 1], // an empty axis: the identity
      [2, 0, 3],
    ];
    for (const dims of dimsList) {
      const n = size(dims);
      const ys = dims[0] * dims[2];
      const label = JSON.stringify(dims);
      // Small integers: sums exact in any order. Products of +-1 and a few 2s stay exact too.
      const fsum = twin([n], 'float32', intArray(n, r, -3, 3));
      const fprod = twin(
        [n],
        'float32',
        Float32Array.from({ length: n }, () => (r() < 0.02 ? 2 : r() < 0.5 ? -1 : 1)),
      );
      const fnan = Float32Array.from(intArray(n, r, -3, 3));
      if (n > 3) fnan[Math.floor(n / 2)] = NaN; // NaN propagates through min and max
      const fnanT = twin([n], 'float32', fnan);
      const isum = twin(
        [n],
        'int32',
        Int32Array.from({ length: n }, () => Math.floor(2e9 * r()) - 1e9),
      ); // wraps
      const iprod = twin(
        [n],
        'int32',
        Int32Array.from({ length: n }, () => (r() < 0.5 ? -1 : 1)),
      );
      const bools = twin(
        [n],
        'bool',
        Int32Array.from({ length: n }, () => (r() < 0.9 ? 1 : 0)),
      );
      const runs: [ReduceOp, NativeTensor[], DType][] = [
        ['sum', fsum, 'float32'],
        ['prod', fprod, 'float32'],
        ['min', fsum, 'float32'],
        ['max', fsum, 'float32'],
        ['min', fnanT, 'float32'],
        ['max', fnanT, 'float32'],
        ['sum', isum, 'int32'],
        ['prod', iprod, 'int32'],
        ['min', isum, 'int32'],
        ['max', isum, 'int32'],
        ['all', bools, 'bool'],
        ['any', bools, 'bool'],
      ];
      if (dims[1] > 0)
        runs.push(
          ['argMax', fsum, 'int32'],
          ['argMin', fsum, 'int32'],
          ['argMax', fnanT, 'int32'],
          ['argMin', fnanT, 'int32'],
          ['argMax', isum, 'int32'],
          ['argMin', iprod, 'int32'],
        );
      for (const [op, x, dtype] of runs) {
        const y = outs([ys], dtype);
        for (let d = 0; d < 2; ++d) native.reduce(op, x[d], dims, y[d]);
        same(y, `${op} ${x[0].dtype} ${label}`);
      }
    }
  });

  M('reduce: argMax / argMin keep the first extreme, never a NaN after the first element; float sums are deterministic', () => {
    // rows of 64 (a warp per row) and 5000 (a block per row): NaN first, NaN later, ties, all equal
    for (const n of [64, 5000, 9]) {
      const rows: number[][] = [
        [NaN, ...Array.from({ length: n - 1 }, (_, i) => i)],
        Array.from({ length: n }, (_, i) => (i === n - 1 ? NaN : i % 5)),
        Array.from({ length: n }, () => 2),
        Array.from({ length: n }, (_, i) => (i === 3 || i === n - 2 ? -Infinity : i === 1 || i === n - 1 ? Infinity : 0)),
        Array.from({ length: n }, (_, i) => (i % 2 ? NaN : -i)),
      ];
      const x = twin([rows.length * n], 'float32', Float32Array.from(rows.flat()));
      for (const op of ['argMax', 'argMin', 'max', 'min'] as ReduceOp[]) {
        const y = outs([rows.length], op.startsWith('arg') ? 'int32' : 'float32');
        for (let d = 0; d < 2; ++d) native.reduce(op, x[d], [rows.length, n, 1], y[d]);
        same(y, `${op} special rows of ${n}`);
      }
    }
    // Random floats: the GPU's order of sums is its own, fixed: two runs give the same bits.
    const r = rng(7);
    for (const dims of [
      [3, 20000, 1],
      [5, 100, 1],
      [4, 60, 9],
    ] as [number, number, number][]) {
      const x = twin([size(dims)], 'float32', randomArray(size(dims), r));
      const y = outs([dims[0] * dims[2]], 'float32'),
        again = make([dims[0] * dims[2]], 'float32', 'cuda');
      for (let d = 0; d < 2; ++d) native.reduce('sum', x[d], dims, y[d]);
      native.reduce('sum', x[1], dims, again);
      same(y, `sum of random floats ${JSON.stringify(dims)}`, { atol: 1e-3, rtol: 1e-5 });
      identical(y[1], again, `sum of random floats ${JSON.stringify(dims)} twice`);
    }
  });

  M('scan: cumsum and cumprod, exclusive and reverse, float32 and int32', () => {
    const r = rng(8);
    for (const dims of [
      [2, 6, 3],
      [1, 50, 1],
      [3, 1, 4],
      [300, 4, 1],
    ] as [number, number, number][]) {
      const n = size(dims);
      const inputs = [
        twin([n], 'float32', intArray(n, r, -3, 3)),
        twin(
          [n],
          'float32',
          Float32Array.from({ length: n }, () => (r() < 0.5 ? -1 : r() < 0.1 ? 2 : 1)),
        ),
        twin(
          [n],
          'int32',
          Int32Array.from({ length: n }, () => Math.floor(2e9 * r()) - 1e9),
        ),
        twin(
          [n],
          'int32',
          Int32Array.from({ length: n }, () => Math.floor(5 * r()) - 2),
        ),
      ];
      for (const x of inputs)
        for (const op of ['add', 'mul'] as const)
          for (const exclusive of [false, true])
            for (const reverse of [false, true]) {
              const y = outs([n], x[0].dtype);
              for (let d = 0; d < 2; ++d) native.scan(op, x[d], dims, exclusive, reverse, y[d]);
              same(y, `${op} ${x[0].dtype} ${JSON.stringify(dims)} exclusive=${exclusive} reverse=${reverse}`);
            }
    }
  });

  M('gatherAxis: rows, columns and middle axes; an index outside [0, n) gives 0', () => {
    const r = rng(9);
    for (const dims of [
      [3, 5, 4],
      [1, 6, 1],
      [4, 3, 70],
      [50, 7, 1],
    ] as [number, number, number][]) {
      const idx = ints([4, 0, 0, 2, 1, 3, -1, dims[1]].map(i => (i > dims[1] ? i % dims[1] : i))); // -1 and n: outside
      const ix = twin([idx.length], 'int32', idx);
      for (const dtype of ['float32', 'int32'] as DType[]) {
        const n = size(dims);
        const x = twin([n], dtype, dtype === 'float32' ? specialFloats(n, r) : Int32Array.from({ length: n }, (_, i) => i - 3));
        const y = outs([dims[0] * idx.length * dims[2]], dtype);
        for (let d = 0; d < 2; ++d) native.gatherAxis(x[d], dims, ix[d], y[d]);
        same(y, `gather ${dtype} ${JSON.stringify(dims)}`);
      }
    }
  });

  M('batchMatmul: per-batch GEMMs (<= 4 batches) and the batched kernel, repeated operands, awkward sizes', () => {
    const r = rng(10);
    const cases: { batch: number; m: number; k: number; n: number; aRep?: boolean; bRep?: boolean }[] = [
      { batch: 1, m: 1, k: 1, n: 1 },
      { batch: 3, m: 17, k: 33, n: 65 },
      { batch: 1, m: 8, k: 2048, n: 8 }, // split-K
      { batch: 5, m: 1, k: 7, n: 3 },
      { batch: 6, m: 70, k: 37, n: 130 }, // several tiles, a partial K step
      { batch: 9, m: 64, k: 16, n: 64 }, // whole tiles
      { batch: 7, m: 5, k: 20, n: 9, aRep: true },
      { batch: 7, m: 5, k: 20, n: 9, bRep: true },
      { batch: 2, m: 3, k: 4, n: 5, aRep: true, bRep: true },
      { batch: 12, m: 3, k: 0, n: 4 }, // empty sums: zeros
    ];
    for (const c of cases)
      for (const kind of ['int', 'float'] as const) {
        const gen = kind === 'int' ? (n: number) => intArray(n, r, -3, 3) : (n: number) => randomArray(n, r);
        const a = twin([(c.aRep ? 1 : c.batch) * c.m * c.k], 'float32', gen((c.aRep ? 1 : c.batch) * c.m * c.k));
        const b = twin([(c.bRep ? 1 : c.batch) * c.k * c.n], 'float32', gen((c.bRep ? 1 : c.batch) * c.k * c.n));
        const y = outs([c.batch * c.m * c.n], 'float32');
        for (let d = 0; d < 2; ++d) native.batchMatmul(a[d], b[d], y[d], [c.batch, c.m, c.k, c.n], !!c.aRep, !!c.bRep);
        same(y, `${kind} batchMatmul ${JSON.stringify(c)}`, kind === 'float' ? GEMM_TOL : undefined);
        if (kind === 'float') {
          const again = make([c.batch * c.m * c.n], 'float32', 'cuda');
          native.batchMatmul(a[1], b[1], again, [c.batch, c.m, c.k, c.n], !!c.aRep, !!c.bRep);
          identical(y[1], again, `batchMatmul ${JSON.stringify(c)} twice`);
        }
      }
  });

  M('topk: descending, ties by the lower index, NaN after every number; k from 0 to n', () => {
    const r = rng(11);
    for (const [rows, n] of [
      [3, 1],
      [4, 10],
      [9, 100], // rows past one block's eight
      [2, 40],
    ]) {
      const data = Float32Array.from({ length: rows * n }, (_, i) =>
        i % 13 === 5 ? NaN : i % 17 === 3 ? -Infinity : i % 19 === 4 ? Infinity : Math.floor(9 * r()) - 4,
      );
      const x = twin([rows, n], 'float32', data);
      for (const k of [0, 1, Math.min(3, n), Math.floor(n / 2), n]) {
        const v = outs([rows, k], 'float32'),
          ix = outs([rows, k], 'int32');
        for (let d = 0; d < 2; ++d) native.topk(x[d], k, v[d], ix[d]);
        same(v, `topk values rows=${rows} n=${n} k=${k}`);
        same(ix, `topk indices rows=${rows} n=${n} k=${k}`);
      }
    }
  });

  M('resize2d: bilinear and nearest, align corners and half-pixel centers, up and down', () => {
    const r = rng(12);
    for (const [n, h, w, c, oh, ow] of [
      [2, 3, 4, 3, 7, 5],
      [1, 8, 9, 2, 3, 4],
      [1, 1, 5, 1, 4, 1],
      [3, 6, 6, 5, 6, 6],
      [1, 16, 16, 3, 33, 31],
    ])
      for (const bilinear of [true, false])
        for (const alignCorners of [false, true])
          for (const halfPixel of [false, true]) {
            if (alignCorners && halfPixel) continue; // tf.image refuses both
            const x = twin([n, h, w, c], 'float32', intArray(n * h * w * c, r, -8, 8)),
              y = outs([n, oh, ow, c], 'float32');
            for (let d = 0; d < 2; ++d) native.resize2d(x[d], y[d], bilinear, alignCorners, halfPixel);
            // Bilinear weights are fractions computed in double: equal after rounding, barring a contracted FMA.
            same(
              y,
              `resize ${JSON.stringify([n, h, w, c, oh, ow])} bilinear=${bilinear} align=${alignCorners} half=${halfPixel}`,
              bilinear ? LIBM : undefined,
            );
          }
  });

  M('iota: float32 and int32, fractional steps, negative steps', () => {
    for (const [dtype, n, start, step] of [
      ['float32', 1000, 0.5, 0.1],
      ['float32', 7, -3, 0.3333333333333333],
      ['int32', 600, -3, 2],
      ['int32', 50, 0, 0.3],
      ['int32', 50, 10, -0.7],
      ['float32', 1, 5, 0],
    ] as [DType, number, number, number][]) {
      const y = outs([n], dtype);
      for (let d = 0; d < 2; ++d) native.iota(y[d], start, step);
      same(y, `iota ${dtype} n=${n} start=${start} step=${step}`);
    }
  });

  M('randomGauss: the CPU stream (to libm rounding), the same bits on every GPU run', () => {
    for (const [n, mean, stddev, seed, offset] of [
      [1001, 0, 1, 42, 0],
      [8, 3, 0.5, 7, 5],
      [1, -1, 2, 1, 1],
    ]) {
      const y = outs([n], 'float32'),
        again = make([n], 'float32', 'cuda');
      for (let d = 0; d < 2; ++d) native.randomGauss(y[d], mean, stddev, seed, offset);
      native.randomGauss(again, mean, stddev, seed, offset);
      same(y, `randomGauss n=${n} seed=${seed}`, { atol: 1e-5, rtol: 1e-5 });
      identical(y[1], again, `randomGauss n=${n} twice`);
    }
  });
}

M.run();
