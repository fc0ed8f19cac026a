// Conv2d on the CPU as implicit GEMMs: no column matrix is built and no copy of the input is packed.
//
//   x [N, H, W, C], w [KH, KW, C, F], b [F], y [N, OH, OW, F]
//   col[r, (ky*KW + kx)*C + ci] = x[n, oy*SH - PT + ky*DH, ox*SW - PL + kx*DW, ci]   (0 outside the image;
//   DH, DW the dilation),
//   r = oy*OW + ox; y[n] = act(col * w + b), w viewed as a [KH*KW*C, F] matrix.
// Backward: dz = dy * act'(y); dw = sum_n col^T dz; db = sum_n,r dz; dx = col2im(dz w^T).
//
// Forward: igemm reads each output pixel's tap runs (C contiguous floats of x) in place through a table of
// pointers, against w packed once per call. Weight gradient (C a multiple of the panel width): dw^T = dz^T
// col, with dz read in place and col's rows found through pointers (gemm_at_rows), accumulated over blocks of
// 64 pixels so that the block of dz stays in L1 across the taps. Input gradient: dcol = dz w^T by igemm (dz's
// rows read in place, w^T packed once per call), then col2im; a transposed convolution straight into dx was
// measured no faster (its border taps multiply zeros: 17% more work at conv2's shape). Other shapes (the
// weight gradient with C not a multiple of 16) use im2col + GEMM one image at a time.
//
// Determinism: the images are split into chunks that depend on N only (never on the thread count); each
// chunk sums its own dw/db partials in image order and the partials are added in chunk order, so the result
// is the same bit for bit at every thread count.
#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu_backend.h"
#include "cpu_gemm.h"
#include "cpu_simd.h"

