// npm run bench -- --predict: inference of kernelnet against onnxruntime-node on the same model, exported by
// kernelnet (model.export(path, { format: 'onnx' })), on the same thread count and the same inputs. For each model
// (examples/zoo.ts, seed 1, random-initialised weights) it checks first that the two give the same outputs, then
// times calls of the two interleaved (kernelnet, onnxruntime, kernelnet, ...) so that a shared machine's drift falls
// on both: latency p50 and p99 at batch 1, 8 and 64, and throughput (images/s, from the median call) at batch 256.
//
// Each call is timed as a user makes it, from a Float32Array already in memory:
//   kernelnet:    tensor(data, shape) -> model.predict(x, { batchSize: batch }) -> dataSync() -> dispose
//                 (the predict call alone is timed too: the 'predict' column);
//   onnxruntime:  new ort.Tensor('float32', data, dims) -> await session.run(feeds) -> read .data
//                 (session.run resolves after a setImmediate turn of the event loop: that turn is in its time).
// The ratio is onnxruntime's time over kernelnet's: above 1, kernelnet is faster.
//
// Threads: --threads N (default: KERNELNET_NUM_THREADS if set, else the CPUs this process may use) sets
// KERNELNET_NUM_THREADS before the addon loads and onnxruntime's intraOpNumThreads (interOpNumThreads 1, sequential
// execution, all graph optimizations). onnxruntime's pool threads do not spin-wait between calls here
// (session.intra_op.allow_spinning 0; kernelnet's pool threads sleep between calls too): spinning, onnxruntime's
// default (--ort-spinning 1), keeps its threads on the cores after each call, where they slow the kernelnet call that
// follows (on 2 cores, seed model at batch 64: 12.5 ms alone, ~13 interleaved without spinning, ~20 with it), while
// onnxruntime's own batch-1 call gains 0.1-0.25 ms from it.
//
//   npm run bench -- --predict [--models mnist_cnn,resnet] [--threads N] [--reps N] [--batches 1,8,64]
//                    [--throughput-batch 256] [--throughput-calls N] [--ort-spinning 0|1] [--json FILE]
// --reps N: timed calls at batch 1 (default 2000); a batch of b gets max(100, N / sqrt(b)) calls.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import type { LayersModel, Tensor } from '../lib/index.js';

const { values: opts } = parseArgs({
  options: {
    predict: { type: 'boolean', default: false }, // passed on by bench/bench.ts's dispatch: accepted, not needed
    models: { type: 'string', default: 'mnist_cnn,resnet' },
    threads: { type: 'string' },
    reps: { type: 'string', default: '2000' },
    batches: { type: 'string', default: '1,8,64' },
    'throughput-batch': { type: 'string', default: '256' },
    'throughput-calls': { type: 'string', default: '40' },
    'ort-spinning': { type: 'string', default: '0' },
    'max-diff': { type: 'string', default: '1e-4' },
    json: { type: 'string' },
  },
});

const positive = (name: string, v: string) => {
  if (!/^[1-9]\d*$/.test(v)) throw new Error(`--${name} expects a positive integer, received '${v}'`);
  return Number(v);
};
const list = (name: string, v: string) => {
  const xs = v.split(',').filter(Boolean);
  if (!xs.length) throw new Error(`--${name} expects a comma-separated list, received '${v}'`);
  return xs;
};
const threads = positive('threads', opts.threads ?? process.env.KERNELNET_NUM_THREADS ?? String(availableParallelism()));
const reps = positive('reps', opts.reps);
const batches = list('batches', opts.batches).map(b => positive('batches', b));
const throughputBatch = positive('throughput-batch', opts['throughput-batch']);
const throughputCalls = positive('throughput-calls', opts['throughput-calls']);
if (opts['ort-spinning'] !== '0' && opts['ort-spinning'] !== '1')
  throw new Error(`--ort-spinning expects 0 or 1, received '${opts['ort-spinning']}'`);
