// Dense (fully connected) layer on the CPU: y[N, O] = act(x[N, I] w[I, O] + b[O]).
// Backward: dz = dy * act'(y); dw = x^T dz; db = column sums of dz; dx = dz w^T. Each GEMM is split across
// threads along its larger dimension.
#include <algorithm>
#include <vector>

#include "cpu_backend.h"
#include "cpu_gemm.h"

namespace kn {

Status CpuBackend::dense_forward(int n, int in, int out, const float* x, const float* w, const float* b, float* y,
                                 bool relu) {
  sgemm_parallel(false, false, n, out, in, x, in, w, out, y, out, false);
  parallel_chunks(n, 8, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      float* row = y + r * out;
      if (relu)
        for (int j = 0; j < out; ++j) row[j] = std::max(row[j] + b[j], 0.0f);
      else
        for (int j = 0; j < out; ++j) row[j] += b[j];
    }
  });
  return Status::Ok();
}

Status CpuBackend::dense_backward(int n, int in, int out, const float* x, const float* w, const float* y,
                                  const float* dy, float* dx, float* dw, float* db, bool relu) {
  thread_local std::vector<float> dz_buf;
  const float* dz = dy;
  const std::size_t count = static_cast<std::size_t>(n) * out;
  if (relu) {
    if (dz_buf.size() < count) dz_buf.resize(count);
    for (std::size_t e = 0; e < count; ++e) dz_buf[e] = y[e] > 0.0f ? dy[e] : 0.0f;
    dz = dz_buf.data();
  }
  for (int j = 0; j < out; ++j) db[j] = 0.0f;
  for (int r = 0; r < n; ++r)
    for (int j = 0; j < out; ++j) db[j] += dz[static_cast<long>(r) * out + j];
  sgemm_parallel(true, false, in, out, n, x, in, dz, out, dw, out, false);
  if (dx) sgemm_parallel(false, true, n, in, out, dz, out, w, out, dx, in, false);
  return Status::Ok();
}

}  // namespace kn
