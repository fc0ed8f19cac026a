// Every acceptance model trained side by side with PyTorch on this machine: for each model of examples/zoo.ts's
// acceptance set, kernelnet's fit (compiled as examples/keras_models.ts compiles it) and the same network in
// PyTorch (bench/torch_models.py --serve, kept warm in a process of its own) train the same number of MNIST batches,
// alternately, `rounds` times; the table gives each side's median images/s and the median (and range) of the
// per-round ratios. The seed model (mnist_cnn) is bench/bench.ts's; it is listed here too for reference.
//
//   npm run bench -- --models [--only lenet,resnet] [--steps 40] [--rounds 5] [--threads N] [--channels-last]
//                             [--json FILE]
//
// Both sides use every core unless --threads says otherwise (PyTorch's set_num_threads; kernelnet's
// KERNELNET_NUM_THREADS, set before the addon loads). twoinput's second input (4 features) is random on both sides:
// its values do not change the time. The binary model trains on all digits (label: odd or even) for the same reason.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    models: { type: 'boolean', default: false }, // passed on by bench/bench.ts's dispatch
    only: { type: 'string', default: 'mnist_cnn,lenet,bncnn,binary,resnet,inception,twoinput' },
    steps: { type: 'string', default: '40' },
    rounds: { type: 'string', default: '5' },
    threads: { type: 'string' },
    'channels-last': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const positive = (name: string, v: string) => {
  if (!/^[1-9]\d*$/.test(v)) throw new Error(`--${name} expects a positive integer, received '${v}'`);
  return Number(v);
};
const threads = positive('threads', opts.threads ?? process.env.KERNELNET_NUM_THREADS ?? String(availableParallelism()));
process.env.KERNELNET_NUM_THREADS = String(threads);
process.env.KERNELNET_BACKEND ??= 'cpu';
const steps = positive('steps', opts.steps),
  rounds = positive('rounds', opts.rounds);

// imported after the environment is set: the addon reads the thread count when it loads
const { loadMnist, tensor, backend, Adam, SGD, RMSprop } = await import('../lib/index.js');
const { buildModel } = await import('../examples/zoo.js');
type Zoo = import('../examples/zoo.js').ZooName;

const MODELS: Record<string, { batch: number; compile: () => object; torch: boolean }> = {
  mnist_cnn: { batch: 128, compile: () => ({ loss: 'sparseCategoricalCrossentropy', optimizer: 'adadelta', metrics: ['accuracy'] }), torch: false },
  lenet: {
    batch: 64,
    compile: () => ({
      loss: 'sparseCategoricalCrossentropy',
      optimizer: new SGD({ learningRate: 0.05, momentum: 0.9, nesterov: true }),
      metrics: ['accuracy'],
    }),
    torch: true,
  },
  bncnn: { batch: 128, compile: () => ({ loss: 'sparseCategoricalCrossentropy', optimizer: new Adam(), metrics: ['accuracy'] }), torch: true },
  binary: { batch: 64, compile: () => ({ loss: 'binaryCrossentropy', optimizer: new RMSprop(), metrics: ['accuracy'] }), torch: true },
  resnet: { batch: 128, compile: () => ({ loss: 'sparseCategoricalCrossentropy', optimizer: new Adam(), metrics: ['accuracy'] }), torch: true },
  inception: { batch: 128, compile: () => ({ loss: 'sparseCategoricalCrossentropy', optimizer: new Adam(), metrics: ['accuracy'] }), torch: true },
  twoinput: { batch: 128, compile: () => ({ loss: 'sparseCategoricalCrossentropy', optimizer: new Adam(), metrics: ['accuracy'] }), torch: true },
};
const names = opts.only.split(',').filter(Boolean);
for (const n of names) if (!(n in MODELS)) throw new Error(`--only expects names among ${Object.keys(MODELS).join(', ')}, received '${n}'`);

