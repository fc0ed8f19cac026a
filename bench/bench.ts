// npm run bench: per-op timings of the backend in use at the seed model's shapes (batch 128), then end-to-end
// training throughput of the seed model on real MNIST, then the same model trained by PyTorch side by side in
// the same run (bench/torch_mnist.py with python3, where `import torch` works). On the CPU: PyTorch's best of one
// thread and every core, each with OpenBLAS on one thread and on its default, then the fastest with
// channels_last too; the best configuration's epochs are then interleaved with kernelnet's (kernelnet, PyTorch, kernelnet, ...) so that a shared machine's drift falls on both: the median
// ratio and its range; GFLOP/s as a percentage of the cores' measured FMA peak (the dense model's multiply-adds:
// the conv + max-pool backward skips the zero entries of dz, so kernelnet may show more than 100%). On a GPU: PyTorch eager on the same card with the data already on the GPU and with a standard
// DataLoader, GFLOP/s and GB/s as percentages of the card's datasheet FP32 peak and DRAM bandwidth, and the
// end-to-end time over whole 60,000-image epochs.
//
// --torch-loaders picks PyTorch's GPU runs (tensor: data on the GPU; dataloader: a DataLoader); --scaling
// 1,2,4,8 also times fit() on the CPU backend at each of those thread counts, to show how it scales.
//
//   npm run bench -- [--steps N] [--reps N] [--no-torch] [--torch-rounds N] [--torch-loaders tensor,dataloader]
//                    [--scaling 1,2,4,...] [--json FILE]
//   npm run bench -- --predict [...]: inference against onnxruntime-node (bench/predict.ts, its flags)
//   npm run bench -- --ops [...]: tensor ops against the memory bandwidth and tfjs-backend-cpu (bench/ops.ts)
//   npm run bench -- --models [...]: every acceptance model's training against PyTorch's (bench/models.ts)
//   npm run bench -- --distributed [...]: data-parallel training's communication share under mpirun (bench/distributed.ts)
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Adadelta, backend, fromPixels, imageDatasetFromDirectory, loadMnist, toCategorical, type Dataset, type Tensor } from '../lib/index.js';
import { native, type ConvArgs, type NativeActivation, type NativeTensor, type PoolArgs } from '../lib/core/native.js';
import { seedModel } from '../test/helpers.js';

// --predict: bench/predict.ts instead (kernelnet's predict against onnxruntime-node); --ops: bench/ops.ts (tensor ops
// against the memory bandwidth and tfjs-backend-cpu); --models: bench/models.ts (each model's training against PyTorch). Each in a process of its own so that it sets the thread count
// before the addon loads; the other flags pass through to it.
for (const [flag, file] of [
  ['--predict', './predict.js'],
  ['--ops', './ops.js'],
  ['--models', './models.js'],
  ['--distributed', './distributed.js'],
] as const)
  if (process.argv.includes(flag)) {
    const script = fileURLToPath(new URL(file, import.meta.url));
    const run = spawnSync(process.execPath, [script, ...process.argv.slice(2).filter(a => a !== flag)], { stdio: 'inherit' });
    process.exit(run.status ?? 1);
  }

const { values: opts } = parseArgs({
  options: {
    steps: { type: 'string' }, // default: 40 batches on the CPU, a whole epoch (469) on a GPU
    reps: { type: 'string', default: '7' },
    'no-torch': { type: 'boolean', default: false },
    'no-png': { type: 'boolean', default: false }, // skip the row training from PNG files
    'torch-loaders': { type: 'string', default: 'tensor,dataloader' },
    'torch-rounds': { type: 'string', default: '5' }, // CPU: interleaved epochs of kernelnet and PyTorch
    scaling: { type: 'string' },
    json: { type: 'string' },
  },
});
const B = 128;
const info = backend();
const gpu = info.name === 'cuda';
const steps = Number(opts.steps ?? (gpu ? Math.ceil(60000 / B) : 40)),
  reps = Number(opts.reps);
