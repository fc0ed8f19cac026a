// Models to and from checkpoint files (lib/io/checkpoint.ts: safetensors, atomic, checksummed): the weights alone
// (saveWeights/loadWeights), or everything needed to resume training exactly (save/loadModel): architecture,
// compile settings, parameters, optimizer slots, and the step, epoch and seed that drive dropout and shuffling.
import { readCheckpoint, writeCheckpoint, type NamedTensor } from './checkpoint.js';
import { CheckpointError, KernelnetError, ValidationError } from '../core/errors.js';
import type { Layer } from '../layers/layers.js';
import { REGISTRY, makeLayer, type LayerEntry } from '../layers/registry.js';
import type { GraphConfig, Network } from '../engine/network.js';
import { input, type SymbolicTensor } from '../engine/symbolic.js';
import type { Param } from '../layers/layers.js';
import { OPTIMIZERS } from '../engine/optimizers.js';
import { scheduleFromConfig } from '../engine/schedules.js';
import { lossFromConfig } from '../engine/losses.js';

/** '' for the parameter itself, else an optimizer slot's name (Keras's: momentum, velocity, accum, ...). */
type Slot = string;

/** "<layer>/<param>", a parameter's name in a checkpoint. */
function nameOf(model: Network, p: Param): string {
  const layer = model.layers.find(l => l.params.includes(p))!;
  return `${layer.name}/${p.name}`;
}

function paramName(model: Network, i: number): string {
  return nameOf(model, model.params[i]);
}

function weightTensors(model: Network): NamedTensor[] {
  return model.requireParams('saveWeights').map((p, i) => ({ name: paramName(model, i), shape: p.shape, data: p.value.read() as Float32Array }));
}

/** The data of every parameter (or optimizer slot) from a checkpoint, all checked before any is used. */
function matchParams(model: Network, path: string, tensors: Map<string, NamedTensor>, slot: Slot): Float32Array[] {
  // An optimizer's slots exist for the parameters it updates only.
  return (slot ? model.trainableParams : model.params).map(p => {
    const name = slot ? `optimizer/${nameOf(model, p)}/${slot}` : nameOf(model, p);
    const t = tensors.get(name);
    if (!t) throw new CheckpointError(path, `has no tensor ${name}: it was saved from a different model`);
    if (t.shape.join() !== p.shape.join()) throw new CheckpointError(path, `tensor ${name} has shape [${t.shape}] but this model's is [${p.shape}]`);
    return t.data;
  });
}

/**
 * The model's layers as data; a functional model's also its graph: its inputs, each node's layer (an index into
 * layers) and inputs (a node's index, or -1 - k for input k), and its output nodes.
 */
function architecture(model: Network) {
  const graph = model.graphConfig();
  return {
    name: model.name,
    inputShape: model.inputShape,
    layers: model.layers.map(l => ({ className: l.className, config: l.getConfig() })),
    ...(graph ? { graph } : {}),
  };
}

export function saveWeights(model: Network, path: string): void {
  model.alive('saveWeights');
  writeCheckpoint(path, weightTensors(model), { architecture: JSON.stringify(architecture(model)) });
}

export function loadWeights(model: Network, path: string): void {
  model.alive('loadWeights');
  const { tensors } = readCheckpoint(path);
  const params = model.requireParams('loadWeights');
  const values = matchParams(model, path, tensors, '');
  params.forEach((p, i) => p.value.write(values[i]));
}

