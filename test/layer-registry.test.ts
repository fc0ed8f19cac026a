// Conformance of every registered layer: its config round-trips, a kernelnet checkpoint and TensorFlow.js's
// layers-model format (both ways, with the real tfjs-layers) give back the same predictions, and the registry and
// the package's exports name the same classes. A layer is tried alone in a small model, on the input its
// registry entry's sample gives.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as tfc from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import * as kn from '../lib/index.js';
import { Layer } from '../lib/layers/layers.js';
import { REGISTRY, type LayerEntry } from '../lib/layers/registry.js';
import { fromTfjsArtifacts, toTfjsArtifacts, type TfjsArtifacts } from '../lib/io/tfjs-format.js';
import { close, registryLayer, registryModel } from './helpers.js';

const R = suite('layer registry');
const entries = REGISTRY as readonly LayerEntry[];
const dir = mkdtempSync(join(tmpdir(), 'kernelnet-registry-'));
const BATCH = 3;

/** Inputs of the sample's shapes (one per input of a merge): small distinct values, none zero. */
function inputs(e: LayerEntry): { data: Float32Array; shape: number[] }[] {
  return (e.sample.inputShapes ?? [e.sample.inputShape]).map((s, j) => {
    const shape = [BATCH, ...s];
    const size = shape.reduce((a, b) => a * b, 1);
    return { data: Float32Array.from({ length: size }, (_, i) => Math.sin(i + 1 + 7 * j) * 2), shape };
  });
}

function model(e: LayerEntry): kn.LayersModel {
  const m = registryModel(e); // a flat output, as the loss (which save needs) takes
  m.compile({ loss: 'meanSquaredError', optimizer: new kn.SGD() });
  return m;
}

/** The sample inputs as kernelnet tensors: one, or one per input. */
const xOf = (e: LayerEntry) => {
  const xs = inputs(e).map(({ data, shape }) => kn.tensor(data, shape));
  return xs.length === 1 ? xs[0] : xs;
};

function predict(m: kn.LayersModel, e: LayerEntry): Float32Array {
  return kn.tidy(() => (m.predict(xOf(e)) as kn.Tensor).dataSync() as Float32Array);
}

R('every registered class is exported from the package and every exported layer class is registered', () => {
  const exported = Object.values(kn).filter(v => typeof v === 'function' && v.prototype instanceof Layer);
  for (const e of entries) assert.ok(exported.includes(e.ctor), `${e.className} is exported`);
  for (const c of exported)
    assert.ok(
      entries.some(e => e.ctor === c),
      `${(c as { name: string }).name} is registered`,
    );
});

R('names are unique across class names, aliases and factories', () => {
  const classNames = entries.flatMap(e => [e.className, ...e.aliases]),
    factories = entries.flatMap(e => e.factories);
  assert.is(new Set(classNames).size, classNames.length);
  assert.is(new Set(factories).size, factories.length);
});

for (const e of entries) {
  R(`${e.className}: getConfig -> constructor -> the same getConfig`, () => {
    const m = model(e),
      config = registryLayer(m, e).getConfig();
    assert.equal(new e.ctor(config as never).getConfig(), config);
    m.dispose();
  });

  R(`${e.className}: a kernelnet checkpoint predicts the same`, () => {
    const m = model(e),
      expected = predict(m, e),
      path = join(dir, `${e.className}.kn`);
    m.save(path);
    const back = kn.loadModel<kn.LayersModel>(path);
    assert.ok(registryLayer(back, e), `${e.className} is in the loaded model`);
    close(predict(back, e), expected, 0, 0, `${e.className} after loadModel`);
    m.dispose();
    back.dispose();
  });

  R(`${e.className}: kernelnet -> tfjs-layers -> kernelnet predicts the same`, async () => {
    if (e.sample.noTfjs) return; // the registry says why
    await tfc.setBackend('cpu');
    const m = model(e),
      expected = predict(m, e),
      a = toTfjsArtifacts(m);
    const theirs = await tfl.loadLayersModel(
      tfc.io.fromMemory({ modelTopology: a.modelTopology, weightSpecs: a.weightSpecs, weightData: a.weightData }),
    );
    const xs = inputs(e).map(({ data, shape }) => tfc.tensor(data, shape));
    const x = xs.length === 1 ? xs[0] : xs,
      p = theirs.predict(x) as tfc.Tensor;
    close(p.dataSync() as Float32Array, expected, 1e-5, 1e-4, `${e.className}: tfjs predicts what kernelnet predicted`);

    let saved: TfjsArtifacts | undefined;
    await theirs.save(
      tfc.io.withSaveHandler(async s => {
        saved = s as unknown as TfjsArtifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const back = fromTfjsArtifacts({ Sequential: kn.Sequential, Model: kn.Model }, saved!, 'tfjs-layers') as kn.LayersModel;
    assert.ok(registryLayer(back, e), `${e.className} is in the model read back`);
    close(predict(back, e), p.dataSync() as Float32Array, 1e-5, 1e-4, `${e.className}: kernelnet predicts what tfjs predicted`);
    tfc.dispose([...xs, p]);
    theirs.dispose();
    m.dispose();
    back.dispose();
  });

  R(`${e.className}: the gradient of its parameters agrees with finite differences`, async () => {
    if (e.sample.noGradcheck) return; // the registry says why
    const m = model(e);
    if (registryLayer(m, e).params.length === 0) return m.dispose();
    // With SGD at learning rate 1 one step moves each weight by minus its gradient of the loss evaluate() reports.
    m.compile({ loss: 'meanSquaredError', optimizer: new kn.SGD({ learningRate: 1 }) });
    const x = xOf(e);
    const target = kn.tensor(
      Float32Array.from({ length: BATCH * m.outputShape[0] }, (_, i) => Math.cos(i)),
      [BATCH, m.outputShape[0]],
    );
    const read = () =>
      m.getWeights().map(w => {
        const v = Float32Array.from(w.dataSync());
        w.dispose();
        return v;
      });
    const w0 = read(),
      shapes = m.getWeights().map(w => {
        const s = w.shape;
        w.dispose();
        return s;
      });
    await m.trainOnBatch(x, target);
    const w1 = read();
    const loss = (ws: Float32Array[]) => {
      const ts = ws.map((v, k) => kn.tensor(v, shapes[k]));
      m.setWeights(ts);
      kn.dispose(ts);
      return m.evaluate(x, target)[0];
    };
    const H = 1e-2;
    w0.forEach((v, k) => {
      for (let i = 0; i < v.length; i += Math.max(1, Math.floor(v.length / 6))) {
        const at = (d: number) =>
          loss(
            w0.map((u, j) => {
              const c = Float32Array.from(u);
              if (j === k) c[i] += d;
              return c;
            }),
          );
        const fd = (at(H) - at(-H)) / (2 * H),
          analytic = v[i] - w1[k][i];
        assert.ok(
          Math.abs(analytic - fd) <= 2e-3 + 2e-2 * Math.abs(fd),
          `${e.className} weight ${k}[${i}]: analytic ${analytic}, finite difference ${fd}`,
        );
      }
    });
    kn.dispose([x, target]);
    m.dispose();
  });
}

R.after(() => rmSync(dir, { recursive: true, force: true }));
R.run();
