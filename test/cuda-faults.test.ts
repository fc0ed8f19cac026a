// Asynchronous GPU faults inside a recorded program. A fault in a kernel of a CUDA graph shows at the next
// synchronising call and names nothing; with KERNELNET_CUDA_SYNC=1 a program replays its ops one by one, each
// launch synchronised, so the error names the op of the program and the kernel that faulted. Each case runs
// in a child process (KERNELNET_CUDA_SYNC is read once per process, and a fault loses the CUDA context for
// good), which prints its results as JSON and must exit cleanly. Faults are injected by the emulated GPU
// (scripts/emulate-cuda.sh; KERNELNET_EMULATE_FAULT in cuda/emulate/cuda_runtime.h); on a real GPU only the
// fault-free case runs. Without a usable CUDA device the suite is skipped and says why.
import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { native } from '../lib/core/native.js';

const cuda = native.backends().cuda;
const emulated = cuda.available && /emulated/.test(cuda.device);

interface Failure {
  at: string;
  code?: string;
  cudaError?: string;
  message: string;
}
interface Result {
  cuda: { available: boolean; reason: string };
  runs?: number;
  graph?: boolean;
  reason?: string;
  failure?: Failure;
  after?: Failure;
  matches?: { graph: boolean; reason: string; branches: number };
}

const url = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);

// The program is checkProgramMatchesCalls's step (test/helpers.ts): dense forward, dropout, dense backward,
// adadelta, advance: 5 ops. `body` runs with `program`, its tensors `t` and `fail(at, err)` in scope.
function child(env: Record<string, string>, body: string): Result {
  const script = `
    const { native } = await import(${url('../lib/core/native.js')});
    const h = await import(${url('./helpers.js')});
    const failure = (at, e) => ({ at, code: e.code, cudaError: e.cudaError, message: String(e.message) });
    const out = { cuda: native.backends().cuda };
    const step = () => {
      const r = h.rng(31), d = 'cuda';
      const t = {
        x: h.T([16, 24], h.randomArray(16 * 24, r), d), w: h.T([24, 8], h.randomArray(24 * 8, r), d),
        b: h.T([8], h.randomArray(8, r), d), y: h.T([16, 8], undefined, d), dy: h.T([16, 8], h.randomArray(16 * 8, r), d),
        d: h.T([16, 8], undefined, d), dx: h.T([16, 24], undefined, d), dw: h.T([24, 8], undefined, d), db: h.T([8], undefined, d),
        acc: [h.T([24, 8], new Float32Array(24 * 8), d), h.T([8], new Float32Array(8), d)],
        dacc: [h.T([24, 8], new Float32Array(24 * 8), d), h.T([8], new Float32Array(8), d)],
        counter: h.I([1], new Int32Array([0]), d), lr: h.T([1], new Float32Array([1]), d),
      };
      native.record('cuda');
      native.denseForward(t.x, t.w, t.b, t.y, 'relu');
      native.dropoutForward(t.y, t.d, 0.5, 3, 100, t.counter);
      native.denseBackward(t.x, t.w, t.y, t.dy, t.dx, t.dw, t.db, 'relu');
      native.adadelta([t.w, t.b], [t.dw, t.db], t.acc, t.dacc, t.lr, 0.95, 1e-7);
      native.advance(t.counter);
      return { program: native.endRecord(), t };
    };
    if (out.cuda.available) {
      ${body}
    }
    console.log(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, KERNELNET_CUDA_SYNC: '', KERNELNET_EMULATE_FAULT: '', ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.is(r.status, 0, `the child process ended with ${r.status ?? r.signal}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Result;
}

// Runs the program `runs` times, then reads a weight: where the first error came from, and a later read's.
const runThenRead = (runs: number) => `
  const { program, t } = step();
  out.runs = 0;
  try {
    for (; out.runs < ${runs}; ++out.runs) program.run();
    t.w.read();
  } catch (e) {
    out.failure = failure(out.runs < ${runs} ? 'run ' + (out.runs + 1) : 'read', e);
  }
  out.graph = program.graph;
  out.reason = program.reason;
  try {
    t.b.read();
  } catch (e) {
    out.after = failure('read', e);
  }`;

