// Learning-rate schedules, Keras 3's classes and arguments (tfjs spellings), usable as an optimizer's
// learningRate: `new Adadelta({ learningRate: new ExponentialDecay({ initialLearningRate: 1, decaySteps: 100,
// decayRate: 0.9 }) })`. The rate is a function of the optimizer's iteration count (0 for the first update),
// evaluated natively (cpp/schedule.h) on the model's device before every update: a recorded step replays
// unchanged and the host never waits to learn the rate. This file only checks arguments and names them.
import { native } from '../core/native.js';
import { ValidationError } from '../core/errors.js';
import { checkOptions, fail, nonNegativeInt, positiveInt } from '../core/validate.js';

const finite = (v: unknown, name: string): number => {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail('a finite number', name, v);
  return v;
};
const positive = (v: unknown, name: string): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail('a positive number', name, v);
  return v;
};

/** A learning rate that changes with every optimizer iteration. */
export abstract class LearningRateSchedule {
  /** The class's name (Keras's class_name), as an optimizer's config and checkpoints record it. */
  abstract readonly className: string;
  /** @internal The native form: cpp/schedule.h's kind and its parameters. */
  abstract native(): { kind: 'exponential' | 'piecewise' | 'cosine'; params: number[] };
  /** The schedule's arguments, as Keras's get_config: what its constructor takes to make it again. */
  abstract getConfig(): Record<string, unknown>;

  /** The rate at an iteration count (Keras's schedule(step)), computed as the device computes it. */
  call(step: number): number {
    const { kind, params } = this.native();
    return native.scheduleValue(kind, params, nonNegativeInt(step, 'step'));
  }
}

/** ExponentialDecay's arguments. */
export interface ExponentialDecayArgs {
  /** The rate at iteration 0. */
  initialLearningRate: number;
  /** The iterations over which the rate is multiplied by decayRate once (positive). */
  decaySteps: number;
  /** The factor per decaySteps iterations. */
  decayRate: number;
  /** Decay at whole multiples of decaySteps only (default false). */
  staircase?: boolean;
  /** The schedule's name (default 'ExponentialDecay'). */
  name?: string;
}

/** initialLearningRate * decayRate ^ (step / decaySteps), the exponent floored with staircase (Keras's ExponentialDecay). */
export class ExponentialDecay extends LearningRateSchedule {
  readonly className = 'ExponentialDecay';
  /** The rate at iteration 0. */
  readonly initialLearningRate: number;
  /** The iterations over which the rate is multiplied by decayRate once. */
  readonly decaySteps: number;
  /** The factor per decaySteps iterations. */
  readonly decayRate: number;
  /** Whether the rate decays at whole multiples of decaySteps only. */
  readonly staircase: boolean;
  /** The schedule's name. */
  readonly name: string;

  constructor(args: ExponentialDecayArgs) {
    super();
    if (args === undefined) fail('an options object', 'ExponentialDecay args', args);
    args = checkOptions(args, { what: 'ExponentialDecay args', supported: ['initialLearningRate', 'decaySteps', 'decayRate', 'staircase', 'name'] });
    this.initialLearningRate = finite(args.initialLearningRate, 'initialLearningRate');
    this.decaySteps = positive(args.decaySteps, 'decaySteps');
    this.decayRate = finite(args.decayRate, 'decayRate');
    this.staircase = args.staircase ?? false;
    if (typeof this.staircase !== 'boolean') fail('a boolean', 'staircase', this.staircase);
    this.name = args.name ?? 'ExponentialDecay';
  }

  native() {
    return { kind: 'exponential' as const, params: [this.initialLearningRate, this.decaySteps, this.decayRate, this.staircase ? 1 : 0] };
  }

  getConfig(): Record<string, unknown> {
    return {
      initialLearningRate: this.initialLearningRate,
      decaySteps: this.decaySteps,
      decayRate: this.decayRate,
      staircase: this.staircase,
      name: this.name,
    };
  }
}

/** PiecewiseConstantDecay's arguments. */
export interface PiecewiseConstantDecayArgs {
  /** Strictly increasing iteration counts. */
  boundaries: number[];
  /** One more than boundaries: values[0] while step <= boundaries[0], ..., the last after the last boundary. */
  values: number[];
  /** The schedule's name (default 'PiecewiseConstant'). */
  name?: string;
}

/** A constant rate per interval of iterations (Keras's PiecewiseConstantDecay). */
export class PiecewiseConstantDecay extends LearningRateSchedule {
  readonly className = 'PiecewiseConstantDecay';
  /** The iteration counts where the rate changes, strictly increasing. */
  readonly boundaries: number[];
  /** The rate in each interval, one more than boundaries. */
  readonly values: number[];
  /** The schedule's name. */
  readonly name: string;

