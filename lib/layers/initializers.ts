// How a weight is filled when its model makes it: Keras's initializers by name (kernelnet's own API), and
// tfjs-layers' (src/initializers.ts) as kernelnet/tfjs's tf.initializers and its layers take them. Every value is
// drawn or filled natively (native.randomUniform, native.randomNormal, native.randomGauss, fill, affine, oneHot); only the
// distributions' parameters are worked out here.
import { native, type NativeTensor } from '../core/native.js';
import { ValidationError } from '../core/errors.js';
import { fail } from '../core/validate.js';

/** Keras's variance-scaling initializers by name. */
export type KerasVariance = 'glorotUniform' | 'glorotNormal' | 'heUniform' | 'heNormal' | 'lecunUniform' | 'lecunNormal';

/** How one weight is filled (ParamSpec.init). */
export type InitSpec =
  /** Keras's VarianceScaling with these fans ('normal': truncated at 2 sigma, Keras's 0.8796 correction). */
  | { kind: KerasVariance; fanIn: number; fanOut: number }
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'constant'; value: number }
  /** Uniform in [low, high); `seed` (a tfjs initializer's) replaces the model's stream. */
  | { kind: 'uniform'; low: number; high: number; seed?: number }
  /** mean + a normal of this stddev, not truncated (tfjs's RandomNormal). */
  | { kind: 'normal'; mean: number; stddev: number; seed?: number }
  /** mean + a normal of this stddev truncated at 2 stddev (tfjs-core's truncatedNormal: no correction). */
  | { kind: 'truncatedNormal'; mean: number; stddev: number; seed?: number }
  /** gain times the identity matrix (a square 2-D weight). */
  | { kind: 'identity'; gain: number };

/** Fills `value` as `init` says, drawing from the stream `key` (the model's, per weight) unless init has a seed. */
export function initialize(init: InitSpec, value: NativeTensor, key: number): void {
  switch (init.kind) {
    case 'zeros':
    case 'ones':
      value.fill(init.kind === 'ones' ? 1 : 0);
      return;
    case 'constant':
      value.fill(init.value);
      return;
    case 'uniform':
      native.randomUniform(value, init.low, init.high, init.seed ?? key, 0);
      return;
    case 'normal':
      native.randomGauss(value, init.mean, init.stddev, init.seed ?? key, 0);
      return;
    case 'truncatedNormal':
      if (init.mean === 0) native.randomNormal(value, init.stddev, init.seed ?? key, 0);
      else scaled(value, 1, init.mean, t => native.randomNormal(t, init.stddev, init.seed ?? key, 0));
      return;
    case 'identity': {
      // tfjs: gain * eye(n), as the one-hot rows of 0 .. n-1
      const n = value.shape[0];
      const rows = new native.Tensor(
        [n],
        'int32',
        Int32Array.from({ length: n }, (_, i) => i),
        value.device,
      );
      try {
        if (init.gain === 1) native.oneHot(rows, value);
        else scaled(value, init.gain, 0, t => native.oneHot(rows, t));
      } finally {
        rows.dispose();
      }
      return;
    }
    default: {
      // Keras's VarianceScaling: scale 1 (glorot, lecun) or 2 (he) over fan_avg (glorot) or fan_in; uniform
      // within sqrt(3 scale / fan), or a normal truncated at 2 sigma with stddev sqrt(scale / fan) / 0.8796...
      // (glorot's variance written 2 / (fan_in + fan_out), the seed model's own arithmetic).
      const variance = init.kind.startsWith('glorot')
        ? 2 / (init.fanIn + init.fanOut)
        : (init.kind.startsWith('he') ? 2 : 1) / Math.max(1, init.fanIn);
      if (init.kind.endsWith('Uniform')) {
        const limit = init.kind === 'glorotUniform' ? Math.sqrt(6 / (init.fanIn + init.fanOut)) : Math.sqrt(3 * variance);
        native.randomUniform(value, -limit, limit, key, 0);
      } else {
        native.randomNormal(value, Math.sqrt(variance) / 0.87962566103423978, key, 0);
      }
    }
  }
}

/** value = draw() * scale + offset, through a scratch tensor (native.affine takes distinct tensors). */
function scaled(value: NativeTensor, scale: number, offset: number, draw: (t: NativeTensor) => void): void {
  const t = new native.Tensor(value.shape, 'float32', undefined, value.device);
  try {
    draw(t);
    native.affine(t, value, scale, offset);
  } finally {
    t.dispose();
  }
}