const list = (name: string, v: string, ok: (x: string) => boolean) => {
  const xs = v.split(',').filter(Boolean);
  const bad = xs.find(x => !ok(x));
  if (bad !== undefined || !xs.length) throw new Error(`--${name} expects a comma-separated list, received '${v}'`);
  return xs;
};
const torchLoaders = list('torch-loaders', opts['torch-loaders'], x => x === 'tensor' || x === 'dataloader');
const scaling = opts.scaling === undefined ? [] : list('scaling', opts.scaling, x => /^[1-9]\d*$/.test(x)).map(Number);
if (scaling.length && gpu) throw new Error('--scaling measures the CPU backend: run it with KERNELNET_BACKEND=cpu');
const FLOP_PER_IMAGE = 71.6e6; // forward + backward of the seed model, per training image

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const made: NativeTensor[] = [];
const T = (shape: number[], dtype: 'float32' | 'int32' = 'float32') => {
  const t = new native.Tensor(shape, dtype);
  if (dtype === 'float32') native.randomUniform(t, -1, 1, 1, made.length);
  made.push(t);
  return t;
};

function time(fn: () => void): number {
  fn(); // warm-up: scratch buffers grow on first use
  native.synchronize();
  const ms: number[] = [];
  for (let r = 0; r < reps; ++r) {
    const t0 = performance.now();
    fn();
    native.synchronize(); // GPU launches are asynchronous: time their completion
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

console.log(`kernelnet bench: backend ${info.name} (${info.device}); ${info.reason}`);
const cudaInfo = native.backends().cuda;
const peak = gpu ? (cudaInfo.peakGflops ?? NaN) : native.cpuPeakGflops(1.0);
const peakGBs = gpu ? (cudaInfo.peakGBs ?? NaN) : NaN;
if (gpu) console.log(`datasheet peaks of the GPU: ${peak.toFixed(0)} GFLOP/s FP32, ${peakGBs.toFixed(0)} GB/s DRAM`);
else console.log(`measured FMA peak of the ${native.numThreads()} CPU threads: ${peak.toFixed(0)} GFLOP/s`);
console.log(`median of ${reps} runs per op, batch ${B}\n`);
const pctOf = (value: number, of: number) => (Number.isFinite(of) && value ? `${((100 * value) / of).toFixed(0)}%` : '-');
const pct = (gflops: number) => pctOf(gflops, peak);

// Seed model shapes.
const x0 = T([B, 28, 28, 1]),
  w1 = T([3, 3, 1, 32]),
  b1 = T([32]),
  y1 = T([B, 26, 26, 32]);
const w2 = T([3, 3, 32, 64]),
  b2 = T([64]),
  y2 = T([B, 24, 24, 64]);
const p = T([B, 12, 12, 64]),
  arg = T([B, 12, 12, 64], 'int32'),
  d1 = T([B, 12, 12, 64]);
const flat = d1.reshape([B, 9216]),
  w3 = T([9216, 128]),
  b3 = T([128]),
  y3 = T([B, 128]),
  d2 = T([B, 128]);
const w4 = T([128, 10]),
  b4 = T([10]),
  y4 = T([B, 10]),
  labels = T([B, 10]),
  metrics = T([8]);
const dy4 = T([B, 10]),
  dd2 = T([B, 128]),
  dy3 = T([B, 128]),
  dflat = T([B, 9216]),
  dp = T([B, 12, 12, 64]);
const dy2 = T([B, 24, 24, 64]),
  dx2 = T([B, 26, 26, 32]),
  dy1 = T([B, 26, 26, 32]);
const gw1 = T(w1.shape),
  gb1 = T([32]),
  gw2 = T(w2.shape),
  gb2 = T([64]),
  gw3 = T(w3.shape),
  gb3 = T([128]),
  gw4 = T(w4.shape),
  gb4 = T([10]);
const params = [w1, b1, w2, b2, w3, b3, w4, b4],
  grads = [gw1, gb1, gw2, gb2, gw3, gb3, gw4, gb4];
const lr = T([1]);
lr.fill(1);
const acc = params.map(t => T(t.shape)),
  del = params.map(t => T(t.shape));
for (const t of [...acc, ...del]) t.fill(0);
const src = T([1024, 28, 28, 1]),
  idx = T([1024], 'int32');
native.permutation(idx, 1, 0);

const gemm = (m: number, n: number, k: number) => 2 * m * n * k;
/** The seed model's convolutions: stride 1, 'valid'; the pool after conv2: 2x2. */
const conv = (activation: NativeActivation, pre?: NativeTensor): ConvArgs => ({ strides: [1, 1], padding: 'valid', activation, pre });
const pool2: PoolArgs = { poolSize: [2, 2], padding: 'valid' };
const rows: [string, () => void, number, number][] = [
  // name, op, FLOP, bytes moved (compulsory: inputs read + outputs written once)
  ['gather batch', () => native.gatherRows(src, idx, 0, x0), 0, 2 * x0.size * 4],
  ['conv1 forward', () => native.conv2dForward(x0, w1, b1, y1, conv('relu')), gemm(B * 676, 32, 9), (x0.size + y1.size) * 4],
  // conv2 and the max-pool run as one op in the model's step (layers.ts's convPoolPairs); apart in the second table.
  ['conv2+pool forward', () => native.conv2dPoolForward(y1, w2, b2, p, arg, conv('relu'), pool2), gemm(B * 576, 64, 288), (y1.size + 2 * p.size) * 4],
  ['dropout forward', () => native.dropoutForward(p, d1, 0.25, 1, 1), 0, 2 * p.size * 4],
  ['dense1 forward', () => native.denseForward(flat, w3, b3, y3, 'relu'), gemm(B, 128, 9216), (flat.size + w3.size + y3.size) * 4],
  ['dense2 forward', () => native.denseForward(d2, w4, b4, y4, 'linear'), gemm(B, 10, 128), (d2.size + w4.size + y4.size) * 4],
  ['softmax-xent', () => native.softmaxCrossEntropy(y4, labels, dy4, metrics, 0), 0, 3 * y4.size * 4],
  ['dense2 backward', () => native.denseBackward(d2, w4, y4, dy4, dd2, gw4, gb4, 'linear'), 2 * gemm(B, 10, 128), 0],
  [
    'dense1 backward',
    () => native.denseBackward(flat, w3, y3, dy3, dflat, gw3, gb3, 'relu'),
    2 * gemm(B, 128, 9216),
    (flat.size * 2 + w3.size * 2) * 4,
  ],
  ['dropout backward', () => native.dropoutBackward(dflat, dp, 0.25, 1, 1), 0, 2 * p.size * 4],
  [
    'conv2+pool backward',
    () => native.conv2dPoolBackward(y1, w2, p, arg, dp, dx2, gw2, gb2, conv('relu'), pool2),
    2 * gemm(B * 576, 64, 288),
    (2 * y1.size + 3 * p.size) * 4,
  ],
  ['conv1 backward', () => native.conv2dBackward(x0, w1, y1, dy1, null, gw1, gb1, conv('relu')), gemm(B * 676, 32, 9), (x0.size + 2 * y1.size) * 4],
  ['adadelta (all)', () => native.adadelta(params, grads, acc, del, lr, 0.95, 1e-7), 0, 7 * 1_199_882 * 4],
];

const table: { op: string; ms: number; gflops: number; gbs: number }[] = [];
console.log(
  `${'op'.padEnd(20)}${'ms'.padStart(9)}${'GFLOP/s'.padStart(10)}${'% peak'.padStart(8)}${'GB/s'.padStart(8)}${gpu ? '% BW'.padStart(7) : ''}`,
);
let totalMs = 0;
for (const [name, fn, flop, bytes] of rows) {
  const ms = time(fn);
  totalMs += ms;
  const gflops = flop / ms / 1e6,
    gbs = bytes / ms / 1e6;
  table.push({ op: name, ms, gflops, gbs });
  console.log(
    `${name.padEnd(20)}${ms.toFixed(gpu ? 3 : 2).padStart(9)}${(flop ? gflops.toFixed(1) : '-').padStart(10)}${pct(flop && gflops).padStart(8)}` +
      `${(bytes ? gbs.toFixed(1) : '-').padStart(8)}${gpu ? pctOf(bytes && gbs, peakGBs).padStart(7) : ''}`,
  );
}
const opsGflops = (FLOP_PER_IMAGE * B) / totalMs / 1e6;
console.log(`${'sum of ops'.padEnd(20)}${totalMs.toFixed(2).padStart(9)}${opsGflops.toFixed(1).padStart(10)}${pct(opsGflops).padStart(8)}\n`);

// The rest of the vocabulary at the same shapes (conv2's output, [128, 24, 24, 64], and the seed model's
// parameters): per byte, these elementwise and per-channel passes should run near the memory's bandwidth, as
// the seed model's elementwise rows do.
const c64 = T([64]),
  beta64 = T([64]),
  bnMean = T([64]),
  bnInv = T([64]),
  mm = T([64]),
  mv = T([64]),
  pre = T(y2.shape),
  ya = T(y2.shape);
mv.fill(1);
const pooled = T([B, 12, 12, 64]),
  g1 = T([B, 1, 1, 64]),
  cls = T([B], 'int32'),
  bin = T([B, 10]);
cls.write(Int32Array.from({ length: B }, (_, i) => i % 10));
bin.write(Float32Array.from({ length: B * 10 }, (_, i) => i % 2));
const slotsOf = (n: number) =>
  Array.from({ length: n }, () =>
    params.map(t => {
      const s = T(t.shape);
      s.fill(0);
      return s;
    }),
  );
const adamSlots = slotsOf(2),
  sgdSlots = slotsOf(1),
  iters = T([1], 'int32');
const elementwise = y2.size * 4;
const yLin = T(y2.shape),
  yBn = T(y2.shape),
  w2f = T(w2.shape),
  b2f = T([64]);
const vocab: [string, () => void, number, number][] = [
  ['conv2 forward', () => native.conv2dForward(y1, w2, b2, y2, conv('relu')), gemm(B * 576, 64, 288), (y1.size + y2.size) * 4],
  ['maxpool forward', () => native.maxPool2dForward(y2, p, arg, 2, 2, 2, 2), 0, (y2.size + 2 * p.size) * 4],
  ['maxpool backward', () => native.maxPool2dBackward(dp, arg, dy2, 2, 2, 2, 2), 0, (2 * p.size + y2.size) * 4],
  [
    'conv2 backward',
    () => native.conv2dBackward(y1, w2, y2, dy2, dx2, gw2, gb2, conv('relu')),
    2 * gemm(B * 576, 64, 288),
    (2 * y1.size + 2 * y2.size) * 4,
  ],
  ['conv2 fwd swish', () => native.conv2dForward(y1, w2, b2, ya, conv('swish', pre)), gemm(B * 576, 64, 288), (y1.size + 2 * y2.size) * 4],
  [
    'conv2 bwd swish',
    () => native.conv2dBackward(y1, w2, ya, dy2, dx2, gw2, gb2, conv('swish', pre)),
    2 * gemm(B * 576, 64, 288),
    (2 * y1.size + 3 * y2.size) * 4,
  ],
  ['batchnorm fwd', () => native.batchNormForward(y2, ya, c64, beta64, bnMean, bnInv, mm, mv, 0.99, 1e-3, true), 0, 3 * elementwise],
  ['batchnorm bwd', () => native.batchNormBackward(y2, dy2, c64, bnMean, bnInv, pre, gb2, null, true), 0, 4 * elementwise],
  [
    'conv2+BN+relu infer',
    () => {
      native.conv2dForward(y1, w2, b2, yLin, conv('linear'));
      native.batchNormForward(yLin, yBn, c64, beta64, bnMean, bnInv, mm, mv, 0.99, 1e-3, false);
      native.activation(yBn, ya, 'relu');
    },
    gemm(B * 576, 64, 288),
    (y1.size + 5 * y2.size) * 4,
  ],
  [
    'same, BN folded',
    () => {
      native.batchNormFold(w2, b2, c64, beta64, mm, mv, 1e-3, w2f, b2f);
      native.conv2dForward(y1, w2f, b2f, ya, conv('relu'));
    },
    gemm(B * 576, 64, 288),
    (y1.size + y2.size) * 4,
  ],
  ['tanh (Activation)', () => native.activation(y2, ya, 'tanh'), 0, 2 * elementwise],
  ['gelu backward', () => native.activationBackward(y2, ya, dy2, pre, 'gelu'), 0, 4 * elementwise],
  ['avgpool fwd 2x2', () => native.avgPool2dForward(y2, pooled, 2, 2, 2, 2), 0, elementwise + pooled.size * 4],
  ['avgpool bwd 2x2', () => native.avgPool2dBackward(pooled, pre, 2, 2, 2, 2), 0, elementwise + pooled.size * 4],
  ['global avgpool', () => native.avgPool2dForward(y2, g1, 24, 24, 1, 1), 0, elementwise],
  ['sparse xent', () => native.loss('crossentropy', 'sparse', y4, cls, null, dy4, metrics, 0), 0, 2 * y4.size * 4],
  ['binary xent', () => native.loss('binary_crossentropy', 'binary', y4, bin, null, dy4, metrics, 0), 0, 3 * y4.size * 4],
  ['adam (all)', () => native.optimizerStep('adam', [0.9, 0.999, 1e-7, 0, 0, 0, 0, 0], params, grads, adamSlots, lr, iters), 0, 7 * 1_199_882 * 4],
  ['sgd momentum', () => native.optimizerStep('sgd', [0, 0, 0, 0.9, 0, 0, 0, 0], params, grads, sgdSlots, lr, iters), 0, 5 * 1_199_882 * 4],
];
lr.fill(1e-6); // the optimizers' rows must not blow the parameters up between repetitions
const vocabTable: typeof table = [];
console.log('the rest of the vocabulary, at the same shapes:');
for (const [name, fn, flop, bytes] of vocab) {
  const ms = time(fn),
    gflops = flop / ms / 1e6,
    gbs = bytes / ms / 1e6;
  vocabTable.push({ op: name, ms, gflops, gbs });
  console.log(
    `${name.padEnd(20)}${ms.toFixed(gpu ? 3 : 2).padStart(9)}${(flop ? gflops.toFixed(1) : '-').padStart(10)}${pct(flop && gflops).padStart(8)}` +
      `${(bytes ? gbs.toFixed(1) : '-').padStart(8)}${gpu ? pctOf(bytes && gbs, peakGBs).padStart(7) : ''}`,
  );
}
console.log('');
for (const t of made) t.dispose();

// End to end: fit() on real MNIST, timed over whole epochs of `steps` batches (after a warm-up epoch).
/**
 * Median milliseconds of 3 epochs of fit() on the seed model over `images` and `labels`, after a warm-up epoch,
 * with how its full-batch steps ran and the memory held while the model was alive.
 */
async function timeEpochs(images: Tensor, labels: Tensor, stepsPerExecution = 1) {
  const model = seedModel(1, false);
  model.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta({ learningRate: 1.0 }), metrics: ['accuracy'], stepsPerExecution });
  await model.fit(images, labels, { batchSize: B, epochs: 1, verbose: 0 });
  const epochMs: number[] = [];
  for (let r = 0; r < 3; ++r) {
    const t0 = performance.now();
    await model.fit(images, labels, { batchSize: B, epochs: 1, verbose: 0 });
    epochMs.push(performance.now() - t0);
  }
  const run = { ms: median(epochMs), stepRun: model.lastStepProgram, memory: native.stats() };
  model.dispose();
  return run;
}
const { train } = loadMnist(undefined, { trainLimit: Math.min(steps * B, 60000), testLimit: 0 });
const images = train.images.shape[0];
const y = toCategorical(train.labels, 10);
const { ms: epochMs, stepRun, memory } = await timeEpochs(train.images, y);
const imagesPerSecond = images / (epochMs / 1e3);
const secondsPerEpoch = 60000 / imagesPerSecond;
const gflops = (imagesPerSecond * FLOP_PER_IMAGE) / 1e9;
console.log(
  `kernelnet training (fit, batch ${B}, ${images} images, median of 3 epochs): ${imagesPerSecond.toFixed(0)} images/s, ` +
    `${secondsPerEpoch.toFixed(gpu ? 3 : 1)} s per 60,000-image epoch, ${(epochMs / Math.ceil(images / B)).toFixed(3)} ms per step, ` +
    `${gflops.toFixed(1)} GFLOP/s (${pct(gflops)} of peak)`,
);
console.log(
  `  full-batch steps: ${stepRun ? `one recorded program of ${stepRun.ops} ops${stepRun.graph ? ', a CUDA graph launch' : ` (${stepRun.reason})`}` : 'op by op'}; ` +
    `memory: ${(memory.bytesInUse / 2 ** 20).toFixed(1)} MiB of tensors + ${(memory.scratchBytes / 2 ** 20).toFixed(1)} MiB of scratch`,
);
// On a GPU a step is a fraction of a millisecond, so the host's share per step (the graph launch, the callbacks,
// the event-loop turn) shows: the same epochs with 8 steps per execution (compile's stepsPerExecution).
const perExecution = gpu
  ? await (async () => {
      const { ms } = await timeEpochs(train.images, y, 8);
      return { stepsPerExecution: 8, secondsPerEpoch: (60000 / images) * (ms / 1e3), msPerStep: ms / Math.ceil(images / B) };
    })()
  : null;
