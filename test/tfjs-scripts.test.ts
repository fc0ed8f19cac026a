// kernelnet/tfjs against the calls that tfjs-node training scripts make around their models: the MNIST convnet
// scripts (IDX buffers to tensor4d, oneHot labels, tfjs initializer names, fit with callbacks, evaluate and
// dataSync), the housing-price regression (normalisation with tf.moments, sub, div and sqrt on an [N, F] tensor,
// tf.util.shuffle and gather splits, fit with validationData), the phishing classifier (train/test split with
// tf.split and slice, a binary model, the threshold, confusion-matrix counts and ROC computed with tensor ops and
// tf.metrics) and the abalone regression (tensor2d from arrays, tensor methods, save and load). Each script's data
// is synthetic and small. Numbers are checked against TensorFlow.js itself (@tensorflow/tfjs-core with its CPU
// backend, and @tensorflow/tfjs-layers for models given the same weights), computed in the same test.
// The custom training loops: snake-dqn's replay step (tf.buffer states, variableGrads, a frozen target network) and
// the first calls of tf.grad and tf.variable (test/tfjs-grads.test.ts has the rest).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as tfc from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tf from '../lib/tfjs.js';
import { close, rng } from './helpers.js';

tfc.env().set('IS_TEST', true); // tfjs's banner suggesting tfjs-node
const S = suite('kernelnet/tfjs: the calls of tfjs-node example scripts');
const dir = mkdtempSync(join(tmpdir(), 'kernelnet-tfjs-scripts-'));
S.before(async () => {
  await tfc.setBackend('cpu');
});
S.after(() => rmSync(dir, { recursive: true, force: true }));

const values = (t: tf.Tensor | tfc.Tensor) => Array.from(t.dataSync() as ArrayLike<number>);

/** A tfjs-layers model given the kernelnet model's weights, as they are read back. */
function tfjsTwin(model: tf.LayersModel, layers: unknown[]): tfl.Sequential {
  const twin = tfl.sequential({ layers: layers as tfl.layers.Layer[] });
  const weights = model.getWeights();
  twin.setWeights(weights.map(w => tfc.tensor(w.dataSync() as Float32Array, w.shape)));
  tf.dispose(weights);
  return twin;
}

// --- MNIST convnet scripts ----------------------------------------------------------------------------------

const SIDE = 12,
  CLASSES = 10;

/** IDX-like records: an image per example (floats in [0, 1]) and its label byte, the digit a bright square's place. */
function digitRecords(n: number, seed: number) {
  const r = rng(seed);
  const images: Float32Array[] = [],
    labels: Int32Array[] = [];
  for (let i = 0; i < n; ++i) {
    const label = i % CLASSES;
    const img = new Float32Array(SIDE * SIDE);
    for (let p = 0; p < img.length; ++p) img[p] = 0.1 * r();
    const y0 = 1 + 5 * Math.floor(label / 5),
      x0 = 1 + 2 * (label % 5);
    for (let y = y0; y < y0 + 4; ++y) for (let x = x0; x < x0 + 2; ++x) img[y * SIDE + x] = 0.8 + 0.2 * r();
    images.push(img);
    labels.push(Int32Array.of(label));
  }
  return { images, labels };
}

/** The scripts' getData_: one Float32Array and one Int32Array sized with tf.util.sizeFromShape, then tensors. */
function mnistTensors(lib: typeof tf, records: ReturnType<typeof digitRecords>) {
  const size = records.images.length;
  lib.util.assert(records.labels.length === size, () => `Mismatch in the number of images (${size}) and labels`);
  const imagesShape = [size, SIDE, SIDE, 1];
  const images = new Float32Array(lib.util.sizeFromShape(imagesShape));
  const labels = new Int32Array(lib.util.sizeFromShape([size, 1]));
  let imageOffset = 0,
    labelOffset = 0;
  for (let i = 0; i < size; ++i) {
    images.set(records.images[i], imageOffset);
    labels.set(records.labels[i], labelOffset);
    imageOffset += SIDE * SIDE;
    labelOffset += 1;
  }
  const indices = lib.tensor1d(labels, 'int32');
  const hot = lib.oneHot(indices, CLASSES);
  const out = { images: lib.tensor4d(images, imagesShape as [number, number, number, number]), labels: hot.toFloat(), flat: labels };
  lib.dispose([indices, hot]);
  return out;
}

/** The scripts' convnet (smaller), with tfjs's initializer names. */
function convnetLayers(lib: typeof tf | typeof tfl) {
  const L = lib.layers as typeof tf.layers;
  return [
    L.conv2d({ inputShape: [SIDE, SIDE, 1], filters: 8, kernelSize: 3, activation: 'relu', kernelInitializer: 'heNormal', biasInitializer: 'zeros' }),
    L.conv2d({ filters: 8, kernelSize: 3, activation: 'relu', kernelInitializer: 'glorotUniform' }),
    L.maxPooling2d({ poolSize: [2, 2] }),
    L.flatten(),
    L.dropout({ rate: 0.25 }),
    L.dense({ units: 32, activation: 'relu', kernelInitializer: 'heUniform' }),
    L.dropout({ rate: 0.5 }),
    L.dense({ units: CLASSES, activation: 'softmax', kernelInitializer: 'glorotNormal' }),
  ];
}

