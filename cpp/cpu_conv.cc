// Conv2d on the CPU as im2col + GEMM, one image at a time so the column matrix stays in cache.
//
//   x [N, H, W, C], w [KH, KW, C, F], b [F], y [N, OH, OW, F]
//   col[r, (ky*KW + kx)*C + ci] = x[n, oy*SH - PT + ky*DH, ox*SW - PL + kx*DW, ci]   (0 outside the image;
//   DH, DW the dilation),
//   r = oy*OW + ox; y[n] = act(col * w + b), w viewed as a [KH*KW*C, F] matrix.
// Backward: dz = dy * act'(y); dw = sum_n col^T dz; db = sum_n,r dz; dcol = dz w^T; dx = col2im(dcol).
// Images are split across threads; each thread keeps its own dw/db partial sums, reduced at the end.
#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu_backend.h"
#include "cpu_gemm.h"
#include "cpu_simd.h"

namespace kn {
namespace {

struct ConvScratch {
  std::vector<float> col, dcol, dz, dw, db;
};

ConvScratch& scratch() {
  thread_local ConvScratch s;
  return s;
}

void grow(std::vector<float>& v, std::size_t n) {
  if (v.size() < n) v.resize(n);
}

void im2col(const Conv2dShape& s, const float* x, float* col) {
  const long cols = s.col_cols();
  for (int oy = 0; oy < s.oh; ++oy)
    for (int ox = 0; ox < s.ow; ++ox) {
      float* dst = col + (static_cast<long>(oy) * s.ow + ox) * cols;
      for (int ky = 0; ky < s.kh; ++ky) {
        const int iy = oy * s.sh - s.pt + ky * s.dil_h;
        for (int kx = 0; kx < s.kw; ++kx, dst += s.c) {
          const int ix = ox * s.sw - s.pl + kx * s.dil_w;
          if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) {
            std::memset(dst, 0, sizeof(float) * s.c);
          } else {
            const float* src = x + (static_cast<long>(iy) * s.w + ix) * s.c;
            if (s.c == 1)
              dst[0] = src[0];
            else
              std::memcpy(dst, src, sizeof(float) * s.c);
          }
        }
      }
    }
}

// dx (one image, zeroed by the caller) += col2im(dcol).
void col2im_add(const Conv2dShape& s, const float* dcol, float* dx) {
  const long cols = s.col_cols();
  for (int oy = 0; oy < s.oh; ++oy)
    for (int ox = 0; ox < s.ow; ++ox) {
      const float* src = dcol + (static_cast<long>(oy) * s.ow + ox) * cols;
      for (int ky = 0; ky < s.kh; ++ky) {
        const int iy = oy * s.sh - s.pt + ky * s.dil_h;
        for (int kx = 0; kx < s.kw; ++kx, src += s.c) {
          const int ix = ox * s.sw - s.pl + kx * s.dil_w;
          if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
          float* dst = dx + (static_cast<long>(iy) * s.w + ix) * s.c;
          for (int ci = 0; ci < s.c; ++ci) dst[ci] += src[ci];
        }
      }
    }
}

}  // namespace

Status CpuBackend::conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const Epilogue& ep,
                                  float* y) {
  const long rows = s.col_rows(), cols = s.col_cols();
  const long in_size = static_cast<long>(s.h) * s.w * s.c, out_size = rows * s.f;
  // With fewer images than threads, parallelise inside each image's GEMM instead.
  const bool per_image_threads = s.n < num_threads();
  auto one = [&](int i, bool parallel_gemm) {
    ConvScratch& sc = scratch();
    grow(sc.col, rows * cols);
    im2col(s, x + i * in_size, sc.col.data());
    float* yi = y + i * out_size;
    (parallel_gemm ? sgemm_parallel : sgemm)(false, false, rows, s.f, cols, sc.col.data(), cols, w, s.f, yi,
                                             s.f, false);
    apply_epilogue(yi, rows, s.f, ep, i * out_size);
  };
  if (per_image_threads) {
    for (int i = 0; i < s.n; ++i) one(i, true);
  } else {
    parallel_for(s.n, [&](std::size_t i0, std::size_t i1, int) {
      for (std::size_t i = i0; i < i1; ++i) one(static_cast<int>(i), false);
    });
  }
  return Status::Ok();
}

Status CpuBackend::conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* y,
                                   const float* dy, float* dx, float* dw, float* db, const Epilogue& ep) {
  const long rows = s.col_rows(), cols = s.col_cols();
  const long in_size = static_cast<long>(s.h) * s.w * s.c, out_size = rows * s.f;
  const long wsize = cols * s.f;
  // The partial sums live in the pool threads' scratch between the two parallel jobs below: another Node
  // environment (a worker thread) must not run a conv backward, or resize the pool, in between.
  std::lock_guard<std::mutex> lock(multi_job_mutex());
  const int threads = num_threads();
  std::vector<float*> dw_parts(threads, nullptr), db_parts(threads, nullptr);

  parallel_for(s.n, [&](std::size_t i0, std::size_t i1, int t) {
    ConvScratch& sc = scratch();
    if (dw) {
      grow(sc.col, rows * cols);
      grow(sc.dw, wsize);
      std::fill_n(sc.dw.data(), wsize, 0.0f);
      dw_parts[t] = sc.dw.data();
    }
    if (db) {
      grow(sc.db, s.f);
      std::fill_n(sc.db.data(), s.f, 0.0f);
      db_parts[t] = sc.db.data();
    }
    if (dx) grow(sc.dcol, rows * cols);
    if (ep.act != Act::kLinear) grow(sc.dz, out_size);
    for (std::size_t i = i0; i < i1; ++i) {
      const float* dyi = dy + i * out_size;
      const float* dz = dyi;
      if (ep.act != Act::kLinear) {
        act_mask(ep.act, ep.alpha, y + i * out_size, ep.pre ? ep.pre + i * out_size : nullptr, dyi,
                 sc.dz.data(), out_size);
        dz = sc.dz.data();
      }
      if (db) add_column_sums(dz, rows, s.f, sc.db.data());
      if (dw) {
        im2col(s, x + i * in_size, sc.col.data());
        sgemm(true, false, cols, s.f, rows, sc.col.data(), cols, dz, s.f, sc.dw.data(), s.f, true);
      }
      if (dx) {
        sgemm(false, true, rows, cols, s.f, dz, s.f, w, s.f, sc.dcol.data(), cols, false);
        float* dxi = dx + i * in_size;
        std::memset(dxi, 0, sizeof(float) * in_size);
        col2im_add(s, sc.dcol.data(), dxi);
      }
    }
  });

  // Reduce the per-thread partial sums (threads that got no image left their slot null).
  if (dw)
    parallel_chunks(wsize, kGrain, [&](std::size_t e0, std::size_t e1) {
      for (std::size_t e = e0; e < e1; ++e) {
        float sum = 0.0f;
        for (int t = 0; t < threads; ++t)
          if (dw_parts[t]) sum += dw_parts[t][e];
        dw[e] = sum;
      }
    });
  if (db)
    for (int j = 0; j < s.f; ++j) {
      float sum = 0.0f;
      for (int t = 0; t < threads; ++t)
        if (db_parts[t]) sum += db_parts[t][j];
      db[j] = sum;
    }
  return Status::Ok();
}

}  // namespace kn
