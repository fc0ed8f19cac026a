// The public API: layer and model validation messages, summary, tensors and memory, the native guards, the
// backend choice, and the portable (non-AVX2) GEMM path.
import { spawnSync } from 'node:child_process';
import { inspect } from 'node:util';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Adadelta,
  Conv2D,
  Dense,
  DeviceError,
  Dropout,
  ERROR_CODES,
  Flatten,
  KernelnetError,
  Sequential,
  StateError,
  ValidationError,
  backend,
  memory,
  nativeBinary,
  tensor,
  toCategorical,
} from '../lib/index.js';
import { makeError } from '../lib/core/errors.js';
import { native } from '../lib/core/native.js';
import { seedModel, smallModel, syntheticData, throwsA } from './helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The tensors this thread owns (GPU scratch, which may grow, is left out). */
function owned() {
  const { liveTensors, bytesInUse } = memory();
  return { liveTensors, bytesInUse };
}

const Layers = suite('layers and model validation');

Layers('layer arguments are checked with one message shape', () => {
  assert.throws(() => new Conv2D({ filters: -3, kernelSize: 3 }), /^Expected positive integer for filters but received -3 of type number$/);
  assert.throws(
    () => new Conv2D({ filters: 8, kernelSize: [3, 0] as [number, number] }),
    /Expected positive integer or \[positive integer, positive integer\] for kernelSize but received \[3, 0\]/,
  );
  assert.throws(
    () => new Conv2D({ filters: 8, kernelSize: 3, activation: 'hardTanh' as 'relu' }),
    /Expected one of 'linear', 'relu', .*'leaky_relu', 'softmax' for activation but received 'hardTanh' of type string/,
  );
  assert.throws(() => new Dropout({ rate: 1 }), /Expected number in \[0, 1\) for rate but received 1 of type number/);
  assert.throws(() => new Dense({ units: 2.5 }), /Expected positive integer for units but received 2.5 of type number/);
  assert.throws(() => new Adadelta({ rho: 2 }), /Expected number in \[0, 1\] for rho but received 2/);
});

Layers('models check shapes as layers are added', () => {
  assert.throws(() => new Sequential().add(new Dense({ units: 3 })), /first layer of a Sequential model needs an inputShape/);
  const m = new Sequential();
  m.add(new Conv2D({ filters: 2, kernelSize: 3, inputShape: [8, 8, 1] }));
  assert.throws(() => m.add(new Dense({ units: 3 })), /Dense expects a flat input but the input shape is \[6, 6, 2\]; add a Flatten layer/);
  assert.throws(() => m.add(new Conv2D({ filters: 2, kernelSize: 7 })), /a 7x7 kernel does not fit an input of shape \[6, 6, 2\]/);
});

Layers('compile checks the loss, the head and the optimizer', () => {
  const m = smallModel(1);
  assert.throws(
    () => m.compile({ loss: 'hinge' as 'mse', optimizer: new Adadelta() }),
    /Expected a loss \('categoricalCrossentropy', .* but received 'hinge'/,
  );
  const linear = new Sequential({ layers: [new Flatten({ inputShape: [2, 2] }), new Dense({ units: 2 })] });
  assert.throws(() => linear.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta() }), /needs a last layer with activation 'softmax'/);
  assert.throws(() => m.compile({ loss: 'categorical_crossentropy', optimizer: 'nadam' as 'adadelta' }), /Expected an optimizer/);
  assert.throws(
    () => m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta(), metrics: ['auc'] }),
    /Expected a metric name \('accuracy', .* for metric but received 'auc'/,
  );
});

Layers('summary prints the Keras table with 1,199,882 parameters for the seed model', () => {
  const lines: string[] = [];
  const text = seedModel(1, false).summary(l => lines.push(l));
  assert.is(lines.join('\n'), text);
  assert.match(text, /conv2d \(Conv2D\) +\(None, 26, 26, 32\) +320\n/);
  assert.match(text, /conv2d_1 \(Conv2D\) +\(None, 24, 24, 64\) +18496\n/);
  assert.match(text, /max_pooling2d \(MaxPooling2D\) \(None, 12, 12, 64\) +0\n/);
  assert.match(text, /flatten \(Flatten\) +\(None, 9216\) +0\n/);
  assert.match(text, /dense \(Dense\) +\(None, 128\) +1179776\n/);
  assert.match(text, /dense_1 \(Dense\) +\(None, 10\) +1290\n/);
  assert.match(text, /Total params: 1,199,882\n/);
});

