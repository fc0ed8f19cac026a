// Every activation of the fused epilogue (cpp/epilogue.h: Keras 3's definitions) on Conv2D and Dense, forward and
// backward, against float64 references (test/helpers.ts's ACTIVATION_REFS) and by finite differences, and the
// elementwise op behind the Activation and LeakyReLU layers. swish and gelu store their input (pre) in the
// forward pass, the others take their derivative from the output. Tolerances: float32 sums and float32
// transcendentals (a few ulp) against float64.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { NATIVE_ACTIVATIONS, NEEDS_INPUT, native, type NativeActivation } from '../lib/native.js';
import { ACTIVATION_REFS, CONV_CASES, T, close, convBackwardRef, convOut, convRef, denseBackwardRef, denseRef, disposeAll, out, randomArray, rng } from './helpers.js';

const A = suite('activations');
A.after.each(disposeAll);
const ATOL = 2e-5, RTOL = 2e-4;
const ALPHA: Partial<Record<NativeActivation, number>> = { elu: 0.7, leaky_relu: 0.2 };

A('Dense with every activation: forward and backward match float64', () => {
  const r = rng(41), [n, i, o] = [9, 13, 7];
  for (const act of NATIVE_ACTIVATIONS) {
    const alpha = ALPHA[act] ?? (act === 'elu' ? 1 : 0.3), ref = ACTIVATION_REFS[act];
    const x = randomArray(n * i, r), w = randomArray(i * o, r), b = randomArray(o, r), dy = randomArray(n * o, r);
    const X = T([n, i], x), W = T([i, o], w), Y = out([n, o]), pre = NEEDS_INPUT.includes(act) ? out([n, o]) : null;
    native.denseForward(X, W, T([o], b), Y, act, pre, alpha);
    const z = denseRef(n, i, o, x, w, b, false);
    close(Y.read(), z.map(v => ref.f(v, alpha)), ATOL, RTOL, `${act} forward`);
    if (pre) close(pre.read(), z, ATOL, RTOL, `${act} stores its input`);
    const dx = out([n, i]), dw = out([i, o]), db = out([o]);
    native.denseBackward(X, W, Y, T([n, o], dy), dx, dw, db, act, pre, alpha);
    const dz = Float32Array.from(z, (v, k) => dy[k] * ref.df(v, alpha));
    const g = denseBackwardRef(n, i, o, x, w, z, dz, false);
    close(dx.read(), g.dx, ATOL, RTOL, `${act} dx`);
    close(dw.read(), g.dw, ATOL, RTOL, `${act} dw`);
    close(db.read(), g.db, ATOL, RTOL, `${act} db`);
  }
});

A('Conv2D with every activation (the per-image epilogue offsets of pre included)', () => {
  const r = rng(42), s = CONV_CASES.at(-1)!, { oh, ow } = convOut(s), pad = s.same ? 'same' : 'valid';
  for (const act of NATIVE_ACTIVATIONS) {
    const alpha = ALPHA[act] ?? 1, ref = ACTIVATION_REFS[act];
    const x = randomArray(s.n * s.h * s.w * s.c, r), w = randomArray(s.kh * s.kw * s.c * s.f, r), b = randomArray(s.f, r);
    const X = T([s.n, s.h, s.w, s.c], x), W = T([s.kh, s.kw, s.c, s.f], w), Y = out([s.n, oh, ow, s.f]);
    const pre = NEEDS_INPUT.includes(act) ? out(Y.shape) : null;
    native.conv2dForward(X, W, T([s.f], b), Y, s.sh, s.sw, pad, act, pre, alpha);
    const z = convRef(s, x, w, b, false);
    close(Y.read(), z.map(v => ref.f(v, alpha)), ATOL, RTOL, `conv ${act} forward`);
    const dy = randomArray(Y.size, r), dx = out(X.shape), dw = out(W.shape), db = out([s.f]);
    native.conv2dBackward(X, W, Y, T(Y.shape, dy), dx, dw, db, s.sh, s.sw, pad, act, pre, alpha);
    const g = convBackwardRef(s, x, w, z, Float32Array.from(z, (v, k) => dy[k] * ref.df(v, alpha)), false);
    close(dx.read(), g.dx, ATOL * 10, RTOL, `conv ${act} dx`);
    close(dw.read(), g.dw, ATOL * 10, RTOL, `conv ${act} dw`);
    close(db.read(), g.db, ATOL * 10, RTOL, `conv ${act} db`);
  }
});

A('the elementwise op: stable at extremes, NaN kept, derivatives by finite differences', () => {
  const r = rng(43);
  const xs = Float32Array.from([-90, -20, -1e-3, 0.5, 3, 7, 20, 90, ...randomArray(40, r, -5, 5)]);
  for (const act of NATIVE_ACTIVATIONS) {
    const alpha = ALPHA[act] ?? 1, ref = ACTIVATION_REFS[act];
    const X = T([xs.length], xs), Y = out([xs.length]);
    native.activation(X, Y, act, alpha);
    const y = Y.read();
    close(y, Array.from(xs, v => ref.f(v, alpha)), ATOL, RTOL, `${act} forward`);
    assert.ok(y.every(Number.isFinite), `${act}: finite at +-90`);
    const dX = out([xs.length]), ones = T([xs.length], new Float32Array(xs.length).fill(1));
    native.activationBackward(X, Y, ones, dX, act, alpha);
    const h = 1e-3;
    const fd = Array.from(xs, v => (ref.f(v + h, alpha) - ref.f(v - h, alpha)) / (2 * h));
    const d = dX.read();
    xs.forEach((v, k) => {
      if (Math.abs(v) < 2 * h || Math.abs(v - 6) < 2 * h) return; // a kink within h
      assert.ok(Math.abs(d[k] - fd[k]) <= 1e-3 + 1e-3 * Math.abs(fd[k]), `${act}'(${v}): ${d[k]} vs finite difference ${fd[k]}`);
    });
    const nan = out([1]);
    native.activation(T([1], Float32Array.of(NaN)), nan, act, alpha);
    assert.ok(Number.isNaN(nan.read()[0]), `${act} keeps NaN`);
  }
  assert.throws(() => native.activation(T([2]), out([3]), 'tanh'), (e: Error & { code?: string }) => e.code === 'ERR_KERNELNET_SHAPE');
});

A.run();