const ortSpinning = opts['ort-spinning'] === '1';
const maxDiff = Number(opts['max-diff']);

// The CPU backend reads its thread count once, when the addon loads: set it first, then load kernelnet.
process.env.KERNELNET_NUM_THREADS = String(threads);
const { tensor, backend } = await import('../lib/index.js');
const { native } = await import('../lib/core/native.js');
const { buildModel, ZOO } = await import('../examples/zoo.js');
type ZooName = (typeof ZOO)[number];
const models = list('models', opts.models).map(m => {
  if (!(ZOO as readonly string[]).includes(m)) throw new Error(`--models expects names among ${ZOO.join(', ')}, received '${m}'`);
  return m as ZooName;
});
const info = backend();
if (info.name === 'cpu' && native.numThreads() !== threads)
  throw new Error(`kernelnet runs ${native.numThreads()} threads, not the ${threads} asked for (KERNELNET_NUM_THREADS is read when the addon loads)`);

const callsAt = (batch: number) => Math.max(100, Math.round(reps / Math.sqrt(batch)));
const warmupsAt = (batch: number) => Math.max(3, Math.round(20 / Math.sqrt(batch)));
/** Nearest-rank quantile. */
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const summary = (ms: number[]) => ({ p50: quantile(ms, 0.5), p90: quantile(ms, 0.9), p99: quantile(ms, 0.99), min: Math.min(...ms), mean: mean(ms) });

/** Deterministic inputs in [0, 1) (pixels), the same for both runtimes. */
function inputData(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; ++i) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) / 4294967296;
  }
  return out;
}

/** One model's two runners: each takes the batch's inputs (one Float32Array per model input) and returns its outputs. */
interface Runners {
  model: LayersModel;
  session: ort.InferenceSession;
  /** kernelnet: tensor -> predict -> dataSync -> dispose; also the milliseconds of the predict call alone. */
  kernelnet(xs: Float32Array[], batch: number): { outputs: Float32Array[]; predictMs: number };
  onnxruntime(xs: Float32Array[], batch: number): Promise<Float32Array[]>;
}

async function runners(name: ZooName, dir: string): Promise<Runners> {
  const model = buildModel(name, 1);
  const path = join(dir, `${name}.onnx`);
  model.export(path, { format: 'onnx' });
  const session = await ort.InferenceSession.create(path, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: ortSpinning ? '1' : '0' } } },
  });
  const inputNames = model.inputNames,
    inputShapes = model.inputShapes,
    outputNames = model.outputNames;
  for (const [what, ours, theirs] of [
    ['inputs', inputNames, session.inputNames],
    ['outputs', outputNames, session.outputNames],
  ] as const)
    if (ours.join() !== theirs.join()) throw new Error(`${name}: the ONNX file's ${what} are ${theirs.join(', ')}, the model's ${ours.join(', ')}`);
  return {
    model,
    session,
    kernelnet(xs, batch) {
      const ts = xs.map((data, k) => tensor(data, [batch, ...inputShapes[k]]));
      const t0 = performance.now();
      const y = model.predict(ts.length === 1 ? ts[0] : ts, { batchSize: batch });
      const predictMs = performance.now() - t0;
      const ys: Tensor[] = Array.isArray(y) ? y : [y];
      const outputs = ys.map(t => t.dataSync() as Float32Array);
      for (const t of [...ts, ...ys]) t.dispose();
      return { outputs, predictMs };
    },
    async onnxruntime(xs, batch) {
      const feeds: Record<string, ort.Tensor> = {};
      xs.forEach((data, k) => (feeds[inputNames[k]] = new ort.Tensor('float32', data, [batch, ...inputShapes[k]])));
      const results = await session.run(feeds);
      return outputNames.map(n => results[n].data as Float32Array);
    },
  };
}

