// The functional API (Keras's Functional model, tfjs's tf.model): graphs of layers with merges, fan-outs, shared
// layers, nested models, several inputs and outputs, and outputs of any rank. Behaviours pinned:
// - Keras 3 merging/base_merge.py: inputs of fewer axes get ones inserted after the batch axis, then numpy
//   broadcasting; "Inputs have incompatible shapes" otherwise. Concatenate: shapes match except on the axis.
// - Keras 3 trainers/compile_utils.py: with several outputs the logs are `loss` (the sum of each output's loss
//   times its loss weight), `<output>_loss` and `<output>_<metric>`; evaluate returns them in that order.
// - A tensor read by several layers gets the sum of their gradients; a layer applied twice sums its weights'.
// - Keras 3 Layer.trainable: setting it on a model sets it on every layer inside (BatchNormalization then runs
//   in inference mode).
// Gradients are checked by finite differences through the whole model: one SGD step with learning rate 1 moves
// each weight by minus its gradient, compared with (L(w + h) - L(w - h)) / 2h from evaluate.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Activation,
  Adam,
  Add,
  Average,
  BatchNormalization,
  Concatenate,
  Conv2D,
  Dataset,
  Dense,
  Dropout,
  Flatten,
  GlobalAveragePooling2D,
  Input,
  Maximum,
  MaxPooling2D,
  Minimum,
  Model,
  Multiply,
  SGD,
  Sequential,
  Subtract,
  Tensor,
  input,
  model,
  tensor,
  type ModelData,
} from '../lib/index.js';
import { close, randomArray, rng, throwsA } from './helpers.js';
import { ValidationError } from '../lib/core/errors.js';

const Functional = suite('functional models');

const rand = rng(34);
/** Every tensor and model a test makes, freed after it (a leak would be collected during a later suite and move its counts). */
const made: { dispose(): unknown }[] = [];
const own = <T extends { dispose(): unknown }>(t: T): T => (made.push(t), t);
Functional.after.each(() => {
  for (const t of made.splice(0)) t.dispose();
});
const data = (shape: number[], lo = -1, hi = 1) =>
  own(
    tensor(
      randomArray(
        shape.reduce((a, b) => a * b, 1),
        rand,
        lo,
        hi,
      ),
      shape,
    ),
  );
const ints = (values: Iterable<number>, shape: number[]) => own(tensor(Int32Array.from(values), shape));

/** Reads tensors into plain arrays and frees them. */
const read = (ts: Tensor | Tensor[]) =>
  (Array.isArray(ts) ? ts : [ts]).map(t => {
    const v = Float32Array.from(t.dataSync());
    t.dispose();
    return v;
  });

/** The weights as plain arrays. */
const weightsOf = (m: { getWeights(): Tensor[] }) => read(m.getWeights());

/**
 * Finite-difference check of every weight's gradient (a sample of each tensor's elements) through the model:
 * one SGD step at learning rate 1 from w gives w - dL/dw; L(w +- h) comes from evaluate over the same batch.
 */
async function gradCheck(m: Model, x: ModelData, y: ModelData, what: string, h = 1e-2): Promise<void> {
  const w0 = weightsOf(m),
    n = (Array.isArray(x) ? x[0] : x instanceof Tensor ? x : Object.values(x)[0]).shape[0];
  await m.trainOnBatch(x, y);
  const grads = weightsOf(m).map((w, i) => w.map((v, j) => w0[i][j] - v));
  const shapes = m.getWeights().map(w => (w.dispose(), w.shape));
  const set = (ws: Float32Array[]) => {
    const ts = ws.map((w, i) => tensor(w, shapes[i]));
    m.setWeights(ts);
    for (const t of ts) t.dispose();
  };
  const loss = () => m.evaluate(x, y, { batchSize: n })[0];
  const pick = rng(7);
  let checked = 0,
    tried = 0;
  for (let t = 0; t < w0.length; ++t) {
    for (let s = 0; s < Math.min(4, w0[t].length); ++s) {
      const j = Math.floor(pick() * w0[t].length);
      const at = (d: number) => {
        const ws = w0.map(w => Float32Array.from(w));
        ws[t][j] += d;
        set(ws);
        return loss();
      };
      const [fd, half] = [h, h / 2].map(d => (at(d) - at(-d)) / (2 * d));
      tried++;
      // A kink (relu, max, min) within h of the point makes the difference depend on h: such samples are skipped.
      if (Math.abs(fd - half) > 2e-3 + 3e-2 * Math.abs(half)) continue;
      assert.ok(
        Math.abs(grads[t][j] - half) <= 2e-3 + 3e-2 * Math.abs(half),
        `${what}: weight ${t}[${j}]: step gives ${grads[t][j]}, finite difference ${half}`,
      );
      checked++;
    }
  }
  set(w0);
  assert.ok(checked >= tried / 2, `${what}: only ${checked} of ${tried} samples were away from a kink`);
}

