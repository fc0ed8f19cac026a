// kernelnet/tfjs's custom training loops: tf.grad and its kin with tfjs-core's semantics (src/gradients.ts: f runs in a
// tidy, y's value is disposed by grad and kept by valueAndGrad, a gradient that cannot be found is an error), tf.variable,
// tf.variableGrads, tf.customGrad and optimizer.minimize / applyGradients against tfjs itself, models inside the loop
// (model.apply and predict differentiable through the model's native backward pass, checked against the same model
// written with tensor ops), a GAN's two models and two optimizers, and tf.memory().numTensors flat over 10,000 steps.
// Each op's own gradient against tfjs and finite differences: test/tfjs-grads-ops.test.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as tfc from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers tfjs-core's gradients (its bundle calls registerGradient for every op)
import * as tf from '../lib/tfjs.js';
import { registeredVariables } from '../lib/ops/autodiff.js';
import { close } from './helpers.js';

tfc.env().set('IS_TEST', true);
const suiteOf = suite('kernelnet/tfjs gradients');
/** A test whose tensors (but what it disposes itself: variables, models, optimizers) a tidy frees, checked. */
const S = (name: string, fn: () => void) =>
  suiteOf(name, () => {
    const before = tf.memory().numTensors;
    tf.tidy(fn);
    assert.is(tf.memory().numTensors, before, `${name}: every tensor freed`);
  });
const values = (t: { dataSync(): ArrayLike<number> }) => Array.from(t.dataSync());
type Coded = Error & { code?: string };
function throwsCoded(fn: () => unknown, code: string, message: RegExp, what: string): void {
  try {
    fn();
  } catch (e) {
    assert.is((e as Coded).code, code, `${what}: ${(e as Error).message}`);
    assert.match((e as Error).message, message, what);
    return;
  }
  assert.unreachable(`${what}: did not throw`);
}

S('grad, grads, valueAndGrad, valueAndGrads: values as tfjs, y disposed by grad and kept by valueAndGrad', () => {
  const x = tf.tensor1d([1, -2, 3]),
    a = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]),
    b = tf.tensor1d([0.5, -1]);
  const f = (t: tf.Tensor) => tf.sum(tf.mul(tf.sin(t), t));
  const fc = (t: tfc.Tensor) => tfc.sum(tfc.mul(tfc.sin(t), t));
  const before = tf.memory().numTensors;
  const g = tf.grad(f)(x);
  assert.is(tf.memory().numTensors, before + 1, 'grad returns the gradient alone: f(x) and every intermediate are freed');
  close(values(g), values(tfc.grad(fc)(tfc.tensor1d([1, -2, 3]))), 1e-6, 1e-5, 'grad');
  // dy seeds the backward pass (tfjs: grad(f)(x, dy))
  const dy = tf.tensor1d([1, 0, 2]);
  const gd = tf.grad((t: tf.Tensor) => tf.square(t))(x, dy);
  assert.equal(values(gd), [2, 0, 12]);
  const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.mean(tf.mul(tf.exp(p), q)))([a, b]);
  const [ta, tb] = tfc.grads((p: tfc.Tensor, q: tfc.Tensor) => tfc.mean(tfc.mul(tfc.exp(p), q)))([
    tfc.tensor2d([
      [1, 2],
      [3, 4],
    ]),
    tfc.tensor1d([0.5, -1]),
  ]);
  close(values(ga), values(ta), 1e-5, 1e-5, 'grads a');
  close(values(gb), values(tb), 1e-5, 1e-5, 'grads b (broadcast, summed back)');
  const vg = tf.valueAndGrad(f)(x);
  close(values(vg.value), values(fc(tfc.tensor1d([1, -2, 3]))), 1e-6, 1e-6, 'valueAndGrad value');
  close(values(vg.grad), values(g), 0, 0, 'valueAndGrad grad');
  const vgs = tf.valueAndGrads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(p, q)))([b, b]);
  // the same tensor twice: tfjs sums its gradient over both uses and returns that for each (one tensor twice;
  // kernelnet gives each argument a tensor of its own, so disposing one leaves the other)
  assert.equal(values(vgs.grads[0]), [1, -2]);
  assert.equal(values(vgs.grads[1]), [1, -2]);
  assert.ok(vgs.grads[0] !== vgs.grads[1]);
  tf.dispose([x, a, b, g, dy, gd, ga, gb, vg, vgs]);
  assert.is(tf.memory().numTensors, before - 3, 'nothing left over');
});

