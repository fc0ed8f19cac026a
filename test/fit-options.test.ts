// fit like Keras: validationSplit, validationFreq, validationBatchSize, initialEpoch, callbacks in tfjs's forms
// with every hook, model.stopTraining, and the built-in callbacks. Each test says which Keras 3 behaviour it
// pins (keras/src/trainers/trainer.py's fit loop, keras/src/callbacks/*.py).
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Adadelta,
  CSVLogger,
  Dense,
  EarlyStopping,
  LearningRateScheduler,
  ModelCheckpoint,
  ReduceLROnPlateau,
  Sequential,
  StateError,
  TerminateOnNaN,
  ValidationError,
  dispose,
  loadModel,
  tensor,
  tidy,
  type Logs,
} from '../lib/index.js';
import { close, smallModel, syntheticData, throwsA } from './helpers.js';

const Fit = suite('fit options and callbacks');
const dir = mkdtempSync(join(tmpdir(), 'kernelnet-fit-'));
Fit.after(() => rmSync(dir, { recursive: true, force: true }));

const compiled = (seed = 3, lr = 1.0) => {
  const m = smallModel(seed);
  m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta({ learningRate: lr }), metrics: ['accuracy'] });
  return m;
};
const weightsOf = (m: Sequential) => tidy(() => m.getWeights().map(w => Array.from(w.dataSync())));
const rows = (t: ReturnType<typeof tensor>, start: number, end: number) => {
  const per = t.size / t.shape[0];
  return tensor((t.dataSync() as Float32Array).slice(start * per, end * per), [end - start, ...t.shape.slice(1)]);
};

Fit('validationSplit holds out the last fraction, taken before shuffling (Keras: x[:split_at] trains, x[split_at:] validates)', async () => {
  const { x, y } = syntheticData(40);
  const a = compiled(),
    b = compiled();
  // split_at = floor(40 * (1 - 0.25)) = 30
  const h = await a.fit(x, y, { batchSize: 8, epochs: 2, verbose: 0, validationSplit: 0.25 });
  const xt = rows(x, 0, 30),
    yt = rows(y, 0, 30),
    xv = rows(x, 30, 40),
    yv = rows(y, 30, 40);
  const h2 = await b.fit(xt, yt, { batchSize: 8, epochs: 2, verbose: 0, validationData: [xv, yv] });
  assert.equal(weightsOf(a), weightsOf(b), 'trained on the first 30 rows only');
  assert.equal(h.history.val_loss, h2.history.val_loss, 'validated on the last 10');
  assert.equal(h.params.samples, 30);
  await a.fit(x, y, { validationSplit: 0.99, verbose: 0 }).then(
    () => assert.unreachable('0 training rows'),
    e => assert.match(e.message, /validationSplit 0.99 of 40 examples leaves no training examples/),
  );
  await a.fit(x, y, { validationSplit: 1, verbose: 0 }).then(
    () => assert.unreachable('split 1'),
    e => assert.match(e.message, /Expected number in \[0, 1\) for validationSplit but received 1/),
  );
  dispose([x, y, xt, yt, xv, yv]);
  a.dispose();
  b.dispose();
});

Fit('validationFreq, validationBatchSize and initialEpoch (Keras: validate when (epoch + 1) % freq == 0; epochs run from initialEpoch)', async () => {
  const { x, y } = syntheticData(24);
  const m = compiled();
  const h = await m.fit(x, y, { batchSize: 8, epochs: 4, verbose: 0, validationData: [x, y], validationFreq: 2, validationBatchSize: 5 });
  assert.is(h.history.loss.length, 4);
  assert.is(h.history.val_loss.length, 2, 'validated after epochs 2 and 4 only');
  const listed = await m.fit(x, y, { batchSize: 8, epochs: 3, verbose: 0, validationData: [x, y], validationFreq: [1, 3] });
  assert.is(listed.history.val_loss.length, 2);
  const resumed = await m.fit(x, y, { batchSize: 8, epochs: 3, initialEpoch: 1, verbose: 0 });
  assert.equal(resumed.epoch, [1, 2]);
  dispose([x, y]);
  m.dispose();
});

