// A damaged model.json (or weight file) in TensorFlow.js's layers format is refused as a damaged checkpoint is:
// a CheckpointError naming the file, the layer or field, and the error underneath, never a TypeError, a bare
// layer ValidationError, or an allocation the size of a corrupt number. What kernelnet knows but does not
// support stays ERR_KERNELNET_UNSUPPORTED.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CheckpointError, Sequential, ValidationError, memory } from '../lib/index.js';
import { loadTfjs, saveTfjs, toTfjsArtifacts } from '../lib/io/tfjs-format.js';
import { loadLayersModel } from '../lib/tfjs.js';
import { smallModel, throwsCheckpointError } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'kernelnet-tfjs-damaged-'));
const Damaged = suite('damaged tfjs model files');
Damaged.after(() => rmSync(dir, { recursive: true, force: true }));

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

Damaged('each damage is a CheckpointError naming model.json and where; unsupported options stay ERR_KERNELNET_UNSUPPORTED', () => {
  const m = smallModel(3);
  saveTfjs(m, join(dir, 'good'));
  saveTfjs(m, join(dir, 'bad'));
  m.dispose();
  const good: Json = JSON.parse(readFileSync(join(dir, 'good', 'model.json'), 'utf8'));
  const weights = readFileSync(join(dir, 'good', 'weights.bin'));
  const target = join(dir, 'bad', 'model.json');
  const layers = (j: Json) => j.modelTopology.config.layers;
  const cases: [string, (j: Json) => string | void, RegExp, (new (...a: never[]) => Error) | undefined][] = [
    [
      'an unknown activation',
      j => {
        layers(j)[0].config.activation = 'relux';
      },
      /layer 0 \(Conv2D\): Expected one of .* for activation/,
      ValidationError,
    ],
    [
      'negative units',
      j => {
        layers(j)[4].config.units = -3;
      },
      /layer 4 \(Dense\): Expected positive integer for units/,
      ValidationError,
    ],
    [
      'units that do not match the weights',
      j => {
        layers(j)[4].config.units = 5;
      },
      /weight dense\/kernel has 108 values; the layer needs \[36,5\]/,
      undefined,
    ],
    [
      'a size no file holds (never allocated)',
      j => {
        layers(j)[4].config.units = 1e9;
      },
      /the layer needs \[36,1000000000\]/,
      undefined,
    ],
    [
      'layers that are not a list',
      j => {
        j.modelTopology.config.layers = null;
      },
      /modelTopology: expected a list of layers but found null/,
      undefined,
    ],
    [
      'a layer that is not an object',
      j => {
        layers(j)[2] = null;
      },
      /layer 2: /,
      TypeError,
    ],
    [
      'a wrong type (batch_input_shape)',
      j => {
        layers(j)[0].config.batch_input_shape = 5;
      },
      /layer 0 \(Conv2D\): /,
      TypeError,
    ],
    [
      'a manifest that is not a list',
      j => {
        j.weightsManifest = 5;
      },
      /weightsManifest: /,
      TypeError,
    ],
    [
      'a weight file that is missing',
      j => {
        j.weightsManifest[0].paths = ['gone.bin'];
      },
      /cannot read the weight file gone\.bin/,
      Error,
    ],
    [
      'a weight shape that is not a list',
      j => {
        j.weightsManifest[0].weights[0].shape = 'x';
      },
      /weight conv2d\/kernel has the shape "x"/,
      undefined,
    ],
    ['truncated JSON', j => JSON.stringify(j).slice(0, 50), /is not a readable model\.json/, SyntaxError],
    [
      'no topology',
      j => {
        delete j.modelTopology;
      },
      /no modelTopology/,
      undefined,
    ],
  ];
  const before = memory().liveTensors;
  for (const [what, edit, pattern, cause] of cases) {
    const j = structuredClone(good);
    const text = edit(j);
    writeFileSync(target, text ?? JSON.stringify(j));
    throwsCheckpointError(() => loadTfjs(Sequential, `file://${target}`).dispose(), target, pattern, cause, what);
  }
  // A short weight file.
  writeFileSync(target, JSON.stringify(good));
  writeFileSync(join(dir, 'bad', 'weights.bin'), weights.subarray(0, 40));
  assert.throws(
    () => loadTfjs(Sequential, target),
    (e: CheckpointError) => e instanceof CheckpointError && /the weight data ends before/.test(e.message),
  );
  assert.is(memory().liveTensors, before, 'refused loads leave no tensor behind');
  // Not damage: an option kernelnet refuses by name.
  const regularized = structuredClone(good);
  layers(regularized)[0].config.kernel_regularizer = { class_name: 'L2', config: { l2: 0.01 } };
  writeFileSync(target, JSON.stringify(regularized));
  writeFileSync(join(dir, 'bad', 'weights.bin'), weights);
  assert.throws(
    () => loadTfjs(Sequential, target),
    (e: ValidationError) => e.code === 'ERR_KERNELNET_UNSUPPORTED' && /kernel_regularizer/.test(e.message),
  );
  writeFileSync(target, JSON.stringify(good));
  const intact = loadTfjs(Sequential, target);
  assert.is(intact.countParams(), 151, 'the unedited files load');
  intact.dispose();
});

Damaged('saving deletes the temporary files of a killed save to the same folder', async () => {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise(resolve => child.once('exit', resolve));
  const stale = join(dir, 'good', `.weights.bin.${child.pid}.0badc0de.tmp`);
  writeFileSync(stale, 'partial');
  const m = smallModel(3);
  saveTfjs(m, join(dir, 'good'));
  m.dispose();
  assert.not.ok(existsSync(stale));
});

Damaged("damaged artifacts from an IOHandler are a ValidationError about the handler's artifacts, not the addon's LoadError", async () => {
  const m = smallModel(3);
  const artifacts = toTfjsArtifacts(m) as unknown as Json;
  m.dispose();
  artifacts.modelTopology.config.layers[0].config.activation = 'relux';
  const err = await loadLayersModel({ load: async () => artifacts as never }).then(
    () => undefined,
    e => e as ValidationError,
  );
  assert.instance(err, ValidationError);
  assert.is(err!.code, 'ERR_KERNELNET_ARG');
  assert.is(err!.name, 'ValidationError');
  assert.match(err!.message, /^loadLayersModel: the IOHandler's artifacts are damaged: layer 0 \(Conv2D\): Expected one of/);
});

Damaged.run();
