// Conv2d on the CPU as implicit GEMMs: no column matrix is built and no copy of the input is packed.
//
//   x [N, H, W, C], w [KH, KW, C, F], b [F], y [N, OH, OW, F]
//   col[r, (ky*KW + kx)*C + ci] = x[n, oy*SH - PT + ky*DH, ox*SW - PL + kx*DW, ci]   (0 outside the image;
//   DH, DW the dilation),
//   r = oy*OW + ox; y[n] = act(col * w + b), w viewed as a [KH*KW*C, F] matrix.
// Backward: dz = dy * act'(y); dw = sum_n col^T dz; db = sum_n,r dz; dx = col2im(dz w^T).
//
// Forward: igemm reads each output pixel's tap runs (C contiguous floats of x) in place through a table of
// pointers, against w packed once per call; 3x3 stride-1 convolutions with C and F multiples of 8 use
// Winograd F(2x2, 3x3) instead (2.25x fewer multiply-adds; KERNELNET_WINOGRAD=0 turns it off). Weight
// gradient (C a multiple of the panel width): dw^T = dz^T col, with dz read in place and col's rows found
// through pointers (gemm_at_rows), accumulated over blocks of 64 pixels so that the block of dz stays in L1
// across the taps. Input gradient: dcol = dz w^T by igemm (dz's rows read in place, w^T packed once per
// call), then col2im; a transposed convolution straight into dx was measured no faster (its border taps
// multiply zeros: 17% more work at conv2's shape). Other shapes (the weight gradient with C not a multiple of
// 16) use im2col + GEMM one image at a time.
//
// Determinism: the images are split into chunks that depend on N only (never on the thread count); each
// chunk sums its own dw/db partials in image order and the partials are added in chunk order, so the result
// is the same bit for bit at every thread count.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "cpu_backend.h"
#include "cpu_gemm.h"
#include "cpu_simd.h"
#include "env.h"