/** The largest |kernelnet - onnxruntime| over every output of a batch; fails loudly beyond --max-diff. */
async function checkAgreement(name: string, r: Runners): Promise<number> {
  const batch = 8,
    xs = r.model.inputShapes.map((s, k) => inputData(batch * s.reduce((a, b) => a * b, 1), 100 + k));
  const ours = r.kernelnet(xs, batch).outputs,
    theirs = await r.onnxruntime(xs, batch);
  let worst = 0;
  ours.forEach((o, k) => {
    if (o.length !== theirs[k].length)
      throw new Error(`${name}: output ${k} has ${o.length} values in kernelnet, ${theirs[k].length} in onnxruntime`);
    for (let i = 0; i < o.length; ++i) {
      const d = Math.abs(o[i] - theirs[k][i]);
      if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
    }
  });
  if (!(worst <= maxDiff))
    throw new Error(
      `${name}: kernelnet's and onnxruntime's outputs differ by up to ${worst} (more than --max-diff ${maxDiff}): the timings would compare different work`,
    );
  return worst;
}

interface Timed {
  kernelnet: number[];
  kernelnetPredict: number[];
  onnxruntime: number[];
}

/** `calls` interleaved calls of each at `batch`, after `warmups` of each. */
async function timeInterleaved(r: Runners, batch: number, calls: number, warmups: number): Promise<Timed> {
  const xs = r.model.inputShapes.map((s, k) => inputData(batch * s.reduce((a, b) => a * b, 1), batch * 10 + k));
  const out: Timed = { kernelnet: [], kernelnetPredict: [], onnxruntime: [] };
  let sink = 0; // read a value of every output, as a caller would
  for (let i = 0; i < warmups + calls; ++i) {
    let t0 = performance.now();
    const { outputs, predictMs } = r.kernelnet(xs, batch);
    const kn = performance.now() - t0;
    sink += outputs[0][0];
    t0 = performance.now();
    const theirs = await r.onnxruntime(xs, batch);
    const ortMs = performance.now() - t0;
    sink += theirs[0][0];
    if (i >= warmups) {
      out.kernelnet.push(kn);
      out.kernelnetPredict.push(predictMs);
      out.onnxruntime.push(ortMs);
    }
  }
  if (Number.isNaN(sink)) throw new Error('NaN in the outputs');
  return out;
}

const cpuModel = cpus()[0]?.model ?? 'unknown CPU';
console.log(`kernelnet predict vs onnxruntime-node ${ort.env.versions.node ?? ort.env.versions.common}: backend ${info.name} (${info.device})`);
if (info.name !== 'cpu') console.log(`  note: onnxruntime runs on the CPU here; kernelnet on ${info.name}`);
console.log(
  `  ${threads} thread${threads > 1 ? 's' : ''} each (KERNELNET_NUM_THREADS, intraOpNumThreads); onnxruntime spinning ${ortSpinning ? 'on' : 'off'}; ` +
    `${cpuModel}, ${availableParallelism()} CPUs available`,
);
console.log(
  `  calls per batch size: ${batches.map(b => `${b}: ${callsAt(b)}`).join(', ')}; throughput at batch ${throughputBatch}: ${throughputCalls} calls each; ` +
    `interleaved, after warm-up calls\n`,
);

const dir = mkdtempSync(join(tmpdir(), 'kernelnet-bench-predict-'));
const results: Record<string, unknown>[] = [];
const f = (ms: number) => (ms < 10 ? ms.toFixed(3) : ms < 100 ? ms.toFixed(2) : ms.toFixed(1));
const header =
  `${'model'.padEnd(10)}${'batch'.padStart(6)}${'calls'.padStart(6)}${'kernelnet p50 / p99 ms'.padStart(24)}${'(predict p50)'.padStart(14)}` +
  `${'onnxruntime p50 / p99 ms'.padStart(26)}${'ratio p50'.padStart(11)}${'ratio p99'.padStart(10)}${'kn p99/p50'.padStart(12)}${'ort p99/p50'.padStart(12)}`;
