// Keras's built-in callbacks, with Keras 3's semantics (keras/src/callbacks/*.py) and tfjs-style option
// spellings: EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, LearningRateScheduler, CSVLogger. Each is a
// Callback of lib/engine/training.ts; fit() hands it the model (setModel) before training. Where Keras only warns
// (a monitored quantity missing from the logs), these refuse with a ValidationError instead: nothing is
// silently ignored.
import { closeSync, openSync, writeSync } from 'node:fs';
import { ValidationError } from '../core/errors.js';
import type { Sequential } from '../models/model.js';
import { dispose, type Tensor } from '../core/tensor.js';
import type { Callback, FitParams, Logs } from '../engine/training.js';
import { checkOptions, fail, nonNegativeInt, numberIn, oneOf } from '../core/validate.js';

/**
 * Whether the monitored quantity should go down ('min') or up ('max'); 'auto' (Keras's default) takes up for
 * accuracy ('acc', 'accuracy' and their 'val_' forms), down for 'loss', and refuses any other name.
 */
export type Mode = 'auto' | 'min' | 'max';

/** Keras's Callback base class: the model and the fit parameters, set by fit() before training. */
export class KerasCallback implements Callback {
  /** The model being trained, set by fit() (null before). */
  model: Sequential | null = null;
  /** fit's parameters (epochs, steps, batchSize, ...), set by fit() (null before). */
  params: FitParams | null = null;
  setModel(model: Sequential): void {
    this.model = model;
  }
  setParams(params: FitParams): void {
    this.params = params;
  }
  /** The model being trained; throws ERR_KERNELNET_STATE outside fit(). */
  protected get fitModel(): Sequential {
    if (!this.model) throw new ValidationError(`${this.constructor.name}: used outside fit()`, 'ERR_KERNELNET_STATE');
    return this.model;
  }
}

/** logs[monitor], refused (not warned about, as Keras does) when the logs do not have it. */
function monitored(who: string, monitor: string, logs: Logs): number {
  const v = logs[monitor];
  if (v === undefined)
    throw new ValidationError(
      `${who} monitors '${monitor}', which the logs do not have (they have ${Object.keys(logs).join(', ')})` +
        (monitor.startsWith('val_') ? '; pass validationData or validationSplit to fit, or monitor a training quantity' : ''),
    );
  return v;
}

/** Whether larger is better for a monitored quantity: Keras's 'auto' mode (accuracy up, loss down). */
function increasing(who: string, mode: Mode, monitor: string): boolean {
  if (mode !== 'auto') return mode === 'max';
  const metric = monitor.replace(/^val_/, '');
  if (metric === 'loss') return false;
  if (metric === 'accuracy' || metric === 'acc') return true;
  throw new ValidationError(`${who}: cannot tell whether '${monitor}' should go up or down; pass mode: 'min' or 'max'`);
}

/** EarlyStopping's options (Keras's arguments, camelCased). */
export interface EarlyStoppingArgs {
  /** Default 'val_loss'. */
  monitor?: string;
  /** An absolute change below minDelta is no improvement (default 0). */
  minDelta?: number;
  /** Epochs without improvement before stopping (default 0). */
  patience?: number;
  /** 1 logs when training stops early and when the best weights are restored (default 0). */
  verbose?: 0 | 1;
  /** Whether the quantity should go down or up (default 'auto'). */
  mode?: Mode;
  /** Training stops unless the quantity does better than this (default none). */
  baseline?: number;
  /** Restore the weights of the best epoch when training ends, whether or not it stopped early (default false). */
  restoreBestWeights?: boolean;
  /** Epochs to wait before monitoring (default 0). */
  startFromEpoch?: number;
}

/** Stops training when a monitored quantity has stopped improving (Keras's EarlyStopping). */
export class EarlyStopping extends KerasCallback {
  /** The log key watched (default 'val_loss'). */
  readonly monitor: string;
  /** The smallest change that counts as an improvement, as an absolute value (default 0). */
  readonly minDelta: number;
  /** Epochs without improvement before stopping (default 0). */
  readonly patience: number;
  /** 0 or 1: whether stopping and restoring are logged. */
  readonly verbose: number;
  /** Whether the quantity should go down or up (default 'auto'). */
  readonly mode: Mode;
  /** The value an improvement must also beat to reset the patience count (undefined: none). */
  readonly baseline: number | undefined;
  /** Whether the best epoch's weights are restored when training ends (default false). */
  readonly restoreBestWeights: boolean;
  /** Epochs to wait before monitoring (default 0). */
  readonly startFromEpoch: number;
  /** The epoch (0-based) training stopped at, or 0 when it did not stop early. */
  stoppedEpoch = 0;
  /** The epoch (0-based) with the best value so far. */
  bestEpoch = 0;
  /** The best value of the monitored quantity so far. */
  best = Infinity;
  private wait = 0;
  private up = false;
  private bestWeights: Tensor[] | null = null;

