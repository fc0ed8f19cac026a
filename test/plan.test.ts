// The plan (lib/engine/plan.ts): the fusion rules as data. Which ops the seed model's step and inference run, that each
// rule leaves its layers alone where it does not apply, and that the dense + loss head rule (the one rule with
// no other comparison) trains to what the unfused plan trains to. The other rules' fused-against-unfused checks
// are in pooling.test.ts (convPool, its Dropout, activationBelow) and batchnorm.test.ts (foldedBatchNorm).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Activation,
  Adam,
  BatchNormalization,
  Conv2D,
  Dense,
  Dropout,
  Flatten,
  MaxPooling2D,
  Sequential,
  dispose,
  tidy,
  type Layer,
} from '../lib/index.js';
import {
  Graph,
  INPUT,
  convPoolPairs,
  foldedInference,
  forwardPlan,
  stepPlan,
  type BackwardOp,
  type ForwardOp,
  type FusionSwitches,
} from '../lib/engine/plan.js';
import { exact, seedModel, syntheticData } from './helpers.js';

const Plan = suite('plan');

const ALL: FusionSwitches = { fuseConvPool: true, fuseHead: true, foldInference: true, foldDropout: true, foldBelow: true };
const show = (ops: (ForwardOp | BackwardOp)[]) =>
  ops.map(
    o =>
      `${o.op}@${o.at}${'dropout' in o && o.dropout !== null ? `+${o.dropout}` : ''}${'below' in o && o.below ? ` below:${o.below.activation}` : ''}`,
  );
const trainsAll = (layers: Layer[]) => (i: number) => layers[i].params.length > 0;
const chain = (m: Sequential) => Graph.chain(m.layers);

Plan("the seed model's step: conv + pool + dropout as one op, the dense + loss head as one, activations folded below", () => {
  const m = seedModel(1);
  const plan = stepPlan(chain(m), trainsAll(m.layers), ALL);
  // conv 0, conv 1 + pool 2 + dropout 3, flatten 4, dense 5, dropout 6, dense 7 (the head, with the loss)
  assert.equal(show(plan.forward), ['layer@0', 'convPool@1+3', 'layer@4', 'layer@5', 'layer@6']);
  assert.ok(plan.fusedHead);
  // dropout 6's backward applies dense 5's relu with its mask (activationBelow through a Dropout)
  assert.equal(show(plan.backward), ['layer@6 below:relu', 'layer@5', 'layer@4', 'convPool@1+3 below:relu', 'layer@0']);
  assert.equal(
    show(forwardPlan(chain(m), false, ALL)),
    ['layer@0', 'convPool@1', 'layer@3', 'layer@4', 'layer@5', 'layer@6', 'layer@7'],
    'inference: no dropout in the pair (Dropout is the identity outside training)',
  );
  const none = { fuseConvPool: false, fuseHead: false, foldInference: false, foldDropout: false, foldBelow: false };
  const plain = stepPlan(chain(m), trainsAll(m.layers), none);
  assert.equal(
    show(plain.forward),
    m.layers.map((_, i) => `layer@${i}`),
    'every rule off: one op per layer',
  );
  assert.equal(
    show(plain.backward),
    [...m.layers.keys()].reverse().map(i => `layer@${i}`),
  );
  m.dispose();
});

Plan('a rule that does not match leaves its layers to their own ops', () => {
  const layers: Layer[] = [
    new Conv2D({ filters: 2, kernelSize: 3, activation: 'swish', inputShape: [12, 12, 1] }), // swish: derivative needs its input
    new MaxPooling2D({ poolSize: 2 }),
    new Conv2D({ filters: 2, kernelSize: 3, activation: 'relu' }),
    new MaxPooling2D({ poolSize: 2, strides: 1 }), // overlapping windows
    new Dropout({ rate: 0 }),
    new Conv2D({ filters: 2, kernelSize: 1, activation: 'relu' }), // BatchNormalization after an activated conv: not folded
    new BatchNormalization(),
    new Flatten(),
    new Dense({ units: 3, activation: 'softmax' }),
  ];
  const m = new Sequential({ seed: 2, layers });
  m.compile({ loss: 'categoricalCrossentropy', optimizer: 'sgd' });
  assert.equal(
    show(forwardPlan(chain(m), false, ALL)),
    m.layers.map((_, i) => `layer@${i}`),
  );
  const plan = stepPlan(chain(m), trainsAll(m.layers), { ...ALL, fuseHead: false });
  assert.equal(
    show(plan.forward),
    m.layers.map((_, i) => `layer@${i}`),
  );
  assert.not.ok(plan.fusedHead);
  // Frozen layers below: backward stops at the first layer that trains.
  const frozen = stepPlan(chain(m), i => i >= 5 && m.layers[i].params.length > 0, ALL);
  assert.equal(
    m.layers.map((_, i) => frozen.needsBackward(i)),
    m.layers.map((_, i) => i >= 5),
  );
  assert.equal(
    frozen.backward.map(o => o.at),
    [7, 6, 5],
  );
  m.dispose();
});