// --- tfjs-layers' initializers --------------------------------------------------------------------------------

/** tfjs's VarianceScaling fan modes. */
export type FanMode = 'fanIn' | 'fanOut' | 'fanAvg';
/** tfjs's VarianceScaling distributions. */
export type Distribution = 'normal' | 'uniform' | 'truncatedNormal';

/**
 * An initializer as tfjs-layers makes it (tf.initializers.glorotNormal({ seed }), ...): its class name and
 * config as tfjs's getConfig gives them. Pass it as a layer's kernelInitializer or biasInitializer.
 */
export class TfjsInitializer {
  /** tfjs's class name: 'VarianceScaling', 'RandomUniform', 'TruncatedNormal', 'Constant', 'Identity', 'Zeros', 'Ones'. */
  readonly className: string;
  /** tfjs's getConfig(). */
  readonly config: Readonly<Record<string, unknown>>;
  /** @internal The tfjs identifier it was made by ('glorotNormal', 'varianceScaling', ...). */
  readonly identifier: string;

  /** @internal */
  constructor(identifier: string, className: string, config: Record<string, unknown>) {
    this.identifier = identifier;
    this.className = className;
    this.config = config;
  }

  /** tfjs's getClassName(). */
  getClassName(): string {
    return this.className;
  }
  /** tfjs's getConfig(). */
  getConfig(): Record<string, unknown> {
    return { ...this.config };
  }

  /**
   * @internal How a weight of this shape is filled, as tfjs's apply(shape) draws it (tfjs-layers'
   * initializers.ts; fans by its computeFans, channels-last).
   */
  spec(shape: number[], where: string): InitSpec {
    const c = this.config as Record<string, number | string | undefined>;
    const seed = c.seed === undefined || c.seed === null ? undefined : (c.seed as number);
    switch (this.className) {
      case 'Zeros':
        return { kind: 'zeros' };
      case 'Ones':
        return { kind: 'ones' };
      case 'Constant':
        return { kind: 'constant', value: c.value as number };
      case 'RandomUniform':
        return { kind: 'uniform', low: c.minval as number, high: c.maxval as number, seed };
      case 'TruncatedNormal':
        return { kind: 'truncatedNormal', mean: c.mean as number, stddev: c.stddev as number, seed };
      case 'RandomNormal':
        return { kind: 'normal', mean: c.mean as number, stddev: c.stddev as number, seed };
      case 'Identity':
        if (shape.length !== 2 || shape[0] !== shape[1])
          throw new ValidationError(
            `${where}: the identity initializer needs a square 2-D weight (as tfjs's), but this one is [${shape}]`,
            'ERR_KERNELNET_SHAPE',
          );
        return { kind: 'identity', gain: c.gain as number };
      default: {
        // VarianceScaling.apply: scale / max(1, fan); 'normal' is truncatedNormal(0, sqrt(scale)), with no
        // correction for the truncation, and any other distribution (tfjs's 'truncatedNormal' too) is uniform
        // within sqrt(3 scale).
        const [fanIn, fanOut] = computeFans(shape);
        const fan = c.mode === 'fanIn' ? fanIn : c.mode === 'fanOut' ? fanOut : (fanIn + fanOut) / 2;
        const scale = (c.scale as number) / Math.max(1, fan);
        if (c.distribution === 'normal') return { kind: 'truncatedNormal', mean: 0, stddev: Math.sqrt(scale), seed };
        const limit = Math.sqrt(3 * scale);
        return { kind: 'uniform', low: -limit, high: limit, seed };
      }
    }
  }

  /**
   * @internal The Keras initializer name this one draws as tfjs draws it, for getConfig and the saved formats:
   * the seedless glorot, he and lecun ones, zeros and ones; null for the others.
   */
  kerasName(): string | null {
    const KERAS: Record<string, string> = {
      glorotNormal: 'glorotNormal',
      glorotUniform: 'glorotUniform',
      heNormal: 'heNormal',
      heUniform: 'heUniform',
      leCunNormal: 'lecunNormal',
      leCunUniform: 'lecunUniform',
      zeros: 'zeros',
      ones: 'ones',
    };
    return Object.hasOwn(KERAS, this.identifier) && (this.config.seed ?? null) === null ? KERAS[this.identifier] : null;
  }

