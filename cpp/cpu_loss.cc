// Losses and metrics on the CPU (loss.h has the definitions), one row of predictions [N, K] at a time, row r
// weighted by w_r (1 without weights); and softmax for predict. Row results are summed in double and added to
// the metrics tensor (loss.h's MetricSlot): loss sum, weighted hits, rows, the first non-finite step + 1,
// weight sum, weighted squared and absolute errors. The gradient is w_r dloss_r / dpred / N.
#include <cmath>

#include "cpu_backend.h"

namespace kn {

Status CpuBackend::loss(const LossSpec& spec, int n, int k, const float* pred, const float* labels,
                        const int32_t* classes, const float* weights, float* dpred, float* metrics,
                        uint64_t step, const int32_t* counter) {
  double loss_sum = 0.0, correct = 0.0, weight_sum = 0.0, sq_sum = 0.0, abs_sum = 0.0;
  const float inv_n = 1.0f / static_cast<float>(n);
  for (int r = 0; r < n; ++r) {
    const float* z = pred + static_cast<long>(r) * k;
    const float* y = labels ? labels + static_cast<long>(r) * k : nullptr;
    const int cls = classes ? classes[r] : -1;
    auto target = [&](int j) { return y ? y[j] : (j == cls ? 1.0f : 0.0f); };
    int zmax_i = 0, ymax_i = 0;
    for (int j = 1; j < k; ++j) {
      if (z[j] > z[zmax_i]) zmax_i = j;
      if (y && y[j] > y[ymax_i]) ymax_i = j;
    }
    // The softmax's log-sum-exp with the largest logit taken out: loss_element sees z - zmax and log(sum), so
    // a confident row's 1 - p keeps its digits (zmax + log(sum) rounded at zmax's magnitude loses them).
    float lse = 0.0f, shift = 0.0f;
    if (spec.kind == LossSpec::Kind::kCrossentropy) {
      float sum = 0.0f;
      shift = z[zmax_i];
      for (int j = 0; j < k; ++j) sum += std::exp(z[j] - shift);
      lse = std::log(sum);
    }
    float kept = 0.0f;  // clipped categorical: the target mass inside the clip (loss_element's `kept`)
    if (spec.kind == LossSpec::Kind::kCrossentropy && spec.clip_probabilities)
      for (int j = 0; j < k; ++j) kept += kept_mass(z[j] - shift, target(j), lse);
    const float w = weights ? weights[r] : 1.0f;
    const float scale = weights ? w * inv_n : inv_n;
    float loss = 0.0f, sq = 0.0f, ab = 0.0f, binary_hits = 0.0f;
    float* d = dpred ? dpred + static_cast<long>(r) * k : nullptr;
    for (int j = 0; j < k; ++j) {
      float grad, out;
      const float t = target(j);
      loss += loss_element(spec, z[j] - shift, t, lse, kept, k, &grad, &out);
      if (d) d[j] = grad * scale;
      sq += (out - t) * (out - t);
      ab += std::fabs(out - t);
      binary_hits += (out > 0.5f ? 1.0f : 0.0f) == t ? 1.0f : 0.0f;
    }
    float hit = 0.0f;
    switch (spec.accuracy) {
      case LossSpec::Accuracy::kCategorical:
        hit = zmax_i == ymax_i ? 1.0f : 0.0f;
        break;
      case LossSpec::Accuracy::kSparse:
        hit = zmax_i == cls ? 1.0f : 0.0f;
        break;
      case LossSpec::Accuracy::kBinary:
        hit = binary_hits / k;
        break;
      default:
        break;
    }
    loss_sum += weights ? w * loss : loss;
    correct += weights ? w * hit : hit;
    weight_sum += w;
    sq_sum += w * (sq / k);
    abs_sum += w * (ab / k);
  }
  metrics[kLossSum] += static_cast<float>(loss_sum);
  metrics[kCorrect] += static_cast<float>(correct);
  metrics[kRows] += static_cast<float>(n);
  metrics[kWeightSum] += static_cast<float>(weight_sum);
  metrics[kSquaredSum] += static_cast<float>(sq_sum);
  metrics[kAbsSum] += static_cast<float>(abs_sum);
  if (!std::isfinite(loss_sum) && metrics[kFirstBad] == 0.0f)
    metrics[kFirstBad] = static_cast<float>(step + counter_value(counter) + 1);
  return Status::Ok();
}

Status CpuBackend::softmax(int n, int k, const float* logits, float* probs) {
  for (int r = 0; r < n; ++r) {
    const float* z = logits + static_cast<long>(r) * k;
    float* p = probs + static_cast<long>(r) * k;
    float zmax = z[0];
    for (int j = 1; j < k; ++j) zmax = z[j] > zmax ? z[j] : zmax;
    float sum = 0.0f;
    for (int j = 0; j < k; ++j) sum += p[j] = std::exp(z[j] - zmax);
    const float inv = 1.0f / sum;
    for (int j = 0; j < k; ++j) p[j] *= inv;
  }
  return Status::Ok();
}

}  // namespace kn