namespace kn {
namespace {

struct ConvScratch {
  std::vector<float> col, dcol, dz, y, wv, wm;
  std::vector<const float*> rows;
};

ConvScratch& scratch() {
  thread_local ConvScratch s;
  return s;
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

// At least n zero floats (a run of any length igemm reads: C, F, or a column-matrix row), shared read-only by
// the pool threads during one call.
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
  grow(packed, packed_b_floats(cols, s.f));
  pack_b_all(false, w, s.f, static_cast<int>(cols), s.f, packed.data());
  return packed.data();
}

// ---- Winograd F(2x2, 3x3) for the forward pass of 3x3, stride-1, undilated convolutions ----
//
// Each 2x2 tile of outputs comes from a 4x4 tile of input: y = A^T [ (G g G^T) .* (B^T d B) ] A (Lavin &
// Gray, "Fast Algorithms for Convolutional Neural Networks", 2016), 16 products per tile and channel pair
// instead of 36: 2.25x fewer multiply-adds. The 16 element-wise products summed over channels are 16 GEMMs,
// [tiles, C] x [C, F], run by igemm with V's rows read in place and U = G g G^T packed once per call. The
// transforms' factors are 0, +-1 and 1/2, so small-integer data stays exact; float data differs from the
// direct sum by rounding (about 1e-6 relative). KERNELNET_WINOGRAD=0 turns it off (the direct implicit GEMM
// for every shape).
const bool kWinograd = env::flag(env::Var::kWinograd);

bool winograd_ok(const Conv2dShape& s) {
  return kWinograd && s.kh == 3 && s.kw == 3 && s.sh == 1 && s.sw == 1 && s.dil_h == 1 && s.dil_w == 1 &&
         s.c % 8 == 0 && s.f % 8 == 0;
}

// U[e][c][f] = (G g G^T)[e] for g = w[.., .., c, f], each of the 16 [C, F] matrices packed for igemm.
const float* winograd_weights(const Conv2dShape& s, const float* w) {
  thread_local std::vector<float> u, packed;
  const long cf = static_cast<long>(s.c) * s.f;
  grow(u, 16 * cf);
  for (long j = 0; j < cf; ++j) {
    float g[3][3], t[4][3];
    for (int ky = 0; ky < 3; ++ky)
      for (int kx = 0; kx < 3; ++kx) g[ky][kx] = w[(ky * 3 + kx) * cf + j];
    for (int kx = 0; kx < 3; ++kx) {  // G g: G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
      t[0][kx] = g[0][kx];
      t[1][kx] = 0.5f * (g[0][kx] + g[1][kx] + g[2][kx]);
      t[2][kx] = 0.5f * (g[0][kx] - g[1][kx] + g[2][kx]);
      t[3][kx] = g[2][kx];
    }
    for (int a = 0; a < 4; ++a) {  // (G g) G^T
      u[(a * 4 + 0) * cf + j] = t[a][0];
      u[(a * 4 + 1) * cf + j] = 0.5f * (t[a][0] + t[a][1] + t[a][2]);
      u[(a * 4 + 2) * cf + j] = 0.5f * (t[a][0] - t[a][1] + t[a][2]);
      u[(a * 4 + 3) * cf + j] = t[a][2];
    }
  }
  const std::size_t each = packed_b_floats(s.c, s.f);
  grow(packed, 16 * each);
  for (int e = 0; e < 16; ++e) pack_b_all(false, u.data() + e * cf, s.f, s.c, s.f, packed.data() + e * each);
  return packed.data();
}

typedef float wv8 __attribute__((vector_size(32)));
typedef float wv8u __attribute__((vector_size(32), aligned(4)));

// v[e][tile][c] = (B^T d B)[e], B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], d the tile's 4x4 input (zeros
// outside the image), 8 channels per vector (C a multiple of 8).
KN_CLONES void winograd_transforms_in(const Conv2dShape& s, const float* __restrict xi, const float* zeros,
                                      int tr0, int tr1, int tw, float* __restrict v) {
  const long tiles = static_cast<long>(tr1 - tr0) * tw, c = s.c, plane = tiles * c;
  for (int tr = tr0; tr < tr1; ++tr)
    for (int tc = 0; tc < tw; ++tc) {
      const long tile = static_cast<long>(tr - tr0) * tw + tc;
      const int iy0 = 2 * tr - s.pt, ix0 = 2 * tc - s.pl;
      const float* row[4][4];
      if (iy0 >= 0 && iy0 + 4 <= s.h && ix0 >= 0 && ix0 + 4 <= s.w) {  // inside: no test per tap
        const float* base = xi + (static_cast<long>(iy0) * s.w + ix0) * c;
        for (int a = 0; a < 4; ++a)
          for (int b = 0; b < 4; ++b) row[a][b] = base + (static_cast<long>(a) * s.w + b) * c;
      } else {
        for (int a = 0; a < 4; ++a)
          for (int b = 0; b < 4; ++b) {
            const int iy = iy0 + a, ix = ix0 + b;
            row[a][b] = iy >= 0 && iy < s.h && ix >= 0 && ix < s.w
                            ? xi + (static_cast<long>(iy) * s.w + ix) * c
                            : zeros;
          }
      }
      float* out = v + tile * c;
      for (long ci = 0; ci < c; ci += 8) {
        wv8 d[4][4], t[4][4];
        for (int a = 0; a < 4; ++a)
          for (int b = 0; b < 4; ++b) d[a][b] = *reinterpret_cast<const wv8u*>(row[a][b] + ci);
        for (int b = 0; b < 4; ++b) {
          t[0][b] = d[0][b] - d[2][b];
          t[1][b] = d[1][b] + d[2][b];
          t[2][b] = d[2][b] - d[1][b];
          t[3][b] = d[1][b] - d[3][b];
        }
        for (int a = 0; a < 4; ++a) {
          float* o = out + (a * 4) * plane + ci;
          *reinterpret_cast<wv8u*>(o) = t[a][0] - t[a][2];
          *reinterpret_cast<wv8u*>(o + plane) = t[a][1] + t[a][2];
          *reinterpret_cast<wv8u*>(o + 2 * plane) = t[a][2] - t[a][1];
          *reinterpret_cast<wv8u*>(o + 3 * plane) = t[a][1] - t[a][3];
        }
      }
    }
}

// y = A^T m A, A^T = [1 1 1 0; 0 1 -1 -1]: each tile's 2x2 outputs, those inside the output written; 8
// filters per vector (F a multiple of 8).
KN_CLONES void winograd_transforms_out(const Conv2dShape& s, const float* __restrict m, int tr0, int tr1,
                                       int tw, float* __restrict yi) {
  const long tiles = static_cast<long>(tr1 - tr0) * tw, f = s.f, plane = tiles * f;
  for (int tr = tr0; tr < tr1; ++tr)
    for (int tc = 0; tc < tw; ++tc) {
      const long tile = static_cast<long>(tr - tr0) * tw + tc;
      const int oy = 2 * tr, ox = 2 * tc;
      const float* in = m + tile * f;
      for (long j = 0; j < f; j += 8) {
        wv8 mm[4][4], t[2][4];
        for (int e = 0; e < 16; ++e) mm[e / 4][e % 4] = *reinterpret_cast<const wv8u*>(in + e * plane + j);
        for (int b = 0; b < 4; ++b) {
          t[0][b] = mm[0][b] + mm[1][b] + mm[2][b];
          t[1][b] = mm[1][b] - mm[2][b] - mm[3][b];
        }
        for (int a = 0; a < 2; ++a) {
          if (oy + a >= s.oh) continue;
          float* o = yi + (static_cast<long>(oy + a) * s.ow + ox) * f + j;
          *reinterpret_cast<wv8u*>(o) = t[a][0] + t[a][1] + t[a][2];
          if (ox + 1 < s.ow) *reinterpret_cast<wv8u*>(o + f) = t[a][1] - t[a][2] - t[a][3];
        }
      }
    }
}

void conv_image_winograd(const Conv2dShape& s, const float* xi, const float* u, const float* zeros, float* yi,
                         ConvScratch& sc, const RowsDone& done) {
  const int th = (s.oh + 1) / 2, tw = (s.ow + 1) / 2;
  const int block = std::max(1, 48 / tw);  // tile rows per block: about 48 tiles
  const std::size_t each = packed_b_floats(s.c, s.f);
  grow(sc.wv, static_cast<std::size_t>(16) * block * tw * s.c);
  grow(sc.wm, static_cast<std::size_t>(16) * block * tw * s.f);
  for (int tr0 = 0; tr0 < th; tr0 += block) {
    const int tr1 = std::min(th, tr0 + block), tiles = (tr1 - tr0) * tw;
    winograd_transforms_in(s, xi, zeros, tr0, tr1, tw, sc.wv.data());
    sc.rows.resize(tiles);
    for (int e = 0; e < 16; ++e) {
      const float* ve = sc.wv.data() + static_cast<long>(e) * tiles * s.c;
      for (int t = 0; t < tiles; ++t) sc.rows[t] = ve + static_cast<long>(t) * s.c;
      igemm(tiles, s.f, 1, s.c, sc.rows.data(), u + e * each, zeros,
            sc.wm.data() + static_cast<long>(e) * tiles * s.f, s.f, false);
    }
    winograd_transforms_out(s, sc.wm.data(), tr0, tr1, tw, yi);
    const int r0 = 2 * tr0 * s.ow, r1 = std::min(s.oh, 2 * tr1) * s.ow;
    if (done) done(r0, r1 - r0);
  }
}

// ---- Winograd F(2x2, 3x3) for the weight gradient of the same convolutions ----
//
// The forward's tile is y = A^T [U .* V] A with U = G g G^T, linear in g, so its adjoint gives g's gradient:
// dU = (A dy A^T) .* V, dg = G^T dU G. Summed over the tiles first: M_e = sum_tiles Z_e^T V_e for the 16
// transformed positions e (Z = A dy A^T per tile, V the forward's B^T d B), 16 GEMMs [F, tiles] x [tiles, C]
// per image into its chunk's M, the chunks' M summed in order, then dg = G^T M G once per call: 16
// multiply-adds per tile and channel pair where the implicit GEMM does 36. A, B and G's factors are 0, +-1
// and 1/2, so small-integer data stays exact.

// z[e][tile][f] = (A dz A^T)[e], A = [1 0; 1 1; 1 -1; 0 -1], dz the tile's 2x2 outputs (zeros past the
// output's edge), 8 filters per vector (F a multiple of 8).
KN_CLONES void winograd_transforms_dz(const Conv2dShape& s, const float* __restrict dz, const float* zeros,
                                      int tr0, int tr1, int tw, float* __restrict z) {
  const long tiles = static_cast<long>(tr1 - tr0) * tw, f = s.f, plane = tiles * f;
  for (int tr = tr0; tr < tr1; ++tr)
    for (int tc = 0; tc < tw; ++tc) {
      const long tile = static_cast<long>(tr - tr0) * tw + tc;
      const float* row[2][2];
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) {
          const int oy = 2 * tr + i, ox = 2 * tc + j;
          row[i][j] = oy < s.oh && ox < s.ow ? dz + (static_cast<long>(oy) * s.ow + ox) * f : zeros;
        }
      float* out = z + tile * f;
      for (long j = 0; j < f; j += 8) {
        wv8 d[2][2], t[4][2];
        for (int a = 0; a < 2; ++a)
          for (int b = 0; b < 2; ++b) d[a][b] = *reinterpret_cast<const wv8u*>(row[a][b] + j);
        for (int b = 0; b < 2; ++b) {
          t[0][b] = d[0][b];
          t[1][b] = d[0][b] + d[1][b];
          t[2][b] = d[0][b] - d[1][b];
          t[3][b] = -d[1][b];
        }
        for (int a = 0; a < 4; ++a) {
          float* o = out + (a * 4) * plane + j;
          *reinterpret_cast<wv8u*>(o) = t[a][0];
          *reinterpret_cast<wv8u*>(o + plane) = t[a][0] + t[a][1];
          *reinterpret_cast<wv8u*>(o + 2 * plane) = t[a][0] - t[a][1];
          *reinterpret_cast<wv8u*>(o + 3 * plane) = -t[a][1];
        }
      }
    }
}

// m [16, F, C] += image xi's M_e for its dz [OH*OW, F] (C a multiple of the GEMM's panel width).
void weight_grad_winograd(const Conv2dShape& s, const float* xi, const float* dz, const float* zeros,
                          float* m, ConvScratch& sc) {
  const int th = (s.oh + 1) / 2, tw = (s.ow + 1) / 2;
  const int block = std::max(1, 96 / tw);  // tile rows per block: about 96 tiles, the GEMMs' depth
  const long fc = static_cast<long>(s.f) * s.c;
  grow(sc.wv, static_cast<std::size_t>(16) * block * tw * s.c);
  grow(sc.wm, static_cast<std::size_t>(16) * block * tw * s.f);
  for (int tr0 = 0; tr0 < th; tr0 += block) {
    const int tr1 = std::min(th, tr0 + block), tiles = (tr1 - tr0) * tw;
    winograd_transforms_in(s, xi, zeros, tr0, tr1, tw, sc.wv.data());
    winograd_transforms_dz(s, dz, zeros, tr0, tr1, tw, sc.wm.data());
    sc.rows.resize(tiles);
    for (int e = 0; e < 16; ++e) {
      const float* ve = sc.wv.data() + static_cast<long>(e) * tiles * s.c;
      for (int t = 0; t < tiles; ++t) sc.rows[t] = ve + static_cast<long>(t) * s.c;
      gemm_at_rows(s.f, s.c, tiles, sc.wm.data() + static_cast<long>(e) * tiles * s.f, s.f, sc.rows.data(),
                   m + e * fc, s.c);
    }
  }
}

// dw [3, 3, C, F] = G^T M G for the batch's summed m [16, F, C], G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0
// 1].
void winograd_weight_grad_out(const Conv2dShape& s, const float* m, float* dw) {
  const long fc = static_cast<long>(s.f) * s.c;
  for (long f = 0; f < s.f; ++f)
    for (long c = 0; c < s.c; ++c) {
      float mm[4][4], t[3][4];
      for (int e = 0; e < 16; ++e) mm[e / 4][e % 4] = m[e * fc + f * s.c + c];
      for (int b = 0; b < 4; ++b) {
        t[0][b] = mm[0][b] + 0.5f * (mm[1][b] + mm[2][b]);
        t[1][b] = 0.5f * (mm[1][b] - mm[2][b]);
        t[2][b] = 0.5f * (mm[1][b] + mm[2][b]) + mm[3][b];
      }
      float* o = dw + c * s.f + f;
      for (int a = 0; a < 3; ++a) {
        o[(a * 3 + 0) * fc] = t[a][0] + 0.5f * (t[a][1] + t[a][2]);
        o[(a * 3 + 1) * fc] = 0.5f * (t[a][1] - t[a][2]);
        o[(a * 3 + 2) * fc] = 0.5f * (t[a][1] + t[a][2]) + t[a][3];
      }
    }
}

// One image's convolution into yi [OH*OW, F], done(r0, rows) after each block of rows (the epilogue's place).
// prev_xi: the image the thread's pointer table was last built for in this call (or null): with no tap
// outside the input, the table is that one moved by the distance between the images, not rebuilt.
void conv_image(const Conv2dShape& s, const float* xi, const float* packed, const float* zeros, float* yi,
                ConvScratch& sc, const RowsDone& done, const float* prev_xi = nullptr) {
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
    const bool inside = s.pt == 0 && s.pl == 0 && (s.oh - 1) * s.sh + (s.kh - 1) * s.dil_h < s.h &&
                        (s.ow - 1) * s.sw + (s.kw - 1) * s.dil_w < s.w;
    if (prev_xi && inside && sc.rows.size() == static_cast<std::size_t>(rows * taps)) {
      const std::ptrdiff_t delta = xi - prev_xi;
      for (const float*& p : sc.rows) p += delta;
    } else {
      sc.rows.resize(rows * taps);
      tap_rows(s, xi, zeros, sc.rows.data());
    }
    igemm(static_cast<int>(rows), s.f, taps, s.c, sc.rows.data(), packed, zeros, yi, s.f, false, done);
  }
}

