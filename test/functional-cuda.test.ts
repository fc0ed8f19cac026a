// The functional acceptance models, small, on the CUDA backend against the CPU backend: a residual block with
// BatchNormalization and a strided projection, an Inception-style Concatenate, two inputs, two outputs with
// loss weights, an autoencoder through UpSampling2D, and a siamese layer applied twice. Each is built with the
// same seed on both devices (the same initial weights bit for bit), predicts, and takes three SGD steps; the
// predictions, losses and weights must agree to float32 rounding (sums in another order). The model on the GPU is
// also exported to ONNX (its weights read back from the device) and run by onnxruntime-node, which must predict
// what it predicts. Without a usable CUDA device (a GPU, or scripts/emulate-cuda.sh's emulated one) the suite is
// skipped and says why.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { native } from '../lib/core/native.js';
import * as kn from '../lib/index.js';
import { close } from './helpers.js';

const F = suite('functional models: CUDA backend vs CPU');
const cuda = native.backends().cuda;
const N = 6;
const TOL = { atol: 2e-5, rtol: 2e-4 };

type Build = () => { inputs: kn.SymbolicTensor[]; outputs: kn.SymbolicTensor[]; loss: string[]; lossWeights?: number[] };

const conv = (filters: number, kernelSize: number, strides = 1, activation?: 'relu') =>
  new kn.Conv2D({ filters, kernelSize, strides, padding: 'same', activation, useBias: false });