  constructor(args: EarlyStoppingArgs = {}) {
    super();
    args = checkOptions(args, {
      what: 'EarlyStopping args',
      supported: ['monitor', 'minDelta', 'patience', 'verbose', 'mode', 'baseline', 'restoreBestWeights', 'startFromEpoch'],
    });
    this.monitor = args.monitor ?? 'val_loss';
    if (typeof this.monitor !== 'string') fail('a log key', 'monitor', this.monitor);
    this.minDelta = Math.abs(numberIn(args.minDelta ?? 0, 'minDelta', -Number.MAX_VALUE, Number.MAX_VALUE));
    this.patience = nonNegativeInt(args.patience ?? 0, 'patience');
    this.verbose = oneOf(String(args.verbose ?? 0), 'verbose', ['0', '1'] as const) === '1' ? 1 : 0;
    this.mode = oneOf(args.mode ?? 'auto', 'mode', ['auto', 'min', 'max'] as const);
    this.baseline = args.baseline === undefined ? undefined : numberIn(args.baseline, 'baseline', -Number.MAX_VALUE, Number.MAX_VALUE);
    this.restoreBestWeights = args.restoreBestWeights ?? false;
    if (typeof this.restoreBestWeights !== 'boolean') fail('a boolean', 'restoreBestWeights', this.restoreBestWeights);
    this.startFromEpoch = nonNegativeInt(args.startFromEpoch ?? 0, 'startFromEpoch');
  }

  private improves(value: number, reference: number): boolean {
    return this.up ? value - this.minDelta > reference : value + this.minDelta < reference;
  }

  /** Resets the state and resolves 'auto' mode. */
  onTrainBegin(): void {
    this.up = increasing('EarlyStopping', this.mode, this.monitor);
    this.wait = 0;
    this.stoppedEpoch = 0;
    this.bestEpoch = 0;
    this.best = this.up ? -Infinity : Infinity;
    this.keepBest(null);
  }

  /** Compares the monitored value with the best; sets model.stopTraining after `patience` epochs without improvement. */
  onEpochEnd(epoch: number, logs: Logs): void {
    const current = monitored('EarlyStopping', this.monitor, logs);
    if (epoch < this.startFromEpoch) return;
    if (this.restoreBestWeights && !this.bestWeights) {
      this.keepBest(this.fitModel.getWeights()); // until an epoch improves, the first monitored one is the best
      this.bestEpoch = epoch;
    }
    this.wait++;
    if (this.improves(current, this.best)) {
      this.best = current;
      this.bestEpoch = epoch;
      if (this.restoreBestWeights) this.keepBest(this.fitModel.getWeights());
      // Only restart waiting when the baseline is beaten too.
      if (this.baseline === undefined || this.improves(current, this.baseline)) this.wait = 0;
      return;
    }
    if (this.wait >= this.patience && epoch > 0) {
      this.stoppedEpoch = epoch;
      this.fitModel.stopTraining = true;
    }
  }

  /** Restores the best weights when restoreBestWeights is set. */
  onTrainEnd(): void {
    if (this.stoppedEpoch > 0 && this.verbose) console.log(`Epoch ${this.stoppedEpoch + 1}: early stopping`);
    if (this.restoreBestWeights && this.bestWeights) {
      if (this.verbose) console.log(`Restoring model weights from the end of the best epoch: ${this.bestEpoch + 1}.`);
      this.fitModel.setWeights(this.bestWeights);
    }
    this.keepBest(null);
  }

  private keepBest(weights: Tensor[] | null): void {
    if (this.bestWeights) dispose(this.bestWeights);
    this.bestWeights = weights;
  }
}

/** ModelCheckpoint's options (Keras's arguments, camelCased). */
export interface ModelCheckpointArgs {
  /** Where to save; `{epoch}`, `{epoch:02d}`, `{val_loss:.4f}` and the like are filled in from the epoch's logs. */
  filepath: string;
  /** Default 'val_loss'. */
  monitor?: string;
  /** 1 logs each save, and with saveBestOnly each epoch that did not improve (default 0). */
  verbose?: 0 | 1;
  /** Save only when the monitored quantity improves on the best so far (default false). */
  saveBestOnly?: boolean;
  /** saveWeights() instead of save() (default false). */
  saveWeightsOnly?: boolean;
  /** With saveBestOnly, whether the quantity should go down or up (default 'auto'). */
  mode?: Mode;
  /** Only 'epoch' (the default): checkpoints are written at epoch ends. */
  saveFreq?: 'epoch';
  /** With saveBestOnly, the value the first checkpoint must beat (default none). */
  initialValueThreshold?: number;
}

