// Pooling as Keras defines it (keras/src/ops/nn.py's max_pool / average_pool, TensorFlow's 'SAME' padding):
// max and average over each window's positions inside the input, the average's count excluding the padding;
// global pooling over the whole image, Reshape and Rescaling. Against float64 references, by finite
// differences, and in models that train and round-trip through save/loadModel.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Activation,
  Adam,
  AveragePooling2D,
  BatchNormalization,
  Conv2D,
  Dense,
  Dropout,
  Flatten,
  GlobalAveragePooling2D,
  GlobalMaxPooling2D,
  LeakyReLU,
  MaxPooling2D,
  Reshape,
  Rescaling,
  Sequential,
  ValidationError,
  dispose,
  loadModel,
  tensor,
  tidy,
} from '../lib/index.js';
import { Graph, convPoolPairs } from '../lib/engine/plan.js';
import { native, type BelowAct } from '../lib/core/native.js';
import { I, T, close, disposeAll, exact, intArray, out, rng, syntheticData, throwsA } from './helpers.js';

const P = suite('pooling, Reshape, Rescaling');
P.after.each(disposeAll);
const dir = mkdtempSync(join(tmpdir(), 'kernelnet-pool-'));
P.after(() => rmSync(dir, { recursive: true, force: true }));

/** Keras's pooling in float64: windows clipped to the input; y, and dx for upstream dy (max: to the first maximum). */
function poolRef(
  kind: 'max' | 'avg',
  [n, h, w, c]: number[],
  ph: number,
  pw: number,
  sh: number,
  sw: number,
  same: boolean,
  x: ArrayLike<number>,
  dy?: ArrayLike<number>,
) {
  const oh = same ? Math.ceil(h / sh) : Math.floor((h - ph) / sh) + 1,
    ow = same ? Math.ceil(w / sw) : Math.floor((w - pw) / sw) + 1;
  const pt = same ? Math.floor(Math.max((oh - 1) * sh + ph - h, 0) / 2) : 0,
    pl = same ? Math.floor(Math.max((ow - 1) * sw + pw - w, 0) / 2) : 0;
  const y = new Float64Array(n * oh * ow * c),
    dx = new Float64Array(n * h * w * c);
  for (let b = 0; b < n; ++b)
    for (let oy = 0; oy < oh; ++oy)
      for (let ox = 0; ox < ow; ++ox)
        for (let ch = 0; ch < c; ++ch) {
          const at = (iy: number, ix: number) => ((b * h + iy) * w + ix) * c + ch;
          const cells: number[] = [];
          for (let iy = Math.max(0, oy * sh - pt); iy < Math.min(h, oy * sh - pt + ph); ++iy)
            for (let ix = Math.max(0, ox * sw - pl); ix < Math.min(w, ox * sw - pl + pw); ++ix) cells.push(at(iy, ix));
          const o = ((b * oh + oy) * ow + ox) * c + ch;
          if (kind === 'max') {
            let best = cells[0];
            for (const i of cells) if (x[i] > x[best]) best = i;
            y[o] = x[best];
            if (dy) dx[best] += dy[o];
          } else {
            y[o] = cells.reduce((s, i) => s + x[i], 0) / cells.length;
            if (dy) for (const i of cells) dx[i] += dy[o] / cells.length;
          }
        }
  return { y, dx, oh, ow };
}

const CASES: [number[], number, number, number, number, boolean][] = [
  [[2, 6, 7, 3], 2, 2, 2, 2, false],
  [[2, 6, 7, 3], 2, 2, 2, 2, true],
  [[1, 5, 5, 2], 3, 3, 2, 2, true],
  [[2, 7, 6, 1], 3, 2, 1, 2, true],
  [[1, 4, 4, 5], 4, 4, 1, 1, false],
  [[3, 5, 3, 2], 2, 3, 3, 1, true],
];