Layers('fit, evaluate and predict refuse wrong data with the shapes', async () => {
  const m = smallModel(1);
  const { x, y } = syntheticData(6);
  try {
    await m.fit(x, y);
    assert.unreachable('fit before compile');
  } catch (e) {
    assert.match((e as Error).message, /not compiled; call compile\(\) first/);
  }
  m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta() });
  const wrong = tensor(new Float32Array(6 * 49), [6, 7, 7, 1]);
  const short = toCategorical([0, 1, 2], 3);
  const errors: string[] = [];
  for (const run of [
    () => m.fit(wrong, y, { verbose: 0 }),
    () => m.fit(x, short, { verbose: 0 }),
    () => m.fit(x, y, { batchSize: 0, verbose: 0 }),
    () => m.fit(x, y, { verbose: 0, validationData: [x] as unknown as [typeof x, typeof y] }),
  ]) {
    try {
      await run();
      errors.push('no error');
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  assert.match(errors[0], /Expected x to be a float32 tensor of shape \[N, 8, 8, 1\] but received float32 \[6, 7, 7, 1\]/);
  assert.match(errors[1], /Expected x and y to hold the same number of examples but received 6 and 3/);
  assert.match(errors[2], /Expected positive integer for batchSize but received 0/);
  assert.match(errors[3], /Expected \[x, y\] tensors or a Dataset for validationData/);
  y.dispose();
  assert.throws(
    () => m.evaluate(x, y),
    (e: Error & { code?: string }) => e.code === 'ERR_KERNELNET_DISPOSED' && /y is a disposed Tensor/.test(e.message),
  );
  m.dispose();
  x.dispose();
  wrong.dispose();
  short.dispose();
});

Layers.run();

const Tensors = suite('tensors and memory');

Tensors('tensor() checks its data against the shape; dispose frees memory', () => {
  const before = owned();
  assert.throws(() => tensor(new Float32Array(5), [2, 3]), /Expected 6 values for shape \[2, 3\] but received 5/);
  const t = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  assert.equal(t.shape, [2, 3]);
  assert.is(t.dtype, 'float32');
  const r = t.reshape([3, 2]); // a copy (tfjs: it outlives t), freed on its own
  assert.equal(Array.from(r.dataSync()), [1, 2, 3, 4, 5, 6]);
  assert.is(memory().liveTensors, before.liveTensors + 2);
  r.dispose();
  assert.is(memory().liveTensors, before.liveTensors + 1);
  assert.is(memory().bytesInUse, before.bytesInUse + 24);
  t.dispose();
  assert.ok(t.isDisposed);
  assert.throws(() => t.dataSync(), /the tensor was disposed/);
  assert.equal(owned(), before);
});

