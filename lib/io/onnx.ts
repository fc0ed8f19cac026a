// ONNX export: model.export(path, { format: 'onnx' }) and `kernelnet export`. The model's graph (plan.ts's Graph,
// Sequential and functional alike) is walked in topological order and each layer written as ONNX operators, for
// inference: BatchNormalization with its moving statistics, Dropout removed, a softmax or sigmoid head applied.
// The protobuf is encoded by protobufjs from ONNX's own schema (onnx-schema.ts, generated from onnx.proto).
//
// Layout. kernelnet's images are NHWC, ONNX's Conv and pooling NCHW. The exported model takes and returns exactly
// the tensors kernelnet's predict() takes and returns (NHWC images, named as the model's inputs and outputs), so
// the same Float32Array feeds both. Inside, each value carries its layout: a 4-D value moves to NCHW (one
// Transpose) when a Conv or pooling reads it and stays there through the layers that do not care (activations,
// BatchNormalization on axis 1, padding, upsampling, merges of NCHW values, Concatenate with its axis mapped); it
// moves back only where NHWC order matters: a model output, Reshape, a merge with a value of another rank. A
// Flatten of an NCHW value is ONNX's Flatten in CHW order, and the Dense after it gets its kernel's rows permuted
// to match (the classic export bug is to forget this); any other reader of such a value gets it reordered.
import protobuf from 'protobufjs/light.js';
import { createRequire } from 'node:module';
import { ONNX_SCHEMA } from './onnx-schema.js';
import { ValidationError, KernelnetError } from '../core/errors.js';
import { checkOptions, fail } from '../core/validate.js';
import type { NativeActivation } from '../core/native.js';
import type { Layer } from '../layers/layers.js';
import type { Network } from '../engine/network.js';

/** Options of model.export() for ONNX (Keras 3's export(filepath, format='onnx')). */
export interface ExportArgs {
  /** The format: 'onnx', the only one kernelnet writes (Keras's default, 'tf_saved_model', needs TensorFlow). */
  format: 'onnx';
  /**
   * The ONNX operator set, 13 to 21 (default 17, which ONNX 1.12's checker validates and every onnxruntime since
   * 1.12 runs). From 20 on, gelu is ONNX's Gelu operator; below, it is composed from Erf.
   */
  opset?: number;
  /** Keras 3's spelling of opset (opset_version). */
  opsetVersion?: number;
  /** Print where the model was written, with its inputs and outputs (default false). */
  verbose?: boolean;
}

const EXPORT_SCHEMA = {
  what: 'export options',
  supported: ['format', 'opset', 'opsetVersion', 'verbose'],
  notYet: { inputSignature: { hint: "the exported model's inputs are the model's own, with a dynamic batch axis" } },
};

/** The default operator set, and the range kernelnet writes. */
export const ONNX_DEFAULT_OPSET = 17;
const OPSET_MIN = 13,
  OPSET_MAX = 21;

/**
 * The IR version of the ONNX release that introduced an operator set (ONNX's versioning table: 1.12 and 1.13,
 * opsets 17 and 18, IR 8; 1.14 and 1.15, opsets 19 and 20, IR 9; 1.16, opset 21, IR 10).
 */
export function irVersion(opset: number): number {
  return opset <= 18 ? 8 : opset <= 20 ? 9 : 10;
}

const root = protobuf.Root.fromJSON(ONNX_SCHEMA as unknown as protobuf.INamespace);
const ModelProto = root.lookupType('onnx.ModelProto');

// TensorProto.DataType and AttributeProto.AttributeType values (onnx.proto).
const FLOAT = 1,
  INT64 = 7;
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const;

type Attr = number | string | number[] | { f: number };
type Layout = 'nhwc' | 'nchw' | 'chw-flat';

/** A value of the exported graph: its name, layout, and shape per example in kernelnet's (NHWC) order. */
interface Value {
  name: string;
  layout: Layout;
  shape: number[];
  /** chw-flat: the [H, W, C] the value was flattened from (in CHW order). */
  hwc?: number[];
}

