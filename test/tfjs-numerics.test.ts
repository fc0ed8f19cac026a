// kernelnet/tfjs's numerics follow tfjs, not Keras, against the real TensorFlow.js (@tensorflow/tfjs-core,
// -backend-cpu, -layers 4.22):
//   initializers: tfjs-layers' src/initializers.ts (VarianceScaling's 'normal' is truncatedNormal(0, sqrt(scale /
//     fan)) with no correction for the truncation; its identifiers and tf.initializers' factories), and the
//     glorotNormal kernel default of tfjs-layers' core.ts (Dense) and convolutional.ts (Conv2D);
//   losses: tfjs-layers' src/losses.ts (categoricalCrossentropy on output / sum(output) clipped to [1e-7,
//     1 - 1e-7]; binaryCrossentropy on the clipped probabilities' logits), values and gradients (tf.grad);
//   setWeights before compile (tfjs's LayersModel allows it).
// kernelnet's own API keeps Keras's numerics: pinned here too, where they differ.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as tfc from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tf from '../lib/tfjs.js';
import { Dense, Sequential, ValidationError } from '../lib/index.js';
import { native, METRIC_SLOTS } from '../lib/core/native.js';
import { I, T, close, disposeAll, out } from './helpers.js';

tfc.env().set('IS_TEST', true);
const N = suite('kernelnet/tfjs numerics');
N.before(async () => {
  await tfc.setBackend('cpu');
});

/** Sample mean, standard deviation and largest magnitude. */
function stats(v: ArrayLike<number>) {
  let s = 0,
    s2 = 0,
    max = 0;
  for (let i = 0; i < v.length; ++i) {
    s += v[i];
    s2 += v[i] * v[i];
    max = Math.max(max, Math.abs(v[i]));
  }
  const mean = s / v.length;
  return { mean, std: Math.sqrt(s2 / v.length - mean * mean), max };
}

/** A kernel as a layer made through kernelnet/tfjs draws it: a model of that one layer, its weights read and freed. */
function tfjsKernel(layer: tf.Layer, inputShape?: number[]): Float32Array[] {
  const m = tf.sequential();
  if (inputShape) m.add(tf.layers.flatten({ inputShape }));
  m.add(layer);
  const ws = m.getWeights();
  const out = ws.map(w => w.dataSync() as Float32Array);
  tf.dispose(ws);
  m.dispose();
  return out;
}

/** The same initializer drawn by tfjs itself for this shape. */
function tfjsDraw(init: { apply(shape: number[]): tfc.Tensor }, shape: number[]): Float32Array {
  const t = init.apply(shape);
  const v = t.dataSync() as Float32Array;
  t.dispose();
  return v;
}

const TRUNCATED_STD = 0.87962566103423978; // the sample stddev of a unit normal truncated at 2 sigma

