// The broadcasting elementwise ops of the native surface (binary, binaryBackward: the merge layers' kernels) and
// the Concatenate layer's copies (concatInto, sliceFrom), on the environment's backend: every op against a float64
// reference written here, gradients against their formulas and by finite differences, max/min ties, scale,
// aliasing, empty tensors, every refused call (a coded error, nothing written), and the same bits at one and two
// CPU threads. test/cuda.test.ts holds the CUDA backend to these on small integers.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { native, type BinaryOp, type NativeTensor } from '../lib/core/native.js';
import { I, T, close, disposeAll, exact, out, randomArray, rng } from './helpers.js';
import { BINARY_CASES, BINARY_OPS, binaryBackwardRef, binaryRef, broadcastShape, concatRef, operandData } from './sweep-refs.js';

const E = suite('elementwise binary ops and concat copies');
E.after.each(disposeAll);

const root = fileURLToPath(new URL('../..', import.meta.url));
const size = (shape: number[]) => shape.reduce((p, d) => p * d, 1);
const FWD_TOL = { atol: 1e-6, rtol: 1e-6 },
  GRAD_TOL = { atol: 1e-4, rtol: 1e-5 };

E('forward: every op over the broadcasting cases, against float64, with and without a scale', () => {
  const r = rng(1);
  for (const op of BINARY_OPS)
    for (const [as, bs] of BINARY_CASES)
      for (const scale of [undefined, 0.5, -3]) {
        const ys = broadcastShape(as, bs);
        const [a, b] = operandData(op, size(as), size(bs), r);
        const y = out(ys);
        native.binary(op, T(as, a), T(bs, b), y, scale);
        const label = `${op} ${JSON.stringify(as)} ${JSON.stringify(bs)} scale ${scale}`;
        close(y.read(), binaryRef(op, a, as, b, bs, scale ?? 1), FWD_TOL.atol, FWD_TOL.rtol, label);
        assert.equal(y.shape, ys, label);
      }
});

E('backward: both gradients, and each alone, against the formula summed over the broadcast axes', () => {
  const r = rng(2);
  for (const op of BINARY_OPS)
    for (const [as, bs] of BINARY_CASES)
      for (const scale of [undefined, 0.25]) {
        const ys = broadcastShape(as, bs);
        const [a, b] = operandData(op, size(as), size(bs), r);
        const dy = randomArray(size(ys), r);
        const ref = binaryBackwardRef(op, a, as, b, bs, dy, scale ?? 1);
        const label = `${op} ${JSON.stringify(as)} ${JSON.stringify(bs)} scale ${scale}`;
        const [ta, tb, tdy] = [T(as, a), T(bs, b), T(ys, dy)];
        const [da, db] = [out(as), out(bs)];
        native.binaryBackward(op, ta, tb, tdy, da, db, scale);
        close(da.read(), ref.da, GRAD_TOL.atol, GRAD_TOL.rtol, `${label}: da`);
        close(db.read(), ref.db, GRAD_TOL.atol, GRAD_TOL.rtol, `${label}: db`);
        const [da1, db1] = [out(as), out(bs)];
        native.binaryBackward(op, ta, tb, tdy, da1, null, scale);
        native.binaryBackward(op, ta, tb, tdy, null, db1, scale);
        exact(da1.read(), da.read(), `${label}: da alone`);
        exact(db1.read(), db.read(), `${label}: db alone`);
      }
});

E('backward by finite differences of sum(w * y) (away from max/min ties and division by small numbers)', () => {
  const r = rng(3);
  const h = 1e-2;
  for (const op of BINARY_OPS)
    for (const [as, bs] of [
      [
        [2, 3, 4],
        [3, 1],
      ],
      [
        [2, 1, 4],
        [1, 3, 1],
      ],
      [[1], [2, 3]],
    ]) {
      const ys = broadcastShape(as, bs);
      const [a, b] = operandData(op, size(as), size(bs), r);
      const w = randomArray(size(ys), r);
      const y = T(ys);
      const loss = (av: Float32Array, bv: Float32Array) => {
        native.binary(op, T(as, av), T(bs, bv), y);
        const v = y.read();
        let s = 0;
        for (let i = 0; i < v.length; ++i) s += v[i] * w[i];
        return s;
      };
      const [da, db] = [out(as), out(bs)];
      native.binaryBackward(op, T(as, a), T(bs, b), T(ys, w), da, db);
      for (const [which, x, g] of [
        ['a', a, da.read()],
        ['b', b, db.read()],
      ] as const) {
        const fd = new Float64Array(x.length);
        for (let i = 0; i < x.length; ++i) {
          const plus = x.slice(),
            minus = x.slice();
          plus[i] += h;
          minus[i] -= h;
          const [lp, lm] = which === 'a' ? [loss(plus, b), loss(minus, b)] : [loss(a, plus), loss(a, minus)];
          fd[i] = (lp - lm) / ((plus[i] - minus[i]) as number);
        }
        close(g, fd, 3e-3, 1e-2, `${op} ${JSON.stringify(as)} ${JSON.stringify(bs)}: d${which} by finite differences`);
      }
    }
});