Fit("callbacks: an array of objects with every tfjs hook, in Keras's order, async hooks awaited", async () => {
  const { x, y } = syntheticData(16);
  const m = compiled();
  const events: string[] = [];
  const slow = (e: string) =>
    new Promise<void>(r =>
      setTimeout(() => {
        events.push(e);
        r();
      }, 2),
    );
  await m.fit(x, y, {
    batchSize: 8,
    epochs: 2,
    verbose: 0,
    validationData: [x, y],
    callbacks: [
      {
        setModel: (model: Sequential) => {
          events.push(`setModel ${model === m}`);
        },
        onTrainBegin: () => slow('trainBegin'),
        onEpochBegin: (e: number) => {
          events.push(`epochBegin ${e}`);
        },
        onBatchBegin: (b: number, logs: Logs) => {
          events.push(`batchBegin ${b} size ${logs.size}`);
        },
        onBatchEnd: (b: number, logs: Logs) => {
          events.push(`batchEnd ${b} ${Number.isFinite(logs.loss)}`);
        },
        onEpochEnd: (e: number, logs: Logs) => slow(`epochEnd ${e} ${Object.keys(logs).join(',')}`),
        onTrainEnd: () => {
          events.push('trainEnd');
        },
      },
      {
        onYield: (e: number, b: number) => {
          events.push(`yield ${e}.${b}`);
        },
      },
    ],
  });
  assert.equal(events, [
    'setModel true',
    'trainBegin',
    'epochBegin 0',
    'batchBegin 0 size 8',
    'batchEnd 0 true',
    'yield 0.0',
    'batchBegin 1 size 8',
    'batchEnd 1 true',
    'yield 0.1',
    'epochEnd 0 loss,accuracy,val_loss,val_accuracy,lr',
    'epochBegin 1',
    'batchBegin 0 size 8',
    'batchEnd 0 true',
    'yield 1.0',
    'batchBegin 1 size 8',
    'batchEnd 1 true',
    'yield 1.1',
    'epochEnd 1 loss,accuracy,val_loss,val_accuracy,lr',
    'trainEnd',
  ]);
  await m.fit(x, y, { verbose: 0, callbacks: { onEpochEnd: 1 } as never }).then(
    () => assert.unreachable(),
    e => assert.match(e.message, /Expected a function for callbacks.onEpochEnd/),
  );
  dispose([x, y]);
  m.dispose();
});

Fit('model.stopTraining = true stops after the current batch (Keras: checked after every batch and every epoch)', async () => {
  const { x, y } = syntheticData(40);
  const m = compiled();
  let batches = 0;
  const h = await m.fit(x, y, {
    batchSize: 8,
    epochs: 3,
    verbose: 0,
    callbacks: {
      onBatchEnd: (b: number) => {
        batches++;
        if (b === 1) m.stopTraining = true;
      },
    },
  });
  assert.is(batches, 2, 'stopped after batch 1 of 5');
  assert.is(h.history.loss.length, 1, 'the epoch still ends (its logs, validation, onEpochEnd), and no other starts');
  dispose([x, y]);
  m.dispose();
});

