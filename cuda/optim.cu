// Adadelta on the GPU, Keras semantics (see cpp/cpu_optim.cc), over every parameter tensor in ONE launch:
// the tensors' pointers and sizes travel in the kernel's argument block (up to kMaxTensors per launch; longer
// lists take one launch per group). Each thread walks the concatenation of all tensors in a grid-stride loop
// (Adadelta's in runs of 4 elements, float4 where aligned).
#include "cuda_backend.cuh"

namespace kn {
namespace cu {
namespace {

constexpr int kMaxTensors =
    24;  // 24 x (4 pointers, an offset, a size, a flag): about 1.2 KB, well inside the 4 KB argument limit

struct TensorList {
  float* param[kMaxTensors];
  const float* grad[kMaxTensors];
  float* accum[kMaxTensors];
  float* delta[kMaxTensors];
  long long start[kMaxTensors + 1];  // prefix sums of the runs of 4 elements
  long long size[kMaxTensors];
  bool vec[kMaxTensors];  // all four buffers 16-byte aligned
  int count;
};

// Keras's update of one element (cpp/cpu_optim.cc's arithmetic, operation for operation: the same bits).
__device__ __forceinline__ void adadelta_element(float& p, float g, float& a, float& d, float lr, float rho,
                                                 float eps) {
  a = rho * a + (1.0f - rho) * g * g;
  const float delta = g * sqrtf(d + eps) / sqrtf(a + eps);
  p -= lr * delta;
  d = rho * d + (1.0f - rho) * delta * delta;
}

// Each thread updates runs of 4 elements of one tensor (the list counts in runs: start[] in units of 4), as
// float4 loads and stores where all four of the tensor's buffers are 16-byte aligned (every tensor the
// backend allocates), else as 4 scalar ones; a tensor's last run may be shorter. 28 bytes of traffic per
// element either way; the vector form issues a quarter of the memory instructions.
__global__ void adadelta_kernel(TensorList t, const float* __restrict__ lr_ptr, float rho, float eps) {
  const float lr = *lr_ptr;  // the rate in device memory, set by the host or by schedule_kernel
  const long long runs = t.start[t.count];
  int which = 0;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < runs;
       i += (long long)gridDim.x * blockDim.x) {
    while (i >= t.start[which + 1]) ++which;  // i only grows, so the tensor index only moves forward
    const long long e = 4 * (i - t.start[which]);
    float *p = t.param[which] + e, *a = t.accum[which] + e, *d = t.delta[which] + e;
    const float* g = t.grad[which] + e;
    if (t.vec[which] && e + 4 <= t.size[which]) {
      float4 pv = *reinterpret_cast<float4*>(p), av = *reinterpret_cast<float4*>(a),
             dv = *reinterpret_cast<float4*>(d);
      const float4 gv = *reinterpret_cast<const float4*>(g);
      adadelta_element(pv.x, gv.x, av.x, dv.x, lr, rho, eps);
      adadelta_element(pv.y, gv.y, av.y, dv.y, lr, rho, eps);
      adadelta_element(pv.z, gv.z, av.z, dv.z, lr, rho, eps);
      adadelta_element(pv.w, gv.w, av.w, dv.w, lr, rho, eps);
      *reinterpret_cast<float4*>(p) = pv, *reinterpret_cast<float4*>(a) = av,
      *reinterpret_cast<float4*>(d) = dv;
      continue;
    }
    const int n = (int)min(4LL, t.size[which] - e);
    for (int j = 0; j < n; ++j) adadelta_element(p[j], g[j], a[j], d[j], lr, rho, eps);
  }
}

// The other optimizers (optim.h), the same multi-tensor shape: every tensor's pointers in the argument block.
struct OptimizerList {
  float* param[kMaxTensors];
  const float* grad[kMaxTensors];
  float* slot[3][kMaxTensors];
  long long start[kMaxTensors + 1];
  int count;
};

__global__ void optimizer_kernel(OptimizerHyper h, OptimizerList t, const float* __restrict__ lr,
                                 const int32_t* __restrict__ iterations) {
  const OptimizerScalars s = optimizer_scalars(h, *lr, *iterations);  // once per thread, from device memory
  const long long total = t.start[t.count];
  int which = 0;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    while (i >= t.start[which + 1]) ++which;
    const long long e = i - t.start[which];
    float* s0 = t.slot[0][which] ? t.slot[0][which] + e : nullptr;
    float* s1 = t.slot[1][which] ? t.slot[1][which] + e : nullptr;
    float* s2 = t.slot[2][which] ? t.slot[2][which] + e : nullptr;
    optimizer_update(h, s, t.param[which] + e, t.grad[which][e], s0, s1, s2);
  }
}

__global__ void schedule_kernel(Schedule s, const int32_t* __restrict__ iterations, float* __restrict__ lr) {
  *lr = schedule_value(s, *iterations);
}

}  // namespace

Status CudaBackend::optimizer_step(const OptimizerHyper& h, const OptimizerTensor* tensors, int count,
                                   const float* lr, const int32_t* iterations) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (int g0 = 0; g0 < count; g0 += kMaxTensors) {
    OptimizerList list{};
    list.count = std::min(kMaxTensors, count - g0);
    for (int j = 0; j < list.count; ++j) {
      const OptimizerTensor& t = tensors[g0 + j];
      list.param[j] = t.param, list.grad[j] = t.grad;
      for (int k = 0; k < 3; ++k) list.slot[k][j] = t.slot[k];
      list.start[j + 1] = list.start[j] + (long long)t.size;
    }
    const long long total = list.start[list.count];
    if (!total) continue;
    const int blocks = (int)std::min<long long>(CEIL_DIV(total, 256), 8LL * sm_count_);
    launch(optimizer_kernel, blocks, 256, 0, stream(), h, list, lr, iterations);
    KN_LAUNCHED(stream(), "optimizer_kernel");
  }
  return Status::Ok();
}

Status CudaBackend::learning_rate(const Schedule& s, const int32_t* iterations, float* lr) {
  std::lock_guard<std::mutex> lock(mutex_);
  launch(schedule_kernel, 1, 1, 0, stream(), s, iterations, lr);
  KN_LAUNCHED(stream(), "schedule_kernel");
  return Status::Ok();
}

Status CudaBackend::adadelta(const AdadeltaTensor* tensors, int count, const float* lr, float rho,
                             float eps) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (int g0 = 0; g0 < count; g0 += kMaxTensors) {
    TensorList list{};
    list.count = std::min(kMaxTensors, count - g0);
    for (int j = 0; j < list.count; ++j) {
      const AdadeltaTensor& t = tensors[g0 + j];
      list.param[j] = t.param, list.grad[j] = t.grad, list.accum[j] = t.accum, list.delta[j] = t.delta_accum;
      list.start[j + 1] = list.start[j] + CEIL_DIV((long long)t.size, 4);
      list.size[j] = (long long)t.size;
      const auto aligned = [](const void* q) { return reinterpret_cast<uintptr_t>(q) % 16 == 0; };
      list.vec[j] = aligned(t.param) && aligned(t.grad) && aligned(t.accum) && aligned(t.delta_accum);
    }
    const long long runs = list.start[list.count];
    if (!runs) continue;
    const int blocks = (int)std::min<long long>(CEIL_DIV(runs, 256), 8LL * sm_count_);
    launch(adadelta_kernel, blocks, 256, 0, stream(), list, lr, rho, eps);
    KN_LAUNCHED(stream(), "adadelta_kernel");
  }
  return Status::Ok();
}

}  // namespace cu
}  // namespace kn
