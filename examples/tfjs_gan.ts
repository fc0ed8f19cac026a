// A GAN on MNIST written as a tfjs-node script writes one (kernelnet/tfjs in place of @tensorflow/tfjs-node): a
// generator and a discriminator, each a tf.sequential of Dense layers, trained in a custom loop with two Adam
// optimizers, each optimizer.minimize() updating its own model's weights; the generator learns through the
// discriminator (model.apply is differentiable). Prints both losses and how often the discriminator is right.
//   npm run build && node dist/examples/tfjs_gan.js [--steps 3000] [--batch-size 64] [--train-limit N] [--seed S]
//                                                  [--json out.json] [--png samples.png]
// --png writes 16 generated digits (needs sharp, kernelnet's optional image dependency).
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tf from '../lib/tfjs.js';
import { loadMnist } from '../lib/index.js';

function die(message: string): never {
  console.error(`tfjs_gan: ${message}`);
  process.exit(2);
}
let opts: Record<string, string | undefined>;
try {
  opts = parseArgs({
    options: {
      steps: { type: 'string', default: '3000' },
      'batch-size': { type: 'string', default: '64' },
      'train-limit': { type: 'string' },
      seed: { type: 'string', default: '1' },
      json: { type: 'string' },
      png: { type: 'string' },
    },
  }).values as Record<string, string | undefined>;
} catch (e) {
  die((e as Error).message.split('\n')[0]);
}
const int = (name: string): number | undefined => {
  const v = opts[name];
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) === 0) die(`--${name} expects a positive integer, received '${v}'`);
  return Number(v);
};
const steps = int('steps')!,
  batchSize = int('batch-size')!,
  seed = int('seed')!;
const LATENT = 64;

const mnist = loadMnist(undefined, { trainLimit: int('train-limit'), testLimit: 0 });
const images = tf.tidy(() => tf.sub(tf.mul(mnist.train.images.reshape([-1, 784]), 2), 1)); // pixels in [-1, 1]
mnist.train.images.dispose();
mnist.train.labels.dispose();
const n = images.shape[0];

const generator = tf.sequential({
  layers: [
    tf.layers.dense({ units: 256, inputShape: [LATENT] }),
    tf.layers.leakyReLU({ alpha: 0.2 }),
    tf.layers.dense({ units: 784, activation: 'tanh' }),
  ],
});
const discriminator = tf.sequential({
  layers: [
    tf.layers.dense({ units: 256, inputShape: [784] }),
    tf.layers.leakyReLU({ alpha: 0.2 }),
    tf.layers.dense({ units: 1, activation: 'sigmoid' }),
  ],
});
const gVars = generator.trainableWeights.map(w => w.read()),
  dVars = discriminator.trainableWeights.map(w => w.read());
const gOptimizer = tf.train.adam(0.0002, 0.5),
  dOptimizer = tf.train.adam(0.0002, 0.5);

/** Binary cross-entropy of probabilities p against one label for the whole batch. */
const bce = (p: tf.Tensor, label: 0 | 1) => tf.neg(tf.mean(tf.log(tf.add(label ? p : tf.sub(1, p), 1e-7))));

const history: { step: number; dLoss: number; gLoss: number; dAccuracy: number }[] = [];
let tensorsAtStart = 0;
const started = performance.now();
for (let step = 0; step < steps; ++step) {
  const real = tf.tidy(() => tf.gather(images, tf.randomUniformInt([batchSize], 0, n, seed * 1_000_003 + step)));
  const z = tf.randomNormal([batchSize, LATENT], 0, 1, 'float32', seed * 7_000_003 + step);
  let dAccuracy = 0;
  const dLoss = dOptimizer.minimize(
    () => {
      const pReal = discriminator.apply(real, { training: true }) as tf.Tensor,
        pFake = discriminator.apply(generator.apply(z, { training: true }) as tf.Tensor, { training: true }) as tf.Tensor;
      dAccuracy = tf.tidy(
        () => tf.add(tf.mean(tf.cast(tf.greater(pReal, 0.5), 'float32')), tf.mean(tf.cast(tf.lessEqual(pFake, 0.5), 'float32'))).dataSync()[0] / 2,
      );
      return tf.add(bce(pReal, 1), bce(pFake, 0));
    },
    true,
    dVars,
  )!;
  const gLoss = gOptimizer.minimize(
    () => bce(discriminator.apply(generator.apply(z, { training: true }) as tf.Tensor) as tf.Tensor, 1),
    true,
    gVars,
  )!;
  if (step % 100 === 0 || step === steps - 1) {
    const row = { step, dLoss: dLoss.dataSync()[0], gLoss: gLoss.dataSync()[0], dAccuracy };
    history.push(row);
    console.log(
      `step ${step}: discriminator loss ${row.dLoss.toFixed(4)} (right ${(100 * dAccuracy).toFixed(1)}%), generator loss ${row.gLoss.toFixed(4)}`,
    );
  }
  tf.dispose([real, z, dLoss, gLoss]);
  if (step === 0) tensorsAtStart = tf.memory().numTensors; // after the optimizers made their slots
}
const seconds = (performance.now() - started) / 1000;
console.log(`${steps} steps in ${seconds.toFixed(1)} s; tensors after the first step ${tensorsAtStart}, at the end ${tf.memory().numTensors}`);

if (opts.png) {
  const grid = tf.tidy(() => {
    const digits = tf.reshape(
      tf.add(tf.mul(generator.predict(tf.randomNormal([16, LATENT], 0, 1, 'float32', seed)) as tf.Tensor, 127.5), 127.5),
      [4, 4, 28, 28],
    );
    return tf.cast(tf.reshape(tf.transpose(digits, [0, 2, 1, 3]), [112, 112, 1]), 'int32');
  });
  writeFileSync(opts.png, await tf.node.encodePng(grid));
  grid.dispose();
  console.log(`16 generated digits: ${opts.png}`);
}
if (opts.json) writeFileSync(opts.json, JSON.stringify({ steps, seconds, history, tensorsAtStart, tensorsAtEnd: tf.memory().numTensors }, null, 2));
