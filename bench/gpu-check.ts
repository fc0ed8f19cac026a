// The GPU check (`npm run test:gpu`), in two modes sized to fit 15 minutes of a rented GPU machine (its start,
// copying the files over and a rerun included), each part in its own process group under its own limit and all
// under one budget. The record, bench/results/gpu-<mode>-<date>-<commit>.json, is rewritten after every part, so a
// part that fails or hangs, or the whole run being cut short, still leaves what ran recorded, with each part's
// status (ok, failed, timeout, skipped, not run), limit, seconds, summary and last lines of output.
//
//   npm run test:gpu                      quick mode (the default)
//   npm run test:gpu -- --mode full       sanitizers and the 12-epoch accuracy runs, as a second session
//   options: --budget S (default 450), --results DIR (default bench/results); $OUT, when set, also gets the
//   record and a tarball of every part's log; COMMIT names the commit where git cannot.
//
// Quick mode, on paper for an H100/H200 (expected from bench/NOTES.md's predictions, caps are hard limits):
//   part         what                                                            expected   cap
//   load         which binary, which backend and why                                   2 s   30 s
//   build        only if the carried binary does not load: cmake-js for sm_90         90 s  240 s
//   cuda-suite   the cuda, program, ops, gradcheck, limits, cuda-faults, math-cuda    35 s   90 s
//                suites, the shape sweep's GPU half, and tfjs's ops against tfjs (GPU set) on the CUDA backend
//   mnist-fp32   2 whole 60,000-image epochs of the seed example + test, FP32         10 s   75 s
//   mnist-tf32   the same with KERNELNET_TF32=1                                        8 s   60 s
//   bench        kernel table, 3 whole epochs after a warm-up, PyTorch on the card    45 s  120 s
//                with the data on the GPU
//   lab          the kernel lab: each GEMM variant at the step's shapes, checked      15 s   45 s
//                against variant 1 and timed side by side, kernel 1 at both micro-tiles;
//                conv2's three implicit-GEMM ops at both (bench/lab.ts)
//   ncu          Nsight Compute over one training step, FP32 and TF32 (about 23      40 s   90 s
//                kernels each, replayed)
//   cpu-bench    the CPU backend on all cores: kernel table, fit, 1..N-thread scaling 45 s   90 s
//   total                                                                            ~180 s  450 s (budget)
// With about 2 minutes to start the machine and 1 to carry and unpack the files, a quick run costs about 6
// minutes of machine time and at most 11 (budget spent), leaving room to rerun a part.
//
// Full mode: load (and build) as above, then
//   mnist12-fp32 the seed example's 12 epochs (Keras's accuracy), FP32                20 s  120 s
//   mnist12-tf32 the same with TF32 (decides whether TF32 can become the default)      15 s  120 s
//   memcheck     compute-sanitizer memcheck over the CUDA suite                        90 s  150 s
//   racecheck    compute-sanitizer racecheck over the CUDA suite                      120 s  150 s
//   total                                                                            ~250 s  450 s (budget)
//
// Without a usable CUDA device every GPU part is skipped with the reason ("no CUDA device: ..."), the record
// is still written, and the exit status is 3; a failed or timed-out part makes it 1.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runParts, type Part } from './check-runner.js';
import { summariseNcu } from './ncu-summary.js';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const { values: opts } = parseArgs({
  options: {
    mode: { type: 'string', default: 'quick' },
    budget: { type: 'string', default: '450' },
    results: { type: 'string', default: join(root, 'bench', 'results') },
  },
});
if (opts.mode !== 'quick' && opts.mode !== 'full') throw new Error(`--mode expects quick or full, received '${opts.mode}'`);
const budgetS = Number(opts.budget);
if (!(budgetS > 0)) throw new Error(`--budget expects a positive number of seconds, received '${opts.budget}'`);

process.chdir(root);
const out = process.env.OUT; // gets the record and one tarball of the logs: few files, whatever the parts
const logs = mkdtempSync(join(tmpdir(), 'kernelnet-gpu-check-'));
const sh = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 15_000, cwd: root });
  return r.status === 0 ? r.stdout.trim() : null;
};
const commit = process.env.COMMIT ?? sh('git', ['rev-parse', '--short', 'HEAD']) ?? 'unknown';
const dirty = sh('git', ['status', '--porcelain', '--untracked-files=no']);
const gpu = sh('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader']) ?? 'no nvidia-smi';
const date = new Date().toISOString();
const record = join(opts.results, `gpu-${opts.mode}-${date.slice(0, 10).replace(/-/g, '')}-${commit}.json`);

const node = process.execPath,
  js = (f: string) => join(root, 'dist', f);
