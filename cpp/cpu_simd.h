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
#include <cstdint>
#include <type_traits>

#include "epilogue.h"

namespace kn {

#if defined(__GNUC__)
#define KN_ALWAYS_INLINE __attribute__((always_inline)) inline
#define KN_ALWAYS_INLINE_LAMBDA __attribute__((always_inline))
#else
#define KN_ALWAYS_INLINE inline
#define KN_ALWAYS_INLINE_LAMBDA
#endif

// Calls body(std::integral_constant<Act, A>{}) for the run-time activation, so that every loop below is
// compiled once per activation with its arithmetic inlined and vectorised (a loop with the switch inside
// would run one element at a time). Called from the KN_CLONES functions, whose clones inline it with their
// own ISA.
template <class Body>
KN_ALWAYS_INLINE void with_act(Act act, Body&& body) {
  using std::integral_constant;
  switch (act) {
    case Act::kLinear:
      return body(integral_constant<Act, Act::kLinear>{});
    case Act::kRelu:
      return body(integral_constant<Act, Act::kRelu>{});
    case Act::kRelu6:
      return body(integral_constant<Act, Act::kRelu6>{});
    case Act::kElu:
      return body(integral_constant<Act, Act::kElu>{});
    case Act::kSelu:
      return body(integral_constant<Act, Act::kSelu>{});
    case Act::kSigmoid:
      return body(integral_constant<Act, Act::kSigmoid>{});
    case Act::kTanh:
      return body(integral_constant<Act, Act::kTanh>{});
    case Act::kSoftplus:
      return body(integral_constant<Act, Act::kSoftplus>{});
    case Act::kSwish:
      return body(integral_constant<Act, Act::kSwish>{});
    case Act::kGelu:
      return body(integral_constant<Act, Act::kGelu>{});
    case Act::kLeakyRelu:
      return body(integral_constant<Act, Act::kLeakyRelu>{});
  }
}

// y[i] = act(x[i]).
KN_CLONES inline void act_apply(Act act, float alpha, const float* __restrict x, float* __restrict y,
                                std::size_t n) {
  with_act(act, [&](auto a) KN_ALWAYS_INLINE_LAMBDA {
    for (std::size_t i = 0; i < n; ++i) y[i] = act_forward(a.value, x[i], alpha);
  });
}

// dz = dy * act'(x) from y = act(x) (epilogue.h), x being read from `pre` only by the activations that need
// it.
KN_CLONES inline void act_mask(Act act, float alpha, const float* __restrict y, const float* __restrict pre,
                               const float* __restrict dy, float* __restrict dz, std::size_t n) {
  with_act(act, [&](auto a) KN_ALWAYS_INLINE_LAMBDA {
    if (act_needs_input(a.value))
      for (std::size_t i = 0; i < n; ++i) dz[i] = act_backward(a.value, y[i], pre[i], dy[i], alpha);
    else
      for (std::size_t i = 0; i < n; ++i) dz[i] = act_backward(a.value, y[i], 0.0f, dy[i], alpha);
  });
}

// d = d * act'(x) from y = act(x), in place: act_mask for an input gradient that takes the layer below's
// activation (epilogue.h's BelowAct), the same arithmetic.
KN_CLONES inline void act_mask_in_place(Act act, float alpha, const float* __restrict y, float* __restrict d,
                                        std::size_t n) {
  with_act(act, [&](auto a) KN_ALWAYS_INLINE_LAMBDA {
    for (std::size_t i = 0; i < n; ++i) d[i] = act_backward(a.value, y[i], 0.0f, d[i], alpha);
  });
}

// dz [size] = 0 except at each argmax[o] (o < count; inside [0, size)), where dz = act'(0 + y[o]) * (0 +
// dy[o]): the conv + max-pool op's dz from the pooled side, compiled as act_mask is (the same contractions),
// so that it equals act_mask over the values the two ops apart would scatter.
KN_CLONES inline void act_mask_scatter(Act act, float alpha, const float* __restrict y,
                                       const float* __restrict dy, const int32_t* __restrict argmax,
                                       std::size_t count, float* __restrict dz, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) dz[i] = 0.0f;
  with_act(act, [&](auto a) KN_ALWAYS_INLINE_LAMBDA {
    for (std::size_t o = 0; o < count; ++o) {
      const int32_t q = argmax[o];
      if (q >= 0 && static_cast<std::size_t>(q) < size)
        dz[q] = act_backward(a.value, 0.0f + y[o], 0.0f, 0.0f + dy[o], alpha);
    }
  });
}

// The epilogue of y[rows, f]: += bias[j] when there is a bias, then the activation, storing the
// pre-activation at ep.pre (offset by `at` floats) when asked. Rows are taken as flat runs: all of y at once
// without a bias, else 8 rows at a time against the bias repeated 8 times when f is not a multiple of 8 (a
// layer of 6 filters would otherwise run one element at a time), else row by row.
KN_CLONES inline void apply_epilogue(float* __restrict y, std::size_t rows, int f, const Epilogue& ep,
                                     std::size_t at = 0) {
  const float* __restrict b = ep.bias;
  float* __restrict pre = ep.pre ? ep.pre + at : nullptr;
  const float alpha = ep.alpha;
  if (!b && !pre && ep.act == Act::kLinear) return;
  with_act(ep.act, [&](auto a) KN_ALWAYS_INLINE_LAMBDA {
    // y[0 .. n) and pre alike, bias[k] (or none) added first.
    const auto run = [&](float* __restrict row, float* __restrict p, const float* __restrict bias,
                         std::size_t n) KN_ALWAYS_INLINE_LAMBDA {
      if (p) {
        for (std::size_t j = 0; j < n; ++j) {
          const float v = bias ? row[j] + bias[j] : row[j];
          p[j] = v;
          row[j] = act_forward(a.value, v, alpha);
        }
      } else if (bias) {
        for (std::size_t j = 0; j < n; ++j) row[j] = act_forward(a.value, row[j] + bias[j], alpha);
      } else {
        for (std::size_t j = 0; j < n; ++j) row[j] = act_forward(a.value, row[j], alpha);
      }
    };
    std::size_t r = 0;
    if (!b) {
      run(y, pre, nullptr, rows * f);
      return;
    }
    constexpr int kRows = 8, kMaxF = 64;
    if (f % 8 != 0 && f < kMaxF) {
      float bias8[kRows * kMaxF];
      for (int k = 0; k < kRows * f; ++k) bias8[k] = b[k % f];
      for (; r + kRows <= rows; r += kRows) run(y + r * f, pre ? pre + r * f : nullptr, bias8, kRows * f);
    }
    for (; r < rows; ++r) run(y + r * f, pre ? pre + r * f : nullptr, b, f);
  });
}

// sums[j] += x[r, j] over rows r of x[rows, f].
KN_CLONES inline void add_column_sums(const float* __restrict x, std::size_t rows, int f,
                                      float* __restrict sums) {
  for (std::size_t r = 0; r < rows; ++r)
    for (int j = 0; j < f; ++j) sums[j] += x[r * f + j];
}

}  // namespace kn