  /** tfjs's serialised form, { class_name, config }, as its model.json writes it. */
  toJSON(): {
    /** tfjs's class name. */
    class_name: string;
    /** tfjs's getConfig(). */
    config: Record<string, unknown>;
  } {
    return { class_name: this.className, config: this.getConfig() };
  }
}

/** tfjs-layers' computeFans (channels-last): [in, out] of a 2-D weight, times the receptive field above; sqrt(size) else. */
function computeFans(shape: number[]): [number, number] {
  if (shape.length === 2) return [shape[0], shape[1]];
  if (shape.length >= 3 && shape.length <= 5) {
    const field = shape.slice(0, -2).reduce((a, b) => a * b, 1);
    return [shape.at(-2)! * field, shape.at(-1)! * field];
  }
  const size = Math.sqrt(shape.reduce((a, b) => a * b, 1));
  return [size, size];
}

const num = (v: unknown, name: string, fallback: number): number => {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail('a finite number', name, v);
  return v;
};
const seedOf = (args: { seed?: unknown } | undefined, what: string): number | undefined => {
  const s = args?.seed;
  if (s === undefined || s === null) return undefined;
  if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0) fail('a non-negative integer', `${what} seed`, s);
  return s;
};
const argsOf = <T extends object>(args: T | undefined, what: string, keys: readonly string[]): T | undefined => {
  if (args === undefined || args === null) return undefined;
  if (typeof args !== 'object') fail('an options object', `${what} args`, args);
  for (const k of Object.keys(args))
    if (!keys.includes(k)) throw new ValidationError(`${what}: unknown option '${k}' (it takes ${keys.join(', ') || 'none'})`);
  return args;
};

/** tfjs's varianceScaling args (defaults: scale 1, mode 'fanIn', distribution 'normal'). */
export interface VarianceScalingArgs {
  /** The variance's scale, >= 0 (default 1). */
  scale?: number;
  /** The fan the scale is divided by (default 'fanIn'). */
  mode?: FanMode;
  /** 'normal' (a normal truncated at 2 sigma), 'uniform'; 'truncatedNormal' draws uniform, as tfjs 4's does. */
  distribution?: Distribution;
  /** A seed of its own (a non-negative integer) instead of the model's. */
  seed?: number;
}

function varianceScaling(args: VarianceScalingArgs | undefined, identifier = 'varianceScaling'): TfjsInitializer {
  const what = `tf.initializers.${identifier}`;
  args = argsOf(args, what, ['scale', 'mode', 'distribution', 'seed']);
  const scale = num(args?.scale, 'scale', 1);
  if (scale < 0) fail('a scale >= 0', 'scale', scale);
  const mode = args?.mode ?? 'fanIn',
    distribution = args?.distribution ?? 'normal';
  if (!['fanIn', 'fanOut', 'fanAvg'].includes(mode)) fail("'fanIn', 'fanOut' or 'fanAvg'", 'mode', mode);
  if (!['normal', 'uniform', 'truncatedNormal'].includes(distribution))
    fail("'normal', 'uniform' or 'truncatedNormal'", 'distribution', distribution);
  return new TfjsInitializer(identifier, 'VarianceScaling', { scale, mode, distribution, seed: seedOf(args, what) ?? null });
}

const named = (identifier: string, scale: number, mode: FanMode, distribution: Distribution) => (args?: { seed?: number }) => {
  const a = argsOf(args, `tf.initializers.${identifier}`, ['seed']);
  return varianceScaling({ scale, mode, distribution, seed: a?.seed }, identifier);
};

function orthogonal(): never {
  throw new ValidationError(
    'tf.initializers.orthogonal is not supported by kernelnet/tfjs: it needs a QR factorisation, which kernelnet does not have natively; ' +
      'use glorotNormal or another variance-scaling initializer',
    'ERR_KERNELNET_UNSUPPORTED',
  );
}

/**
 * tf.initializers' factories with tfjs-layers' names, arguments and defaults (src/exports_initializers.ts and
 * initializers.ts). orthogonal is refused (ERR_KERNELNET_UNSUPPORTED).
 */
