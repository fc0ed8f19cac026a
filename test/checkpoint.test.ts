// Checkpoints: safetensors files with architecture, weights, optimizer state and training counters; atomic
// writes; every damaged or mismatched file refused with a clear error before anything is overwritten; exact
// round trips and exact resumption; and a kill -9 in the middle of save() leaves a loadable checkpoint.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Adadelta, CheckpointError, Dense, Flatten, Sequential, loadModel } from '../lib/index.js';
import { fileURLToPath } from 'node:url';
import { close, smallModel, syntheticData, throwsA } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'kernelnet-ckpt-'));
const file = (name: string) => join(dir, name);

function weights(m: Sequential): number[][] {
  return m.getWeights().map(w => {
    const v = Array.from(w.dataSync());
    w.dispose();
    return v;
  });
}

const refused = (fn: () => unknown, pattern: RegExp, what: string) => throwsA(CheckpointError, fn, pattern, what);

const Ckpt = suite('checkpoints');
Ckpt.after(() => rmSync(dir, { recursive: true, force: true }));

Ckpt('save and loadModel give bit-identical predictions; the file is plain safetensors', async () => {
  const { x, y } = syntheticData(20);
  const m = smallModel(4);
  m.compile({ loss: 'categorical_crossentropy', optimizer: new Adadelta({ rho: 0.9 }), metrics: ['accuracy'], stepsPerExecution: 2 });
  await m.fit(x, y, { batchSize: 8, epochs: 1, verbose: 0 });
  m.save(file('a.safetensors'));
  const loaded = loadModel(file('a.safetensors'));
  assert.is(loaded.stepsPerExecution, 2, 'the compile settings come back, stepsPerExecution included');
  const [p, q] = [m.predict(x), loaded.predict(x)];
  assert.equal(Array.from(q.dataSync()), Array.from(p.dataSync()));
  assert.equal(loaded.layers.map(l => l.name), m.layers.map(l => l.name));
  // The safetensors layout: u64 header size, JSON header with F32 entries, then data.
  const bytes = readFileSync(file('a.safetensors'));
  const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString());
  assert.equal(header['conv2d/kernel'].shape, [3, 3, 1, 4]);
  assert.is(header['conv2d/kernel'].dtype, 'F32');
  assert.ok(header['optimizer/dense/kernel/accum']);
  assert.is(header.__metadata__.format, 'kernelnet');
  for (const t of [p, q, x, y]) t.dispose();
  m.dispose();
  loaded.dispose();
});

Ckpt('training resumed from a checkpoint continues exactly as if it had not stopped', async () => {
  const { x, y } = syntheticData(24);
  const straight = smallModel(6);
  straight.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta() });
  const all = (await straight.fit(x, y, { batchSize: 5, epochs: 3, verbose: 0 })).history.loss;
  const first = smallModel(6);
  first.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta() });
  const before = (await first.fit(x, y, { batchSize: 5, epochs: 1, verbose: 0 })).history.loss;
  first.save(file('resume.safetensors'));
  first.dispose();
  const resumed = loadModel(file('resume.safetensors'));
  const after = (await resumed.fit(x, y, { batchSize: 5, epochs: 2, verbose: 0 })).history.loss;
  assert.equal([...before, ...after], all);
  assert.equal(weights(resumed), weights(straight));
  for (const t of [x, y]) t.dispose();
  straight.dispose();
  resumed.dispose();
});

