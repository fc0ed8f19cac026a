// The acceptance models' architectures, uncompiled: examples/mnist_cnn.ts and examples/keras_models.ts train them,
// and tests and benches build exactly the same models from here (same layers, options, names and seed).
//   mnist_cnn    The Keras example mnist_cnn.py: two convolutions, max pooling, dropout, Dense 128, softmax.
// Sequential:
//   lenet        LeNet-5 as LeCun drew it: Conv2D(6, 5x5, tanh, 'same') - AveragePooling2D - Conv2D(16, 5x5, tanh) -
//                AveragePooling2D - Flatten - Dense(120, tanh) - Dense(84, tanh) - Dense(10, softmax).
//   bncnn        A BatchNorm CNN: [Conv2D(no bias) - BatchNormalization - Activation('relu')] blocks, MaxPooling2D,
//                GlobalAveragePooling2D, Dropout, Dense softmax.
//   binary       A binary classifier of two digits (3 against 8) with a sigmoid head.
// Functional (input(), layer.apply(), model()):
//   resnet       A small ResNet: a stem Conv2D-BN-relu, residual blocks conv-BN-relu-conv-BN + Add (a 1x1 strided
//                projection where the shape changes), global average pooling, softmax.
//   inception    An Inception-style block: Concatenate of 1x1, 3x3 and pooled branches, twice.
//   twoinput     An image and a 4-feature vector (the ink in each quadrant) through Dense, concatenated.
//   twooutput    One body, two heads: the class ('digit') and the image's ink mass ('ink').
//   autoencoder  A convolutional autoencoder: strided Conv2D down to 7x7x8, UpSampling2D back.
//   transfer     The ResNet's body, frozen, under a new head for digits 5-9 (buildTransfer: the body first trained
//                on digits 0-4 under its own head).
// Every model takes 28x28x1 images (MNIST, pixels in [0, 1]).
import {
  Sequential,
  Conv2D,
  AveragePooling2D,
  MaxPooling2D,
  GlobalAveragePooling2D,
  BatchNormalization,
  Activation,
  Dropout,
  Flatten,
  Dense,
  Rescaling,
  Add,
  Concatenate,
  UpSampling2D,
  input,
  model as functional,
  type LayersModel,
  type Model,
  type SymbolicTensor,
} from '../lib/index.js';

/** The names of the acceptance models, as buildModel takes them. */
export const ZOO = ['mnist_cnn', 'lenet', 'bncnn', 'binary', 'resnet', 'inception', 'twoinput', 'twooutput', 'autoencoder', 'transfer'] as const;
export type ZooName = (typeof ZOO)[number];

/** The acceptance model `name`, uncompiled, its weights (made at compile or first use) initialised from `seed`. */
export function buildModel(name: ZooName, seed: number): LayersModel {
  switch (name) {
    case 'mnist_cnn':
      return buildMnistCnn(seed);
    case 'lenet':
      return lenet(seed);
    case 'bncnn':
      return bncnn(seed);
    case 'binary':
      return binary(seed);
    case 'resnet':
      return resnet(seed);
    case 'inception':
      return inception(seed);
    case 'twoinput':
      return twoInput(seed);
    case 'twooutput':
      return twoOutput(seed);
    case 'autoencoder':
      return autoencoder(seed);
    case 'transfer':
      return transfer(seed);
    default:
      throw new Error(`buildModel: expected one of ${ZOO.join(', ')} but received '${String(name)}'`);
  }
}

// input image dimensions
const [imgRows, imgCols] = [28, 28];
const numClasses = 10;

/**
 * The seed model, the Keras example mnist_cnn.py line for line: Conv2D(32, 3x3, relu) - Conv2D(64, 3x3, relu) -
 * MaxPooling2D(2x2) - Dropout(0.25) - Flatten - Dense(128, relu) - Dropout(0.5) - Dense(10, softmax); Sequential's
 * default name. `seed` undefined: a random one. `rescaling`: a Rescaling(1/255) layer first, for image files' 0-255
 * pixels (as Keras's tutorials do). `device`: Sequential's (default: the environment's backend).
 */
