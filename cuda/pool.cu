// Pooling on the GPU, the twin of cpp/cpu_pool.cc: x [N, H, W, C] -> y [N, OH, OW, C] over PH x PW windows,
// strides SH, SW, each window clipped to the input (pool_window). Max: argmax[n, oy, ox, c] = flat index
// (iy*W + ix)*C + c (within the image) of the window's first maximum, as the CPU; backward scatters dy to
// argmax with plain stores where windows cannot overlap, else gathers per input element in output order: no
// atomics, deterministic. Average: the mean over the positions inside the input; backward
// gathers, per input element, dy / count of every window covering it, in output order (the CPU's order, so
// the sums agree bit for bit).
#include "cuda_backend.cuh"

namespace kn {
namespace cu {
namespace {

// The index math of each kernel is in I (see with_index_type); positions within one image fit 32 bits (argmax
// is int32).
template <typename I>
__global__ void maxpool_forward_kernel(Pool2dShape s, const float* __restrict__ x, float* __restrict__ y,
                                       int32_t* __restrict__ argmax, I total) {
  const I o = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (o >= total) return;
  const I pix = o / s.c, c = o - pix * s.c, row = pix / s.ow, ox = pix - row * s.ow, n = row / s.oh,
          oy = row - n * s.oh;
  const float* xi = x + n * ((I)s.h * s.w * s.c);
  int y0, y1, x0, x1;
  pool_window(s, (int)oy, (int)ox, &y0, &y1, &x0, &x1);
  int best_i = (y0 * s.w + x0) * s.c + (int)c;
  float best = xi[best_i];
  for (int iy = y0; iy < y1; ++iy)
    for (int ix = x0; ix < x1; ++ix) {
      const int i = (iy * s.w + ix) * s.c + (int)c;
      if (xi[i] > best) best = xi[i], best_i = i;
    }
  y[o] = best;
  argmax[o] = best_i;
}

// Windows that cannot overlap (strides at least the window: every pooling of the seed models): each input
// element is some window's argmax at most once, so the scatter is a plain store, no atomics.
template <typename I>
__global__ void maxpool_backward_kernel(Pool2dShape s, const float* __restrict__ dy,
                                        const int32_t* __restrict__ argmax, float* __restrict__ dx, I total) {
  const I o = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (o >= total) return;
  const I out_size = (I)s.oh * s.ow * s.c, in_size = (I)s.h * s.w * s.c;
  const int32_t i = argmax[o];
  if (i >= 0 && (I)i < in_size) dx[(o / out_size) * in_size + i] = dy[o];
}

// Overlapping windows: a gather. Each input element adds dy of every window covering it whose argmax it is,
// in output order (the CPU's scatter order, so the sums agree bit for bit), with no atomics: deterministic.
template <typename I>
__global__ void maxpool_backward_overlap_kernel(Pool2dShape s, const float* __restrict__ dy,
                                                const int32_t* __restrict__ argmax, float* __restrict__ dx,
                                                I total) {
  const I e = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (e >= total) return;
  const I pix = e / s.c, c = e - pix * s.c, row = pix / s.w, ix = pix - row * s.w, n = row / s.h,
          iy = row - n * s.h;
  const int32_t local = (int32_t)((iy * s.w + ix) * s.c + c);
  // Windows oy with oy * sh - pt <= iy < oy * sh - pt + ph, likewise ox.
  const int ty = (int)iy + s.pt, tx = (int)ix + s.pl;
  const int oy0 = ty - s.ph + 1 > 0 ? (ty - s.ph + 1 + s.sh - 1) / s.sh : 0, oy1 = min(s.oh - 1, ty / s.sh);
  const int ox0 = tx - s.pw + 1 > 0 ? (tx - s.pw + 1 + s.sw - 1) / s.sw : 0, ox1 = min(s.ow - 1, tx / s.sw);
  float sum = 0.0f;
  for (int oy = oy0; oy <= oy1; ++oy)
    for (int ox = ox0; ox <= ox1; ++ox) {
      const I o = ((n * s.oh + (I)oy) * s.ow + (I)ox) * s.c + c;
      if (argmax[o] == local) sum += dy[o];
    }
  dx[e] = sum;
}

template <typename I>
__global__ void avgpool_forward_kernel(Pool2dShape s, const float* __restrict__ x, float* __restrict__ y,
                                       I total) {
  const I o = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (o >= total) return;
  const I pix = o / s.c, c = o - pix * s.c, row = pix / s.ow, ox = pix - row * s.ow, n = row / s.oh,
          oy = row - n * s.oh;
  const float* xi = x + n * ((I)s.h * s.w * s.c);
  int y0, y1, x0, x1;
  pool_window(s, (int)oy, (int)ox, &y0, &y1, &x0, &x1);
  float sum = 0.0f;
  for (int iy = y0; iy < y1; ++iy)
    for (int ix = x0; ix < x1; ++ix) sum += xi[(iy * s.w + ix) * s.c + (int)c];
  y[o] = sum / (float)((y1 - y0) * (x1 - x0));
}

template <typename I>
__global__ void avgpool_backward_kernel(Pool2dShape s, const float* __restrict__ dy, float* __restrict__ dx,
                                        I total) {
  const I i = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (i >= total) return;
  const I pix = i / s.c, cc = i - pix * s.c, row = pix / s.w, ixx = pix - row * s.w, n = row / s.h,
          iyy = row - n * s.h;
  const int c = (int)cc, ix = (int)ixx, iy = (int)iyy;
  // The outputs whose windows cover (iy, ix): oy * sh - pt <= iy < oy * sh - pt + ph, likewise for x.
  const int oy_lo = max(0, (iy + s.pt - s.ph + s.sh) / s.sh), oy_hi = min(s.oh - 1, (iy + s.pt) / s.sh);
  const int ox_lo = max(0, (ix + s.pl - s.pw + s.sw) / s.sw), ox_hi = min(s.ow - 1, (ix + s.pl) / s.sw);
  float sum = 0.0f;
  for (int oy = oy_lo; oy <= oy_hi; ++oy)
    for (int ox = ox_lo; ox <= ox_hi; ++ox) {
      int y0, y1, x0, x1;
      pool_window(s, oy, ox, &y0, &y1, &x0, &x1);
      if (iy < y0 || iy >= y1 || ix < x0 || ix >= x1) continue;
      sum += dy[((n * s.oh + (I)oy) * s.ow + (I)ox) * s.c + (I)c] / (float)((y1 - y0) * (x1 - x0));
    }
  dx[i] = sum;
}

}  // namespace

Status CudaBackend::avgpool2d_forward(const Pool2dShape& s, const float* x, float* y) {
  std::lock_guard<std::mutex> lock(mutex_);
  const long long total = (long long)s.n * s.oh * s.ow * s.c;
  if (!total) return Status::Ok();
  with_index_type(std::max(total, (long long)s.n * s.h * s.w * s.c), [&](auto index) {
    using I = decltype(index);
    launch(avgpool_forward_kernel<I>, CEIL_DIV(total, 256), 256, 0, stream(), s, x, y, (I)total);
  });
  KN_LAUNCHED(stream(), "avgpool_forward_kernel");
  return Status::Ok();
}

Status CudaBackend::avgpool2d_backward(const Pool2dShape& s, const float* dy, float* dx) {
  std::lock_guard<std::mutex> lock(mutex_);
  const long long total = (long long)s.n * s.h * s.w * s.c;
  if (!total) return Status::Ok();
  with_index_type(std::max(total, (long long)s.n * s.oh * s.ow * s.c), [&](auto index) {
    using I = decltype(index);
    launch(avgpool_backward_kernel<I>, CEIL_DIV(total, 256), 256, 0, stream(), s, dy, dx, (I)total);
  });
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
  with_index_type(std::max(total, (long long)s.n * s.h * s.w * s.c), [&](auto index) {
    using I = decltype(index);
    launch(maxpool_forward_kernel<I>, CEIL_DIV(total, 256), 256, 0, stream(), s, x, y, argmax, (I)total);
  });
  KN_LAUNCHED(stream(), "maxpool_forward_kernel");
  return Status::Ok();
}

Status CudaBackend::maxpool2d_backward(const Pool2dShape& s, const float* dy, const int32_t* argmax,
                                       float* dx) {
  std::lock_guard<std::mutex> lock(mutex_);
  const long long in_total = (long long)s.n * s.h * s.w * s.c, total = (long long)s.n * s.oh * s.ow * s.c;
  KN_EXPECT(s.ph >= 1 && s.pw >= 1 && s.sh >= 1 && s.sw >= 1, "maxpool2d_backward");
  if (s.sh < s.ph || s.sw < s.pw) {  // overlapping windows: every dx element gathers (none skipped)
    if (!in_total) return Status::Ok();
    with_index_type(std::max(total, in_total), [&](auto index) {
      using I = decltype(index);
      launch(maxpool_backward_overlap_kernel<I>, CEIL_DIV(in_total, 256), 256, 0, stream(), s, dy, argmax, dx,
             (I)in_total);
    });
    KN_LAUNCHED(stream(), "maxpool_backward_overlap_kernel");
    return Status::Ok();
  }
  KN_CUDA(cudaMemsetAsync(dx, 0, sizeof(float) * in_total, stream()));
  if (!total) return Status::Ok();
  with_index_type(std::max(total, in_total), [&](auto index) {
    using I = decltype(index);
    launch(maxpool_backward_kernel<I>, CEIL_DIV(total, 256), 256, 0, stream(), s, dy, argmax, dx, (I)total);
  });
  KN_LAUNCHED(stream(), "maxpool_backward_kernel");
  return Status::Ok();
}

}  // namespace cu
}  // namespace kn
