// Randomness on the GPU from the same Philox4x32-10 streams as the CPU backend (philox.h): element i of a
// stream (seed, offset) uses word i % 4 of block i / 4, so masks and initial weights match the CPU bit for
// bit.
//   dropout: y = x * (u >= rate ? 1 / (1 - rate) : 0) (inverted), u from (seed, offset + *counter): the step
//            counter lives on the device, so a replayed step draws new numbers; backward regenerates the
//            mask.
//   uniform: low + (high - low) * u.
#include "cuda_backend.cuh"
#include "philox.h"

namespace kn {
namespace cu {
namespace {

// Backward may apply the layer below's activation after the mask (below.y set: dropout_backward's fold).
__global__ void dropout_kernel(const float* __restrict__ src, float* __restrict__ dst, long long count,
                               float rate, float scale, uint64_t seed, uint64_t offset,
                               const int32_t* __restrict__ counter, BelowAct below) {
  const long long blk = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (blk * 4 >= count) return;
  float u[4];
  philox_uniform4(seed, offset + device_counter(counter), blk, u);
#pragma unroll
  for (int l = 0; l < 4; ++l) {
    const long long i = blk * 4 + l;
    if (i >= count) continue;
    const float d = __fmul_rn(src[i], u[l] >= rate ? scale : 0.0f);  // as the CPU: NaN stays NaN
    dst[i] = below.y ? act_backward(below.act, below.y[i], 0.0f, d, below.alpha) : d;
  }
}

__global__ void uniform_kernel(float* __restrict__ dst, long long count, float low, float span, uint64_t seed,
                               uint64_t offset) {
  const long long blk = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (blk * 4 >= count) return;
  float u[4];
  philox_uniform4(seed, offset, blk, u);
#pragma unroll
  for (int l = 0; l < 4; ++l)
    if (blk * 4 + l < count) dst[blk * 4 + l] = __fadd_rn(low, __fmul_rn(span, u[l]));  // unfused, as the CPU
}

__global__ void normal_kernel(float* __restrict__ dst, long long count, float stddev, uint64_t seed,
                              uint64_t offset) {
  const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (i < count) dst[i] = philox_truncated_normal(seed, offset, i, count, stddev);
}

}  // namespace

Status CudaBackend::random_normal(float* dst, std::size_t count, float stddev, uint64_t seed,
                                  uint64_t offset) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!count) return Status::Ok();
  launch(normal_kernel, CEIL_DIV((long long)count, 256), 256, 0, stream(), dst, (long long)count, stddev,
         seed, offset);
  KN_LAUNCHED(stream(), "normal_kernel");
  return Status::Ok();
}

Status CudaBackend::dropout_forward(std::size_t count, const float* x, float* y, float rate, uint64_t seed,
                                    uint64_t offset, const int32_t* counter) {
  return dropout_backward(count, x, y, rate, seed, offset, counter, BelowAct{});
}

Status CudaBackend::dropout_backward(std::size_t count, const float* dy, float* dx, float rate, uint64_t seed,
                                     uint64_t offset, const int32_t* counter, const BelowAct& below) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!count) return Status::Ok();
  KN_EXPECT(rate >= 0.0f && rate < 1.0f, "dropout");
  // Backward: the same mask and scale, applied to dy.
  launch(dropout_kernel, CEIL_DIV((long long)CEIL_DIV(count, 4), 256), 256, 0, stream(), dy, dx, count, rate,
         1.0f / (1.0f - rate), seed, offset, counter, below);
  KN_LAUNCHED(stream(), "dropout_kernel");
  return Status::Ok();
}

Status CudaBackend::random_uniform(float* dst, std::size_t count, float low, float high, uint64_t seed,
                                   uint64_t offset) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!count) return Status::Ok();
  launch(uniform_kernel, CEIL_DIV((long long)CEIL_DIV(count, 4), 256), 256, 0, stream(), dst, count, low,
         high - low, seed, offset);
  KN_LAUNCHED(stream(), "uniform_kernel");
  return Status::Ok();
}

}  // namespace cu
}  // namespace kn
