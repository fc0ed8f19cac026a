// The kernel lab (as llm.c's dev/cuda and SGEMM_CUDA's numbered kernels): every numbered variant of a kernel
// family, at the shapes of the seed model's training step at batch 128, first checked against variant 1 on the
// same random data, then timed side by side in interleaved rounds (each round times every variant once, so
// drift in the card's clocks hits all alike). Variants are proven exact on small integers on the emulated GPU
// by test/cuda.test.ts's kernel-lab test before they get here. The backend reports the variant it adopted
// (backends().cuda.kernels); a variant that wins here is adopted by changing that choice, with its figures in
// bench/NOTES.md. Needs a CUDA device (exit 3 without one, saying why); bench/gpu-check.ts runs it as its
// `lab` part.
//
// Kernel 1 runs each shape under both of its micro-tiles (KERNELNET_SIMT_TILE, read at each GEMM: 4 x 4 and 8 x 4
// outputs per thread, the same bits), and conv2's three implicit GEMMs are timed as the ops that run them, under
// each tile, where the production choice is by shape (cuda/gemm.cu, simt_wide).
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

/** Kernel 1's micro-tiles, as KERNELNET_SIMT_TILE names them. */
const SIMT_TILES = ['4x4', '8x4'];

/** Runs fn with KERNELNET_SIMT_TILE = tile (undefined: unset, the choice by shape). */
function withTile<R>(tile: string | undefined, fn: () => R): R {
  const saved = process.env.KERNELNET_SIMT_TILE;
  if (tile === undefined) delete process.env.KERNELNET_SIMT_TILE;
  else process.env.KERNELNET_SIMT_TILE = tile;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.KERNELNET_SIMT_TILE;
    else process.env.KERNELNET_SIMT_TILE = saved;
  }
}

