// A model's plan: its layers as the ops that run them, after the fusion rules. Each rule is a function over the
// layers that says where it applies; the plan lists, in order, the op that runs each layer or group of layers,
// and the model's executor (model.ts's forward and stepOps) only walks the plan. A rule that does not match
// leaves its layers to their own ops, and every rule can be switched off (the model's fuse/fold switches), so
// tests compare each fused plan with the plan without it.
//
// The rules:
// - convPool: a Conv2D whose output goes only into a MaxPooling2D with non-overlapping windows runs with it as
//   one op (training and inference); in training a Dropout after the pair runs in the same op too (forward when
//   foldDropout is on, backward always).
// - foldedBatchNorm (inference): Conv2D/Dense + BatchNormalization (+ an Activation) as one op, the statistics
//   folded into the weights.
// - denseLossHead (training): a linear Dense last layer runs its forward, the loss and its backward as one op.
// - activationBelow (training): a Conv2D or Dense layer's activation is applied by the input gradient of the op
//   above it, so the layer's own backward starts from dz.
import { Activation, BatchNormalization, Conv2D, Dense, Dropout, MaxPooling2D, type Layer } from './layers.js';
import { NEEDS_INPUT, type BelowAct, type NativeActivation } from './native.js';

/** The fusion switches (all on by default; tests turn each off to compare). */
export interface FusionSwitches {
  fuseConvPool: boolean;
  fuseHead: boolean;
  foldInference: boolean;
  foldDropout: boolean;
  foldBelow: boolean;
}

/** Conv2D/Dense + BatchNormalization (+ Activation) in inference, as one op with folded weights. */
export interface FusedGroup {
  producer: Conv2D | Dense;
  bn: BatchNormalization;
  /** The index of the group's last layer, whose output buffer receives the result. */
  last: number;
  activation: NativeActivation;
  alpha?: number;
}

/** One forward op of the plan; `at` is the index of its first layer. */
export type ForwardOp =
  | { op: 'layer'; at: number }
  | { op: 'convPool'; at: number; /** the Dropout run in the same op, or null */ dropout: number | null }
  | { op: 'foldedBatchNorm'; at: number; group: FusedGroup };

/** One backward op of the plan, from the top; `below` is the activation of the layer under it that it applies. */
export type BackwardOp =
  | { op: 'layer'; at: number; below?: BelowAct }
  | { op: 'convPool'; at: number; dropout: number | null; below?: BelowAct };

/** A training step's plan: the forward ops, whether the head is fused with the loss, and the backward ops. */
export interface StepPlan {
  /** The first layer with weights that train (backward stops there), or -1 when none trains. */
  first: number;
  /** denseLossHead: the last layer's forward, loss and backward as one op. */
  fusedHead: boolean;
  forward: ForwardOp[];
  backward: BackwardOp[];
}

/**
 * Rule foldedBatchNorm, where inference runs layers as one op: a Conv2D or Dense without activation, the
 * BatchNormalization after it and, if one follows, an Activation (or LeakyReLU) whose function the epilogue has
 * (not softmax, swish or gelu, and not a head the loss applies). With the moving statistics BatchNormalization is
 * an affine map per channel, so the GEMM runs with folded weights and bias (batchnorm.h) and the activation in its
 * epilogue: one op instead of three, and two passes over the activations fewer. Training (batch statistics) runs
 * the layers one by one. Keyed by the first layer's index.
 */
export function foldedInference(layers: readonly Layer[]): Map<number, FusedGroup> {
  const groups = new Map<number, FusedGroup>();
  for (let i = 0; i + 1 < layers.length; ++i) {
    const producer = layers[i], bn = layers[i + 1];
    if (!(producer instanceof Conv2D || producer instanceof Dense) || producer.activation !== 'linear' || !(bn instanceof BatchNormalization))
      continue;
    const act = layers[i + 2];
    const fusesAct = act instanceof Activation && !act.passes() && !NEEDS_INPUT.includes(act.activation as NativeActivation);
    groups.set(i, {
      producer, bn, last: fusesAct ? i + 2 : i + 1,
      activation: fusesAct ? act.activation as NativeActivation : 'linear', alpha: fusesAct ? act.nativeAlpha : undefined,
    });
    i += fusesAct ? 2 : 1;
  }
  return groups;
}

/**
 * Rule convPool: where a Conv2D's output goes only into a MaxPooling2D whose windows do not overlap (strides
 * equal to the window, Keras's default), the two run as one op, native.conv2dPoolForward/Backward, in training
 * and inference alike. The conv's output is never stored: the pool reads it from cache, and backward builds the
 * conv's dz straight from the pooled gradient at each window's argmax and sums over those entries alone (a
 * quarter of the multiply-adds at 2x2): the layers' forward pass bit for bit, their gradients up to float32
 * rounding. Not for an activation whose derivative needs its input (swish, gelu). The indices of the Conv2D layers.
 */
