// One process of test/distributed.test.ts's jobs (run under mpirun, or alone): trains a small model as the JSON
// config in argv[2] says and writes { rank, size, weights, history } to `${out}.${rank}`. Not a test suite itself.
import { writeFileSync } from 'node:fs';
import {
  BatchNormalization,
  Dense,
  Dropout,
  ModelCheckpoint,
  SGD,
  Sequential,
  distribution,
  loadModel,
  tensor,
  toCategorical,
  type Callback,
  type LayersModel,
} from '../lib/index.js';

interface Config {
  out: string;
  /** Train data-parallel (DataParallel set); false: one process on the global batch. */
  dp: boolean;
  /** 'dense': two Dense layers; 'noisy': with BatchNormalization and Dropout. */
  model: 'dense' | 'noisy';
  epochs: number;
  batchSize: number;
  examples?: number;
  shuffle?: boolean;
  validationSplit?: number;
  /** Record the loss onBatchEnd sees (rank 0's callbacks: the global batches' running loss). */
  batchLogs?: boolean;
  /** Rank 0 saves the model here after every epoch (ModelCheckpoint). */
  checkpoint?: string;
  /** Start from this checkpoint (loadModel) at `initialEpoch`. */
  resume?: string;
  initialEpoch?: number;
  /** Row of x set to NaN (the rank whose share holds it raises). */
  nanRow?: number;
  /** After the fit, this rank kills itself (SIGKILL) while the others start a second fit (a rank that dies). */
  killRank?: number;
  /** After the fit, this rank exits with code 3 (an error outside fit) while the others start a second fit. */
  exitRank?: number;
  /** This rank stops taking part for a minute before fit (a hang). */
  stallRank?: number;
}

const cfg = JSON.parse(process.argv[2]) as Config;
const dp = cfg.dp ? new distribution.DataParallel() : null;
if (dp) distribution.setDistribution(dp);
const rank = dp?.dataShardId ?? 0;
const n = cfg.examples ?? 96,
  d = 12;
const xs = Float32Array.from({ length: n * d }, (_, i) => Math.sin(i * 0.7) + 0.1 * Math.cos(i * 1.3));
if (cfg.nanRow !== undefined) xs[cfg.nanRow * d] = NaN;
const x = tensor(xs, [n, d]);
const y = toCategorical(
  Array.from({ length: n }, (_, i) => (i * 7) % 3),
  3,
);

let model: LayersModel;
if (cfg.resume) model = loadModel(cfg.resume);
else {
  const m = new Sequential({
    seed: 5,
    layers:
      cfg.model === 'noisy'
        ? [
            new Dense({ units: 16, inputShape: [d] }),
            new BatchNormalization(),
            new Dense({ units: 16, activation: 'relu' }),
            new Dropout({ rate: 0.3 }),
            new Dense({ units: 3, activation: 'softmax' }),
          ]
        : [new Dense({ units: 16, activation: 'relu', inputShape: [d] }), new Dense({ units: 3, activation: 'softmax' })],
  });
  m.compile({ loss: 'categoricalCrossentropy', optimizer: new SGD({ learningRate: 0.1, momentum: 0.5 }), metrics: ['accuracy'] });
  model = m;
}
const callbacks: Callback[] = [];
if (cfg.checkpoint) callbacks.push(new ModelCheckpoint({ filepath: cfg.checkpoint }));
const batches: number[] = [];
if (cfg.batchLogs) callbacks.push({ onBatchEnd: (_b: number, logs?: Record<string, number>) => void batches.push(logs!.loss) });
if (cfg.stallRank === rank) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
const h = await model.fit(x, y, {
  batchSize: cfg.batchSize,
  epochs: cfg.epochs,
  initialEpoch: cfg.initialEpoch ?? 0,
  shuffle: cfg.shuffle ?? true,
  validationSplit: cfg.validationSplit,
  verbose: 0,
  callbacks,
});
const weights = model.getWeights().map(t => {
  const v = Array.from(t.dataSync());
  t.dispose();
  return v;
});
writeFileSync(`${cfg.out}.${rank}`, JSON.stringify({ rank, size: dp?.numProcesses ?? 1, weights, history: h.history, batches }));
if (cfg.killRank !== undefined || cfg.exitRank !== undefined) {
  if (cfg.killRank === rank) process.kill(process.pid, 'SIGKILL');
  if (cfg.exitRank === rank) process.exit(3);
  await model.fit(x, y, { batchSize: cfg.batchSize, epochs: cfg.epochs + 1, initialEpoch: cfg.epochs, verbose: 0, callbacks });
  writeFileSync(`${cfg.out}.${rank}.second`, 'the second fit ended: it should not have');
}
