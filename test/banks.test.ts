// Shared-memory bank conflicts of the GEMM kernels, counted analytically: the emulated GPU runs a block's
// threads as OS threads, not in lockstep, so it cannot count them. test/native/banks.cc evaluates the tile
// layouts' own formulas (cuda/gemm_layout.cuh, which the kernels call) for the 32 lanes of every warp access of a
// block and reports the passes each takes; here they are held to the ideal (one pass per access, four for
// 16-byte accesses, which go 8 lanes at a time). The controls are the same accesses without the padding or
// swizzle, so the count is seen to find a conflict. Without a C++ compiler this says skipped.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const B = suite('shared-memory banks');
const root = fileURLToPath(new URL('../..', import.meta.url));
const cxx = process.env.CXX ?? 'c++';
const haveCxx = spawnSync(cxx, ['--version'], { encoding: 'utf8' }).status === 0;

interface Access {
  access: string;
  worst: number;
  ideal: number;
  mean: number;
}

function count(): Map<string, Access> {
  const dir = mkdtempSync(join(tmpdir(), 'kernelnet-banks-'));
  try {
    const exe = join(dir, 'banks');
    const build = spawnSync(cxx, ['-std=c++17', '-O1', '-Icpp', 'test/native/banks.cc', '-o', exe], { cwd: root, encoding: 'utf8' });
    assert.is(build.status, 0, build.stderr);
    const run = spawnSync(exe, { encoding: 'utf8' });
    assert.is(run.status, 0, run.stderr);
    return new Map(
      run.stdout
        .trim()
        .split('\n')
        .map(line => JSON.parse(line) as Access)
        .map(a => [a.access, a]),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (!haveCxx) {
  console.log(`  skipped: no C++ compiler (${cxx}) for the bank count`);
  B.skip('the GEMM tiles are read and written without bank conflicts (skipped: no C++ compiler)', () => {});
} else {
  B('the GEMM tiles are read and written without bank conflicts', () => {
    const all = count();
    const get = (name: string) => {
      const a = all.get(name);
      assert.ok(a, `no count for ${name}: ${[...all.keys()].join(', ')}`);
      return a!;
    };
    // Kernel 3 (mma.sync TF32): every fragment load and cp.async store of both layouts of both operands.
    for (const op of ['A', 'B'])
      for (const t of ['N', 'T'])
        for (const kind of ['fragment', 'cp.async store (16 B)']) {
          const a = get(`mma ${op}${t} ${kind}`);
          assert.is(a.worst, a.ideal, `mma ${op}${t} ${kind}: ${a.worst} passes, ideal ${a.ideal}`);
        }
    assert.is(get('fragment base + offset differs from the layout').worst, 0, "the kernel's per-lane bases give the layout's words");
    // Kernel 1 (SIMT FP32): the float4 reads of the inner loop are ideal; the tile stores at most 2-way (the
    // transposed B store was 16-way before its rows were padded).
    for (const name of ['simt A read (float4)', 'simt B read (float4)']) assert.is(get(name).worst, get(name).ideal, name);
    for (const name of ['simt AN store', 'simt AT store', 'simt BN store', 'simt BT store'])
      assert.ok(get(name).worst <= 2, `${name}: ${get(name).worst}-way`);
    // Its narrow tile (128 x 32 x 8, the input gradient of 32 or fewer channels): every access ideal.
    for (const name of ['simt narrow AN store', 'simt narrow BT store', 'simt narrow A read (float4)', 'simt narrow B read (float4)'])
      assert.is(get(name).worst, get(name).ideal, `${name}: ${get(name).worst} passes, ideal ${get(name).ideal}`);
    // The 8 x 4 micro-tiles (SimtWide, SimtWideNarrow: gemm_layout.cuh): both float4 reads of a thread's 8 rows
    // and its columns' read ideal; the stores as the 4 x 4 tiles' (the wide tile's rows padded alike: at most
    // 2-way; the narrow one's ideal).
    for (const name of [
      'simt wide A read (float4)',
      'simt wide B read (float4)',
      'simt wide narrow A read (float4)',
      'simt wide narrow B read (float4)',
    ])
      assert.is(get(name).worst, get(name).ideal, `${name}: ${get(name).worst} passes, ideal ${get(name).ideal}`);
    for (const name of ['simt wide AN store', 'simt wide AT store', 'simt wide BN store', 'simt wide BT store'])
      assert.ok(get(name).worst <= 2, `${name}: ${get(name).worst}-way`);
    for (const name of ['simt wide narrow AN store', 'simt wide narrow BT store'])
      assert.is(get(name).worst, get(name).ideal, `${name}: ${get(name).worst} passes, ideal ${get(name).ideal}`);
    // The controls: the same formulas without padding or swizzle conflict, so the count would see a regression.
    const controls = [...all.values()].filter(a => a.access.startsWith('control:'));
    assert.ok(controls.length >= 6, `controls: ${controls.length}`);
    for (const c of controls) assert.ok(c.worst > c.ideal, `${c.access}: ${c.worst} passes, expected a conflict`);
    assert.is(get('control: simt BT store unpadded').worst, 16);
  });
}

B.run();
