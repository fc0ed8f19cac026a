// Optimizers. Adadelta follows Keras 2 (keras/optimizers.py): learning rate 1.0, rho 0.95, epsilon 1e-7,
// accumulators starting at zero; the update of every parameter runs in one native call.
//
// The learning rate lives in device memory beside the parameters (one float the update reads when it runs),
// with the iteration count (Keras's optimizer.iterations, an int32 there too): setting a number writes it
// there, and a schedule (lib/schedules.ts) is evaluated there before each update. So a rate changed by a
// callback, or moved by a schedule at every iteration, needs no new recording of the training step and no
// host round trip per step.
import { native, type NativeTensor } from './native.js';
import type { Param } from './layers.js';
import { empty } from './tensor.js';
import { ValidationError, stateError } from './errors.js';
import { NOT_USED, checkOptions, fail, nonNegativeInt, numberIn } from './validate.js';
import { LearningRateSchedule } from './schedules.js';

export interface AdadeltaArgs {
  /**
   * Default 1.0, as in Keras 2 and the mnist_cnn example (tf.keras's 0.001 trains far slower); or a schedule
   * (ExponentialDecay, PiecewiseConstantDecay, CosineDecay) of the iteration count.
   */
  learningRate?: number | LearningRateSchedule;
  rho?: number;
  epsilon?: number;
  name?: string;
}

// Keras 3's optimizer options kernelnet does not support yet: refused unless they ask for nothing.
const ADADELTA_SCHEMA = {
  what: 'Adadelta args', supported: ['learningRate', 'rho', 'epsilon', 'name'],
  notYet: {
    weightDecay: { ok: NOT_USED.zero }, clipnorm: {}, clipvalue: {}, globalClipnorm: {}, useEma: { ok: NOT_USED.false },
    emaMomentum: {}, emaOverwriteFrequency: {}, lossScaleFactor: {}, gradientAccumulationSteps: {}, decay: { ok: NOT_USED.zero },
  },
};

export class Adadelta {
  readonly className = 'Adadelta';
  private lr: number;
  /** The schedule the rate follows, when it was given one (then the rate is not settable, as in Keras). */
  readonly schedule: LearningRateSchedule | null;
  private iters = 0;
  /** The rate and the iteration count on the device, once attached: float32 [1] and int32 [1]. */
  private hyper: { lr: NativeTensor; iterations: NativeTensor } | null = null;
  readonly rho: number;
  readonly epsilon: number;
  readonly name: string;
  /** The model whose variables this optimizer updates (one, as in Keras), once compiled. */
  private owner: object | null = null;
  private state: { params: NativeTensor[]; grads: NativeTensor[]; accums: NativeTensor[]; deltas: NativeTensor[] } | null = null;
  /** Which parameters step() updates (all unless frozen layers say otherwise); see train(). */
  private active: boolean[] | null = null;

  constructor(args: AdadeltaArgs = {}) {
    checkOptions(args, ADADELTA_SCHEMA);
    args ??= {};
    if (args.name !== undefined && typeof args.name !== 'string') fail('a string', 'name', args.name);
    this.name = args.name ?? 'adadelta';
    this.schedule = args.learningRate instanceof LearningRateSchedule ? args.learningRate : null;
    this.lr = this.schedule ? NaN : numberIn(args.learningRate ?? 1.0, 'learningRate', 0, Number.MAX_VALUE);
    this.rho = numberIn(args.rho ?? 0.95, 'rho', 0, 1);
    this.epsilon = numberIn(args.epsilon ?? 1e-7, 'epsilon', 0, Number.MAX_VALUE);
  }

  /**
   * The learning rate the next update uses: with a schedule, its value at the current iteration count (as Keras's
   * optimizer.learning_rate). Callbacks (LearningRateScheduler, ReduceLROnPlateau) set it; a change takes effect
   * from the next step, inside an epoch too. A rate that follows a schedule is not settable (as in Keras).
   */
  get learningRate(): number {
    return this.schedule ? this.schedule.call(this.iters) : this.lr;
  }

  set learningRate(value: number) {
    if (this.schedule)
      throw new ValidationError(`${this.className}: the learning rate follows a ${this.schedule.className} schedule, so it is not settable ` +
        '(as in Keras); give the optimizer a number to change it from callbacks');
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
      throw new ValidationError(`compile: this ${this.className} optimizer already updates another model's weights; an optimizer ` +
        `belongs to one model (as in Keras): give ${modelName} an optimizer of its own`);
    this.owner = model;
  }

  /** @internal Allocates the accumulators (zeros) for these parameters. */
  attach(params: Param[]): void {
    this.freeState();
    const zeros = (p: Param) => {
      const t = empty(p.shape, 'float32', p.value.device); // beside the parameter
      t.fill(0);
      return t;
    };
    const device = params[0]?.value.device;
    this.hyper = { lr: empty([1], 'float32', device), iterations: empty([1], 'int32', device) };
    this.hyper.lr.fill(this.schedule ? 0 : this.lr);
    this.hyper.iterations.write(Int32Array.of(Math.min(this.iters, 2 ** 31 - 1)));
    this.state = {
      params: params.map(p => p.value),
      grads: params.map(p => p.grad),
      accums: params.map(zeros),
      deltas: params.map(zeros),
    };
  }

  /** @internal The parameters step() updates from now on, by index (frozen layers' are left out). */
  train(active: boolean[]): void {
    this.active = active.every(a => a) ? null : active;
  }

  /** @internal One update of every trained parameter from its gradient. */
  step(): void {
    const s = this.state;
    if (!s) throw stateError('Adadelta: step() before attach(); compile the model first');
    const on = this.active, pick = <T>(xs: T[]) => (on ? xs.filter((_, i) => on[i]) : xs);
    const { lr, iterations } = this.hyper!;
    if (!on || on.some(a => a)) { // unless every layer is frozen
      if (this.schedule) {
        const { kind, params } = this.schedule.native();
        native.learningRate(kind, params, iterations, lr);
      }
      native.adadelta(pick(s.params), pick(s.grads), pick(s.accums), pick(s.deltas), lr, this.rho, this.epsilon);
    }
    native.advance(iterations);
  }

  /** @internal The accumulators, in parameter order (for checkpoints and tests). */
  slots(): { accums: NativeTensor[]; deltas: NativeTensor[] } {
    if (!this.state) throw stateError('Adadelta: no state; compile the model first');
    return { accums: this.state.accums, deltas: this.state.deltas };
  }

  /** Frees the accumulators and unbinds the optimizer from its model. */
  dispose(): void {
    this.owner = null;
    this.freeState();
  }

  private freeState(): void {
    if (this.hyper) for (const t of [this.hyper.lr, this.hyper.iterations]) t.dispose();
    this.hyper = null;
    if (!this.state) return;
    for (const t of [...this.state.accums, ...this.state.deltas]) t.dispose();
    this.state = null;
  }

  getConfig() {
    const learningRate = this.schedule ? { className: this.schedule.className, config: this.schedule.getConfig() } : this.lr;
    return { learningRate, rho: this.rho, epsilon: this.epsilon, name: this.name };
  }
}

export type Optimizer = Adadelta;