if (perExecution)
  console.log(
    `  with stepsPerExecution 8: ${perExecution.secondsPerEpoch.toFixed(3)} s per 60,000-image epoch, ${perExecution.msPerStep.toFixed(3)} ms per step`,
  );
// The graph's fork/join (each backward op's weight gradient a branch beside its input gradient) against the same
// graph as a chain (KERNELNET_GRAPH_BRANCHES=0, read at capture): bench/NOTES.md predicts 8-25 us per step.
const chain =
  gpu && stepRun?.graph
    ? await (async () => {
        process.env.KERNELNET_GRAPH_BRANCHES = '0';
        try {
          const { ms, stepRun: run } = await timeEpochs(train.images, y);
          return { branches: run?.branches ?? 0, secondsPerEpoch: (60000 / images) * (ms / 1e3), msPerStep: ms / Math.ceil(images / B) };
        } finally {
          delete process.env.KERNELNET_GRAPH_BRANCHES;
        }
      })()
    : null;
if (chain)
  console.log(
    `  the graph as a chain (KERNELNET_GRAPH_BRANCHES=0, ${chain.branches} branches, against ${stepRun!.branches}): ` +
      `${chain.secondsPerEpoch.toFixed(3)} s per 60,000-image epoch, ${chain.msPerStep.toFixed(3)} ms per step`,
  );

