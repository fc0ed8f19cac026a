// The one table of kernelnet's layers, as tfjs-layers' serialization.registerClass keeps one: each class with its
// name in a checkpoint, its other tfjs/Keras class names, its tf.layers factory names, what its config holds in
// tfjs's model.json where that is more than the generic snake_case mapping, and the native op families it runs.
// serialization.ts, tfjs-format.ts and tfjs.ts read their names from here; no other list of layers exists.
import {
  Activation,
  AveragePooling2D,
  BatchNormalization,
  Conv2D,
  Dense,
  Dropout,
  Flatten,
  GlobalAveragePooling2D,
  GlobalMaxPooling2D,
  LeakyReLU,
  MaxPooling2D,
  Rescaling,
  Reshape,
  ZeroPadding2D,
  UpSampling2D,
  type ActivationArgs,
  type Layer,
} from './layers.js';
import { Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract } from './merge.js';

type Json = Record<string, unknown>;

/** How a layer's config is written in tfjs's model.json (snake_case keys, in this order) and read back. */
export interface TfjsSpec {
  /** Config keys written under their snake_case names. */
  keys?: readonly string[];
  /** Writes data_format: 'channels_last'. */
  channelsLast?: boolean;
  /** Writes the layer's fused activation (refusing one tfjs lacks). */
  activation?: boolean;
  /** Writes use_bias, the kernel and bias initializers and null regularizers/constraints. */
  kernel?: boolean;
  /** Initializers tfjs writes that kernelnet fixes to Keras's default: key -> the only initializer taken. */
  initializers?: Readonly<Record<string, string>>;
  /** Keys tfjs writes that kernelnet takes only as null (an option it has none of). */
  nulls?: readonly string[];
  /** Renames a newer Keras spelling in tfjs args (already camelCase) to kernelnet's. */
  fromTfjs?: (args: Json) => void;
}

/** What the conformance test needs to build a layer in a small model. */
export interface Sample {
  /** Arguments for a small instance. */
  args: Json;
  /** The input shape (without the batch) the layer is tried on. */
  inputShape: number[];
  /** A merge layer's inputs' shapes (it is tried in a functional model of that many inputs). */
  inputShapes?: number[][];
  /** Why no finite-difference gradient check is run for it, where none is. */
  noGradcheck?: string;
  /** Why no round trip through tfjs-layers is run for it, where none is (a Keras layer tfjs lacks). */
  noTfjs?: string;
}

export interface LayerEntry<C extends new (...args: never[]) => Layer = new (...args: never[]) => Layer> {
  className: string;
  ctor: C;
  /** Other class names tfjs and Keras write for it (MaxPool2D). */
  aliases: readonly string[];
  /** tf.layers factory names, the first tfjs's own. */
  factories: readonly string[];
  tfjs: TfjsSpec;
  /** The native op families its forward and backward use. */
  ops: readonly string[];
  sample: Sample;
  /** The factory, where `new ctor(args)` is not it as a type (a constructor with overloads). */
  create?: (args: never) => Layer;
}

const entry = <const E extends LayerEntry>(e: E) => e;

const KERNEL_NULLS = ['kernel_regularizer', 'bias_regularizer', 'activity_regularizer', 'kernel_constraint', 'bias_constraint'] as const;