export function buildMnistCnn(seed?: number, { rescaling = false, device }: { rescaling?: boolean; device?: string } = {}): Sequential {
  const inputShape = [imgRows, imgCols, 1];
  const model = new Sequential({ seed, device });
  if (rescaling) model.add(new Rescaling({ scale: 1 / 255, inputShape })); // image files hold 0-255 pixels
  model.add(new Conv2D({ filters: 32, kernelSize: [3, 3], activation: 'relu', inputShape }));
  model.add(new Conv2D({ filters: 64, kernelSize: [3, 3], activation: 'relu' }));
  model.add(new MaxPooling2D({ poolSize: [2, 2] }));
  model.add(new Dropout({ rate: 0.25 }));
  model.add(new Flatten());
  model.add(new Dense({ units: 128, activation: 'relu' }));
  model.add(new Dropout({ rate: 0.5 }));
  model.add(new Dense({ units: numClasses, activation: 'softmax' }));
  return model;
}

/**
 * LeNet-5 as LeCun drew it ('lenet5'): Conv2D(6, 5x5, tanh, 'same') - AveragePooling2D - Conv2D(16, 5x5, tanh) -
 * AveragePooling2D - Flatten - Dense(120, tanh) - Dense(84, tanh) - Dense(10, softmax).
 */
function lenet(seed: number): Sequential {
  return new Sequential({
    seed,
    name: 'lenet5',
    layers: [
      new Conv2D({ filters: 6, kernelSize: 5, activation: 'tanh', padding: 'same', inputShape: [28, 28, 1] }),
      new AveragePooling2D({ poolSize: 2 }),
      new Conv2D({ filters: 16, kernelSize: 5, activation: 'tanh' }),
      new AveragePooling2D({ poolSize: 2 }),
      new Flatten(),
      new Dense({ units: 120, activation: 'tanh' }),
      new Dense({ units: 84, activation: 'tanh' }),
      new Dense({ units: 10, activation: 'softmax' }),
    ],
  });
}

/** The BatchNorm CNN's block: Conv2D(3x3, 'same', no bias) - BatchNormalization - Activation('relu'). */
const bnBlock = (filters: number, first = false) => [
  new Conv2D({ filters, kernelSize: 3, padding: 'same', useBias: false, ...(first ? { inputShape: [28, 28, 1] } : {}) }),
  new BatchNormalization(),
  new Activation({ activation: 'relu' }),
];

/**
 * A BatchNorm CNN ('bn_cnn'): two blocks of 32 filters, MaxPooling2D, two of 64, MaxPooling2D,
 * GlobalAveragePooling2D, Dropout(0.3), Dense(10, softmax).
 */
function bncnn(seed: number): Sequential {
  return new Sequential({
    seed,
    name: 'bn_cnn',
    layers: [
      ...bnBlock(32, true),
      ...bnBlock(32),
      new MaxPooling2D({ poolSize: 2 }),
      ...bnBlock(64),
      ...bnBlock(64),
      new MaxPooling2D({ poolSize: 2 }),
      new GlobalAveragePooling2D(),
      new Dropout({ rate: 0.3 }),
      new Dense({ units: 10, activation: 'softmax' }),
    ],
  });
}

/**
 * A binary classifier of two digits, 3 against 8 ('three_or_eight'): Conv2D(16, 3x3, relu) - MaxPooling2D - Flatten -
 * Dense(32, relu) - Dense(1, sigmoid).
 */
function binary(seed: number): Sequential {
  return new Sequential({
    seed,
    name: 'three_or_eight',
    layers: [
      new Conv2D({ filters: 16, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1] }),
      new MaxPooling2D({ poolSize: 2 }),
      new Flatten(),
      new Dense({ units: 32, activation: 'relu' }),
      new Dense({ units: 1, activation: 'sigmoid' }),
    ],
  });
}

/**
 * conv-BN(-relu): the ResNet's unit. BatchNormalization's momentum is 0.9 (Keras's default is 0.99): with runs
 * of two epochs the moving variance, which starts at 1 while these activations' variance is near 0.01, must
 * settle within a few hundred steps, or inference (and a frozen base) normalises with a stale scale.
 */
