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

namespace {

// optim.h's update over [i0, i1) with the optimizer and its slot count fixed at compile time, so that the
// switch and the slot tests fold away and the loop vectorises (a generic loop ran at a sixth of Adadelta's
// speed).
template <OptimizerHyper::Kind K, int Slots>
void update_range(OptimizerHyper h, const OptimizerScalars& s, const OptimizerTensor& t, std::size_t i0,
                  std::size_t i1) {
  h.kind = K;
  float* __restrict p = t.param;
  const float* __restrict g = t.grad;
  float* __restrict a = t.slot[0];
  float* __restrict b = t.slot[1];
  float* __restrict c = t.slot[2];
  for (std::size_t i = i0; i < i1; ++i)
    optimizer_update(h, s, p + i, g[i], Slots > 0 ? a + i : nullptr, Slots > 1 ? b + i : nullptr,
                     Slots > 2 ? c + i : nullptr);
}

using RangeFn = void (*)(OptimizerHyper, const OptimizerScalars&, const OptimizerTensor&, std::size_t,
                         std::size_t);

RangeFn range_fn(const OptimizerHyper& h) {
  using K = OptimizerHyper::Kind;
  const int n = h.slots();
  switch (h.kind) {
    case K::kSgd:
      return n ? update_range<K::kSgd, 1> : update_range<K::kSgd, 0>;
    case K::kAdam:
      return n == 3 ? update_range<K::kAdam, 3> : update_range<K::kAdam, 2>;
    case K::kRmsprop:
      return n == 3   ? update_range<K::kRmsprop, 3>
             : n == 2 ? update_range<K::kRmsprop, 2>
                      : update_range<K::kRmsprop, 1>;
    default:
      return update_range<K::kAdagrad, 1>;
  }
}

}  // namespace

Status CpuBackend::optimizer_step(const OptimizerHyper& h, const OptimizerTensor* tensors, int count,
                                  const float* lr, const int32_t* iterations) {
  const OptimizerScalars s = optimizer_scalars(h, *lr, *iterations);
  const RangeFn fn = range_fn(h);
  for (int t = 0; t < count; ++t) {
    const OptimizerTensor& T = tensors[t];
    parallel_chunks(T.size, kGrain, [&](std::size_t i0, std::size_t i1) { fn(h, s, T, i0, i1); });
  }
  return Status::Ok();
}

Status CpuBackend::learning_rate(const Schedule& s, const int32_t* iterations, float* lr) {
  *lr = schedule_value(s, *iterations);
  return Status::Ok();
}

}  // namespace kn
