// Datasets in fit, evaluate and predict (Keras's fit(dataset), tfjs's fitDataset), and image folders read with
// sharp (Keras's image_dataset_from_directory: sorted class subfolders, int / categorical / binary labels, colorMode,
// imageSize, a seeded shuffle and the same validation split on every call, a seed required to shuffle with a
// split). The same images give bit-identical weights from PNG files and from IDX; memory stays bounded by the
// prefetch depth; a bad image is reported with its path.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Conv2D,
  DataError,
  Dataset,
  Dense,
  Dropout,
  Flatten,
  MaxPooling2D,
  Rescaling,
  Sequential,
  ValidationError,
  defaultMnistDir,
  dispose,
  fromPixels,
  imageDatasetFromDirectory,
  memory,
  parseIdx,
  tensor,
  tidy,
  type Tensor,
  type Batch,
} from '../lib/index.js';
import { syntheticData, throwsA } from './helpers.js';

const D = suite('datasets');
const dir = mkdtempSync(join(tmpdir(), 'kernelnet-data-'));
D.after(() => rmSync(dir, { recursive: true, force: true }));

const weightsHash = (m: Sequential) =>
  tidy(() => {
    const h = createHash('sha256');
    for (const w of m.getWeights()) h.update(new Uint8Array((w.dataSync() as Float32Array).buffer));
    return h.digest('hex').slice(0, 16);
  });

const small = (seed: number) => {
  const m = new Sequential({
    seed,
    layers: [
      new Conv2D({ filters: 4, kernelSize: 3, activation: 'relu', inputShape: [8, 8, 1] }),
      new Dropout({ rate: 0.3 }),
      new Flatten(),
      new Dense({ units: 3, activation: 'softmax' }),
    ],
  });
  m.compile({ loss: 'categoricalCrossentropy', optimizer: 'adam', metrics: ['accuracy'] });
  return m;
};

