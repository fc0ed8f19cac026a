// Tensor utilities on the GPU, the twin of cpp/cpu_tensor.cc: elementwise activations (epilogue.h's), region
// copies (slice, concat) one thread per element, argmax one thread per output, and the asynchronous
// device-to-host copy behind tensor.data().
#include <algorithm>
#include <cstring>

#include "cuda_backend.cuh"

namespace kn {
namespace cu {
namespace {

// Index math in I (with_index_type: the region and both tensors' element counts).
template <typename I>
__global__ void copy_region_kernel(Region r, const uint32_t* __restrict__ src, uint32_t* __restrict__ dst,
                                   I count) {
  const I e = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (e >= count) return;
  I rest = e, so = 0, to = 0, ss = 1, ts = 1;
  for (int d = r.rank - 1; d >= 0; --d) {
    const I size = (I)r.size[d], i = rest % size;
    rest /= size;
    so += ((I)r.src_begin[d] + i) * ss;
    to += ((I)r.dst_begin[d] + i) * ts;
    ss *= (I)r.src_shape[d];
    ts *= (I)r.dst_shape[d];
  }
  dst[to] = src[so];
}

// One thread per output element: x's element, or zero in the padding. Index math in I (y's element count).
template <typename I>
__global__ void pad2d_forward_kernel(Pad2dShape s, const float* __restrict__ x, float* __restrict__ y,
                                     I total) {
  const I o = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (o >= total) return;
  const I pix = o / s.c, c = o - pix * s.c, row = pix / s.ow(), ox = pix - row * s.ow(), n = row / s.oh(),
          oy = row - n * s.oh();
  const I iy = oy - s.top, ix = ox - s.left;
  y[o] = iy >= 0 && iy < s.h && ix >= 0 && ix < s.w ? x[((n * s.h + iy) * s.w + ix) * s.c + c] : 0.0f;
}

// One thread per input element: dy's element at the same position inside the padding.
template <typename I>
__global__ void pad2d_backward_kernel(Pad2dShape s, const float* __restrict__ dy, float* __restrict__ dx,
                                      I total) {
  const I i = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (i >= total) return;
  const I pix = i / s.c, c = i - pix * s.c, row = pix / s.w, ix = pix - row * s.w, n = row / s.h,
          iy = row - n * s.h;
  dx[i] = dy[((n * s.oh() + iy + s.top) * s.ow() + ix + s.left) * s.c + c];
}

// Index math in I (with_index_type: every element of x).
template <typename I>
__global__ void argmax_kernel(const float* __restrict__ x, I outer, I n, I inner, int32_t* __restrict__ out) {
  const I e = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (e >= outer * inner) return;
  const float* p = x + (e / inner) * n * inner + e % inner;
  I best = 0;
  for (I j = 1; j < n; ++j)
    if (p[j * inner] > p[best * inner]) best = j;
  out[e] = static_cast<int32_t>(best);
}

__global__ void activation_kernel(long long n, const float* __restrict__ x, float* __restrict__ y, Act act,
                                  float alpha) {
  const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (i < n) y[i] = act_forward(act, x[i], alpha);
}

__global__ void activation_backward_kernel(long long n, const float* __restrict__ x,
                                           const float* __restrict__ y, const float* __restrict__ dy,
                                           float* __restrict__ dx, Act act, float alpha) {
  const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (i < n) dx[i] = act_backward(act, y[i], x[i], dy[i], alpha);
}

__global__ void affine_kernel(long long n, const float* __restrict__ x, float* __restrict__ y, float scale,
                              float offset) {
  const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (i < n) y[i] = __fmul_rn(x[i], scale) + offset;  // no FMA contraction: the CPU rounds the product first
}

// Copies through pinned host memory (a pageable destination would make the copy synchronous), then waits on
// an event recorded behind it.
class CudaDownload : public PendingDownload {
 public:
  CudaDownload(void* dst, std::size_t bytes) : dst_(dst), bytes_(bytes) {}
  ~CudaDownload() override {
    if (event_) cudaEventDestroy(event_);
    if (pinned_) cudaFreeHost(pinned_);
  }
  Status start(const void* src, cudaStream_t stream) {
    KN_CUDA(cudaMallocHost(&pinned_, bytes_));
    KN_CUDA(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming));
    KN_CUDA(cudaMemcpyAsync(pinned_, src, bytes_, cudaMemcpyDeviceToHost, stream));
    KN_CUDA(cudaEventRecord(event_, stream));
    return Status::Ok();
  }
  Status wait() override {
    KN_CUDA(cudaEventSynchronize(event_));
    std::memcpy(dst_, pinned_, bytes_);
    return Status::Ok();
  }

