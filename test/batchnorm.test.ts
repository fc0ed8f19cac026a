// BatchNormalization as Keras 3 defines it (keras/src/layers/normalization/batch_normalization.py): axis -1,
// momentum 0.99, epsilon 1e-3; training normalises by the batch's mean and biased variance and moves the moving
// averages by them; inference (and a frozen layer) uses the moving averages; weights gamma, beta, moving_mean,
// moving_variance, the last two not trained. Against float64 below, by finite differences, and in models.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Activation,
  Adam,
  BatchNormalization,
  Conv2D,
  Dense,
  Flatten,
  GlobalAveragePooling2D,
  LeakyReLU,
  Sequential,
  ValidationError,
  dispose,
  loadModel,
  tidy,
} from '../lib/index.js';
import { Graph, foldedInference } from '../lib/engine/plan.js';
import { native } from '../lib/core/native.js';
import { T, close, disposeAll, exact, out, randomArray, rng, syntheticData, throwsA } from './helpers.js';

const B = suite('BatchNormalization');
B.after.each(disposeAll);
const dir = mkdtempSync(join(tmpdir(), 'kernelnet-bn-'));
B.after(() => rmSync(dir, { recursive: true, force: true }));

B('forward (training and inference), the moving averages, and backward match float64', () => {
  const r = rng(81);
  for (const [m, c] of [
    [37, 5],
    [600, 3],
    [4, 64],
  ]) {
    const x = randomArray(m * c, r, -3, 5),
      dyv = randomArray(m * c, r),
      g = randomArray(c, r, 0.5, 2),
      b = randomArray(c, r);
    const mm0 = randomArray(c, r),
      mv0 = randomArray(c, r, 0.5, 2);
    const X = T([m, c], x),
      Y = out([m, c]),
      G = T([c], g),
      Bt = T([c], b),
      mean = out([c]),
      inv = out([c]);
    const MM = T([c], mm0),
      MV = T([c], mv0);
    native.batchNormForward(X, Y, G, Bt, mean, inv, MM, MV, 0.9, 1e-3, true);
    const mu = Array.from({ length: c }, (_, j) => {
      let s = 0;
      for (let i = 0; i < m; ++i) s += x[i * c + j];
      return s / m;
    });
    const va = Array.from({ length: c }, (_, j) => {
      let s = 0;
      for (let i = 0; i < m; ++i) s += (x[i * c + j] - mu[j]) ** 2;
      return s / m;
    });
    const is = va.map(v => 1 / Math.sqrt(v + 1e-3));
    const xhat = Array.from(x, (v, k) => (v - mu[k % c]) * is[k % c]);
    close(
      Y.read(),
      xhat.map((v, k) => v * g[k % c] + b[k % c]),
      1e-5,
      1e-5,
      `y ${m}x${c}`,
    );
    close(
      MM.read(),
      mu.map((v, j) => mm0[j] * 0.9 + v * 0.1),
      1e-6,
      1e-5,
      'moving mean',
    );
    close(
      MV.read(),
      va.map((v, j) => mv0[j] * 0.9 + v * 0.1),
      1e-6,
      1e-5,
      'moving variance (biased, as Keras)',
    );
    const dx = out([m, c]),
      dg = out([c]),
      db = out([c]);
    native.batchNormBackward(X, T([m, c], dyv), G, mean, inv, dx, dg, db, true);
    const sdy = Array.from({ length: c }, (_, j) => {
      let s = 0;
      for (let i = 0; i < m; ++i) s += dyv[i * c + j];
      return s;
    });
    const sdx = Array.from({ length: c }, (_, j) => {
      let s = 0;
      for (let i = 0; i < m; ++i) s += dyv[i * c + j] * xhat[i * c + j];
      return s;
    });
    close(db.read(), sdy, 1e-4, 1e-5, 'dbeta');
    close(dg.read(), sdx, 1e-4, 1e-5, 'dgamma');
    close(
      dx.read(),
      Array.from(x, (_, k) => {
        const j = k % c;
        return g[j] * is[j] * (dyv[k] - sdy[j] / m - (xhat[k] * sdx[j]) / m);
      }),
      1e-4,
      1e-4,
      'dx',
    );
    // Inference: the moving statistics, which do not move.
    const before = Array.from(MM.read());
    native.batchNormForward(X, Y, G, null, mean, inv, MM, MV, 0.9, 1e-3, false);
    assert.equal(Array.from(MM.read()), before, 'inference leaves the moving averages');
    const mv = MV.read();
    close(
      Y.read(),
      Array.from(x, (v, k) => ((v - before[k % c]) / Math.sqrt(mv[k % c] + 1e-3)) * g[k % c]),
      1e-5,
      1e-5,
      'inference y (center off)',
    );
  }
});

