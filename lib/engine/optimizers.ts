// Optimizers, with Keras 3's semantics and defaults (keras/src/optimizers/*.py) and tfjs's argument spellings:
// SGD (momentum, nesterov), Adam (amsgrad), AdamW (decoupled weight decay), RMSprop (momentum, centered),
// Adagrad, and Adadelta, which keeps the seed model's learning rate 1.0 (Keras 3's default is 0.001). Each
// update of every parameter is one native call (one launch on a GPU): cpp/optim.h and Adadelta's own op.
//
// The learning rate lives in device memory beside the parameters (one float the update reads when it runs),
// with the iteration count (Keras's optimizer.iterations, an int32 there too): setting a number writes it
// there, and a schedule (lib/engine/schedules.ts) is evaluated there before each update. So a rate changed by a
// callback, or moved by a schedule at every iteration, needs no new recording of the training step and no
// host round trip per step.
import { native, type Device, type NativeTensor } from '../core/native.js';
import type { Param } from '../layers/layers.js';
import { empty, handleOf, type Tensor } from '../core/tensor.js';
import { DeviceError, ValidationError, stateError } from '../core/errors.js';
import { variableGrads, variableNamed, type Variable, type VariableGradients } from '../ops/autodiff.js';
import { NOT_USED, checkOptions, fail, nonNegativeInt, numberIn, type NotYet } from '../core/validate.js';
import { LearningRateSchedule } from './schedules.js';

/** Every optimizer's arguments. */
export interface OptimizerArgs {
  /** A number, or a schedule (ExponentialDecay, PiecewiseConstantDecay, CosineDecay) of the iteration count. */
  learningRate?: number | LearningRateSchedule;
  /**
   * Decoupled weight decay (Keras 3's weight_decay, as AdamW's): before each update every trained parameter
   * loses weightDecay * learningRate of itself.
   */
  weightDecay?: number | null;
  /** The optimizer's name, kept in its config (default its Keras name: 'SGD', 'adam', 'adamw', 'rmsprop', ...). */
  name?: string;
}

// Keras 3's optimizer options kernelnet does not support yet: refused unless they ask for nothing.
const BASE_NOT_YET: Record<string, NotYet> = {
  clipnorm: {},
  clipvalue: {},
  globalClipnorm: {},
  useEma: { ok: NOT_USED.false },
  emaMomentum: {},
  emaOverwriteFrequency: {},
  lossScaleFactor: {},
  gradientAccumulationSteps: {},
  decay: { ok: NOT_USED.zero },
  excludeFromWeightDecay: {},
};

function schema(className: string, own: string[], weightDecay = true) {
  return {
    what: `${className} args`,
    supported: ['learningRate', 'name', ...(weightDecay ? ['weightDecay'] : []), ...own],
    notYet: { ...BASE_NOT_YET, ...(weightDecay ? {} : { weightDecay: { ok: NOT_USED.zero } }) },
  };
}

function bool(value: unknown, name: string, fallback: boolean): boolean {
  const v = value ?? fallback;
  if (typeof v !== 'boolean') fail('a boolean', name, v);
  return v;
}

/** The base of every optimizer: the rate and its schedule, the iteration count, the slots, the update. */
export abstract class Optimizer {
  /** The class's name (Keras's class_name), as checkpoints record it: 'SGD', 'Adam', 'AdamW', .... */
  abstract readonly className: string;
  /** The optimizer's name (args.name, or the Keras default such as 'adam'). */
  readonly name: string;
  /** The schedule the rate follows, when it was given one (then the rate is not settable, as in Keras). */
  readonly schedule: LearningRateSchedule | null;
  /** The decoupled weight decay per update, or null when there is none (AdamW's default is 0.004). */
  readonly weightDecay: number | null;
  private lr: number;
  private iters = 0;
  /** The rate and the iteration count on the device, once attached: float32 [1] and int32 [1]. */
  private hyper: { lr: NativeTensor; iterations: NativeTensor } | null = null;
  /** The model whose variables this optimizer updates (one, as in Keras), once compiled. */
  private owner: object | null = null;
  private state: { params: NativeTensor[]; grads: NativeTensor[]; slots: NativeTensor[][] } | null = null;
  /** Which parameters step() updates (all unless frozen layers say otherwise); see train(). */
  private active: boolean[] | null = null;

