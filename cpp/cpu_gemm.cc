#include "cpu_gemm.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "env.h"
#include "threadpool.h"

#pragma GCC diagnostic ignored "-Wpsabi"

namespace kn {
namespace {

constexpr int MR = 6, NR = 16;
constexpr int KC = 256, MC = 96, NC = 2048;
static_assert(MC % MR == 0 && NC % NR == 0, "blocks must hold whole micro-tiles");

typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4)));

// C (=|+=) acc for the mr x nr corner of the tile that is inside C.
__attribute__((always_inline)) inline void store_tile(const v8 (&acc)[MR][2], float* __restrict c, int ldc,
                                                      int mr, int nr, bool add) {
  if (mr == MR && nr == NR) {
    for (int i = 0; i < MR; ++i) {
      v8u* row = reinterpret_cast<v8u*>(c + static_cast<long>(i) * ldc);
      if (add) {
        row[0] += acc[i][0];
        row[1] += acc[i][1];
      } else {
        row[0] = acc[i][0];
        row[1] = acc[i][1];
      }
    }
    return;
  }
  alignas(32) float tile[MR][NR];
  for (int i = 0; i < MR; ++i) {
    *reinterpret_cast<v8*>(&tile[i][0]) = acc[i][0];
    *reinterpret_cast<v8*>(&tile[i][8]) = acc[i][1];
  }
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; ++j) {
      float& dst = c[static_cast<long>(i) * ldc + j];
      dst = add ? dst + tile[i][j] : tile[i][j];
    }
}

// acc = sum_k a[k][0..MR) (x) b[k][0..NR); then C (=|+=) acc for the mr x nr corner that is inside C.
__attribute__((always_inline)) inline void micro_body(int kc, const float* __restrict a,
                                                      const float* __restrict b, float* __restrict c, int ldc,
                                                      int mr, int nr, bool add) {
  v8 acc[MR][2];
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = v8{};
  for (int k = 0; k < kc; ++k) {
    const v8 b0 = *reinterpret_cast<const v8*>(b + k * NR);
    const v8 b1 = *reinterpret_cast<const v8*>(b + k * NR + 8);
    for (int i = 0; i < MR; ++i) {
      const float ai = a[k * MR + i];
      const v8 av = {ai, ai, ai, ai, ai, ai, ai, ai};
      acc[i][0] += av * b0;
      acc[i][1] += av * b1;
    }
  }
  store_tile(acc, c, ldc, mr, nr, add);
}

// x86-64: the same body compiled for AVX2 + FMA, chosen at run time (the baseline is SSE2). AArch64: NEON
// with fused multiply-add is the baseline ISA, so the generic body is already the NEON kernel (each 8-float
// vector is two 128-bit registers: 24 accumulators, 4 for B, one broadcast of the 32).
#if defined(__x86_64__)
#define KN_X86_CLONE 1
__attribute__((target("avx2,fma"))) void micro_avx2(int kc, const float* a, const float* b, float* c, int ldc,
                                                    int mr, int nr, bool add) {
  micro_body(kc, a, b, c, ldc, mr, nr, add);
}
#endif

void micro_generic(int kc, const float* a, const float* b, float* c, int ldc, int mr, int nr, bool add) {
  micro_body(kc, a, b, c, ldc, mr, nr, add);
}

// Implicit GEMM, A unpacked: acc = sum over taps t, k < kt of a_t,i[k] (x) b[t*kt + k][0..NR), where row i's
// run for tap t is ap[i * stride + t] (kt floats; a row of zeros where the tap falls outside the input). B's
// rows are bstride floats apart: NR when packed, the matrix's row length when read in place.
__attribute__((always_inline)) inline void micro_ind_body(int taps, int kt, const float* const* __restrict ap,
                                                          int stride, const float* __restrict b,
                                                          float* __restrict c, int ldc, int mr, int nr,
                                                          bool add, int bstride) {
  v8 acc[MR][2];
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = v8{};
  for (int t = 0; t < taps; ++t) {
    const float* __restrict a[MR];
    for (int i = 0; i < MR; ++i) a[i] = ap[i * stride + t];
    for (int k = 0; k < kt; ++k, b += bstride) {
      const v8 b0 = *reinterpret_cast<const v8u*>(b);  // maybe not 32-byte aligned
      const v8 b1 = *reinterpret_cast<const v8u*>(b + 8);
      for (int i = 0; i < MR; ++i) {
        const float ai = a[i][k];
        const v8 av = {ai, ai, ai, ai, ai, ai, ai, ai};
        acc[i][0] += av * b0;
        acc[i][1] += av * b1;
      }
    }
  }
  store_tile(acc, c, ldc, mr, nr, add);
}