P('max and average pooling, valid and same, forward and backward match float64', () => {
  const r = rng(71);
  for (const [shape, ph, pw, sh, sw, same] of CASES)
    for (const kind of ['max', 'avg'] as const) {
      const size = shape.reduce((a, b) => a * b),
        x = intArray(size, r); // small integers: sums are exact
      const ref = poolRef(kind, shape, ph, pw, sh, sw, same, x);
      const X = T(shape, x),
        Y = out([shape[0], ref.oh, ref.ow, shape[3]]),
        pad = same ? 'same' : 'valid';
      const dy = intArray(Y.size, r),
        dX = out(shape);
      const what = `${kind} ${shape} ${ph}x${pw}/${sh},${sw} ${pad}`;
      if (kind === 'max') {
        const arg = I(Y.shape);
        native.maxPool2dForward(X, Y, arg, ph, pw, sh, sw, pad);
        native.maxPool2dBackward(T(Y.shape, dy), arg, dX, ph, pw, sh, sw, pad);
      } else {
        native.avgPool2dForward(X, Y, ph, pw, sh, sw, pad);
        native.avgPool2dBackward(T(Y.shape, dy), dX, ph, pw, sh, sw, pad);
      }
      const { dx } = poolRef(kind, shape, ph, pw, sh, sw, same, x, dy);
      if (kind === 'max') {
        exact(Y.read(), ref.y, `${what} y`);
        exact(dX.read(), dx, `${what} dx`);
      } else {
        close(Y.read(), ref.y, 1e-6, 1e-6, `${what} y`);
        close(dX.read(), dx, 1e-6, 1e-6, `${what} dx`);
      }
    }
  throwsA(Error, () => native.avgPool2dForward(T([1, 2, 2, 1]), out([1, 1, 1, 1]), 3, 3, 1, 1, 'valid'), /pool window does not fit/, 'too big');
});

P('layers: shapes as Keras computes them; pooling CNNs with Rescaling and Reshape train and round-trip exactly', async () => {
  assert.equal(new Sequential({ layers: [new AveragePooling2D({ poolSize: 2, padding: 'same', inputShape: [7, 5, 3] })] }).outputShape, [4, 3, 3]);
  assert.equal(new Sequential({ layers: [new MaxPooling2D({ poolSize: 3, strides: 2, inputShape: [7, 7, 1] })] }).outputShape, [3, 3, 1]);
  assert.equal(new Sequential({ layers: [new GlobalMaxPooling2D({ inputShape: [7, 7, 6] })] }).outputShape, [6]);
  assert.equal(new Sequential({ layers: [new Reshape({ targetShape: [-1, 4], inputShape: [2, 6] })] }).outputShape, [3, 4]);
  throwsA(
    ValidationError,
    () => new Sequential({ layers: [new Reshape({ targetShape: [5, -1], inputShape: [2, 6] })] }),
    /cannot take the shape \[5, -1\]/,
    'reshape',
  );
  throwsA(ValidationError, () => new Rescaling({ scale: '1/255' } as never), /Expected a finite number for scale/, 'scale');
  const { x, y } = syntheticData(48);
  const pixels = tidy(() =>
    tensor(
      Float32Array.from(x.dataSync(), v => Math.round(v * 255)),
      x.shape,
    ),
  );
  const m = new Sequential({
    seed: 5,
    layers: [
      new Rescaling({ scale: 1 / 255, inputShape: [8, 8, 1] }),
      new Reshape({ targetShape: [8, 8, 1] }),
      new Conv2D({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }),
      new AveragePooling2D({ poolSize: 2 }),
      new Conv2D({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }),
      new MaxPooling2D({ poolSize: 3, strides: 2, padding: 'same' }),
      new GlobalAveragePooling2D(),
      new Dense({ units: 3, activation: 'softmax' }),
    ],
  });
  m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adam({ learningRate: 0.01 }), metrics: ['accuracy'] });
  const h = await m.fit(pixels, y, { batchSize: 8, epochs: 10, verbose: 0 });
  assert.ok(h.history.loss[9] < h.history.loss[0] * 0.8, `the loss falls: ${h.history.loss}`);
  const path = join(dir, 'pool.safetensors');
  m.save(path);
  const back = loadModel(path);
  assert.equal(
    back.layers.map(l => l.getConfig()),
    m.layers.map(l => l.getConfig()),
  );
  assert.equal(
    tidy(() => Array.from(back.predict(pixels).dataSync())),
    tidy(() => Array.from(m.predict(pixels).dataSync())),
  );
  const g = new Sequential({
    seed: 6,
    layers: [
      new Conv2D({ filters: 4, kernelSize: 3, activation: 'relu', inputShape: [8, 8, 1] }),
      new GlobalMaxPooling2D(),
      new Flatten(),
      new Dense({ units: 3, activation: 'softmax' }),
    ],
  });
  g.compile({ loss: 'categoricalCrossentropy', optimizer: 'adam' });
  const hg = await g.fit(x, y, { batchSize: 8, epochs: 3, verbose: 0 });
  assert.ok(hg.history.loss.every(Number.isFinite));
  dispose([x, y, pixels]);
  for (const model of [m, back, g]) model.dispose();
});

