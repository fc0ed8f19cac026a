// Losses and metrics on the GPU (loss.h has the definitions; the twin of cpp/cpu_loss.cc), one warp per row
// of predictions [N, K]: the row's maximum and log-sum-exp by warp reductions, each element's loss, gradient
// and output by loss_element, then the row's sums. Each block writes its rows' weighted loss, hits, weights
// and errors to scratch; a one-thread kernel adds them to the metrics tensor (loss.h's MetricSlot) in block
// order: no atomics, the same bits every run. The metrics stay on the device until the host asks for them.
// Softmax for predict, one warp per row too. And the model's head (a Dense layer and the loss) as one kernel.
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

constexpr int kSums = 5;  // per block: loss, hits, weight, squared, absolute

// One row's loss, gradient and metrics by one warp (every lane calls it; zr, yr may be in shared or global
// memory): sums[] gets the row's weighted loss, hits, weight, squared and absolute errors, and dzr (when not
// null) the gradient times weight / n.
__device__ void loss_row(const LossSpec& spec, int n, int k, const float* zr, const float* yr, int cls,
                         const float* weights, int r, float* dzr, float sums[kSums]) {
  const int lane = threadIdx.x % 32;
  float zmax = -INFINITY, ymax = -INFINITY;
  int zi = k, yi = k;
  for (int j = lane; j < k; j += 32) {
    if (zr[j] > zmax) zmax = zr[j], zi = j;
    if (yr && yr[j] > ymax) ymax = yr[j], yi = j;
  }
  warp_argmax(zmax, zi);
  warp_argmax(ymax, yi);
  // The log-sum-exp with the largest logit taken out (as cpu_loss.cc): loss_element sees z - zmax and
  // log(sum).
  float lse = 0.0f, shift = 0.0f;
  if (spec.kind == LossSpec::Kind::kCrossentropy) {
    float sum = 0.0f;
    shift = zmax;
    for (int j = lane; j < k; j += 32) sum += expf(zr[j] - shift);
    lse = logf(warp_sum(sum));
  }
  float kept = 0.0f;  // clipped categorical: the target mass inside the clip (loss_element's `kept`)
  if (spec.kind == LossSpec::Kind::kCrossentropy && spec.clip_probabilities) {
    for (int j = lane; j < k; j += 32)
      kept += kept_mass(zr[j] - shift, yr ? yr[j] : (j == cls ? 1.0f : 0.0f), lse);
    kept = warp_sum(kept);
  }
  const float w = weights ? weights[r] : 1.0f;
  const float scale = weights ? w * (1.0f / n) : 1.0f / n;
  float l = 0.0f, sq = 0.0f, ab = 0.0f, bh = 0.0f;
  for (int j = lane; j < k; j += 32) {
    const float t = yr ? yr[j] : (j == cls ? 1.0f : 0.0f);
    float grad, out;
    l += loss_element(spec, zr[j] - shift, t, lse, kept, k, &grad, &out);
    if (dzr) dzr[j] = grad * scale;
    sq += (out - t) * (out - t);
    ab += fabsf(out - t);
    bh += (out > 0.5f ? 1.0f : 0.0f) == t ? 1.0f : 0.0f;
  }
  const float loss = warp_sum(l);
  sq = warp_sum(sq), ab = warp_sum(ab), bh = warp_sum(bh);
  float hit = 0.0f;
  if (spec.accuracy == LossSpec::Accuracy::kCategorical) hit = zi == yi ? 1.0f : 0.0f;
  if (spec.accuracy == LossSpec::Accuracy::kSparse) hit = zi == cls ? 1.0f : 0.0f;
  if (spec.accuracy == LossSpec::Accuracy::kBinary) hit = bh / k;
  sums[0] = weights ? w * loss : loss;
  sums[1] = weights ? w * hit : hit;
  sums[2] = w;
  sums[3] = w * (sq / k);
  sums[4] = w * (ab / k);
}

// The block's rows' sums (one row per warp, sums[] from loss_row or zeros) into partial[blockIdx.x], warps in
// order. Every thread of the block calls it.
__device__ void block_loss_sums(const float sums[kSums], float* __restrict__ partial) {
  __shared__ float block[kSums][WARPS];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0)
    for (int q = 0; q < kSums; ++q) block[q][warp] = sums[q];
  __syncthreads();
  if (threadIdx.x == 0) {
    float b[kSums] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    for (int w = 0; w < WARPS; ++w)
      for (int q = 0; q < kSums; ++q) b[q] += block[q][w];
    for (int q = 0; q < kSums; ++q) partial[blockIdx.x * kSums + q] = b[q];
  }
}