// How a chunk's weight-gradient partial is laid out: dw's own [KH, KW, C, F], its transpose [F, KH*KW*C] (the
// implicit GEMM's), or Winograd's [16, F, C] (transformed into dw once, after the chunks are summed).
enum class DwLayout { kDirect, kTransposed, kWinograd };

// The batch's weight and bias gradients summed in chunks of images fixed by N (never by the thread count),
// each chunk's partials in image order, then the chunks in order: the same bits at every thread count.
// per_image(i, sc, pdw, pdb) adds image i's gradients into its chunk's partials (pdw in `layout`; either null
// when not asked for) and writes its dx.
template <class PerImage>
void conv_backward_chunks(const Conv2dShape& s, float* dw, float* db, DwLayout layout, PerImage&& per_image) {
  const long cols = s.col_cols(), wsize = cols * s.f;
  const long psize = layout == DwLayout::kWinograd ? 16L * s.f * s.c : wsize;  // a chunk's dw partial
  const int chunks = std::max(1, std::min(s.n, 16));  // (an empty batch: one chunk, zero gradients)
  thread_local std::vector<float> parts_buf;          // named through a pointer below (see pack_weights)
  if (dw || db) grow(parts_buf, static_cast<std::size_t>(chunks) * (psize + s.f));
  float* const parts = parts_buf.data();
  parallel_for(chunks, [&](std::size_t c0, std::size_t c1, int) {
    ConvScratch& sc = scratch();
    for (std::size_t c = c0; c < c1; ++c) {
      float* pdw = parts + c * (psize + s.f);
      float* pdb = pdw + psize;
      if (dw) std::fill_n(pdw, psize, 0.0f);
      if (db) std::fill_n(pdb, s.f, 0.0f);
      const long i_begin = static_cast<long>(c) * s.n / chunks,
                 i_end = static_cast<long>(c + 1) * s.n / chunks;
      for (long i = i_begin; i < i_end; ++i) per_image(i, sc, dw ? pdw : nullptr, db ? pdb : nullptr);
    }
  });
  if (dw) {
    thread_local std::vector<float> sum;
    if (layout != DwLayout::kDirect) grow(sum, psize);
    float* const out = layout == DwLayout::kDirect ? dw : sum.data();
    parallel_chunks(psize, kGrain, [&](std::size_t e0, std::size_t e1) {
      for (std::size_t e = e0; e < e1; ++e) {
        float acc = parts[e];
        for (int c = 1; c < chunks; ++c) acc += parts[c * (psize + s.f) + e];
        out[e] = acc;
      }
    });
    if (layout == DwLayout::kTransposed)
      for (long f = 0; f < s.f; ++f)
        for (long k = 0; k < cols; ++k) dw[k * s.f + f] = out[f * cols + k];
    else if (layout == DwLayout::kWinograd)
      winograd_weight_grad_out(s, out, dw);
  }
  if (db)
    for (int j = 0; j < s.f; ++j) {
      float acc = parts[psize + j];
      for (int c = 1; c < chunks; ++c) acc += parts[c * (psize + s.f) + psize + j];
      db[j] = acc;
    }
}

