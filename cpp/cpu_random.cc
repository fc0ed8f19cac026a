// Randomness on the CPU, all drawn from Philox4x32-10 streams (philox.h) keyed by (seed, offset):
// inverted dropout (the mask is recomputed in backward, never stored), a shuffle permutation, and uniform
// initialisation. Element i of a stream uses word i % 4 of block i / 4, so results do not depend on
// threading.
#include "cpu_backend.h"
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

void dropout(std::size_t count, const float* src, float* dst, float rate, uint64_t seed, uint64_t offset) {
  const float scale = 1.0f / (1.0f - rate);
  const std::size_t full = count / 4;
  parallel_chunks(full, kGrain / 4, [&](std::size_t b0, std::size_t b1) {
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
                                    uint64_t offset, const int32_t* counter) {
  dropout(count, dy, dx, rate, seed,
          offset + counter_value(counter));  // the same mask and scale, applied to dy
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
