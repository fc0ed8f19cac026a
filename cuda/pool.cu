// Pooling on the GPU, the twin of cpp/cpu_pool.cc: x [N, H, W, C] -> y [N, OH, OW, C] over PH x PW windows,
// strides SH, SW, each window clipped to the input (pool_window). Max: argmax[n, oy, ox, c] = flat index
// (iy*W + ix)*C + c (within the image) of the window's first maximum, as the CPU; backward scatters dy to
// argmax (atomicAdd, as windows may overlap). Average: the mean over the positions inside the input; backward
// gathers, per input element, dy / count of every window covering it, in output order (the CPU's order, so
// the sums agree bit for bit).
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
  int y0, y1, x0, x1;
  pool_window(s, oy, ox, &y0, &y1, &x0, &x1);
  long long best_i = ((long long)y0 * s.w + x0) * s.c + c;
  float best = xi[best_i];
  for (int iy = y0; iy < y1; ++iy)
    for (int ix = x0; ix < x1; ++ix) {
      const long long i = ((long long)iy * s.w + ix) * s.c + c;
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

__global__ void avgpool_forward_kernel(Pool2dShape s, const float* __restrict__ x, float* __restrict__ y,
                                       long long total) {
  const long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (o >= total) return;
  const int c = o % s.c, ox = (o / s.c) % s.ow, oy = (o / ((long long)s.c * s.ow)) % s.oh;
  const long long n = o / ((long long)s.c * s.ow * s.oh);
  const float* xi = x + n * s.h * s.w * (long long)s.c;
  int y0, y1, x0, x1;
  pool_window(s, oy, ox, &y0, &y1, &x0, &x1);
  float sum = 0.0f;
  for (int iy = y0; iy < y1; ++iy)
    for (int ix = x0; ix < x1; ++ix) sum += xi[((long long)iy * s.w + ix) * s.c + c];
  y[o] = sum / (float)((y1 - y0) * (x1 - x0));
}

__global__ void avgpool_backward_kernel(Pool2dShape s, const float* __restrict__ dy, float* __restrict__ dx,
                                        long long total) {
  const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (i >= total) return;
  const int c = i % s.c, ix = (i / s.c) % s.w, iy = (i / ((long long)s.c * s.w)) % s.h;
  const long long n = i / ((long long)s.c * s.w * s.h);
  // The outputs whose windows cover (iy, ix): oy * sh - pt <= iy < oy * sh - pt + ph, likewise for x.
  const int oy_lo = max(0, (iy + s.pt - s.ph + s.sh) / s.sh), oy_hi = min(s.oh - 1, (iy + s.pt) / s.sh);
  const int ox_lo = max(0, (ix + s.pl - s.pw + s.sw) / s.sw), ox_hi = min(s.ow - 1, (ix + s.pl) / s.sw);
  float sum = 0.0f;
  for (int oy = oy_lo; oy <= oy_hi; ++oy)
    for (int ox = ox_lo; ox <= ox_hi; ++ox) {
      int y0, y1, x0, x1;
      pool_window(s, oy, ox, &y0, &y1, &x0, &x1);
      if (iy < y0 || iy >= y1 || ix < x0 || ix >= x1) continue;
      sum += dy[((n * s.oh + oy) * s.ow + ox) * s.c + c] / (float)((y1 - y0) * (x1 - x0));
    }
  dx[i] = sum;
}

}  // namespace

Status CudaBackend::avgpool2d_forward(const Pool2dShape& s, const float* x, float* y) {
  std::lock_guard<std::mutex> lock(mutex_);
  const long long total = (long long)s.n * s.oh * s.ow * s.c;
  if (!total) return Status::Ok();
  launch(avgpool_forward_kernel, CEIL_DIV(total, 256), 256, 0, stream(), s, x, y, total);
  KN_LAUNCHED(stream(), "avgpool_forward_kernel");
  return Status::Ok();
}

Status CudaBackend::avgpool2d_backward(const Pool2dShape& s, const float* dy, float* dx) {
  std::lock_guard<std::mutex> lock(mutex_);
  const long long total = (long long)s.n * s.h * s.w * s.c;
  if (!total) return Status::Ok();
  launch(avgpool_backward_kernel, CEIL_DIV(total, 256), 256, 0, stream(), s, dy, dx, total);
  KN_LAUNCHED(stream(), "avgpool_backward_kernel");
  return Status::Ok();
}

Status CudaBackend::maxpool2d_forward(const Pool2dShape& s, const float* x, float* y, int32_t* argmax) {
  std::lock_guard<std::mutex> lock(mutex_);
  const long long total = (long long)s.n * s.oh * s.ow * s.c;
  if (!total) return Status::Ok();
  KN_EXPECT(s.ph >= 1 && s.pw >= 1 && s.sh >= 1 && s.sw >= 1 && (s.oh - 1) * s.sh - s.pt < s.h &&
                (s.ow - 1) * s.sw - s.pl < s.w,
            "maxpool2d_forward");
  launch(maxpool_forward_kernel, CEIL_DIV(total, 256), 256, 0, stream(), s, x, y, argmax, total);
  KN_LAUNCHED(stream(), "maxpool_forward_kernel");
  return Status::Ok();
}

Status CudaBackend::maxpool2d_backward(const Pool2dShape& s, const float* dy, const int32_t* argmax,
                                       float* dx) {
  std::lock_guard<std::mutex> lock(mutex_);
  const long long in_total = (long long)s.n * s.h * s.w * s.c, total = (long long)s.n * s.oh * s.ow * s.c;
  KN_EXPECT(s.ph >= 1 && s.pw >= 1 && s.sh >= 1 && s.sw >= 1, "maxpool2d_backward");
  KN_CUDA(cudaMemsetAsync(dx, 0, sizeof(float) * in_total, stream()));
  if (!total) return Status::Ok();
  launch(maxpool_backward_kernel, CEIL_DIV(total, 256), 256, 0, stream(), s, dy, argmax, dx, total);
  KN_LAUNCHED(stream(), "maxpool_backward_kernel");
  return Status::Ok();
}

}  // namespace cu
}  // namespace kn