N('initializers: tfjs identifiers draw as tfjs-layers (initializers.ts); VarianceScaling normal has no 0.8796 correction', () => {
  const fanIn = 800,
    units = 600; // 480,000 values: the sample stddev within about 0.3%
  const cases: [string, { apply(shape: number[]): tfc.Tensor }, number, boolean][] = [
    // [identifier, tfjs's own, the distribution's parameter stddev sqrt(scale / fan), normal?]
    ['leCunNormal', tfl.initializers.leCunNormal({}), Math.sqrt(1 / fanIn), true],
    ['varianceScaling', tfl.initializers.varianceScaling({}), Math.sqrt(1 / fanIn), true], // scale 1, fanIn, normal
    ['glorotNormal', tfl.initializers.glorotNormal({}), Math.sqrt(2 / (fanIn + units)), true],
    ['heNormal', tfl.initializers.heNormal({}), Math.sqrt(2 / fanIn), true],
    ['leCunUniform', tfl.initializers.leCunUniform({}), Math.sqrt(1 / fanIn), false],
    ['glorotUniform', tfl.initializers.glorotUniform({}), Math.sqrt(2 / (fanIn + units)), false],
  ];
  for (const [id, theirs, sigma, normal] of cases) {
    const [k] = tfjsKernel(tf.layers.dense({ units, useBias: false, kernelInitializer: id as 'glorotNormal', inputShape: [fanIn] }));
    const s = stats(k),
      t = stats(tfjsDraw(theirs, [fanIn, units]));
    // tfjs's truncatedNormal(0, sigma): sample stddev 0.8796 sigma, nothing beyond 2 sigma; uniform: sigma, within sqrt(3) sigma
    const want = normal ? TRUNCATED_STD * sigma : sigma;
    assert.ok(Math.abs(s.std / want - 1) < 0.02, `${id}: sample stddev ${s.std}, expected ${want}`);
    assert.ok(Math.abs(s.std / t.std - 1) < 0.02, `${id}: sample stddev ${s.std}, tfjs's ${t.std}`);
    assert.ok(s.max <= (normal ? 2 : Math.sqrt(3)) * sigma * (1 + 1e-6), `${id}: largest ${s.max}`);
    if (normal) assert.ok(s.max > 1.95 * sigma, `${id}: a normal truncated at 2 sigma reaches near it (${s.max / sigma} sigma)`);
    assert.ok(Math.abs(s.mean) < 0.01 * sigma, `${id}: mean ${s.mean}`);
  }
});

N("initializers: kernelnet's own Dense keeps Keras's corrected normal (the correction's absence in kernelnet/tfjs is detectable)", () => {
  const fanIn = 800,
    units = 600,
    sigma = Math.sqrt(1 / fanIn);
  const m = new Sequential();
  m.add(new Dense({ units, useBias: false, kernelInitializer: 'lecunNormal', inputShape: [fanIn] }));
  const [w] = m.getWeights();
  const keras = stats(w.dataSync());
  w.dispose();
  m.dispose();
  const [k] = tfjsKernel(tf.layers.dense({ units, useBias: false, kernelInitializer: 'leCunNormal' as 'lecunNormal', inputShape: [fanIn] }));
  const ours = stats(k);
  // Keras divides the stddev by 0.8796 so that the truncated draw has stddev sigma; tfjs does not: 12% apart
  assert.ok(Math.abs(keras.std / sigma - 1) < 0.02, `Keras: ${keras.std} vs ${sigma}`);
  assert.ok(Math.abs(ours.std / (TRUNCATED_STD * sigma) - 1) < 0.02, `tfjs: ${ours.std} vs ${TRUNCATED_STD * sigma}`);
  assert.ok(keras.std / ours.std > 1.1, 'the two differ by the correction');
});

N('initializers: tfjs-layers core.ts and convolutional.ts default the kernel to glorotNormal (Keras: glorotUniform)', () => {
  const dense = tfl.layers.dense({ units: 3 }).getConfig() as { kernelInitializer: { config: Record<string, unknown> } };
  assert.equal(dense.kernelInitializer.config.distribution, 'normal', "tfjs's own Dense default");
  const conv = tfl.layers.conv2d({ filters: 2, kernelSize: 3 }).getConfig() as { kernelInitializer: { config: Record<string, unknown> } };
  assert.equal(conv.kernelInitializer.config.distribution, 'normal', "tfjs's own Conv2D default");
  // Conv2D [3, 3, 64, 96]: fans 576 and 864; glorotNormal's sigma sqrt(2 / 1440). A uniform glorot stays within
  // sqrt(3) sigma; the truncated normal reaches past it, and its sample stddev is 0.8796 sigma.
  const sigma = Math.sqrt(2 / (576 + 864));
  for (const [what, layer, inputShape] of [
    ['conv2d', tf.layers.conv2d({ filters: 96, kernelSize: 3, inputShape: [5, 5, 64] }), undefined],
    ['dense', tf.layers.dense({ units: 864 }), [576]],
  ] as const) {
    const [k, b] = tfjsKernel(layer as tf.Layer, inputShape as number[] | undefined);
    const s = stats(k);
    assert.ok(Math.abs(s.std / (TRUNCATED_STD * sigma) - 1) < 0.03, `${what}: stddev ${s.std}`);
    assert.ok(s.max > 1.8 * sigma, `${what}: beyond a uniform's sqrt(3) sigma (${s.max / sigma} sigma)`);
    assert.ok(
      b.every(v => v === 0),
      `${what}: bias zeros`,
    );
  }
  // kernelnet's own Dense keeps glorotUniform
  const m = new Sequential();
  m.add(new Dense({ units: 864, inputShape: [576] }));
  const [w, b] = m.getWeights();
  assert.ok(stats(w.dataSync()).max <= Math.sqrt(3) * sigma * (1 + 1e-6), "kernelnet's Dense: uniform");
  tf.dispose([w, b]);
  m.dispose();
});

