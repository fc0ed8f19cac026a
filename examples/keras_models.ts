// Three small vision models as Keras users write them, trained on MNIST:
//   lenet   LeNet-5 as LeCun drew it: Conv2D(6, 5x5, tanh, 'same') - AveragePooling2D - Conv2D(16, 5x5, tanh) -
//           AveragePooling2D - Flatten - Dense(120, tanh) - Dense(84, tanh) - Dense(10, softmax); SGD with
//           Nesterov momentum; sparse categorical cross-entropy on int32 labels.
//   bncnn   A BatchNorm CNN: [Conv2D(no bias) - BatchNormalization - Activation('relu')] blocks, MaxPooling2D,
//           GlobalAveragePooling2D, Dropout, Dense softmax; 'adam'.
//   binary  A binary classifier of two digits (3 against 8) with a sigmoid head and binaryCrossentropy; 'rmsprop'.
// Each has fixed epochs and batch size (the acceptance settings); the flags shorten a run.
//
//   npm run models -- --model lenet|bncnn|binary [--epochs N] [--train-limit N] [--test-limit N] [--seed S]
//                     [--backend cpu|cuda] [--json FILE]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const SETTINGS = { lenet: { epochs: 10, batchSize: 64 }, bncnn: { epochs: 5, batchSize: 128 }, binary: { epochs: 3, batchSize: 64 } } as const;
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
    'usage: npm run models -- --model lenet|bncnn|binary [--epochs N] [--train-limit N] [--test-limit N] [--seed S] ' +
      '[--backend cpu|cuda] [--json FILE]',
  );
  process.exit(0);
}
const name = opts.model as ModelName;
if (!Object.hasOwn(SETTINGS, name ?? '')) die(`--model expects lenet, bncnn or binary, received '${opts.model}'`);
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
const {
  Sequential,
  Conv2D,
  AveragePooling2D,
  MaxPooling2D,
  GlobalAveragePooling2D,
  BatchNormalization,
  Activation,
  Dropout,
  Flatten,
  Dense,
  SGD,
  loadMnist,
  tensor,
  backend,
  dispose,
} = kn;
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

let model: InstanceType<typeof Sequential>, x: Tensor, y: Tensor, xt: Tensor, yt: Tensor;
if (name === 'lenet') {
  model = new Sequential({
    seed,
    name: 'lenet5',
    layers: [
      new Conv2D({ filters: 6, kernelSize: 5, activation: 'tanh', padding: 'same', inputShape: [28, 28, 1] }),
      new AveragePooling2D({ poolSize: 2 }),
      new Conv2D({ filters: 16, kernelSize: 5, activation: 'tanh' }),
      new AveragePooling2D({ poolSize: 2 }),
      new Flatten(),
      new Dense({ units: 120, activation: 'tanh' }),
      new Dense({ units: 84, activation: 'tanh' }),
      new Dense({ units: 10, activation: 'softmax' }),
    ],
  });
  model.compile({
    loss: 'sparseCategoricalCrossentropy',
    optimizer: new SGD({ learningRate: 0.05, momentum: 0.9, nesterov: true }),
    metrics: ['accuracy'],
  });
  [x, y, xt, yt] = [train.images, train.labels, test.images, test.labels];
} else if (name === 'bncnn') {
  const block = (filters: number, first = false) => [
    new Conv2D({ filters, kernelSize: 3, padding: 'same', useBias: false, ...(first ? { inputShape: [28, 28, 1] } : {}) }),
    new BatchNormalization(),
    new Activation({ activation: 'relu' }),
  ];
  model = new Sequential({
    seed,
    name: 'bn_cnn',
    layers: [
      ...block(32, true),
      ...block(32),
      new MaxPooling2D({ poolSize: 2 }),
      ...block(64),
      ...block(64),
      new MaxPooling2D({ poolSize: 2 }),
      new GlobalAveragePooling2D(),
      new Dropout({ rate: 0.3 }),
      new Dense({ units: 10, activation: 'softmax' }),
    ],
  });
  model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: 'adam', metrics: ['accuracy'] });
  [x, y, xt, yt] = [train.images, train.labels, test.images, test.labels];
} else {
  model = new Sequential({
    seed,
    name: 'three_or_eight',
    layers: [
      new Conv2D({ filters: 16, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1] }),
      new MaxPooling2D({ poolSize: 2 }),
      new Flatten(),
      new Dense({ units: 32, activation: 'relu' }),
      new Dense({ units: 1, activation: 'sigmoid' }),
    ],
  });
  model.compile({ loss: 'binaryCrossentropy', optimizer: 'rmsprop', metrics: ['accuracy'] });
  [x, y] = twoDigits(train.images, train.labels);
  [xt, yt] = twoDigits(test.images, test.labels);
}
model.summary();
console.log('backend:', backend().name, '-', x.shape[0], 'training images,', xt.shape[0], 'test images');
const t0 = performance.now();
const history = await model.fit(x, y, { batchSize, epochs, validationData: [xt, yt], verbose: process.stdout.isTTY ? 1 : 2 });
const seconds = (performance.now() - t0) / 1e3;
const [testLoss, testAccuracy] = model.evaluate(xt, yt, { batchSize: 256 });
console.log(
  `${model.name}: test loss ${testLoss.toFixed(4)}, test accuracy ${(100 * testAccuracy).toFixed(2)}% after ${epochs} epochs (${seconds.toFixed(1)} s)`,
);
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
        trainSamples: x.shape[0],
        testSamples: xt.shape[0],
      },
      null,
      2,
    ) + '\n',
  );
}
dispose([x, y, xt, yt, train.images, train.labels, test.images, test.labels]);
model.dispose();
