// tf.data of kernelnet/tfjs against @tensorflow/tfjs-data 4.22 (on tfjs-core's CPU backend): the same pipelines
// on the same inputs give the same elements (structure, dtypes, shapes, values) and sizes; shuffle keeps the
// buffer's semantics (and, seeded, tfjs-data's order: the same Alea generator); csv parses as tfjs-data parses and
// streams; fitDataset and evaluateDataset train and evaluate on tf.data datasets. Every tensor is disposed.
import { mkdtempSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as tfc from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfd from '@tensorflow/tfjs-data';
import seedrandom from 'seedrandom';
import * as tf from '../lib/tfjs.js';
import { alea } from '../lib/data/tfjs-data.js';

tfc.env().set('IS_TEST', true);
const D = suite('tf.data');
const dir = mkdtempSync(join(tmpdir(), 'kernelnet-tfdata-'));
D.after(() => rmSync(dir, { recursive: true, force: true }));

/* eslint-disable @typescript-eslint/no-explicit-any */
type Lib = { data: any; tensor: (v: any, shape?: number[], dtype?: any) => any };
const KN: Lib = { data: tf.data, tensor: tf.tensor };
const TFJS: Lib = { data: tfd, tensor: tfc.tensor };

/** A structure with its tensors as { dtype, shape, values } (either library's), to compare. */
function plain(v: any): any {
  if (v instanceof tf.Tensor || v instanceof tfc.Tensor)
    return { dtype: v.dtype, shape: v.shape, values: Array.from(v.dataSync() as ArrayLike<number>) };
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

/** The elements of build(lib) for each library, plain, every tensor disposed; kernelnet's leave no tensor behind. */
async function both(build: (L: Lib) => any): Promise<{ kn: any; tfjs: any; sizes: [any, any] }> {
  const dk = build(KN);
  const before = tf.memory().numTensors; // after the array's own tensors
  const k = await dk.toArray();
  const kn = plain(k);
  tf.dispose(k);
  assert.is(tf.memory().numTensors, before, 'kernelnet: no tensor left behind');
  const dt = build(TFJS);
  const t = await dt.toArray();
  const tfjs = plain(t);
  tfc.dispose(t);
  return { kn, tfjs, sizes: [dk.size, dt.size] };
}

async function rejects(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected a rejection matching ${pattern}`);
}

async function same(build: (L: Lib) => any, what: string, sizeToo = true): Promise<void> {
  const { kn, tfjs, sizes } = await both(build);
  assert.equal(kn, tfjs, what);
  if (sizeToo) assert.is(sizes[0], sizes[1], `${what}: size`);
}

D('array, generator, zip, map, filter, batch, take, skip, repeat, concatenate: the same elements and sizes as tfjs-data', async () => {
  const rows = Array.from({ length: 10 }, (_, i) => ({ a: i, b: [i, -i], c: { d: i * 0.5 } }));
  await same(L => L.data.array([1, 2, 3]), 'array of numbers');
  await same(L => L.data.array(rows), 'array of objects');
  await same(L => L.data.array(rows).batch(4), 'batch of objects (small last batch)');
  await same(L => L.data.array(rows).batch(4, false), 'batch without the small last batch');
  await same(L => L.data.array([L.tensor([1, 2]), L.tensor([3, 4]), L.tensor([5, 6])]).batch(2), 'batch of tensors (stacked)');
  await same(
    L => L.data.array(rows.map(r => ({ xs: L.tensor([r.a, r.c.d]), ys: L.tensor([r.a % 2], [1], 'int32') }))).batch(3),
    'batch of { xs, ys } tensors',
  );
  await same(L => L.data.array([true, false, true]).batch(2), 'batch of booleans');
  await same(
    L =>
      L.data
        .array(rows)
        .map((r: any) => ({ x: r.a * 2, y: L.tensor([r.a, r.a + 1]) }))
        .filter((r: any) => r.x % 3 !== 0)
        .batch(2),
    'map, filter, batch',
  );
  await same(L => L.data.array(rows).skip(3).take(4), 'skip then take');
  await same(L => L.data.array(rows).take(20).skip(-1), 'take more than there is, skip negative');
  await same(L => L.data.array(rows).skip(20), 'skip everything');
  await same(L => L.data.array([1, 2, 3]).repeat(3), 'repeat(3)');
  await same(L => L.data.array([1, 2, 3]).repeat().take(7), 'repeat() endless, taken', false);
  assert.is(tf.data.array([1]).repeat().size, Infinity);
  assert.is(tf.data.array([1, 2]).repeat(0).size, 0);
  await same(
    L =>
      L.data
        .array([1, 2])
        .concatenate(L.data.array([3, 4, 5]))
        .prefetch(2),
    'concatenate, prefetch',
  );
  await same(
    L =>
      L.data.generator(function* () {
        for (let i = 0; i < 5; i++) yield { xs: [i, i + 1], ys: i % 2 };
      }),
    'generator (sync)',
  );
  await same(
    L =>
      L.data
        .generator(async function* () {
          for (let i = 0; i < 5; i++) yield L.tensor([i, 2 * i]);
        })
        .batch(2),
    'generator (async), batched tensors',
  );
  await same(L => L.data.zip([L.data.array([1, 2, 3]), L.data.array(['a', 'b'])]), 'zip of an array (shortest)');
  // (tfjs-data's size of a nested zip is NaN: Math.min over a nested object; kernelnet's is the least size)
  await same(
    L =>
      L.data
        .zip({
          x: L.data.array([1, 2, 3]),
          y: {
            z: L.data.array([
              [1, 2],
              [3, 4],
              [5, 6],
            ]),
          },
        })
        .batch(2),
    'zip of nested objects, batched',
    false,
  );
  assert.is(tf.data.zip({ x: tf.data.array([1, 2, 3]), y: { z: tf.data.array([1, 2]) } }).size, 2);
  await same(
    L =>
      L.data
        .array([1, 2, 3, 4])
        .mapAsync(async (x: number) => ({ v: L.tensor([x, x * x]) }))
        .batch(3),
    'mapAsync',
  );
  // iterator(): next() resolves { value, done }
  const it = await tf.data.array([7, 8]).iterator();
  assert.equal(await it.next(), { value: 7, done: false });
  assert.equal(await it.next(), { value: 8, done: false });
  assert.equal(await it.next(), { value: null, done: true });
  // sizes where tfjs-data knows them
  const base = tf.data.array(rows);
  assert.equal(
    [
      base.batch(3).size,
      base.filter(() => true).size,
      base.take(4).size,
      base.skip(4).size,
      base.shuffle(3).size,
      tf.data.generator(function* () {}).size,
    ],
    [4, null, 4, 6, 10, null],
  );
  await rejects(tf.data.array([1]).repeat().toArray(), /infinite/);
  // forEachAsync sees each element, then disposes it (as tfjs-data)
  const before = tf.memory().numTensors;
  const seen: number[][] = [];
  await tf.data
    .array([0, 1, 2])
    .map((i: number) => tf.tensor([i, i]))
    .forEachAsync(t => void seen.push(Array.from(t.dataSync())));
  assert.equal(seen, [
    [0, 0],
    [1, 1],
    [2, 2],
  ]);
  assert.is(tf.memory().numTensors, before);
  assert.throws(() => (tf.data as any).nope, /tf\.data\.nope is not supported.*array, generator, csv, zip/);
});

D('shuffle: the same elements, tfjs-data buffer semantics, and (seeded) its order', async () => {
  // the generator is seedrandom's alea
  for (const seed of ['abc', '12345', '-987654321'])
    for (let i = 0, a = alea(seed), b = (seedrandom as any).alea(seed); i < 50; i++) assert.is(a.int32(), b.int32());
  const items = Array.from({ length: 50 }, (_, i) => i);
  await same(L => L.data.array(items).shuffle(10, 'seed'), 'seeded shuffle: tfjs-data order');
  await same(L => L.data.array(items).shuffle(100, 7).batch(8), 'seeded shuffle, buffer larger than the data, batched');
  // bufferSize 1 keeps the order; an unseeded shuffle is a permutation that only draws from the buffer window
  assert.equal(await tf.data.array(items).shuffle(1).toArray(), items);
  for (const size of [3, 10]) {
    const out: number[] = await tf.data.array(items).shuffle(size).toArray();
    assert.equal(
      [...out].sort((a, b) => a - b),
      items,
    );
    // element k comes out once the buffer has read at most k + size elements: position >= k - (size - 1)
    out.forEach((v, pos) => assert.ok(pos >= v - (size - 1), `element ${v} at ${pos} with a buffer of ${size}`));
  }
  // every iteration reshuffles, unless reshuffleEachIteration is false
  const d1 = tf.data.array(items).shuffle(50, 'x');
  assert.not.equal(await d1.toArray(), await d1.toArray());
  const d2 = tf.data.array(items).shuffle(50, 'x', false);
  assert.equal(await d2.toArray(), await d2.toArray());
  // shuffled tensors are not leaked
  const before = tf.memory().numTensors;
  tf.dispose(
    await tf.data
      .array(items)
      .map((i: number) => tf.scalar(i))
      .shuffle(5)
      .toArray(),
  );
  assert.is(tf.memory().numTensors, before);
});

D('csv: header, columnConfigs, delimiters, as tfjs-data parses them', async () => {
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return pathToFileURL(p).href;
  };
  const plainCsv = file('plain.csv', 'a,b,name,flag\n1,2.5,x,true\n-3,,y,0\n4e2,7,z,1\n');
  await same(L => L.data.csv(plainCsv), 'header, numbers, strings, an empty value');
  const cfg: any = { columnConfigs: { a: { dtype: 'int32' }, b: { default: 9 }, flag: { dtype: 'bool', isLabel: true } } };
  await same(L => L.data.csv(plainCsv, cfg), 'columnConfigs: isLabel, dtype, default');
  await same(L => L.data.csv(plainCsv, { ...cfg, configuredColumnsOnly: true }).batch(2), 'configuredColumnsOnly, batched');
  await same(
    L => L.data.csv(file('semi.csv', '1;2\n3;4\n'), { hasHeader: false, columnNames: ['p', 'q'], delimiter: ';' }),
    'delimiter, columnNames',
  );
  await same(L => L.data.csv(file('ws.csv', 'u v  w\n1 2  3\n4  5 6\n'), { delimWhitespace: true }), 'delimWhitespace');
  const names = await tf.data.csv(plainCsv, cfg).columnNames();
  assert.equal(names, await tfd.csv(plainCsv, cfg as any).columnNames());
  assert.is(tf.data.csv(plainCsv).size, null);
  // a required (or label) column's empty value fails, in both
  const required = { columnConfigs: { b: { required: true } } };
  await rejects(tf.data.csv(plainCsv, required).toArray(), /Required column b is empty/);
  await rejects(tfd.csv(plainCsv, required).toArray(), /Required column b is empty/);
  await rejects(tf.data.csv(plainCsv, { columnConfigs: { nope: {} } }).toArray(), /does not match any of the column names/);
  await rejects(tf.data.csv(file('bad.csv', 'a,b\n1,2,3\n')).toArray(), /Invalid row in csv file/);
});

D('csv streams: a 32 MB file iterates in a process whose JavaScript heap is capped at 12 MB', async () => {
  const path = join(dir, 'big.csv');
  const row = Array.from({ length: 16 }, (_, i) => (i * 1.25).toFixed(2)).join(',') + '\n';
  const out = createWriteStream(path);
  out.write(Array.from({ length: 16 }, (_, i) => `c${i}`).join(',') + '\n');
  const rows = Math.ceil((32 * 2 ** 20) / row.length);
  for (let i = 0; i < rows; i += 1000) out.write(row.repeat(Math.min(1000, rows - i)));
  await new Promise<void>(r => out.end(r));
  const script = `
    const { csv } = await import(${JSON.stringify(pathToFileURL(join(import.meta.dirname, '../lib/data/tfjs-data.js')).href)});
    const rss0 = process.memoryUsage().rss; let n = 0, peak = 0, heap = 0, sum = 0;
    await csv(${JSON.stringify(pathToFileURL(path).href)}).forEachAsync(r => {
      n++; sum += r.c1;
      if (n % 20000 === 0) peak = Math.max(peak, process.memoryUsage().rss - rss0), heap = Math.max(heap, process.memoryUsage().heapUsed);
    });
    console.log(JSON.stringify({ n, sum, peak, heap }));`;
  const r = spawnSync(process.execPath, ['--max-old-space-size=12', '--max-semi-space-size=1', '--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  assert.is(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  assert.is(res.n, rows);
  assert.is(res.sum, rows * 1.25);
  assert.ok(res.peak < 16 * 2 ** 20, `rss grew by ${(res.peak / 2 ** 20).toFixed(1)} MB over a 32 MB file`);
});

D('fitDataset and evaluateDataset on tf.data datasets: loss decreases, scalars back, nothing leaked', async () => {
  // y = 1 when x0 + x1 > 0, as a CSV with a label column
  const r = seedrandom('data');
  const lines = ['x0,x1,y'];
  for (let i = 0; i < 256; i++) {
    const a = r() * 2 - 1,
      b = r() * 2 - 1;
    lines.push(`${a.toFixed(4)},${b.toFixed(4)},${a + b > 0 ? 1 : 0}`);
  }
  const path = join(dir, 'train.csv');
  writeFileSync(path, lines.join('\n') + '\n');
  const before = tf.memory().numTensors;
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, activation: 'sigmoid', inputShape: [2] })] });
  model.compile({ optimizer: tf.train.adam(0.05), loss: 'binaryCrossentropy', metrics: ['accuracy'] });
  const ds = tf.data
    .csv(pathToFileURL(path).href, { columnConfigs: { y: { isLabel: true } } })
    .map(({ xs, ys }: any) => ({ xs: Object.values(xs), ys: Object.values(ys) }))
    .shuffle(64, 1)
    .batch(32);
  const h = await model.fitDataset(ds, { epochs: 6, verbose: 0, validationData: ds.take(2) });
  const loss = h.history.loss as number[];
  assert.ok(loss.at(-1)! < loss[0], `loss ${loss}`);
  assert.ok('val_loss' in h.history && 'val_acc' in h.history);
  const ev = (await model.evaluateDataset(ds, {})) as tf.Tensor[];
  assert.is(ev.length, 2);
  assert.equal(ev[0].shape, []);
  assert.ok((ev[1].dataSync()[0] as number) > 0.7, 'accuracy');
  tf.dispose(ev);
  // tf.data.array(...).batch() of { xs, ys } tensors; batchesPerEpoch takes each epoch's batches from one iteration
  const xs = Array.from({ length: 64 }, (_, i) => [Math.sin(i), Math.cos(i)]);
  const items = xs.map(x => ({ xs: tf.tensor(x), ys: tf.tensor([x[0] + x[1] > 0 ? 1 : 0]) }));
  const arr = tf.data.array(items).batch(16);
  const val = [tf.tensor(xs.slice(0, 8)), tf.tensor(xs.slice(0, 8).map(x => [x[0] + x[1] > 0 ? 1 : 0]))];
  const epochs: number[] = [];
  const h2 = await model.fitDataset(arr.repeat(), {
    epochs: 3,
    batchesPerEpoch: 6,
    verbose: 0,
    validationData: val,
    callbacks: { onEpochEnd: async (e: number) => void epochs.push(e) },
  });
  assert.equal(epochs, [0, 1, 2]);
  assert.is(h2.params.steps, 6);
  // an iteration that runs out stops training (tfjs's warning)
  const warn = console.warn;
  console.warn = () => {};
  try {
    const h3 = await model.fitDataset(arr, { epochs: 5, batchesPerEpoch: 2, verbose: 0 });
    assert.is((h3.history.loss as number[]).length, 2);
  } finally {
    console.warn = warn;
  }
  const lossOnly = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [2] })] });
  lossOnly.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
  const one = (await lossOnly.evaluateDataset(arr, { batches: 2 })) as tf.Tensor;
  assert.ok(one instanceof tf.Tensor && one.shape.length === 0, 'the loss alone: one scalar, as tfjs');
  one.dispose();
  lossOnly.dispose();
  // the batches were disposed: once the model, the array's own tensors and the validation tensors are, none is left
  tf.dispose([items, val]);
  model.dispose();
  assert.is(tf.memory().numTensors, before);
});

D.run();
