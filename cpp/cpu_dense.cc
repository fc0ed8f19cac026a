// Dense (fully connected) layer on the CPU: y[N, O] = act(x[N, I] w[I, O] + b[O]).
// Backward: dz = dy * act'(y); dw = x^T dz; db = column sums of dz; dx = dz w^T, each GEMM split across
// threads along its larger dimension.
#include <algorithm>
#include <vector>

#include "cpu_backend.h"
#include "cpu_gemm.h"
#include "cpu_simd.h"

namespace kn {

constexpr int kInPlaceRows = 12;

// Forward: x's rows are read in place, each as one run of igemm (no packed copy of x), and the columns of y
// are split across the threads in whole panels, each thread packing only its columns of w. (Measured against
// sgemm_parallel at the seed's dense1, [128, 9216] x [9216, 128] on 2 threads: 1.95-2.1 ms against 2.6-3.3.)
Status CpuBackend::dense_forward(int n, int in, int out, const float* x, const float* w, const Epilogue& ep,
                                 float* y) {
  if (in == 0) {
    std::fill_n(y, static_cast<std::size_t>(n) * out, 0.0f);
    apply_epilogue(y, n, out, ep);
    return Status::Ok();
  }
  thread_local std::vector<float> packed_buf, zero_buf;  // named through pointers inside the lambda
  thread_local std::vector<const float*> rows_buf;
  // A few rows (prediction of one image, or a few): w is read in place, each element once per 6 rows, instead
  // of packed first (for the seed model's dense1 at batch 1, a 4.7 MB copy that took longer than the
  // product). Bit-identical to the packed path (gemm_rows_b), so a row's output does not depend on the batch
  // size.
  const bool in_place = n <= kInPlaceRows;
  if (!in_place) grow(packed_buf, packed_b_floats(in, out));
  if (zero_buf.size() < static_cast<std::size_t>(in)) zero_buf.assign(in, 0.0f);
  rows_buf.resize(n);
  for (int r = 0; r < n; ++r) rows_buf[r] = x + static_cast<long>(r) * in;
  float* const packed = packed_buf.data();
  const float* const zeros = zero_buf.data();
  const float* const* const rows = rows_buf.data();
  const int nr = gemm_panel_width(), panels = (out + nr - 1) / nr;
  const auto columns = [&](std::size_t p0, std::size_t p1) {
    const int j0 = static_cast<int>(p0) * nr, nc = std::min(out, static_cast<int>(p1) * nr) - j0;
    if (in_place) {
      gemm_rows_b(n, nc, in, rows, w + j0, out, zeros, y + j0, out);
      return;
    }
    float* bp = packed + static_cast<long>(j0) * in;
    pack_b_all(false, w + j0, out, in, nc, bp);
    igemm(n, nc, 1, in, rows, bp, zeros, y + j0, out, false);
  };
  if (static_cast<long>(n) * out * in < (1L << 18))
    columns(0, panels);  // too small to split
  else
    parallel_for(panels, [&](std::size_t p0, std::size_t p1, int) { columns(p0, p1); });
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
  apply_below(ep.below, dx, static_cast<std::size_t>(n) * in);
  return Status::Ok();
}

}  // namespace kn