const readJson = (f: string) => JSON.parse(readFileSync(join(logs, f), 'utf8'));
const lastJsonLine = (log: string) =>
  JSON.parse(
    log
      .trim()
      .split('\n')
      .filter(l => l.startsWith('{'))
      .at(-1)!,
  );
const uvuCounts = (log: string) => {
  const clean = log.replace(/\x1b\[[0-9;]*m/g, '');
  const n = (k: string) => Number(clean.match(new RegExp(`^\\s*${k}:\\s*(\\d+)`, 'm'))?.[1] ?? 0);
  return { total: n('Total'), passed: n('Passed'), skipped: n('Skipped') };
};

// What the load part found; the GPU parts are skipped without a usable CUDA device.
let loaded: { error?: { code: string | null; message: string }; backends?: { cuda: { available: boolean; reason: string } } } | null = null;
const noGpu = () => {
  if (!loaded) return 'no CUDA device: the addon did not report (see the load part)';
  if (loaded.error) return `no CUDA device: the addon did not load (${loaded.error.code}: ${loaded.error.message.split('\n')[0]})`;
  return loaded.backends!.cuda.available ? undefined : `no CUDA device: ${loaded.backends!.cuda.reason}`;
};
const onCuda = { KERNELNET_BACKEND: 'cuda' };

const load: Part = {
  name: 'load',
  what: 'which binary loads, which backend it chose and why',
  capS: 30,
  command: () => ({ argv: [node, js('bench/load-check.js')] }),
  summarize: log => (loaded = lastJsonLine(log)),
};
const build: Part = {
  name: 'build',
  what: 'rebuild for sm_90 (only when the carried binary does not load here)',
  capS: 240,
  skip: () => (loaded?.error?.code === 'ERR_KERNELNET_LOAD' ? undefined : 'the carried binary loads'),
  command: () => ({ argv: [join(root, 'node_modules', '.bin', 'cmake-js'), 'rebuild'], env: { KERNELNET_CUDA_ARCHS: '90-real' } }),
  summarize: () => {
    const r = spawnSync(node, [js('bench/load-check.js')], { encoding: 'utf8', timeout: 30_000 });
    return (loaded = lastJsonLine(r.stdout));
  },
};
const mnist = (name: string, epochs: number, tf32: boolean, capS: number): Part => ({
  name,
  capS,
  skip: noGpu,
  what: `${epochs} whole epochs of the seed example on CUDA (${tf32 ? 'TF32 tensor cores' : 'FP32'}), then the test set`,
  command: () => ({
    argv: [node, js('examples/mnist_cnn.js'), '--backend', 'cuda', '--epochs', String(epochs), '--seed', '1', '--json', join(logs, `${name}.json`)],
    env: { KERNELNET_TF32: tf32 ? '1' : '0' },
  }),
  summarize: () => {
    const m = readJson(`${name}.json`);
    return {
      epochs: m.epochs,
      secondsPerEpoch: m.secondsPerEpoch,
      testAccuracy: m.testAccuracy,
      testLoss: m.testLoss,
      valAccuracy: m.history.val_accuracy,
      loss: m.history.loss,
      memory: m.memory,
    };
  },
});
const sanitizer = (tool: string): Part => ({
  name: tool,
  what: `compute-sanitizer ${tool} over the CUDA suite`,
  capS: 150,
  skip: noGpu,
  command: () => ({ argv: ['compute-sanitizer', '--tool', tool, '--error-exitcode', '9', node, js('test/cuda.test.js')], env: onCuda }),
  summarize: log => ({
    errors: log
      .split('\n')
      .filter(l => /^========= (Invalid|Race|Error|Program hit)/.test(l))
      .slice(0, 5),
    ...uvuCounts(log),
  }),
});

const quick: Part[] = [
  load,
  build,
  {
    name: 'cuda-suite',
    what: "the cuda, program, ops, gradcheck, limits, cuda-faults and math-cuda suites, the shape sweep's GPU half and tfjs's ops against tfjs on the CUDA backend",
    capS: 90,
    skip: noGpu,
    command: () => ({
      argv: [
        node,
        join(root, 'node_modules', 'uvu', 'bin.js'),
        join(root, 'dist', 'test'),
        '^(cuda|program|ops|gradcheck|limits|cuda-faults|sweep|math-cuda|tfjs-ops)\\.test\\.js$',
      ],
      env: { ...onCuda, KERNELNET_SWEEP_PART: 'gpu', KERNELNET_TFJS_OPS_DEVICE: 'cuda' },
    }),
    summarize: uvuCounts,
  },
  mnist('mnist-fp32', 2, false, 75),
  mnist('mnist-tf32', 2, true, 60),
  {
    name: 'bench',
    what: "kernel table against the card's peaks, whole epochs, PyTorch on the same card (data on the GPU)",
    capS: 120,
    skip: noGpu,
    command: () => ({ argv: [node, js('bench/bench.js'), '--torch-loaders', 'tensor', '--json', join(logs, 'bench.json')], env: onCuda }),
    summarize: () => {
      const b = readJson('bench.json');
      return {
        ...b,
        kernelnetOverTorch: Object.fromEntries(
          Object.entries(b.torch ?? {}).map(([k, t]) => [k, b.imagesPerSecond / (t as { imagesPerSecond: number }).imagesPerSecond]),
        ),
      };
    },
  },
  {
    name: 'lab',
    what: "the kernel lab: each GEMM variant (kernel 1 at both micro-tiles) at the training step's shapes, checked against variant 1, timed side by side; conv2's implicit-GEMM ops at both micro-tiles",
    capS: 45,
    skip: noGpu,
    command: () => ({ argv: [node, js('bench/lab.js'), '--json', join(logs, 'lab.json')], env: onCuda }),
    summarize: () => readJson('lab.json'),
  },
  {
    name: 'ncu',
    what: 'Nsight Compute over one training step (after a warm-up step), kernel by kernel, FP32 then TF32',
    capS: 90,
    skip: noGpu,
    command: () => {
      const ncu = (csv: string) =>
        `ncu --profile-from-start off --clock-control none --csv --page details --section SpeedOfLight \
--section Occupancy --section LaunchStats "${node}" "${js('bench/profile-step.js')}" --one-step > "${join(logs, csv)}"`;
      // The step's kernels in each math mode (TF32 runs kernel 3's instances: the narrow input-gradient tile, the
      // L1 gathers), about 23 each.
      return { argv: ['bash', '-c', `${ncu('ncu.csv')} && KERNELNET_TF32=1 ${ncu('ncu-tf32.csv')}`], env: { ...onCuda, KERNELNET_GRAPHS: '0' } };
    },
    summarize: () => {
      const step = (csv: string) => {
        const kernels = summariseNcu(readFileSync(join(logs, csv), 'utf8'));
        return { stepUs: kernels.reduce((a, k) => a + k.totalUs, 0), launches: kernels.reduce((a, k) => a + k.launches, 0), kernels };
      };
      return { ...step('ncu.csv'), tf32: step('ncu-tf32.csv') };
    },
  },
  {
    name: 'cpu-bench',
    what: `the CPU backend on all ${cpus().length} cores: kernel table, fit, and scaling from 1 thread`,
    capS: 90,
    skip: noGpu,
    command: () => {
      const n = cpus().length,
        threads = [1, 2, 4, 8, 16, 32, 64].filter(t => t < n).concat(n);
      return {
        argv: [node, js('bench/bench.js'), '--no-torch', '--scaling', threads.join(','), '--json', join(logs, 'cpu-bench.json')],
        env: { KERNELNET_BACKEND: 'cpu' },
      };
    },
    summarize: () => readJson('cpu-bench.json'),
  },
];
const full: Part[] = [
  load,
  build,
  mnist('mnist12-fp32', 12, false, 120),
  mnist('mnist12-tf32', 12, true, 120),
  sanitizer('memcheck'),
  sanitizer('racecheck'),
];

console.log(`== GPU check, ${opts.mode} mode, budget ${budgetS} s: ${gpu}`);
const results = await runParts(opts.mode === 'quick' ? quick : full, {
  budgetS,
  logDir: logs,
  recordPath: record,
  header: () => ({
    mode: opts.mode,
    commit,
    dirty: dirty === null ? null : dirty !== '',
    date,
    gpu,
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? '?'}`,
    load: loaded,
  }),
  onPart: r => {
    console.log(
      `${r.name.padEnd(13)}${r.status.padEnd(9)}${r.seconds !== undefined ? `${r.seconds} s`.padStart(8) : ''.padStart(8)}  ${r.reason ?? ''}`,
    );
    if (r.status === 'failed' || r.status === 'timeout') for (const l of r.tail?.slice(-8) ?? []) console.log(`    ${l}`);
    if (out) copyFileSync(record, join(out, record.split('/').at(-1)!));
  },
});
if (out) spawnSync('tar', ['-czf', join(out, 'gpu-check-logs.tar.gz'), '-C', logs, '.']);
console.log(`wrote ${record}${out ? ' (and to $OUT with the logs)' : `; logs in ${logs}`}`);
if (results.some(r => r.status === 'failed' || r.status === 'timeout' || r.status === 'not run')) process.exitCode = 1;
else if (noGpu()) {
  console.log(`nothing checked on a GPU: ${noGpu()}`);
  process.exitCode = 3;
}
