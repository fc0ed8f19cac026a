// fit's side of data-parallel training (lib/distribution.ts): what each replica does beside its own steps so that
// the P processes train one model. Every method here is a collective: every rank calls it at the same point of the
// loop, in the same order (the loop's decisions that could differ, stopTraining and the learning rate set by rank
// 0's callbacks, are themselves broadcast by sync()).
import { empty } from '../core/tensor.js';
import { native, type NativeTensor } from '../core/native.js';
import type { DataParallel } from '../distribution.js';
import type { Network } from './network.js';
import type { Optimizer } from './optimizers.js';

/** The metrics slot of the first non-finite step (native.ts's METRIC_SLOTS layout, as training.ts's readLogs reads it). */
const FIRST_BAD = 3;

/** What a data-parallel replica does beside its steps (not exported from the package: fit makes it). */
export class Replicas {
  readonly size: number;
  readonly rank: number;
  /** [stopTraining, the learning rate as a float64's two words, the iteration count]: rank 0's, broadcast. */
  private readonly flag: NativeTensor;
  /** Each replica's positions in the epoch's global order: global batch g's rows [rank b, (rank + 1) b). */
  private readonly mine: NativeTensor;
  /** Whether rank 0 logs this batch (int32 [1], broadcast), and the global sums it then reads. */
  private readonly want: NativeTensor;
  private sums: NativeTensor[] | null = null;

  /**
   * `steps` global batches of `batchSize` rows (the last partial one dropped), `batchSize / size` of them per
   * replica.
   */
  constructor(
    private readonly model: Network,
    private readonly optimizer: Optimizer,
    dp: DataParallel,
    steps: number,
    batchSize: number,
  ) {
    this.size = dp.numProcesses;
    this.rank = dp.dataShardId;
    this.flag = empty([4], 'int32', 'cpu');
    this.want = empty([1], 'int32', 'cpu');
    const b = batchSize / this.size;
    this.mine = empty([steps * b], 'int32', 'cpu');
    this.mine.write(Int32Array.from({ length: steps * b }, (_, i) => Math.floor(i / b) * batchSize + this.rank * b + (i % b)));
  }

  /** At fit's start: rank 0's weights, optimizer state, rate and counts on every replica. */
  start(): void {
    native.distBroadcast([...this.model.params.map(p => p.value), ...this.optimizer.replicaState()], 0);
    this.sync();
    const counts = empty([2], 'int32', 'cpu');
    try {
      counts.write(Int32Array.of(Math.min(this.model.steps, 2 ** 31 - 1), Math.min(this.model.epochsRun, 2 ** 31 - 1)));
      native.distBroadcast([counts], 0);
      const [steps, epochs] = counts.read() as Int32Array;
      this.model.steps = steps;
      this.model.epochsRun = epochs;
    } finally {
      counts.dispose();
    }
  }

  /** This replica's rows of the epoch's order: `order` (all samples) made rank 0's, then its share gathered. */
  shard(order: NativeTensor, indices: NativeTensor): void {
    native.distBroadcast([order], 0);
    native.gatherRows(order.reshape([order.shape[0], 1]), this.mine, 0, indices.reshape([indices.shape[0], 1]));
  }

  /** Rank 0's stopTraining, learning rate and iteration count on every replica (after rank 0's callbacks ran). */
  sync(): void {
    const o = this.optimizer;
    if (this.rank === 0) {
      const words = new Int32Array(new Float64Array([o.schedule ? 0 : o.learningRate]).buffer);
      this.flag.write(Int32Array.of(this.model.stopTraining ? 1 : 0, words[0], words[1], Math.min(o.iterations, 2 ** 31 - 1)));
    }
    native.distBroadcast([this.flag], 0);
    if (this.rank === 0) return;
    const v = this.flag.read() as Int32Array;
    this.model.stopTraining = v[0] === 1;
    const lr = new Float64Array(Int32Array.of(v[1], v[2]).buffer)[0];
    if (!o.schedule && lr !== o.learningRate) o.learningRate = lr;
    if (v[3] !== o.iterations) o.setIterations(v[3]);
  }

  /**
   * At an epoch's end, before its logs are read: the loss and metric sums added over the replicas (the logs are the
   * global batch's), and the weights no optimizer updates (BatchNormalization's moving statistics, per replica
   * during the epoch) averaged.
   */
  endEpoch(metrics: NativeTensor[]): void {
    this.sumMetrics(metrics);
    const own = this.model.params.filter(p => p.trainable === false).map(p => p.value);
    if (own.length) native.distAverage(own, 1 / this.size);
  }

  /**
   * Loss and metric sums (METRIC_SLOTS floats per output) added over the processes, in rank order. The slot of the
   * first non-finite step (readLogs' badStep) is a step number, not a sum: each process keeps its own.
   */
  sumMetrics(metrics: NativeTensor[]): void {
    const own = metrics.map(m => (m.read() as Float32Array)[FIRST_BAD]);
    native.distAverage(metrics, 1);
    metrics.forEach((m, i) => {
      const all = m.read() as Float32Array;
      if (all[FIRST_BAD] === own[i]) return;
      all[FIRST_BAD] = own[i];
      m.write(all);
    });
  }

  /**
   * The metrics rank 0's batch-level logs read (the progress bar during an epoch, onBatchEnd): when rank 0's callbacks
   * want this batch's logs (rank 0 decides; every process takes part), the running sums of every process added
   * into a copy, so the logs are the global batches' so far, as the epoch's; elsewhere each process's own.
   */
  batchMetrics(wanted: boolean, metrics: NativeTensor[]): NativeTensor[] {
    if (this.rank === 0) this.want.write(Int32Array.of(wanted ? 1 : 0));
    native.distBroadcast([this.want], 0);
    if ((this.want.read() as Int32Array)[0] !== 1) return metrics;
    const sums = (this.sums ??= metrics.map(m => empty(m.shape, 'float32', 'cpu')));
    metrics.forEach((m, i) => sums[i].write(m.read() as Float32Array));
    this.sumMetrics(sums);
    return this.rank === 0 ? sums : metrics;
  }

  dispose(): void {
    this.flag.dispose();
    this.mine.dispose();
    this.want.dispose();
    for (const t of this.sums ?? []) t.dispose();
  }
}
