// What the emulated GPU cannot show, read from the PTX nvcc emits: the TF32 GEMM kernel compiled for a GPU
// without TF32 tensor cores (compute_75) must trap rather than be empty (an empty kernel writes nothing), and
// compiled for Ampere (compute_80) it must use the tensor cores. The host side (cuda/gemm.cu's
// tf32_kernel_usable) enables TF32 only where the loaded image was compiled from compute_80 or newer. And the
// kernels that index tensors element by element do their index math in 32 bits where the tensors allow it
// (with_index_type): their 32-bit instances hold no 64-bit division or remainder, each a subroutine of about 70
// instructions on the GPU. Without nvcc this says skipped.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const P = suite('CUDA kernels in PTX');
const root = fileURLToPath(new URL('../..', import.meta.url));
const nvcc = spawnSync('nvcc', ['--version'], { encoding: 'utf8' }).status === 0;

/** The entries of a CUDA source's PTX for one virtual architecture, by (mangled) name. */
function entries(arch: string, dir: string, source = 'gemm'): Map<string, string> {
  const out = join(dir, `${source}-${arch}.ptx`), addonInclude = createRequire(import.meta.url)('node-addon-api').include_dir as string;
  const r = spawnSync('nvcc', [`-gencode=arch=${arch},code=${arch}`, '-std=c++17', '-O3', '--expt-relaxed-constexpr', '-Icpp', '-Icuda',
    `-I${join(root, 'node_modules', 'node-addon-api')}`, `-I${addonInclude.replace(/"/g, '')}`, '-ptx', `cuda/${source}.cu`, '-o', out], { cwd: root, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const map = new Map<string, string>();
  for (const part of readFileSync(out, 'utf8').split('.entry ').slice(1)) map.set(part.slice(0, part.indexOf('(')), part);
  return map;
}

if (!nvcc) {
  console.log('  skipped: no nvcc on PATH for the PTX checks');
  P.skip('the TF32 kernel traps below sm_80 and uses tensor cores from sm_80 (skipped: no nvcc)', () => {});
  P.skip('element-indexing kernels have no 64-bit division in their 32-bit instances (skipped: no nvcc)', () => {});
} else {
  P('the TF32 kernel traps below sm_80 and uses tensor cores from sm_80', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kernelnet-ptx-'));
    try {
      for (const [arch, expect] of [['compute_75', 'trap'], ['compute_80', 'tensor cores']] as const) {
        const tf32 = [...entries(arch, dir)].filter(([name]) => name.includes('sgemm_tf32_kernel'));
        assert.is(tf32.length, 4, `${arch}: the four transpose variants`);
        for (const [name, body] of tf32) {
          if (expect === 'trap') {
            assert.match(body, /\btrap;/, `${arch} ${name}: traps`);
            assert.not.match(body, /wmma\./, `${arch} ${name}: no tensor-core instruction`);
          } else {
            assert.match(body, /wmma\.mma\.sync\.aligned\.row\.row\.m16n16k8\.f32\.tf32/, `${arch} ${name}: tensor cores`);
            assert.not.match(body, /\btrap;/, `${arch} ${name}: no trap`);
          }
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

if (nvcc) {
  P('element-indexing kernels have no 64-bit division in their 32-bit instances', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kernelnet-ptx-'));
    try {
      const kernels: Record<string, string[]> = {
        conv: ['im2col_kernel', 'col2im_kernel'],
        pool: ['maxpool_forward_kernel', 'maxpool_backward_kernel', 'avgpool_forward_kernel', 'avgpool_backward_kernel'],
        backend: ['gather_rows_kernel', 'one_hot_kernel'],
        gemm: ['splitk_reduce_kernel'],
        tensor_ops: ['copy_region_kernel', 'argmax_kernel'],
      };
      for (const [source, names] of Object.entries(kernels)) {
        const ptx = [...entries('compute_90', dir, source)];
        for (const name of names) {
          // The instance with I = unsigned (mangled IjE) and the one with unsigned long long (IyE).
          const narrow = ptx.filter(([mangled]) => mangled.includes(name) && mangled.includes('IjE'));
          const wide = ptx.filter(([mangled]) => mangled.includes(name) && mangled.includes('IyE'));
          assert.is(narrow.length, 1, `${source}.cu: one 32-bit instance of ${name}`);
          assert.is(wide.length, 1, `${source}.cu: one 64-bit instance of ${name}`);
          assert.not.match(narrow[0][1], /\b(div|rem)\.[su]64\b/, `${name}<unsigned>: no 64-bit division`);
          assert.match(wide[0][1], /\b(div|rem)\.[su]64\b/, `${name}<unsigned long long>: the 64-bit divisions the check would see`);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

P.run();
