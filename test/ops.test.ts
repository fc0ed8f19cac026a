// Every CPU op against a naive float64 reference (test/helpers.ts), on small random shapes including awkward
// ones (1, odd, prime, larger than a GEMM tile). Two layers of checks: small-integer data, where any summation
// order is exact and results must match bit for bit; then random floats within the tolerances written below.
// Outputs are poisoned with NaN before each run, so an element an op forgets to write fails.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ValidationError } from '../lib/index.js';
import { native, type ConvArgs, type NativeActivation, type NativeTensor, type PoolArgs } from '../lib/core/native.js';
import {
  I,
  T,
  close,
  convArgs,
  convBackwardRef,
  convOut,
  convRef,
  denseBackwardRef,
  denseRef,
  disposeAll,
  exact,
  intArray,
  maxPoolRef,
  out,
  randomArray,
  rng,
  softmaxCrossEntropyRef,
  CONV_CASES,
  DENSE_CASES,
  type ConvCase,
} from './helpers.js';

// Tolerances (float32 kernels vs float64 reference): GEMM-based ops accumulate up to a few hundred products.
const GEMM_TOL = { atol: 1e-5, rtol: 1e-4 };
const ELEMENTWISE_TOL = { atol: 1e-6, rtol: 1e-6 };

const label = (s: ConvCase) => `conv ${JSON.stringify(s)}`;

const Conv = suite('conv2d');
Conv.after.each(disposeAll);

for (const [kind, gen] of [
  ['int', intArray],
  ['float', randomArray],
] as const) {
  Conv(`forward matches the reference (${kind} data)`, () => {
    const r = rng(1);
    for (const s of CONV_CASES)
      for (const relu of [false, true]) {
        const { oh, ow } = convOut(s);
        const x = gen(s.n * s.h * s.w * s.c, r),
          w = gen(s.kh * s.kw * s.c * s.f, r),
          b = gen(s.f, r);
        const y = out([s.n, oh, ow, s.f]);
        native.conv2dForward(T([s.n, s.h, s.w, s.c], x), T([s.kh, s.kw, s.c, s.f], w), T([s.f], b), y, convArgs(s, relu ? 'relu' : 'linear'));
        const ref = convRef(s, x, w, b, relu);
        if (kind === 'int') exact(y.read(), ref, label(s));
        else close(y.read(), ref, GEMM_TOL.atol, GEMM_TOL.rtol, label(s));
      }
  });

  Conv(`backward matches the reference (${kind} data)`, () => {
    const r = rng(2);
    // Each gradient is computed only when its tensor is passed: dx null for the first layer, dw and db null for a
    // frozen layer (whose untouched outputs keep their NaN fill).
    for (const s of CONV_CASES)
      for (const relu of [false, true])
        for (const [withDx, withDw] of [
          [true, true],
          [false, true],
          [true, false],
        ]) {
          const { oh, ow } = convOut(s);
          const x = gen(s.n * s.h * s.w * s.c, r),
            w = gen(s.kh * s.kw * s.c * s.f, r),
            b = gen(s.f, r);
          const dyData = gen(s.n * oh * ow * s.f, r);
          const X = T([s.n, s.h, s.w, s.c], x),
            W = T([s.kh, s.kw, s.c, s.f], w),
            Y = out([s.n, oh, ow, s.f]);
          native.conv2dForward(X, W, T([s.f], b), Y, convArgs(s, relu ? 'relu' : 'linear'));
          const y = Y.read();
          const dx = withDx ? out([s.n, s.h, s.w, s.c]) : null,
            dw = out([s.kh, s.kw, s.c, s.f]),
            db = out([s.f]);
          dw.fill(NaN);
          db.fill(NaN);
          native.conv2dBackward(
            X,
            W,
            Y,
            T([s.n, oh, ow, s.f], dyData),
            dx,
            withDw ? dw : null,
            withDw ? db : null,
            convArgs(s, relu ? 'relu' : 'linear'),
          );
          const ref = convBackwardRef(s, x, w, y, dyData, relu);
          const cmp =
            kind === 'int'
              ? (a: ArrayLike<number>, e: ArrayLike<number>, what: string) => exact(a, e, what)
              : (a: ArrayLike<number>, e: ArrayLike<number>, what: string) => close(a, e, GEMM_TOL.atol * 10, GEMM_TOL.rtol, what);
          if (dx) cmp(dx.read(), ref.dx, `dx of ${label(s)}`);
          if (withDw) {
            cmp(dw.read(), ref.dw, `dw of ${label(s)}`);
            cmp(db.read(), ref.db, `db of ${label(s)}`);
          } else {
            assert.ok([...dw.read(), ...db.read()].every(Number.isNaN), `dw and db untouched when not asked for (${label(s)})`);
          }
        }
  });
}
// The CPU thread count can change between ops (the bench's scaling sweep does): a resized pool used to start
// its new threads on the job that had already finished, through a null job pointer (a segfault). The result
// is also the same bit for bit at every thread count, since each output is summed in the same order.
Conv('the thread count can change between ops, with the same result', () => {
  const r = rng(3),
    s = CONV_CASES.at(-1)!;
  const { oh, ow } = convOut(s);
  const X = T([s.n, s.h, s.w, s.c], intArray(s.n * s.h * s.w * s.c, r)),
    W = T([s.kh, s.kw, s.c, s.f], intArray(s.kh * s.kw * s.c * s.f, r));
  const B = T([s.f], intArray(s.f, r));
  const before = native.numThreads(),
    results: ArrayLike<number>[] = [];
  try {
    for (const n of [1, 3, 2, 4, 1, before]) {
      assert.is(native.numThreads(n), n);
      const y = out([s.n, oh, ow, s.f]);
      native.conv2dForward(X, W, B, y, convArgs(s, 'relu'));
      results.push(y.read());
    }
  } finally {
    native.numThreads(before);
  }
  for (const y of results.slice(1)) exact(y, results[0], `conv at another thread count`);
});
// The backward pass too: its weight and bias gradients are sums over the batch, taken in chunks that depend on
// the batch size only and added in a fixed order, so every thread count gives the same bits (float data, where
// a different order would show).
Conv('backward gives the same bits at every thread count', () => {
  const r = rng(5);
  for (const s of [CONV_CASES.at(-1)!, CONV_CASES.find(c => c.n === 17)!, CONV_CASES.find(c => c.n === 18)!]) {
    const { oh, ow } = convOut(s);
    const X = T([s.n, s.h, s.w, s.c], randomArray(s.n * s.h * s.w * s.c, r));
    const W = T([s.kh, s.kw, s.c, s.f], randomArray(s.kh * s.kw * s.c * s.f, r));
    const Y = out([s.n, oh, ow, s.f]),
      DY = T([s.n, oh, ow, s.f], randomArray(s.n * oh * ow * s.f, r));
    native.conv2dForward(X, W, T([s.f], randomArray(s.f, r)), Y, convArgs(s, 'relu'));
    const before = native.numThreads(),
      results: ArrayLike<number>[][] = [];
    try {
      for (const n of [1, 2, 3, before]) {
        native.numThreads(n);
        const dx = out([s.n, s.h, s.w, s.c]),
          dw = out([s.kh, s.kw, s.c, s.f]),
          db = out([s.f]);
        native.conv2dBackward(X, W, Y, DY, dx, dw, db, convArgs(s, 'relu'));
        results.push([dx.read(), dw.read(), db.read()]);
      }
    } finally {
      native.numThreads(before);
    }
    for (const res of results.slice(1))
      res.forEach((a, i) => exact(a, results[0][i], `${['dx', 'dw', 'db'][i]} of ${label(s)} at another thread count`));
  }
});
Conv.run();