namespace kn {
namespace {

struct ConvScratch {
  std::vector<float> col, dcol, dz;
  std::vector<const float*> rows;
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

// Pointers to every output pixel's tap runs in image x: rows[(oy*OW + ox)*taps + ky*KW + kx] (zeros outside).
void tap_rows(const Conv2dShape& s, const float* x, const float* zeros, const float** rows) {
  for (int oy = 0; oy < s.oh; ++oy)
    for (int ox = 0; ox < s.ow; ++ox)
      for (int ky = 0; ky < s.kh; ++ky) {
        const int iy = oy * s.sh - s.pt + ky * s.dil_h;
        for (int kx = 0; kx < s.kw; ++kx) {
          const int ix = ox * s.sw - s.pl + kx * s.dil_w;
          const bool in = iy >= 0 && iy < s.h && ix >= 0 && ix < s.w;
          *rows++ = in ? x + (static_cast<long>(iy) * s.w + ix) * s.c : zeros;
        }
      }
}

// dwt [F, KH*KW*C] += dz^T col for one image, in blocks of kBlock output pixels.
void weight_grad_implicit(const Conv2dShape& s, const float* x, const float* dz, const float* zeros,
                          float* dwt) {
  constexpr int kBlock = 64;
  const int pixels = s.oh * s.ow, k = s.kh * s.kw * s.c;
  const float* rows[kBlock];
  int oy[kBlock], ox[kBlock];
  for (int p0 = 0; p0 < pixels; p0 += kBlock) {
    const int kc = std::min(kBlock, pixels - p0);
    for (int j = 0; j < kc; ++j) oy[j] = (p0 + j) / s.ow, ox[j] = (p0 + j) % s.ow;
    for (int ky = 0; ky < s.kh; ++ky)
      for (int kx = 0; kx < s.kw; ++kx) {
        for (int j = 0; j < kc; ++j) {
          const int iy = oy[j] * s.sh - s.pt + ky * s.dil_h, ix = ox[j] * s.sw - s.pl + kx * s.dil_w;
          const bool in = iy >= 0 && iy < s.h && ix >= 0 && ix < s.w;
          rows[j] = in ? x + (static_cast<long>(iy) * s.w + ix) * s.c : zeros;
        }
        gemm_at_rows(s.f, s.c, kc, dz + static_cast<long>(p0) * s.f, s.f, rows, dwt + (ky * s.kw + kx) * s.c,
                     k);
      }
  }
}

constexpr int kMinTapChannels = 8;

// At least max(C, F) zero floats, shared read-only by the pool threads during one call.
const float* zero_run(int n) {
  thread_local std::vector<float> z;
  if (z.size() < static_cast<std::size_t>(n)) z.assign(n, 0.0f);
  return z.data();
}

}  // namespace

Status CpuBackend::conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const Epilogue& ep,
                                  float* y) {
  const long rows = s.col_rows(), cols = s.col_cols();
  const int taps = s.kh * s.kw;
  const long in_size = static_cast<long>(s.h) * s.w * s.c, out_size = rows * s.f;
  const float* zeros = zero_run(std::max(s.c, s.f));
  // thread_local buffers are named through plain pointers: inside the pool's lambdas the name would denote
  // the pool thread's own instance.
  thread_local std::vector<float> packed_buf;
  packed_buf.resize(packed_b_floats(cols, s.f));
  const float* packed = packed_buf.data();
  pack_b_all(false, w, s.f, cols, s.f, packed_buf.data());
  // With fewer images than threads, split each image's output rows across the threads instead.
  if (s.n < num_threads()) {
    thread_local std::vector<const float*> table_buf;
    table_buf.resize(rows * taps);
    const float** table = table_buf.data();
    const int mr = 6, groups = static_cast<int>((rows + mr - 1) / mr);
    for (int i = 0; i < s.n; ++i) {
      float* yi = y + i * out_size;
      tap_rows(s, x + i * in_size, zeros, table);
      parallel_for(groups, [&](std::size_t g0, std::size_t g1, int) {
        const long r0 = static_cast<long>(g0) * mr, r1 = std::min<long>(rows, static_cast<long>(g1) * mr);
        igemm(static_cast<int>(r1 - r0), s.f, taps, s.c, table + r0 * taps, packed, zeros, yi + r0 * s.f, s.f,
              false);
      });
      apply_epilogue(yi, rows, s.f, ep, i * out_size);
    }
    return Status::Ok();
  }
  // Few channels (an image's first layer): a tap's run is too short to pay for a pointer per tap, so the
  // column matrix is built (it is small) and each of its rows is one run.
  const bool with_col = s.c < kMinTapChannels;
  parallel_for(s.n, [&](std::size_t i0, std::size_t i1, int) {
    ConvScratch& sc = scratch();
    sc.rows.resize(with_col ? rows : rows * taps);
    if (with_col) {
      grow(sc.col, rows * cols);
      for (long r = 0; r < rows; ++r) sc.rows[r] = sc.col.data() + r * cols;
    }
    for (std::size_t i = i0; i < i1; ++i) {
      float* yi = y + i * out_size;
      const RowsDone epilogue = [&](int r0, int nr) {
        apply_epilogue(yi + static_cast<long>(r0) * s.f, nr, s.f, ep,
                       i * out_size + static_cast<long>(r0) * s.f);
      };
      if (with_col) {
        im2col(s, x + i * in_size, sc.col.data());
        igemm(static_cast<int>(rows), s.f, 1, static_cast<int>(cols), sc.rows.data(), packed, zeros, yi, s.f,
              false, epilogue);
      } else {
        tap_rows(s, x + i * in_size, zeros, sc.rows.data());
        igemm(static_cast<int>(rows), s.f, taps, s.c, sc.rows.data(), packed, zeros, yi, s.f, false,
              epilogue);
      }
    }
  });
  return Status::Ok();
}

Status CpuBackend::conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* y,
                                   const float* dy, float* dx, float* dw, float* db, const Epilogue& ep) {
  const long rows = s.col_rows(), cols = s.col_cols();
  const long in_size = static_cast<long>(s.h) * s.w * s.c, out_size = rows * s.f;
  const long wsize = cols * s.f;
  const float* zeros = zero_run(std::max(s.c, s.f));
  const bool implicit_dw = s.c % gemm_panel_width() == 0;
  // The chunks depend on N only, so that the sums do not depend on the thread count.
  const int chunks = std::min(s.n, 16);
  thread_local std::vector<float> parts_buf, packed_buf;  // named through pointers below (see forward)
  if (dw || db) parts_buf.resize(static_cast<std::size_t>(chunks) * (wsize + s.f));
  float* const parts = parts_buf.data();
  if (dx) {  // w^T, packed once for all images
    packed_buf.resize(packed_b_floats(s.f, cols));
    pack_b_all(true, w, s.f, s.f, static_cast<int>(cols), packed_buf.data());
  }
  const float* const packed = packed_buf.data();

  parallel_for(chunks, [&](std::size_t c0, std::size_t c1, int) {
    ConvScratch& sc = scratch();
    if (dw && !implicit_dw) grow(sc.col, rows * cols);
    if (dx) {
      grow(sc.dcol, rows * cols);
      sc.rows.resize(rows);
    }
    if (ep.act != Act::kLinear) grow(sc.dz, out_size);
    for (std::size_t c = c0; c < c1; ++c) {
      float* pdw = parts + c * (wsize + s.f);
      float* pdb = pdw + wsize;
      if (dw) std::fill_n(pdw, wsize, 0.0f);
      if (db) std::fill_n(pdb, s.f, 0.0f);
      const long i_begin = static_cast<long>(c) * s.n / chunks,
                 i_end = static_cast<long>(c + 1) * s.n / chunks;
      for (long i = i_begin; i < i_end; ++i) {
        const float* dyi = dy + i * out_size;
        const float* dz = dyi;
        if (ep.act != Act::kLinear) {
          act_mask(ep.act, ep.alpha, y + i * out_size, ep.pre ? ep.pre + i * out_size : nullptr, dyi,
                   sc.dz.data(), out_size);
          dz = sc.dz.data();
        }
        if (db) add_column_sums(dz, rows, s.f, pdb);
        if (dw && implicit_dw) {
          weight_grad_implicit(s, x + i * in_size, dz, zeros, pdw);
        } else if (dw) {
          im2col(s, x + i * in_size, sc.col.data());
          sgemm(true, false, cols, s.f, rows, sc.col.data(), cols, dz, s.f, pdw, s.f, true);
        }
        if (dx) {
          for (long r = 0; r < rows; ++r) sc.rows[r] = dz + r * s.f;
          igemm(static_cast<int>(rows), static_cast<int>(cols), 1, s.f, sc.rows.data(), packed, zeros,
                sc.dcol.data(), static_cast<int>(cols), false);
          float* dxi = dx + i * in_size;
          std::memset(dxi, 0, sizeof(float) * in_size);
          col2im_add(s, sc.dcol.data(), dxi);
        }
      }
    }
  });

  // Add the chunks' partial sums in chunk order. The implicit weight gradient is dw^T [F, K]: summed in that
  // layout, then transposed.
  if (dw) {
    thread_local std::vector<float> sum;
    if (implicit_dw) sum.resize(wsize);
    float* const out = implicit_dw ? sum.data() : dw;
    parallel_chunks(wsize, kGrain, [&](std::size_t e0, std::size_t e1) {
      for (std::size_t e = e0; e < e1; ++e) {
        float acc = parts[e];
        for (int c = 1; c < chunks; ++c) acc += parts[c * (wsize + s.f) + e];
        out[e] = acc;
      }
    });
    if (implicit_dw)
      for (long f = 0; f < s.f; ++f)
        for (long k = 0; k < cols; ++k) dw[k * s.f + f] = out[f * cols + k];
  }
  if (db)
    for (int j = 0; j < s.f; ++j) {
      float acc = parts[wsize + j];
      for (int c = 1; c < chunks; ++c) acc += parts[c * (wsize + s.f) + wsize + j];
      db[j] = acc;
    }
  return Status::Ok();
}

}  // namespace kn
