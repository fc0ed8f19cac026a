// Losses and metrics by Keras's names (tfjs spellings, snake_case accepted), and how each meets the model's last
// layer. The math is native (cpp/loss.h): the cross-entropies take logits and apply their softmax or sigmoid
// head themselves, fused and stable, so a last layer with that activation emits logits in training (and predict
// applies the head); with fromLogits the last layer's output is the logits. The errors take the outputs as
// they are. This file only names, checks and resolves.
import { ValidationError } from '../core/errors.js';
import { checkOptions, fail } from '../core/validate.js';

/**
 * The native loss ops (cpp/loss.h). The '_clipped' cross-entropies are tfjs-layers' (src/losses.ts): on the
 * head's probabilities clipped to [1e-7, 1 - 1e-7] rather than on the logits; kernelnet/tfjs compiles with them.
 */
export type LossKind = 'crossentropy' | 'binary_crossentropy' | 'mse' | 'mae' | 'crossentropy_clipped' | 'binary_crossentropy_clipped';
export type AccuracyKind = 'none' | 'categorical' | 'sparse' | 'binary';

/** The arguments of the cross-entropy losses. */
export interface LossArgs {
  /** The model's output is logits (no softmax or sigmoid on the last layer); default false. */
  fromLogits?: boolean;
  /** The loss's name (Keras's name argument; the logs still call it `loss`). */
  name?: string;
}

const LOSS_NOT_YET = { labelSmoothing: { ok: [0] }, axis: { ok: [-1] }, reduction: { ok: ['sum_over_batch_size'] }, ignoreClass: {} };

/** A loss: its native kind, the labels it takes, and the activation it fuses (null: none). */
export abstract class Loss {
  /** The class's name (Keras's class_name), as checkpoints record it: 'CategoricalCrossentropy', .... */
  abstract readonly className: string;
  /** @internal The native loss op (cpp/loss.h) that computes it. */
  readonly kind: LossKind;
  /** 'onehot': float32 [N, K] distributions; 'classes': int32 [N] indices; 'binary': float32 [N, K] in [0, 1]; 'targets': any finite float32 [N, K]. */
  abstract readonly labels: 'onehot' | 'classes' | 'binary' | 'targets';
  /** Whether the model's output is taken as logits (always false for the errors). */
  readonly fromLogits: boolean;
  /** The name given to the constructor, if any. */
  readonly name: string | undefined;

  protected constructor(args: LossArgs | undefined, what: string, fromLogits: boolean, kind: LossKind) {
    args = checkOptions(args, { what: `${what} args`, supported: fromLogits ? ['fromLogits', 'name'] : ['name'], notYet: LOSS_NOT_YET });
    this.kind = kind;
    const v = args?.fromLogits ?? false;
    if (typeof v !== 'boolean') fail('a boolean', 'fromLogits', v);
    this.fromLogits = v;
    this.name = args?.name;
  }

  /** The last layer's activation this loss applies itself (fused), unless fromLogits. */
  abstract head(): 'softmax' | 'sigmoid' | null;

  /** The loss's configuration, as Keras's get_config: { fromLogits } for the cross-entropies, {} for the errors. */
  getConfig(): Record<string, unknown> {
    return { fromLogits: this.fromLogits };
  }
}

/** Cross-entropy of one-hot (or soft) labels, float32 [N, K] (Keras's CategoricalCrossentropy). */
export class CategoricalCrossentropy extends Loss {
  readonly className = 'CategoricalCrossentropy';
  readonly labels = 'onehot';
  constructor(args?: LossArgs) {
    super(args, 'CategoricalCrossentropy', true, 'crossentropy');
  }
  head() {
    return this.fromLogits ? null : ('softmax' as const);
  }
}

/** Cross-entropy of class indices, int32 [N] (Keras's SparseCategoricalCrossentropy). */
export class SparseCategoricalCrossentropy extends Loss {
  readonly className = 'SparseCategoricalCrossentropy';
  readonly labels = 'classes';
  constructor(args?: LossArgs) {
    super(args, 'SparseCategoricalCrossentropy', true, 'crossentropy');
  }
  head() {
    return this.fromLogits ? null : ('softmax' as const);
  }
}

