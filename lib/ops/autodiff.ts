// tfjs's gradient API on kernelnet's tape (lib/ops/tape.ts, lib/ops/gradients.ts): tf.variable and its registry,
// tf.grad, tf.grads, tf.valueAndGrad, tf.valueAndGrads, tf.variableGrads and tf.customGrad, with tfjs-core's
// checks and messages (src/gradients.ts, src/engine.ts): f runs inside a tidy, its value is kept only where the
// call returns it, a missing gradient is an error naming f, variableGrads takes every registered trainable
// variable when no list is given and returns its gradients by variable name.
import { StateError, ValidationError } from '../core/errors.js';
import { native, type DType, type NativeTensor } from '../core/native.js';
import { Tensor, handleKey, handleOf, isHeld, tidy, untrack } from '../core/tensor.js';
import { describe } from '../core/validate.js';
import * as d from './differentiable.js';
import { backward } from './gradients.js';
import { closeTape, openTape, record, stopTape, unrecorded } from './tape.js';

const assert = (ok: boolean, message: () => string): void => {
  if (!ok) throw new ValidationError(message(), 'ERR_KERNELNET_ARG');
};

// --- variables --------------------------------------------------------------------------------------------------

/**
 * Every live variable by name (tfjs's engine.registeredVariables): tf.variable()s held strongly, as tfjs holds them
 * until disposed; a model's weights weakly, so that a model dropped without dispose() is still collected.
 */
const registry = new Map<string, { strong: Variable } | { weak: WeakRef<Variable> }>();
const entryOf = (name: string): Variable | undefined => {
  const e = registry.get(name);
  const v = e && ('strong' in e ? e.strong : e.weak.deref());
  if (e && (!v || v.isDisposed)) registry.delete(name);
  return v && !v.isDisposed ? v : undefined;
};
let nextId = 0;
/** Sources of variables made on demand (the models of kernelnet/tfjs: their weights), asked before the registry is read. */
const sources = new Set<WeakRef<{ sync(): unknown }>>();

/**
 * A mutable tensor that training updates in place (tfjs's tf.Variable): made by tf.variable(), named (unique among
 * live variables), trainable unless said otherwise, kept by tidy() (dispose() frees it). A model's weights are
 * variables too (model.trainableWeights[i].read()), over the model's own memory.
 */
export class Variable extends Tensor {
  /** The variable's name: given to tf.variable(), else a number (as tfjs names them), or a model weight's `layer/weight`. */
  readonly name: string;
  /** Whether variableGrads() and optimizer.minimize() without a list train it. */
  trainable: boolean;
  /** @internal Set for a model's weight: freed with the model, not by dispose(). */
  readonly owner: string | null;

  /** @internal Use tf.variable(). `weak`: registered weakly (a model's weight). */
  constructor(handle: NativeTensor, trainable: boolean, name: string, owner: string | null = null, weak = false) {
    super(handle);
    untrack(this);
    this.trainable = trainable;
    this.name = name;
    this.owner = owner;
    registry.set(name, weak ? { weak: new WeakRef(this) } : { strong: this });
  }

  /**
   * Writes newValue's values into the variable (same shape and dtype), in place: tfjs's assign. Refused while a
   * gradient being computed reads the variable (inside the function given to tf.grad, variableGrads, minimize):
   * the gradient would see the new values.
   */
  assign(newValue: Tensor): void {
    const h = handleOf(this, `variable '${this.name}'`),
      v = handleOf(newValue, 'newValue');
    if (v.dtype !== h.dtype)
      throw new ValidationError(`dtype of the new value (${v.dtype}) and previous value (${h.dtype}) must match`, 'ERR_KERNELNET_SHAPE');
    if (v.shape.join() !== h.shape.join())
      throw new ValidationError(`shape of the new value ([${v.shape}]) and previous value ([${h.shape}]) must match`, 'ERR_KERNELNET_SHAPE');
    if (isHeld(this))
      throw new StateError(
        `variable '${this.name}' is read by a gradient being computed; assign it after tf.grad, variableGrads or minimize returns`,
        'ERR_KERNELNET_STATE',
      );
    if (!h.size || v === h) return;
    const src = v.device === h.device ? v : new native.Tensor(v.shape, v.dtype, v.read(), h.device);
    native.copyRegion(src.reshape([src.size]), [0], h.reshape([h.size]), [0], [h.size]);
    if (src !== v) src.dispose();
  }