// The backward pass by GEMMs, with dz_of(i, sc) giving image i's dz [OH*OW, F] (a pointer valid until the
// next call).
template <class DzOf>
void conv_backward(const Conv2dShape& s, const float* x, const float* w, float* dx, float* dw, float* db,
                   DzOf&& dz_of) {
  const long rows = s.col_rows(), cols = s.col_cols();
  const long in_size = static_cast<long>(s.h) * s.w * s.c;
  const float* zeros = zero_run(std::max(s.c, s.f));
  const bool implicit_dw = s.c % gemm_panel_width() == 0;
  const bool wino_dw =
      dw && implicit_dw && winograd_ok(s);  // in the transposed layout implicit_dw's chunks use
  // A 3x3 stride-1 conv's input gradient is itself such a conv, of dz with the kernel turned half a turn and
  // its channels swapped, padded by 2 - pad: computed by Winograd as the forward is (2.25x fewer
  // multiply-adds than the GEMM and col2im below).
  Conv2dShape t{};
  t.n = s.n, t.h = s.oh, t.w = s.ow, t.c = s.f, t.kh = s.kh, t.kw = s.kw, t.f = s.c, t.oh = s.h, t.ow = s.w;
  t.sh = t.sw = 1, t.pt = s.kh - 1 - s.pt, t.pl = s.kw - 1 - s.pl;
  const float* wino_dx = nullptr;
  if (dx && winograd_ok(s) && t.pt >= 0 && t.pl >= 0 && winograd_ok(t)) {
    thread_local std::vector<float> turned;
    const long cf = static_cast<long>(s.c) * s.f;
    grow(turned, 9 * cf);
    for (int ky = 0; ky < 3; ++ky)
      for (int kx = 0; kx < 3; ++kx) {
        const float* from = w + ((2 - ky) * 3 + (2 - kx)) * cf;  // [c, f]
        float* to = turned.data() + (ky * 3 + kx) * cf;          // [f, c]
        for (long ci = 0; ci < s.c; ++ci)
          for (long fo = 0; fo < s.f; ++fo) to[fo * s.c + ci] = from[ci * s.f + fo];
      }
    wino_dx = winograd_weights(t, turned.data());
  }
  thread_local std::vector<float> packed_buf;  // named through a pointer below (see pack_weights)
  if (dx && !wino_dx) {                        // w^T, packed once for all images
    grow(packed_buf, packed_b_floats(s.f, cols));
    pack_b_all(true, w, s.f, s.f, static_cast<int>(cols), packed_buf.data());
  }
  const float* const packed = packed_buf.data();
  const DwLayout layout = wino_dw       ? DwLayout::kWinograd
                          : implicit_dw ? DwLayout::kTransposed
                                        : DwLayout::kDirect;
  conv_backward_chunks(s, dw, db, layout, [&](long i, ConvScratch& sc, float* pdw, float* pdb) {
    const float* dz = dz_of(i, sc);
    sc.rows.resize(rows);
    if (pdb) add_column_sums(dz, rows, s.f, pdb);
    if (pdw && wino_dw) {
      weight_grad_winograd(s, x + i * in_size, dz, zeros, pdw, sc);
    } else if (pdw && implicit_dw) {
      weight_grad_implicit(s, x + i * in_size, dz, zeros, pdw);
    } else if (pdw) {
      grow(sc.col, rows * cols);
      im2col(s, x + i * in_size, sc.col.data());
      if (s.f % gemm_panel_width() == 0) {  // col and dz read in place
        for (long r = 0; r < rows; ++r) sc.rows[r] = dz + r * s.f;
        gemm_at_rows(static_cast<int>(cols), s.f, static_cast<int>(rows), sc.col.data(),
                     static_cast<int>(cols), sc.rows.data(), pdw, s.f);
      } else {
        sgemm(true, false, cols, s.f, rows, sc.col.data(), cols, dz, s.f, pdw, s.f, true);
      }
    }
    if (dx && wino_dx) {
      conv_image_winograd(t, dz, wino_dx, zeros, dx + i * in_size, sc, nullptr);
    } else if (dx) {
      grow(sc.dcol, std::min<long>(rows, kDcolRows) * cols);
      sc.rows.resize(rows);  // (the Winograd weight gradient's table may have been shorter)
      for (long r = 0; r < rows; ++r) sc.rows[r] = dz + r * s.f;
      float* dxi = dx + i * in_size;
      std::memset(dxi, 0, sizeof(float) * in_size);
      // dcol a block of rows at a time, each added into dx while it is in cache.
      for (long r0 = 0; r0 < rows; r0 += kDcolRows) {
        const long r1 = std::min(rows, r0 + kDcolRows);
        igemm(static_cast<int>(r1 - r0), static_cast<int>(cols), 1, s.f, sc.rows.data() + r0, packed, zeros,
              sc.dcol.data(), static_cast<int>(cols), false);
        col2im_add(s, sc.dcol.data(), r0, r1, dxi);
      }
    }
  });
}

