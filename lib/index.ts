// kernelnet: train convolutional networks from Node.js with a Keras-like Sequential API.
export { Sequential, loadModel } from './model.js';
export type { SequentialArgs, CompileArgs } from './model.js';
export type { FitArgs, EvaluateArgs, PredictArgs, History, Logs, Callback, FitParams } from './training.js';
export {
  Layer, Conv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, Dropout, Flatten, Reshape, Rescaling, Dense,
  Activation, LeakyReLU, BatchNormalization,
} from './layers.js';
export type {
  ActivationIdentifier, ActivationArgs, LeakyReLUArgs, Conv2DArgs, MaxPooling2DArgs, Pooling2DArgs, DropoutArgs, DenseArgs, LayerArgs,
  ReshapeArgs, RescalingArgs, BatchNormalizationArgs,
} from './layers.js';
export { Optimizer, SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta } from './optimizers.js';
export {
  CSVLogger, EarlyStopping, KerasCallback, LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau, TerminateOnNaN,
} from './callbacks.js';
export type { CSVLoggerArgs, EarlyStoppingArgs, ModelCheckpointArgs, ReduceLROnPlateauArgs } from './callbacks.js';
export type { OptimizerArgs, SGDArgs, AdamArgs, RMSpropArgs, AdagradArgs, AdadeltaArgs } from './optimizers.js';
export {
  Loss, CategoricalCrossentropy, SparseCategoricalCrossentropy, BinaryCrossentropy, MeanSquaredError, MeanAbsoluteError,
} from './losses.js';
export type { LossIdentifier } from './losses.js';
export { LearningRateSchedule, ExponentialDecay, PiecewiseConstantDecay, CosineDecay } from './schedules.js';
export type { ExponentialDecayArgs, PiecewiseConstantDecayArgs, CosineDecayArgs } from './schedules.js';
export { Tensor, tensor, toCategorical, concat, fromPixels, memory, backend, tidy, keep, dispose } from './tensor.js';
export type { NestedArray, TensorLike } from './tensor.js';
export { TrainingReport } from './report.js';
export type { TrainingReportArgs } from './report.js';
export { Dataset } from './data.js';
export type { Batch, BatchLike, FromTensorsOptions } from './data.js';
export { imageDatasetFromDirectory, ImageDataset } from './images.js';
export type { ImageDatasetOptions } from './images.js';
export type { FitDatasetArgs } from './training.js';
export { parseIdx, loadMnist, defaultMnistDir, MAX_IDX_BYTES } from './mnist.js';
export type { IdxArray, MnistSplit, LoadMnistOptions } from './mnist.js';
export {
  ERROR_CODES, KernelnetError, ValidationError, StateError, DeviceError, TrainingError, DataError, LoadError, IdxError,
  CheckpointError,
} from './errors.js';
export type { ErrorCode } from './errors.js';
export { nativeBinary } from './native.js';
export type { NativeBinary, BackendInfo, MemoryStats, DType, Device, Padding } from './native.js';

// The default export is this module's namespace, so `import kn from 'kernelnet'` gives what `import * as kn`
// does: TypeScript's bundler resolution accepts that spelling whether or not a default exists, so without one it
// would type-check and then fail in Node. (Typed without its own 'default', which TypeScript finds circular.)
import * as self from './index.js';
const kernelnet: Omit<typeof self, 'default'> = self;
export default kernelnet;