/** Binary cross-entropy of labels in [0, 1], float32 [N, K], averaged over K (Keras's BinaryCrossentropy). */
export class BinaryCrossentropy extends Loss {
  readonly className = 'BinaryCrossentropy';
  readonly labels = 'binary';
  constructor(args?: LossArgs) {
    super(args, 'BinaryCrossentropy', true, 'binary_crossentropy');
  }
  head() {
    return this.fromLogits ? null : ('sigmoid' as const);
  }
}

/** mean((output - y)^2) over the last axis (Keras's MeanSquaredError, 'mse'). */
export class MeanSquaredError extends Loss {
  readonly className = 'MeanSquaredError';
  readonly labels = 'targets';
  constructor(args?: { name?: string }) {
    super(args, 'MeanSquaredError', false, 'mse');
  }
  head() {
    return null;
  }
  override getConfig(): Record<string, unknown> {
    return {};
  }
}

/** mean(|output - y|) over the last axis (Keras's MeanAbsoluteError, 'mae'). */
export class MeanAbsoluteError extends Loss {
  readonly className = 'MeanAbsoluteError';
  readonly labels = 'targets';
  constructor(args?: { name?: string }) {
    super(args, 'MeanAbsoluteError', false, 'mae');
  }
  head() {
    return null;
  }
  override getConfig(): Record<string, unknown> {
    return {};
  }
}

const LOSSES: Record<string, () => Loss> = {
  categoricalCrossentropy: () => new CategoricalCrossentropy(),
  sparseCategoricalCrossentropy: () => new SparseCategoricalCrossentropy(),
  binaryCrossentropy: () => new BinaryCrossentropy(),
  meanSquaredError: () => new MeanSquaredError(),
  meanAbsoluteError: () => new MeanAbsoluteError(),
};
const LOSS_ALIASES: Record<string, string> = {
  categorical_crossentropy: 'categoricalCrossentropy',
  sparse_categorical_crossentropy: 'sparseCategoricalCrossentropy',
  binary_crossentropy: 'binaryCrossentropy',
  mean_squared_error: 'meanSquaredError',
  mse: 'meanSquaredError',
  mean_absolute_error: 'meanAbsoluteError',
  mae: 'meanAbsoluteError',
};
/** The losses by name, as compile takes them: tfjs's camelCase, Keras's snake_case, and 'mse' and 'mae'. */
export type LossIdentifier =
  | 'categoricalCrossentropy'
  | 'sparseCategoricalCrossentropy'
  | 'binaryCrossentropy'
  | 'meanSquaredError'
  | 'meanAbsoluteError'
  | 'mse'
  | 'mae'
  | 'categorical_crossentropy'
  | 'sparse_categorical_crossentropy'
  | 'binary_crossentropy'
  | 'mean_squared_error'
  | 'mean_absolute_error';

/** A loss from its name or instance. */
export function resolveLoss(value: unknown): Loss {
  if (value instanceof Loss) return value;
  if (typeof value === 'string') {
    const name = Object.hasOwn(LOSSES, value) ? value : Object.hasOwn(LOSS_ALIASES, value) ? LOSS_ALIASES[value] : null;
    if (name) return LOSSES[name]();
  }
  return fail(
    `a loss (${[...Object.keys(LOSSES), 'mse', 'mae'].map(n => `'${n}'`).join(', ')}, or an instance such as ` +
      'new BinaryCrossentropy({ fromLogits: true }))',
    'loss',
    value,
  );
}

/**
 * @internal A loss as kernelnet/tfjs's compile resolves it: a cross-entropy named by a string is tfjs-layers'
 * (src/losses.ts: categoricalCrossentropy, sparseCategoricalCrossentropy, binaryCrossentropy), computed on the
 * head's probabilities clipped to [1e-7, 1 - 1e-7] as tfjs computes it; Loss instances and the errors resolve as
 * resolveLoss does.
 */
export function resolveTfjsLoss(value: unknown): Loss {
  const loss = resolveLoss(value);
  if (typeof value !== 'string') return loss;
  const clipped = loss.kind === 'crossentropy' ? 'crossentropy_clipped' : loss.kind === 'binary_crossentropy' ? 'binary_crossentropy_clipped' : null;
  if (clipped) (loss as { kind: LossKind }).kind = clipped; // a new instance, made above for this compile only
  return loss;
}