Ckpt('saveWeights / loadWeights round trip; damaged or mismatched files are refused and change nothing', () => {
  const m = smallModel(7);
  m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta() });
  m.saveWeights(file('w.safetensors'));
  const other = smallModel(8);
  other.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta() });
  const original = weights(other);
  const good = readFileSync(file('w.safetensors'));
  const headerSize = Number(good.readBigUInt64LE(0));
  const damaged: [string, Buffer, RegExp][] = [
    ['truncated', good.subarray(0, good.length - 10), /checksum mismatch/],
    ['cut in the header', good.subarray(0, 20), /the header claims \d+ bytes/],
    ['a flipped data bit', Buffer.from(good).fill(good[good.length - 1] ^ 1, good.length - 1), /checksum mismatch/],
    ['a broken header', Buffer.concat([good.subarray(0, 8), Buffer.from('{'.padEnd(headerSize)), good.subarray(8 + headerSize)]), /not valid JSON/],
    ['empty', Buffer.alloc(0), /truncated: 0 bytes/],
  ];
  for (const [what, bytes, pattern] of damaged) {
    writeFileSync(file('bad.safetensors'), bytes);
    refused(() => other.loadWeights(file('bad.safetensors')), pattern, what);
  }
  const wider = new Sequential({ seed: 1, layers: [new Flatten({ inputShape: [8, 8, 1] }), new Dense({ units: 3, activation: 'softmax' })] });
  wider.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta() });
  refused(() => other.loadWeights(((wider.saveWeights(file('wider.safetensors'))), file('wider.safetensors'))), /has no tensor conv2d\/kernel: it was saved from a different model/, 'another architecture');
  refused(() => other.loadWeights(file('missing.safetensors')), /cannot read/, 'a missing file');
  refused(() => loadModel(file('w.safetensors')), /no valid "compile"/, 'loadModel of a weights-only file');
  assert.equal(weights(other), original, 'refused loads changed nothing');
  other.loadWeights(file('w.safetensors'));
  assert.equal(weights(other), weights(m));
  for (const model of [m, other, wider]) model.dispose();
});

Ckpt('kill -9 during save() leaves the previous checkpoint loadable', async () => {
  const target = file('killed.safetensors');
  const script = `
    const k = await import(${JSON.stringify(new URL('../lib/index.js', import.meta.url).href)});
    const { seedModel } = await import(${JSON.stringify(new URL('./helpers.js', import.meta.url).href)});
    const m = seedModel(1); // 14 MB with the optimizer state: each save takes a while
    m.save(process.argv[1]);
    process.stdout.write('saved\\n');
    for (;;) m.save(process.argv[1]);`;
  for (let round = 0; round < 4; ++round) {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, target], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>(resolve => child.stdout.once('data', () => resolve()));
    await new Promise(r => setTimeout(r, 20 + 60 * round)); // land inside later saves, at different points
    child.kill('SIGKILL');
    await new Promise(r => child.once('exit', r));
    const m = loadModel(target);
    assert.is(m.countParams(), 1199882);
    m.dispose();
  }
  const leftovers = readdirSync(dir).filter(f => f.startsWith('.killed.safetensors.'));
  // Each kill that landed inside a write leaves its temporary file (never the target) behind.
  assert.ok(leftovers.length <= 4, `temporary files: ${leftovers}`);
  console.log(`  kill -9 landed inside ${leftovers.length} of 4 writes`);
});

// A checkpoint this version wrote (test/fixtures/small-model-v1.*: test/helpers.ts's smallModel(5) trained 2
// epochs on syntheticData(24), batch 8, with its predictions on syntheticData(6)) must stay loadable by every
// later version: if the format changes, its version changes and this file is still read.
Ckpt('a checkpoint written by kernelnet 0.1.0 (format 1) loads, predicts as it did and resumes training', async () => {
  const fixture = (f: string) => fileURLToPath(new URL(`../../test/fixtures/${f}`, import.meta.url));
  const expected = JSON.parse(readFileSync(fixture('small-model-v1.json'), 'utf8'));
  const m = loadModel(fixture('small-model-v1.safetensors'));
  const p = m.predict(syntheticData(6).x);
  close(p.dataSync(), expected.predictions, 1e-6, 1e-5, 'predictions of the 0.1.0 checkpoint');
  const { x, y } = syntheticData(24);
  const h = await m.fit(x, y, { batchSize: 8, epochs: 1, verbose: 0 });
  assert.ok(Number.isFinite(h.history.loss[0]));
  m.dispose();
});

Ckpt.run();
