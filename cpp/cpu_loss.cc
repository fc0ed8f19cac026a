// Softmax and the fused softmax + categorical cross-entropy on the CPU, one row of logits [N, K] at a time:
//   lse = max + log(sum exp(z - max));  loss_row = sum_j y_j * (lse - z_j);
//   dz = (softmax(z) - y) / N  (gradient of the batch-mean loss);  correct += argmax(z) == argmax(y).
// Row results are summed in double and added to metrics = [loss sum, correct count, rows seen, first
// non-finite step + 1].
#include <cmath>

#include "cpu_backend.h"

namespace kn {

Status CpuBackend::softmax_cross_entropy(int n, int k, const float* logits, const float* labels,
                                         float* dlogits, float* metrics, uint64_t step,
                                         const int32_t* counter) {
  double loss_sum = 0.0;
  long correct = 0;
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
    loss_sum += loss;
    correct += zmax_i == ymax_i;
    if (dlogits) {
      float* d = dlogits + static_cast<long>(r) * k;
      for (int j = 0; j < k; ++j) d[j] = (std::exp(z[j] - lse) - y[j]) * inv_n;
    }
  }
  metrics[0] += static_cast<float>(loss_sum);
  metrics[1] += static_cast<float>(correct);
  metrics[2] += static_cast<float>(n);
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
