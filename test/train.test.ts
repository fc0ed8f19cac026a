// End to end on real MNIST, on the CPU: the seed model trained for one epoch on the first 20,000 training
// images (batch 64, so 313 updates; it lands near 96.5%) must reach at least 95% accuracy on the 10,000 test images.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Adadelta, Conv2D, Dense, Dropout, Flatten, MaxPooling2D, Sequential, loadMnist, memory, toCategorical,
} from '../lib/index.js';

const Train = suite('mnist_cnn end to end');

Train('one epoch on 20,000 real MNIST images reaches 95% test accuracy', async () => {
  const before = memory().liveTensors;
  const { train, test } = loadMnist(undefined, { trainLimit: 20_000 });
  const yTrain = toCategorical(train.labels, 10), yTest = toCategorical(test.labels, 10);
  const model = new Sequential({ seed: 7 });
  model.add(new Conv2D({ filters: 32, kernelSize: [3, 3], activation: 'relu', inputShape: [28, 28, 1] }));
  model.add(new Conv2D({ filters: 64, kernelSize: [3, 3], activation: 'relu' }));
  model.add(new MaxPooling2D({ poolSize: [2, 2] }));
  model.add(new Dropout({ rate: 0.25 }));
  model.add(new Flatten());
  model.add(new Dense({ units: 128, activation: 'relu' }));
  model.add(new Dropout({ rate: 0.5 }));
  model.add(new Dense({ units: 10, activation: 'softmax' }));
  model.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta({ learningRate: 1.0 }), metrics: ['accuracy'] });
  const history = await model.fit(train.images, yTrain, { batchSize: 64, epochs: 1, verbose: 0 });
  const [loss, accuracy] = model.evaluate(test.images, yTest, { batchSize: 256 });
  console.log(`\n  train loss ${history.history.loss[0].toFixed(4)}, test loss ${loss.toFixed(4)}, test accuracy ${(accuracy * 100).toFixed(2)}%`);
  assert.ok(accuracy >= 0.95, `test accuracy ${accuracy}`);
  assert.ok(loss < 0.2, `test loss ${loss}`);
  model.dispose();
  for (const t of [train.images, train.labels, test.images, test.labels, yTrain, yTest]) t.dispose();
  assert.is(memory().liveTensors, before);
});

Train.run();
