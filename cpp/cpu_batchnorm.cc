// Batch normalization on the CPU over x [M, C] (M = N*H*W rows, channels last), the twin of
// cuda/batchnorm.cu. Statistics are summed in blocks of kBnBlock rows, in float over runs of 16 rows within a
// block (vectorised over the channels) and in double across runs and blocks, added in order: the result does
// not depend on the thread count. The forward's sums are of x - k with k a row of x (the first), so the
// variance's E[(x-k)^2] - E[x-k]^2 does not cancel when the mean is large against the spread; the backward's
// are of dy and of dy (x - mean).
#include <cmath>
#include <vector>

#include "cpu_backend.h"
#include "cpu_simd.h"

namespace kn {
namespace {

constexpr std::size_t kBnBlock = 256;

// s[j] = sum over rows [r0, r1) of u(r, j), q[j] of v(r, j), where (u, v) = (x - k, (x - k)^2) with k = `k`,
// or (dy, dy (x - mean)) with `b` = dy and k = mean (Backward): in float over runs of kRun rows (vectorised
// over the channels), each run's sums added into s and q in double, so a float sum never spans more than kRun
// rows.
constexpr std::size_t kRun = 16;
template <bool Backward>
KN_ALWAYS_INLINE void block_sums_body(const float* __restrict x, const float* __restrict b, std::size_t r0,
                                      std::size_t r1, int c, const float* __restrict k, double* __restrict s,
                                      double* __restrict q, float* __restrict fs, float* __restrict fq) {
  for (int j = 0; j < c; ++j) s[j] = 0.0, q[j] = 0.0;
  for (std::size_t t0 = r0; t0 < r1; t0 += kRun) {
    for (int j = 0; j < c; ++j) fs[j] = 0.0f, fq[j] = 0.0f;
    for (std::size_t r = t0; r < std::min(r1, t0 + kRun); ++r) {
      const float* __restrict xr = x + r * c;
      const float* __restrict br = Backward ? b + r * c : nullptr;
      for (int j = 0; j < c; ++j) {
        const float d = xr[j] - k[j];
        if (Backward) {
          fs[j] += br[j];
          fq[j] += br[j] * d;
        } else {
          fs[j] += d;
          fq[j] += d * d;
        }
      }
    }
    for (int j = 0; j < c; ++j) s[j] += fs[j], q[j] += fq[j];
  }
}
KN_CLONES void forward_sums(const float* x, std::size_t r0, std::size_t r1, int c, const float* k, double* s,
                            double* q, float* fs, float* fq) {
  block_sums_body<false>(x, nullptr, r0, r1, c, k, s, q, fs, fq);
}
KN_CLONES void backward_sums(const float* x, const float* dy, std::size_t r0, std::size_t r1, int c,
                             const float* mean, double* s, double* q, float* fs, float* fq) {
  block_sums_body<true>(x, dy, r0, r1, c, mean, s, q, fs, fq);
}

// The batch's per-channel sums in double: blocks of kBnBlock rows summed in block order, each block by
// sums(r0, r1, s, q, fs, fq) (fs, fq: c floats of scratch).
template <typename Sums>
void batch_sums(std::size_t m, int c, std::vector<double>& s, std::vector<double>& q, Sums sums) {
  const std::size_t blocks = (m + kBnBlock - 1) / kBnBlock;
  std::vector<double> parts(blocks * 2 * c);
  parallel_chunks(blocks, 1, [&](std::size_t b0, std::size_t b1) {
    std::vector<float> scratch(2 * c);
    for (std::size_t b = b0; b < b1; ++b) {
      double* p = parts.data() + b * 2 * c;
      sums(b * kBnBlock, std::min(m, (b + 1) * kBnBlock), p, p + c, scratch.data(), scratch.data() + c);
    }
  });
  s.assign(c, 0.0), q.assign(c, 0.0);
  for (std::size_t b = 0; b < blocks; ++b)
    for (int j = 0; j < c; ++j) s[j] += parts[b * 2 * c + j], q[j] += parts[b * 2 * c + c + j];
}

// y = (x - mean[j]) scale[j] + shift[j] for rows [r0, r1).
KN_CLONES void apply_rows(const float* __restrict x, std::size_t r0, std::size_t r1, int c,
                          const float* __restrict mean, const float* __restrict scale,
                          const float* __restrict shift, float* __restrict y) {
  for (std::size_t r = r0; r < r1; ++r)
    for (int j = 0; j < c; ++j) y[r * c + j] = (x[r * c + j] - mean[j]) * scale[j] + shift[j];
}

// dx = dy k1[j] + (x - mean[j]) k2[j] + k3[j] for rows [r0, r1).
KN_CLONES void input_grad_rows(const float* __restrict x, const float* __restrict dy, std::size_t r0,
                               std::size_t r1, int c, const float* __restrict mean,
                               const float* __restrict k1, const float* __restrict k2,
                               const float* __restrict k3, float* __restrict dx) {
  for (std::size_t r = r0; r < r1; ++r)
    for (int j = 0; j < c; ++j)
      dx[r * c + j] = dy[r * c + j] * k1[j] + (x[r * c + j] - mean[j]) * k2[j] + k3[j];
}

}  // namespace

Status CpuBackend::batchnorm_forward(const BatchNormArgs& a, const float* x, float* y, float* mean,
                                     float* invstd, float* moving_mean, float* moving_var) {
  const std::size_t m = a.m;
  const int c = a.c;
  if (c == 0) return Status::Ok();  // (no channels: nothing to compute)
  if (a.training) {
    std::vector<float> k(x, x + (m > 0 ? c : 0));  // the shift: the first row
    k.resize(c, 0.0f);
    std::vector<double> s, q;
    batch_sums(m, c, s, q, [&](std::size_t r0, std::size_t r1, double* ps, double* pq, float* fs, float* fq) {
      forward_sums(x, r0, r1, c, k.data(), ps, pq, fs, fq);
    });
    for (int j = 0; j < c; ++j) {
      const double d = s[j] / m, mu = k[j] + d, var = std::max(q[j] / m - d * d, 0.0);
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
  std::vector<float> scale(c), shift(c);
  for (int j = 0; j < c; ++j) {
    scale[j] = invstd[j] * (a.gamma ? a.gamma[j] : 1.0f);
    shift[j] = a.beta ? a.beta[j] : 0.0f;
  }
  parallel_chunks(m, (kGrain + c - 1) / c, [&](std::size_t r0, std::size_t r1) {
    apply_rows(x, r0, r1, c, mean, scale.data(), shift.data(), y);
  });
  return Status::Ok();
}

Status CpuBackend::batchnorm_backward(const BatchNormArgs& a, const float* x, const float* dy,
                                      const float* mean, const float* invstd, float* dx, float* dgamma,
                                      float* dbeta) {
  const std::size_t m = a.m;
  const int c = a.c;
  if (c == 0) return Status::Ok();
  std::vector<double> s, q;
  batch_sums(m, c, s, q, [&](std::size_t r0, std::size_t r1, double* ps, double* pq, float* fs, float* fq) {
    backward_sums(x, dy, r0, r1, c, mean, ps, pq, fs, fq);
  });
  // sum dy and sum dy x_hat (= invstd sum dy (x - mean)); then dx = g invstd (dy - sum_dy / m - x_hat
  // sum_dy_xhat / m) in training, g invstd dy in inference, as dy k1 + (x - mean) k2 + k3.
  std::vector<float> k1(c), k2(c), k3(c);
  const double inv_m = 1.0 / static_cast<double>(m);
  for (int j = 0; j < c; ++j) {
    const float sum_dy = static_cast<float>(s[j]), sum_dy_xhat = static_cast<float>(q[j] * invstd[j]);
    if (dbeta) dbeta[j] = sum_dy;
    if (dgamma) dgamma[j] = sum_dy_xhat;
    const double g = a.gamma ? a.gamma[j] : 1.0, gi = g * invstd[j];
    k1[j] = static_cast<float>(gi);
    k2[j] = a.training ? static_cast<float>(-gi * invstd[j] * sum_dy_xhat * inv_m) : 0.0f;
    k3[j] = a.training ? static_cast<float>(-gi * sum_dy * inv_m) : 0.0f;
  }
  if (!dx) return Status::Ok();
  parallel_chunks(m, (kGrain + c - 1) / c, [&](std::size_t r0, std::size_t r1) {
    input_grad_rows(x, dy, r0, r1, c, mean, k1.data(), k2.data(), k3.data(), dx);
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
