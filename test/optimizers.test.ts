// The optimizers against Keras 3's update rules (keras/src/optimizers/{sgd,adam,rmsprop,adagrad}.py and the base
// optimizer's _apply_weight_decay, written out below in float64), each for several steps with the rate read from
// device memory and Adam's bias correction from the iteration count; then training with each (the loss falls),
// their string forms with Keras 3's defaults, and checkpoints that resume exactly.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Adadelta,
  Adagrad,
  Adam,
  AdamW,
  ExponentialDecay,
  RMSprop,
  SGD,
  Sequential,
  ValidationError,
  dispose,
  loadModel,
  tidy,
  type Optimizer,
} from '../lib/index.js';
import { native } from '../lib/core/native.js';
import { I, T, close, disposeAll, randomArray, rng, smallModel, syntheticData, throwsA } from './helpers.js';

const O = suite('optimizers');
O.after.each(disposeAll);
const dir = mkdtempSync(join(tmpdir(), 'kernelnet-opt-'));
O.after(() => rmSync(dir, { recursive: true, force: true }));

type Ref = { kind: 'sgd' | 'adam' | 'rmsprop' | 'adagrad'; h: number[]; slots: number; init?: number };
// Keras 3's update of one element, float64. s: the slots; t: iterations before the update.
function reference(kind: Ref['kind'], h: number[], p: number, g: number, s: number[], lr: number, t: number): number {
  const [b1, b2, eps, mom, nesterov, amsgrad, centered, wd] = h;
  if (wd) p -= p * wd * lr;
  if (kind === 'sgd') {
    if (mom) {
      s[0] = s[0] * mom - g * lr;
      return p + (nesterov ? s[0] * mom - g * lr : s[0]);
    }
    return p - g * lr;
  }
  if (kind === 'adam') {
    const alpha = (lr * Math.sqrt(1 - b2 ** (t + 1))) / (1 - b1 ** (t + 1));
    s[0] += (g - s[0]) * (1 - b1);
    s[1] += (g * g - s[1]) * (1 - b2);
    let v = s[1];
    if (amsgrad) v = s[2] = Math.max(s[2], s[1]);
    return p - (s[0] * alpha) / (Math.sqrt(v) + eps);
  }
  if (kind === 'rmsprop') {
    s[0] = b1 * s[0] + (1 - b1) * g * g;
    const m = mom > 0 ? 1 : -1,
      a = centered ? (mom > 0 ? 2 : 1) : -1;
    let den = s[0] + eps;
    if (a >= 0) {
      s[a] = b1 * s[a] + (1 - b1) * g;
      den = s[0] - s[a] * s[a] + eps;
    }
    const inc = (lr * g) / Math.sqrt(den);
    if (m >= 0) {
      s[m] = mom * s[m] + inc;
      return p - s[m];
    }
    return p - inc;
  }
  s[0] += g * g;
  return p - (lr * g) / Math.sqrt(s[0] + eps);
}

const CASES: [string, Ref][] = [
  ['sgd', { kind: 'sgd', h: [0, 0, 0, 0, 0, 0, 0, 0], slots: 0 }],
  ['sgd momentum', { kind: 'sgd', h: [0, 0, 0, 0.9, 0, 0, 0, 0], slots: 1 }],
  ['sgd nesterov', { kind: 'sgd', h: [0, 0, 0, 0.8, 1, 0, 0, 0], slots: 1 }],
  ['adam', { kind: 'adam', h: [0.9, 0.999, 1e-7, 0, 0, 0, 0, 0], slots: 2 }],
  ['adam amsgrad', { kind: 'adam', h: [0.8, 0.99, 1e-7, 0, 0, 1, 0, 0], slots: 3 }],
  ['adamw', { kind: 'adam', h: [0.9, 0.999, 1e-7, 0, 0, 0, 0, 0.004], slots: 2 }],
  ['rmsprop', { kind: 'rmsprop', h: [0.9, 0, 1e-7, 0, 0, 0, 0, 0], slots: 1 }],
  ['rmsprop momentum centered', { kind: 'rmsprop', h: [0.8, 0, 1e-7, 0.5, 0, 0, 1, 0], slots: 3 }],
  ['rmsprop centered', { kind: 'rmsprop', h: [0.9, 0, 1e-7, 0, 0, 0, 1, 0], slots: 2 }],
  ['adagrad', { kind: 'adagrad', h: [0, 0, 1e-7, 0, 0, 0, 0, 0], slots: 1, init: 0.1 }],
];

