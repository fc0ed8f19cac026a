// The functional API's symbolic tensors (tfjs's SymbolicTensor, Keras's KerasTensor): what input() returns and
// layer.apply() takes and returns. A symbolic tensor holds no data: its shape per example and where it comes from
// (a model input, a layer applied to other symbolic tensors, or an output of a model applied as a layer), from
// which a Model (lib/models/functional.ts) makes its graph.
import { ValidationError } from '../core/errors.js';
import { fail, shapeArg } from '../core/validate.js';

/** A model applied as a layer (a functional Model): what a symbolic tensor needs of it. */
export interface AppliedModel {
  /** The model's name. */
  readonly name: string;
  /** The model's own inputs. */
  readonly inputs: readonly SymbolicTensor[];
  /** The model's own outputs. */
  readonly outputs: readonly SymbolicTensor[];
}

/** What a symbolic tensor needs of a layer (layers.ts's Layer, which imports this module). */
export interface SymbolicLayer {
  /** The layer's name. */
  name: string;
  /** Its class name. */
  readonly className: string;
  /** Builds the layer for its inputs' shapes, or checks them; returns its output's shape. */
  buildFor(shapes: number[][]): number[];
}

/** Where a symbolic tensor comes from. */
export type SymbolicSource =
  | { kind: 'input'; input: InputLayer }
  | { kind: 'layer'; layer: SymbolicLayer; inputs: SymbolicTensor[] }
  | { kind: 'model'; model: AppliedModel; inputs: SymbolicTensor[]; index: number };

let created = 0;

/** A tensor of the functional API: a shape per example and its source, no data (tfjs's SymbolicTensor). */
export class SymbolicTensor {
  /** @internal Creation order: a model's nodes run in it where the graph leaves a choice. */
  readonly id = created++;
  /** The shape, batch axis first as null (tfjs's SymbolicTensor.shape, Keras's (None, ...)). */
  readonly shape: (number | null)[];
  /** Always 'float32' for now. */
  readonly dtype = 'float32';
  /** @internal */
  readonly source: SymbolicSource;

  /** @internal Made by input() and layer.apply(). */
  constructor(shapePerExample: number[], source: SymbolicSource) {
    this.shape = [null, ...shapePerExample];
    this.source = source;
  }

  /** @internal The shape without the batch axis. */
  get perExample(): number[] {
    return this.shape.slice(1) as number[];
  }

  /** The name of the layer (or input) that makes this tensor. */
  get name(): string {
    const s = this.source;
    return s.kind === 'input' ? s.input.name : s.kind === 'layer' ? s.layer.name : `${s.model.name}/${s.model.outputs[s.index].name}`;
  }
}

/** The options of input() (tfjs's tf.input / Keras's keras.Input). */
export interface InputArgs {
  /** The shape of one example, without the batch axis (e.g. [28, 28, 1]). */
  shape: number[];
  /** The input's name (default Keras's 'input_layer', 'input_layer_1', ..., unique within a model). */
  name?: string;
  /** 'float32' (the only dtype inputs take for now). */
  dtype?: 'float32';
}

/** A model's input (Keras's and tfjs's InputLayer): its name and shape per example. */
export class InputLayer {
  /** 'InputLayer', as tfjs's model.json names the class. */
  readonly className = 'InputLayer';
  /** The input's name: as given, else set by the first model built on it. */
  name: string;
  /** The shape of one example, without the batch axis. */
  readonly shape: number[];
  /** Always 'float32' for now. */
  readonly dtype = 'float32';

  constructor(args: InputArgs) {
    if (args === null || typeof args !== 'object') fail('an options object { shape, name?, dtype? }', 'input args', args);
    for (const key of Object.keys(args))
      if (!['shape', 'name', 'dtype', 'batchShape', 'batchInputShape', 'sparse'].includes(key))
        fail("one of 'shape', 'name', 'dtype'", 'input option', key);
    const extra = args as unknown as Record<string, unknown>;
    if (extra.batchShape !== undefined || extra.batchInputShape !== undefined)
      throw new ValidationError(
        "input: pass shape, without the batch axis (the batch size is fit()'s); batchShape is not supported",
        'ERR_KERNELNET_UNSUPPORTED',
      );
    if (extra.sparse !== undefined && extra.sparse !== false)
      throw new ValidationError('input: sparse inputs are not supported', 'ERR_KERNELNET_UNSUPPORTED');
    if (args.dtype !== undefined && args.dtype !== 'float32') fail("'float32'", 'dtype', args.dtype);
    if (args.name !== undefined && (typeof args.name !== 'string' || !args.name)) fail('a non-empty string', 'name', args.name);
    this.shape = shapeArg(args.shape, 'shape');
    this.name = args.name ?? '';
  }