Plan('an inference group: Dense + BatchNormalization + Activation as one op', () => {
  const m = new Sequential({
    seed: 3,
    layers: [new Dense({ units: 4, inputShape: [3] }), new BatchNormalization(), new Activation({ activation: 'relu' }), new Dense({ units: 2 })],
  });
  assert.equal(show(forwardPlan(chain(m), false, ALL)), ['foldedBatchNorm@0', 'layer@3']);
  assert.equal(show(forwardPlan(chain(m), true, ALL)), ['layer@0', 'layer@1', 'layer@2', 'layer@3'], 'training uses batch statistics');
  m.dispose();
});

// Beyond a chain: the rules fuse along single-consumer edges only, and the order is topological. A conv whose
// output a second node also reads keeps its own op (its output must be stored), as does a BatchNormalization
// whose producer feeds another node; a pool after a conv with one consumer still pairs.
Plan('on a graph with branches, rules apply only along single-consumer edges; ops run in topological order', () => {
  const layers: Layer[] = [
    new Conv2D({ filters: 2, kernelSize: 3, activation: 'relu', inputShape: [8, 8, 1] }), // 0: read by 1 and 2
    new MaxPooling2D({ poolSize: 2 }), // 1
    new Flatten(), // 2
    new Conv2D({ filters: 2, kernelSize: 3 }), // 3: from the input, alone to 4
    new MaxPooling2D({ poolSize: 2 }), // 4
    new Dense({ units: 3, inputShape: [4] }), // 5: read by 6 and 7
    new BatchNormalization(), // 6
    new Activation({ activation: 'relu' }), // 7
  ];
  const graph = new Graph(
    [
      { id: 0, layer: layers[0], inputs: [INPUT] },
      { id: 1, layer: layers[1], inputs: [0] },
      { id: 2, layer: layers[2], inputs: [0] },
      { id: 3, layer: layers[3], inputs: [INPUT] },
      { id: 4, layer: layers[4], inputs: [3] },
      { id: 5, layer: layers[5], inputs: [2] },
      { id: 6, layer: layers[6], inputs: [5] },
      { id: 7, layer: layers[7], inputs: [5] },
    ],
    6,
  );
  assert.equal(graph.consumers(0), [1, 2]);
  assert.equal(
    graph.order.map(n => n.id),
    [0, 1, 2, 3, 4, 5, 6, 7],
  );
  assert.equal([...convPoolPairs(graph)], [[3, 4]], 'conv 0 is read twice: not paired');
  assert.equal([...foldedInference(graph)], [], 'dense 5 is read twice: BatchNormalization 6 not folded');
  assert.equal(show(forwardPlan(graph, false, ALL)), ['layer@0', 'layer@1', 'layer@2', 'convPool@3', 'layer@5', 'layer@6', 'layer@7']);
  // Topological order, not id order, where they differ: node 0 reads node 2.
  const reordered = new Graph(
    [
      { id: 0, layer: layers[2], inputs: [2] },
      { id: 1, layer: layers[1], inputs: [INPUT] },
      { id: 2, layer: layers[0], inputs: [1] },
    ],
    0,
  );
  assert.equal(
    reordered.order.map(n => n.id),
    [1, 2, 0],
  );
  assert.throws(
    () =>
      new Graph(
        [
          { id: 0, layer: layers[2], inputs: [1] },
          { id: 1, layer: layers[1], inputs: [0] },
        ],
        1,
      ),
    /cycle/,
  );
  // Training through node 0, read twice: its gradient is the sum of its readers' (the executor adds them), so
  // both readers' backward ops come before its own.
  const through = stepPlan(graph, id => id === 0, ALL).backward.map(o => `${o.op}@${o.at}`);
  assert.ok(graph.fansOut(0) && !graph.fansOut(3));
  assert.ok(through.indexOf('layer@0') > Math.max(through.indexOf('layer@1'), through.indexOf('layer@2')), through.join(', '));
  assert.equal(
    stepPlan(graph, id => id === 3, ALL).backward.map(o => `${o.op}@${o.at}`),
    ['convPool@3'],
    'a branch without fan-out trains',
  );
});

// The rule denseLossHead: forward, loss and backward of a linear Dense head in one op. The same arithmetic as
// the three ops, so the same losses and weights bit for bit on the CPU.
Plan('the dense + loss head as one op trains to the same weights bit for bit as its three ops', async () => {
  const { x, y } = syntheticData(40);
  const runs = [true, false].map(on => {
    const m = new Sequential({
      seed: 4,
      layers: [
        new Conv2D({ filters: 3, kernelSize: 3, activation: 'relu', inputShape: [8, 8, 1] }),
        new Flatten(),
        new Dense({ units: 8, activation: 'relu' }),
        new Dropout({ rate: 0.2 }),
        new Dense({ units: 3, activation: 'softmax' }),
      ],
    });
    m.fuseHead = on;
    m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adam({ learningRate: 0.01 }), metrics: ['accuracy'] });
    return m;
  });
  const histories = [];
  for (const m of runs) histories.push((await m.fit(x, y, { batchSize: 16, epochs: 2, verbose: 0 })).history);
  assert.equal(histories[0], histories[1], 'the same losses and accuracies');
  const weights = runs.map(m => tidy(() => m.getWeights().map(w => Array.from(w.dataSync()))));
  weights[0].forEach((w, i) => exact(w, weights[1][i], `weight ${i}`));
  for (const m of runs) m.dispose();
  dispose([x, y]);
});

Plan.run();