S('MNIST scripts: typed arrays to tensor4d, oneHot labels, rmsprop convnet, fit with callbacks, evaluate', async () => {
  const before = tf.memory().numTensors;
  const train = mnistTensors(tf, digitRecords(300, 1));
  const test = mnistTensors(tf, digitRecords(100, 2));
  assert.equal(train.images.shape, [300, SIDE, SIDE, 1]);
  assert.equal([train.labels.shape, train.labels.dtype], [[300, CLASSES], 'float32']);
  // oneHot(...).toFloat() as tfjs computes it
  const theirIdx = tfc.tensor1d(test.flat, 'int32');
  const theirHot = tfc.oneHot(theirIdx, CLASSES);
  assert.equal(values(test.labels), values(theirHot));
  tfc.dispose([theirIdx, theirHot]);

  const model = tf.sequential();
  for (const layer of convnetLayers(tf)) model.add(layer);
  model.compile({ optimizer: 'rmsprop', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const lines: string[] = [];
  model.summary(undefined, undefined, line => lines.push(line));
  assert.ok(
    lines.some(l => /^Total params: \d+/.test(l)),
    'summary prints the parameter count',
  );

  const epochs: number[] = [];
  const history = await model.fit(train.images, train.labels, {
    epochs: 4,
    batchSize: 32,
    validationSplit: 0.15,
    verbose: 0,
    // the quantization script passes one callback, not a list; mnist-node's browser twin passes an object of hooks
    callbacks: [
      tf.callbacks.earlyStopping({ patience: 20 }),
      {
        onEpochEnd: async (epoch: number, logs?: Record<string, number>) => {
          assert.ok(logs!.acc >= 0 && logs!.acc <= 1 && logs!.val_acc >= 0 && logs!.val_loss > 0, JSON.stringify(logs));
          epochs.push(epoch);
          await tf.nextFrame();
        },
      },
    ],
  });
  assert.equal(epochs, [0, 1, 2, 3]);
  assert.is(history.history.loss.length, 4);
  assert.ok(history.history.loss[3] < history.history.loss[0], `the loss falls: ${history.history.loss}`);

  const evalOutput = model.evaluate(test.images, test.labels) as tf.Tensor[];
  assert.is(evalOutput.length, 2);
  const loss = evalOutput[0].dataSync()[0],
    acc = evalOutput[1].dataSync()[0];
  assert.ok(acc > 0.5, `test accuracy ${acc.toFixed(3)}`);

  // tfjs-layers, given these weights, evaluates the same loss and accuracy
  const twin = tfjsTwin(model, convnetLayers(tfl));
  twin.compile({ optimizer: 'rmsprop', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const x = tfc.tensor4d(test.images.dataSync() as Float32Array, test.images.shape as [number, number, number, number]);
  const y = tfc.tensor2d(test.labels.dataSync() as Float32Array, [100, CLASSES]);
  const theirs = twin.evaluate(x, y) as tfc.Scalar[];
  close([loss, acc], [theirs[0].dataSync()[0], theirs[1].dataSync()[0]], 1e-5, 1e-4, 'evaluate vs tfjs-layers');
  const predicted = tf.tidy(() => values((model.predict(test.images) as tf.Tensor).argMax(-1)));
  close([predicted.filter((p, i) => p === test.flat[i]).length / 100], [acc], 1e-6, 0, 'predict().argMax(-1) agrees with evaluate');
  tfc.dispose([x, y, ...theirs]);
  twin.dispose();

  tf.dispose([train.images, train.labels, test.images, test.labels, ...evalOutput]);
  model.dispose();
  assert.is(tf.memory().numTensors, before, 'every tensor disposed');
});

S('MNIST scripts: a file with a mismatched label count fails tf.util.assert with the message', () => {
  const records = digitRecords(4, 3);
  records.labels.pop();
  assert.throws(() => mnistTensors(tf, records), /Mismatch in the number of images \(4\)/);
});

// --- housing-price regression (quantization example) --------------------------------------------------------

const FEATURES = 8;

/** Housing-like rows: 8 features on very different scales, and a price. */
function housingRows(n: number, seed: number) {
  const r = rng(seed);
  const features: number[] = [],
    labels: number[] = [];
  for (let i = 0; i < n; ++i) {
    const row = [-124 + 10 * r(), 32 + 10 * r(), 1 + 50 * r(), 200 + 6000 * r(), 40 + 1200 * r(), 100 + 9000 * r(), 40 + 1100 * r(), 0.5 + 10 * r()];
    features.push(...row);
    labels.push(40000 * row[7] + 1500 * row[2] - 8000 * (row[1] - 34) + 20000 * (r() - 0.5));
  }
  return { features, labels };
}

S('housing script: tf.moments statistics, normalisation with sub/div/sqrt, tf.util.shuffle splits, fit with validationData', async () => {
  const before = tf.memory().numTensors;
  const n = 240;
  const { features, labels } = housingRows(n, 4);

  // per-column statistics as getDatasetStats computes them: tf.moments of plain arrays, in a tidy returning numbers
  const column = (j: number) => features.filter((_, i) => i % FEATURES === j);
  const stats = tf.tidy(() => {
    const means: number[] = [],
      stddevs: number[] = [];
    for (let j = 0; j < FEATURES; ++j) {
      const { mean, variance } = tf.moments(column(j));
      means.push(mean.arraySync() as number);
      stddevs.push(tf.sqrt(variance).arraySync() as number);
    }
    const m = tf.moments(labels);
    return { means, stddevs, labelMean: m.mean.arraySync() as number, labelStddev: tf.sqrt(m.variance).arraySync() as number };
  });
  const theirStats = tfc.tidy(() => {
    const means: number[] = [],
      stddevs: number[] = [];
    for (let j = 0; j < FEATURES; ++j) {
      const { mean, variance } = tfc.moments(column(j));
      means.push(mean.arraySync() as number);
      stddevs.push(tfc.sqrt(variance).arraySync() as number);
    }
    return { means, stddevs };
  });
  close(stats.means, theirStats.means, 1e-3, 1e-5, 'column means');
  close(stats.stddevs, theirStats.stddevs, 1e-3, 1e-4, 'column standard deviations');

  // the same on the [N, F] tensor at once: moments over axis 0, then (x - mean) / sqrt(variance)
  const raw = tf.tensor2d(features, [n, FEATURES]);
  const { mean, variance } = tf.moments(raw, 0);
  const std = tf.sqrt(variance);
  const xs = tf.tidy(() => raw.sub(mean).div(std));
  const theirRaw = tfc.tensor2d(features, [n, FEATURES]);
  const theirMoments = tfc.moments(theirRaw, 0);
  const theirXs = tfc.div(tfc.sub(theirRaw, theirMoments.mean), tfc.sqrt(theirMoments.variance));
  assert.equal(mean.shape, [FEATURES]);
  close(values(mean), values(theirMoments.mean), 1e-3, 1e-5, 'moments(x, 0).mean');
  close(values(variance), values(theirMoments.variance), 1e-2, 1e-4, 'moments(x, 0).variance');
  close(values(xs), values(theirXs), 1e-4, 1e-4, 'normalised features');
  const keep = tf.moments(raw, 0, true);
  assert.equal(keep.mean.shape, [1, FEATURES]);
  const ys = tf.tensor2d(
    labels.map(v => (v - stats.labelMean) / stats.labelStddev),
    [n, 1],
  );

  // a seeded Math.random makes tf.util.shuffle's order tfjs's order
  const seeded = (seed: number, fn: () => void) => {
    const random = Math.random;
    Math.random = rng(seed);
    try {
      fn();
    } finally {
      Math.random = random;
    }
  };
  const indices = Array.from({ length: n }, (_, i) => i);
  const theirIndices = indices.slice();
  seeded(1337, () => tf.util.shuffle(indices));
  seeded(1337, () => tfc.util.shuffle(theirIndices));
  assert.equal(indices, theirIndices, 'tf.util.shuffle permutes as tfjs does');
  assert.equal(
    indices.slice().sort((a, b) => a - b),
    Array.from({ length: n }, (_, i) => i),
  );

  const numTrain = Math.round(n * 0.7),
    numVal = Math.round(n * 0.2);
  const trainXs = xs.gather(indices.slice(0, numTrain)),
    trainYs = ys.gather(indices.slice(0, numTrain));
  const valXs = xs.gather(indices.slice(numTrain, numTrain + numVal)),
    valYs = ys.gather(indices.slice(numTrain, numTrain + numVal));
  const evalXs = xs.gather(indices.slice(numTrain + numVal)),
    evalYs = ys.gather(indices.slice(numTrain + numVal));
  assert.equal(
    [trainXs.shape, valXs.shape, evalXs.shape],
    [
      [168, FEATURES],
      [48, FEATURES],
      [24, FEATURES],
    ],
  );
  const theirGather = tfc.gather(theirXs, indices.slice(numTrain + numVal));
  close(values(evalXs), values(theirGather), 1e-4, 1e-4, 'gather(indices)');

  const housingLayers = (lib: typeof tf | typeof tfl) => {
    const L = lib.layers as typeof tf.layers;
    return [
      L.dense({ units: 40, activation: 'relu', inputShape: [FEATURES] }),
      L.dropout({ rate: 0.2 }),
      L.dense({ units: 20, activation: 'relu' }),
      L.dropout({ rate: 0.1 }),
      L.dense({ units: 1 }),
    ];
  };
  const model = tf.sequential();
  for (const layer of housingLayers(tf)) model.add(layer);
  model.compile({ loss: 'meanAbsoluteError', optimizer: 'adam' });
  const history = await model.fit(trainXs, trainYs, { epochs: 15, batchSize: 32, validationData: [valXs, valYs], verbose: 0 });
  assert.is(history.history.val_loss.length, 15);
  assert.ok(history.history.loss[14] < history.history.loss[0], `the loss falls: ${history.history.loss}`);
  // evaluate without metrics: one scalar tensor, not a list
  const evalOutput = model.evaluate(evalXs, evalYs) as tf.Tensor;
  assert.not.ok(Array.isArray(evalOutput));
  assert.equal(evalOutput.shape, []);
  const twin = tfjsTwin(model, housingLayers(tfl));
  twin.compile({ loss: 'meanAbsoluteError', optimizer: 'adam' });
  const theirX = tfc.tensor2d(evalXs.dataSync() as Float32Array, evalXs.shape as [number, number]);
  const theirY = tfc.tensor2d(evalYs.dataSync() as Float32Array, evalYs.shape as [number, number]);
  const theirEval = twin.evaluate(theirX, theirY) as tfc.Scalar;
  close(evalOutput.dataSync(), theirEval.dataSync() as Float32Array, 1e-5, 1e-4, 'evaluate (MAE) vs tfjs-layers');
  tfc.dispose([theirRaw, theirMoments.mean, theirMoments.variance, theirXs, theirGather, theirX, theirY, theirEval]);
  twin.dispose();

  tf.dispose([raw, mean, variance, std, xs, keep.mean, keep.variance, ys, trainXs, trainYs, valXs, valYs, evalXs, evalYs, evalOutput]);
  model.dispose();
  assert.is(tf.memory().numTensors, before, 'every tensor disposed');
});

S('housing script: tf.data.csv with a label column, its rows read for statistics and batched', async () => {
  const before = tf.memory().numTensors;
  const path = join(dir, 'housing.csv');
  const rows = Array.from({ length: 40 }, (_, i) => `${i % 7},${(i * 3) % 11},${100 + i}`);
  writeFileSync(path, ['longitude,latitude,median_house_value', ...rows].join('\n') + '\n');
  const ds = tf.data.csv(`file://${path}`, { columnConfigs: { median_house_value: { isLabel: true } } });
  const all = (await ds.toArray()) as Array<{ xs: Record<string, number>; ys: Record<string, number> }>;
  assert.is(all.length, 40);
  assert.equal(all[3], { xs: { longitude: 3, latitude: 9 }, ys: { median_house_value: 103 } });
  const batches = ds.map(e => ({ xs: Object.values((e as (typeof all)[0]).xs), ys: Object.values((e as (typeof all)[0]).ys) })).batch(16);
  const first = (await batches.iterator().then(it => it.next())).value as { xs: tf.Tensor; ys: tf.Tensor };
  assert.equal(first.xs.shape, [16, 2]);
  assert.equal(first.ys.shape, [16, 1]);
  assert.equal(values(first.ys).slice(0, 3), [100, 101, 102]);
  tf.dispose(first);
  assert.is(tf.memory().numTensors, before);
});

// --- website-phishing binary classifier ---------------------------------------------------------------------

const PHISH_FEATURES = 30;

/** Rows of 30 features in {-1, 0, 1} and a 0/1 target from a noisy linear rule. */
function phishingRows(n: number, seed: number) {
  const r = rng(seed);
  const w = Array.from({ length: PHISH_FEATURES }, () => 2 * r() - 1);
  const data = new Float32Array(n * PHISH_FEATURES),
    target = new Float32Array(n);
  for (let i = 0; i < n; ++i) {
    let z = 0.5 * (r() - 0.5);
    for (let j = 0; j < PHISH_FEATURES; ++j) {
      const v = j % 3 === 1 ? Math.floor(3 * r()) - 1 : r() < 0.5 ? -1 : 1;
      data[i * PHISH_FEATURES + j] = v;
      z += v * w[j];
    }
    target[i] = z > 0 ? 1 : 0;
  }
  return { data, target };
}

/** The script's binarize: y > threshold as ones and zeros, with tf.where. */
function binarize(lib: typeof tf, y: tf.Tensor, threshold = 0.5) {
  lib.util.assert(threshold >= 0 && threshold <= 1, () => `Expected threshold to be >=0 and <=1, but got ${threshold}`);
  return lib.tidy(() => {
    const condition = y.greater(lib.scalar(threshold));
    return lib.where(condition, lib.onesLike(y), lib.zerosLike(y));
  });
}

/** Confusion-matrix counts with logicalAnd of equal, summed and cast, as the script's falsePositives/trueNegatives. */
function falsePositiveRate(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const one = tf.scalar(1),
      zero = tf.scalar(0);
    const fp = tf.logicalAnd(yTrue.equal(zero), yPred.equal(one)).sum().cast('float32');
    const tn = tf.logicalAnd(yTrue.equal(zero), yPred.equal(zero)).sum().cast('float32');
    return fp.div(fp.add(tn));
  });
}

S('phishing script: split with tf.split and slice, binary model, threshold, confusion counts, tf.metrics and ROC', async () => {
  const before = tf.memory().numTensors;
  const n = 400,
    nTest = 100;
  const rows = phishingRows(n, 5);
  const all = tf.tensor2d(rows.data, [n, PHISH_FEATURES]);
  const targets = tf.tensor1d(rows.target);
  // train/test: tf.split for the features, slice for the targets
  const [trainData, testData] = tf.split(all, [n - nTest, nTest]);
  const trainTarget = targets.slice(0, n - nTest),
    testTarget = tf.slice(targets, [n - nTest], [nTest]);
  assert.equal(
    [trainData.shape, testData.shape, trainTarget.shape, testTarget.shape],
    [[n - nTest, PHISH_FEATURES], [nTest, PHISH_FEATURES], [n - nTest], [nTest]],
  );
  assert.equal(values(testTarget), Array.from(rows.target.subarray(n - nTest)));
  assert.equal(values(testData), Array.from(rows.data.subarray((n - nTest) * PHISH_FEATURES)));

  const phishingLayers = (lib: typeof tf | typeof tfl) => {
    const L = lib.layers as typeof tf.layers;
    return [
      L.dense({ inputShape: [PHISH_FEATURES], units: 32, activation: 'sigmoid' }),
      L.dense({ units: 32, activation: 'sigmoid' }),
      L.dense({ units: 1, activation: 'sigmoid' }),
    ];
  };
  const model = tf.sequential();
  for (const layer of phishingLayers(tf)) model.add(layer);
  model.compile({ optimizer: 'adam', loss: 'binaryCrossentropy', metrics: ['accuracy'] });

  const trainLogs: Record<string, number>[] = [];
  const aucs: number[] = [];
  await model.fit(trainData, trainTarget, {
    batchSize: 20,
    epochs: 30,
    validationSplit: 0.2,
    verbose: 0,
    callbacks: {
      onEpochBegin: async (epoch: number) => {
        if (epoch % 10 === 0) {
          const probs = model.predict(testData) as tf.Tensor;
          aucs.push(roc(testTarget, probs).area);
          probs.dispose();
        }
      },
      onEpochEnd: async (_epoch: number, logs?: Record<string, number>) => {
        trainLogs.push({ ...logs! });
      },
    },
  });
  assert.is(trainLogs.length, 30);
  const last = trainLogs[29];
  for (const key of ['loss', 'acc', 'val_loss', 'val_acc']) assert.type(last[key], 'number', key);
  assert.equal(aucs.length, 3);

  const result = model.evaluate(testData, testTarget, { batchSize: 50 }) as tf.Tensor[];
  const testLoss = result[0].dataSync()[0],
    testAcc = result[1].dataSync()[0];
  assert.ok(testAcc > 0.7, `test accuracy ${testAcc}`);

  const probs = model.predict(testData) as tf.Tensor;
  const predictions = tf.tidy(() => binarize(tf, probs).as1D());
  assert.equal(predictions.shape, [nTest]);
  const p = probs.dataSync() as Float32Array;
  assert.equal(
    values(predictions),
    Array.from(p, v => (v > 0.5 ? 1 : 0)),
    'binarize',
  );
  // inside a tidy, as the script computes them
  const [precision, recall, fpr] = tf.tidy(() => [
    tf.metrics.precision(testTarget, predictions).dataSync()[0],
    tf.metrics.recall(testTarget, predictions).dataSync()[0],
    falsePositiveRate(testTarget, predictions).dataSync()[0],
  ]);

  // tfjs on the same predictions
  const theirTarget = tfc.tensor1d(rows.target.subarray(n - nTest));
  const theirPred = tfc.tensor1d(values(predictions));
  const theirPrecision = tfl.metrics.precision(theirTarget, theirPred);
  const theirRecall = tfl.metrics.recall(theirTarget, theirPred);
  const theirFpr = tfc.tidy(() => {
    const fp = tfc.cast(tfc.sum(tfc.logicalAnd(tfc.equal(theirTarget, 0), tfc.equal(theirPred, 1))), 'float32');
    const tn = tfc.cast(tfc.sum(tfc.logicalAnd(tfc.equal(theirTarget, 0), tfc.equal(theirPred, 0))), 'float32');
    return tfc.div(fp, tfc.add(fp, tn));
  });
  close(
    [precision, recall, fpr],
    [theirPrecision.dataSync()[0], theirRecall.dataSync()[0], theirFpr.dataSync()[0]],
    1e-6,
    0,
    'precision, recall, FPR',
  );
  // and the ROC the script draws, computed again with tfjs's ops on the same probabilities
  const ours = roc(testTarget, probs);
  const theirProbs = tfc.tensor2d(p, [nTest, 1]);
  const theirs = tfc.tidy(() => {
    const tprs: number[] = [],
      fprs: number[] = [];
    for (const threshold of THRESHOLDS) {
      const pred = tfc.reshape(tfc.where(tfc.greater(theirProbs, threshold), tfc.onesLike(theirProbs), tfc.zerosLike(theirProbs)), [-1]);
      const fp = tfc.cast(tfc.sum(tfc.logicalAnd(tfc.equal(theirTarget, 0), tfc.equal(pred, 1))), 'float32');
      const tn = tfc.cast(tfc.sum(tfc.logicalAnd(tfc.equal(theirTarget, 0), tfc.equal(pred, 0))), 'float32');
      fprs.push(tfc.div(fp, tfc.add(fp, tn)).dataSync()[0]);
      tprs.push(tfl.metrics.recall(theirTarget, pred).dataSync()[0]);
    }
    return { tprs, fprs };
  });
  close(ours.tprs, theirs.tprs, 1e-6, 0, 'ROC true positive rates');
  close(ours.fprs, theirs.fprs, 1e-6, 0, 'ROC false positive rates');
  assert.ok(ours.area > 0.7, `AUC ${ours.area}`);

  // tfjs-layers, given these weights, evaluates the same loss and accuracy
  const twin = tfjsTwin(model, phishingLayers(tfl));
  twin.compile({ optimizer: 'adam', loss: 'binaryCrossentropy', metrics: ['accuracy'] });
  const theirData = tfc.tensor2d(testData.dataSync() as Float32Array, [nTest, PHISH_FEATURES]);
  const theirEval = twin.evaluate(theirData, theirTarget, { batchSize: 50 }) as tfc.Scalar[];
  close([testLoss, testAcc], [theirEval[0].dataSync()[0], theirEval[1].dataSync()[0]], 1e-5, 1e-4, 'evaluate vs tfjs-layers');
  tfc.dispose([theirTarget, theirPred, theirPrecision, theirRecall, theirFpr, theirProbs, theirData, ...theirEval]);
  twin.dispose();

  tf.dispose([all, targets, trainData, testData, trainTarget, testTarget, probs, predictions, ...result]);
  model.dispose();
  assert.is(tf.memory().numTensors, before, 'every tensor disposed');
});

const THRESHOLDS = [
  0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.92, 0.94, 0.96, 0.98, 1.0,
];

/** The script's drawROC without the plot: true and false positive rates per threshold, and the area under them. */
function roc(targets: tf.Tensor, probs: tf.Tensor) {
  return tf.tidy(() => {
    const tprs: number[] = [],
      fprs: number[] = [];
    let area = 0;
    THRESHOLDS.forEach((threshold, i) => {
      const threshPredictions = binarize(tf, probs, threshold).as1D();
      fprs.push(falsePositiveRate(targets, threshPredictions).dataSync()[0]);
      tprs.push(tf.metrics.recall(targets, threshPredictions).dataSync()[0]);
      if (i > 0) area += ((tprs[i] + tprs[i - 1]) * (fprs[i - 1] - fprs[i])) / 2;
    });
    return { tprs, fprs, area };
  });
}

// --- abalone regression -------------------------------------------------------------------------------------

/** Abalone-like rows: sex coded 0/1/2 (F/M/I), seven measurements in (0, 3), and the ring count. */
function abaloneRows(n: number, seed: number) {
  const r = rng(seed);
  const xs: number[][] = [],
    ys: number[][] = [];
  for (let i = 0; i < n; ++i) {
    const length = 0.1 + 0.7 * r();
    const row = [
      i % 3,
      length,
      0.8 * length,
      0.25 * length * r() + 0.02,
      2 * length * length,
      length * length,
      0.5 * length * r(),
      0.6 * length * r(),
    ];
    xs.push(row);
    ys.push([Math.round(3 + 15 * length + 3 * r())]);
  }
  return { xs, ys };
}

/** The abalone script's model. */
function abaloneModel(inputShape: number[]) {
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape, activation: 'sigmoid', units: 50 }));
  model.add(tf.layers.dense({ activation: 'sigmoid', units: 50 }));
  model.add(tf.layers.dense({ units: 1 }));
  model.compile({ optimizer: tf.train.sgd(0.01), loss: 'meanSquaredError' });
  return model;
}