export function save(model: Network, path: string): void {
  model.alive('save');
  const { optimizer } = model.requireCompiled('save');
  const slots = Object.entries(optimizer.slots());
  const tensors = weightTensors(model);
  model.trainableParams.forEach((p, i) => {
    const name = nameOf(model, p);
    for (const [slot, ts] of slots) tensors.push({ name: `optimizer/${name}/${slot}`, shape: p.shape, data: ts[i].read() as Float32Array });
  });
  writeCheckpoint(path, tensors, {
    architecture: JSON.stringify(architecture(model)),
    compile: JSON.stringify({
      // One output: as before; several: one loss, metrics list and loss weight per output, in order.
      ...(model.heads.length === 1
        ? {
            loss: { className: model.loss!.className, config: model.loss!.getConfig() },
            metrics: model.metricSpecs.map(m => m.key),
            ...(model.heads[0].weight !== 1 ? { lossWeights: [model.heads[0].weight] } : {}),
          }
        : {
            loss: model.heads.map(h => ({ className: h.loss.className, config: h.loss.getConfig() })),
            metrics: model.heads.map(h => h.metricSpecs.map(m => m.key)),
            lossWeights: model.heads.map(h => h.weight),
          }),
      optimizer: { className: optimizer.className, config: optimizer.getConfig() },
      stepsPerExecution: model.stepsPerExecution,
    }),
    training: JSON.stringify({ seed: model.seed, steps: model.steps, epochs: model.epochsRun, iterations: optimizer.iterations }),
  });
}

/** Puts back what save() wrote into a model built and compiled from the same checkpoint. */
function restore(
  model: Network,
  path: string,
  tensors: Map<string, NamedTensor>,
  training: { steps: number; epochs: number; iterations?: number },
): void {
  const { optimizer } = model.requireCompiled('restore');
  const values = matchParams(model, path, tensors, '');
  const slots = Object.entries(optimizer.slots()).map(([slot, ts]) => [ts, matchParams(model, path, tensors, slot)] as const);
  model.params.forEach((p, i) => p.value.write(values[i]));
  for (const [ts, data] of slots) ts.forEach((t, i) => t.write(data[i]));
  model.steps = training.steps;
  model.epochsRun = training.epochs;
  // Files from before the optimizer counted its own iterations: it had made one per model step.
  optimizer.setIterations(training.iterations ?? training.steps);
}

// The checkpoint's class names, from the one registry of layers.
const LAYERS: Record<string, (config: Record<string, unknown>) => Layer> = Object.fromEntries(
  REGISTRY.map(e => [e.className, (c: Record<string, unknown>) => makeLayer(e as LayerEntry, c)]),
);

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const show = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v).slice(0, 80));

/** A checkpoint whose metadata model.save() cannot have written: `field` says where, e.g. `training.seed`. */
function corrupt(path: string, field: string, problem: string, cause?: unknown): CheckpointError {
  return new CheckpointError(path, `corrupt metadata, ${field}: ${problem}`, cause === undefined ? undefined : { cause });
}

/**
 * Runs a step that builds part of the model from the metadata. The classes it calls check their arguments as
 * they check a user's, so their refusal (or a TypeError from a value of the wrong type) means the file is
 * corrupt: it becomes a CheckpointError that names the file and the field. A device or state error is about
 * this process, not the file, and passes through.
 */
function from<T>(path: string, field: string, step: () => T): T {
  try {
    return step();
  } catch (err) {
    if (err instanceof CheckpointError || (err instanceof KernelnetError && !(err instanceof ValidationError))) throw err;
    throw corrupt(path, field, err instanceof Error ? err.message : String(err), err);
  }
}

