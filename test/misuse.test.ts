// What a new user tries that used to be silently ignored, silently wrong, or reported as something else: each
// case reproduced what main did before the fix (trained without the option, trained twice at once, replaced
// another model's weights, coerced data to NaN, ...), and now must be refused with a coded error, or work.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Adadelta,
  Conv2D,
  Dense,
  Dropout,
  Flatten,
  MaxPooling2D,
  Sequential,
  StateError,
  Tensor,
  ValidationError,
  dispose,
  keep,
  loadMnist,
  memory,
  tensor,
  tidy,
  toCategorical,
} from '../lib/index.js';
import { smallModel, syntheticData, throwsA } from './helpers.js';

const compiled = (seed = 1) => {
  const m = smallModel(seed);
  m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta(), metrics: ['accuracy'] });
  return m;
};
const weightsOf = (m: Sequential) => tidy(() => m.getWeights().map(w => Array.from(w.dataSync())));
/** Asserts fn throws (or rejects with) a ValidationError or StateError with this code and message. */
async function refused(fn: () => unknown, code: string, pattern: RegExp, what: string) {
  try {
    await fn();
  } catch (e) {
    const err = e as Error & { code?: string };
    assert.ok(err instanceof ValidationError || err instanceof StateError, `${what}: ${err.name} ${err.message}`);
    assert.is(err.code, code, `${what}: ${err.message}`);
    assert.match(err.message, pattern, what);
    assert.ok(err.message.length < 400, `${what}: a ${err.message.length}-character message`);
    return;
  }
  assert.unreachable(`${what}: was not refused`);
}

const Options = suite('options: unknown refused, not yet supported refused, defaults accepted');

Options('an unknown option is refused wherever an options object is accepted, naming the key and the supported ones', async () => {
  const { x, y } = syntheticData(12);
  const m = compiled();
  await refused(
    () => new Conv2D({ filters: 2, kernelSize: 3, kernel_size: 3 } as never),
    'ERR_KERNELNET_ARG',
    /^Unknown option 'kernel_size' in Conv2D args \(did you mean 'kernelSize'\?\); supported: name, inputShape, trainable, filters, kernelSize/,
    'Conv2D',
  );
  await refused(() => new Dense({ units: 2, activaton: 'relu' } as never), 'ERR_KERNELNET_ARG', /Unknown option 'activaton' in Dense args/, 'Dense');
  await refused(() => new MaxPooling2D({ pool: 2 } as never), 'ERR_KERNELNET_ARG', /Unknown option 'pool' in MaxPooling2D args/, 'MaxPooling2D');
  await refused(() => new Dropout({ rate: 0.5, rat: 1 } as never), 'ERR_KERNELNET_ARG', /Unknown option 'rat'/, 'Dropout');
  await refused(() => new Flatten({ foo: 1 } as never), 'ERR_KERNELNET_ARG', /Unknown option 'foo' in Flatten args/, 'Flatten');
  await refused(() => new Sequential({ seeds: 1 } as never), 'ERR_KERNELNET_ARG', /Unknown option 'seeds' in Sequential args/, 'Sequential');
  await refused(
    () => new Adadelta({ learning_rate: 0.1 } as never),
    'ERR_KERNELNET_ARG',
    /Unknown option 'learning_rate' in Adadelta args \(did you mean 'learningRate'\?\)/,
    'Adadelta',
  );
  await refused(
    () => smallModel(1).compile({ loss: 'categoricalCrossentropy', optimizer: 'adadelta', metric: ['accuracy'] } as never),
    'ERR_KERNELNET_ARG',
    /Unknown option 'metric' in compile args \(did you mean 'metrics'\?\)/,
    'compile',
  );
  await refused(
    () => m.fit(x, y, { batch_size: 4 } as never),
    'ERR_KERNELNET_ARG',
    /Unknown option 'batch_size' in fit options \(did you mean 'batchSize'\?\)/,
    'fit',
  );
  await refused(() => m.evaluate(x, y, { batchsize: 4 } as never), 'ERR_KERNELNET_ARG', /Unknown option 'batchsize' in evaluate options/, 'evaluate');
  await refused(() => m.predict(x, { batch: 4 } as never), 'ERR_KERNELNET_ARG', /Unknown option 'batch' in predict options/, 'predict');
  await refused(
    () => loadMnist(undefined, { limit: 10 } as never),
    'ERR_KERNELNET_ARG',
    /Unknown option 'limit' in loadMnist options; supported: trainLimit, testLimit/,
    'loadMnist',
  );
  await refused(
    () => m.fit(x, y, { callbacks: { onEpochEnd: () => {}, onEpochEdn: () => {} } } as never),
    'ERR_KERNELNET_ARG',
    /Unknown option 'onEpochEdn' in fit callbacks/,
    'callbacks',
  );
  m.dispose();
  dispose([x, y]);
});

