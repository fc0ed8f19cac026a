// Every activation of the fused epilogue (cpp/epilogue.h: Keras 3's definitions) on Conv2D and Dense, forward and
// backward, against float64 references (test/helpers.ts's ACTIVATION_REFS) and by finite differences, and the
// elementwise op behind the Activation and LeakyReLU layers. swish and gelu store their input (pre) in the
// forward pass, the others take their derivative from the output. Tolerances: float32 sums and float32
// transcendentals (a few ulp) against float64.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Activation, Conv2D, Dense, Flatten, LeakyReLU, Sequential, tensor, type ActivationIdentifier, type Layer } from '../lib/index.js';
import { NATIVE_ACTIVATIONS, NEEDS_INPUT, native, type NativeActivation } from '../lib/core/native.js';
import {
  ACTIVATION_REFS,
  CONV_CASES,
  T,
  close,
  convArgs,
  convBackwardRef,
  convOut,
  convRef,
  denseBackwardRef,
  denseRef,
  disposeAll,
  out,
  randomArray,
  rng,
} from './helpers.js';

const A = suite('activations');
A.after.each(disposeAll);
const ATOL = 2e-5,
  RTOL = 2e-4;
const ALPHA: Partial<Record<NativeActivation, number>> = { elu: 0.7, leaky_relu: 0.2 };

A('Dense with every activation: forward and backward match float64', () => {
  const r = rng(41),
    [n, i, o] = [9, 13, 7];
  for (const act of NATIVE_ACTIVATIONS) {
    const alpha = ALPHA[act] ?? (act === 'elu' ? 1 : 0.2),
      ref = ACTIVATION_REFS[act];
    const x = randomArray(n * i, r),
      w = randomArray(i * o, r),
      b = randomArray(o, r),
      dy = randomArray(n * o, r);
    const X = T([n, i], x),
      W = T([i, o], w),
      Y = out([n, o]),
      pre = NEEDS_INPUT.includes(act) ? out([n, o]) : null;
    native.denseForward(X, W, T([o], b), Y, act, pre, alpha);
    const z = denseRef(n, i, o, x, w, b, false);
    close(
      Y.read(),
      z.map(v => ref.f(v, alpha)),
      ATOL,
      RTOL,
      `${act} forward`,
    );
    if (pre) close(pre.read(), z, ATOL, RTOL, `${act} stores its input`);
    const dx = out([n, i]),
      dw = out([i, o]),
      db = out([o]);
    native.denseBackward(X, W, Y, T([n, o], dy), dx, dw, db, act, pre, alpha);
    const dz = Float32Array.from(z, (v, k) => dy[k] * ref.df(v, alpha));
    const g = denseBackwardRef(n, i, o, x, w, z, dz, false);
    close(dx.read(), g.dx, ATOL, RTOL, `${act} dx`);
    close(dw.read(), g.dw, ATOL, RTOL, `${act} dw`);
    close(db.read(), g.db, ATOL, RTOL, `${act} db`);
  }
});

A('Conv2D with every activation (the per-image epilogue offsets of pre included)', () => {
  const r = rng(42),
    s = CONV_CASES.at(-1)!,
    { oh, ow } = convOut(s);
  for (const act of NATIVE_ACTIVATIONS) {
    const alpha = ALPHA[act] ?? 1,
      ref = ACTIVATION_REFS[act];
    const x = randomArray(s.n * s.h * s.w * s.c, r),
      w = randomArray(s.kh * s.kw * s.c * s.f, r),
      b = randomArray(s.f, r);
    const X = T([s.n, s.h, s.w, s.c], x),
      W = T([s.kh, s.kw, s.c, s.f], w),
      Y = out([s.n, oh, ow, s.f]);
    const pre = NEEDS_INPUT.includes(act) ? out(Y.shape) : null;
    native.conv2dForward(X, W, T([s.f], b), Y, convArgs(s, act, { pre, alpha }));
    const z = convRef(s, x, w, b, false);
    close(
      Y.read(),
      z.map(v => ref.f(v, alpha)),
      ATOL,
      RTOL,
      `conv ${act} forward`,
    );
    const dy = randomArray(Y.size, r),
      dx = out(X.shape),
      dw = out(W.shape),
      db = out([s.f]);
    native.conv2dBackward(X, W, Y, T(Y.shape, dy), dx, dw, db, convArgs(s, act, { pre, alpha }));
    const g = convBackwardRef(
      s,
      x,
      w,
      z,
      Float32Array.from(z, (v, k) => dy[k] * ref.df(v, alpha)),
      false,
    );
    close(dx.read(), g.dx, ATOL * 10, RTOL, `conv ${act} dx`);
    close(dw.read(), g.dw, ATOL * 10, RTOL, `conv ${act} dw`);
    close(db.read(), g.db, ATOL * 10, RTOL, `conv ${act} db`);
  }
});

