// What a new user meets first: options read from their own properties only, labels in the spellings Keras
// takes, class weights on every kind of head, weights before compile, predict on any output shape, errors that
// name the fix, and kernelnet/tfjs's return types and summary as tfjs's. Each test names the Keras 3 or tfjs
// behaviour it pins.
import '@tensorflow/tfjs-backend-cpu';
import * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Conv2D,
  Dataset,
  Dense,
  DeviceError,
  Flatten,
  MaxPooling2D,
  SGD,
  Sequential,
  StateError,
  ValidationError,
  dispose,
  tensor,
  tidy,
  toCategorical,
  type Logs,
} from '../lib/index.js';
import * as tf from '../lib/tfjs.js';
import { smallModel, syntheticData } from './helpers.js';

const First = suite("a user's first hour");

const weightsOf = (m: Sequential) => tidy(() => m.getWeights().map(w => Array.from(w.dataSync())));

/** A one-unit sigmoid head on 4 features, and labels that depend on them. */
function binary(seed: number) {
  const m = new Sequential({
    seed,
    layers: [new Dense({ units: 6, activation: 'relu', inputShape: [4] }), new Dense({ units: 1, activation: 'sigmoid' })],
  });
  m.compile({ loss: 'binaryCrossentropy', optimizer: new SGD({ learningRate: 0.1 }), metrics: ['accuracy'] });
  return m;
}
const n = 24;
const features = Float32Array.from({ length: n * 4 }, (_, i) => Math.sin(i * 1.7));
const bits = Array.from({ length: n }, (_, i) => (features[i * 4] + features[i * 4 + 1] > 0 ? 1 : 0));

First('options are read from their own properties: nothing set on Object.prototype reaches fit, a layer, compile or an optimizer', async () => {
  const { x, y } = syntheticData(12);
  const reference = smallModel(2);
  reference.compile({ loss: 'categoricalCrossentropy', optimizer: new SGD({ learningRate: 0.05 }) });
  const refHistory = await reference.fit(x, y, { verbose: 0, batchSize: 4, shuffle: false });
  const proto = Object.prototype as Record<string, unknown>;
  const polluted = {
    epochs: 3,
    batchSize: 1,
    learningRate: 10,
    activation: 'relu',
    metrics: ['accuracy'],
    shuffle: true,
    onEpochEnd: () => {
      throw new Error('inherited hook called');
    },
  };
  Object.assign(proto, polluted);
  try {
    const m = smallModel(2);
    m.compile({ loss: 'categoricalCrossentropy', optimizer: new SGD({ learningRate: 0.05 }) });
    const h = await m.fit(x, y, { verbose: 0, batchSize: 4, shuffle: false, callbacks: { onTrainEnd: () => {} } });
    assert.equal(h.epoch, [0], 'one epoch (Keras: epochs=1), not the inherited 3');
    assert.equal(Object.keys(h.history).sort(), ['loss', 'lr'], 'no inherited metrics');
    assert.equal(h.history.loss, refHistory.history.loss, 'the same training: batchSize 4, no shuffle, learning rate 0.05');
    assert.equal(weightsOf(m), weightsOf(reference));
    const d = new Dense({ units: 2, inputShape: [3] });
    assert.is(d.getConfig().activation, 'linear', "Dense's activation defaults to linear");
    assert.is(Dataset.fromTensors(x, y).batches, 1, "fromTensors' batchSize defaults to 32, not the inherited 1");
    m.dispose();
  } finally {
    for (const k of Object.keys(polluted)) delete proto[k];
  }
  dispose([x, y]);
  reference.dispose();
});

