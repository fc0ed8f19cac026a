// tf.metrics (tfjs-layers' metrics.ts) and tf.losses (tfjs-core's ops/losses) as tfjs composes them, each from
// the native ops of ops.ts inside a tidy, so every intermediate tensor is freed and the values are tfjs's: the
// same formulas, the same epsilon (1e-7), the same clipping, the same reductions.
import { tidy, type Tensor } from '../core/tensor.js';
import { opError } from './base.js';
import * as o from './differentiable.js';
import type { TensorInput } from './ops.js';

const EPSILON = 1e-7; // tfjs-layers' backend epsilon()

/** tf.losses' reductions (tfjs-core's Reduction enum, the same values). */
export enum Reduction {
  /** The losses as they are, one per element. */
  NONE = 0,
  /** The weighted sum over the sum of the weights. */
  MEAN = 1,
  /** The weighted sum. */
  SUM = 2,
  /** The weighted sum over the number of non-zero weights (the default). */
  SUM_BY_NONZERO_WEIGHTS = 3,
}

/** tfjs-layers' sigmoidCrossEntropyWithLogits: relu(z) - z * y + log1p(exp(-|z|)). */
function sigmoidXentWithLogits(labels: TensorInput, logits: TensorInput): Tensor {
  return tidy(() => o.add(o.sub(o.relu(logits), o.mul(logits, labels)), o.log1p(o.exp(o.neg(o.abs(logits))))));
}

/** tfjs-layers' l2Normalize(x, axis): x / sqrt(max(sum(x^2, axis), epsilon)). */
function l2Normalize(x: TensorInput, axis: number): Tensor {
  return tidy(() => {
    const squareSum = o.sum(o.square(x), axis, true);
    const epsilonTensor = o.mul(o.scalar(EPSILON), o.onesLike(x));
    return o.div(x, o.sqrt(o.maximum(squareSum, epsilonTensor)));
  });
}

