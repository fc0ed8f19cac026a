// ONNX export (lib/io/onnx.ts) against the real tools: every export is run by onnxruntime-node, which must predict
// what kernelnet predicts (max |difference| <= 1e-5 times the output's largest magnitude) at batch 1 and 37, and
// passes ONNX's own checker (onnx.checker.check_model with full_check, Debian's python3-onnx; without it that
// check says skipped). Covered: every registered layer in its sample model, every activation fused and as a layer,
// the layout cases (a Flatten's CHW order read by Dense, by Concatenate and by the output; merges of NCHW values,
// of another rank; BatchNormalization on [N, C] and [N, L, C]), the acceptance models of examples/zoo.ts trained a
// few steps (so BatchNormalization's moving statistics are not the identity), opsets 13, 17, 20 and 21, the CLI,
// and the refusals.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as ort from 'onnxruntime-node';
import * as kn from '../lib/index.js';
import { Layer } from '../lib/layers/layers.js';
import { REGISTRY, type LayerEntry } from '../lib/layers/registry.js';
import { ONNX_CONVERTERS, irVersion, onnxInputNames } from '../lib/io/onnx.js';
import { NATIVE_ACTIVATIONS } from '../lib/core/native.js';
import { ZOO, buildModel } from '../examples/zoo.js';
import { registryModel } from './helpers.js';

const O = suite('onnx export');
const dir = mkdtempSync(join(tmpdir(), 'kernelnet-onnx-'));
/** Every file exported here, with its opset: the checker reads them all in the last test. */
const exported: { path: string; opset: number }[] = [];
let count = 0;

/** Deterministic inputs: small distinct values. */
function data(shape: number[], salt: number): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.7 + 1 + 13 * salt) * 1.5 + 0.3);
}

/**
 * Exports `m`, runs it in onnxruntime on `batch` examples and compares every output with kernelnet's predict:
 * max |diff| <= tol * max(|y|) (1e-5 by default).
 */
async function agree(m: kn.LayersModel, what: string, batches = [1, 37], opset?: number, tol = 1e-5): Promise<void> {
  const path = join(dir, `${++count}-${what.replace(/[^a-z0-9]+/gi, '_')}.onnx`);
  m.export(path, { format: 'onnx', ...(opset ? { opset } : {}) });
  exported.push({ path, opset: opset ?? 17 });
  const session = await ort.InferenceSession.create(path);
  try {
    const names = onnxInputNames(m);
    assert.equal(session.inputNames, names, `${what}: input names`);
    assert.ok(names.every((n, k) => n === m.inputNames[k] || n === `${m.inputNames[k]}_input`));
    assert.equal(session.outputNames, m.outputNames, `${what}: output names`);
    for (const n of batches) {
      const xs = m.inputShapes.map((s, k) => ({ shape: [n, ...s], data: data([n, ...s], k) }));
      const feeds = Object.fromEntries(xs.map((x, k) => [names[k], new ort.Tensor('float32', x.data, x.shape)]));
      const out = await session.run(feeds);
      const inputs = xs.map(x => kn.tensor(x.data, x.shape));
      const predicted = m.predict(inputs.length === 1 ? inputs[0] : inputs, { batchSize: 64 });
      const ys = Array.isArray(predicted) ? predicted : [predicted];
      ys.forEach((y, o) => {
        const want = y.dataSync(),
          got = out[m.outputNames[o]];
        assert.equal([...got.dims], y.shape, `${what}: output ${o} shape at batch ${n}`);
        const g = got.data as Float32Array;
        let worst = 0,
          at = 0,
          scale = 0;
        for (let i = 0; i < want.length; ++i) {
          scale = Math.max(scale, Math.abs(want[i]));
          const d = Math.abs(want[i] - g[i]);
          if (!(d <= worst)) [worst, at] = [d, i];
        }
        assert.ok(
          worst <= tol * Math.max(scale, 1e-3),
          `${what}: output ${m.outputNames[o]} at batch ${n} differs by ${worst} at ${at} (kernelnet ${want[at]}, onnxruntime ${g[at]}; scale ${scale})`,
        );
      });
      kn.dispose([...inputs, ...ys]);
    }
  } finally {
    await session.release();
  }
}