Tensors('arraySync gives nested arrays; toString, print and console.log show dtype, shape, device and a few values', () => {
  const t = tensor([
    [1, 2.5, 3],
    [4, 5, 6],
  ]);
  assert.equal(t.arraySync(), [
    [1, 2.5, 3],
    [4, 5, 6],
  ]);
  const scalar = tensor(7);
  assert.is(scalar.arraySync(), 7);
  scalar.dispose();
  assert.is(String(t), `Tensor float32 [2, 3] ${t.device} [[1, 2.5, 3], [4, 5, 6]]`);
  assert.is(inspect(t), String(t));
  const big = tensor(
    Int32Array.from({ length: 1000 }, (_, i) => i),
    [10, 100],
  );
  assert.match(
    String(big),
    /^Tensor int32 \[10, 100\] \w+ \[\[0, 1, 2, \.\.\., 97, 98, 99\], \[100, 101, 102, \.\.\., 197, 198, 199\], \[200, 201, 202, \.\.\., 297, 298, 299\], \.\.\., \[700, /,
  );
  assert.ok(String(big).length < 400, 'a few values per axis');
  t.dispose();
  big.dispose();
  assert.is(String(t), 'Tensor(disposed)');
});

Tensors('toCategorical one-hot encodes and rejects labels out of range', () => {
  const y = toCategorical([2, 0, 1], 3);
  assert.equal(Array.from(y.dataSync()), [0, 0, 1, 1, 0, 0, 0, 1, 0]);
  y.dispose();
  assert.throws(() => toCategorical([0, 3], 3), /Expected labels in \[0, 3\) but labels\[1\] is 3/);
});

Tensors('training, evaluating, predicting and disposing a model leave no tensor behind', async () => {
  const before = owned();
  const { x, y } = syntheticData(30);
  const m = smallModel(3);
  m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta(), metrics: ['accuracy'] });
  const history = await m.fit(x, y, { batchSize: 8, epochs: 2, verbose: 0, validationData: [x, y] });
  // The fixed log keys: loss, each metric, val_* with validation data, and the learning rate.
  assert.equal(Object.keys(history.history), ['loss', 'accuracy', 'val_loss', 'val_accuracy', 'lr']);
  assert.equal(
    history.history.lr,
    history.history.loss.map(() => 1),
  );
  assert.is(history.history.loss.length, 2);
  const [loss, acc] = m.evaluate(x, y, { batchSize: 7 });
  assert.ok(loss > 0 && acc >= 0 && acc <= 1);
  const p = m.predict(x, { batchSize: 9 });
  assert.equal(p.shape, [30, 3]);
  const probs = p.dataSync();
  for (let i = 0; i < 30; ++i) assert.ok(Math.abs(probs[i * 3] + probs[i * 3 + 1] + probs[i * 3 + 2] - 1) < 1e-5);
  p.dispose();
  m.dispose();
  x.dispose();
  y.dispose();
  assert.equal(owned(), before);
});

Tensors('a seed makes training reproducible; another seed changes it', async () => {
  const { x, y } = syntheticData(24);
  const losses = async (seed: number) => {
    const m = smallModel(seed);
    m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta() });
    const h = await m.fit(x, y, { batchSize: 5, epochs: 3, verbose: 0 });
    m.dispose();
    return h.history.loss;
  };
  const a = await losses(11);
  assert.equal(await losses(11), a);
  assert.not.equal(await losses(12), a);
  assert.ok(a[2] < a[0], `loss went from ${a[0]} to ${a[2]}`);
  x.dispose();
  y.dispose();
});

Tensors('the progress bar prints one Keras line per epoch off a TTY', async () => {
  const { x, y } = syntheticData(10);
  const m = smallModel(5);
  m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta(), metrics: ['accuracy'] });
  let text = '';
  await m.fit(x, y, { batchSize: 4, epochs: 2, verbose: 1, validationData: [x, y], out: { write: (s: string) => (text += s) } });
  const lines = text.trimEnd().split('\n');
  assert.is(lines.length, 4);
  assert.is(lines[0], 'Epoch 1/2');
  assert.match(
    lines[1],
    /^3\/3 \[={30}\] - \d+s \d+(ms|us)\/step - loss: \d\.\d{4} - accuracy: \d\.\d{4} - val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4}$/,
  );
  m.dispose();
  x.dispose();
  y.dispose();
});

Tensors('a non-finite loss stops fit with the epoch and step, unless told to train on', async () => {
  const { x, y } = syntheticData(12);
  const data = x.dataSync() as Float32Array;
  data.fill(NaN, 9 * 64, 10 * 64); // example 9 is all NaN: with batches of 4 in order, step 3 of epoch 1
  const bad = tensor(data, [12, 8, 8, 1]);
  const m = smallModel(9);
  m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta() });
  try {
    await m.fit(bad, y, { batchSize: 4, epochs: 2, verbose: 0, shuffle: false });
    assert.unreachable('fit went on');
  } catch (e) {
    const err = e as Error & { code?: string; epoch?: number; step?: number };
    assert.is(err.code, 'ERR_KERNELNET_NON_FINITE', err.message);
    assert.match(err.message, /non-finite at epoch 1\/2, step 3\/3/);
    assert.equal([err.epoch, err.step], [1, 3]);
  }
  const h = await m.fit(bad, y, { batchSize: 4, epochs: 1, verbose: 0, shuffle: false, stopOnNonFiniteLoss: false });
  assert.ok(Number.isNaN(h.history.loss[0]));
  m.dispose();
  for (const t of [x, y, bad]) t.dispose();
});