const encoder = new TextEncoder();

/** The graph being written: nodes, initializers, and names kept unique. */
class Builder {
  readonly nodes: object[] = [];
  readonly initializers: object[] = [];
  private readonly taken = new Set<string>();
  private readonly nhwcCache = new Map<string, Value>();
  private readonly nchwCache = new Map<string, Value>();

  constructor(
    readonly opset: number,
    reserved: string[],
  ) {
    for (const n of reserved) this.taken.add(n);
  }

  /** A name not used yet, from `base`. */
  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.taken.has(name); ++i) name = `${base}_${i}`;
    this.taken.add(name);
    return name;
  }

  /** Adds a node; returns its output's name (`out` when given, a fresh one from `base` otherwise). */
  op(type: string, inputs: string[], base: string, attrs: Record<string, Attr> = {}, out?: string): string {
    const output = out ?? this.fresh(`${base}/${type}`);
    this.nodes.push({
      opType: type,
      name: this.fresh(`${base}/${type}#node`),
      input: inputs,
      output: [output],
      attribute: Object.entries(attrs).map(([name, v]) => attribute(name, v)),
    });
    return output;
  }

  private readonly memo = new Map<string, string>();
  private readonly read = new Map<Layer, Record<string, Float32Array>>();

  /** A layer's weights, read from its device once (a layer applied at several nodes is read once). */
  weights(layer: Layer): Record<string, Float32Array> {
    let w = this.read.get(layer);
    if (!w) this.read.set(layer, (w = weightsOf(layer)));
    return w;
  }

  /** An initializer made once per key: a layer applied at several nodes shares its weights in the file too. */
  once(key: string, make: () => string): string {
    let name = this.memo.get(key);
    if (name === undefined) this.memo.set(key, (name = make()));
    return name;
  }

  /** A float32 initializer. */
  floats(base: string, data: Float32Array | number[], dims: number[]): string {
    const name = this.fresh(base);
    const bytes = Float32Array.from(data);
    this.initializers.push({ name, dims, dataType: FLOAT, rawData: new Uint8Array(bytes.buffer) });
    return name;
  }

  /** An int64 initializer (shapes, pads, axes). */
  ints(base: string, data: number[]): string {
    const name = this.fresh(base);
    const bytes = BigInt64Array.from(data, v => BigInt(v));
    this.initializers.push({ name, dims: [data.length], dataType: INT64, rawData: new Uint8Array(bytes.buffer) });
    return name;
  }

  /** The value in NHWC order (kernelnet's), reordered once if it is not. */
  nhwc(v: Value): Value {
    if (v.layout === 'nhwc') return v;
    let out = this.nhwcCache.get(v.name);
    if (out) return out;
    if (v.layout === 'nchw') out = { name: this.op('Transpose', [v.name], v.name, { perm: [0, 2, 3, 1] }), layout: 'nhwc', shape: v.shape };
    else {
      const [h, w, c] = v.hwc!;
      const chw = this.op('Reshape', [v.name, this.ints(`${v.name}/chw`, [-1, c, h, w])], v.name);
      const hwc = this.op('Transpose', [chw], v.name, { perm: [0, 2, 3, 1] });
      out = { name: this.op('Flatten', [hwc], v.name, { axis: 1 }), layout: 'nhwc', shape: v.shape };
    }
    this.nhwcCache.set(v.name, out);
    return out;
  }

  /** A 4-D value in NCHW order, reordered once if it is not. */
  nchw(v: Value): Value {
    if (v.layout === 'nchw') return v;
    if (v.shape.length !== 3) throw internal(`a value of shape [N, ${v.shape}] taken as NCHW`);
    let out = this.nchwCache.get(v.name);
    if (!out) {
      out = { name: this.op('Transpose', [this.nhwc(v).name], v.name, { perm: [0, 3, 1, 2] }), layout: 'nchw', shape: v.shape };
      this.nchwCache.set(v.name, out);
    }
    return out;
  }
}

