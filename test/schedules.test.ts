// Learning-rate schedules as an optimizer's learningRate (Keras 3's ExponentialDecay, PiecewiseConstantDecay and
// CosineDecay, keras/src/optimizers/schedules/learning_rate_schedule.py): the rate of update i is
// schedule(optimizer.iterations) with iterations = i (0 for the first update), as Keras's
// optimizer._get_current_learning_rate; it moves at every iteration, inside a recorded step, with the rate in
// device memory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Adadelta,
  CosineDecay,
  ExponentialDecay,
  LearningRateScheduler,
  PiecewiseConstantDecay,
  ReduceLROnPlateau,
  Sequential,
  ValidationError,
  dispose,
  loadModel,
  tensor,
  tidy,
  type LearningRateSchedule,
} from '../lib/index.js';
import { native } from '../lib/core/native.js';
import { close, smallModel, syntheticData, throwsA } from './helpers.js';

const S = suite('learning-rate schedules');
const dir = mkdtempSync(join(tmpdir(), 'kernelnet-sched-'));
S.after(() => rmSync(dir, { recursive: true, force: true }));

const weightsOf = (m: Sequential) => tidy(() => m.getWeights().map(w => Array.from(w.dataSync())));
const model = (seed: number, learningRate: number | LearningRateSchedule) => {
  const m = smallModel(seed);
  m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta({ learningRate }), metrics: ['accuracy'] });
  return m;
};

// Keras's formulas in float64, written out from its source.
const exponential = (init: number, steps: number, rate: number, stair: boolean) => (t: number) =>
  init * rate ** (stair ? Math.floor(t / steps) : t / steps);
const cosine = (init: number, steps: number, alpha: number, target: number | null, warm: number) => (t: number) => {
  const decay = (s: number, from: number) => from * ((1 - alpha) * 0.5 * (1 + Math.cos(Math.PI * (s / steps))) + alpha);
  if (target === null) return decay(Math.min(t, steps), init);
  const s = Math.min(t, steps + warm);
  return s < warm ? (target - init) * (s / warm) + init : decay(s - warm, target);
};

S("each schedule matches Keras's formula at every step (host and device evaluate the same function)", () => {
  const cases: [LearningRateSchedule, (t: number) => number][] = [
    [new ExponentialDecay({ initialLearningRate: 0.5, decaySteps: 10, decayRate: 0.9 }), exponential(0.5, 10, 0.9, false)],
    [new ExponentialDecay({ initialLearningRate: 2, decaySteps: 7, decayRate: 0.5, staircase: true }), exponential(2, 7, 0.5, true)],
    [new CosineDecay({ initialLearningRate: 1, decaySteps: 20, alpha: 0.1 }), cosine(1, 20, 0.1, null, 0)],
    [new CosineDecay({ initialLearningRate: 0, decaySteps: 20, warmupTarget: 0.8, warmupSteps: 5 }), cosine(0, 20, 0, 0.8, 5)],
    // Keras's docstring: values[0] while step <= boundaries[0], values[1] while boundaries[0] < step <= boundaries[1], ...
    [new PiecewiseConstantDecay({ boundaries: [3, 8], values: [1, 0.5, 0.1] }), t => (t <= 3 ? 1 : t <= 8 ? 0.5 : 0.1)],
  ];
  const it = new native.Tensor([1], 'int32', Int32Array.of(0), 'cpu');
  const lr = new native.Tensor([1], 'float32', undefined, 'cpu');
  try {
    for (const [s, ref] of cases)
      for (let t = 0; t < 40; ++t) {
        const got = s.call(t);
        close([got], [ref(t)], 1e-7, 1e-6, `${s.className} at ${t}`);
        it.write(Int32Array.of(t));
        const { kind, params } = s.native();
        native.learningRate(kind, params, it, lr);
        assert.is(lr.read()[0], got, `the device op writes the host's value (${s.className} at ${t})`);
      }
  } finally {
    it.dispose();
    lr.dispose();
  }
});

