// Functional models leave the process and come back: kernelnet's checkpoint (save / loadModel, resuming exactly)
// and TensorFlow.js's layers-model format both ways, against the real tfjs-layers: a functional model written by
// tfjs (class_name 'Model', inbound_nodes as [[layer, node, tensor, kwargs]]) loads here and predicts the same,
// and the reverse. Keras 3's own node form ({ args: [keras tensors with keras_history] }) is read too.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as tfc from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import * as kn from '../lib/index.js';
import * as ktf from '../lib/tfjs.js';
import { fromTfjsArtifacts, toTfjsArtifacts, type TfjsArtifacts } from '../lib/io/tfjs-format.js';
import { close, randomArray, rng } from './helpers.js';

const IO = suite('functional models: checkpoints and the tfjs format');
const dir = mkdtempSync(join(tmpdir(), 'kernelnet-functional-'));
const rand = rng(17);
const N = 6;
const values = (shape: number[]) =>
  randomArray(
    shape.reduce((a, b) => a * b, 1),
    rand,
  );
/** Every kernelnet tensor a test makes, freed after it (a leak would be collected during a later suite and move its counts). */
const made: kn.Tensor[] = [];
const own = <T extends kn.Tensor>(t: T): T => (made.push(t), t);
const ownTensor = (...args: Parameters<typeof kn.tensor>) => own(kn.tensor(...args));
IO.after.each(() => kn.dispose(made.splice(0)));

/** Two inputs, a shared Dense (two nodes), Add and Concatenate, two outputs. */
function knModel(seed = 3): kn.Model {
  const a = kn.input({ shape: [5], name: 'a' }),
    b = kn.input({ shape: [5], name: 'b' });
  const shared = new kn.Dense({ units: 4, activation: 'tanh', name: 'shared' });
  const [ha, hb] = [shared.apply(a), shared.apply(b)];
  const sum = new kn.Add({ name: 'sum' }).apply([ha, hb]);
  const joined = new kn.Concatenate({ name: 'joined' }).apply([sum, new kn.Dense({ units: 2, name: 'side' }).apply(b)]);
  const cls = new kn.Dense({ units: 3, activation: 'softmax', name: 'cls' }).apply(joined),
    reg = new kn.Dense({ units: 1, name: 'reg' }).apply(sum);
  return kn.model({ inputs: [a, b], outputs: [cls, reg], name: 'two_by_two', seed });
}

IO('save / loadModel: the graph, both losses and the optimizer state come back; training resumes bit for bit', async () => {
  const x = [ownTensor(values([N, 5]), [N, 5]), ownTensor(values([N, 5]), [N, 5])];
  const y = [
    ownTensor(
      Int32Array.from({ length: N }, (_, i) => i % 3),
      [N],
    ),
    ownTensor(values([N, 1]), [N, 1]),
  ];
  const m = knModel();
  m.compile({ optimizer: 'adam', loss: ['sparseCategoricalCrossentropy', 'mse'], lossWeights: [1, 0.25], metrics: [['accuracy'], []] });
  await m.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0 });
  const path = join(dir, 'two.kn');
  m.save(path);
  const back = kn.loadModel<kn.Model>(path);
  assert.instance(back, kn.Model);
  assert.equal(back.inputNames, ['a', 'b']);
  assert.equal(back.outputNames, ['cls', 'reg']);
  assert.equal(
    back.layers.map(l => l.name),
    m.layers.map(l => l.name),
  );
  assert.equal(back.evaluate(x, y), m.evaluate(x, y));
  await m.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0 });
  await back.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0 });
  const [w1, w2] = [m, back].map(k => k.getWeights().map(w => Array.from(own(w).dataSync())));
  w1.forEach((w, i) => assert.equal(w2[i], w, `weight ${i} after resuming`));
  m.dispose();
  back.dispose();
});