S('errors as tfjs: no path from x to y, f returning no tensor, dy of another shape (coded)', () => {
  const x = tf.scalar(2),
    y = tf.scalar(5);
  const before = tf.memory().numTensors;
  throwsCoded(() => tf.grad(() => tf.square(y))(x), 'ERR_KERNELNET_ARG', /Cannot compute gradient of y=f\(x\) with respect to x/, 'unconnected');
  throwsCoded(() => tf.grad((() => 3) as unknown as (t: tf.Tensor) => tf.Tensor)(x), 'ERR_KERNELNET_ARG', /must be a tensor/, 'not a tensor');
  throwsCoded(() => tf.grad((t: tf.Tensor) => tf.square(t))(x, tf.ones([2])), 'ERR_KERNELNET_SHAPE', /shape of dy/, 'dy shape');
  throwsCoded(() => tf.grad(3 as unknown as (t: tf.Tensor) => tf.Tensor), 'ERR_KERNELNET_ARG', /must be a function/, 'f');
  assert.is(tf.memory().numTensors, before + 1, 'a failed call frees what it made (the dy the test made stays)');
  tf.dispose([x, y]);
});

S('a tidy() or dispose() inside f does not free what backward reads; higher-order gradients', () => {
  const x = tf.tensor1d([0.5, 1.5]);
  const before = tf.memory().numTensors;
  let inner: tf.Tensor | null = null;
  const g = tf.grad((t: tf.Tensor) => {
    const a = tf.mul(t, 2);
    const b = tf.tidy(() => tf.sum(tf.square(tf.exp(a)))); // the tidy frees exp(a) and square(...) at once
    inner = a;
    a.dispose(); // and the caller frees a
    return b;
  })(x);
  assert.ok(inner!.isDisposed, 'a reads as disposed at once');
  // d/dx sum(exp(2x)^2) = 4 exp(4x)
  close(values(g), [4 * Math.exp(2), 4 * Math.exp(6)], 1e-3, 1e-5, 'through the tidy');
  assert.is(tf.memory().numTensors, before + 1, "the tape's holds are freed when it closes");
  // d2/dx2 x^4 = 12 x^2, a gradient of a gradient
  const g2 = tf.grad((t: tf.Tensor) => tf.sum(tf.grad((u: tf.Tensor) => tf.sum(tf.pow(u, 4)))(t)))(x);
  close(values(g2), [12 * 0.25, 12 * 2.25], 1e-4, 1e-5, 'second order');
  tf.dispose([x, g, g2]);
});

S('tf.variable: names, registry, assign, trainable; variableGrads with tfjs semantics', () => {
  const w = tf.variable(tf.tensor1d([1, 2]), true, 'g_w');
  const c = tf.variable(tf.scalar(3), false, 'g_c');
  assert.ok(w instanceof tf.Tensor && w instanceof tf.Variable);
  assert.is(w.name, 'g_w');
  throwsCoded(() => tf.variable(tf.scalar(1), true, 'g_w'), 'ERR_KERNELNET_ARG', /already registered/, 'duplicate name');
  let kept = w;
  tf.tidy(() => {
    kept = tf.variable(tf.scalar(7), true, 'g_t');
  });
  assert.not.ok(kept.isDisposed, 'tidy keeps variables, as tfjs');
  w.assign(tf.tensor1d([2, 4]));
  assert.equal(values(w), [2, 4]);
  throwsCoded(() => w.assign(tf.tensor1d([1, 2, 3])), 'ERR_KERNELNET_SHAPE', /shape of the new value/, 'assign shape');
  // all trainable registered variables by default; the non-trainable c is a constant
  const r = tf.variableGrads(() => tf.sum(tf.mul(tf.square(w), c)));
  assert.equal(values(r.value), [60]);
  assert.equal(values(r.grads.g_w!), [12, 24]);
  assert.not.ok('g_c' in r.grads, 'a non-trainable variable is left out');
  assert.not.ok('g_t' in r.grads, 'a variable f does not use has no entry');
  // a non-trainable variable named in varList maps to null (tfjs)
  const r2 = tf.variableGrads(() => tf.sum(tf.mul(w, c)), [w, c]);
  assert.is(r2.grads.g_c, null);
  throwsCoded(() => tf.variableGrads(() => tf.mul(w, c), [w]), 'ERR_KERNELNET_SHAPE', /must return a scalar/, 'rank-1 value');
  throwsCoded(() => tf.variableGrads(() => tf.scalar(1), [w]), 'ERR_KERNELNET_ARG', /Cannot find a connection between any variable/, 'no connection');
  throwsCoded(() => tf.variableGrads(() => tf.sum(c), [c]), 'ERR_KERNELNET_ARG', /none of the 1 variables is trainable/, 'none trainable');
  tf.dispose([r, r2]);
  tf.disposeVariables();
  assert.ok(w.isDisposed && c.isDisposed && kept.isDisposed, 'disposeVariables frees them');
  assert.not.ok(
    registeredVariables().some(v => v.name === 'g_w'),
    'and unregisters them',
  );
});

