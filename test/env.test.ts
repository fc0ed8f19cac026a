// The environment variables kernelnet reads (cpp/env.cc, docs/install.md "Environment variables"), each with a value it does
// not accept, in a child process: importing kernelnet throws a ValidationError (ERR_KERNELNET_ARG) that names the
// variable, the value and what it accepts, and the child ends as any uncaught exception does (exit code 1, no
// signal: nothing aborts). Valid values and empty ones (no setting) still work. The variables read at each use are
// also refused when set to a bad value after the import, by the next call, and not afterwards once restored.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Dense, Flatten, Sequential, ValidationError, tensor } from '../lib/index.js';
import { native } from '../lib/core/native.js';
import { syntheticData, withEnv } from './helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const VARS = [
  'KERNELNET_BACKEND',
  'KERNELNET_NUM_THREADS',
  'KERNELNET_CPU',
  'KERNELNET_WINOGRAD',
  'KERNELNET_TF32',
  'KERNELNET_CUDA_SYNC',
  'KERNELNET_GRAPHS',
  'KERNELNET_GRAPH_BRANCHES',
  'KERNELNET_POISON_SCRATCH',
  'KERNELNET_SIMT_TILE',
];

/** Runs `code` after importing kernelnet as `k`, in a child whose KERNELNET_* variables are only `env`'s. */
function child(env: Record<string, string>, code: string) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !VARS.includes(k)));
  // The error is printed as JSON on stdout, then thrown again: uncaught, as a user's script would leave it.
  const script = `let k; try { k = await import('./dist/lib/index.js'); } catch (e) {
    console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); throw e; }
  ${code}`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    env: { ...clean, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

const E = suite('environment variables');

const COUNT = 'a positive integer \\(at most 1024\\)',
  FLAG = "'0' or '1'";
const BAD: [string, string, string][] = [
  ['KERNELNET_NUM_THREADS', 'abc', COUNT],
  ['KERNELNET_NUM_THREADS', '0', COUNT],
  ['KERNELNET_NUM_THREADS', '-1', COUNT],
  ['KERNELNET_NUM_THREADS', '1.5', COUNT], // was read as 1
  ['KERNELNET_NUM_THREADS', '4x', COUNT], // was read as 4
  ['KERNELNET_NUM_THREADS', '2000', COUNT], // was ignored: the default instead
  ['KERNELNET_NUM_THREADS', ' 4', COUNT],
  ['KERNELNET_BACKEND', 'tpu', "'cpu' or 'cuda'"],
  ['KERNELNET_BACKEND', 'CPU', "'cpu' or 'cuda'"],
  ['KERNELNET_CPU', 'avx2', "'generic'"],
  ['KERNELNET_WINOGRAD', 'off', FLAG],
  ['KERNELNET_TF32', 'true', FLAG],
  ['KERNELNET_CUDA_SYNC', 'yes', FLAG],
  ['KERNELNET_GRAPHS', 'no', FLAG],
  ['KERNELNET_GRAPH_BRANCHES', '2', FLAG],
  ['KERNELNET_POISON_SCRATCH', 'on', FLAG],
  ['KERNELNET_SIMT_TILE', '8x8', "'4x4' or '8x4'"],
];

E('a variable set to a value it does not accept: a ValidationError at import, an ordinary uncaught exception', () => {
  for (const [name, value, accepts] of BAD) {
    const r = child({ [name]: value }, "k.tensor([1, 2]).dataSync(); console.log('ran');");
    const what = `${name}=${JSON.stringify(value)}`;
    assert.is(r.signal, null, `${what}: ended by ${r.signal}\n${r.stderr}`);
    assert.is(r.status, 1, `${what}: exit ${r.status}\n${r.stdout}${r.stderr}`);
    assert.not.match(r.stdout, /ran/, what);
    const e = JSON.parse(r.stdout.trim().split('\n')[0]) as { name: string; code: string; message: string };
    assert.is(e.name, 'ValidationError', what);
    assert.is(e.code, 'ERR_KERNELNET_ARG', what);
    const message = `Expected ${accepts} for ${name} but received '${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'`;
    assert.match(e.message, new RegExp(`^${message}$`), `${what}: ${e.message}`);
    assert.match(r.stderr, /ValidationError/, what);
  }
});

E('valid values, and empty ones (the default), work', () => {
  const run =
    'const m = new k.Sequential({ layers: [new k.Dense({ units: 2, inputShape: [3] })] });' +
    "const y = m.predict(k.tensor([[1, 2, 3]])); console.log(JSON.stringify({ n: y.shape, threads: (await import('./dist/lib/core/native.js')).native.numThreads(), " +
    "backend: k.backend().name, kernel: (await import('./dist/lib/core/native.js')).native.cpuKernel() }));";
  const set = child(
    {
      KERNELNET_BACKEND: 'cpu',
      KERNELNET_NUM_THREADS: '3',
      KERNELNET_CPU: 'generic',
      KERNELNET_WINOGRAD: '0',
      KERNELNET_TF32: '1',
      KERNELNET_CUDA_SYNC: '1',
      KERNELNET_GRAPHS: '0',
      KERNELNET_GRAPH_BRANCHES: '0',
      KERNELNET_POISON_SCRATCH: '1',
      KERNELNET_SIMT_TILE: '8x4',
    },
    run,
  );
  assert.is(set.status, 0, set.stdout + set.stderr);
  const got = JSON.parse(set.stdout.trim()) as { n: number[]; threads: number; backend: string; kernel: string };
  assert.equal(got.n, [1, 2]);
  assert.is(got.threads, 3);
  assert.is(got.backend, 'cpu');
  assert.match(got.kernel, /generic|neon/);
  const leading = child({ KERNELNET_NUM_THREADS: '0012', KERNELNET_WINOGRAD: '1', KERNELNET_POISON_SCRATCH: '0' }, run);
  assert.is(leading.status, 0, leading.stdout + leading.stderr);
  assert.is((JSON.parse(leading.stdout.trim()) as { threads: number }).threads, 12, 'a decimal integer with leading zeros');
  const empty = child(Object.fromEntries(VARS.map(v => [v, ''])), run);
  assert.is(empty.status, 0, empty.stdout + empty.stderr);
});

E('`kernelnet doctor` names the variable rather than advising a reinstall', () => {
  const r = spawnSync(process.execPath, [join(root, 'dist', 'lib', 'cli.js'), 'doctor'], {
    env: { ...process.env, KERNELNET_NUM_THREADS: 'abc' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.is(r.status, 1, r.stdout + r.stderr);
  assert.match(
    r.stdout,
    /native binary: loaded, but refuses the environment: Expected a positive integer \(at most 1024\) for KERNELNET_NUM_THREADS but received 'abc'/,
  );
  assert.match(r.stdout, /- an environment variable has a value kernelnet does not accept: .*; change it or unset it/);
  assert.not.match(r.stdout, /reinstall/);
});

const refused = (name: string, value: string) => (e: unknown) =>
  e instanceof ValidationError && e.code === 'ERR_KERNELNET_ARG' && e.message.endsWith(`Expected '0' or '1' for ${name} but received '${value}'`);

E('a variable read at each use, set to a bad value after the import: refused by the next call, fine once restored', async () => {
  for (const name of ['KERNELNET_POISON_SCRATCH', 'KERNELNET_GRAPH_BRANCHES']) {
    await withEnv(name, 'yes', () => {
      assert.throws(() => tensor([1, 2, 3]).dispose(), refused(name, 'yes'), name);
      assert.throws(() => native.backend(), refused(name, 'yes'), `${name}: every call`);
    });
    tensor([1, 2, 3]).dispose();
  }
  await withEnv('KERNELNET_SIMT_TILE', '2x2', () => {
    const tile = (e: unknown) =>
      e instanceof ValidationError && e.message.endsWith("Expected '4x4' or '8x4' for KERNELNET_SIMT_TILE but received '2x2'");
    assert.throws(() => tensor([1, 2, 3]).dispose(), tile, 'KERNELNET_SIMT_TILE');
  });
  tensor([1, 2, 3]).dispose();
  const { x, y } = syntheticData(8);
  const m = new Sequential({ layers: [new Flatten({ inputShape: x.shape.slice(1) }), new Dense({ units: 3, activation: 'softmax' })] });
  m.compile({ loss: 'categoricalCrossentropy', optimizer: 'sgd' });
  await withEnv('KERNELNET_GRAPHS', 'off', async () => {
    const err = await m.fit(x, y, { batchSize: 4, epochs: 1, verbose: 0 }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(refused('KERNELNET_GRAPHS', 'off')(err), String(err));
  });
  await m.fit(x, y, { batchSize: 4, epochs: 1, verbose: 0 }); // usable again: the failed fit left nothing behind
  m.dispose();
  x.dispose();
  y.dispose();
});

E.run();
