// Softmax and the fused softmax + categorical cross-entropy on the GPU, one warp per row of logits [N, K]:
//   lse = max + log(sum exp(z - max));  loss_row = sum_j y_j (lse - z_j);
//   dz = w_r (softmax(z) - y) / N;  correct += w_r [argmax(z) == argmax(y)] (first maximum, as the CPU), with
// w_r the row's weight (1 without weights). Each block sums its rows' losses, hits and weights and adds them
// to metrics = [loss sum, correct, rows, first non-finite step + 1, weight sum] with one atomic each: the
// metrics stay on the device until the host asks for them.
#include "cuda_backend.cuh"

namespace kn {
namespace cu {
namespace {

constexpr int WARPS = 8;

__device__ void warp_argmax(float& v, int& i) {
  for (int o = 16; o; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, v, o);
    const int oi = __shfl_xor_sync(0xffffffffu, i, o);
    if (ov > v || (ov == v && oi < i)) v = ov, i = oi;
  }
}

__device__ float warp_sum(float v) {
  for (int o = 16; o; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__global__ void softmax_xent_kernel(int n, int k, const float* __restrict__ z, const float* __restrict__ y,
                                    const float* __restrict__ weights, float* __restrict__ dz,
                                    float* __restrict__ metrics, unsigned long long step,
                                    const int32_t* __restrict__ counter) {
  __shared__ float block_loss[WARPS], block_correct[WARPS], block_weight[WARPS];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int r = blockIdx.x * WARPS + warp;
  float loss = 0.0f, correct = 0.0f, weight = 0.0f;
  if (r < n) {
    const float* zr = z + (long long)r * k;
    const float* yr = y + (long long)r * k;
    float zmax = -INFINITY, ymax = -INFINITY;
    int zi = k, yi = k;
    for (int j = lane; j < k; j += 32) {
      if (zr[j] > zmax) zmax = zr[j], zi = j;
      if (yr[j] > ymax) ymax = yr[j], yi = j;
    }
    warp_argmax(zmax, zi);
    warp_argmax(ymax, yi);
    float sum = 0.0f;
    for (int j = lane; j < k; j += 32) sum += expf(zr[j] - zmax);
    const float lse = zmax + logf(warp_sum(sum));
    float l = 0.0f;
    for (int j = lane; j < k; j += 32) l += yr[j] * (lse - zr[j]);
    weight = weights ? weights[r] : 1.0f;
    loss = weights ? weight * warp_sum(l) : warp_sum(l);
    correct = zi == yi ? weight : 0.0f;
    if (dz) {
      const float scale = weights ? weight * (1.0f / n) : 1.0f / n;
      for (int j = lane; j < k; j += 32) dz[(long long)r * k + j] = (expf(zr[j] - lse) - yr[j]) * scale;
    }
  }
  if (lane == 0) block_loss[warp] = loss, block_correct[warp] = correct, block_weight[warp] = weight;
  __syncthreads();
  if (threadIdx.x == 0) {
    float bl = 0.0f, bc = 0.0f, bw = 0.0f;
    for (int w = 0; w < WARPS; ++w) bl += block_loss[w], bc += block_correct[w], bw += block_weight[w];
    atomicAdd(metrics, bl);
    atomicAdd(metrics + 1, bc);
    atomicAdd(metrics + 4, bw);
    if (blockIdx.x == 0) atomicAdd(metrics + 2, (float)n);
    // The first non-finite batch: 0.0f and 0 share their bits, so a compare-and-swap on the bits sets it
    // once.
    if (!isfinite(bl)) {
      const float step1 = (float)(step + device_counter(counter) + 1);  // as the CPU: uint64 rounded to float
      atomicCAS(reinterpret_cast<int*>(metrics + 3), 0, __float_as_int(step1));
    }
  }
}

__global__ void softmax_kernel(int n, int k, const float* __restrict__ z, float* __restrict__ p) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int r = blockIdx.x * WARPS + warp;
  if (r >= n) return;
  const float* zr = z + (long long)r * k;
  float zmax = -INFINITY;
  int unused = 0;
  for (int j = lane; j < k; j += 32) zmax = fmaxf(zmax, zr[j]);
  warp_argmax(zmax, unused);
  float sum = 0.0f;
  for (int j = lane; j < k; j += 32) sum += expf(zr[j] - zmax);
  const float inv = 1.0f / warp_sum(sum);
  for (int j = lane; j < k; j += 32) p[(long long)r * k + j] = expf(zr[j] - zmax) * inv;
}

}  // namespace

Status CudaBackend::softmax_cross_entropy(int n, int k, const float* logits, const float* labels,
                                          const float* weights, float* dlogits, float* metrics, uint64_t step,
                                          const int32_t* counter) {
  std::lock_guard<std::mutex> lock(mutex_);
  KN_EXPECT(n >= 1 && k >= 1 && logits && labels && metrics, "softmax_cross_entropy");
  launch(softmax_xent_kernel, CEIL_DIV(n, WARPS), WARPS * 32, 0, stream(), n, k, logits, labels, weights,
         dlogits, metrics, step, counter);
  KN_LAUNCHED(stream(), "softmax_xent_kernel");
  return Status::Ok();
}

Status CudaBackend::softmax(int n, int k, const float* logits, float* probs) {
  std::lock_guard<std::mutex> lock(mutex_);
  KN_EXPECT(n >= 1 && k >= 1, "softmax");
  launch(softmax_kernel, CEIL_DIV(n, WARPS), WARPS * 32, 0, stream(), n, k, logits, probs);
  KN_LAUNCHED(stream(), "softmax_kernel");
  return Status::Ok();
}

}  // namespace cu
}  // namespace kn
