// Every registered layer (lib/layers/registry.ts) on the CUDA backend against the CPU backend: the registry's
// sample model, the same small-integer weights and inputs on both devices, then its prediction and one training
// step (SGD on mean squared error) compared. A layer added to the registry is checked on the GPU with nothing
// more to write. Without a usable CUDA device (a GPU, or scripts/emulate-cuda.sh's emulated one) the suite is
// skipped and says why.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { native } from '../lib/core/native.js';
import { REGISTRY, type LayerEntry } from '../lib/layers/registry.js';
import * as kn from '../lib/index.js';
import { close, exact, registryModel } from './helpers.js';

const R = suite('registered layers: CUDA backend vs CPU');
const cuda = native.backends().cuda;
const BATCH = 4;
// Transcendental activations and float sums in another order differ in the last bits; everything else
// (pooling, padding, reshapes, ReLU on integer sums) is exact.
const TOL = { atol: 1e-5, rtol: 1e-4 };

/** Small integers in [-2, 2], a pattern that differs per index. */
const ints = (n: number, salt: number) => Float32Array.from({ length: n }, (_, i) => ((i * 7 + salt) % 5) - 2);

function build(e: LayerEntry, device: string): kn.LayersModel {
  const m = registryModel(e, { seed: 1, device });
  m.compile({ loss: 'meanSquaredError', optimizer: new kn.SGD({ learningRate: 0.125 }) });
  // The same weights on both devices: small integers (BatchNormalization's variance kept positive).
  const weights = m.getWeights();
  m.setWeights(
    weights.map((w, i) => kn.tensor(/variance/i.test(m.params[i].name) ? ints(w.size, i).map(v => v + 3) : ints(w.size, i), w.shape, { device })),
  );
  kn.dispose(weights);
  return m;
}

async function run(e: LayerEntry, device: string): Promise<{ prediction: number[]; loss: number; weights: number[][] }> {
  const m = build(e, device);
  const xs = (e.sample.inputShapes ?? [e.sample.inputShape]).map((s, j) =>
    kn.tensor(ints(BATCH * s.reduce((a, b) => a * b, 1), 3 + j), [BATCH, ...s], { device }),
  );
  const x = xs.length === 1 ? xs[0] : xs;
  const y = kn.tensor(ints(BATCH * m.outputShape[0], 1), [BATCH, m.outputShape[0]], { device });
  const prediction = kn.tidy(() => Array.from((m.predict(x) as kn.Tensor).dataSync()));
  const loss = (await m.trainOnBatch(x, y)) as number;
  const weights = kn.tidy(() => m.getWeights().map(w => Array.from(w.dataSync())));
  kn.dispose([...xs, y]);
  m.dispose();
  return { prediction, loss, weights };
}

if (!cuda.available) {
  console.log(`  skipped: no CUDA device (${cuda.reason})`);
  R.skip('registered layers on the GPU (skipped: no CUDA device)', () => {});
} else {
  for (const e of REGISTRY as readonly LayerEntry[]) {
    R(`${e.className}: prediction and one training step as on the CPU`, async () => {
      const [c, g] = [await run(e, 'cpu'), await run(e, 'cuda')];
      close(g.prediction, c.prediction, TOL.atol, TOL.rtol, `${e.className} prediction`);
      close([g.loss], [c.loss], TOL.atol, TOL.rtol, `${e.className} loss`);
      assert.is(g.weights.length, c.weights.length);
      g.weights.forEach((w, i) => close(w, c.weights[i], TOL.atol, TOL.rtol, `${e.className} weight ${i} after one step`));
      if (e.ops.every(op => ['pool2d', 'globalPool2d', 'dropout', 'pad2d'].includes(op)))
        exact(g.prediction, c.prediction, `${e.className} prediction (data movement only: exact)`);
    });
  }
}

R.run();
