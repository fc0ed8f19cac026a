// Losses and metrics as Keras 3 defines them (keras/src/losses/losses.py, metrics/accuracy_metrics.py,
// trainers/compile_utils.py's resolution of 'accuracy'), against float64 references below: categorical and
// sparse categorical cross-entropy (softmax head fused), binary cross-entropy (sigmoid head fused, averaged
// over the last axis), mean squared and absolute error (averaged over the last axis); each row times its
// weight, the batch's loss over N; accuracy and the mse / mae metrics as weighted means.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Adam,
  BinaryCrossentropy,
  CategoricalCrossentropy,
  Dense,
  Flatten,
  MeanAbsoluteError,
  SGD,
  Sequential,
  SparseCategoricalCrossentropy,
  ValidationError,
  dispose,
  loadModel,
  tensor,
  tidy,
  toCategorical,
} from '../lib/index.js';
import { native } from '../lib/core/native.js';
import { I, T, close, disposeAll, out, randomArray, rng, syntheticData, throwsA } from './helpers.js';

const L = suite('losses and metrics');
L.after.each(disposeAll);
const dir = mkdtempSync(join(tmpdir(), 'kernelnet-loss-'));
L.after(() => rmSync(dir, { recursive: true, force: true }));

type Kind = 'crossentropy' | 'binary_crossentropy' | 'mse' | 'mae';
/** Per row: loss, gradient of the row loss, outputs. */
function rowRef(kind: Kind, z: number[], y: number[]) {
  const k = z.length;
  if (kind === 'crossentropy') {
    const m = Math.max(...z),
      lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
    const p = z.map(v => Math.exp(v - lse));
    return { loss: y.reduce((s, t, j) => s + t * (lse - z[j]), 0), grad: p.map((v, j) => v - y[j]), out: p };
  }
  if (kind === 'binary_crossentropy') {
    const p = z.map(v => 1 / (1 + Math.exp(-v)));
    return {
      loss: z.reduce((s, v, j) => s + Math.max(v, 0) - v * y[j] + Math.log1p(Math.exp(-Math.abs(v))), 0) / k,
      grad: p.map((v, j) => (v - y[j]) / k),
      out: p,
    };
  }
  const d = z.map((v, j) => v - y[j]);
  if (kind === 'mse') return { loss: d.reduce((s, v) => s + v * v, 0) / k, grad: d.map(v => (2 * v) / k), out: z };
  return { loss: d.reduce((s, v) => s + Math.abs(v), 0) / k, grad: d.map(v => Math.sign(v) / k), out: z };
}

L('every loss and its metrics match float64, weighted and not, with one-hot, class-index and binary labels', () => {
  const r = rng(61);
  const cases: [Kind, 'categorical' | 'sparse' | 'binary' | 'none', number][] = [
    ['crossentropy', 'categorical', 5],
    ['crossentropy', 'sparse', 5],
    ['binary_crossentropy', 'binary', 1],
    ['binary_crossentropy', 'binary', 3],
    ['mse', 'none', 4],
    ['mae', 'none', 2],
  ];
  for (const [kind, acc, k] of cases)
    for (const weighted of [false, true]) {
      const n = 11,
        z = randomArray(n * k, r, -4, 4),
        w = Float32Array.from({ length: n }, () => Math.floor(r() * 5) / 2);
      const classes = Int32Array.from({ length: n }, () => Math.floor(r() * k));
      const y = new Float32Array(n * k);
      for (let i = 0; i < n; ++i)
        for (let j = 0; j < k; ++j)
          y[i * k + j] = kind === 'crossentropy' ? (classes[i] === j ? 1 : 0) : kind === 'binary_crossentropy' ? Math.round(r()) : r() * 4 - 2;
      const labels = acc === 'sparse' ? I([n], classes) : T([n, k], y),
        metrics = T([8], new Float32Array(8)),
        dz = out([n, k]);
      native.loss(kind, acc, T([n, k], z), labels, weighted ? T([n], w) : null, dz, metrics, 0);
      let loss = 0,
        hits = 0,
        ws = 0,
        sq = 0,
        ab = 0;
      const grad: number[] = [];
      for (let i = 0; i < n; ++i) {
        const zi = Array.from(z.subarray(i * k, i * k + k)),
          yi = Array.from(y.subarray(i * k, i * k + k)),
          wi = weighted ? w[i] : 1;
        const row = rowRef(kind, zi, yi);
        loss += wi * row.loss;
        grad.push(...row.grad.map(g => (g * wi) / n));
        const argmax = (v: number[]) => v.indexOf(Math.max(...v));
        const hit =
          acc === 'binary'
            ? row.out.filter((o, j) => (o > 0.5 ? 1 : 0) === yi[j]).length / k
            : acc === 'none'
              ? 0
              : argmax(row.out) === (acc === 'sparse' ? classes[i] : argmax(yi))
                ? 1
                : 0;
        hits += wi * hit;
        ws += wi;
        sq += (wi * row.out.reduce((s, o, j) => s + (o - yi[j]) ** 2, 0)) / k;
        ab += (wi * row.out.reduce((s, o, j) => s + Math.abs(o - yi[j]), 0)) / k;
      }
      const what = `${kind} ${acc} k=${k}${weighted ? ' weighted' : ''}`;
      const m = metrics.read();
      close([m[0], m[1], m[2], m[3], m[4], m[5], m[6]], [loss, hits, n, 0, ws, sq, ab], 1e-4, 1e-5, `${what}: metrics`);
      close(dz.read(), grad, 1e-6, 1e-5, `${what}: gradient`);
    }
  throwsA(
    Error,
    () => native.loss('mse', 'none', T([2, 2]), I([2]), null, null, T([8]), 0),
    /expected labels to be a float32 tensor of shape \[2,2\]/,
    'class labels for mse',
  );
});