S("customGrad: tfjs's documented example, its gradFunc used, f's ops not recorded", () => {
  const make = <T>(lib: { customGrad: (f: never) => unknown }, abs: (t: T) => T, mul: (a: T, b: T) => T, square: (t: T) => T) =>
    lib.customGrad(((x: T, save: (ts: T[]) => void) => {
      save([x]);
      return { value: square(x), gradFunc: (dy: T, [saved]: T[]) => [mul(dy, abs(saved))] };
    }) as never) as (x: T) => T;
  const op = make<tf.Tensor>(tf, tf.abs, tf.mul, tf.square);
  const opc = make<tfc.Tensor>(tfc, tfc.abs, tfc.mul, tfc.square);
  const x = tf.tensor1d([-1, -2, 3]);
  const g = tf.grad((t: tf.Tensor) => op(t))(x);
  assert.equal(values(g), values(tfc.grad((t: tfc.Tensor) => opc(t))(tfc.tensor1d([-1, -2, 3]))));
  assert.equal(values(g), [1, 2, 3], 'dy * |x|, not 2x');
  assert.equal(values(op(x)), [1, 4, 9]);
  tf.dispose([x, g]);
});

/** A linear regression y = 3x - 1 on fixed points. */
const REG_X = [-1, -0.5, 0, 0.5, 1, 1.5],
  REG_Y = REG_X.map(x => 3 * x - 1);

S('optimizer.minimize: a regression with tf.train.sgd as tfjs trains it, step for step', () => {
  const xs = tf.tensor1d(REG_X),
    ys = tf.tensor1d(REG_Y);
  const a = tf.variable(tf.scalar(0.1), true, 'reg_a'),
    b = tf.variable(tf.scalar(0.2), true, 'reg_b');
  const opt = tf.train.sgd(0.1);
  const xc = tfc.tensor1d(REG_X),
    yc = tfc.tensor1d(REG_Y);
  const ac = tfc.variable(tfc.scalar(0.1)),
    bc = tfc.variable(tfc.scalar(0.2));
  const optc = tfc.train.sgd(0.1);
  for (let i = 0; i < 50; ++i) {
    const loss = opt.minimize(() => tf.mean(tf.square(tf.sub(tf.add(tf.mul(xs, a), b), ys))), true, [a, b])!;
    const lossc = optc.minimize(() => tfc.mean(tfc.square(tfc.sub(tfc.add(tfc.mul(xc, ac), bc), yc))), true, [ac, bc])!;
    close(values(loss), values(lossc), 1e-5, 1e-4, `loss at step ${i}`);
    loss.dispose();
    lossc.dispose();
  }
  close([...values(a), ...values(b)], [...values(ac), ...values(bc)], 1e-5, 1e-4, 'the weights after 50 steps');
  assert.ok(Math.abs(a.dataSync()[0] - 3) < 0.1 && Math.abs(b.dataSync()[0] + 1) < 0.1, 'and it fits');
  assert.is(opt.iterations, 50);
  tf.dispose([xs, ys, a, b]);
  opt.dispose();
});

S('variableGrads + applyGradients (a custom loop with Adam), and 10,000 steps with numTensors flat', () => {
  const xs = tf.tensor2d(REG_X.map(x => [x, x * x])),
    ys = tf.tensor2d(REG_Y.map(y => [y]));
  const w = tf.variable(tf.zeros([2, 1]), true, 'loop_w'),
    b = tf.variable(tf.zeros([1]), true, 'loop_b');
  const opt = tf.train.adam(0.05);
  const loss = () => tf.losses.meanSquaredError(ys, tf.add(tf.matMul(xs, w), b));
  let first = NaN,
    count = 0;
  const STEPS = 10_000;
  for (let i = 0; i < STEPS; ++i) {
    if (i % 2 === 0) {
      const { value, grads } = tf.variableGrads(loss, [w, b]);
      opt.applyGradients(grads as Record<string, tf.Tensor>);
      if (i === 0) first = value.dataSync()[0];
      tf.dispose([value, grads]);
    } else opt.minimize(loss, false, [w, b]);
    if (i === 100) count = tf.memory().numTensors; // Adam's slots exist from the first update
  }
  assert.is(tf.memory().numTensors, count, `numTensors flat from step 100 to ${STEPS}`);
  const last = tf.tidy(() => loss().dataSync()[0]);
  assert.ok(last < first * 1e-3, `the loss fell (${first} -> ${last})`);
  assert.is(opt.iterations, STEPS);
  tf.dispose([xs, ys, w, b]);
  opt.dispose();
});