S('abalone script: tensor2d from arrays and the tensor methods it normalises with, as tfjs computes them', () => {
  const before = tf.memory().numTensors;
  const { xs } = abaloneRows(50, 6);
  const x = tf.tensor2d(xs);
  const theirX = tfc.tensor2d(xs);
  assert.equal(x.shape, [50, 8]);
  const ours = tf.tidy(() => {
    const mean = x.mean(),
      colMean = x.mean(0);
    return {
      mean: values(mean),
      colMean: values(colMean),
      centred: values(x.sub(colMean)),
      scaled: values(x.sub(x.min(0)).div(x.max(0).sub(x.min(0)))),
      square: values(x.square()),
      variance: values(x.sub(colMean).square().mean(0)),
      minMax: [values(x.min()), values(x.max()), values(x.max(1))],
    };
  });
  const theirs = tfc.tidy(() => {
    const colMean = tfc.mean(theirX, 0);
    return {
      mean: values(tfc.mean(theirX)),
      colMean: values(colMean),
      centred: values(tfc.sub(theirX, colMean)),
      scaled: values(tfc.div(tfc.sub(theirX, tfc.min(theirX, 0)), tfc.sub(tfc.max(theirX, 0), tfc.min(theirX, 0)))),
      square: values(tfc.square(theirX)),
      variance: values(tfc.mean(tfc.square(tfc.sub(theirX, colMean)), 0)),
      minMax: [values(tfc.min(theirX)), values(tfc.max(theirX)), values(tfc.max(theirX, 1))],
    };
  });
  close(ours.mean, theirs.mean, 1e-6, 1e-5, 'mean()');
  close(ours.colMean, theirs.colMean, 1e-6, 1e-5, 'mean(0)');
  close(ours.centred, theirs.centred, 1e-6, 1e-5, 'sub');
  close(ours.scaled, theirs.scaled, 1e-6, 1e-5, 'min/max scaling with sub and div');
  close(ours.square, theirs.square, 1e-6, 1e-5, 'square()');
  close(ours.variance, theirs.variance, 1e-6, 1e-4, 'sub().square().mean(0)');
  close(ours.minMax.flat(), theirs.minMax.flat(), 0, 0, 'min(), max(), max(1)');
  // toFloat() of an int32 tensor, and the float mean of int32 data
  const ints = tf.tensor1d([3, 7, 10, 4], 'int32');
  const asFloat = ints.toFloat();
  const intMean = ints.mean();
  assert.equal([asFloat.dtype, values(asFloat)], ['float32', [3, 7, 10, 4]]);
  const theirInts = tfc.tensor1d([3, 7, 10, 4], 'int32');
  const theirMean = tfc.mean(theirInts);
  assert.equal([intMean.dtype, values(intMean)], [theirMean.dtype, values(theirMean)]);
  tfc.dispose([theirX, theirInts, theirMean]);
  tf.dispose([x, ints, asFloat, intMean]);
  assert.is(tf.memory().numTensors, before, 'every tensor disposed');
});

