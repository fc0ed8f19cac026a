// Summarises an Nsight Compute report, exported as CSV (`ncu --csv --page details ...`), per kernel: launches,
// total and mean time, ncu's speed-of-light throughputs (SM and memory, as % of the device's peak), achieved
// occupancy, registers, and what limits the kernel by those figures. bench/gpu-check.ts runs it on a profile of
// a training step and puts the top kernels in the GPU record.
//
//   node dist/bench/ncu-summary.js REPORT.csv [--top N] [--json FILE]
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse/sync';

export interface KernelSummary {
  kernel: string;
  launches: number;
  totalUs: number;
  meanUs: number;
  /** Compute (SM) throughput, % of peak (mean over launches). */
  smPct: number;
  /** Memory throughput, % of peak (the busiest of DRAM, L2, L1). */
  memPct: number;
  dramPct: number | null;
  occupancyPct: number | null;
  registers: number | null;
  limiter: string;
}

const UNIT_US: Record<string, number> = { nsecond: 1e-3, ns: 1e-3, usecond: 1, us: 1, msecond: 1e3, ms: 1e3, second: 1e6, s: 1e6 };

/** "void kn::cu::(anonymous namespace)::sgemm_kernel<true, false>(int, ...)" -> "sgemm_kernel<true, false>". */
export function shortName(name: string): string {
  let s = name.replace(/^void\s+/, '');
  let depth = 0,
    cut = s.length;
  for (let i = 0; i < s.length; ++i) {
    // the argument list: the first '(' outside template brackets
    if (s[i] === '<') depth++;
    else if (s[i] === '>') depth--;
    else if (s[i] === '(' && depth === 0 && !s.startsWith('(anonymous namespace)', i)) {
      cut = i;
      break;
    }
  }
  s = s.slice(0, cut);
  return s.replace(/([A-Za-z_][\w]*::|\(anonymous namespace\)::)+(?=[A-Za-z_~])/, '');
}

function number(v: string): number {
  return Number(v.replace(/,/g, ''));
}

/** What bounds a kernel, from its speed-of-light and occupancy figures. */
export function limiter(k: Pick<KernelSummary, 'smPct' | 'memPct' | 'occupancyPct' | 'meanUs'>): string {
  const top = Math.max(k.smPct, k.memPct);
  if (top >= 60)
    return k.smPct >= k.memPct ? `compute-bound (SM ${k.smPct.toFixed(0)}% of peak)` : `memory-bound (memory ${k.memPct.toFixed(0)}% of peak)`;
  if (k.meanUs < 5) return `launch- or size-bound (${k.meanUs.toFixed(1)} us per launch, SM ${k.smPct.toFixed(0)}%, memory ${k.memPct.toFixed(0)}%)`;
  if (k.occupancyPct !== null && k.occupancyPct < 25)
    return `occupancy-bound (achieved ${k.occupancyPct.toFixed(0)}%, SM ${k.smPct.toFixed(0)}%, memory ${k.memPct.toFixed(0)}%)`;
  return `latency-bound (SM ${k.smPct.toFixed(0)}%, memory ${k.memPct.toFixed(0)}%: neither near peak)`;
}

/** Per-kernel summaries of an `ncu --csv --page details` report, most total time first. */
export function summariseNcu(csv: string): KernelSummary[] {
  const start = csv.indexOf('"ID"'); // ncu may print ==PROF== lines before the table
  if (start < 0) throw new Error('not an Nsight Compute CSV report: no "ID" header');
  const rows: Record<string, string>[] = parse(csv.slice(start), { columns: true, skip_empty_lines: true, relax_column_count: true });
  interface Launch {
    kernel: string;
    metrics: Map<string, number>;
  }
  const launches = new Map<string, Launch>();
  for (const r of rows) {
    const id = r['ID'],
      name = r['Kernel Name'],
      metric = r['Metric Name'],
      value = r['Metric Value'];
    if (id === undefined || !name || !metric || value === undefined) continue;
    let l = launches.get(id);
    if (!l) launches.set(id, (l = { kernel: shortName(name), metrics: new Map() }));
    const unit = (r['Metric Unit'] ?? '').trim();
    const v = metric === 'Duration' ? number(value) * (UNIT_US[unit] ?? NaN) : number(value);
    if (Number.isFinite(v)) l.metrics.set(metric, v);
  }
  const byKernel = new Map<string, Launch[]>();
  for (const l of launches.values()) {
    const list = byKernel.get(l.kernel) ?? [];
    list.push(l);
    byKernel.set(l.kernel, list);
  }
  const mean = (ls: Launch[], metric: string): number | null => {
    const vs = ls.map(l => l.metrics.get(metric)).filter((v): v is number => v !== undefined);
    return vs.length ? vs.reduce((a, b) => a + b, 0) / vs.length : null;
  };
  const out: KernelSummary[] = [];
  for (const [kernel, ls] of byKernel) {
    const totalUs = ls.reduce((a, l) => a + (l.metrics.get('Duration') ?? 0), 0);
    const k = {
      kernel,
      launches: ls.length,
      totalUs,
      meanUs: totalUs / ls.length,
      smPct: mean(ls, 'Compute (SM) Throughput') ?? 0,
      memPct: mean(ls, 'Memory Throughput') ?? 0,
      dramPct: mean(ls, 'DRAM Throughput'),
      occupancyPct: mean(ls, 'Achieved Occupancy'),
      registers: mean(ls, 'Registers Per Thread'),
    };
    out.push({ ...k, limiter: limiter(k) });
  }
  return out.sort((a, b) => b.totalUs - a.totalUs);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '3' }, json: { type: 'string' } } });
  if (positionals.length !== 1) {
    console.error('usage: node dist/bench/ncu-summary.js REPORT.csv [--top N] [--json FILE]');
    process.exit(2);
  }
  const all = summariseNcu(readFileSync(positionals[0], 'utf8'));
  const total = all.reduce((a, k) => a + k.totalUs, 0);
  const top = all.slice(0, Number(values.top));
  for (const k of top)
    console.log(
      `${k.kernel}: ${k.launches} launches, ${k.totalUs.toFixed(1)} us (${((100 * k.totalUs) / total).toFixed(0)}% of the profiled time), ` +
        `occupancy ${k.occupancyPct?.toFixed(0) ?? '?'}%, ${k.registers ?? '?'} registers: ${k.limiter}`,
    );
  if (values.json) writeFileSync(values.json, JSON.stringify({ profiledUs: total, kernels: all.length, top }, null, 2) + '\n');
}
