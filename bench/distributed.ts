// npm run bench -- --distributed: data-parallel training's communication share. The seed model (1.2 M parameters)
// trained through fit with a DataParallel distribution at a global batch of 128 under `mpirun -np P` for P = 1, 2, 4
// (KERNELNET_NUM_THREADS = cores / P, at least 1), on synthetic MNIST-shaped data: the step's time, and the time of
// the gradient average alone (distAverage over the model's 1.2 M gradients, the collective each step runs),
// interleaved with the epochs in the same processes. Needs Open MPI's mpirun.
//
//   npm run bench -- --distributed [--np 1,2,4] [--steps N] [--epochs N] [--json FILE]
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    distributed: { type: 'boolean' },
    worker: { type: 'boolean' },
    np: { type: 'string', default: '1,2,4' },
    steps: { type: 'string', default: '10' },
    epochs: { type: 'string', default: '3' },
    json: { type: 'string' },
  },
});
const steps = Number(opts.steps),
  epochs = Number(opts.epochs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

if (opts.worker) {
  const { distribution, tensor, toCategorical } = await import('../lib/index.js');
  const { native } = await import('../lib/core/native.js');
  const { seedModel } = await import('../test/helpers.js');
  const dp = new distribution.DataParallel();
  distribution.setDistribution(dp);
  const n = 128 * steps;
  const x = tensor(
      Float32Array.from({ length: n * 784 }, (_, i) => (i % 255) / 255),
      [n, 28, 28, 1],
    ),
    y = toCategorical(
      Array.from({ length: n }, (_, i) => i % 10),
      10,
    );
  const m = seedModel(1);
  await m.fit(x, y, { batchSize: 128, epochs: 1, verbose: 0 }); // warm-up: buffers, the recorded step
  const grads = m.trainableParams.map(p => p.grad);
  const count = grads.reduce((a, g) => a + g.size, 0);
  const stepMs: number[] = [],
    averageMs: number[] = [];
  for (let e = 0; e < epochs; ++e) {
    let t = performance.now();
    await m.fit(x, y, { batchSize: 128, epochs: 1, verbose: 0 });
    stepMs.push((performance.now() - t) / steps);
    for (let r = 0; r < 5; ++r) {
      t = performance.now();
      native.distAverage(grads, 1 / dp.numProcesses);
      averageMs.push(performance.now() - t);
    }
  }
  if (dp.dataShardId === 0)
    console.log(
      JSON.stringify({
        np: dp.numProcesses,
        threads: native.numThreads(),
        engine: dp.engine,
        gradients: count,
        stepMs: median(stepMs),
        averageMs: dp.numProcesses > 1 ? median(averageMs) : 0,
        imagesPerSecond: 128 / (median(stepMs) / 1000),
      }),
    );
  m.dispose();
  process.exit(0);
}

const me = fileURLToPath(import.meta.url);
interface Row {
  np: number;
  threads: number;
  engine: string;
  gradients: number;
  stepMs: number;
  averageMs: number;
  imagesPerSecond: number;
  share: number;
}
const rows: Row[] = [];
for (const np of opts.np.split(',').map(Number)) {
  const threads = Math.max(1, Math.floor(cpus().length / np));
  const r = spawnSync(
    'mpirun',
    [
      '--allow-run-as-root',
      '--oversubscribe',
      '-np',
      String(np),
      '-x',
      'KERNELNET_NUM_THREADS',
      process.execPath,
      me,
      '--worker',
      '--steps',
      String(steps),
      '--epochs',
      String(epochs),
    ],
    { encoding: 'utf8', env: { ...process.env, KERNELNET_NUM_THREADS: String(threads) }, timeout: 600_000 },
  );
  if (r.status !== 0) throw new Error(`mpirun -np ${np} failed (${r.error?.message ?? r.status}): ${r.stdout}\n${r.stderr}`);
  const row = JSON.parse(r.stdout.trim().split('\n').pop()!) as Omit<Row, 'share'>;
  rows.push({ ...row, share: row.averageMs / row.stepMs });
}
console.log('processes  threads each  step ms  average ms  communication share  images/s');
for (const r of rows)
  console.log(
    `${String(r.np).padStart(9)}  ${String(r.threads).padStart(12)}  ${r.stepMs.toFixed(1).padStart(7)}  ${r.averageMs.toFixed(2).padStart(10)}  ${(100 * r.share).toFixed(1).padStart(18)}%  ${r.imagesPerSecond.toFixed(0).padStart(8)}`,
  );
if (opts.json)
  writeFileSync(opts.json, JSON.stringify({ date: new Date().toISOString(), cpus: cpus().length, cpu: cpus()[0]?.model, rows }, null, 2));
