// Optimizers. Adadelta follows Keras 2 (keras/optimizers.py): learning rate 1.0, rho 0.95, epsilon 1e-7,
// accumulators starting at zero; the update of every parameter runs in one native call.
import { native, type NativeTensor } from './native.js';
import type { Param } from './layers.js';
import { empty } from './tensor.js';
import { ValidationError, stateError } from './errors.js';
import { NOT_USED, checkOptions, fail, numberIn } from './validate.js';

export interface AdadeltaArgs {
  /** Default 1.0, as in Keras 2 and the mnist_cnn example (tf.keras's 0.001 trains far slower). */
  learningRate?: number;
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
    this.lr = numberIn(args.learningRate ?? 1.0, 'learningRate', 0, Number.MAX_VALUE);
    this.rho = numberIn(args.rho ?? 0.95, 'rho', 0, 1);
    this.epsilon = numberIn(args.epsilon ?? 1e-7, 'epsilon', 0, Number.MAX_VALUE);
  }

  /**
   * The learning rate. Schedules and callbacks (LearningRateScheduler, ReduceLROnPlateau) set it between
   * epochs; a change inside an epoch takes effect from the next step.
   */
  get learningRate(): number {
    return this.lr;
  }

  set learningRate(value: number) {
    this.lr = numberIn(value, 'learningRate', 0, Number.MAX_VALUE);
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
    if (on && !on.some(a => a)) return; // every layer frozen
    native.adadelta(pick(s.params), pick(s.grads), pick(s.accums), pick(s.deltas), this.learningRate, this.rho, this.epsilon);
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
    if (!this.state) return;
    for (const t of [...this.state.accums, ...this.state.deltas]) t.dispose();
    this.state = null;
  }

  getConfig() {
    return { learningRate: this.learningRate, rho: this.rho, epsilon: this.epsilon, name: this.name };
  }
}

export type Optimizer = Adadelta;