// ---- The conv + max-pool backward through the argmax ----
//
// Past a max-pool with non-overlapping windows the conv's dz is zero except at one pixel per window and
// channel, the window's argmax: a quarter of the entries for 2x2 windows (fewer still where the activation's
// derivative is zero). The weight and input gradients are sums over those entries only, a quarter of the
// dense GEMMs' multiply-adds:
//   dw[t, ci, c] += g * x[tap t of pixel q, ci]        dx[tap t of pixel q, ci] += g * w[t, ci, c]
// for every entry (q, c, g). Vectorised over ci (C a multiple of 8), each entry's g broadcast once per tap.
// Sums in another order than the dense GEMMs' (so equal to them within rounding, exactly on integers).

// One entry list of a pixel or a channel: where the pixel's taps start in the input, and g.
struct SparseEntry {
  int iy, ix;  // input row and column of tap (0, 0): oy*SH - PT, ox*SW - PL
  int c;       // the channel (dx) or unused (dw)
  float g;
};

typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4)));

// dwt_c [taps * C] (channel c's row of dw^T) += sum over entries of g * x[tap of entry][cc .. cc + 8 NV), for
// the taps (ky, kx0 .. kx0 + TG): TG x NV accumulators, so that the multiply-adds of one entry do not wait on
// each other.
template <int NV, int TG, bool Checked>
KN_ALWAYS_INLINE void sparse_dw_taps(const Conv2dShape& s, const float* __restrict x, int cc, int ky, int kx0,
                                     const SparseEntry* __restrict e, int n, float* __restrict dwt_c) {
  v8 acc[TG][NV];
  for (int t = 0; t < TG; ++t)
    for (int v = 0; v < NV; ++v) acc[t][v] = v8{};
  const int dy = ky * s.dil_h;
  for (int k = 0; k < n; ++k) {
    const int iy = e[k].iy + dy;
    if (Checked && (iy < 0 || iy >= s.h)) continue;
    const float gk = e[k].g;
    const v8 gv = {gk, gk, gk, gk, gk, gk, gk, gk};
    const float* row = x + static_cast<long>(iy) * s.w * s.c + cc;
    for (int t = 0; t < TG; ++t) {
      const int ix = e[k].ix + (kx0 + t) * s.dil_w;
      if (Checked && (ix < 0 || ix >= s.w)) continue;
      const float* src = row + static_cast<long>(ix) * s.c;
      for (int v = 0; v < NV; ++v) acc[t][v] += gv * *reinterpret_cast<const v8u*>(src + 8 * v);
    }
  }
  for (int t = 0; t < TG; ++t) {
    float* dst = dwt_c + static_cast<long>(ky * s.kw + kx0 + t) * s.c + cc;
    for (int v = 0; v < NV; ++v) *reinterpret_cast<v8u*>(dst + 8 * v) += acc[t][v];
  }
}

// dx (one image) at the taps (ky, kx0 .. kx0 + TG) of one pixel += sum over the pixel's entries of g *
// wt[t][c][cc .. cc + 8 NV), wt being w with each tap's [C, F] transposed to [F, C].
template <int NV, int TG, bool Checked>
KN_ALWAYS_INLINE void sparse_dx_taps(const Conv2dShape& s, const float* __restrict wt, int cc, int ky,
                                     int kx0, const SparseEntry* __restrict e, int n, float* __restrict dx) {
  const int iy = e[0].iy + ky * s.dil_h, ix0 = e[0].ix;  // one pixel: the same for all its entries
  if (Checked && (iy < 0 || iy >= s.h)) return;
  v8 acc[TG][NV];
  for (int t = 0; t < TG; ++t)
    for (int v = 0; v < NV; ++v) acc[t][v] = v8{};
  const long tap_stride = static_cast<long>(s.f) * s.c;
  const float* wrow = wt + static_cast<long>(ky * s.kw + kx0) * tap_stride + cc;
  for (int k = 0; k < n; ++k) {
    const float gk = e[k].g;
    const v8 gv = {gk, gk, gk, gk, gk, gk, gk, gk};
    const float* wr = wrow + static_cast<long>(e[k].c) * s.c;
    for (int t = 0; t < TG; ++t)
      for (int v = 0; v < NV; ++v)
        acc[t][v] += gv * *reinterpret_cast<const v8u*>(wr + t * tap_stride + 8 * v);
  }
  for (int t = 0; t < TG; ++t) {
    const int ix = ix0 + (kx0 + t) * s.dil_w;
    if (Checked && (ix < 0 || ix >= s.w)) continue;
    float* dst = dx + (static_cast<long>(iy) * s.w + ix) * s.c + cc;
    for (int v = 0; v < NV; ++v) *reinterpret_cast<v8u*>(dst + 8 * v) += acc[t][v];
  }
}