S('abalone script: the model trains on tf.ones, saves to file://, loads with tf.loadLayersModel and predicts the same', async () => {
  const before = tf.memory().numTensors;
  const inputLength = 6;
  const model = abaloneModel([inputLength]);
  const feature = tf.ones([3, inputLength]);
  const label = tf.ones([3, 1]);
  const history = await model.fit(feature, label, { epochs: 2, verbose: 0 });
  assert.is(history.history.loss.length, 2);

  // train.js's flow on abalone-like rows: fit (fitDataset in the script), save, load, predict one row
  const { xs, ys } = abaloneRows(200, 7);
  const trainXs = tf.tensor2d(xs.slice(0, 160)),
    trainYs = tf.tensor2d(ys.slice(0, 160));
  const valXs = tf.tensor2d(xs.slice(160)),
    valYs = tf.tensor2d(ys.slice(160));
  const fitted = abaloneModel([8]);
  const h = await fitted.fit(trainXs, trainYs, { epochs: 20, batchSize: 40, validationData: [valXs, valYs], verbose: 0 });
  assert.ok(h.history.loss[19] < h.history.loss[0], `the loss falls: ${h.history.loss}`);
  const savePath = `file://${join(dir, 'abalone')}`;
  await fitted.save(savePath);
  const loadedModel = await tf.loadLayersModel(`${savePath}/model.json`);
  const row = tf.tensor2d([[0, 0.625, 0.495, 0.165, 1.262, 0.507, 0.318, 0.39]]);
  const expected = fitted.predict(row) as tf.Tensor;
  const result = loadedModel.predict(row) as tf.Tensor;
  close(result.dataSync(), expected.dataSync(), 1e-6, 1e-6, 'the loaded model predicts as the saved one');
  // model_test.js's predict([feature]): a list of one input
  const y = model.predict(feature) as tf.Tensor;
  const yPrime = model.predict([feature]) as tf.Tensor;
  assert.not.ok(Array.isArray(yPrime));
  close(yPrime.dataSync(), y.dataSync(), 0, 0, 'predict([x]) is predict(x)');

  tf.dispose([feature, label, trainXs, trainYs, valXs, valYs, row, expected, result, y, yPrime]);
  model.dispose();
  fitted.dispose();
  loadedModel.dispose();
  assert.is(tf.memory().numTensors, before, 'every tensor disposed');
});