E('max and min: NaN propagates, ties go to a (forward and gradient masks a >= b, a <= b)', () => {
  const a = Float32Array.of(1, 2, 3, -1, NaN, 0, 5),
    b = Float32Array.of(1, 3, 2, -1, 0, NaN, 5);
  const dy = Float32Array.of(1, 2, 3, 4, 5, 6, 7);
  for (const op of ['max', 'min'] as const) {
    const y = out([7]),
      [da, db] = [out([7]), out([7])];
    native.binary(op, T([7], a), T([7], b), y);
    const ys = Array.from(y.read());
    assert.equal(ys.slice(0, 4), op === 'max' ? [1, 3, 3, -1] : [1, 2, 2, -1], op);
    assert.ok(Number.isNaN(ys[4]) && Number.isNaN(ys[5]), `${op}: NaN propagates`);
    native.binaryBackward(op, T([7], a), T([7], b), T([7], dy), da, db);
    const toA = op === 'max' ? [1, 0, 3, 4, 0, 0, 7] : [1, 2, 0, 4, 0, 0, 7];
    assert.equal(Array.from(da.read()), toA, `${op}: da, ties to a`);
    assert.equal(
      Array.from(db.read()),
      toA.map((v, i) => (v ? 0 : dy[i])),
      `${op}: db, the rest`,
    );
  }
  // Broadcast ties: b [1] = 2 against a [6] holding 2 three times; db sums the positions a does not take.
  const av = Float32Array.of(2, 1, 2, 3, 2, 0),
    dyv = Float32Array.of(1, 2, 4, 8, 16, 32);
  const db = out([1]);
  native.binaryBackward('max', T([6], av), T([1], Float32Array.of(2)), T([6], dyv), null, db);
  assert.equal(Array.from(db.read()), [2 + 32], 'max: b takes only where a < b');
  native.binaryBackward('min', T([6], av), T([1], Float32Array.of(2)), T([6], dyv), null, db);
  assert.equal(Array.from(db.read()), [8], 'min: b takes only where a > b');
});

E('aliasing: y may be a or b when that operand has y shape, and a and b may be one tensor', () => {
  const r = rng(4);
  const a = randomArray(24, r),
    b = randomArray(4, r);
  const ta = T([2, 3, 4], a);
  native.binary('mul', ta, T([4], b), ta, 2);
  close(ta.read(), binaryRef('mul', a, [2, 3, 4], b, [4], 2), 1e-6, 1e-6, 'y = a');
  const tb = T([2, 3, 4], a);
  native.binary('sub', T([3, 1], b.subarray(0, 3)), tb, tb);
  close(tb.read(), binaryRef('sub', b.subarray(0, 3), [3, 1], a, [2, 3, 4], 1), 1e-6, 1e-6, 'y = b');
  const x = T([24], a),
    y = out([24]);
  native.binary('mul', x, x, y);
  close(y.read(), binaryRef('mul', a, [24], a, [24], 1), 1e-6, 1e-6, 'x * x');
  const [da, db] = [out([24]), out([24])];
  native.binaryBackward('mul', x, x, T([24], new Float32Array(24).fill(1)), da, db);
  close(da.read(), a, 0, 0, 'd(x*x)/da = x');
  native.binary('add', x, x, x);
  close(x.read(), binaryRef('add', a, [24], a, [24], 1), 0, 0, 'x = x + x in place');
});