B('backward by finite differences (training mode)', () => {
  const r = rng(82),
    [m, c] = [12, 3];
  const X = T([m, c], randomArray(m * c, r, -2, 2)),
    G = T([c], randomArray(c, r, 0.5, 1.5)),
    Bt = T([c], randomArray(c, r));
  const Y = out([m, c]),
    mean = out([c]),
    inv = out([c]),
    MM = T([c]),
    MV = T([c]),
    rr = randomArray(m * c, r);
  const fwd = () => (native.batchNormForward(X, Y, G, Bt, mean, inv, MM, MV, 0.99, 1e-3, true), Y);
  const loss = () => (fwd().read() as Float32Array).reduce((s, v, i) => s + v * rr[i], 0);
  fwd();
  const dx = out([m, c]),
    dg = out([c]);
  native.batchNormBackward(X, T([m, c], rr), G, mean, inv, dx, dg, null, true);
  for (const [t, grad, what] of [
    [X, dx.read(), 'dx'],
    [G, dg.read(), 'dgamma'],
  ] as const)
    for (const i of [0, Math.floor(t.size / 2), t.size - 1]) {
      const v = t.read() as Float32Array,
        o = v[i],
        h = 1e-2;
      v[i] = o + h;
      t.write(v);
      const up = loss();
      v[i] = o - h;
      t.write(v);
      const down = loss();
      v[i] = o;
      t.write(v);
      const fd = (up - down) / (2 * h);
      assert.ok(Math.abs(grad[i] - fd) <= 2e-3 + 2e-2 * Math.abs(fd), `${what}[${i}]: ${grad[i]} vs ${fd}`);
    }
});

// The statistics are sums over blocks of 256 rows, in float within a block and in double across blocks in block
// order (cpu_batchnorm.cc), so every thread count gives the same bits; and the forward's sums are of x minus its
// first row, so a mean large against the spread keeps the variance's digits (E[x^2] - E[x]^2 of the raw values
// would cancel to nothing here: mean 1000, spread 0.01, variance 1e-4 against E[x^2] = 1e6 in float).
B('statistics: the same bits at every thread count, and the variance of a large mean with a small spread', () => {
  const r = rng(83),
    [m, c] = [6272, 24]; // 24.5 blocks of 256 rows
  const x = randomArray(m * c, r, -3, 5),
    dyv = randomArray(m * c, r),
    g = randomArray(c, r, 0.5, 2),
    b = randomArray(c, r);
  const before = native.numThreads(),
    results: ArrayLike<number>[][] = [];
  try {
    for (const n of [1, 2, 3, before]) {
      native.numThreads(n);
      const Y = out([m, c]),
        mean = out([c]),
        inv = out([c]),
        MM = T([c]),
        MV = T([c], new Float32Array(c).fill(1));
      native.batchNormForward(T([m, c], x), Y, T([c], g), T([c], b), mean, inv, MM, MV, 0.99, 1e-3, true);
      const dx = out([m, c]),
        dg = out([c]),
        db = out([c]);
      native.batchNormBackward(T([m, c], x), T([m, c], dyv), T([c], g), mean, inv, dx, dg, db, true);
      results.push([Y.read(), mean.read(), inv.read(), MV.read(), dx.read(), dg.read(), db.read()]);
    }
  } finally {
    native.numThreads(before);
  }
  for (const res of results.slice(1))
    res.forEach((a, i) =>
      exact(a, results[0][i], `${['y', 'mean', 'invstd', 'moving variance', 'dx', 'dgamma', 'dbeta'][i]} at another thread count`),
    );
  // mean 1000, spread 0.01: the float64 variance against the op's (through invstd) and the moving variance.
  const [m2, c2] = [3000, 3];
  const x2 = Float32Array.from(randomArray(m2 * c2, r, -0.02, 0.02), v => 1000 + v);
  const mean = out([c2]),
    inv = out([c2]),
    MV = T([c2]);
  native.batchNormForward(T([m2, c2], x2), out([m2, c2]), null, null, mean, inv, T([c2]), MV, 0, 0, true);
  const mu = Array.from({ length: c2 }, (_, j) => {
    let s = 0;
    for (let i = 0; i < m2; ++i) s += x2[i * c2 + j];
    return s / m2;
  });
  const va = mu.map((u, j) => {
    let s = 0;
    for (let i = 0; i < m2; ++i) s += (x2[i * c2 + j] - u) ** 2;
    return s / m2;
  });
  close(MV.read(), va, 0, 1e-3, 'moving variance (momentum 0: the batch variance)');
  close(
    inv.read(),
    va.map(v => 1 / Math.sqrt(v)),
    0,
    1e-3,
    'invstd (epsilon 0)',
  );
  close(mean.read(), mu, 0, 1e-6, 'mean');
});