const dense = (seed: number, units: number, activation: 'softmax' | 'sigmoid' | 'linear') =>
  new Sequential({
    seed,
    layers: [new Flatten({ inputShape: [8, 8, 1] }), new Dense({ units: 8, activation: 'relu' }), new Dense({ units, activation })],
  });
const weightsOf = (m: Sequential) => tidy(() => m.getWeights().map(w => Array.from(w.dataSync())));

L('sparseCategoricalCrossentropy on int32 labels trains exactly as categoricalCrossentropy on their one-hot rows', async () => {
  const { x, y } = syntheticData(24);
  const classes = tensor(Int32Array.from({ length: 24 }, (_, i) => i % 3));
  const a = dense(1, 3, 'softmax'),
    b = dense(1, 3, 'softmax');
  a.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: new SGD({ learningRate: 0.1 }), metrics: ['accuracy'] });
  b.compile({ loss: 'categoricalCrossentropy', optimizer: new SGD({ learningRate: 0.1 }), metrics: ['accuracy'] });
  const ha = await a.fit(x, classes, { batchSize: 8, epochs: 3, verbose: 0 });
  const hb = await b.fit(x, y, { batchSize: 8, epochs: 3, verbose: 0 });
  assert.equal(weightsOf(a), weightsOf(b));
  assert.equal(ha.history, hb.history, 'the same losses and accuracies ("accuracy" resolved to the sparse one)');
  assert.equal(a.evaluate(x, classes), b.evaluate(x, y));
  dispose([x, y, classes]);
  a.dispose();
  b.dispose();
});

L('binaryCrossentropy with a sigmoid head: trains, binary accuracy, predict gives probabilities; fromLogits gives logits', async () => {
  const { x } = syntheticData(32);
  const target = tensor(
    Array.from({ length: 32 }, (_, i) => (i % 3 === 0 ? 1 : 0)),
    [32, 1],
  );
  const a = dense(2, 1, 'sigmoid'),
    b = dense(2, 1, 'linear');
  a.compile({ loss: 'binaryCrossentropy', optimizer: new Adam({ learningRate: 0.01 }), metrics: ['accuracy'] });
  b.compile({ loss: new BinaryCrossentropy({ fromLogits: true }), optimizer: new Adam({ learningRate: 0.01 }), metrics: ['binaryAccuracy'] });
  const ha = await a.fit(x, target, { batchSize: 8, epochs: 8, verbose: 0 });
  const hb = await b.fit(x, target, { batchSize: 8, epochs: 8, verbose: 0 });
  assert.ok(ha.history.loss[7] < ha.history.loss[0] * 0.8, `the loss falls: ${ha.history.loss}`);
  assert.equal(ha.history.loss, hb.history.loss, 'the same fused loss either way');
  assert.equal(ha.history.accuracy, hb.history.binaryAccuracy);
  const [p, z] = tidy(() => [Array.from(a.predict(x).dataSync()), Array.from(b.predict(x).dataSync())]);
  close(
    p,
    z.map(v => 1 / (1 + Math.exp(-v))),
    1e-6,
    1e-5,
    'sigmoid of the logits',
  );
  assert.ok(
    z.some(v => v < 0 || v > 1),
    'fromLogits predicts logits',
  );
  const path = join(dir, 'bce.safetensors');
  b.save(path);
  const c = loadModel(path);
  assert.instance(c.loss, BinaryCrossentropy);
  assert.ok(c.loss!.fromLogits);
  c.dispose();
  dispose([x, target]);
  a.dispose();
  b.dispose();
});