First('sparse labels as int32 or float32 whole numbers, [N] or [N, 1], train alike (Keras casts and squeezes them)', async () => {
  const { x, y } = syntheticData(18);
  const classes = Array.from(y.argMax(1).dataSync());
  const spellings = [
    tensor(Int32Array.from(classes), [18]),
    tensor(Int32Array.from(classes), [18, 1]),
    tensor(Float32Array.from(classes), [18]),
    tensor(Float32Array.from(classes), [18, 1]),
  ];
  const results = [];
  for (const labels of spellings) {
    const m = smallModel(5);
    m.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: new SGD({ learningRate: 0.1 }), metrics: ['accuracy'] });
    const h = await m.fit(x, labels, { epochs: 2, batchSize: 6, verbose: 0, validationData: [x, labels] });
    results.push({ h: h.history, w: weightsOf(m), e: m.evaluate(x, labels), t: await m.trainOnBatch(x, labels) });
    m.dispose();
  }
  for (const r of results.slice(1)) assert.equal(r, results[0]);
  const fractional = tensor(
    Float32Array.from(classes, (c, i) => (i === 4 ? 1.5 : c)),
    [18],
  );
  const m = smallModel(5);
  m.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: 'sgd' });
  await m.fit(x, fractional, { verbose: 0 }).then(
    () => assert.unreachable('a fractional class'),
    e => {
      assert.instance(e, ValidationError);
      assert.match(e.message, /Expected y to hold class indices \(whole numbers\) but y\[4\] is 1.5/);
    },
  );
  const wide = tensor(new Int32Array(36), [18, 2]);
  assert.throws(() => m.evaluate(x, wide), /Expected y to be class indices of shape \[N\] or \[N, 1\]/);
  dispose([x, y, fractional, wide, ...spellings]);
  m.dispose();
});

First('a one-unit head takes labels [N] or [N, 1] alike (Keras squeezes or expands to the output rank)', async () => {
  const x = tensor(features, [n, 4]);
  const flat = tensor(Float32Array.from(bits), [n]),
    column = tensor(Float32Array.from(bits), [n, 1]);
  const a = binary(3),
    b = binary(3);
  const ha = await a.fit(x, flat, { epochs: 2, batchSize: 8, verbose: 0 }),
    hb = await b.fit(x, column, { epochs: 2, batchSize: 8, verbose: 0 });
  assert.equal(ha.history, hb.history);
  assert.equal(a.evaluate(x, flat), b.evaluate(x, column));
  dispose([x, flat, column]);
  a.dispose();
  b.dispose();
});

First(
  "classWeight on a one-unit sigmoid head, on sparse labels and on one-hot labels: each row weighs its class's weight (Keras's class_weight_to_sample_weights)",
  async () => {
    // One-unit head: the class is round(label) (np.round: 0.5 goes to 0), so { 0: 1, 1: 5 } weighs the 1s five times.
    const x = tensor(features, [n, 4]),
      labels = Float32Array.from(bits, (b, i) => (i === 3 ? 0.5 : i === 5 ? 0.75 : b));
    const y = tensor(labels, [n, 1]),
      expected = tensor(
        Float32Array.from(labels, v => (Math.round(v) === 1 && v !== 0.5 ? 5 : 1)),
        [n],
      );
    const a = binary(4),
      b = binary(4);
    const ha = await a.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, shuffle: false, classWeight: { 0: 1, 1: 5 } });
    const hb = await b.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, shuffle: false, sampleWeight: expected });
    assert.equal(ha.history, hb.history, 'the same as sampleWeight 5 on the 1s');
    assert.equal(weightsOf(a), weightsOf(b));
    await a.fit(x, y, { verbose: 0, classWeight: { 2: 1 } }).then(
      () => assert.unreachable('class 2 of a binary head'),
      e => assert.match(e.message, /classWeight's keys to be class indices in \[0, 2\) but received '2'/),
    );
    // Sparse int32 labels and their one-hot twins weigh alike.
    const { x: xs, y: onehot } = syntheticData(18);
    const sparse = tensor(Int32Array.from(onehot.argMax(1).dataSync()), [18]);
    const s = smallModel(6),
      o = smallModel(6);
    s.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: new SGD({ learningRate: 0.1 }) });
    o.compile({ loss: 'categoricalCrossentropy', optimizer: new SGD({ learningRate: 0.1 }) });
    const classWeight = { 0: 0.5, 2: 3 };
    const hs = await s.fit(xs, sparse, { epochs: 2, batchSize: 6, verbose: 0, shuffle: false, classWeight });
    const ho = await o.fit(xs, onehot, { epochs: 2, batchSize: 6, verbose: 0, shuffle: false, classWeight });
    assert.equal(
      hs.history.loss.map(v => v.toFixed(5)),
      ho.history.loss.map(v => v.toFixed(5)),
    );
    // A regression loss has no classes: refused, not ignored.
    const r = new Sequential({ layers: [new Dense({ units: 1, inputShape: [4] })] });
    r.compile({ loss: 'meanSquaredError', optimizer: 'sgd' });
    await r.fit(x, y, { verbose: 0, classWeight: { 1: 2 } }).then(
      () => assert.unreachable('mse'),
      e => assert.is(e.code, 'ERR_KERNELNET_UNSUPPORTED'),
    );
    dispose([x, y, expected, xs, onehot, sparse]);
    for (const m of [a, b, s, o, r]) m.dispose();
  },
);