E('empty tensors: nothing to compute; the gradient of an operand broadcast against nothing is 0', () => {
  const a = T([0, 3]),
    b = T([3], Float32Array.of(1, 2, 3));
  const y = T([0, 3]);
  native.binary('add', a, b, y);
  const [da, db] = [T([0, 3]), out([3])];
  native.binaryBackward('mul', a, b, T([0, 3]), da, db);
  assert.equal(Array.from(db.read()), [0, 0, 0]);
  const whole = T([2, 0, 3]);
  native.concatInto(T([2, 0, 1]), whole, 2, 1);
  native.sliceFrom(whole, T([2, 0, 2]), -1, 0);
});

/** y [2, 3, 4] cut into parts along each axis (negative too): concatInto builds y, sliceFrom gives the parts back. */
E('concatInto and sliceFrom: round trips along every axis, negative axes, int32', () => {
  const ys = [2, 3, 4],
    r = rng(5);
  for (const axis of [0, 1, 2, -1, -2, -3]) {
    const ax = axis < 0 ? axis + 3 : axis;
    const widths = ys[ax] === 2 ? [1, 1] : ys[ax] === 3 ? [2, 1] : [1, 0, 3];
    const parts = widths.map(w => {
      const shape = ys.slice();
      shape[ax] = w;
      return { shape, data: randomArray(size(shape), r) };
    });
    const y = out(ys);
    let offset = 0;
    for (const p of parts) {
      native.concatInto(T(p.shape, p.data), y, axis, offset);
      offset += p.shape[ax];
    }
    exact(
      y.read(),
      concatRef(
        parts.map(p => p.data),
        parts.map(p => p.shape),
        ax,
      ),
      `concat along ${axis}`,
    );
    offset = 0;
    for (const p of parts) {
      const x = out(p.shape);
      native.sliceFrom(y, x, axis, offset);
      exact(x.read(), p.data, `slice along ${axis} at ${offset}`);
      offset += p.shape[ax];
    }
  }
  const ints = I([2, 2], Int32Array.of(1, 2, 3, 4)),
    whole = I([2, 3], new Int32Array(6).fill(-9));
  native.concatInto(ints, whole, 1, 1);
  assert.equal(Array.from(whole.read()), [-9, 1, 2, -9, 3, 4]);
  const back = I([2, 1]);
  native.sliceFrom(whole, back, -1, 2);
  assert.equal(Array.from(back.read()), [2, 4]);
});

/** Each call throws a coded error and leaves every tensor as it was. */
function refused(code: string, re: RegExp, f: () => void, watched: NativeTensor[], what: string): void {
  const before = watched.map(t => Array.from(t.read()));
  assert.throws(f, (e: Error & { code?: string }) => e.code === code && re.test(e.message), what);
  watched.forEach((t, i) => assert.equal(Array.from(t.read()), before[i], `${what}: tensor ${i} unchanged`));
}

