// What the emulated GPU cannot show, read from what nvcc emits. The TF32 GEMM kernels compiled for a GPU without
// TF32 tensor cores (compute_75) must trap rather than be empty (an empty kernel writes nothing), and compiled
// for Ampere (compute_80) they must use the tensor cores; the host side (cuda/gemm.cu's tf32_kernel_usable)
// enables TF32 only where the loaded image was compiled from compute_80 or newer. And bench/ptx-report.ts's
// offline report (`nvcc -Xptxas -v` and the PTX, for sm_90) holds every kernel to: no register spills; no float
// atomics (determinism); the
// GEMMs' register budgets (the occupancy they were designed for); no integer division in the tensor-core
// GEMM's tile loaders; and, in the kernels that index tensors element by element, 32-bit index math where the
// tensors allow it (with_index_type): their 32-bit instances hold no 64-bit division or remainder, each a
// subroutine of about 70 instructions on the GPU. Without nvcc this says skipped.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ptxReport, type KernelReport } from '../bench/ptx-report.js';

const P = suite('CUDA kernels in PTX');
const root = fileURLToPath(new URL('../..', import.meta.url));
const nvcc = spawnSync('nvcc', ['--version'], { encoding: 'utf8' }).status === 0;

/** The entries of a CUDA source's PTX for one virtual architecture, by (mangled) name. */
function entries(arch: string, dir: string, source = 'gemm'): Map<string, string> {
  const out = join(dir, `${source}-${arch}.ptx`),
    addonInclude = createRequire(import.meta.url)('node-addon-api').include_dir as string;
  const r = spawnSync(
    'nvcc',
    [
      `-gencode=arch=${arch},code=${arch}`,
      '-std=c++17',
      '-O3',
      '--expt-relaxed-constexpr',
      '-Icpp',
      '-Icuda',
      `-I${join(root, 'node_modules', 'node-addon-api')}`,
      `-I${addonInclude.replace(/"/g, '')}`,
      '-ptx',
      `cuda/${source}.cu`,
      '-o',
      out,
    ],
    { cwd: root, encoding: 'utf8' },
  );
  assert.is(r.status, 0, r.stderr);
  const map = new Map<string, string>();
  for (const part of readFileSync(out, 'utf8').split('.entry ').slice(1)) map.set(part.slice(0, part.indexOf('(')), part);
  return map;
}

