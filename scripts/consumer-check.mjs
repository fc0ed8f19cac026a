#!/usr/bin/env node
// Type-checks kernelnet as a consumer's TypeScript project sees it: the published declarations (dist/lib/*.d.ts,
// through package.json's exports) under strict settings with skipLibCheck off, so that an error inside a
// declaration file, which our own build's skipLibCheck hides, fails here. Two consumers, as projects set
// TypeScript up: Node's ESM resolution (module and moduleResolution NodeNext, with a CommonJS file that
// require()s kernelnet as well) and a bundler's (module ESNext, moduleResolution bundler). Each imports
// 'kernelnet' and 'kernelnet/tfjs' in the three forms (named, namespace, default) and uses the API a first
// program does. Needs dist/ built
// (npm run build:ts); node_modules/kernelnet in the temporary project is a link to this repository.
// Prints each variant's errors; exit status 1 if any.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');

const APP = `import { Sequential, Conv2D, MaxPooling2D, Flatten, Dense, Dropout, Adam, EarlyStopping, tensor, toCategorical, backend,
  Dataset, loadMnist, KernelnetError, nativeBinary } from 'kernelnet';
import type { FitArgs, History, Logs, Callback, CompileArgs, Tensor, BackendInfo } from 'kernelnet';
import * as kn from 'kernelnet';
import * as tf from 'kernelnet/tfjs';

const model = new Sequential({ seed: 1 });
model.add(new Conv2D({ filters: 8, kernelSize: [3, 3], activation: 'relu', inputShape: [28, 28, 1] }));
model.add(new MaxPooling2D({ poolSize: [2, 2] }));
model.add(new Flatten());
model.add(new Dropout({ rate: 0.25 }));
model.add(new Dense({ units: 10, activation: 'softmax' }));
const compileArgs: CompileArgs = { loss: 'categoricalCrossentropy', optimizer: new Adam({ learningRate: 1e-3 }), metrics: ['accuracy'] };
model.compile(compileArgs);

const logger: Callback = { onEpochEnd: async (epoch: number, logs?: Logs) => { console.log(epoch, logs?.loss); } };
const args: FitArgs = { batchSize: 32, epochs: 2, validationSplit: 0.1, verbose: 0,
  callbacks: [new EarlyStopping({ monitor: 'val_loss', patience: 1 }), logger] };
const x: Tensor = tensor(new Float32Array(64 * 784), [64, 28, 28, 1]);
const y: Tensor = toCategorical(Array.from({ length: 64 }, (_, i) => i % 10), 10);

export async function main(): Promise<number> {
  const history: History = await model.fit(x, y, args);
  const losses: number[] = history.history.loss;
  const fromData: History = await model.fit(Dataset.fromTensors(x, y, { batchSize: 16 }), { epochs: 1 });
  const [loss, accuracy] = model.evaluate(x, y);
  const probs: Tensor = model.predict(x);
  const info: BackendInfo = backend();
  const same: typeof Sequential = kn.Sequential;
  const tfModel = tf.sequential({ layers: [tf.layers.dense({ units: 4, activation: 'relu', inputShape: [8] }), tf.layers.dense({ units: 2 })] });
  tfModel.compile({ loss: 'meanSquaredError', optimizer: tf.train.adam(0.01) });
  const tfHistory = await tfModel.fit(tf.zeros([4, 8]), tf.zeros([4, 2]), { epochs: 1, verbose: 0 });
  const l: number = tfHistory.history.loss[0] as number;
  try { loadMnist(); } catch (e) { if (e instanceof KernelnetError) console.log(e.code); }
  console.log(losses, fromData, loss, accuracy, probs.shape, info.reason, same === Sequential, l, nativeBinary().kind);
  model.dispose();
  return losses.length;
}
`;

// A CommonJS file of a NodeNext project: require(esm), which Node 20.19 and TypeScript 5.8 allow.
const CJS = `import kn = require('kernelnet');
import tf = require('kernelnet/tfjs');
const m: InstanceType<typeof kn.Sequential> = new kn.Sequential();
export const summary = [m, tf.getBackend()];
`;

// The default import, which is the namespace too (lib/index.ts, lib/tfjs.ts).
const DEFAULT = `import kn from 'kernelnet';
import tf from 'kernelnet/tfjs';
const m = new kn.Sequential({ layers: [new kn.Dense({ units: 2, inputShape: [3] })] });
m.compile({ loss: 'mse', optimizer: new kn.SGD() });
export const both: [InstanceType<typeof kn.Sequential>, ReturnType<typeof tf.sequential>] = [m, tf.sequential()];
`;

const VARIANTS = [
  { name: 'NodeNext', options: { module: 'NodeNext', moduleResolution: 'NodeNext' }, files: { 'app.ts': APP, 'legacy.cts': CJS, 'default.ts': DEFAULT } },
  { name: 'bundler', options: { module: 'ESNext', moduleResolution: 'bundler' }, files: { 'app.ts': APP, 'default.ts': DEFAULT } },
];

/** Writes a consumer project for `variant` under `dir` and type-checks it; resolves to tsc's status and output. */
function check(dir, variant) {
  const project = join(dir, variant.name);
  mkdirSync(join(project, 'node_modules', '@types'), { recursive: true });
  symlinkSync(root, join(project, 'node_modules', 'kernelnet'), 'dir');
  // A Node project has Node's types; kernelnet's declarations use them (Buffer, node:fs types).
  symlinkSync(dirname(require.resolve('@types/node/package.json')), join(project, 'node_modules', '@types', 'node'), 'dir');
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: `consumer-${variant.name}`, private: true, type: 'module' }));
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', strict: true, skipLibCheck: false, noEmit: true, types: ['node'], ...variant.options },
    files: Object.keys(variant.files),
  }, null, 2));
  for (const [file, text] of Object.entries(variant.files)) writeFileSync(join(project, file), text);
  return new Promise(resolve => {
    const p = spawn(process.execPath, [tsc, '-p', project, '--pretty', 'false'], { cwd: project });
    let out = '';
    p.stdout.on('data', d => out += d);
    p.stderr.on('data', d => out += d);
    p.on('close', status => resolve({ name: variant.name, status, out: out.trim() }));
  });
}

/** Both variants, side by side (each is one tsc process). */
export async function consumerCheck() {
  const dir = mkdtempSync(join(tmpdir(), 'kernelnet-consumer-'));
  try {
    return await Promise.all(VARIANTS.map(v => check(dir, v)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const results = await consumerCheck();
  for (const r of results) console.log(`consumer-check ${r.name}: ${r.status === 0 ? 'ok' : `FAILED\n${r.out}`}`);
  process.exit(results.every(r => r.status === 0) ? 0 : 1);
}