First('weights exist before compile, as in Keras: getWeights/setWeights on a built model, and add() after predict() on an uncompiled one', () => {
  const grown = new Sequential({ seed: 7, layers: [new Dense({ units: 5, activation: 'relu', inputShape: [4] })] });
  const first = tidy(() => grown.getWeights().map(w => Array.from(w.dataSync())));
  assert.is(first.length, 2);
  const x = tensor(features, [n, 4]);
  grown.predict(x).dispose();
  grown.add(new Dense({ units: 2, activation: 'softmax' }));
  const whole = new Sequential({
    seed: 7,
    layers: [new Dense({ units: 5, activation: 'relu', inputShape: [4] }), new Dense({ units: 2, activation: 'softmax' })],
  });
  assert.equal(weightsOf(grown), weightsOf(whole), 'the same weights as the model built whole with the same seed');
  assert.equal(Array.from(grown.predict(x).dataSync()), Array.from(whole.predict(x).dataSync()));
  grown.setWeights(whole.getWeights());
  grown.compile({ loss: 'categoricalCrossentropy', optimizer: 'sgd' });
  assert.throws(
    () => grown.add(new Dense({ units: 2 })),
    (e: Error) => e instanceof StateError && /cannot add layers after compile\(\)/.test(e.message),
  );
  const fresh = new Sequential({ layers: [new Dense({ units: 2, inputShape: [4] })] });
  fresh.predict(x).dispose();
  void fresh.fit(x, toCategorical(bits, 2), { verbose: 0 }).then(
    () => assert.unreachable('fit uncompiled'),
    e => assert.match(e.message, /not compiled; call compile\(\) first/),
  );
  dispose([x]);
  for (const m of [grown, whole, fresh]) m.dispose();
});

First('predict works on any output shape, as Keras: a Conv2D last layer gives [N, h, w, c]', () => {
  const conv = () => new Conv2D({ filters: 3, kernelSize: 3, activation: 'relu', inputShape: [6, 6, 2] });
  const a = new Sequential({ seed: 9, layers: [conv(), new MaxPooling2D({ poolSize: 2 })] });
  const b = new Sequential({ seed: 9, layers: [conv(), new MaxPooling2D({ poolSize: 2 }), new Flatten()] });
  const x = tensor(
    Float32Array.from({ length: 5 * 72 }, (_, i) => Math.cos(i)),
    [5, 6, 6, 2],
  );
  const pa = a.predict(x, { batchSize: 2 }),
    pb = b.predict(x, { batchSize: 2 });
  assert.equal(pa.shape, [5, 2, 2, 3]);
  assert.equal(Array.from(pa.dataSync()), Array.from(pb.dataSync()));
  dispose([x, pa, pb]);
  a.dispose();
  b.dispose();
});

