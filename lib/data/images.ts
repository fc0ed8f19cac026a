// imageDatasetFromDirectory: a folder of images, one subfolder per class, as a Dataset with Keras's semantics
// (keras.utils.image_dataset_from_directory): class names sorted, labels 'int' / 'categorical' / 'binary' / none,
// colorMode, imageSize (bilinear resizing), batchSize, a seeded shuffle, validationSplit with subset. Pixel values
// are 0-255 floats, as Keras gives them (a Rescaling(1 / 255) layer first, as in Keras's tutorials).
//
// Decoding is sharp's (libvips), which runs on libuv's thread pool, off the JavaScript thread; each batch is
// decoded into one uint8 buffer, uploaded as bytes and made float on the device (fromPixels). The next
// `prefetch` batches decode while the current one trains, so memory holds at most prefetch + 1 batches. An image
// that cannot be read is an error naming its path (onBadImage: 'fail', the default), or skipped with a warning
// naming it ('skip'): never a crash or a silent zero image.
import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join, resolve } from 'node:path';
import { Dataset, type Batch } from './data.js';
import { DataError, ValidationError } from '../core/errors.js';
import { native, type Device } from '../core/native.js';
import { Tensor, fromPixels } from '../core/tensor.js';
import { checkOptions, fail, numberIn, oneOf, positiveInt } from '../core/validate.js';

/** Keras's allowed extensions. */
const FORMATS = new Set(['.bmp', '.gif', '.jpeg', '.jpg', '.png']);

/** The options of imageDatasetFromDirectory: Keras's image_dataset_from_directory's, camelCase, and a few of kernelnet's. */
export interface ImageDatasetOptions {
  /** 'inferred' (default: from the subfolders), null (no labels), or one label per file in sorted path order. */
  labels?: 'inferred' | null | number[];
  /** 'int' (default: int32 [N]), 'categorical' (float32 one-hot [N, classes]), 'binary' (float32 [N, 1]), or null. */
  labelMode?: 'int' | 'categorical' | 'binary' | null;
  /** The subfolders to use, in label order (default: all of them, sorted). */
  classNames?: string[];
  /** 'rgb' (default, 3 channels), 'grayscale' (1) or 'rgba' (4). */
  colorMode?: 'grayscale' | 'rgb' | 'rgba';
  /** Default 32. */
  batchSize?: number;
  /** [height, width] every image is resized to (default [256, 256], Keras's). */
  imageSize?: [number, number];
  /** Shuffle the files before the split, and each pass (default true). */
  shuffle?: boolean;
  /** Needed with shuffle and validationSplit, so that every call makes the same split (as Keras). */
  seed?: number;
  /** The fraction of the files, in [0, 1), kept for validation (default 0: none); needs subset. */
  validationSplit?: number;
  /**
   * With validationSplit: which subset to return, or 'both' for [training, validation] (the validation subset is
   * the last files of the shuffled order).
   */
  subset?: 'training' | 'validation' | 'both';
  /** 'bilinear' (default) or 'nearest'. */
  interpolation?: 'bilinear' | 'nearest';
  /** Whether to follow symbolic links to folders (default false). */
  followLinks?: boolean;
  /** Print "Found N files belonging to K classes." (default true). */
  verbose?: boolean;
  /** kernelnet: what an unreadable image does: 'fail' (default, a DataError naming it) or 'skip' (a warning). */
  onBadImage?: 'fail' | 'skip';
  /** kernelnet: batches decoded ahead of the one in use (default 2). */
  prefetch?: number;
  /**
   * kernelnet: keep every decoded image in memory after the first pass (height x width x channels bytes each),
   * so later epochs skip decoding (tf.data's cache()). Default false.
   */
  cache?: boolean;
  /** kernelnet: where skipped images are reported (default console.warn). */
  warn?: (message: string) => void;
}

/** A Dataset of images with what Keras's has beside it: the class names and the files, in pass order 0. */
export class ImageDataset extends Dataset<Batch> {
  /** The class of each label index, in order (Keras's class_names); empty unless labels are 'inferred'. */
  readonly classNames: string[];
  /** The image files of this dataset (subset), in the order of its first pass (Keras's file_paths). */
  readonly filePaths: string[];

  // Internal as Dataset's is: its source parameter is a type the published declarations leave out (stripInternal),
  // so a public constructor here would not type-check for a consumer. Use imageDatasetFromDirectory.
  /** @internal */
  constructor(source: Dataset['source'], batches: number, classNames: string[], filePaths: string[]) {
    super(source, batches);
    this.classNames = classNames;
    this.filePaths = filePaths;
  }
}

