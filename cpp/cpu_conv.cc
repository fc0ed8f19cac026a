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
  std::vector<float> col, dcol, dz, y;
  std::vector<const float*> rows;
};

ConvScratch& scratch() {
  thread_local ConvScratch s;
  return s;
}

void grow(std::vector<float>& v, std::size_t n) {
  if (v.size() < n) v.resize(n);
}

// The output columns [lo, hi) whose tap at kernel column kx falls inside the input (ix in [0, W)).
void inside_columns(const Conv2dShape& s, int kx, int* lo, int* hi) {
  const auto first_at_least = [&](int bound) {  // the least ox >= 0 with ox*SW - PL + kx*DW >= bound
    const int n = bound + s.pl - kx * s.dil_w;
    return n <= 0 ? 0 : std::min(s.ow, (n + s.sw - 1) / s.sw);
  };
  *lo = first_at_least(0);
  *hi = std::max(*lo, first_at_least(s.w));
}

template <int C>  // C > 0: the channel count known at compile time; 0: s.c
void im2col_t(const Conv2dShape& s, const float* __restrict x, float* __restrict col) {
  const int c = C > 0 ? C : s.c;
  const long k = s.col_cols();
  const auto copy = [&](float* __restrict d, const float* __restrict src) {
    for (int ci = 0; ci < c; ++ci) d[ci] = src[ci];
  };
  const auto zero = [&](float* __restrict d) {
    for (int ci = 0; ci < c; ++ci) d[ci] = 0.0f;
  };
  // Tap by tap, with the inside range of each row worked out once: no test per element.
  for (int ky = 0; ky < s.kh; ++ky)
    for (int kx = 0; kx < s.kw; ++kx) {
      int lo, hi;
      inside_columns(s, kx, &lo, &hi);
      const long t = (static_cast<long>(ky) * s.kw + kx) * c;
      for (int oy = 0; oy < s.oh; ++oy) {
        const int iy = oy * s.sh - s.pt + ky * s.dil_h;
        float* row = col + static_cast<long>(oy) * s.ow * k + t;
        if (iy < 0 || iy >= s.h) {
          for (int ox = 0; ox < s.ow; ++ox) zero(row + ox * k);
          continue;
        }
        const long base =
            (static_cast<long>(iy) * s.w - s.pl + kx * s.dil_w) * c;  // + ox*SW*C: inside for lo..hi
        for (int ox = 0; ox < lo; ++ox) zero(row + ox * k);
        for (int ox = lo; ox < hi; ++ox) copy(row + ox * k, x + (base + static_cast<long>(ox) * s.sw * c));
        for (int ox = hi; ox < s.ow; ++ox) zero(row + ox * k);
      }
    }
}

void im2col(const Conv2dShape& s, const float* x, float* col) {
  switch (s.c) {
    case 1:
      return im2col_t<1>(s, x, col);
    case 3:
      return im2col_t<3>(s, x, col);
    default:
      return im2col_t<0>(s, x, col);
  }
}