/** @internal A loss from a checkpoint's { className, config }. */
export function lossFromConfig(value: { className: string; config?: Record<string, unknown> } | string): Loss {
  if (typeof value === 'string') return resolveLoss(value); // files from before loss classes
  const make: Record<string, (c: Record<string, unknown>) => Loss> = {
    CategoricalCrossentropy: c => new CategoricalCrossentropy(c),
    SparseCategoricalCrossentropy: c => new SparseCategoricalCrossentropy(c),
    BinaryCrossentropy: c => new BinaryCrossentropy(c),
    MeanSquaredError: () => new MeanSquaredError(),
    MeanAbsoluteError: () => new MeanAbsoluteError(),
  };
  if (!Object.hasOwn(make, value.className)) throw new ValidationError(`unknown loss ${value.className}`);
  return make[value.className](value.config ?? {});
}

/** One metric the model reports: the log key (the name the user gave, as Keras) and what it measures. */
export interface MetricSpec {
  key: string;
  measures: 'accuracy' | 'mse' | 'mae';
}

const ACCURACY_NAMES: Record<string, AccuracyKind | 'auto'> = {
  accuracy: 'auto',
  acc: 'auto',
  categoricalAccuracy: 'categorical',
  categorical_accuracy: 'categorical',
  sparseCategoricalAccuracy: 'sparse',
  sparse_categorical_accuracy: 'sparse',
  binaryAccuracy: 'binary',
  binary_accuracy: 'binary',
};
const ERROR_NAMES: Record<string, 'mse' | 'mae'> = {
  mse: 'mse',
  meanSquaredError: 'mse',
  mean_squared_error: 'mse',
  mae: 'mae',
  meanAbsoluteError: 'mae',
  mean_absolute_error: 'mae',
};

/**
 * The metrics a compile asks for, and the one accuracy they measure. 'accuracy' is resolved as Keras 3 does
 * (trainers/compile_utils.py's get_metric): binary when the output has one column, sparse with class-index
 * labels, categorical otherwise.
 */
export function resolveMetrics(value: unknown, loss: Loss, outputUnits: number): { metrics: MetricSpec[]; accuracy: AccuracyKind } {
  const list = value ?? [];
  if (!Array.isArray(list)) fail('an array of metric names', 'metrics', value);
  let accuracy: AccuracyKind = 'none';
  const metrics: MetricSpec[] = [];
  for (const m of list) {
    if (typeof m === 'string' && Object.hasOwn(ACCURACY_NAMES, m)) {
      let kind = ACCURACY_NAMES[m];
      if (kind === 'auto') kind = outputUnits === 1 ? 'binary' : loss.labels === 'classes' ? 'sparse' : 'categorical';
      if (kind === 'sparse' && loss.labels !== 'classes')
        throw new ValidationError(
          `metric '${m}' needs class-index labels (sparseCategoricalCrossentropy); use 'categoricalAccuracy' with one-hot labels`,
        );
      if (kind !== 'sparse' && loss.labels === 'classes')
        throw new ValidationError(`metric '${m}' needs one-hot labels; with class-index labels use 'sparseCategoricalAccuracy' or 'accuracy'`);
      if (accuracy !== 'none' && accuracy !== kind)
        throw new ValidationError(
          `metrics: one kind of accuracy per model for now ('${m}' after a ${accuracy} accuracy)`,
          'ERR_KERNELNET_UNSUPPORTED',
        );
      accuracy = kind;
      metrics.push({ key: m, measures: 'accuracy' });
    } else if (typeof m === 'string' && Object.hasOwn(ERROR_NAMES, m)) {
      if (loss.labels === 'classes')
        throw new ValidationError(`metric '${m}' compares outputs with targets of the same shape; these labels are class indices`);
      metrics.push({ key: m, measures: ERROR_NAMES[m] });
    } else {
      fail(`a metric name (${[...Object.keys(ACCURACY_NAMES), ...Object.keys(ERROR_NAMES)].map(n => `'${n}'`).join(', ')})`, 'metric', m);
    }
  }
  if (new Set(metrics.map(m => m.key)).size !== metrics.length)
    throw new ValidationError(`metrics: a metric is listed twice in ${JSON.stringify(list)}`);
  return { metrics, accuracy };
}
