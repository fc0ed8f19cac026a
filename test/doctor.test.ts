// `npx kernelnet doctor` (lib/cli.ts, lib/doctor.ts): on this machine's fallback path (no GPU driver) it names the
// binary, the backend and why, the CPU and the missing GPU as a note, and exits 0; with no loadable binary (a copy
// of the package without one) it says so with what to do, and exits 1; an unknown command exits 2.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { native } from '../lib/core/native.js';

const cli = fileURLToPath(new URL('../lib/cli.js', import.meta.url));
const run = (script: string, ...args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 60_000 });
const Doc = suite('kernelnet doctor');

Doc('reports the binary, the backend and why, the CPU, the GPU or why there is none', () => {
  const r = run(cli, 'doctor');
  const b = native.backend(),
    gpu = native.backends().cuda;
  assert.match(r.stdout, /^kernelnet \d+\.\d+\.\d+ on Node v\d+/);
  assert.match(r.stdout, /native binary: (local build|prebuild) \S+kernelnet\.node \(version /);
  assert.ok(r.stdout.includes(`backend: ${b.name} - ${b.device}`), r.stdout);
  assert.match(r.stdout, /CPU: .*GEMM kernel \S+; \d+ threads \(CPUs this process may use: /);
  if (gpu.available) {
    assert.ok(r.stdout.includes(`GPU: ${gpu.device}`), r.stdout);
  } else {
    assert.ok(r.stdout.includes(`GPU: none usable: ${gpu.reason}`), r.stdout);
    assert.match(r.stdout, /(note: no NVIDIA GPU or driver here|the GPU is not usable)/);
  }
  assert.is(r.status, /\d+ problems?:/.test(r.stdout) ? 1 : 0, r.stdout + r.stderr);
});

Doc('with no loadable native binary it says so, with what to do, and exits 1; unknown commands exit 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kernelnet-doctor-'));
  try {
    mkdirSync(join(dir, 'dist'), { recursive: true });
    cpSync(fileURLToPath(new URL('../lib', import.meta.url)), join(dir, 'dist', 'lib'), { recursive: true });
    cpSync(fileURLToPath(new URL('../../package.json', import.meta.url)), join(dir, 'package.json'));
    const r = run(join(dir, 'dist', 'lib', 'cli.js'), 'doctor');
    assert.is(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /native binary: did not load: ERR_KERNELNET_LOAD: /);
    assert.match(r.stdout, /- the native addon did not load: reinstall \(npm rebuild kernelnet\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const bad = run(cli, 'frobnicate');
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /unknown command 'frobnicate'/);
});

Doc.run();
