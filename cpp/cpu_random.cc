// Randomness on the CPU, all drawn from Philox4x32-10 streams (philox.h) keyed by (seed, offset):
// inverted dropout (the mask is recomputed in backward, never stored; eight Philox blocks at once with AVX2),
// a shuffle permutation, and uniform initialisation. Element i of a stream uses word i % 4 of block i / 4, so
// results do not depend on threading.
#include "cpu_backend.h"

#if defined(__x86_64__)
#include <immintrin.h>
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
#include "cpu_simd.h"
#include "permutation.h"
#include "philox.h"

namespace kn {
namespace {

// dst[i] = src[i] * (u_i >= rate ? scale : 0) over the whole Philox blocks [b0, b1) (elements 4*b0 .. 4*b1).
// A multiply by the mask rather than a branch: kept or dropped is a coin flip the branch predictor cannot
// learn.
KN_CLONES void dropout_blocks(const float* __restrict src, float* __restrict dst, std::size_t b0,
                              std::size_t b1, float rate, float scale, uint64_t seed, uint64_t offset) {
  for (std::size_t blk = b0; blk < b1; ++blk) {
    float u[4];
    philox_uniform4(seed, offset, blk, u);
    for (int l = 0; l < 4; ++l) dst[blk * 4 + l] = src[blk * 4 + l] * (u[l] >= rate ? scale : 0.0f);
  }
}

#if defined(__x86_64__)
#define KN_AVX2_INLINE __attribute__((target("avx2"), always_inline)) inline
// The low and high words of a * c in each 32-bit lane.
KN_AVX2_INLINE __m256i mulhilo8(__m256i a, __m256i c, __m256i* hi) {
  const __m256i even = _mm256_mul_epu32(a, c);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(c, 32));
  *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  return _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}
// The dropout factor of each lane's word: scale where its uniform (v >> 8) / 2^24 is >= rate, else 0.
KN_AVX2_INLINE __m256 factor8(__m256i v, __m256 unit, __m256 rate, __m256 scale) {
  const __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(v, 8)), unit);
  return _mm256_and_ps(_mm256_cmp_ps(u, rate, _CMP_GE_OQ), scale);
}

// The same for AVX2: eight Philox blocks at a time, one per 32-bit lane (a 32 x 32 -> 64-bit multiply takes
// the even lanes, a second the odd ones), then the four words of the eight blocks transposed into element
// order. Bit for bit the scalar function's results.
__attribute__((target("avx2"))) void dropout_blocks_avx2(const float* __restrict src, float* __restrict dst,
                                                         std::size_t b0, std::size_t b1, float rate,
                                                         float scale, uint64_t seed, uint64_t offset) {
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256 vrate = _mm256_set1_ps(rate), vscale = _mm256_set1_ps(scale);
  const __m256 unit = _mm256_set1_ps(1.0f / 16777216.0f);
  std::size_t blk = b0;
  // Eight blocks whose counters share their high word (always, short of 2^32 blocks).
  for (; blk + 8 <= b1 && (blk >> 32) == ((blk + 7) >> 32); blk += 8) {
    __m256i c0 = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(blk))), lane);
    __m256i c1 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(blk >> 32)));
    __m256i c2 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(offset)));
    __m256i c3 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(offset >> 32)));
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    for (int r = 0; r < 10; ++r) {
      __m256i hi0, hi1;
      const __m256i lo0 = mulhilo8(m0, c0, &hi0), lo1 = mulhilo8(m1, c2, &hi1);
      c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int>(k0)));
      c1 = lo1;
      c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int>(k1)));
      c3 = lo0;
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    // Word l of block b -> the factor of element 4b + l: scale where u >= rate, else 0.
    const __m256 f0 = factor8(c0, unit, vrate, vscale), f1 = factor8(c1, unit, vrate, vscale);
    const __m256 f2 = factor8(c2, unit, vrate, vscale), f3 = factor8(c3, unit, vrate, vscale);
    const __m256 t0 = _mm256_unpacklo_ps(f0, f1), t1 = _mm256_unpackhi_ps(f0, f1);
    const __m256 t2 = _mm256_unpacklo_ps(f2, f3), t3 = _mm256_unpackhi_ps(f2, f3);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 e[4] = {_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u2, u3, 0x20),
                         _mm256_permute2f128_ps(u0, u1, 0x31), _mm256_permute2f128_ps(u2, u3, 0x31)};
    for (int q = 0; q < 4; ++q) {
      const std::size_t at = blk * 4 + q * 8;
      _mm256_storeu_ps(dst + at, _mm256_mul_ps(_mm256_loadu_ps(src + at), e[q]));
    }
  }
  dropout_blocks(src, dst, blk, b1, rate, scale, seed, offset);
}

