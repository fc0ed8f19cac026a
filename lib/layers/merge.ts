// Merge layers (Keras's keras/src/layers/merging, tfjs's tf.layers.add and friends): several inputs, one output.
// The elementwise ones (Add, Subtract, Multiply, Average, Maximum, Minimum) run native.binary, one broadcasting
// kernel per backend, left to right: ((x0 op x1) op x2) ...; Concatenate copies each input into its slab.
import { KernelnetError, ValidationError } from '../core/errors.js';
import { native, type BinaryOp, type Device, type NativeTensor } from '../core/native.js';
import { empty } from '../core/tensor.js';
import { fail } from '../core/validate.js';
import { Layer, layerSchema, type LayerArgs, type LayerBuffers } from './layers.js';

/** The shape of [N, ...shape] as an operand of an output of `rank` axes per example: ones inserted after the batch axis (Keras). */
function aligned(shape: number[], rank: number): number[] {
  return [...Array(rank - shape.length).fill(1), ...shape];
}

const show = (shape: number[]) => `[N${shape.map(d => `, ${d}`).join('')}]`;

/**
 * The base of the merge layers: applied to a list of symbolic tensors (two or more), built for their shapes, run
 * by the engine with all its inputs at once (forwardAll, backwardAll).
 */
export abstract class Merge extends Layer {
  /** The shape of one example of each input, set when the layer is built. */
  inputShapes: number[][] = [];

  /** @internal */
  constructor(args: LayerArgs | undefined, className: string, own: readonly string[] = []) {
    super(args, layerSchema(className, own));
  }

  /** @internal Builds the layer for its inputs' shapes (per example), checking that they merge. */
  override buildFor(shapes: number[][]): number[] {
    if (this.built) {
      if (shapes.length !== this.inputShapes.length || shapes.some((s, i) => s.join() !== this.inputShapes[i].join()))
        throw new ValidationError(
          `${this.name}: applied again to inputs of shapes ${shapes.map(show).join(', ')}, but built for ${this.inputShapes.map(show).join(', ')}`,
          'ERR_KERNELNET_SHAPE',
        );
      return this.outputShape;
    }
    if (shapes.length < 2)
      throw new ValidationError(
        `${this.name || this.className} should be called on an array of at least 2 inputs, but received ${shapes.length}`,
        'ERR_KERNELNET_SHAPE',
      );
    this.inputShapes = shapes;
    this.inputShape = shapes[0];
    this.outputShape = this.mergedShape(shapes);
    this.built = true;
    return this.outputShape;
  }

  /** @internal */
  protected computeOutputShape(s: number[]): number[] {
    return this.mergedShape([s]);
  }

  /** @internal The output's shape per example, or a coded error for shapes that do not merge. */
  protected abstract mergedShape(shapes: number[][]): number[];

  /** @internal A merge is run by the engine with all its inputs (forwardAll). */
  forward(): NativeTensor {
    throw new KernelnetError(`${this.name}: a merge layer runs with all its inputs`, 'ERR_KERNELNET_INTERNAL');
  }

  /** @internal */
  backward(): NativeTensor | null {
    throw new KernelnetError(`${this.name}: a merge layer runs with all its inputs`, 'ERR_KERNELNET_INTERNAL');
  }

  /** @internal Buffers for a batch: the output and, for each input whose gradient flows back (need[j]), its gradient. */
  allocateFor(batch: number, need: boolean[], device: Device): LayerBuffers {
    return {
      y: empty([batch, ...this.outputShape], 'float32', device),
      dx: null,
      dxs: need.map((n, j) => (n ? empty([batch, ...this.inputShapes[j]], 'float32', device) : null)),
      extra: null,
      views: new WeakMap(),
    };
  }

  /** @internal The output for the inputs xs ([N, ...inputShapes[j]] each), into buf.y. */
  abstract forwardAll(xs: NativeTensor[], buf: LayerBuffers): NativeTensor;

  /** @internal Each input's gradient (null where need[j] is false) from the output's gradient dy. */
  abstract backwardAll(xs: NativeTensor[], y: NativeTensor, dy: NativeTensor, buf: LayerBuffers, need: boolean[]): (NativeTensor | null)[];

  /** @internal A tensor [N, ...s] as an operand of rank `rank` per example (a cached view when ones are inserted). */
  protected view(t: NativeTensor, rank: number, buf: LayerBuffers): NativeTensor {
    if (t.shape.length === rank + 1) return t;
    let v = buf.views.get(t);
    if (!v) buf.views.set(t, (v = t.reshape([t.shape[0], ...aligned(t.shape.slice(1), rank)])));
    return v;
  }
}