First('a batch too big for one tensor is an out-of-memory error naming batchSize and the largest that fits', async () => {
  const m = new Sequential({ layers: [new Dense({ units: 2 ** 20, inputShape: [1] }), new Dense({ units: 2, activation: 'softmax' })] });
  m.compile({ loss: 'categoricalCrossentropy', optimizer: 'sgd' });
  const rows = 2 ** 17,
    x = tensor(new Float32Array(rows), [rows, 1]),
    y = toCategorical(new Array<number>(rows).fill(1), 2);
  const check = (e: unknown) => {
    assert.instance(e, DeviceError);
    assert.is((e as DeviceError).code, 'ERR_KERNELNET_OOM');
    assert.match(
      (e as Error).message,
      /a batch of 131072 examples needs dense's output of \[131072, 1048576\].*pass a smaller batchSize \(at most 65536 here\)/,
    );
  };
  await m.fit(x, y, { batchSize: rows, verbose: 0 }).then(() => assert.unreachable('fit'), check);
  try {
    m.predict(x, { batchSize: rows });
    assert.unreachable('predict');
  } catch (e) {
    check(e);
  }
  dispose([x, y]);
  m.dispose();
});

First("onTrainEnd gets the last epoch's logs (Keras 3: on_train_end(logs=training_logs)), {} when no epoch ran", async () => {
  const { x, y } = syntheticData(12);
  const m = smallModel(1);
  m.compile({ loss: 'categoricalCrossentropy', optimizer: 'sgd', metrics: ['accuracy'] });
  let ended: Logs | undefined, lastEpoch: Logs | undefined;
  const callbacks = {
    onEpochEnd: (_: number, logs: Logs) => {
      lastEpoch = { ...logs };
    },
    onTrainEnd: (logs: Logs) => {
      ended = { ...logs };
    },
  };
  await m.fit(x, y, { epochs: 2, verbose: 0, validationData: [x, y], callbacks });
  assert.ok(ended && 'val_loss' in ended);
  assert.equal(ended, lastEpoch);
  await m.fit(x, y, { epochs: 2, initialEpoch: 2, verbose: 0, callbacks });
  assert.equal(ended, {});
  dispose([x, y]);
  m.dispose();
});

First('summary() keeps its columns aligned whatever the length of a name', () => {
  const m = new Sequential({
    layers: [new Dense({ units: 3, inputShape: [4], name: 'a_dense_layer_with_a_rather_long_descriptive_name' }), new Dense({ units: 2 })],
  });
  const lines = m.summary(() => {}).split('\n');
  const header = lines.find(l => l.startsWith('Layer (type)'))!,
    column = header.indexOf('Output Shape');
  const rows = lines.filter(l => /\(Dense\)/.test(l));
  assert.is(rows.length, 2);
  for (const r of rows) assert.is(r.indexOf('(None,'), column, r);
  assert.ok(column > 'a_dense_layer_with_a_rather_long_descriptive_name (Dense)'.length);
  m.dispose();
});

First('kernelnet/tfjs: evaluate without metrics returns one Scalar (tfjs: singletonOrArray), labels [N] fit a one-unit head', async () => {
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, activation: 'sigmoid', inputShape: [4] })] });
  model.compile({ loss: 'binaryCrossentropy', optimizer: 'sgd' });
  const x = tf.tensor(Array.from(features), [n, 4]),
    y = tf.tensor(bits, [n]);
  await model.fit(x, y, { epochs: 1, verbose: 0 });
  const loss = model.evaluate(x, y) as ReturnType<typeof tf.scalar>;
  assert.not.ok(Array.isArray(loss));
  assert.equal(loss.shape, []);
  assert.ok(Number.isFinite(loss.dataSync()[0]));
  model.compile({ loss: 'binaryCrossentropy', optimizer: 'sgd', metrics: ['accuracy'] });
  const both = model.evaluate(x, y);
  assert.ok(Array.isArray(both) && both.length === 2);
  assert.throws(() => model.getWeights('yes' as unknown as boolean), /Expected a boolean for trainableOnly/);
  model.layers[0].trainable = false;
  assert.is(model.getWeights(true).length, 0, 'a frozen layer has no trainable weights');
  assert.is(model.getWeights().length, 2);
  await model.save('file:///nonexistent', { includeOptimizer: true }).then(
    () => assert.unreachable('includeOptimizer'),
    e => assert.is(e.code, 'ERR_KERNELNET_UNSUPPORTED'),
  );
  dispose([x, y, loss, ...(both as ReturnType<typeof tf.scalar>[])]);
  model.dispose();
});