N("initializers: tf.initializers' factories with tfjs's args and defaults", () => {
  const I8 = tf.initializers;
  const kernel = (init: unknown, units = 400, fanIn = 300, bias?: unknown) =>
    tfjsKernel(
      tf.layers.dense({
        units,
        inputShape: [fanIn],
        kernelInitializer: init as 'zeros',
        ...(bias === undefined ? {} : { biasInitializer: bias as 'zeros' }),
      }),
    );
  // varianceScaling: scale / max(1, fan) by mode; 'uniform' within sqrt(3 scale / fan)
  for (const [mode, fan] of [
    ['fanIn', 300],
    ['fanOut', 400],
    ['fanAvg', 350],
  ] as const) {
    const [k] = kernel(I8.varianceScaling({ scale: 2, mode, distribution: 'uniform' }));
    const s = stats(k),
      limit = Math.sqrt((3 * 2) / fan);
    assert.ok(s.max <= limit * (1 + 1e-6) && s.max > 0.99 * limit, `varianceScaling ${mode}: max ${s.max}, limit ${limit}`);
    const [n] = kernel(I8.varianceScaling({ scale: 2, mode }));
    assert.ok(Math.abs(stats(n).std / (TRUNCATED_STD * Math.sqrt(2 / fan)) - 1) < 0.02, `varianceScaling ${mode} normal`);
  }
  // tfjs 4's VarianceScaling draws anything but 'normal' uniform: its 'truncatedNormal' distribution included
  const theirs = stats(tfjsDraw(tfl.initializers.varianceScaling({ distribution: 'truncatedNormal' }), [300, 400]));
  const [tn] = kernel(I8.varianceScaling({ distribution: 'truncatedNormal' }));
  assert.ok(Math.abs(stats(tn).max / theirs.max - 1) < 0.01, `'truncatedNormal' distribution: uniform as tfjs's (${stats(tn).max} vs ${theirs.max})`);
  // the named ones, with seeds: the same seed draws the same weights, another seed others
  const [a] = kernel(I8.glorotNormal({ seed: 7 })),
    [b] = kernel(I8.glorotNormal({ seed: 7 })),
    [c] = kernel(I8.glorotNormal({ seed: 8 }));
  assert.equal(Array.from(a), Array.from(b), 'same seed, same weights');
  assert.not.equal(Array.from(a.slice(0, 8)), Array.from(c.slice(0, 8)), 'another seed');
  for (const [name, f, scale, fan, normal] of [
    ['heNormal', I8.heNormal, 2, 300, true],
    ['heUniform', I8.heUniform, 2, 300, false],
    ['leCunNormal', I8.leCunNormal, 1, 300, true],
    ['leCunUniform', I8.leCunUniform, 1, 300, false],
    ['glorotUniform', I8.glorotUniform, 1, 350, false],
  ] as const) {
    const s = stats(kernel(f({ seed: 3 }))[0]),
      sigma = Math.sqrt(scale / fan);
    assert.ok(Math.abs(s.std / (normal ? TRUNCATED_STD * sigma : sigma) - 1) < 0.02, `${name}: ${s.std}`);
  }
  // randomUniform, truncatedNormal, constant, identity, zeros, ones
  const u = stats(kernel(I8.randomUniform({ minval: 2, maxval: 3 }))[0]);
  assert.ok(Math.abs(u.mean - 2.5) < 0.01 && u.max <= 3, `randomUniform [2, 3): mean ${u.mean}`);
  const d = stats(kernel(I8.randomUniform())[0]);
  assert.ok(d.max <= 0.05 && d.max > 0.049, `randomUniform defaults +-0.05: ${d.max}`);
  // tfjs's `args.minval || -0.05`: a minval of 0 takes the default
  const z = kernel(I8.randomUniform({ minval: 0, maxval: 1 }))[0];
  assert.ok(
    z.some(v => v < 0),
    "randomUniform({ minval: 0 }) reaches below 0, as tfjs's",
  );
  const t = stats(kernel(I8.truncatedNormal({ mean: 1, stddev: 0.1 }))[0]);
  assert.ok(
    Math.abs(t.mean - 1) < 0.002 && Math.abs(t.std / (TRUNCATED_STD * 0.1) - 1) < 0.02 && t.max <= 1.2 + 1e-6,
    `truncatedNormal: ${JSON.stringify(t)}`,
  );
  // randomNormal is not truncated (tfjs's K.randomNormal): its standard deviation is the stddev given, and draws
  // reach beyond 2 of them (about 4.6% of 120,000 values)
  const n = stats(kernel(I8.randomNormal({ mean: 1, stddev: 0.1, seed: 3 }))[0]);
  assert.ok(Math.abs(n.mean - 1) < 0.002 && Math.abs(n.std / 0.1 - 1) < 0.02 && n.max > 1.3, `randomNormal: ${JSON.stringify(n)}`);
  const [cst, ones] = kernel(I8.constant({ value: 0.25 }), 3, 2, I8.ones());
  assert.ok(cst.every(v => v === 0.25) && ones.every(v => v === 1), 'constant, ones');
  const [eye, zeros] = kernel(I8.identity({ gain: 3 }), 4, 4, I8.zeros());
  assert.equal(Array.from(eye), [3, 0, 0, 0, 0, 3, 0, 0, 0, 0, 3, 0, 0, 0, 0, 3], 'identity({ gain: 3 })');
  assert.ok(
    zeros.every(v => v === 0),
    'zeros',
  );
  const [idString] = kernel('identity', 2, 2);
  assert.equal(Array.from(idString), [1, 0, 0, 1], "'identity' by name");
});