/** A small dense model and the same computation written with tensor ops, from its weights. */
function denseTwin(act: 'tanh' | 'relu' | 'softmax' | 'sigmoid') {
  const model = tf.sequential({
    layers: [tf.layers.dense({ units: 5, inputShape: [3], activation: 'tanh' }), tf.layers.dense({ units: 4, activation: act })],
  });
  const [k1, b1, k2, b2] = model.trainableWeights.map(w => w.read());
  const ops = (x: tf.Tensor) => {
    const h = tf.tanh(tf.add(tf.matMul(x, k1), b1));
    const z = tf.add(tf.matMul(h, k2), b2);
    return act === 'tanh' ? tf.tanh(z) : act === 'relu' ? tf.relu(z) : act === 'softmax' ? tf.softmax(z) : tf.sigmoid(z);
  };
  return { model, ops, weights: [k1, b1, k2, b2] };
}

S('model.apply and predict inside a gradient: the native backward pass against the same model in tensor ops', () => {
  const x = tf.tensor2d([
    [0.1, -0.2, 0.3],
    [0.5, 0.4, -0.6],
  ]);
  const W = tf.tensor2d([
    [1, -2, 0.5, 3],
    [0.25, 1, -1, 2],
  ]);
  for (const act of ['tanh', 'softmax', 'sigmoid'] as const) {
    const { model, ops, weights } = denseTwin(act);
    const viaModel = tf.grads((t: tf.Tensor) => tf.sum(tf.mul(model.apply(t) as tf.Tensor, W)))([x]);
    const viaOps = tf.grads((t: tf.Tensor) => tf.sum(tf.mul(ops(t), W)))([x]);
    close(values(viaModel[0]), values(viaOps[0]), 1e-5, 1e-4, `${act}: the input's gradient`);
    const m = tf.variableGrads(() => tf.sum(tf.mul(model.predict(x) as tf.Tensor, W)), weights);
    const o = tf.variableGrads(() => tf.sum(tf.mul(ops(x), W)), weights);
    for (const v of weights) close(values(m.grads[v.name]!), values(o.grads[v.name]!), 1e-5, 1e-4, `${act}: ${v.name}'s gradient`);
    close(values(m.value), values(o.value), 1e-5, 1e-5, `${act}: the value`);
    tf.dispose([viaModel, viaOps, m, o]);
    model.dispose();
  }
  tf.dispose([x, W]);
});

S('a conv model: the input gradient through Conv2D, MaxPooling2D and Dense against finite differences', () => {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ filters: 2, kernelSize: 3, inputShape: [5, 5, 1], activation: 'tanh' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 1 }),
    ],
  });
  // Fixed weights (a model's own initial ones are random) and tanh: the same case every run, and no relu kink for
  // a step of the differences to cross (with random weights, one did now and then)
  const fixed = (n: number, k: number) => Array.from({ length: n }, (_, i) => Math.sin(i * k + 0.3) * 0.6);
  const w = model.getWeights();
  model.setWeights(w.map((t, j) => tf.tensor(fixed(t.size, 1.3 + j), t.shape)));
  tf.dispose(w);
  const data = Array.from({ length: 25 }, (_, i) => Math.sin(i * 1.7) * 0.8);
  const f = (t: tf.Tensor) => tf.sum(model.apply(t) as tf.Tensor);
  const x = tf.tensor4d(data, [1, 5, 5, 1]);
  const g = values(tf.grad(f)(x));
  const h = 1e-3;
  for (const i of [0, 6, 12, 18, 24]) {
    const at = (delta: number) =>
      tf.tidy(
        () =>
          f(
            tf.tensor4d(
              data.map((v, j) => (j === i ? v + delta : v)),
              [1, 5, 5, 1],
            ),
          ).dataSync()[0],
      );
    close([g[i]], [(at(h) - at(-h)) / (2 * h)], 2e-3, 2e-2, `d/dx[${i}]`);
  }
  x.dispose();
  model.dispose();
});

