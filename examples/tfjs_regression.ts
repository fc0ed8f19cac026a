// A custom regression loop written as a tfjs-node script writes one (kernelnet/tfjs in place of
// @tensorflow/tfjs-node): the coefficients of y = a x^3 + b x^2 + c x + d as tf.variables, fitted to noisy samples
// with tf.variableGrads and optimizer.applyGradients, the loop tfjs-examples' polynomial regression runs with
// optimizer.minimize (which is variableGrads then applyGradients). Prints the loss and the coefficients found.
//   npm run build && node dist/examples/tfjs_regression.js [--steps 500] [--points 200] [--seed S] [--json out.json]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tf from '../lib/tfjs.js';

function die(message: string): never {
  console.error(`tfjs_regression: ${message}`);
  process.exit(2);
}
let opts: Record<string, string | undefined>;
try {
  opts = parseArgs({
    options: {
      steps: { type: 'string', default: '500' },
      points: { type: 'string', default: '200' },
      seed: { type: 'string', default: '1' },
      json: { type: 'string' },
    },
  }).values as Record<string, string | undefined>;
} catch (e) {
  die((e as Error).message.split('\n')[0]);
}
const int = (name: string): number => {
  const v = opts[name]!;
  if (!/^\d+$/.test(v) || Number(v) === 0) die(`--${name} expects a positive integer, received '${v}'`);
  return Number(v);
};
const steps = int('steps'),
  points = int('points'),
  seed = int('seed');

const truth = { a: -0.8, b: -0.2, c: 0.9, d: 0.5 };
const xs = tf.randomUniform([points], -1, 1, 'float32', seed);
const ys = tf.tidy(() => {
  const clean = tf.addN([tf.mul(truth.a, tf.pow(xs, 3)), tf.mul(truth.b, tf.square(xs)), tf.mul(truth.c, xs), tf.fill([points], truth.d)]);
  return tf.add(clean, tf.randomNormal([points], 0, 0.04, 'float32', seed + 1));
});

const a = tf.variable(tf.scalar(0), true, 'a'),
  b = tf.variable(tf.scalar(0), true, 'b'),
  c = tf.variable(tf.scalar(0), true, 'c'),
  d = tf.variable(tf.scalar(0), true, 'd');
const predict = (x: tf.Tensor) => tf.tidy(() => tf.addN([tf.mul(a, tf.pow(x, 3)), tf.mul(b, tf.square(x)), tf.mul(c, x), tf.mul(d, tf.onesLike(x))]));
const loss = () => tf.mean(tf.square(tf.sub(predict(xs), ys)));

const optimizer = tf.train.adam(0.05);
const losses: number[] = [];
for (let step = 0; step < steps; ++step) {
  const { value, grads } = tf.variableGrads(loss, [a, b, c, d]);
  optimizer.applyGradients(grads as Record<string, tf.Tensor>);
  if (step % 50 === 0 || step === steps - 1) {
    losses.push(value.dataSync()[0]);
    console.log(`step ${step}: loss ${losses.at(-1)!.toFixed(6)}`);
  }
  tf.dispose([value, grads]);
}
const found = Object.fromEntries([a, b, c, d].map(v => [v.name, v.dataSync()[0]]));
console.log(
  `found   ${Object.entries(found)
    .map(([k, v]) => `${k} = ${v.toFixed(3)}`)
    .join(', ')}`,
);
console.log(
  `truth   ${Object.entries(truth)
    .map(([k, v]) => `${k} = ${v.toFixed(3)}`)
    .join(', ')}`,
);
if (opts.json) writeFileSync(opts.json, JSON.stringify({ steps, losses, found, truth }, null, 2));
tf.dispose([xs, ys]);
tf.disposeVariables();
optimizer.dispose();
