// Dense (fully connected) layers on the GPU, the twin of cpp/cpu_dense.cc: y[N, O] = act(x[N, I] w[I, O] +
// b[O]), one GEMM with the bias and activation fused in its epilogue. Backward: dz = dy * act'(y); db =
// column sums of dz; dw = x^T dz (split-K: K = N may be long against a small output); dx = dz w^T.
#include <algorithm>

#include "cuda_backend.cuh"

namespace kn {
namespace cu {

Status CudaBackend::dense_forward(int n, int in, int out, const float* x, const float* w, const Epilogue& ep,
                                  float* y) {
  std::lock_guard<std::mutex> lock(mutex_);
  return gemm(false, false, n, out, in, x, in, w, out, y, out, ep, false);
}

Status CudaBackend::dense_backward(int n, int in, int out, const float* x, const float* w, const float* y,
                                   const float* dy, float* dx, float* dw, float* db, const Epilogue& ep) {
  std::lock_guard<std::mutex> lock(mutex_);
  const float* dz;
  KN_TRY(act_mask(ep, (std::size_t)n * out, y, dy, &dz));
  Branch weights(dx && (dw || db));  // db and dw beside dx (a parallel branch in a captured graph)
  if (db) KN_TRY(column_sums(dz, n, out, db));
  if (dw) KN_TRY(gemm(true, false, in, out, n, x, in, dz, out, dw, out, Epilogue{}, false));
  weights.leave();
  if (dx) KN_TRY(gemm(false, true, n, in, out, dz, out, w, out, dx, in, input_grad_epilogue(ep), false));
  return Status::Ok();
}

}  // namespace cu
}  // namespace kn