D('fit(Dataset.fromTensors) takes the same steps as fit(x, y) without shuffling: bit-identical weights; evaluate and predict agree', async () => {
  const { x, y } = syntheticData(50);
  const a = small(3),
    b = small(3);
  const ha = await a.fit(x, y, { batchSize: 8, epochs: 3, shuffle: false, verbose: 0 });
  const ds = Dataset.fromTensors(x, y, { batchSize: 8 });
  assert.is(ds.batches, 7);
  const hb = await b.fit(ds, { epochs: 3, verbose: 0 });
  assert.is(weightsHash(b), weightsHash(a), 'the same weights (dropout included)');
  assert.equal(hb.history.loss, ha.history.loss);
  assert.equal(await b.evaluate(ds), a.evaluate(x, y, { batchSize: 8 }));
  const [pa, pb] = [a.predict(x), await b.predict(ds)];
  assert.equal(Array.from(pb.dataSync()), Array.from(pa.dataSync()));
  // A shuffled dataset: a new order each pass, the same for the same seed.
  const order = async (seed: number) => {
    const d = Dataset.fromTensors(
      tensor(
        Float32Array.from({ length: 10 }, (_, i) => i),
        [10, 1],
      ),
      undefined,
      { batchSize: 10, shuffle: true, seed },
    );
    const passes: number[][] = [];
    for (let p = 0; p < 2; ++p)
      for await (const batch of d) {
        passes.push(Array.from((batch.xs as Tensor).dataSync()));
        (batch.xs as Tensor).dispose();
      }
    return passes;
  };
  const [o1, o2] = [await order(7), await order(7)];
  assert.equal(o1, o2);
  assert.not.equal(o1[0], o1[1], 'a new order each pass');
  assert.equal(
    [...o1[0]].sort((p, q) => p - q),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  dispose([x, y, pa, pb]);
  a.dispose();
  b.dispose();
});

D('fit on a generator of batches: unknown length counted, validationData as a dataset, options that make batches refused', async () => {
  const { x, y } = syntheticData(48);
  const m = small(4);
  let calls = 0;
  const gen = Dataset.fromGenerator(async function* () {
    calls++;
    for (let s = 0; s < 48; s += 16) yield [x.slice([s, 0, 0, 0], [16, 8, 8, 1]), y.slice([s, 0], [16, 3])] as [Tensor, Tensor];
  });
  assert.is(gen.batches, null);
  const validation = Dataset.fromTensors(x, y, { batchSize: 24 });
  await m.fit(gen, { epochs: 1, verbose: 0, validationData: validation }); // the model's buffers made
  calls = 0;
  const before = memory().liveTensors;
  const lines: string[] = [];
  const h = await m.fit(gen, {
    epochs: 2,
    verbose: 2,
    out: {
      write: (s: string) => {
        lines.push(s);
        return true;
      },
    },
    validationData: validation,
  });
  assert.is(calls, 2, 'one pass per epoch');
  assert.equal(h.epoch, [0, 1]);
  assert.ok(h.history.val_loss.length === 2 && h.history.val_accuracy.every(Number.isFinite));
  assert.match(lines.join(''), /3\/3 \[=+\]/, 'the progress line counts the 3 batches');
  assert.is(memory().liveTensors, before, 'every batch disposed after its step');
  const refused = async (p: Promise<unknown>, re: RegExp) => {
    const e = await p.then(
      () => null,
      (err: Error) => err,
    );
    assert.ok(e && re.test(e.message), `${e}`);
  };
  await refused(m.fit(gen, { batchSize: 8 } as never), /batchSize is not supported.*the dataset makes the batches/);
  await refused(m.fit(gen, { shuffle: true } as never), /shuffle the dataset itself/);
  await refused(m.fit(gen, y as never), /with a dataset, pass no y/);
  // Options where the (x, y) form puts them would be silently dropped: refused, naming where they go.
  await refused(m.fit(gen as never, undefined as never, { epochs: 2 }), /fit: with a dataset, options are the second argument/);
  await refused(
    m.evaluate(gen as never, undefined as never, { batchSize: 8 }) as unknown as Promise<number[]>,
    /evaluate: with a dataset, options are the second argument/,
  );
  await refused(m.evaluate(gen as never, y as never) as unknown as Promise<number[]>, /evaluate: with a dataset, pass no y/);
  await refused(m.predict(gen as never, { batchSize: 8 }) as unknown as Promise<unknown>, /predict: a dataset takes no options/);
  await refused(
    m.fit(
      Dataset.fromGenerator(() => []),
      {},
    ),
    /yielded no batches/,
  );
  await refused(
    m.fit(
      Dataset.fromGenerator(() => [{ xs: 3 } as never]),
      {},
    ),
    /batch 0/,
  );
  dispose([x, y]);
  m.dispose();
});

D('memory stays bounded by the batches in flight on a dataset far larger than it', async () => {
  // 150 batches of 64 x 28 x 28 floats: 30 MB of data, made one batch at a time and never all held.
  const m = new Sequential({ seed: 1, layers: [new Flatten({ inputShape: [28, 28, 1] }), new Dense({ units: 10, activation: 'softmax' })] });
  m.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: 'sgd' });
  const batchBytes = 64 * 28 * 28 * 4 + 64 * 4;
  const data = Dataset.fromGenerator(function* () {
    for (let b = 0; b < 150; ++b)
      yield { xs: tensor(new Float32Array(64 * 784).fill((b % 7) / 7), [64, 28, 28, 1]), ys: tensor(new Int32Array(64).fill(b % 10), [64]) };
  });
  await m.fit(data, { epochs: 1, verbose: 0 }); // warm: workspaces and optimizer slots
  const base = memory().bytesInUse;
  let peak = 0;
  await m.fit(data, {
    epochs: 1,
    verbose: 0,
    callbacks: {
      onBatchEnd: () => {
        peak = Math.max(peak, memory().bytesInUse);
      },
    },
  });
  assert.ok(
    peak - base <= 2 * batchBytes,
    `held ${((peak - base) / 1e6).toFixed(2)} MB beyond the model at most (a batch is ${(batchBytes / 1e6).toFixed(2)} MB; the data ${((150 * batchBytes) / 1e6).toFixed(0)} MB)`,
  );
  m.dispose();
});

// --- image folders -----------------------------------------------------------------------------------------

/** MNIST's first `count` training images written as PNG files, DIR/<digit>/<index>.png, with their labels. */
async function writeMnistPngs(root: string, count: number) {
  const images = parseIdx(readFileSync(join(defaultMnistDir(), 'train-images-idx3-ubyte'))).data;
  const labels = parseIdx(readFileSync(join(defaultMnistDir(), 'train-labels-idx1-ubyte'))).data;
  for (let d = 0; d < 10; ++d) mkdirSync(join(root, String(d)), { recursive: true });
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      sharp(Buffer.from(images.subarray(i * 784, (i + 1) * 784)), { raw: { width: 28, height: 28, channels: 1 } })
        .png()
        .toFile(join(root, String(labels[i]), `${String(i).padStart(5, '0')}.png`)),
    ),
  );
  return { images: images.subarray(0, count * 784), labels: labels.subarray(0, count) };
}