First("kernelnet/tfjs: summary prints tfjs's layout line by line, as tfjs-layers prints it", () => {
  const build = (lib: typeof tf | typeof tfl) => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const l = lib.layers as any,
      m = lib.sequential();
    m.add(l.conv2d({ filters: 4, kernelSize: 3, inputShape: [8, 8, 1], name: 'a_really_long_layer_name_for_a_conv' }));
    m.add(l.flatten({ name: 'flat' }));
    m.add(l.dense({ units: 3, activation: 'softmax', name: 'head' }));
    return m;
  };
  const ours = build(tf),
    theirs = build(tfl);
  for (const args of [[], [60, [0.5, 0.7, 0.9, 1]], [70, [20, 40, 55, 70]]] as const) {
    const a: string[] = [],
      b: string[] = [];
    ours.summary(args[0], args[1] as number[] | undefined, l => a.push(l));
    theirs.summary(args[0], args[1] as number[] | undefined, (l: string) => b.push(l));
    assert.equal(a, b, `summary(${args.join(', ')})`);
  }
  assert.throws(() => ours.summary(60, [0.5, 0.4, 0.9, 1]), /Expected 4 increasing column positions/);
  ours.dispose();
  theirs.dispose();
  tfc.disposeVariables();
});

// tfjs-layers' compile (4.22): getOptimizer's names with tfjs's defaults (Adagrad 0.01, Adadelta 1, not Keras's
// 0.001), `metrics` as one string, model.metricsNames ('accuracy' named 'acc'), and History.params.metrics listing
// the logged names with their val_ twins. Each compared with tfjs itself on the same model and data.
First("kernelnet/tfjs: compile takes tfjs's optimizer names and a metric string; metricsNames and params.metrics as tfjs's", async () => {
  const x = [
      [0, 1, 2],
      [1, 0, 1],
      [2, 2, 0],
      [1, 1, 1],
    ],
    y = [
      [1, 0],
      [0, 1],
      [1, 0],
      [0, 1],
    ];
  for (const optimizer of ['Adagrad', 'adagrad', 'Adadelta', 'Adam', 'RMSProp', 'rmsprop', 'SGD', 'sgd']) {
    const runs = await Promise.all(
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      [tf, { ...tfc, ...tfl, layers: tfl.layers }].map(async (lib: any) => {
        const m = lib.sequential({ layers: [lib.layers.dense({ units: 2, activation: 'softmax', inputShape: [3] })] });
        m.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: 'accuracy' });
        const xs = lib.tensor2d(x),
          ys = lib.tensor2d(y);
        const h = await m.fit(xs, ys, { epochs: 1, verbose: 0, validationData: [xs, ys] });
        const out = { lr: m.optimizer.learningRate as number, names: m.metricsNames as string[], metrics: h.params.metrics as string[] };
        xs.dispose();
        ys.dispose();
        m.dispose();
        return out;
      }),
    );
    assert.is(runs[0].lr, runs[1].lr, `${optimizer}: learning rate`);
    assert.equal(runs[0].names, runs[1].names, `${optimizer}: metricsNames`);
    assert.equal([...runs[0].metrics].sort(), [...runs[1].metrics].sort(), `${optimizer}: params.metrics`);
  }
  const m = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [3] })] });
  assert.throws(
    () => m.compile({ optimizer: 'Adamax', loss: 'meanSquaredError' }),
    (e: Error) => (e as ValidationError).code === 'ERR_KERNELNET_UNSUPPORTED' && /no Adamax/.test(e.message),
  );
  assert.throws(() => m.compile({ optimizer: 'nesterov', loss: 'meanSquaredError' }), /'Adagrad', 'Adadelta', 'Adam', 'RMSProp', 'SGD'/);
  m.dispose();
  tfc.disposeVariables();
});

First.run();