__global__ void loss_kernel(LossSpec spec, int n, int k, const float* __restrict__ z,
                            const float* __restrict__ y, const int32_t* __restrict__ classes,
                            const float* __restrict__ weights, float* __restrict__ dz,
                            float* __restrict__ partial) {
  const int r = blockIdx.x * WARPS + threadIdx.x / 32;
  float sums[kSums] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  if (r < n)
    loss_row(spec, n, k, z + (long long)r * k, y ? y + (long long)r * k : nullptr, classes ? classes[r] : -1,
             weights, r, dz ? dz + (long long)r * k : nullptr, sums);
  block_loss_sums(sums, partial);
}

// The model's head in one kernel (a Dense layer whose logits go straight into the loss), for a small head: K
// <= 32 classes, I <= 512 inputs, I * K <= 4096 weights. Block b takes rows 8b .. 8b + 7, one per warp, with
// w, b and its rows of x in shared memory: logits (lane j: b_j + sum_i x_i w_ij, summed in i order as the
// SIMT GEMM's epilogue-free product, then the bias, as its epilogue), the loss row (loss_row), dx's row (sum
// over j of dz_j w_ij, in j order), then the block's partial dw (sum over its 8 rows of x_i dz_j, each thread
// owning its entries) and db, and its loss sums. dw, db and the metrics are then summed over blocks in block
// order: no atomics, the same bits every run. Replaces 7-9 small launches (a GEMM, the loss and its metrics,
// column sums, two GEMMs, split-K reductions) with 4.
constexpr int kHeadRows = WARPS, kHeadMaxK = 32, kHeadMaxIn = 512, kHeadMaxW = 4096;

__global__ void dense_loss_kernel(LossSpec spec, int n, int in, int k, const float* __restrict__ x,
                                  const float* __restrict__ w, const float* __restrict__ b,
                                  float* __restrict__ logits, const float* __restrict__ labels,
                                  const int32_t* __restrict__ classes, const float* __restrict__ weights,
                                  float* __restrict__ dlogits, float* __restrict__ dx,
                                  float* __restrict__ grad_partial, float* __restrict__ loss_partial) {
  __shared__ float ws[kHeadMaxW], xs[kHeadRows][kHeadMaxIn], zs[kHeadRows][kHeadMaxK],
      dzs[kHeadRows][kHeadMaxK];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, r0 = blockIdx.x * kHeadRows, r = r0 + warp;
  for (int e = threadIdx.x; e < in * k; e += blockDim.x) ws[e] = w[e];
  for (int e = threadIdx.x; e < kHeadRows * in; e += blockDim.x) {
    const int t = e / in, i = e - t * in;
    xs[t][i] = r0 + t < n ? x[(long long)(r0 + t) * in + i] : 0.0f;
  }
  __syncthreads();
  if (lane < k) {
    float acc = 0.0f;
    for (int i = 0; i < in; ++i) acc = fmaf(xs[warp][i], ws[i * k + lane], acc);
    if (b) acc += b[lane];
    zs[warp][lane] = acc;
    dzs[warp][lane] = 0.0f;
    if (r < n) logits[(long long)r * k + lane] = acc;
  }
  __syncthreads();  // the row's logits are in for every lane
  float sums[kSums] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  if (r < n)
    loss_row(spec, n, k, zs[warp], labels ? labels + (long long)r * k : nullptr, classes ? classes[r] : -1,
             weights, r, dzs[warp], sums);
  __syncthreads();  // dz of every row is in
  if (r < n) {
    if (lane < k) dlogits[(long long)r * k + lane] = dzs[warp][lane];
    if (dx)
      for (int i = lane; i < in; i += 32) {
        float acc = 0.0f;
        for (int j = 0; j < k; ++j) acc = fmaf(dzs[warp][j], ws[i * k + j], acc);
        dx[(long long)r * in + i] = acc;
      }
  }
  if (grad_partial) {
    const int entries = (in + 1) * k;
    float* out = grad_partial + (long long)blockIdx.x * entries;
    for (int e = threadIdx.x; e < entries; e += blockDim.x) {
      const int i = e / k, j = e - i * k;
      float acc = 0.0f;
      for (int t = 0; t < kHeadRows; ++t) acc = fmaf(i < in ? xs[t][i] : 1.0f, dzs[t][j], acc);
      out[e] = acc;
    }
  }
  block_loss_sums(sums, loss_partial);
}

