// Training steps of the seed model on real MNIST, for a profiler to watch. With --one-step, a warm-up step
// first (buffers allocated, kernels loaded), then exactly one training step (a one-batch epoch of fit) inside
// the profiler's collection range (native.profile: cudaProfilerStart/Stop on CUDA), so that
// `ncu --profile-from-start off` sees that step's kernels and nothing else. bench/gpu-check.ts runs it under
// Nsight Compute with KERNELNET_GRAPHS=0, so that each kernel is its own launch.
//   node dist/bench/profile-step.js [--steps N | --one-step]
import { parseArgs } from 'node:util';
import { loadMnist, toCategorical } from '../lib/index.js';
import { native } from '../lib/core/native.js';
import { seedModel } from '../test/helpers.js';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '8' }, 'one-step': { type: 'boolean', default: false } } });
const B = 128,
  oneStep = values['one-step'],
  steps = oneStep ? 1 : Number(values.steps);
const { train } = loadMnist(undefined, { trainLimit: steps * B, testLimit: 0 });
const y = toCategorical(train.labels, 10);
const model = seedModel(1);
const fit = () => model.fit(train.images, y, { batchSize: B, epochs: 1, verbose: 0 });
if (oneStep) {
  await fit(); // warm-up
  native.profile(true);
  await fit();
  native.profile(false);
} else {
  await fit();
}
native.synchronize();
console.log(`profiled ${oneStep ? 'one training step (after a warm-up step)' : `${steps} training steps`} of batch ${B} on ${native.backend().name}`);
model.dispose();