/** bench/torch_models.py --serve for one model: trains `steps` batches per request. */
class Torch {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;
  constructor(model: string) {
    const script = fileURLToPath(new URL('../../bench/torch_models.py', import.meta.url));
    const args = [script, '--model', model, '--serve', '--steps', String(steps), '--threads', String(threads)];
    if (opts['channels-last']) args.push('--channels-last');
    this.proc = spawn('/usr/bin/python3', args, { cwd: dirname(script) });
    this.proc.stderr.on('data', d => process.stderr.write(d));
    this.lines = createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }
  async next(): Promise<Record<string, unknown>> {
    const r = await this.lines.next();
    if (r.done) throw new Error('bench/torch_models.py ended early (is python3-torch installed? apt-get install python3-torch)');
    return JSON.parse(r.value) as Record<string, unknown>;
  }
  async time(): Promise<number> {
    this.proc.stdin.write('go\n');
    return (await this.next()).imagesPerSecond as number;
  }
  close(): void {
    this.proc.stdin.end();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const mnist = loadMnist(undefined, { testLimit: 0 });
const results: Record<string, unknown>[] = [];
console.log(`${backend().device}; PyTorch with ${threads} threads; ${steps} batches a round, ${rounds} rounds, alternating`);
for (const name of names) {
  const { batch, compile, torch: hasTorch } = MODELS[name];
  const n = steps * batch;
  const model = buildModel(name as Zoo, 1);
  model.compile(compile() as never);
  const x = mnist.train.images.slice([0, 0, 0, 0], [n, 28, 28, 1]);
  const labels = mnist.train.labels.slice([0], [n]);
  const y =
    name === 'binary'
      ? tensor(
          Array.from(labels.dataSync(), v => [v % 2]),
          [n, 1],
        )
      : labels;
  const q = tensor(
    Array.from({ length: n * 4 }, () => Math.random()),
    [n, 4],
  );
  const input = name === 'twoinput' ? [x, q] : x;
  const fitOnce = async () => {
    const t0 = performance.now();
    await model.fit(input, y, { batchSize: batch, epochs: 1, verbose: 0 });
    return n / ((performance.now() - t0) / 1000);
  };
  await fitOnce(); // warm-up: workspaces, the recorded step
  const torch = hasTorch ? new Torch(name) : null;
  const torchInfo = torch ? await torch.next() : null;
  const kn: number[] = [],
    pt: number[] = [];
  for (let r = 0; r < rounds; ++r) {
    kn.push(await fitOnce());
    if (torch) pt.push(await torch.time());
  }
  torch?.close();
  const ratios = pt.map((p, i) => kn[i] / p);
  const row = {
    model: name,
    batchSize: batch,
    kernelnet: { imagesPerSecond: median(kn), runs: kn },
    ...(torch
      ? {
          torch: { ...torchInfo, imagesPerSecond: median(pt), runs: pt },
          ratio: { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) },
        }
      : {}),
  };
  results.push(row);
  const ratio = torch ? `  ${median(ratios).toFixed(2)}x (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})` : '';
  console.log(
    `${name.padEnd(10)} batch ${String(batch).padStart(3)}  kernelnet ${median(kn).toFixed(0).padStart(6)} images/s` +
      (torch ? `  PyTorch ${median(pt).toFixed(0).padStart(6)} images/s${ratio}` : ''),
  );
  model.dispose();
  x.dispose();
  if (y !== labels) y.dispose();
  labels.dispose();
  q.dispose();
}
if (opts.json) {
  mkdirSync(dirname(opts.json), { recursive: true });
  writeFileSync(
    opts.json,
    JSON.stringify(
      {
        command: `npm run bench -- --models ${process.argv.slice(2).join(' ')}`.trim(),
        machine: `${cpus()[0]?.model ?? 'cpu'}, ${threads} threads`,
        backend: backend(),
        steps,
        rounds,
        results,
      },
      null,
      2,
    ),
  );
}