  protected constructor(args: OptimizerArgs | undefined, defaults: { learningRate: number; name: string; weightDecay?: number }) {
    args ??= {};
    if (args.name !== undefined && typeof args.name !== 'string') fail('a string', 'name', args.name);
    this.name = args.name ?? defaults.name;
    this.schedule = args.learningRate instanceof LearningRateSchedule ? args.learningRate : null;
    this.lr = this.schedule ? NaN : numberIn(args.learningRate ?? defaults.learningRate, 'learningRate', 0, Number.MAX_VALUE);
    const wd = args.weightDecay === undefined ? (defaults.weightDecay ?? null) : args.weightDecay;
    this.weightDecay = wd === null || wd === 0 ? null : numberIn(wd, 'weightDecay', 0, Number.MAX_VALUE);
  }

  /** @internal The slots of each parameter, by Keras's names, in the native update's order. */
  abstract slotNames(): string[];
  /** @internal A slot's starting value (0 but Adagrad's accumulator). */
  protected slotStart(_slot: string): number {
    return 0;
  }
  /** @internal One update of these parameters (already filtered to the trained ones). */
  protected abstract update(params: NativeTensor[], grads: NativeTensor[], slots: NativeTensor[][], lr: NativeTensor, iterations: NativeTensor): void;
  /** @internal The subclass's own hyperparameters, for getConfig(). */
  protected abstract ownConfig(): Record<string, unknown>;

  /**
   * The learning rate the next update uses: with a schedule, its value at the current iteration count (as Keras's
   * optimizer.learning_rate). Callbacks (LearningRateScheduler, ReduceLROnPlateau) set it; a change takes effect
   * from the next step, inside an epoch too. A rate that follows a schedule is not settable (as in Keras).
   */
  get learningRate(): number {
    return this.schedule ? this.schedule.call(this.iters) : this.lr;
  }

  /** Sets the learning rate (a non-negative number) from the next update on; refused when it follows a schedule. */
  set learningRate(value: number) {
    if (this.schedule)
      throw new ValidationError(
        `${this.className}: the learning rate follows a ${this.schedule.className} schedule, so it is not settable ` +
          '(as in Keras); give the optimizer a number to change it from callbacks',
      );
    this.lr = numberIn(value, 'learningRate', 0, Number.MAX_VALUE);
    this.hyper?.lr.fill(this.lr);
  }

  /** How many updates this optimizer has made (Keras's optimizer.iterations); schedules are functions of it. */
  get iterations(): number {
    return this.iters;
  }

  /** @internal Sets the iteration count (restoring a checkpoint). */
  setIterations(n: number): void {
    this.iters = nonNegativeInt(n, 'iterations');
    this.hyper?.iterations.write(Int32Array.of(Math.min(n, 2 ** 31 - 1)));
  }

  /** @internal An update was made (counted on the host too, so reading the rate never waits for the device). */
  counted(): void {
    this.iters++;
  }

  /** @internal Binds the optimizer to a model: a second model is refused, as Keras binds it to one set of variables. */
  claim(model: object, modelName: string): void {
    if (this.owner && this.owner !== model)
      throw new ValidationError(
        `compile: this ${this.className} optimizer already updates another model's weights; an optimizer ` +
          `belongs to one model (as in Keras): give ${modelName} an optimizer of its own`,
      );
    this.owner = model;
  }