type Sharp = typeof import('sharp');
let sharpModule: Sharp | null = null;

function loadSharp(): Sharp {
  if (sharpModule) return sharpModule;
  try {
    sharpModule = createRequire(import.meta.url)('sharp') as Sharp;
    return sharpModule;
  } catch (err) {
    throw new DataError(`imageDatasetFromDirectory needs the sharp package to decode images (npm install sharp): ${(err as Error).message}`);
  }
}

/** Files under dir with an image extension, sorted, recursively (Keras's index_subdirectory). */
function imagesUnder(dir: string, followLinks: boolean): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const p = join(d, e.name);
      const isDir = e.isDirectory() || (followLinks && e.isSymbolicLink() && statSync(p).isDirectory());
      if (isDir) walk(p);
      else if (FORMATS.has(extname(e.name).toLowerCase())) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** A seeded permutation of [0, n) (the native Philox permutation the fit loop shuffles with). */
function permutation(n: number, seed: number, pass: number): Int32Array {
  const t = new native.Tensor([n], 'int32', undefined, 'cpu');
  try {
    native.permutation(t, seed, pass);
    return t.read() as Int32Array;
  } finally {
    t.dispose();
  }
}

/**
 * Images in `dir` as a Dataset (or [training, validation] for subset 'both'): one subfolder per class. Keras's
 * defaults and rules: a seed is required to shuffle with a validation split (so that the two subsets match).
 */
