// Softmax and the fused softmax + categorical cross-entropy on the CPU, one row of logits [N, K] at a time,
// row r weighted by w_r (1 without weights):
//   lse = max + log(sum exp(z - max));  loss_row = w_r sum_j y_j * (lse - z_j);
//   dz = w_r (softmax(z) - y) / N  (gradient of the batch's loss);  correct += w_r [argmax(z) == argmax(y)].
// Row results are summed in double and added to metrics = [loss sum, correct, rows seen, first non-finite
// step + 1, weight sum].
#include <cmath>

#include "cpu_backend.h"

namespace kn {

Status CpuBackend::softmax_cross_entropy(int n, int k, const float* logits, const float* labels,
                                         const float* weights, float* dlogits, float* metrics, uint64_t step,
                                         const int32_t* counter) {
  double loss_sum = 0.0, correct = 0.0, weight_sum = 0.0;
  const float inv_n = 1.0f / static_cast<float>(n);
  for (int r = 0; r < n; ++r) {
    const float* z = logits + static_cast<long>(r) * k;
    const float* y = labels + static_cast<long>(r) * k;
    int zmax_i = 0, ymax_i = 0;
    for (int j = 1; j < k; ++j) {
      if (z[j] > z[zmax_i]) zmax_i = j;
      if (y[j] > y[ymax_i]) ymax_i = j;
    }
    const float zmax = z[zmax_i];
    float sum = 0.0f;
    for (int j = 0; j < k; ++j) sum += std::exp(z[j] - zmax);
    const float lse = zmax + std::log(sum);
    float loss = 0.0f;
    for (int j = 0; j < k; ++j) loss += y[j] * (lse - z[j]);
    const float w = weights ? weights[r] : 1.0f;
    loss_sum += weights ? w * loss : loss;
    correct += zmax_i == ymax_i ? w : 0.0f;
    weight_sum += w;
    if (dlogits) {
      float* d = dlogits + static_cast<long>(r) * k;
      const float scale = weights ? w * inv_n : inv_n;
      for (int j = 0; j < k; ++j) d[j] = (std::exp(z[j] - lse) - y[j]) * scale;
    }
  }
  metrics[0] += static_cast<float>(loss_sum);
  metrics[1] += static_cast<float>(correct);
  metrics[2] += static_cast<float>(n);
  metrics[4] += static_cast<float>(weight_sum);
  if (!std::isfinite(loss_sum) && metrics[3] == 0.0f)
    metrics[3] = static_cast<float>(step + counter_value(counter) + 1);
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