/** Python's str.format for the placeholders checkpoint paths use: {key}, {key:02d}, {key:.4f}. */
function formatPath(template: string, values: Record<string, number>): string {
  return template.replace(/\{(\w+)(?::([^}]*))?\}/g, (_, key: string, spec: string | undefined) => {
    const v = values[key];
    if (v === undefined)
      throw new ValidationError(
        `ModelCheckpoint: the filepath names {${key}}, which the logs do not have (they have ${Object.keys(values).join(', ')})`,
      );
    if (!spec) return String(v);
    const m = /^(0?)(\d*)(?:\.(\d+))?([dfe])$/.exec(spec);
    if (!m) throw new ValidationError(`ModelCheckpoint: format spec '${spec}' of {${key}} is not one of d, 0Nd, .Nf, .Ne`);
    const [, zero, width, precision, type] = m;
    const text = type === 'd' ? String(Math.trunc(v)) : type === 'f' ? v.toFixed(Number(precision ?? 6)) : v.toExponential(Number(precision ?? 6));
    return width ? text.padStart(Number(width), zero ? '0' : ' ') : text;
  });
}

/** Saves the model (or its weights) at epoch ends, atomically like save() (Keras's ModelCheckpoint). */
export class ModelCheckpoint extends KerasCallback {
  /** The path template; placeholders such as `{epoch:02d}` are filled in from the epoch's logs. */
  readonly filepath: string;
  /** The log key saveBestOnly compares (default 'val_loss'). */
  readonly monitor: string;
  /** 0 or 1: whether saves are logged. */
  readonly verbose: number;
  /** Whether to save only when the monitored quantity improves (default false). */
  readonly saveBestOnly: boolean;
  /** Whether to save the weights only (saveWeights()) rather than the model (default false). */
  readonly saveWeightsOnly: boolean;
  /** Whether the quantity should go down or up (default 'auto'). */
  readonly mode: Mode;
  /** The best monitored value so far (NaN before training). */
  best: number;
  /** The files written, in order. */
  readonly saved: string[] = [];
  private readonly threshold: number | undefined;

  constructor(args: ModelCheckpointArgs) {
    super();
    if (args === undefined) fail('an options object with a filepath', 'ModelCheckpoint args', args);
    args = checkOptions(args, {
      what: 'ModelCheckpoint args',
      supported: ['filepath', 'monitor', 'verbose', 'saveBestOnly', 'saveWeightsOnly', 'mode', 'saveFreq', 'initialValueThreshold'],
    });
    if (typeof args.filepath !== 'string' || !args.filepath) fail('a file path', 'filepath', args.filepath);
    this.filepath = args.filepath;
    this.monitor = args.monitor ?? 'val_loss';
    this.verbose = oneOf(String(args.verbose ?? 0), 'verbose', ['0', '1'] as const) === '1' ? 1 : 0;
    this.saveBestOnly = args.saveBestOnly ?? false;
    this.saveWeightsOnly = args.saveWeightsOnly ?? false;
    for (const k of ['saveBestOnly', 'saveWeightsOnly'] as const) if (typeof this[k] !== 'boolean') fail('a boolean', k, this[k]);
    this.mode = oneOf(args.mode ?? 'auto', 'mode', ['auto', 'min', 'max'] as const);
    if ((args.saveFreq ?? 'epoch') !== 'epoch')
      throw new ValidationError("ModelCheckpoint: saveFreq other than 'epoch' (every N batches) is not supported yet", 'ERR_KERNELNET_UNSUPPORTED');
    this.threshold =
      args.initialValueThreshold === undefined
        ? undefined
        : numberIn(args.initialValueThreshold, 'initialValueThreshold', -Number.MAX_VALUE, Number.MAX_VALUE);
    this.best = NaN;
  }

  /** Resets best to initialValueThreshold, or to the worst value for the mode. */
  onTrainBegin(): void {
    const up = increasing('ModelCheckpoint', this.mode, this.monitor);
    this.best = this.threshold ?? (up ? -Infinity : Infinity);
  }

