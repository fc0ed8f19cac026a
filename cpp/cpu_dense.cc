// Dense (fully connected) layer on the CPU: y[N, O] = act(x[N, I] w[I, O] + b[O]).
// Backward: dz = dy * act'(y); dw = x^T dz; db = column sums of dz; dx = dz w^T. Each GEMM is split across
// threads along its larger dimension.
#include <algorithm>
#include <vector>

#include "cpu_backend.h"
#include "cpu_gemm.h"
#include "cpu_simd.h"

namespace kn {

Status CpuBackend::dense_forward(int n, int in, int out, const float* x, const float* w, const Epilogue& ep,
                                 float* y) {
  sgemm_parallel(false, false, n, out, in, x, in, w, out, y, out, false);
  apply_epilogue(y, n, out, ep);
  return Status::Ok();
}

Status CpuBackend::dense_backward(int n, int in, int out, const float* x, const float* w, const float* y,
                                  const float* dy, float* dx, float* dw, float* db, const Epilogue& ep) {
  thread_local std::vector<float> dz_buf;
  const float* dz = dy;
  const std::size_t count = static_cast<std::size_t>(n) * out;
  if (ep.act != Act::kLinear) {
    if (dz_buf.size() < count) dz_buf.resize(count);
    act_mask(ep.act, ep.alpha, y, ep.pre, dy, dz_buf.data(), count);
    dz = dz_buf.data();
  }
  if (db) {
    for (int j = 0; j < out; ++j) db[j] = 0.0f;
    add_column_sums(dz, n, out, db);
  }
  if (dw) sgemm_parallel(true, false, in, out, n, x, in, dz, out, dw, out, false);
  if (dx) sgemm_parallel(false, true, n, in, out, dz, out, w, out, dx, in, false);
  return Status::Ok();
}

}  // namespace kn
