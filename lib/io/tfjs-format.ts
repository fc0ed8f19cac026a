// TensorFlow.js's layers-model format, both ways: model.json (a Keras topology in snake_case JSON, as tfjs-layers
// writes it, and a weights manifest) beside one binary file of little-endian float32 weights. A kernelnet model
// saved here loads in tfjs (tf.loadLayersModel) and predicts the same; a model tfjs saved loads here (for the
// layers kernelnet has) and trains on. Anything in a file that kernelnet would not honour (a regularizer, a
// constraint, channels-first data, an initializer it does not have) is refused by name, never dropped. A
// model.json that is damaged (bad JSON, a value of the wrong type, weights that do not fit the layers) is a
// CheckpointError naming the file, as a damaged checkpoint is.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CheckpointError, KernelnetError, ValidationError } from '../core/errors.js';
import { removeStaleTemporaries, temporaryName } from './checkpoint.js';
import type { Layer } from '../layers/layers.js';
import { TFJS_FIXED_INITIALIZERS, TFJS_KERNEL_NULLS, TFJS_NULLS, layerEntry, makeLayer } from '../layers/registry.js';
import type { Sequential, SequentialArgs } from '../models/model.js';
import { nativeBinary } from '../core/native.js';

type Json = Record<string, unknown>;

/** The parts of a layers model, as tfjs's ModelArtifacts names them. */
export interface TfjsArtifacts {
  /** The Keras topology as tfjs-layers writes it: { class_name: 'Sequential', config: { name, layers }, ... }. */
  modelTopology: Record<string, unknown>;
  /** Every weight, in weightData's order. */
  weightSpecs: {
    /** The weight's name, "<layer>/<weight>" (e.g. 'dense/kernel'). */
    name: string;
    /** The weight's shape. */
    shape: number[];
    /** The weight's element type: always float32. */
    dtype: 'float32';
  }[];
  /** The weights' values, little-endian float32, one after the other. */
  weightData: ArrayBuffer;
  /** Always 'layers-model'. */
  format: 'layers-model';
  /** What wrote the artifacts: 'kernelnet <version>'. */
  generatedBy: string;
  /** Always null (no converter was involved). */
  convertedBy: null;
}

// Keras's variance-scaling initializers as tfjs-layers serialises them ('normal' is the truncated normal).
const VARIANCE_SCALING: Record<string, { scale: number; mode: string; distribution: string }> = {
  glorotUniform: { scale: 1, mode: 'fan_avg', distribution: 'uniform' },
  glorotNormal: { scale: 1, mode: 'fan_avg', distribution: 'normal' },
  heUniform: { scale: 2, mode: 'fan_in', distribution: 'uniform' },
  heNormal: { scale: 2, mode: 'fan_in', distribution: 'normal' },
  lecunUniform: { scale: 1, mode: 'fan_in', distribution: 'uniform' },
  lecunNormal: { scale: 1, mode: 'fan_in', distribution: 'normal' },
};
const CLASS_INITIALIZERS: Record<string, string> = {
  GlorotUniform: 'glorotUniform',
  GlorotNormal: 'glorotNormal',
  HeUniform: 'heUniform',
  HeNormal: 'heNormal',
  LeCunUniform: 'lecunUniform',
  LeCunNormal: 'lecunNormal',
  LecunUniform: 'lecunUniform',
  LecunNormal: 'lecunNormal',
  Zeros: 'zeros',
  Ones: 'ones',
};

function initializerJson(name: unknown, fallback: string): Json {
  const n = (name as string | undefined) ?? fallback;
  if (n === 'zeros') return { class_name: 'Zeros', config: {} };
  if (n === 'ones') return { class_name: 'Ones', config: {} };
  return { class_name: 'VarianceScaling', config: { ...VARIANCE_SCALING[n], seed: null } };
}

function initializerName(value: unknown, where: string): string {
  if (value === null || value === undefined) return value as never;
  const v = value as { class_name?: string; config?: Json };
  if (v.class_name && CLASS_INITIALIZERS[v.class_name]) return CLASS_INITIALIZERS[v.class_name];
  if (v.class_name === 'VarianceScaling' && v.config) {
    const distribution = v.config.distribution === 'truncated_normal' ? 'normal' : v.config.distribution;
    const hit = Object.entries(VARIANCE_SCALING).find(
      ([, s]) => s.scale === v.config!.scale && s.mode === v.config!.mode && s.distribution === distribution,
    );
    if (hit) return hit[0];
  }
  throw new ValidationError(
    `${where}: the initializer ${JSON.stringify(value)} is not one kernelnet has (glorot, he and lecun, uniform or normal; zeros; ones)`,
    'ERR_KERNELNET_UNSUPPORTED',
  );
}

