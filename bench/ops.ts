// npm run bench -- --ops: the throughput of kernelnet/tfjs's elementwise and reduction ops against the machine's
// memory bandwidth, and their cost per call at small sizes against tfjs-backend-cpu, measured side by side in one run.
//
// Bandwidth: for each size (1 kB to 256 MB of float32 per operand), a STREAM-triad-shaped kernel, y = s * (a + b)
// (kernelnet's own multithreaded merge-layer kernel: two streams read, one written, a multiply-add per element), is
// timed interleaved with each op, called natively on tensors already allocated (no allocation in the timed call),
// and the op's bytes moved per call (its operands read once, its output written once) give its GB/s and its share
// of the triad's GB/s in the same rounds. Medians of --reps rounds (a round: triad, op).
// The tensors live on the environment's default device (KERNELNET_BACKEND=cpu or cuda picks it); each timing waits
// for the device's queue to drain.
// Calls: the public functions (tf.add(a, b) through kernelnet/tfjs, allocation and checks included) at 1 kB and
// 64 kB, against @tensorflow/tfjs-core on tfjs-backend-cpu with the same call, interleaved, each call's result
// disposed: calls per second (medians).
//
//   npm run bench -- --ops [--sizes 1k,64k,1m,16m,256m] [--reps N] [--threads N] [--json FILE]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tfc from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

const { values: opts } = parseArgs({
  options: {
    ops: { type: 'boolean', default: false }, // passed on by bench/bench.ts's dispatch
    sizes: { type: 'string', default: '1k,64k,1m,16m,256m' },
    reps: { type: 'string', default: '15' },
    threads: { type: 'string' },
    json: { type: 'string' },
  },
});
if (opts.threads) process.env.KERNELNET_NUM_THREADS = opts.threads;
const { native } = await import('../lib/core/native.js');
const kn = await import('../lib/tfjs.js');

const parseSize = (s: string) => {
  const m = /^(\d+)([kmg]?)$/i.exec(s.trim());
  if (!m) throw new Error(`--sizes: '${s}' is not a size such as 64k or 16m`);
  return Number(m[1]) * { '': 1, k: 1 << 10, m: 1 << 20, g: 1 << 30 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
};
const sizes = opts.sizes.split(',').map(parseSize);
const reps = Number(opts.reps);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

type NT = InstanceType<typeof native.Tensor>;
/** An op on preallocated tensors: its name, the bytes it moves per call, and the call. */
interface Case {
  name: string;
  bytes: (n: number) => number;
  setup: (n: number) => { run: () => void; free: () => void };
}

function filled(n: number, dtype: 'float32' | 'int32' = 'float32', value = 1.5): NT {
  const t = new native.Tensor([n], dtype);
  t.fill(value);
  return t;
}

const cases: Case[] = [
  {
    name: 'add (a + b)',
    bytes: n => 12 * n,
    setup: n => {
      const [a, b, y] = [filled(n), filled(n), filled(n)];
      return { run: () => native.mathBinary('add', a, b, y), free: () => [a, b, y].forEach(t => t.dispose()) };
    },
  },
  {
    name: 'mul by a scalar',
    bytes: n => 8 * n,
    setup: n => {
      const [a, y] = [filled(n), filled(n)],
        s = new native.Tensor([], 'float32');
      s.fill(2);
      return { run: () => native.mathBinary('mul', a, s, y), free: () => [a, s, y].forEach(t => t.dispose()) };
    },
  },
  {
    name: 'greater (to bool)',
    bytes: n => 12 * n,
    setup: n => {
      const [a, b] = [filled(n), filled(n)],
        y = new native.Tensor([n], 'bool');
      return { run: () => native.mathBinary('greater', a, b, y), free: () => [a, b, y].forEach(t => t.dispose()) };
    },
  },
  {
    name: 'neg',
    bytes: n => 8 * n,
    setup: n => {
      const [a, y] = [filled(n), filled(n)];
      return { run: () => native.mathUnary('neg', a, y), free: () => [a, y].forEach(t => t.dispose()) };
    },
  },
  {
    name: 'exp',
    bytes: n => 8 * n,
    setup: n => {
      const [a, y] = [filled(n), filled(n)];
      return { run: () => native.mathUnary('exp', a, y), free: () => [a, y].forEach(t => t.dispose()) };
    },
  },
  {
    name: 'cast to int32',
    bytes: n => 8 * n,
    setup: n => {
      const a = filled(n),
        y = new native.Tensor([n], 'int32');
      return { run: () => native.mathUnary('cast', a, y), free: () => [a, y].forEach(t => t.dispose()) };
    },
  },
  {
    name: 'sum (all)',
    bytes: n => 4 * n,
    setup: n => {
      const a = filled(n),
        y = new native.Tensor([], 'float32');
      return { run: () => native.reduce('sum', a, [1, n, 1], y), free: () => [a, y].forEach(t => t.dispose()) };
    },
  },
  {
    name: 'sum of rows [n/256, 256]',
    bytes: n => 4 * n,
    setup: n => {
      const a = filled(n),
        y = new native.Tensor([Math.max(1, n >> 8)], 'float32');
      return { run: () => native.reduce('sum', a, [Math.max(1, n >> 8), Math.min(n, 256), 1], y), free: () => [a, y].forEach(t => t.dispose()) };
    },
  },
  {
    name: 'max of columns [256, n/256]',
    bytes: n => 4 * n,
    setup: n => {
      const a = filled(n),
        y = new native.Tensor([Math.max(1, n >> 8)], 'float32');
      return { run: () => native.reduce('max', a, [1, Math.min(n, 256), Math.max(1, n >> 8)], y), free: () => [a, y].forEach(t => t.dispose()) };
    },
  },
  {
    name: 'transpose [n/256, 256]',
    bytes: n => 8 * n,
    setup: n => {
      const r = Math.max(1, n >> 8),
        c = Math.min(n, 256);
      const a = filled(r * c),
        y = new native.Tensor([c, r], 'float32');
      return { run: () => native.stridedCopy(a, y, [1, c], 0), free: () => [a, y].forEach(t => t.dispose()) };
    },
  },
];

/** Seconds per call of `calls` calls, the device's queue drained before the clock stops (a GPU runs ops asynchronously). */
function time(fn: () => void, calls: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; ++i) fn();
  native.synchronize();
  return Number(process.hrtime.bigint() - t0) / 1e9 / calls;
}