// Conv2D + MaxPooling2D with non-overlapping windows run as one op (layers.ts's convPoolPairs), in training and
// inference: the same predictions bit for bit (the forward pass is the same arithmetic), and after a few epochs
// the same losses and weights up to float32 rounding (its backward sums the argmax entries in another order).
P('Conv2D + MaxPooling2D run as one op, as the layers one by one', async () => {
  const { x, y } = syntheticData(40);
  const make = () =>
    new Sequential({
      seed: 9,
      layers: [
        new Conv2D({ filters: 4, kernelSize: 3, activation: 'relu', inputShape: [8, 8, 1], trainable: false }), // frozen, first
        new MaxPooling2D({ poolSize: 2 }), // fused: [3, 3]
        new Conv2D({ filters: 8, kernelSize: 2, padding: 'same', activation: 'elu' }),
        new MaxPooling2D({ poolSize: 2, padding: 'same' }), // fused, a clipped window: [2, 2]
        new Conv2D({ filters: 6, kernelSize: 1, activation: 'swish' }),
        new MaxPooling2D({ poolSize: 1 }), // not fused: swish needs its input
        new Conv2D({ filters: 6, kernelSize: 1, activation: 'tanh' }),
        new MaxPooling2D({ poolSize: 2, strides: 1 }), // not fused: the windows overlap
        new Flatten(),
        new Dense({ units: 3, activation: 'softmax' }),
      ],
    });
  const runs = [true, false].map(fuse => {
    const m = make();
    m.fuseConvPool = fuse;
    m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adam({ learningRate: 0.01 }), metrics: ['accuracy'] });
    return m;
  });
  assert.equal(
    [...convPoolPairs(Graph.chain(runs[0].layers))],
    [
      [0, 1],
      [2, 3],
    ],
  );
  const histories = [];
  for (const m of runs) histories.push((await m.fit(x, y, { batchSize: 16, epochs: 3, verbose: 0 })).history.loss);
  close(histories[0], histories[1], 1e-5, 1e-4, 'the same losses');
  assert.ok(histories[0][2] < histories[0][0], `the loss falls: ${histories[0]}`);
  const weights = runs.map(m => tidy(() => m.getWeights().map(w => Array.from(w.dataSync()))));
  weights[0].forEach((w, i) => close(w, weights[1][i], 1e-5, 1e-3, `weight ${i}`));
  // Inference alone: the fused model with the other's weights predicts the same bits.
  const trained = runs[1].getWeights();
  runs[0].setWeights(trained);
  dispose(trained);
  const predictions = runs.map(m => tidy(() => Array.from(m.predict(x).dataSync())));
  exact(predictions[0], predictions[1], 'predict');
  dispose([x, y]);
  for (const m of runs) m.dispose();
});

/** make()'s model twice, compiled alike, with `flag` on in the first and off in the second. */
function bothWays(make: () => Sequential, flag: (m: Sequential, on: boolean) => void): Sequential[] {
  return [true, false].map(on => {
    const m = make();
    flag(m, on);
    m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adam({ learningRate: 0.01 }) });
    return m;
  });
}

/** Calls note(name, args) before each call of the named natives until the returned function restores them. */
function spyNatives(names: (keyof typeof native)[], note: (name: string, args: unknown[]) => void): () => void {
  const saved = { ...native };
  for (const name of names)
    native[name] = ((...args: unknown[]) => {
      note(name, args);
      return (saved[name] as (...a: unknown[]) => void)(...args);
    }) as never;
  return () => Object.assign(native, saved);
}

/** The two runs trained to the same losses and the same weights bit for bit; disposes them. */
function sameTraining(runs: Sequential[], losses: unknown[]): void {
  assert.equal(losses[0], losses[1], 'the same losses');
  const weights = runs.map(m => tidy(() => m.getWeights().map(w => Array.from(w.dataSync()))));
  weights[0].forEach((w, i) => exact(w, weights[1][i], `weight ${i}`));
  for (const m of runs) m.dispose();
}