Fit("EarlyStopping: Keras's wait/patience count, baseline, and the best weights restored at the end", async () => {
  // Driven with the monitored values Keras's own tests use, through a stand-in model.
  const stub = (values: number[], args: ConstructorParameters<typeof EarlyStopping>[0]) => {
    const weights: number[] = [];
    let restored: number | null = null,
      epoch = 0;
    const model = {
      stopTraining: false,
      getWeights: () => [tensor([epoch])],
      setWeights: (w: ReturnType<typeof tensor>[]) => {
        restored = w[0].dataSync()[0];
      },
    };
    const es = new EarlyStopping(args);
    es.setModel(model as unknown as Sequential);
    es.onTrainBegin();
    for (; epoch < values.length && !model.stopTraining; ++epoch) {
      weights.push(epoch);
      es.onEpochEnd(epoch, { loss: values[epoch] });
    }
    es.onTrainEnd();
    return { ran: epoch, stopped: es.stoppedEpoch, best: es.bestEpoch, restored };
  };
  // patience 2: best at epoch 1, then two epochs without improvement -> stop at epoch 3.
  assert.equal(stub([0.5, 0.4, 0.45, 0.46, 0.3], { monitor: 'loss', patience: 2, restoreBestWeights: true }), {
    ran: 4,
    stopped: 3,
    best: 1,
    restored: 1,
  });
  // minDelta: 0.399 is not 0.05 better than 0.4.
  assert.equal(stub([0.5, 0.4, 0.399, 0.398], { monitor: 'loss', patience: 1, minDelta: 0.05 }).stopped, 2);
  // A baseline never beaten: improvements do not reset the wait, so training stops once `patience` epochs have
  // passed (Keras returns before the patience check on an improving epoch), the best weights still restored.
  assert.equal(stub([0.9, 0.8, 0.85, 0.7], { monitor: 'loss', patience: 2, baseline: 0.1, restoreBestWeights: true }), {
    ran: 3,
    stopped: 2,
    best: 1,
    restored: 1,
  });
  // Without an early stop, restoreBestWeights still restores the best epoch when training ends.
  assert.equal(stub([0.5, 0.3, 0.4], { monitor: 'loss', patience: 10, restoreBestWeights: true }).restored, 1);
  throwsA(ValidationError, () => new EarlyStopping({ patience: -1 }), /non-negative integer for patience/, 'patience');
  throwsA(
    ValidationError,
    () => new EarlyStopping({ monitor: 'val_f1' }).onTrainBegin(),
    /cannot tell whether 'val_f1' should go up or down/,
    'auto mode',
  );

  // End to end: evaluate after fit equals the best epoch's val_loss.
  const { x, y } = syntheticData(48);
  const { x: xv, y: yv } = syntheticData(24);
  const m = compiled(4, 4.0); // a large learning rate, so that val_loss moves both ways
  const h = await m.fit(x, y, {
    batchSize: 8,
    epochs: 8,
    verbose: 0,
    validationData: [xv, yv],
    callbacks: [new EarlyStopping({ patience: 100, restoreBestWeights: true })],
  });
  const best = Math.min(...h.history.val_loss);
  close([m.evaluate(xv, yv, { batchSize: 8 })[0]], [best], 1e-6, 1e-5, "evaluate after fit = the best epoch's val_loss");
  // Monitoring a quantity the logs do not have is refused, not warned about.
  await m.fit(x, y, { verbose: 0, callbacks: [new EarlyStopping()] }).then(
    () => assert.unreachable(),
    e =>
      assert.match(e.message, /EarlyStopping monitors 'val_loss', which the logs do not have \(they have loss, accuracy, lr\); pass validationData/),
  );
  dispose([x, y, xv, yv]);
  m.dispose();
});

Fit('ModelCheckpoint: {epoch:02d} and {val_loss:.4f} in the path; saveBestOnly saves improving epochs only; files load', async () => {
  const { x, y } = syntheticData(32);
  const m = compiled(5, 4.0);
  const every = new ModelCheckpoint({ filepath: join(dir, 'all-{epoch:02d}.safetensors') });
  const best = new ModelCheckpoint({ filepath: join(dir, 'best-{epoch}-{val_loss:.4f}.safetensors'), saveBestOnly: true, saveWeightsOnly: true });
  const h = await m.fit(x, y, { batchSize: 8, epochs: 5, verbose: 0, validationData: [x, y], callbacks: [every, best] });
  assert.equal(
    every.saved.map(p => p.split('/').at(-1)),
    ['all-01.safetensors', 'all-02.safetensors', 'all-03.safetensors', 'all-04.safetensors', 'all-05.safetensors'],
  );
  const improving = h.history.val_loss.flatMap((v, i) => (h.history.val_loss.slice(0, i).every(p => v < p) ? [i] : []));
  assert.equal(
    best.saved.map(p => p.split('/').at(-1)),
    improving.map(i => `best-${i + 1}-${h.history.val_loss[i].toFixed(4)}.safetensors`),
  );
  const last = loadModel(every.saved.at(-1)!);
  assert.equal(weightsOf(last), weightsOf(m), 'the last checkpoint is the trained model');
  assert.ok(
    readdirSync(dir).every(f => !f.endsWith('.tmp')),
    'atomic: no temporary files left',
  );
  throwsA(ValidationError, () => new ModelCheckpoint({ filepath: join(dir, 'x'), saveFreq: 5 as never }), /saveFreq other than 'epoch'/, 'saveFreq');
  await m.fit(x, y, { verbose: 0, callbacks: new ModelCheckpoint({ filepath: join(dir, '{f1}.st') }) }).then(
    () => assert.unreachable(),
    e => assert.match(e.message, /the filepath names \{f1\}, which the logs do not have/),
  );
  last.dispose();
  dispose([x, y]);
  m.dispose();
});