  /** @internal Allocates the slots for these parameters, beside each of them, and the rate and count on `device` (the model's). */
  attach(params: Param[], device: Device): void {
    this.freeState();
    this.hyper = { lr: empty([1], 'float32', device), iterations: empty([1], 'int32', device) };
    this.hyper.lr.fill(this.schedule ? 0 : this.lr);
    this.hyper.iterations.write(Int32Array.of(Math.min(this.iters, 2 ** 31 - 1)));
    this.state = {
      params: params.map(p => p.value),
      grads: params.map(p => p.grad),
      slots: this.slotNames().map(slot =>
        params.map(p => {
          const t = empty(p.shape, 'float32', p.value.device);
          t.fill(this.slotStart(slot));
          return t;
        }),
      ),
    };
  }

  /** @internal The gradients step() reads (the trained parameters'): data-parallel training averages them before it. */
  trainedGrads(): NativeTensor[] {
    const s = this.state;
    if (!s) throw stateError(`${this.className}: trainedGrads() before attach(); compile the model first`);
    return this.active ? s.grads.filter((_, i) => this.active![i]) : s.grads;
  }

  /** @internal What a data-parallel replica takes from rank 0 before training: every slot, the rate and the iteration count on the device. */
  replicaState(): NativeTensor[] {
    const s = this.state;
    if (!s || !this.hyper) throw stateError(`${this.className}: replicaState() before attach(); compile the model first`);
    return [...s.slots.flat(), this.hyper.lr, this.hyper.iterations];
  }

  /** @internal The parameters step() updates from now on, by index (frozen layers' are left out). */
  train(active: boolean[]): void {
    this.active = active.every(a => a) ? null : active;
  }

  /**
   * @internal One update of every trained parameter from its gradient, then the iteration count's advance, and
   * `alsoAdvance`'s (a training step's counter) in the same call.
   */
  step(alsoAdvance: NativeTensor | null = null): void {
    const s = this.state;
    if (!s) throw stateError(`${this.className}: step() before attach(); compile the model first`);
    const on = this.active,
      pick = <T>(xs: T[]) => (on ? xs.filter((_, i) => on[i]) : xs);
    const { lr, iterations } = this.hyper!;
    if (!on || on.some(a => a)) {
      // unless every layer is frozen
      if (this.schedule) {
        const { kind, params } = this.schedule.native();
        native.learningRate(kind, params, iterations, lr);
      }
      this.update(pick(s.params), pick(s.grads), s.slots.map(pick), lr, iterations);
    }
    native.advance(iterations, alsoAdvance);
  }

  /** Slots of the variables updated through applyGradients (tfjs's custom loops), by their memory. */
  private loose = new Map<NativeTensor, NativeTensor[]>();

  /**
   * tfjs's optimizer.minimize(f, returnCost = false, varList?): f's value (a scalar loss) differentiated with
   * respect to varList (by default every registered trainable variable: tf.variable()s and models' weights) and
   * one update of each from its gradient. Returns the loss when returnCost, else null (the loss is disposed).
   */
  minimize(f: () => Tensor, returnCost = false, varList?: Variable[]): Tensor | null {
    const { value, grads } = this.computeGradients(f, varList);
    let ok = false;
    try {
      this.applyGradients(varList ? varList.map(v => ({ name: v.name, tensor: grads[v.name] })) : grads);
      ok = true;
    } finally {
      for (const g of Object.values(grads)) g?.dispose();
      if (!ok || !returnCost) value.dispose();
    }
    return returnCost ? value : null;
  }

  /** tfjs's optimizer.computeGradients(f, varList?): tf.variableGrads(f, varList), { value, grads } by variable name. */
  computeGradients(f: () => Tensor, varList?: Variable[]): VariableGradients {
    return variableGrads(f, varList);
  }