if (!nvcc) {
  console.log('  skipped: no nvcc on PATH for the PTX checks');
  P.skip('the TF32 kernels trap below sm_80 and use tensor cores from sm_80 (skipped: no nvcc)', () => {});
  P.skip('ptxas report: spills, GEMM budgets (skipped: no nvcc)', () => {});
  P.skip('element-indexing kernels have no 64-bit division in their 32-bit instances (skipped: no nvcc)', () => {});
} else {
  P('the TF32 kernels trap below sm_80 and use tensor cores from sm_80', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kernelnet-ptx-'));
    try {
      for (const [arch, expect] of [
        ['compute_75', 'trap'],
        ['compute_80', 'tensor cores'],
      ] as const) {
        const all = [...entries(arch, dir)];
        const wmma = all.filter(([name]) => name.includes('sgemm_tf32_kernel')),
          mma = all.filter(([name]) => name.includes('sgemm_mma_kernel'));
        assert.is(wmma.length, 4, `${arch}: the WMMA kernel's four transpose variants`);
        assert.is(
          mma.length,
          12,
          `${arch}: the mma.sync kernel's four transpose variants with 16-byte and 4-byte copies, and its implicit-GEMM convolutions (forward, weight gradient, input gradient with 64- and 32-wide N tiles)`,
        );
        for (const [name, body] of [...wmma, ...mma]) {
          if (expect === 'trap') {
            assert.match(body, /\btrap;/, `${arch} ${name}: traps`);
            assert.not.match(body, /\b(wmma|mma)\.|cp\.async/, `${arch} ${name}: no tensor-core or cp.async instruction`);
          } else {
            assert.not.match(body, /\btrap;/, `${arch} ${name}: no trap`);
            if (name.includes('sgemm_tf32_kernel'))
              assert.match(body, /wmma\.mma\.sync\.aligned\.row\.row\.m16n16k8\.f32\.tf32/, `${arch} ${name}: tensor cores`);
            else {
              assert.match(body, /\bmma\.sync\.aligned\.m16n8k8\.row\.col\.f32\.tf32\.tf32\.f32/, `${arch} ${name}: mma.sync TF32`);
              assert.match(body, /cp\.async\.(cg|ca)\.shared\.global/, `${arch} ${name}: cp.async copies`);
              assert.match(body, /cp\.async\.wait_group 1;/, `${arch} ${name}: a 3-stage pipeline waits for all but the newest group`);
              assert.match(body, /cvt\.rna\.tf32\.f32/, `${arch} ${name}: operands rounded to TF32`);
            }
          }
        }
        // Kernel 1 (FP32, every GPU): its 8 x 4 tiles fill two stages by 4-byte cp.async from sm_80 on, waiting for
        // all but the newest group; the 4 x 4 tiles, and every tile below sm_80, load through registers.
        const simt = all.filter(([name]) => /sgemm_kernelI/.test(name));
        assert.is(simt.length, 16, `${arch}: kernel 1's instances`);
        for (const [name, body] of simt) {
          const wide = /SimtTileILi\d+ELi\d+ELi\d+ELi8E/.test(name);
          if (wide && expect !== 'trap') {
            assert.match(body, /cp\.async\.ca\.shared\.global \[%r\d+\], \[%rd\d+\], 4, %r\d+;/, `${arch} ${name}: 4-byte cp.async`);
            assert.match(body, /cp\.async\.wait_group 1;/, `${arch} ${name}: two stages`);
          } else assert.not.match(body, /cp\.async/, `${arch} ${name}: no cp.async`);
        }
        // Each GEMM's epilogue compiled once (cuda/gemm.cu's EpSwitches): at most one call of the activation per
        // output of a thread's tile (32 at most) in the plain epilogue and one in the pool's, so 64 at most.
        // Versioned on its switches, the plain epilogue alone held 15 copies (480 calls), and the addon's build
        // took five times as long.
        for (const [name, body] of all) {
          const calls = body.match(/\bcall(\.uni)?\b[^;]*act_forward_call/g)?.length ?? 0;
          assert.ok(calls <= 64, `${arch} ${name}: ${calls} calls of the activation (the epilogue versioned?)`);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // The offline report of every kernel (about 30 s of nvcc), shared by the checks below.
  let report: KernelReport[] | null = null;
  const kernels = () => (report ??= ptxReport('sm_90'));
  // Kernel 1's tile (its last template argument, layout::Simt by default) named by its width and micro-tile:
  // nothing for 64 x 64 x 16, ', narrow' for 128 x 32 x 8, ', wide' and ', wide narrow' for their 8 x 4 forms.
  const tile = (name: string) =>
    name
      .replace(/, kn::cu::layout::SimtTile<64, 64, 16, 4> ?>$/, '>')
      .replace(/, kn::cu::layout::SimtTile<128, 32, 8, 4> ?>$/, ', narrow>')
      .replace(/, kn::cu::layout::SimtTile<128, 64, 16, 8> ?>$/, ', wide>')
      .replace(/, kn::cu::layout::SimtTile<128, 32, 8, 8> ?>$/, ', wide narrow>');
  const named = (prefix: string) =>
    kernels()
      .filter(k => k.kernel.startsWith(prefix + '<') || k.kernel === prefix)
      .map(k => ({ ...k, kernel: tile(k.kernel) }));

  P('ptxas report: no kernel spills registers, and none adds floats atomically (determinism)', () => {
    const all = kernels();
    assert.ok(all.length >= 50, `kernels reported: ${all.length}`);
    for (const k of all) assert.is(k.spillStores + k.spillLoads, 0, `${k.source} ${k.kernel}: ${k.spillStores}/${k.spillLoads} bytes spilled`);
    // Two runs with one seed give bit-identical weights and metrics on the GPU only if no sum depends on the
    // order in which blocks finish: no float atomics anywhere (the loss metrics and max-pool backward had them).
    for (const k of all) assert.is(k.floatAtomics, 0, `${k.source} ${k.kernel}: ${k.floatAtomics} float atomic adds`);
  });

  P('ptxas report: the GEMM kernels fit their occupancy budgets and the tensor-core loaders do not divide', () => {
    const mma = named('sgemm_mma_kernel'),
      simt = named('sgemm_kernel');
    assert.is(mma.length, 12);
    assert.is(simt.length, 16);
    for (const name of ['sgemm_kernel<false, true, 2, narrow>', 'sgemm_kernel<false, true, 2, wide narrow>', 'sgemm_kernel<false, false, 1, wide>'])
      assert.ok(
        simt.some(k => k.kernel === name),
        simt.map(k => k.kernel).join('; '),
      );
    for (const k of mma) {
      // 16-byte copies (every conv GEMM): 3 blocks of 256 per SM (<= 80 registers); 4-byte copies: 2.
      assert.ok(
        k.blocks256 >= (/, 4, \d, \d+>$/.test(k.kernel) ? 3 : 2),
        `${k.kernel}: ${k.registers} registers, ${k.smem} B shared, ${k.blocks256} blocks per SM`,
      );
      assert.ok(k.smem <= 48 * 1024, `${k.kernel}: static shared memory ${k.smem} B`);
      if (/, 0, \d+>$/.test(k.kernel))
        assert.is(
          k.div32 + k.div64,
          0,
          `${k.kernel}: ${k.div32} 32-bit and ${k.div64} 64-bit div/rem (the tile loaders' index math is shifts and masks)`,
        );
    }
    // The FP32 SIMT kernel was capped at 3 blocks per SM by 80 registers; __launch_bounds__(256, 4) makes it 4
    // (its implicit-GEMM instances, with four pixels' state per thread, 3). The 8 x 4 micro-tiles: 16 warps an
    // SM (2 blocks of 256 threads, 4 of 128), at most 128 registers, without spilling (above).
    for (const k of simt) {
      const conv = !/, 0(, wide)?>$/.test(k.kernel);
      const wide = /wide/.test(k.kernel);
      assert.ok(k.blocks256 >= (wide ? 2 : conv ? 3 : 4), `${k.kernel}: ${k.registers} registers, ${k.blocks256} blocks per SM`);
      if (!conv) assert.is(k.div32 + k.div64, 0, `${k.kernel}: no division`);
    }
    // The implicit-GEMM convolutions decompose each thread's pixels and taps once, before the first read of
    // global memory; the loaders in the K loop only add. A division in a loader would show in the tile loop (the
    // pool epilogue after the last barrier divides a few times per thread).
    for (const k of [...mma, ...simt].filter(k => /, (1|2)(, \d+|, narrow|, wide|, wide narrow)?>$/.test(k.kernel))) {
      assert.ok(k.div32 > 0, `${k.kernel}: the set-up divisions the check would see`);
      assert.is(k.div64, 0, `${k.kernel}: no 64-bit division`);
      assert.is(k.divInLoop, 0, `${k.kernel}: ${k.divInLoop} div/rem in the tile loop (a loader)`);
    }
  });

  P('element-indexing kernels have no 64-bit division in their 32-bit instances', () => {
    const names = [
      'im2col_kernel',
      'col2im_kernel',
      'maxpool_forward_kernel',
      'maxpool_backward_kernel',
      'maxpool_backward_overlap_kernel',
      'avgpool_forward_kernel',
      'avgpool_backward_kernel',
      'gather_rows_kernel',
      'one_hot_kernel',
      'splitk_reduce_kernel',
      'copy_region_kernel',
      'argmax_kernel',
      'binary_forward_kernel',
      'binary_backward_kernel',
    ];
    for (const name of names) {
      const narrow = kernels().filter(k => k.kernel === `${name}<unsigned int>`),
        wide = kernels().filter(k => k.kernel === `${name}<unsigned long long>`);
      assert.is(narrow.length, 1, `one 32-bit instance of ${name}`);
      assert.is(wide.length, 1, `one 64-bit instance of ${name}`);
      assert.is(narrow[0].div64, 0, `${name}<unsigned>: no 64-bit division`);
      assert.ok(wide[0].div64 > 0, `${name}<unsigned long long>: the 64-bit divisions the check would see`);
    }
  });
}

P.run();