Tensors.run();

const Guards = suite('native guards');

Guards('every native function throws a coded error, never crashes, on hostile arguments', () => {
  const t = new native.Tensor([2, 2], 'float32');
  const disposed = new native.Tensor([2], 'float32');
  disposed.dispose();
  const hostile: unknown[][] = [
    [],
    [1, 2, 3],
    [null, null, null, null, null, null, null, null, null, null, null],
    [{}, {}, {}, {}, 1, 1, 'valid', true],
    [t, t, t, t, t, t, t, 1, 1, 'valid', true],
    [disposed, disposed, disposed, disposed],
    [t, 'x', NaN, -1, 1e300],
    [Object.create(native.Tensor.prototype), t, t, t, true],
  ];
  let calls = 0;
  for (const [name, fn] of Object.entries(native)) {
    if (
      typeof fn !== 'function' ||
      name === 'Tensor' ||
      name === 'Program' ||
      name === 'record' ||
      ['stats', 'backend', 'backends', 'synchronize', 'numThreads', 'cpuKernel', 'version', 'cpuPeakGflops'].includes(name)
    )
      continue;
    for (const args of hostile) {
      calls++;
      try {
        (fn as (...a: unknown[]) => unknown)(...args);
        assert.unreachable(`${name}(${args.length} args) did not throw`);
      } catch (e) {
        const err = e as Error & { code?: string };
        assert.instance(err, KernelnetError, `${name}: ${err.message}`);
        assert.ok(err.code! in ERROR_CODES, `${name}: ${err.code}`);
        assert.match(err.message, new RegExp(`^${name}: `), `${name}: ${err.message}`);
      }
    }
  }
  assert.ok(calls > 100);
  assert.throws(
    () => native.denseForward(t, t, t, t, 'relu'),
    /^denseForward: expected b to be a float32 tensor of shape \[2\] \[O\] but received float32 tensor of shape \[2,2\]$/,
  );
  assert.throws(() => new native.Tensor([-1], 'float32'), /expected shape\[0\] to be an integer in \[0, 2147483647\] but received -1/);
  assert.throws(() => new native.Tensor([2 ** 20, 2 ** 20], 'float32'), /more than 2\^36 elements/);
  assert.throws(
    () => new native.Tensor([2], 'float64' as 'float32'),
    /expected dtype to be one of 'float32', 'int32', 'bool' but received 'float64'/,
  );
  assert.throws(() => t.write(new Float64Array(4) as unknown as Float32Array), /expected data to be a Float32Array but received a Float64Array/);
  t.dispose();
});