/**
 * Trains make()'s model with foldBelow on and off (40 examples, 2 epochs) and checks the two runs give the same
 * losses and weights bit for bit; returns, sorted and unique, what `fold` says of each call of the spied natives
 * (null: nothing to note).
 */
async function foldBelowBothWays(
  make: () => Sequential,
  names: (keyof typeof native)[],
  fold: (name: string, args: unknown[]) => string | null,
): Promise<string[]> {
  const { x, y } = syntheticData(40);
  const runs = bothWays(make, (m, on) => (m.foldBelow = on));
  const folded: string[] = [];
  const restore = spyNatives(names, (name, args) => {
    const f = fold(name, args);
    if (f) folded.push(f);
  });
  const losses = [];
  try {
    for (const m of runs) losses.push((await m.fit(x, y, { batchSize: 16, epochs: 2, verbose: 0 })).history.loss);
  } finally {
    restore();
  }
  sameTraining(runs, losses);
  dispose([x, y]);
  return [...new Set(folded)].sort();
}

// A Conv2D or Dense layer's activation applied by the input gradient of the Conv2D or Dense op above it (on a
// GPU in that GEMM's epilogue; StepContext's below), that layer's backward then starting from dz: the same
// arithmetic, so the same weights bit for bit as each layer applying its own. Covered: a conv under a conv, a
// conv under a fused conv + pool + dropout, a dense under a dense (the head's own input gradient does not fold).
P("the layer below's activation in the input gradient above it: the same weights bit for bit", async () => {
  const make = () =>
    new Sequential({
      seed: 10,
      layers: [
        new Conv2D({ filters: 4, kernelSize: 3, activation: 'relu', inputShape: [8, 8, 1] }),
        new Conv2D({ filters: 6, kernelSize: 3, activation: 'elu' }),
        new Conv2D({ filters: 8, kernelSize: 2, padding: 'same', activation: 'leaky_relu' }),
        new MaxPooling2D({ poolSize: 2 }),
        new Dropout({ rate: 0.25 }),
        new Flatten(),
        new Dense({ units: 12, activation: 'sigmoid' }),
        new Dense({ units: 10, activation: 'tanh' }),
        new Dense({ units: 3, activation: 'softmax' }),
      ],
    });
  // Which backward calls take a layer below's activation (the conv ops' below, denseBackward's trailing belowActivation).
  const at: Record<string, number> = { conv2dBackward: 8, denseBackward: 10, conv2dPoolBackward: 11 };
  const folded = await foldBelowBothWays(make, ['conv2dBackward', 'denseBackward', 'conv2dPoolBackward'], (name, args) => {
    const below = name === 'denseBackward' ? args[at[name]] : (args[at[name]] as BelowAct | undefined)?.activation;
    return below ? `${name} ${String(below)}` : null;
  });
  assert.equal(folded, ['conv2dBackward relu', 'conv2dPoolBackward elu', 'denseBackward sigmoid']);
});

// Through a Dropout (the seed model's hidden Dense - Dropout): the Dropout's backward applies the activation of the
// layer under it with its mask (dropoutBackward's below, one pass), that layer's backward then starting from dz.
// Covered: a Dense's own activation (sigmoid: not a select, so the order of the two products counts), a standalone
// Activation's, a LeakyReLU's alpha; not folded: under a rate-0 Dropout (the identity: the Dense applies its own
// relu) and a swish, whose derivative needs its input.
P("a Dropout's backward applies the activation of the layer under it: the same weights bit for bit", async () => {
  const make = () =>
    new Sequential({
      seed: 12,
      layers: [
        new Flatten({ inputShape: [8, 8, 1] }),
        new Dense({ units: 16, activation: 'sigmoid' }),
        new Dropout({ rate: 0.3 }),
        new Dense({ units: 12 }),
        new LeakyReLU({ alpha: 0.2 }),
        new Dropout({ rate: 0.5 }),
        new Dense({ units: 10, activation: 'swish' }),
        new Dropout({ rate: 0.2 }),
        new Dense({ units: 8, activation: 'relu' }),
        new Dropout({ rate: 0 }),
        new Dense({ units: 3, activation: 'softmax' }),
      ],
    });
  const folded = await foldBelowBothWays(make, ['dropoutBackward'], (_name, args) => {
    const below = args[6] as BelowAct | undefined;
    return below ? `${below.activation}${below.alpha === undefined ? '' : ` ${below.alpha}`}` : null;
  });
  assert.equal(folded, ['leaky_relu 0.2', 'sigmoid']);
});

