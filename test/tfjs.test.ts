// kernelnet/tfjs: a training script written for tfjs-node runs with its import changed, and the tfjs layers-model
// format works both ways against the real TensorFlow.js (@tensorflow/tfjs-core, -layers and -backend-cpu: the
// pure-JavaScript packages that @tensorflow/tfjs bundles). What tfjs returns is pinned from its sources: evaluate
// gives scalar tensors, fit's logs name the 'accuracy' metric 'acc' (tfjs-layers' training.ts), setBackend
// resolves false for a backend it does not have, oneHot's rows are int32 (tfjs-core's oneHot) and fit casts such
// targets to float32 as tfjs's fit does.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as tfc from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tf from '../lib/tfjs.js';
import { loadMnist, memory as knMemory } from '../lib/index.js';
import { close, settledLiveTensors } from './helpers.js';

tfc.env().set('IS_TEST', true); // tfjs's banner suggesting tfjs-node
const J = suite('kernelnet/tfjs');
const dir = mkdtempSync(join(tmpdir(), 'kernelnet-tfjs-'));
J.after(() => rmSync(dir, { recursive: true, force: true }));

/** MNIST as a tfjs user's own loader would hand it over: plain typed arrays. */
function mnistArrays(trainLimit: number, testLimit: number) {
  const { train, test } = loadMnist(undefined, { trainLimit, testLimit });
  const out = {
    trainImages: train.images.dataSync() as Float32Array,
    trainLabels: train.labels.dataSync() as Int32Array,
    testImages: test.images.dataSync() as Float32Array,
    testLabels: test.labels.dataSync() as Int32Array,
  };
  for (const t of [train.images, train.labels, test.images, test.labels]) t.dispose();
  return out;
}

/**
 * A tfjs-node training script (the shape of tfjs's own mnist-node example), unchanged but for the `tf` it is
 * given: kernelnet/tfjs here. It returns what it printed.
 */