B('batchNormFold: folded weights and bias against float64, with and without bias, gamma and beta', () => {
  const r = rng(31),
    [k, c, eps] = [3 * 3 * 4, 5, 1e-3];
  for (const [withB, withG, withBeta] of [
    [true, true, true],
    [false, true, false],
    [true, false, true],
    [false, false, false],
  ]) {
    const w = randomArray(k * c, r),
      b = randomArray(c, r),
      g = randomArray(c, r, 0.5, 2),
      be = randomArray(c, r);
    const mm = randomArray(c, r),
      mv = randomArray(c, r, 0.1, 3);
    const wOut = out([3, 3, 4, c]),
      bOut = out([c]);
    native.batchNormFold(
      T([3, 3, 4, c], w),
      withB ? T([c], b) : null,
      withG ? T([c], g) : null,
      withBeta ? T([c], be) : null,
      T([c], mm),
      T([c], mv),
      eps,
      wOut,
      bOut,
    );
    const scale = Array.from({ length: c }, (_, j) => (withG ? g[j] : 1) / Math.sqrt(mv[j] + eps));
    close(
      wOut.read(),
      Array.from(w, (v, i) => v * scale[i % c]),
      1e-7,
      1e-6,
      'w folded',
    );
    close(
      bOut.read(),
      scale.map((s, j) => ((withB ? b[j] : 0) - mm[j]) * s + (withBeta ? be[j] : 0)),
      1e-6,
      1e-6,
      'b folded',
    );
  }
  assert.throws(
    () => native.batchNormFold(T([4, 5]), null, null, null, T([4]), T([4]), 1e-3, out([4, 5]), out([5])),
    (e: Error & { code?: string }) => e.code === 'ERR_KERNELNET_SHAPE' && /movingMean/.test(e.message),
  );
});

const bnCnn = (seed: number) =>
  new Sequential({
    seed,
    layers: [
      new Conv2D({ filters: 6, kernelSize: 3, inputShape: [8, 8, 1] }),
      new BatchNormalization(),
      new Activation({ activation: 'relu' }),
      new Conv2D({ filters: 8, kernelSize: 3 }),
      new BatchNormalization({ momentum: 0.9 }),
      new Activation({ activation: 'relu' }),
      new GlobalAveragePooling2D(),
      new Dense({ units: 3, activation: 'softmax' }),
    ],
  });

