// kernelnet/tfjs's tensor operations against TensorFlow.js itself (@tensorflow/tfjs-core on its CPU backend; tf.metrics
// from @tensorflow/tfjs-layers), differentially and property-based: for every op in test/tfjs-ops-table.ts a seeded
// generator makes random calls (shapes of rank 0-5 with 0- and 1-sized dims, broadcasting, int32 / bool operands,
// NaN and infinities where tfjs defines them, invalid arguments) and both libraries must agree on the dtype, the
// shape and the values (floats within a tolerance per op), or both throw (kernelnet with a ValidationError).
// Ops are called by name, so an op kernelnet does not have fails here, naming it.
//
//   KERNELNET_TFJS_OPS_DEVICE=cuda      run on kernelnet's GPU (fewer cases), results must stay there
//   KERNELNET_TFJS_OPS_CASES=N          cases per op (default 30, 6 on the GPU)
//   KERNELNET_TFJS_OPS_SEED=N           the run's seed (default 20240611); a failure prints it
//   KERNELNET_TFJS_OPS_ONLY=REGEX       only the ops whose names match
//   KERNELNET_TFJS_OPS_REPLAY='op#i'    only case i of op, as a failure prints it
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as tfc from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import * as kn from '../lib/tfjs.js';
import { KernelnetError, ValidationError } from '../lib/core/errors.js';
import { ALL_OPS, UNSUPPORTED, registerTfjsChainedOps, runOp, statsOf, type Side, type Stats } from './tfjs-ops-table.js';

tfc.env().set('IS_TEST', true);
registerTfjsChainedOps(tfc as unknown as Record<string, unknown>);

const env = process.env;
const DEVICE = env.KERNELNET_TFJS_OPS_DEVICE || undefined;
const CASES = Number(env.KERNELNET_TFJS_OPS_CASES || (DEVICE ? 6 : 30));
const SEED = Number(env.KERNELNET_TFJS_OPS_SEED || 20240611);
const ONLY = env.KERNELNET_TFJS_OPS_ONLY ? new RegExp(env.KERNELNET_TFJS_OPS_ONLY) : undefined;
const [REPLAY_OP, REPLAY_CASE] = (env.KERNELNET_TFJS_OPS_REPLAY ?? '').split('#');

const knAny = kn as unknown as Record<string, unknown>;

const TFJS: Side = {
  label: 'tfjs',
  ns: { ...(tfc as unknown as Record<string, unknown>), metrics: tfl.metrics },
  isTensor: x => x instanceof tfc.Tensor,
  liveTensors: () => tfc.memory().numTensors,
  refusal: () => null,
  wrap: fn => tfc.tidy(fn as () => tfc.TensorContainer) as ReturnType<typeof fn>,
};

const KERNELNET: Side = {
  label: 'kernelnet/tfjs',
  ns: knAny,
  isTensor: x => x instanceof kn.Tensor,
  liveTensors: () => kn.memory().numTensors,
  refusal: e =>
    e instanceof ValidationError && String((e as KernelnetError).code).startsWith('ERR_KERNELNET')
      ? null
      : `throws ${e instanceof Error ? e.constructor.name : typeof e}, not a ValidationError with an ERR_KERNELNET code`,
  device: DEVICE,
};

const O = suite('kernelnet/tfjs ops against tfjs');
let deviceProblem: string | undefined;

O.before(async () => {
  await tfc.setBackend('cpu');
  if (DEVICE && !(await kn.setBackend(DEVICE))) deviceProblem = `kn.setBackend('${DEVICE}') resolved false: no such device here`;
});
O.after(async () => {
  if (DEVICE) await kn.setBackend('tensorflow'); // back to kernelnet's default device for the suites after this one
});

const selected = ALL_OPS.filter(
  (s, i, all) => (REPLAY_OP ? s.name === REPLAY_OP : !ONLY || ONLY.test(s.name)) && all.findIndex(t => t.name === s.name) === i, // topk has two entries (sorted and not): one test runs both
);

O('every op in the table is a tfjs op (the table itself is right)', () => {
  for (const s of ALL_OPS) {
    if (s.name.startsWith('Tensor.')) {
      assert.type((tfc.Tensor.prototype as unknown as Record<string, unknown>)[s.method as string], 'function', s.name);
      continue;
    }
    let at: unknown = TFJS.ns;
    for (const p of s.name.split('.')) at = (at as Record<string, unknown>)[p];
    assert.type(at, 'function', `tfjs has tf.${s.name}`);
    if (s.method) assert.type((tfc.Tensor.prototype as unknown as Record<string, unknown>)[s.method], 'function', `tfjs has t.${s.method}()`);
  }
});