// The validation pass: evaluate() over MNIST's 10,000 test images at the training batch size (the forward pass
// does the same work whatever the weights: an untrained model times the same).
const validation = await (async () => {
  const { test } = loadMnist(undefined, { trainLimit: 0 });
  const yTest = toCategorical(test.labels, 10),
    model = seedModel(1);
  model.evaluate(test.images, yTest, { batchSize: B }); // warm-up
  const seconds: number[] = [];
  for (let r = 0; r < 3; ++r) {
    const t0 = performance.now();
    model.evaluate(test.images, yTest, { batchSize: B });
    seconds.push((performance.now() - t0) / 1e3);
  }
  model.dispose();
  for (const t of [test.images, test.labels, yTest]) t.dispose();
  return { images: 10000, seconds: median(seconds) };
})();
console.log(`  validation pass (evaluate, 10,000 test images, batch ${B}, median of 3): ${validation.seconds.toFixed(3)} s`);

// How the CPU backend scales with threads: fit() over 10 batches at each thread count.
const scaled: { threads: number; imagesPerSecond: number; speedup: number }[] = [];
if (scaling.length) {
  const all = native.numThreads();
  const small = loadMnist(undefined, { trainLimit: 10 * B, testLimit: 0 }).train;
  const smallY = toCategorical(small.labels, 10);
  for (const threads of scaling) {
    native.numThreads(threads);
    const ips = small.images.shape[0] / ((await timeEpochs(small.images, smallY)).ms / 1e3);
    scaled.push({ threads: native.numThreads(), imagesPerSecond: ips, speedup: ips / (scaled[0]?.imagesPerSecond ?? ips) });
    console.log(
      `  ${String(native.numThreads()).padStart(3)} threads: ${ips.toFixed(0).padStart(6)} images/s (${scaled.at(-1)!.speedup.toFixed(2)}x ${scaled[0].threads} thread${scaled[0].threads > 1 ? 's' : ''})`,
    );
  }
  native.numThreads(all);
}

