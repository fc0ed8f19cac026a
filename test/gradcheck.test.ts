// Finite-difference gradient checks of every layer's backward pass, independent of the float64 references:
// for L = sum(y * r) with a fixed random r, each sampled element's analytic gradient must match
// (L(v + h) - L(v - h)) / 2h computed with the forward op itself. float32 forwards limit the agreement, hence
// h = 1e-2 and the tolerance |a - fd| <= 2e-3 + 2e-2 |fd|. Where a ReLU kink lies within h of the sampled point
// the finite difference itself depends on h; such elements (found by comparing h and h/2) are skipped, and at
// least half of the samples must be smooth.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { NATIVE_ACTIVATIONS, NEEDS_INPUT, native, type ConvArgs, type NativeTensor } from '../lib/core/native.js';
import { I, T, convOut, disposeAll, randomArray, rng } from './helpers.js';

const H = 1e-2,
  ATOL = 2e-3,
  RTOL = 2e-2;

/** Checks d(sum(forward() * r))/d(param) against central differences on `samples` elements of param. */
function check(
  what: string,
  param: NativeTensor,
  analytic: ArrayLike<number>,
  forward: () => NativeTensor,
  r: Float32Array,
  samples = 12,
  seed = 1,
): void {
  const loss = () => {
    const y = forward().read();
    let s = 0;
    for (let i = 0; i < y.length; ++i) s += y[i] * r[i];
    return s;
  };
  const values = param.read() as Float32Array;
  const at = (i: number, v: number) => {
    values[i] = v;
    param.write(values);
    return loss();
  };
  const pick = rng(seed);
  let smooth = 0;
  for (let k = 0; k < samples; ++k) {
    const i = Math.floor(pick() * values.length);
    const orig = values[i];
    const fd = (h: number) => (at(i, orig + h) - at(i, orig - h)) / (2 * h);
    const [fd1, fd2] = [fd(H), fd(H / 2)];
    at(i, orig);
    if (Math.abs(fd1 - fd2) > ATOL + RTOL * Math.abs(fd2)) continue; // a kink within h
    smooth++;
    assert.ok(Math.abs(analytic[i] - fd2) <= ATOL + RTOL * Math.abs(fd2), `${what}[${i}]: analytic ${analytic[i]}, finite difference ${fd2}`);
  }
  assert.ok(smooth >= samples / 2, `${what}: only ${smooth} of ${samples} samples were away from a kink`);
}

const Grad = suite('finite-difference gradients');
Grad.after.each(disposeAll);

Grad('Conv2D (relu, stride 1, valid), (linear, stride 2, same) and dilated (3x2, valid and same)', () => {
  const rand = rng(10);
  for (const [relu, stride, padding, dil] of [
    [true, 1, 'valid', [1, 1]],
    [false, 2, 'same', [1, 1]],
    [true, 1, 'valid', [3, 2]],
    [false, 1, 'same', [3, 2]],
  ] as const) {
    const [n, h, w, c, k, f] = [2, 7, 6, 3, 3, 4];
    const { oh, ow } = convOut({ n, h, w, c, kh: k, kw: k, f, sh: stride, sw: stride, same: padding === 'same', dilH: dil[0], dilW: dil[1] });
    const x = T([n, h, w, c], randomArray(n * h * w * c, rand)),
      W = T([k, k, c, f], randomArray(k * k * c * f, rand));
    const b = T([f], randomArray(f, rand, -0.1, 0.1)),
      y = T([n, oh, ow, f]);
    const r = randomArray(y.size, rand);
    const conv: ConvArgs = { strides: [stride, stride], padding, activation: relu ? 'relu' : 'linear', dilationRate: [dil[0], dil[1]] };
    const fwd = () => (native.conv2dForward(x, W, b, y, conv), y);
    fwd();
    const dx = T(x.shape),
      dw = T(W.shape),
      db = T([f]);
    native.conv2dBackward(x, W, y, T(y.shape, r), dx, dw, db, conv);
    const name = `conv relu=${relu} stride=${stride} ${padding} dilation=${dil.join('x')}`;
    check(`${name} dx`, x, dx.read(), fwd, r);
    check(`${name} dw`, W, dw.read(), fwd, r);
    check(`${name} db`, b, db.read(), fwd, r, 4);
  }
});

Grad('Dense (relu and linear)', () => {
  const rand = rng(11);
  for (const relu of [true, false]) {
    const [n, i, o] = [5, 17, 6];
    const x = T([n, i], randomArray(n * i, rand)),
      W = T([i, o], randomArray(i * o, rand)),
      b = T([o], randomArray(o, rand, -0.1, 0.1));
    const y = T([n, o]),
      r = randomArray(n * o, rand);
    const fwd = () => (native.denseForward(x, W, b, y, relu ? 'relu' : 'linear'), y);
    fwd();
    const dx = T([n, i]),
      dw = T([i, o]),
      db = T([o]);
    native.denseBackward(x, W, y, T([n, o], r), dx, dw, db, relu ? 'relu' : 'linear');
    check(`dense relu=${relu} dx`, x, dx.read(), fwd, r);
    check(`dense relu=${relu} dw`, W, dw.read(), fwd, r);
    check(`dense relu=${relu} db`, b, db.read(), fwd, r, 4);
  }
});