/** tf.metrics: tfjs-layers' metric functions, each a tensor of per-example values (precision and recall: a scalar). */
export const metrics = {
  /** The fraction of yPred > 0.5 equal to yTrue, per example (over the last axis). */
  binaryAccuracy(yTrue: Tensor, yPred: Tensor): Tensor {
    return tidy(() => o.mean(o.equal(yTrue, o.cast(o.greater(yPred, 0.5), yTrue.dtype)), -1));
  },
  /** 1 where the argmax of yTrue and yPred agree, per example. */
  categoricalAccuracy(yTrue: Tensor, yPred: Tensor): Tensor {
    return tidy(() => o.cast(o.equal(o.argMax(yTrue, -1), o.argMax(yPred, -1)), 'float32'));
  },
  /** true positives / (true + false positives), over every element (labels and predictions of 0 or 1), as tfjs computes it. */
  precision(yTrue: Tensor, yPred: Tensor): Tensor {
    return tidy(() => {
      const tp = o.cast(o.sum(o.logicalAnd(o.equal(yTrue, 1), o.equal(yPred, 1))), 'float32');
      const fp = o.cast(o.sum(o.logicalAnd(o.equal(yTrue, 0), o.equal(yPred, 1))), 'float32');
      const denominator = o.add(tp, fp);
      return o.cast(o.where(o.greater(denominator, 0), o.div(tp, denominator), 0), 'float32');
    });
  },
  /** true positives / (true positives + false negatives), as precision. */
  recall(yTrue: Tensor, yPred: Tensor): Tensor {
    return tidy(() => {
      const tp = o.cast(o.sum(o.logicalAnd(o.equal(yTrue, 1), o.equal(yPred, 1))), 'float32');
      const fn = o.cast(o.sum(o.logicalAnd(o.equal(yTrue, 1), o.equal(yPred, 0))), 'float32');
      const denominator = o.add(tp, fn);
      return o.cast(o.where(o.greater(denominator, 0), o.div(tp, denominator), 0), 'float32');
    });
  },
  /** mean((yPred - yTrue)^2) over the last axis. */
  meanSquaredError(yTrue: Tensor, yPred: Tensor): Tensor {
    return tidy(() => o.mean(o.square(o.sub(yPred, yTrue)), -1));
  },
  /** mean(|yPred - yTrue|) over the last axis. */
  meanAbsoluteError(yTrue: Tensor, yPred: Tensor): Tensor {
    return tidy(() => o.mean(o.abs(o.sub(yPred, yTrue)), -1));
  },
  /** 100 * mean(|(yTrue - yPred) / max(|yTrue|, epsilon)|) over the last axis. */
  meanAbsolutePercentageError(yTrue: Tensor, yPred: Tensor): Tensor {
    return tidy(() => {
      const clippedTrue = o.clipByValue(o.abs(yTrue), EPSILON, Number.MAX_VALUE);
      return o.mul(100, o.mean(o.abs(o.div(o.sub(yTrue, yPred), clippedTrue)), -1));
    });
  },
  /** -sum(yTrue * log(p)) over the last axis, p = yPred normalised to sum 1 and clipped to [1e-7, 1 - 1e-7]. */
  categoricalCrossentropy(yTrue: Tensor, yPred: Tensor): Tensor {
    return tidy(() => {
      const last = yPred.shape.length - 1;
      const p = o.clipByValue(o.div(yPred, o.sum(yPred, last, true)), EPSILON, 1 - EPSILON);
      return o.neg(o.sum(o.mul(o.cast(yTrue, 'float32'), o.log(p)), last));
    });
  },
  /** The mean over the last axis of the binary cross-entropy of yPred clipped to [1e-7, 1 - 1e-7]. */
  binaryCrossentropy(yTrue: Tensor, yPred: Tensor): Tensor {
    return tidy(() => {
      const p = o.clipByValue(yPred, EPSILON, 1 - EPSILON);
      return o.mean(sigmoidXentWithLogits(yTrue, o.log(o.div(p, o.sub(1, p)))), -1);
    });
  },
  /** 1 where yTrue's class index equals yPred's argmax, per example. */
  sparseCategoricalAccuracy(yTrue: Tensor, yPred: Tensor): Tensor {
    return tidy(() => {
      let t: Tensor = yTrue;
      if (yTrue.shape.length === yPred.shape.length) t = o.squeeze(yTrue, [yTrue.shape.length - 1]);
      let p = o.argMax(yPred, -1);
      if (p.dtype !== t.dtype) p = o.cast(p, t.dtype);
      return o.cast(o.equal(t, p), 'float32');
    });
  },
  /** -sum(l2Normalize(yTrue) * l2Normalize(yPred)) over the last axis. */
  cosineProximity(yTrue: Tensor, yPred: Tensor): Tensor {
    return tidy(() => o.neg(o.sum(o.mul(l2Normalize(yTrue, -1), l2Normalize(yPred, -1)), -1)));
  },
};

function reductionArg(reduction: unknown): Reduction {
  if (reduction === undefined) return Reduction.SUM_BY_NONZERO_WEIGHTS;
  if (reduction === 0 || reduction === 1 || reduction === 2 || reduction === 3) return reduction;
  throw opError('losses', `expected reduction to be a tf.Reduction (0 to 3) but received ${String(reduction)}`, 'ERR_KERNELNET_ARG');
}

/** tf.losses.computeWeightedLoss(losses, weights?, reduction = SUM_BY_NONZERO_WEIGHTS), tfjs-core's. */
function computeWeightedLoss(losses: TensorInput, weights?: TensorInput, reduction?: Reduction): Tensor {
  const r = reductionArg(reduction);
  return tidy(() => {
    const l = o.clone(losses as Tensor);
    const weighted = weights === undefined || weights === null ? l : o.mul(l, weights);
    if (r === Reduction.NONE) return weighted;
    if (r === Reduction.SUM) return o.sum(weighted);
    if (r === Reduction.MEAN) {
      if (weights === undefined || weights === null) return o.mean(weighted);
      const w = o.clone(weights as Tensor);
      const result = o.div(o.sum(weighted), o.sum(w));
      const factor = l.size / w.size;
      return factor > 1 ? o.div(result, o.scalar(factor)) : result;
    }
    if (weights === undefined || weights === null) return o.div(o.sum(weighted), o.scalar(l.size));
    const broadcasted = o.mul(weights, o.ones(l.shape));
    return o.div(o.sum(weighted), o.cast(o.sum(o.notEqual(broadcasted, o.scalar(0))), 'float32'));
  });
}