S('dropout: a new mask each call in training mode and the gradient through that mask; the identity in inference mode', () => {
  const model = tf.sequential({ layers: [tf.layers.dropout({ rate: 0.5, inputShape: [64] })] });
  const x = tf.ones([1, 64]);
  const a = values(model.apply(x, { training: true }) as tf.Tensor),
    b = values(model.apply(x, { training: true }) as tf.Tensor);
  assert.ok(
    a.some((v, i) => v !== b[i]),
    'each call draws a new mask',
  );
  assert.equal(values(model.apply(x) as tf.Tensor), values(x), 'training defaults to false: the identity');
  const { value, grad } = tf.valueAndGrad((t: tf.Tensor) => tf.sum(model.apply(t, { training: true }) as tf.Tensor))(x);
  const kept = a.filter(v => v !== 0).length;
  assert.ok(kept > 10 && kept < 54);
  const gv = values(grad);
  assert.ok(
    gv.every(v => v === 0 || v === 2),
    'the gradient is the mask scaled by 1 / (1 - rate)',
  );
  assert.is(gv.filter(v => v === 2).length * 2, Math.round(value.dataSync()[0]), 'the same mask as the value');
  const inference = tf.grad((t: tf.Tensor) => tf.sum(model.predict(t) as tf.Tensor))(x);
  assert.equal(values(inference), values(x), "predict's gradient: the identity's");
  throwsCoded(
    () => tf.grad((t: tf.Tensor) => tf.sum(tf.grad((u: tf.Tensor) => tf.sum(model.apply(u, { training: true }) as tf.Tensor))(t)))(x),
    'ERR_KERNELNET_UNSUPPORTED',
    /gradient of a gradient through a model/,
    'second order through a model',
  );
  tf.dispose([x, value, grad, inference]);
  model.dispose();
});

S('BatchNormalization inside a gradient: batch statistics with training: true, the moving ones in predict, against tensor ops', () => {
  const model = tf.sequential({
    layers: [tf.layers.dense({ units: 3, inputShape: [2] }), tf.layers.batchNormalization(), tf.layers.dense({ units: 2 })],
  });
  // moving statistics away from 0 and 1, so that inference differs from the identity
  const w = model.getWeights();
  model.setWeights([
    w[0],
    w[1],
    tf.tensor1d([1.5, 0.5, -1]),
    tf.tensor1d([0.1, -0.2, 0.3]),
    tf.tensor1d([0.2, -0.1, 0.4]),
    tf.tensor1d([2, 0.5, 1.5]),
    w[6],
    w[7],
  ]);
  const [k1, b1, gamma, beta, mm, mv, k2, b2] = model.weights.map(v => v.read());
  const eps = 1e-3; // tfjs's default
  const ops = (x: tf.Tensor, training: boolean) => {
    const h = tf.add(tf.matMul(x, k1), b1);
    const m = training ? tf.moments(h, 0) : { mean: mm, variance: mv };
    const n = tf.add(tf.mul(gamma, tf.div(tf.sub(h, m.mean), tf.sqrt(tf.add(m.variance, eps)))), beta);
    return tf.add(tf.matMul(n, k2), b2);
  };
  const x = tf.tensor2d([
    [0.5, -1],
    [1.5, 0.25],
    [-0.75, 2],
    [0.1, 0.3],
  ]);
  const W = tf.tensor2d([
    [1, -2],
    [0.5, 3],
    [-1, 0.25],
    [2, 1],
  ]);
  const trained = [k1, b1, gamma, beta, k2, b2];
  for (const training of [true, false]) {
    const run = training ? (t: tf.Tensor) => model.apply(t, { training: true }) as tf.Tensor : (t: tf.Tensor) => model.predict(t) as tf.Tensor;
    const viaModel = tf.variableGrads(() => tf.sum(tf.mul(run(x), W)), trained);
    const viaOps = tf.variableGrads(() => tf.sum(tf.mul(ops(x, training), W)), trained);
    close(values(viaModel.value), values(viaOps.value), 1e-4, 1e-4, `training ${training}: the value`);
    for (const v of trained)
      close(values(viaModel.grads[v.name]!), values(viaOps.grads[v.name]!), 1e-4, 1e-3, `training ${training}: ${v.name}'s gradient`);
    const dxModel = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(run(t), W)))(x),
      dxOps = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(ops(t, training), W)))(x);
    close(values(dxModel), values(dxOps), 1e-4, 1e-3, `training ${training}: the input's gradient`);
    tf.dispose([viaModel, viaOps, dxModel, dxOps]);
  }
  tf.dispose([x, W, ...w]);
  model.dispose();
});