N('initializers: refused and bad arguments', () => {
  const code = (fn: () => unknown, want: string, pattern: RegExp) => {
    try {
      fn();
    } catch (e) {
      assert.instance(e, ValidationError);
      assert.is((e as ValidationError).code, want);
      assert.match((e as Error).message, pattern);
      return;
    }
    assert.unreachable(`expected ${want}`);
  };
  code(() => tf.initializers.orthogonal(), 'ERR_KERNELNET_UNSUPPORTED', /orthogonal/);
  code(() => tf.layers.dense({ units: 2, kernelInitializer: 'orthogonal' as 'zeros' }), 'ERR_KERNELNET_UNSUPPORTED', /orthogonal/);
  code(() => tf.initializers.varianceScaling({ mode: 'fanSum' as 'fanIn' }), 'ERR_KERNELNET_ARG', /mode/);
  code(() => tf.initializers.varianceScaling({ scale: -1 }), 'ERR_KERNELNET_ARG', /scale/);
  code(() => tf.initializers.glorotNormal({ seed: 1.5 }), 'ERR_KERNELNET_ARG', /seed/);
  code(() => tf.initializers.constant(undefined as never), 'ERR_KERNELNET_ARG', /value/);
  code(() => tf.initializers.truncatedNormal({ sigma: 1 } as never), 'ERR_KERNELNET_ARG', /sigma/);
  // identity on a weight that is not square: refused when the layer is built
  const layer = tf.layers.dense({ units: 3, inputShape: [2], kernelInitializer: tf.initializers.identity() });
  code(() => tf.sequential({ layers: [layer] }), 'ERR_KERNELNET_SHAPE', /square/);
});