function attribute(name: string, v: Attr): object {
  if (typeof v === 'string') return { name, type: ATTR.STRING, s: encoder.encode(v) };
  if (Array.isArray(v)) return { name, type: ATTR.INTS, ints: v };
  if (typeof v === 'object') return { name, type: ATTR.FLOAT, f: v.f };
  return { name, type: ATTR.INT, i: v };
}

const internal = (what: string) => new KernelnetError(`ONNX export: ${what}`, 'ERR_KERNELNET_INTERNAL');

/** The weights of a layer by Keras's names (kernel, bias, gamma, ...), as float32 arrays. */
function weightsOf(layer: Layer): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  const tensors = layer.getWeights();
  layer.specs.forEach((s, i) => (out[s.name] = tensors[i].dataSync() as Float32Array));
  for (const t of tensors) t.dispose();
  return out;
}

const SQRT1_2 = Math.SQRT1_2;

/**
 * Applies an activation (Keras's names) to a value; softmax over the channel axis. Every form is an ONNX operator
 * or a composition of them: relu6 is Clip, swish x * Sigmoid(x), gelu (exact, Keras's default) Gelu from opset 20
 * and 0.5 x (1 + Erf(x / sqrt(2))) below it.
 */
function activate(b: Builder, v: Value, act: NativeActivation | 'softmax', base: string, alpha?: number): Value {
  const same = (name: string): Value => ({ ...v, name });
  switch (act) {
    case 'linear':
      return v;
    case 'relu':
      return same(b.op('Relu', [v.name], base));
    case 'relu6':
      return same(b.op('Clip', [v.name, b.floats(`${base}/zero`, [0], []), b.floats(`${base}/six`, [6], [])], base));
    case 'elu':
      return same(b.op('Elu', [v.name], base, { alpha: { f: alpha ?? 1 } }));
    case 'selu':
      // Keras's constants (keras/src/activations/activations.py), as the native ops use them.
      return same(b.op('Selu', [v.name], base, { alpha: { f: 1.6732632423543772 }, gamma: { f: 1.0507009873554805 } }));
    case 'sigmoid':
      return same(b.op('Sigmoid', [v.name], base));
    case 'tanh':
      return same(b.op('Tanh', [v.name], base));
    case 'softplus':
      return same(b.op('Softplus', [v.name], base));
    case 'swish':
      return same(b.op('Mul', [v.name, b.op('Sigmoid', [v.name], base)], base));
    case 'gelu': {
      if (b.opset >= 20) return same(b.op('Gelu', [v.name], base, { approximate: 'none' }));
      const erf = b.op('Erf', [b.op('Mul', [v.name, b.floats(`${base}/rsqrt2`, [SQRT1_2], [])], base)], base);
      const half = b.op('Mul', [v.name, b.floats(`${base}/half`, [0.5], [])], base);
      return same(b.op('Mul', [half, b.op('Add', [erf, b.floats(`${base}/one`, [1], [])], base)], base));
    }
    case 'leaky_relu':
      return same(b.op('LeakyRelu', [v.name], base, { alpha: { f: alpha ?? 0.2 } }));
    case 'softmax':
      return same(b.op('Softmax', [v.name], base, { axis: v.layout === 'nchw' ? 1 : -1 }));
  }
}

/** [top, left, bottom, right]: 'valid' none; 'same' TensorFlow's, the odd row and column at the bottom and right. */
function pads(inHW: number[], kernel: number[], strides: number[], dilation: number[], padding: string): number[] {
  if (padding !== 'same') return [0, 0, 0, 0];
  const total = inHW.map((n, a) => Math.max((Math.ceil(n / strides[a]) - 1) * strides[a] + (kernel[a] - 1) * dilation[a] + 1 - n, 0));
  const begin = total.map(t => Math.floor(t / 2));
  return [...begin, ...total.map((t, a) => t - begin[a])];
}

/** A layer's fields the converters read (each class's own, checked by className before use). */
type AnyLayer = Layer & Record<string, unknown>;

/** Writes one layer applied to its inputs; returns its output. */
type Converter = (b: Builder, layer: AnyLayer, inputs: Value[]) => Value;

