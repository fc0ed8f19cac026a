// The Keras vocabulary beyond the seed model, end to end: layers built with every activation train (the loss
// falls on learnable data), save/loadModel round-trips them exactly, names and aliases are Keras's and tfjs's.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Activation, Adadelta, Conv2D, Dense, Flatten, LeakyReLU, Sequential, ValidationError, dispose, loadModel, tidy } from '../lib/index.js';
import { syntheticData, throwsA } from './helpers.js';

const V = suite('Keras vocabulary');
const dir = mkdtempSync(join(tmpdir(), 'kernelnet-vocab-'));
V.after(() => rmSync(dir, { recursive: true, force: true }));

V('activations on Conv2D and Dense, Activation and LeakyReLU layers: a model trains, and save/load keeps it exactly', async () => {
  const { x, y } = syntheticData(48);
  const m = new Sequential({
    seed: 4,
    layers: [
      new Conv2D({ filters: 4, kernelSize: 3, activation: 'swish', inputShape: [8, 8, 1] }),
      new Activation({ activation: 'tanh' }),
      new LeakyReLU({ alpha: 0.1 }),
      new Conv2D({ filters: 4, kernelSize: 3, activation: 'elu' }),
      new Flatten(),
      new Dense({ units: 16, activation: 'gelu' }),
      new Dense({ units: 8, activation: 'selu' }),
      new Dense({ units: 8, activation: 'softplus' }),
      new Dense({ units: 8, activation: 'relu6' }),
      new Dense({ units: 8, activation: 'sigmoid' }),
      new Dense({ units: 3 }),
      new Activation({ activation: 'softmax' }),
    ],
  });
  m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta(), metrics: ['accuracy'] });
  const h = await m.fit(x, y, { batchSize: 8, epochs: 12, verbose: 0 });
  const loss = h.history.loss;
  assert.ok(loss.every(Number.isFinite), `finite losses ${loss}`);
  assert.ok(loss.at(-1)! < loss[0] * 0.9, `the loss falls: ${loss.map(l => l.toFixed(4))}`);
  const path = join(dir, 'acts.safetensors');
  m.save(path);
  const back = loadModel(path);
  assert.equal(
    back.layers.map(l => l.className),
    m.layers.map(l => l.className),
  );
  assert.equal(
    back.layers.map(l => l.getConfig()),
    m.layers.map(l => l.getConfig()),
  );
  const same = tidy(() => [m, back].map(model => Array.from(model.predict(x).dataSync())));
  assert.equal(same[1], same[0], 'the same predictions after loading');
  dispose([x, y]);
  m.dispose();
  back.dispose();
});

V('Conv2D dilationRate: the dilated output shape, training, save/load; strides above 1 with it refused as Keras does', async () => {
  // Keras 3's Conv2D docstring: "Specifying any stride value != 1 is incompatible with specifying any dilation_rate
  // value != 1"; tfjs's conv2d asserts the same. Output size: 'valid' floor((n - span) / 1) + 1 with
  // span = (k - 1) * rate + 1; 'same' keeps n.
  const { x, y } = syntheticData(32);
  const m = new Sequential({
    seed: 5,
    layers: [
      new Conv2D({ filters: 4, kernelSize: 3, dilationRate: 2, activation: 'relu', inputShape: [8, 8, 1] }),
      new Conv2D({ filters: 4, kernelSize: [2, 3], dilationRate: [3, 1], padding: 'same', activation: 'relu' }),
      new Flatten(),
      new Dense({ units: 3, activation: 'softmax' }),
    ],
  });
  assert.equal(m.layers[0].outputShape, [4, 4, 4], '8 - 5 + 1');
  assert.equal(m.layers[1].outputShape, [4, 4, 4], "'same'");
  m.compile({ loss: 'categoricalCrossentropy', optimizer: 'adam', metrics: ['accuracy'] });
  const h = await m.fit(x, y, { batchSize: 8, epochs: 15, verbose: 0 });
  assert.ok(h.history.loss.at(-1)! < h.history.loss[0] * 0.9, `the loss falls: ${h.history.loss}`);
  const path = join(dir, 'dilated.safetensors');
  m.save(path);
  const back = loadModel(path);
  assert.equal((back.layers[0] as Conv2D).dilationRate, [2, 2]);
  assert.equal((back.layers[1] as Conv2D).dilationRate, [3, 1]);
  const same = tidy(() => [m, back].map(model => Array.from(model.predict(x).dataSync())));
  assert.equal(same[1], same[0], 'the same predictions after loading');
  throwsA(
    ValidationError,
    () => new Conv2D({ filters: 2, kernelSize: 3, dilationRate: 2, strides: 2 }),
    /dilationRate \[2,2\] needs strides of 1/,
    'with strides',
  );
  throwsA(ValidationError, () => new Conv2D({ filters: 2, kernelSize: 3, dilationRate: 0 }), /dilationRate/, 'zero');
  throwsA(
    ValidationError,
    () => new Sequential({ layers: [new Conv2D({ filters: 2, kernelSize: 3, dilationRate: 4, inputShape: [8, 8, 1] })] }),
    /3x3 kernel dilated by \[4, 4\] does not fit/,
    'span 9 > 8',
  );
  dispose([x, y]);
  m.dispose();
  back.dispose();
});

