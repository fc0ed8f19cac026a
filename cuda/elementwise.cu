// The broadcasting elementwise binary ops on the GPU (cpp/elementwise.h; the twin of cpp/cpu_elementwise.cc):
// y = scale * (a op b) over the canonical BroadcastShape, and its gradients.
//
// binary_forward_kernel: one thread per element of y, its operands' offsets from y's index (a division and a
// remainder per canonical dimension: usually one to three). binary_backward_kernel: one thread per element of
// an operand's gradient, summing its terms over y in ascending order (binary_grad_element, the CPU's own
// code, so the two backends add in the same order). Index math in I (with_index_type: y's element count).
//
// Predicted cost: memory-bound. Forward and an unbroadcast gradient move 12 to 16 bytes per element of y (a,
// b or the repeated operand from cache, dy, the output): about 5 us per million elements at an H100's 3.35
// TB/s. A reduced gradient such as db [C] of [N,H,W,C] + [C] runs C threads, each looping over N*H*W terms
// one after another (coalesced across the C threads, but a serial chain per thread): far below the memory
// bound once N*H*W is large and C small (a grid of a few blocks). A two-pass reduction with fixed-order
// partials would keep the sums deterministic; left for later.
#include "cuda_backend.cuh"

namespace kn {
namespace cu {
namespace {

// No __restrict__ on a, b and y: y may be a or b itself (an operand that is not broadcast).
template <typename I>
__global__ void binary_forward_kernel(BroadcastShape s, BinaryOp op, float scale, const float* a,
                                      const float* b, float* y, I count) {
  const I o = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (o >= count) return;
  I ao, bo;
  if (s.rank == 1)  // two tensors of one shape, or one repeated value: no division
    ao = o * (I)s.a_stride[0], bo = o * (I)s.b_stride[0];
  else
    broadcast_offsets<I>(s, o, &ao, &bo);
  y[o] = mul_rn(binary_apply(op, a[ao], b[bo]), scale);
}

template <typename I>
__global__ void binary_backward_kernel(BroadcastShape s, BinaryOp op, bool for_a, float scale,
                                       const float* __restrict__ a, const float* __restrict__ b,
                                       const float* __restrict__ dy, float* __restrict__ dx, I size) {
  const I e = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (e < size) dx[e] = binary_grad_element<I>(s, op, for_a, scale, a, b, dy, e);
}

}  // namespace

Status CudaBackend::binary_forward(const BroadcastShape& s, BinaryOp op, float scale, const float* a,
                                   const float* b, float* y) {
  std::lock_guard<std::mutex> lock(mutex_);
  const long long count = s.count();
  if (!count) return Status::Ok();
  KN_EXPECT(s.rank >= 1 && s.rank <= BroadcastShape::kMaxRank, "binary_forward");
  with_index_type(count, [&](auto index) {
    using I = decltype(index);
    launch(binary_forward_kernel<I>, CEIL_DIV(count, 256), 256, 0, stream(), s, op, scale, a, b, y, (I)count);
  });
  KN_LAUNCHED(stream(), "binary_forward_kernel");
  return Status::Ok();
}

Status CudaBackend::binary_backward(const BroadcastShape& s, BinaryOp op, float scale, const float* a,
                                    const float* b, const float* dy, float* da, float* db) {
  std::lock_guard<std::mutex> lock(mutex_);
  const long long count = s.count();
  KN_EXPECT(s.rank >= 1 && s.rank <= BroadcastShape::kMaxRank, "binary_backward");
  for (const bool for_a : {true, false}) {
    float* dx = for_a ? da : db;
    const long long size = for_a ? s.a_size : s.b_size;
    if (!dx || !size) continue;
    if (!count) {  // y is empty: no terms (an operand of size 1 against an empty one)
      KN_CUDA(cudaMemsetAsync(dx, 0, sizeof(float) * size, stream()));
      continue;
    }
    with_index_type(count, [&](auto index) {
      using I = decltype(index);
      launch(binary_backward_kernel<I>, CEIL_DIV(size, 256), 256, 0, stream(), s, op, for_a, scale, a, b, dy,
             dx, (I)size);
    });
    KN_LAUNCHED(stream(), "binary_backward_kernel");
  }
  return Status::Ok();
}

}  // namespace cu
}  // namespace kn