Functional('a functional chain trains bit for bit as the same Sequential (same nodes, streams and ops)', async () => {
  const layers = () => [
    new Conv2D({ filters: 3, kernelSize: 3, activation: 'relu' }),
    new MaxPooling2D({ poolSize: 2 }),
    new Dropout({ rate: 0.25 }),
    new Flatten(),
    new Dense({ units: 4, activation: 'softmax' }),
  ];
  const x = data([20, 8, 8, 1]),
    labels = Array.from({ length: 20 }, (_, i) => i % 4);
  const y = own(
    tensor(
      labels.flatMap(c => [0, 1, 2, 3].map(k => (k === c ? 1 : 0))),
      [20, 4],
    ),
  );
  const seq = own(new Sequential({ seed: 5 }));
  const ls = layers();
  ls[0] = new Conv2D({ filters: 3, kernelSize: 3, activation: 'relu', inputShape: [8, 8, 1] });
  for (const l of ls) seq.add(l);
  const inp = input({ shape: [8, 8, 1] });
  let t = inp;
  for (const l of layers()) t = l.apply(t);
  const fn = own(model({ inputs: inp, outputs: t, seed: 5 }));
  for (const m of [seq, fn]) {
    m.compile({ loss: 'categoricalCrossentropy', optimizer: 'adam', metrics: ['accuracy'] });
    await m.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0 });
  }
  const [a, b] = [weightsOf(seq), weightsOf(fn)];
  a.forEach((w, i) => assert.equal(Array.from(b[i]), Array.from(w), `weight ${i}`));
  assert.equal(Array.from(read(fn.predict(x))[0]), Array.from(read(seq.predict(x))[0]));
  // A chain's summary is Sequential's table (Keras 3 adds "Connected to" only to graphs that are more than a chain).
  assert.not.match(
    fn.summary(() => {}),
    /Connected to/,
  );
  assert.is(
    fn
      .summary(() => {})
      .split('\n')
      .slice(3)
      .join('\n'),
    seq
      .summary(() => {})
      .split('\n')
      .slice(3)
      .join('\n'),
  );
});

Functional('determinism: a branching model with BatchNormalization and Dropout trains to the same weights from the same seed', async () => {
  const build = () => {
    const inp = input({ shape: [6, 6, 1] });
    const a = new Conv2D({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(inp);
    const b = new BatchNormalization().apply(new Conv2D({ filters: 3, kernelSize: 3, padding: 'same' }).apply(a));
    const c = new Dropout({ rate: 0.3 }).apply(new Add().apply([a, b]));
    const d = new Concatenate().apply([new GlobalAveragePooling2D().apply(c), new GlobalAveragePooling2D().apply(a)]);
    return own(model({ inputs: inp, outputs: new Dense({ units: 3, activation: 'softmax' }).apply(d), seed: 8 }));
  };
  const x = data([24, 6, 6, 1]),
    y = ints(
      Array.from({ length: 24 }, (_, i) => i % 3),
      [24],
    );
  const runs: Float32Array[][] = [];
  for (const m of [build(), build()]) {
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    await m.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0 });
    runs.push(weightsOf(m));
  }
  runs[0].forEach((w, i) => assert.equal(Array.from(runs[1][i]), Array.from(w), `weight ${i}`));
});