const conv2d: Converter = (b, l, [x]) => {
  const base = l.name,
    w = b.weights(l);
  const [kh, kw, c, f] = l.specs[0].shape;
  // kernelnet's kernel is [KH, KW, C, F]; ONNX's [F, C, KH, KW].
  const k = new Float32Array(w.kernel.length);
  for (let i = 0; i < kh; ++i)
    for (let j = 0; j < kw; ++j)
      for (let ci = 0; ci < c; ++ci) for (let fi = 0; fi < f; ++fi) k[((fi * c + ci) * kh + i) * kw + j] = w.kernel[((i * kw + j) * c + ci) * f + fi];
  const inputs = [b.nchw(x).name, b.once(`${base}/kernel`, () => b.floats(`${base}/kernel`, k, [f, c, kh, kw]))];
  if (w.bias) inputs.push(b.once(`${base}/bias`, () => b.floats(`${base}/bias`, w.bias, [f])));
  const strides = l.strides as number[],
    dilations = l.dilationRate as number[];
  const y = b.op('Conv', inputs, base, {
    kernel_shape: [kh, kw],
    strides,
    dilations,
    pads: pads(x.shape.slice(0, 2), [kh, kw], strides, dilations, l.padding as string),
  });
  return activate(b, { name: y, layout: 'nchw', shape: l.outputShape }, l.activation as NativeActivation, base);
};

const pool =
  (type: 'MaxPool' | 'AveragePool'): Converter =>
  (b, l, [x]) => {
    const kernel = l.poolSize as number[],
      strides = l.strides as number[];
    const attrs: Record<string, Attr> = {
      kernel_shape: kernel,
      strides,
      pads: pads(x.shape.slice(0, 2), kernel, strides, [1, 1], l.padding as string),
    };
    // 'same' average pooling leaves the padding out of each window's count, as kernelnet and Keras do (ONNX's default).
    if (type === 'AveragePool') attrs.count_include_pad = 0;
    return { name: b.op(type, [b.nchw(x).name], l.name, attrs), layout: 'nchw', shape: l.outputShape };
  };

const globalPool =
  (type: 'GlobalAveragePool' | 'GlobalMaxPool'): Converter =>
  (b, l, [x]) => {
    const pooled = b.op(type, [b.nchw(x).name], l.name); // [N, C, 1, 1]
    return { name: b.op('Flatten', [pooled], l.name, { axis: 1 }), layout: 'nhwc', shape: l.outputShape };
  };

/** Per-axis begin and end amounts of [N, ...] in the value's layout, from NHWC [H, W] amounts. */
function spatial(v: Value, h: number, w: number): number[] {
  return v.layout === 'nchw' ? [0, 0, h, w] : [0, h, w, 0];
}

const zeroPadding2d: Converter = (b, l, [x]) => {
  const [[top, bottom], [left, right]] = l.padding as number[][];
  const v = x.layout === 'chw-flat' ? b.nhwc(x) : x;
  const p = b.ints(`${l.name}/pads`, [...spatial(v, top, left), ...spatial(v, bottom, right)]);
  return { name: b.op('Pad', [v.name, p], l.name, { mode: 'constant' }), layout: v.layout, shape: l.outputShape };
};