S("abalone model_test: the model's symbolic inputs and outputs have tfjs's shapes", () => {
  const model = abaloneModel([6]);
  const theirs = tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [6], activation: 'sigmoid', units: 50 }),
      tfl.layers.dense({ activation: 'sigmoid', units: 50 }),
      tfl.layers.dense({ units: 1 }),
    ],
  });
  try {
    assert.equal([theirs.inputs.length, theirs.inputs[0].shape, theirs.outputs.length, theirs.outputs[0].shape], [1, [null, 6], 1, [null, 1]]);
    const m = model as unknown as { inputs?: { shape: (number | null)[] }[]; outputs?: { shape: (number | null)[] }[] };
    assert.ok(Array.isArray(m.inputs) && Array.isArray(m.outputs), `model.inputs is ${typeof m.inputs}, model.outputs is ${typeof m.outputs}`);
    assert.equal([m.inputs!.length, m.inputs![0].shape, m.outputs!.length, m.outputs![0].shape], [1, [null, 6], 1, [null, 1]]);
  } finally {
    model.dispose();
    theirs.dispose();
  }
});

S('abalone model_test: tf.test_util.expectArraysClose compares a prediction with its reload', () => {
  const a = tf.tensor1d([1, 2, 3]),
    b = tf.tensor1d([1, 2, 3.0001]);
  try {
    const testUtil = (tf as unknown as { test_util?: { expectArraysClose(a: unknown, b: unknown): void } }).test_util;
    assert.type(testUtil?.expectArraysClose, 'function', 'tf.test_util.expectArraysClose');
    testUtil!.expectArraysClose(a, b);
  } finally {
    tf.dispose([a, b]);
  }
});