for (const spec of selected) {
  const variants = ALL_OPS.filter(s => s.name === spec.name);
  O(`tf.${spec.name}`, () => {
    if (deviceProblem) assert.unreachable(deviceProblem);
    const lines: string[] = [];
    let cases = 0,
      failed = 0;
    for (const v of variants) {
      const r = runOp(v, TFJS, KERNELNET, {
        seed: SEED,
        cases: Math.max(1, Math.round((CASES * (v.weight ?? 1)) / variants.length)),
        only: REPLAY_CASE === undefined ? undefined : Number(REPLAY_CASE),
      });
      cases += r.cases;
      failed += r.failed;
      lines.push(...r.failures);
    }
    if (failed)
      assert.unreachable(
        `tf.${spec.name}: ${failed} of ${cases} cases disagree with tfjs${DEVICE ? ` on '${DEVICE}'` : ''}\n  - ${lines.join('\n  - ')}`,
      );
  });
}

// --- random ops: statistics over 100k draws, and seeds that repeat themselves ----------------------------------

interface RandomCase {
  name: 'randomNormal' | 'randomUniform' | 'truncatedNormal';
  /** Arguments after the shape and before the dtype and seed. */
  params: [number, number];
  dtype: 'float32' | 'int32';
}
const RANDOM_CASES: RandomCase[] = [
  { name: 'randomNormal', params: [0, 1], dtype: 'float32' },
  { name: 'randomNormal', params: [3, 0.5], dtype: 'float32' },
  { name: 'randomNormal', params: [-2, 4], dtype: 'int32' },
  { name: 'randomUniform', params: [0, 1], dtype: 'float32' },
  { name: 'randomUniform', params: [-3, 5], dtype: 'float32' },
  { name: 'randomUniform', params: [-5, 10], dtype: 'int32' },
  { name: 'truncatedNormal', params: [0, 1], dtype: 'float32' },
  { name: 'truncatedNormal', params: [1, 2], dtype: 'float32' },
];
const DRAWS = [400, 250]; // 100k

function draw(side: Side, rc: RandomCase, seed?: number): Stats & { head: number[] } {
  const f = side.ns[rc.name];
  if (typeof f !== 'function') throw new Error(`${side.label} has no tf.${rc.name}`);
  const t = f(DRAWS, ...rc.params, rc.dtype, seed) as { dtype: string; shape: number[]; dataSync(): ArrayLike<number>; dispose(): void };
  try {
    return { ...statsOf(t), head: Array.from(t.dataSync()).slice(0, 64) };
  } finally {
    t.dispose();
  }
}