export function imageDatasetFromDirectory(dir: string, options: ImageDatasetOptions & { subset: 'both' }): [ImageDataset, ImageDataset];
export function imageDatasetFromDirectory(dir: string, options?: ImageDatasetOptions): ImageDataset;
export function imageDatasetFromDirectory(dir: string, options: ImageDatasetOptions = {}): ImageDataset | [ImageDataset, ImageDataset] {
  options = checkOptions(options, {
    what: 'imageDatasetFromDirectory options',
    supported: [
      'labels',
      'labelMode',
      'classNames',
      'colorMode',
      'batchSize',
      'imageSize',
      'shuffle',
      'seed',
      'validationSplit',
      'subset',
      'interpolation',
      'followLinks',
      'verbose',
      'onBadImage',
      'prefetch',
      'warn',
      'cache',
    ],
    notYet: { cropToAspectRatio: { ok: [false] }, padToAspectRatio: { ok: [false] }, dataFormat: { ok: ['channelsLast', 'channels_last'] } },
  });
  if (typeof dir !== 'string') fail('a folder path', 'dir', dir);
  const root = resolve(dir);
  if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw new DataError(`imageDatasetFromDirectory: ${root} is not a folder`);
  const labelsArg = options.labels === undefined ? 'inferred' : options.labels;
  let labelMode = options.labelMode === undefined ? 'int' : options.labelMode;
  if (labelMode !== null) labelMode = oneOf(labelMode, 'labelMode', ['int', 'categorical', 'binary'] as const);
  if (labelsArg === null) labelMode = null;
  const colorMode = oneOf(options.colorMode ?? 'rgb', 'colorMode', ['grayscale', 'rgb', 'rgba'] as const);
  const channels = colorMode === 'grayscale' ? 1 : colorMode === 'rgb' ? 3 : 4;
  const batchSize = positiveInt(options.batchSize ?? 32, 'batchSize');
  const size = options.imageSize ?? [256, 256];
  if (!Array.isArray(size) || size.length !== 2) fail('[height, width]', 'imageSize', size);
  const [height, width] = size.map((v, i) => positiveInt(v, `imageSize[${i}]`));
  const shuffle = options.shuffle ?? true;
  if (typeof shuffle !== 'boolean') fail('a boolean', 'shuffle', shuffle);
  const interpolation = oneOf(options.interpolation ?? 'bilinear', 'interpolation', ['bilinear', 'nearest'] as const);
  const onBadImage = oneOf(options.onBadImage ?? 'fail', 'onBadImage', ['fail', 'skip'] as const);
  const prefetch = options.prefetch === undefined ? 2 : options.prefetch === 0 ? 0 : positiveInt(options.prefetch, 'prefetch');
  const cache = options.cache ?? false;
  if (typeof cache !== 'boolean') fail('a boolean', 'cache', cache);
  const warn = options.warn ?? ((m: string) => console.warn(m));
  if (typeof warn !== 'function') fail('a function', 'warn', warn);
  const split = options.validationSplit === undefined ? 0 : numberIn(options.validationSplit, 'validationSplit', 0, 1, true);
  const subset = options.subset === undefined ? null : oneOf(options.subset, 'subset', ['training', 'validation', 'both'] as const);
  if (subset && !split) throw new ValidationError('imageDatasetFromDirectory: subset needs validationSplit (as in Keras)');
  if (split && !subset)
    throw new ValidationError("imageDatasetFromDirectory: validationSplit needs subset: 'training', 'validation' or 'both' (as in Keras)");
  if (split && shuffle && options.seed === undefined)
    throw new ValidationError(
      'imageDatasetFromDirectory: with validationSplit and shuffle, pass a seed, so that the training and validation subsets do not overlap (as in Keras)',
    );
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  if (!Number.isInteger(seed) || seed < 0) fail('a non-negative integer', 'seed', seed);

  // Index: class subfolders, sorted (or as given), their images sorted.
  const subdirs = readdirSync(root, { withFileTypes: true })
    .filter(e => e.isDirectory() || (options.followLinks && e.isSymbolicLink() && statSync(join(root, e.name)).isDirectory()))
    .map(e => e.name)
    .sort();
  let classNames: string[];
  let paths: string[] = [],
    labels: number[] = [];
  if (labelsArg === 'inferred') {
    classNames = options.classNames ?? subdirs;
    if (!Array.isArray(classNames) || classNames.some(c => !subdirs.includes(c)))
      throw new ValidationError(
        `imageDatasetFromDirectory: classNames must name subfolders of ${root} (${subdirs.join(', ')}) but received ${JSON.stringify(options.classNames)}`,
      );
    classNames.forEach((c, k) => {
      for (const p of imagesUnder(join(root, c), options.followLinks ?? false)) {
        paths.push(p);
        labels.push(k);
      }
    });
  } else {
    classNames = [];
    paths = imagesUnder(root, options.followLinks ?? false);
    if (Array.isArray(labelsArg)) {
      if (labelsArg.length !== paths.length)
        throw new ValidationError(`imageDatasetFromDirectory: ${labelsArg.length} labels for ${paths.length} image files`);
      labels = labelsArg.map((v, i) => {
        if (!Number.isInteger(v) || v < 0) fail('a class index', `labels[${i}]`, v);
        return v;
      });
    } else if (labelsArg !== null) {
      fail("'inferred', null or an array of labels", 'labels', labelsArg);
    }
  }
  const numClasses = labelsArg === 'inferred' ? classNames.length : labels.length ? Math.max(...labels) + 1 : 0;
  if (labelMode === 'binary' && numClasses !== 2)
    throw new ValidationError(`imageDatasetFromDirectory: labelMode 'binary' needs exactly 2 classes but found ${numClasses}`);
  if (!paths.length) throw new DataError(`imageDatasetFromDirectory: no images (${[...FORMATS].join(', ')}) under ${root}`);
  if (options.verbose ?? true)
    console.log(`Found ${paths.length} files${labelsArg === 'inferred' ? ` belonging to ${classNames.length} classes` : ''}.`);

  // Keras shuffles the files once (seeded) before taking the split, so that both subsets come from every class.
  if (shuffle) {
    const order = permutation(paths.length, seed, 0);
    paths = Array.from(order, i => paths[i]);
    if (labels.length) labels = Array.from(order, i => labels[i]);
  }
  const nVal = Math.floor(split * paths.length);
  const make = (which: 'training' | 'validation' | null) => {
    const [from, to] = which === 'validation' ? [paths.length - nVal, paths.length] : [0, paths.length - (which ? nVal : 0)];
    if (from === to)
      throw new ValidationError(`imageDatasetFromDirectory: validationSplit ${split} of ${paths.length} files leaves the ${which} subset empty`);
    const files = paths.slice(from, to),
      ys = labels.slice(from, to);
    const decoded = cache ? new Map<number, Buffer | null>() : null; // by file index; null: skipped
    let pass = 0;
    // Each pass after the first reshuffles (tf.data's reshuffle_each_iteration), from the same seed.
    async function* batches(fs: string[], ls: number[], p: number, device: Device | undefined) {
      const order = shuffle && p > 0 ? permutation(fs.length, seed + 1, p) : Int32Array.from({ length: fs.length }, (_, i) => i);
      const count = Math.ceil(fs.length / batchSize);
      // A batch decoded ahead can fail before anything awaits it: Node would take that for an unhandled
      // rejection and end the process, out of the user's reach. So each queued decode has a handler from the
      // start, and its error is thrown when the pass reaches that batch (or never, if the pass ends before).
      const decode = (b: number) => {
        const batch = decodeBatch(Array.from(order.subarray(b * batchSize, (b + 1) * batchSize)), fs, ls, decoded);
        batch.catch(() => {});
        return batch;
      };
      const queue: ReturnType<typeof decode>[] = [];
      try {
        for (let b = 0; b < count; ++b) {
          while (queue.length <= prefetch && b + queue.length < count) queue.push(decode(b + queue.length));
          const { pixels, rows, labelRows } = await queue.shift()!;
          if (!rows) continue; // every image of the batch was skipped
          yield toBatch(pixels, rows, labelRows, device);
        }
      } finally {
        // A pass that ends early (break, an error in the step, stopTraining) waits for what it decoded ahead,
        // so no decode outlives it, and drops those batches: they are plain bytes, nothing to dispose.
        await Promise.allSettled(queue);
        queue.length = 0;
      }
    }
    return new ImageDataset(device => batches(files, ys, pass++, device), Math.ceil(files.length / batchSize), classNames, files);
  };

  /** Decodes the images `idx` of the pass into one [rows, height, width, channels] uint8 buffer. */
  async function decodeBatch(idx: number[], files: string[], ys: number[], decoded: Map<number, Buffer | null> | null) {
    const sharp = loadSharp(),
      frame = height * width * channels;
    // Every image of the batch settles before the batch does (allSettled, not all), so that a failed batch
    // leaves no decode of its own still running when the pass that waits for it ends.
    const settled = await Promise.allSettled(
      idx.map(async i => {
        const known = decoded?.get(i);
        if (known !== undefined) return known;
        const image = await decodeOne(i);
        decoded?.set(i, image);
        return image;
      }),
    );
    const failed = settled.find(r => r.status === 'rejected');
    if (failed) throw failed.reason;
    const results = settled.map(r => (r as PromiseFulfilledResult<Buffer | null>).value);
    async function decodeOne(i: number): Promise<Buffer | null> {
      try {
        let img = sharp(files[i], { failOn: 'error' });
        const meta = await img.metadata();
        if (meta.width !== width || meta.height !== height)
          img = img.resize(width, height, { fit: 'fill', kernel: interpolation === 'bilinear' ? 'linear' : 'nearest' });
        img = colorMode === 'grayscale' ? img.toColourspace('b-w') : img.toColourspace('srgb');
        img = colorMode === 'rgba' ? img.ensureAlpha() : img.removeAlpha();
        const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
        if (info.channels !== channels || data.length !== frame)
          throw new DataError(`decoded to ${info.width}x${info.height}x${info.channels}, expected ${width}x${height}x${channels}`);
        return data;
      } catch (err) {
        const message = `imageDatasetFromDirectory: cannot read ${files[i]}: ${(err as Error).message}`;
        if (onBadImage === 'fail') throw new DataError(message);
        warn(`${message} (skipped)`);
        return null;
      }
    }
    const kept = results.flatMap((r, j) => (r ? [j] : []));
    const pixels = new Uint8Array(kept.length * frame);
    kept.forEach((j, k) => pixels.set(results[j]!, k * frame));
    return { pixels, rows: kept.length, labelRows: ys.length ? kept.map(j => ys[idx[j]]) : [] };
  }

  function toBatch(pixels: Uint8Array, rows: number, labelRows: number[], device: Device | undefined) {
    const xs = fromPixels(pixels, [rows, height, width, channels], { device });
    if (labelMode === null || !labelRows.length) return { xs };
    try {
      if (labelMode === 'binary') return { xs, ys: new Tensor(new native.Tensor([rows, 1], 'float32', Float32Array.from(labelRows), device)) };
      const ints = new native.Tensor([rows], 'int32', Int32Array.from(labelRows), device);
      if (labelMode === 'int') return { xs, ys: new Tensor(ints) };
      try {
        const oneHot = new native.Tensor([rows, numClasses], 'float32', undefined, device);
        native.oneHot(ints, oneHot);
        return { xs, ys: new Tensor(oneHot) };
      } finally {
        ints.dispose();
      }
    } catch (err) {
      xs.dispose();
      throw err;
    }
  }

  if (subset === 'both') return [make('training'), make('validation')];
  return make(subset);
}