const snake = (k: string) => k.replace(/[A-Z]/g, c => `_${c.toLowerCase()}`);
const camel = (k: string) => k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Keras's activation names where kernelnet's differ (tfjs-layers knows no leaky_relu activation, only the layer). */
function activationJson(layer: Layer, a: unknown): unknown {
  if (a === 'leaky_relu')
    throw new ValidationError(
      `${layer.name}: tfjs has no 'leaky_relu' activation on a layer; use a LeakyReLU layer after it to save in the tfjs format`,
      'ERR_KERNELNET_UNSUPPORTED',
    );
  return a;
}

/** One layer as tfjs-layers serialises it: {class_name, config} with snake_case keys and Keras's defaults spelled out. */
function layerJson(layer: Layer, first: boolean, inputShape: number[]): Json {
  const c = layer.getConfig() as Json;
  const config: Json = { name: c.name, trainable: c.trainable, dtype: 'float32' };
  if (first) config.batch_input_shape = [null, ...inputShape];
  const put = (k: string, v: unknown) => {
    config[k] = v;
  };
  const entry = layerEntry(layer.className);
  if (!entry) throw new ValidationError(`${layer.name}: ${layer.className} has no tfjs-layers counterpart`, 'ERR_KERNELNET_UNSUPPORTED');
  const spec = entry.tfjs;
  for (const k of spec.keys ?? []) put(snake(k), c[k]);
  if (spec.channelsLast) put('data_format', 'channels_last');
  if (spec.activation) put('activation', activationJson(layer, c.activation));
  if (spec.kernel) {
    put('use_bias', c.useBias ?? true);
    put('kernel_initializer', initializerJson(c.kernelInitializer, 'glorotUniform'));
    put('bias_initializer', initializerJson(c.biasInitializer, 'zeros'));
    for (const k of TFJS_KERNEL_NULLS) put(k, null);
  }
  for (const [k, name] of Object.entries(spec.initializers ?? {})) put(k, initializerJson(name, name));
  for (const k of spec.nulls ?? []) put(k, null);
  return { class_name: layer.className, config };
}

/** The model as tfjs's ModelArtifacts: the topology, the weights' specs and their bytes (every weight, by name). */
export function toTfjsArtifacts(model: Sequential): TfjsArtifacts {
  model.alive('save');
  model.ensureParams(); // tfjs saves a built model that was never compiled
  const params = model.params;
  const modelTopology = {
    class_name: 'Sequential',
    config: { name: model.name, layers: model.layers.map((l, i) => layerJson(l, i === 0, model.inputShape)) },
    keras_version: `kernelnet ${nativeBinary().version}`,
    backend: 'kernelnet',
  };
  const weightSpecs = params.map(p => {
    const layer = model.layers.find(l => l.params.includes(p))!;
    return { name: `${layer.name}/${p.name}`, shape: p.shape, dtype: 'float32' as const };
  });
  const total = params.reduce((n, p) => n + p.value.size, 0);
  const data = new Float32Array(total);
  let at = 0;
  for (const p of params) {
    data.set(p.value.read() as Float32Array, at);
    at += p.value.size;
  }
  return {
    modelTopology,
    weightSpecs,
    weightData: data.buffer,
    format: 'layers-model',
    generatedBy: `kernelnet ${nativeBinary().version}`,
    convertedBy: null,
  };
}

// Keys tfjs writes whose value kernelnet checks rather than passes on: the initializers it has (or refuses),
// the input shape, and nulls for options it has none of.
/** A layer from its tfjs JSON; an option kernelnet lacks is refused by the layer's own schema, by name. */
function layerFrom(json: Json, where: string): Layer {
  const className = json.class_name as string,
    config = (json.config ?? {}) as Json;
  const entry = layerEntry(className, true);
  if (!entry) throw new ValidationError(`${where}: layer class ${className} is not one kernelnet has`, 'ERR_KERNELNET_UNSUPPORTED');
  const args: Json = {};
  for (const [key, value] of Object.entries(config)) {
    if (TFJS_NULLS.has(key)) {
      if (value !== null && value !== undefined)
        throw new ValidationError(
          `${where} (${className}): ${key} ${JSON.stringify(value)} is not supported; kernelnet would train without it`,
          'ERR_KERNELNET_UNSUPPORTED',
        );
    } else if (key === 'batch_input_shape') {
      args.inputShape = (value as (number | null)[]).slice(1);
    } else if (key === 'kernel_initializer' || key === 'bias_initializer') {
      args[camel(key)] = initializerName(value, `${where} (${className}) ${key}`);
    } else if (key in TFJS_FIXED_INITIALIZERS) {
      const name = initializerName(value, `${where} (${className}) ${key}`);
      if (name !== TFJS_FIXED_INITIALIZERS[key])
        throw new ValidationError(
          `${where} (${className}): ${key} must be ${TFJS_FIXED_INITIALIZERS[key]} (Keras's default) in kernelnet`,
          'ERR_KERNELNET_UNSUPPORTED',
        );
    } else if (key === 'data_format') {
      args.dataFormat = value === 'channels_last' ? 'channelsLast' : value;
    } else if (key === 'activation' && className !== 'Activation' && value === 'linear') {
      args.activation = 'linear';
    } else {
      args[camel(key)] = value;
    }
  }
  entry.tfjs.fromTfjs?.(args);
  return makeLayer(entry, args);
}

