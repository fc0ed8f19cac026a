// Checkpoints: safetensors files with architecture, weights, optimizer state and training counters; atomic
// writes; every damaged or mismatched file refused with a clear error before anything is overwritten; exact
// round trips and exact resumption; and a kill -9 in the middle of save() leaves a loadable checkpoint.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Adadelta, Adam, CheckpointError, Dense, Flatten, Sequential, ValidationError, loadModel, memory } from '../lib/index.js';
import { fileURLToPath } from 'node:url';
import { SAVE_FOREVER_SCRIPT, close, smallModel, syntheticData, throwsA, throwsCheckpointError } from './helpers.js';

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
  assert.equal(
    loaded.layers.map(l => l.name),
    m.layers.map(l => l.name),
  );
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
  refused(
    () => other.loadWeights((wider.saveWeights(file('wider.safetensors')), file('wider.safetensors'))),
    /has no tensor conv2d\/kernel: it was saved from a different model/,
    'another architecture',
  );
  refused(() => other.loadWeights(file('missing.safetensors')), /cannot read/, 'a missing file');
  refused(() => loadModel(file('w.safetensors')), /no valid "compile"/, 'loadModel of a weights-only file');
  assert.equal(weights(other), original, 'refused loads changed nothing');
  other.loadWeights(file('w.safetensors'));
  assert.equal(weights(other), weights(m));
  for (const model of [m, other, wider]) model.dispose();
});

Ckpt('kill -9 during save() leaves the previous checkpoint loadable', async () => {
  const target = file('killed.safetensors');
  const script = SAVE_FOREVER_SCRIPT;
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
  // A kill that lands inside a write leaves its temporary file (never the target) behind, and the next child's
  // first save deletes it: at most the last kill's file remains (test/checkpoint-tmp.test.ts has the details).
  assert.ok(leftovers.length <= 1, `temporary files: ${leftovers}`);
});

/** A checkpoint's header, with its metadata's JSON strings parsed, and a writer of an edited copy. */
function editable(good: Buffer) {
  const n = Number(good.readBigUInt64LE(0));
  const header = JSON.parse(good.subarray(8, 8 + n).toString());
  return (
    target: string,
    edit: (h: Record<string, Record<string, unknown>>, meta: Record<string, Record<string, unknown>>) => void | Record<string, string>,
  ) => {
    const h = JSON.parse(JSON.stringify(header));
    const meta = Object.fromEntries(['architecture', 'compile', 'training'].map(k => [k, JSON.parse(h.__metadata__[k])]));
    const raw = edit(h, meta); // the metadata's strings as they are to be written, or undefined to serialise meta
    Object.assign(h.__metadata__, raw ?? Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, JSON.stringify(v)])));
    // The checksum covers the data section only, so an edited header is read as it is.
    let json = JSON.stringify(h);
    json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
    const size = Buffer.alloc(8);
    size.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    writeFileSync(target, Buffer.concat([size, Buffer.from(json), good.subarray(8 + n)]));
  };
}