D('imageDatasetFromDirectory: sorted classes, labels, colorMode, imageSize; PNG and IDX train to bit-identical weights', async () => {
  const root = join(dir, 'mnist');
  const { images, labels } = await writeMnistPngs(root, 320);
  const quiet = { verbose: false };
  const ds = imageDatasetFromDirectory(root, { ...quiet, colorMode: 'grayscale', imageSize: [28, 28], batchSize: 32, shuffle: false });
  assert.equal(ds.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  assert.is(ds.filePaths.length, 320);
  assert.is(ds.batches, 10);
  // The same images in the dataset's order (class, then file name): from IDX, as raw 0-255 values.
  const order = Array.from({ length: 320 }, (_, i) => i).sort((p, q) => labels[p] - labels[q] || p - q);
  const bytes = new Uint8Array(320 * 784);
  order.forEach((i, k) => bytes.set(images.subarray(i * 784, (i + 1) * 784), k * 784));
  const x = fromPixels(bytes, [320, 28, 28, 1]),
    y = tensor(
      Int32Array.from(order, i => labels[i]),
      [320],
    );
  const model = (seed: number) => {
    const m = new Sequential({
      seed,
      layers: [
        new Rescaling({ scale: 1 / 255, inputShape: [28, 28, 1] }),
        new Conv2D({ filters: 8, kernelSize: 3, activation: 'relu' }),
        new MaxPooling2D({ poolSize: 2 }),
        new Dropout({ rate: 0.25 }),
        new Flatten(),
        new Dense({ units: 10, activation: 'softmax' }),
      ],
    });
    m.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: 'adam', metrics: ['accuracy'] });
    return m;
  };
  const fromPng = model(11),
    fromIdx = model(11);
  const hp = await fromPng.fit(ds, { epochs: 2, verbose: 0 });
  const hi = await fromIdx.fit(x, y, { batchSize: 32, epochs: 2, shuffle: false, verbose: 0 });
  assert.is(weightsHash(fromPng), weightsHash(fromIdx), 'PNG files and IDX bytes train the same weights');
  assert.equal(hp.history.loss, hi.history.loss);
  // Labels and pixels as Keras gives them: 0-255 floats, rgb repeating the gray, resized, one-hot.
  const first = async (d: Dataset<Batch>) => {
    for await (const b of d) return b;
    throw new Error('empty');
  };
  const rgb = await first(imageDatasetFromDirectory(root, { ...quiet, imageSize: [14, 14], labelMode: 'categorical', batchSize: 4, shuffle: false }));
  assert.equal([rgb.xs.shape, rgb.ys!.shape, rgb.ys!.dtype], [[4, 14, 14, 3], [4, 10], 'float32']);
  const px = rgb.xs.dataSync();
  assert.ok(px.every((v, i) => v === px[i - (i % 3)]) && Math.max(...px) > 200 && Math.max(...px) <= 255, 'gray repeated in r, g, b; 0-255');
  assert.equal(Array.from(rgb.ys!.dataSync()).slice(0, 10), [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  dispose([x, y, rgb.xs, rgb.ys]);
  fromPng.dispose();
  fromIdx.dispose();
});

D('imageDatasetFromDirectory: the same seeded split on every call, a seed required, binary labels, bad images by path', async () => {
  const root = join(dir, 'mnist');
  const quiet = { verbose: false, colorMode: 'grayscale' as const, imageSize: [28, 28] as [number, number] };
  const split = () => imageDatasetFromDirectory(root, { ...quiet, validationSplit: 0.25, subset: 'both', seed: 5 });
  const [t1, v1] = split(),
    [t2, v2] = split();
  assert.equal([t1.filePaths, v1.filePaths], [t2.filePaths, v2.filePaths], 'the same split on every call');
  assert.is(v1.filePaths.length, 80);
  assert.is(new Set([...t1.filePaths, ...v1.filePaths]).size, 320, 'disjoint, and together every file');
  assert.is(
    imageDatasetFromDirectory(root, { ...quiet, validationSplit: 0.25, subset: 'validation', seed: 5 }).filePaths.join(),
    v1.filePaths.join(),
  );
  throwsA(ValidationError, () => imageDatasetFromDirectory(root, { ...quiet, validationSplit: 0.2, subset: 'training' }), /pass a seed/, 'seed');
  throwsA(ValidationError, () => imageDatasetFromDirectory(root, { ...quiet, validationSplit: 0.2 }), /needs subset/, 'subset');
  throwsA(ValidationError, () => imageDatasetFromDirectory(root, { ...quiet, labelMode: 'binary' }), /exactly 2 classes/, 'binary');
  throwsA(
    ValidationError,
    () => imageDatasetFromDirectory(root, { ...quiet, cropToAspectRatio: true } as never),
    /cropToAspectRatio is not supported/,
    'crop',
  );
  const two = imageDatasetFromDirectory(root, { ...quiet, classNames: ['3', '7'], labelMode: 'binary', batchSize: 64, shuffle: false });
  for await (const b of two) {
    assert.equal(b.ys!.shape, [b.xs.shape[0], 1]);
    assert.ok(Array.from(b.ys!.dataSync()).every(v => v === 0 || v === 1));
    dispose([b.xs, b.ys]);
  }
  // A corrupt file: an error naming it, or skipped with a warning naming it; never a zero image.
  const bad = join(dir, 'bad');
  for (const c of ['a', 'b']) mkdirSync(join(bad, c), { recursive: true });
  await sharp({ create: { width: 5, height: 5, channels: 3, background: '#808080' } })
    .png()
    .toFile(join(bad, 'a', 'ok.png'));
  await sharp({ create: { width: 5, height: 5, channels: 3, background: '#ffffff' } })
    .png()
    .toFile(join(bad, 'b', 'ok.png'));
  writeFileSync(join(bad, 'b', 'broken.png'), Buffer.from('\x89PNG\r\n\x1a\nnot really a png'));
  const live = memory().liveTensors;
  const failing = imageDatasetFromDirectory(bad, { verbose: false, imageSize: [5, 5], shuffle: false });
  const err = await (async () => {
    for await (const b of failing) dispose([b.xs, b.ys]);
  })().then(
    () => null,
    (e: Error) => e,
  );
  assert.ok(err instanceof DataError && err.message.includes(join(bad, 'b', 'broken.png')), `${err}`);
  assert.is(memory().liveTensors, live, 'nothing left behind');
  const warnings: string[] = [];
  const skipping = imageDatasetFromDirectory(bad, {
    verbose: false,
    imageSize: [5, 5],
    shuffle: false,
    onBadImage: 'skip',
    warn: w => warnings.push(w),
  });
  const rows: number[] = [];
  for await (const b of skipping) {
    rows.push(...(b.ys!.dataSync() as Int32Array));
    dispose([b.xs, b.ys]);
  }
  assert.equal(rows, [0, 1]);
  assert.ok(warnings.length === 1 && warnings[0].includes('broken.png'), warnings.join());
});

D('imageDatasetFromDirectory cache: later passes come from memory (the files may even be gone)', async () => {
  const root = join(dir, 'cached');
  for (const c of ['a', 'b']) {
    mkdirSync(join(root, c), { recursive: true });
    for (let i = 0; i < 3; ++i)
      await sharp({ create: { width: 4, height: 4, channels: 3, background: { r: 40 * i, g: c === 'a' ? 10 : 200, b: 7 } } })
        .png()
        .toFile(join(root, c, `${i}.png`));
  }
  const passOf = async (d: Dataset<Batch>) => {
    const out: number[] = [];
    for await (const b of d) {
      out.push(...(b.xs.dataSync() as Float32Array));
      dispose([b.xs, b.ys]);
    }
    return out;
  };
  const cached = imageDatasetFromDirectory(root, { verbose: false, imageSize: [4, 4], batchSize: 4, shuffle: false, cache: true });
  const plain = imageDatasetFromDirectory(root, { verbose: false, imageSize: [4, 4], batchSize: 4, shuffle: false });
  const first = await passOf(cached);
  assert.equal(await passOf(plain), first);
  rmSync(root, { recursive: true, force: true });
  assert.equal(await passOf(cached), first, 'the second pass, from the cache');
  const err = await passOf(plain).then(
    () => null,
    (e: Error) => e,
  );
  assert.ok(err instanceof DataError && /cannot read/.test(err.message), 'without the cache the files are read again');
});

D.run();
