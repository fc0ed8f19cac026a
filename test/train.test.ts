// End to end on real MNIST, on the CPU: the seed model trained for one epoch on the first 20,000 training
// images (batch 64, so 313 updates; it lands near 96.5%) must reach at least 95% accuracy on the 10,000 test images.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { dispose, loadMnist, memory, tidy, toCategorical } from '../lib/index.js';
import { native } from '../lib/core/native.js';
import { exact, seedModel } from './helpers.js';

const Train = suite('mnist_cnn end to end');

Train('one epoch on 20,000 real MNIST images reaches 95% test accuracy', async () => {
  const before = memory().liveTensors;
  const { train, test } = loadMnist(undefined, { trainLimit: 20_000 });
  const yTrain = toCategorical(train.labels, 10),
    yTest = toCategorical(test.labels, 10);
  const model = seedModel(7);
  const history = await model.fit(train.images, yTrain, { batchSize: 64, epochs: 1, verbose: 0 });
  const [loss, accuracy] = model.evaluate(test.images, yTest, { batchSize: 256 });
  console.log(`\n  train loss ${history.history.loss[0].toFixed(4)}, test loss ${loss.toFixed(4)}, test accuracy ${(accuracy * 100).toFixed(2)}%`);
  assert.ok(accuracy >= 0.95, `test accuracy ${accuracy}`);
  assert.ok(loss < 0.2, `test loss ${loss}`);
  model.dispose();
  for (const t of [train.images, train.labels, test.images, test.labels, yTrain, yTest]) t.dispose();
  assert.is(memory().liveTensors, before);
});

// Every CPU op sums in an order fixed by the shapes, never by the thread count (the batch's weight gradients in
// chunks fixed by the batch size), so the seed model trained at 1, 2 and 3 threads ends with the same bits.
Train('the same weights, bit for bit, at every thread count', async () => {
  const { train } = loadMnist(undefined, { trainLimit: 640, testLimit: 0 });
  const y = toCategorical(train.labels, 10);
  const before = native.numThreads(),
    weights: number[][][] = [];
  try {
    for (const threads of [1, 2, 3]) {
      native.numThreads(threads);
      const model = seedModel(3);
      await model.fit(train.images, y, { batchSize: 128, epochs: 2, verbose: 0 });
      weights.push(tidy(() => model.getWeights().map(w => Array.from(w.dataSync()))));
      model.dispose();
    }
  } finally {
    native.numThreads(before);
  }
  for (const w of weights.slice(1)) w.forEach((v, i) => exact(v, weights[0][i], `weight ${i} at another thread count`));
  dispose([train.images, train.labels, y]);
});

Train.run();