  constructor(args: PiecewiseConstantDecayArgs) {
    super();
    if (args === undefined) fail('an options object', 'PiecewiseConstantDecay args', args);
    args = checkOptions(args, { what: 'PiecewiseConstantDecay args', supported: ['boundaries', 'values', 'name'] });
    const { boundaries, values } = args;
    if (
      !Array.isArray(boundaries) ||
      boundaries.length < 1 ||
      boundaries.length > 32 ||
      !boundaries.every((b, i) => Number.isInteger(b) && b >= 0 && b < 2 ** 31 && (i === 0 || b > boundaries[i - 1]))
    )
      fail('1 to 32 strictly increasing non-negative integer iteration counts', 'boundaries', boundaries);
    if (!Array.isArray(values) || values.length !== boundaries.length + 1)
      throw new ValidationError(
        `PiecewiseConstantDecay: expected values to have one more element than boundaries (${boundaries.length + 1}) ` +
          `but received ${Array.isArray(values) ? values.length : typeof values}`,
      );
    values.forEach((v, i) => finite(v, `values[${i}]`));
    this.boundaries = [...boundaries];
    this.values = [...values];
    this.name = args.name ?? 'PiecewiseConstant';
  }

  native() {
    return { kind: 'piecewise' as const, params: [...this.boundaries, ...this.values] };
  }

  getConfig(): Record<string, unknown> {
    return { boundaries: this.boundaries, values: this.values, name: this.name };
  }
}

/** CosineDecay's arguments. */
export interface CosineDecayArgs {
  /** The rate at iteration 0 (where the warm-up starts, when there is one). */
  initialLearningRate: number;
  /** The iterations the cosine decay lasts (a positive integer), counted after the warm-up. */
  decaySteps: number;
  /** The final rate as a fraction of the decay's starting rate (default 0). */
  alpha?: number;
  /** When given, the rate first rises linearly from initialLearningRate to warmupTarget over warmupSteps. */
  warmupTarget?: number | null;
  /** The warm-up's length in iterations (default 0); needs warmupTarget. */
  warmupSteps?: number;
  /** The schedule's name (default 'CosineDecay'). */
  name?: string;
}

/** Cosine decay over decaySteps, after an optional linear warm-up (Keras 3's CosineDecay). */
export class CosineDecay extends LearningRateSchedule {
  readonly className = 'CosineDecay';
  /** The rate at iteration 0. */
  readonly initialLearningRate: number;
  /** The iterations the cosine decay lasts, after the warm-up. */
  readonly decaySteps: number;
  /** The final rate as a fraction of the decay's starting rate. */
  readonly alpha: number;
  /** The rate the warm-up rises to, or null without a warm-up. */
  readonly warmupTarget: number | null;
  /** The warm-up's length in iterations (0: none). */
  readonly warmupSteps: number;
  /** The schedule's name. */
  readonly name: string;

  constructor(args: CosineDecayArgs) {
    super();
    if (args === undefined) fail('an options object', 'CosineDecay args', args);
    args = checkOptions(args, {
      what: 'CosineDecay args',
      supported: ['initialLearningRate', 'decaySteps', 'alpha', 'warmupTarget', 'warmupSteps', 'name'],
    });
    this.initialLearningRate = finite(args.initialLearningRate, 'initialLearningRate');
    this.decaySteps = positiveInt(args.decaySteps, 'decaySteps');
    this.alpha = finite(args.alpha ?? 0, 'alpha');
    this.warmupTarget = args.warmupTarget == null ? null : finite(args.warmupTarget, 'warmupTarget');
    this.warmupSteps = nonNegativeInt(args.warmupSteps ?? 0, 'warmupSteps');
    if (this.warmupTarget === null && this.warmupSteps)
      throw new ValidationError(
        "CosineDecay: warmupSteps without a warmupTarget would be ignored (as Keras ignores it); give the warm-up's target rate",
      );
    this.name = args.name ?? 'CosineDecay';
  }

  native() {
    return { kind: 'cosine' as const, params: [this.initialLearningRate, this.decaySteps, this.alpha, this.warmupTarget ?? NaN, this.warmupSteps] };
  }

  getConfig(): Record<string, unknown> {
    return {
      initialLearningRate: this.initialLearningRate,
      decaySteps: this.decaySteps,
      alpha: this.alpha,
      warmupTarget: this.warmupTarget,
      warmupSteps: this.warmupSteps,
      name: this.name,
    };
  }
}

const SCHEDULES: Record<string, (config: never) => LearningRateSchedule> = {
  ExponentialDecay: c => new ExponentialDecay(c),
  PiecewiseConstantDecay: c => new PiecewiseConstantDecay(c),
  CosineDecay: c => new CosineDecay(c),
};

/** @internal A schedule from { className, config } (checkpoints). */
export function scheduleFromConfig(value: { className: string; config: Record<string, unknown> }): LearningRateSchedule {
  const make = SCHEDULES[value.className];
  if (!make) throw new ValidationError(`unknown learning-rate schedule ${value.className}`);
  return make(value.config as never);
}
