// Small vision models as Keras users write them, trained on MNIST. Their architectures are in examples/zoo.ts
// (buildModel), which tests and benches import too; here each is compiled and trained:
//   lenet        LeNet-5 (Sequential); SGD with Nesterov momentum; sparse categorical cross-entropy on int32 labels.
//   bncnn        A BatchNorm CNN (Sequential); 'adam'.
//   binary       A binary classifier of two digits (3 against 8), sigmoid head, binaryCrossentropy; 'rmsprop'.
//   resnet       A small ResNet (functional, as all below); Adam.
//   inception    An Inception-style network; Adam.
//   twoinput     An image and a 4-feature vector (the ink in each quadrant); Adam.
//   twooutput    One body, two heads: the class (sparse cross-entropy) and the image's ink mass (mse), lossWeights.
//   autoencoder  A convolutional autoencoder, mse on the images.
//   transfer     The ResNet trained on digits 0-4, its body frozen under a new head trained on digits 5-9.
// Each has fixed epochs and batch size (the acceptance settings); the flags shorten a run.
//
//   npm run models -- --model NAME [--epochs N] [--train-limit N] [--test-limit N] [--seed S]
//                     [--backend cpu|cuda] [--json FILE]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { LayersModel } from '../lib/index.js';

const SETTINGS = {
  lenet: { epochs: 10, batchSize: 64 },
  bncnn: { epochs: 5, batchSize: 128 },
  binary: { epochs: 3, batchSize: 64 },
  resnet: { epochs: 2, batchSize: 128 },
  inception: { epochs: 2, batchSize: 128 },
  twoinput: { epochs: 2, batchSize: 128 },
  twooutput: { epochs: 2, batchSize: 128 },
  autoencoder: { epochs: 2, batchSize: 128 },
  transfer: { epochs: 2, batchSize: 128 },
} as const;
type ModelName = keyof typeof SETTINGS;

function die(message: string): never {
  console.error(`keras_models: ${message}`);
  process.exit(2);
}