// The same for standalone Activation layers (a BatchNorm CNN's conv - BatchNormalization - Activation('relu') -
// conv): the conv or dense above applies the activation's derivative, and the Activation's backward passes dz on.
// Not folded: an activation whose derivative needs its input (swish), and one under a layer other than a conv or
// dense (the Activation under Flatten).
P("a standalone Activation layer's derivative in the input gradient above it: the same weights bit for bit", async () => {
  const make = () =>
    new Sequential({
      seed: 11,
      layers: [
        new Conv2D({ filters: 4, kernelSize: 3, useBias: false, inputShape: [8, 8, 1] }),
        new BatchNormalization(),
        new Activation({ activation: 'relu' }),
        new Conv2D({ filters: 6, kernelSize: 3 }),
        new LeakyReLU({ alpha: 0.1 }),
        new Conv2D({ filters: 4, kernelSize: 1 }),
        new Activation({ activation: 'swish' }),
        new Conv2D({ filters: 3, kernelSize: 1 }),
        new Activation({ activation: 'elu' }),
        new Flatten(),
        new Dense({ units: 12 }),
        new Activation({ activation: 'tanh' }),
        new Dense({ units: 8 }), // (the head's own input gradient does not fold: the Dense below the head)
        new Dense({ units: 3, activation: 'softmax' }),
      ],
    });
  const folded = await foldBelowBothWays(make, ['conv2dBackward', 'denseBackward'], (name, args) => {
    const below =
      name === 'denseBackward' ? [args[10], args[11]] : [(args[8] as BelowAct | undefined)?.activation, (args[8] as BelowAct | undefined)?.alpha];
    return below[0] ? `${name} ${String(below[0])}${below[1] === undefined ? '' : ` ${String(below[1])}`}` : null;
  });
  assert.equal(folded, ['conv2dBackward leaky_relu 0.1', 'conv2dBackward relu', 'denseBackward tanh']);
});

// A Dropout after a fused Conv2D + MaxPooling2D pair, its forward in the pair's op in training (on a GPU's FP32
// path drawn in the conv's epilogue): the same masks, so the same weights bit for bit as the Dropout's own op;
// inference does not draw it (Keras's Dropout is the identity outside training).
P("a Dropout after the conv + pool: its forward in the pair's op, the same weights bit for bit", async () => {
  const { x, y } = syntheticData(40);
  const make = () =>
    new Sequential({
      seed: 12,
      layers: [
        new Conv2D({ filters: 4, kernelSize: 3, activation: 'relu', inputShape: [8, 8, 1] }),
        new MaxPooling2D({ poolSize: 2 }),
        new Dropout({ rate: 0.3 }),
        new Flatten(),
        new Dense({ units: 3, activation: 'softmax' }), // the fused head, whose step runs the forward up to the layer before it
      ],
    });
  const runs = bothWays(make, (m, on) => (m.foldDropout = on));
  // The forward calls made: the pair's op with or without the dropout's output (its argument 8), the dropout's own.
  const calls: string[] = [];
  const restore = spyNatives(['conv2dPoolForward', 'dropoutForward'], (name, args) => calls.push(`${name}${args[8] ? ' dropped' : ''}`));
  const losses = [],
    seen: string[][] = [];
  try {
    for (const m of runs) {
      calls.length = 0;
      losses.push((await m.fit(x, y, { batchSize: 16, epochs: 2, verbose: 0 })).history.loss);
      seen.push([...new Set(calls)].sort());
    }
    calls.length = 0;
    dispose(runs[0].predict(x));
    seen.push([...new Set(calls)]);
  } finally {
    restore();
  }
  assert.equal(seen, [['conv2dPoolForward dropped'], ['conv2dPoolForward', 'dropoutForward'], ['conv2dPoolForward']]);
  sameTraining(runs, losses);
  dispose([x, y]);
});

P.run();