/** The architecture, compile settings and training state as save() writes them, each field's type checked. */
function readMetadata(path: string, metadata: Record<string, string>) {
  const json = (key: string): Json => {
    if (metadata[key] === undefined) throw new CheckpointError(path, `no valid "${key}" in the metadata: it was not written by model.save()`);
    let value: unknown;
    try {
      value = JSON.parse(metadata[key]);
    } catch (err) {
      throw corrupt(path, key, `not valid JSON (${(err as Error).message})`, err);
    }
    if (!isObject(value)) throw corrupt(path, key, `expected a JSON object but found ${show(value)}`);
    return value;
  };
  const expect = (ok: boolean, field: string, what: string, value: unknown) => {
    if (!ok) throw corrupt(path, field, `expected ${what} but found ${show(value)}`);
  };
  const arch = json('architecture'),
    compile = json('compile'),
    training = json('training');
  expect(typeof arch.name === 'string', 'architecture.name', 'a string', arch.name);
  const inputShape = arch.inputShape;
  expect(
    Array.isArray(inputShape) && inputShape.length > 0 && inputShape.every(d => isCount(d) && d > 0),
    'architecture.inputShape',
    'an array of positive integers',
    inputShape,
  );
  const layers = arch.layers;
  expect(Array.isArray(layers) && layers.length > 0, 'architecture.layers', 'an array of layers', layers);
  (layers as unknown[]).forEach((l, i) => {
    expect(isObject(l), `architecture.layers[${i}]`, 'an object { className, config }', l);
    const { className, config } = l as Json;
    expect(
      typeof className === 'string' && Object.hasOwn(LAYERS, className),
      `architecture.layers[${i}].className`,
      `one of ${Object.keys(LAYERS).join(', ')}`,
      className,
    );
    expect(isObject(config), `architecture.layers[${i}].config`, 'an object', config);
  });
  expect(isCount(training.seed) && training.seed < 2 ** 32, 'training.seed', 'an integer in [0, 2^32)', training.seed);
  for (const k of ['steps', 'epochs']) expect(isCount(training[k]), `training.${k}`, 'a non-negative integer', training[k]);
  // Files from before the optimizer counted its own iterations have none.
  expect(training.iterations === undefined || isCount(training.iterations), 'training.iterations', 'a non-negative integer', training.iterations);
  const optimizer = compile.optimizer as Json;
  expect(isObject(optimizer), 'compile.optimizer', 'an object { className, config }', optimizer);
  expect(
    typeof optimizer.className === 'string' && Object.hasOwn(OPTIMIZERS, optimizer.className),
    'compile.optimizer.className',
    `one of ${Object.keys(OPTIMIZERS).join(', ')}`,
    optimizer.className,
  );
  expect(isObject(optimizer.config), 'compile.optimizer.config', 'an object', optimizer.config);
  const graph = arch.graph;
  if (graph !== undefined) {
    expect(isObject(graph), 'architecture.graph', 'an object { inputs, nodes, outputs }', graph);
    const g = graph as Json;
    expect(Array.isArray(g.inputs) && g.inputs.length > 0, 'architecture.graph.inputs', 'an array of inputs', g.inputs);
    (g.inputs as unknown[]).forEach((inp, k) => {
      const ok = isObject(inp) && typeof inp.name === 'string' && Array.isArray(inp.shape) && inp.shape.every(d => isCount(d) && d > 0);
      expect(ok, `architecture.graph.inputs[${k}]`, 'an object { name, shape }', inp);
    });
    expect(Array.isArray(g.nodes) && g.nodes.length > 0, 'architecture.graph.nodes', 'an array of nodes', g.nodes);
    const nInputs = (g.inputs as unknown[]).length;
    (g.nodes as unknown[]).forEach((node, j) => {
      const n = node as Json;
      const ok =
        isObject(node) &&
        isCount(n.layer) &&
        (n.layer as number) < (layers as unknown[]).length &&
        Array.isArray(n.inputs) &&
        n.inputs.length > 0 &&
        n.inputs.every(r => Number.isSafeInteger(r) && (r as number) < j && (r as number) >= -nInputs);
      expect(ok, `architecture.graph.nodes[${j}]`, 'an object { layer, inputs } naming a layer and earlier nodes or inputs', node);
    });
    const nNodes = (g.nodes as unknown[]).length;
    expect(
      Array.isArray(g.outputs) && g.outputs.length > 0 && g.outputs.every(o => isCount(o) && (o as number) < nNodes),
      'architecture.graph.outputs',
      'an array of node indices',
      g.outputs,
    );
  }
  return {
    name: arch.name as string,
    inputShape: inputShape as number[],
    layers: layers as { className: string; config: Json }[],
    graph: graph as GraphConfig | undefined,
    compile,
    optimizer: optimizer as { className: string; config: Json },
    training: training as { seed: number; steps: number; epochs: number; iterations?: number },
  };
}

/**
 * Checks that the weights the architecture declares are the tensors the file holds, before compile() allocates
 * them: a corrupt size (units: 1e9) must be refused, not allocated.
 */
