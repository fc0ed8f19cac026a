// Optimizers. Adadelta follows Keras 2 (keras/optimizers.py): learning rate 1.0, rho 0.95, epsilon 1e-7,
// accumulators starting at zero; the update of every parameter runs in one native call.
import { native, type NativeTensor } from './native.js';
import type { Param } from './layers.js';
import { empty } from './tensor.js';
import { stateError } from './errors.js';
import { numberIn } from './validate.js';

export interface AdadeltaArgs {
  /** Default 1.0, as in Keras 2 and the mnist_cnn example (tf.keras's 0.001 trains far slower). */
  learningRate?: number;
  rho?: number;
  epsilon?: number;
}

export class Adadelta {
  readonly className = 'Adadelta';
  readonly learningRate: number;
  readonly rho: number;
  readonly epsilon: number;
  private state: { params: NativeTensor[]; grads: NativeTensor[]; accums: NativeTensor[]; deltas: NativeTensor[] } | null = null;

  constructor(args: AdadeltaArgs = {}) {
    this.learningRate = numberIn(args.learningRate ?? 1.0, 'learningRate', 0, Number.MAX_VALUE);
    this.rho = numberIn(args.rho ?? 0.95, 'rho', 0, 1);
    this.epsilon = numberIn(args.epsilon ?? 1e-7, 'epsilon', 0, Number.MAX_VALUE);
  }

  /** @internal Allocates the accumulators (zeros) for these parameters. */
  attach(params: Param[]): void {
    this.dispose();
    const zeros = (p: Param) => {
      const t = empty(p.shape);
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

  /** @internal One update of every parameter from its gradient. */
  step(): void {
    const s = this.state;
    if (!s) throw stateError('Adadelta: step() before attach(); compile the model first');
    native.adadelta(s.params, s.grads, s.accums, s.deltas, this.learningRate, this.rho, this.epsilon);
  }

  /** @internal The accumulators, in parameter order (for checkpoints and tests). */
  slots(): { accums: NativeTensor[]; deltas: NativeTensor[] } {
    if (!this.state) throw stateError('Adadelta: no state; compile the model first');
    return { accums: this.state.accums, deltas: this.state.deltas };
  }

  dispose(): void {
    if (!this.state) return;
    for (const t of [...this.state.accums, ...this.state.deltas]) t.dispose();
    this.state = null;
  }

  getConfig() {
    return { learningRate: this.learningRate, rho: this.rho, epsilon: this.epsilon };
  }
}

export type Optimizer = Adadelta;