S("a model's weights as variables: trainableWeights, read(), minimize without a list, dispose", () => {
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [2] })] });
  const names = model.trainableWeights.map(w => w.name);
  assert.is(names.length, 2);
  assert.ok(
    names.every(n => registeredVariables().some(v => v.name === n)),
    'registered',
  );
  const weights = model.getWeights();
  model.trainableWeights.forEach((w, i) => assert.equal(values(w.read()), values(weights[i])));
  throwsCoded(() => model.trainableWeights[0].read().dispose(), 'ERR_KERNELNET_STATE', /model.dispose\(\) frees it/, 'a weight disposed alone');
  // minimize with no varList trains every registered trainable variable, the model's among them
  const x = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]),
    y = tf.tensor2d([[1], [2]]);
  const opt = tf.train.sgd(0.01);
  const before = values(model.trainableWeights[0].read());
  opt.minimize(() => tf.losses.meanSquaredError(y, model.apply(x) as tf.Tensor));
  assert.not.equal(values(model.trainableWeights[0].read()), before, 'the kernel moved');
  model.dispose();
  assert.not.ok(
    registeredVariables().some(v => names.includes(v.name)),
    'model.dispose() unregisters its weights',
  );
  tf.dispose([x, y, ...weights]);
  opt.dispose();
});

S('a layer applied to tensors (tfjs eager apply): its output, its weights trained by minimize, a merge, shape changes refused', () => {
  const before = new Set(registeredVariables());
  const dense = tf.layers.dense({ units: 2 });
  const x = tf.tensor2d([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const y = dense.apply(x);
  const [k, b] = dense.getWeights();
  close(values(y), values(tf.add(tf.matMul(x, k), b)), 1e-6, 1e-6, 'x k + b');
  const opt = tf.train.sgd(0.01);
  const loss = () => tf.sum(tf.square(dense.apply(x)));
  const first = values(loss())[0];
  for (let i = 0; i < 20; ++i) opt.minimize(loss);
  assert.ok(values(loss())[0] < first / 2, "minimize without a list trains the layer's weights (registered variables)");
  assert.equal(values(tf.layers.add().apply([x, x])), values(tf.mul(x, 2)), 'a merge layer on two tensors');
  throwsCoded(() => dense.apply(tf.ones([2, 4])), 'ERR_KERNELNET_SHAPE', /ran on inputs of shape \[N, 3\]/, 'another input shape');
  tf.dispose([k, b]);
  opt.dispose();
  assert.equal(dense.dispose(), { refCountAfterDispose: 0, numDisposedVariables: 2 }, 'layer.dispose() frees the weights apply made');
  const left = registeredVariables().filter(v => !before.has(v));
  assert.equal(
    left.map(v => v.name),
    [],
    'and unregisters them',
  );
});

S("what f returns or keeps is the caller's; nested customGrads count once; tf.variable inside f is a new leaf", () => {
  const x = tf.tensor1d([1, 2, 3]);
  let kept: tf.Tensor | null = null;
  const g = tf.grad((t: tf.Tensor) => (kept = tf.keep(tf.sum(tf.square(t)))))(x);
  assert.equal(values(g), [2, 4, 6]);
  assert.not.ok(kept!.isDisposed, 'a tensor f kept stays, as tfjs');
  assert.not.ok(x.isDisposed);
  kept!.dispose();
  // tfjs: a customGrad whose f calls another customGrad records only the outer one (its gradFunc decides)
  const make = (scale: number, inner?: (t: tf.Tensor) => tf.Tensor) =>
    tf.customGrad(((t: tf.Tensor) => ({
      value: inner ? inner(t) : tf.mul(t, 1),
      gradFunc: (dy: tf.Tensor) => [tf.mul(dy, scale)],
    })) as never) as (t: tf.Tensor) => tf.Tensor;
  const nested = make(10, make(100));
  const cg = tf.grad((t: tf.Tensor) => tf.sum(nested(t)))(x);
  const tfNested = (() => {
    const m = (scale: number, inner?: (t: tfc.Tensor) => tfc.Tensor) =>
      tfc.customGrad(((t: tfc.Tensor) => ({
        value: inner ? inner(t) : tfc.mul(t, 1),
        gradFunc: (dy: tfc.Tensor) => [tfc.mul(dy, scale)],
      })) as never) as (t: tfc.Tensor) => tfc.Tensor;
    return Array.from(
      tfc
        .grad((t: tfc.Tensor) => tfc.sum(m(10, m(100))(t)))(tfc.tensor1d([1, 2, 3]))
        .dataSync(),
    );
  })();
  assert.equal(values(cg), tfNested, 'as tfjs');
  assert.equal(values(cg), [10, 10, 10]);
  throwsCoded(
    () => tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.variable(t, true, 'leaf_v'))))(x),
    'ERR_KERNELNET_ARG',
    /Cannot compute gradient/,
    'tf.variable(x) is not a function of x',
  );
  tf.disposeVariables();
  x.dispose();
});