// dx (one image, zeroed by the caller) += col2im(dcol) for the output pixels [r0, r1), dcol holding their
// rows.
void col2im_add(const Conv2dShape& s, const float* dcol, long r0, long r1, float* dx) {
  const long cols = s.col_cols();
  for (long r = r0; r < r1; ++r) {
    const int oy = static_cast<int>(r / s.ow), ox = static_cast<int>(r % s.ow);
    const float* src = dcol + (r - r0) * cols;
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
    if (p0 + kBlock < pixels) {
      // The next block's rows of dz and of x (its output rows' receptive field) on their way to cache: the
      // micro-kernel's reads through pointers are not a pattern the hardware prefetcher follows well.
      const int q1 = std::min(pixels, p0 + 2 * kBlock);
      const float* nz = dz + static_cast<long>(p0 + kBlock) * s.f;
      for (long e = 0; e < static_cast<long>(q1 - p0 - kBlock) * s.f; e += 16) __builtin_prefetch(nz + e);
      const int y0 = std::max(0, ((p0 + kBlock) / s.ow) * s.sh - s.pt);
      const int y1 = std::min(s.h, ((q1 - 1) / s.ow) * s.sh - s.pt + (s.kh - 1) * s.dil_h + 1);
      for (long e = static_cast<long>(y0) * s.w * s.c; e < static_cast<long>(y1) * s.w * s.c; e += 16)
        __builtin_prefetch(x + e);
    }
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
constexpr long kDcolRows = 96;  // rows of dcol per block: 96 x 288 floats at conv2's shape, 108 KB

// At least max(C, F) zero floats, shared read-only by the pool threads during one call.
const float* zero_run(int n) {
  thread_local std::vector<float> z;
  if (z.size() < static_cast<std::size_t>(n)) z.assign(n, 0.0f);
  return z.data();
}

// w [K, F] packed for igemm, once per call (thread_local, named through the returned pointer: inside the
// pool's lambdas the name would denote the pool thread's own instance).
const float* pack_weights(const Conv2dShape& s, const float* w) {
  thread_local std::vector<float> packed;
  const long cols = s.col_cols();
  packed.resize(packed_b_floats(cols, s.f));
  pack_b_all(false, w, s.f, static_cast<int>(cols), s.f, packed.data());
  return packed.data();
}

// One image's convolution into yi [OH*OW, F], done(r0, rows) after each block of rows (the epilogue's place).
void conv_image(const Conv2dShape& s, const float* xi, const float* packed, const float* zeros, float* yi,
                ConvScratch& sc, const RowsDone& done) {
  const long rows = s.col_rows(), cols = s.col_cols();
  const int taps = s.kh * s.kw;
  if (s.c < kMinTapChannels) {
    // Few channels (an image's first layer): a tap's run is too short to pay for a pointer per tap, so the
    // column matrix is built (it is small) and each of its rows is one run.
    grow(sc.col, rows * cols);
    sc.rows.resize(rows);
    for (long r = 0; r < rows; ++r) sc.rows[r] = sc.col.data() + r * cols;
    im2col(s, xi, sc.col.data());
    igemm(static_cast<int>(rows), s.f, 1, static_cast<int>(cols), sc.rows.data(), packed, zeros, yi, s.f,
          false, done);
  } else {
    sc.rows.resize(rows * taps);
    tap_rows(s, xi, zeros, sc.rows.data());
    igemm(static_cast<int>(rows), s.f, taps, s.c, sc.rows.data(), packed, zeros, yi, s.f, false, done);
  }
}

// The backward pass, with dz_of(i, sc) giving image i's dz [OH*OW, F] (a pointer valid until the next call).
template <class DzOf>
void conv_backward(const Conv2dShape& s, const float* x, const float* w, float* dx, float* dw, float* db,
                   DzOf&& dz_of) {
  const long rows = s.col_rows(), cols = s.col_cols();
  const long in_size = static_cast<long>(s.h) * s.w * s.c;
  const long wsize = cols * s.f;
  const float* zeros = zero_run(std::max(s.c, s.f));
  const bool implicit_dw = s.c % gemm_panel_width() == 0;
  // The chunks depend on N only, so that the sums do not depend on the thread count.
  const int chunks = std::min(s.n, 16);
  thread_local std::vector<float> parts_buf, packed_buf;  // named through pointers below (see pack_weights)
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
    if (dx) grow(sc.dcol, std::min<long>(rows, kDcolRows) * cols);
    for (std::size_t c = c0; c < c1; ++c) {
      float* pdw = parts + c * (wsize + s.f);
      float* pdb = pdw + wsize;
      if (dw) std::fill_n(pdw, wsize, 0.0f);
      if (db) std::fill_n(pdb, s.f, 0.0f);
      const long i_begin = static_cast<long>(c) * s.n / chunks,
                 i_end = static_cast<long>(c + 1) * s.n / chunks;
      for (long i = i_begin; i < i_end; ++i) {
        const float* dz = dz_of(i, sc);
        sc.rows.resize(rows);
        if (db) add_column_sums(dz, rows, s.f, pdb);
        if (dw && implicit_dw) {
          weight_grad_implicit(s, x + i * in_size, dz, zeros, pdw);
        } else if (dw) {
          im2col(s, x + i * in_size, sc.col.data());
          if (s.f % gemm_panel_width() == 0) {  // col and dz read in place
            for (long r = 0; r < rows; ++r) sc.rows[r] = dz + r * s.f;
            gemm_at_rows(static_cast<int>(cols), s.f, static_cast<int>(rows), sc.col.data(),
                         static_cast<int>(cols), sc.rows.data(), pdw, s.f);
          } else {
            sgemm(true, false, cols, s.f, rows, sc.col.data(), cols, dz, s.f, pdw, s.f, true);
          }
        }
        if (dx) {
          for (long r = 0; r < rows; ++r) sc.rows[r] = dz + r * s.f;
          float* dxi = dx + i * in_size;
          std::memset(dxi, 0, sizeof(float) * in_size);
          // dcol a block of rows at a time, each added into dx while it is in cache.
          for (long r0 = 0; r0 < rows; r0 += kDcolRows) {
            const long r1 = std::min(rows, r0 + kDcolRows);
            igemm(static_cast<int>(r1 - r0), static_cast<int>(cols), 1, s.f, sc.rows.data() + r0, packed,
                  zeros, sc.dcol.data(), static_cast<int>(cols), false);
            col2im_add(s, sc.dcol.data(), r0, r1, dxi);
          }
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
}

}  // namespace

Status CpuBackend::conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const Epilogue& ep,
                                  float* y) {
  const long rows = s.col_rows();
  const int taps = s.kh * s.kw;
  const long in_size = static_cast<long>(s.h) * s.w * s.c, out_size = rows * s.f;
  const float* zeros = zero_run(std::max(s.c, s.f));
  const float* packed = pack_weights(s, w);
  // With fewer images than threads, split each image's output rows across the threads instead.
  if (s.n < num_threads() && s.c >= kMinTapChannels) {
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
  parallel_for(s.n, [&](std::size_t i0, std::size_t i1, int) {
    ConvScratch& sc = scratch();
    for (std::size_t i = i0; i < i1; ++i) {
      float* yi = y + i * out_size;
      conv_image(s, x + i * in_size, packed, zeros, yi, sc, [&](int r0, int nr) {
        apply_epilogue(yi + static_cast<long>(r0) * s.f, nr, s.f, ep,
                       i * out_size + static_cast<long>(r0) * s.f);
      });
    }
  });
  return Status::Ok();
}

Status CpuBackend::conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* y,
                                   const float* dy, float* dx, float* dw, float* db, const Epilogue& ep) {
  const long out_size = s.col_rows() * s.f;
  conv_backward(s, x, w, dx, dw, db, [&](long i, ConvScratch& sc) {
    if (ep.act == Act::kLinear) return dy + i * out_size;
    grow(sc.dz, out_size);
    act_mask(ep.act, ep.alpha, y + i * out_size, ep.pre ? ep.pre + i * out_size : nullptr, dy + i * out_size,
             sc.dz.data(), out_size);
    return static_cast<const float*>(sc.dz.data());
  });
  return Status::Ok();
}

// The conv's output of one image lives only in the thread's scratch, between its GEMM and the pool.
Status CpuBackend::conv2d_pool_forward(const Conv2dShape& s, const Pool2dShape& p, const float* x,
                                       const float* w, const Epilogue& ep, float* pooled, int32_t* argmax) {
  const long in_size = static_cast<long>(s.h) * s.w * s.c, out_size = s.col_rows() * s.f;
  const long pooled_size = static_cast<long>(p.oh) * p.ow * p.c, pooled_row = static_cast<long>(p.ow) * p.c;
  const float* zeros = zero_run(std::max(s.c, s.f));
  const float* packed = pack_weights(s, w);
  parallel_for(s.n, [&](std::size_t i0, std::size_t i1, int) {
    ConvScratch& sc = scratch();
    grow(sc.y, out_size);
    float* yi = sc.y.data();
    for (std::size_t i = i0; i < i1; ++i) {
      conv_image(s, x + i * in_size, packed, zeros, yi, sc,
                 [&](int r0, int nr) { apply_epilogue(yi + static_cast<long>(r0) * s.f, nr, s.f, ep); });
      for (int oy = 0; oy < p.oh; ++oy)
        maxpool_row(p, yi, oy, pooled + i * pooled_size + oy * pooled_row,
                    argmax + i * pooled_size + oy * pooled_row);
    }
  });
  return Status::Ok();
}

// dz of one image from the pool's side: zero but at each window's argmax, act'(pooled) * dpooled there (0 +
// v, as the two ops apart add the routed gradient, and the output, into zeros).
Status CpuBackend::conv2d_pool_backward(const Conv2dShape& s, const Pool2dShape& p, const float* x,
                                        const float* w, const float* pooled, const int32_t* argmax,
                                        const float* dpooled, float* dx, float* dw, float* db,
                                        const Epilogue& ep) {
  const long out_size = s.col_rows() * s.f;
  const long pooled_size = static_cast<long>(p.oh) * p.ow * p.c;
  conv_backward(s, x, w, dx, dw, db, [&](long i, ConvScratch& sc) {
    grow(sc.dz, out_size);
    float* dz = sc.dz.data();
    act_mask_scatter(ep.act, ep.alpha, pooled + i * pooled_size, dpooled + i * pooled_size,
                     argmax + i * pooled_size, pooled_size, dz, out_size);
    return static_cast<const float*>(dz);
  });
  return Status::Ok();
}

}  // namespace kn
