// Elementwise CPU loops compiled twice, for x86-64-v3 (AVX2, FMA) and for baseline x86-64, with the clone
// picked at load time by the dynamic linker (GCC target_clones, an ifunc): the shipped binary runs on any
// x86-64 CPU and uses 256-bit vectors where the CPU has them. (The GEMM micro-kernel has its own dispatch,
// which KERNELNET_CPU=generic can force; these loops are exact either way, so they need no switch.)
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define KN_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define KN_CLONES
#endif

#include <cstddef>

namespace kn {

// dz = y > 0 ? dy : 0 (the ReLU gradient, y being the ReLU's output).
KN_CLONES inline void relu_mask(const float* __restrict y, const float* __restrict dy, float* __restrict dz,
                                std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dz[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

// Rows of y[rows, f] += b, then ReLU when asked; the ReLU keeps NaN (as PyTorch and TensorFlow do), so a
// diverging run shows in the loss instead of being silenced.
KN_CLONES inline void bias_act(float* __restrict y, std::size_t rows, int f, const float* __restrict b, bool relu) {
  for (std::size_t r = 0; r < rows; ++r) {
    float* row = y + r * f;
    if (relu)
      for (int j = 0; j < f; ++j) {
        const float v = row[j] + b[j];
        row[j] = v < 0.0f ? 0.0f : v;
      }
    else
      for (int j = 0; j < f; ++j) row[j] += b[j];
  }
}

// sums[j] += x[r, j] over rows r of x[rows, f].
KN_CLONES inline void add_column_sums(const float* __restrict x, std::size_t rows, int f, float* __restrict sums) {
  for (std::size_t r = 0; r < rows; ++r)
    for (int j = 0; j < f; ++j) sums[j] += x[r * f + j];
}

}  // namespace kn