const DenseSuite = suite('dense');
DenseSuite.after.each(disposeAll);
for (const [kind, gen] of [
  ['int', intArray],
  ['float', randomArray],
] as const) {
  DenseSuite(`forward and backward match the reference (${kind} data)`, () => {
    const r = rng(3);
    for (const [n, i, o] of DENSE_CASES)
      for (const relu of [false, true]) {
        const what = `dense n=${n} i=${i} o=${o} relu=${relu}`;
        const x = gen(n * i, r),
          w = gen(i * o, r),
          b = gen(o, r),
          dyData = gen(n * o, r);
        const X = T([n, i], x),
          W = T([i, o], w),
          Y = out([n, o]);
        native.denseForward(X, W, T([o], b), Y, relu ? 'relu' : 'linear');
        const y = Y.read();
        const cmp = (a: ArrayLike<number>, e: ArrayLike<number>, s: string, scale = 1) =>
          kind === 'int' ? exact(a, e, s) : close(a, e, GEMM_TOL.atol * scale, GEMM_TOL.rtol * scale, s);
        cmp(y, denseRef(n, i, o, x, w, b, relu), what, i > 1000 ? 10 : 1);
        const dx = out([n, i]),
          dw = out([i, o]),
          db = out([o]);
        native.denseBackward(X, W, Y, T([n, o], dyData), dx, dw, db, relu ? 'relu' : 'linear');
        const ref = denseBackwardRef(n, i, o, x, w, y, dyData, relu);
        cmp(dx.read(), ref.dx, `dx of ${what}`);
        cmp(dw.read(), ref.dw, `dw of ${what}`, 10);
        cmp(db.read(), ref.db, `db of ${what}`, 10);
        // A frozen layer's backward: dx alone, the same values, dw and db not written.
        const dx2 = out([n, i]),
          dw2 = out([i, o]);
        dw2.fill(NaN);
        native.denseBackward(X, W, Y, T([n, o], dyData), dx2, null, null, relu ? 'relu' : 'linear');
        exact(dx2.read(), dx.read(), `dx without weight gradients, ${what}`);
        assert.ok(dw2.read().every(Number.isNaN), 'dw untouched');
      }
  });
}
// The fused epilogue (cpp/epilogue.h): the bias is optional (null adds nothing, bit for bit the same as a zero
// bias), and the activation is chosen by name at run time; an unknown one is refused, naming those there are.
DenseSuite('the fused epilogue: a null bias, and the activation by name', () => {
  const r = rng(4),
    s = CONV_CASES.at(-1)!,
    { oh, ow } = convOut(s);
  for (const act of ['linear', 'relu'] as const) {
    const X = T([s.n, s.h, s.w, s.c], intArray(s.n * s.h * s.w * s.c, r)),
      W = T([s.kh, s.kw, s.c, s.f], intArray(s.kh * s.kw * s.c * s.f, r));
    const zero = T([s.f], new Float32Array(s.f)),
      y0 = out([s.n, oh, ow, s.f]),
      y1 = out([s.n, oh, ow, s.f]);
    native.conv2dForward(X, W, zero, y0, convArgs(s, act));
    native.conv2dForward(X, W, null, y1, convArgs(s, act));
    exact(y1.read(), y0.read(), `conv without a bias, ${act}`);
    const x = T([7, 13], intArray(91, r)),
      w = T([13, 5], intArray(65, r)),
      d0 = out([7, 5]),
      d1 = out([7, 5]);
    native.denseForward(x, w, T([5], new Float32Array(5)), d0, act);
    native.denseForward(x, w, null, d1, act);
    exact(d1.read(), d0.read(), `dense without a bias, ${act}`);
  }
  const t = T([2, 2]);
  assert.throws(
    () => native.denseForward(t, t, null, out([2, 2]), 'hard_tanh' as 'relu'),
    /denseForward: expected activation to be one of 'linear', 'relu', 'relu6', .*'leaky_relu' but received 'hard_tanh' of type string/,
  );
  assert.throws(() => native.denseForward(t, t, null, out([2, 2]), 'swish'), /activation 'swish' needs pre, a tensor for its input/);
  assert.throws(() => native.denseForward(t, t, null, out([2, 2]), 'tanh', out([2, 2])), /activation 'tanh' takes no pre tensor/);
  assert.throws(() => native.denseForward(t, t, null, out([2, 2]), 'gelu', out([2, 3])), /expected pre to be a float32 tensor shaped as y/);
  assert.throws(() => native.denseForward(t, t, null, out([2, 2]), true as unknown as 'relu'), /expected activation to be one of/);
});

// The model's head as one op (native.denseLoss, what a training step runs for a linear Dense last layer): on the
// CPU bit for bit the three ops it stands for (denseForward, loss, denseBackward), for each loss kind, with
// class indices, sample weights and a frozen head (dx alone); shapes that do not fit are refused with a code.
DenseSuite('the head as one op equals the dense layer, the loss and the backward in turn', () => {
  const r = rng(5);
  for (const [n, i, k, kind, acc, sparse, weighted, frozen] of [
    [16, 128, 8, 'mse', 'none', false, false, false],
    [37, 128, 10, 'crossentropy', 'categorical', false, true, false],
    [9, 64, 10, 'crossentropy', 'sparse', true, false, true],
    [20, 30, 1, 'binary_crossentropy', 'binary', false, true, false],
    [5, 7, 3, 'mae', 'none', false, false, true],
  ] as const) {
    const what = `${kind} n=${n} i=${i} k=${k}`;
    const x = T([n, i], randomArray(n * i, r)),
      w = T([i, k], randomArray(i * k, r)),
      b = T([k], randomArray(k, r));
    const cls = Int32Array.from({ length: n }, () => Math.floor(r() * k));
    const labels = sparse
      ? I([n], cls)
      : T(
          [n, k],
          Float32Array.from({ length: n * k }, (_, e) =>
            kind === 'crossentropy' ? (cls[Math.floor(e / k)] === e % k ? 1 : 0) : kind === 'binary_crossentropy' ? Math.round(r()) : r(),
          ),
        );
    const wt = weighted ? T([n], randomArray(n, r, 0, 2)) : null;
    const got = { z: out([n, k]), dz: out([n, k]), dx: out([n, i]), dw: out([i, k]), db: out([k]), m: T([8], new Float32Array(8)) };
    const want = { z: out([n, k]), dz: out([n, k]), dx: out([n, i]), dw: out([i, k]), db: out([k]), m: T([8], new Float32Array(8)) };
    if (frozen) for (const t of [got.dw, got.db]) t.fill(NaN);
    native.denseLoss(kind, acc, x, w, b, got.z, labels, wt, got.dz, got.dx, frozen ? null : got.dw, frozen ? null : got.db, got.m, 4);
    native.denseForward(x, w, b, want.z, 'linear');
    native.loss(kind, acc, want.z, labels, wt, want.dz, want.m, 4);
    native.denseBackward(x, w, want.z, want.dz, want.dx, frozen ? null : want.dw, frozen ? null : want.db, 'linear');
    const keys: (keyof typeof got)[] = ['z', 'dz', 'dx', 'm', ...(frozen ? [] : (['dw', 'db'] as const))];
    for (const key of keys) exact(got[key].read(), want[key].read(), `${key} of ${what}`);
    if (frozen) assert.ok(got.dw.read().every(Number.isNaN) && got.db.read().every(Number.isNaN), `a frozen head's dw and db untouched (${what})`);
  }
  const x = T([4, 3]),
    w = T([3, 2]),
    z = out([4, 2]),
    y = T([4, 2]),
    m = T([8]);
  const refused = (f: () => void, re: RegExp) =>
    assert.throws(f, (e: Error & { code?: string }) => re.test(e.message) && e.code === 'ERR_KERNELNET_SHAPE');
  refused(() => native.denseLoss('mse', 'none', x, T([4, 2]), null, z, y, null, out([4, 2]), null, null, null, m, 0), /denseLoss: expected w to be/);
  refused(
    () => native.denseLoss('mse', 'none', x, w, null, out([4, 3]), y, null, out([4, 2]), null, null, null, m, 0),
    /denseLoss: expected logits to be/,
  );
  refused(() => native.denseLoss('mse', 'none', x, w, null, z, y, null, out([4, 2]), out([4, 2]), null, null, m, 0), /denseLoss: expected dx to be/);
  assert.throws(() => native.denseLoss('mse', 'none', x, w, null, z, y, null, z, null, null, null, m, 0), /denseLoss: .*(same|distinct|alias)/i);
});