bool has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}
const bool kDropoutAvx2 = has_avx2();
#endif

void dropout(std::size_t count, const float* src, float* dst, float rate, uint64_t seed, uint64_t offset) {
  const float scale = 1.0f / (1.0f - rate);
  const std::size_t full = count / 4;
  parallel_chunks(full, kGrain / 4, [&](std::size_t b0, std::size_t b1) {
#if defined(__x86_64__)
    if (kDropoutAvx2) return dropout_blocks_avx2(src, dst, b0, b1, rate, scale, seed, offset);
#endif
    dropout_blocks(src, dst, b0, b1, rate, scale, seed, offset);
  });
  if (count % 4) {
    float u[4];
    philox_uniform4(seed, offset, full, u);
    for (std::size_t i = full * 4; i < count; ++i) dst[i] = src[i] * (u[i - full * 4] >= rate ? scale : 0.0f);
  }
}

// fn(i, u) for every element i in [0, count) with its uniform u in [0, 1).
template <typename F>
void for_each_uniform(std::size_t count, uint64_t seed, uint64_t offset, F&& fn) {
  const std::size_t blocks = (count + 3) / 4;
  parallel_chunks(blocks, kGrain / 4, [&](std::size_t b0, std::size_t b1) {
    float u[4];
    for (std::size_t blk = b0; blk < b1; ++blk) {
      philox_uniform4(seed, offset, blk, u);
      const std::size_t i0 = blk * 4;
      const std::size_t lanes = count - i0 < 4 ? count - i0 : 4;
      for (std::size_t l = 0; l < lanes; ++l) fn(i0 + l, u[l]);
    }
  });
}

}  // namespace

Status CpuBackend::dropout_forward(std::size_t count, const float* x, float* y, float rate, uint64_t seed,
                                   uint64_t offset, const int32_t* counter) {
  dropout(count, x, y, rate, seed, offset + counter_value(counter));
  return Status::Ok();
}

Status CpuBackend::dropout_backward(std::size_t count, const float* dy, float* dx, float rate, uint64_t seed,
                                    uint64_t offset, const int32_t* counter, const BelowAct& below) {
  dropout(count, dy, dx, rate, seed,
          offset + counter_value(counter));  // the same mask and scale, applied to dy
  apply_below(below, dx, count);
  return Status::Ok();
}

Status CpuBackend::random_uniform(float* dst, std::size_t count, float low, float high, uint64_t seed,
                                  uint64_t offset) {
  const float span = high - low;
  for_each_uniform(count, seed, offset, [&](std::size_t i, float u) { dst[i] = low + span * u; });
  return Status::Ok();
}

Status CpuBackend::random_normal(float* dst, std::size_t count, float stddev, uint64_t seed,
                                 uint64_t offset) {
  parallel_chunks(count, kGrain / 4, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) dst[i] = philox_truncated_normal(seed, offset, i, count, stddev);
  });
  return Status::Ok();
}

Status CpuBackend::permutation(int32_t* indices, std::size_t n, uint64_t seed, uint64_t offset) {
  fisher_yates(indices, n, seed, offset);
  return Status::Ok();
}

}  // namespace kn
