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
import type { Network } from '../engine/network.js';
import { input, type SymbolicTensor } from '../engine/symbolic.js';
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

/**
 * A functional model's topology as tfjs-layers writes it (class_name 'Model'): its InputLayers, then each layer
 * once with its inbound_nodes, one per application ([[source layer, its node index, 0, {}], ...]), and the
 * input_layers and output_layers. A model nested inside is written as its layers, in place.
 */
function graphJson(model: Network): Json {
  const graph = model.graphConfig()!;
  const nodeIndex: number[] = [];
  const seen = new Map<number, number>();
  for (const n of graph.nodes) {
    nodeIndex.push(seen.get(n.layer) ?? 0);
    seen.set(n.layer, (seen.get(n.layer) ?? 0) + 1);
  }
  const source = (ref: number) =>
    ref < 0 ? [graph.inputs[-1 - ref].name, 0, 0, {}] : [model.layers[graph.nodes[ref].layer].name, nodeIndex[ref], 0, {}];
  const inputs = graph.inputs.map(i => ({
    name: i.name,
    class_name: 'InputLayer',
    config: { batch_input_shape: [null, ...i.shape], dtype: 'float32', sparse: false, name: i.name },
    inbound_nodes: [],
  }));
  const layers = model.layers.map((l, li) => ({
    name: l.name,
    ...layerJson(l, false, []),
    inbound_nodes: graph.nodes.filter(n => n.layer === li).map(n => n.inputs.map(source)),
  }));
  return {
    class_name: 'Model',
    config: {
      name: model.name,
      layers: [...inputs, ...layers],
      input_layers: graph.inputs.map(i => [i.name, 0, 0]),
      output_layers: graph.outputs.map(o => [model.layers[graph.nodes[o].layer].name, nodeIndex[o], 0]),
    },
  };
}