Options('a Keras/tfjs option kernelnet does not support yet never trains silently; its default value is accepted', async () => {
  const { x, y } = syntheticData(12);
  const m = compiled();
  const before = weightsOf(m);
  const unsupported: [string, () => unknown][] = [
    ['validationSteps', () => m.fit(x, y, { validationSteps: 2, verbose: 0 } as never)],
    ['evaluate steps', () => m.evaluate(x, y, { steps: 1 } as never)],
    ['stepsPerEpoch', () => m.fit(x, y, { stepsPerEpoch: 2, verbose: 0 } as never)],
    ['groups', () => new Conv2D({ filters: 2, kernelSize: 3, groups: 2 } as never)],
    ['dataFormat', () => new Conv2D({ filters: 2, kernelSize: 3, dataFormat: 'channelsFirst' } as never)],
    ['kernelRegularizer', () => new Dense({ units: 2, kernelRegularizer: 'l2' } as never)],
    ['Adadelta clipnorm', () => new Adadelta({ clipnorm: 1 } as never)],
  ];
  for (const [what, fn] of unsupported) await refused(fn, 'ERR_KERNELNET_UNSUPPORTED', /not supported yet/, what);
  assert.equal(weightsOf(m), before, 'nothing trained');
  // The values that ask for what kernelnet does anyway are fine.
  new Conv2D({
    filters: 2,
    kernelSize: 3,
    useBias: true,
    groups: 1,
    dataFormat: 'channelsLast',
    kernelInitializer: 'glorotUniform',
    biasInitializer: 'zeros',
    trainable: true,
  } as never);
  new Dense({ units: 2, useBias: true, kernelRegularizer: null } as never);
  await m.fit(x, y, { validationSplit: 0, initialEpoch: 0, validationFreq: 1, epochs: 1, verbose: 0 } as never);
  m.dispose();
  dispose([x, y]);
});

Options('positional arguments where an options object belongs are refused, and so is a callback that is no function, before training', async () => {
  const { x, y } = syntheticData(12);
  const m = compiled();
  const before = weightsOf(m);
  await refused(
    () => m.fit(x, y, 8 as never),
    'ERR_KERNELNET_ARG',
    /^Expected an options object for fit options but received 8 of type number$/,
    'fit(x, y, 8)',
  );
  await refused(
    () => m.evaluate(x, y, 128 as never),
    'ERR_KERNELNET_ARG',
    /Expected an options object for evaluate options but received 128/,
    'evaluate(x, y, 128)',
  );
  await refused(() => m.predict(x, 32 as never), 'ERR_KERNELNET_ARG', /Expected an options object for predict options/, 'predict(x, 32)');
  await refused(() => new Dropout(0.5 as never), 'ERR_KERNELNET_ARG', /Expected an options object for Dropout args/, 'new Dropout(0.5)');
  await refused(
    () => m.fit(x, y, { callbacks: { onEpochEnd: 5 }, epochs: 2, verbose: 0 } as never),
    'ERR_KERNELNET_ARG',
    /Expected a function for callbacks.onEpochEnd but received 5 of type number/,
    'callback 5',
  );
  assert.equal(weightsOf(m), before, 'refused before any step');
  m.dispose();
  dispose([x, y]);
});