// Either over every chunk of 8 NV <= 32 channels and every row of taps in groups of TG <= 3, NV x TG <= 12.
template <bool Dw, bool Checked>
KN_ALWAYS_INLINE void sparse_all_chunks(const Conv2dShape& s, const float* src, const SparseEntry* e, int n,
                                        float* dst) {
  for (int cc = 0; cc < s.c; cc += 32)
    for (int ky = 0; ky < s.kh; ++ky)
      for (int kx0 = 0; kx0 < s.kw; kx0 += 3) {
        const auto body = [&](auto nv, auto tg) KN_ALWAYS_INLINE_LAMBDA {
          if constexpr (Dw)
            sparse_dw_taps<decltype(nv)::value, decltype(tg)::value, Checked>(s, src, cc, ky, kx0, e, n, dst);
          else
            sparse_dx_taps<decltype(nv)::value, decltype(tg)::value, Checked>(s, src, cc, ky, kx0, e, n, dst);
        };
        const auto with_tg = [&](auto nv) KN_ALWAYS_INLINE_LAMBDA {
          switch (std::min(3, s.kw - kx0)) {
            case 3:
              return body(nv, std::integral_constant<int, 3>{});
            case 2:
              return body(nv, std::integral_constant<int, 2>{});
            default:
              return body(nv, std::integral_constant<int, 1>{});
          }
        };
        switch (std::min(4, (s.c - cc) / 8)) {
          case 4:
            with_tg(std::integral_constant<int, 4>{});
            break;
          case 3:
            with_tg(std::integral_constant<int, 3>{});
            break;
          case 2:
            with_tg(std::integral_constant<int, 2>{});
            break;
          default:
            with_tg(std::integral_constant<int, 1>{});
            break;
        }
      }
}

using SparseFn = void (*)(const Conv2dShape&, const float*, const SparseEntry*, int, float*);
template <bool Dw, bool Checked>
void sparse_generic(const Conv2dShape& s, const float* src, const SparseEntry* e, int n, float* dst) {
  sparse_all_chunks<Dw, Checked>(s, src, e, n, dst);
}
#if defined(__x86_64__)
template <bool Dw, bool Checked>
__attribute__((target("avx2,fma"))) void sparse_avx2(const Conv2dShape& s, const float* src,
                                                     const SparseEntry* e, int n, float* dst) {
  sparse_all_chunks<Dw, Checked>(s, src, e, n, dst);
}
#endif
template <bool Dw, bool Checked>
SparseFn sparse_fn() {
#if defined(__x86_64__)
  if (gemm_uses_avx2()) return sparse_avx2<Dw, Checked>;
#endif
  return sparse_generic<Dw, Checked>;
}

struct SparseScratch {
  std::vector<float> g;
  std::vector<int> count;
  std::vector<SparseEntry> list;
};

}  // namespace

// Whether conv2d_forward splits each image's rows across the threads (fewer images than threads) rather than
// taking the images in parallel, Winograd's included: conv2d_pool_forward makes the same choice, so that the
// two give the same bits (their products differ in rounding between the direct and the Winograd forms).
// One image's output rows split across the threads (used with fewer images than threads): igemm over groups
// of 6 rows, each group's epilogue(r0, rows) called by the thread that computed it.
template <typename Epi>
void conv_image_split(const Conv2dShape& s, const float* xi, const float* packed, const float* zeros,
                      float* yi, Epi&& epilogue) {
  thread_local std::vector<const float*> table_buf;
  const long rows = s.col_rows();
  const int taps = s.kh * s.kw, mr = 6, groups = static_cast<int>((rows + mr - 1) / mr);
  table_buf.resize(rows * taps);
  const float** table = table_buf.data();
  tap_rows(s, xi, zeros, table);
  parallel_for(groups, [&](std::size_t g0, std::size_t g1, int) {
    const long r0 = static_cast<long>(g0) * mr, r1 = std::min<long>(rows, static_cast<long>(g1) * mr);
    igemm(static_cast<int>(r1 - r0), s.f, taps, s.c, table + r0 * taps, packed, zeros, yi + r0 * s.f, s.f,
          false);
    epilogue(r0, r1 - r0);
  });
}

// Below this many multiply-adds per image, one image's rows are not split across threads: waking the pool and
// leaving the Winograd path cost more than the second thread saves (at batch 1, a 28x28x16 3x3 convolution
// took 164-190 us on 2 threads split by rows and 72-94 us on one).
constexpr long kRowSplitMacs = 1L << 23;

static bool rows_across_threads(const Conv2dShape& s) {
  return s.n < num_threads() && s.c >= kMinTapChannels && s.col_rows() * s.col_cols() * s.f >= kRowSplitMacs;
}