export function runLab(reps = 20, rounds = 5): LabRow[] {
  const cuda = native.backends().cuda;
  // Variant 1 once per micro-tile, the others as they are.
  const variants = (cuda.variants?.gemm ?? []).flatMap((name, i): { name: string; kernel: number; tile?: string }[] =>
    i === 0 ? SIMT_TILES.map(tile => ({ name: `${name} ${tile}`, kernel: 1, tile })) : [{ name, kernel: i + 1, tile: undefined }],
  );
  const names = variants.map(v => v.name);
  const call = (i: number, a: NativeTensor, b: NativeTensor, c: NativeTensor, ta: boolean, tb: boolean) =>
    withTile(variants[i].tile, () => native.gemmVariant(variants[i].kernel, a, b, c, ta, tb));
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
          call(i, a, b, outs[i], ta, tb);
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
          call(i, a, b, outs[i], ta, tb); // warm
          native.synchronize('cuda');
          const t0 = performance.now();
          for (let r = 0; r < reps; ++r) call(i, a, b, outs[i], ta, tb);
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

export interface ConvLabRow {
  op: string;
  tile: string;
  medianUs: number;
  tflops: number;
  /** Whether the outputs equal the 4 x 4 tile's bit for bit (they should: the same sums in the same order). */
  sameBits: boolean;
}

/**
 * conv2's three implicit GEMMs at the seed's batch-128 shapes, as the ops run them (forward with the 2 x 2 pool and
 * the Dropout's mask in its epilogue; the input gradient; the weight gradient with its bias), under each micro-tile
 * of kernel 1, rounds interleaved. Without TF32 only (kernel 3 has no micro-tile choice).
 */
export function runConvLab(reps = 10, rounds = 5): ConvLabRow[] {
  if (native.backends().cuda.tf32) return [];
  let seed = 777;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const fill = (size: number) => Float32Array.from({ length: size }, rand);
  const t = (shape: number[], data?: Float32Array) => new native.Tensor(shape, 'float32', data, 'cuda');
  const n = 128;
  const x = t([n, 26, 26, 32], fill(n * 26 * 26 * 32)),
    w = t(
      [3, 3, 32, 64],
      fill(3 * 3 * 32 * 64).map(v => v * 0.1),
    ),
    b = t([64], fill(64)),
    y = t([n, 24, 24, 64]),
    dy = t([n, 24, 24, 64], fill(n * 24 * 24 * 64)),
    pooled = t([n, 12, 12, 64]),
    dropped = t([n, 12, 12, 64]);
  const argmax = new native.Tensor([n, 12, 12, 64], 'int32', undefined, 'cuda'),
    counter = new native.Tensor([1], 'int32', Int32Array.of(1), 'cuda');
  const conv = { strides: [1, 1] as [number, number], padding: 'valid' as const, activation: 'relu' as const };
  const flops = 2 * n * 24 * 24 * 64 * 288;
  const linear = { ...conv, activation: 'linear' as const };
  const dx = t(x.shape),
    dw = t(w.shape),
    db = t([64]);
  const ops: { op: string; run: () => void; out: NativeTensor[] }[] = [
    {
      op: 'conv2 forward + pool + dropout mask',
      run: () =>
        native.conv2dPoolForward(
          x,
          w,
          b,
          pooled,
          argmax,
          conv,
          { poolSize: [2, 2], padding: 'valid' },
          { rate: 0.25, seed: 1, offset: 0, counter },
          dropped,
        ),
      out: [pooled, dropped],
    },
    { op: 'conv2 input gradient', run: () => native.conv2dBackward(x, w, y, dy, dx, null, null, linear), out: [dx] },
    { op: 'conv2 weight + bias gradient', run: () => native.conv2dBackward(x, w, y, dy, null, dw, db, linear), out: [dw, db] },
  ];
  const rows: ConvLabRow[] = [];
  try {
    for (const { op, run, out } of ops) {
      // Outputs of the run under each tile, for the bit comparison.
      const results = SIMT_TILES.map(tile =>
        withTile(tile, () => {
          run();
          native.synchronize('cuda');
          return out.map(o => Array.from(o.read() as Float32Array));
        }),
      );
      const times: number[][] = SIMT_TILES.map(() => []);
      for (let round = 0; round < rounds; ++round)
        SIMT_TILES.forEach((tile, i) =>
          withTile(tile, () => {
            run(); // warm
            native.synchronize('cuda');
            const t0 = performance.now();
            for (let r = 0; r < reps; ++r) run();
            native.synchronize('cuda');
            times[i].push(((performance.now() - t0) * 1000) / reps);
          }),
        );
      SIMT_TILES.forEach((tile, i) => {
        const us = median(times[i]);
        const sameBits = results[i].every((o, j) => o.every((v, k) => Object.is(v, results[0][j][k])));
        rows.push({ op, tile, medianUs: us, tflops: flops / (us * 1e6), sameBits });
      });
    }
  } finally {
    [x, w, b, y, dy, pooled, dropped, argmax, counter, dx, dw, db].forEach(o => o.dispose());
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
  const convRows = runConvLab(Math.max(1, Math.round(Number(values.reps) / 2)), Number(values.rounds));
  console.log(`kernel lab on ${cuda.device}; production GEMM: ${cuda.kernels?.gemm}`);
  console.log('| GEMM | m x n x k | variant | median us | TFLOP/s | max rel. error vs 1 |\n|---|---|---|---|---|---|');
  for (const r of rows)
    console.log(
      `| ${r.gemm} | ${r.m}x${r.n}x${r.k} | ${r.variant} | ${r.medianUs.toFixed(1)} | ${r.tflops.toFixed(2)} | ${r.maxRelErr.toExponential(1)} |`,
    );
  if (convRows.length) {
    console.log('\n| op (conv2, batch 128) | kernel 1 tile | median us | TFLOP/s | same bits as 4x4 |\n|---|---|---|---|---|');
    for (const r of convRows) console.log(`| ${r.op} | ${r.tile} | ${r.medianUs.toFixed(1)} | ${r.tflops.toFixed(2)} | ${r.sameBits} |`);
  }
  const result = { device: cuda.device, production: cuda.kernels, rows, conv: convRows };
  console.log(JSON.stringify(result));
  if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2) + '\n');
}
