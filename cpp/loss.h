// The losses and metrics of one row of predictions, written once for both backends (cpu_loss.cc loops over
// rows; loss.cu gives each row a warp). Keras 3's definitions (keras/src/losses/losses.py, metrics/*.py):
//   categorical / sparse categorical cross-entropy: sum_j y_j (lse - z_j) on logits z (the softmax head
//   fused:
//     stable for any logits), y one-hot, soft, or a class index;
//   binary cross-entropy: mean_j [max(z, 0) - z y + log(1 + e^-|z|)] on logits (the sigmoid head fused);
//   mean squared / absolute error: mean_j (out - y)^2, mean_j |out - y| on the outputs;
// each row's loss times its weight (sample_weight), summed; the batch's loss is that sum over N (Keras's
// "sum_over_batch_size"). Accuracies: categorical (argmax = argmax), sparse (argmax = the class), binary
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
};

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

// One element's contribution to its row's loss, given the row's log-sum-exp of the logits (softmax only),
// with the element's output (the head's probability, or the prediction) and the gradient of the row's loss
// with respect to the prediction (before the weight / N).
KN_HD float loss_element(const LossSpec& s, float z, float y, float lse, int k, float* grad, float* out) {
  switch (s.kind) {
    case LossSpec::Kind::kCrossentropy: {
      const float p = expf(z - lse);
      *out = p;
      *grad = p - y;  // the rows' targets sum to 1 (checked on the host)
      return y * (lse - z);
    }
    case LossSpec::Kind::kBinaryCrossentropy: {
      const float e = expf(-fabsf(z));
      const float sig = z >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
      *out = sig;
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
