// sampleWeight and classWeight, as Keras 3 defines them (keras/src/losses/loss.py's reduce_weighted_values with
// "sum_over_batch_size"; keras/src/metrics/reduction_metrics.py's weighted Mean; data_adapter_utils'
// class_weight_to_sample_weights): the loss is sum(w * loss) / N, the accuracy sum(w * hit) / sum(w), a class
// weight is the weight of each example's class (1 for classes not listed), and both at once are refused.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Adadelta, Dense, Flatten, Sequential, ValidationError, dispose, tensor, tidy } from '../lib/index.js';
import { close, syntheticData } from './helpers.js';

const W = suite('sample and class weights');

// No dropout: a training step's forward pass is evaluate's.
const linear = (seed: number) => {
  const m = new Sequential({ seed, layers: [new Flatten({ inputShape: [8, 8, 1] }), new Dense({ units: 3, activation: 'softmax' })] });
  m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta(), metrics: ['accuracy'] });
  return m;
};
const weightsOf = (m: Sequential) => tidy(() => m.getWeights().map(w => Array.from(w.dataSync())));

W('evaluate: loss = sum(w * loss) / N and accuracy = sum(w * hit) / sum(w)', () => {
  const { x, y } = syntheticData(12);
  const m = linear(1);
  const w = [0, 1, 2, 0.5, 3, 1, 0, 2, 1, 1, 4, 0.25];
  const perRow = tidy(() => Array.from({ length: 12 }, (_, i) => m.evaluate(x.slice(i, 1), y.slice(i, 1))));
  const n = 12,
    sw = w.reduce((a, b) => a + b, 0);
  const expectLoss = perRow.reduce((s, [l], i) => s + w[i] * l, 0) / n;
  const expectAcc = perRow.reduce((s, [, a], i) => s + w[i] * a, 0) / sw;
  const [loss, acc] = tidy(() => m.evaluate(x, y, { batchSize: 5, sampleWeight: tensor(w) }));
  close([loss, acc], [expectLoss, expectAcc], 1e-6, 1e-5, 'weighted evaluate');
  const [l0, a0] = tidy(() => m.evaluate(x, y, { sampleWeight: tensor(new Array(12).fill(0)) }));
  assert.equal([l0, a0], [0, 0], 'all weights 0: loss 0, accuracy 0 (divide_no_nan)');
  dispose([x, y]);
  m.dispose();
});

W('fit: the logged loss is the weighted loss; weights of 1 train exactly as none', async () => {
  const { x, y } = syntheticData(12);
  const a = linear(2),
    b = linear(2),
    c = linear(2);
  const w = tensor([0, 1, 2, 0.5, 3, 1, 0, 2, 1, 1, 4, 0.25]);
  const [before] = a.evaluate(x, y, { batchSize: 12, sampleWeight: w });
  const h = await a.fit(x, y, { batchSize: 12, epochs: 1, verbose: 0, sampleWeight: w });
  close(h.history.loss, [before], 1e-6, 1e-5, 'one full batch: the loss of the weights before the step');
  const ones = tensor(new Array(12).fill(1));
  await b.fit(x, y, { batchSize: 5, epochs: 2, verbose: 0, sampleWeight: ones, shuffle: false });
  await c.fit(x, y, { batchSize: 5, epochs: 2, verbose: 0, shuffle: false });
  assert.equal(weightsOf(b), weightsOf(c), 'unit weights change nothing');
  const fresh = linear(2);
  assert.not.equal(weightsOf(a), weightsOf(fresh), 'weights train');
  dispose([x, y, w, ones]);
  for (const m of [a, b, c, fresh]) m.dispose();
});

W("classWeight is the per-example weight of each label's class (classes not listed weigh 1)", async () => {
  const { x, y } = syntheticData(15);
  const a = linear(3),
    b = linear(3);
  const labels = Array.from({ length: 15 }, (_, i) => i % 3); // syntheticData's classes
  const table: Record<number, number> = { 0: 0.5, 2: 3 };
  const manual = tensor(labels.map(c => table[c] ?? 1));
  const ha = await a.fit(x, y, { batchSize: 4, epochs: 2, verbose: 0, classWeight: table });
  const hb = await b.fit(x, y, { batchSize: 4, epochs: 2, verbose: 0, sampleWeight: manual });
  assert.equal(weightsOf(a), weightsOf(b));
  assert.equal(ha.history, hb.history);
  dispose([x, y, manual]);
  a.dispose();
  b.dispose();
});

W("validationSplit splits the sample weights too: val_loss is weighted by the held-out rows' weights", async () => {
  const { x, y } = syntheticData(20);
  const m = linear(4);
  const w = tensor(Array.from({ length: 20 }, (_, i) => (i % 5) / 2));
  const h = await m.fit(x, y, { batchSize: 4, epochs: 1, verbose: 0, sampleWeight: w, validationSplit: 0.25 });
  const [vl, va] = tidy(() => m.evaluate(x.slice(15, 5), y.slice(15, 5), { sampleWeight: w.slice(15, 5) }));
  assert.equal([h.history.val_loss[0], h.history.val_accuracy[0]], [vl, va]);
  const [ul] = tidy(() => m.evaluate(x.slice(15, 5), y.slice(15, 5)));
  assert.not.equal(vl, ul, 'not the unweighted loss');
  dispose([x, y, w]);
  m.dispose();
});

W('refused: both at once (as Keras), a wrong shape, a class that is not one, a non-finite weight', async () => {
  const { x, y } = syntheticData(6);
  const m = linear(5);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ classWeight: { 0: 2 }, sampleWeight: tensor([1, 1, 1, 1, 1, 1]) }, /classWeight and sampleWeight cannot be given together/],
    [{ sampleWeight: tensor([1, 1]) }, /Expected sampleWeight to be a float32 tensor of shape \[6\]/],
    [{ classWeight: { 3: 2 } }, /classWeight's keys to be class indices in \[0, 3\) but received '3'/],
    [{ classWeight: { 1: 'x' } }, /Expected a finite number for classWeight\[1\]/],
    [{ sampleWeight: tensor([1, NaN, 1, 1, 1, 1]) }, /Expected finite weights in sampleWeight but sampleWeight\[1\] is NaN/],
  ];
  for (const [opts, pattern] of cases)
    await m.fit(x, y, { verbose: 0, ...opts }).then(
      () => assert.unreachable(String(pattern)),
      e => {
        assert.instance(e, ValidationError);
        assert.match(e.message, pattern);
      },
    );
  dispose([x, y, cases.map(([opts]) => opts.sampleWeight)]);
  m.dispose();
});

W.run();