export const TFJS_INITIALIZERS = {
  /** Zeros. */
  zeros: () => new TfjsInitializer('zeros', 'Zeros', {}),
  /** Ones. */
  ones: () => new TfjsInitializer('ones', 'Ones', {}),
  /** Every value `value` (required, as in tfjs). */
  constant: (args: { value: number }) => {
    const a = argsOf(args, 'tf.initializers.constant', ['value']);
    if (a?.value === undefined) fail('{ value: number }', 'tf.initializers.constant args', args);
    return new TfjsInitializer('constant', 'Constant', { value: num(a.value, 'value', 0) });
  },
  /**
   * Uniform in [minval, maxval) (defaults -0.05, 0.05). As tfjs's (`args.minval || -0.05`), a minval or maxval
   * of 0 takes the default.
   */
  randomUniform: (args?: { minval?: number; maxval?: number; seed?: number }) => {
    const a = argsOf(args, 'tf.initializers.randomUniform', ['minval', 'maxval', 'seed']);
    const minval = num(a?.minval, 'minval', -0.05) || -0.05,
      maxval = num(a?.maxval, 'maxval', 0.05) || 0.05;
    return new TfjsInitializer('randomUniform', 'RandomUniform', { minval, maxval, seed: seedOf(a, 'tf.initializers.randomUniform') ?? null });
  },
  /** mean + a normal of stddev, untruncated (defaults 0, 0.05; as tfjs's, a stddev of 0 takes the default). */
  randomNormal: (args?: { mean?: number; stddev?: number; seed?: number }) => {
    const a = argsOf(args, 'tf.initializers.randomNormal', ['mean', 'stddev', 'seed']);
    const mean = num(a?.mean, 'mean', 0),
      stddev = num(a?.stddev, 'stddev', 0.05) || 0.05;
    return new TfjsInitializer('randomNormal', 'RandomNormal', { mean, stddev, seed: seedOf(a, 'tf.initializers.randomNormal') ?? null });
  },
  /** mean + a normal of stddev truncated at 2 stddev (defaults 0, 0.05; a stddev of 0 takes the default, as tfjs's). */
  truncatedNormal: (args?: { mean?: number; stddev?: number; seed?: number }) => {
    const a = argsOf(args, 'tf.initializers.truncatedNormal', ['mean', 'stddev', 'seed']);
    const mean = num(a?.mean, 'mean', 0),
      stddev = num(a?.stddev, 'stddev', 0.05) || 0.05;
    return new TfjsInitializer('truncatedNormal', 'TruncatedNormal', { mean, stddev, seed: seedOf(a, 'tf.initializers.truncatedNormal') ?? null });
  },
  /** gain times the identity (default gain 1): square 2-D weights only. */
  identity: (args?: { gain?: number }) => {
    const a = argsOf(args, 'tf.initializers.identity', ['gain']);
    return new TfjsInitializer('identity', 'Identity', { gain: num(a?.gain, 'gain', 1) });
  },
  /** tfjs's VarianceScaling (defaults: scale 1, mode 'fanIn', distribution 'normal'). */
  varianceScaling: (args?: VarianceScalingArgs) => varianceScaling(args),
  /** VarianceScaling with scale 1, fanAvg, uniform. */
  glorotUniform: named('glorotUniform', 1, 'fanAvg', 'uniform'),
  /** VarianceScaling with scale 1, fanAvg, normal (truncated at 2 sigma, uncorrected). */
  glorotNormal: named('glorotNormal', 1, 'fanAvg', 'normal'),
  /** VarianceScaling with scale 2, fanIn, normal. */
  heNormal: named('heNormal', 2, 'fanIn', 'normal'),
  /** VarianceScaling with scale 2, fanIn, uniform. */
  heUniform: named('heUniform', 2, 'fanIn', 'uniform'),
  /** VarianceScaling with scale 1, fanIn, normal. */
  leCunNormal: named('leCunNormal', 1, 'fanIn', 'normal'),
  /** VarianceScaling with scale 1, fanIn, uniform. */
  leCunUniform: named('leCunUniform', 1, 'fanIn', 'uniform'),
  /** Refused: needs a QR factorisation kernelnet does not have natively. */
  orthogonal,
};

/**
 * An initializer identifier as tfjs's getInitializer takes it (its camelCase names or class names) as a
 * TfjsInitializer; null for a string it does not know.
 */
export function tfjsInitializer(name: string): TfjsInitializer | null {
  const id = name.charAt(0).toLowerCase() + name.slice(1);
  if (!Object.hasOwn(TFJS_INITIALIZERS, id) || id === 'constant') return null; // tfjs's 'constant' needs a value
  return (TFJS_INITIALIZERS as Record<string, (a?: unknown) => TfjsInitializer>)[id]();
}