function illegalAddress(f: Failure | undefined, what: string): Failure {
  assert.ok(f, `${what}: an error`);
  assert.is(f.code, 'ERR_KERNELNET_CUDA', `${what}: code (${f.message})`);
  assert.is(f.cudaError, 'cudaErrorIllegalAddress', `${what}: cudaError (${f.message})`);
  return f;
}

const Faults = suite('cuda faults');

if (!cuda.available) {
  console.log(`  skipped: no CUDA device (${cuda.reason})`);
  Faults.skip('faults inside a recorded program are reported (skipped: no CUDA device)', () => {});
} else {
  Faults('KERNELNET_CUDA_SYNC=1: a program replays its ops one by one, with the results of the calls', () => {
    const r = child({ KERNELNET_CUDA_SYNC: '1' }, 'out.matches = h.checkProgramMatchesCalls("cuda");');
    assert.ok(r.matches, 'the child ran the check');
    assert.is(r.matches.graph, false);
    assert.is(r.matches.branches, 0);
    assert.match(r.matches.reason, /KERNELNET_CUDA_SYNC is set: the ops are replayed one by one/);
  });

  if (!emulated) {
    console.log('  fault injection skipped: only the emulated GPU (scripts/emulate-cuda.sh) injects faults');
    Faults.skip('injected faults (skipped: only the emulated GPU injects faults)', () => {});
  } else {
    Faults("KERNELNET_CUDA_SYNC=1: a fault in an op's kernel names the op and the kernel at run()", () => {
      const r = child({ KERNELNET_CUDA_SYNC: '1', KERNELNET_EMULATE_FAULT: 'adadelta_kernel' }, runThenRead(3));
      const f = illegalAddress(r.failure, 'the fault');
      assert.is(f.at, 'run 1');
      assert.is(f.message, 'Program.run: op 4 of 5 (adadelta): adadelta_kernel failed: cudaErrorIllegalAddress');
      assert.is(r.graph, false);
      assert.match(r.reason!, /KERNELNET_CUDA_SYNC is set/);
      illegalAddress(r.after, 'a later read (the error is sticky)');
    });

    Faults('KERNELNET_CUDA_SYNC=1: a GEMM of denseBackward, in the second run, names denseBackward', () => {
      // GEMMs per run: denseForward's, then denseBackward's two (dw, dx): the 5th is the second run's 2nd.
      const r = child({ KERNELNET_CUDA_SYNC: '1', KERNELNET_EMULATE_FAULT: '1 simt-fp32-64x64:5' }, runThenRead(3));
      const f = illegalAddress(r.failure, 'the fault');
      assert.is(f.at, 'run 2');
      assert.is(f.message, 'Program.run: op 3 of 5 (denseBackward): 1 simt-fp32-64x64 failed: cudaErrorIllegalAddress');
    });

    // Without it the fault shows wherever the next synchronisation is. The first run replays the ops (a scratch
    // buffer grows on the way: no graph yet) and the second launches the captured graph, inside which the fault
    // names nothing. [fault in run, runs made before the read]
    for (const [nth, runs] of [
      [1, 3],
      [2, 2],
      [2, 3],
    ]) {
      Faults(`without KERNELNET_CUDA_SYNC: a fault in run ${nth} of ${runs} still ends in a coded error, at run() or the read after`, () => {
        const r = child({ KERNELNET_EMULATE_FAULT: `adadelta_kernel:${nth}` }, runThenRead(runs));
        const f = illegalAddress(r.failure, 'the fault');
        assert.ok(f.at === 'read' || Number(f.at.slice(4)) >= nth, `surfaces at ${f.at}, not before the run that faulted`);
        // Reported by whatever synchronised next, which may not be the faulting op: the message says so.
        if (f.at !== 'read') assert.match(f.message, /^Program\.run: .*possibly for earlier GPU work: with KERNELNET_CUDA_SYNC=1/);
        if (nth === 2) assert.is(r.graph, true, `the second run launched the graph (${r.reason})`);
        illegalAddress(r.after, 'a later read (the error is sticky)');
      });
    }

    Faults("a fault in the device probe's test launch leaves the CUDA backend unavailable, saying why", () => {
      const r = child({ KERNELNET_EMULATE_FAULT: '1' }, '');
      assert.is(r.cuda.available, false);
      assert.match(r.cuda.reason, /cannot run kernelnet's kernels: .* failed: cudaErrorIllegalAddress/);
    });
  }
}

Faults.run();
