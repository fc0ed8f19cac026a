// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a counter-based RNG.
// Each (key, counter) pair maps to four independent 32-bit words, so any element's random number can be
// computed directly from (seed, offset, index) on any thread or device, in any order. Header-only and usable
// from CUDA (__host__ __device__) so both backends draw the same numbers.
#pragma once
#include <cmath>
#include <cstdint>

#include "hd.h"

namespace kn {

struct Philox4 {
  uint32_t v[4];
};

KN_HD uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// counter = (c0, c1, c2, c3), key = (k0, k1).
KN_HD Philox4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = mulhilo(0xD2511F53u, c0, &hi0);
    const uint32_t lo1 = mulhilo(0xCD9E8D57u, c2, &hi1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0, c1 = n1, c2 = n2, c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{c0, c1, c2, c3}};
}

// Four uniform floats in [0, 1) for elements 4*block .. 4*block+3 of the stream (seed, offset).
KN_HD void philox_uniform4(uint64_t seed, uint64_t offset, uint64_t block, float out[4]) {
  const Philox4 r = philox4x32_10(static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                                  static_cast<uint32_t>(offset), static_cast<uint32_t>(offset >> 32),
                                  static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  for (int i = 0; i < 4; ++i) out[i] = static_cast<float>(r.v[i] >> 8) * (1.0f / 16777216.0f);
}

// Element i of a normal stream truncated at two standard deviations (Keras's TruncatedNormal, behind its
// glorot_normal, he_normal and lecun_normal): Box-Muller on the uniforms of block i + attempt * count, two
// draws per block, redrawn (a fixed sequence of attempts, the same on every backend) while beyond 2 sigma.
KN_HD float philox_truncated_normal(uint64_t seed, uint64_t offset, uint64_t i, uint64_t count,
                                    float stddev) {
  float z = 0.0f;
  for (uint64_t attempt = 0; attempt < 16; ++attempt) {
    float u[4];
    philox_uniform4(seed, offset, i + attempt * count, u);
    for (int pair = 0; pair < 2; ++pair) {
      const float u1 = 1.0f - u[2 * pair];  // in (0, 1]: the log is finite
      const float r = sqrtf(-2.0f * logf(u1));
      z = r * cosf(6.28318530717958647692f * u[2 * pair + 1]);
      if (fabsf(z) <= 2.0f) return z * stddev;
    }
  }
  return (z > 0.0f ? 2.0f : -2.0f) * stddev;  // 32 draws beyond 2 sigma: probability about 1e-43
}

// Element i of a normal stream (not truncated), mean + stddev * z: Box-Muller on block i / 2's uniforms
// 2 (i % 2) and 2 (i % 2) + 1 (tf.randomNormal).
KN_HD float philox_gauss(uint64_t seed, uint64_t offset, uint64_t i, float mean, float stddev) {
  float u[4];
  philox_uniform4(seed, offset, i / 2, u);
  const int pair = static_cast<int>(i % 2);
  const float r = sqrtf(-2.0f * logf(1.0f - u[2 * pair]));  // 1 - u in (0, 1]: the log is finite
  const float z = r * cosf(6.28318530717958647692f * u[2 * pair + 1]);
#if defined(__CUDA_ARCH__)
  return __fadd_rn(mean, __fmul_rn(stddev, z));  // rounded as the CPU rounds it (no fused multiply-add)
#else
  return mean + stddev * z;
#endif
}

}  // namespace kn
