// Data-parallel training across processes, in Keras 3's `keras.distribution` vocabulary: `initialize()` joins the
// job the launcher started, `new DataParallel()` describes one replica per process, `setDistribution()` makes fit
// use it. Under `mpirun -np P node train.js` each process trains a replica on its 1/P share of every global batch
// and the gradients are averaged between the backward pass and the update (cpp/collective.h: Open MPI, summed in
// rank order so every rank holds the same bits). docs/distributed.md has the semantics and a two-machine launch.
import { native } from './core/native.js';
import { ValidationError, StateError } from './core/errors.js';
import { checkOptions } from './core/validate.js';

/** What `initialize()` reports: the engine, this process's rank and the number of processes. */
export interface ProcessGroup {
  /** The collective engine and its version, e.g. 'Open MPI v4.1.4'. */
  engine: string;
  /** This process's index in the job, 0 to numProcesses - 1 (MPI's rank). */
  processId: number;
  /** The number of processes in the job (MPI's world size). */
  numProcesses: number;
}

/** `initialize()`'s options. */
export interface InitializeArgs {
  /**
   * Seconds one collective may wait for the other processes before this process gives up, prints which collective
   * and exits (mpirun then ends the job): a rank that died, hangs or left training. Default 300, or
   * KERNELNET_COLLECTIVE_TIMEOUT.
   */
  timeout?: number;
}

let group: ProcessGroup | null = null;
let current: DataParallel | null = null;

/**
 * Joins the job the launcher started (Keras's `keras.distribution.initialize()`): loads Open MPI 4.1 (libmpi.so.40,
 * or the path in KERNELNET_MPI_LIBRARY) and takes this process's rank and the job's size from it (mpirun's). Run
 * without mpirun, the process is a job of one. Idempotent; throws ERR_KERNELNET_DISTRIBUTED, saying what to install,
 * where Open MPI is missing.
 */
export function initialize(args: InitializeArgs = {}): ProcessGroup {
  args = checkOptions(args, {
    what: 'distribution.initialize options',
    supported: ['timeout'],
    notYet: {
      jobAddresses: { hint: 'the launcher (mpirun -H host1,host2) places the processes' },
      numProcesses: { hint: 'mpirun -np sets it' },
      processId: { hint: 'mpirun sets it' },
    },
  });
  if (group) return group;
  const fromEnv = process.env.KERNELNET_COLLECTIVE_TIMEOUT;
  const timeout = args.timeout ?? (fromEnv ? Number(fromEnv) : 300);
  if (!(typeof timeout === 'number' && timeout > 0 && Number.isFinite(timeout)))
    throw new ValidationError(
      `distribution.initialize: expected timeout (or KERNELNET_COLLECTIVE_TIMEOUT) to be a positive number of seconds but received ${String(args.timeout ?? fromEnv)}`,
    );
  native.distInit(timeout, process.env.KERNELNET_MPI_LIBRARY || undefined); // (a path, where Open MPI is not on the loader's path)
  const info = native.distInfo();
  // A launcher of another kind (torchrun's RANK and WORLD_SIZE, a TCP rendezvous) starts processes that Open MPI
  // sees as jobs of one each: refused rather than P processes training P unrelated models.
  const worldSize = Number(process.env.WORLD_SIZE ?? 1);
  if (info.size === 1 && worldSize > 1)
    throw new ValidationError(
      `distribution.initialize: WORLD_SIZE is ${worldSize} but Open MPI sees a job of one process: this process was not started by mpirun ` +
        '(a launcher that sets RANK and WORLD_SIZE, such as torchrun, is not supported); launch with mpirun -np N node script.js',
      'ERR_KERNELNET_UNSUPPORTED',
    );
  group = { engine: info.engine, processId: info.rank, numProcesses: info.size };
  // A process of a job of several that exits with an error (an uncaught exception after fit, process.exit(1)) ends
  // the job at once with MPI_Abort, naming its rank: MPI_Finalize at exit would wait for ranks that are themselves
  // waiting for this one (until their collective's timeout). A clean exit finalizes (cpp/collective_mpi.cc).
  if (info.size > 1)
    process.once('exit', code => {
      if (code !== 0) native.distAbort(Math.min(Math.max(code, 1), 255), `the process is exiting with code ${code}`, true);
    });
  return group;
}

/** `DataParallel`'s options (Keras 3's names). */
export interface DataParallelArgs {
  /**
   * Whether fit takes each process's share of the data itself (default true, as Keras): every process passes the
   * whole training set and trains on its rows of each global batch. false is not supported yet.
   */
  autoShardDataset?: boolean;
}

/**
 * Data parallelism over the job's processes (Keras 3's `keras.distribution.DataParallel`), one replica per process.
 * With it set (`setDistribution`), fit splits each global batch of `batchSize` rows evenly across the processes
 * (refused where it does not divide), starts every replica from rank 0's weights and optimizer state, averages the
 * gradients before each update, and aggregates the epoch's metrics; callbacks and progress run on rank 0 only.
 * docs/distributed.md has the whole contract.
 */
export class DataParallel {
  /** The number of replicas: the job's processes. */
  readonly numProcesses: number;
  /** This process's replica, and so its share of the data (Keras's data_shard_id). */
  readonly dataShardId: number;
  /** Whether fit shards the data (always true for now). */
  readonly autoShardDataset: boolean;
  /** The collective engine. */
  readonly engine: string;

  constructor(args: DataParallelArgs = {}) {
    args = checkOptions(args, {
      what: 'DataParallel options',
      supported: ['autoShardDataset'],
      notYet: {
        devices: { hint: 'one process per device: launch one process per GPU or machine with mpirun' },
        deviceMesh: { hint: 'one process per device: launch one process per GPU or machine with mpirun' },
      },
    });
    if (args.autoShardDataset !== undefined && args.autoShardDataset !== true)
      throw new ValidationError('DataParallel: autoShardDataset false is not supported yet: fit shards the data itself', 'ERR_KERNELNET_UNSUPPORTED');
    const g = initialize();
    this.numProcesses = g.numProcesses;
    this.dataShardId = g.processId;
    this.autoShardDataset = true;
    this.engine = g.engine;
  }
}

/** Makes `value` the distribution fit uses from now on (Keras's `set_distribution`); null turns it off. */
export function setDistribution(value: DataParallel | null): void {
  if (value !== null && !(value instanceof DataParallel))
    throw new ValidationError(`setDistribution: expected a DataParallel or null but received ${String(value)}`);
  current = value;
}

/** The distribution fit uses (Keras's `keras.distribution.distribution()`), or null. */
export function distribution(): DataParallel | null {
  return current;
}

/**
 * Ends the whole job at once with exit code 1 (every process), printing `message` with this process's rank: what
 * fit does when it raises on one rank, so that the others do not wait for it.
 */
export function abortJob(message: string): never {
  if (!group) throw new StateError('distribution.abortJob: initialize() was not called');
  native.distAbort(1, message);
  throw new StateError('distribution.abortJob: MPI_Abort returned'); // (it does not)
}