Fit('ReduceLROnPlateau (Keras: wait, patience, factor, cooldown, minLr) and LearningRateScheduler set the rate each epoch uses', async () => {
  const m = compiled();
  const r = new ReduceLROnPlateau({ monitor: 'loss', factor: 0.5, patience: 1, cooldown: 1, minLr: 0.2, minDelta: 0 });
  r.setModel(m);
  r.onTrainBegin();
  const rates: number[] = [];
  for (const [e, loss] of [1.0, 1.0, 1.0, 1.0, 1.0, 1.0].entries()) {
    r.onEpochEnd(e, { loss });
    rates.push(m.optimizerOf('test').learningRate);
  }
  // e0 sets the best; e1: wait 1 >= patience, 1.0 -> 0.5, cooldown 1. As in Keras, the cooldown is counted down
  // before the check, so e2 (wait 1 again) reduces to 0.25 and e3 to max(0.125, minLr 0.2); then the rate
  // is at minLr and stays.
  assert.equal(rates, [1.0, 0.5, 0.25, 0.2, 0.2, 0.2]);

  const { x, y } = syntheticData(24);
  const s = compiled(),
    c = compiled();
  const h = await s.fit(x, y, {
    batchSize: 8,
    epochs: 3,
    verbose: 0,
    callbacks: new LearningRateScheduler((epoch, lr) => (epoch === 0 ? 0.5 : lr / 2)),
  });
  assert.equal(h.history.lr, [0.5, 0.25, 0.125], 'the rate each epoch trained with, in the logs');
  await c.fit(x, y, { batchSize: 8, epochs: 3, verbose: 0 });
  assert.not.equal(weightsOf(s), weightsOf(c), 'the schedule changed the training');
  dispose([x, y]);
  for (const model of [m, s, c]) model.dispose();
});

Fit('a learning rate changed inside an epoch applies from the next step', async () => {
  const { x, y } = syntheticData(24);
  const a = compiled(6),
    b = compiled(6);
  // lr 0 after the first batch: the rest of the epoch leaves the weights where one step put them.
  await a.fit(x, y, {
    batchSize: 8,
    epochs: 1,
    verbose: 0,
    shuffle: false,
    callbacks: {
      onBatchEnd: () => {
        a.optimizerOf('test').learningRate = 0;
      },
    },
  });
  const first = rows(x, 0, 8),
    firstY = rows(y, 0, 8);
  await b.fit(first, firstY, { batchSize: 8, epochs: 1, verbose: 0, shuffle: false });
  assert.equal(weightsOf(a), weightsOf(b));
  dispose([x, y, first, firstY]);
  a.dispose();
  b.dispose();
});

Fit('CSVLogger writes an epoch column and the sorted log keys', async () => {
  const { x, y } = syntheticData(16);
  const m = compiled();
  const file = join(dir, 'log.csv');
  const h = await m.fit(x, y, { batchSize: 8, epochs: 2, verbose: 0, validationData: [x, y], callbacks: [new CSVLogger(file)] });
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  assert.is(lines[0], 'epoch,accuracy,loss,lr,val_accuracy,val_loss');
  assert.is(lines.length, 3);
  assert.is(Number(lines[2].split(',')[2]), h.history.loss[1]);
  dispose([x, y]);
  m.dispose();
});

Fit('TerminateOnNaN (Keras: stop_training after a batch with a NaN or infinite loss, no error)', async () => {
  const { x, y } = syntheticData(24);
  const data = x.dataSync() as Float32Array;
  data[0] = NaN; // the first example poisons batch 0
  const poisoned = tensor(data, x.shape);
  const m = compiled();
  const log = console.log;
  console.log = () => {};
  try {
    let batches = 0;
    const h = await m.fit(poisoned, y, {
      batchSize: 8,
      epochs: 3,
      verbose: 0,
      shuffle: false,
      stopOnNonFiniteLoss: false,
      callbacks: [
        new TerminateOnNaN(),
        {
          onBatchEnd: () => {
            batches++;
          },
        },
      ],
    });
    assert.is(batches, 1, 'stopped after the first batch');
    assert.is(h.history.loss.length, 1);
    assert.ok(Number.isNaN(h.history.loss[0]));
  } finally {
    console.log = log;
  }
  dispose([x, y, poisoned]);
  m.dispose();
});