V('activation names: Keras and tfjs spellings and aliases; softmax only at the end; unknown names refused', () => {
  assert.is(new Dense({ units: 2, activation: 'silu' }).activation, 'swish');
  assert.is(new Conv2D({ filters: 2, kernelSize: 3, activation: 'leakyRelu' }).activation, 'leaky_relu');
  // Conv2D takes softmax (over the channels) as Keras does, on an output layer only (a per-pixel classifier).
  const perPixel = new Sequential({
    layers: [new Conv2D({ filters: 2, kernelSize: 3, activation: 'softmax', inputShape: [5, 5, 1] }), new Flatten(), new Dense({ units: 2 })],
  });
  throwsA(
    ValidationError,
    () => perPixel.compile({ loss: 'mse', optimizer: 'sgd' }),
    /activation 'softmax' is supported on the last layer only/,
    'conv softmax inside',
  );
  perPixel.dispose();
  throwsA(
    ValidationError,
    () => new Dense({ units: 2, activation: 'mish' as never }),
    /Expected one of .*'softmax' for activation but received 'mish'/,
    'unknown',
  );
  throwsA(ValidationError, () => new Activation({} as never), /Expected an activation name for activation/, 'missing');
  throwsA(
    ValidationError,
    () => new LeakyReLU({ negativeSlope: 0.2 } as never),
    /negativeSlope is not supported yet.*tfjs spells it alpha/,
    'Keras 3 spelling',
  );
  const m = new Sequential({
    layers: [new Flatten({ inputShape: [4] }), new Activation({ activation: 'softmax' }), new Dense({ units: 2, activation: 'softmax' })],
  });
  throwsA(
    ValidationError,
    () => m.compile({ loss: 'categoricalCrossentropy', optimizer: 'adadelta' }),
    /activation 'softmax' is supported on the last layer only/,
    'softmax inside',
  );
  m.dispose();
});

V("initializers are Keras's variance scaling (uniform within sqrt(3 v), normal truncated at 2 sigma), useBias: false drops the bias", () => {
  const fanIn = 300,
    units = 200;
  // Keras 3's VarianceScaling: glorot scale 1 over (fan_in + fan_out) / 2, he 2 over fan_in, lecun 1 over fan_in.
  const variance: Record<string, number> = {
    glorotUniform: 2 / (fanIn + units),
    glorotNormal: 2 / (fanIn + units),
    heUniform: 2 / fanIn,
    heNormal: 2 / fanIn,
    lecunUniform: 1 / fanIn,
    lecunNormal: 1 / fanIn,
  };
  for (const [init, v] of Object.entries(variance)) {
    const m = new Sequential({
      seed: 3,
      layers: [new Dense({ units, inputShape: [fanIn], kernelInitializer: init as never, biasInitializer: 'ones' })],
    });
    m.compile({ loss: 'mse', optimizer: 'sgd' });
    const [k, b] = tidy(() => m.getWeights().map(w => Array.from(w.dataSync())));
    const mean = k.reduce((a, x) => a + x, 0) / k.length,
      varr = k.reduce((a, x) => a + (x - mean) ** 2, 0) / k.length;
    assert.ok(Math.abs(mean) < 0.05 * Math.sqrt(v), `${init}: mean ${mean}`);
    assert.ok(Math.abs(varr / v - 1) < 0.05, `${init}: variance ${varr} vs ${v}`);
    const bound = init.endsWith('Uniform') ? Math.sqrt(3 * v) : (2 * Math.sqrt(v)) / 0.87962566103423978;
    assert.ok(
      k.every(x => Math.abs(x) <= bound * (1 + 1e-6)),
      `${init}: within ${bound}`,
    );
    assert.ok(
      b.every(x => x === 1),
      'biasInitializer ones',
    );
    m.dispose();
  }
  const nb = new Sequential({
    layers: [
      new Conv2D({ filters: 4, kernelSize: 3, useBias: false, inputShape: [8, 8, 1] }),
      new Flatten(),
      new Dense({ units: 3, useBias: false, activation: 'softmax' }),
    ],
  });
  assert.is(nb.countParams(), 36 + 144 * 3);
  nb.dispose();
  throwsA(
    ValidationError,
    () => new Dense({ units: 2, kernelInitializer: 'orthogonal' as never }),
    /Expected one of 'glorotUniform', .* for kernelInitializer but received 'orthogonal'/,
    'unknown initializer',
  );
});

V('predict works on a model that was built but never compiled (Keras), with the weights compile keeps', async () => {
  const { x, y } = syntheticData(6);
  const m = new Sequential({
    seed: 2,
    layers: [new Flatten({ inputShape: [8, 8, 1] }), new Dense({ units: 3, activation: 'softmax', useBias: false })],
  });
  const before = tidy(() => Array.from(m.predict(x).dataSync()));
  assert.is(before.length, 18);
  m.compile({ loss: 'categoricalCrossentropy', optimizer: 'sgd' });
  assert.equal(
    tidy(() => Array.from(m.predict(x).dataSync())),
    before,
  );
  await m.fit(x, y, { verbose: 0 });
  const path = join(dir, 'nobias.safetensors');
  m.save(path);
  const back = loadModel(path);
  assert.equal(
    back.layers.map(l => l.getConfig()),
    m.layers.map(l => l.getConfig()),
  );
  assert.equal(
    tidy(() => Array.from(back.predict(x).dataSync())),
    tidy(() => Array.from(m.predict(x).dataSync())),
  );
  dispose([x, y]);
  m.dispose();
  back.dispose();
});

V.run();
