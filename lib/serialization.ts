// Models to and from checkpoint files (lib/checkpoint.ts: safetensors, atomic, checksummed): the weights alone
// (saveWeights/loadWeights), or everything needed to resume training exactly (save/loadModel): architecture,
// compile settings, parameters, optimizer slots, and the step, epoch and seed that drive dropout and shuffling.
import { readCheckpoint, writeCheckpoint, type NamedTensor } from './checkpoint.js';
import { CheckpointError } from './errors.js';
import {
  Activation, AveragePooling2D, Conv2D, Dense, Dropout, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D, Layer, LeakyReLU, MaxPooling2D,
  Reshape, Rescaling, BatchNormalization,
} from './layers.js';
import type { Sequential } from './model.js';
import type { Param } from './layers.js';
import { OPTIMIZERS } from './optimizers.js';
import { scheduleFromConfig } from './schedules.js';
import { lossFromConfig } from './losses.js';

/** '' for the parameter itself, else an optimizer slot's name (Keras's: momentum, velocity, accum, ...). */
type Slot = string;

/** "<layer>/<param>", a parameter's name in a checkpoint. */
function nameOf(model: Sequential, p: Param): string {
  const layer = model.layers.find(l => l.params.includes(p))!;
  return `${layer.name}/${p.name}`;
}

function paramName(model: Sequential, i: number): string {
  return nameOf(model, model.params[i]);
}

function weightTensors(model: Sequential): NamedTensor[] {
  return model.requireParams('saveWeights').map((p, i) => ({ name: paramName(model, i), shape: p.shape, data: p.value.read() as Float32Array }));
}

/** The data of every parameter (or optimizer slot) from a checkpoint, all checked before any is used. */
function matchParams(model: Sequential, path: string, tensors: Map<string, NamedTensor>, slot: Slot): Float32Array[] {
  // An optimizer's slots exist for the parameters it updates only.
  return (slot ? model.trainableParams : model.params).map(p => {
    const name = slot ? `optimizer/${nameOf(model, p)}/${slot}` : nameOf(model, p);
    const t = tensors.get(name);
    if (!t) throw new CheckpointError(path, `has no tensor ${name}: it was saved from a different model`);
    if (t.shape.join() !== p.shape.join())
      throw new CheckpointError(path, `tensor ${name} has shape [${t.shape}] but this model's is [${p.shape}]`);
    return t.data;
  });
}

/** The model's layers as data. */
function architecture(model: Sequential) {
  return { name: model.name, inputShape: model.inputShape, layers: model.layers.map(l => ({ className: l.className, config: l.getConfig() })) };
}

export function saveWeights(model: Sequential, path: string): void {
  model.alive('saveWeights');
  writeCheckpoint(path, weightTensors(model), { architecture: JSON.stringify(architecture(model)) });
}

export function loadWeights(model: Sequential, path: string): void {
  model.alive('loadWeights');
  const { tensors } = readCheckpoint(path);
  const params = model.requireParams('loadWeights');
  const values = matchParams(model, path, tensors, '');
  params.forEach((p, i) => p.value.write(values[i]));
}

export function save(model: Sequential, path: string): void {
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
    compile: JSON.stringify({ loss: { className: model.loss!.className, config: model.loss!.getConfig() },
      optimizer: { className: optimizer.className, config: optimizer.getConfig() }, metrics: model.metricSpecs.map(m => m.key),
      stepsPerExecution: model.stepsPerExecution }),
    training: JSON.stringify({ seed: model.seed, steps: model.steps, epochs: model.epochsRun, iterations: optimizer.iterations }),
  });
}

/** Puts back what save() wrote into a model built and compiled from the same checkpoint. */
function restore(model: Sequential, path: string, tensors: Map<string, NamedTensor>,
  training: { steps: number; epochs: number; iterations?: number }): void {
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

const LAYERS: Record<string, (config: Record<string, unknown>) => Layer> = {
  Conv2D: c => new Conv2D(c as never),
  MaxPooling2D: c => new MaxPooling2D(c as never),
  Dropout: c => new Dropout(c as never),
  Flatten: c => new Flatten(c as never),
  Dense: c => new Dense(c as never),
  Activation: c => new Activation(c as never),
  LeakyReLU: c => new LeakyReLU(c as never),
  AveragePooling2D: c => new AveragePooling2D(c as never),
  GlobalAveragePooling2D: c => new GlobalAveragePooling2D(c as never),
  GlobalMaxPooling2D: c => new GlobalMaxPooling2D(c as never),
  Reshape: c => new Reshape(c as never),
  Rescaling: c => new Rescaling(c as never),
  BatchNormalization: c => new BatchNormalization(c as never),
};

/**
 * Loads a model saved by `model.save(path)`, compiled and ready to predict or to resume training exactly (the
 * class is passed in, so that this module needs only model.ts's types).
 */
export function loadModelAs(Model: typeof Sequential, path: string, device?: string): Sequential {
  const { metadata, tensors } = readCheckpoint(path);
  const parse = (key: string) => {
    try {
      return JSON.parse(metadata[key]);
    } catch {
      throw new CheckpointError(path, `no valid "${key}" in the metadata: it was not written by model.save()`);
    }
  };
  const arch = parse('architecture'), compile = parse('compile'), training = parse('training');
  const model = new Model({ name: arch.name, seed: training.seed, device });
  arch.layers.forEach((l: { className: string; config: Record<string, unknown> }, i: number) => {
    const make = LAYERS[l.className];
    if (!make) throw new CheckpointError(path, `unknown layer class ${l.className}`);
    model.add(make(i === 0 ? { ...l.config, inputShape: arch.inputShape } : l.config));
  });
  const makeOptimizer = OPTIMIZERS[compile.optimizer?.className];
  if (!makeOptimizer || !Object.hasOwn(OPTIMIZERS, compile.optimizer.className)) throw new CheckpointError(path, `unknown optimizer ${compile.optimizer?.className}`);
  const config = { ...compile.optimizer.config };
  if (config.learningRate !== null && typeof config.learningRate === 'object') {
    try {
      config.learningRate = scheduleFromConfig(config.learningRate);
    } catch (err) {
      throw new CheckpointError(path, `has an unreadable learning-rate schedule: ${(err as Error).message}`);
    }
  }
  let loss;
  try {
    loss = lossFromConfig(compile.loss);
  } catch (err) {
    throw new CheckpointError(path, `has an unreadable loss: ${(err as Error).message}`);
  }
  model.compile({ loss, optimizer: makeOptimizer(config), metrics: compile.metrics, stepsPerExecution: compile.stepsPerExecution ?? 1 });
  try {
    restore(model, path, tensors, training);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}