S("assigning a variable or setting a model's weights while a gradient reads them is refused (the gradient would see the new values)", () => {
  const v = tf.variable(tf.tensor1d([1, 2, 3]), true, 'assign_v');
  throwsCoded(
    () =>
      tf.variableGrads(() => {
        const y = tf.sum(tf.square(v));
        v.assign(tf.tensor1d([10, 20, 30]));
        return y;
      }),
    'ERR_KERNELNET_STATE',
    /read by a gradient being computed/,
    'assign inside f',
  );
  assert.equal(values(v), [1, 2, 3]);
  v.assign(tf.tensor1d([4, 5, 6]));
  assert.equal(values(v), [4, 5, 6], 'after the call, assign works');
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [2] })] });
  const w = model.getWeights();
  throwsCoded(
    () =>
      tf.variableGrads(() => {
        const y = tf.sum(model.apply(tf.ones([1, 2])) as tf.Tensor);
        model.setWeights(w);
        return y;
      }),
    'ERR_KERNELNET_STATE',
    /setWeights: a gradient being computed/,
    'setWeights inside f',
  );
  tf.dispose(w);
  model.dispose();
  tf.disposeVariables();
});

S('a shared layer has one variable per weight; a layer frozen since compile runs both passes in inference mode', () => {
  const shared = tf.layers.dense({ units: 2, inputShape: [3] });
  const a = tf.sequential({ layers: [shared] }),
    b = tf.sequential({ layers: [shared, tf.layers.dense({ units: 1 })] });
  const x = tf.tensor2d([[1, -1, 0.5]]);
  const sharedNames = a.trainableWeights.map(w => w.name);
  assert.equal(
    b.trainableWeights.slice(0, 2).map(w => w.name),
    sharedNames,
    'the same variables in both models',
  );
  const opt = tf.train.sgd(0.01);
  const { grads } = tf.variableGrads(() => tf.add(tf.sum(a.apply(x) as tf.Tensor), tf.sum(b.apply(x) as tf.Tensor)));
  assert.is(Object.keys(grads).filter(n => sharedNames.includes(n)).length, 2, 'one gradient per shared weight, summed over both uses');
  opt.minimize(() => tf.add(tf.sum(a.apply(x) as tf.Tensor), tf.sum(b.apply(x) as tf.Tensor)));
  a.dispose();
  assert.ok(
    sharedNames.every(n => registeredVariables().some(v => v.name === n)),
    'disposing one model keeps the shared weights (and their variables) for the other',
  );
  b.dispose();
  tf.dispose([x, grads]);
  opt.dispose();
  // BatchNormalization frozen after compile, without another compile: inference mode both ways (Keras, tfjs)
  const m = tf.sequential({ layers: [tf.layers.batchNormalization({ inputShape: [2] })] });
  m.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
  m.layers[0].trainable = false;
  const xs = tf.tensor2d([
    [1, 2],
    [3, -1],
    [0.5, 0.5],
  ]);
  const W = tf.tensor2d([
    [1, 2],
    [-1, 0.5],
    [2, 1],
  ]);
  const f = (t: tf.Tensor) => tf.sum(tf.mul(m.apply(t, { training: true }) as tf.Tensor, W));
  const g = values(tf.grad(f)(xs));
  const data = values(xs),
    h = 1e-2;
  for (const i of [0, 1, 2, 3]) {
    const at = (delta: number) =>
      tf.tidy(
        () =>
          f(
            tf.tensor2d(
              data.map((v, j) => (j === i ? v + delta : v)),
              [3, 2],
            ),
          ).dataSync()[0],
      );
    close([g[i]], [(at(h) - at(-h)) / (2 * h)], 1e-3, 1e-2, `d/dx[${i}]`);
  }
  tf.dispose([xs, W]);
  m.dispose();
});