A('the elementwise op: stable at extremes, NaN kept, derivatives by finite differences', () => {
  const r = rng(43);
  const xs = Float32Array.from([-90, -20, -1e-3, 0.5, 3, 7, 20, 90, ...randomArray(40, r, -5, 5)]);
  for (const act of NATIVE_ACTIVATIONS) {
    const alpha = ALPHA[act] ?? 1,
      ref = ACTIVATION_REFS[act];
    const X = T([xs.length], xs),
      Y = out([xs.length]);
    native.activation(X, Y, act, alpha);
    const y = Y.read();
    close(
      y,
      Array.from(xs, v => ref.f(v, alpha)),
      ATOL,
      RTOL,
      `${act} forward`,
    );
    assert.ok(y.every(Number.isFinite), `${act}: finite at +-90`);
    const dX = out([xs.length]),
      ones = T([xs.length], new Float32Array(xs.length).fill(1));
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
  assert.throws(
    () => native.activation(T([2]), out([3]), 'tanh'),
    (e: Error & { code?: string }) => e.code === 'ERR_KERNELNET_SHAPE',
  );
});

A('the transcendental activations to a few ulp over a dense sweep, forward and backward (cpp/kn_math.h)', () => {
  // The CPU loops vectorise kn_math.h's straight-line exp/expm1/log1p/erf instead of calling libm; this pins their
  // accuracy well inside the ATOL/RTOL above: relative error under 1e-6 (about 8 ulp) against float64 wherever
  // the result is a normal float, with the activations' saturation and flushing at the extremes.
  const n = 40_001,
    xs = Float32Array.from({ length: n }, (_, i) => -30 + (60 * i) / (n - 1));
  const dy = T([n], new Float32Array(n).fill(1));
  for (const act of ['elu', 'selu', 'sigmoid', 'tanh', 'softplus', 'swish', 'gelu'] as const) {
    const ref = ACTIVATION_REFS[act],
      alpha = act === 'elu' ? 1 : 0;
    const X = T([n], xs),
      Y = out([n]),
      dX = out([n]);
    native.activation(X, Y, act, alpha);
    native.activationBackward(X, Y, dy, dX, act, alpha);
    const y = Y.read(),
      d = dX.read();
    let worstF = 0,
      worstD = 0,
      atF = 0,
      atD = 0;
    for (let i = 0; i < n; ++i) {
      const v = xs[i],
        f = ref.f(v, alpha),
        df = ref.df(v, alpha);
      // Relative, growing as v^2 / 4 in the tails, where gelu's erfc(-v / sqrt 2) carries the float32 rounding
      // of v^2 / 2 in its exponent (gelu(-10) is about 1e-23, 8e-6 off), with a floor for intermediates below
      // 2^-126, flushed to 0. (1 + erf in float32, as libm's erff gives it, loses everything below -5.)
      const ef = Math.abs(y[i] - f) / Math.max(Math.abs(f) * (1 + (v * v) / 4), 1e-30);
      if (ef > worstF) [worstF, atF] = [ef, v];
      // The derivative from the float32 output y: its own rounding (relative eps of y) carries through
      // act'(y): relative error above 0.3, absolute 3e-7 below (where the derivative itself vanishes).
      const ed = Math.abs(d[i] - df) / (Math.abs(df) + 0.3);
      if (ed > worstD) [worstD, atD] = [ed, v];
    }
    assert.ok(worstF < 1e-6, `${act}: relative error ${worstF.toExponential(2)} at ${atF}`);
    assert.ok(worstD < 1e-6, `${act}': error ${worstD.toExponential(2)} at ${atD}`);
  }
  // The extremes: saturation without NaN, infinities where the function has them, NaN kept.
  const special = Float32Array.of(-Infinity, -1e30, -100, 100, 1e30, Infinity);
  const expect: Record<string, number[]> = {
    sigmoid: [0, 0, 0, 1, 1, 1],
    tanh: [-1, -1, -1, 1, 1, 1],
    softplus: [0, 0, 0, 100, 1e30, Infinity],
    elu: [-1, -1, -1, 100, 1e30, Infinity],
    swish: [NaN, -0, -0, 100, 1e30, Infinity],
  };
  for (const [act, want] of Object.entries(expect)) {
    const Y = out([special.length]);
    native.activation(T([special.length], special), Y, act as NativeActivation, 1);
    const y = Array.from(Y.read());
    want.forEach((w, i) => {
      if (Number.isNaN(w)) return; // swish(-inf) = -inf * 0: NaN in Keras too
      assert.ok(Object.is(y[i] + 0, w + 0) || Math.abs(y[i] - w) <= 1e-6 * Math.abs(w), `${act}(${special[i]}) = ${y[i]}, expected ${w}`);
    });
  }
});

// The defaults an activation named by a string takes, pinned against Keras 3's functions as written in
// keras/src/activations/activations.py (and the ops they call), in float64: a Dense or Conv2D with
// `activation: 'leaky_relu'` is keras.activations.leaky_relu(x), whose negative_slope is 0.2, not the
// LeakyReLU layer's 0.3.
const SELU_ALPHA = 1.6732632423543772848170429916717,
  SELU_SCALE = 1.0507009873554804934193349852946; // ops.selu
/** erf by its Taylor series: exact to float64 rounding for the |x| <= 3 / sqrt 2 used here. */
function erf(x: number): number {
  let term = x,
    sum = x;
  for (let n = 1; n < 60; ++n) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
const KERAS_DEFAULTS: Record<string, (x: number) => number> = {
  linear: x => x, // linear(x)
  relu: x => Math.max(x, 0), // relu(x, negative_slope=0.0, max_value=None, threshold=0.0)
  relu6: x => Math.min(Math.max(x, 0), 6), // relu6(x)
  elu: x => (x > 0 ? x : 1.0 * Math.expm1(x)), // elu(x, alpha=1.0)
  selu: x => SELU_SCALE * (x > 0 ? x : SELU_ALPHA * Math.expm1(x)), // selu(x): fixed alpha and scale
  sigmoid: x => 1 / (1 + Math.exp(-x)), // sigmoid(x)
  tanh: x => Math.tanh(x), // tanh(x)
  softplus: x => Math.log(Math.exp(x) + 1), // softplus(x) = log(exp(x) + 1)
  swish: x => x / (1 + Math.exp(-x)), // silu(x) = swish(x) = x * sigmoid(x)
  silu: x => x / (1 + Math.exp(-x)),
  gelu: x => 0.5 * x * (1 + erf(x / Math.SQRT2)), // gelu(x, approximate=False)
  leaky_relu: x => (x < 0 ? 0.2 * x : x), // leaky_relu(x, negative_slope=0.2)
  leakyRelu: x => (x < 0 ? 0.2 * x : x),
};

A("a string activation on Dense, Conv2D and Activation takes Keras 3's default parameters", () => {
  const xs = [-3, -1, -0.5, 0, 0.5, 1, 3],
    n = xs.length;
  assert.equal(
    Object.keys(KERAS_DEFAULTS)
      .filter(a => !['silu', 'leakyRelu'].includes(a))
      .sort(),
    [...NATIVE_ACTIVATIONS].sort(),
  );
  const through = (layer: Layer, shape: number[]) => {
    const m = new Sequential({ layers: [layer, new Flatten()] }); // predict gives [N, outputs]
    const x = tensor(Float32Array.from(xs), shape),
      y = m.predict(x);
    const values = Array.from(y.dataSync());
    m.dispose();
    x.dispose();
    y.dispose();
    return values;
  };
  for (const [act, f] of Object.entries(KERAS_DEFAULTS)) {
    const a = act as ActivationIdentifier,
      want = xs.map(f);
    // A one-by-one kernel of ones and no bias: the layer's output is the activation of its input.
    const ones = { useBias: false, kernelInitializer: 'ones' as const, activation: a };
    const dense = through(new Dense({ units: 1, inputShape: [1], ...ones }), [n, 1]);
    const conv = through(new Conv2D({ filters: 1, kernelSize: 1, inputShape: [1, n, 1], ...ones }), [1, 1, n, 1]);
    const layer = through(new Activation({ activation: a, inputShape: [n] }), [1, n]);
    for (const [where, got] of [
      ['Dense', dense],
      ['Conv2D', conv],
      ['Activation', layer],
    ] as const)
      got.forEach((g, k) =>
        assert.ok(Math.abs(g - want[k]) <= 1e-6 + 1e-6 * Math.abs(want[k]), `${where} '${act}'(${xs[k]}) = ${g}, Keras gives ${want[k]}`),
      );
  }
  // The LeakyReLU layer keeps its own default, keras/src/layers/activations/leaky_relu.py's negative_slope=0.3.
  const leaky = through(new LeakyReLU({ inputShape: [n] }), [1, n]);
  leaky.forEach((g, k) => assert.ok(Math.abs(g - (xs[k] < 0 ? 0.3 * xs[k] : xs[k])) <= 1e-6, `LeakyReLU(${xs[k]}) = ${g}`));
});

A.run();
