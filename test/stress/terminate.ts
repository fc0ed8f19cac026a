// Ends a training worker at a chosen moment, in a child process of its own so that a crash is seen as the
// child's signal: run by test/terminate.test.ts, or by hand:
//   node dist/test/stress/terminate.js --how terminate|exit --at record|run|save|predict|random --seed N
//                                      [--work train|fuzz] [--dir DIR]
// The worker trains a small model in a loop (fit, save, predict). With --at <phase> it pauses on a shared flag
// right inside that phase (after record() began, just before a recorded step's run(), when save() starts
// reading the parameters, before predict's softmax); the main thread lets it go on and ends it a seeded 0-3 ms
// later (worker.terminate(), or process.exit() with --how exit), so that its native calls meet an environment
// that is shutting down and cannot run JavaScript. --at random ends it after a seeded delay instead. Prints
// one JSON line and exits 0 when the worker ended (a worker's error while it is being terminated is fine; a
// crash of the process is not). --work fuzz runs the addon fuzzer (test/fuzz/native-fuzz.js: hostile calls of
// every native function) in the worker instead, ended after a seeded delay; run it in a scratch folder, since
// hostile strings become file names for save() and friends.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { rng } from '../helpers.js';

const { values } = parseArgs({
  options: {
    how: { type: 'string', default: 'terminate' },
    at: { type: 'string', default: 'random' },
    seed: { type: 'string', default: '1' },
    work: { type: 'string', default: 'train' },
    dir: { type: 'string' },
  },
});
const PHASES = ['record', 'run', 'save', 'predict'];
const seed = Number(values.seed),
  at = values.at!,
  how = values.how!;
if (!PHASES.includes(at) && at !== 'random') throw new Error(`--at expects ${PHASES.join('|')}|random`);
if (how !== 'terminate' && how !== 'exit') throw new Error('--how expects terminate or exit');
const work = values.work!;
if (work !== 'train' && work !== 'fuzz') throw new Error('--work expects train or fuzz');
if (work === 'fuzz' && at !== 'random') throw new Error('--work fuzz ends the fuzzer at a random moment only');

// Where the worker saves; with --dir the caller removes it (after process.exit() the worker may still be writing).
const dir = values.dir ?? mkdtempSync(join(tmpdir(), 'kernelnet-terminate-'));
const cleanup = () => {
  if (!values.dir) rmSync(dir, { recursive: true, force: true });
};
const lib = (f: string) => JSON.stringify(new URL(`../../lib/${f}`, import.meta.url).href);
const helpers = JSON.stringify(new URL('../helpers.js', import.meta.url).href);

// flag[0]: the phase the worker has paused in (1 + index in PHASES), flag[1]: set by the main thread to let it go.
const flag = new Int32Array(new SharedArrayBuffer(8));
const code = `
  const { workerData, parentPort } = await import('node:worker_threads');
  const { native } = await import(${lib('core/native.js')});
  const { smallModel, syntheticData } = await import(${helpers});
  const { Adadelta } = await import(${lib('index.js')});
  const { flag, at, phases, dir } = workerData;
  const pause = phase => {
    if (phase !== at || Atomics.load(flag, 0)) return;
    Atomics.store(flag, 0, 1 + phases.indexOf(phase));
    Atomics.notify(flag, 0);
    Atomics.wait(flag, 1, 0, 5000); // until the main thread has ended this worker
  };
  const { record, endRecord } = native;
  native.record = (...a) => { const r = record(...a); pause('record'); return r; };
  native.endRecord = (...a) => {
    const p = endRecord(...a), run = p.run.bind(p);
    Object.defineProperty(p, 'run', { value: () => { pause('run'); return run(); } });
    return p;
  };
  const softmax = native.softmax;
  native.softmax = (...a) => { pause('predict'); return softmax(...a); };
  const model = smallModel(7);
  model.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta(), metrics: ['accuracy'] });
  const alive = model.alive.bind(model); // save() starts with it, then reads every parameter
  model.alive = op => { if (op === 'save') pause('save'); return alive(op); };
  const { x, y } = syntheticData(96);
  parentPort.postMessage('ready');
  for (let round = 0; ; ++round) {
    await model.fit(x, y, { batchSize: 16, epochs: 1, verbose: 0 });
    model.save(dir + '/model.safetensors');
    const p = model.predict(x);
    await Promise.all([p.data(), p.data(), p.array()]); // asynchronous reads in flight when the worker ends
    p.dispose();
  }
`;

const rand = rng(seed);
const t0 = performance.now();
const fuzzer = `
  const { parentPort } = await import('node:worker_threads');
  parentPort.postMessage('ready');
  await import(${JSON.stringify(new URL('../fuzz/native-fuzz.js', import.meta.url).href)});
`;
const worker = new Worker(work === 'train' ? code : fuzzer, {
  eval: true,
  type: 'module',
  workerData: { flag, at, phases: PHASES, dir },
  stdout: true,
  argv: ['--seed', String(seed), '--runs', '100000'],
} as ConstructorParameters<typeof Worker>[1]);
let workerError = '';
worker.on('error', e => (workerError = String((e as Error).message ?? e)));
const exited = new Promise<number>(resolve => worker.on('exit', resolve));
await new Promise<void>((resolve, reject) => {
  worker.once('message', () => resolve());
  worker.once('error', reject); // before it trained: a broken test, not what is tested
});

let moment: string;
if (at === 'random') {
  const ms = Math.floor(rand() * 400);
  await new Promise(r => setTimeout(r, ms));
  moment = `after ${ms} ms of work`;
} else {
  // Atomics.waitAsync (Node 16+; not in TypeScript's ES2022 library)
  const waitAsync = (
    Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t: number): { async: boolean; value: Promise<string> | string } }
  ).waitAsync;
  const r = waitAsync(flag, 0, 0, 20_000);
  if (r.async) await r.value;
  if (Atomics.load(flag, 0) !== 1 + PHASES.indexOf(at)) throw new Error(`the worker never reached ${at}`);
  moment = `inside ${at}`;
}
// Let the worker go on, then end it a seeded 0-3 ms later: while it is making the phase's native calls.
const delayUs = Math.floor(rand() * 3000);
moment += `, +${delayUs} us`;
const report = (exitCode: number | null) =>
  console.log(JSON.stringify({ how, at, seed, moment, exitCode, workerError, ms: Math.round(performance.now() - t0) }));
Atomics.store(flag, 1, 1);
Atomics.notify(flag, 1);
const until = performance.now() + delayUs / 1000;
while (performance.now() < until); // spin: a timer would be far coarser
if (how === 'exit') {
  report(null);
  process.exit(0); // Node tears the worker down wherever it is
}
await worker.terminate();
report(await exited);
cleanup();