O("each update matches Keras's rule over 4 steps, across several tensors, the rate and step count from device memory", () => {
  const r = rng(51);
  for (const [what, c] of CASES) {
    const shapes = [[3, 4], [5], [2, 2, 2]];
    const p = shapes.map(s =>
        T(
          s,
          randomArray(
            s.reduce((a, b) => a * b),
            r,
          ),
        ),
      ),
      g = shapes.map(s => T(s));
    const slots = Array.from({ length: c.slots }, () => shapes.map(s => T(s, new Float32Array(s.reduce((a, b) => a * b)).fill(c.init ?? 0))));
    const ref = p.map(t => Array.from(t.read())),
      refSlots = p.map(t => Array.from({ length: t.size }, () => [c.init ?? 0, 0, 0]));
    if (c.kind === 'rmsprop' || c.kind === 'adam') refSlots.forEach(rs => rs.forEach(e => e.fill(0)));
    const lr = T([1]),
      it = I([1], Int32Array.of(0));
    for (let step = 0; step < 4; ++step) {
      const rate = 0.05 / (step + 1);
      lr.fill(rate);
      it.write(Int32Array.of(step));
      g.forEach((t, k) => {
        const data = randomArray(t.size, r);
        t.write(data);
        for (let e = 0; e < t.size; ++e) ref[k][e] = reference(c.kind, c.h, ref[k][e], data[e], refSlots[k][e], Math.fround(rate), step);
      });
      native.optimizerStep(c.kind, c.h, p, g, slots, lr, it);
    }
    p.forEach((t, k) => close(t.read(), ref[k], 1e-6, 1e-4, `${what}: params ${k}`));
    slots.forEach((ts, j) =>
      ts.forEach((t, k) =>
        close(
          t.read(),
          refSlots[k].map(e => e[j]),
          1e-6,
          1e-4,
          `${what}: slot ${j} of ${k}`,
        ),
      ),
    );
  }
  throwsA(
    Error,
    () => native.optimizerStep('adam', [0.9, 0.999, 1e-7, 0, 0, 0, 0, 0], [T([2])], [T([2])], [[T([2])]], T([1]), I([1])),
    /expected slots to be an array of 2 arrays for adam/,
    'slot count',
  );
});

const OPTS: [string, () => Optimizer][] = [
  ['SGD', () => new SGD({ learningRate: 0.1, momentum: 0.9, nesterov: true })],
  ['Adam', () => new Adam({ learningRate: 0.01 })],
  ['Adam amsgrad', () => new Adam({ learningRate: 0.01, amsgrad: true })],
  ['AdamW', () => new AdamW({ learningRate: 0.01 })],
  ['RMSprop', () => new RMSprop({ learningRate: 0.005, momentum: 0.5, centered: true })],
  ['Adagrad', () => new Adagrad({ learningRate: 0.1 })],
  ['Adam with a schedule', () => new Adam({ learningRate: new ExponentialDecay({ initialLearningRate: 0.01, decaySteps: 4, decayRate: 0.8 }) })],
];

O('each optimizer trains a small model (the loss falls), and save/loadModel resumes it exactly', async () => {
  const { x, y } = syntheticData(48);
  for (const [what, make] of OPTS) {
    const a = smallModel(8),
      b = smallModel(8);
    a.compile({ loss: 'categoricalCrossentropy', optimizer: make(), metrics: ['accuracy'] });
    b.compile({ loss: 'categoricalCrossentropy', optimizer: make(), metrics: ['accuracy'] });
    const h = await a.fit(x, y, { batchSize: 8, epochs: 4, verbose: 0 });
    assert.ok(h.history.loss[3] < h.history.loss[0], `${what}: the loss falls ${h.history.loss}`);
    await b.fit(x, y, { batchSize: 8, epochs: 2, verbose: 0 });
    const path = join(dir, `${what}.safetensors`);
    b.save(path);
    const c = loadModel(path);
    assert.is(c.optimizerOf('t').className, a.optimizerOf('t').className);
    assert.equal(c.optimizerOf('t').getConfig(), a.optimizerOf('t').getConfig(), `${what}: config`);
    await c.fit(x, y, { batchSize: 8, epochs: 4, initialEpoch: 2, verbose: 0 });
    const w = (m: Sequential) => tidy(() => m.getWeights().map(t => Array.from(t.dataSync())));
    assert.equal(w(c), w(a), `${what}: resumed = uninterrupted`);
    for (const m of [a, b, c]) m.dispose();
  }
  dispose([x, y]);
});

O("string forms take Keras 3's defaults (Adadelta keeps the seed's 1.0); arguments are checked", () => {
  const expected: Record<string, [string, number]> = {
    sgd: ['SGD', 0.01],
    adam: ['Adam', 0.001],
    adamw: ['AdamW', 0.001],
    rmsprop: ['RMSprop', 0.001],
    adagrad: ['Adagrad', 0.001],
    adadelta: ['Adadelta', 1],
  };
  for (const [name, [cls, lr]] of Object.entries(expected)) {
    const m = smallModel(1);
    m.compile({ loss: 'categoricalCrossentropy', optimizer: name as never });
    assert.is(m.optimizerOf('t').className, cls);
    assert.is(m.optimizerOf('t').learningRate, lr);
    m.dispose();
  }
  assert.is(new AdamW().weightDecay, 0.004);
  assert.equal(Object.keys(new Adam().getConfig()), ['name', 'learningRate', 'beta1', 'beta2', 'epsilon', 'amsgrad']);
  throwsA(ValidationError, () => new SGD({ momentum: 1.5 }), /Expected number in \[0, 1\] for momentum/, 'momentum');
  throwsA(ValidationError, () => new Adam({ beta_1: 0.9 } as never), /Unknown option 'beta_1'.*did you mean 'beta1'/, 'spelling');
  throwsA(ValidationError, () => new RMSprop({ clipnorm: 1 } as never), /clipnorm is not supported yet/, 'clipnorm');
  throwsA(ValidationError, () => new Adadelta({ weightDecay: 0.1 } as never), /weightDecay is not supported yet/, 'Adadelta weight decay');
  const m = smallModel(1);
  throwsA(
    ValidationError,
    () => m.compile({ loss: 'categoricalCrossentropy', optimizer: 'nadam' as never }),
    /Expected an optimizer .* or one of 'sgd', 'adam'/,
    'unknown name',
  );
  m.dispose();
});

O.run();