Ckpt('corrupt metadata is a CheckpointError naming the file and the field, whatever the corruption, and leaks nothing', () => {
  const m = smallModel(9);
  m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adam(), metrics: ['accuracy'] });
  m.save(file('meta.safetensors'));
  m.dispose();
  const write = editable(readFileSync(file('meta.safetensors')));
  const target = file('corrupt.safetensors');
  type Meta = Record<string, Record<string, unknown>>;
  const layer = (meta: Meta, i: number) => (meta.architecture.layers as { className: string; config: Record<string, unknown> }[])[i];
  // [what, edit, what the message must name, the class of the cause (ValidationError when a layer, optimizer or
  // compile refused the value it was given; undefined when the reader itself refused it)]
  const cases: [string, (h: Meta, meta: Meta) => void | Record<string, string>, RegExp, (new (...a: never[]) => Error) | undefined][] = [
    [
      'an unknown activation',
      (_, meta) => {
        layer(meta, 0).config.activation = 'relux';
      },
      /corrupt metadata, architecture\.layers\[0\]\.config \(Conv2D\): Expected one of .* for activation but received 'relux'/,
      ValidationError,
    ],
    [
      'a layer class that does not exist',
      (_, meta) => {
        layer(meta, 1).className = 'Conv3D';
      },
      /architecture\.layers\[1\]\.className: expected one of Conv2D, .* but found "Conv3D"/,
      undefined,
    ],
    [
      'a prototype key as layer class',
      (_, meta) => {
        layer(meta, 1).className = 'constructor';
      },
      /architecture\.layers\[1\]\.className/,
      undefined,
    ],
    [
      'negative units',
      (_, meta) => {
        layer(meta, 4).config.units = -3;
      },
      /layers\[4\]\.config \(Dense\): Expected positive integer for units but received -3/,
      ValidationError,
    ],
    [
      'NaN units (JSON writes null)',
      (_, meta) => {
        layer(meta, 4).config.units = null;
      },
      /layers\[4\]\.config \(Dense\): .*for units but received null/,
      ValidationError,
    ],
    [
      'NaN units, written as NaN',
      h => ({ architecture: (h.__metadata__.architecture as unknown as string).replace('"units":3', '"units":NaN') }),
      /corrupt metadata, architecture: not valid JSON/,
      SyntaxError,
    ],
    [
      'a missing field (filters)',
      (_, meta) => {
        delete layer(meta, 0).config.filters;
      },
      /layers\[0\]\.config \(Conv2D\): .*filters/,
      ValidationError,
    ],
    [
      'a missing field (the seed)',
      (_, meta) => {
        delete meta.training.seed;
      },
      /training\.seed: expected an integer in \[0, 2\^32\) but found nothing/,
      undefined,
    ],
    [
      'a missing field (the optimizer)',
      (_, meta) => {
        delete meta.compile.optimizer;
      },
      /compile\.optimizer: expected an object/,
      undefined,
    ],
    [
      'a missing field (the layers)',
      (_, meta) => {
        delete meta.architecture.layers;
      },
      /architecture\.layers: expected an array of layers but found nothing/,
      undefined,
    ],
    [
      'a wrong type (kernelSize)',
      (_, meta) => {
        layer(meta, 0).config.kernelSize = 'big';
      },
      /layers\[0\]\.config \(Conv2D\): .*kernelSize/,
      ValidationError,
    ],
    [
      'a wrong type (a layer)',
      (_, meta) => {
        (meta.architecture.layers as unknown[])[2] = 7;
      },
      /architecture\.layers\[2\]: expected an object \{ className, config \} but found 7/,
      undefined,
    ],
    [
      'a wrong type (inputShape)',
      (_, meta) => {
        meta.architecture.inputShape = [8, -8, 1];
      },
      /architecture\.inputShape: expected an array of positive integers but found \[8,-8,1\]/,
      undefined,
    ],
    [
      'a wrong type (steps)',
      (_, meta) => {
        meta.training.steps = '12';
      },
      /training\.steps: expected a non-negative integer but found "12"/,
      undefined,
    ],
    [
      'a wrong type (the optimizer config)',
      (_, meta) => {
        (meta.compile.optimizer as Record<string, Record<string, unknown>>).config.beta1 = 'x';
      },
      /compile\.optimizer\.config: .*beta1/,
      ValidationError,
    ],
    [
      'a wrong type (metrics)',
      (_, meta) => {
        meta.compile.metrics = [42];
      },
      /corrupt metadata, compile: .*metric/,
      ValidationError,
    ],
    ['a wrong type (a metadata entry)', () => ({ training: '[1, 2]' }), /training: expected a JSON object but found \[1,2\]/, undefined],
    [
      'an unknown loss',
      (_, meta) => {
        meta.compile.loss = { className: 'Hinge', config: {} };
      },
      /compile\.loss: unknown loss Hinge/,
      ValidationError,
    ],
    [
      'duplicate layer names',
      (_, meta) => {
        layer(meta, 0).config.name = 'dense';
      },
      /architecture\.layers\[4\] \(Dense\): .*'dense' is already in this model/,
      ValidationError,
    ],
    [
      'truncated JSON',
      h => ({ compile: (h.__metadata__.compile as unknown as string).slice(0, 30) }),
      /corrupt metadata, compile: not valid JSON/,
      SyntaxError,
    ],
    [
      'units that do not match the weights',
      (_, meta) => {
        layer(meta, 4).config.units = 5;
      },
      /architecture\.layers\[4\] \(Dense dense\): declares the weight dense\/kernel as \[36,5\] but the file holds it as \[36,3\]/,
      undefined,
    ],
    [
      'a size no file holds (never allocated)',
      (_, meta) => {
        layer(meta, 0).config.filters = 1e9;
      },
      /declares the weight conv2d\/kernel as \[3,3,1,1000000000\] but the file holds it as \[3,3,1,4\]/,
      undefined,
    ],
    [
      'an input shape that does not match the weights',
      (_, meta) => {
        meta.architecture.inputShape = [10, 10, 1];
      },
      /declares the weight dense\/kernel as \[64,3\]/,
      undefined,
    ],
    [
      'a renamed layer',
      (_, meta) => {
        layer(meta, 4).config.name = 'head';
      },
      /declares the weight head\/kernel \[36,3\], which the file does not hold/,
      undefined,
    ],
    [
      'a missing optimizer slot',
      h => {
        delete h['optimizer/dense/kernel/velocity'];
      },
      /has no tensor optimizer\/dense\/kernel\/velocity/,
      undefined,
    ],
    [
      'an optimizer slot of another shape',
      h => {
        h['optimizer/dense/bias/momentum'].shape = [1, 3];
      },
      /tensor optimizer\/dense\/bias\/momentum has shape \[1,3\]/,
      undefined,
    ],
    [
      'a negative iteration count',
      (_, meta) => {
        meta.training.iterations = -1;
      },
      /training\.iterations: expected a non-negative integer but found -1/,
      undefined,
    ],
  ];
  const before = memory().liveTensors;
  for (const [what, edit, pattern, cause] of cases) {
    write(target, edit);
    throwsCheckpointError(() => loadModel(target).dispose(), target, pattern, cause, what);
  }
  assert.is(memory().liveTensors, before, 'refused loads leave no tensor behind');
  write(target, () => undefined);
  const intact = loadModel(target);
  assert.is(intact.countParams(), 151, 'an unedited copy loads');
  intact.dispose();
});