  /**
   * tfjs's optimizer.applyGradients(gradients): one update of each named variable (a registered one: tf.variable()s
   * and models' weights) from its gradient, given as { name: gradient } or [{ name, tensor }]; null gradients are
   * skipped. The optimizer keeps its slots (Adam's moments, ...) per variable, and counts one iteration.
   */
  applyGradients(gradients: Record<string, Tensor | null | undefined> | { name: string; tensor: Tensor | null | undefined }[]): void {
    const entries: [string, Tensor | null | undefined][] = Array.isArray(gradients)
      ? gradients.map(g => {
          if (g === null || typeof g !== 'object' || typeof g.name !== 'string') fail('{ name, tensor } entries', 'gradients', g);
          return [g.name, g.tensor];
        })
      : gradients !== null && typeof gradients === 'object'
        ? Object.entries(gradients)
        : fail('an object of gradients by variable name, or an array of { name, tensor }', 'gradients', gradients);
    // the slots of variables disposed since (their memory freed) go
    for (const [h, own] of this.loose)
      if (h.disposed) {
        for (const t of own) t.dispose();
        this.loose.delete(h);
      }
    const params: NativeTensor[] = [],
      grads: NativeTensor[] = [];
    for (const [name, g] of entries) {
      if (g === null || g === undefined) continue;
      const v = variableNamed(name);
      if (!v) throw new ValidationError(`${this.className}.applyGradients: no variable named '${name}' is registered`, 'ERR_KERNELNET_ARG');
      const p = handleOf(v, `variable '${name}'`),
        gh = handleOf(g, `the gradient of '${name}'`);
      if (p.dtype !== 'float32')
        throw new ValidationError(
          `${this.className}.applyGradients: variable '${name}' is ${p.dtype}; only float32 variables train`,
          'ERR_KERNELNET_SHAPE',
        );
      if (gh.shape.join() !== p.shape.join() || gh.dtype !== 'float32')
        throw new ValidationError(
          `${this.className}.applyGradients: the gradient of '${name}' is ${gh.dtype} [${gh.shape}] where the variable is float32 [${p.shape}]`,
          'ERR_KERNELNET_SHAPE',
        );
      if (gh.device !== p.device)
        throw new DeviceError(
          `${this.className}.applyGradients: the gradient of '${name}' is on ${gh.device}, the variable on ${p.device}`,
          'ERR_KERNELNET_DEVICE',
        );
      params.push(p);
      grads.push(gh);
    }
    if (!params.length) return;
    const device = params[0].device;
    if (params.some(p => p.device !== device))
      throw new DeviceError(`${this.className}.applyGradients: the variables are on more than one device`, 'ERR_KERNELNET_DEVICE');
    if (!this.hyper || this.hyper.lr.device !== device) {
      if (this.state)
        throw new DeviceError(
          `${this.className}: it updates a model on ${this.hyper!.lr.device}; these variables are on ${device}`,
          'ERR_KERNELNET_DEVICE',
        );
      this.hyper?.lr.dispose();
      this.hyper?.iterations.dispose();
      this.hyper = { lr: empty([1], 'float32', device), iterations: empty([1], 'int32', device) };
      this.hyper.lr.fill(this.schedule ? 0 : this.lr);
      this.hyper.iterations.write(Int32Array.of(Math.min(this.iters, 2 ** 31 - 1)));
    }
    const names = this.slotNames();
    const slots = names.map(() => [] as NativeTensor[]);
    for (const p of params) {
      let own = this.loose.get(p);
      if (!own) {
        own = names.map(slot => {
          const t = empty(p.shape, 'float32', p.device);
          t.fill(this.slotStart(slot));
          return t;
        });
        this.loose.set(p, own);
      }
      own.forEach((t, i) => slots[i].push(t));
    }
    const { lr, iterations } = this.hyper;
    if (this.schedule) {
      const { kind, params: sp } = this.schedule.native();
      native.learningRate(kind, sp, iterations, lr);
    }
    this.update(params, grads, slots, lr, iterations);
    native.advance(iterations);
    this.counted();
  }

  /** @internal The slots by name, each in parameter order (for checkpoints and tests). */
  slots(): Record<string, NativeTensor[]> {
    if (!this.state) throw stateError(`${this.className}: no state; compile the model first`);
    return Object.fromEntries(this.slotNames().map((n, i) => [n, this.state!.slots[i]]));
  }

  /** Frees the slots and unbinds the optimizer from its model. */
  dispose(): void {
    this.owner = null;
    this.freeState();
  }

