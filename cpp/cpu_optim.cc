// Adadelta on the CPU, Keras semantics (keras/optimizers.py, Keras 2.1.3+), over all parameters in one call:
//   a = rho*a + (1-rho)*g^2;  delta = g * sqrt(d + eps) / sqrt(a + eps)  (new a, old d);
//   p -= lr * delta;  d = rho*d + (1-rho)*delta^2.
#include <cmath>

#include "cpu_backend.h"

namespace kn {

Status CpuBackend::adadelta(const AdadeltaTensor* tensors, int count, float lr, float rho, float eps) {
  for (int t = 0; t < count; ++t) {
    const AdadeltaTensor& T = tensors[t];
    parallel_chunks(T.size, kGrain, [&](std::size_t i0, std::size_t i1) {
      for (std::size_t i = i0; i < i1; ++i) {
        const float g = T.grad[i];
        const float a = rho * T.accum[i] + (1.0f - rho) * g * g;
        const float delta = g * std::sqrt(T.delta_accum[i] + eps) / std::sqrt(a + eps);
        T.param[i] -= lr * delta;
        T.accum[i] = a;
        T.delta_accum[i] = rho * T.delta_accum[i] + (1.0f - rho) * delta * delta;
      }
    });
  }
  return Status::Ok();
}

}  // namespace kn