const MODELS: Record<string, Build> = {
  'residual block (BatchNormalization, a strided 1x1 projection, Add)': () => {
    const x = kn.input({ shape: [6, 6, 2] });
    const a = new kn.Activation({ activation: 'relu' }).apply(new kn.BatchNormalization().apply(conv(4, 3, 2).apply(x)));
    const b = new kn.BatchNormalization().apply(conv(4, 3).apply(a));
    const s = new kn.BatchNormalization().apply(conv(4, 1, 2).apply(x));
    const y = new kn.GlobalAveragePooling2D().apply(new kn.Activation({ activation: 'relu' }).apply(new kn.Add().apply([b, s])));
    return { inputs: [x], outputs: [new kn.Dense({ units: 3, activation: 'softmax' }).apply(y)], loss: ['sparseCategoricalCrossentropy'] };
  },
  'Inception block (Concatenate of 1x1, 3x3 and pooled branches)': () => {
    const x = kn.input({ shape: [5, 5, 2] });
    const branches = [
      conv(2, 1, 1, 'relu').apply(x),
      conv(3, 3, 1, 'relu').apply(conv(2, 1, 1, 'relu').apply(x)),
      conv(2, 1, 1, 'relu').apply(new kn.MaxPooling2D({ poolSize: 3, strides: 1, padding: 'same' }).apply(x)),
    ];
    const y = new kn.Flatten().apply(new kn.Concatenate().apply(branches));
    return { inputs: [x], outputs: [new kn.Dense({ units: 3, activation: 'softmax' }).apply(y)], loss: ['sparseCategoricalCrossentropy'] };
  },
  'two inputs (an image and a vector), concatenated': () => {
    const img = kn.input({ shape: [4, 4, 1] }),
      vec = kn.input({ shape: [4] });
    const y = new kn.Concatenate().apply([
      new kn.Flatten().apply(conv(2, 3, 1, 'relu').apply(img)),
      new kn.Dense({ units: 3, activation: 'tanh' }).apply(vec),
    ]);
    return { inputs: [img, vec], outputs: [new kn.Dense({ units: 3, activation: 'softmax' }).apply(y)], loss: ['sparseCategoricalCrossentropy'] };
  },
  'two outputs (a class and a regression) with loss weights': () => {
    const x = kn.input({ shape: [6] });
    const h = new kn.Dense({ units: 5, activation: 'relu' }).apply(x);
    return {
      inputs: [x],
      outputs: [new kn.Dense({ units: 3, activation: 'softmax' }).apply(h), new kn.Dense({ units: 2 }).apply(h)],
      loss: ['sparseCategoricalCrossentropy', 'mse'],
      lossWeights: [1, 0.5],
    };
  },
  'autoencoder (strided Conv2D down, UpSampling2D up, mse on images)': () => {
    const x = kn.input({ shape: [4, 4, 1] });
    const code = new kn.Conv2D({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(x);
    const y = new kn.Conv2D({ filters: 1, kernelSize: 3, padding: 'same' }).apply(new kn.UpSampling2D({ size: 2 }).apply(code));
    return { inputs: [x], outputs: [y], loss: ['mse'] };
  },
  'siamese (one Dense applied to two inputs), Subtract, Multiply': () => {
    const a = kn.input({ shape: [5] }),
      b = kn.input({ shape: [5] });
    const shared = new kn.Dense({ units: 4, activation: 'tanh' });
    const [ha, hb] = [shared.apply(a), shared.apply(b)];
    const y = new kn.Multiply().apply([new kn.Subtract().apply([ha, hb]), new kn.Maximum().apply([ha, hb])]);
    return { inputs: [a, b], outputs: [new kn.Dense({ units: 1 }).apply(y)], loss: ['mse'] };
  },
};

/** A pattern of small values per index, the same on both devices. */
const pattern = (n: number, salt: number) => Float32Array.from({ length: n }, (_, i) => (((i * 7 + salt) % 9) - 4) / 4);

async function run(build: Build, device: string) {
  const spec = build();
  const m = kn.model({ inputs: spec.inputs, outputs: spec.outputs, seed: 5, device });
  m.compile({ optimizer: new kn.SGD({ learningRate: 0.05 }), loss: spec.loss as never, lossWeights: spec.lossWeights });
  const size = (s: (number | null)[]) => s.slice(1).reduce((p: number, d) => p * (d as number), 1);
  const xs = spec.inputs.map((t, j) => kn.tensor(pattern(N * size(t.shape), j), [N, ...(t.shape.slice(1) as number[])], { device }));
  const ys = spec.outputs.map((t, o) =>
    spec.loss[o] === 'sparseCategoricalCrossentropy'
      ? kn.tensor(
          Int32Array.from({ length: N }, (_, i) => i % 3),
          [N],
          { device },
        )
      : kn.tensor(pattern(N * size(t.shape), 5 + o), [N, ...(t.shape.slice(1) as number[])], { device }),
  );
  const prediction = kn.tidy(() => [m.predict(xs)].flat().map(p => Array.from(p.dataSync())));
  if (device === 'cuda') await agreesInOnnxruntime(m, xs, prediction);
  const losses: number[] = [];
  for (let s = 0; s < 3; ++s) losses.push([await m.trainOnBatch(xs, ys)].flat()[0]);
  const weights = kn.tidy(() => m.getWeights().map(w => Array.from(w.dataSync())));
  kn.dispose([...xs, ...ys]);
  m.dispose();
  return { prediction, losses, weights };
}

/** The model exported to ONNX from its device predicts in onnxruntime-node what it predicts itself. */
async function agreesInOnnxruntime(m: kn.LayersModel, xs: kn.Tensor[], prediction: number[][]): Promise<void> {
  const ort = await import('onnxruntime-node');
  const dir = mkdtempSync(join(tmpdir(), 'kernelnet-onnx-cuda-')),
    path = join(dir, 'model.onnx');
  try {
    m.export(path, { format: 'onnx' });
    const session = await ort.InferenceSession.create(path);
    const feeds = Object.fromEntries(xs.map((x, k) => [session.inputNames[k], new ort.Tensor('float32', x.dataSync() as Float32Array, x.shape)]));
    const out = await session.run(feeds);
    prediction.forEach((p, o) =>
      close(out[session.outputNames[o]].data as Float32Array, p, TOL.atol, TOL.rtol, `${m.name}: onnxruntime's output ${o}`),
    );
    await session.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (!cuda.available) {
  console.log(`  skipped: no CUDA device (${cuda.reason})`);
  F.skip('functional models on the GPU (skipped: no CUDA device)', () => {});
} else {
  for (const [name, build] of Object.entries(MODELS)) {
    F(`${name}: prediction and three training steps as on the CPU`, async () => {
      const [c, g] = [await run(build, 'cpu'), await run(build, 'cuda')];
      g.prediction.forEach((p, o) => close(p, c.prediction[o], TOL.atol, TOL.rtol, `${name}: output ${o}`));
      close(g.losses, c.losses, TOL.atol, TOL.rtol, `${name}: losses`);
      assert.is(g.weights.length, c.weights.length);
      g.weights.forEach((w, i) => close(w, c.weights[i], TOL.atol, TOL.rtol, `${name}: weight ${i} after three steps`));
    });
  }
}

F.run();
