// Soak: thousands of training steps, evaluations and predictions must leave the live-tensor count where it
// started and the process's memory flat: after a warm-up (buffers allocated once per batch size, JIT), the
// resident set may not grow by more than 32 MB while the work is repeated. (bench/soak.ts is the long version.)
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Adadelta, memory } from '../lib/index.js';
import { smallModel, syntheticData } from './helpers.js';

const Soak = suite('soak');

Soak('10,000 training steps, 250 predictions and 250 evaluations leave no tensor behind and memory flat', async () => {
  const before = memory().liveTensors;
  const { x, y } = syntheticData(64);
  const model = smallModel(1);
  model.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta(), metrics: ['accuracy'] });
  const round = async () => {
    await model.fit(x, y, { batchSize: 8, epochs: 5, verbose: 0, validationData: [x, y] }); // 40 steps
    const p = model.predict(x, { batchSize: 16 });
    p.dispose();
    model.evaluate(x, y, { batchSize: 32 });
  };
  for (let i = 0; i < 10; ++i) await round(); // warm-up
  global.gc?.();
  const rss0 = process.memoryUsage().rss,
    live0 = memory().liveTensors;
  for (let i = 0; i < 250; ++i) await round();
  global.gc?.();
  const grown = process.memoryUsage().rss - rss0;
  console.log(
    `  soak: 10,000 steps + 250 predictions + 250 evaluations; live tensors ${live0} -> ${memory().liveTensors}; RSS ${(grown / 2 ** 20).toFixed(1)} MB`,
  );
  assert.is(memory().liveTensors, live0, 'the model holds the same tensors');
  // KERNELNET_SOAK_RSS_MB widens the bound under AddressSanitizer, whose quarantine keeps freed memory.
  const limit = Number(process.env.KERNELNET_SOAK_RSS_MB ?? 32);
  assert.ok(grown < limit * 2 ** 20, `RSS grew by ${(grown / 2 ** 20).toFixed(1)} MB (bound ${limit} MB)`);
  model.dispose();
  x.dispose();
  y.dispose();
  assert.is(memory().liveTensors, before);
});

Soak.run();