/**
 * An elementwise merge: Keras's shape rule (merging/base_merge.py): inputs of fewer axes get ones inserted after
 * the batch axis, then each axis must match or be 1 (numpy broadcasting per example).
 */
abstract class ElementwiseMerge extends Merge {
  /** @internal */
  protected abstract readonly op: BinaryOp;

  /** @internal The factor applied to the last result (Average: 1 / the number of inputs). */
  protected scale(): number {
    return 1;
  }

  /** @internal */
  protected mergedShape(shapes: number[][]): number[] {
    return shapes.reduce((a, b) => this.broadcast(a, b, shapes));
  }

  private broadcast(a: number[], b: number[], all: number[][]): number[] {
    const rank = Math.max(a.length, b.length),
      pa = aligned(a, rank),
      pb = aligned(b, rank);
    return pa.map((d, i) => {
      if (d === pb[i] || pb[i] === 1) return d;
      if (d === 1) return pb[i];
      throw new ValidationError(
        `${this.name || this.className}: inputs have incompatible shapes. Received shapes ${all.map(show).join(' and ')}`,
        'ERR_KERNELNET_SHAPE',
      );
    });
  }

  /** The running results' shapes: x0 op x1, then that op x2, ... (the last is the output's). */
  private partialShapes(): number[][] {
    const out: number[][] = [];
    let acc = this.inputShapes[0];
    for (let j = 1; j < this.inputShapes.length; ++j) out.push((acc = this.broadcast(acc, this.inputShapes[j], this.inputShapes)));
    return out;
  }

  /** Whether the gradient of every input is the output's gradient itself (an Add of equal shapes: no kernel runs). */
  private passesGradient(): boolean {
    return this.op === 'add' && this.scale() === 1 && this.inputShapes.every(s => s.join() === this.outputShape.join());
  }

  override allocateFor(batch: number, need: boolean[], device: Device): LayerBuffers {
    const buf = super.allocateFor(batch, this.passesGradient() ? need.map(() => false) : need, device);
    // Three or more inputs: the running results before the last, and (in training) their gradients.
    const inner = this.partialShapes().slice(0, -1);
    const training = need.some(n => n);
    buf.partials = [...inner, ...(training ? inner : [])].map(s => empty([batch, ...s], 'float32', device));
    return buf;
  }

  forwardAll(xs: NativeTensor[], buf: LayerBuffers): NativeTensor {
    const rank = this.outputShape.length,
      n = xs.length;
    let acc = this.view(xs[0], rank, buf);
    for (let j = 1; j < n; ++j) {
      const target = j === n - 1 ? buf.y! : this.view(buf.partials![j - 1], rank, buf);
      native.binary(this.op, acc, this.view(xs[j], rank, buf), target, j === n - 1 ? this.scale() : 1);
      acc = target;
    }
    return buf.y!;
  }

  backwardAll(xs: NativeTensor[], _y: NativeTensor, dy: NativeTensor, buf: LayerBuffers, need: boolean[]): (NativeTensor | null)[] {
    if (this.passesGradient()) return need.map(n => (n ? dy : null));
    const rank = this.outputShape.length,
      n = xs.length,
      inner = n - 2;
    const result: (NativeTensor | null)[] = need.map(() => null);
    let g = dy;
    // From the last step back: y = p op x[n-1], p = p' op x[n-2], ..., p1 = x0 op x1.
    for (let j = n - 1; j >= 1; --j) {
      const a = j === 1 ? this.view(xs[0], rank, buf) : this.view(buf.partials![j - 2], rank, buf);
      const aNeeded = need.slice(0, j).some(v => v);
      const da = !aNeeded ? null : j === 1 ? this.view(buf.dxs![0]!, rank, buf) : this.view(buf.partials![inner + j - 2], rank, buf);
      const db = need[j] ? this.view(buf.dxs![j]!, rank, buf) : null;
      if (da || db) native.binaryBackward(this.op, a, this.view(xs[j], rank, buf), g, da, db, j === n - 1 ? this.scale() : 1);
      if (need[j]) result[j] = buf.dxs![j];
      if (!da) break;
      g = da;
    }
    if (need[0]) result[0] = buf.dxs![0];
    return result;
  }
}

/** Adds its inputs (Keras's Add, tfjs's tf.layers.add). */
export class Add extends ElementwiseMerge {
  readonly className = 'Add';
  protected readonly op = 'add';
  constructor(args?: LayerArgs) {
    super(args, 'Add');
  }
}