export function convPoolPairs(layers: readonly Layer[]): Set<number> {
  const pairs = new Set<number>();
  for (let i = 0; i + 1 < layers.length; ++i) {
    const conv = layers[i], pool = layers[i + 1];
    if (conv instanceof Conv2D && !NEEDS_INPUT.includes(conv.activation) && pool instanceof MaxPooling2D &&
      pool.strides[0] === pool.poolSize[0] && pool.strides[1] === pool.poolSize[1]) pairs.add(i++);
  }
  return pairs;
}

const isDropout = (l: Layer | undefined): l is Dropout => l instanceof Dropout && l.rate > 0;

/**
 * The forward ops over layers [0, upTo): in training (where every layer's input is kept for backward) without
 * foldedBatchNorm, which is an inference rule.
 */
export function forwardPlan(layers: readonly Layer[], training: boolean, sw: FusionSwitches, upTo = layers.length): ForwardOp[] {
  const folded = !training && sw.foldInference ? foldedInference(layers) : null;
  const pooled = sw.fuseConvPool ? convPoolPairs(layers) : null;
  const ops: ForwardOp[] = [];
  for (let i = 0; i < upTo; ++i) {
    const group = folded?.get(i);
    if (group) {
      ops.push({ op: 'foldedBatchNorm', at: i, group });
      i = group.last;
    } else if (pooled?.has(i)) {
      const dropout = training && sw.foldDropout && i + 2 < upTo && isDropout(layers[i + 2]) ? i + 2 : null;
      ops.push({ op: 'convPool', at: i, dropout });
      i += dropout === null ? 1 : 2;
    } else {
      ops.push({ op: 'layer', at: i });
    }
  }
  return ops;
}

/**
 * A training step's plan. `trains(i)`: whether layer i has weights that train; backward runs from the top down
 * to the first such layer (before it there is nothing to learn).
 */
export function stepPlan(layers: readonly Layer[], trains: (i: number) => boolean, sw: FusionSwitches): StepPlan {
  const first = layers.findIndex((_, i) => trains(i));
  const last = layers.length - 1, head = layers[last];
  // Rule denseLossHead: a linear Dense head (logits for the loss, or outputs with no activation) runs its forward,
  // the loss and its backward as one op: the same results, one GPU kernel for a small head.
  const fusedHead = sw.fuseHead && head instanceof Dense && head.linear && first >= 0;
  const pooled = sw.fuseConvPool ? convPoolPairs(layers) : null;
  // Rule activationBelow: layer j's activation, when the op above it can apply it to its input gradient (its
  // epilogue on a GPU): layer j's backward then starts from that dz, and no pass of its own reads its output.
  const below = (j: number): BelowAct | undefined => {
    const l = layers[j];
    if (!sw.foldBelow || j < first || !(l instanceof Conv2D || l instanceof Dense) || pooled?.has(j)) return undefined;
    const act = l.epilogueActivation;
    return act === 'linear' || NEEDS_INPUT.includes(act) ? undefined : { activation: act };
  };
  const backward: BackwardOp[] = [];
  for (let i = fusedHead ? last - 1 : last; first >= 0 && i >= first; --i) {
    if (pooled?.has(i - 2) && isDropout(layers[i])) {
      // A Dropout after a fused pair: its backward folded into the pair's (the same mask, one pass on a GPU).
      backward.push({ op: 'convPool', at: i - 2, dropout: i, below: below(i - 3) });
      i -= 2;
    } else if (pooled?.has(i - 1)) { // the MaxPooling2D of a fused pair: both layers at once
      backward.push({ op: 'convPool', at: i - 1, dropout: null, below: below(i - 2) });
      i -= 1;
    } else {
      const l = layers[i];
      backward.push({ op: 'layer', at: i, below: l instanceof Conv2D || l instanceof Dense ? below(i - 1) : undefined });
    }
  }
  return { first, fusedHead, forward: forwardPlan(layers, true, sw, fusedHead ? last : layers.length), backward };
}

/**
 * What each layer's buffers hold under the plan: a fused pair's conv stores no output (the pool reads it from
 * cache), and its pool no input gradient (the conv's dz is built from the pooled gradient inside the op).
 */
export function bufferNeeds(layers: readonly Layer[], training: boolean, sw: FusionSwitches): { output: boolean; inputGrad: boolean }[] {
  const pooled = sw.fuseConvPool ? convPoolPairs(layers) : null;
  return layers.map((_, i) => ({ output: !pooled?.has(i), inputGrad: training && i > 0 && !pooled?.has(i - 1) }));
}