/** tf.losses: tfjs-core's loss functions, each reduced by computeWeightedLoss. */
export const losses = {
  /** The losses weighted (weights broadcast to them) and reduced as `reduction` says (default SUM_BY_NONZERO_WEIGHTS). */
  computeWeightedLoss,
  /** |labels - predictions|, weighted and reduced. */
  absoluteDifference(labels: TensorInput, predictions: TensorInput, weights?: TensorInput, reduction?: Reduction): Tensor {
    return tidy(() => computeWeightedLoss(o.abs(o.sub(labels, predictions)), weights, reduction));
  },
  /** (labels - predictions)^2, weighted and reduced. */
  meanSquaredError(labels: TensorInput, predictions: TensorInput, weights?: TensorInput, reduction?: Reduction): Tensor {
    return tidy(() => computeWeightedLoss(o.squaredDifference(labels, predictions), weights, reduction));
  },
  /** The sigmoid cross-entropy of logits against labels (smoothed toward 0.5 by labelSmoothing). */
  sigmoidCrossEntropy(multiClassLabels: TensorInput, logits: TensorInput, weights?: TensorInput, labelSmoothing = 0, reduction?: Reduction): Tensor {
    return tidy(() => {
      let labels: TensorInput = multiClassLabels;
      if (labelSmoothing > 0) labels = o.add(o.mul(labels, o.scalar(1 - labelSmoothing)), o.scalar(0.5 * labelSmoothing));
      return computeWeightedLoss(sigmoidXentWithLogits(labels, logits), weights, reduction);
    });
  },
  /** The softmax cross-entropy of logits against one-hot labels over the last axis (smoothed by labelSmoothing). */
  softmaxCrossEntropy(onehotLabels: TensorInput, logits: TensorInput, weights?: TensorInput, labelSmoothing = 0, reduction?: Reduction): Tensor {
    return tidy(() => {
      let labels: TensorInput = onehotLabels;
      const z = o.clone(logits as Tensor);
      if (labelSmoothing > 0) {
        const k = z.shape[z.shape.length - 1];
        labels = o.add(o.mul(labels, o.scalar(1 - labelSmoothing)), o.scalar(labelSmoothing / k));
      }
      const last = z.shape.length - 1;
      const logProbs = o.sub(z, o.logSumExp(z, [last], true));
      return computeWeightedLoss(o.sum(o.mul(o.neg(labels), logProbs), [last]), weights, reduction);
    });
  },
  /** -labels log(p + epsilon) - (1 - labels) log(1 - p + epsilon). */
  logLoss(labels: TensorInput, predictions: TensorInput, weights?: TensorInput, epsilon = 1e-7, reduction?: Reduction): Tensor {
    return tidy(() => {
      const one = o.scalar(1),
        eps = o.scalar(epsilon);
      const l1 = o.neg(o.mul(labels, o.log(o.add(predictions, eps))));
      const l2 = o.mul(o.sub(one, labels), o.log(o.add(o.sub(one, predictions), eps)));
      return computeWeightedLoss(o.sub(l1, l2), weights, reduction);
    });
  },
  /** Quadratic below delta, linear beyond. */
  huberLoss(labels: TensorInput, predictions: TensorInput, weights?: TensorInput, delta = 1, reduction?: Reduction): Tensor {
    return tidy(() => {
      const d = o.scalar(delta);
      const error = o.abs(o.sub(predictions, labels));
      const quadratic = o.minimum(error, d);
      const linear = o.sub(error, quadratic);
      return computeWeightedLoss(o.add(o.mul(o.scalar(0.5), o.square(quadratic)), o.mul(d, linear)), weights, reduction);
    });
  },
  /** relu(1 - (2 labels - 1) predictions). */
  hingeLoss(labels: TensorInput, predictions: TensorInput, weights?: TensorInput, reduction?: Reduction): Tensor {
    return tidy(() => {
      const one = o.scalar(1);
      const signed = o.sub(o.mul(o.scalar(2), labels), one);
      return computeWeightedLoss(o.relu(o.sub(one, o.mul(signed, predictions))), weights, reduction);
    });
  },
  /** 1 - sum(labels * predictions, axis). */
  cosineDistance(labels: TensorInput, predictions: TensorInput, axis: number, weights?: TensorInput, reduction?: Reduction): Tensor {
    return tidy(() => computeWeightedLoss(o.sub(o.scalar(1), o.sum(o.mul(labels, predictions), axis, true)), weights, reduction));
  },
};