/** A ValidationError already saying what is damaged in an IOHandler's artifacts: passed on as it is, not wrapped again. */
class DamagedArtifacts extends ValidationError {
  static override readonly defaultCode = 'ERR_KERNELNET_ARG' as const;
  override name = 'ValidationError'; // a ValidationError to the user; the subclass only marks it as already said
}

/** What a damaged model.json or weight file is refused with: `problem` comes after the file's (or source's) name. */
type Damaged = (problem: string, cause?: unknown) => KernelnetError;

/**
 * Runs a step that reads the topology or the weights. A refusal of what the file holds becomes `damaged`: a
 * layer's ValidationError about a value or a shape, or a TypeError from a value of the wrong type. An option
 * kernelnet knows but does not support (ERR_KERNELNET_UNSUPPORTED) is about the model, not damage, and passes
 * through, as does a device or state error.
 */
function reading<T>(damaged: Damaged, where: string, step: () => T): T {
  try {
    return step();
  } catch (err) {
    if (
      err instanceof DamagedArtifacts ||
      (err instanceof ValidationError ? err.code === 'ERR_KERNELNET_UNSUPPORTED' : err instanceof KernelnetError)
    )
      throw err;
    throw damaged(`${where}: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

/**
 * Builds a model from tfjs artifacts (uncompiled, as tf.loadLayersModel returns it) and writes its weights,
 * matched by name. The class is passed in so that this module needs only model.ts's types.
 */
export function fromTfjsArtifacts(
  Model: typeof Sequential,
  a: { modelTopology: Json; weightSpecs: TfjsArtifacts['weightSpecs']; weightData: ArrayBuffer },
  where: string,
  options: SequentialArgs = {},
): Sequential {
  // Artifacts handed over by an IOHandler are an argument, not a file: damage is a ValidationError (ERR_KERNELNET_LOAD
  // means the addon itself could not load).
  return buildFromArtifacts(
    Model,
    a,
    where,
    options,
    (problem, cause) =>
      new DamagedArtifacts(
        `${where}: the IOHandler's artifacts are damaged: ${problem}`,
        'ERR_KERNELNET_ARG',
        cause === undefined ? undefined : { cause },
      ),
  );
}