// --- losses ------------------------------------------------------------------------------------------------------

// Saturated and ordinary rows: a target whose softmax probability is 0 in float32 (row 0), one at 1e-13 (row 2),
// a confident right answer (row 1) and an ordinary row (row 3).
const LOGITS = [0, 145, 0, 10, 0, 0, 0, 0, 30, 1, 2, 3];
const TARGETS = [1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1];

function metricsOf(m: Float32Array | Int32Array) {
  return m[0] / m[2]; // loss.h's kLossSum / kRows
}

N("losses: 'crossentropy_clipped' is tfjs-layers' categoricalCrossentropy (losses.ts), its value and tf.grad", () => {
  const n = 4,
    k = 3;
  const z = T([n, k], Float32Array.from(LOGITS)),
    dz = out([n, k]),
    m = T([METRIC_SLOTS], new Float32Array(METRIC_SLOTS));
  native.loss('crossentropy_clipped', 'categorical', z, T([n, k], Float32Array.from(TARGETS)), null, dz, m, 0);
  const y = tfc.tensor2d(TARGETS, [n, k]),
    logits = tfc.tensor2d(LOGITS, [n, k]);
  const f = (zz: tfc.Tensor) => tfc.mean(tfl.metrics.categoricalCrossentropy(y, tfc.softmax(zz)));
  const { value, grad } = tfc.valueAndGrad(f)(logits);
  const theirs = value.dataSync()[0];
  close([metricsOf(m.read())], [theirs], 0, 1e-6, 'loss');
  close(dz.read(), grad.dataSync(), 1e-7, 1e-5, 'gradient');
  // row 0's target was clipped: no gradient flows (tfjs's clipByValue gradient), where Keras's would be p - y
  close(dz.read().slice(0, 3), [0, 0, 0], 0, 0, 'saturated row: no gradient');
  // Keras's (kernelnet's own) loss on the same logits: on the logits, unclipped
  const keras = T([METRIC_SLOTS], new Float32Array(METRIC_SLOTS));
  native.loss('crossentropy', 'categorical', z, T([n, k], Float32Array.from(TARGETS)), null, null, keras, 0);
  close([metricsOf(keras.read())], [(145 + 9.0796e-5 + 30 + 0.407606) / 4], 0, 1e-5, "Keras's loss on the logits");
  // class indices: tfjs's sparseCategoricalCrossentropy clips before it normalises too: within K * 1e-7
  const sparse = T([METRIC_SLOTS], new Float32Array(METRIC_SLOTS));
  native.loss('crossentropy_clipped', 'sparse', z, I([n], Int32Array.from([0, 0, 1, 2])), null, null, sparse, 0);
  // losses.ts's sparseCategoricalCrossentropy: clip, one-hot the indices, then categoricalCrossentropy
  const sp = tfc.tidy(() =>
    tfc.mean(
      tfl.metrics.categoricalCrossentropy(tfc.oneHot(tfc.tensor1d([0, 0, 1, 2], 'int32'), k), tfc.clipByValue(tfc.softmax(logits), 1e-7, 1 - 1e-7)),
    ),
  );
  close([metricsOf(sparse.read())], [sp.dataSync()[0]], 0, 1e-6, 'sparse');
  tfc.dispose([y, logits, value, grad, sp]);
  disposeAll();
});