// Both operands unpacked, for a sum over K that runs along A's columns: C[0..R) x [0..NR) += sum_k a[k * lda
// + i] (x) b_rows[k][boff .. boff + NR). Rows of A are contiguous per k (A stored transposed), rows of B
// found through a pointer per k (a row of zeros where a tap falls outside the input).
template <int R>
__attribute__((always_inline)) inline void micro_at_rows_body(int kc, const float* __restrict a, int lda,
                                                              const float* const* __restrict b_rows, int boff,
                                                              float* __restrict c, int ldc) {
  v8 acc[R][2];
  for (int i = 0; i < R; ++i) acc[i][0] = acc[i][1] = v8{};
  for (int k = 0; k < kc; ++k, a += lda) {
    const float* __restrict bk = b_rows[k] + boff;
    const v8 b0 = *reinterpret_cast<const v8u*>(bk);
    const v8 b1 = *reinterpret_cast<const v8u*>(bk + 8);
    for (int i = 0; i < R; ++i) {
      const float ai = a[i];
      const v8 av = {ai, ai, ai, ai, ai, ai, ai, ai};
      acc[i][0] += av * b0;
      acc[i][1] += av * b1;
    }
  }
  for (int i = 0; i < R; ++i) {
    v8u* row = reinterpret_cast<v8u*>(c + static_cast<long>(i) * ldc);
    row[0] += acc[i][0];
    row[1] += acc[i][1];
  }
}

template <int R>
void micro_at_rows_generic(int kc, const float* a, int lda, const float* const* b_rows, int boff, float* c,
                           int ldc) {
  micro_at_rows_body<R>(kc, a, lda, b_rows, boff, c, ldc);
}
void micro_ind_generic(int taps, int kt, const float* const* ap, int stride, const float* b, float* c,
                       int ldc, int mr, int nr, bool add, int bstride) {
  micro_ind_body(taps, kt, ap, stride, b, c, ldc, mr, nr, add, bstride);
}
#if defined(KN_X86_CLONE)
template <int R>
__attribute__((target("avx2,fma"))) void micro_at_rows_avx2(int kc, const float* a, int lda,
                                                            const float* const* b_rows, int boff, float* c,
                                                            int ldc) {
  micro_at_rows_body<R>(kc, a, lda, b_rows, boff, c, ldc);
}
__attribute__((target("avx2,fma"))) void micro_ind_avx2(int taps, int kt, const float* const* ap, int stride,
                                                        const float* b, float* c, int ldc, int mr, int nr,
                                                        bool add, int bstride) {
  micro_ind_body(taps, kt, ap, stride, b, c, ldc, mr, nr, add, bstride);
}
#endif

using MicroFn = void (*)(int, const float*, const float*, float*, int, int, int, bool);