E('refused: a coded error naming the problem, nothing written', () => {
  const r = rng(6);
  const a = T([2, 3, 4], randomArray(24, r)),
    b = T([4], randomArray(4, r)),
    y = T([2, 3, 4], randomArray(24, r)),
    dy = T([2, 3, 4], randomArray(24, r)),
    da = T([2, 3, 4], randomArray(24, r)),
    db = T([4], randomArray(4, r)),
    ints = I([4]);
  const all = [a, b, y, dy, da, db];
  const B = native.binary,
    BB = native.binaryBackward;
  refused('ERR_KERNELNET_ARG', /expected op to be one of 'add', .* but received 'pow'/, () => B('pow' as BinaryOp, a, b, y), all, 'unknown op');
  refused('ERR_KERNELNET_ARG', /op/, () => BB('' as BinaryOp, a, b, dy, da, db), all, 'unknown op (backward)');
  refused('ERR_KERNELNET_SHAPE', /expected b to be a float32 tensor/, () => B('add', a, ints, y), all, 'int32 operand');
  refused('ERR_KERNELNET_SHAPE', /do not broadcast/, () => B('add', a, T([3]), y), all, 'shapes that do not broadcast');
  refused('ERR_KERNELNET_SHAPE', /do not broadcast/, () => BB('add', a, T([2, 1, 3]), dy, da, null), all, 'shapes that do not broadcast (backward)');
  refused(
    'ERR_KERNELNET_SHAPE',
    /expected y to be a float32 tensor of shape \[2,3,4\]/,
    () => B('add', a, b, T([3, 4])),
    all,
    'y of the wrong shape',
  );
  refused('ERR_KERNELNET_SHAPE', /expected y to be a float32 tensor/, () => B('add', a, b, I([2, 3, 4])), all, 'y of the wrong dtype');
  refused('ERR_KERNELNET_ARG', /y shares memory with b, which is broadcast/, () => B('add', T([3, 4]), b, b), all, 'y is the broadcast b');
  const own = T([4], randomArray(4, r)),
    view = new native.Tensor([2, 2], 'float32', own); // disposed with own
  refused(
    'ERR_KERNELNET_ARG',
    /y shares memory with a, which is broadcast/,
    () => B('add', view, T([3, 1, 1]), own),
    [...all, own],
    'y a view of the broadcast a',
  );
  refused('ERR_KERNELNET_ARG', /scale/, () => B('add', a, b, y, NaN), all, 'a NaN scale');
  refused('ERR_KERNELNET_ARG', /scale/, () => B('add', a, b, y, '2' as unknown as number), all, 'a string scale');
  refused(
    'ERR_KERNELNET_SHAPE',
    /expected dy to be a float32 tensor of shape \[2,3,4\]/,
    () => BB('mul', a, b, T([24]), da, db),
    all,
    'dy of the wrong shape',
  );
  refused(
    'ERR_KERNELNET_SHAPE',
    /expected da to be a float32 tensor of shape \[2,3,4\]/,
    () => BB('mul', a, b, dy, T([24]), db),
    all,
    'da not shaped as a',
  );
  refused(
    'ERR_KERNELNET_SHAPE',
    /expected db to be a float32 tensor of shape \[4\]/,
    () => BB('mul', a, b, dy, da, T([1, 4])),
    all,
    'db not shaped as b',
  );
  refused('ERR_KERNELNET_ARG', /da shares memory/, () => BB('add', a, b, dy, dy, db), all, 'da aliasing dy');
  refused('ERR_KERNELNET_ARG', /db shares memory/, () => BB('add', a, b, dy, null, b), all, 'db aliasing b');
  refused('ERR_KERNELNET_ARG', /shares memory/, () => BB('add', a, T([2, 3, 4]), dy, da, da), all, 'da and db one tensor');
  refused('ERR_KERNELNET_ARG', /expected a to be a Tensor/, () => B('add', {} as NativeTensor, b, y), all, 'not a tensor');
  const gone = T([4]);
  gone.dispose();
  refused('ERR_KERNELNET_DISPOSED', /b to be a live Tensor/, () => B('add', a, gone, y), all, 'a disposed operand');

  const whole = T([2, 5, 4], randomArray(40, r)),
    part = T([2, 2, 4], randomArray(16, r));
  const both = [whole, part];
  refused('ERR_KERNELNET_ARG', /expected axis to be an integer in \[-3, 2\]/, () => native.concatInto(part, whole, 3, 0), both, 'axis past the rank');
  refused('ERR_KERNELNET_ARG', /axis/, () => native.sliceFrom(whole, part, -4, 0), both, 'a negative axis past the rank');
  refused(
    'ERR_KERNELNET_SHAPE',
    /the slab \[4, 6\) along axis 1 is outside y/,
    () => native.concatInto(part, whole, 1, 4),
    both,
    'a slab past the end',
  );
  refused('ERR_KERNELNET_SHAPE', /outside y/, () => native.sliceFrom(whole, part, -2, 9), both, 'an offset past the end');
  refused('ERR_KERNELNET_ARG', /offset/, () => native.concatInto(part, whole, 1, -1), both, 'a negative offset');
  refused(
    'ERR_KERNELNET_SHAPE',
    /with y's dimensions except along axis 2/,
    () => native.concatInto(part, whole, 2, 0),
    both,
    'other dimensions differ',
  );
  refused('ERR_KERNELNET_SHAPE', /dtype and rank/, () => native.concatInto(I([2, 2, 4]), whole, 1, 0), both, 'another dtype');
  refused('ERR_KERNELNET_SHAPE', /dtype and rank/, () => native.concatInto(T([2, 8]), whole, 1, 0), both, 'another rank');
  refused('ERR_KERNELNET_SHAPE', /rank 1 to 8/, () => native.sliceFrom(T([]), T([]), 0, 0), both, 'rank 0');
  refused('ERR_KERNELNET_ARG', /the same tensor was passed/, () => native.concatInto(whole, whole, 0, 0), both, 'x is y');
});