function checkDeclaredWeights(model: Network, path: string, tensors: Map<string, NamedTensor>): void {
  model.layers.forEach((layer, i) => {
    for (const spec of layer.specs) {
      const name = `${layer.name}/${spec.name}`,
        t = tensors.get(name);
      const field = `architecture.layers[${i}] (${layer.className} ${layer.name})`;
      if (!t) throw corrupt(path, field, `declares the weight ${name} [${spec.shape}], which the file does not hold`);
      if (t.shape.join() !== spec.shape.join())
        throw corrupt(path, field, `declares the weight ${name} as [${spec.shape}] but the file holds it as [${t.shape}]`);
    }
  });
}

/** The model classes loadModelAs makes (passed in, so that this module needs only network.ts's types). */
export interface ModelClasses<S extends Network, F extends Network> {
  Sequential: new (args: { name?: string; seed?: number; device?: string }) => S & { add(layer: Layer): void };
  Model: new (args: { inputs: SymbolicTensor[]; outputs: SymbolicTensor[]; name?: string; seed?: number; device?: string }) => F;
}

/**
 * Loads a model saved by `model.save(path)`, compiled and ready to predict or to resume training exactly: a
 * Sequential model, or a functional one when the file has a graph. Every field of the metadata is checked, and a
 * corrupt one is a CheckpointError naming the file and the field; nothing is allocated for a field that does
 * not match the weights in the file.
 */
export function loadModelAs<S extends Network, F extends Network>(classes: ModelClasses<S, F>, path: string, device?: string): S | F {
  const { metadata, tensors } = readCheckpoint(path);
  const meta = readMetadata(path, metadata);
  let model: S | F;
  if (!meta.graph) {
    // Outside `from`: with the name and seed checked, what this can refuse is the caller's device.
    const seq = new classes.Sequential({ name: meta.name, seed: meta.training.seed, device });
    model = seq;
    try {
      meta.layers.forEach((l, i) => {
        const field = `architecture.layers[${i}]`;
        const layer = from(path, `${field}.config (${l.className})`, () =>
          LAYERS[l.className](i === 0 ? { ...l.config, inputShape: meta.inputShape } : l.config),
        );
        from(path, `${field} (${l.className})`, () => seq.add(layer));
      });
    } catch (err) {
      seq.dispose();
      throw err;
    }
  } else {
    const g = meta.graph;
    const layers = meta.layers.map((l, i) => from(path, `architecture.layers[${i}].config (${l.className})`, () => LAYERS[l.className](l.config)));
    const inputs = g.inputs.map((inp, k) => from(path, `architecture.graph.inputs[${k}]`, () => input({ shape: inp.shape, name: inp.name })));
    const values: SymbolicTensor[] = [];
    g.nodes.forEach((n, j) => {
      const args = n.inputs.map(r => (r < 0 ? inputs[-1 - r] : values[r]));
      values[j] = from(path, `architecture.graph.nodes[${j}] (${meta.layers[n.layer].className})`, () => layers[n.layer].apply(args));
    });
    model = from(
      path,
      'architecture.graph',
      () => new classes.Model({ inputs, outputs: g.outputs.map(o => values[o]), name: meta.name, seed: meta.training.seed, device }),
    );
  }
  try {
    checkDeclaredWeights(model, path, tensors);
    const config = { ...meta.optimizer.config };
    if (config.learningRate !== null && typeof config.learningRate === 'object')
      config.learningRate = from(path, 'compile.optimizer.config.learningRate', () => scheduleFromConfig(config.learningRate as never));
    const optimizer = from(path, 'compile.optimizer.config', () => OPTIMIZERS[meta.optimizer.className](config));
    const given = meta.compile.loss;
    const loss = Array.isArray(given)
      ? given.map((l, o) => from(path, `compile.loss[${o}]`, () => lossFromConfig(l as never)))
      : from(path, 'compile.loss', () => lossFromConfig(given as never));
    const { metrics, stepsPerExecution, lossWeights } = meta.compile;
    from(path, 'compile', () =>
      model.compile({
        loss,
        optimizer,
        metrics: metrics as never,
        stepsPerExecution: (stepsPerExecution ?? 1) as never,
        ...(lossWeights !== undefined ? { lossWeights: lossWeights as never } : {}),
      }),
    );
    restore(model, path, tensors, meta.training);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}