const upSampling2d: Converter = (b, l, [x]) => {
  const [sh, sw] = l.size as number[];
  const v = x.layout === 'chw-flat' ? b.nhwc(x) : x;
  const scales = b.floats(`${l.name}/scales`, v.layout === 'nchw' ? [1, 1, sh, sw] : [1, sh, sw, 1], [4]);
  // Output pixel i reads input pixel floor(i / s): nearest with asymmetric coordinates, rounded down.
  const y = b.op('Resize', [v.name, '', scales], l.name, { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
  return { name: y, layout: v.layout, shape: l.outputShape };
};

const flatten: Converter = (b, l, [x]) => {
  if (x.shape.length === 1) return x;
  if (x.layout === 'nchw') return { name: b.op('Flatten', [x.name], l.name, { axis: 1 }), layout: 'chw-flat', shape: l.outputShape, hwc: x.shape };
  return { name: b.op('Flatten', [b.nhwc(x).name], l.name, { axis: 1 }), layout: 'nhwc', shape: l.outputShape };
};

const reshape: Converter = (b, l, [x]) => {
  const shape = b.ints(`${l.name}/shape`, [0, ...l.outputShape]); // 0: the batch axis as it is
  return { name: b.op('Reshape', [b.nhwc(x).name, shape], l.name), layout: 'nhwc', shape: l.outputShape };
};

const dense: Converter = (b, l, [x]) => {
  const w = b.weights(l);
  const [inputs, units] = l.specs[0].shape;
  let kernel = w.kernel;
  if (x.layout === 'chw-flat') {
    // The input holds the flattened image in CHW order: row (c, h, w) of the kernel is kernelnet's row (h, w, c).
    const [h, wd, c] = x.hwc!;
    kernel = new Float32Array(w.kernel.length);
    for (let ci = 0; ci < c; ++ci)
      for (let hi = 0; hi < h; ++hi)
        for (let wi = 0; wi < wd; ++wi) {
          const from = ((hi * wd + wi) * c + ci) * units,
            to = ((ci * h + hi) * wd + wi) * units;
          kernel.set(w.kernel.subarray(from, from + units), to);
        }
  } else if (x.layout !== 'nhwc') throw internal(`Dense ${l.name} reads a ${x.layout} value`);
  const layout = x.layout === 'chw-flat' ? `chw ${x.hwc!.join('x')}` : 'hwc';
  const args = [x.name, b.once(`${l.name}/kernel ${layout}`, () => b.floats(`${l.name}/kernel`, kernel, [inputs, units]))];
  if (w.bias) args.push(b.once(`${l.name}/bias`, () => b.floats(`${l.name}/bias`, w.bias, [units])));
  const y = b.op('Gemm', args, l.name);
  return activate(b, { name: y, layout: 'nhwc', shape: l.outputShape }, l.activation as NativeActivation, l.name);
};

const activation: Converter = (b, l, [x]) => {
  const v = l.activation === 'softmax' && x.layout === 'chw-flat' ? b.nhwc(x) : x;
  return activate(b, v, l.activation as NativeActivation, l.name, (l as unknown as { nativeAlpha?: number }).nativeAlpha);
};

const rescaling: Converter = (b, l, [x]) => {
  let y = b.op('Mul', [x.name, b.floats(`${l.name}/scale`, [l.scale as number], [])], l.name);
  if (l.offset !== 0) y = b.op('Add', [y, b.floats(`${l.name}/offset`, [l.offset as number], [])], l.name);
  return { ...x, name: y };
};

const batchNormalization: Converter = (b, l, [x]) => {
  const w = b.weights(l),
    c = l.outputShape.at(-1)!,
    eps = l.epsilon as number;
  const gamma = w.gamma ?? new Float32Array(c).fill(1),
    beta = w.beta ?? new Float32Array(c);
  if (x.shape.length === 3 || x.shape.length === 1) {
    // ONNX's BatchNormalization normalises axis 1: the channels of NCHW, or of [N, C].
    const v = x.shape.length === 3 ? b.nchw(x) : b.nhwc(x);
    const names = [
      v.name,
      ...[gamma, beta, w.moving_mean, w.moving_variance].map((d, i) => {
        const key = `${l.name}/${['gamma', 'beta', 'mean', 'var'][i]}`;
        return b.once(key, () => b.floats(key, d, [c]));
      }),
    ];
    return { name: b.op('BatchNormalization', names, l.name, { epsilon: { f: eps } }), layout: v.layout, shape: l.outputShape };
  }
  // Other ranks ([N, L, C]): the same affine map over the last axis, y = x * s + t.
  const v = b.nhwc(x);
  const s = gamma.map((g, i) => g / Math.sqrt(w.moving_variance[i] + eps)),
    t = beta.map((bb, i) => bb - w.moving_mean[i] * s[i]);
  const y = b.op('Add', [b.op('Mul', [v.name, b.floats(`${l.name}/scale`, s, [c])], l.name), b.floats(`${l.name}/shift`, t, [c])], l.name);
  return { name: y, layout: 'nhwc', shape: l.outputShape };
};

/**
 * The values of a merge in one layout: all NCHW (or left NHWC) when every input is an image, NHWC otherwise, with
 * Keras's broadcasting of fewer axes (ones inserted after the batch axis).
 */
function mergeInputs(b: Builder, l: AnyLayer, xs: Value[], unsqueeze: boolean): Value[] {
  if (xs.every(x => x.shape.length === 3)) return xs.some(x => x.layout === 'nchw') ? xs.map(x => b.nchw(x)) : xs.map(x => b.nhwc(x));
  const rank = Math.max(...xs.map(x => x.shape.length));
  return xs.map(x => {
    const v = b.nhwc(x);
    if (!unsqueeze || v.shape.length === rank) return v;
    const axes = b.ints(
      `${l.name}/axes`,
      Array.from({ length: rank - v.shape.length }, (_, i) => i + 1),
    );
    return { name: b.op('Unsqueeze', [v.name, axes], l.name), layout: 'nhwc', shape: [...Array(rank - v.shape.length).fill(1), ...v.shape] };
  });
}

const elementwise =
  (type: 'Add' | 'Sub' | 'Mul' | 'Mean' | 'Max' | 'Min'): Converter =>
  (b, l, xs) => {
    const vs = mergeInputs(b, l, xs, true);
    let y: string;
    if (type === 'Mean' || type === 'Max' || type === 'Min')
      y = b.op(
        type,
        vs.map(v => v.name),
        l.name,
      );
    else if (type === 'Add' && vs.length > 2)
      y = b.op(
        'Sum',
        vs.map(v => v.name),
        l.name,
      );
    else {
      // Left to right, as kernelnet's merge runs: ((x0 op x1) op x2) ...
      y = vs[0].name;
      for (const v of vs.slice(1)) y = b.op(type, [y, v.name], l.name);
    }
    return { name: y, layout: vs[0].layout, shape: l.outputShape };
  };

const concatenate: Converter = (b, l, xs) => {
  const vs = mergeInputs(b, l, xs, false);
  const rank = l.outputShape.length,
    axis = (l.axis as number) < 0 ? rank + 1 + (l.axis as number) : (l.axis as number);
  // NHWC axis 1 (H), 2 (W), 3 (C) is NCHW axis 2, 3, 1.
  const onnxAxis = vs[0].layout === 'nchw' ? [0, 2, 3, 1][axis] : axis;
  return {
    name: b.op(
      'Concat',
      vs.map(v => v.name),
      l.name,
      { axis: onnxAxis },
    ),
    layout: vs[0].layout,
    shape: l.outputShape,
  };
};

const identity: Converter = (_b, _l, [x]) => x;

/** Each layer class's ONNX form, by class name: every layer kernelnet has (the registry test checks the list). */
export const ONNX_CONVERTERS: Readonly<Record<string, Converter>> = {
  Conv2D: conv2d,
  MaxPooling2D: pool('MaxPool'),
  AveragePooling2D: pool('AveragePool'),
  GlobalAveragePooling2D: globalPool('GlobalAveragePool'),
  GlobalMaxPooling2D: globalPool('GlobalMaxPool'),
  ZeroPadding2D: zeroPadding2d,
  UpSampling2D: upSampling2d,
  Dropout: identity,
  Flatten: flatten,
  Reshape: reshape,
  Dense: dense,
  Activation: activation,
  LeakyReLU: activation,
  Rescaling: rescaling,
  BatchNormalization: batchNormalization,
  Add: elementwise('Add'),
  Subtract: elementwise('Sub'),
  Multiply: elementwise('Mul'),
  Average: elementwise('Mean'),
  Maximum: elementwise('Max'),
  Minimum: elementwise('Min'),
  Concatenate: concatenate,
};

function tensorType(shape: number[]): object {
  return { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'batch' }, ...shape.map(d => ({ dimValue: d }))] } } };
}