Functional('residual Add: the shared tensor gets the sum of both gradients (finite differences)', async () => {
  const inp = input({ shape: [5] });
  const h = new Dense({ units: 4, activation: 'tanh' }).apply(inp);
  const block = new Dense({ units: 4, activation: 'tanh' }).apply(new Dense({ units: 4, activation: 'tanh' }).apply(h));
  const sum = new Add().apply([h, block]);
  const out = new Dense({ units: 2 }).apply(sum);
  const m = own(model({ inputs: inp, outputs: out, seed: 3 }));
  m.compile({ loss: 'mse', optimizer: new SGD({ learningRate: 1 }) });
  await gradCheck(m, data([6, 5]), data([6, 2]), 'residual');
});

Functional('every elementwise merge, with broadcasting, and Concatenate: gradients by finite differences', async () => {
  for (const [Merge, shapes] of [
    [Subtract, [[3, 4], [4]]],
    [
      Multiply,
      [
        [3, 4],
        [3, 1],
        [1, 4],
      ],
    ],
    [
      Average,
      [
        [3, 4],
        [3, 4],
        [3, 4],
      ],
    ],
    [Maximum, [[3, 4], [4]]],
    [
      Minimum,
      [
        [3, 4],
        [3, 4],
      ],
    ],
    [
      Add,
      [
        [3, 4],
        [1, 4],
        [3, 1],
      ],
    ],
  ] as const) {
    const inp = input({ shape: [6] });
    const branches = shapes.map(s => new Dense({ units: s[0] * (s[1] ?? 1) }).apply(inp));
    const { Reshape } = await import('../lib/index.js');
    const shaped = branches.map((b, i) => new Reshape({ targetShape: [...shapes[i]] }).apply(b));
    const merged = new Merge().apply(shaped);
    const out = new Dense({ units: 2 }).apply(new Flatten().apply(merged));
    const m = own(model({ inputs: inp, outputs: out, seed: 11 }));
    assert.equal(merged.shape, [null, 3, 4], Merge.name);
    m.compile({ loss: 'mse', optimizer: new SGD({ learningRate: 1 }) });
    await gradCheck(m, data([5, 6]), data([5, 2]), Merge.name);
  }
  for (const axis of [1, 2, -1, -2]) {
    const inp = input({ shape: [6] });
    const { Reshape } = await import('../lib/index.js');
    const a = new Reshape({ targetShape: [2, 3] }).apply(new Dense({ units: 6, activation: 'tanh' }).apply(inp));
    const b = new Reshape({ targetShape: [2, 3] }).apply(new Dense({ units: 6, activation: 'tanh' }).apply(inp));
    const c = new Concatenate({ axis }).apply([a, b]);
    assert.equal(c.shape, axis === 1 || axis === -2 ? [null, 4, 3] : [null, 2, 6], `axis ${axis}`);
    const m = own(model({ inputs: inp, outputs: new Dense({ units: 3 }).apply(new Flatten().apply(c)), seed: 2 }));
    m.compile({ loss: 'mse', optimizer: new SGD({ learningRate: 1 }) });
    await gradCheck(m, data([4, 6]), data([4, 3]), `Concatenate axis ${axis}`);
  }
});

Functional('a layer applied twice (siamese) shares its weights and sums their gradients', async () => {
  const a = input({ shape: [4], name: 'left' }),
    b = input({ shape: [4], name: 'right' });
  const shared = new Dense({ units: 3, activation: 'tanh' });
  const out = new Dense({ units: 1 }).apply(new Subtract().apply([shared.apply(a), shared.apply(b)]));
  const m = own(model({ inputs: [a, b], outputs: out, seed: 9 }));
  assert.equal(m.layers.length, 3, 'the shared layer is one layer');
  assert.equal(weightsOf(m).length, 4, 'one kernel and bias for both applications');
  m.compile({ loss: 'mse', optimizer: new SGD({ learningRate: 1 }) });
  await gradCheck(m, [data([5, 4]), data([5, 4])], data([5, 1]), 'siamese');
  // Keras's "Connected to": a layer's node index counts its applications; inputs are <name>[0][0].
  const table = m.summary(() => {});
  assert.match(table, /Connected to/);
  assert.match(table, /left \(InputLayer\) +\(None, 4\) +0 +-/);
  assert.match(table, /dense \(Dense\) +\(None, 3\) +15 +left\[0\]\[0\], right\[0\]\[0\]/, 'a shared layer: one row, both inputs');
  assert.match(table, /subtract \(Subtract\) +\(None, 3\) +0 +dense\[0\]\[0\], dense\[1\]\[0\]/);
  assert.match(table, /Total params: 19/);
  // One Dense applied twice in a row, the second application the model's output (the dense + loss head runs as
  // one op there): its weights' gradient is still the sum of both applications'.
  const z = input({ shape: [3] });
  const twice = new Dense({ units: 3 });
  const chained = own(model({ inputs: z, outputs: twice.apply(new Activation({ activation: 'tanh' }).apply(twice.apply(z))), seed: 4 }));
  chained.compile({ loss: 'mse', optimizer: new SGD({ learningRate: 1 }) });
  await gradCheck(chained, data([5, 3]), data([5, 3]), 'a Dense applied twice, the second as the head');
});

