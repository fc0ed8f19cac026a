// The Nsight Compute summary (bench/ncu-summary.ts) that the GPU check puts in its record: per-kernel totals,
// units, thousands separators, names and the limiter it names, on a report in ncu's CSV layout.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { limiter, shortName, summariseNcu } from '../bench/ncu-summary.js';

const header =
  '"ID","Process ID","Process Name","Host Name","Kernel Name","Context","Stream","Block Size","Grid Size","Device","CC","Section Name","Metric Name","Metric Unit","Metric Value"';
const gemm =
  'void kn::cu::(anonymous namespace)::sgemm_kernel<true, false>(int, int, int, const float *, int, const float *, int, float *, int, const float *, bool, bool)';
const row = (id: number, kernel: string, section: string, metric: string, unit: string, value: string) =>
  [id, 4242, 'node', '127.0.0.1', kernel, 1, 13, '(256, 1, 1)', '(96, 2, 1)', 0, '9.0', section, metric, unit, value].map(v => `"${v}"`).join(',');
const launch = (id: number, kernel: string, durationUs: string, unit: string, sm: string, mem: string, occ: string, regs: string) => [
  row(id, kernel, 'GPU Speed Of Light Throughput', 'Duration', unit, durationUs),
  row(id, kernel, 'GPU Speed Of Light Throughput', 'Compute (SM) Throughput', '%', sm),
  row(id, kernel, 'GPU Speed Of Light Throughput', 'Memory Throughput', '%', mem),
  row(id, kernel, 'GPU Speed Of Light Throughput', 'DRAM Throughput', '%', '12.5'),
  row(id, kernel, 'Occupancy', 'Achieved Occupancy', '%', occ),
  row(id, kernel, 'Launch Statistics', 'Registers Per Thread', 'register/thread', regs),
];
const csv = [
  '==PROF== Connected to process 4242 (/usr/bin/node)',
  '==PROF== Disconnected from process 4242',
  header,
  ...launch(0, gemm, '12,000', 'nsecond', '81.5', '40.2', '45.1', '128'),
  ...launch(
    1,
    'void kn::cu::(anonymous namespace)::dropout_kernel(const float *, float *, long long, float, float, unsigned long, unsigned long, const int *)',
    '2.5',
    'usecond',
    '10.0',
    '20.0',
    '80.0',
    '30',
  ),
  ...launch(2, gemm, '10.0', 'usecond', '78.5', '38.2', '47.1', '128'),
  ...launch(3, 'im2col_kernel(const float *, float *)', '0.3', 'msecond', '20.0', '91.0', '70.0', '24'),
].join('\n');

const Ncu = suite('ncu summary');

Ncu('aggregates launches per kernel, converts units and separators, sorts by total time', () => {
  const ks = summariseNcu(csv);
  assert.equal(
    ks.map(k => k.kernel),
    ['im2col_kernel', 'sgemm_kernel<true, false>', 'dropout_kernel'],
  );
  assert.match(ks[1].limiter, /^compute-bound \(SM 80% of peak\)/);
  const [im2col, sgemm, dropout] = ks;
  assert.is(im2col.totalUs, 300);
  assert.is(sgemm.launches, 2);
  assert.ok(Math.abs(sgemm.totalUs - 22) < 1e-9, `sgemm total ${sgemm.totalUs}`);
  assert.ok(Math.abs(sgemm.smPct - 80) < 1e-9 && Math.abs(sgemm.memPct - 39.2) < 1e-9 && sgemm.registers === 128);
  assert.match(im2col.limiter, /^memory-bound \(memory 91% of peak\)/);
  assert.match(dropout.limiter, /^launch- or size-bound/);
  assert.is(dropout.dramPct, 12.5);
});

Ncu('limiter names compute, memory, launch size, occupancy and latency', () => {
  assert.match(limiter({ smPct: 85, memPct: 30, occupancyPct: 50, meanUs: 100 }), /^compute-bound/);
  assert.match(limiter({ smPct: 20, memPct: 75, occupancyPct: 50, meanUs: 100 }), /^memory-bound/);
  assert.match(limiter({ smPct: 20, memPct: 30, occupancyPct: 10, meanUs: 100 }), /^occupancy-bound \(achieved 10%/);
  assert.match(limiter({ smPct: 20, memPct: 30, occupancyPct: 50, meanUs: 100 }), /^latency-bound/);
});

Ncu('names lose their namespaces and argument lists, keep template arguments', () => {
  assert.is(shortName(gemm), 'sgemm_kernel<true, false>');
  assert.is(
    shortName('void at::native::vectorized_elementwise_kernel<4, at::native::FillFunctor<float>, std::array<char *, 1>>(int, T2, T3)'),
    'vectorized_elementwise_kernel<4, at::native::FillFunctor<float>, std::array<char *, 1>>',
  );
  assert.is(shortName('plain_kernel'), 'plain_kernel');
});

Ncu('refuses text that is not an ncu CSV report', () => {
  assert.throws(() => summariseNcu('hello'), /not an Nsight Compute CSV report/);
});

Ncu.run();