function buildFromArtifacts(
  Model: typeof Sequential,
  a: { modelTopology: Json; weightSpecs: TfjsArtifacts['weightSpecs']; weightData: ArrayBuffer },
  where: string,
  options: SequentialArgs,
  damaged: Damaged,
): Sequential {
  const { layers, name } = reading(damaged, 'modelTopology', () => {
    let topology = a.modelTopology;
    if (topology.model_config) topology = topology.model_config as Json; // Keras's full form
    if (topology.class_name !== 'Sequential')
      throw new ValidationError(`${where}: a ${String(topology.class_name)} model; kernelnet loads Sequential models`, 'ERR_KERNELNET_UNSUPPORTED');
    const config = topology.config as Json | Json[];
    const layerList = (Array.isArray(config) ? config : config.layers) as Json[];
    if (!Array.isArray(layerList)) throw damaged(`modelTopology: expected a list of layers but found ${JSON.stringify(layerList)}`);
    const name = Array.isArray(config) ? undefined : (config.name as string | undefined);
    // Keras writes the input as an InputLayer first; tfjs-layers as the first layer's batch_input_shape.
    const input = layerList.find(l => l?.class_name === 'InputLayer'),
      rest = layerList.filter(l => l !== input);
    if (input && rest.length && !(rest[0].config as Json | undefined)?.batch_input_shape)
      rest[0] = { ...rest[0], config: { ...(rest[0].config as Json), batch_input_shape: (input.config as Json).batch_input_shape } };
    const label = (l: Json | null, i: number) => (typeof l?.class_name === 'string' ? `layer ${i} (${l.class_name})` : `layer ${i}`);
    return { layers: rest.map((l, i) => reading(damaged, label(l, i), () => layerFrom(l, `${where}, layer ${i}`))), name };
  });
  // The weights by name, each checked against the data before any layer is built from them.
  const byName = reading(damaged, 'weightsManifest', () => {
    const bytes = new Float32Array(a.weightData);
    let at = 0;
    const found = new Map<string, Float32Array>();
    for (const spec of a.weightSpecs) {
      if (spec.dtype !== 'float32') throw damaged(`weight ${spec.name} is ${spec.dtype}; kernelnet reads float32 weights`);
      if (!Array.isArray(spec.shape) || !spec.shape.every(d => Number.isSafeInteger(d) && d >= 0))
        throw damaged(`weight ${spec.name} has the shape ${JSON.stringify(spec.shape)}, not a list of sizes`);
      const size = spec.shape.reduce((n, d) => n * d, 1);
      if (at + size > bytes.length) throw damaged(`the weight data ends before ${spec.name}`);
      found.set(spec.name, bytes.subarray(at, at + size));
      at += size;
    }
    return found;
  });
  const model = new Model({ ...options, name: options.name ?? name });
  try {
    layers.forEach((l, i) => reading(damaged, `layer ${i} (${l.className})`, () => model.add(l)));
    // Every weight the layers declare must be in the file with its size before any is allocated: a damaged
    // units (1e9) is refused here, not allocated.
    const weights = model.layers.flatMap(l =>
      l.specs.map(spec => {
        // tfjs-layers names weights "<layer>/<weight>"; Keras 3 files may add a suffix (":0").
        const data = byName.get(`${l.name}/${spec.name}`) ?? byName.get(`${l.name}/${spec.name}:0`);
        if (!data) throw damaged(`no weight ${l.name}/${spec.name}`);
        if (data.length !== spec.shape.reduce((n, d) => n * d, 1))
          throw damaged(`weight ${l.name}/${spec.name} has ${data.length} values; the layer needs [${spec.shape}]`);
        return data;
      }),
    );
    model.ensureParams();
    model.params.forEach((p, i) => p.value.write(weights[i]));
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}

/** A `file://` URL or a plain path, resolved. */
function pathOf(url: string): string {
  return resolve(url.startsWith('file://') ? url.slice('file://'.length) : url);
}

/** Writes DIR/model.json and DIR/weights.bin (each written whole, then renamed into place), as tfjs-node does. */
export function saveTfjs(
  model: Sequential,
  url: string,
): { modelArtifactsInfo: { dateSaved: Date; modelTopologyType: 'JSON'; weightDataBytes: number } } {
  const a = toTfjsArtifacts(model),
    dir = pathOf(url);
  mkdirSync(dir, { recursive: true });
  const json = {
    modelTopology: a.modelTopology,
    format: a.format,
    generatedBy: a.generatedBy,
    convertedBy: a.convertedBy,
    weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
  };
  for (const [file, data] of [
    ['weights.bin', new Uint8Array(a.weightData)],
    ['model.json', JSON.stringify(json)],
  ] as const) {
    // Named and cleaned as checkpoints are (lib/io/checkpoint.ts): a killed save's temporary file goes with the next.
    removeStaleTemporaries(join(dir, file));
    const tmp = temporaryName(join(dir, file));
    writeFileSync(tmp, data);
    renameSync(tmp, join(dir, file));
  }
  return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: a.weightData.byteLength } };
}

/** Reads a model.json (and the weight files its manifest names, beside it) written by tfjs or by saveTfjs. */
export function loadTfjs(Model: typeof Sequential, url: string, options: SequentialArgs = {}): Sequential {
  const file = pathOf(url);
  const damaged: Damaged = (problem, cause) => new CheckpointError(file, problem, cause === undefined ? undefined : { cause });
  let json: Json;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw damaged(`is not a readable model.json: ${(err as Error).message}`, err);
  }
  if (json === null || typeof json !== 'object' || !json.modelTopology || typeof json.modelTopology !== 'object')
    throw damaged('no modelTopology (not a layers model)');
  const { weightSpecs, weightData } = reading(damaged, 'weightsManifest', () => {
    const manifest = (json.weightsManifest ?? []) as { paths: string[]; weights: TfjsArtifacts['weightSpecs'] }[];
    const chunks: Uint8Array[] = [];
    for (const group of manifest)
      for (const p of group.paths) {
        try {
          chunks.push(readFileSync(join(dirname(file), p)));
        } catch (err) {
          throw damaged(`cannot read the weight file ${p} its manifest names: ${(err as Error).message}`, err);
        }
      }
    const weightData = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      weightData.set(c, at);
      at += c.length;
    }
    return { weightSpecs: manifest.flatMap(g => g.weights), weightData };
  });
  return buildFromArtifacts(Model, { modelTopology: json.modelTopology as Json, weightSpecs, weightData: weightData.buffer }, file, options, damaged);
}