Functional('two inputs and two outputs: keyed data, per-output losses, lossWeights, Keras 3 log names', async () => {
  const image = input({ shape: [4, 4, 1], name: 'image' }),
    meta = input({ shape: [3], name: 'meta' });
  const features = new Flatten().apply(new Conv2D({ filters: 2, kernelSize: 3, activation: 'relu' }).apply(image));
  const joined = new Concatenate().apply([features, new Dense({ units: 4, activation: 'relu' }).apply(meta)]);
  const cls = new Dense({ units: 3, activation: 'softmax', name: 'cls' }).apply(joined);
  const box = new Dense({ units: 2, name: 'box' }).apply(joined);
  const m = own(model({ inputs: [image, meta], outputs: [cls, box], seed: 4 }));
  assert.equal(m.inputNames, ['image', 'meta']);
  assert.equal(m.outputNames, ['cls', 'box']);
  const n = 12;
  const x = { image: data([n, 4, 4, 1]), meta: data([n, 3]) };
  const classes = ints(
    Array.from({ length: n }, (_, i) => i % 3),
    [n],
  );
  const y = { cls: classes, box: data([n, 2]) };
  m.compile({
    optimizer: 'adam',
    loss: { cls: 'sparseCategoricalCrossentropy', box: 'mse' },
    metrics: { cls: 'accuracy', box: ['mae'] },
    lossWeights: { cls: 1, box: 0.5 },
  });
  const history = await m.fit(x, y, {
    epochs: 2,
    batchSize: 4,
    verbose: 0,
    validationData: [
      [x.image, x.meta],
      [classes, y.box],
    ],
  });
  assert.equal(Object.keys(history.history).sort(), [
    'box_loss',
    'box_mae',
    'cls_accuracy',
    'cls_loss',
    'loss',
    'lr',
    'val_box_loss',
    'val_box_mae',
    'val_cls_accuracy',
    'val_cls_loss',
    'val_loss',
  ]);
  const values = m.evaluate(x, y, { batchSize: 5 });
  assert.equal(values.length, 5, '[loss, cls_loss, box_loss, cls_accuracy, box_mae]');
  assert.ok(Math.abs(values[0] - (values[1] + 0.5 * values[2])) < 1e-5 * (1 + values[0]), `loss ${values[0]} = cls_loss + 0.5 box_loss`);
  // Each output's loss as a one-output model of the same layers computes it.
  const clsOnly = own(model({ inputs: [image, meta], outputs: cls }));
  clsOnly.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  assert.ok(Math.abs(clsOnly.evaluate([x.image, x.meta], classes, { batchSize: 5 })[0] - values[1]) < 1e-6);
  const preds = (m.predict([x.image, x.meta]) as Tensor[]).map(own);
  assert.equal(
    preds.map(p => p.shape),
    [
      [n, 3],
      [n, 2],
    ],
  );
  const rowSums = Array.from({ length: n }, (_, i) => [0, 1, 2].reduce((s, k) => s + preds[0].dataSync()[i * 3 + k], 0));
  assert.ok(
    rowSums.every(s => Math.abs(s - 1) < 1e-5),
    'the softmax head is applied by predict',
  );
  // The same data as a Dataset of keyed batches: fitDataset, evaluate and predict take it.
  const ds = Dataset.fromTensors(x, { cls: classes, box: y.box }, { batchSize: 5 });
  const overDataset = await m.evaluate(ds);
  assert.equal(overDataset.length, 5);
  close(overDataset, values, 1e-5, 1e-5, 'evaluate over the dataset = over the tensors (same batches)');
  await m.fitDataset(ds, { epochs: 1, verbose: 0 });
  const fromDataset = ((await m.predict(Dataset.fromTensors([x.image, x.meta], undefined, { batchSize: 7 }))) as Tensor[]).map(own);
  assert.equal(
    fromDataset.map(p => p.shape),
    [
      [n, 3],
      [n, 2],
    ],
  );
  // lossWeights 0 for box: its head's weights get no gradient.
  m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: ['sparseCategoricalCrossentropy', 'mse'], lossWeights: [1, 0] });
  const before = weightsOf(m.getLayer('box'))[0];
  await m.trainOnBatch(x, y);
  assert.equal(Array.from(weightsOf(m.getLayer('box'))[0]), Array.from(before));
});