N("losses: 'binary_crossentropy_clipped' is tfjs-layers' binaryCrossentropy (losses.ts), its value and tf.grad", () => {
  const n = 2,
    k = 3;
  const Z = [40, -40, 0.5, -20, 3, -1],
    Y = [0, 1, 1, 1, 0.25, 0];
  const z = T([n, k], Float32Array.from(Z)),
    dz = out([n, k]),
    m = T([METRIC_SLOTS], new Float32Array(METRIC_SLOTS));
  native.loss('binary_crossentropy_clipped', 'binary', z, T([n, k], Float32Array.from(Y)), null, dz, m, 0);
  const y = tfc.tensor2d(Y, [n, k]);
  const f = (zz: tfc.Tensor) => tfc.mean(tfl.metrics.binaryCrossentropy(y, tfc.sigmoid(zz)));
  const { value, grad } = tfc.valueAndGrad(f)(tfc.tensor2d(Z, [n, k]));
  close([metricsOf(m.read())], [value.dataSync()[0]], 0, 1e-5, 'loss');
  close(dz.read(), grad.dataSync(), 1e-7, 1e-4, 'gradient');
  tfc.dispose([y, value, grad]);
  disposeAll();
});

/** The same one-layer softmax (or sigmoid) model in tfjs and through kernelnet/tfjs, with these weights. */
function twin(kernel: number[], bias: number[], units: number, inputs: number, activation: 'softmax' | 'sigmoid', loss: string) {
  const theirs = tfl.sequential({ layers: [tfl.layers.dense({ units, activation, inputShape: [inputs] })] });
  const tw = [tfc.tensor2d(kernel, [inputs, units]), tfc.tensor1d(bias)];
  theirs.setWeights(tw);
  theirs.compile({ loss, optimizer: tfc.train.sgd(1) });
  const ours = tf.sequential({ layers: [tf.layers.dense({ units, activation, inputShape: [inputs] })] });
  const ow = [tf.tensor2d(kernel, [inputs, units]), tf.tensor1d(bias)];
  ours.setWeights(ow);
  ours.compile({ loss: loss as 'categoricalCrossentropy', optimizer: tf.train.sgd(1) });
  tfc.dispose(tw);
  tf.dispose(ow);
  return { theirs, ours };
}

N("losses: evaluate and a training step through kernelnet/tfjs follow tfjs's on saturated softmax predictions", async () => {
  // x one-hot: the logits are the kernel's rows plus the bias, as in LOGITS
  const x = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
  const { theirs, ours } = twin(LOGITS, [0, 0, 0], 3, 4, 'softmax', 'categoricalCrossentropy');
  const tx = tfc.tensor2d(x, [4, 4]),
    ty = tfc.tensor2d(TARGETS, [4, 3]);
  const ox = tf.tensor2d(x, [4, 4]),
    oy = tf.tensor2d(TARGETS, [4, 3]);
  const te = theirs.evaluate(tx, ty) as tfc.Scalar,
    oe = ours.evaluate(ox, oy) as tf.Tensor;
  const want = te.dataSync()[0],
    got = oe.dataSync()[0];
  assert.ok(Math.abs(got / want - 1) < 1e-4, `evaluate: kernelnet/tfjs ${got}, tfjs ${want}`);
  assert.ok(Math.abs(want - 8.160972) < 1e-4, `tfjs's own figure: ${want}`);
  // one SGD step (learning rate 1): the weights move by tfjs's gradient (through the clip: rows 0 and 2 still)
  await theirs.trainOnBatch(tx, ty);
  await ours.trainOnBatch(ox, oy);
  const tw = theirs.getWeights(),
    ow = ours.getWeights();
  close(ow[0].dataSync(), tw[0].dataSync(), 1e-6, 1e-5, 'kernel after a step');
  close(ow[1].dataSync(), tw[1].dataSync(), 1e-6, 1e-5, 'bias after a step');
  close(ow[0].dataSync().slice(0, 3), LOGITS.slice(0, 3), 0, 0, 'the saturated row did not move');
  tfc.dispose([tx, ty, te]); // tfjs's getWeights returns the variables' own tensors
  tf.dispose([ox, oy, oe, ...ow]);
  theirs.dispose();
  ours.dispose();
});