S('abalone script: tf.data.csv mapped to arrays, batched, trained with fitDataset', async () => {
  const before = tf.memory().numTensors;
  const path = join(dir, 'abalone.csv');
  const r = rng(21);
  const lines = Array.from({ length: 120 }, () => {
    const f = Array.from({ length: 3 }, () => +r().toFixed(3));
    return [...f, (f[0] * 10 + f[1] * 5 + 3).toFixed(3)].join(',');
  });
  writeFileSync(path, ['length,diameter,height,rings', ...lines].join('\n') + '\n');
  const dataset = tf.data
    .csv(`file://${path}`, { hasHeader: true, columnConfigs: { rings: { isLabel: true } } })
    .map(e => {
      const { xs, ys } = e as { xs: Record<string, number>; ys: Record<string, number> };
      return { xs: Object.values(xs), ys: Object.values(ys) };
    })
    .batch(20);
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 8, activation: 'relu', inputShape: [3] }), tf.layers.dense({ units: 1 })] });
  model.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
  const h = await model.fitDataset(dataset, { epochs: 8, verbose: 0 });
  const loss = h.history.loss as number[];
  assert.ok(loss[loss.length - 1] < loss[0] / 2, `the loss falls: ${loss.map(v => v.toFixed(3))}`);
  model.dispose();
  assert.is(tf.memory().numTensors, before);
});