Functional('transfer learning: a frozen base model applied inside a new model does not move; the head trains', async () => {
  const inp = input({ shape: [6, 6, 1] });
  const body = new GlobalAveragePooling2D().apply(
    new BatchNormalization().apply(new Conv2D({ filters: 4, kernelSize: 3, activation: 'relu' }).apply(inp)),
  );
  const base = own(model({ inputs: inp, outputs: body, name: 'base', seed: 1 }));
  const first = own(model({ inputs: inp, outputs: new Dense({ units: 2, activation: 'softmax' }).apply(body), seed: 1 }));
  first.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  const x = data([16, 6, 6, 1]),
    y = ints(
      Array.from({ length: 16 }, (_, i) => i % 2),
      [16],
    );
  await first.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
  base.trainable = false;
  assert.ok(base.layers.every(l => !l.trainable));
  const inp2 = input({ shape: [6, 6, 1] });
  const head = new Dense({ units: 3, activation: 'softmax' });
  const second = own(model({ inputs: inp2, outputs: head.apply(base.apply(inp2) as never), seed: 2 }));
  second.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  const frozen = weightsOf(base),
    headBefore = weightsOf(head)[0];
  await second.fit(
    x,
    ints(
      Array.from({ length: 16 }, (_, i) => i % 3),
      [16],
    ),
    { epochs: 2, batchSize: 8, verbose: 0 },
  );
  weightsOf(base).forEach((w, i) => assert.equal(Array.from(w), Array.from(frozen[i]), `base weight ${i} (moving statistics included)`));
  assert.not.equal(Array.from(weightsOf(head)[0]), Array.from(headBefore), 'the head trains');
  // The two parents share the base's weights: the first model predicts with them.
  assert.equal(first.layers.slice(0, 3), second.layers.slice(0, 3));
});