/** The model as tfjs's ModelArtifacts: the topology, the weights' specs and their bytes (every weight, by name). */
export function toTfjsArtifacts(model: Network): TfjsArtifacts {
  model.alive('save');
  model.ensureParams(); // tfjs saves a built model that was never compiled
  const params = model.params;
  const modelTopology = {
    ...(model.graphConfig()
      ? graphJson(model)
      : { class_name: 'Sequential', config: { name: model.name, layers: model.layers.map((l, i) => layerJson(l, i === 0, model.inputShape)) } }),
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

/** A functional model's class, as buildFromArtifacts makes one. */
type FunctionalClass = new (args: { inputs: SymbolicTensor[]; outputs: SymbolicTensor[]; name?: string; seed?: number; device?: string }) => Network;

/** The classes a tfjs topology is built as: Sequential alone (a functional topology is then refused), or both. */
export type TfjsClasses = typeof Sequential | { Sequential: typeof Sequential; Model: FunctionalClass };

/**
 * Builds a model from tfjs artifacts (uncompiled, as tf.loadLayersModel returns it) and writes its weights,
 * matched by name. The classes are passed in so that this module needs only model.ts's types.
 */
export function fromTfjsArtifacts(
  Model: typeof Sequential,
  a: { modelTopology: Json; weightSpecs: TfjsArtifacts['weightSpecs']; weightData: ArrayBuffer },
  where: string,
  options?: SequentialArgs,
): Sequential;
export function fromTfjsArtifacts(
  Model: TfjsClasses,
  a: { modelTopology: Json; weightSpecs: TfjsArtifacts['weightSpecs']; weightData: ArrayBuffer },
  where: string,
  options?: SequentialArgs,
): Network;
export function fromTfjsArtifacts(
  Model: TfjsClasses,
  a: { modelTopology: Json; weightSpecs: TfjsArtifacts['weightSpecs']; weightData: ArrayBuffer },
  where: string,
  options: SequentialArgs = {},
): Network {
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
  classes: TfjsClasses,
  a: { modelTopology: Json; weightSpecs: TfjsArtifacts['weightSpecs']; weightData: ArrayBuffer },
  where: string,
  options: SequentialArgs,
  damaged: Damaged,
): Network {
  const Seq = typeof classes === 'function' ? classes : classes.Sequential;
  let topology = a.modelTopology;
  if (topology.model_config) topology = topology.model_config as Json; // Keras's full form
  const functional = topology.class_name === 'Model' || topology.class_name === 'Functional';
  if (functional && typeof classes !== 'function') return buildFunctional(classes.Model, topology, a, where, options, damaged);
  const { layers, name } = reading(damaged, 'modelTopology', () => {
    if (topology.class_name !== 'Sequential')
      throw new ValidationError(
        `${where}: a ${String(topology.class_name)} model; kernelnet loads Sequential models here`,
        'ERR_KERNELNET_UNSUPPORTED',
      );
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
  const byName = weightsByName(a, damaged);
  const model = new Seq({ ...options, name: options.name ?? name });
  try {
    layers.forEach((l, i) => reading(damaged, `layer ${i} (${l.className})`, () => model.add(l)));
    writeWeights(model, byName, damaged);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}

/** The weights by name, each checked against the data before any layer is built from them. */
function weightsByName(a: { weightSpecs: TfjsArtifacts['weightSpecs']; weightData: ArrayBuffer }, damaged: Damaged): Map<string, Float32Array> {
  return reading(damaged, 'weightsManifest', () => {
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
}

/**
 * Every weight the layers declare must be in the file with its size before any is allocated (a damaged units:
 * 1e9 is refused here, not allocated); then they are made and written.
 */
function writeWeights(model: Network, byName: Map<string, Float32Array>, damaged: Damaged): void {
  {
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
  }
}

/** The layer name, node index and tensor index of one inbound tensor: tfjs's [name, node, tensor, kwargs] or Keras 3's keras_history. */
function inboundRef(v: unknown): [string, number, number] {
  if (Array.isArray(v) && typeof v[0] === 'string') return [v[0], Number(v[1] ?? 0), Number(v[2] ?? 0)];
  const history = (v as { config?: { keras_history?: unknown } } | null)?.config?.keras_history;
  if (Array.isArray(history) && typeof history[0] === 'string') return [history[0], Number(history[1] ?? 0), Number(history[2] ?? 0)];
  throw new ValidationError(`expected an inbound tensor [layer, node, tensor, kwargs] but found ${JSON.stringify(v)?.slice(0, 80)}`);
}

/** One inbound node's tensors: tfjs's list of refs, or Keras 3's { args: [tensor or [tensors]], kwargs }. */
function inboundNode(node: unknown): [string, number, number][] {
  if (Array.isArray(node)) return node.map(inboundRef);
  const args = (node as { args?: unknown[] } | null)?.args;
  if (Array.isArray(args) && args.length) return (Array.isArray(args[0]) ? args[0] : [args[0]]).map(inboundRef);
  throw new ValidationError(`expected an inbound node but found ${JSON.stringify(node)?.slice(0, 80)}`);
}

/**
 * A functional topology (tfjs's 'Model', Keras's 'Functional'): its InputLayers become input()s, each layer is
 * made once and applied for each of its inbound nodes, in an order where every node's inputs exist (as
 * tfjs-layers' Container.fromConfig does), and the model is made from input_layers and output_layers.
 */
function buildFunctional(
  Functional: FunctionalClass,
  topology: Json,
  a: { weightSpecs: TfjsArtifacts['weightSpecs']; weightData: ArrayBuffer },
  where: string,
  options: SequentialArgs,
  damaged: Damaged,
): Network {
  const { inputs, outputs, name } = reading(damaged, 'modelTopology', () => {
    const config = topology.config as Json;
    const list = config.layers as Json[];
    if (!Array.isArray(list)) throw damaged(`modelTopology: expected a list of layers but found ${JSON.stringify(list)}`);
    const tensors = new Map<string, SymbolicTensor>(); // "<layer>:<node>" -> its output
    const pending: { layer: Layer; name: string; nodes: [string, number, number][][]; done: number }[] = [];
    list.forEach((l, i) => {
      const label = typeof l?.class_name === 'string' ? `layer ${i} (${l.class_name})` : `layer ${i}`;
      reading(damaged, label, () => {
        const lname = String(l.name ?? (l.config as Json)?.name);
        if (l.class_name === 'InputLayer') {
          const c = l.config as Json;
          const shape = ((c.batch_input_shape ?? c.batch_shape) as (number | null)[]).slice(1) as number[];
          tensors.set(`${lname}:0`, input({ shape, name: lname }));
          return;
        }
        if (l.class_name === 'Model' || l.class_name === 'Functional' || l.class_name === 'Sequential')
          throw new ValidationError(
            `${where}: ${label} is a model nested as a layer; kernelnet reads nested models as their layers only`,
            'ERR_KERNELNET_UNSUPPORTED',
          );
        // The input shape comes from the inbound tensors (tfjs may also write it on a layer a model input feeds).
        const config = { ...(l.config as Json) };
        delete config.batch_input_shape;
        const layer = layerFrom({ ...l, config }, `${where}, layer ${i}`);
        pending.push({ layer, name: lname, nodes: ((l.inbound_nodes ?? []) as unknown[]).map(inboundNode), done: 0 });
      });
    });
    // Apply each layer's nodes in order as soon as their inputs exist.
    for (let progress = true; progress;) {
      progress = false;
      for (const p of pending)
        while (p.done < p.nodes.length) {
          const args = p.nodes[p.done].map(([l, n]) => tensors.get(`${l}:${n}`));
          if (args.some(t => !t)) break;
          tensors.set(
            `${p.name}:${p.done}`,
            reading(damaged, `layer ${p.name} node ${p.done}`, () => p.layer.apply(args as SymbolicTensor[])),
          );
          p.done++;
          progress = true;
        }
    }
    const stuck = pending.find(p => p.done < p.nodes.length);
    if (stuck) throw damaged(`modelTopology: layer ${stuck.name}'s node ${stuck.done} reads a tensor no layer makes`);
    const refs = (key: string) =>
      ((config[key] ?? []) as unknown[]).map(r => {
        const [l, n] = inboundRef(r);
        const t = tensors.get(`${l}:${n}`);
        if (!t) throw damaged(`modelTopology: ${key} names ${l}[${n}], which no layer makes`);
        return t;
      });
    return { inputs: refs('input_layers'), outputs: refs('output_layers'), name: config.name as string | undefined };
  });
  const byName = weightsByName(a, damaged);
  const model = reading(damaged, 'modelTopology', () => new Functional({ ...options, inputs, outputs, name: options.name ?? name }));
  try {
    writeWeights(model, byName, damaged);
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
  model: Network,
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
export function loadTfjs(Model: typeof Sequential, url: string, options?: SequentialArgs): Sequential;
export function loadTfjs(Model: TfjsClasses, url: string, options?: SequentialArgs): Network;
export function loadTfjs(Model: TfjsClasses, url: string, options: SequentialArgs = {}): Network {
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