bool use_avx2() {
#if defined(KN_X86_CLONE)
  if (env::choice(env::Var::kCpu) == "generic") return false;  // KERNELNET_CPU=generic
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

const bool kAvx2 = use_avx2();
#if defined(KN_X86_CLONE)
const MicroFn kMicro = kAvx2 ? micro_avx2 : micro_generic;
#else
const MicroFn kMicro = micro_generic;
#endif

using MicroIndFn = void (*)(int, int, const float* const*, int, const float*, float*, int, int, int, bool,
                            int);
using MicroAtRowsFn = void (*)(int, const float*, int, const float* const*, int, float*, int);
#if defined(KN_X86_CLONE)
const MicroIndFn kMicroInd = kAvx2 ? micro_ind_avx2 : micro_ind_generic;
const MicroAtRowsFn kMicroAtRows[MR + 1] = {
    nullptr,
    kAvx2 ? micro_at_rows_avx2<1> : micro_at_rows_generic<1>,
    kAvx2 ? micro_at_rows_avx2<2> : micro_at_rows_generic<2>,
    kAvx2 ? micro_at_rows_avx2<3> : micro_at_rows_generic<3>,
    kAvx2 ? micro_at_rows_avx2<4> : micro_at_rows_generic<4>,
    kAvx2 ? micro_at_rows_avx2<5> : micro_at_rows_generic<5>,
    kAvx2 ? micro_at_rows_avx2<6> : micro_at_rows_generic<6>,
};
#else
const MicroIndFn kMicroInd = micro_ind_generic;
const MicroAtRowsFn kMicroAtRows[MR + 1] = {
    nullptr,
    micro_at_rows_generic<1>,
    micro_at_rows_generic<2>,
    micro_at_rows_generic<3>,
    micro_at_rows_generic<4>,
    micro_at_rows_generic<5>,
    micro_at_rows_generic<6>,
};
#endif

struct Packed {
  float* a = nullptr;
  float* b = nullptr;
  Packed() {
    a = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * MC * KC));
    b = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * KC * NC));
  }
  ~Packed() {
    std::free(a);
    std::free(b);
  }
};

// Packs op(A)[i0 .. i0+mc, p0 .. p0+kc) into MR-row panels, zero-padding the last panel.
void pack_a(bool ta, const float* a, int lda, int i0, int mc, int p0, int kc, float* out) {
  for (int ip = 0; ip < mc; ip += MR) {
    const int rows = std::min(MR, mc - ip);
    for (int k = 0; k < kc; ++k) {
      float* dst = out + static_cast<long>(ip) * kc + k * MR;
      for (int i = 0; i < rows; ++i) {
        const long r = i0 + ip + i, col = p0 + k;
        dst[i] = ta ? a[col * lda + r] : a[r * lda + col];
      }
      for (int i = rows; i < MR; ++i) dst[i] = 0.0f;
    }
  }
}

// Packs op(B)[p0 .. p0+kc, j0 .. j0+nc) into NR-column panels, zero-padding the last panel.
void pack_b(bool tb, const float* b, int ldb, int p0, int kc, int j0, int nc, float* out) {
  for (int jp = 0; jp < nc; jp += NR) {
    const int cols = std::min(NR, nc - jp);
    float* panel = out + static_cast<long>(jp) * kc;
    for (int k = 0; k < kc; ++k) {
      float* dst = panel + k * NR;
      const long row = p0 + k;
      if (!tb && cols == NR) {
        std::memcpy(dst, b + row * ldb + j0 + jp, sizeof(float) * NR);
        continue;
      }
      for (int j = 0; j < cols; ++j) {
        const long col = j0 + jp + j;
        dst[j] = tb ? b[col * ldb + row] : b[row * ldb + col];
      }
      for (int j = cols; j < NR; ++j) dst[j] = 0.0f;
    }
  }
}

}  // namespace

bool gemm_uses_avx2() {
  return kAvx2;
}

const char* gemm_kernel_name() {
#if defined(__aarch64__)
  return "neon";
#else
  return kAvx2 ? "avx2+fma" : "generic";
#endif
}

