// Max-pooling on the GPU: x [N, H, W, C] -> y [N, OH, OW, C] over PH x PW windows, strides SH, SW, valid
// padding; argmax[n, oy, ox, c] = flat index (iy*W + ix)*C + c (within the image) of the window's first
// maximum, the same convention as the CPU backend. Backward scatters dy to argmax (atomicAdd, as windows may
// overlap).
#include "cuda_backend.cuh"

namespace kn {
namespace cu {
namespace {

__global__ void maxpool_forward_kernel(Pool2dShape s, const float* __restrict__ x, float* __restrict__ y,
                                       int32_t* __restrict__ argmax, long long total) {
  const long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (o >= total) return;
  const int c = o % s.c, ox = (o / s.c) % s.ow, oy = (o / ((long long)s.c * s.ow)) % s.oh;
  const long long n = o / ((long long)s.c * s.ow * s.oh);
  const float* xi = x + n * s.h * s.w * (long long)s.c;
  long long best_i = ((long long)(oy * s.sh) * s.w + ox * s.sw) * s.c + c;
  float best = xi[best_i];
  for (int ky = 0; ky < s.ph; ++ky)
    for (int kx = 0; kx < s.pw; ++kx) {
      const long long i = ((long long)(oy * s.sh + ky) * s.w + ox * s.sw + kx) * s.c + c;
      if (xi[i] > best) best = xi[i], best_i = i;
    }
  y[o] = best;
  argmax[o] = static_cast<int32_t>(best_i);
}

__global__ void maxpool_backward_kernel(Pool2dShape s, const float* __restrict__ dy,
                                        const int32_t* __restrict__ argmax, float* __restrict__ dx,
                                        long long total) {
  const long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (o >= total) return;
  const long long out_size = (long long)s.oh * s.ow * s.c, in_size = (long long)s.h * s.w * s.c;
  const int32_t i = argmax[o];
  if (i >= 0 && i < in_size) atomicAdd(dx + (o / out_size) * in_size + i, dy[o]);
}

}  // namespace

Status CudaBackend::maxpool2d_forward(const Pool2dShape& s, const float* x, float* y, int32_t* argmax) {
  std::lock_guard<std::mutex> lock(mutex_);
  const long long total = (long long)s.n * s.oh * s.ow * s.c;
  if (!total) return Status::Ok();
  KN_EXPECT(s.ph >= 1 && s.pw >= 1 && s.sh >= 1 && s.sw >= 1 && (s.oh - 1) * s.sh + s.ph <= s.h &&
                (s.ow - 1) * s.sw + s.pw <= s.w,
            "maxpool2d_forward");
  launch(maxpool_forward_kernel, CEIL_DIV(total, 256), 256, 0, stream(), s, x, y, argmax, total);
  KN_LAUNCHED(stream(), "maxpool_forward_kernel");
  return Status::Ok();
}

Status CudaBackend::maxpool2d_backward(const Pool2dShape& s, const float* dy, const int32_t* argmax,
                                       float* dx) {
  std::lock_guard<std::mutex> lock(mutex_);
  const long long in_total = (long long)s.n * s.h * s.w * s.c, total = (long long)s.n * s.oh * s.ow * s.c;
  KN_EXPECT(s.ph >= 1 && s.pw >= 1 && s.sh >= 1 && s.sw >= 1 && (s.oh - 1) * s.sh + s.ph <= s.h &&
                (s.ow - 1) * s.sw + s.pw <= s.w,
            "maxpool2d_backward");
  KN_CUDA(cudaMemsetAsync(dx, 0, sizeof(float) * in_total, stream()));
  if (!total) return Status::Ok();
  launch(maxpool_backward_kernel, CEIL_DIV(total, 256), 256, 0, stream(), s, dy, argmax, dx, total);
  KN_LAUNCHED(stream(), "maxpool_backward_kernel");
  return Status::Ok();
}

}  // namespace cu
}  // namespace kn