// Adds the blocks' sums to the metrics in block order (one thread: a fixed order, unlike atomics, so the
// metrics are bit-identical from run to run), and notes the first non-finite batch.
__global__ void loss_metrics_kernel(const float* __restrict__ partial, int blocks, int n,
                                    float* __restrict__ metrics, unsigned long long step,
                                    const int32_t* __restrict__ counter) {
  float b[kSums] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  for (int i = 0; i < blocks; ++i)
    for (int q = 0; q < kSums; ++q) b[q] += partial[i * kSums + q];
  metrics[kLossSum] += b[0];
  metrics[kCorrect] += b[1];
  metrics[kWeightSum] += b[2];
  metrics[kSquaredSum] += b[3];
  metrics[kAbsSum] += b[4];
  metrics[kRows] += (float)n;
  if (!isfinite(b[0]) && metrics[kFirstBad] == 0.0f)
    metrics[kFirstBad] = (float)(step + device_counter(counter) + 1);  // as the CPU: uint64 rounded to float
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

Status CudaBackend::loss(const LossSpec& spec, int n, int k, const float* pred, const float* labels,
                         const int32_t* classes, const float* weights, float* dpred, float* metrics,
                         uint64_t step, const int32_t* counter) {
  std::lock_guard<std::mutex> lock(mutex_);
  KN_EXPECT(n >= 1 && k >= 1 && pred && (labels || classes) && metrics, "loss");
  const int blocks = CEIL_DIV(n, WARPS);
  void* partial;
  KN_TRY(scratch(kLossPartial, sizeof(float) * kSums * blocks, &partial));
  launch(loss_kernel, blocks, WARPS * 32, 0, stream(), spec, n, k, pred, labels, classes, weights, dpred,
         static_cast<float*>(partial));
  KN_LAUNCHED(stream(), "loss_kernel");
  launch(loss_metrics_kernel, 1, 1, 0, stream(), static_cast<const float*>(partial), blocks, n, metrics, step,
         counter);
  KN_LAUNCHED(stream(), "loss_metrics_kernel");
  return Status::Ok();
}

Status CudaBackend::dense_loss(const LossSpec& spec, int n, int in, int k, const float* x, const float* w,
                               const float* b, float* logits, const float* labels, const int32_t* classes,
                               const float* weights, float* dlogits, float* dx, float* dw, float* db,
                               float* metrics, uint64_t step, const int32_t* counter) {
  if (k > kHeadMaxK || in > kHeadMaxIn || in * k > kHeadMaxW || in < 1 || n < 1 || !dlogits)
    return Backend::dense_loss(spec, n, in, k, x, w, b, logits, labels, classes, weights, dlogits, dx, dw, db,
                               metrics, step, counter);
  std::lock_guard<std::mutex> lock(mutex_);
  KN_EXPECT(k >= 1 && x && w && logits && (labels || classes) && metrics, "dense_loss");
  const int blocks = CEIL_DIV(n, kHeadRows), entries = (in + 1) * k;
  void *loss_partial, *grad_partial = nullptr;
  KN_TRY(scratch(kLossPartial, sizeof(float) * kSums * blocks, &loss_partial));
  if (dw || db) KN_TRY(scratch(kColSum, sizeof(float) * (std::size_t)blocks * entries, &grad_partial));
  float* gp = static_cast<float*>(grad_partial);
  launch(dense_loss_kernel, blocks, WARPS * 32, 0, stream(), spec, n, in, k, x, w, b, logits, labels, classes,
         weights, dlogits, dx, gp, static_cast<float*>(loss_partial));
  KN_LAUNCHED(stream(), "dense_loss_kernel");
  if (dw)
    KN_TRY(launch_sum_parts(stream(), gp, blocks, entries, in * k, dw, k, db));  // both in one launch
  else if (db)
    KN_TRY(launch_sum_parts(stream(), gp + in * k, blocks, entries, k, db));
  launch(loss_metrics_kernel, 1, 1, 0, stream(), static_cast<const float*>(loss_partial), blocks, n, metrics,
         step, counter);
  KN_LAUNCHED(stream(), "loss_metrics_kernel");
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
