// A kernelnet model inside tfjs's custom training loops: its weights as registered variables (tfjs's
// model.trainableWeights[i].read(), trained by optimizer.minimize), and model.apply / model.predict recorded on the
// gradient tape as one op whose gradient is the model's own native backward pass (Network.tapeCall): the layers'
// input gradients (a GAN's generator learns through the discriminator) and their weights' gradients.
import { ValidationError } from '../core/errors.js';
import { native, type NativeTensor } from '../core/native.js';
import { Tensor, handleKey, handleOf } from '../core/tensor.js';
import type { Param } from '../layers/layers.js';
import type { Network } from '../engine/network.js';
import { Variable, freeName, unregister } from './autodiff.js';
import * as d from './differentiable.js';
import { record, recording, watched } from './tape.js';

/**
 * Each weight's variable, one per weight however many models hold its layer (a shared layer, or one applied to
 * tensors and used in a model): tfjs has one variable per weight.
 */
const variableOf = new WeakMap<Param, Variable>();

/** A model's weights as registered variables, made on first use and kept in step with the model. */
export class ModelVariables {
  constructor(private readonly model: Network) {}

  /** The variable of each of the model's weights (made now where missing), in getWeights() order. */
  sync(): Variable[] {
    const m = this.model;
    if (m.disposed) return [];
    if (!m.params.length) {
      try {
        m.ensureParams(); // as tfjs: a built model's weights exist before any call
      } catch {
        return []; // no layers, or no input shape yet
      }
    }
    const out: Variable[] = [];
    for (const layer of m.layers)
      for (const p of layer.params) {
        let v = variableOf.get(p);
        if (v && (handleKey(v) !== p.value || v.isDisposed)) {
          unregister(v);
          v = undefined;
        }
        if (!v) {
          v = new Variable(p.value, true, freeName(`${layer.name}/${p.name}`), m.name, true);
          variableOf.set(p, v);
        }
        v.trainable = layer.trainable !== false && p.trainable !== false;
        out.push(v);
      }
    return out;
  }

  /**
   * Disposes the model, and takes out of the registry the variables of the weights that freed (a layer another live
   * model holds keeps its weights, and their variables).
   */
  disposeModel(): void {
    const m = this.model,
      had = m.layers.map(l => [...l.params]);
    m.dispose();
    m.layers.forEach((l, i) => {
      if (l.params.length) return; // still held by another model
      for (const p of had[i]) {
        const v = variableOf.get(p);
        if (v) unregister(v);
        variableOf.delete(p);
      }
    });
  }
}

/** Whether a call on these inputs must be recorded: some open tape watches an input or one of the model's weights. */
export function taped(xs: Tensor[], vars: ModelVariables): boolean {
  if (!recording()) return false;
  return xs.some(watched) || vars.sync().some(watched);
}

/**
 * The model's outputs for the whole batch xs (one tensor per input, each of the model's input shape), recorded on
 * the open tapes as one op: tfjs's model.apply(x, { training }) inside tf.grad or optimizer.minimize. The head a
 * compiled loss applies (softmax, sigmoid) is applied after it as its own recorded op, as predict does.
 */
export function applyModel(model: Network, xs: Tensor[], training: boolean, vars: ModelVariables): Tensor[] {
  const variables = vars.sync();
  const device = model.device;
  const handles = xs.map((x, i) => handleOf(x, `inputs[${i}]`));
  const copies: NativeTensor[] = [];
  const Xs = handles.map(h => {
    if (h.dtype !== 'float32')
      throw new ValidationError(`${model.name}.apply: expected float32 inputs but received ${h.dtype} [${h.shape}]`, 'ERR_KERNELNET_SHAPE');
    if (h.device === device) return h;
    const c = new native.Tensor(h.shape, h.dtype, h.read(), device);
    copies.push(c);
    return c;
  });
  let call: ReturnType<Network['tapeCall']>;
  try {
    call = model.tapeCall(
      Xs,
      training,
      Xs.map(() => true),
    );
  } catch (err) {
    for (const c of copies) c.dispose();
    throw err;
  }
  const raw = call.outputs.map(o => {
    const t = new Tensor(new native.Tensor(o.shape, 'float32', undefined, device));
    if (o.size) native.copyRegion(o.reshape([o.size]), [0], handleKey(t).reshape([o.size]), [0], [o.size]);
    return t;
  });
  let open = 0;
  const close = () => {
    if (--open > 0) return;
    call.dispose();
    for (const c of copies) c.dispose();
  };
  const params = model.layers.flatMap(l => l.params);
  open = record(
    'model',
    [xs, variables],
    raw,
    (dys, args, _outs, needs) => {
      const g = call.backward(dys.map(dy => handleOf(dy, 'dy')));
      const dxs = g.dxs.map((h, i) =>
        needs[0] && h ? new Tensor(h.device === handles[i].device ? h : moved(h, handles[i].device)) : (h?.dispose(), null),
      );
      const dws = params.map(p => {
        const h = g.params.get(p);
        if (!h) return null;
        if (!needs[1]) {
          h.dispose();
          return null;
        }
        return new Tensor(h);
      });
      for (const [p, h] of g.params) if (!params.includes(p)) h.dispose();
      // Inside a gradient that a tape outside records (tf.grad of tf.grad), these gradients depend on what it
      // watches, but the native backward pass has no gradient of its own: recorded as an op whose gradient is
      // refused, so only a second-order gradient that reaches them fails, and a first-order use of them (an
      // adversarial step, a gradient penalty's value) works.
      const made = [...dxs, ...dws].filter((t): t is Tensor => t !== null);
      record('modelGradient', [dys, ...(args as Tensor[][])], made, (outer, outerArgs) => {
        // zeros reach it where the result passed through sign() or round() (an adversarial step): nothing flows
        if (outer.every(t => t.size === 0 || d.all(d.equal(t, 0)).dataSync()[0] === 1)) return outerArgs.map(() => null);
        throw new ValidationError(
          `${model.name}: a gradient of a gradient through a model is not supported (its backward pass is native)`,
          'ERR_KERNELNET_UNSUPPORTED',
        );
      });
      return [dxs, dws];
    },
    undefined,
    () => close(),
  );
  if (open === 0) {
    open = 1;
    close();
  }
  return raw.map((t, o) => {
    const head = model.headOf(o);
    if (!head) return t;
    const y = head === 'softmax' ? d.softmax(t) : d.sigmoid(t);
    t.dispose(); // a tape that recorded the head holds it
    return y;
  });
}

/** h on another device (h freed). */
function moved(h: NativeTensor, device: string): NativeTensor {
  const c = new native.Tensor(h.shape, h.dtype, h.read(), device as NativeTensor['device']);
  h.dispose();
  return c;
}