S('a schedule moves the rate at every iteration of fit, inside the recorded step (= trainOnBatch with the rate set per step)', async () => {
  const { x, y } = syntheticData(24);
  const sched = new PiecewiseConstantDecay({ boundaries: [1, 4], values: [1, 0.3, 0.05] });
  const a = model(11, sched),
    b = model(11, 1);
  const h = await a.fit(x, y, { batchSize: 8, epochs: 2, verbose: 0, shuffle: false });
  const opt = a.optimizerOf('test'),
    manual = b.optimizerOf('test');
  assert.is(opt.iterations, 6, 'one iteration per batch');
  // As Keras's optimizer.learning_rate: the schedule's value at the iteration count when the epoch ended.
  assert.equal(h.history.lr, [sched.call(3), sched.call(6)]);
  const xs = [0, 8, 16].map(r =>
    tidy(() => [
      tensor((x.dataSync() as Float32Array).slice(r * 64, (r + 8) * 64), [8, 8, 8, 1]),
      tensor((y.dataSync() as Float32Array).slice(r * 3, (r + 8) * 3), [8, 3]),
    ]),
  );
  for (let i = 0; i < 6; ++i) {
    manual.learningRate = sched.call(i);
    await b.trainOnBatch(xs[i % 3][0], xs[i % 3][1]);
  }
  assert.equal(weightsOf(a), weightsOf(b), 'the same rate at each of the 6 updates');
  assert.is(manual.iterations, 6);
  dispose([x, y, xs]);
  a.dispose();
  b.dispose();
});

S('a scheduled rate is not settable (as Keras), so LearningRateScheduler and ReduceLROnPlateau refuse it', async () => {
  const { x, y } = syntheticData(16);
  const m = model(2, new ExponentialDecay({ initialLearningRate: 1, decaySteps: 2, decayRate: 0.5 }));
  throwsA(
    ValidationError,
    () => {
      m.optimizerOf('test').learningRate = 0.1;
    },
    /follows a ExponentialDecay schedule, so it is not settable/,
    'setter',
  );
  await m.fit(x, y, { verbose: 0, callbacks: new LearningRateScheduler(() => 0.1) }).then(
    () => assert.unreachable('scheduler'),
    e => assert.instance(e, ValidationError),
  );
  const r = new ReduceLROnPlateau({ monitor: 'loss', patience: 0 });
  r.setModel(m);
  r.onTrainBegin();
  r.onEpochEnd(0, { loss: 1 });
  throwsA(ValidationError, () => r.onEpochEnd(1, { loss: 1 }), /not settable/, 'ReduceLROnPlateau');
  dispose([x, y]);
  m.dispose();
});

S('save/loadModel keep the schedule and the iteration count: a resumed run equals an uninterrupted one', async () => {
  const { x, y } = syntheticData(24);
  const sched = () => new CosineDecay({ initialLearningRate: 0.2, decaySteps: 8, warmupTarget: 1, warmupSteps: 2 });
  const a = model(5, sched()),
    b = model(5, sched());
  await a.fit(x, y, { batchSize: 8, epochs: 3, verbose: 0 });
  await b.fit(x, y, { batchSize: 8, epochs: 1, verbose: 0 });
  const path = join(dir, 'cosine.safetensors');
  b.save(path);
  const c = loadModel(path);
  const opt = c.optimizerOf('test');
  assert.is(opt.iterations, 3);
  assert.instance(opt.schedule, CosineDecay);
  assert.equal(opt.schedule!.getConfig(), sched().getConfig());
  await c.fit(x, y, { batchSize: 8, epochs: 3, initialEpoch: 1, verbose: 0 });
  assert.equal(weightsOf(c), weightsOf(a));
  dispose([x, y]);
  for (const m of [a, b, c]) m.dispose();
});

S("arguments are checked (Keras's rules, tfjs spellings)", () => {
  throwsA(
    ValidationError,
    () => new ExponentialDecay({ initialLearningRate: 1, decaySteps: 0, decayRate: 0.5 }),
    /Expected a positive number for decaySteps/,
    'decaySteps',
  );
  throwsA(
    ValidationError,
    () => new ExponentialDecay({ initial_learning_rate: 1 } as never),
    /Unknown option 'initial_learning_rate'.*did you mean 'initialLearningRate'/,
    'spelling',
  );
  throwsA(ValidationError, () => new PiecewiseConstantDecay({ boundaries: [5, 5], values: [1, 2, 3] }), /strictly increasing/, 'boundaries');
  throwsA(
    ValidationError,
    () => new PiecewiseConstantDecay({ boundaries: [5], values: [1] }),
    /one more element than boundaries \(2\) but received 1/,
    'values',
  );
  throwsA(
    ValidationError,
    () => new CosineDecay({ initialLearningRate: 1, decaySteps: 10, warmupSteps: 3 }),
    /warmupSteps without a warmupTarget/,
    'warm-up',
  );
  throwsA(ValidationError, () => new Adadelta({ learningRate: -1 }), /learningRate/, 'a negative rate');
  throwsA(ValidationError, () => native.scheduleValue('piecewise', [1, 2], 0), /one more|n boundaries/, 'native guard');
});

S.run();