Options('error messages describe large values briefly, and booleans as booleans', async () => {
  const { x, y } = syntheticData(12);
  const m = compiled();
  await refused(
    () => m.fit(x, y, { batchSize: new Float32Array(60000) } as never),
    'ERR_KERNELNET_ARG',
    /^Expected positive integer for batchSize but received a Float32Array of length 60000 \[0, 0, 0, 0, 0, \.\.\.\]$/,
    'a big typed array',
  );
  await refused(
    () => m.fit(x, y, { batchSize: Array.from({ length: 60000 }, (_, i) => i) } as never),
    'ERR_KERNELNET_ARG',
    /received an array of length 60000 \[0, 1, 2, 3, 4, \.\.\.\]$/,
    'a big array',
  );
  await refused(
    () => m.fit(x, y, { verbose: true } as never),
    'ERR_KERNELNET_ARG',
    /^Expected one of 0, 1, 2 for verbose but received true of type boolean$/,
    'verbose: true',
  );
  await refused(
    () => m.fit(x, y, { shuffle: 'yes' } as never),
    'ERR_KERNELNET_ARG',
    /Expected a boolean for shuffle but received 'yes' of type string/,
    'shuffle',
  );
  m.dispose();
  dispose([x, y]);
});

Options.run();

const Models = suite('one model, one optimizer, one owner per layer, one fit at a time');

Models('a second fit() on a model that is fitting is refused; predict and evaluate during fit are safe and change nothing', async () => {
  const { x, y } = syntheticData(48);
  const reference = compiled(3);
  await reference.fit(x, y, { batchSize: 8, epochs: 2, verbose: 0 });
  const m = compiled(3);
  // Each batch waits 2 ms (fit awaits a callback's promise), so the interval below runs between steps however
  // fast they are: without it a fast machine could finish all 12 before the timer's first millisecond.
  const pause = { onBatchEnd: () => new Promise<void>(resolve => setTimeout(resolve, 2)) };
  const running = m.fit(x, y, { batchSize: 8, epochs: 2, verbose: 0, callbacks: pause });
  await refused(() => m.fit(x, y, { verbose: 0 }), 'ERR_KERNELNET_BUSY', /already training/, 'second fit');
  await refused(
    () => m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta() }),
    'ERR_KERNELNET_BUSY',
    /inside fit/,
    'compile during fit',
  );
  // Between the steps of the running fit: evaluate and predict, at the training batch size and at others.
  let interleaved = 0;
  const timer = setInterval(() => {
    m.evaluate(x, y, { batchSize: 8 });
    m.predict(x, { batchSize: 5 }).dispose();
    interleaved++;
  }, 0);
  const h = await running;
  clearInterval(timer);
  assert.ok(interleaved > 0, 'predict and evaluate ran while fit was running');
  assert.equal(weightsOf(m), weightsOf(reference), 'the same weights as a fit with nothing interleaved');
  assert.is(h.history.loss.length, 2);
  m.dispose();
  reference.dispose();
  dispose([x, y]);
});

Models('one optimizer instance given to two models is refused (Keras binds it to one set of variables)', () => {
  const opt = new Adadelta();
  const a = smallModel(1),
    b = smallModel(2);
  a.compile({ loss: 'categoricalCrossentropy', optimizer: opt });
  a.compile({ loss: 'categoricalCrossentropy', optimizer: opt }); // the same model again is fine
  throwsA(
    ValidationError,
    () => b.compile({ loss: 'categoricalCrossentropy', optimizer: opt }),
    /already updates another model's weights/,
    'shared optimizer',
  );
  a.dispose(); // which frees it
  b.compile({ loss: 'categoricalCrossentropy', optimizer: opt });
  b.dispose();
});