S('custom training loops the scripts do not use but their readers try next', () => {
  // tf.grad, tf.variable and tf.variableGrads as the tfjs docs' first examples call them (test/tfjs-grads.test.ts has the rest)
  const x = tf.scalar(3);
  const v = tf.tidy(() => tf.variable(tf.scalar(2), true, 'scripts_v'));
  try {
    const g = tf.grad((t: tf.Tensor) => t.square())(x);
    assert.is(g.dataSync()[0], 6);
    const { value, grads } = tf.variableGrads(() => v.mul(x));
    assert.is(value.dataSync()[0], 6);
    assert.is(grads.scripts_v!.dataSync()[0], 3);
    tf.dispose([g, value, grads]);
  } finally {
    x.dispose();
    v.dispose();
  }
});

S("snake-dqn's replay step: game states through tf.buffer, a frozen target network, variableGrads over every trainable variable", () => {
  // tfjs-examples/snake-dqn: getStateTensor fills a tf.buffer per batch; trainOnReplayBatch takes tf.variableGrads of
  // the online network's loss (apply with training: true) against a target network frozen by trainable = false,
  // whose predict must then stay off the tape, and applies the gradients with applyGradients.
  const live = tf.memory().numTensors;
  const states = [
    {
      s: [
        [1, 1],
        [1, 2],
      ],
      f: [[3, 0]],
    },
    {
      s: [
        [0, 3],
        [1, 3],
        [2, 3],
      ],
      f: [[2, 2]],
    },
  ];
  const fill = (buf: { set(v: number, ...loc: number[]): void }) =>
    states.forEach((st, n) => {
      st.s.forEach((yx, i) => buf.set(i === 0 ? 2 : 1, n, yx[0], yx[1], 0));
      st.f.forEach(yx => buf.set(1, n, yx[0], yx[1], 1));
    });
  const buf = tf.buffer([2, 4, 4, 2]);
  fill(buf);
  const ref = tfc.buffer([2, 4, 4, 2]);
  fill(ref);
  const x = buf.toTensor();
  assert.equal(values(x), values(ref.toTensor()), 'tf.buffer as tfjs');
  assert.is(buf.get(1, 0, 3, 0), 2);
  const net = () =>
    tf.sequential({
      layers: [
        tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [4, 4, 2] }),
        tf.layers.batchNormalization(),
        tf.layers.flatten(),
        tf.layers.dense({ units: 8, activation: 'relu' }),
        tf.layers.dropout({ rate: 0.25 }),
        tf.layers.dense({ units: 4 }),
      ],
    });
  const online = net(),
    target = net();
  target.trainable = false;
  assert.ok(
    target.trainableWeights.length === 0 && target.nonTrainableWeights.length === target.weights.length,
    'a frozen model has no trainable weights',
  );
  const opt = tf.train.adam(0.001);
  const actions = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 3], 'int32'), 4));
  const before = values(online.trainableWeights[0].read());
  const { value, grads } = tf.variableGrads(() =>
    tf.tidy(() => {
      const qs = tf.sum(tf.mul(online.apply(x, { training: true }) as tf.Tensor, actions), -1);
      const targetQs = tf.add(tf.tensor1d([1, -1]), tf.mul(tf.max(target.predict(x) as tf.Tensor, -1), 0.99));
      return tf.losses.meanSquaredError(targetQs, qs);
    }),
  );
  assert.equal(Object.keys(grads).sort(), online.trainableWeights.map(w => w.name).sort(), "the online network's trainable weights, no more");
  opt.applyGradients(grads as Record<string, tf.Tensor>);
  assert.not.equal(values(online.trainableWeights[0].read()), before, 'applyGradients moved them');
  tf.dispose([x, actions, value, grads]);
  online.dispose();
  target.dispose();
  opt.dispose();
  assert.is(tf.memory().numTensors, live, 'every tensor freed');
});