  private freeState(): void {
    for (const own of this.loose.values()) for (const t of own) t.dispose();
    this.loose.clear();
    if (this.hyper) for (const t of [this.hyper.lr, this.hyper.iterations]) t.dispose();
    this.hyper = null;
    if (!this.state) return;
    for (const t of this.state.slots.flat()) t.dispose();
    this.state = null;
  }

  /**
   * The optimizer's configuration, as Keras's get_config: name, learningRate (a number, or the schedule's
   * { className, config }), weightDecay when set, and the class's own hyperparameters.
   */
  getConfig(): Record<string, unknown> {
    const learningRate = this.schedule ? { className: this.schedule.className, config: this.schedule.getConfig() } : this.lr;
    return { name: this.name, learningRate, ...(this.weightDecay !== null ? { weightDecay: this.weightDecay } : {}), ...this.ownConfig() };
  }
}

/** The native optimizers of cpp/optim.h: hyper = [beta1 (rho), beta2, epsilon, momentum, nesterov, amsgrad, centered, weightDecay]. */
abstract class NativeOptimizer extends Optimizer {
  /** @internal The native update's kind. */
  protected abstract kind(): 'sgd' | 'adam' | 'rmsprop' | 'adagrad';
  /** @internal The hyperparameters the native update takes. */
  protected abstract hyperParams(): {
    beta1?: number;
    beta2?: number;
    epsilon?: number;
    momentum?: number;
    nesterov?: boolean;
    amsgrad?: boolean;
    centered?: boolean;
  };

  protected update(params: NativeTensor[], grads: NativeTensor[], slots: NativeTensor[][], lr: NativeTensor, iterations: NativeTensor): void {
    const h = this.hyperParams();
    native.optimizerStep(
      this.kind(),
      [h.beta1 ?? 0, h.beta2 ?? 0, h.epsilon ?? 0, h.momentum ?? 0, h.nesterov ? 1 : 0, h.amsgrad ? 1 : 0, h.centered ? 1 : 0, this.weightDecay ?? 0],
      params,
      grads,
      slots,
      lr,
      iterations,
    );
  }
}

/** SGD's arguments. */
export interface SGDArgs extends OptimizerArgs {
  /** Default 0 (plain SGD); in [0, 1]. */
  momentum?: number;
  /** Use Nesterov momentum (default false). */
  nesterov?: boolean;
}

/** Stochastic gradient descent, with momentum and Nesterov momentum (Keras 3's SGD: learning rate 0.01). */
export class SGD extends NativeOptimizer {
  readonly className = 'SGD';
  /** The momentum factor, in [0, 1] (0: plain SGD). */
  readonly momentum: number;
  /** Whether the momentum is Nesterov's. */
  readonly nesterov: boolean;

  constructor(args: SGDArgs = {}) {
    args = checkOptions(args, schema('SGD', ['momentum', 'nesterov']));
    super(args, { learningRate: 0.01, name: 'SGD' });
    this.momentum = numberIn(args?.momentum ?? 0, 'momentum', 0, 1);
    this.nesterov = bool(args?.nesterov, 'nesterov', false);
  }

  slotNames() {
    return this.momentum !== 0 ? ['momentum'] : [];
  }

  protected kind() {
    return 'sgd' as const;
  }

  protected hyperParams() {
    return { momentum: this.momentum, nesterov: this.nesterov };
  }

  protected ownConfig() {
    return { momentum: this.momentum, nesterov: this.nesterov };
  }
}

/** Adam's and AdamW's arguments. */
export interface AdamArgs extends OptimizerArgs {
  /** The decay rate of the first-moment estimates, in [0, 1) (default 0.9). */
  beta1?: number;
  /** The decay rate of the second-moment estimates, in [0, 1) (default 0.999). */
  beta2?: number;
  /** A small constant for numerical stability (default 1e-7, Keras's). */
  epsilon?: number;
  /** Use AMSGrad, the maximum of past second moments (default false). */
  amsgrad?: boolean;
}

