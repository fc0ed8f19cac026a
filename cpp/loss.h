// The losses and metrics of one row of predictions, written once for both backends (cpu_loss.cc loops over
// rows; loss.cu gives each row a warp). Keras 3's definitions (keras/src/losses/losses.py, metrics/*.py):
//   categorical / sparse categorical cross-entropy: sum_j y_j (lse - z_j) on logits z (the softmax head
//   fused:
//     stable for any logits), y one-hot, soft, or a class index;
//   binary cross-entropy: mean_j [max(z, 0) - z y + log(1 + e^-|z|)] on logits (the sigmoid head fused);
//   mean squared / absolute error: mean_j (out - y)^2, mean_j |out - y| on the outputs;
// each row's loss times its weight (sample_weight), summed; the batch's loss is that sum over N (Keras's
// "sum_over_batch_size"). With clip_probabilities (kernelnet/tfjs), the cross-entropies are tfjs-layers'
// instead (tfjs-layers/src/losses.ts): on the head's probabilities p clipped to [1e-7, 1 - 1e-7],
//   categorical: -sum_j y_j log(clip(p_j)), and its gradient as tfjs's autodiff gives it through the division
//     by sum(p) and the clip (derived at loss_element);
//   binary: mean_j of the logistic loss on the logit log(c / (1 - c)) of c = clip(p_j), as tfjs writes it.
// Accuracies: categorical (argmax = argmax), sparse (argmax = the class), binary
// (mean_j
// [(out > 0.5) = y]); and the mse / mae metrics of the outputs (probabilities under a fused head).
#pragma once
#include <cmath>
#include <cstdint>

#include "hd.h"

namespace kn {

// The cross-entropies take logits (their softmax or sigmoid head is applied here, fused with the loss); the
// errors take the outputs as they are.
struct LossSpec {
  enum class Kind : int32_t { kCrossentropy = 0, kBinaryCrossentropy = 1, kMse = 2, kMae = 3 };
  enum class Accuracy : int32_t { kNone = 0, kCategorical = 1, kSparse = 2, kBinary = 3 };
  Kind kind = Kind::kCrossentropy;
  Accuracy accuracy = Accuracy::kCategorical;
  // tfjs-layers' cross-entropies: on probabilities clipped to [kClipEpsilon, 1 - kClipEpsilon]
  // (kernelnet/tfjs).
  bool clip_probabilities = false;
};

// tfjs's epsilon() on a float32 backend (tfjs-core's EPSILON_FLOAT32), the clip of its cross-entropies; 1 -
// it rounds in float32 to 0.99999988, as tfjs's clipByValue bound does.
constexpr float kClipEpsilon = 1e-7f;

// tfjs's clipByValue: a NaN stays NaN (so a non-finite loss is still seen).
KN_HD float clip_probability(float p) {
  return p < kClipEpsilon ? kClipEpsilon : p > 1.0f - kClipEpsilon ? 1.0f - kClipEpsilon : p;
}

// Whether a probability is inside the clip, bounds included: where tfjs's clipByValue passes the gradient on.
KN_HD bool inside_clip(float p) {
  return p >= kClipEpsilon && p <= 1.0f - kClipEpsilon;
}

// The metrics tensor's slots, accumulated over an epoch or an evaluation.
enum MetricSlot : int {
  kLossSum = 0,      // sum of weighted row losses
  kCorrect = 1,      // weighted hits (binary: weighted mean hits per row)
  kRows = 2,         // rows seen
  kFirstBad = 3,     // the first non-finite step + 1, or 0
  kWeightSum = 4,    // sum of the weights
  kSquaredSum = 5,   // weighted row means of (out - y)^2
  kAbsSum = 6,       // weighted row means of |out - y|
  kMetricSlots = 8,  // the tensor's size
};

// The row's target mass kept by the clip (loss_element's `kept`), for element j's logit z and target y.
KN_HD float kept_mass(float z, float y, float lse) {
  return inside_clip(expf(z - lse)) ? y : 0.0f;
}

// One element's contribution to its row's loss, given the row's log-sum-exp of the logits (softmax only),
// with the element's output (the head's probability, or the prediction) and the gradient of the row's loss
// with respect to the prediction (before the weight / N). `kept` (clipped categorical only) is the row's
// sum_j m_j y_j, m_j = inside_clip(p_j): the target mass whose probability the clip let through.
KN_HD float loss_element(const LossSpec& s, float z, float y, float lse, float kept, int k, float* grad,
                         float* out) {
  switch (s.kind) {
    case LossSpec::Kind::kCrossentropy: {
      const float p = expf(z - lse);
      *out = p;
      if (s.clip_probabilities) {
        // tfjs: q = p / sum(p) (sum 1: p is the softmax), c = clip(q), L = -sum_j y_j log c_j. Backward:
        // g_j = dL/dq_j = -m_j y_j / q_j; dL/dp_i = (g_i - sum_j g_j q_j) / S and, through the softmax,
        // dL/dz_i = p_i (dL/dp_i - sum_j p_j dL/dp_j) = q_i (g_i - sum_j g_j q_j) = q_i kept - m_i y_i.
        // Unclipped that is p - y; a target whose probability is clipped passes no gradient.
        const float c = clip_probability(p);
        *grad = p * kept - (inside_clip(p) ? y : 0.0f);
        return -y * logf(c);
      }
      *grad = p - y;  // the rows' targets sum to 1 (checked on the host)
      return y * (lse - z);
    }
    case LossSpec::Kind::kBinaryCrossentropy: {
      const float e = expf(-fabsf(z));
      const float sig = z >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
      *out = sig;
      if (s.clip_probabilities) {
        // tfjs: c = clip(sigmoid(z)), l = log(c / (1 - c)), L = max(l, 0) - l y + log1p(exp(-|l|)); dL/dl =
        // sigmoid(l) - y = c - y and dl/dz = m p (1 - p) / (c (1 - c)), so dL/dz = m (p - y).
        const float c = clip_probability(sig);
        const float l = logf(c / (1.0f - c));
        *grad = inside_clip(sig) ? (sig - y) / k : 0.0f;
        return (fmaxf(l, 0.0f) - l * y + log1pf(expf(-fabsf(l)))) / k;
      }
      *grad = (sig - y) / k;
      return (fmaxf(z, 0.0f) - z * y + log1pf(e)) / k;
    }
    default: {
      *out = z;
      const float d = z - y;
      if (s.kind == LossSpec::Kind::kMse) {
        *grad = 2.0f * d / k;
        return d * d / k;
      }
      *grad = (d > 0.0f ? 1.0f : d < 0.0f ? -1.0f : 0.0f) / k;
      return fabsf(d) / k;
    }
  }
}

}  // namespace kn
