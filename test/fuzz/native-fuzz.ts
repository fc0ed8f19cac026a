// Addon boundary fuzzing, run in a child process by test/fuzz.test.ts (so that a crash is caught and reported
// with the seed that reproduces it), or by hand:
//   node dist/test/fuzz/native-fuzz.js --seed 42 --runs 2000
// Every exported native function, every tensor method and the public API are called with random and hostile
// arguments: wrong types, NaN, infinities, negative, fractional and huge sizes, wrong shapes and dtypes,
// disposed tensors, views of disposed tensors, tensors from another model, calls after dispose. Each call must
// either succeed or throw one of kernelnet's errors: a KernelnetError with a code from the one table.
// Prints one JSON line: { seed, runs, calls, threw, succeeded }.
import fc from 'fast-check';
import { parseArgs } from 'node:util';
import {
  Adadelta,
  Conv2D,
  Dense,
  Dropout,
  ERROR_CODES,
  Flatten,
  KernelnetError,
  MaxPooling2D,
  Sequential,
  Tensor,
  tensor,
  toCategorical,
} from '../../lib/index.js';
import { native, type NativeTensor } from '../../lib/core/native.js';

const { values } = parseArgs({ options: { seed: { type: 'string', default: '1' }, runs: { type: 'string', default: '500' } } });
const seed = Number(values.seed),
  runs = Number(values.runs);

const OPS = [
  'conv2dForward',
  'conv2dBackward',
  'maxPool2dForward',
  'maxPool2dBackward',
  'denseForward',
  'denseBackward',
  'dropoutForward',
  'dropoutBackward',
  'softmaxCrossEntropy',
  'softmax',
  'denseLoss',
  'adadelta',
  'gatherRows',
  'permutation',
  'randomUniform',
  'oneHot',
  'fromBytes',
  'advance',
  'gemmVariant',
  'record',
  'endRecord',
  'stats',
  'backend',
  'backends',
  'synchronize',
  'cpuKernel',
  'version',
] as const;

let calls = 0,
  threw = 0;
const pool: NativeTensor[] = [];

function expectSafe(what: string, fn: () => unknown): void {
  calls++;
  try {
    fn();
  } catch (e) {
    threw++;
    if (!(e instanceof Error)) throw new Error(`${what} threw a non-Error: ${String(e)}`);
    const code = (e as { code?: string }).code;
    if (!(e instanceof KernelnetError) || !code || !(code in ERROR_CODES))
      throw new Error(`${what} threw an error outside kernelnet's model: ${e.name} ${code ?? ''} ${e.message}`);
    if (e.message.length > 400) throw new Error(`${what} threw a ${e.message.length}-character message: ${e.message.slice(0, 200)}...`);
  }
}

// Small shapes (so valid calls stay cheap), some of them awkward.
const dim = fc.oneof(fc.integer({ min: 0, max: 6 }), fc.constantFrom(1, 2, 3, 7, 13, 28));
const shape = fc.array(dim, { minLength: 0, maxLength: 4 }).filter(s => s.reduce((a, b) => a * b, 1) <= 20_000);
const hostileNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(NaN, Infinity, -Infinity, -1, 0, 1, 2, 0.5, 2 ** 31, 2 ** 53, -(2 ** 40), 1e300),
);
const tensorArb = fc
  .record({ shape, dtype: fc.constantFrom('float32', 'int32') as fc.Arbitrary<'float32' | 'int32'>, disposed: fc.boolean(), view: fc.boolean() })
  .map(({ shape: s, dtype, disposed, view }) => {
    const t = new native.Tensor(s, dtype);
    pool.push(t);
    if (dtype === 'float32') t.fill(0.5);
    const v = view ? t.reshape([t.size]) : t;
    if (disposed) t.dispose();
    return v;
  });
const value: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: tensorArb },
  { weight: 2, arbitrary: hostileNumber },
  { weight: 1, arbitrary: fc.constantFrom('valid', 'same', 'float32', 'cpu', 'cuda', '', 'x'.repeat(100)) },
  { weight: 1, arbitrary: fc.constantFrom(null, undefined, true, false, {}, [], Symbol('s'), () => 1, 10n) },
  { weight: 1, arbitrary: fc.array(fc.oneof(fc.integer({ min: -3, max: 30 }), hostileNumber), { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.oneof(fc.float32Array({ maxLength: 64 }), fc.int32Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 })) },
  { weight: 1, arbitrary: fc.array(tensorArb, { maxLength: 4 }) },
);