IO('kernelnet -> tfjs-layers -> kernelnet: a functional model with a shared layer, merges and two outputs', async () => {
  await tfc.setBackend('cpu');
  const m = knModel();
  const xs = [values([N, 5]), values([N, 5])];
  const ours = (m.predict(xs.map(v => ownTensor(v, [N, 5]))) as kn.Tensor[]).map(t => own(t).dataSync() as Float32Array);
  const a = toTfjsArtifacts(m);
  assert.is(a.modelTopology.class_name, 'Model');
  const theirs = await tfl.loadLayersModel(
    tfc.io.fromMemory({ modelTopology: a.modelTopology, weightSpecs: a.weightSpecs, weightData: a.weightData }),
  );
  const txs = xs.map(v => tfc.tensor(v, [N, 5]));
  const got = theirs.predict(txs) as tfc.Tensor[];
  got.forEach((p, o) => close(p.dataSync() as Float32Array, ours[o], 1e-5, 1e-4, `tfjs output ${o}`));
  let saved: TfjsArtifacts | undefined;
  await theirs.save(
    tfc.io.withSaveHandler(async s => {
      saved = s as unknown as TfjsArtifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const back = fromTfjsArtifacts({ Sequential: kn.Sequential, Model: kn.Model }, saved!, 'tfjs-layers') as kn.Model;
  const again = (back.predict(xs.map(v => ownTensor(v, [N, 5]))) as kn.Tensor[]).map(t => own(t).dataSync() as Float32Array);
  again.forEach((p, o) => close(p, got[o].dataSync() as Float32Array, 1e-5, 1e-4, `kernelnet after tfjs, output ${o}`));
  assert.equal(back.layers.map(l => l.name).sort(), m.layers.map(l => l.name).sort());
  tfc.dispose([...txs, ...got]);
  theirs.dispose();
  m.dispose();
  back.dispose();
});

IO('a functional model written by tfjs-layers (tf.model, tf.input, a shared layer) loads here and predicts the same', async () => {
  await tfc.setBackend('cpu');
  const img = tfl.input({ shape: [6, 6, 1], name: 'img' }),
    vec = tfl.input({ shape: [3], name: 'vec' });
  const conv = tfl.layers.conv2d({ filters: 2, kernelSize: 3, activation: 'relu', name: 'conv' }).apply(img) as tfl.SymbolicTensor;
  const flat = tfl.layers.flatten({ name: 'flat' }).apply(conv) as tfl.SymbolicTensor;
  const dense = tfl.layers.dense({ units: 4, activation: 'relu', name: 'vec_dense' });
  const v1 = dense.apply(vec) as tfl.SymbolicTensor;
  const joined = tfl.layers.concatenate({ name: 'cat' }).apply([flat, v1]) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 3, activation: 'softmax', name: 'out' }).apply(joined) as tfl.SymbolicTensor;
  const avg = tfl.layers.average({ name: 'avg' }).apply([v1, dense.apply(vec) as tfl.SymbolicTensor]) as tfl.SymbolicTensor;
  const second = tfl.layers.dense({ units: 1, name: 'second' }).apply(avg) as tfl.SymbolicTensor;
  const theirs = tfl.model({ inputs: [img, vec], outputs: [out, second], name: 'from_tfjs' });
  let saved: TfjsArtifacts | undefined;
  await theirs.save(
    tfc.io.withSaveHandler(async s => {
      saved = s as unknown as TfjsArtifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const x1 = values([N, 6, 6, 1]),
    x2 = values([N, 3]);
  const expected = theirs.predict([tfc.tensor(x1, [N, 6, 6, 1]), tfc.tensor(x2, [N, 3])]) as tfc.Tensor[];
  const back = fromTfjsArtifacts({ Sequential: kn.Sequential, Model: kn.Model }, saved!, 'tfjs-layers') as kn.Model;
  assert.equal(back.inputNames, ['img', 'vec']);
  assert.equal(back.outputNames, ['out', 'second']);
  const got = (back.predict({ img: ownTensor(x1, [N, 6, 6, 1]), vec: ownTensor(x2, [N, 3]) }) as kn.Tensor[]).map(own);
  got.forEach((p, o) => close(p.dataSync() as Float32Array, expected[o].dataSync() as Float32Array, 1e-5, 1e-4, `output ${o}`));
  // Keras 3's node form, { args: [[keras tensors]] }, read as the same graph.
  const topology = JSON.parse(JSON.stringify(saved!.modelTopology)) as { config: { layers: { inbound_nodes: unknown[] }[] } };
  for (const l of topology.config.layers)
    l.inbound_nodes = (l.inbound_nodes as [string, number, number, object][][]).map(node => ({
      args: [node.map(([name, n, t]) => ({ class_name: '__keras_tensor__', config: { keras_history: [name, n, t] } }))],
      kwargs: {},
    }));
  const keras3 = fromTfjsArtifacts(
    { Sequential: kn.Sequential, Model: kn.Model },
    { ...saved!, modelTopology: topology },
    'keras 3 nodes',
  ) as kn.Model;
  const k3 = (keras3.predict({ img: ownTensor(x1, [N, 6, 6, 1]), vec: ownTensor(x2, [N, 3]) }) as kn.Tensor[]).map(own);
  k3.forEach((p, o) => close(p.dataSync() as Float32Array, expected[o].dataSync() as Float32Array, 1e-5, 1e-4, `Keras 3 form, output ${o}`));
  // A node that reads a tensor no layer makes is damage, refused by name.
  const broken = JSON.parse(JSON.stringify(saved!.modelTopology)) as { config: { layers: { name: string; inbound_nodes: unknown[] }[] } };
  broken.config.layers.find(l => l.name === 'cat')!.inbound_nodes = [[['nowhere', 0, 0, {}]]];
  assert.throws(
    () => fromTfjsArtifacts({ Sequential: kn.Sequential, Model: kn.Model }, { ...saved!, modelTopology: broken }, 'broken'),
    /damaged.*cat's node 0 reads a tensor no layer makes/,
  );
  tfc.dispose(expected);
  theirs.dispose();
  back.dispose();
  keras3.dispose();
});

IO("kernelnet/tfjs: tf.input, tf.model, tf.layers.concatenate; two outputs log tfjs's <output>_acc beside Keras's names", async () => {
  const a = ktf.input({ shape: [4], name: 'a' });
  const h = ktf.layers.dense({ units: 5, activation: 'relu' }).apply(a);
  const joined = ktf.layers.concatenate().apply([h, a]);
  const m = ktf.model({
    inputs: a,
    outputs: [
      ktf.layers.dense({ units: 3, activation: 'softmax', name: 'p' }).apply(joined),
      ktf.layers.dense({ units: 3, activation: 'softmax', name: 'q' }).apply(h),
    ],
  });
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  assert.equal(m.metricsNames, ['loss', 'p_loss', 'q_loss', 'p_acc', 'q_acc']);
  const x = ownTensor(values([N, 4]), [N, 4]),
    y = ownTensor(
      Int32Array.from({ length: N }, (_, i) => i % 3),
      [N],
    );
  const history = await m.fit(x, [y, y], { epochs: 1, verbose: 0, validationData: [x, [y, y]] });
  for (const key of ['loss', 'p_loss', 'q_loss', 'p_acc', 'q_acc', 'p_accuracy', 'val_p_acc', 'val_q_accuracy'])
    assert.ok(key in history.history, `${key} in ${Object.keys(history.history)}`);
  assert.equal(history.history.p_acc, history.history.p_accuracy);
  m.dispose();
});

IO.after(() => rmSync(dir, { recursive: true, force: true }));
IO.run();