S('a gradient taken through a model inside a function that is itself differentiated: first order works (an adversarial step)', () => {
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [2], activation: 'tanh' }), tf.layers.dense({ units: 1 })] });
  const x0 = tf.tensor2d([[0.3, -0.6]]);
  const weights = model.trainableWeights.map(w => w.read());
  const opt = tf.train.sgd(0.05);
  // FGSM-style: the loss at x0 moved along the sign of the input's gradient, minimised over the weights
  const loss = opt.minimize(
    () => {
      const gx = tf.grad((t: tf.Tensor) => tf.sum(model.apply(t) as tf.Tensor))(x0);
      return tf.sum(model.apply(tf.add(x0, tf.mul(tf.sign(gx), 0.1))) as tf.Tensor);
    },
    true,
    weights,
  );
  assert.ok(Number.isFinite(loss!.dataSync()[0]));
  throwsCoded(
    () => tf.grad((t: tf.Tensor) => tf.sum(tf.grad((u: tf.Tensor) => tf.sum(model.apply(u) as tf.Tensor))(t)))(x0),
    'ERR_KERNELNET_UNSUPPORTED',
    /gradient of a gradient through a model/,
    'second order through the model',
  );
  tf.dispose([x0, loss!]);
  model.dispose();
  opt.dispose();
});

S('an optimizer frees the slots of variables disposed since its last update', () => {
  const opt = tf.train.adam(0.1);
  const x = tf.tensor1d([1, 2]);
  let count = -1;
  for (let i = 0; i < 20; ++i) {
    const v = tf.tidy(() => tf.variable(tf.ones([2]), true, `slot_v${i}`));
    opt.minimize(() => tf.sum(tf.mul(v, x)), false, [v]);
    v.dispose();
    if (i === 1) count = tf.memory().numTensors;
  }
  assert.is(tf.memory().numTensors, count, "a variable's Adam slots go with it");
  x.dispose();
  opt.dispose();
});

S("a GAN: two models, two optimizers, minimize with each model's weights; the generator learns the data's mean", () => {
  // real data: N(2, 0.25); the generator maps noise to one number; the discriminator says real or fake
  const G = tf.sequential({ layers: [tf.layers.dense({ units: 8, inputShape: [2], activation: 'tanh' }), tf.layers.dense({ units: 1 })] });
  const D = tf.sequential({
    layers: [tf.layers.dense({ units: 8, inputShape: [1], activation: 'tanh' }), tf.layers.dense({ units: 1, activation: 'sigmoid' })],
  });
  const gVars = G.trainableWeights.map(w => w.read()),
    dVars = D.trainableWeights.map(w => w.read());
  const gOpt = tf.train.adam(0.005),
    dOpt = tf.train.adam(0.005);
  const bce = (p: tf.Tensor, label: number) => tf.neg(tf.mean(tf.log(tf.add(label ? p : tf.sub(1, p), 1e-6))));
  let start = 0;
  for (let step = 0; step < 800; ++step) {
    const real = tf.randomNormal([32, 1], 2, 0.25, 'float32', step),
      z = tf.randomNormal([32, 2], 0, 1, 'float32', 10_000 + step);
    const gBefore = values(gVars[0]);
    dOpt.minimize(() => tf.add(bce(D.apply(real) as tf.Tensor, 1), bce(D.apply(G.apply(z)) as tf.Tensor, 0)), false, dVars);
    if (step === 0) assert.equal(values(gVars[0]), gBefore, "the discriminator's step leaves the generator alone");
    const dBefore = values(dVars[0]);
    gOpt.minimize(() => bce(D.apply(G.apply(z)) as tf.Tensor, 1), false, gVars);
    if (step === 0) {
      assert.equal(values(dVars[0]), dBefore, "the generator's step leaves the discriminator alone");
      assert.not.equal(values(gVars[0]), gBefore, 'and moves the generator');
    }
    tf.dispose([real, z]);
    if (step === 10) start = tf.memory().numTensors;
  }
  assert.is(tf.memory().numTensors, start, 'numTensors flat over the loop');
  const mean = tf.tidy(() => tf.mean(G.predict(tf.randomNormal([512, 2], 0, 1, 'float32', 7)) as tf.Tensor).dataSync()[0]);
  assert.ok(Math.abs(mean - 2) < 0.5, `the generated mean is near the data's 2: ${mean}`);
  G.dispose();
  D.dispose();
  gOpt.dispose();
  dOpt.dispose();
});

suiteOf.run();
