// Which NVIDIA drivers the CUDA probe accepts (cpp/driver_policy.h), without a GPU: test/native/driver_policy.cc
// runs each row of the table below through the decision the probe makes (driver and runtime versions as
// cudaDriverGetVersion and CUDART_VERSION give them, the device's compute capability, the CMake architectures
// the build carries) and prints the verdicts. Machine code for the device runs on any driver of the runtime's
// major; PTX needs a driver as new as the runtime; a GPU without code it can use is refused, naming the code.
// Without a C++ compiler this says skipped.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const P = suite('CUDA driver policy');
const root = fileURLToPath(new URL('../..', import.meta.url));
const cxx = process.env.CXX ?? 'c++';
const haveCxx = spawnSync(cxx, ['--version'], { encoding: 'utf8' }).status === 0;

interface Verdict {
  ok: boolean;
  jit: boolean;
  reason: string;
  known: boolean;
  sass: string[];
  ptx: string[];
}
interface Row {
  driver: number;
  runtime: number;
  cc: number;
  archs: string;
}

/** Every row through the native decision, in one run of the program. */
function decide(rows: Row[]): Verdict[] {
  const dir = mkdtempSync(join(tmpdir(), 'kernelnet-driver-policy-'));
  try {
    const exe = join(dir, 'driver_policy');
    const build = spawnSync(cxx, ['-std=c++17', '-O1', '-Wall', '-Wextra', '-Werror', '-Icpp', 'test/native/driver_policy.cc', '-o', exe], {
      cwd: root,
      encoding: 'utf8',
    });
    assert.is(build.status, 0, build.stderr);
    const input = rows.map(r => `${r.driver} ${r.runtime} ${r.cc} ${r.archs || '-'}`).join('\n') + '\n';
    const run = spawnSync(exe, { input, encoding: 'utf8' });
    assert.is(run.status, 0, run.stderr);
    const out = run.stdout
      .trim()
      .split('\n')
      .map(line => JSON.parse(line) as Verdict);
    assert.is(out.length, rows.length, 'one verdict per row');
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The default build (CMakeLists.txt): machine code for Turing to Hopper and compute_90 PTX.
const DEFAULT = '75-real;80-real;86-real;89-real;90-real;90-virtual';
const V13_0 = 13000,
  V13_2 = 13020,
  V13_4 = 13040,
  V12_8 = 12080,
  V14_0 = 14000;

type Expect = { ok: true; jit: boolean } | { ok: false; reason: RegExp };
const table: [string, Row, Expect][] = [
  // Machine code for the device: minor version compatibility, any driver of the runtime's major.
  ['sm_89 machine code, driver 13.0 under runtime 13.2', { driver: V13_0, runtime: V13_2, cc: 89, archs: DEFAULT }, { ok: true, jit: false }],
  [
    'sm_90 machine code (and compute_90 PTX), driver 13.0 under runtime 13.2',
    { driver: V13_0, runtime: V13_2, cc: 90, archs: DEFAULT },
    { ok: true, jit: false },
  ],
  ['sm_75 machine code, driver 13.0 under runtime 13.2', { driver: V13_0, runtime: V13_2, cc: 75, archs: DEFAULT }, { ok: true, jit: false }],
  ["the driver of the runtime's own version", { driver: V13_2, runtime: V13_2, cc: 86, archs: DEFAULT }, { ok: true, jit: false }],
  ['a newer driver', { driver: V13_4, runtime: V13_2, cc: 80, archs: DEFAULT }, { ok: true, jit: false }],
  ['a driver of a newer major', { driver: V14_0, runtime: V13_2, cc: 89, archs: DEFAULT }, { ok: true, jit: false }],
  // sm_86 machine code runs on 8.6 and 8.9 devices (same major, minor >=), not on 9.0.
  [
    'sm_89 device with sm_86 machine code only, older minor driver',
    { driver: V13_0, runtime: V13_2, cc: 89, archs: '86-real' },
    { ok: true, jit: false },
  ],
  [
    'sm_86 device with sm_80 machine code only, older minor driver',
    { driver: V13_0, runtime: V13_2, cc: 86, archs: '80-real' },
    { ok: true, jit: false },
  ],
  [
    'sm_90 device with sm_86 machine code only',
    { driver: V13_4, runtime: V13_2, cc: 90, archs: '86-real' },
    {
      ok: false,
      reason: /^GPU sm_90 cannot run kernelnet's kernels: the binary carries machine code for sm_86 and PTX for none, none of it for sm_90$/,
    },
  ],
  // PTX only: the driver compiles it, so it must be as new as the runtime.
  [
    'sm_120 running compute_90 PTX, driver 13.0 under runtime 13.2',
    { driver: V13_0, runtime: V13_2, cc: 120, archs: DEFAULT },
    {
      ok: false,
      reason:
        /^the NVIDIA driver supports CUDA 13\.0 but kernelnet's CUDA runtime is 13\.2, and GPU sm_120 runs its compute_90 PTX, which only a driver for CUDA 13\.2 or newer can compile; update the driver$/,
    },
  ],
  [
    'sm_100 running compute_90 PTX, driver 13.2 under runtime 13.2',
    { driver: V13_2, runtime: V13_2, cc: 100, archs: DEFAULT },
    { ok: true, jit: true },
  ],
  [
    'sm_120 running compute_90 PTX, driver 13.4 under runtime 13.2',
    { driver: V13_4, runtime: V13_2, cc: 120, archs: DEFAULT },
    { ok: true, jit: true },
  ],
  [
    'sm_90 with sm_86 machine code and compute_86 PTX, older minor driver',
    { driver: V13_0, runtime: V13_2, cc: 90, archs: '86' },
    { ok: false, reason: /^the NVIDIA driver supports CUDA 13\.0 but .* GPU sm_90 runs its compute_86 PTX, .*; update the driver$/ },
  ],
  [
    'sm_90 with sm_86 machine code and compute_86 PTX, current driver',
    { driver: V13_2, runtime: V13_2, cc: 90, archs: '86' },
    { ok: true, jit: true },
  ],
  // Machine code and newer PTX that also fits: which the driver loads is undocumented, so the PTX rule holds.
  [
    'sm_86 with sm_80 machine code and compute_86 PTX, older minor driver',
    { driver: V13_0, runtime: V13_2, cc: 86, archs: '80-real;86-virtual' },
    { ok: false, reason: /GPU sm_86 may run its compute_86 PTX, .*; update the driver$/ },
  ],
  [
    'sm_80 with sm_80 machine code and compute_86 PTX, older minor driver',
    { driver: V13_0, runtime: V13_2, cc: 80, archs: '80-real;86-virtual' },
    { ok: true, jit: false },
  ],
  // A driver of an older major: backward compatibility only, whatever the code.
  [
    'driver 12.8 under runtime 13.2, machine code present',
    { driver: V12_8, runtime: V13_2, cc: 89, archs: DEFAULT },
    { ok: false, reason: /^the NVIDIA driver supports CUDA 12\.8 but kernelnet's CUDA runtime is 13\.2; update the driver$/ },
  ],
  [
    'driver 12.8 under runtime 13.0, machine code present',
    { driver: V12_8, runtime: V13_0, cc: 90, archs: '90-real' },
    { ok: false, reason: /^the NVIDIA driver supports CUDA 12\.8 but kernelnet's CUDA runtime is 13\.0; update the driver$/ },
  ],
  [
    'no driver version (0)',
    { driver: 0, runtime: V13_0, cc: 90, archs: DEFAULT },
    { ok: false, reason: /supports CUDA 0\.0 .*; update the driver$/ },
  ],
  // No code for the device: refused naming what the binary carries, whatever the driver.
  [
    'sm_86 device, build for sm_90 only',
    { driver: V13_2, runtime: V13_2, cc: 86, archs: '90-real' },
    {
      ok: false,
      reason: /^GPU sm_86 cannot run kernelnet's kernels: the binary carries machine code for sm_90 and PTX for none, none of it for sm_86$/,
    },
  ],
  [
    'sm_80 device older than every architecture of the build',
    { driver: V13_4, runtime: V13_2, cc: 80, archs: '86;89' },
    {
      ok: false,
      reason:
        /^GPU sm_80 cannot run kernelnet's kernels: the binary carries machine code for sm_86, sm_89 and PTX for compute_86, compute_89, none of it for sm_80$/,
    },
  ],
  [
    'sm_120 device, machine code only (no PTX)',
    { driver: V13_2, runtime: V13_2, cc: 120, archs: '75-real;80-real;86-real;89-real;90-real' },
    { ok: false, reason: /cannot run kernelnet's kernels: .* and PTX for none, none of it for sm_120$/ },
  ],
  // The Turing floor, before anything else.
  [
    'sm_70 (Volta), any driver',
    { driver: V14_0, runtime: V13_2, cc: 70, archs: DEFAULT },
    { ok: false, reason: /^GPU sm_70 is older than Turing \(sm_75\), the oldest GPU kernelnet's kernels are built for$/ },
  ],
  ['sm_61 with PTX that would fit', { driver: V13_2, runtime: V13_2, cc: 61, archs: '60' }, { ok: false, reason: /older than Turing/ }],
  // Tegra: no binary compatibility to or from it, PTX still compiles for it.
  [
    'sm_87 (Orin) with sm_86 machine code only',
    { driver: V13_2, runtime: V13_2, cc: 87, archs: '86-real' },
    { ok: false, reason: /cannot run kernelnet's kernels: .*none of it for sm_87$/ },
  ],
  ['sm_87 (Orin) with sm_86 machine code and compute_86 PTX', { driver: V13_2, runtime: V13_2, cc: 87, archs: '86' }, { ok: true, jit: true }],
  [
    'sm_87 (Orin) with sm_87 machine code, older minor driver',
    { driver: V13_0, runtime: V13_2, cc: 87, archs: '86-real;87-real' },
    { ok: true, jit: false },
  ],
  [
    'sm_89 with sm_87 (Tegra) machine code only',
    { driver: V13_2, runtime: V13_2, cc: 89, archs: '87-real' },
    { ok: false, reason: /none of it for sm_89$/ },
  ],
  // Architecture-specific code runs on its own compute capability only; family-specific within its major.
  ['sm_90 with sm_90a machine code, older minor driver', { driver: V13_0, runtime: V13_2, cc: 90, archs: '90a-real' }, { ok: true, jit: false }],
  [
    'sm_100 with sm_90a machine code and compute_90a PTX',
    { driver: V13_2, runtime: V13_2, cc: 100, archs: '90a' },
    { ok: false, reason: /machine code for sm_90a and PTX for compute_90a, none of it for sm_100$/ },
  ],
  ['sm_103 with sm_100f machine code, older minor driver', { driver: V13_0, runtime: V13_2, cc: 103, archs: '100f-real' }, { ok: true, jit: false }],
  [
    'sm_120 with compute_100f PTX only',
    { driver: V13_2, runtime: V13_2, cc: 120, archs: '100f-virtual' },
    { ok: false, reason: /PTX for compute_100f, none of it for sm_120$/ },
  ],
  // A list naming no architecture: the code is unknown, so the driver must be as new as the runtime.
  [
    '"native" build, older minor driver',
    { driver: V13_0, runtime: V13_2, cc: 89, archs: 'native' },
    { ok: false, reason: /^the NVIDIA driver supports CUDA 13\.0 but kernelnet's CUDA runtime is 13\.2; update the driver$/ },
  ],
  ['"all" build, current driver', { driver: V13_2, runtime: V13_2, cc: 89, archs: 'all' }, { ok: true, jit: false }],
  ['empty list, older minor driver', { driver: V13_0, runtime: V13_2, cc: 90, archs: '' }, { ok: false, reason: /; update the driver$/ }],
];

if (!haveCxx) {
  console.log(`  skipped: no C++ compiler (${cxx}) for the driver policy`);
  P.skip('the probe accepts exactly the drivers that can run the code it carries (skipped: no C++ compiler)', () => {});
} else {
  const verdicts = decide([
    ...table.map(([, row]) => row),
    // The lists as the build passes them (',' for ';') and as KERNELNET_CUDA_ARCHS takes them.
    { driver: V13_2, runtime: V13_2, cc: 90, archs: DEFAULT.replaceAll(';', ',') },
    { driver: V13_2, runtime: V13_2, cc: 90, archs: '75;80;86;89;90-real' },
    { driver: V13_2, runtime: V13_2, cc: 90, archs: '90-real' },
    { driver: V13_2, runtime: V13_2, cc: 90, archs: 'all-major' },
  ]);

  P('the probe accepts exactly the drivers that can run the code it carries', () => {
    const wrong: string[] = [];
    table.forEach(([name, , expect], i) => {
      const v = verdicts[i];
      const got = v.ok ? `ok (jit ${v.jit})` : `refused: ${v.reason}`;
      if (expect.ok) {
        if (!v.ok || v.jit !== expect.jit || v.reason !== '') wrong.push(`${name}: expected ok (jit ${expect.jit}), got ${got}`);
      } else if (v.ok || !expect.reason.test(v.reason)) {
        wrong.push(`${name}: expected a refusal matching ${expect.reason}, got ${got}`);
      }
    });
    assert.ok(wrong.length === 0, `${wrong.length} of ${table.length} rows wrong:\n${wrong.join('\n')}`);
  });

  P('a driver older than the runtime is accepted only where the device has machine code', () => {
    // The old rule refused every driver older than the runtime: the table holds rows on both sides of it.
    const older = table
      .map(([name, row, expect], i) => ({ name, row, expect, v: verdicts[i] }))
      .filter(r => r.row.driver < r.row.runtime && r.row.cc >= 75);
    assert.ok(
      older.some(r => r.v.ok),
      'some older driver is accepted',
    );
    assert.ok(
      older.some(r => !r.v.ok),
      'some older driver is refused',
    );
    for (const r of older) if (r.v.ok) assert.is(r.v.jit, false, `${r.name}: accepted under an older driver while running PTX`);
  });

  P("the build's architecture lists are read as machine code and PTX", () => {
    const n = table.length;
    const sass5 = ['sm_75', 'sm_80', 'sm_86', 'sm_89', 'sm_90'];
    assert.equal(verdicts[0].sass, sass5);
    assert.equal(verdicts[0].ptx, ['compute_90']);
    assert.equal(verdicts[n].sass, sass5, 'the same list with commas');
    assert.equal(verdicts[n].ptx, ['compute_90']);
    assert.equal(verdicts[n + 1].sass, sass5, 'bare NN: machine code and PTX');
    assert.equal(verdicts[n + 1].ptx, ['compute_75', 'compute_80', 'compute_86', 'compute_89']);
    assert.equal([verdicts[n + 2].sass, verdicts[n + 2].ptx], [['sm_90'], []]);
    assert.is(verdicts[n + 2].known, true);
    assert.is(verdicts[n + 3].known, false, '"all-major" names no architecture');
  });
}

P.run();