/** Every layer, in the order tf.layers lists its factories. */
export const REGISTRY = [
  entry({
    className: 'Conv2D',
    ctor: Conv2D,
    aliases: [],
    factories: ['conv2d'],
    ops: ['conv2d', 'bias', 'activation'],
    tfjs: { keys: ['filters', 'kernelSize', 'strides', 'padding', 'dilationRate'], channelsLast: true, activation: true, kernel: true },
    sample: { args: { filters: 2, kernelSize: 3, padding: 'same' }, inputShape: [5, 5, 2] },
  }),
  entry({
    className: 'Dense',
    ctor: Dense,
    aliases: [],
    factories: ['dense'],
    ops: ['matmul', 'bias', 'activation'],
    tfjs: { keys: ['units'], activation: true, kernel: true },
    sample: { args: { units: 3 }, inputShape: [4] },
  }),
  entry({
    className: 'MaxPooling2D',
    ctor: MaxPooling2D,
    aliases: ['MaxPool2D'],
    factories: ['maxPooling2d', 'maxPool2d'],
    ops: ['pool2d'],
    tfjs: { keys: ['poolSize', 'strides', 'padding'], channelsLast: true },
    sample: { args: { poolSize: 2 }, inputShape: [4, 4, 2] },
  }),
  entry({
    className: 'AveragePooling2D',
    ctor: AveragePooling2D,
    aliases: ['AvgPool2D'],
    factories: ['averagePooling2d', 'avgPool2d', 'avgPooling2d'],
    ops: ['pool2d'],
    tfjs: { keys: ['poolSize', 'strides', 'padding'], channelsLast: true },
    sample: { args: { poolSize: 2 }, inputShape: [4, 4, 2] },
  }),
  entry({
    className: 'GlobalAveragePooling2D',
    ctor: GlobalAveragePooling2D,
    aliases: [],
    factories: ['globalAveragePooling2d'],
    ops: ['globalPool2d'],
    tfjs: { channelsLast: true },
    sample: { args: {}, inputShape: [3, 3, 2] },
  }),
  entry({
    className: 'GlobalMaxPooling2D',
    ctor: GlobalMaxPooling2D,
    aliases: [],
    factories: ['globalMaxPooling2d', 'globalMaxPool2d'],
    ops: ['globalPool2d'],
    tfjs: { channelsLast: true },
    sample: { args: {}, inputShape: [3, 3, 2] },
  }),
  entry({
    className: 'UpSampling2D',
    ctor: UpSampling2D,
    aliases: [],
    factories: ['upSampling2d'],
    ops: ['binary'],
    tfjs: { keys: ['size', 'interpolation'], channelsLast: true },
    sample: { args: { size: [2, 3] }, inputShape: [2, 3, 2] },
  }),
  entry({
    className: 'ZeroPadding2D',
    ctor: ZeroPadding2D,
    aliases: [],
    factories: ['zeroPadding2d'],
    ops: ['pad2d'],
    tfjs: { keys: ['padding'], channelsLast: true },
    sample: {
      args: {
        padding: [
          [1, 0],
          [2, 1],
        ],
      },
      inputShape: [3, 2, 2],
    },
  }),
  entry({
    className: 'Dropout',
    ctor: Dropout,
    aliases: [],
    factories: ['dropout'],
    ops: ['dropout'],
    tfjs: { keys: ['rate'], nulls: ['noise_shape', 'seed'] },
    sample: { args: { rate: 0.5 }, inputShape: [4] },
  }),
  entry({
    className: 'Flatten',
    ctor: Flatten,
    aliases: [],
    factories: ['flatten'],
    ops: [],
    tfjs: {},
    sample: { args: {}, inputShape: [2, 2, 1] },
  }),
  entry({
    className: 'Reshape',
    ctor: Reshape,
    aliases: [],
    factories: ['reshape'],
    ops: [],
    tfjs: { keys: ['targetShape'] },
    sample: { args: { targetShape: [2, 2] }, inputShape: [4] },
  }),
  entry({
    className: 'Rescaling',
    ctor: Rescaling,
    aliases: [],
    factories: ['rescaling'],
    ops: ['scale'],
    tfjs: { keys: ['scale', 'offset'] },
    sample: { args: { scale: 0.5, offset: 1 }, inputShape: [4] },
  }),
  entry({
    className: 'Activation',
    ctor: Activation,
    create: (args: ActivationArgs) => new Activation(args),
    aliases: [],
    factories: ['activation'],
    ops: ['activation'],
    tfjs: { keys: ['activation'] },
    sample: { args: { activation: 'tanh' }, inputShape: [4] },
  }),
  entry({
    className: 'LeakyReLU',
    ctor: LeakyReLU,
    aliases: [],
    factories: ['leakyReLU'],
    ops: ['activation'],
    tfjs: {
      keys: ['alpha'],
      fromTfjs: args => {
        if (args.negativeSlope !== undefined && args.alpha === undefined) {
          args.alpha = args.negativeSlope; // Keras 3 spelling
          delete args.negativeSlope;
        }
      },
    },
    sample: { args: { alpha: 0.2 }, inputShape: [4] },
  }),
  entry({
    className: 'BatchNormalization',
    ctor: BatchNormalization,
    aliases: [],
    factories: ['batchNormalization'],
    ops: ['batchnorm'],
    tfjs: {
      keys: ['axis', 'momentum', 'epsilon', 'center', 'scale'],
      initializers: { beta_initializer: 'zeros', gamma_initializer: 'ones', moving_mean_initializer: 'zeros', moving_variance_initializer: 'ones' },
      nulls: ['beta_regularizer', 'gamma_regularizer', 'beta_constraint', 'gamma_constraint'],
    },
    sample: {
      args: {},
      inputShape: [4],
      noGradcheck:
        'training normalises by the batch, evaluation by the moving statistics, so evaluate() is not the loss that training differentiates',
    },
  }),
  ...(
    [
      ['Add', Add, 'add', [[3], [3]]],
      ['Subtract', Subtract, 'subtract', [[2, 3], [3]]],
      [
        'Multiply',
        Multiply,
        'multiply',
        [
          [2, 3],
          [2, 1],
        ],
      ],
      ['Average', Average, 'average', [[3], [3], [3]]],
      ['Maximum', Maximum, 'maximum', [[3], [3]]],
      ['Minimum', Minimum, 'minimum', [[3], [3]]],
    ] as const
  ).map(([className, ctor, factory, shapes]) =>
    entry({
      className,
      ctor,
      aliases: [],
      factories: [factory],
      ops: ['binary'],
      tfjs: {},
      sample: {
        args: {},
        inputShape: [...shapes[0]],
        inputShapes: shapes.map(s => [...s]),
        ...(className === 'Subtract' ? { noTfjs: 'tfjs-layers has no Subtract layer (Keras has): its files load in Keras and kernelnet' } : {}),
      },
    }),
  ),
  entry({
    className: 'Concatenate',
    ctor: Concatenate,
    aliases: [],
    factories: ['concatenate'],
    ops: ['concat'],
    tfjs: { keys: ['axis'] },
    sample: {
      args: { axis: -1 },
      inputShape: [2, 3],
      inputShapes: [
        [2, 3],
        [2, 1],
      ],
    },
  }),
] as const;

