// The WMMA API (nvcuda::wmma) for the emulated GPU, TF32 16 x 16 x 8 fragments only. On a GPU a fragment is
// spread over the 32 threads of a warp in an unspecified layout; here every thread holds the whole tile,
// which computes the same results for code that touches fragments only through the API and loops over x[0,
// num_elements). load reads the tile, mma multiplies in FP32 (FMA in k order), store is done by lane 0 for
// the warp.
// __float_to_tf32 rounds as cvt.rna.tf32.f32: to 10 mantissa bits, ties away from zero.
#pragma once
#include <cstdint>
#include <cstring>

#include "cuda_runtime.h"

namespace nvcuda {
namespace wmma {

struct row_major {};
struct col_major {};
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
namespace precision {
struct tf32 {};
}  // namespace precision
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment;
template <typename Layout>
struct fragment<matrix_a, 16, 16, 8, precision::tf32, Layout> {  // [16 m][8 k]
  static constexpr int num_elements = 16 * 8;
  float x[num_elements];
};
template <typename Layout>
struct fragment<matrix_b, 16, 16, 8, precision::tf32, Layout> {  // [8 k][16 n]
  static constexpr int num_elements = 8 * 16;
  float x[num_elements];
};
template <>
struct fragment<accumulator, 16, 16, 8, float, void> {  // [16 m][16 n]
  static constexpr int num_elements = 16 * 16;
  float x[num_elements];
};

inline float __float_to_tf32(float in) {
  if (!std::isfinite(in)) return in;
  uint32_t u;
  std::memcpy(&u, &in, 4);
  u = (u + 0x1000u) & 0xFFFFE000u;
  float out;
  std::memcpy(&out, &u, 4);
  return out;
}

template <typename Layout>
void load_matrix_sync(fragment<matrix_a, 16, 16, 8, precision::tf32, Layout>& f, const float* p,
                      unsigned ldm) {
  constexpr bool row = std::is_same_v<Layout, row_major>;
  for (int m = 0; m < 16; ++m)
    for (int k = 0; k < 8; ++k) f.x[m * 8 + k] = row ? p[m * ldm + k] : p[k * ldm + m];
}
template <typename Layout>
void load_matrix_sync(fragment<matrix_b, 16, 16, 8, precision::tf32, Layout>& f, const float* p,
                      unsigned ldm) {
  constexpr bool row = std::is_same_v<Layout, row_major>;
  for (int k = 0; k < 8; ++k)
    for (int n = 0; n < 16; ++n) f.x[k * 16 + n] = row ? p[k * ldm + n] : p[n * ldm + k];
}
inline void fill_fragment(fragment<accumulator, 16, 16, 8, float>& f, float v) {
  for (float& e : f.x) e = v;
}
template <typename LA, typename LB>
void mma_sync(fragment<accumulator, 16, 16, 8, float>& d,
              const fragment<matrix_a, 16, 16, 8, precision::tf32, LA>& a,
              const fragment<matrix_b, 16, 16, 8, precision::tf32, LB>& b,
              const fragment<accumulator, 16, 16, 8, float>& c) {
  float out[256];
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 16; ++n) {
      float s = c.x[m * 16 + n];
      for (int k = 0; k < 8; ++k) s = std::fma(a.x[m * 8 + k], b.x[k * 16 + n], s);
      out[m * 16 + n] = s;
    }
  std::memcpy(d.x, out, sizeof(out));
}
inline void store_matrix_sync(float* p, const fragment<accumulator, 16, 16, 8, float>& f, unsigned ldm,
                              layout_t layout) {
  if (kn_emu::linear_tid % 32 != 0) return;
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 16; ++n)
      (layout == mem_row_major ? p[m * ldm + n] : p[n * ldm + m]) = f.x[m * 16 + n];
}

}  // namespace wmma
}  // namespace nvcuda