B("a BatchNorm CNN trains; evaluate uses the moving averages; Keras's weights and counts; a frozen layer stays in inference mode", async () => {
  const { x, y } = syntheticData(48);
  const m = bnCnn(7);
  m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adam({ learningRate: 0.01 }), metrics: ['accuracy'] });
  const text = m.summary(() => {});
  assert.match(text, /Total params: 583\nTrainable params: 555\nNon-trainable params: 28/); // 2 x (6 + 8) moving statistics
  const bn = m.getLayer('batch_normalization');
  assert.equal(
    bn.getWeights().map(w => w.shape),
    [[6], [6], [6], [6]],
  );
  const h = await m.fit(x, y, { batchSize: 8, epochs: 8, verbose: 0, validationData: [x, y] });
  assert.ok(h.history.loss[7] < h.history.loss[0] * 0.8, `the loss falls: ${h.history.loss}`);
  const [, , mm, mv] = tidy(() => bn.getWeights().map(w => Array.from(w.dataSync())));
  assert.ok(mm.some(v => v !== 0) && mv.some(v => v !== 1), 'the moving averages moved');
  close([m.evaluate(x, y)[0]], [h.history.val_loss[7]], 1e-6, 1e-5, 'evaluate after fit = the last val_loss (moving statistics)');
  // Frozen: Keras runs a non-trainable BatchNormalization in inference mode, so its moving averages stay.
  bn.trainable = false;
  const frozen = tidy(() => bn.getWeights().map(w => Array.from(w.dataSync())));
  await m.fit(x, y, { batchSize: 8, epochs: 1, verbose: 0 });
  assert.equal(
    tidy(() => bn.getWeights().map(w => Array.from(w.dataSync()))),
    frozen,
  );
  bn.trainable = true;
  throwsA(ValidationError, () => new BatchNormalization({ axis: 1 }), /axis 1 is not supported yet/, 'axis');
  dispose([x, y]);
  m.dispose();
});

B('save/loadModel keeps the moving averages: a resumed run equals an uninterrupted one', async () => {
  const { x, y } = syntheticData(32);
  const a = bnCnn(9),
    b = bnCnn(9);
  for (const m of [a, b]) m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adam({ learningRate: 0.01 }) });
  await a.fit(x, y, { batchSize: 8, epochs: 3, verbose: 0 });
  await b.fit(x, y, { batchSize: 8, epochs: 1, verbose: 0 });
  const path = join(dir, 'bn.safetensors');
  b.save(path);
  const c = loadModel(path);
  await c.fit(x, y, { batchSize: 8, epochs: 3, initialEpoch: 1, verbose: 0 });
  const w = (m: Sequential) => tidy(() => m.getWeights().map(t => Array.from(t.dataSync())));
  assert.equal(w(c), w(a));
  dispose([x, y]);
  for (const m of [a, b, c]) m.dispose();
});

B('inference folds BatchNormalization (and the Activation after it) into the conv or dense before it, with the same results', async () => {
  const { x, y } = syntheticData(48);
  const m = new Sequential({
    seed: 12,
    layers: [
      new Conv2D({ filters: 6, kernelSize: 3, inputShape: [8, 8, 1] }),
      new BatchNormalization(),
      new Activation({ activation: 'relu' }),
      new Conv2D({ filters: 8, kernelSize: 3, useBias: false, padding: 'same' }),
      new BatchNormalization({ center: false, momentum: 0.5 }),
      new Activation({ activation: 'swish' }), // needs its input: not fused, runs on its own
      new Conv2D({ filters: 4, kernelSize: 3, dilationRate: 2, activation: 'relu' }),
      new BatchNormalization(), // not fused: relu before it
      new Flatten(),
      new Dense({ units: 12 }),
      new BatchNormalization({ scale: false, momentum: 0.5 }),
      new LeakyReLU({ alpha: 0.2 }),
      new Dense({ units: 3 }),
      new BatchNormalization({ momentum: 0.5 }),
      new Activation({ activation: 'softmax' }), // the head: not fused
    ],
  });
  const groups = [...foldedInference(Graph.chain(m.layers))].map(([i, g]) => [i, g.last, g.activation]);
  assert.equal(groups, [
    [0, 2, 'relu'],
    [3, 4, 'linear'],
    [9, 11, 'leaky_relu'],
    [12, 13, 'linear'],
  ]);
  m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adam({ learningRate: 0.01 }), metrics: ['accuracy'] });
  await m.fit(x, y, { batchSize: 8, epochs: 4, verbose: 0 }); // moving statistics away from 0 and 1
  const run = (fold: boolean) => {
    m.foldInference = fold;
    return { p: tidy(() => Array.from(m.predict(x, { batchSize: 16 }).dataSync())), e: m.evaluate(x, y) };
  };
  const folded = run(true),
    plain = run(false);
  close(folded.p, plain.p, 1e-6, 1e-4, 'predict, folded against layer by layer');
  close(folded.e, plain.e, 1e-6, 1e-4, 'evaluate, folded against layer by layer');
  dispose([x, y]);
  m.dispose();
});

B.run();