/**
 * A few training steps on data of the model's shapes, so BatchNormalization's moving statistics move: mse, or
 * categorical cross-entropy on one-hot targets for an output ending in softmax.
 */
async function train(m: kn.LayersModel, steps = 3): Promise<void> {
  const n = 8;
  const xs = m.inputShapes.map((s, k) => kn.tensor(data([n, ...s], k + 5), [n, ...s]));
  const heads = m.graph.outputs.map(id => m.graph.nodes[id].layer as kn.Layer & { activation?: string });
  const ys = heads.map((layer, o) => {
    const shape = [n, ...layer.outputShape];
    if (layer.activation !== 'softmax')
      return kn.tensor(
        data(shape, o + 9).map(v => (v + 1.5) / 3),
        shape,
      );
    const k = shape.at(-1)!;
    return kn.tensor(
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => (i % k === Math.floor(i / k) % k ? 1 : 0)),
      shape,
    );
  });
  const loss = heads.map(l => (l.activation === 'softmax' ? 'categoricalCrossentropy' : 'meanSquaredError'));
  m.compile({ loss: loss.length === 1 ? loss[0] : loss, optimizer: new kn.Adam({ learningRate: 0.01 }) });
  await m.fit(xs.length === 1 ? xs[0] : xs, ys.length === 1 ? ys[0] : ys, { batchSize: n, epochs: steps, verbose: 0 });
  kn.dispose([...xs, ...ys]);
}

O('every registered layer has an ONNX form, and every form is a registered layer', () => {
  const names = (REGISTRY as readonly LayerEntry[]).map(e => e.className);
  for (const n of names) assert.ok(ONNX_CONVERTERS[n], `${n} exports`);
  for (const n of Object.keys(ONNX_CONVERTERS)) assert.ok(names.includes(n), `${n} is registered`);
});

for (const e of REGISTRY as readonly LayerEntry[]) {
  O(`${e.className} (its registry sample) predicts the same in onnxruntime`, async () => {
    const m = registryModel(e, { seed: 7 });
    await train(m);
    await agree(m, e.className);
    m.dispose();
  });
}

const ACTIVATIONS = [...NATIVE_ACTIVATIONS, 'softmax'] as const;
O('every activation, fused into Conv2D and Dense and as an Activation layer (gelu composed at opset 17, Gelu from 20)', async () => {
  for (const opset of [17, 20]) {
    for (const activation of ACTIVATIONS) {
      const inp = kn.input({ shape: [5, 4, 3], name: 'image' });
      // Values spread over [-6, 6], so relu6's clip and the saturating tails are reached.
      const wide = new kn.Rescaling({ scale: 4 }).apply(inp);
      const conv = new kn.Conv2D({ filters: 3, kernelSize: 3, padding: 'same', activation, name: 'conv' }).apply(wide);
      const layer = new kn.Activation({ activation, name: 'act' }).apply(wide);
      const flat = new kn.Dense({ units: 4, activation, name: 'dense' }).apply(new kn.Flatten().apply(wide));
      const m = kn.model({ inputs: inp, outputs: [conv, layer, flat], seed: 3 });
      await agree(m, `${activation}-opset${opset}`, [2], opset);
      m.dispose();
    }
  }
  const m = new kn.Sequential({ seed: 2, layers: [new kn.Rescaling({ scale: 3, inputShape: [6] }), new kn.LeakyReLU({ alpha: 0.05 })] });
  await agree(m, 'leaky-relu-layer', [3]);
  m.dispose();
});

