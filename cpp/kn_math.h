// The float32 elementary functions of the activations (epilogue.h), written as straight-line arithmetic so
// that one definition serves both backends and the CPU loops vectorise: a libm call (expf, tanhf, erff) is
// opaque to the compiler's vectoriser, and a loop that makes one runs one element at a time. Every branch is
// a select of two computed values (-fno-trapping-math lets the compiler evaluate both), there are no table
// lookups, and NaN propagates. Accuracy against float64 over dense sweeps (the activations test checks the
// same): exp 1 ulp, expm1 1.5, log1p 1.4, tanh and sigmoid 2.5, 1 + erf 7 ulp (erfc's fit is good to 1.2e-7);
// results below 2^-126 flush to 0.
//
// exp: Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, and Cephes's degree-6 polynomial for e^r - 1; 2^n is
// built from its exponent bits in two halves so that n = 128 (x near log(FLT_MAX)) does not overflow early.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "hd.h"

namespace kn {

KN_HD float bits_to_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

KN_HD uint32_t float_to_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

constexpr float kExpMin = -87.33654f;  // e^x < 2^-126 below: flushed to 0
constexpr float kExpMax = 88.72284f;   // e^x > FLT_MAX above

// e^x = s1 * s2 * (1 + em1), with |em1| < 0.42 computed without cancellation (so expm1 keeps small x exact).
struct ExpParts {
  float s1, s2, em1;
};

KN_HD ExpParts exp_parts(float x) {
  x = x < kExpMin ? kExpMin : x;  // selects, not fminf/fmaxf: NaN passes through
  x = x > kExpMax ? kExpMax : x;
  const float magic = 12582912.0f;  // 1.5 * 2^23: the sum's low mantissa bits hold round(x / ln2)
  const float t = x * 1.44269504088896341f + magic;
  const float n = t - magic;
  const int32_t k = static_cast<int32_t>(float_to_bits(t) - float_to_bits(magic));
  float r = x - n * 0.693359375f;  // ln2 in two parts: n * 0.693359375 is exact
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const int32_t k1 = k >> 1, k2 = k - k1;  // each in [-63, 64] for x in range
  return {bits_to_float(static_cast<uint32_t>(k1 + 127) << 23),
          bits_to_float(static_cast<uint32_t>(k2 + 127) << 23), p * (r * r) + r};
}

KN_HD float exp_(float x) {
  const ExpParts e = exp_parts(x);
  const float v = (e.s1 * (1.0f + e.em1)) * e.s2;
  return x < kExpMin ? 0.0f : v;
}

KN_HD float expm1_(float x) {
  const ExpParts e = exp_parts(x);
  const float s = e.s1 * e.s2;  // 2^n, infinite only for n = 128, where the exp form is taken
  const float v = s * e.em1 + (s - 1.0f);
  return x > 80.0f ? (e.s1 * (1.0f + e.em1)) * e.s2 : v;
}

// log(1 + t) for t in [0, 1] (what softplus needs): 1 + t = 2^e (1 + f) with f in [sqrt(1/2) - 1, sqrt(2) -
// 1] taken without rounding 1 + t, and Cephes's logf polynomial for log(1 + f).
KN_HD float log1p_unit(float t) {
  const bool halve = t > 0.41421356f;
  const float f = halve ? (t - 1.0f) * 0.5f : t, e = halve ? 1.0f : 0.0f;
  const float z = f * f;
  float p = 7.0376836292e-2f;
  p = p * f - 1.1514610310e-1f;
  p = p * f + 1.1676998740e-1f;
  p = p * f - 1.2420140846e-1f;
  p = p * f + 1.4249322787e-1f;
  p = p * f - 1.6668057665e-1f;
  p = p * f + 2.0000714765e-1f;
  p = p * f - 2.4999993993e-1f;
  p = p * f + 3.3333331174e-1f;
  const float y = (p * f * z - 0.5f * z) + e * -2.12194440e-4f;
  return (f + y) + e * 0.693359375f;
}

// 1 / (1 + e^-v), never e^ of a large positive number.
KN_HD float sigmoid_(float v) {
  const float e = exp_(-fabsf(v));
  const float s = 1.0f / (1.0f + e);
  return v >= 0.0f ? s : e * s;
}

// tanh |v| = -m / (m + 2) with m = expm1(-2|v|), exact for small v; the sign copied back.
KN_HD float tanh_(float v) {
  const float m = expm1_(-2.0f * fabsf(v));
  return copysignf(-m / (m + 2.0f), v);
}

// log(1 + e^v) = max(v, 0) + log1p(e^-|v|).
KN_HD float softplus_(float v) {
  return (v > 0.0f ? v : 0.0f) + log1p_unit(exp_(-fabsf(v)));
}

// 1 + erf(z) (gelu's factor), without cancellation for negative z: below |z| = 0.5 the Maclaurin series
// 2/sqrt(pi) sum (-1)^k z^(2k+1) / (k! (2k+1)) to k = 7; above, erfc(|z|) by Numerical Recipes' Chebyshev fit
// (erfcc: fractional error < 1.2e-7 for every z >= 0), giving 2 - erfc(z) or erfc(-z).
KN_HD float one_plus_erf(float z) {
  const float s = z * z, a = fabsf(z);
  float p = -1.49256504e-5f;
  p = p * s + 1.20553330e-4f;
  p = p * s - 8.54832702e-4f;
  p = p * s + 5.22397763e-3f;
  p = p * s - 2.68661706e-2f;
  p = p * s + 1.12837917e-1f;
  p = p * s - 3.76126389e-1f;
  p = p * s + 1.12837917f;
  const float series = 1.0f + z * p;
  const float t = 1.0f / (1.0f + 0.5f * a);
  float q = 0.17087277f;
  q = q * t - 0.82215223f;
  q = q * t + 1.48851587f;
  q = q * t - 1.13520398f;
  q = q * t + 0.27886807f;
  q = q * t - 0.18628806f;
  q = q * t + 0.09678418f;
  q = q * t + 0.37409196f;
  q = q * t + 1.00002368f;
  q = q * t - 1.26551223f;
  const float erfc = t * exp_(q - s);
  return a < 0.5f ? series : (z > 0.0f ? 2.0f - erfc : erfc);
}

}  // namespace kn