  /** Frees the variable and takes it out of the registry; a model's weight is freed by model.dispose() instead. */
  override dispose(): void {
    if (this.owner !== null)
      throw new StateError(`variable '${this.name}' is a weight of model '${this.owner}': model.dispose() frees it`, 'ERR_KERNELNET_STATE');
    unregister(this);
    super.dispose();
  }
}

/** @internal Takes a variable out of the registry. */
export function unregister(v: Variable): void {
  const e = registry.get(v.name);
  if (e && ('strong' in e ? e.strong : e.weak.deref()) === v) registry.delete(v.name);
}

/** @internal A name not yet taken: `base`, else base_1, base_2, ... */
export function freeName(base: string): string {
  if (!entryOf(base)) return base;
  for (let i = 1; ; ++i) if (!entryOf(`${base}_${i}`)) return `${base}_${i}`;
}

/** @internal Adds a source of variables made on demand (a kernelnet/tfjs model's weights), held weakly; returns its removal. */
export function addVariableSource(source: { sync(): unknown }): () => void {
  const ref = new WeakRef(source);
  sources.add(ref);
  return () => sources.delete(ref);
}

function syncSources(): void {
  for (const ref of sources) {
    const source = ref.deref();
    if (source) source.sync();
    else sources.delete(ref);
  }
}

/** The live variables, in the order they were made (tfjs's engine.registeredVariables, as an array). */
export function registeredVariables(): Variable[] {
  syncSources();
  return [...registry.keys()].map(entryOf).filter((v): v is Variable => v !== undefined);
}

/** @internal The live variable of this name (models' weights made first if it is not there yet), or undefined. */
export function variableNamed(name: string): Variable | undefined {
  const v = entryOf(name);
  if (v) return v;
  syncSources();
  return entryOf(name);
}

/**
 * tf.variable(initialValue, trainable = true, name?, dtype?): a Variable holding a copy of initialValue. A name
 * already taken by a live variable is refused, as tfjs.
 */
export function variable(initialValue: Tensor, trainable = true, name?: string, dtype?: DType): Variable {
  const h = handleOf(initialValue, 'initialValue');
  if (name !== undefined && name !== null && typeof name !== 'string')
    throw new ValidationError(`Expected a string for name but received ${describe(name)}`);
  const n = name ?? String(nextId++);
  if (entryOf(n)) throw new ValidationError(`Variable with name ${n} was already registered`, 'ERR_KERNELNET_ARG');
  // not recorded: a variable is a new leaf, not a function of initialValue (as tfjs)
  const value = unrecorded(() => (dtype && dtype !== h.dtype ? d.cast(initialValue, dtype) : d.clone(initialValue)));
  untrack(value); // its memory is the variable's now: no tidy frees it
  return new Variable(handleKey(value), trainable !== false, n);
}

/** tf.disposeVariables(): disposes every variable made by tf.variable() (a model's weights stay with the model). */
export function disposeVariables(): void {
  for (const v of registeredVariables()) if (v.owner === null) v.dispose();
}

// --- gradients --------------------------------------------------------------------------------------------------

/** Runs f on a tape watching `watched`; returns its value and the gradients of each of `of`, or null where none. */
function gradients(f: () => Tensor, watched: Tensor[], dy: Tensor | null | undefined): { value: Tensor; grads: (Tensor | null)[] } {
  const tape = openTape(watched);
  try {
    return tidy(() => {
      const value = tidy('forward', f);
      if (!(value instanceof Tensor)) throw new ValidationError('The result y returned by f() must be a tensor.', 'ERR_KERNELNET_ARG');
      stopTape(tape); // backward's ops are recorded on the tapes outside only (a gradient of a gradient)
      if (dy !== undefined && dy !== null) {
        if (!(dy instanceof Tensor)) throw new ValidationError(`Expected a Tensor for dy but received ${describe(dy)}`, 'ERR_KERNELNET_ARG');
        if (dy.dtype !== 'float32') throw new ValidationError('dy must have a float32 dtype', 'ERR_KERNELNET_SHAPE');
        if (dy.shape.join() !== value.shape.join())
          throw new ValidationError(
            `The shape of dy passed in grad(f)(x, dy) must match the shape returned by f(x) ([${dy.shape}] vs [${value.shape}])`,
            'ERR_KERNELNET_SHAPE',
          );
      }
      const all = backward(tape, [value], [dy ?? null]);
      const given = new Set<Tensor>(dy ? [dy, value, ...watched] : [value, ...watched]);
      const used = new Set<Tensor>();
      const grads = watched.map(x => {
        const g = all.get(handleKey(x)) ?? null;
        if (!g) return null;
        // a gradient that is the seed, y, an input or another x's gradient is returned as a copy of its own
        const own = given.has(g) || used.has(g) ? d.clone(g) : g;
        used.add(own);
        return own;
      });
      return { value, grads };
    });
  } finally {
    closeTape(tape);
  }
}