// Training from image files: the same images from PNG files (imageDatasetFromDirectory: sharp decodes the next
// batches on libuv's threads while the current one trains) and from memory, the seed model with a Rescaling layer
// first in both, at the same batch size: images/s and their ratio (median of 2 epochs after a warm-up).
let png: { images: number; memoryImagesPerSecond: number; pngImagesPerSecond: number; ratio: number; cachedImagesPerSecond: number } | null = null;
if (!opts['no-png']) {
  const { default: sharp } = await import('sharp');
  const dir = mkdtempSync(join(tmpdir(), 'kernelnet-bench-png-'));
  try {
    const pixels = train.images.dataSync(),
      labels = train.labels.dataSync(),
      bytes = Uint8Array.from(pixels, v => Math.round(v * 255));
    for (let d = 0; d < 10; ++d) mkdirSync(join(dir, String(d)));
    for (let i = 0; i < images; i += 256)
      await Promise.all(
        Array.from({ length: Math.min(256, images - i) }, (_, j) =>
          sharp(Buffer.from(bytes.subarray((i + j) * 784, (i + j + 1) * 784)), { raw: { width: 28, height: 28, channels: 1 } })
            .png()
            .toFile(join(dir, String(labels[i + j]), `${String(i + j).padStart(5, '0')}.png`)),
        ),
      );
    const x255 = fromPixels(bytes, [images, 28, 28, 1]);
    const files = imageDatasetFromDirectory(dir, {
      colorMode: 'grayscale',
      imageSize: [28, 28],
      batchSize: B,
      labelMode: 'categorical',
      seed: 1,
      verbose: false,
    });
    const time = async (data: Dataset | [Tensor, Tensor]) => {
      const m = seedModel(1, true, undefined, true);
      const fitOnce = () =>
        Array.isArray(data) ? m.fit(data[0], data[1], { batchSize: B, epochs: 1, verbose: 0 }) : m.fit(data, { epochs: 1, verbose: 0 });
      await fitOnce();
      const ms: number[] = [];
      for (let r = 0; r < 2; ++r) {
        const t0 = performance.now();
        await fitOnce();
        ms.push(performance.now() - t0);
      }
      m.dispose();
      return images / (median(ms) / 1e3);
    };
    const cachedFiles = imageDatasetFromDirectory(dir, {
      colorMode: 'grayscale',
      imageSize: [28, 28],
      batchSize: B,
      labelMode: 'categorical',
      seed: 1,
      verbose: false,
      cache: true,
    });
    const memoryIps = await time([x255, y]),
      pngIps = await time(files),
      cachedIps = await time(cachedFiles); // the cache fills in the warm-up epoch
    png = { images, memoryImagesPerSecond: memoryIps, pngImagesPerSecond: pngIps, ratio: pngIps / memoryIps, cachedImagesPerSecond: cachedIps };
    console.log(
      `training from ${images} PNG files (decoded by sharp, 2 batches ahead) vs the same images in memory: ${pngIps.toFixed(0)} vs ` +
        `${memoryIps.toFixed(0)} images/s (${(100 * png.ratio).toFixed(0)}%); with the decode cache (cache: true), after its first epoch: ${cachedIps.toFixed(0)} images/s`,
    );
    x255.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface TorchRun {
  imagesPerSecond: number;
  secondsPerEpoch: number;
  threads: number;
  torch: string;
  gpu?: string;
}
const torch: Record<string, TorchRun> = {};
const python = gpu ? 'python3' : '/usr/bin/python3'; // Debian's python3-torch, or the python3 on a CUDA machine's PATH
const torchScript = fileURLToPath(new URL('../../bench/torch_mnist.py', import.meta.url));

/** bench/torch_mnist.py --serve: one PyTorch process kept warm, timing an epoch of `images` whenever asked. */
class TorchPeer {
  private readonly proc;
  private readonly lines;
  private stderr = '';
  info: { torch: string; threads: number; channelsLast: boolean } | null = null;
  constructor(args: readonly string[], env: Record<string, string> = {}) {
    this.proc = spawn(python, [torchScript, '--serve', '--steps', String(Math.ceil(images / B)), '--batch-size', String(B), ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    this.proc.stderr.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.proc.on('error', e => {
      this.stderr += e.message;
    });
    this.lines = createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }
  private async line(): Promise<Record<string, unknown>> {
    const next = await this.lines.next();
    if (next.done) throw new Error(this.stderr.trim().split('\n').at(-1) || 'PyTorch exited');
    return JSON.parse(next.value);
  }
  async start() {
    this.info = (await this.line()) as TorchPeer['info']; // after its warm-up epoch
    return this;
  }
  async epoch(): Promise<number> {
    this.proc.stdin.write('epoch\n');
    return (await this.line()).imagesPerSecond as number;
  }
  close() {
    this.proc.stdin.end();
  }
}

// CPU: PyTorch's best configuration, then its epochs interleaved with kernelnet's.
let interleaved: {
  configs: { label: string; imagesPerSecond: number }[];
  best: string;
  torch: string;
  rounds: { kernelnet: number; pytorch: number; ratio: number }[];
  medianRatio: number;
  minRatio: number;
  maxRatio: number;
} | null = null;
if (!opts['no-torch'] && !gpu) {
  const cores = native.numThreads();
  // Debian's build runs convolutions on oneDNN with OpenMP threads and the Linear layers on OpenBLAS, whose own
  // threads (one per core by default) contend with OpenMP's: its thread count is part of the configuration.
  type Config = { label: string; args: string[]; env: Record<string, string> };
  const configs: Config[] = [];
  for (const threads of ['1', 'all'])
    for (const blas of ['1', 'default'])
      configs.push({
        label: `${threads === '1' ? '1 thread' : `${cores} threads`}, OpenBLAS ${blas === '1' ? '1 thread' : 'default threads'}`,
        args: ['--threads', threads],
        env: blas === '1' ? { OPENBLAS_NUM_THREADS: '1' } : {},
      });
  try {
    const swept: { label: string; imagesPerSecond: number }[] = [];
    let best: (Config & { ips: number }) | null = null;
    const measure = async (config: Config) => {
      const peer = await new TorchPeer(config.args, config.env).start();
      const ips = Math.max(await peer.epoch(), await peer.epoch());
      peer.close();
      swept.push({ label: config.label, imagesPerSecond: ips });
      if (!best || ips > best.ips) best = { ...config, ips };
    };
    for (const config of configs) await measure(config);
    const fastest: Config = best!;
    await measure({ label: `${fastest.label}, channels_last`, args: [...fastest.args, '--channels-last'], env: fastest.env });
    const chosen: Config = best!;
    const peer = await new TorchPeer(chosen.args, chosen.env).start();
    const model = seedModel(1);
    await model.fit(train.images, y, { batchSize: B, epochs: 1, verbose: 0 });
    const rounds: { kernelnet: number; pytorch: number; ratio: number }[] = [];
    for (let r = 0; r < Number(opts['torch-rounds']); ++r) {
      const t0 = performance.now();
      await model.fit(train.images, y, { batchSize: B, epochs: 1, verbose: 0 });
      const kernelnet = images / ((performance.now() - t0) / 1e3),
        pytorch = await peer.epoch();
      rounds.push({ kernelnet, pytorch, ratio: kernelnet / pytorch });
    }
    peer.close();
    model.dispose();
    const ratios = rounds.map(r => r.ratio);
    interleaved = {
      configs: swept,
      best: chosen.label,
      torch: peer.info!.torch,
      rounds,
      medianRatio: median(ratios),
      minRatio: Math.min(...ratios),
      maxRatio: Math.max(...ratios),
    };
    console.log(
      `PyTorch ${peer.info!.torch} CPU, same model and loop, images/s: ${swept.map(c => `${c.label} ${c.imagesPerSecond.toFixed(0)}`).join('; ')}`,
    );
    console.log(
      `kernelnet vs PyTorch (${chosen.label}), ${rounds.length} interleaved epochs of ${images} images: ` +
        `${median(rounds.map(r => r.kernelnet)).toFixed(0)} vs ${median(rounds.map(r => r.pytorch)).toFixed(0)} images/s (medians); ` +
        `kernelnet / PyTorch ${interleaved.medianRatio.toFixed(2)}x (median; range ${interleaved.minRatio.toFixed(2)}-${interleaved.maxRatio.toFixed(2)}x)`,
    );
  } catch (e) {
    console.log(`PyTorch: skipped (${(e as Error).message}); install it with: apt-get install python3-torch libopenblas0-pthread`);
  }
}
if (!opts['no-torch'] && gpu) {
  const runs = torchLoaders.map(l => [l === 'tensor' ? 'data on the GPU' : 'DataLoader', ['--device', 'cuda', '--loader', l]] as const);
  for (const [label, extra] of runs) {
    const r = spawnSync(python, [torchScript, '--steps', String(Math.ceil(images / B)), '--batch-size', String(B), '--repeats', '3', ...extra], {
      encoding: 'utf8',
    });
    if (r.status !== 0) {
      console.log(
        `PyTorch: skipped (${(r.stderr || r.error?.message || '').trim().split('\n').at(-1)}); install it with: apt-get install python3-torch libopenblas0-pthread`,
      );
      break;
    }
    const t: TorchRun = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    torch[label] = t;
    console.log(
      `PyTorch ${t.torch} ${t.gpu}, ${label}, same model and loop, median of 3: ${t.imagesPerSecond.toFixed(0)} images/s, ` +
        `${t.secondsPerEpoch.toFixed(3)} s per epoch; kernelnet / PyTorch = ${(imagesPerSecond / t.imagesPerSecond).toFixed(2)}x`,
    );
  }
}

if (opts.json)
  writeFileSync(
    opts.json,
    JSON.stringify(
      {
        backend: info,
        peakGflops: peak,
        peakGBs,
        batch: B,
        ops: table,
        vocabularyOps: vocabTable,
        images,
        imagesPerSecond,
        secondsPerEpoch,
        gflops,
        stepProgram: stepRun,
        memory: { bytesInUse: memory.bytesInUse, scratchBytes: memory.scratchBytes },
        perExecution,
        chain,
        validation,
        torch,
        interleaved,
        scaling: scaled,
        png,
      },
      null,
      2,
    ) + '\n',
  );
