// Adadelta on the CPU, Keras semantics (keras/optimizers.py, Keras 2.1.3+), over all parameters in one call:
//   a = rho*a + (1-rho)*g^2;  delta = g * sqrt(d + eps) / sqrt(a + eps)  (new a, old d);
//   p -= lr * delta;  d = rho*d + (1-rho)*delta^2.
#include <cmath>

#include "cpu_backend.h"
#include "cpu_simd.h"

namespace kn {
namespace {

KN_CLONES void adadelta_range(float* __restrict p, const float* __restrict g, float* __restrict a,
                              float* __restrict d, std::size_t i0, std::size_t i1, float lr, float rho,
                              float eps) {
  for (std::size_t i = i0; i < i1; ++i) {
    const float gi = g[i];
    const float ai = rho * a[i] + (1.0f - rho) * gi * gi;
    const float delta = gi * std::sqrt(d[i] + eps) / std::sqrt(ai + eps);
    p[i] -= lr * delta;
    a[i] = ai;
    d[i] = rho * d[i] + (1.0f - rho) * delta * delta;
  }
}

}  // namespace

Status CpuBackend::adadelta(const AdadeltaTensor* tensors, int count, const float* lr_ptr, float rho,
                            float eps) {
  const float lr = *lr_ptr;
  for (int t = 0; t < count; ++t) {
    const AdadeltaTensor& T = tensors[t];
    parallel_chunks(T.size, kGrain, [&](std::size_t i0, std::size_t i1) {
      adadelta_range(T.param, T.grad, T.accum, T.delta_accum, i0, i1, lr, rho, eps);
    });
  }
  return Status::Ok();
}

Status CpuBackend::optimizer_step(const OptimizerHyper& h, const OptimizerTensor* tensors, int count,
                                  const float* lr, const int32_t* iterations) {
  const OptimizerScalars s = optimizer_scalars(h, *lr, *iterations);
  for (int t = 0; t < count; ++t) {
    const OptimizerTensor& T = tensors[t];
    parallel_chunks(T.size, kGrain, [&](std::size_t i0, std::size_t i1) {
      for (std::size_t i = i0; i < i1; ++i)
        optimizer_update(h, s, T.param + i, T.grad[i], T.slot[0] ? T.slot[0] + i : nullptr,
                         T.slot[1] ? T.slot[1] + i : nullptr, T.slot[2] ? T.slot[2] + i : nullptr);
    });
  }
  return Status::Ok();
}

Status CpuBackend::learning_rate(const Schedule& s, const int32_t* iterations, float* lr) {
  *lr = schedule_value(s, *iterations);
  return Status::Ok();
}

}  // namespace kn