function checkGrads(grads: (Tensor | null)[]): asserts grads is Tensor[] {
  if (grads.some(g => g === null))
    throw new ValidationError(
      'Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all operations that lead from x to y.',
      'ERR_KERNELNET_ARG',
    );
}

const isFunction = (f: unknown): f is (...a: never[]) => unknown => typeof f === 'function';

/** tf.grad(f): a function (x, dy?) => the gradient of f(x) with respect to x (dy: the gradient of y, ones by default). */
export function grad(f: (x: Tensor) => Tensor): (x: Tensor, dy?: Tensor) => Tensor {
  assert(isFunction(f), () => 'The f passed in grad(f) must be a function');
  return (x, dy) => {
    assert(x instanceof Tensor, () => 'The x passed in grad(f)(x) must be a tensor');
    assert(dy === undefined || dy === null || dy instanceof Tensor, () => 'The dy passed in grad(f)(x, dy) must be a tensor');
    // the tidy frees f's value, and on an error every tensor made (not f's own result when f returned a tensor it did not make)
    return tidy(() => {
      const { grads } = gradients(() => f(x), [x], dy);
      checkGrads(grads);
      return grads[0];
    });
  };
}

/** tf.grads(f): a function (args, dy?) => the gradients of f(...args) with respect to each of args. */
export function grads(f: (...args: Tensor[]) => Tensor): (args: Tensor[], dy?: Tensor) => Tensor[] {
  assert(isFunction(f), () => 'The f passed in grads(f) must be a function');
  return (args, dy) => {
    assert(
      Array.isArray(args) && args.every(a => a instanceof Tensor),
      () => 'The args passed in grads(f)(args) must be an array of `Tensor`s or `TensorLike`s',
    );
    assert(dy === undefined || dy === null || dy instanceof Tensor, () => 'The dy passed in grads(f)(args, dy) must be a tensor');
    return tidy(() => {
      const { grads } = gradients(() => f(...args), args, dy);
      checkGrads(grads);
      return grads;
    });
  };
}

/** tf.valueAndGrad(f): like grad, returning { value: f(x), grad }. */
export function valueAndGrad(f: (x: Tensor) => Tensor): (x: Tensor, dy?: Tensor) => ValueAndGrad {
  assert(isFunction(f), () => 'The f passed in valueAndGrad(f) must be a function');
  return (x, dy) => {
    assert(x instanceof Tensor, () => 'The x passed in valueAndGrad(f)(x) must be a tensor');
    assert(dy === undefined || dy === null || dy instanceof Tensor, () => 'The dy passed in valueAndGrad(f)(x, dy) must be a tensor');
    return tidy(() => {
      const { value, grads } = gradients(() => f(x), [x], dy);
      checkGrads(grads);
      return { value, grad: grads[0] };
    });
  };
}

/** tf.valueAndGrads(f): like grads, returning { value: f(...args), grads }. */
export function valueAndGrads(f: (...args: Tensor[]) => Tensor): (args: Tensor[], dy?: Tensor) => ValueAndGrads {
  assert(isFunction(f), () => 'The f passed in valueAndGrads(f) must be a function');
  return (args, dy) => {
    assert(Array.isArray(args) && args.every(a => a instanceof Tensor), () => 'The args passed in valueAndGrads(f)(args) must be array of tensors');
    assert(dy === undefined || dy === null || dy instanceof Tensor, () => 'The dy passed in valueAndGrads(f)(args, dy) must be a tensor');
    return tidy(() => {
      const { value, grads } = gradients(() => f(...args), args, dy);
      checkGrads(grads);
      return { value, grads };
    });
  };
}

/** A map from variable names to their gradients (tfjs's NamedTensorMap). */
export type NamedTensorMap = Record<string, Tensor>;

/** What tf.variableGrads and optimizer.computeGradients return. */
export interface VariableGradients {
  /** f's value, a scalar. */
  value: Tensor;
  /** Each trainable variable's gradient by name (a variable f does not use is left out; one named but not trainable is null). */
  grads: Record<string, Tensor | null>;
}

/** What tf.valueAndGrad's function returns. */
export interface ValueAndGrad {
  /** f(x). */
  value: Tensor;
  /** The gradient of f(x) with respect to x. */
  grad: Tensor;
}