namespace {
// Independent multiply-adds in registers, the most arithmetic the cores can do: 12 chains of 8 lanes.
template <int kChains>
__attribute__((always_inline)) inline double fma_loop(long iterations) {
  v8 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = v8{} + 0.5f * c;
  const v8 mul = v8{} + 0.999999f, add = v8{} + 1e-7f;
  for (long i = 0; i < iterations; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * mul + add;
  float sum = 0;
  for (int c = 0; c < kChains; ++c)
    for (int l = 0; l < 8; ++l) sum += acc[c][l];
  return sum;
}
#if defined(KN_X86_CLONE)
__attribute__((target("avx2,fma"))) double fma_loop_avx2(long n) {
  return fma_loop<12>(n);
}
#endif
double fma_loop_generic(long n) {
  return fma_loop<12>(n);
}
}  // namespace

double measure_peak_gflops(double seconds) {
  const int threads = num_threads();
  const long iterations = 1L << 22;  // 2 * 8 * 12 * 2^22 = 805 MFLOP per thread per round
  double best = 0;
  const auto start = std::chrono::steady_clock::now();
  do {
    std::vector<double> sink(threads);
    const auto t0 = std::chrono::steady_clock::now();
    parallel_for(threads, [&](std::size_t, std::size_t, int t) {
#if defined(KN_X86_CLONE)
      sink[t] = kAvx2 ? fma_loop_avx2(iterations) : fma_loop_generic(iterations);
#else
      sink[t] = fma_loop_generic(iterations);
#endif
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 2.0 * 8 * 12 * iterations * threads / s / 1e9 + 0 * sink[0]);
  } while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < seconds);
  return best;
}

void sgemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c,
           int ldc, bool accumulate) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate)
      for (int i = 0; i < m; ++i) std::memset(c + static_cast<long>(i) * ldc, 0, sizeof(float) * n);
    return;
  }
  thread_local Packed buf;
  for (int j0 = 0; j0 < n; j0 += NC) {
    const int nc = std::min(NC, n - j0);
    for (int p0 = 0; p0 < k; p0 += KC) {
      const int kc = std::min(KC, k - p0);
      const bool add = accumulate || p0 > 0;
      pack_b(tb, b, ldb, p0, kc, j0, nc, buf.b);
      for (int i0 = 0; i0 < m; i0 += MC) {
        const int mc = std::min(MC, m - i0);
        pack_a(ta, a, lda, i0, mc, p0, kc, buf.a);
        for (int jr = 0; jr < nc; jr += NR) {
          const float* bp = buf.b + static_cast<long>(jr) * kc;
          for (int ir = 0; ir < mc; ir += MR) {
            float* cp = c + static_cast<long>(i0 + ir) * ldc + j0 + jr;
            kMicro(kc, buf.a + static_cast<long>(ir) * kc, bp, cp, ldc, std::min(MR, mc - ir),
                   std::min(NR, nc - jr), add);
          }
        }
      }
    }
  }
}