Functional('outputs of any rank: a convolutional output with mse and a per-pixel sparse classifier train', async () => {
  const inp = input({ shape: [6, 6, 1] });
  const code = new Conv2D({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(inp);
  const recon = new Conv2D({ filters: 1, kernelSize: 3, padding: 'same' }).apply(code);
  const ae = own(model({ inputs: inp, outputs: recon, seed: 3 }));
  ae.compile({ optimizer: new SGD({ learningRate: 1 }), loss: 'mse', metrics: ['mae'] });
  const x = data([4, 6, 6, 1]);
  await gradCheck(ae, x, x, 'autoencoder');
  const seg = new Conv2D({ filters: 3, kernelSize: 1, activation: 'softmax' }).apply(code);
  const segm = own(model({ inputs: inp, outputs: seg, seed: 3 }));
  segm.compile({ optimizer: new Adam({ learningRate: 0.05 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  // Each pixel's class: 0, 1 or 2 by its value.
  const xv = x.dataSync();
  const pixels = ints(
    Array.from(xv, v => (v < -0.3 ? 0 : v < 0.3 ? 1 : 2)),
    [4, 6, 6],
  );
  const before = segm.evaluate(x, pixels)[0];
  await segm.fit(x, pixels, { epochs: 40, batchSize: 4, verbose: 0 });
  const [after, accuracy] = segm.evaluate(x, pixels);
  assert.ok(after < before * 0.8, `per-pixel loss ${before} -> ${after}`);
  // Accuracy counts pixels: the share of argmax hits over all 144 positions.
  const probs = read(segm.predict(x))[0],
    pv = pixels.dataSync();
  let hits = 0,
    nll = 0;
  for (let p = 0; p < pv.length; ++p) {
    const row = [0, 1, 2].map(k => probs[p * 3 + k]);
    if (row.indexOf(Math.max(...row)) === pv[p]) hits++;
    nll -= Math.log(row[pv[p]]);
  }
  assert.ok(Math.abs(accuracy - hits / pv.length) < 1e-6, `accuracy ${accuracy} vs ${hits}/${pv.length}`);
  // The loss is the mean over every pixel of every example (Keras's sum_over_batch_size over the [N, H, W] loss).
  assert.ok(Math.abs(after - nll / pv.length) < 1e-4, `loss ${after} vs mean per-pixel cross-entropy ${nll / pv.length}`);
});

Functional('refused with coded errors: shapes that do not merge, a disconnected graph, bad axes and names, data that does not fit', () => {
  const a = input({ shape: [3] }),
    b = input({ shape: [4] });
  throwsA(ValidationError, () => new Add().apply([a, b]), /incompatible shapes.*\[N, 3\] and \[N, 4\]/, 'Add of [3] and [4]');
  throwsA(ValidationError, () => new Subtract().apply([a, a, a]), /exactly 2 inputs/, 'Subtract of three');
  throwsA(ValidationError, () => new Add().apply([a]), /at least 2 inputs/, 'Add of one');
  throwsA(ValidationError, () => new Concatenate({ axis: 0 }).apply([a, a]), /batch axis/, 'Concatenate on the batch axis');
  throwsA(ValidationError, () => new Concatenate().apply([input({ shape: [2, 3] }), input({ shape: [3, 3] })]), /matching shapes/, 'concat mismatch');
  throwsA(ValidationError, () => new Dense({ units: 2 }).apply([a, a]), /one input/, 'Dense of two');
  // applied to data, a layer runs (Keras's layer(x)); a mix of data and symbolic tensors is refused
  const eager = new Dense({ units: 2 });
  const d23 = data([2, 3]);
  const y = eager.apply(d23);
  assert.equal(y.shape, [2, 2]);
  throwsA(ValidationError, () => new Concatenate().apply([a, d23] as never), /not a mix/, 'a mix');
  assert.is(eager.dispose().numDisposedVariables, 2);
  y.dispose();
  d23.dispose();
  const out = new Dense({ units: 2 }).apply(new Add().apply([a, new Dense({ units: 3 }).apply(b)]));
  throwsA(ValidationError, () => model({ inputs: a, outputs: out }), /graph disconnected/, 'missing input');
  throwsA(ValidationError, () => model({ inputs: a, outputs: a }), /input itself/, 'identity');
  throwsA(
    ValidationError,
    () => model({ inputs: [a, b], outputs: [new Dense({ units: 1, name: 'same' }).apply(a), new Dense({ units: 1, name: 'same' }).apply(b)] }),
    /named 'same'/,
    'duplicate names',
  );
  const m = own(model({ inputs: [a, b], outputs: out }));
  throwsA(ValidationError, () => m.compile({ optimizer: 'sgd', loss: ['mse', 'mse'] }), /2 entries but the model has 1 output/, 'loss count');
  m.compile({ optimizer: 'sgd', loss: 'mse' });
  throwsA(ValidationError, () => m.evaluate(data([2, 3]), data([2, 2])), /has 2 inputs/, 'one tensor for two inputs');
  throwsA(ValidationError, () => m.evaluate({ input_layer: data([2, 3]), other: data([2, 4]) }, data([2, 2])), /keys among/, 'unknown key');
  throwsA(ValidationError, () => m.evaluate([data([2, 3]), data([3, 4])], data([2, 2])), /same number of examples/, 'rows differ');
  throwsA(ValidationError, () => new Input({ shape: [3], batchShape: [null, 3] } as never), /batchShape/, 'batchShape');
});

Functional.run();