async function tfjsScript(tfx: typeof tf, data: ReturnType<typeof mnistArrays>, saveTo: string) {
  const model = tfx.sequential();
  model.add(tfx.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, activation: 'relu' }));
  model.add(tfx.layers.maxPooling2d({ poolSize: [2, 2] }));
  model.add(tfx.layers.flatten());
  model.add(tfx.layers.dropout({ rate: 0.25 }));
  model.add(tfx.layers.dense({ units: 64, activation: 'relu' }));
  model.add(tfx.layers.dense({ units: 10, activation: 'softmax' }));
  model.compile({ optimizer: tfx.train.sgd(0.1), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  model.summary(undefined, undefined, () => {});

  const n = data.trainLabels.length,
    m = data.testLabels.length;
  const xs = tfx.tensor4d(data.trainImages, [n, 28, 28, 1]);
  const labels = tfx.tensor1d(data.trainLabels, 'int32');
  const ys = tfx.oneHot(labels, 10);
  const seen: { epoch: number; acc: number; valAcc: number }[] = [];
  const history = await model.fit(xs, ys, {
    epochs: 3,
    batchSize: 64,
    validationSplit: 0.15,
    verbose: 0,
    callbacks: {
      onEpochEnd: async (epoch: number, logs?: Record<string, number>) => {
        seen.push({ epoch, acc: logs!.acc, valAcc: logs!.val_acc });
        await tfx.nextFrame();
      },
    },
  });
  const testXs = tfx.tensor4d(data.testImages, [m, 28, 28, 1]);
  const testYs = tfx.tidy(() => tfx.oneHot(tfx.tensor1d(data.testLabels, 'int32'), 10));
  const [loss, acc] = model.evaluate(testXs, testYs) as tf.Tensor[];
  const evaluated = { loss: loss.dataSync()[0], acc: (await acc.data())[0], shape: acc.shape };
  const predicted = tfx.tidy(() => Array.from((model.predict(testXs) as tf.Tensor).argMax(-1).dataSync()));
  await model.save(saveTo);
  tfx.dispose([xs, labels, ys, testXs, testYs, loss, acc]);
  model.dispose();
  return { history, seen, evaluated, predicted };
}

J('a tfjs-node training script runs with one changed import, on MNIST', async () => {
  const before = await settledLiveTensors(); // not moved by another test's garbage collected meanwhile
  const data = mnistArrays(3000, 500);
  const r = await tfjsScript(tf, data, `file://${join(dir, 'script-model')}`);
  assert.equal(
    r.seen.map(s => s.epoch),
    [0, 1, 2],
  );
  assert.ok(
    r.seen.every(s => s.acc > 0 && s.acc <= 1 && s.valAcc > 0 && s.valAcc <= 1),
    `acc and val_acc in the logs: ${JSON.stringify(r.seen)}`,
  );
  // tfjs's History names the metric 'acc'; kernelnet keeps Keras 3's 'accuracy' beside it.
  assert.equal(r.history.history.acc, r.history.history.accuracy);
  assert.equal(r.history.history.val_acc.length, 3);
  assert.equal(r.evaluated.shape, [], 'evaluate returns scalar tensors');
  assert.ok(r.evaluated.acc > 0.75, `test accuracy after 3 epochs on 2,550 images: ${r.evaluated.acc}`); // 0.83 seen
  const hits = r.predicted.filter((p, i) => p === data.testLabels[i]).length / r.predicted.length;
  close([hits], [r.evaluated.acc], 1e-6, 0, 'predict().argMax(-1) agrees with evaluate');
  const saved = JSON.parse(readFileSync(join(dir, 'script-model', 'model.json'), 'utf8'));
  assert.is(saved.format, 'layers-model');
  assert.is(await settledLiveTensors(), before, 'the script disposed everything it made');
});

/** A small model with every layer the format maps, trained a little so that BatchNormalization's statistics move. */
function layersIn(lib: typeof tf | typeof tfl) {
  const L = lib.layers as typeof tf.layers;
  return [
    L.conv2d({ inputShape: [28, 28, 1], filters: 4, kernelSize: 3, activation: 'relu', padding: 'same' }),
    L.batchNormalization(),
    L.maxPooling2d({ poolSize: 2 }),
    L.conv2d({ filters: 6, kernelSize: [3, 3], strides: 2, useBias: false, kernelInitializer: 'heNormal' }),
    L.averagePooling2d({ poolSize: 2, padding: 'same' }),
    L.leakyReLU({ alpha: 0.1 }),
    L.flatten(),
    L.dropout({ rate: 0.2 }),
    L.dense({ units: 16, activation: 'tanh' }),
    L.activation({ activation: 'sigmoid' }),
    L.dense({ units: 10, activation: 'softmax' }),
  ];
}

function sameClasses(a: number[], b: number[], what: string) {
  const differ = a.filter((v, i) => v !== b[i]).length;
  assert.ok(differ === 0, `${what}: ${differ} of ${a.length} predicted classes differ`);
}

J('a kernelnet model saved to file:// loads in TensorFlow.js and predicts the same', async () => {
  await tfc.setBackend('cpu');
  const data = mnistArrays(512, 64);
  const model = tf.sequential({ layers: layersIn(tf) });
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
  const xs = tf.tensor4d(data.trainImages, [512, 28, 28, 1]),
    ys = tf.oneHot(Array.from(data.trainLabels), 10);
  await model.fit(xs, ys, { epochs: 2, batchSize: 32, verbose: 0 });
  const testXs = tf.tensor4d(data.testImages, [64, 28, 28, 1]);
  const ours = tf.tidy(() => (model.predict(testXs) as tf.Tensor).dataSync() as Float32Array);
  await model.save(`file://${join(dir, 'to-tfjs')}`);

  // Read as a browser or tfjs-node would: model.json and the weight files its manifest names.
  const json = JSON.parse(readFileSync(join(dir, 'to-tfjs', 'model.json'), 'utf8'));
  const weightData = readFileSync(join(dir, 'to-tfjs', json.weightsManifest[0].paths[0]));
  const theirs = await tfl.loadLayersModel(
    tfc.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest[0].weights,
      weightData: weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.byteLength),
    }),
  );
  const x = tfc.tensor4d(data.testImages, [64, 28, 28, 1]);
  const p = theirs.predict(x) as tfc.Tensor;
  const probs = p.dataSync() as Float32Array;
  close(probs, ours, 1e-5, 1e-3, 'tfjs predicts what kernelnet predicted');
  const argmax = (v: Float32Array) =>
    Array.from({ length: v.length / 10 }, (_, i) => {
      const row = v.subarray(i * 10, i * 10 + 10);
      return row.indexOf(Math.max(...row));
    });
  sameClasses(argmax(probs), argmax(ours), 'kernelnet -> tfjs');
  tfc.dispose([x, p]);
  theirs.dispose();
  tf.dispose([xs, ys, testXs]);
  model.dispose();
});

