// The general tensor math's CPU side (cpp/cpu_math.cc) where the differential test against tfjs cannot see:
// reductions and scans give the same bits at every thread count (their order is fixed by the shape: long rows are
// cut into chunks of 2^16 first), long-row sums are exact on integers, the native guards refuse what would read
// outside a buffer, and kernelnet/tfjs's default export refuses an unknown member by name.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { native } from '../lib/core/native.js';
import tfDefault from '../lib/tfjs.js';

const T = suite('tensor math (CPU)');

// A child process: reductions of 300,000 pseudo-random floats (one long row, rows, columns) and a scan, as hex.
const script = `
import { native } from ${JSON.stringify(new URL('../lib/core/native.js', import.meta.url).href)};
const n = 300000, x = new Float32Array(n);
let s = 12345;
for (let i = 0; i < n; ++i) { s = (s * 1103515245 + 12345) >>> 0; x[i] = (s / 2 ** 32 - 0.5) * 1000; }
const t = new native.Tensor([n], 'float32', x, 'cpu');
const out = [];
for (const [op, dims] of [['sum', [1, n, 1]], ['sum', [3, n / 3, 1]], ['prod', [1, n, 1]], ['sum', [1, 300, 1000]], ['max', [1, n, 1]]]) {
  const y = new native.Tensor([dims[0] * dims[2]], 'float32', undefined, 'cpu');
  native.reduce(op, t, dims, y);
  out.push(Buffer.from(y.read().buffer).toString('hex'));
}
const c = new native.Tensor([n], 'float32', undefined, 'cpu');
native.scan('add', t, [1, n, 1], false, false, c);
out.push(Buffer.from(c.read().buffer).toString('hex').slice(-64));
console.log(JSON.stringify(out));
`;

function run(threads: string): string[] {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, KERNELNET_NUM_THREADS: threads, KERNELNET_BACKEND: 'cpu' },
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('..', import.meta.url)),
  });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as string[];
}

T('reductions and scans give the same bits on 1, 2 and 3 threads', () => {
  const one = run('1');
  assert.equal(run('2'), one, '2 threads');
  assert.equal(run('3'), one, '3 threads');
});

T('a long row (chunked) sums integers exactly; argMax over it keeps the first maximum', () => {
  const n = (1 << 17) + 123;
  const x = new Float32Array(n).map((_, i) => (i % 7) - 3);
  x[70000] = 50;
  x[90000] = 50;
  const t = new native.Tensor([n], 'float32', x, 'cpu');
  const y = new native.Tensor([], 'float32', undefined, 'cpu'),
    a = new native.Tensor([], 'int32', undefined, 'cpu');
  native.reduce('sum', t, [1, n, 1], y);
  native.reduce('argMax', t, [1, n, 1], a);
  const want = x.reduce((p, v) => p + v, 0); // small integers: exact in any order
  assert.is(y.read()[0], want);
  assert.is(a.read()[0], 70000);
  [t, y, a].forEach(h => h.dispose());
});

T('the native guards refuse a view outside its tensor, mismatched sizes and wrong dtypes', () => {
  const x = new native.Tensor([6], 'float32', undefined, 'cpu');
  const y = new native.Tensor([4], 'float32', undefined, 'cpu');
  const b = new native.Tensor([6], 'bool', undefined, 'cpu');
  const code = (fn: () => void, want: string, re: RegExp) => {
    try {
      fn();
    } catch (e) {
      assert.is((e as { code?: string }).code, want, (e as Error).message);
      assert.match((e as Error).message, re);
      return;
    }
    assert.unreachable(`expected ${want}`);
  };
  code(() => native.stridedCopy(x, y, [2], 0), 'ERR_KERNELNET_SHAPE', /outside x/);
  code(() => native.stridedCopy(x, y, [-1], 2), 'ERR_KERNELNET_SHAPE', /outside x/);
  code(() => native.mathUnary('exp', x, y), 'ERR_KERNELNET_SHAPE', /6 elements/);
  code(() => native.mathUnary('exp', b, b), 'ERR_KERNELNET_SHAPE', /does not take/);
  code(() => native.mathBinary('add', x, b, x), 'ERR_KERNELNET_SHAPE', /one dtype/);
  code(() => native.reduce('sum', x, [2, 2, 2], y), 'ERR_KERNELNET_SHAPE', /do not cover x/);
  code(() => native.reduce('all', x, [1, 6, 1], y), 'ERR_KERNELNET_SHAPE', /does not take/);
  code(() => native.mathUnary('nope' as 'exp', x, x), 'ERR_KERNELNET_ARG', /op/);
  [x, y, b].forEach(h => h.dispose());
});

T("kernelnet/tfjs's default export refuses a member it does not have, by name", () => {
  try {
    (tfDefault as unknown as Record<string, () => unknown>).lgamma();
    assert.unreachable('tf.lgamma');
  } catch (e) {
    assert.is((e as { code?: string }).code, 'ERR_KERNELNET_UNSUPPORTED');
    assert.match((e as Error).message, /tf\.lgamma/);
  }
  assert.type(tfDefault.add, 'function');
});

T.run();