let opts: Record<string, string | boolean | undefined>;
try {
  opts = parseArgs({
    options: {
      model: { type: 'string' },
      epochs: { type: 'string' },
      'train-limit': { type: 'string' },
      'test-limit': { type: 'string' },
      seed: { type: 'string', default: '1' },
      backend: { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (e) {
  die(`${(e as Error).message.split('\n')[0]} (see --help)`);
}
if (opts.help) {
  console.log(
    `usage: npm run models -- --model ${Object.keys(SETTINGS).join('|')} [--epochs N] [--train-limit N] [--test-limit N] [--seed S] ` +
      '[--backend cpu|cuda] [--json FILE]',
  );
  process.exit(0);
}
const name = opts.model as ModelName;
if (!Object.hasOwn(SETTINGS, name ?? '')) die(`--model expects one of ${Object.keys(SETTINGS).join(', ')}, received '${opts.model}'`);
const int = (flag: string) => {
  const v = opts[flag] as string | undefined;
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) die(`--${flag} expects a non-negative integer, received '${v}'`);
  return Number(v);
};
if (opts.backend !== undefined) {
  if (opts.backend !== 'cpu' && opts.backend !== 'cuda') die(`--backend expects cpu or cuda, received '${opts.backend}'`);
  process.env.KERNELNET_BACKEND = opts.backend as string;
}
const kn = await import('../lib/index.js').catch((e: Error & { code?: string }) => die(`${e.code ?? 'error'}: ${e.message}`));
const { SGD, Adam, loadMnist, tensor, backend, dispose } = kn;
// zoo.ts imports the library statically: imported here, after KERNELNET_BACKEND is set.
const { buildModel, buildTransfer } = await import('./zoo.js');
type AnyModel = LayersModel;
type Tensor = InstanceType<typeof kn.Tensor>;

const { epochs: defaultEpochs, batchSize } = SETTINGS[name];
const epochs = int('epochs') ?? defaultEpochs,
  seed = int('seed')!;
const { train, test } = loadMnist(undefined, { trainLimit: int('train-limit'), testLimit: int('test-limit') });

/** The images and labels of the binary task: 3 (label 0) against 8 (label 1), float32 [N, 1] targets. */
function twoDigits(images: Tensor, labels: Tensor): [Tensor, Tensor] {
  const l = labels.dataSync();
  const rows = Array.from(l, (v, i) => (v === 3 || v === 8 ? i : -1)).filter(i => i >= 0);
  return [
    images.gather(rows),
    tensor(
      rows.map(i => (l[i] === 8 ? 1 : 0)),
      [rows.length, 1],
    ),
  ];
}

/** Rows of `images` and `labels` whose digit passes `keep`, labels mapped by `relabel`. */
function digits(images: Tensor, labels: Tensor, keep: (d: number) => boolean, relabel: (d: number) => number): [Tensor, Tensor] {
  const l = labels.dataSync();
  const rows = Array.from(l, (v, i) => (keep(v) ? i : -1)).filter(i => i >= 0);
  return [
    images.gather(rows),
    tensor(
      Int32Array.from(rows, i => relabel(l[i])),
      [rows.length],
    ),
  ];
}

/** The ink in each quadrant of each image: a 4-feature vector per image (the two-input model's second input). */
function quadrants(images: Tensor): Tensor {
  const v = images.dataSync(),
    n = images.shape[0],
    out = new Float32Array(n * 4);
  for (let i = 0; i < n; ++i)
    for (let r = 0; r < 28; ++r) for (let c = 0; c < 28; ++c) out[i * 4 + (r >= 14 ? 2 : 0) + (c >= 14 ? 1 : 0)] += v[i * 784 + r * 28 + c] / 196;
  return tensor(out, [n, 4]);
}

/** The mean ink of each image, [N, 1]: the two-output model's regression target. */
function ink(images: Tensor): Tensor {
  const v = images.dataSync(),
    n = images.shape[0],
    out = new Float32Array(n);
  for (let i = 0; i < n; ++i) for (let j = 0; j < 784; ++j) out[i] += v[i * 784 + j] / 784;
  return tensor(out, [n, 1]);
}

let model: AnyModel, x: Tensor | Tensor[], y: Tensor | Tensor[], xt: Tensor | Tensor[], yt: Tensor | Tensor[];
const owned: Tensor[] = [];
if (name === 'resnet') {
  model = buildModel('resnet', seed);
  model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: 'adam', metrics: ['accuracy'] });
  [x, y, xt, yt] = [train.images, train.labels, test.images, test.labels];
} else if (name === 'inception') {
  model = buildModel('inception', seed);
  model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: 'adam', metrics: ['accuracy'] });
  [x, y, xt, yt] = [train.images, train.labels, test.images, test.labels];
} else if (name === 'twoinput') {
  model = buildModel('twoinput', seed);
  model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: 'adam', metrics: ['accuracy'] });
  const [q, qt] = [quadrants(train.images), quadrants(test.images)];
  owned.push(q, qt);
  [x, y, xt, yt] = [{ image: train.images, quadrants: q } as never, train.labels, [test.images, qt], test.labels];
} else if (name === 'twooutput') {
  model = buildModel('twooutput', seed);
  model.compile({
    loss: { digit: 'sparseCategoricalCrossentropy', ink: 'mse' },
    lossWeights: { digit: 1, ink: 10 },
    optimizer: 'adam',
    metrics: { digit: ['accuracy'], ink: ['mae'] },
  });
  const [m, mt] = [ink(train.images), ink(test.images)];
  owned.push(m, mt);
  [x, y, xt, yt] = [train.images, [train.labels, m], test.images, { digit: test.labels, ink: mt } as never];
} else if (name === 'autoencoder') {
  model = buildModel('autoencoder', seed);
  model.compile({ loss: 'mse', optimizer: 'adam', metrics: ['mae'] });
  [x, y, xt, yt] = [train.images, train.images, test.images, test.images];
} else if (name === 'transfer') {
  // Train the ResNet on digits 0-4 (quietly), then reuse its body, frozen, under a new head for digits 5-9.
  const { first, build } = buildTransfer(seed);
  first.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: 'adam', metrics: ['accuracy'] });
  const [lowX, lowY] = digits(
      train.images,
      train.labels,
      d => d < 5,
      d => d,
    ),
    [lowXt, lowYt] = digits(
      test.images,
      test.labels,
      d => d < 5,
      d => d,
    );
  owned.push(lowX, lowY, lowXt, lowYt);
  await first.fit(lowX, lowY, { batchSize, epochs, verbose: 0 });
  console.log(`resnet on digits 0-4: test accuracy ${(100 * first.evaluate(lowXt, lowYt, { batchSize: 256 })[1]).toFixed(2)}%`);
  model = build(); // the base frozen
  model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: new Adam({ learningRate: 0.003 }), metrics: ['accuracy'] });
  [x, y] = digits(
    train.images,
    train.labels,
    d => d >= 5,
    d => d - 5,
  );
  [xt, yt] = digits(
    test.images,
    test.labels,
    d => d >= 5,
    d => d - 5,
  );
  owned.push(x, y, xt, yt);
} else if (name === 'lenet') {
  model = buildModel('lenet', seed);
  model.compile({
    loss: 'sparseCategoricalCrossentropy',
    optimizer: new SGD({ learningRate: 0.05, momentum: 0.9, nesterov: true }),
    metrics: ['accuracy'],
  });
  [x, y, xt, yt] = [train.images, train.labels, test.images, test.labels];
} else if (name === 'bncnn') {
  model = buildModel('bncnn', seed);
  model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: 'adam', metrics: ['accuracy'] });
  [x, y, xt, yt] = [train.images, train.labels, test.images, test.labels];
} else {
  model = buildModel('binary', seed);
  model.compile({ loss: 'binaryCrossentropy', optimizer: 'rmsprop', metrics: ['accuracy'] });
  [x, y] = twoDigits(train.images, train.labels);
  [xt, yt] = twoDigits(test.images, test.labels);
  owned.push(x, y, xt, yt);
}
model.summary();
const rowsOf = (t: Tensor | Tensor[] | Record<string, Tensor>) => (t instanceof kn.Tensor ? t : Object.values(t)[0]).shape[0];
console.log('backend:', backend().name, '-', rowsOf(x), 'training images,', rowsOf(xt), 'test images');
const t0 = performance.now();
const history = await model.fit(x, y, { batchSize, epochs, validationData: [xt, yt], verbose: process.stdout.isTTY ? 1 : 2 });
const seconds = (performance.now() - t0) / 1e3;
const values = model.evaluate(xt, yt, { batchSize: 256 });
const testLoss = values[0],
  metric = model.outputNames.length > 1 ? `${model.outputNames[0]}_accuracy` : name === 'autoencoder' ? 'mae' : 'accuracy';
const testAccuracy = values[1 + metricKeysOf().indexOf(metric)];
console.log(
  `${model.name}: test loss ${testLoss.toFixed(4)}, test ${metric} ${metric.endsWith('accuracy') ? `${(100 * testAccuracy).toFixed(2)}%` : testAccuracy.toFixed(4)} ` +
    `after ${epochs} epochs (${seconds.toFixed(1)} s, ${((seconds / epochs) * 1).toFixed(1)} s per epoch)`,
);

/** The names of evaluate's values after the loss, as fit logs them. */
function metricKeysOf(): string[] {
  return Object.keys(history.history).filter(k => k !== 'loss' && k !== 'lr' && !k.startsWith('val_'));
}
if (opts.json) {
  writeFileSync(
    opts.json as string,
    JSON.stringify(
      {
        model: name,
        epochs,
        batchSize,
        seed,
        history: history.history,
        testLoss,
        testAccuracy,
        seconds,
        backend: backend(),
        trainSamples: rowsOf(x),
        testSamples: rowsOf(xt),
      },
      null,
      2,
    ) + '\n',
  );
}
dispose([...owned, train.images, train.labels, test.images, test.labels]);
model.dispose();