S("cart-pole's policy step: multinomial actions, variableGrads through predict, gradients stacked by rank", () => {
  // tfjs-examples/cart-pole (REINFORCE): the action is tf.multinomial of [p, 1 - p] with p = sigmoid(logits); the
  // gradient of sigmoidCrossEntropy(1 - action, logits) for each step is kept, stacked and scaled by the rewards
  // reshaped with `rank - 1` ones (tfjs's tensor.rank), then averaged and applied.
  const live = tf.memory().numTensors;
  const probs = tf.tensor2d([
    [0.9, 0.1],
    [0.25, 0.75],
  ]);
  const draws = tf.multinomial(probs, 4000, 17, true);
  assert.equal([draws.shape, draws.dtype], [[2, 4000], 'int32']);
  const v = Array.from(draws.dataSync());
  const mean = (from: number) => v.slice(from, from + 4000).reduce((a, b) => a + b, 0) / 4000;
  assert.ok(Math.abs(mean(0) - 0.1) < 0.03 && Math.abs(mean(4000) - 0.75) < 0.03, `frequencies ${mean(0)} and ${mean(4000)}`);
  tf.tidy(() =>
    assert.equal(
      Array.from(tf.multinomial(probs, 8, 3, true).dataSync()),
      Array.from(tf.multinomial(probs, 8, 3, true).dataSync()),
      'a seed repeats',
    ),
  );
  const policy = tf.sequential({ layers: [tf.layers.dense({ units: 8, activation: 'elu', inputShape: [4] }), tf.layers.dense({ units: 1 })] });
  const opt = tf.train.adam(0.05);
  const steps: Record<string, tf.Tensor>[] = [];
  for (let i = 0; i < 3; ++i) {
    const state = tf.tensor2d([[0.1 * i, -0.2, 0.05, 0.3]]);
    const { value, grads } = tf.variableGrads(() =>
      tf.tidy(() => {
        const logits = policy.predict(state) as tf.Tensor;
        const left = tf.sigmoid(logits);
        const actions = tf.multinomial(tf.concat([left, tf.sub(1, left)], 1), 1, null as never, true);
        const labels = tf.sub(1, tf.tensor2d(actions.dataSync(), actions.shape));
        return tf.losses.sigmoidCrossEntropy(labels, logits).asScalar();
      }),
    );
    steps.push(grads as Record<string, tf.Tensor>);
    tf.dispose([state, value]);
  }
  const rewards = tf.tensor1d([1, -0.5, 0.25]);
  const averaged = tf.tidy(() =>
    Object.fromEntries(
      Object.keys(steps[0]).map(name => {
        const stacked = tf.stack(steps.map(g => g[name]));
        const scale = rewards.reshape([3, ...new Array<number>(stacked.rank - 1).fill(1)]);
        return [name, tf.mean(stacked.mul(scale), 0)];
      }),
    ),
  );
  assert.equal(
    Object.values(averaged).map(t => t.shape),
    policy.trainableWeights.map(w => w.shape),
  );
  opt.applyGradients(averaged);
  tf.dispose([probs, draws, rewards, steps, averaged]);
  policy.dispose();
  opt.dispose();
  assert.is(tf.memory().numTensors, live, 'every tensor freed');
});

S.run();
