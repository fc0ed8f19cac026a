// One error model. Every error kernelnet throws, from TypeScript or from the addon, is one of these classes with
// a `code` from ERROR_CODES: the addon is handed `makeError` when it loads (lib/core/native.ts), as better-sqlite3
// hands its error class to C++, so a failed guard in C++ throws the same class, code and message shape as a
// check in TypeScript. TypeScript owns the user-facing messages; C++ keeps terse guards so no call can crash.

/** Every code kernelnet's errors carry, the class that carries it, and what it means. */
export const ERROR_CODES = {
  /** A ValidationError: an argument or option has the wrong type or value, or is unknown. */
  ERR_KERNELNET_ARG: ['ValidationError', 'an argument or option has the wrong type or value, or is unknown'],
  /** A ValidationError: a tensor has the wrong shape, rank or dtype for the call. */
  ERR_KERNELNET_SHAPE: ['ValidationError', 'a tensor has the wrong shape, rank or dtype for the call'],
  /** A ValidationError: a Keras/tfjs option kernelnet knows but does not support yet. */
  ERR_KERNELNET_UNSUPPORTED: ['ValidationError', 'a Keras/tfjs option kernelnet knows but does not support yet (never silently ignored)'],
  /** A StateError: the object's state does not allow the call (e.g. fit before compile). */
  ERR_KERNELNET_STATE: ['StateError', 'the object is not in a state that allows the call (e.g. fit before compile, a call while recording)'],
  /** A StateError: a tensor, model or program was used after dispose(). */
  ERR_KERNELNET_DISPOSED: ['StateError', 'a tensor, model or program was used after dispose()'],
  /** A StateError: the model is already inside fit(). */
  ERR_KERNELNET_BUSY: ['StateError', 'the model is already inside fit()'],
  /** A DeviceError: tensors on different devices, or a device that is not usable. */
  ERR_KERNELNET_DEVICE: ['DeviceError', 'tensors on different devices or environments, or a device that is not usable'],
  /** A DeviceError: KERNELNET_BACKEND names a backend that cannot run here. */
  ERR_KERNELNET_BACKEND: ['DeviceError', 'KERNELNET_BACKEND names a backend that cannot run here'],
  /** A DeviceError: a host or GPU allocation failed. */
  ERR_KERNELNET_OOM: ['DeviceError', 'an allocation failed (host or GPU); the process and other tensors stay usable'],
  /** A DeviceError: a CUDA call failed (`cudaError` names it). */
  ERR_KERNELNET_CUDA: ['DeviceError', 'a CUDA call failed; `cudaError` holds the CUDA error name'],
  /** A DeviceError: data-parallel training's collective engine (Open MPI) is missing, or one of its calls failed. */
  ERR_KERNELNET_DISTRIBUTED: [
    'DeviceError',
    "data-parallel training's collective engine (Open MPI) is missing, or one of its calls failed (the message says which)",
  ],
  /** A DeviceError: a recorded step could not be captured as a CUDA graph. */
  ERR_KERNELNET_CAPTURE: ['DeviceError', 'a recorded step could not be captured as a CUDA graph'],
  /** A TrainingError: the training loss became NaN or infinite. */
  ERR_KERNELNET_NON_FINITE: ['TrainingError', 'the training loss became NaN or infinite (`epoch` and `step` say where)'],
  /** A DataError: a data set could not be found or read. */
  ERR_KERNELNET_DATA: ['DataError', 'a data set could not be found or read'],
  /** An IdxError: a malformed IDX (MNIST) file. */
  ERR_KERNELNET_IDX: ['IdxError', 'a malformed IDX (MNIST) file (`file` names it)'],
  /** A CheckpointError: a checkpoint (or an exported model) cannot be written, or is corrupt or does not match. */
  ERR_KERNELNET_CHECKPOINT: [
    'CheckpointError',
    'a checkpoint (or an exported model) cannot be written, or is corrupt or does not match (`file` names it)',
  ],
  /** A LoadError: the native addon could not be loaded. */
  ERR_KERNELNET_LOAD: ['LoadError', 'the native addon could not be loaded (the message lists what was tried)'],
  /** A KernelnetError: a bug in kernelnet, please report it. */
  ERR_KERNELNET_INTERNAL: ['KernelnetError', 'a broken internal precondition: a bug in kernelnet, please report it'],
} as const;