/** Adam (Keras 3's: learning rate 0.001, beta1 0.9, beta2 0.999, epsilon 1e-7), with AMSGrad as an option. */
export class Adam extends NativeOptimizer {
  readonly className: string = 'Adam';
  /** The decay rate of the first-moment estimates. */
  readonly beta1: number;
  /** The decay rate of the second-moment estimates. */
  readonly beta2: number;
  /** The constant added to the denominator for numerical stability. */
  readonly epsilon: number;
  /** Whether the update uses AMSGrad. */
  readonly amsgrad: boolean;

  constructor(args: AdamArgs = {}, defaults = { learningRate: 0.001, name: 'adam' } as { learningRate: number; name: string; weightDecay?: number }) {
    args = checkOptions(args, schema(defaults.name === 'adamw' ? 'AdamW' : 'Adam', ['beta1', 'beta2', 'epsilon', 'amsgrad']));
    super(args, defaults);
    this.beta1 = numberIn(args?.beta1 ?? 0.9, 'beta1', 0, 1, true);
    this.beta2 = numberIn(args?.beta2 ?? 0.999, 'beta2', 0, 1, true);
    this.epsilon = numberIn(args?.epsilon ?? 1e-7, 'epsilon', 0, Number.MAX_VALUE);
    this.amsgrad = bool(args?.amsgrad, 'amsgrad', false);
  }

  slotNames() {
    return this.amsgrad ? ['momentum', 'velocity', 'velocity_hat'] : ['momentum', 'velocity'];
  }

  protected kind() {
    return 'adam' as const;
  }

  protected hyperParams() {
    return { beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, amsgrad: this.amsgrad };
  }

  protected ownConfig() {
    return { beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, amsgrad: this.amsgrad };
  }
}

/** Adam with decoupled weight decay (Keras 3's AdamW: weightDecay 0.004, applied before each update). */
export class AdamW extends Adam {
  override readonly className = 'AdamW';

  constructor(args: AdamArgs = {}) {
    super(args, { learningRate: 0.001, name: 'adamw', weightDecay: 0.004 });
  }
}

/** RMSprop's arguments. */
export interface RMSpropArgs extends OptimizerArgs {
  /** The moving average's discount (PyTorch's alpha), default 0.9. */
  rho?: number;
  /** The momentum factor, non-negative (default 0). */
  momentum?: number;
  /** A small constant for numerical stability (default 1e-7). */
  epsilon?: number;
  /** Normalise by the gradient's estimated variance instead of its second moment. */
  centered?: boolean;
}

/** RMSprop (Keras 3's: learning rate 0.001, rho 0.9, momentum 0, epsilon 1e-7, not centered). */
export class RMSprop extends NativeOptimizer {
  readonly className = 'RMSprop';
  /** The moving average's discount. */
  readonly rho: number;
  /** The momentum factor (0: none). */
  readonly momentum: number;
  /** The constant added to the denominator for numerical stability. */
  readonly epsilon: number;
  /** Whether the gradient is normalised by its estimated variance. */
  readonly centered: boolean;

  constructor(args: RMSpropArgs = {}) {
    args = checkOptions(args, schema('RMSprop', ['rho', 'momentum', 'epsilon', 'centered']));
    super(args, { learningRate: 0.001, name: 'rmsprop' });
    this.rho = numberIn(args?.rho ?? 0.9, 'rho', 0, 1);
    this.momentum = numberIn(args?.momentum ?? 0, 'momentum', 0, Number.MAX_VALUE);
    this.epsilon = numberIn(args?.epsilon ?? 1e-7, 'epsilon', 0, Number.MAX_VALUE);
    this.centered = bool(args?.centered, 'centered', false);
  }

  slotNames() {
    return ['velocity', ...(this.momentum > 0 ? ['momentum'] : []), ...(this.centered ? ['average_gradient'] : [])];
  }

  protected kind() {
    return 'rmsprop' as const;
  }

  protected hyperParams() {
    return { beta1: this.rho, epsilon: this.epsilon, momentum: this.momentum, centered: this.centered };
  }