export type Registry = typeof REGISTRY;

/** The entry for a class name or one of its aliases, if kernelnet has it. */
export function layerEntry(className: string, aliases = false): LayerEntry | undefined {
  return (REGISTRY as readonly LayerEntry[]).find(e => e.className === className || (aliases && e.aliases.includes(className)));
}

/** A layer of a registered class from its (camelCase) config. */
export function makeLayer(entry: LayerEntry, config: Json): Layer {
  return new entry.ctor(config as never);
}

/** Keys tfjs writes that kernelnet takes only as null, over all layers. */
export const TFJS_NULLS: ReadonlySet<string> = new Set([...KERNEL_NULLS, ...REGISTRY.flatMap(e => (e.tfjs as TfjsSpec).nulls ?? [])]);
export const TFJS_KERNEL_NULLS = KERNEL_NULLS;

/** Initializers fixed to Keras's defaults, over all layers: key -> the only initializer taken. */
export const TFJS_FIXED_INITIALIZERS: Readonly<Record<string, string>> = Object.assign(
  {},
  ...REGISTRY.map(e => (e.tfjs as TfjsSpec).initializers ?? {}),
);

type Ctor<E> = E extends { ctor: infer C } ? C : never;
type Factory<C> = C extends new (...args: infer A) => infer L ? (...args: A) => L : never;

/** tf.layers' factories, typed by each class's constructor. */
export type LayerFactories = {
  [E in Registry[number] as E['factories'][number]]: E extends { create: infer F extends (args: never) => Layer } ? F : Factory<Ctor<E>>;
};

/** tf.layers' factories from the registry, in its order. */
export function layerFactories(): LayerFactories {
  const out: Record<string, (args?: unknown) => Layer> = {};
  for (const e of REGISTRY as readonly LayerEntry[])
    for (const f of e.factories) out[f] = e.create ? (e.create as (args?: unknown) => Layer) : args => new e.ctor(args as never);
  return out as unknown as LayerFactories;
}