Fit("getLayer by name or index; a layer's getWeights/setWeights (Keras: kernel then bias; [] for a layer without)", () => {
  const m = compiled();
  assert.is(m.getLayer('conv2d').className, 'Conv2D');
  assert.is(m.getLayer(undefined, 4).className, 'Dense');
  throwsA(
    ValidationError,
    () => m.getLayer('conv'),
    /Expected one of the layer names 'conv2d', 'max_pooling2d', 'dropout', 'flatten', 'dense' for name but received 'conv'/,
    'unknown name',
  );
  const dense = m.getLayer('dense');
  const [kernel, bias] = dense.getWeights();
  assert.equal(kernel.shape, [36, 3]);
  assert.equal(bias.shape, [3]);
  assert.equal(m.getLayer('flatten').getWeights(), []);
  dense.setWeights([tensor(new Float32Array(108).fill(0.5), [36, 3]), tensor([1, 2, 3])]);
  const all = m.getWeights();
  assert.equal(Array.from(all[3].dataSync()), [1, 2, 3], "the model sees the layer's new bias");
  throwsA(ValidationError, () => dense.setWeights([kernel]), /Expected an array of 2 tensors for weights/, 'count');
  throwsA(StateError, () => smallModel(1).getLayer('dense').getWeights(), /the weights are made by the model's compile\(\)/, 'before compile');
  dispose([kernel, bias, all]);
  m.dispose();
});

Fit("trainOnBatch takes fit's step on exactly that batch; predictOnBatch predicts it as one batch", async () => {
  const { x, y } = syntheticData(12);
  const a = compiled(8),
    b = compiled(8);
  const out = await a.trainOnBatch(x, y);
  const h = await b.fit(x, y, { batchSize: 12, epochs: 1, verbose: 0, shuffle: false });
  assert.equal(weightsOf(a), weightsOf(b), 'the same step');
  assert.equal(out, [h.history.loss[0], h.history.accuracy[0]], '[loss, accuracy], as tfjs returns with a metric');
  const p = a.predictOnBatch(x),
    q = a.predict(x, { batchSize: 12 });
  assert.equal(Array.from(p.dataSync()), Array.from(q.dataSync()));
  dispose([x, y, p, q]);
  a.dispose();
  b.dispose();
});

Fit('layer.trainable = false freezes its weights (Keras: not updated; summary counts them as non-trainable)', async () => {
  const { x, y } = syntheticData(24);
  const m = compiled(9);
  const conv = m.getLayer('conv2d'),
    dense = m.getLayer('dense');
  conv.trainable = false;
  const text = m.summary(() => {});
  assert.match(text, /Total params: 151\nTrainable params: 111\nNon-trainable params: 40/);
  const before = tidy(() => [conv, dense].map(l => l.getWeights().map(w => Array.from(w.dataSync()))));
  for (const p of conv.params) p.grad.fill(7); // a frozen layer's weight gradients are not even computed
  await m.fit(x, y, { batchSize: 8, epochs: 2, verbose: 0 });
  assert.ok(
    conv.params.every(p => p.grad.read().every(v => v === 7)),
    'no weight gradients for the frozen layer',
  );
  const after = tidy(() => [conv, dense].map(l => l.getWeights().map(w => Array.from(w.dataSync()))));
  assert.equal(after[0], before[0], 'the frozen layer did not move');
  assert.not.equal(after[1], before[1], 'the others trained');
  conv.trainable = true; // read at the next epoch's start
  await m.fit(x, y, { batchSize: 8, epochs: 1, verbose: 0 });
  assert.not.equal(
    tidy(() => conv.getWeights().map(w => Array.from(w.dataSync()))),
    before[0],
  );
  throwsA(ValidationError, () => new Dense({ units: 2, trainable: 'no' } as never), /Expected a boolean for trainable/, 'trainable type');
  dispose([x, y]);
  m.dispose();
});

Fit.run();