O('layouts: a CHW-flattened image read by Dense, Concatenate and the output; merges of NCHW values and of another rank', async () => {
  const image = kn.input({ shape: [6, 5, 2], name: 'image' }),
    vec = kn.input({ shape: [3], name: 'vec' });
  const a = new kn.Conv2D({ filters: 3, kernelSize: 3, padding: 'same', name: 'a' }).apply(image);
  const b = new kn.Conv2D({ filters: 3, kernelSize: 1, name: 'b' }).apply(image);
  const flat = new kn.Flatten({ name: 'flat' }).apply(a); // CHW order inside the ONNX graph
  const dense = new kn.Dense({ units: 4, name: 'dense' }).apply(flat); // its kernel's rows permuted
  const joined = new kn.Concatenate({ name: 'joined' }).apply([flat, vec]); // reordered back to HWC first
  const perChannel = new kn.Dense({ units: 3, name: 'per_channel' }).apply(vec);
  const broadcast = new kn.Add({ name: 'broadcast' }).apply([a, perChannel]); // [N, 6, 5, 3] + [N, 3]: Keras's rule
  const three = new kn.Multiply({ name: 'three' }).apply([a, b, broadcast]);
  const rows = new kn.Concatenate({ axis: 1, name: 'rows' }).apply([three, b]); // along H, in NCHW axis 2
  const pooled = new kn.MaxPooling2D({ poolSize: 3, strides: 2, padding: 'same', name: 'pool' }).apply(rows);
  const reshaped = new kn.Reshape({ targetShape: [-1, 3], name: 'reshaped' }).apply(pooled);
  const bnSeq = new kn.BatchNormalization({ name: 'bn_seq' }).apply(reshaped); // [N, L, C]: Mul and Add
  const bnVec = new kn.BatchNormalization({ name: 'bn_vec' }).apply(dense); // [N, C]: BatchNormalization
  const m = kn.model({ inputs: [image, vec], outputs: [flat, joined, bnSeq, bnVec, rows], seed: 5 });
  await train(m);
  await agree(m, 'layouts');
  m.dispose();
});

O('a layer applied twice (shared weights) and a model applied inside another', async () => {
  const left = kn.input({ shape: [7, 7, 2], name: 'left' }),
    right = kn.input({ shape: [7, 7, 2], name: 'right' });
  const conv = new kn.Conv2D({ filters: 3, kernelSize: 3, activation: 'relu', name: 'shared_conv' });
  const towerIn = kn.input({ shape: [7, 7, 2] });
  const tower = kn.model({ inputs: towerIn, outputs: new kn.Flatten().apply(conv.apply(towerIn)), name: 'tower', seed: 2 });
  const dense = new kn.Dense({ units: 4, name: 'shared_dense' });
  const a = dense.apply(tower.apply(left) as kn.SymbolicTensor),
    b = dense.apply(new kn.Flatten().apply(conv.apply(right)));
  const m = kn.model({ inputs: [left, right], outputs: new kn.Subtract().apply([a, b]), seed: 6 });
  await agree(m, 'shared');
  // Each shared layer's weights are in the file once.
  const file = readFileSync(exported.at(-1)!.path);
  assert.ok(file.includes('shared_conv/kernel') && file.includes('shared_dense/kernel'));
  assert.not.ok(file.includes('shared_conv/kernel_1'), 'one shared_conv kernel');
  assert.not.ok(file.includes('shared_dense/kernel_1'), 'one shared_dense kernel');
  m.dispose();
  tower.dispose();
});

O('strides, dilation, asymmetric same padding, pooling windows and padding that overlap the edge', async () => {
  const m = new kn.Sequential({
    seed: 4,
    layers: [
      new kn.ZeroPadding2D({
        padding: [
          [1, 2],
          [0, 1],
        ],
        inputShape: [11, 10, 2],
      }),
      new kn.Conv2D({ filters: 4, kernelSize: [3, 2], strides: [2, 3], padding: 'same', activation: 'elu' }),
      new kn.Conv2D({ filters: 3, kernelSize: 3, dilationRate: [2, 1], padding: 'same', useBias: false }),
      new kn.AveragePooling2D({ poolSize: 3, strides: 2, padding: 'same' }),
      new kn.UpSampling2D({ size: [2, 3] }),
      new kn.Conv2D({ filters: 2, kernelSize: 2, dilationRate: 2, activation: 'softmax' }),
    ],
  });
  await agree(m, 'geometry');
  m.dispose();
});