const convBn = (t: SymbolicTensor, filters: number, kernelSize: number, strides = 1, relu = true) => {
  const z = new BatchNormalization({ momentum: 0.9 }).apply(new Conv2D({ filters, kernelSize, strides, padding: 'same', useBias: false }).apply(t));
  return relu ? new Activation({ activation: 'relu' }).apply(z) : z;
};

/** A residual block: conv-BN-relu-conv-BN + the shortcut (a 1x1 strided projection where the shape changes), then relu. */
const residual = (t: SymbolicTensor, filters: number, strides = 1) => {
  const body = convBn(convBn(t, filters, 3, strides), filters, 3, 1, false);
  const shortcut = strides !== 1 || t.shape.at(-1) !== filters ? convBn(t, filters, 1, strides, false) : t;
  return new Activation({ activation: 'relu' }).apply(new Add().apply([body, shortcut]));
};

/** The ResNet's body for 28x28 digits: stem, stages of 16 and 32 filters, global average pooling. */
function resnetBody(inp: SymbolicTensor): SymbolicTensor {
  let t = convBn(inp, 16, 3);
  t = residual(residual(t, 16), 16);
  t = residual(residual(t, 32, 2), 32);
  return new GlobalAveragePooling2D().apply(t);
}

/** A small ResNet ('resnet', input 'image'): resnetBody under Dense(10, softmax). */
function resnet(seed: number): LayersModel {
  const inp = input({ shape: [28, 28, 1], name: 'image' });
  return functional({ inputs: inp, outputs: new Dense({ units: 10, activation: 'softmax' }).apply(resnetBody(inp)), name: 'resnet', seed });
}

/** An Inception-style block: Concatenate of a 1x1 branch, a 1x1-3x3 branch and a 3x3 max-pooled 1x1 branch, `f` filters each. */
const inceptionBlock = (t: SymbolicTensor, f: number) =>
  new Concatenate().apply([
    convBn(t, f, 1),
    convBn(convBn(t, f, 1), f, 3),
    convBn(new MaxPooling2D({ poolSize: 3, strides: 1, padding: 'same' }).apply(t), f, 1),
  ]);

/**
 * An Inception-style network ('inception', input 'image'): a conv-BN-relu stem, MaxPooling2D, a block of 16
 * filters, MaxPooling2D, a block of 32, GlobalAveragePooling2D, Dense(10, softmax).
 */
function inception(seed: number): LayersModel {
  const inp = input({ shape: [28, 28, 1], name: 'image' });
  let t = new MaxPooling2D({ poolSize: 2 }).apply(convBn(inp, 16, 3));
  t = new MaxPooling2D({ poolSize: 2 }).apply(inceptionBlock(t, 16));
  t = new GlobalAveragePooling2D().apply(inceptionBlock(t, 32));
  return functional({ inputs: inp, outputs: new Dense({ units: 10, activation: 'softmax' }).apply(t), name: 'inception', seed });
}

/**
 * Two inputs ('two_input'): the image 'image' through Conv2D-MaxPooling2D-Flatten-Dense(64), the 4-feature vector
 * 'quadrants' (the ink in each quadrant) through Dense(8), concatenated under Dense(10, softmax).
 */
function twoInput(seed: number): LayersModel {
  const image = input({ shape: [28, 28, 1], name: 'image' }),
    features = input({ shape: [4], name: 'quadrants' });
  const seen = new Flatten().apply(
    new MaxPooling2D({ poolSize: 2 }).apply(new Conv2D({ filters: 16, kernelSize: 3, activation: 'relu' }).apply(image)),
  );
  const joined = new Concatenate().apply([
    new Dense({ units: 64, activation: 'relu' }).apply(seen),
    new Dense({ units: 8, activation: 'relu' }).apply(features),
  ]);
  return functional({ inputs: [image, features], outputs: new Dense({ units: 10, activation: 'softmax' }).apply(joined), name: 'two_input', seed });
}

/**
 * One body, two heads ('two_output', input 'image'): Conv2D-MaxPooling2D-Flatten-Dense(64), then the class
 * ('digit', Dense(10, softmax)) and the image's ink mass ('ink', Dense(1)).
 */