  /** The layer's configuration (tfjs's InputLayer config). */
  getConfig(): Record<string, unknown> {
    return { batchInputShape: [null, ...this.shape], dtype: this.dtype, sparse: false, name: this.name };
  }
}

/** A model input, as `new Input({ shape })`: the symbolic tensor input() returns (Keras's keras.Input). */
export class Input extends SymbolicTensor {
  constructor(args: InputArgs) {
    const layer = new InputLayer(args);
    super([...layer.shape], { kind: 'input', input: layer });
  }
}

/** A model input: a symbolic tensor of this shape per example (tfjs's tf.input, Keras's keras.Input). */
export function input(args: InputArgs): SymbolicTensor {
  return new Input(args);
}

/** The symbolic tensors layer.apply() was given, checked. */
export function symbolicList(inputs: unknown, who: string): SymbolicTensor[] {
  const list = Array.isArray(inputs) ? inputs : [inputs];
  list.forEach((t, i) => {
    if (!(t instanceof SymbolicTensor)) {
      if (isData(t))
        throw new ValidationError(
          `${who}.apply: a layer applies to tensors of data or to symbolic tensors, not a mix of them (inputs[${i}] is data)`,
          'ERR_KERNELNET_ARG',
        );
      fail('a symbolic tensor (from input() or another layer.apply())', Array.isArray(inputs) ? `inputs[${i}]` : 'inputs', t);
    }
  });
  if (!list.length) fail('at least one symbolic tensor', 'inputs', inputs);
  return list as SymbolicTensor[];
}

/** What layer.apply does with tensors of data (lib/ops/eager.ts: runs the layer on them); null: refused. */
let eager: ((layer: SymbolicLayer, inputs: unknown[], kwargs: unknown) => unknown) | null = null;
/** @internal Sets what layer.apply does with tensors of data (lib/ops/eager.ts). */
export function setEagerApply(fn: (layer: SymbolicLayer, inputs: unknown[], kwargs: unknown) => unknown): void {
  eager = fn;
}
/** What layer.dispose() frees besides (lib/ops/eager.ts: the one-layer model an eager apply made); the weights freed. */
let eagerRelease: ((layer: SymbolicLayer) => number) | null = null;
/** @internal Sets what layer.dispose() frees (lib/ops/eager.ts). */
export function setEagerRelease(fn: (layer: SymbolicLayer) => number): void {
  eagerRelease = fn;
}
/** @internal layer.dispose(): frees what applying the layer to data made; returns how many weights were freed. */
export function releaseLayer(layer: SymbolicLayer): number {
  return eagerRelease ? eagerRelease(layer) : 0;
}
const isData = (t: unknown): boolean => t !== null && typeof t === 'object' && 'shape' in (t as object) && 'dataSync' in (t as object);

/**
 * layer.apply(inputs): builds the layer for the inputs' shapes and returns its output, symbolically; on tensors of
 * data, the layer's output for them (lib/ops/eager.ts: Keras's layer(x), tfjs's eager apply).
 */
export function applyLayer(layer: SymbolicLayer, inputs: SymbolicTensor | SymbolicTensor[], kwargs?: unknown): SymbolicTensor {
  const given = Array.isArray(inputs) ? inputs : [inputs];
  if (eager && given.length && given.every(isData)) return eager(layer, given, kwargs) as SymbolicTensor;
  const list = symbolicList(inputs, layer.name || layer.className);
  const shape = layer.buildFor(list.map(t => t.perExample));
  return new SymbolicTensor([...shape], { kind: 'layer', layer, inputs: list });
}