Grad('MaxPooling2D', () => {
  const rand = rng(12);
  // Distinct values at least 0.05 apart, so a perturbation of 1e-2 never changes which input is the maximum.
  const n = 2 * 6 * 6 * 3,
    order = Array.from({ length: n }, (_, i) => i).sort(() => rand() - 0.5);
  const x = T(
      [2, 6, 6, 3],
      Float32Array.from(order, v => v * 0.05),
    ),
    y = T([2, 3, 3, 3]),
    arg = I([2, 3, 3, 3]);
  const r = randomArray(y.size, rand);
  const fwd = () => (native.maxPool2dForward(x, y, arg, 2, 2, 2, 2), y);
  fwd();
  const dx = T(x.shape);
  native.maxPool2dBackward(T(y.shape, r), arg, dx, 2, 2, 2, 2);
  check('maxpool dx', x, dx.read(), fwd, r, 30);
});

Grad('Dropout (a fixed mask is linear)', () => {
  const rand = rng(13);
  const x = T([64], randomArray(64, rand)),
    y = T([64]),
    r = randomArray(64, rand);
  const fwd = () => (native.dropoutForward(x, y, 0.3, 5, 9), y);
  const dx = T([64]);
  native.dropoutBackward(T([64], r), dx, 0.3, 5, 9);
  check('dropout dx', x, dx.read(), fwd, r, 20);
});

Grad('Dense with every fused activation (swish and gelu through their stored input)', () => {
  const rand = rng(15);
  for (const act of NATIVE_ACTIVATIONS) {
    const [n, i, o] = [4, 9, 5];
    const x = T([n, i], randomArray(n * i, rand)),
      W = T([i, o], randomArray(i * o, rand)),
      b = T([o], randomArray(o, rand, -0.1, 0.1));
    const y = T([n, o]),
      r = randomArray(n * o, rand),
      pre = NEEDS_INPUT.includes(act) ? T([n, o]) : null;
    const fwd = () => (native.denseForward(x, W, b, y, act, pre), y);
    fwd();
    const dx = T([n, i]),
      dw = T([i, o]),
      db = T([o]);
    native.denseBackward(x, W, y, T([n, o], r), dx, dw, db, act, pre);
    check(`dense ${act} dx`, x, dx.read(), fwd, r);
    check(`dense ${act} dw`, W, dw.read(), fwd, r);
  }
});

Grad('average pooling (valid and same) by finite differences', () => {
  const rand = rng(17);
  for (const padding of ['valid', 'same'] as const) {
    const x = T([2, 5, 6, 3], randomArray(180, rand)),
      oh = padding === 'same' ? 3 : 2,
      ow = 3;
    const y = T([2, oh, ow, 3]),
      r = randomArray(y.size, rand),
      dx = T(x.shape);
    const fwd = () => (native.avgPool2dForward(x, y, 2, 2, 2, 2, padding), y);
    fwd();
    native.avgPool2dBackward(T(y.shape, r), dx, 2, 2, 2, 2, padding);
    check(`avgpool ${padding} dx`, x, dx.read(), fwd, r);
  }
});

Grad('softmax cross-entropy (batch mean)', () => {
  const rand = rng(14);
  const [n, k] = [4, 10];
  const z = T([n, k], randomArray(n * k, rand, -3, 3)),
    labels = new Float32Array(n * k);
  for (let i = 0; i < n; ++i) labels[i * k + ((i * 3) % k)] = 1;
  const Y = T([n, k], labels),
    dz = T([n, k]),
    m = T([8]);
  m.fill(0);
  native.softmaxCrossEntropy(z, Y, dz, m, 0);
  // L = mean loss = metrics[0] / n: express it as sum(out * r) with out = [loss sum] and r = [1 / n].
  const out = T([8]);
  const fwd = () => (out.fill(0), native.softmaxCrossEntropy(z, Y, null, out, 0), out);
  check('softmax-xent dlogits', z, dz.read(), fwd, new Float32Array([1 / n, 0, 0, 0, 0, 0, 0, 0]), 20);
  // With sample weights (Keras's sum(w * loss) / n): the gradient of the weighted loss.
  const w = T([n], new Float32Array([0.5, 2, 0, 1.5]));
  native.softmaxCrossEntropy(z, Y, dz, m, 0, null, w);
  const wfwd = () => (out.fill(0), native.softmaxCrossEntropy(z, Y, null, out, 0, null, w), out);
  check('weighted softmax-xent dlogits', z, dz.read(), wfwd, new Float32Array([1 / n, 0, 0, 0, 0, 0, 0, 0]), 20);
});

Grad('every loss (sparse cross-entropy, binary cross-entropy, mse, mae) by finite differences', () => {
  const rand = rng(16);
  const [n, k] = [4, 3];
  const cases = [
    ['crossentropy', true],
    ['binary_crossentropy', false],
    ['mse', false],
    ['mae', false],
  ] as const;
  for (const [kind, sparse] of cases) {
    const z = T([n, k], randomArray(n * k, rand, -2, 2));
    const labels = sparse
      ? I([n], Int32Array.from([0, 2, 1, 2]))
      : T(
          [n, k],
          Float32Array.from({ length: n * k }, (_, i) => (kind === 'binary_crossentropy' ? i % 2 : (i % 5) / 2)),
        );
    const dz = T([n, k]),
      m = T([8]),
      w = T([n], Float32Array.from([1, 0.5, 2, 1]));
    m.fill(0);
    native.loss(kind, 'none', z, labels, w, dz, m, 0);
    const out = T([8]);
    const fwd = () => (out.fill(0), native.loss(kind, 'none', z, labels, w, null, out, 0), out);
    check(`${kind} dpred`, z, dz.read(), fwd, new Float32Array([1 / n, 0, 0, 0, 0, 0, 0, 0]), 10);
  }
});

Grad.run();
