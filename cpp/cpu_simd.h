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

#include "epilogue.h"

namespace kn {

// dz = dy * act'(x) from y = act(x) (epilogue.h), x being read from `pre` only by the activations that need
// it. ReLU gets its own loop, so that the compiler vectorises it as a branch-free select (its keep/drop
// decisions are coin flips).
KN_CLONES inline void act_mask(Act act, float alpha, const float* __restrict y, const float* __restrict pre,
                               const float* __restrict dy, float* __restrict dz, std::size_t n) {
  switch (act) {
    case Act::kRelu:
      for (std::size_t i = 0; i < n; ++i) dz[i] = act_backward(Act::kRelu, y[i], 0.0f, dy[i]);
      break;
    default:
      if (pre)
        for (std::size_t i = 0; i < n; ++i) dz[i] = act_backward(act, y[i], pre[i], dy[i], alpha);
      else
        for (std::size_t i = 0; i < n; ++i) dz[i] = act_backward(act, y[i], 0.0f, dy[i], alpha);
  }
}

// The epilogue of y[rows, f]: += bias[j] when there is a bias, then the activation, storing the
// pre-activation at ep.pre (offset by `at` floats) when asked.
KN_CLONES inline void apply_epilogue(float* __restrict y, std::size_t rows, int f, const Epilogue& ep,
                                     std::size_t at = 0) {
  const float* __restrict b = ep.bias;
  float* __restrict pre = ep.pre ? ep.pre + at : nullptr;
  for (std::size_t r = 0; r < rows; ++r) {
    float* row = y + r * f;
    switch (ep.act) {
      case Act::kRelu:
        if (b)
          for (int j = 0; j < f; ++j) row[j] = act_forward(Act::kRelu, row[j] + b[j]);
        else
          for (int j = 0; j < f; ++j) row[j] = act_forward(Act::kRelu, row[j]);
        break;
      default:
        if (pre) {
          float* p = pre + r * f;
          for (int j = 0; j < f; ++j) {
            const float v = b ? row[j] + b[j] : row[j];
            p[j] = v;
            row[j] = act_forward(ep.act, v, ep.alpha);
          }
        } else if (b) {
          for (int j = 0; j < f; ++j) row[j] = act_forward(ep.act, row[j] + b[j], ep.alpha);
        } else if (ep.act != Act::kLinear) {
          for (int j = 0; j < f; ++j) row[j] = act_forward(ep.act, row[j], ep.alpha);
        }
    }
  }
}

// sums[j] += x[r, j] over rows r of x[rows, f].
KN_CLONES inline void add_column_sums(const float* __restrict x, std::size_t rows, int f,
                                      float* __restrict sums) {
  for (std::size_t r = 0; r < rows; ++r)
    for (int j = 0; j < f; ++j) sums[j] += x[r * f + j];
}

}  // namespace kn