/** The first input minus the second (Keras's Subtract): exactly two inputs. */
export class Subtract extends ElementwiseMerge {
  readonly className = 'Subtract';
  protected readonly op = 'sub';
  constructor(args?: LayerArgs) {
    super(args, 'Subtract');
  }
  /** @internal */
  protected override mergedShape(shapes: number[][]): number[] {
    if (shapes.length !== 2)
      throw new ValidationError(`${this.name || 'Subtract'} takes exactly 2 inputs, but received ${shapes.length}`, 'ERR_KERNELNET_SHAPE');
    return super.mergedShape(shapes);
  }
}

/** Multiplies its inputs elementwise (Keras's Multiply). */
export class Multiply extends ElementwiseMerge {
  readonly className = 'Multiply';
  protected readonly op = 'mul';
  constructor(args?: LayerArgs) {
    super(args, 'Multiply');
  }
}

/** The mean of its inputs: their sum over their number (Keras's Average). */
export class Average extends ElementwiseMerge {
  readonly className = 'Average';
  protected readonly op = 'add';
  constructor(args?: LayerArgs) {
    super(args, 'Average');
  }
  /** @internal */
  protected override scale(): number {
    return 1 / this.inputShapes.length;
  }
}

/** The elementwise maximum of its inputs (Keras's Maximum; a tie's gradient goes to the earlier input). */
export class Maximum extends ElementwiseMerge {
  readonly className = 'Maximum';
  protected readonly op = 'max';
  constructor(args?: LayerArgs) {
    super(args, 'Maximum');
  }
}

/** The elementwise minimum of its inputs (Keras's Minimum; a tie's gradient goes to the earlier input). */
export class Minimum extends ElementwiseMerge {
  readonly className = 'Minimum';
  protected readonly op = 'min';
  constructor(args?: LayerArgs) {
    super(args, 'Minimum');
  }
}

/** Concatenate's options (tfjs's concatenate args). */
export interface ConcatenateArgs extends LayerArgs {
  /** The axis to join along, counting the batch axis as 0 (default -1, the last; the batch axis itself is refused). */
  axis?: number;
}

/** Joins its inputs along one axis (Keras's Concatenate): every other axis must match. */
export class Concatenate extends Merge {
  readonly className = 'Concatenate';
  /** The axis as given (default -1), counting the batch axis as 0. */
  readonly axis: number;

  constructor(args: ConcatenateArgs = {}) {
    super(args, 'Concatenate', ['axis']);
    this.axis = args.axis ?? -1;
    if (!Number.isInteger(this.axis)) fail('an integer', 'axis', args.axis);
  }

  /** The axis within [N, ...shape]: 1 .. rank. */
  private at(rank: number): number {
    const a = this.axis < 0 ? rank + 1 + this.axis : this.axis;
    if (a < 1 || a > rank)
      throw new ValidationError(
        `${this.name || 'Concatenate'}: axis ${this.axis} is ${a === 0 ? 'the batch axis' : 'outside'} inputs of shape [N, ${rank} axes]; ` +
          `join along an axis in [1, ${rank}] or [-${rank}, -1]`,
        'ERR_KERNELNET_SHAPE',
      );
    return a;
  }

  /** @internal */
  protected mergedShape(shapes: number[][]): number[] {
    const rank = shapes[0].length,
      a = this.at(rank) - 1;
    const mismatch = shapes.some(s => s.length !== rank || s.some((d, i) => i !== a && d !== shapes[0][i]));
    if (mismatch)
      throw new ValidationError(
        `${this.name || 'Concatenate'} requires inputs with matching shapes except for the concatenation axis (${this.axis}). ` +
          `Received shapes ${shapes.map(show).join(', ')}`,
        'ERR_KERNELNET_SHAPE',
      );
    const out = [...shapes[0]];
    out[a] = shapes.reduce((n, s) => n + s[a], 0);
    return out;
  }

  forwardAll(xs: NativeTensor[], buf: LayerBuffers): NativeTensor {
    const a = this.at(this.outputShape.length);
    let offset = 0;
    for (const x of xs) {
      native.concatInto(x, buf.y!, a, offset);
      offset += x.shape[a];
    }
    return buf.y!;
  }

  backwardAll(xs: NativeTensor[], _y: NativeTensor, dy: NativeTensor, buf: LayerBuffers, need: boolean[]): (NativeTensor | null)[] {
    const a = this.at(this.outputShape.length);
    let offset = 0;
    return xs.map((x, j) => {
      const at = offset;
      offset += x.shape[a];
      if (!need[j]) return null;
      native.sliceFrom(dy, buf.dxs![j]!, a, at);
      return buf.dxs![j];
    });
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), axis: this.axis };
  }
}
