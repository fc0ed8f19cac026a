// kernelnet: train convolutional networks from Node.js with a Keras-like Sequential API.
export { LayersModel, Sequential } from './models/model.js';
export type { SequentialArgs, CompileArgs, ModelData, ExportArgs } from './models/model.js';
export { Model, model, loadModel } from './models/functional.js';
export type { ModelArgs } from './models/functional.js';
export { SymbolicTensor, Input, InputLayer, input } from './engine/symbolic.js';
export type { InputArgs, AppliedModel } from './engine/symbolic.js';
export { Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate } from './layers/merge.js';
export type { ConcatenateArgs } from './layers/merge.js';
export type { FitArgs, EvaluateArgs, PredictArgs, History, Logs, Callback, FitParams } from './engine/training.js';
export type { Network } from './engine/network.js';
export type { ProgressStream } from './engine/progress.js';
export {
  Layer,
  Conv2D,
  MaxPooling2D,
  AveragePooling2D,
  GlobalAveragePooling2D,
  GlobalMaxPooling2D,
  ZeroPadding2D,
  UpSampling2D,
  Dropout,
  Flatten,
  Reshape,
  Rescaling,
  Dense,
  Activation,
  LeakyReLU,
  BatchNormalization,
} from './layers/layers.js';
export type {
  ActivationIdentifier,
  ActivationArgs,
  LeakyReLUArgs,
  Conv2DArgs,
  MaxPooling2DArgs,
  Pooling2DArgs,
  DropoutArgs,
  DenseArgs,
  LayerArgs,
  DisposeResult,
  ReshapeArgs,
  RescalingArgs,
  BatchNormalizationArgs,
  ZeroPadding2DArgs,
  UpSampling2DArgs,
  Initializer,
} from './layers/layers.js';
export { TfjsInitializer } from './layers/initializers.js';
export type { LossKind } from './engine/losses.js';
export type { AxisArg, TopK } from './ops/methods.js';
export { Optimizer, SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta } from './engine/optimizers.js';
export {
  CSVLogger,
  EarlyStopping,
  KerasCallback,
  LearningRateScheduler,
  ModelCheckpoint,
  ReduceLROnPlateau,
  TerminateOnNaN,
} from './callbacks/callbacks.js';
export type { CSVLoggerArgs, EarlyStoppingArgs, ModelCheckpointArgs, ReduceLROnPlateauArgs, Mode as MonitorMode } from './callbacks/callbacks.js';
export type { OptimizerArgs, SGDArgs, AdamArgs, RMSpropArgs, AdagradArgs, AdadeltaArgs } from './engine/optimizers.js';
export {
  Loss,
  CategoricalCrossentropy,
  SparseCategoricalCrossentropy,
  BinaryCrossentropy,
  MeanSquaredError,
  MeanAbsoluteError,
} from './engine/losses.js';
export type { LossIdentifier, LossArgs } from './engine/losses.js';
export { LearningRateSchedule, ExponentialDecay, PiecewiseConstantDecay, CosineDecay } from './engine/schedules.js';
/** Data-parallel training across processes (Keras 3's keras.distribution): initialize, DataParallel, setDistribution. */
export * as distribution from './distribution.js';
export type { ExponentialDecayArgs, PiecewiseConstantDecayArgs, CosineDecayArgs } from './engine/schedules.js';
// tfjs's tensor methods (t.add(b), t.mean(), ...) on every Tensor (lib/ops/methods.ts).
import './ops/methods.js';
import './ops/eager.js';
export { Tensor, tensor, toCategorical, concat, fromPixels, memory, backend, tidy, keep, dispose } from './core/tensor.js';
export type { NestedArray, TensorLike } from './core/tensor.js';
export { TrainingReport } from './callbacks/report.js';
export type { TrainingReportArgs } from './callbacks/report.js';
export { Dataset } from './data/data.js';
export type { Batch, BatchLike, BatchTensors, MultiBatch, FromTensorsOptions } from './data/data.js';
export { imageDatasetFromDirectory, ImageDataset } from './data/images.js';
export type { ImageDatasetOptions } from './data/images.js';
export type { FitDatasetArgs } from './engine/training.js';
export { parseIdx, loadMnist, defaultMnistDir, MAX_IDX_BYTES } from './data/mnist.js';
export type { IdxArray, MnistSplit, LoadMnistOptions } from './data/mnist.js';
export {
  ERROR_CODES,
  KernelnetError,
  ValidationError,
  StateError,
  DeviceError,
  TrainingError,
  DataError,
  LoadError,
  IdxError,
  CheckpointError,
} from './core/errors.js';
export type { ErrorCode } from './core/errors.js';
export { nativeBinary } from './core/native.js';
export type { NativeBinary, BackendInfo, MemoryStats, DType, Device, Padding, NativeActivation } from './core/native.js';

// The default export is this module's namespace, so `import kn from 'kernelnet'` gives what `import * as kn`
// does: TypeScript's bundler resolution accepts that spelling whether or not a default exists, so without one it
// would type-check and then fail in Node. (Typed without its own 'default', which TypeScript finds circular.)
import * as self from './index.js';
/** The whole API as one object, for `import kn from 'kernelnet'`: the same as `import * as kn from 'kernelnet'`. */
const kernelnet: Omit<typeof self, 'default'> = self;
export default kernelnet;