N("losses: binaryCrossentropy through kernelnet/tfjs follows tfjs's on saturated sigmoid predictions", async () => {
  const x = [1, 0, 0, 1, 1, 1];
  const { theirs, ours } = twin([40, -30, -25, 35], [0, 0], 2, 2, 'sigmoid', 'binaryCrossentropy');
  const Y = [0, 1, 1, 1, 1, 0];
  const tx = tfc.tensor2d(x, [3, 2]),
    ty = tfc.tensor2d(Y, [3, 2]),
    ox = tf.tensor2d(x, [3, 2]),
    oy = tf.tensor2d(Y, [3, 2]);
  const te = theirs.evaluate(tx, ty) as tfc.Scalar,
    oe = ours.evaluate(ox, oy) as tf.Tensor;
  assert.ok(Math.abs(oe.dataSync()[0] / te.dataSync()[0] - 1) < 1e-4, `evaluate: ${oe.dataSync()[0]} vs tfjs ${te.dataSync()[0]}`);
  await theirs.trainOnBatch(tx, ty);
  await ours.trainOnBatch(ox, oy);
  const tw = theirs.getWeights(),
    ow = ours.getWeights();
  close(ow[0].dataSync(), tw[0].dataSync(), 1e-6, 1e-5, 'kernel after a step');
  close(ow[1].dataSync(), tw[1].dataSync(), 1e-6, 1e-5, 'bias after a step');
  tfc.dispose([tx, ty, te]); // tfjs's getWeights returns the variables' own tensors
  tf.dispose([ox, oy, oe, ...ow]);
  theirs.dispose();
  ours.dispose();
});

N("losses: kernelnet's own compile keeps Keras's cross-entropy on the logits (145 on a saturated row)", () => {
  const m = new Sequential();
  m.add(new Dense({ units: 3, activation: 'softmax', inputShape: [1] }));
  const w = [tf.tensor2d([0, 145, 0], [1, 3]), tf.tensor1d([0, 0, 0])];
  m.setWeights(w);
  m.compile({ loss: 'categoricalCrossentropy', optimizer: 'sgd' });
  const x = tf.tensor2d([1], [1, 1]),
    y = tf.tensor2d([1, 0, 0], [1, 3]);
  const keras = m.evaluate(x, y) as unknown as number;
  close([keras], [145], 0, 1e-6, "Keras's loss");
  const ours = tf.sequential({ layers: [tf.layers.dense({ units: 3, activation: 'softmax', inputShape: [1] })] });
  ours.setWeights(w);
  ours.compile({ loss: 'categoricalCrossentropy', optimizer: 'sgd' });
  const e = ours.evaluate(x, y) as tf.Tensor;
  close([e.dataSync()[0]], [-Math.log(1e-7)], 0, 1e-5, "tfjs's: -log(1e-7)");
  tf.dispose([...w, x, y, e]);
  ours.dispose();
  m.dispose();
});

N('setWeights before compile through kernelnet/tfjs works, as in tfjs (tfjs-layers container.ts setWeights)', () => {
  const m = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
  const w = [tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]), tf.tensor1d([0.5, -0.5])];
  m.setWeights(w);
  const back = m.getWeights();
  assert.equal(Array.from(back[0].dataSync()), [1, 2, 3, 4, 5, 6]);
  assert.equal(Array.from(back[1].dataSync()), [0.5, -0.5]);
  const x = tf.tensor2d([1, 1, 1], [1, 3]);
  const p = m.predict(x) as tf.Tensor;
  assert.equal(Array.from(p.dataSync()), [9.5, 11.5]);
  m.compile({ loss: 'meanSquaredError', optimizer: 'sgd' }); // compile keeps the weights set before it
  const after = m.getWeights();
  assert.equal(Array.from(after[0].dataSync()), [1, 2, 3, 4, 5, 6], 'compile kept them');
  tf.dispose([...w, ...back, ...after, x, p]);
  m.dispose();
});

N.run();