// Keras's shared layers (keras/src/layers/layer.py: a layer owns its variables, whatever model calls it): a
// layer added to a second model keeps its weights (compiling the second model does not re-initialise them),
// training either model moves them for both, and they are freed with the last model that holds the layer.
Models('a layer in two models is shared, as in Keras: one set of weights, kept until the last model goes', async () => {
  const { x, y } = syntheticData(24);
  const conv = new Conv2D({ filters: 2, kernelSize: 3, activation: 'relu', inputShape: [8, 8, 1] });
  const head = new Dense({ units: 3, activation: 'softmax' });
  const a = new Sequential({ seed: 1, layers: [conv, new Flatten(), head] });
  a.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta() });
  await a.fit(x, y, { batchSize: 8, epochs: 1, verbose: 0 });
  const trained = tidy(() => conv.getWeights().map(w => Array.from(w.dataSync())));
  // Reuse the trained feature extractor under a new head (transfer learning), frozen first.
  const b = new Sequential({ seed: 2, layers: [conv, new Flatten(), new Dense({ units: 3, activation: 'softmax' })] });
  assert.equal(
    b.layers.map(l => l.name),
    ['conv2d', 'flatten', 'dense'],
    'names unique within each model',
  );
  b.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta() });
  assert.equal(
    tidy(() =>
      b
        .getWeights()
        .slice(0, 2)
        .map(w => Array.from(w.dataSync())),
    ),
    trained,
    'compile kept the trained weights',
  );
  conv.trainable = false;
  await b.fit(x, y, { batchSize: 8, epochs: 1, verbose: 0 });
  assert.equal(
    tidy(() => conv.getWeights().map(w => Array.from(w.dataSync()))),
    trained,
    'frozen in b',
  );
  conv.trainable = true;
  await b.fit(x, y, { batchSize: 8, epochs: 1, verbose: 0 });
  const moved = tidy(() =>
    a
      .getWeights()
      .slice(0, 2)
      .map(w => Array.from(w.dataSync())),
  );
  assert.not.equal(moved, trained, 'training b moved the weights a uses');
  assert.equal(
    moved,
    tidy(() =>
      b
        .getWeights()
        .slice(0, 2)
        .map(w => Array.from(w.dataSync())),
    ),
    'one set of weights',
  );
  // A third model: the shared head's name is taken, so a new Dense is named past it.
  const c = new Sequential({ layers: [new Flatten({ inputShape: [8, 8, 2] }), new Dense({ units: 3 })] });
  throwsA(ValidationError, () => c.add(head), /the shared layer dense was built for inputs of shape \[72\] but here gets \[3\]/, 'shape');
  throwsA(ValidationError, () => a.add(conv), /already in this model/, 'same layer twice');
  const d = new Sequential({ layers: [new Flatten({ inputShape: [72] }), head, new Dense({ units: 3, activation: 'softmax' })] });
  assert.equal(
    d.layers.map(l => l.name),
    ['flatten', 'dense', 'dense_1'],
  );
  a.dispose(); // b and d still hold conv and head
  assert.ok(
    [...conv.params, ...head.params].every(p => !p.value.disposed),
    'shared weights outlive a',
  );
  const p = b.predict(x);
  assert.equal(p.shape, [24, 3]);
  p.dispose();
  b.dispose();
  for (const m of [c, d]) m.dispose();
  assert.is(conv.params.length, 0, 'freed with the last model holding it');
  dispose([x, y]);
});

Models('setWeights is atomic: a wrong last tensor leaves every weight as it was', () => {
  const m = compiled();
  const before = weightsOf(m);
  const ws = tidy(() => m.getWeights().map(w => tensor(new Float32Array(w.size).fill(7), w.shape)));
  const last = ws.at(-1)!;
  ws[ws.length - 1] = tensor(new Int32Array(last.size), last.shape); // right shape, wrong dtype
  throwsA(ValidationError, () => m.setWeights(ws), /Expected weights\[\d+\] to be a float32 tensor/, 'int32 weights');
  assert.equal(weightsOf(m), before, 'nothing written');
  dispose([ws, last]);
  m.dispose();
});

Models('after dispose() every method says the model was disposed, and compile() does not bring it back', async () => {
  const { x, y } = syntheticData(6);
  const m = compiled();
  m.dispose();
  m.dispose(); // twice is fine
  const calls: [string, () => unknown][] = [
    ['fit', () => m.fit(x, y)],
    ['evaluate', () => m.evaluate(x, y)],
    ['predict', () => m.predict(x)],
    ['compile', () => m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta() })],
    ['getWeights', () => m.getWeights()],
    ['setWeights', () => m.setWeights([])],
    ['summary', () => m.summary(() => {})],
    ['save', () => m.save('x.safetensors')],
    ['add', () => m.add(new Flatten())],
  ];
  for (const [name, fn] of calls) await refused(fn, 'ERR_KERNELNET_DISPOSED', new RegExp(`\\.${name}: the model was disposed$`), name);
  dispose([x, y]);
});