J('a model TensorFlow.js trained and saved loads in kernelnet, predicts the same and trains on', async () => {
  await tfc.setBackend('cpu');
  const data = mnistArrays(256, 64);
  const theirs = tfl.sequential({ layers: layersIn(tfl) as never });
  theirs.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const xs = tfc.tensor4d(data.trainImages, [256, 28, 28, 1]),
    ys = tfc.oneHot(tfc.tensor1d(data.trainLabels, 'int32'), 10);
  await theirs.fit(xs, ys, { epochs: 1, batchSize: 32, verbose: 0 });
  // Saved as tfjs-node's file:// handler lays it out: model.json with a manifest, weights.bin beside it.
  await theirs.save(
    tfc.io.withSaveHandler(async a => {
      writeFileSync(join(dir, 'from-tfjs-weights.bin'), new Uint8Array(a.weightData as ArrayBuffer));
      writeFileSync(
        join(dir, 'from-tfjs.json'),
        JSON.stringify({
          modelTopology: a.modelTopology,
          format: a.format,
          generatedBy: a.generatedBy,
          weightsManifest: [{ paths: ['from-tfjs-weights.bin'], weights: a.weightSpecs }],
        }),
      );
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const x = tfc.tensor4d(data.testImages, [64, 28, 28, 1]);
  const p = theirs.predict(x) as tfc.Tensor;
  const expected = p.dataSync() as Float32Array;

  const model = await tf.loadLayersModel(`file://${join(dir, 'from-tfjs.json')}`);
  assert.equal(
    model.layers.map(l => l.className),
    theirs.layers.map(l => l.getClassName()),
  );
  const testXs = tf.tensor4d(data.testImages, [64, 28, 28, 1]);
  const ours = tf.tidy(() => (model.predict(testXs) as tf.Tensor).dataSync() as Float32Array);
  close(ours, expected, 1e-5, 1e-3, 'kernelnet predicts what tfjs predicted');
  // And it trains on: compiled as a tfjs user would, the loss falls.
  model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const kx = tf.tensor4d(data.trainImages, [256, 28, 28, 1]),
    ky = tf.oneHot(Array.from(data.trainLabels), 10);
  const h = await model.fit(kx, ky, { epochs: 3, batchSize: 32, verbose: 0 });
  assert.ok(h.history.loss[2] < h.history.loss[0], `the loss falls: ${h.history.loss}`);
  tfc.dispose([xs, ys, x, p]);
  theirs.dispose();
  tf.dispose([testXs, kx, ky]);
  model.dispose();
});

// (after the round trips: reads the file the first one wrote)
J('what is out of scope says so: general tensor math, unknown layers, optimizers and backends', async () => {
  const refused = (fn: () => unknown, re: RegExp, what: string) =>
    assert.throws(fn, (e: Error & { code?: string }) => e.code === 'ERR_KERNELNET_UNSUPPORTED' && re.test(e.message), what);
  for (const name of tf.OUT_OF_SCOPE_NAMES)
    refused(() => (tf as unknown as Record<string, () => unknown>)[name](), new RegExp(`tf\\.${name} is not supported`), name);
  refused(() => (tf.layers as unknown as Record<string, () => unknown>).lstm(), /tf\.layers\.lstm .*kernelnet has conv2d, dense/, 'lstm');
  refused(() => (tf.train as unknown as Record<string, () => unknown>).ftrl(), /tf\.train\.ftrl/, 'ftrl');
  refused(() => tf.tensor([1, 2], [2], 'complex64' as never), /dtype 'complex64'/, 'complex64');
  const remote = await tf.loadLayersModel('ftp://example.com/model.json').then(
    () => null,
    (e: Error & { code?: string }) => e,
  );
  assert.ok(remote?.code === 'ERR_KERNELNET_UNSUPPORTED' && /file:\/\//.test(remote.message), 'ftp:// refused');
  // A file with what kernelnet would not honour is refused by name, and leaves no tensor behind.
  const json = JSON.parse(readFileSync(join(dir, 'to-tfjs', 'model.json'), 'utf8'));
  json.modelTopology.config.layers[0].config.kernel_regularizer = { class_name: 'L2', config: { l2: 0.01 } };
  writeFileSync(join(dir, 'to-tfjs', 'regularized.json'), JSON.stringify(json));
  const live = knMemory().liveTensors;
  const bad = await tf.loadLayersModel(`file://${join(dir, 'to-tfjs', 'regularized.json')}`).then(
    () => null,
    (e: Error & { code?: string }) => e,
  );
  assert.ok(bad?.code === 'ERR_KERNELNET_UNSUPPORTED' && /layer 0 \(Conv2D\): kernel_regularizer .*not supported/.test(bad.message), String(bad));
  assert.is(knMemory().liveTensors, live);
  const leaky = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2, activation: 'leakyRelu' as never })] });
  const noLeaky = await leaky.save(`file://${join(dir, 'leaky')}`).then(
    () => null,
    (e: Error & { code?: string }) => e,
  );
  assert.ok(noLeaky?.code === 'ERR_KERNELNET_UNSUPPORTED' && /no 'leaky_relu' activation/.test(noLeaky.message), String(noLeaky));
  leaky.dispose();
  const warn = console.warn;
  console.warn = () => {};
  try {
    assert.is(await tf.setBackend('webgl'), false);
  } finally {
    console.warn = warn;
  }
  assert.is(await tf.setBackend('cpu'), true);
  assert.is(tf.getBackend(), 'cpu');
  assert.is(await tf.setBackend('tensorflow'), true);
  // Tensor creation as tfjs spells it.
  const made = [
    tf.scalar(2),
    tf.tensor2d([
      [1, 2],
      [3, 4],
    ]),
    tf.zeros([2, 3]),
    tf.ones([4], 'int32'),
    tf.tensor([1, 2, 3], [3], 'int32'),
  ];
  assert.equal(
    made.map(t => [t.shape, t.dtype]),
    [
      [[], 'float32'],
      [[2, 2], 'float32'],
      [[2, 3], 'float32'],
      [[4], 'int32'],
      [[3], 'int32'],
    ],
  );
  assert.equal(Array.from(made[3].dataSync()), [1, 1, 1, 1]);
  assert.throws(() => tf.tensor3d([1, 2]), /tensor3d: expected a rank-3 tensor/);
  const m = tf.memory();
  assert.ok(m.numTensors >= made.length && m.numBytes > 0);
  tf.dispose(made);
  assert.ok(typeof tf.util.now() === 'number');
});

J('require("kernelnet/tfjs") works from CommonJS', () => {
  const r = spawnSync(
    process.execPath,
    ['-e', "const tf = require('kernelnet/tfjs'); const t = tf.tensor1d([1, 2]); console.log(typeof tf.sequential, t.shape.join()); t.dispose();"],
    { encoding: 'utf8', cwd: process.cwd() },
  );
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout.trim(), 'function 2');
});

J.run();
