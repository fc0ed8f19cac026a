// What nvcc says of every CUDA kernel without running it: registers, spills, stack and static shared memory per
// kernel from `nvcc -Xptxas -v` (for one GPU architecture), the resident 256-thread blocks per SM those allow,
// and, from the PTX, the integer divisions each kernel still holds (the GPU has no divide instruction: a 32-bit
// division or remainder is about 20 instructions, a 64-bit one a subroutine of about 70). CI runs it through
// test/ptx.test.ts, which holds the kernels to it (no spills; the tensor-core GEMM's budget; no division in the
// GEMM tile loaders); by hand it prints the table that bench/NOTES.md's predictions start from.
//
//   node dist/bench/ptx-report.js [--arch sm_90] [--json FILE]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { shortName } from './ncu-summary.js';

export interface KernelReport {
  source: string;
  kernel: string;
  registers: number;
  spillStores: number;
  spillLoads: number;
  stack: number;
  smem: number;
  /** Resident blocks of 256 threads per SM allowed by registers and shared memory (sm_80/sm_90: 64 K registers, 228 KB). */
  blocks256: number;
  div32: number;
  div64: number;
  /** Divisions and remainders in the tile loop: from the kernel's first read of global memory (a cp.async or
   * ld.global) to its last barrier. The GEMMs set their index math up once before the first read and advance it
   * by additions in the loop; an epilogue after the last barrier (the pool's window arithmetic) may divide. */
  divInLoop: number;
  /** Floating-point atomic adds (atom/red ... .add.f32): their order varies from run to run. */
  floatAtomics: number;
}

const root = fileURLToPath(new URL('../..', import.meta.url));

function nvccArgs(arch: string): string[] {
  const addon = (createRequire(import.meta.url)('node-addon-api').include_dir as string).replace(/"/g, '');
  return [`-gencode=arch=compute_${arch.slice(3)},code=${arch}`, '-std=c++17', '-O3', '--expt-relaxed-constexpr', '-Icpp', '-Icuda', `-I${addon}`];
}

function demangle(names: string[]): string[] {
  const r = spawnSync('c++filt', { input: names.join('\n'), encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().split('\n') : names;
}

function divisionsInTileLoop(body: string): number {
  const starts = [body.indexOf('cp.async.'), body.indexOf('ld.global')].filter(i => i >= 0);
  if (!starts.length) return 0;
  const begin = Math.min(...starts),
    lastBarrier = body.lastIndexOf('bar.sync');
  const loop = body.slice(begin, lastBarrier > begin ? lastBarrier : undefined);
  return (loop.match(/\b(div|rem)\.[su](32|64)\b/g) ?? []).length;
}

/** Compiles every cuda/*.cu for `arch` and reports each kernel. Throws with nvcc's message if one fails. */
export function ptxReport(arch = 'sm_90'): KernelReport[] {
  const dir = mkdtempSync(join(tmpdir(), 'kernelnet-ptxas-'));
  const out: KernelReport[] = [];
  try {
    for (const file of readdirSync(join(root, 'cuda'))
      .filter(f => f.endsWith('.cu'))
      .sort()) {
      const source = file.replace(/\.cu$/, '');
      // One compile per source: the cubin for ptxas's figures, its PTX kept (--keep) for the instruction counts.
      const keep = join(dir, source);
      mkdirSync(keep);
      const cubin = spawnSync(
        'nvcc',
        [...nvccArgs(arch), '-Xptxas', '-v', '--keep', `--keep-dir=${keep}`, '-cubin', `cuda/${file}`, '-o', join(keep, `${source}.cubin`)],
        { cwd: root, encoding: 'utf8' },
      );
      if (cubin.status !== 0) throw new Error(`nvcc ${file}: ${cubin.stderr}`);
      const ptxFile = readdirSync(keep).find(f => f.endsWith('.ptx'));
      if (!ptxFile) throw new Error(`nvcc ${file}: no PTX kept in ${keep}`);
      const bodies = new Map<string, string>();
      for (const part of readFileSync(join(keep, ptxFile), 'utf8').split('.entry ').slice(1)) bodies.set(part.slice(0, part.indexOf('(')), part);
      // ptxas -v: "Compiling entry function 'NAME' for 'sm_90'", "Function properties for NAME", "N bytes stack
      // frame, S bytes spill stores, L bytes spill loads", "Used R registers, ..., M bytes smem, ...".
      const rows: Omit<KernelReport, 'kernel'>[] = [],
        mangled: string[] = [];
      let current: string | null = null,
        props: Partial<KernelReport> = {};
      for (const line of cubin.stderr.split('\n')) {
        const entry = /Compiling entry function '([^']+)'/.exec(line);
        if (entry) {
          current = entry[1];
          props = {};
          continue;
        }
        const frame = /(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads/.exec(line);
        if (frame && current) Object.assign(props, { stack: +frame[1], spillStores: +frame[2], spillLoads: +frame[3] });
        const used = /Used (\d+) registers(?:.*?(\d+) bytes smem)?/.exec(line);
        if (used && current) {
          const registers = +used[1],
            smem = used[2] ? +used[2] : 0;
          const body = bodies.get(current) ?? '';
          const byRegs = Math.floor(65536 / (Math.ceil(registers / 8) * 8 * 256)),
            bySmem = smem ? Math.floor((228 * 1024) / (smem + 1024)) : 32;
          rows.push({
            source,
            registers,
            smem,
            stack: props.stack ?? 0,
            spillStores: props.spillStores ?? 0,
            spillLoads: props.spillLoads ?? 0,
            blocks256: Math.min(byRegs, bySmem, 8),
            div32: (body.match(/\b(div|rem)\.[su]32\b/g) ?? []).length,
            div64: (body.match(/\b(div|rem)\.[su]64\b/g) ?? []).length,
            floatAtomics: (body.match(/\b(atom|red)(\.\w+)*\.add(\.\w+)*\.f(32|64)\b/g) ?? []).length,
            divInLoop: divisionsInTileLoop(body),
          });
          mangled.push(current);
          current = null;
        }
      }
      const names = demangle(mangled);
      rows.forEach((r, i) => out.push({ ...r, kernel: shortName(names[i]) }));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

export function reportTable(rows: KernelReport[]): string {
  const lines = [
    '| source | kernel | registers | spills (st/ld B) | stack B | smem B | 256-thread blocks/SM | div/rem 32 | div/rem 64 | div/rem in the tile loop |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows)
    lines.push(
      `| ${r.source} | ${r.kernel} | ${r.registers} | ${r.spillStores}/${r.spillLoads} | ${r.stack} | ${r.smem} | ${r.blocks256} | ${r.div32} | ${r.div64} | ${r.divInLoop} |`,
    );
  return lines.join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { arch: { type: 'string', default: 'sm_90' }, json: { type: 'string' } } });
  const rows = ptxReport(values.arch);
  console.log(reportTable(rows));
  if (values.json) writeFileSync(values.json, JSON.stringify({ arch: values.arch, kernels: rows }, null, 2) + '\n');
}