void sgemm_parallel(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
                    float* c, int ldc, bool accumulate) {
  const int t = num_threads();
  const long work = static_cast<long>(m) * n * std::max(k, 1);
  if (t == 1 || work < (1L << 18)) return sgemm(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
  if (m >= n) {
    // Split rows of C in multiples of MR.
    const int tiles = (m + MR - 1) / MR;
    parallel_for(tiles, [&](std::size_t t0, std::size_t t1, int) {
      const int i0 = static_cast<int>(t0) * MR, i1 = std::min(m, static_cast<int>(t1) * MR);
      const float* ap = ta ? a + i0 : a + static_cast<long>(i0) * lda;
      sgemm(ta, tb, i1 - i0, n, k, ap, lda, b, ldb, c + static_cast<long>(i0) * ldc, ldc, accumulate);
    });
  } else {
    const int tiles = (n + NR - 1) / NR;
    parallel_for(tiles, [&](std::size_t t0, std::size_t t1, int) {
      const int j0 = static_cast<int>(t0) * NR, j1 = std::min(n, static_cast<int>(t1) * NR);
      const float* bp = tb ? b + static_cast<long>(j0) * ldb : b + j0;
      sgemm(ta, tb, m, j1 - j0, k, a, lda, bp, ldb, c + j0, ldc, accumulate);
    });
  }
}

int gemm_panel_width() {
  return NR;
}

std::size_t packed_b_floats(int k, int n) {
  return static_cast<std::size_t>((n + NR - 1) / NR) * NR * k;
}

void pack_b_all(bool tb, const float* b, int ldb, int k, int n, float* out) {
  pack_b(tb, b, ldb, 0, k, 0, n, out);
}

void igemm(int m, int n, int taps, int kt, const float* const* a_rows, const float* bp, const float* zeros,
           float* c, int ldc, bool accumulate, const RowsDone& done) {
  if (m <= 0 || n <= 0) return;
  if (taps <= 0 || kt <= 0) {  // an empty sum (no input channels, or no filters for an input gradient): C = 0
    for (int i0 = 0; i0 < m; i0 += MC) {
      const int mc = std::min(MC, m - i0);
      if (!accumulate)
        for (int i = i0; i < i0 + mc; ++i)
          std::fill(c + static_cast<long>(i) * ldc, c + static_cast<long>(i) * ldc + n, 0.0f);
      if (done) done(i0, mc);
    }
    return;
  }
  const long k = static_cast<long>(taps) * kt;
  // Taps per block: the block's B panel (tb * kt x NR) stays in L1 while MC rows of A stream past it.
  const int tb = std::max(1, KC / kt);
  const float* pad[MR * KC];  // nt <= tb <= KC
  for (int i0 = 0; i0 < m; i0 += MC) {
    const int mc = std::min(MC, m - i0);
    for (int t0 = 0; t0 < taps; t0 += tb) {
      const int nt = std::min(tb, taps - t0);
      const bool add = accumulate || t0 > 0;
      for (int jr = 0; jr < n; jr += NR) {
        const float* b = bp + static_cast<long>(jr) * k + static_cast<long>(t0) * kt * NR;
        for (int ir = 0; ir < mc; ir += MR) {
          const int r0 = i0 + ir, mr = std::min(MR, m - r0);
          const float* const* ap = a_rows + static_cast<long>(r0) * taps + t0;
          float* cp = c + static_cast<long>(r0) * ldc + jr;
          if (mr < MR) {  // rows past the end read zeros
            for (int i = 0; i < MR; ++i)
              for (int t = 0; t < nt; ++t) pad[i * nt + t] = i < mr ? ap[i * taps + t] : zeros;
            kMicroInd(nt, kt, pad, nt, b, cp, ldc, mr, std::min(NR, n - jr), add, NR);
          } else {
            kMicroInd(nt, kt, ap, taps, b, cp, ldc, mr, std::min(NR, n - jr), add, NR);
          }
        }
      }
    }
    if (done) done(i0, mc);  // while the block's rows of C are still in cache
  }
}

void gemm_rows_b(int m, int n, int k, const float* const* a_rows, const float* b, int ldb, const float* zeros,
                 float* c, int ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (int i = 0; i < m; ++i)
      std::fill(c + static_cast<long>(i) * ldc, c + static_cast<long>(i) * ldc + n, 0.0f);
    return;
  }
  thread_local std::vector<float> tail;  // the last, partial panel of B, packed (k x NR)
  const float* pad[MR];
  for (int jr = 0; jr < n; jr += NR) {
    const int nr = std::min(NR, n - jr);
    const float* bp = b + jr;
    int bstride = ldb;
    if (nr < NR) {
      if (tail.size() < static_cast<std::size_t>(k) * NR) tail.resize(static_cast<std::size_t>(k) * NR);
      pack_b(false, b, ldb, 0, k, jr, nr, tail.data());
      bp = tail.data();
      bstride = NR;
    }
    for (int r0 = 0; r0 < m; r0 += MR) {
      const int mr = std::min(MR, m - r0);
      for (int i = 0; i < MR; ++i) pad[i] = i < mr ? a_rows[r0 + i] : zeros;  // rows past the end read zeros
      kMicroInd(1, k, pad, 1, bp, c + static_cast<long>(r0) * ldc + jr, ldc, mr, nr, false, bstride);
    }
  }
}

void gemm_at_rows(int m, int n, int k, const float* a, int lda, const float* const* b_rows, float* c,
                  int ldc) {
  for (int jr = 0; jr < n; jr += NR)
    for (int ir = 0; ir < m; ir += MR)
      kMicroAtRows[std::min(MR, m - ir)](k, a + ir, lda, b_rows, jr, c + static_cast<long>(ir) * ldc + jr,
                                         ldc);
}

}  // namespace kn