const nativeCall = fc.record({ op: fc.constantFrom(...OPS), args: fc.array(value, { maxLength: 12 }) });
const tensorCall = fc.record({
  method: fc.constantFrom('read', 'readAsync', 'write', 'fill', 'reshape', 'dispose', 'shape', 'size'),
  target: tensorArb,
  args: fc.array(value, { maxLength: 3 }),
});
const ctorCall = fc.array(value, { maxLength: 5 });

fc.assert(
  fc.property(nativeCall, tensorCall, ctorCall, (n, t, c) => {
    expectSafe(`${n.op}(${n.args.length} args)`, () => (native[n.op] as (...a: unknown[]) => unknown)(...n.args));
    expectSafe(`tensor.${t.method}`, () => {
      const m = (t.target as unknown as Record<string, unknown>)[t.method];
      return typeof m === 'function' ? (m as (...a: unknown[]) => unknown).apply(t.target, t.args) : m;
    });
    expectSafe('new Tensor', () => new (native.Tensor as unknown as new (...a: unknown[]) => unknown)(...c));
    // If a call above started a recording, end it and run what it recorded, before and after its tensors go.
    let program: ReturnType<typeof native.endRecord> | null = null;
    try {
      program = native.endRecord();
    } catch {
      // not recording
    }
    if (program) expectSafe('program.run', () => program.run());
    for (const x of pool.splice(0)) x.dispose();
    if (program) {
      expectSafe('program.run after dispose', () => program.run());
      program.dispose();
    }
  }),
  { seed, numRuns: runs },
);

// The public API: a model, its methods with hostile arguments, tensors of another model, calls after dispose.
const apiCall = fc.record({
  method: fc.constantFrom('fit', 'evaluate', 'predict', 'setWeights', 'saveWeights', 'loadWeights', 'add', 'compile', 'summary'),
  args: fc.array(fc.oneof(value, fc.constant({ batchSize: 0 }), fc.constant({ epochs: -1 }), fc.constant({ verbose: 7 })), { maxLength: 3 }),
  disposeFirst: fc.boolean(),
});
const log = console.log;
console.log = () => {}; // summary() and friends print; keep the report clean
const x = tensor(new Float32Array(4 * 16).fill(0.3), [4, 4, 4, 1]),
  y = toCategorical([0, 1, 0, 1], 2);
let pending: Promise<unknown>[] = [];
fc.assert(
  fc.property(apiCall, a => {
    const m = new Sequential({
      seed: 1,
      layers: [
        new Conv2D({ filters: 2, kernelSize: 2, activation: 'relu', inputShape: [4, 4, 1] }),
        new MaxPooling2D({}),
        new Dropout({ rate: 0.5 }),
        new Flatten(),
        new Dense({ units: 2, activation: 'softmax' }),
      ],
    });
    m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta() });
    const other = new Sequential({ seed: 2, layers: [new Flatten({ inputShape: [4, 4, 1] }), new Dense({ units: 2, activation: 'softmax' })] });
    other.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta() });
    const args = a.args.map(v => (v === 'OTHER' ? other.getWeights() : v));
    if (a.disposeFirst) m.dispose();
    expectSafe(`model.${a.method}`, () => {
      const r = (m as unknown as Record<string, (...x: unknown[]) => unknown>)[a.method].apply(
        m,
        a.method === 'fit' && a.args.length === 0 ? [x, y, { verbose: 0 }] : args.map(v => (v instanceof Tensor ? v : v)),
      );
      if (r instanceof Promise)
        pending.push(
          r.catch(e => {
            if (!(e instanceof Error)) throw e;
          }),
        );
      return r;
    });
    expectSafe('setWeights(other model)', () => m.setWeights(other.getWeights()));
    m.dispose();
    other.dispose();
  }),
  { seed, numRuns: Math.max(1, Math.floor(runs / 5)) },
);
await Promise.all(pending);
pending = [];
console.log = log;
console.log(JSON.stringify({ seed, runs, calls, threw, succeeded: calls - threw }));