  /** Saves to the filled-in path (with saveBestOnly, only when the monitored value improves). */
  onEpochEnd(epoch: number, logs: Logs): void {
    const path = formatPath(this.filepath, { ...logs, epoch: epoch + 1 });
    if (this.saveBestOnly) {
      const current = monitored('ModelCheckpoint', this.monitor, logs);
      const up = increasing('ModelCheckpoint', this.mode, this.monitor);
      if (!(up ? current > this.best : current < this.best)) {
        if (this.verbose) console.log(`Epoch ${epoch + 1}: ${this.monitor} did not improve from ${this.best}`);
        return;
      }
      if (this.verbose) console.log(`Epoch ${epoch + 1}: ${this.monitor} improved from ${this.best} to ${current}, saving to ${path}`);
      this.best = current;
    } else if (this.verbose) {
      console.log(`Epoch ${epoch + 1}: saving model to ${path}`);
    }
    if (this.saveWeightsOnly) this.fitModel.saveWeights(path);
    else this.fitModel.save(path);
    this.saved.push(path);
  }
}

/** ReduceLROnPlateau's options (Keras's arguments, camelCased). */
export interface ReduceLROnPlateauArgs {
  /** Default 'val_loss'. */
  monitor?: string;
  /** new rate = rate * factor (default 0.1; must be below 1). */
  factor?: number;
  /** Epochs without improvement before the rate is reduced (default 10). */
  patience?: number;
  /** 1 logs each reduction (default 0). */
  verbose?: 0 | 1;
  /** Whether the quantity should go down or up (default 'auto'). */
  mode?: Mode;
  /** Improvement threshold (default 1e-4). */
  minDelta?: number;
  /** Epochs to wait after a reduction before counting again (default 0). */
  cooldown?: number;
  /** The rate's floor (default 0). */
  minLr?: number;
}

/** Lowers the learning rate when a monitored quantity has stopped improving (Keras's ReduceLROnPlateau). */
export class ReduceLROnPlateau extends KerasCallback {
  /** The log key watched (default 'val_loss'). */
  readonly monitor: string;
  /** The factor the rate is multiplied by at each reduction (default 0.1). */
  readonly factor: number;
  /** Epochs without improvement before the rate is reduced (default 10). */
  readonly patience: number;
  /** 0 or 1: whether reductions are logged. */
  readonly verbose: number;
  /** Whether the quantity should go down or up (default 'auto'). */
  readonly mode: Mode;
  /** The smallest change that counts as an improvement (default 1e-4). */
  readonly minDelta: number;
  /** Epochs to wait after a reduction before counting again (default 0). */
  readonly cooldown: number;
  /** The rate's floor (default 0). */
  readonly minLr: number;
  private wait = 0;
  private cooldownCounter = 0;
  private best = Infinity;
  private up = false;

  constructor(args: ReduceLROnPlateauArgs = {}) {
    super();
    args = checkOptions(args, {
      what: 'ReduceLROnPlateau args',
      supported: ['monitor', 'factor', 'patience', 'verbose', 'mode', 'minDelta', 'cooldown', 'minLr'],
    });
    this.monitor = args.monitor ?? 'val_loss';
    this.factor = numberIn(args.factor ?? 0.1, 'factor', 0, 1, true);
    this.patience = nonNegativeInt(args.patience ?? 10, 'patience');
    this.verbose = oneOf(String(args.verbose ?? 0), 'verbose', ['0', '1'] as const) === '1' ? 1 : 0;
    this.mode = oneOf(args.mode ?? 'auto', 'mode', ['auto', 'min', 'max'] as const);
    this.minDelta = numberIn(args.minDelta ?? 1e-4, 'minDelta', 0, Number.MAX_VALUE);
    this.cooldown = nonNegativeInt(args.cooldown ?? 0, 'cooldown');
    this.minLr = numberIn(args.minLr ?? 0, 'minLr', 0, Number.MAX_VALUE);
  }

  /** Resets the state and resolves 'auto' mode. */
  onTrainBegin(): void {
    this.up = increasing('ReduceLROnPlateau', this.mode, this.monitor);
    this.best = this.up ? -Infinity : Infinity;
    this.wait = 0;
    this.cooldownCounter = 0;
  }

