// Batch normalization on the CPU over x [M, C] (M = N*H*W rows, channels last), the twin of
// cuda/batchnorm.cu. Statistics are summed in double, in blocks of kBnBlock rows whose partial sums are added
// in block order, so the result does not depend on the thread count.
#include <cmath>
#include <vector>

#include "cpu_backend.h"

namespace kn {
namespace {

constexpr std::size_t kBnBlock = 256;

// sums[b * 2C + c] and sums[b * 2C + C + c]: the block's sum of f(row, c) and of g(row, c).
template <typename F, typename G>
void block_sums(std::size_t m, int c, std::vector<double>& sums, F f, G g) {
  const std::size_t blocks = (m + kBnBlock - 1) / kBnBlock;
  sums.assign(blocks * 2 * c, 0.0);
  parallel_chunks(blocks, 1, [&](std::size_t b0, std::size_t b1) {
    for (std::size_t b = b0; b < b1; ++b) {
      double* s = sums.data() + b * 2 * c;
      for (std::size_t r = b * kBnBlock; r < std::min(m, (b + 1) * kBnBlock); ++r)
        for (int j = 0; j < c; ++j) s[j] += f(r, j), s[c + j] += g(r, j);
    }
  });
}

}  // namespace

Status CpuBackend::batchnorm_forward(const BatchNormArgs& a, const float* x, float* y, float* mean,
                                     float* invstd, float* moving_mean, float* moving_var) {
  const std::size_t m = a.m;
  const int c = a.c;
  if (c == 0) return Status::Ok();  // (no channels: nothing to compute; the block sums below divide by c)
  if (a.training) {
    std::vector<double> sums;
    block_sums(
        m, c, sums, [&](std::size_t r, int j) { return static_cast<double>(x[r * c + j]); },
        [&](std::size_t r, int j) { return static_cast<double>(x[r * c + j]) * x[r * c + j]; });
    const std::size_t blocks = sums.size() / (2 * c);
    for (int j = 0; j < c; ++j) {
      double s = 0.0, q = 0.0;
      for (std::size_t b = 0; b < blocks; ++b) s += sums[b * 2 * c + j], q += sums[b * 2 * c + c + j];
      const double mu = s / m, var = std::max(q / m - mu * mu, 0.0);
      mean[j] = static_cast<float>(mu);
      invstd[j] = static_cast<float>(1.0 / std::sqrt(var + a.epsilon));
      moving_mean[j] = moving_mean[j] * a.momentum + static_cast<float>(mu) * (1.0f - a.momentum);
      moving_var[j] = moving_var[j] * a.momentum + static_cast<float>(var) * (1.0f - a.momentum);
    }
  } else {
    for (int j = 0; j < c; ++j) {
      mean[j] = moving_mean[j];
      invstd[j] = 1.0f / std::sqrt(moving_var[j] + a.epsilon);
    }
  }
  parallel_chunks(m, (kGrain + c - 1) / c, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r)
      for (int j = 0; j < c; ++j) y[r * c + j] = batchnorm_apply(a, x[r * c + j], mean[j], invstd[j], j);
  });
  return Status::Ok();
}

Status CpuBackend::batchnorm_backward(const BatchNormArgs& a, const float* x, const float* dy,
                                      const float* mean, const float* invstd, float* dx, float* dgamma,
                                      float* dbeta) {
  const std::size_t m = a.m;
  const int c = a.c;
  if (c == 0) return Status::Ok();
  std::vector<double> sums;
  block_sums(
      m, c, sums, [&](std::size_t r, int j) { return static_cast<double>(dy[r * c + j]); },
      [&](std::size_t r, int j) {
        return static_cast<double>(dy[r * c + j]) * ((x[r * c + j] - mean[j]) * invstd[j]);
      });
  const std::size_t blocks = sums.size() / (2 * c);
  std::vector<float> sum_dy(c), sum_dy_xhat(c);
  for (int j = 0; j < c; ++j) {
    double s = 0.0, q = 0.0;
    for (std::size_t b = 0; b < blocks; ++b) s += sums[b * 2 * c + j], q += sums[b * 2 * c + c + j];
    sum_dy[j] = static_cast<float>(s), sum_dy_xhat[j] = static_cast<float>(q);
    if (dbeta) dbeta[j] = sum_dy[j];
    if (dgamma) dgamma[j] = sum_dy_xhat[j];
  }
  if (!dx) return Status::Ok();
  parallel_chunks(m, (kGrain + c - 1) / c, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r)
      for (int j = 0; j < c; ++j)
        dx[r * c + j] = batchnorm_input_grad(a, x[r * c + j], dy[r * c + j], mean[j], invstd[j], sum_dy[j],
                                             sum_dy_xhat[j], j);
  });
  return Status::Ok();
}

Status CpuBackend::batchnorm_fold(const BatchNormArgs& a, std::size_t rows, const float* w, const float* b,
                                  const float* moving_mean, const float* moving_var, float* w_out,
                                  float* b_out) {
  const int c = a.c;
  std::vector<float> scale(c);
  for (int j = 0; j < c; ++j) {
    scale[j] = batchnorm_fold_scale(a, moving_var[j], j);
    b_out[j] = batchnorm_fold_bias(a, b ? b[j] : 0.0f, moving_mean[j], scale[j], j);
  }
  for (std::size_t r = 0; r < rows; ++r)
    for (int j = 0; j < c; ++j) w_out[r * c + j] = w[r * c + j] * scale[j];
  return Status::Ok();
}

}  // namespace kn