Models('disposing the model or its data during fit rejects fit with what the user did', async () => {
  const { x, y } = syntheticData(96);
  const m = compiled();
  const running = m.fit(x, y, { batchSize: 8, epochs: 3, verbose: 0 });
  setImmediate(() => m.dispose()); // between the steps of the running fit: fit yields after each step
  await refused(
    () => running,
    'ERR_KERNELNET_DISPOSED',
    /^sequential\.fit: the model was disposed during training \(epoch 1\/3, step \d+\/12\)$/,
    'model disposed',
  );
  const m2 = compiled(),
    x2 = tensor(x.dataSync() as Float32Array, x.shape);
  const running2 = m2.fit(x2, y, { batchSize: 8, epochs: 3, verbose: 0, validationData: [x, y] });
  setImmediate(() => x2.dispose());
  await refused(() => running2, 'ERR_KERNELNET_DISPOSED', /fit: x was disposed during training/, 'data disposed');
  m2.dispose();
  dispose([x, y]);
});

Models.run();

const Data = suite('data: shapes inferred as tfjs does, nothing coerced');

Data('tensor() infers the shape of nested arrays, refuses ragged ones and anything but numbers', () =>
  tidy(() => {
    const t = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.equal(t.shape, [2, 3]);
    assert.equal(Array.from(t.dataSync()), [1, 2, 3, 4, 5, 6]);
    assert.equal(tensor([[[1], [2]]]).shape, [1, 2, 1]);
    assert.equal(tensor(7).shape, []);
    assert.equal(tensor([1, 2, 3, 4], [2, 2]).shape, [2, 2], 'flat data takes a shape');
    assert.equal(tensor([new Float32Array([1, 2]), new Float32Array([3, 4])]).shape, [2, 2], 'arrays of typed arrays');
    throwsA(ValidationError, () => tensor([[1, 2], [3]]), /data\[1\] to be an array of length 2 \(nested arrays must not be ragged/, 'ragged');
    throwsA(ValidationError, () => tensor([[1, 2], 3] as never), /data\[1\] to be an array of length 2/, 'ragged depth');
    throwsA(ValidationError, () => tensor([1, 'a', 3] as never), /^Expected a number for data\[1\] but received 'a' of type string$/, 'a string');
    throwsA(ValidationError, () => tensor([true, false] as never), /Expected a number for data\[0\] but received true of type boolean/, 'booleans');
    throwsA(ValidationError, () => tensor([1, null] as never), /Expected a number for data\[1\] but received null/, 'null');
    throwsA(
      ValidationError,
      () =>
        tensor(
          [
            [1, 2],
            [3, 4],
          ],
          [4],
        ),
      /shape \[4\] to match the nested data's shape \[2, 2\]/,
      'shape mismatch',
    );
    throwsA(
      ValidationError,
      () => toCategorical([0, 1.5], 3),
      /Expected an integer class index for labels\[1\] but received 1.5/,
      'fractional label',
    );
  }),
);

Data('labels that are not one-hot are refused by fit and evaluate with categorical cross-entropy', async () => {
  const { x, y } = syntheticData(6);
  y.dispose();
  const m = compiled();
  const negative = tensor([
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
    [1, 0, 0],
    [-1, 1, 1],
    [0, 0, 1],
  ]);
  const unnormalised = tensor([
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
    [1, 0, 0],
    [0, 0.5, 0],
    [0, 0, 1],
  ]);
  const soft = tensor([
    [0.9, 0.05, 0.05],
    [0, 1, 0],
    [0, 0, 1],
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ]);
  await refused(
    () => m.fit(x, negative, { verbose: 0 }),
    'ERR_KERNELNET_ARG',
    /one-hot labels \(values in \[0, 1\], see toCategorical\) but y\[4\]\[0\] is -1/,
    'negative',
  );
  await refused(() => m.evaluate(x, unnormalised), 'ERR_KERNELNET_ARG', /each row summing to 1.* row 4 sums to 0.5/, 'unnormalised');
  m.evaluate(x, soft); // soft labels are categorical cross-entropy targets too
  dispose([negative, unnormalised, soft, x]);
  m.dispose();
});

Data.run();

const Memory = suite('memory: freed in synchronous code, caches bounded');

Memory('tidy() frees the tensors a synchronous loop drops, at once (400 dropped 4 MB tensors stay under 16 MB)', () => {
  const base = memory().bytesInUse;
  let peak = 0;
  for (let i = 0; i < 400; ++i)
    tidy(() => {
      const t = tensor(new Float32Array(1 << 20), [1 << 20]); // 4 MB, dropped
      peak = Math.max(peak, memory().bytesInUse - base);
      return t.size;
    });
  assert.ok(peak <= 4 << 20, `peak ${peak} bytes`);
  assert.is(memory().bytesInUse, base);
  // What tidy returns survives (into the enclosing tidy), keep() survives any tidy, nested scopes work.
  let kept!: Tensor;
  const outer = tidy(() => {
    const inner = tidy(() => [tensor([1]), { t: tensor([2]) }]);
    kept = keep(tensor([3]));
    tensor([4]);
    return inner[0] as Tensor;
  });
  assert.not.ok(outer.isDisposed);
  assert.not.ok(kept.isDisposed);
  throwsA(ValidationError, () => tidy(async () => 1 as never), /returned a Promise/, 'async fn');
  dispose([outer, kept]);
  assert.is(memory().bytesInUse, base);
  {
    using t = tensor(new Float32Array(1 << 20), [1 << 20]);
    assert.ok(t.size > 0);
    assert.ok(memory().bytesInUse > base);
  }
  assert.is(memory().bytesInUse, base, '`using` disposed it');
});

Memory('a model keeps at most 4 batch-size workspaces: predicting at 20 batch sizes does not grow without bound', () => {
  const { x, y } = syntheticData(40);
  const m = compiled();
  m.predict(x, { batchSize: 40 }).dispose();
  const after1 = memory().liveTensors;
  let most = 0;
  for (let b = 1; b <= 20; ++b) {
    tidy(() => m.predict(x, { batchSize: b }));
    most = Math.max(most, m.workspaceKeys.length);
  }
  assert.ok(most <= 4, `${most} workspaces`);
  assert.ok(memory().liveTensors <= after1 + 4 * 20, `${memory().liveTensors} live tensors`);
  m.dispose();
  dispose([x, y]);
});

Memory("evaluateAsync and predictAsync (and fit's validation) let the event loop run between batches", async () => {
  const { x, y } = syntheticData(64);
  const m = compiled();
  // Counts turns of the event loop: an immediate that schedules the next one runs once per turn.
  let ticks = 0,
    on = true;
  const spin = () => {
    ticks++;
    if (on) setImmediate(spin);
  };
  setImmediate(spin);
  const ticking = async (fn: () => Promise<unknown>) => {
    ticks = 0;
    await fn();
    return ticks;
  };
  const sync = m.evaluate(x, y, { batchSize: 4 });
  assert.equal(await m.evaluateAsync(x, y, { batchSize: 4 }), sync, 'the same figures');
  assert.ok((await ticking(() => m.evaluateAsync(x, y, { batchSize: 4 }))) >= 15, 'the loop turned during evaluateAsync (16 batches)');
  assert.ok((await ticking(async () => (await m.predictAsync(x, { batchSize: 4 })).dispose())) >= 15, 'the loop turned during predictAsync');
  // fit's validation pass is awaited too: its 16 batches of 4 turn the loop at least 15 times more than the 16
  // training steps alone.
  const train = await ticking(() => m.fit(x, y, { batchSize: 4, epochs: 1, verbose: 0 }));
  const withValidation = await ticking(() => m.fit(x, y, { batchSize: 4, epochs: 1, verbose: 0, validationData: [x, y] }));
  on = false;
  assert.ok(withValidation - train >= 15, `${train} turns without validation, ${withValidation} with`);
  m.dispose();
  dispose([x, y]);
});

Memory.run();