// A few rows (at most 12) read the kernel in place instead of packing it (cpu_dense.cc, gemm_rows_b), with the
// packed path's arithmetic in its order: each row's output is bit-identical whatever the batch, so a prediction
// does not depend on its batch size. Shapes with a partial last column panel (o = 37) and k past one block.
DenseSuite('a row gives bit-identical outputs in a batch of 1, 12 (kernel read in place) and 40 (packed)', () => {
  const r = rng(11);
  for (const [i, o] of [
    [9216, 128],
    [300, 37],
    [5, 16],
  ]) {
    const x = randomArray(40 * i, r),
      w = randomArray(i * o, r),
      b = randomArray(o, r);
    const W = T([i, o], w),
      B = T([o], b);
    const rows = (n: number) => {
      const Y = out([n, o]);
      native.denseForward(T([n, i], x.subarray(0, n * i)), W, B, Y, 'relu');
      return Y.read();
    };
    const all = rows(40);
    for (const n of [1, 12]) exact(rows(n), all.subarray(0, n * o), `dense i=${i} o=${o}: ${n} rows against the first ${n} of 40`);
  }
});

DenseSuite.run();

// The conv + max-pool op is the two ops in one pass with no conv output stored; its backward sums only the
// entries at each window's argmax (the rest of dz is zero), in another order than the dense GEMMs. So: the pooled
// output and argmax bit for bit, the gradients exactly on small-integer data (any order of sums is exact there)
// and within float32 rounding on random floats.
const ConvPool = suite('conv2dPool');
ConvPool.after.each(disposeAll);
for (const [kind, gen] of [
  ['int', intArray],
  ['float', randomArray],
] as const) {
  ConvPool(`is conv2d then maxPool2d, forward and backward (${kind} data)`, () => {
    const r = rng(11);
    const cases: [ConvCase, number, number, 'valid' | 'same', string, number?][] = [
      [CONV_CASES.at(-1)!, 2, 2, 'valid', 'relu'], // the seed's conv2 and pool (the argmax-only backward)
      [CONV_CASES.at(-2)!, 2, 2, 'valid', 'linear'], // one channel (the dense backward)
      [CONV_CASES.find(c => c.n === 17)!, 2, 2, 'same', 'elu', 0.7], // strides, 'same' padding, clipped windows: [3, 5]
      [CONV_CASES.find(c => c.c === 48)!, 3, 2, 'valid', 'leaky_relu'], // 48 channels: chunks of 32 and 16; dilated
      [CONV_CASES[1], 2, 3, 'same', 'tanh'],
      [{ n: 3, h: 9, w: 8, c: 8, kh: 2, kw: 5, f: 7, sh: 1, sw: 1, same: true }, 3, 3, 'same', 'relu'], // 5 taps a row
    ];
    for (const [s, ph, pw, poolPad, act, alpha] of cases) {
      const what = `${label(s)} pool ${ph}x${pw} ${poolPad} ${act}`;
      // Exact where the activation's derivative keeps integers integral (relu, linear).
      const cmp = (a: ArrayLike<number>, e: ArrayLike<number>, m: string) =>
        kind === 'int' && (act === 'relu' || act === 'linear') ? exact(a, e, m) : close(a, e, GEMM_TOL.atol * 10, GEMM_TOL.rtol * 10, m);
      const { oh, ow } = convOut(s);
      const po = (n: number, k: number) => (poolPad === 'same' ? Math.ceil(n / k) : Math.floor(n / k));
      const poh = po(oh, ph),
        pow = po(ow, pw);
      const X = T([s.n, s.h, s.w, s.c], gen(s.n * s.h * s.w * s.c, r));
      const W = T([s.kh, s.kw, s.c, s.f], gen(s.kh * s.kw * s.c * s.f, r)),
        B = T([s.f], gen(s.f, r));
      const conv = convArgs(s, act as NativeActivation, { alpha }),
        pool: PoolArgs = { poolSize: [ph, pw], padding: poolPad };
      // Apart.
      const Y = out([s.n, oh, ow, s.f]),
        P = out([s.n, poh, pow, s.f]),
        A = I([s.n, poh, pow, s.f]);
      native.conv2dForward(X, W, B, Y, conv);
      native.maxPool2dForward(Y, P, A, ph, pw, ph, pw, poolPad);
      const DP = T([s.n, poh, pow, s.f], gen(s.n * poh * pow * s.f, r));
      const DY = out([s.n, oh, ow, s.f]),
        dx = out([s.n, s.h, s.w, s.c]),
        dw = out([s.kh, s.kw, s.c, s.f]),
        db = out([s.f]);
      native.maxPool2dBackward(DP, A, DY, ph, pw, ph, pw, poolPad);
      native.conv2dBackward(X, W, Y, DY, dx, dw, db, conv);
      // Together.
      const P2 = out([s.n, poh, pow, s.f]),
        A2 = I([s.n, poh, pow, s.f]);
      native.conv2dPoolForward(X, W, B, P2, A2, conv, pool);
      exact(P2.read(), P.read(), `pooled of ${what}`);
      exact(A2.read(), A.read(), `argmax of ${what}`);
      // A Dropout after the pool, its forward in the op: bit for bit dropoutForward after it, the pooled output
      // and argmax unchanged; rate 0 a copy, as dropoutForward's.
      for (const rate of [0.25, 0]) {
        const ctr = I([1], Int32Array.of(5)),
          P3 = out(P.shape),
          A3 = I(A.shape),
          D3 = out(P.shape),
          D = out(P.shape);
        native.conv2dPoolForward(X, W, B, P3, A3, conv, pool, { rate, seed: 11, offset: 70, counter: ctr }, D3);
        native.dropoutForward(P, D, rate, 11, 70, ctr);
        exact(P3.read(), P.read(), `pooled beside the dropout (rate ${rate}) of ${what}`);
        exact(A3.read(), A.read(), `argmax beside the dropout (rate ${rate}) of ${what}`);
        exact(D3.read(), D.read(), `dropped (rate ${rate}) of ${what}`);
      }
      const dx2 = out([s.n, s.h, s.w, s.c]),
        dw2 = out([s.kh, s.kw, s.c, s.f]),
        db2 = out([s.f]);
      native.conv2dPoolBackward(X, W, P2, A2, DP, dx2, dw2, db2, conv, pool);
      cmp(dx2.read(), dx.read(), `dx of ${what}`);
      cmp(dw2.read(), dw.read(), `dw of ${what}`);
      cmp(db2.read(), db.read(), `db of ${what}`);
      // Each gradient only when asked for, the same bits as with the others.
      const dw3 = out([s.kh, s.kw, s.c, s.f]),
        dx3 = out([s.n, s.h, s.w, s.c]);
      native.conv2dPoolBackward(X, W, P2, A2, DP, null, dw3, null, conv, pool);
      native.conv2dPoolBackward(X, W, P2, A2, DP, dx3, null, null, conv, pool);
      exact(dw3.read(), dw2.read(), `dw alone of ${what}`);
      exact(dx3.read(), dx2.read(), `dx alone of ${what}`);
      // A Dropout after the pool, its backward folded in: bit for bit dropoutBackward and then the op.
      const counter = I([1], Int32Array.of(3)),
        DD = out([s.n, poh, pow, s.f]);
      native.dropoutBackward(DP, DD, 0.25, 9, 40, counter);
      const dx4 = out([s.n, s.h, s.w, s.c]),
        dw4 = out([s.kh, s.kw, s.c, s.f]),
        db4 = out([s.f]);
      const dx5 = out([s.n, s.h, s.w, s.c]),
        dw5 = out([s.kh, s.kw, s.c, s.f]),
        db5 = out([s.f]);
      native.conv2dPoolBackward(X, W, P2, A2, DD, dx4, dw4, db4, conv, pool);
      native.conv2dPoolBackward(X, W, P2, A2, DP, dx5, dw5, db5, conv, pool, { rate: 0.25, seed: 9, offset: 40, counter });
      for (const [a, e, n] of [
        [dx5, dx4, 'dx'],
        [dw5, dw4, 'dw'],
        [db5, db4, 'db'],
      ] as const)
        exact(a.read(), e.read(), `${n} with the dropout folded in, ${what}`);
      // The layer below's activation (x its output) folded into dx: bit for bit activationBackward after the op.
      const dx6 = out(X.shape),
        after = out(X.shape);
      native.conv2dPoolBackward(X, W, P2, A2, DP, dx6, null, null, conv, pool, undefined, { activation: 'elu', alpha: 0.7 });
      native.activationBackward(T(X.shape, X.read() as Float32Array), X, dx3, after, 'elu', 0.7); // (x unused: a copy)
      exact(dx6.read(), after.read(), `dx taking the layer below's elu, ${what}`);
    }
  });
}
// An argmax the forward pass did not make is still routed as maxPool2dBackward does when it is a pixel of the
// image in the window's channel (outside its window too, several windows onto one pixel too), and dropped when
// outside the image. (One into another channel is dropped as well; maxPool2dBackward would move the gradient
// there.)
ConvPool('routes any argmax as maxPool2dBackward does', () => {
  const r = rng(12),
    s = CONV_CASES.at(-1)!,
    { oh, ow } = convOut(s);
  const X = T([s.n, s.h, s.w, s.c], intArray(s.n * s.h * s.w * s.c, r)),
    W = T([s.kh, s.kw, s.c, s.f], intArray(s.kh * s.kw * s.c * s.f, r));
  const pshape = [s.n, oh / 2, ow / 2, s.f],
    size = pshape.reduce((a, b) => a * b),
    per = size / s.n,
    conv = oh * ow * s.f;
  const P = T(pshape, intArray(size, r)),
    DP = T(pshape, intArray(size, r));
  // Indices anywhere in the image in the window's channel, and some outside the image.
  const a = Int32Array.from({ length: size }, (_, i) => {
    const c = i % s.f,
      k = (i * 7919) % 23;
    return k === 0 ? -5 : k === 1 ? conv + 3 : ((i * 131) % (oh * ow)) * s.f + c;
  });
  const A = I(pshape, a);
  // Apart: the routed gradient and the pooled values scattered, then conv2dBackward with linear activation.
  const DY = out([s.n, oh, ow, s.f]),
    Y = out([s.n, oh, ow, s.f]);
  native.maxPool2dBackward(DP, A, DY, 2, 2, 2, 2);
  native.maxPool2dBackward(P, A, Y, 2, 2, 2, 2);
  const dx = out(X.shape),
    dw = out(W.shape),
    db = out([s.f]);
  native.conv2dBackward(X, W, Y, DY, dx, dw, db, { strides: [1, 1], padding: 'valid', activation: 'linear' });
  const dx2 = out(X.shape),
    dw2 = out(W.shape),
    db2 = out([s.f]);
  native.conv2dPoolBackward(
    X,
    W,
    P,
    A,
    DP,
    dx2,
    dw2,
    db2,
    { strides: [1, 1], padding: 'valid', activation: 'linear' },
    { poolSize: [2, 2], padding: 'valid' },
  );
  exact(dx2.read(), dx.read(), 'dx');
  exact(dw2.read(), dw.read(), 'dw');
  assert.ok(per > 0);
  // db sums the pooled gradient of every window with a usable argmax; apart it sums the routed ones.
  exact(db2.read(), db.read(), 'db');
});
ConvPool('refuses an activation that needs its input, and shapes that do not match', () => {
  const X = T([2, 6, 6, 3]),
    W = T([3, 3, 3, 4]),
    P = T([2, 2, 2, 4]),
    A = I([2, 2, 2, 4]);
  const code = (c: string, re: RegExp) => (e: Error & { code?: string }) => e.code === c && re.test(e.message);
  const relu: ConvArgs = { strides: [1, 1], padding: 'valid', activation: 'relu' },
    pool: PoolArgs = { poolSize: [2, 2], padding: 'valid' };
  assert.throws(
    () => native.conv2dPoolForward(X, W, null, P, A, { ...relu, activation: 'swish' }, pool),
    code('ERR_KERNELNET_ARG', /activation 'swish' needs its input in backward/),
  );
  assert.throws(
    () => native.conv2dPoolForward(X, W, null, P, A, { ...relu, pre: T([2, 4, 4, 4]) }, pool),
    code('ERR_KERNELNET_ARG', /activation 'relu' takes no conv\.pre tensor/),
  );
  assert.throws(
    () => native.conv2dPoolForward(X, W, null, T([2, 3, 3, 4]), A, relu, pool),
    code('ERR_KERNELNET_SHAPE', /expected pooled to be a float32 tensor of shape \[2,2,2,4\]/),
  );
  // The dropout's output: required with a rate, shaped as the pooled output, not one of the op's other tensors.
  const drop = { rate: 0.5, seed: 1, offset: 0 };
  assert.throws(
    () => native.conv2dPoolForward(X, W, null, P, A, relu, pool, drop),
    code('ERR_KERNELNET_ARG', /expected dropped to be a Tensor but received undefined/),
  );
  assert.throws(
    () => native.conv2dPoolForward(X, W, null, P, A, relu, pool, drop, T([2, 2, 2, 3])),
    code('ERR_KERNELNET_SHAPE', /expected dropped to be a float32 tensor of shape \[2,2,2,4\]/),
  );
  assert.throws(
    () => native.conv2dPoolForward(X, W, null, P, A, relu, pool, drop, P),
    code('ERR_KERNELNET_ARG', /the same tensor was passed for two arguments/),
  );
  assert.throws(
    () => native.conv2dPoolForward(X, W, null, P, A, relu, pool, { ...drop, rate: 1 }, T([2, 2, 2, 4])),
    code('ERR_KERNELNET_ARG', /expected drop\.rate to be a number in \[0, 0\.999999\] but received 1 of type number/),
  );
  assert.throws(
    () => native.conv2dPoolForward(X, W, null, P, A, relu, { ...pool, poolSize: [5, 2] }),
    code('ERR_KERNELNET_SHAPE', /a 5x2 pool window does not fit the convolution's output \[2, 4, 4, 4\]/),
  );
  assert.throws(
    () => native.conv2dPoolBackward(X, W, P, T([2, 2, 2, 4]), P, null, null, null, relu, pool),
    code('ERR_KERNELNET_SHAPE', /expected argmax to be an int32 tensor/),
  );
});
// The conv ops' options objects (native.ts's ConvArgs, PoolArgs, DropArgs, BelowAct): a key the op does not know
// (a misspelt field, which would otherwise leave its default in place) and a field of the wrong type are refused
// with ERR_KERNELNET_ARG, a ValidationError, whose message names the field.
ConvPool('refuses unknown keys and wrong types in the options objects, naming the field', () => {
  const X = T([2, 6, 6, 3]),
    W = T([3, 3, 3, 4]),
    Y = T([2, 4, 4, 4]),
    DY = T(Y.shape),
    P = T([2, 2, 2, 4]),
    A = I([2, 2, 2, 4]);
  const conv: ConvArgs = { strides: [1, 1], padding: 'valid', activation: 'relu' },
    pool: PoolArgs = { poolSize: [2, 2], padding: 'valid' };
  const refused = (f: () => void, re: RegExp) =>
    assert.throws(f, (e: Error & { code?: string }) => e instanceof ValidationError && e.code === 'ERR_KERNELNET_ARG' && re.test(e.message));
  const bad = <V>(v: unknown) => v as V;
  // Unknown keys.
  refused(
    () => native.conv2dForward(X, W, null, Y, bad({ ...conv, stride: [1, 1] })),
    /^conv2dForward: unknown field conv\.stride: conv takes strides, padding, activation, alpha, dilationRate, pre$/,
  );
  refused(
    () => native.conv2dBackward(X, W, Y, DY, null, T(W.shape), null, conv, bad({ activation: 'relu', slope: 0.1 })),
    /^conv2dBackward: unknown field below\.slope: below takes activation, alpha$/,
  );
  refused(
    () => native.conv2dPoolForward(X, W, null, P, A, conv, bad({ ...pool, strides: [2, 2] })),
    /^conv2dPoolForward: unknown field pool\.strides: pool takes poolSize, padding$/,
  );
  refused(
    () => native.conv2dPoolBackward(X, W, P, A, P, null, T(W.shape), null, conv, pool, bad({ rate: 0.5, seed: 1, offset: 0, mask: 1 })),
    /^conv2dPoolBackward: unknown field drop\.mask: drop takes rate, seed, offset, counter$/,
  );
  // Wrong types, and values out of range.
  refused(
    () => native.conv2dForward(X, W, null, Y, bad({ ...conv, strides: [1, '1'] })),
    /^conv2dForward: expected conv\.strides\[1\] to be an integer in \[1, 65536\] but received '1' of type string$/,
  );
  refused(
    () => native.conv2dForward(X, W, null, Y, bad({ ...conv, strides: 1 })),
    /^conv2dForward: expected conv\.strides to be an array of two integers in \[1, 65536\] but received 1 of type number$/,
  );
  refused(
    () => native.conv2dForward(X, W, null, Y, { ...conv, dilationRate: bad([1, 1, 1]) }),
    /expected conv\.dilationRate to be an array of two integers in \[1, 65536\] but received an array of length 3$/,
  );
  refused(
    () => native.conv2dForward(X, W, null, Y, { ...conv, padding: bad('full') }),
    /expected conv\.padding to be one of 'valid', 'same' but received 'full' of type string$/,
  );
  refused(() => native.conv2dForward(X, W, null, Y, { ...conv, activation: bad('hard_tanh') }), /expected conv\.activation to be one of 'linear'/);
  refused(
    () => native.conv2dForward(X, W, null, Y, { ...conv, activation: 'elu', alpha: -1 }),
    /expected conv\.alpha to be a number in \[0, 1e\+30\]/,
  );
  refused(() => native.conv2dForward(X, W, null, Y, { ...conv, activation: 'swish' }), /activation 'swish' needs conv\.pre, a tensor for its input/);
  refused(
    () => native.conv2dForward(X, W, null, Y, { ...conv, pre: bad(1) }),
    /expected conv\.pre to be a Tensor or null but received 1 of type number/,
  );
  refused(
    () => native.conv2dForward(X, W, null, Y, bad(Y)),
    /^conv2dForward: expected conv to be an object with fields strides, padding, activation, alpha, dilationRate, pre but received a Tensor$/,
  );
  refused(() => native.conv2dForward(X, W, null, Y, bad(undefined)), /expected conv to be an object with fields .* but received undefined$/);
  refused(
    () => native.conv2dPoolForward(X, W, null, P, A, conv, { ...pool, poolSize: bad([2]) }),
    /expected pool\.poolSize to be an array of two integers/,
  );
  refused(
    () => native.conv2dPoolForward(X, W, null, P, A, conv, pool, { rate: 0.5, seed: -1, offset: 0 }, T(P.shape)),
    /expected drop\.seed to be a non-negative safe integer but received -1 of type number$/,
  );
  refused(
    () => native.conv2dPoolForward(X, W, null, P, A, conv, pool, bad(0.5), T(P.shape)),
    /expected drop to be an object with fields rate, seed, offset, counter, or undefined but received 0\.5 of type number$/,
  );
  refused(
    () => native.conv2dPoolBackward(X, W, P, A, P, T(X.shape), null, null, conv, pool, undefined, bad({ alpha: 0.3 })),
    /expected below\.activation to be one of 'linear'.* but received undefined$/,
  );
  refused(
    () => native.conv2dBackward(X, W, Y, DY, null, T(W.shape), null, conv, { activation: 'relu' }),
    /below\.activation applies the layer below's activation to the input gradient, but dx is null/,
  );
  // A float counter is a shape error, still naming the field.
  assert.throws(
    () => native.conv2dPoolForward(X, W, null, P, A, conv, pool, { rate: 0.5, seed: 1, offset: 0, counter: T([1]) }, T(P.shape)),
    (e: Error & { code?: string }) =>
      e.code === 'ERR_KERNELNET_SHAPE' && /expected drop\.counter to be an int32 tensor of shape \[1\]/.test(e.message),
  );
});
ConvPool.run();

// The backward ops' trailing (belowActivation, belowAlpha?): their input x is the output of the layer below, made
// by that activation, and the input gradient takes its derivative, so that layer's backward starts from dz (the
// model's training step does this for a Conv2D or Dense layer under a Conv2D or Dense one). Bit for bit the op
// and then activationBackward.
const Below = suite("the layer below's activation in an input gradient");
Below.after.each(disposeAll);
Below('conv2dBackward and denseBackward: the same bits as activationBackward after the op', () => {
  const r = rng(13),
    acts = [
      ['relu', undefined],
      ['leaky_relu', 0.2],
      ['elu', 0.7],
      ['sigmoid', undefined],
      ['tanh', undefined],
    ] as const;
  CONV_CASES.forEach((s, k) => {
    const [act, alpha] = acts[k % acts.length],
      { oh, ow } = convOut(s);
    const X = T([s.n, s.h, s.w, s.c], randomArray(s.n * s.h * s.w * s.c, r)),
      W = T([s.kh, s.kw, s.c, s.f], randomArray(s.kh * s.kw * s.c * s.f, r));
    const Y = T([s.n, oh, ow, s.f], randomArray(s.n * oh * ow * s.f, r)),
      DY = T(Y.shape, randomArray(Y.size, r));
    const dx = out(X.shape),
      plain = out(X.shape),
      after = out(X.shape),
      dw = out(W.shape),
      dw2 = out(W.shape);
    native.conv2dBackward(X, W, Y, DY, dx, dw, null, convArgs(s, 'relu'), { activation: act, alpha });
    native.conv2dBackward(X, W, Y, DY, plain, dw2, null, convArgs(s, 'relu'));
    native.activationBackward(T(X.shape, X.read() as Float32Array), X, plain, after, act, alpha); // (x unused: a copy)
    exact(dx.read(), after.read(), `dx of ${label(s)} taking ${act}`);
    exact(dw.read(), dw2.read(), `dw of ${label(s)} unchanged`);
  });
  for (const [n, i, o] of DENSE_CASES) {
    const X = T([n, i], randomArray(n * i, r)),
      W = T([i, o], randomArray(i * o, r)),
      Y = T([n, o], randomArray(n * o, r));
    const DY = T([n, o], randomArray(n * o, r)),
      dx = out([n, i]),
      plain = out([n, i]),
      after = out([n, i]);
    native.denseBackward(X, W, Y, DY, dx, null, null, 'relu', null, undefined, 'relu');
    native.denseBackward(X, W, Y, DY, plain, null, null, 'relu');
    native.activationBackward(T(X.shape, X.read() as Float32Array), X, plain, after, 'relu');
    exact(dx.read(), after.read(), `dx of dense ${n}x${i}x${o} taking relu`);
  }
});
Below('refuses it without dx, and for an activation that needs its input', () => {
  const X = T([2, 5]),
    W = T([5, 3]),
    Y = T([2, 3]),
    DY = T([2, 3]),
    DX = out([2, 5]),
    DW = out([5, 3]);
  const code = (c: string, re: RegExp) => (e: Error & { code?: string }) => e.code === c && re.test(e.message);
  assert.throws(
    () => native.denseBackward(X, W, Y, DY, null, DW, null, 'relu', null, undefined, 'relu'),
    code('ERR_KERNELNET_ARG', /belowActivation applies the layer below's activation to the input gradient, but dx is null/),
  );
  assert.throws(
    () => native.denseBackward(X, W, Y, DY, DX, null, null, 'relu', null, undefined, 'gelu'),
    code('ERR_KERNELNET_ARG', /activation 'gelu' needs its input in backward/),
  );
  assert.throws(
    () => native.denseBackward(X, W, Y, DY, DX, null, null, 'relu', null, undefined, 'softmax' as never),
    code('ERR_KERNELNET_ARG', /softmax/),
  );
});
Below.run();

const Pool = suite('maxPool2d');
Pool.after.each(disposeAll);
Pool('forward, argmax and backward match the reference', () => {
  const r = rng(4);
  for (const [n, h, w, c, ph, pw, sh, sw] of [
    [1, 2, 2, 1, 2, 2, 2, 2],
    [2, 7, 7, 3, 2, 2, 2, 2],
    [3, 24, 24, 64, 2, 2, 2, 2],
    [2, 9, 11, 5, 3, 3, 2, 2],
    [1, 5, 6, 2, 3, 2, 1, 1],
  ]) {
    const what = `pool ${[n, h, w, c, ph, pw, sh, sw]}`;
    const x = intArray(n * h * w * c, r, -50, 50); // ties happen: the first maximum must win
    const ref = maxPoolRef(n, h, w, c, ph, pw, sh, sw, x);
    const y = out([n, ref.oh, ref.ow, c]),
      arg = I([n, ref.oh, ref.ow, c]);
    native.maxPool2dForward(T([n, h, w, c], x), y, arg, ph, pw, sh, sw);
    exact(y.read(), ref.y, what);
    exact(arg.read(), ref.arg, `argmax of ${what}`);
    const dy = intArray(y.size, r);
    const dx = out([n, h, w, c]);
    native.maxPool2dBackward(T(y.shape, dy), arg, dx, ph, pw, sh, sw);
    const dxRef = new Float64Array(x.length);
    for (let o = 0; o < dy.length; ++o) {
      const b = Math.floor(o / (ref.oh * ref.ow * c));
      dxRef[b * h * w * c + ref.arg[o]] += dy[o];
    }
    exact(dx.read(), dxRef, `dx of ${what}`);
  }
});
Pool.run();

const Drop = suite('dropout');
Drop.after.each(disposeAll);

/** Philox4x32-10 (cpp/philox.h) in JavaScript: the four words of block `block` of the stream (seed, offset). */
function philox4(block: number, offset: number, seed: number): number[] {
  const lo = (v: number) => v >>> 0,
    hi = (v: number) => Math.floor(v / 2 ** 32) >>> 0;
  let [c0, c1, c2, c3] = [lo(block), hi(block), lo(offset), hi(offset)];
  let [k0, k1] = [lo(seed), hi(seed)];
  const mul = (a: number, b: number) => {
    const p = BigInt(a) * BigInt(b);
    return [Number(p & 0xffffffffn), Number(p >> 32n)];
  };
  for (let r = 0; r < 10; ++r) {
    const [lo0, hi0] = mul(0xd2511f53, c0),
      [lo1, hi1] = mul(0xcd9e8d57, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + 0x9e3779b9) >>> 0;
    k1 = (k1 + 0xbb67ae85) >>> 0;
  }
  return [c0, c1, c2, c3];
}

// The mask is Philox's, element i taking word i % 4 of block i / 4, whichever way the CPU computes it (eight
// blocks at a time with AVX2, one at a time otherwise and for the tail): checked against the reference above.
Drop('the mask is the Philox stream, element by element', () => {
  const n = 1003,
    rate = 0.3,
    scale = Math.fround(1 / (1 - rate)),
    x = randomArray(n, rng(9), 0.5, 2);
  for (const [seed, offset] of [
    [7, 3],
    [2 ** 40 + 5, 2 ** 33 + 1],
  ]) {
    const y = out([n]);
    native.dropoutForward(T([n], x), y, rate, seed, offset);
    const yv = y.read();
    for (let b = 0; b * 4 < n; ++b) {
      const words = philox4(b, offset, seed);
      for (let l = 0; l < 4 && b * 4 + l < n; ++l) {
        const u = Math.fround((words[l] >>> 8) * (1 / 16777216));
        const i = b * 4 + l,
          want = u >= Math.fround(rate) ? Math.fround(x[i] * scale) : 0;
        assert.is(yv[i], want, `element ${i} (seed ${seed}, offset ${offset})`);
      }
    }
  }
});
Drop('keeps 1 - rate of the units, scales them by 1 / (1 - rate), and backward uses the same mask', () => {
  const n = 100_003;
  const x = randomArray(n, rng(5), 0.5, 2);
  for (const rate of [0.25, 0.5]) {
    const y = out([n]);
    native.dropoutForward(T([n], x), y, rate, 7, 3);
    const yv = y.read();
    let kept = 0;
    for (let i = 0; i < n; ++i) {
      if (yv[i] === 0) continue;
      kept++;
      assert.ok(Math.abs(yv[i] - Math.fround(x[i] * Math.fround(1 / (1 - rate)))) <= 1e-6 * yv[i], `kept value at ${i}`);
    }
    const p = 1 - rate,
      sigma = Math.sqrt(n * p * (1 - p));
    assert.ok(Math.abs(kept - n * p) < 5 * sigma, `kept ${kept} of ${n} at rate ${rate}`);
    const dx = out([n]);
    native.dropoutBackward(T([n], new Float32Array(n).fill(1)), dx, rate, 7, 3);
    const dxv = dx.read();
    for (let i = 0; i < n; ++i) assert.is(dxv[i] === 0, yv[i] === 0, `mask differs at ${i}`);
  }
});
Drop('a new offset draws a new mask; the same (seed, offset) the same one', () => {
  const n = 4096,
    x = T([n], new Float32Array(n).fill(1));
  const masks = [
    [7, 1],
    [7, 1],
    [7, 2],
    [8, 1],
  ].map(([seed, offset]) => {
    const y = out([n]);
    native.dropoutForward(x, y, 0.5, seed, offset);
    return Array.from(y.read(), v => (v === 0 ? 0 : 1)).join('');
  });
  assert.is(masks[0], masks[1]);
  assert.is.not(masks[0], masks[2]);
  assert.is.not(masks[0], masks[3]);
});
Drop('the step counter adds to the offset on the device, so the same call draws a new mask each step', () => {
  const n = 4096,
    x = T([n], new Float32Array(n).fill(1)),
    counter = I([1], new Int32Array([0]));
  const mask = (offset: number, c: NativeTensor | null) => {
    const y = out([n]);
    native.dropoutForward(x, y, 0.5, 7, offset, c);
    return Array.from(y.read(), v => (v === 0 ? 0 : 1)).join('');
  };
  const replayed = [0, 1, 2].map(() => {
    const m = mask(10, counter);
    native.advance(counter);
    return m;
  });
  assert.equal(replayed, [mask(10, null), mask(11, null), mask(12, null)]);
  assert.is.not(replayed[0], replayed[1]);
  assert.equal(Array.from(counter.read()), [3]);
  const dx = out([n]);
  native.dropoutBackward(x, dx, 0.5, 7, 9, counter);
  assert.is(Array.from(dx.read(), v => (v === 0 ? 0 : 1)).join(''), mask(12, null), 'backward reads the counter too');
  counter.write(new Int32Array([-5]));
  assert.is(mask(10, counter), mask(10, null), 'a negative counter counts as 0');
  counter.write(new Int32Array([2 ** 31 - 1]));
  native.advance(counter);
  assert.equal(Array.from(counter.read()), [2 ** 31 - 1], 'advance saturates');
});
Drop('counters must be int32 tensors of shape [1]', () => {
  const x = T([4], new Float32Array(4)),
    y = out([4]);
  for (const bad of [I([2]), out([1]), I([1, 1])])
    assert.throws(
      () => native.dropoutForward(x, y, 0.5, 1, 1, bad),
      (e: Error & { code?: string }) => e.code === 'ERR_KERNELNET_SHAPE' && /expected counter to be an int32 tensor of shape \[1\]/.test(e.message),
    );
  assert.throws(
    () => native.advance(out([1])),
    (e: Error & { code?: string }) => e.code === 'ERR_KERNELNET_SHAPE',
  );
  assert.throws(
    () => native.dropoutForward(x, y, 0.5, 1, 1, 3 as never),
    (e: Error & { code?: string }) => e.code === 'ERR_KERNELNET_ARG',
  );
});
Drop.run();

const Loss = suite('softmaxCrossEntropy');
Loss.after.each(disposeAll);
Loss('loss, gradient and correct count match the reference and accumulate', () => {
  const r = rng(6);
  for (const [n, k] of [
    [1, 1],
    [1, 10],
    [7, 10],
    [128, 10],
    [5, 3],
  ]) {
    const z = randomArray(n * k, r, -4, 4);
    const labels = new Float32Array(n * k);
    for (let i = 0; i < n; ++i) labels[i * k + Math.floor(r() * k)] = 1;
    const ref = softmaxCrossEntropyRef(n, k, z, labels);
    const metrics = T([8], new Float32Array([1, 2, 3, 0, 4, 0, 0, 0]));
    const dz = out([n, k]);
    native.softmaxCrossEntropy(T([n, k], z), T([n, k], labels), dz, metrics, 5);
    const m = metrics.read();
    close([m[0] - 1, m[1] - 2, m[2] - 3, m[3], m[4] - 4], [ref.loss, ref.correct, n, 0, n], 1e-4, 1e-5, `metrics n=${n} k=${k}`);
    close(dz.read(), ref.grad, ELEMENTWISE_TOL.atol, 1e-5, `dlogits n=${n} k=${k}`);
    const p = out([n, k]);
    native.softmax(T([n, k], z), p);
    close(p.read(), ref.probs, ELEMENTWISE_TOL.atol, 1e-5, `softmax n=${n} k=${k}`);
    // Keras's sample_weight: each row's loss, hit and gradient times its weight; the loss still divided by n.
    const w = Float32Array.from({ length: n }, () => Math.floor(r() * 4) / 2);
    const wref = softmaxCrossEntropyRef(n, k, z, labels, w),
      wm = T([8], new Float32Array(8)),
      wdz = out([n, k]);
    native.softmaxCrossEntropy(T([n, k], z), T([n, k], labels), wdz, wm, 5, null, T([n], w));
    close(wm.read().slice(0, 5), [wref.loss, wref.correct, n, 0, wref.weightSum], 1e-4, 1e-5, `weighted metrics n=${n} k=${k}`);
    close(wdz.read(), wref.grad, ELEMENTWISE_TOL.atol, 1e-5, `weighted dlogits n=${n} k=${k}`);
  }
  assert.throws(
    () => native.softmaxCrossEntropy(T([2, 3]), T([2, 3]), null, T([8]), 0, null, T([3])),
    (e: Error & { code?: string }) => e.code === 'ERR_KERNELNET_SHAPE' && /expected weights to be a float32 tensor of shape \[2\]/.test(e.message),
  );
});
Loss('is stable for huge logits', () => {
  const z = T([2, 3], new Float32Array([1000, 0, -1000, -1e30, 1e30, 0]));
  const labels = T([2, 3], new Float32Array([1, 0, 0, 0, 0, 1]));
  const metrics = T([8], new Float32Array(8)),
    dz = out([2, 3]);
  native.softmaxCrossEntropy(z, labels, dz, metrics, 0);
  const m = metrics.read();
  assert.ok(Number.isFinite(m[0]), `loss ${m[0]}`);
  close([m[0], m[1], m[2], m[3]], [1e30, 1, 2, 0], 0, 1e-6, 'metrics');
  close(dz.read(), [0, 0, 0, 0, 0.5, -0.5], 1e-7, 0, 'dlogits');
});
Loss('records the first step whose loss is not finite', () => {
  const labels = T([1, 2], new Float32Array([1, 0]));
  const metrics = T([8], new Float32Array(8));
  native.softmaxCrossEntropy(T([1, 2], new Float32Array([1, 2])), labels, null, metrics, 3);
  assert.is(metrics.read()[3], 0);
  native.softmaxCrossEntropy(T([1, 2], new Float32Array([NaN, 2])), labels, null, metrics, 41);
  native.softmaxCrossEntropy(T([1, 2], new Float32Array([Infinity, 2])), labels, null, metrics, 42);
  assert.is(metrics.read()[3], 42, 'step 41 (0-based) is recorded as 42 and kept');
  const m2 = T([8], new Float32Array(8)),
    counter = I([1], new Int32Array([5]));
  native.softmaxCrossEntropy(T([1, 2], new Float32Array([NaN, 2])), labels, null, m2, 100, counter);
  assert.is(m2.read()[3], 106, 'with a step counter: step + counter + 1');
});
Loss.run();

const Opt = suite('adadelta');
Opt.after.each(disposeAll);
Opt('two steps match the hand-worked example (Keras semantics)', () => {
  // lr 1, rho 0.95, eps 1e-7, p = 1, gradients 0.5 then -0.25:
  //   a1 = 0.05 * 0.25 = 0.0125; delta1 = 0.5 * sqrt(0 + 1e-7) / sqrt(0.0125 + 1e-7) = 0.00141420791
  //   p1 = 0.99858579209; d1 = 0.05 * delta1^2 = 9.99992e-8
  //   a2 = 0.95 * 0.0125 + 0.05 * 0.0625 = 0.015; delta2 = -0.25 * sqrt(d1 + 1e-7) / sqrt(0.015 + 1e-7) = -0.00091286606
  //   p2 = 0.99949865816; d2 = 0.95 * d1 + 0.05 * delta2^2 = 1.36665462e-7
  const p = T([2], new Float32Array([1, 1])),
    g = T([2], new Float32Array([0.5, 0.5]));
  const a = T([2], new Float32Array(2)),
    d = T([2], new Float32Array(2));
  const q = T([1], new Float32Array([3])),
    gq = T([1], new Float32Array([0])),
    aq = T([1], new Float32Array(1)),
    dq = T([1], new Float32Array(1));
  const lr = T([1], new Float32Array([1]));
  native.adadelta([p, q], [g, gq], [a, aq], [d, dq], lr, 0.95, 1e-7);
  close(p.read(), [0.99858579209, 0.99858579209], 0, 1e-6, 'p after step 1');
  close(a.read(), [0.0125, 0.0125], 0, 1e-6, 'accum after step 1');
  close(d.read(), [9.99992e-8, 9.99992e-8], 0, 1e-5, 'delta accum after step 1');
  g.write(new Float32Array([-0.25, -0.25]));
  native.adadelta([p, q], [g, gq], [a, aq], [d, dq], lr, 0.95, 1e-7);
  close(p.read(), [0.99949865816, 0.99949865816], 0, 1e-6, 'p after step 2');
  close(a.read(), [0.015, 0.015], 0, 1e-6, 'accum after step 2');
  close(d.read(), [1.36665462e-7, 1.36665462e-7], 0, 1e-5, 'delta accum after step 2');
  exact(q.read(), [3], 'a zero gradient leaves the parameter unchanged');
});
Opt('updates every tensor of a long list in one call', () => {
  const shapes = [[3, 3, 1, 32], [32], [9216, 128], [10]];
  const ps = shapes.map(s => T(s)),
    gs = shapes.map(s => T(s)),
    as = shapes.map(s => T(s)),
    ds = shapes.map(s => T(s));
  for (const t of [...ps, ...as, ...ds]) t.fill(0);
  for (const t of gs) t.fill(1);
  native.adadelta(ps, gs, as, ds, T([1], new Float32Array([1])), 0.95, 1e-7);
  const expected = -Math.sqrt(1e-7) / Math.sqrt(0.05 + 1e-7);
  for (const p of ps) close(p.read(), new Float64Array(p.size).fill(expected), 0, 1e-5, `param ${p.shape}`);
});
Opt.run();

const Data = suite('data ops');
Data.after.each(disposeAll);
Data('gatherRows copies the indexed rows', () => {
  const src = intArray(10 * 6, rng(7), -100, 100);
  const idx = I([5], new Int32Array([9, 0, 3, 3, 7]));
  const dst = out([3, 2, 3]);
  native.gatherRows(T([10, 2, 3], src), idx, 1, dst);
  const expected = [0, 3, 3].flatMap(i => Array.from(src.subarray(i * 6, i * 6 + 6)));
  exact(dst.read(), expected, 'gathered rows');
});
Data('gatherRows with a step counter reads batch counter[0]; rows past the end of indices are zero', () => {
  const src = intArray(10 * 6, rng(8), -100, 100),
    S = T([10, 2, 3], src);
  const idx = I([7], new Int32Array([9, 0, 3, 3, 7, 1, 2])),
    counter = I([1], new Int32Array([0]));
  const rows = (is: number[]) => is.flatMap(i => (i < 0 ? new Array(6).fill(0) : Array.from(src.subarray(i * 6, i * 6 + 6))));
  const expected = [
    [9, 0, 3],
    [3, 7, 1],
    [2, -1, -1],
    [-1, -1, -1],
  ];
  for (const want of expected) {
    const dst = out([3, 2, 3]);
    native.gatherRows(S, idx, 0, dst, counter);
    exact(dst.read(), rows(want), `batch ${counter.read()[0]}`);
    native.advance(counter);
  }
  counter.write(new Int32Array([1]));
  const dst = out([2, 2, 3]);
  native.gatherRows(S, idx, 1, dst, counter); // start + counter * rows = 3
  exact(dst.read(), rows([3, 7]), 'start plus counter times rows');
});
Data('permutation is a permutation, reproducible from (seed, offset)', () => {
  const draw = (seed: number, offset: number) => {
    const t = I([1000]);
    native.permutation(t, seed, offset);
    return Array.from(t.read());
  };
  const a = draw(1, 0);
  assert.equal(
    [...a].sort((x, y) => x - y),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  assert.equal(draw(1, 0), a);
  assert.not.equal(draw(1, 1), a);
  assert.not.equal(draw(2, 0), a);
});
Data('randomUniform fills [low, high) with mean near the middle', () => {
  const n = 100_000,
    t = out([n]);
  native.randomUniform(t, -0.5, 1.5, 3, 0);
  const v = t.read();
  let sum = 0;
  for (const x of v) {
    assert.ok(x >= -0.5 && x < 1.5, `value ${x}`);
    sum += x;
  }
  assert.ok(Math.abs(sum / n - 0.5) < 0.01, `mean ${sum / n}`);
});
Data('oneHot and fromBytes', () => {
  const oh = out([4, 3]);
  native.oneHot(I([4], new Int32Array([2, 0, 1, 2])), oh);
  exact(oh.read(), [0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1], 'one-hot');
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  const f = out([256]);
  native.fromBytes(bytes, 255, f);
  exact(
    f.read(),
    Array.from(bytes, b => Math.fround(b / 255)),
    'bytes / 255 as Keras computes it',
  );
});
Data.run();