  /** Multiplies the optimizer's rate by factor (not below minLr) after `patience` epochs without improvement. */
  onEpochEnd(epoch: number, logs: Logs): void {
    const current = monitored('ReduceLROnPlateau', this.monitor, logs);
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.wait = 0;
    }
    if (this.up ? current > this.best + this.minDelta : current < this.best - this.minDelta) {
      this.best = current;
      this.wait = 0;
    } else if (this.cooldownCounter <= 0 && ++this.wait >= this.patience) {
      const optimizer = this.fitModel.optimizerOf('ReduceLROnPlateau');
      const old = optimizer.learningRate;
      if (old > Math.fround(this.minLr)) {
        optimizer.learningRate = Math.max(old * this.factor, this.minLr);
        if (this.verbose) console.log(`Epoch ${epoch + 1}: ReduceLROnPlateau reducing learning rate to ${optimizer.learningRate}.`);
        this.cooldownCounter = this.cooldown;
        this.wait = 0;
      }
    }
  }
}

/**
 * Sets the learning rate at the start of every epoch to schedule(epoch, currentRate) (Keras's
 * LearningRateScheduler; epochs count from 0).
 */
export class LearningRateScheduler extends KerasCallback {
  /** The options as given. */
  readonly options: {
    /** 1 logs each epoch's rate (default 0). */
    verbose?: 0 | 1;
  };

  /**
   * @param schedule The rate for an epoch (0-based), given the current rate.
   * @param options verbose: 1 logs each epoch's rate (default 0).
   */
  constructor(
    readonly schedule: (epoch: number, lr: number) => number,
    options: { verbose?: 0 | 1 } = {},
  ) {
    super();
    if (typeof schedule !== 'function') fail('a function (epoch, lr) => lr', 'schedule', schedule);
    this.options = checkOptions(options, { what: 'LearningRateScheduler options', supported: ['verbose'] });
  }

  /** Sets the optimizer's learning rate to schedule(epoch, currentRate). */
  onEpochBegin(epoch: number): void {
    const optimizer = this.fitModel.optimizerOf('LearningRateScheduler');
    const lr = this.schedule(epoch, optimizer.learningRate);
    if (typeof lr !== 'number' || !Number.isFinite(lr)) fail('a finite number from the schedule', 'learning rate', lr);
    optimizer.learningRate = lr;
    if (this.options?.verbose) console.log(`Epoch ${epoch + 1}: LearningRateScheduler setting learning rate to ${lr}.`);
  }
}

/** CSVLogger's options (Keras's arguments, camelCased). */
export interface CSVLoggerArgs {
  /** Column separator (default ','). */
  separator?: string;
  /** Append to an existing file instead of overwriting it (default false). */
  append?: boolean;
}

/** Writes every epoch's logs to a CSV file: an `epoch` column, then the log keys in sorted order (Keras's CSVLogger). */
export class CSVLogger extends KerasCallback {
  /** Column separator (default ','). */
  readonly separator: string;
  /** Whether rows are appended to an existing file (default false: it is overwritten). */
  readonly append: boolean;
  private fd = -1;
  private keys: string[] | null = null;

  /**
   * @param filename The CSV file's path.
   * @param args The separator and whether to append.
   */
  constructor(
    readonly filename: string,
    args: CSVLoggerArgs = {},
  ) {
    super();
    if (typeof filename !== 'string' || !filename) fail('a file path', 'filename', filename);
    args = checkOptions(args, { what: 'CSVLogger args', supported: ['separator', 'append'] });
    this.separator = args?.separator ?? ',';
    this.append = args?.append ?? false;
  }

  /** Opens the file (overwriting it unless append is set). */
  onTrainBegin(): void {
    this.fd = openSync(this.filename, this.append ? 'a' : 'w');
    this.keys = null;
  }

  /** Writes the epoch's row, after the header row the first time (no header when appending). */
  onEpochEnd(epoch: number, logs: Logs): void {
    if (!this.keys) {
      this.keys = Object.keys(logs).sort();
      if (!this.append) writeSync(this.fd, ['epoch', ...this.keys].join(this.separator) + '\n');
    }
    writeSync(this.fd, [epoch, ...this.keys.map(k => logs[k] ?? '')].join(this.separator) + '\n');
  }

  /** Closes the file. */
  onTrainEnd(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/**
 * Keras's TerminateOnNaN: ends training after a batch whose loss is NaN or infinite, by setting
 * model.stopTraining (fit returns normally). fit()'s own stopOnNonFiniteLoss, on by default, instead rejects
 * fit() with a TrainingError naming the epoch and step; pass stopOnNonFiniteLoss: false to use this one.
 */
export class TerminateOnNaN extends KerasCallback {
  /** Sets model.stopTraining when the batch's loss is NaN or infinite. */
  onBatchEnd(batch: number, logs: Logs): void {
    if (!Number.isFinite(logs.loss)) {
      console.log(`Batch ${batch}: Invalid loss, terminating training`);
      this.fitModel.stopTraining = true;
    }
  }
}
