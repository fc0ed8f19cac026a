// The engine's behaviour pinned bit for bit: the seed model (Keras mnist_cnn, seed 7) trained 2 epochs on the
// first 1,000 MNIST images gives weights whose SHA-256 is recorded here, per CPU kernel family (the GEMM's
// instruction set decides the rounding). A refactor of the engine (graph, plan, fusion rules, training loop)
// must leave it unchanged; a deliberate numeric change updates the hash in the same commit and says why.
import { createHash } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadMnist, tidy, toCategorical } from '../lib/index.js';
import { native } from '../lib/core/native.js';
import { seedModel } from './helpers.js';

/** The hash per CPU GEMM family, as backends().cpu.device names it ('avx2+fma GEMM', ...). */
const PINNED: Record<string, string> = {
  'avx2+fma': 'd94b6bf14e645068e5c6f85999b01a2a7e3bf83e89104744947ebbdbba79259f',
};

const Pin = suite('engine behaviour pin');

export async function seedWeightsHash(): Promise<{ hash: string; loss: number[] }> {
  const { train, test } = loadMnist(undefined, { trainLimit: 1000, testLimit: 0 });
  const model = seedModel(7);
  const y = toCategorical(train.labels, 10);
  try {
    const history = await model.fit(train.images, y, { epochs: 2, batchSize: 128, verbose: 0 });
    const h = createHash('sha256');
    tidy(() => {
      for (const w of model.getWeights()) h.update(new Uint8Array(w.dataSync().buffer.slice(0)));
    });
    return { hash: h.digest('hex'), loss: history.history.loss };
  } finally {
    model.dispose();
    train.images.dispose();
    train.labels.dispose();
    test.images.dispose(); // empty, but tensors all the same: left to the GC they would be counted live until then
    test.labels.dispose();
    y.dispose();
  }
}

const family = /(\S+) GEMM/.exec(native.backends().cpu.device)?.[1] ?? 'unknown';

const title = `the seed model after 2 epochs on 1,000 images: weights bit-identical to the recorded ones (${family})`;
if (family in PINNED) {
  Pin(title, async () => {
    const { hash, loss } = await seedWeightsHash();
    assert.ok(loss.every(Number.isFinite) && loss[1] < loss[0], `it trains: ${loss}`);
    assert.is(hash, PINNED[family], `weights after training (${family}); losses ${loss}`);
  });
} else {
  Pin.skip(`${title} (skipped: no hash recorded for this CPU family)`, () => {});
}

Pin.run();