// One error model (lib/core/errors.ts): the addon throws the classes TypeScript throws, made by the factory it is
// handed at load, with a code from the one table and the class that table names for it.
Guards('errors from C++ and from TypeScript share classes, codes and the table', () => {
  const t = new native.Tensor([2], 'float32');
  const caught = (fn: () => unknown): KernelnetError => {
    try {
      fn();
    } catch (e) {
      return e as KernelnetError;
    }
    throw new Error('did not throw');
  };
  const fromCpp = caught(() => native.denseForward(t, t, t, t, 'relu'));
  assert.instance(fromCpp, ValidationError);
  assert.is(fromCpp.code, 'ERR_KERNELNET_SHAPE');
  assert.is(fromCpp.name, 'ValidationError');
  assert.match(fromCpp.stack!, /api\.test\.js/, 'the stack points at the caller');
  const fromTs = caught(() => tensor([1, 2, 3], [2]));
  assert.instance(fromTs, ValidationError);
  assert.is(fromTs.code, 'ERR_KERNELNET_SHAPE');
  t.dispose();
  const disposed = caught(() => t.read());
  assert.instance(disposed, StateError);
  assert.is(disposed.code, 'ERR_KERNELNET_DISPOSED');
  for (const [code, [className]] of Object.entries(ERROR_CODES)) {
    const e = makeError(code, 'x');
    assert.is(e.code, code);
    assert.is(e.constructor.name, className === 'IdxError' ? 'DataError' : className === 'CheckpointError' ? 'KernelnetError' : className, code);
  }
  // A CUDA error name from a backend's status becomes ERR_KERNELNET_CUDA (or _OOM) with the name kept.
  const cuda = makeError('ERR_KERNELNET_CUDA', 'cudaLaunchKernel failed: cudaErrorIllegalAddress', { cudaError: 'cudaErrorIllegalAddress' });
  assert.instance(cuda, DeviceError);
  assert.is((cuda as DeviceError).cudaError, 'cudaErrorIllegalAddress');
  assert.is(makeError('ERR_SOMETHING_ELSE', 'x').code, 'ERR_KERNELNET_INTERNAL', 'an unknown code is a bug, still coded');
  // The factory is handed over once, at load: nothing can swap kernelnet's errors afterwards.
  assert.instance(
    caught(() => native.setErrorFactory(() => new Error('x'))),
    StateError,
  );
  // The library throws no bare RangeError/TypeError: every error class derives from KernelnetError (read from
  // the compiled library, which is there wherever the tests run).
  const lib = (readdirSync(fileURLToPath(new URL('../lib', import.meta.url)), { recursive: true }) as string[]).filter(
    f => f.endsWith('.js') && f !== 'core/errors.js',
  );
  assert.ok(lib.length >= 8, lib.join());
  for (const f of lib) {
    const src = readFileSync(fileURLToPath(new URL(`../lib/${f}`, import.meta.url)), 'utf8');
    assert.not.match(src, /new (RangeError|TypeError|Error)\(/, `lib/${f} throws an error outside the model`);
  }
});

// The addon's exports (cpp/exports.def's functions, and the Tensor and Program classes) are exactly the function
// members of `interface Native`, read from lib/core/native.ts's source: a function exported but not declared, or
// declared but not exported, fails here.
Guards('the addon exports exactly the functions that interface Native declares', () => {
  const path = join(root, 'lib', 'core', 'native.ts');
  const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest);
  const iface = file.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === 'Native');
  assert.ok(iface, `interface Native in ${path}`);
  const isFunction = (m: ts.TypeElement) =>
    ts.isMethodSignature(m) || (ts.isPropertySignature(m) && !!m.type && (ts.isFunctionTypeNode(m.type) || ts.isConstructorTypeNode(m.type)));
  const declared = iface.members
    .filter(isFunction)
    .map(m => m.name!.getText(file))
    .sort();
  assert.ok(declared.length > 40, declared.join());
  const exports = native as unknown as Record<string, unknown>;
  assert.equal(
    Object.keys(exports)
      .filter(k => typeof exports[k] === 'function')
      .sort(),
    declared,
  );
  assert.equal(Object.keys(exports).sort(), declared, 'the addon exports nothing but functions');
});

Guards.run();

const Backend = suite('backend choice');

function child(env: Record<string, string>, code: string) {
  return spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });
}

Backend('the loaded binary is the local build or the prebuild of this very version', () => {
  const b = nativeBinary();
  assert.ok(['local build', 'prebuild'].includes(b.kind), b.kind);
  assert.is(b.version, JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version);
});

Backend('backend() names the backend in use and why it was chosen', () => {
  const b = backend(),
    all = native.backends();
  assert.is(b.name, all.cuda.available ? 'cuda' : 'cpu');
  if (b.name === 'cpu') {
    assert.match(b.device, /CPU, \d+ threads/);
    assert.is(b.reason, all.cuda.reason, 'the CPU backend says why CUDA is not used');
  }
  assert.ok(b.reason.length > 10, b.reason);
});

