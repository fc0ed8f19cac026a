// A few training steps of the seed model on real MNIST, for a profiler to watch (bench/gpu-check.sh runs it
// under Nsight Compute with KERNELNET_GRAPHS=0, so that each kernel is its own launch).
//   node dist/bench/profile-step.js [--steps N]
import { parseArgs } from 'node:util';
import { loadMnist, toCategorical } from '../lib/index.js';
import { native } from '../lib/native.js';
import { seedModel } from '../test/helpers.js';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '8' } } });
const B = 128, steps = Number(values.steps);
const { train } = loadMnist(undefined, { trainLimit: steps * B, testLimit: 0 });
const y = toCategorical(train.labels, 10);
const model = seedModel(1);
await model.fit(train.images, y, { batchSize: B, epochs: 1, verbose: 0 });
native.synchronize();
console.log(`profiled ${steps} training steps of batch ${B} on ${native.backend().name}`);
model.dispose();