function twoOutput(seed: number): LayersModel {
  const image = input({ shape: [28, 28, 1], name: 'image' });
  const body = new Dense({ units: 64, activation: 'relu' }).apply(
    new Flatten().apply(new MaxPooling2D({ poolSize: 2 }).apply(new Conv2D({ filters: 16, kernelSize: 3, activation: 'relu' }).apply(image))),
  );
  const digit = new Dense({ units: 10, activation: 'softmax', name: 'digit' }).apply(body),
    mass = new Dense({ units: 1, name: 'ink' }).apply(body);
  return functional({ inputs: image, outputs: [digit, mass], name: 'two_output', seed });
}

/**
 * A convolutional autoencoder ('autoencoder', input 'image'): strided Conv2D down to 14x14x16 and 7x7x8 (the
 * code), UpSampling2D-Conv2D back to 14x14x16 and 28x28x1 (sigmoid).
 */
function autoencoder(seed: number): LayersModel {
  const image = input({ shape: [28, 28, 1], name: 'image' });
  let t = new Conv2D({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(image); // 14x14
  t = new Conv2D({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(t); // 7x7x8: the code
  t = new Conv2D({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(new UpSampling2D({ size: 2 }).apply(t));
  t = new Conv2D({ filters: 1, kernelSize: 3, padding: 'same', activation: 'sigmoid' }).apply(new UpSampling2D({ size: 2 }).apply(t));
  return functional({ inputs: image, outputs: t, name: 'autoencoder', seed });
}

/** The models of the transfer run, which share the ResNet's body (its layers and, once made, its weights). */
export interface Transfer {
  /** The body alone ('resnet_body', input 'image', output the pooled features): resnetBody as a model. */
  base: Model;
  /** The body under a Dense(5, softmax) head ('resnet_0_4'), to train on digits 0-4 first. */
  first: LayersModel;
  /**
   * Freezes the base (base.trainable = false) and returns the final model ('transfer_5_9'): the base applied to
   * a new input 'image', under a new Dense(5, softmax) head for digits 5-9. Call it after training `first`.
   */
  build(): LayersModel;
}

/**
 * The transfer run's models, all with `seed`: the ResNet's body as the base model, the first model that trains it
 * on digits 0-4, and build(), the final model with the base frozen. The models share layers: a shared layer's
 * weights are freed when the last model holding it is disposed.
 */
export function buildTransfer(seed: number): Transfer {
  const { inp, base, bodyOut } = transferBase(seed);
  const first = functional({ inputs: inp, outputs: new Dense({ units: 5, activation: 'softmax' }).apply(bodyOut), name: 'resnet_0_4', seed });
  return { base, first, build: () => transferFinal(base, seed) };
}

/** The base model of the transfer run, the ResNet's body on an input 'image' ('resnet_body'), with its input and output. */
function transferBase(seed: number): { inp: SymbolicTensor; base: Model; bodyOut: SymbolicTensor } {
  const inp = input({ shape: [28, 28, 1], name: 'image' });
  const bodyOut = resnetBody(inp);
  return { inp, base: functional({ inputs: inp, outputs: bodyOut, name: 'resnet_body', seed }), bodyOut };
}

/** `base` frozen, applied to a new input 'image' under a new Dense(5, softmax) head: 'transfer_5_9'. */
function transferFinal(base: Model, seed: number): LayersModel {
  base.trainable = false;
  const inp = input({ shape: [28, 28, 1], name: 'image' });
  const features = base.apply(inp) as SymbolicTensor;
  return functional({ inputs: inp, outputs: new Dense({ units: 5, activation: 'softmax' }).apply(features), name: 'transfer_5_9', seed });
}

/**
 * The transfer run's final model built directly, without the first run on digits 0-4: the ResNet's body, frozen,
 * under a Dense(5, softmax) head ('transfer_5_9'). Its initial weights are those buildTransfer's models start
 * from (the body's made first, in the same order). The base model is disposed at once (it holds no weights yet):
 * the returned model holds the body's layers alone, so its dispose() frees them.
 */
function transfer(seed: number): LayersModel {
  const { base } = transferBase(seed);
  const model = transferFinal(base, seed);
  base.dispose();
  return model;
}