/** What tf.valueAndGrads's function returns. */
export interface ValueAndGrads {
  /** f(...args). */
  value: Tensor;
  /** The gradient of f(...args) with respect to each of args. */
  grads: Tensor[];
}

/**
 * tf.variableGrads(f, varList?): the value of f() (a scalar) and its gradient with respect to each trainable
 * variable of varList (by default every registered trainable variable, a model's weights included), by name;
 * a non-trainable variable named in varList maps to null, as tfjs.
 */
export function variableGrads(f: () => Tensor, varList?: Variable[]): VariableGradients {
  assert(isFunction(f), () => 'The f passed in variableGrads(f) must be a function');
  assert(
    varList === undefined || varList === null || (Array.isArray(varList) && varList.every(v => v instanceof Variable)),
    () => 'The varList passed in variableGrads(f, varList) must be an array of variables',
  );
  const specified = varList !== undefined && varList !== null;
  let list = [...new Set(specified ? varList : registeredVariables())];
  const nonTrainable = specified ? list.filter(v => !v.trainable) : [];
  const count = list.length;
  list = list.filter(v => v.trainable);
  assert(
    list.length > 0,
    () => `variableGrads() expects at least one of the input variables to be trainable, but none of the ${count} variables is trainable.`,
  );
  // in a tidy: a refusal below frees what was made (never a tensor f returned that it did not make)
  return tidy(() => {
    const { value, grads } = gradients(f, list, null);
    if (!grads.some(g => g !== null))
      throw new ValidationError(
        'Cannot find a connection between any variable and the result of the loss function y=f(x). Please make sure the operations that use variables are inside the function f passed to minimize().',
        'ERR_KERNELNET_ARG',
      );
    if (value.shape.length !== 0)
      throw new ValidationError(
        `The f passed in variableGrads(f) must return a scalar, but it returned a rank-${value.shape.length} tensor`,
        'ERR_KERNELNET_SHAPE',
      );
    const named: Record<string, Tensor | null> = {};
    list.forEach((v, i) => {
      if (grads[i]) named[v.name] = grads[i];
    });
    for (const v of nonTrainable) named[v.name] = null;
    return { value, grads: named };
  });
}

/** What the function given to tf.customGrad returns: its value, and the gradient of each input from dy. */
export interface CustomGradientResult {
  /** f's value. */
  value: Tensor;
  /** The gradient of each of f's inputs (one Tensor for one input), from dy and the tensors f saved. */
  gradFunc: (dy: Tensor, saved: Tensor[]) => Tensor | Tensor[];
}

/**
 * tf.customGrad(f): f(...inputs, save) computes a value and says how to take its gradient; the function returned
 * runs f and, under a gradient, uses gradFunc instead of differentiating f's own ops. `save(tensors)` keeps
 * tensors for gradFunc.
 */
export function customGrad(f: (...args: never[]) => CustomGradientResult): (...inputs: Tensor[]) => Tensor {
  assert(isFunction(f), () => 'The f passed in customGrad(f) must be a function.');
  return (...inputs: Tensor[]): Tensor => {
    assert(
      inputs.every(t => t instanceof Tensor),
      () => 'The args passed in customGrad(f)(x1, x2,...) must all be tensors',
    );
    let saved: Tensor[] = [];
    const save = (ts: Tensor[]) => {
      assert(Array.isArray(ts) && ts.every(t => t instanceof Tensor), () => 'The save function in customGrad must take an array of tensors');
      saved = ts;
    };
    const res = unrecorded(() => (f as (...a: unknown[]) => CustomGradientResult)(...inputs, save));
    assert(
      res !== null && typeof res === 'object' && res.value instanceof Tensor,
      () => 'The function f passed in customGrad(f) must return an object where `obj.value` is a tensor',
    );
    assert(isFunction(res.gradFunc), () => 'The function f passed in customGrad(f) must return an object where `obj.gradFunc` is a function.');
    const n = inputs.length;
    record(
      'customGrad',
      inputs,
      res.value,
      ([dy], _args, _outs, _needs, kept = []) => {
        const g = res.gradFunc(dy, kept); // the held copies of what f saved, whatever was disposed meanwhile
        const list = Array.isArray(g) ? g : [g];
        if (list.length !== n || !list.every(t => t instanceof Tensor))
          throw new ValidationError(
            `The function f passed in customGrad(f) must return an object where \`obj.gradFunc\` is a function that returns the same number of tensors as inputs passed to f(...) (${n}).`,
            'ERR_KERNELNET_ARG',
          );
        return list;
      },
      saved,
    );
    return res.value;
  };
}