Backend('the CPU pool has as many threads as the CPUs the process may use (its affinity), or KERNELNET_NUM_THREADS', () => {
  const threads = (env: Record<string, string>, prefix: string[] = []) => {
    const r = spawnSync(
      prefix[0] ?? process.execPath,
      [
        ...prefix.slice(1),
        ...(prefix.length ? [process.execPath] : []),
        '--input-type=module',
        '-e',
        "const { native } = await import('./dist/lib/core/native.js'); process.stdout.write(String(native.numThreads()))",
      ],
      { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' },
    );
    assert.is(r.status, 0, r.stderr);
    return Number(r.stdout.trim());
  };
  // An empty KERNELNET_NUM_THREADS is no setting. (Node's availableParallelism counts the affinity mask too.)
  const quota = existsSync('/sys/fs/cgroup/cpu.max') ? readFileSync('/sys/fs/cgroup/cpu.max', 'utf8').split(' ') : ['max'];
  const cap = quota[0] === 'max' ? Infinity : Math.ceil(Number(quota[0]) / Number(quota[1]));
  assert.is(threads({ KERNELNET_NUM_THREADS: '' }), Math.min(availableParallelism(), cap), 'the CPUs this process may use (affinity, CPU quota)');
  assert.is(threads({ KERNELNET_NUM_THREADS: '3' }), 3);
  if (existsSync('/usr/bin/taskset'))
    assert.is(threads({ KERNELNET_NUM_THREADS: '' }, ['/usr/bin/taskset', '-c', '0']), 1, 'pinned to one CPU: one thread');
});

Backend('KERNELNET_BACKEND forces a backend, and an impossible one is a clear error', () => {
  const cpu = child({ KERNELNET_BACKEND: 'cpu' }, "const k = await import('./dist/lib/index.js'); console.log(k.backend().reason)");
  assert.is(cpu.status, 0, cpu.stderr);
  assert.match(cpu.stdout, /forced by KERNELNET_BACKEND=cpu/);
  const bad = child({ KERNELNET_BACKEND: 'tpu' }, "await import('./dist/lib/index.js')");
  assert.is.not(bad.status, 0);
  assert.match(bad.stderr, /Expected 'cpu' or 'cuda' for KERNELNET_BACKEND but received 'tpu'/);
  // Thrown as kernelnet's class: the environment is checked after the addon was handed the error factory. A value
  // that names no backend is a wrong value (test/env.test.ts checks every variable so); one that cannot run is not.
  const named = child({ KERNELNET_BACKEND: 'tpu' }, "try { await import('./dist/lib/index.js') } catch (e) { console.log(e.name, e.code) }");
  assert.is(named.stdout.trim(), 'ValidationError ERR_KERNELNET_ARG', named.stderr);
  if (backend().name !== 'cuda') {
    const cuda = child({ KERNELNET_BACKEND: 'cuda' }, "await import('./dist/lib/index.js')");
    assert.is.not(cuda.status, 0);
    assert.match(cuda.stderr, /KERNELNET_BACKEND=cuda, but/);
  }
});

Backend('a device per model and per tensor: cpu, cuda or cuda:0; the environment only picks the default', () => {
  const m = new Sequential({ layers: [new Flatten({ inputShape: [2, 2, 1] }), new Dense({ units: 2, activation: 'softmax' })] });
  assert.is(m.device, backend().name, "the default is the environment's backend");
  const t = tensor([1, 2], null, { device: 'cpu' });
  assert.is(t.device, 'cpu');
  t.dispose();
  throwsA(ValidationError, () => new Sequential({ device: 'cuda:1' }), /kernelnet drives one GPU for now, but received 'cuda:1'/, 'cuda:1');
  throwsA(ValidationError, () => new Sequential({ device: 'gpu' }), /Expected 'cpu', 'cuda' or 'cuda:0' for device but received 'gpu'/, 'gpu');
  throwsA(ValidationError, () => tensor([1], null, { device: 'tpu' }), /for device but received 'tpu'/, 'tensor tpu');
  if (!native.backends().cuda.available) {
    throwsA(DeviceError, () => new Sequential({ device: 'cuda' }), /device 'cuda' was asked for, but no CUDA device is usable: /, 'no GPU');
    throwsA(DeviceError, () => tensor([1], null, { device: 'cuda:0' }), /no CUDA device is usable/, 'no GPU tensor');
  }
  m.dispose();
});

Backend('the portable GEMM (KERNELNET_CPU=generic) passes the whole op suite', () => {
  const probe = child({ KERNELNET_CPU: 'generic' }, "const { native } = await import('./dist/lib/core/native.js'); console.log(native.cpuKernel())");
  assert.is(probe.stdout.trim(), 'generic', probe.stderr);
  const run = spawnSync(process.execPath, ['node_modules/uvu/bin.js', 'dist/test', 'ops\\.test\\.js$'], {
    cwd: root,
    env: { ...process.env, KERNELNET_CPU: 'generic' },
    encoding: 'utf8',
  });
  assert.is(run.status, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /Passed:\s+\d+/);
});

Backend.run();

const Threads = suite('worker threads');

Threads('the addon loads and trains in two worker threads at once, and a worker exiting with live tensors exits cleanly', async () => {
  const code = `
    const { parentPort } = await import('node:worker_threads');
    const k = await import(${JSON.stringify(new URL('../lib/index.js', import.meta.url).href)});
    const x = k.tensor(new Float32Array(1000).map((_, i) => Math.sin(i)), [10, 100]);
    const y = k.toCategorical([0, 1, 2, 0, 1, 2, 0, 1, 2, 0], 3);
    const m = new k.Sequential({ seed: 1, layers: [new k.Flatten({ inputShape: [100] }), new k.Dense({ units: 3, activation: 'softmax' })] });
    m.compile({ loss: 'categoricalCrossentropy', optimizer: new k.Adadelta() });
    const h = await m.fit(x, y, { epochs: 2, verbose: 0 });
    parentPort.postMessage({ loss: h.history.loss, live: k.memory().liveTensors }); // exits holding its tensors
  `;
  const before = owned();
  const results = await Promise.all(
    [0, 1].map(
      () =>
        new Promise<{ loss: number[]; live: number; exit: number }>((resolve, reject) => {
          const w = new Worker(code, { eval: true, type: 'module' } as ConstructorParameters<typeof Worker>[1]);
          let msg: { loss: number[]; live: number };
          w.on('message', m => (msg = m));
          w.on('error', reject);
          w.on('exit', exit => resolve({ ...msg, exit }));
        }),
    ),
  );
  for (const r of results) {
    assert.is(r.exit, 0);
    assert.is(r.loss.length, 2);
    assert.ok(r.live > 0, 'the worker held tensors when it exited');
  }
  assert.equal(results[0].loss, results[1].loss, 'the same seed trains the same in two threads at once');
  assert.equal(owned(), before, "a worker's tensors are not counted in the main thread");
});

Threads('a worker that exits holding tensors frees them (ten workers with 64 MB each leave memory flat)', async () => {
  const code = `
    const k = await import(${JSON.stringify(new URL('../lib/index.js', import.meta.url).href)});
    const t = k.tensor(new Float32Array(16 << 20).fill(1), [16 << 20]); // 64 MB, touched, never disposed
    (await import('node:worker_threads')).parentPort.postMessage(k.memory().bytesInUse);`;
  const run = () =>
    new Promise<number>((resolve, reject) => {
      const w = new Worker(code, { eval: true, type: 'module' } as ConstructorParameters<typeof Worker>[1]);
      let bytes = 0;
      w.on('message', b => (bytes = b));
      w.on('error', reject);
      w.on('exit', () => resolve(bytes));
    });
  assert.is(await run(), 64 << 20);
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  for (let i = 0; i < 10; ++i) await run();
  const grown = process.memoryUsage().rss - rss0;
  assert.ok(grown < 256 << 20, `RSS grew by ${(grown / 2 ** 20).toFixed(0)} MB after ten workers left 640 MB of tensors`);
});

Threads.run();