for (const name of ZOO) {
  O(`acceptance model ${name}: trained a few steps, onnxruntime predicts the same at batch 1 and 37`, async () => {
    const m = buildModel(name, 1);
    await train(m, 2);
    await agree(m, `zoo-${name}`);
    m.dispose();
  });
}

O('opsets 13 and 21 export and run; the IR version and metadata follow the opset', async () => {
  for (const opset of [13, 21]) {
    const m = buildModel('mnist_cnn', 1);
    await agree(m, `opset${opset}`, [2], opset);
    m.dispose();
  }
});

O('refusals: a coded error, nothing written', async () => {
  const m = new kn.Sequential({ seed: 1, layers: [new kn.Dense({ units: 2, inputShape: [3] })] });
  const path = join(dir, 'refused.onnx');
  const refuses = (args: unknown, code: string, pattern: RegExp) => {
    try {
      m.export(path, args as kn.ExportArgs);
      assert.unreachable(`${JSON.stringify(args)} was accepted`);
    } catch (err) {
      assert.instance(err, kn.KernelnetError);
      assert.is((err as kn.KernelnetError).code, code, `${JSON.stringify(args)}: ${(err as Error).message}`);
      assert.match((err as Error).message, pattern);
    }
    assert.not.ok(existsSync(path), 'nothing written');
  };
  // Keras 3's export(filepath, format='tf_saved_model', ...): its default format is a SavedModel, which kernelnet
  // cannot write, so a missing format is refused rather than silently written as ONNX; 'onnx' is Keras's spelling.
  refuses(undefined, 'ERR_KERNELNET_ARG', /format: 'onnx'/);
  refuses({}, 'ERR_KERNELNET_ARG', /format: 'onnx'/);
  refuses({ format: 'tf_saved_model' }, 'ERR_KERNELNET_UNSUPPORTED', /tf_saved_model/);
  refuses({ format: 'onnx', opset: 12 }, 'ERR_KERNELNET_ARG', /13 to 21/);
  refuses({ format: 'onnx', opset: 22 }, 'ERR_KERNELNET_ARG', /13 to 21/);
  refuses({ format: 'onnx', opset: 17, opsetVersion: 17 }, 'ERR_KERNELNET_ARG', /not both/);
  refuses({ format: 'onnx', opst: 17 }, 'ERR_KERNELNET_ARG', /did you mean 'opset'/);
  refuses({ format: 'onnx', inputSignature: [[1, 3]] }, 'ERR_KERNELNET_UNSUPPORTED', /inputSignature/);
  // A layer class of the user's own has no ONNX form: refused by name.
  class Doubler extends kn.Activation {
    override readonly className = 'Doubler';
  }
  const custom = new kn.Sequential({
    seed: 1,
    layers: [new kn.Dense({ units: 2, inputShape: [3] }), new Doubler({ activation: 'linear', name: 'my_doubler' })],
  });
  try {
    custom.export(path, { format: 'onnx' });
    assert.unreachable('a layer with no ONNX form was exported');
  } catch (err) {
    assert.is((err as kn.KernelnetError).code, 'ERR_KERNELNET_UNSUPPORTED');
    assert.match((err as Error).message, /my_doubler \(Doubler\)/);
  }
  custom.dispose();
  assert.not.ok(existsSync(path));
  // A directory that does not exist: the write's error, coded, naming the path.
  try {
    m.export(join(dir, 'no', 'such', 'dir.onnx'), { format: 'onnx' });
    assert.unreachable('wrote into a missing directory');
  } catch (err) {
    assert.is((err as kn.KernelnetError).code, 'ERR_KERNELNET_CHECKPOINT');
    assert.match((err as Error).message, /dir\.onnx/);
  }
  m.dispose();
  assert.is(
    (() => {
      try {
        m.export(path, { format: 'onnx' });
      } catch (err) {
        return (err as kn.KernelnetError).code;
      }
    })(),
    'ERR_KERNELNET_DISPOSED',
  );
  assert.ok(Layer); // the base class stays importable for user layers
});