Status CpuBackend::conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const Epilogue& ep,
                                  float* y) {
  const long in_size = static_cast<long>(s.h) * s.w * s.c, out_size = s.col_rows() * s.f;
  const float* zeros = zero_run(std::max({s.c, s.f, static_cast<int>(s.col_cols())}));
  // With fewer images than threads, split each image's output rows across the threads instead.
  if (rows_across_threads(s)) {
    const float* packed = pack_weights(s, w);
    for (int i = 0; i < s.n; ++i) {
      float* yi = y + i * out_size;
      conv_image_split(s, x + i * in_size, packed, zeros, yi, [&](long r0, long nr) {
        apply_epilogue(yi + r0 * s.f, nr, s.f, ep, i * out_size + r0 * s.f);
      });
    }
    return Status::Ok();
  }
  const float* wino = winograd_ok(s) ? winograd_weights(s, w) : nullptr;
  const float* packed = wino ? nullptr : pack_weights(s, w);  // the Winograd path reads only its own weights
  parallel_for(s.n, [&](std::size_t i0, std::size_t i1, int) {
    ConvScratch& sc = scratch();
    for (std::size_t i = i0; i < i1; ++i) {
      float* yi = y + i * out_size;
      if (wino) {
        conv_image_winograd(s, x + i * in_size, wino, zeros, yi, sc, [&](int r0, int nr) {
          apply_epilogue(yi + static_cast<long>(r0) * s.f, nr, s.f, ep,
                         i * out_size + static_cast<long>(r0) * s.f);
        });
        continue;
      }
      conv_image(
          s, x + i * in_size, packed, zeros, yi, sc,
          [&](int r0, int nr) {
            apply_epilogue(yi + static_cast<long>(r0) * s.f, nr, s.f, ep,
                           i * out_size + static_cast<long>(r0) * s.f);
          },
          i > i0 ? x + (i - 1) * in_size : nullptr);
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
  apply_below(ep.below, dx, static_cast<std::size_t>(s.n) * s.h * s.w * s.c);
  return Status::Ok();
}

// The conv's output of one image lives only in the thread's scratch, between its GEMM and the pool.
Status CpuBackend::conv2d_pool_forward(const Conv2dShape& s, const Pool2dShape& p, const float* x,
                                       const float* w, const Epilogue& ep, float* pooled, int32_t* argmax,
                                       const DropoutArgs& drop, float* dropped) {
  const long in_size = static_cast<long>(s.h) * s.w * s.c, out_size = s.col_rows() * s.f;
  const long pooled_size = static_cast<long>(p.oh) * p.ow * p.c, pooled_row = static_cast<long>(p.ow) * p.c;
  const float* zeros = zero_run(std::max({s.c, s.f, static_cast<int>(s.col_cols())}));
  const float* packed = pack_weights(s, w);
  const bool split = rows_across_threads(s);
  if (split) {
    // Fewer images than threads: each image's rows split across the threads as conv2d_forward splits them
    // (the same GEMM per row, so the same values as the unfused ops), then its pool.
    thread_local std::vector<float> y_buf;
    grow(y_buf, out_size);
    float* yi = y_buf.data();
    for (int i = 0; i < s.n; ++i) {
      conv_image_split(s, x + i * in_size, packed, zeros, yi,
                       [&](long r0, long nr) { apply_epilogue(yi + r0 * s.f, nr, s.f, ep); });
      for (int py = 0; py < p.oh; ++py)
        maxpool_row(p, yi, py, pooled + i * pooled_size + py * pooled_row,
                    argmax + i * pooled_size + py * pooled_row);
    }
  }
  const float* wino = winograd_ok(s) && !split ? winograd_weights(s, w) : nullptr;
  if (!split)
    parallel_for(s.n, [&](std::size_t i0, std::size_t i1, int) {
      ConvScratch& sc = scratch();
      grow(sc.y, out_size);
      float* yi = sc.y.data();
      for (std::size_t i = i0; i < i1; ++i) {
        // Each block of rows gets its epilogue as the GEMM completes it, and every pooled row whose windows
        // are then complete is pooled at once, while the block is still in cache.
        int next = 0;  // the next pooled row
        const auto pool_ready = [&](long done_rows) {
          for (; next < p.oh; ++next) {
            const int last =
                std::min(s.oh, next * p.sh - p.pt + p.ph);  // conv rows [.., last) of this pooled row
            if (static_cast<long>(last) * s.ow > done_rows) break;
            maxpool_row(p, yi, next, pooled + i * pooled_size + next * pooled_row,
                        argmax + i * pooled_size + next * pooled_row);
          }
        };
        const RowsDone ready = [&](int r0, int nr) {
          apply_epilogue(yi + static_cast<long>(r0) * s.f, nr, s.f, ep);
          pool_ready(r0 + nr);
        };
        if (wino)
          conv_image_winograd(s, x + i * in_size, wino, zeros, yi, sc, ready);
        else
          conv_image(s, x + i * in_size, packed, zeros, yi, sc, ready,
                     i > i0 ? x + (i - 1) * in_size : nullptr);
        pool_ready(s.col_rows());
      }
    });
  // A Dropout after the pool: its own pass (vectorised, threaded), the same bits as the op after this one.
  if (dropped)
    return dropout_forward(static_cast<std::size_t>(p.n) * pooled_size, pooled, dropped, drop.rate, drop.seed,
                           drop.offset, drop.counter);
  return Status::Ok();
}

// Channels a multiple of 8: through the argmax alone (above). Otherwise dz is built whole (zero but at each
// window's argmax, where act'(pooled) * dpooled) and the dense GEMMs run.
Status CpuBackend::conv2d_pool_backward(const Conv2dShape& s, const Pool2dShape& p, const float* x,
                                        const float* w, const float* pooled, const int32_t* argmax,
                                        const float* dpooled, float* dx, float* dw, float* db,
                                        const Epilogue& ep, const DropoutArgs& drop) {
  const long rows = s.col_rows(), out_size = rows * s.f;
  const long pooled_size = static_cast<long>(p.oh) * p.ow * p.c, windows = static_cast<long>(p.oh) * p.ow;
  if (drop.rate > 0.0f) {  // the dropout after the pool: its backward first (the same mask and scale)
    thread_local std::vector<float> masked;
    masked.resize(static_cast<std::size_t>(s.n) * pooled_size);
    const Status st = dropout_backward(masked.size(), dpooled, masked.data(), drop.rate, drop.seed,
                                       drop.offset, drop.counter, BelowAct{});
    if (!st.ok()) return st;
    dpooled = masked.data();
  }
  if (s.c % 8 != 0) {
    conv_backward(s, x, w, dx, dw, db, [&](long i, ConvScratch& sc) {
      grow(sc.dz, out_size);
      float* dz = sc.dz.data();
      act_mask_scatter(ep.act, ep.alpha, pooled + i * pooled_size, dpooled + i * pooled_size,
                       argmax + i * pooled_size, pooled_size, dz, out_size);
      return static_cast<const float*>(dz);
    });
    apply_below(ep.below, dx, static_cast<std::size_t>(s.n) * s.h * s.w * s.c);
    return Status::Ok();
  }
  const long in_size = static_cast<long>(s.h) * s.w * s.c, cols = s.col_cols();
  // Whether some tap falls outside the input ('same' padding): then each tap is checked.
  const bool checked = s.pt > 0 || s.pl > 0 || (s.oh - 1) * s.sh - s.pt + (s.kh - 1) * s.dil_h >= s.h ||
                       (s.ow - 1) * s.sw - s.pl + (s.kw - 1) * s.dil_w >= s.w;
  const SparseFn dw_fn = checked ? sparse_fn<true, true>() : sparse_fn<true, false>();
  const SparseFn dx_fn = checked ? sparse_fn<false, true>() : sparse_fn<false, false>();
  thread_local std::vector<float>
      wt_buf;  // w with each tap's [C, F] transposed to [F, C]; named through a pointer
  if (dx) {
    grow(wt_buf, cols * s.f);
    for (long t = 0; t < s.kh * s.kw; ++t)
      for (long ci = 0; ci < s.c; ++ci)
        for (long f = 0; f < s.f; ++f) wt_buf[(t * s.f + f) * s.c + ci] = w[(t * s.c + ci) * s.f + f];
  }
  const float* const wt = wt_buf.data();
  // Where each output pixel's taps start in the input: tap_y[r], tap_x[r] = oy*SH - PT, ox*SW - PL.
  thread_local std::vector<int> tap_y_buf, tap_x_buf;
  tap_y_buf.resize(rows);
  tap_x_buf.resize(rows);
  for (long r = 0; r < rows; ++r) {
    tap_y_buf[r] = static_cast<int>(r / s.ow) * s.sh - s.pt;
    tap_x_buf[r] = static_cast<int>(r % s.ow) * s.sw - s.pl;
  }
  const int* const tap_y = tap_y_buf.data();
  const int* const tap_x = tap_x_buf.data();
  const double inv_f = 1.0 / s.f;
  conv_backward_chunks(s, dw, db, DwLayout::kTransposed, [&](long i, ConvScratch&, float* pdw, float* pdb) {
    thread_local SparseScratch sp;
    // dz at the argmaxes: g = act'(pooled) * dpooled, [windows, F].
    sp.g.resize(pooled_size);
    act_mask(ep.act, ep.alpha, pooled + i * pooled_size, nullptr, dpooled + i * pooled_size, sp.g.data(),
             pooled_size);
    const int32_t* ai = argmax + i * pooled_size;
    // The output pixel r of entry `at` (q = r*F + c): by a multiply, checked; -1 for an index outside the
    // image.
    const auto pixel_of = [&](long at, int c) {
      const int32_t q = ai[at];
      const long r = std::lround((static_cast<double>(q) - c) * inv_f);
      return r >= 0 && r < rows && r * s.f + c == q ? r : -1L;
    };
    if (pdw || pdb) {  // channel by channel, its entries in window order (db: their sum)
      sp.list.resize(windows);
      for (int c = 0; c < s.f; ++c) {
        int n = 0;
        float sum = 0.0f;
        for (long o = 0; o < windows; ++o) {
          const long at = o * s.f + c;
          const float g = sp.g[at];
          if (g == 0.0f) continue;
          const long r = pixel_of(at, c);
          if (r < 0) continue;
          sp.list[n++] = SparseEntry{tap_y[r], tap_x[r], c, g};
          sum += g;
        }
        if (pdb) pdb[c] += sum;
        if (pdw && n) dw_fn(s, x + i * in_size, sp.list.data(), n, pdw + c * cols);
      }
    }
    if (dx) {  // window by window, each of its pixels with the channels whose argmax it is
      float* dxi = dx + i * in_size;
      std::memset(dxi, 0, sizeof(float) * in_size);
      const int slots = p.ph * p.pw;
      sp.count.resize(slots);
      sp.list.resize(static_cast<std::size_t>(slots) * s.f);
      for (long o = 0; o < windows; ++o) {
        const int wy = static_cast<int>(o / p.ow) * p.sh - p.pt,
                  wx = static_cast<int>(o % p.ow) * p.sw - p.pl;
        std::fill_n(sp.count.data(), slots, 0);
        for (int c = 0; c < s.f; ++c) {
          const long at = o * s.f + c;
          const float g = sp.g[at];
          if (g == 0.0f) continue;
          const long r = pixel_of(at, c);
          if (r < 0) continue;
          const SparseEntry e{tap_y[r], tap_x[r], c, g};
          const int dy = static_cast<int>(r / s.ow) - wy, dxw = static_cast<int>(r % s.ow) - wx;
          if (dy < 0 || dy >= p.ph || dxw < 0 ||
              dxw >= p.pw) {  // not in its window (an argmax not made here)
            dx_fn(s, wt, &e, 1, dxi);
            continue;
          }
          const int slot = dy * p.pw + dxw;
          sp.list[static_cast<std::size_t>(slot) * s.f + sp.count[slot]++] = e;
        }
        for (int j = 0; j < slots; ++j)
          if (sp.count[j]) dx_fn(s, wt, sp.list.data() + static_cast<std::size_t>(j) * s.f, sp.count[j], dxi);
      }
      if (ep.below.y)  // the layer below's activation, while the image's dx is in cache
        act_mask_in_place(ep.below.act, ep.below.alpha, ep.below.y + i * in_size, dxi, in_size);
    }
  });
  return Status::Ok();
}

}  // namespace kn