try {
  console.log(header);
  for (const name of models) {
    const r = await runners(name, dir);
    const maxAbsDiff = await checkAgreement(name, r);
    const latency: Record<string, unknown>[] = [];
    for (const batch of batches) {
      const calls = callsAt(batch);
      const t = await timeInterleaved(r, batch, calls, warmupsAt(batch));
      const kn = summary(t.kernelnet),
        knPredict = summary(t.kernelnetPredict),
        ortS = summary(t.onnxruntime);
      const row = {
        batch,
        calls,
        kernelnet: kn,
        kernelnetPredict: knPredict,
        onnxruntime: ortS,
        ratioP50: ortS.p50 / kn.p50,
        ratioP99: ortS.p99 / kn.p99,
        kernelnetTail: kn.p99 / kn.p50,
        onnxruntimeTail: ortS.p99 / ortS.p50,
      };
      latency.push(row);
      console.log(
        `${name.padEnd(10)}${String(batch).padStart(6)}${String(calls).padStart(6)}${`${f(kn.p50)} / ${f(kn.p99)}`.padStart(24)}${`(${f(knPredict.p50)})`.padStart(14)}` +
          `${`${f(ortS.p50)} / ${f(ortS.p99)}`.padStart(26)}${`${row.ratioP50.toFixed(2)}x`.padStart(11)}${`${row.ratioP99.toFixed(2)}x`.padStart(10)}` +
          `${row.kernelnetTail.toFixed(2).padStart(12)}${row.onnxruntimeTail.toFixed(2).padStart(12)}`,
      );
    }
    const tp = await timeInterleaved(r, throughputBatch, throughputCalls, 3);
    const ips = (ms: number[]) => ({ medianCallMs: quantile(ms, 0.5), imagesPerSecond: throughputBatch / (quantile(ms, 0.5) / 1e3) });
    const throughput = {
      batch: throughputBatch,
      calls: throughputCalls,
      kernelnet: ips(tp.kernelnet),
      kernelnetPredict: ips(tp.kernelnetPredict),
      onnxruntime: ips(tp.onnxruntime),
      ratio: quantile(tp.onnxruntime, 0.5) / quantile(tp.kernelnet, 0.5),
    };
    console.log(
      `${name.padEnd(10)}${String(throughputBatch).padStart(6)}${String(throughputCalls).padStart(6)}` +
        `${`${throughput.kernelnet.imagesPerSecond.toFixed(0)} img/s`.padStart(24)}${`(${throughput.kernelnetPredict.imagesPerSecond.toFixed(0)})`.padStart(14)}` +
        `${`${throughput.onnxruntime.imagesPerSecond.toFixed(0)} img/s`.padStart(26)}${`${throughput.ratio.toFixed(2)}x`.padStart(11)}`,
    );
    results.push({ model: name, outputsMaxAbsDiff: maxAbsDiff, latency, throughput });
    await r.session.release();
    r.model.dispose();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(
  '\nms per call, from a Float32Array in memory to the outputs read back (predict: the predict call alone); ratio: onnxruntime / kernelnet ' +
    '(>1: kernelnet faster); p99/p50: the tail of each. The batch-' +
    `${throughputBatch} rows: images/s from the median call.`,
);

if (opts.json) {
  mkdirSync(dirname(opts.json), { recursive: true });
  writeFileSync(
    opts.json,
    JSON.stringify(
      {
        backend: info,
        threads: { kernelnet: info.name === 'cpu' ? native.numThreads() : null, onnxruntimeIntraOp: threads, onnxruntimeInterOp: 1 },
        onnxruntime: { version: ort.env.versions, spinning: ortSpinning, executionMode: 'sequential', graphOptimizationLevel: 'all' },
        cpu: cpuModel,
        cpusAvailable: availableParallelism(),
        node: process.version,
        seed: 1,
        quantiles: 'nearest rank; ms per call',
        kernelnetCall: 'tensor(data, shape) -> predict(x, { batchSize: batch }) -> dataSync() -> dispose',
        onnxruntimeCall: "new ort.Tensor('float32', data, dims) -> await session.run(feeds) -> .data",
        models: results,
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`wrote ${opts.json}`);
}