for (const name of ['randomNormal', 'randomUniform', 'truncatedNormal'] as const) {
  if (REPLAY_OP ? REPLAY_OP !== name : ONLY && !ONLY.test(name)) continue;
  O(`tf.${name}: shape, dtype, mean, stddev, min and max over 100k draws; a seed repeats itself`, () => {
    if (deviceProblem) assert.unreachable(deviceProblem);
    const before = KERNELNET.liveTensors();
    for (const rc of RANDOM_CASES.filter(r => r.name === name)) {
      const what = `tf.${name}([${DRAWS}], ${rc.params.join(', ')}, '${rc.dtype}', seed)`;
      const ref = draw(TFJS, rc, 7);
      const got = draw(KERNELNET, rc, 7);
      assert.equal(got.shape, ref.shape, `${what}: shape`);
      assert.is(got.dtype, ref.dtype, `${what}: dtype`);
      // tfjs's own statistics, with room for two independent samples of 100k (6 standard errors)
      const se = Math.max(ref.std, 0.3) / Math.sqrt(ref.n);
      const fail = (stat: string, detail = '') =>
        `${what}: ${stat} ${JSON.stringify({ kernelnet: pick(got), tfjs: pick(ref) })}${detail ? ` (${detail})` : ''}`;
      assert.ok(Math.abs(got.mean - ref.mean) < 6 * se * Math.SQRT2 + (rc.dtype === 'int32' ? 0.02 : 0), fail('mean'));
      assert.ok(Math.abs(got.std - ref.std) < 6 * se + (rc.dtype === 'int32' ? 0.02 : 0), fail('stddev'));
      const [mu, sigma] = rc.params;
      if (name === 'randomUniform') {
        assert.ok(got.min >= mu && got.max <= sigma, fail('range', `every draw in [${mu}, ${sigma})`));
        assert.ok(got.min === ref.min || Math.abs(got.min - ref.min) < (sigma - mu) * 2e-4 + (rc.dtype === 'int32' ? 1 : 0), fail('min'));
        assert.ok(got.max === ref.max || Math.abs(got.max - ref.max) < (sigma - mu) * 2e-4 + (rc.dtype === 'int32' ? 1 : 0), fail('max'));
      } else if (name === 'truncatedNormal') {
        assert.ok(got.min >= mu - 2 * sigma && got.max <= mu + 2 * sigma, fail('range', 'within 2 stddevs of the mean'));
        assert.ok(got.min < mu - 1.99 * sigma && got.max > mu + 1.99 * sigma, fail('range', 'reaches near 2 stddevs'));
      } else {
        // the extremes of 100k normal draws: beyond 3.5 and within 6.5 stddevs (both hold with overwhelming odds)
        const lo = (mu - got.min) / sigma,
          hi = (got.max - mu) / sigma;
        assert.ok(lo > 3.5 && lo < 6.5 && hi > 3.5 && hi < 6.5, fail('min/max', `${lo.toFixed(2)} and ${hi.toFixed(2)} stddevs out`));
      }
      const again = draw(KERNELNET, rc, 7);
      assert.equal(again.head, got.head, `${what}: the same seed gives the same draws`);
      const other = draw(KERNELNET, rc, 8);
      assert.not.equal(other.head, got.head, `${what}: another seed gives other draws`);
      const unseeded = [draw(KERNELNET, rc), draw(KERNELNET, rc)];
      assert.not.equal(unseeded[0].head, unseeded[1].head, `${what} without a seed: two calls give other draws`);
    }
    assert.is(KERNELNET.liveTensors(), before, `tf.${name} leaves no tensor behind`);
  });
}
const pick = (s: Stats) => ({ mean: +s.mean.toFixed(4), std: +s.std.toFixed(4), min: +s.min.toFixed(4), max: +s.max.toFixed(4) });

// --- refused by name ------------------------------------------------------------------------------------------------

O('tfjs ops kernelnet/tfjs does not do are refused with ERR_KERNELNET_UNSUPPORTED, as tf.X(...) and as t.X()', () => {
  if (REPLAY_OP || ONLY) return;
  const problems: string[] = [];
  const code = (fn: () => unknown): string => {
    try {
      fn();
      return 'returned normally';
    } catch (e) {
      const c = (e as { code?: unknown }).code;
      if (c === 'ERR_KERNELNET_UNSUPPORTED' && e instanceof ValidationError) return 'ok';
      return `threw ${e instanceof Error ? `${e.constructor.name}${c ? ` ${String(c)}` : ''}: ${e.message.slice(0, 120)}` : String(e)}`;
    }
  };
  const x = kn.tensor([1, 2, 3, 4], [2, 2]);
  try {
    for (const name of UNSUPPORTED) {
      assert.type((tfc as unknown as Record<string, unknown>)[name], 'function', `tf.${name} is a tfjs op (the list is right)`);
      const f = code(() => (knAny[name] as (...a: unknown[]) => unknown)(x));
      if (f !== 'ok') problems.push(`tf.${name}(x) ${f}`);
      if (typeof (tfc.Tensor.prototype as unknown as Record<string, unknown>)[name] === 'function') {
        const m = code(() => (x as unknown as Record<string, () => unknown>)[name]());
        if (m !== 'ok') problems.push(`t.${name}() ${m}`);
      }
    }
  } finally {
    x.dispose();
  }
  if (problems.length) assert.unreachable(`expected a ValidationError with code ERR_KERNELNET_UNSUPPORTED:\n  - ${problems.join('\n  - ')}`);
});

O("tf.Reduction has tfjs-core's members and values", () => {
  if (REPLAY_OP || ONLY) return;
  assert.ok(knAny.Reduction, 'kernelnet/tfjs has no tf.Reduction');
  for (const k of ['NONE', 'MEAN', 'SUM', 'SUM_BY_NONZERO_WEIGHTS'])
    assert.is((knAny.Reduction as Record<string, unknown>)[k], (tfc.Reduction as unknown as Record<string, unknown>)[k], `tf.Reduction.${k}`);
});

O.run();
