// ZeroPadding2D (Keras's keras.layers.ZeroPadding2D, tfjs's tf.layers.zeroPadding2d): the padding forms both
// accept, pinned against Keras's docstring example and tfjs-layers' output, and its backward through training:
// a 'valid' convolution after ZeroPadding2D(1) is a 'same' 3x3 convolution, so the two models train alike.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as tfc from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { Conv2D, Dense, Flatten, SGD, Sequential, ValidationError, ZeroPadding2D, dispose, tensor, tidy } from '../lib/index.js';
import { close, exact, syntheticData, throwsA } from './helpers.js';

const Z = suite('ZeroPadding2D');

Z("Keras's example: padding 1 on a [1, 1, 2, 2] input gives [1, 3, 4, 2], x in the middle row", () => {
  // keras/src/layers/reshaping/zero_padding2d.py's docstring: x = arange(4).reshape(1, 1, 2, 2).
  const m = new Sequential({ layers: [new ZeroPadding2D({ padding: 1, inputShape: [1, 2, 2] })] });
  assert.equal(m.outputShape, [3, 4, 2]);
  const y = tidy(() => Array.from(m.predict(tensor(Float32Array.of(0, 1, 2, 3), [1, 1, 2, 2])).dataSync()));
  assert.equal(y, [0, 0, 0, 0, 0, 0, 0, 0, /* middle row */ 0, 0, 0, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  m.dispose();
});

Z('every padding form as tfjs-layers reads it; the same output as tf.layers.zeroPadding2d', () => {
  const forms: [unknown, [[number, number], [number, number]]][] = [
    [
      undefined,
      [
        [1, 1],
        [1, 1],
      ],
    ],
    [
      2,
      [
        [2, 2],
        [2, 2],
      ],
    ],
    [
      0,
      [
        [0, 0],
        [0, 0],
      ],
    ],
    [
      [1, 3],
      [
        [1, 1],
        [3, 3],
      ],
    ],
    [
      [
        [0, 2],
        [3, 1],
      ],
      [
        [0, 2],
        [3, 1],
      ],
    ],
  ];
  const shape = [2, 3, 4, 2],
    data = Float32Array.from({ length: 48 }, (_, i) => Math.sin(i) * 3);
  for (const [padding, pairs] of forms) {
    const args = padding === undefined ? {} : { padding };
    const layer = new ZeroPadding2D({ ...args, inputShape: [3, 4, 2] } as never);
    assert.equal(layer.padding, pairs, `padding ${JSON.stringify(padding)}`);
    const m = new Sequential({ layers: [layer] });
    const ours = tidy(() => Array.from(m.predict(tensor(data, shape)).dataSync()));
    const theirs = tfc.tidy(() => {
      const t = tfl.layers.zeroPadding2d(args as never).apply(tfc.tensor(data, shape)) as tfc.Tensor;
      assert.equal(m.outputShape, t.shape.slice(1), `output shape for ${JSON.stringify(padding)}`);
      return Array.from(t.dataSync());
    });
    exact(ours, theirs, `padding ${JSON.stringify(padding)}`);
    assert.equal(layer.getConfig().padding, tfl.layers.zeroPadding2d(args as never).getConfig().padding);
    m.dispose();
  }
});

Z('padding that is not one of the forms, and channelsFirst, are refused by name', () => {
  for (const bad of [
    -1,
    1.5,
    [1],
    [1, 2, 3],
    [
      [1, 2, 3],
      [1, 1],
    ],
    [[1, 1], 2],
    'same',
  ])
    throwsA(ValidationError, () => new ZeroPadding2D({ padding: bad as never }), /ZeroPadding2D padding/, `padding ${JSON.stringify(bad)}`);
  throwsA(ValidationError, () => new ZeroPadding2D({ dataFormat: 'channelsFirst' as never }), /dataFormat/, 'channelsFirst');
  // A misspelt option is refused by name, not ignored (tfjs's spelling is `padding`).
  throwsA(ValidationError, () => new ZeroPadding2D({ paddings: 2 } as never), /paddings/, 'a misspelt option');
  throwsA(ValidationError, () => new Sequential({ layers: [new ZeroPadding2D({ inputShape: [4, 4] })] }), /input shape/, 'a rank-2 input');
});

Z('backward: ZeroPadding2D(1) then a valid 3x3 Conv2D trains as a same-padded Conv2D', async () => {
  const { x, y } = syntheticData(48);
  const make = (explicit: boolean) => {
    const m = new Sequential({ seed: 5 });
    m.add(new Conv2D({ filters: 3, kernelSize: 3, activation: 'relu', inputShape: [8, 8, 1] }));
    if (explicit) m.add(new ZeroPadding2D({ padding: 1 }));
    m.add(new Conv2D({ filters: 4, kernelSize: 3, activation: 'relu', padding: explicit ? 'valid' : 'same' }));
    m.add(new Flatten());
    m.add(new Dense({ units: 3, activation: 'softmax' }));
    m.compile({ loss: 'categoricalCrossentropy', optimizer: new SGD({ learningRate: 0.05 }) });
    return m;
  };
  const [a, b] = [make(true), make(false)];
  const initial = a.getWeights();
  b.setWeights(initial); // the same initial weights (the padding layer has none)
  const first = Array.from(initial[0].dataSync());
  dispose(initial);
  await a.fit(x, y, { batchSize: 16, epochs: 2, shuffle: false, verbose: 0 });
  await b.fit(x, y, { batchSize: 16, epochs: 2, shuffle: false, verbose: 0 });
  const [wa, wb] = [a.getWeights(), b.getWeights()];
  // The first convolution's weights move only through the padding layer's backward.
  wa.forEach((w, i) => close(w.dataSync(), wb[i].dataSync(), 1e-5, 1e-4, `weight ${i}`));
  assert.not.equal(Array.from(wa[0].dataSync()), first, 'the first layer trained');
  dispose([...wa, ...wb, x, y]);
  a.dispose();
  b.dispose();
});

Z.run();