E('rank 8 works; the ranks allowed are those of tensors (at most 8)', () => {
  const as = [2, 1, 2, 1, 2, 1, 2, 1],
    bs = [1, 2, 1, 2, 1, 2, 1, 2];
  const r = rng(7);
  const [a, b] = [randomArray(16, r), randomArray(16, r)];
  const y = out(broadcastShape(as, bs));
  native.binary('add', T(as, a), T(bs, b), y);
  close(y.read(), binaryRef('add', a, as, b, bs, 1), 1e-6, 1e-6, 'rank 8');
  const dy = randomArray(256, r);
  const db = out(bs);
  native.binaryBackward('add', T(as, a), T(bs, b), T(y.shape, dy), null, db);
  close(db.read(), binaryBackwardRef('add', a, as, b, bs, dy, 1).db, 1e-5, 1e-5, 'rank 8 gradient');
  assert.throws(
    () => T([1, 1, 1, 1, 1, 1, 1, 1, 1]),
    (e: Error & { code?: string }) => e.code === 'ERR_KERNELNET_ARG',
    'no tensor of rank 9',
  );
});

E('recorded into a program, the ops replay as the calls ran', () => {
  const r = rng(8);
  const a = T([4, 3], randomArray(12, r)),
    b = T([3], randomArray(3, r)),
    y = out([4, 3]),
    db = out([3]),
    whole = out([4, 5]);
  native.record();
  native.binary('mul', a, b, y, 2);
  native.binaryBackward('mul', a, b, y, null, db);
  native.concatInto(y, whole, 1, 2);
  native.concatInto(a, whole, -1, 0);
  const program = native.endRecord();
  program.run();
  const want = binaryRef('mul', a.read() as Float32Array, [4, 3], b.read() as Float32Array, [3], 2);
  close(y.read(), want, 1e-6, 1e-6, 'binary in a program');
  close(
    db.read(),
    binaryBackwardRef('mul', a.read() as Float32Array, [4, 3], b.read() as Float32Array, [3], y.read() as Float32Array, 1).db,
    1e-5,
    1e-5,
    'binaryBackward in a program',
  );
  program.dispose();
});

// The thread count is fixed at a process's start, so each count runs in a child node. Under qemu-user without
// binfmt (scripts/arm64.sh) the emulated node cannot start another: the check then says skipped, naming why.
const childNode = spawnSync(process.execPath, ['-e', '0'], { encoding: 'utf8' });
const canSpawn = childNode.status === 0;
const whyNot = childNode.error?.message ?? `it exited with status ${childNode.status}`;
if (!canSpawn) console.log(`  skipped: the thread-count check (this node cannot start a child node: ${whyNot})`);
(canSpawn ? E : E.skip)(
  `the same bits at one and two CPU threads (work split across the pool, sums in a fixed order)${canSpawn ? '' : ` (skipped: this node cannot start a child node: ${whyNot})`}`,
  () => {
    const script = `
    const { native } = await import('./dist/lib/core/native.js');
    const { createHash } = await import('node:crypto');
    let s = 12345;
    const rand = n => Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1);
    const T = (shape, data) => new native.Tensor(shape, 'float32', data, 'cpu');
    const hash = createHash('sha256');
    for (const [as, bs] of [[[16, 4096], [4096]], [[8, 64, 130], [8, 1, 130]], [[65536], [1]]]) {
      const ys = as.map((d, i) => Math.max(d, bs[i - as.length + bs.length] ?? 1));
      const n = ys.reduce((p, d) => p * d, 1), na = as.reduce((p, d) => p * d, 1), nb = bs.reduce((p, d) => p * d, 1);
      const a = T(as, rand(na)), b = T(bs, rand(nb)), y = T(ys), dy = T(ys, rand(n)), da = T(as), db = T(bs);
      for (const op of ['add', 'mul', 'div', 'max']) {
        native.binary(op, a, b, y, 0.3);
        native.binaryBackward(op, a, b, dy, da, db, 0.3);
        for (const t of [y, da, db]) hash.update(new Uint8Array(t.read().buffer));
      }
    }
    process.stdout.write(native.numThreads() + ' ' + hash.digest('hex'));`;
    const run = (threads: string) => {
      const res = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: root,
        env: { ...process.env, KERNELNET_NUM_THREADS: threads, KERNELNET_BACKEND: 'cpu' },
        encoding: 'utf8',
      });
      assert.is(res.status, 0, res.stderr);
      const [n, digest] = res.stdout.trim().split(' ');
      assert.is(n, threads, 'the thread count took');
      return digest;
    };
    assert.is(run('1'), run('2'));
  },
);

E.run();