// A checkpoint this version wrote (test/fixtures/small-model-v1.*: test/helpers.ts's smallModel(5) trained 2
// epochs on syntheticData(24), batch 8, with its predictions on syntheticData(6)) must stay loadable by every
// later version: if the format changes, its version changes and this file is still read.
Ckpt('a checkpoint written by kernelnet 0.1.0 (format 1) loads, predicts as it did and resumes training', async () => {
  const fixture = (f: string) => fileURLToPath(new URL(`../../test/fixtures/${f}`, import.meta.url));
  const expected = JSON.parse(readFileSync(fixture('small-model-v1.json'), 'utf8'));
  const m = loadModel(fixture('small-model-v1.safetensors'));
  const probe = syntheticData(6);
  const p = m.predict(probe.x);
  close(p.dataSync(), expected.predictions, 1e-6, 1e-5, 'predictions of the 0.1.0 checkpoint');
  const { x, y } = syntheticData(24);
  const h = await m.fit(x, y, { batchSize: 8, epochs: 1, verbose: 0 });
  assert.ok(Number.isFinite(h.history.loss[0]));
  // Disposed here, not left to the garbage collector, whose later frees would upset the live-tensor counts
  // of tests that run after this file in the same process.
  for (const t of [p, probe.x, probe.y, x, y]) t.dispose();
  m.dispose();
});

Ckpt.run();
