// A layer applied to tensors of data (Keras's layer(x), tfjs's eager layer.apply(tensor)): run as a one-layer
// functional model made on the first call for the inputs' shapes and kept with the layer, through the same path
// as model.apply (lib/ops/model-tape.ts), so it is differentiable and its weights are registered variables that
// optimizer.minimize trains. layer.dispose() frees that model. Imported for its effect by both entry points.
import { ValidationError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { input, setEagerApply, setEagerRelease, type SymbolicLayer, type SymbolicTensor } from '../engine/symbolic.js';
import type { Layer } from '../layers/layers.js';
import { Model } from '../models/functional.js';
import { checkOptions, fail } from '../core/validate.js';
import { ModelVariables, applyModel } from './model-tape.js';
import { addVariableSource } from './autodiff.js';

interface Eager {
  shapes: string;
  model: Model;
  variables: ModelVariables;
  dropSource: () => void;
}
const eager = new WeakMap<SymbolicLayer, Eager>();

setEagerApply((layer, inputs, kwargs) => {
  const xs = inputs as Tensor[];
  const who = layer.name || layer.className;
  if (!xs.every(x => x instanceof Tensor)) throw new ValidationError(`${who}.apply: expected tensors (or symbolic tensors), not a mix`);
  checkOptions(kwargs, { what: 'apply kwargs', supported: ['training'], notYet: { mask: {} } });
  const training = (kwargs as { training?: boolean } | undefined)?.training ?? false;
  if (typeof training !== 'boolean') fail('a boolean', 'training', training);
  const shapes = JSON.stringify(xs.map(x => x.shape.slice(1)));
  let entry = eager.get(layer);
  if (entry && entry.shapes !== shapes)
    throw new ValidationError(
      `${who}.apply: the layer ran on inputs of shape ${fmt(entry.shapes)} and is applied to ${fmt(shapes)}`,
      'ERR_KERNELNET_SHAPE',
    );
  if (!entry) {
    const ins = xs.map(x => input({ shape: x.shape.slice(1) }));
    const out = (layer as Layer).apply((ins.length === 1 ? ins[0] : ins) as SymbolicTensor);
    const model = new Model({ inputs: ins.length === 1 ? ins[0] : ins, outputs: out, name: `${(layer as Layer).name}_apply`, device: xs[0].device });
    const variables = new ModelVariables(model);
    entry = { shapes, model, variables, dropSource: addVariableSource(variables) };
    eager.set(layer, entry);
  }
  const outs = applyModel(entry.model, xs, training, entry.variables);
  return outs.length === 1 ? outs[0] : outs;
});

setEagerRelease(layer => {
  const entry = eager.get(layer);
  if (!entry) return 0;
  eager.delete(layer);
  const n = entry.model.params.length;
  entry.dropSource();
  entry.variables.disposeModel();
  return n;
});

const fmt = (shapes: string) => (JSON.parse(shapes) as number[][]).map(s => `[N, ${s.join(', ')}]`).join(' and ');