L('mse and mae regress; metrics are logged under the names given, evaluate returns [loss, ...metrics]', async () => {
  const r = rng(62),
    n = 40;
  const x = tensor(randomArray(n * 64, r, 0, 1), [n, 8, 8, 1]);
  const xs = x.dataSync(),
    t = tensor(Array.from({ length: n }, (_, i) => [xs[i * 64] + 2 * xs[i * 64 + 1], xs[i * 64 + 2] - 0.5]).flat(), [n, 2]);
  const m = dense(3, 2, 'linear');
  m.compile({ loss: 'mse', optimizer: new Adam({ learningRate: 0.01 }), metrics: ['mae', 'mean_squared_error'] });
  const h = await m.fit(x, t, { batchSize: 8, epochs: 20, verbose: 0, validationSplit: 0.25 });
  assert.equal(Object.keys(h.history).sort(), ['loss', 'lr', 'mae', 'mean_squared_error', 'val_loss', 'val_mae', 'val_mean_squared_error']);
  assert.ok(h.history.loss[19] < h.history.loss[0] / 3, `the loss falls: ${h.history.loss[0]} -> ${h.history.loss[19]}`);
  close(h.history.loss, h.history.mean_squared_error, 1e-6, 1e-5, 'the mse metric is the mse loss');
  const ev = m.evaluate(x, t);
  assert.is(ev.length, 3);
  const mae = new Sequential({ seed: 3, layers: [new Flatten({ inputShape: [8, 8, 1] }), new Dense({ units: 2 })] });
  mae.compile({ loss: new MeanAbsoluteError(), optimizer: 'sgd', metrics: ['mse'] });
  const hm = await mae.fit(x, t, { batchSize: 8, epochs: 3, verbose: 0 });
  assert.ok(hm.history.loss.every(Number.isFinite) && hm.history.mse.every(Number.isFinite));
  dispose([x, t]);
  m.dispose();
  mae.dispose();
});

L('refused: a head the loss cannot fuse, softmax under an error loss, labels the loss cannot read', async () => {
  const { x, y } = syntheticData(6);
  const soft = dense(1, 3, 'softmax'),
    lin = dense(1, 3, 'linear'),
    one = dense(1, 1, 'sigmoid');
  throwsA(
    ValidationError,
    () => lin.compile({ loss: 'binaryCrossentropy', optimizer: 'sgd' }),
    /needs a last layer with activation 'sigmoid' \(or fromLogits: true/,
    'bce head',
  );
  throwsA(
    ValidationError,
    () => soft.compile({ loss: 'mse', optimizer: 'sgd' }),
    /ends in softmax, whose gradient kernelnet computes fused with cross-entropy only/,
    'mse softmax',
  );
  throwsA(
    ValidationError,
    () => one.compile({ loss: new BinaryCrossentropy({ fromLogits: true }), optimizer: 'sgd' }),
    /already applies sigmoid/,
    'double sigmoid',
  );
  throwsA(
    ValidationError,
    () => soft.compile({ loss: 'categoricalCrossentropy', optimizer: 'sgd', metrics: ['sparseCategoricalAccuracy'] }),
    /needs class-index labels/,
    'sparse metric',
  );
  throwsA(
    ValidationError,
    () => new CategoricalCrossentropy({ labelSmoothing: 0.1 } as never),
    /labelSmoothing is not supported yet/,
    'label smoothing',
  );
  soft.compile({ loss: new SparseCategoricalCrossentropy(), optimizer: 'sgd' });
  await soft.fit(x, y, { verbose: 0 }).then(
    () => assert.unreachable('one-hot for sparse'),
    e =>
      assert.match(
        e.message,
        /Expected y to be class indices of shape \[N\] or \[N, 1\] .* but received float32 \[6, 3\]; one-hot labels take categoricalCrossentropy/,
      ),
  );
  const bad = tensor(Int32Array.of(0, 1, 2, 3, 0, 1));
  await soft.fit(x, bad, { verbose: 0 }).then(
    () => assert.unreachable('class 3'),
    e => assert.match(e.message, /class indices in \[0, 3\) but y\[3\] is 3/),
  );
  const twice = toCategorical([0, 1, 1, 0, 1, 1], 3);
  lin.compile({ loss: new CategoricalCrossentropy({ fromLogits: true }), optimizer: 'sgd' });
  await lin.fit(x, twice, { verbose: 0 }); // fromLogits: a linear head is right
  dispose([x, y, bad, twice]);
  for (const m of [soft, lin, one]) m.dispose();
});

L.run();