/** One of the codes of ERROR_CODES, e.g. 'ERR_KERNELNET_ARG': what `KernelnetError.code` holds. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The base class of every kernelnet error. Extra properties (epoch, file, cudaError, ...) are set on it. */
export class KernelnetError extends Error {
  /** What went wrong, as a key of ERROR_CODES (which gives the class and meaning). */
  readonly code: ErrorCode;
  constructor(message: string, code?: ErrorCode, props?: Record<string, unknown>) {
    super(message);
    this.name = new.target.name;
    this.code = code ?? (new.target as unknown as { defaultCode?: ErrorCode }).defaultCode ?? 'ERR_KERNELNET_INTERNAL';
    if (props) Object.assign(this, props);
  }
}

/** A wrong argument, option, shape or dtype: `Expected <what> for <name> but received <value>`. */
export class ValidationError extends KernelnetError {
  /** The code an error of this class carries when none is given: ERR_KERNELNET_ARG. */
  static readonly defaultCode: ErrorCode = 'ERR_KERNELNET_ARG';
}

/** A call the object's state does not allow (not compiled, disposed, busy in fit, recording). */
export class StateError extends KernelnetError {
  /** The code an error of this class carries when none is given: ERR_KERNELNET_STATE. */
  static readonly defaultCode: ErrorCode = 'ERR_KERNELNET_STATE';
}

/** A device or backend problem: mixed devices, an unusable GPU, out of memory, a failed CUDA call. */
export class DeviceError extends KernelnetError {
  /** The code an error of this class carries when none is given: ERR_KERNELNET_DEVICE. */
  static readonly defaultCode: ErrorCode = 'ERR_KERNELNET_DEVICE';
  /** For ERR_KERNELNET_CUDA (and GPU out-of-memory): the CUDA error's name, e.g. 'cudaErrorIllegalAddress'. */
  declare readonly cudaError?: string;
}

/** Training went wrong numerically (a non-finite loss). */
export class TrainingError extends KernelnetError {
  /** The code an error of this class carries when none is given: ERR_KERNELNET_NON_FINITE. */
  static readonly defaultCode: ErrorCode = 'ERR_KERNELNET_NON_FINITE';
  /** The epoch (1-based, as fit logs it) in which the loss became non-finite. */
  declare readonly epoch?: number;
  /** The step (batch, 1-based) of that epoch whose loss was the first non-finite one. */
  declare readonly step?: number;
}

/** A data set could not be found or read. */
export class DataError extends KernelnetError {
  /** The code an error of this class carries when none is given: ERR_KERNELNET_DATA. */
  static readonly defaultCode: ErrorCode = 'ERR_KERNELNET_DATA';
}

/** The native addon could not be loaded. */
export class LoadError extends KernelnetError {
  /** The code an error of this class carries when none is given: ERR_KERNELNET_LOAD. */
  static readonly defaultCode: ErrorCode = 'ERR_KERNELNET_LOAD';
}

/** A malformed IDX (MNIST) file; `file` names it. */
export class IdxError extends DataError {
  constructor(
    /** The path of the malformed file (or what parseIdx was told to call the data). */
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`, 'ERR_KERNELNET_IDX');
  }
}

/**
 * A checkpoint that cannot be written, or is corrupt or does not match the model; `file` names it, and `cause`
 * holds the error underneath where there was one (a file system error, a layer's refusal of a corrupt config).
 */
export class CheckpointError extends KernelnetError {
  constructor(
    /** The path of the checkpoint or model file. */
    readonly file: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${problem}`, 'ERR_KERNELNET_CHECKPOINT');
    // Set as Error's own constructor sets it (not enumerable), so it prints as [cause] and not as a field.
    if (options && 'cause' in options) Object.defineProperty(this, 'cause', { value: options.cause, writable: true, configurable: true });
  }
}

// IdxError and CheckpointError need the file they are about; makeError gives their parent classes instead.
const CLASSES = {
  KernelnetError,
  ValidationError,
  StateError,
  DeviceError,
  TrainingError,
  DataError,
  LoadError,
  IdxError: DataError,
  CheckpointError: KernelnetError,
} as const;

/**
 * Makes the error for a code, of the class the table names (IdxError and CheckpointError, which carry a file,
 * are made where they are thrown). Also what the addon calls for every error it throws.
 */
export function makeError(code: string, message: string, props?: Record<string, unknown>): KernelnetError {
  const known = (code in ERROR_CODES ? code : 'ERR_KERNELNET_INTERNAL') as ErrorCode;
  const name = ERROR_CODES[known][0];
  const Class = (CLASSES as Record<string, typeof KernelnetError>)[name] ?? KernelnetError;
  return new Class(known === code ? message : `${message} (${code})`, known, props);
}

/** An operation the object's state does not allow yet (or any more), e.g. fit before compile. */
export function stateError(message: string, code: ErrorCode = 'ERR_KERNELNET_STATE'): StateError {
  return new StateError(message, code);
}