  protected ownConfig() {
    return { rho: this.rho, momentum: this.momentum, epsilon: this.epsilon, centered: this.centered };
  }
}

/** Adagrad's arguments. */
export interface AdagradArgs extends OptimizerArgs {
  /** The accumulators' starting value, non-negative (default 0.1). */
  initialAccumulatorValue?: number;
  /** A small constant for numerical stability (default 1e-7). */
  epsilon?: number;
}

/** Adagrad (Keras 3's: learning rate 0.001, accumulators starting at 0.1, epsilon 1e-7). */
export class Adagrad extends NativeOptimizer {
  readonly className = 'Adagrad';
  /** The accumulators' starting value. */
  readonly initialAccumulatorValue: number;
  /** The constant added to the denominator for numerical stability. */
  readonly epsilon: number;

  constructor(args: AdagradArgs = {}) {
    args = checkOptions(args, schema('Adagrad', ['initialAccumulatorValue', 'epsilon']));
    super(args, { learningRate: 0.001, name: 'adagrad' });
    this.initialAccumulatorValue = numberIn(args?.initialAccumulatorValue ?? 0.1, 'initialAccumulatorValue', 0, Number.MAX_VALUE);
    this.epsilon = numberIn(args?.epsilon ?? 1e-7, 'epsilon', 0, Number.MAX_VALUE);
  }

  slotNames() {
    return ['accumulator'];
  }

  protected override slotStart() {
    return this.initialAccumulatorValue;
  }

  protected kind() {
    return 'adagrad' as const;
  }

  protected hyperParams() {
    return { epsilon: this.epsilon };
  }

  protected ownConfig() {
    return { initialAccumulatorValue: this.initialAccumulatorValue, epsilon: this.epsilon };
  }
}

/** Adadelta's arguments (no weightDecay). */
export interface AdadeltaArgs extends OptimizerArgs {
  /** The decay rate of the moving averages, in [0, 1] (default 0.95). */
  rho?: number;
  /** A small constant for numerical stability (default 1e-7). */
  epsilon?: number;
}

/**
 * Adadelta as Keras 2 and the mnist_cnn example (keras/optimizers.py): learning rate 1.0 (Keras 3's default is
 * 0.001, which trains the example far slower), rho 0.95, epsilon 1e-7, accumulators starting at zero.
 */
export class Adadelta extends Optimizer {
  readonly className = 'Adadelta';
  /** The decay rate of the moving averages. */
  readonly rho: number;
  /** The constant added to the denominator for numerical stability. */
  readonly epsilon: number;

  constructor(args: AdadeltaArgs = {}) {
    args = checkOptions(args, schema('Adadelta', ['rho', 'epsilon'], false));
    super(args, { learningRate: 1.0, name: 'adadelta' });
    this.rho = numberIn(args?.rho ?? 0.95, 'rho', 0, 1);
    this.epsilon = numberIn(args?.epsilon ?? 1e-7, 'epsilon', 0, Number.MAX_VALUE);
  }

  slotNames() {
    return ['accum', 'delta_accum'];
  }

  protected update(params: NativeTensor[], grads: NativeTensor[], slots: NativeTensor[][], lr: NativeTensor): void {
    native.adadelta(params, grads, slots[0], slots[1], lr, this.rho, this.epsilon);
  }

  protected ownConfig() {
    return { rho: this.rho, epsilon: this.epsilon };
  }
}

/** The optimizers by class name (checkpoints) and by Keras's string identifiers (compile). */
export const OPTIMIZERS: Record<string, (config: Record<string, unknown>) => Optimizer> = {
  SGD: c => new SGD(c),
  Adam: c => new Adam(c),
  AdamW: c => new AdamW(c),
  RMSprop: c => new RMSprop(c),
  Adagrad: c => new Adagrad(c),
  Adadelta: c => new Adadelta(c),
};
export const OPTIMIZER_NAMES = { sgd: 'SGD', adam: 'Adam', adamw: 'AdamW', rmsprop: 'RMSprop', adagrad: 'Adagrad', adadelta: 'Adadelta' } as const;