const rows: Array<Record<string, number | string>> = [];
console.log(
  `kernelnet ops against the memory bandwidth on ${native.backend().name} (${native.backend().device}): ${native.numThreads()} CPU threads, medians of ${reps} rounds`,
);
console.log('size      op                              us/call     GB/s   triad GB/s   share');
for (const bytes of sizes) {
  const n = bytes / 4;
  const [ta, tb, ty] = [filled(n), filled(n), filled(n)];
  const triad = () => native.binary('add', ta, tb, ty, 0.5);
  const calls = Math.max(1, Math.min(2000, Math.round(64e6 / bytes)));
  for (const c of cases) {
    const op = c.setup(n);
    op.run();
    triad(); // warm: pages touched, threads awake
    const tOp: number[] = [],
      tTriad: number[] = [];
    for (let r = 0; r < reps; ++r) {
      tTriad.push(time(triad, calls));
      tOp.push(time(op.run, calls));
    }
    op.free();
    const sec = median(tOp),
      triadGBs = (12 * n) / median(tTriad) / 1e9,
      GBs = c.bytes(n) / sec / 1e9;
    rows.push({ kind: 'bandwidth', bytes, op: c.name, usPerCall: sec * 1e6, GBs, triadGBs, share: GBs / triadGBs });
    console.log(
      `${String(opts.sizes.split(',')[sizes.indexOf(bytes)]).padEnd(9)} ${c.name.padEnd(30)} ${(sec * 1e6).toFixed(2).padStart(9)} ${GBs.toFixed(1).padStart(8)} ${triadGBs.toFixed(1).padStart(12)} ${((100 * GBs) / triadGBs).toFixed(0).padStart(6)}%`,
    );
  }
  [ta, tb, ty].forEach(t => t.dispose());
}

// Calls per second at small sizes: the public functions, kernelnet/tfjs against tfjs-backend-cpu.
await tfc.setBackend('cpu');
console.log('\ncalls per second through the public functions (kernelnet/tfjs against tfjs-backend-cpu, interleaved)');
console.log('size      op          kernelnet/s     tfjs/s    ratio');
type Lib = { tensor1d: (v: Float32Array) => { dispose(): void }; [k: string]: unknown };
const small: Array<[string, (lib: Lib, a: unknown, b: unknown) => { dispose(): void }]> = [
  ['add', (lib, a, b) => (lib.add as (x: unknown, y: unknown) => { dispose(): void })(a, b)],
  ['exp', (lib, a) => (lib.exp as (x: unknown) => { dispose(): void })(a)],
  ['sum', (lib, a) => (lib.sum as (x: unknown) => { dispose(): void })(a)],
  ['greater', (lib, a, b) => (lib.greater as (x: unknown, y: unknown) => { dispose(): void })(a, b)],
];
for (const bytes of [1 << 10, 1 << 16]) {
  const values = new Float32Array(bytes / 4).map((_, i) => (i % 17) - 8);
  const libs = { kernelnet: kn as unknown as Lib, tfjs: tfc as unknown as Lib };
  const inputs = Object.fromEntries(Object.entries(libs).map(([k, lib]) => [k, [lib.tensor1d(values), lib.tensor1d(values)]])) as Record<
    string,
    Array<{ dispose(): void }>
  >;
  for (const [name, call] of small) {
    const per: Record<string, number[]> = { kernelnet: [], tfjs: [] };
    const calls = bytes > 4096 ? 300 : 3000;
    for (let r = 0; r < reps; ++r)
      for (const lib of ['kernelnet', 'tfjs'] as const) {
        const [a, b] = inputs[lib];
        per[lib].push(1 / time(() => call(libs[lib], a, b).dispose(), calls));
      }
    const k = median(per.kernelnet),
      t = median(per.tfjs);
    rows.push({ kind: 'calls', bytes, op: name, kernelnetPerSec: k, tfjsPerSec: t, ratio: k / t });
    console.log(
      `${(bytes >> 10) + 'k'}`.padEnd(9) +
        ` ${name.padEnd(10)} ${k.toFixed(0).padStart(12)} ${t.toFixed(0).padStart(10)} ${(k / t).toFixed(2).padStart(8)}x`,
    );
  }
  for (const ts of Object.values(inputs)) ts.forEach(t => t.dispose());
}

if (opts.json) {
  writeFileSync(opts.json, JSON.stringify({ date: new Date().toISOString(), threads: native.numThreads(), reps, rows }, null, 2) + '\n');
  console.log(`\nwrote ${opts.json}`);
}