O('the CLI exports a checkpoint: `kernelnet export CHECKPOINT model.onnx [--opset N]`', async () => {
  const m = buildModel('twooutput', 3);
  await train(m, 1);
  const ckpt = join(dir, 'two.kn'),
    out = join(dir, 'two-cli.onnx');
  m.save(ckpt);
  const cli = join(import.meta.dirname, '..', 'lib', 'cli.js');
  const r = spawnSync(process.execPath, [cli, 'export', ckpt, out, '--opset', '18'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /two_output.*opset 18/s);
  exported.push({ path: out, opset: 18 });
  // The file the CLI wrote is the one export() writes for the same weights.
  const direct = join(dir, 'two-direct.onnx');
  m.export(direct, { format: 'onnx', opset: 18 });
  assert.ok(readFileSync(out).equals(readFileSync(direct)), 'the CLI writes what export() writes');
  const bad = spawnSync(process.execPath, [cli, 'export', ckpt], { encoding: 'utf8' });
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /usage/);
  const missing = spawnSync(process.execPath, [cli, 'export', join(dir, 'none.kn'), out], { encoding: 'utf8' });
  assert.is(missing.status, 1);
  assert.match(missing.stderr, /ERR_KERNELNET_CHECKPOINT/);
  m.dispose();
});

// ONNX's checker from Debian's python3-onnx (ONNX 1.12: it knows operator sets up to 17, so the files of later
// opsets are checked by onnxruntime above only). It also reports each file's IR version, opset and metadata.
const PYTHON = process.env.KERNELNET_ONNX_PYTHON ?? '/usr/bin/python3';
const CHECKER = `
import json, sys, onnx
out = []
for path in sys.argv[1:]:
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    dims = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in m.graph.input]
    out.append({'ir': m.ir_version, 'opset': m.opset_import[0].version, 'producer': m.producer_name, 'dims': dims,
                'meta': {p.key: p.value for p in m.metadata_props}})
print(json.dumps(out))
`;
const hasChecker = spawnSync(PYTHON, ['-c', 'import onnx'], { encoding: 'utf8' }).status === 0;
if (!hasChecker) {
  console.log(`  skipped: ONNX's checker (no python3-onnx for ${PYTHON}; apt-get install python3-onnx)`);
  O.skip("ONNX's checker passes every export with full_check (skipped: no python3-onnx)", () => {});
} else
  O("ONNX's checker passes every export with full_check; IR version, opset, producer and a dynamic batch axis", () => {
    const files = exported.filter(e => e.opset <= 17);
    assert.ok(files.length > 40, `${files.length} files to check`);
    const r = spawnSync(PYTHON, ['-c', CHECKER, ...files.map(f => f.path)], { encoding: 'utf8', maxBuffer: 1 << 26 });
    assert.is(r.status, 0, r.stderr.slice(-3000));
    const info = JSON.parse(r.stdout) as { ir: number; opset: number; producer: string; dims: (string | number)[][]; meta: Record<string, string> }[];
    info.forEach((f, i) => {
      assert.is(f.opset, files[i].opset);
      assert.is(f.ir, irVersion(f.opset));
      assert.is(f.ir, 8); // opsets 13-17: ONNX 1.12's IR version
      assert.is(f.producer, 'kernelnet');
      assert.is(f.meta.layout, 'NHWC');
      for (const d of f.dims) assert.is(d[0], 'batch');
    });
  });

O.after(() => rmSync(dir, { recursive: true, force: true }));
O.run();
