// The kernel lab (as llm.c's dev/cuda and SGEMM_CUDA's numbered kernels): every numbered variant of a kernel
// family, at the shapes of the seed model's training step at batch 128, first checked against variant 1 on the
// same random data, then timed side by side in interleaved rounds (each round times every variant once, so
// drift in the card's clocks hits all alike). Variants are proven exact on small integers on the emulated GPU
// by test/cuda.test.ts's kernel-lab test before they get here. The backend reports the variant it adopted
// (backends().cuda.kernels); a variant that wins here is adopted by changing that choice, with its figures in
// bench/NOTES.md. Needs a CUDA device (exit 3 without one, saying why); bench/gpu-check.ts runs it as its
// `lab` part.
//
//   node dist/bench/lab.js [--reps 20] [--rounds 5] [--json FILE]
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { native, type NativeTensor } from '../lib/core/native.js';

/** The GEMM shapes of one training step of the seed model at batch 128: [name, m, n, k, ta, tb]. The lab runs them
 * on explicit matrices; production runs conv2's as implicit GEMMs (the same tiles, A gathered from x) and conv1
 * as direct kernels, so these time the GEMM variants themselves, not the ops. */
export const STEP_GEMMS: [string, number, number, number, boolean, boolean][] = [
  ['conv1 forward (col w)', 128 * 26 * 26, 32, 9, false, false],
  ['conv1 weight grad (col^T dz)', 9, 32, 128 * 26 * 26, true, false],
  ['conv2 forward (col w)', 128 * 24 * 24, 64, 288, false, false],
  ['conv2 weight grad (col^T dz)', 288, 64, 128 * 24 * 24, true, false],
  ['conv2 input grad (dz w^T)', 128 * 24 * 24, 288, 64, false, true],
  ['dense1 forward (x w)', 128, 128, 9216, false, false],
  ['dense1 weight grad (x^T dz)', 9216, 128, 128, true, false],
  ['dense1 input grad (dz w^T)', 128, 9216, 128, false, true],
  ['dense2 forward', 128, 10, 128, false, false],
];

export interface LabRow {
  gemm: string;
  m: number;
  n: number;
  k: number;
  variant: string;
  medianUs: number;
  tflops: number;
  maxRelErr: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export function runLab(reps = 20, rounds = 5): LabRow[] {
  const cuda = native.backends().cuda;
  const names = cuda.variants?.gemm ?? [];
  const rows: LabRow[] = [];
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  for (const [gemm, m, n, k, ta, tb] of STEP_GEMMS) {
    const fill = (size: number) => Float32Array.from({ length: size }, rand);
    const a = new native.Tensor(ta ? [k, m] : [m, k], 'float32', fill(m * k), 'cuda');
    const b = new native.Tensor(tb ? [n, k] : [k, n], 'float32', fill(k * n), 'cuda');
    const outs: NativeTensor[] = names.map(() => new native.Tensor([m, n], 'float32', undefined, 'cuda'));
    try {
      const usable = names.map((_, i) => {
        try {
          native.gemmVariant(i + 1, a, b, outs[i], ta, tb);
          return true;
        } catch (e) {
          if ((e as { code?: string }).code === 'ERR_KERNELNET_DEVICE') return false; // a TF32 variant on an older card
          throw e;
        }
      });
      const ref = outs[0].read() as Float32Array;
      const times: number[][] = names.map(() => []);
      for (let round = 0; round < rounds; ++round)
        names.forEach((_, i) => {
          if (!usable[i]) return;
          native.gemmVariant(i + 1, a, b, outs[i], ta, tb); // warm
          native.synchronize('cuda');
          const t0 = performance.now();
          for (let r = 0; r < reps; ++r) native.gemmVariant(i + 1, a, b, outs[i], ta, tb);
          native.synchronize('cuda');
          times[i].push(((performance.now() - t0) * 1000) / reps);
        });
      names.forEach((variant, i) => {
        if (!usable[i]) return;
        const got = outs[i].read();
        let worst = 0;
        for (let j = 0; j < got.length; ++j) worst = Math.max(worst, Math.abs(got[j] - ref[j]) / (Math.abs(ref[j]) + 1e-3 * Math.sqrt(k)));
        const us = median(times[i]);
        rows.push({ gemm, m, n, k, variant, medianUs: us, tflops: (2 * m * n * k) / (us * 1e6), maxRelErr: worst });
      });
    } finally {
      [a, b, ...outs].forEach(t => t.dispose());
    }
  }
  return rows;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { reps: { type: 'string', default: '20' }, rounds: { type: 'string', default: '5' }, json: { type: 'string' } },
  });
  const cuda = native.backends().cuda;
  if (!cuda.available) {
    console.error(`kernel lab: no CUDA device: ${cuda.reason}`);
    process.exit(3);
  }
  const rows = runLab(Number(values.reps), Number(values.rounds));
  console.log(`kernel lab on ${cuda.device}; production GEMM: ${cuda.kernels?.gemm}`);
  console.log('| GEMM | m x n x k | variant | median us | TFLOP/s | max rel. error vs 1 |\n|---|---|---|---|---|---|');
  for (const r of rows)
    console.log(
      `| ${r.gemm} | ${r.m}x${r.n}x${r.k} | ${r.variant} | ${r.medianUs.toFixed(1)} | ${r.tflops.toFixed(2)} | ${r.maxRelErr.toExponential(1)} |`,
    );
  const result = { device: cuda.device, production: cuda.kernels, rows };
  console.log(JSON.stringify(result));
  if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2) + '\n');
}
