// The whole native surface of kernelnet, declared once. Nothing else in lib/ touches the raw addon.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type DType = 'float32' | 'int32';
export type Padding = 'valid' | 'same';
export type Device = 'cpu' | 'cuda';

export interface NativeTensor {
  readonly shape: number[];
  readonly dtype: DType;
  readonly device: Device;
  readonly size: number;
  readonly disposed: boolean;
  read(): Float32Array | Int32Array;
  write(data: Float32Array | Int32Array): void;
  fill(value: number): void;
  /** A view of the same memory with another shape; disposing either disposes both. */
  reshape(shape: number[]): NativeTensor;
  dispose(): void;
}

export interface BackendInfo {
  /** 'cpu' or 'cuda'. */
  name: string;
  /** The device in words, e.g. "CPU, 2 threads, avx2+fma GEMM". */
  device: string;
  /** Why this backend was chosen. */
  reason: string;
}

export interface MemoryStats {
  liveTensors: number;
  /** Bytes held by this environment's tensors. */
  bytesInUse: number;
  /** Bytes of the CUDA backend's scratch buffers (im2col columns, split-K partials), shared by the process. */
  scratchBytes: number;
}

export interface Native {
  /** A tensor on `device` (default: the environment's backend), or a view of another tensor's buffer. */
  Tensor: new (shape: number[], dtype: DType, data?: Float32Array | Int32Array | NativeTensor, device?: Device) => NativeTensor;
  conv2dForward(x: NativeTensor, w: NativeTensor, b: NativeTensor, y: NativeTensor, strideH: number,
    strideW: number, padding: Padding, relu: boolean): void;
  conv2dBackward(x: NativeTensor, w: NativeTensor, y: NativeTensor, dy: NativeTensor, dx: NativeTensor | null,
    dw: NativeTensor, db: NativeTensor, strideH: number, strideW: number, padding: Padding, relu: boolean): void;
  maxPool2dForward(x: NativeTensor, y: NativeTensor, argmax: NativeTensor, poolH: number, poolW: number,
    strideH: number, strideW: number): void;
  maxPool2dBackward(dy: NativeTensor, argmax: NativeTensor, dx: NativeTensor, poolH: number, poolW: number,
    strideH: number, strideW: number): void;
  denseForward(x: NativeTensor, w: NativeTensor, b: NativeTensor, y: NativeTensor, relu: boolean): void;
  denseBackward(x: NativeTensor, w: NativeTensor, y: NativeTensor, dy: NativeTensor, dx: NativeTensor | null,
    dw: NativeTensor, db: NativeTensor, relu: boolean): void;
  dropoutForward(x: NativeTensor, y: NativeTensor, rate: number, seed: number, offset: number): void;
  dropoutBackward(dy: NativeTensor, dx: NativeTensor, rate: number, seed: number, offset: number): void;
  /** Accumulates metrics += [sum of row losses, correct predictions, rows]. */
  softmaxCrossEntropy(logits: NativeTensor, labels: NativeTensor, dlogits: NativeTensor | null,
    metrics: NativeTensor): void;
  softmax(logits: NativeTensor, probs: NativeTensor): void;
  adadelta(params: NativeTensor[], grads: NativeTensor[], accums: NativeTensor[], deltaAccums: NativeTensor[],
    learningRate: number, rho: number, epsilon: number): void;
  gatherRows(src: NativeTensor, indices: NativeTensor, start: number, dst: NativeTensor): void;
  permutation(indices: NativeTensor, seed: number, offset: number): void;
  randomUniform(t: NativeTensor, low: number, high: number, seed: number, offset: number): void;
  oneHot(labels: NativeTensor, out: NativeTensor): void;
  fromBytes(bytes: Uint8Array, divisor: number, out: NativeTensor): void;
  stats(): MemoryStats;
  backend(): BackendInfo;
  backends(): { cpu: { available: true; device: string }; cuda: { available: boolean; device: string; reason: string } };
  /** Waits for the queued work of a backend (default: the environment's). */
  synchronize(device?: Device): void;
  numThreads(n?: number): number;
  cpuKernel(): string;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);

function load(): Native {
  try {
    return require('node-gyp-build')(root) as Native;
  } catch (err) {
    const e = err as Error;
    throw new Error(
      `kernelnet: could not load the native addon: ${e.message}\n` +
      'Possible solutions:\n' +
      '  - run `npm install` (or `npm rebuild kernelnet`) to build it: it needs cmake and a C++ compiler, or node-gyp;\n' +
      `  - check that this platform (${process.platform}-${process.arch}, Node ${process.version}) is supported (Linux x64, Node 20+).`,
      { cause: err });
  }
}

/** The loaded addon. */
export const native: Native = load();