 private:
  void* dst_;
  std::size_t bytes_;
  void* pinned_ = nullptr;
  cudaEvent_t event_ = nullptr;
};

}  // namespace

Status CudaBackend::activation_forward(std::size_t n, const float* x, float* y, Act act, float alpha) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!n) return Status::Ok();
  launch(activation_kernel, CEIL_DIV((long long)n, 256), 256, 0, stream(), (long long)n, x, y, act, alpha);
  KN_LAUNCHED(stream(), "activation_kernel");
  return Status::Ok();
}

Status CudaBackend::activation_backward(std::size_t n, const float* x, const float* y, const float* dy,
                                        float* dx, Act act, float alpha) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!n) return Status::Ok();
  launch(activation_backward_kernel, CEIL_DIV((long long)n, 256), 256, 0, stream(), (long long)n, x, y, dy,
         dx, act, alpha);
  KN_LAUNCHED(stream(), "activation_backward_kernel");
  return Status::Ok();
}

Status CudaBackend::affine(std::size_t n, const float* x, float* y, float scale, float offset) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!n) return Status::Ok();
  launch(affine_kernel, CEIL_DIV((long long)n, 256), 256, 0, stream(), (long long)n, x, y, scale, offset);
  KN_LAUNCHED(stream(), "affine_kernel");
  return Status::Ok();
}

Status CudaBackend::copy_region(const Region& r, const void* src, void* dst) {
  std::lock_guard<std::mutex> lock(mutex_);
  const long long count = r.count();
  if (!count) return Status::Ok();
  long long src_total = 1, dst_total = 1;
  for (int d = 0; d < r.rank; ++d) src_total *= r.src_shape[d], dst_total *= r.dst_shape[d];
  with_index_type(std::max({count, src_total, dst_total}), [&](auto index) {
    using I = decltype(index);
    launch(copy_region_kernel<I>, CEIL_DIV(count, 256), 256, 0, stream(), r,
           static_cast<const uint32_t*>(src), static_cast<uint32_t*>(dst), (I)count);
  });
  KN_LAUNCHED(stream(), "copy_region_kernel");
  return Status::Ok();
}

Status CudaBackend::pad2d_forward(const Pad2dShape& s, const float* x, float* y) {
  std::lock_guard<std::mutex> lock(mutex_);
  const long long total = (long long)s.n * s.oh() * s.ow() * s.c;
  if (!total) return Status::Ok();
  with_index_type(total, [&](auto index) {
    using I = decltype(index);
    launch(pad2d_forward_kernel<I>, CEIL_DIV(total, 256), 256, 0, stream(), s, x, y, (I)total);
  });
  KN_LAUNCHED(stream(), "pad2d_forward_kernel");
  return Status::Ok();
}

Status CudaBackend::pad2d_backward(const Pad2dShape& s, const float* dy, float* dx) {
  std::lock_guard<std::mutex> lock(mutex_);
  const long long total = (long long)s.n * s.h * s.w * s.c;
  if (!total) return Status::Ok();
  with_index_type((long long)s.n * s.oh() * s.ow() * s.c, [&](auto index) {
    using I = decltype(index);
    launch(pad2d_backward_kernel<I>, CEIL_DIV(total, 256), 256, 0, stream(), s, dy, dx, (I)total);
  });
  KN_LAUNCHED(stream(), "pad2d_backward_kernel");
  return Status::Ok();
}

Status CudaBackend::argmax(const float* x, std::size_t outer, std::size_t n, std::size_t inner,
                           int32_t* out) {
  std::lock_guard<std::mutex> lock(mutex_);
  const long long total = (long long)(outer * inner);
  if (!total) return Status::Ok();
  with_index_type((long long)(outer * n * inner), [&](auto index) {
    using I = decltype(index);
    launch(argmax_kernel<I>, CEIL_DIV(total, 256), 256, 0, stream(), x, (I)outer, (I)n, (I)inner, out);
  });
  KN_LAUNCHED(stream(), "argmax_kernel");
  return Status::Ok();
}

Status CudaBackend::download_start(void* dst, const void* src, std::size_t bytes,
                                   std::unique_ptr<PendingDownload>* pending) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto d = std::make_unique<CudaDownload>(dst, bytes);
  KN_TRY(d->start(src, stream_));
  *pending = std::move(d);
  return Status::Ok();
}

}  // namespace cu
}  // namespace kn