/** The checked options: the operator set and verbosity. */
export function exportOptions(args: unknown): { opset: number; verbose: boolean } {
  const a = checkOptions(args as ExportArgs | undefined, EXPORT_SCHEMA);
  if (a.format === undefined)
    throw new ValidationError(
      "export: pass { format: 'onnx' } (Keras's default, 'tf_saved_model', needs TensorFlow; kernelnet writes ONNX)",
      'ERR_KERNELNET_ARG',
    );
  if (a.format !== 'onnx')
    throw new ValidationError(
      `export: format '${String(a.format)}' is not supported; kernelnet exports 'onnx' (save() writes its own checkpoints)`,
      'ERR_KERNELNET_UNSUPPORTED',
    );
  if (a.opset !== undefined && a.opsetVersion !== undefined) throw new ValidationError('export: pass opset or opsetVersion, not both');
  const opset = a.opset ?? a.opsetVersion ?? ONNX_DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < OPSET_MIN || opset > OPSET_MAX) fail(`an integer from ${OPSET_MIN} to ${OPSET_MAX}`, 'opset', opset);
  if (a.verbose !== undefined && typeof a.verbose !== 'boolean') fail('a boolean', 'verbose', a.verbose);
  return { opset, verbose: a.verbose ?? false };
}

/**
 * The names of the exported model's inputs: the model's (inputNames), but where one is also an output's name (a
 * Sequential model of one layer, whose input is named after that layer) '_input' is appended, as tfjs names a
 * Sequential model's input.
 */
export function onnxInputNames(model: Network): string[] {
  const outputs = model.outputNames;
  return model.inputNames.map(n => (outputs.includes(n) ? `${n}_input` : n));
}

/**
 * The model as an ONNX ModelProto's bytes, for inference: its inputs and outputs named and shaped as predict()'s
 * (NHWC, a dynamic batch axis 'batch'), its weights as initializers.
 */
export function onnxModel(model: Network, opset = ONNX_DEFAULT_OPSET): Uint8Array {
  model.requireParams('export');
  const graph = model.graph,
    outputNames = model.outputNames,
    inputNames = onnxInputNames(model),
    shapes = model.inputShapes;
  const b = new Builder(opset, [...inputNames, ...outputNames]);
  const value: Value[] = [];
  for (const node of graph.order) {
    const layer = node.layer as AnyLayer;
    const convert = ONNX_CONVERTERS[layer.className];
    if (!convert)
      throw new ValidationError(
        `export: layer ${layer.name} (${layer.className}) has no ONNX form in kernelnet; the layers that export are ${Object.keys(ONNX_CONVERTERS).join(', ')}`,
        'ERR_KERNELNET_UNSUPPORTED',
      );
    const inputs = node.inputs.map(i => (i < 0 ? { name: inputNames[-1 - i], layout: 'nhwc' as const, shape: shapes[-1 - i] } : value[i]));
    value[node.id] = convert(b, layer, inputs);
  }
  // Outputs in NHWC, named as the model's; an Identity where the value has another name (or is an input).
  graph.outputs.forEach((id, o) => b.op('Identity', [b.nhwc(value[id]).name], outputNames[o], {}, outputNames[o]));
  const version = (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;
  const proto = {
    irVersion: irVersion(opset),
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'kernelnet',
    producerVersion: version,
    docString: `${model.name}, exported by kernelnet ${version} for inference (NHWC inputs and outputs)`,
    graph: {
      name: model.name,
      node: b.nodes,
      initializer: b.initializers,
      input: inputNames.map((name, k) => ({ name, type: tensorType(shapes[k]) })),
      output: outputNames.map((name, o) => ({ name, type: tensorType(graph.nodes[graph.outputs[o]].layer.outputShape) })),
    },
    metadataProps: [{ key: 'layout', value: 'NHWC' }],
  };
  const err = ModelProto.verify(proto);
  if (err) throw internal(err);
  return ModelProto.encode(ModelProto.fromObject(proto)).finish();
}
