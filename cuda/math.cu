// General tensor math on the GPU (cpp/tensor_math.h; the twin of cpp/cpu_math.cc). The per-element rules are
// the header's KN_HD functions, shared with the CPU, so both backends compute each element alike; each op a
// kernel of its own, the op (unary functor, binary operator, reduction) a runtime switch inside the kernel
// (the ops are memory-bound: the switch is one uniform branch per element). Index math in I where a kernel
// computes indices from its thread (with_index_type: the largest element count it indexes). Costs below are
// predictions for an H100 (3.35 TB/s; FP32 about 60 TFLOP/s), not measurements.
//
//   math_unary_kernel     y[i] = unary_value(op, x[i]), one thread per element; float32 or int32 in and out.
//                         8 bytes per element: about 2.4 us per million. The transcendental functors compute
//                         in double as the CPU does (an H100 has full-rate FP64: a few tens of FP64
//                         instructions per element stay below the memory time).
//   math_binary_kernel    y[o] = a[ao] op b[bo] over elementwise.h's canonical BroadcastShape (a division and
//                         a remainder per canonical dimension for the operands' offsets), comparisons and
//                         logical ops writing int32 0 or 1; binary_float or binary_int (int32 operands).
//                         12 bytes per element of y (a broadcast operand from cache): about 3.6 us per
//                         million.
//   math_select_kernel    y[i] = cond[i] ? a[i] : b[i] (4-byte elements): 16 bytes per element, 4.8 us per
//                         million.
//   strided_copy_kernel   y[o] = x[strided_offset(v, o)]: 8 bytes per element where x's reads coalesce (2.4
//                         us per million); a transpose whose innermost stride is large reads a 32-byte sector
//                         per 4-byte element, up to 8x the read traffic (about 11 us per million).
//   reduce_kernel         one thread per output element (o, i) running reduce_run (arg_run for argMax and
//                         argMin) along its run of x, strided by inner: the CPU's own code and order, so
//                         float sums match the CPU bit for bit. Reads coalesce across i when inner >= 32;
//                         runs of 4 n bytes at the memory bound once outer x inner threads fill the GPU (>=
//                         about 100k), below it a serial chain of n loads per thread.
//   reduce_rows_kernel    inner == 1 and n >= 32: W threads per row (a warp, or 256 threads when n >= 4096),
//                         each over the row's elements t, t + W, .. in order, then a fixed-order tree in
//                         shared memory (deterministic, no atomics; float sums differ from the CPU's order).
//                         argMax / argMin keep arg_run's answer exactly: the first index of the largest
//                         (smallest) non-NaN value, or 0 when the row starts with NaN. 4 bytes per element
//                         read: about 1.2 us per million with many rows; a single long row runs on one SM
//                         (about 0.1 TB/s: 40 us per million elements).
//   scan_kernel           one thread per (o, i), sequential along n as the CPU (the same bits): 8 bytes per
//                         element at the memory bound when outer x inner >= about 100k threads; fewer threads
//                         leave a serial chain of n steps each (roughly n x 5 ns: a long single cumsum is
//                         latency-bound, a block-wide scan would be its cure).
//   gather_axis_kernel    y[o, j, i] = x[o, idx[j], i] (0 outside [0, n)), one thread per element of y: 8
//                         bytes per element (12 with idx from cache), about 2.4 us per million.
//   batch_matmul_kernel   y[b] = a[b] x b[b] for more than 4 batches: a 64 x 64 tile per block, 256 threads
//                         of 4 x 4 outputs, K in steps of 16 through shared memory, grid z = batch (in
//                         launches of at most 65535 batches); each output one FP32 FMA chain in k order
//                         (deterministic). Compute-bound at about a third of FP32 peak (about 20 TFLOP/s:
//                         2 m n k batch / 2e13 s) when the tiles fill the GPU; small matrices pay a mostly
//                         empty tile each. At most 4 batches run as one GEMM each on gemm.cu's kernel 1 (the
//                         SIMT FP32 GEMM, with its deterministic split-K when the tiles alone cannot fill the
//                         GPU), in FP32 whatever the TF32 setting, as the CPU's.
//   topk_kernel           a warp per row, k passes: each pass finds the first element (descending, ties by
//                         the lower index, NaN after every number: cpu_math.cc's comparator) that comes after
//                         the previous pass's, each lane over every 32nd element, then a butterfly of
//                         shuffles (a strict total order: the same winner in any combining order). O(n k /
//                         32) steps per row, the row re-read from L1/L2 on every pass: fine for small k; a
//                         sort (k = n) of long rows is quadratic.
//   resize2d_kernel       y[o] = resize_value(s, x, o), one thread per output: its 64-bit divisions and
//                         double coordinates make it compute-bound at roughly 10 us per million outputs.
//   iota_kernel           y[i] = start + i * step in double (unfused, as the CPU), rounded once: 4 bytes per
//                         element, 1.2 us per million.
//   random_gauss_kernel   philox_gauss per element (Philox4x32-10 and Box-Muller): compute-bound at about
//                         5 us per million elements.
#include <algorithm>
#include <type_traits>

#include "cuda_backend.cuh"
#include "philox.h"
#include "tensor_math.h"

namespace kn {
namespace cu {
namespace {

constexpr int kThreads = 256;

// Double products and sums rounded one at a time (no FMA contraction), as the CPU computes them.
__device__ __forceinline__ double dmul_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
__device__ __forceinline__ double dadd_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}

template <typename In, typename Out, typename I>
__global__ void math_unary_kernel(UnaryOp op, const In* __restrict__ x, Out* __restrict__ y, float p0,
                                  float p1, I count) {
  const I i = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (i < count) y[i] = unary_value<In, Out>(op, x[i], p0, p1);
}

__device__ __forceinline__ float binary_value(BinaryOp op, float a, float b) {
  return binary_float(op, a, b);
}
__device__ __forceinline__ int32_t binary_value(BinaryOp op, int32_t a, int32_t b) {
  return binary_int(op, a, b);
}

// R: int32 for a comparison or logical op (and for int32 operands), else T.
template <typename T, typename R, typename I>
__global__ void math_binary_kernel(BroadcastShape s, BinaryOp op, const T* __restrict__ a,
                                   const T* __restrict__ b, R* __restrict__ y, I count) {
  const I o = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (o >= count) return;
  I ao, bo;
  if (s.rank == 1)  // two tensors of one shape, or one repeated value: no division
    ao = o * (I)s.a_stride[0], bo = o * (I)s.b_stride[0];
  else
    broadcast_offsets<I>(s, o, &ao, &bo);
  if constexpr (std::is_same_v<T, float> && std::is_same_v<R, int32_t>)
    y[o] = binary_float_int(op, a[ao], b[bo]);  // bools, and floorDiv's int32
  else
    y[o] = static_cast<R>(binary_value(op, a[ao], b[bo]));
}

template <typename I>
__global__ void math_select_kernel(const int32_t* __restrict__ cond, const uint32_t* __restrict__ a,
                                   const uint32_t* __restrict__ b, uint32_t* __restrict__ y, I count) {
  const I i = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (i < count) y[i] = cond[i] ? a[i] : b[i];
}

template <typename I>
__global__ void strided_copy_kernel(StridedView v, const uint32_t* __restrict__ x, uint32_t* __restrict__ y,
                                    I count) {
  const I o = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (o < count) y[o] = x[strided_offset<I>(v, o)];
}

// One thread per output element (o, i) of [outer, inner]: reduce_run / arg_run over x[o, :, i].
template <typename T, typename I>
__global__ void reduce_kernel(ReduceOp op, const T* __restrict__ x, I n, I inner, void* __restrict__ y,
                              I count) {
  const I e = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (e >= count) return;
  const I o = e / inner, i = e - o * inner;
  const T* run = x + o * n * inner + i;
  if (op == ReduceOp::kArgMax || op == ReduceOp::kArgMin)
    static_cast<int32_t*>(y)[e] =
        n ? arg_run<T>(op == ReduceOp::kArgMax, run, (int64_t)n, (int64_t)inner) : 0;
  else
    static_cast<T*>(y)[e] = reduce_run<T>(op, run, (int64_t)n, (int64_t)inner);
}

// Whether (v, j) beats the partial (best, at) of an argMax (argMin) over non-NaN values: strictly greater
// (smaller), or equal at a lower index; `none` marks an empty partial.
template <typename T, typename I>
__device__ __forceinline__ bool arg_beats(bool arg_max, T v, I j, T best, I at, I none) {
  if (j == none) return false;
  if (at == none) return true;
  return (arg_max ? v > best : v < best) || (v == best && j < at);
}

// Rows of x [outer, n] (inner == 1): W threads per row (blockDim (W, kThreads / W)), thread t over elements
// t, t + W, .. in order, then a fixed-order tree over the W partials in shared memory.
template <typename T, typename I, int W>
__global__ void __launch_bounds__(kThreads)
    reduce_rows_kernel(ReduceOp op, const T* __restrict__ x, I outer, I n, void* __restrict__ y) {
  __shared__ T vals[kThreads];
  __shared__ I ats[kThreads];
  const unsigned tx = threadIdx.x, slot = threadIdx.y * W + tx;
  const I row = blockIdx.x * (I)blockDim.y + threadIdx.y;
  const bool active = row < outer;  // no early return: every thread meets the barriers
  const bool arg = op == ReduceOp::kArgMax || op == ReduceOp::kArgMin;
  const bool arg_max = op == ReduceOp::kArgMax;
  const I none = ~(I)0;
  T acc = reduce_identity<T>(op);
  I at = none;
  if (active) {
    const T* r = x + row * n;
    for (I j = tx; j < n; j += W) {
      const T v = r[j];
      if (!arg)
        acc = reduce_step<T>(op, acc, v);
      else if (v == v && arg_beats<T, I>(arg_max, v, j, acc, at, none))  // NaN never wins after the first
        acc = v, at = j;
    }
  }
  vals[slot] = acc;
  ats[slot] = at;
  __syncthreads();
  for (unsigned s = W / 2; s > 0; s >>= 1) {
    if (tx < s) {
      const T a = vals[slot], b = vals[slot + s];
      if (!arg)
        vals[slot] = reduce_step<T>(op, a, b);
      else if (arg_beats<T, I>(arg_max, b, ats[slot + s], a, ats[slot], none))
        vals[slot] = b, ats[slot] = ats[slot + s];
    }
    __syncthreads();
  }
  if (!active || tx) return;
  if (arg) {
    const T first = x[row * n];
    static_cast<int32_t*>(y)[row] = first != first ? 0 : static_cast<int32_t>(ats[slot]);  // arg_run's start
  } else {
    static_cast<T*>(y)[row] = vals[slot];
  }
}

template <typename T, typename I>
__global__ void scan_kernel(ReduceOp r, I n, I inner, bool exclusive, bool reverse, const T* __restrict__ x,
                            T* __restrict__ y, I count) {
  const I t = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (t >= count) return;
  const I o = t / inner, i = t - o * inner;
  const T* xr = x + o * n * inner + i;
  T* yr = y + o * n * inner + i;
  T acc = reduce_identity<T>(r);
  for (I j = 0; j < n; ++j) {
    const I at = (reverse ? n - 1 - j : j) * inner;
    if (exclusive) {
      yr[at] = acc;
      acc = reduce_step<T>(r, acc, xr[at]);
    } else {
      acc = reduce_step<T>(r, acc, xr[at]);
      yr[at] = acc;
    }
  }
}

template <typename I>
__global__ void gather_axis_kernel(I n, I inner, const int32_t* __restrict__ idx, I m,
                                   const uint32_t* __restrict__ x, uint32_t* __restrict__ y, I count) {
  const I e = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (e >= count) return;
  const I r = e / inner, i = e - r * inner, o = r / m, j = r - o * m;
  const int32_t k = idx[j];
  y[e] = k < 0 || (I)k >= n ? 0u : x[(o * n + (I)k) * inner + i];
}

constexpr int kMmTile = 64, kMmK = 16, kMmBatches = 65535;

// y[z] = a[z] x b[z] for the batches z0 + blockIdx.z: 64 x 64 outputs per block, thread (tx, ty) of 16 x 16
// the outputs (ty + 16 i, tx + 16 j), i, j < 4.
__global__ void __launch_bounds__(kThreads)
    batch_matmul_kernel(int m, int n, int k, const float* __restrict__ a, long long a_stride,
                        const float* __restrict__ b, long long b_stride, float* __restrict__ y,
                        long long z0) {
  __shared__ float as[kMmK]
                     [kMmTile + 4];  // A's tile k-major (+4: fewer bank conflicts on the transposing store)
  __shared__ float bs[kMmK][kMmTile];
  const long long z = z0 + blockIdx.z;
  const float* az = a + z * a_stride;
  const float* bz = b + z * b_stride;
  float* yz = y + z * (long long)m * n;
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int row0 = blockIdx.y * kMmTile, col0 = blockIdx.x * kMmTile;
  float acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;
  for (int k0 = 0; k0 < k; k0 += kMmK) {
#pragma unroll
    for (int l = 0; l < 4; ++l) {
      const int e = threadIdx.x + kThreads * l;
      const int ar = row0 + e / kMmK, ac = k0 + e % kMmK;  // A: 64 rows of 16 (16 threads read a row's run)
      as[e % kMmK][e / kMmK] = ar < m && ac < k ? az[(long long)ar * k + ac] : 0.0f;
      const int br = k0 + e / kMmTile, bc = col0 + e % kMmTile;  // B: 16 rows of 64
      bs[e / kMmTile][e % kMmTile] = br < k && bc < n ? bz[(long long)br * n + bc] : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kMmK; ++kk) {
      float av[4], bv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) av[i] = as[kk][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) bv[j] = bs[kk][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int r = row0 + ty + 16 * i;
    if (r >= m) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int c = col0 + tx + 16 * j;
      if (c < n) yz[(long long)r * n + c] = acc[i][j];
    }
  }
}

// Whether x[i] = a comes before x[j] = b in topk's order: descending, ties by the lower index, NaN after
// every number (cpu_math.cc's comparator).
template <typename I>
__device__ __forceinline__ bool topk_before(float a, I i, float b, I j) {
  const bool an = a != a, bn = b != b;
  if (an || bn) return an == bn ? i < j : bn;
  return a > b || (a == b && i < j);
}

// A warp per row (blockDim (32, kThreads / 32)); whole warps leave together, so every shuffle has its 32
// lanes.
template <typename I>
__global__ void __launch_bounds__(kThreads)
    topk_kernel(I rows, I n, I k, const float* __restrict__ x, float* __restrict__ values,
                int32_t* __restrict__ indices) {
  const I row = blockIdx.x * (I)blockDim.y + threadIdx.y;
  if (row >= rows) return;
  const unsigned lane = threadIdx.x;
  const float* r = x + row * n;
  const I none = ~(I)0;
  float prev = 0.0f;
  I prev_at = none;
  for (I p = 0; p < k; ++p) {
    float best = 0.0f;
    I at = none;
    for (I j = lane; j < n; j += 32) {
      const float v = r[j];
      if (prev_at != none && !topk_before<I>(prev, prev_at, v, j)) continue;  // taken by an earlier pass
      if (at == none || topk_before<I>(v, j, best, at)) best = v, at = j;
    }
#pragma unroll
    for (int s = 16; s > 0; s >>= 1) {
      const float ov = __shfl_xor_sync(0xffffffffu, best, s);
      const I oat = __shfl_xor_sync(0xffffffffu, at, s);
      if (oat != none && (at == none || topk_before<I>(ov, oat, best, at))) best = ov, at = oat;
    }
    if (lane == 0) values[row * k + p] = best, indices[row * k + p] = static_cast<int32_t>(at);
    prev = best, prev_at = at;
  }
}

template <typename I>
__global__ void resize2d_kernel(ResizeShape s, const float* __restrict__ x, float* __restrict__ y, I count) {
  const I o = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (o < count) y[o] = resize_value(s, x, static_cast<int64_t>(o));
}

template <typename I>
__global__ void iota_kernel(bool as_float, double start, double step, void* __restrict__ y, I count) {
  const I i = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (i >= count) return;
  const double v = dadd_rn(start, dmul_rn(static_cast<double>(i), step));
  if (as_float)
    static_cast<float*>(y)[i] = static_cast<float>(v);
  else
    static_cast<int32_t*>(y)[i] = to_int32(v);
}

template <typename I>
__global__ void random_gauss_kernel(float* __restrict__ dst, float mean, float stddev, uint64_t seed,
                                    uint64_t offset, I count) {
  const I i = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (i < count) dst[i] = philox_gauss(seed, offset, static_cast<uint64_t>(i), mean, stddev);
}

template <typename In, typename Out>
void launch_unary(cudaStream_t stream, UnaryOp op, long long n, const void* x, void* y, float p0, float p1) {
  with_index_type(n, [&](auto index) {
    using I = decltype(index);
    launch(math_unary_kernel<In, Out, I>, CEIL_DIV(n, kThreads), kThreads, 0, stream, op,
           static_cast<const In*>(x), static_cast<Out*>(y), p0, p1, (I)n);
  });
}

template <typename T, typename R>
void launch_binary(cudaStream_t stream, const BroadcastShape& s, BinaryOp op, const void* a, const void* b,
                   void* y, long long count) {
  with_index_type(count, [&](auto index) {
    using I = decltype(index);
    launch(math_binary_kernel<T, R, I>, CEIL_DIV(count, kThreads), kThreads, 0, stream, s, op,
           static_cast<const T*>(a), static_cast<const T*>(b), static_cast<R*>(y), (I)count);
  });
}

template <typename T>
void launch_reduce(cudaStream_t stream, ReduceOp op, long long outer, long long n, long long inner,
                   const T* x, void* y) {
  with_index_type(std::max(outer * n * inner, outer * inner), [&](auto index) {
    using I = decltype(index);
    if (inner == 1 && n >= 4096)
      launch(reduce_rows_kernel<T, I, kThreads>, outer, dim3(kThreads, 1), 0, stream, op, x, (I)outer, (I)n,
             y);
    else if (inner == 1 && n >= 32)
      launch(reduce_rows_kernel<T, I, 32>, CEIL_DIV(outer, kThreads / 32), dim3(32, kThreads / 32), 0, stream,
             op, x, (I)outer, (I)n, y);
    else
      launch(reduce_kernel<T, I>, CEIL_DIV(outer * inner, kThreads), kThreads, 0, stream, op, x, (I)n,
             (I)inner, y, (I)(outer * inner));
  });
}

template <typename T>
void launch_scan(cudaStream_t stream, ReduceOp r, long long outer, long long n, long long inner,
                 bool exclusive, bool reverse, const void* x, void* y) {
  with_index_type(outer * n * inner, [&](auto index) {
    using I = decltype(index);
    launch(scan_kernel<T, I>, CEIL_DIV(outer * inner, kThreads), kThreads, 0, stream, r, (I)n, (I)inner,
           exclusive, reverse, static_cast<const T*>(x), static_cast<T*>(y), (I)(outer * inner));
  });
}

}  // namespace

Status CudaBackend::math_unary(UnaryOp op, ElemType in, ElemType out, std::size_t n, const void* x, void* y,
                               float p0, float p1) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!n) return Status::Ok();
  const long long count = (long long)n;
  if (in == ElemType::kFloat32 && out == ElemType::kFloat32)
    launch_unary<float, float>(stream(), op, count, x, y, p0, p1);
  else if (in == ElemType::kFloat32)
    launch_unary<float, int32_t>(stream(), op, count, x, y, p0, p1);
  else if (out == ElemType::kFloat32)
    launch_unary<int32_t, float>(stream(), op, count, x, y, p0, p1);
  else
    launch_unary<int32_t, int32_t>(stream(), op, count, x, y, p0, p1);
  KN_LAUNCHED(stream(), "math_unary_kernel");
  return Status::Ok();
}

Status CudaBackend::math_binary(const BroadcastShape& s, BinaryOp op, ElemType t, const void* a,
                                const void* b, void* y) {
  std::lock_guard<std::mutex> lock(mutex_);
  const long long count = s.count();
  if (!count) return Status::Ok();
  KN_EXPECT(s.rank >= 1 && s.rank <= BroadcastShape::kMaxRank, "math_binary");
  if (t == ElemType::kInt32)
    launch_binary<int32_t, int32_t>(stream(), s, op, a, b, y, count);
  else if (binary_float_to_int(op))
    launch_binary<float, int32_t>(stream(), s, op, a, b, y, count);
  else
    launch_binary<float, float>(stream(), s, op, a, b, y, count);
  KN_LAUNCHED(stream(), "math_binary_kernel");
  return Status::Ok();
}

Status CudaBackend::math_select(std::size_t n, const int32_t* cond, const void* a, const void* b, void* y) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!n) return Status::Ok();
  const long long count = (long long)n;
  with_index_type(count, [&](auto index) {
    using I = decltype(index);
    launch(math_select_kernel<I>, CEIL_DIV(count, kThreads), kThreads, 0, stream(), cond,
           static_cast<const uint32_t*>(a), static_cast<const uint32_t*>(b), static_cast<uint32_t*>(y),
           (I)count);
  });
  KN_LAUNCHED(stream(), "math_select_kernel");
  return Status::Ok();
}

Status CudaBackend::strided_copy(const StridedView& v, const void* x, void* y) {
  std::lock_guard<std::mutex> lock(mutex_);
  KN_EXPECT(v.rank >= 0 && v.rank <= StridedView::kMaxRank, "strided_copy");
  const long long count = v.count();
  if (!count) return Status::Ok();
  with_index_type(count, [&](auto index) {
    using I = decltype(index);
    launch(strided_copy_kernel<I>, CEIL_DIV(count, kThreads), kThreads, 0, stream(), v,
           static_cast<const uint32_t*>(x), static_cast<uint32_t*>(y), (I)count);
  });
  KN_LAUNCHED(stream(), "strided_copy_kernel");
  return Status::Ok();
}

Status CudaBackend::reduce(ReduceOp op, ElemType t, std::size_t outer, std::size_t n, std::size_t inner,
                           const void* x, void* y) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!outer || !inner) return Status::Ok();
  const bool arg = op == ReduceOp::kArgMax || op == ReduceOp::kArgMin;
  KN_EXPECT(!arg || n <= (std::size_t)INT32_MAX, "reduce");  // an index must fit its int32
  if (t == ElemType::kFloat32)
    launch_reduce<float>(stream(), op, (long long)outer, (long long)n, (long long)inner,
                         static_cast<const float*>(x), y);
  else
    launch_reduce<int32_t>(stream(), op, (long long)outer, (long long)n, (long long)inner,
                           static_cast<const int32_t*>(x), y);
  KN_LAUNCHED(stream(), inner == 1 && n >= 32 ? "reduce_rows_kernel" : "reduce_kernel");
  return Status::Ok();
}

Status CudaBackend::scan(BinaryOp op, ElemType t, std::size_t outer, std::size_t n, std::size_t inner,
                         bool exclusive, bool reverse, const void* x, void* y) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!outer || !n || !inner) return Status::Ok();
  const ReduceOp r = op == BinaryOp::kMul ? ReduceOp::kProd : ReduceOp::kSum;
  if (t == ElemType::kFloat32)
    launch_scan<float>(stream(), r, (long long)outer, (long long)n, (long long)inner, exclusive, reverse, x,
                       y);
  else
    launch_scan<int32_t>(stream(), r, (long long)outer, (long long)n, (long long)inner, exclusive, reverse, x,
                         y);
  KN_LAUNCHED(stream(), "scan_kernel");
  return Status::Ok();
}

Status CudaBackend::gather_axis(std::size_t outer, std::size_t n, std::size_t inner, const int32_t* idx,
                                std::size_t m, const void* x, void* y) {
  std::lock_guard<std::mutex> lock(mutex_);
  const long long count = (long long)(outer * m * inner);
  if (!count) return Status::Ok();
  with_index_type(std::max(count, (long long)(outer * n * inner)), [&](auto index) {
    using I = decltype(index);
    launch(gather_axis_kernel<I>, CEIL_DIV(count, kThreads), kThreads, 0, stream(), (I)n, (I)inner, idx, (I)m,
           static_cast<const uint32_t*>(x), static_cast<uint32_t*>(y), (I)count);
  });
  KN_LAUNCHED(stream(), "gather_axis_kernel");
  return Status::Ok();
}

Status CudaBackend::batch_matmul(const MatmulShape& s, const float* a, const float* b, float* y) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (s.batch <= 0 || s.m <= 0 || s.n <= 0) return Status::Ok();
  if (s.k <= 0) {  // empty sums
    KN_CUDA(cudaMemsetAsync(y, 0, sizeof(float) * (std::size_t)(s.batch * s.m * s.n), stream()));
    return Status::Ok();
  }
  if (s.m > INT32_MAX - kMmTile || s.n > INT32_MAX - kMmTile || s.k > INT32_MAX - kMmK)
    return Status{"ERR_KERNELNET_SHAPE", "batch_matmul: " + std::to_string(s.m) + " x " +
                                             std::to_string(s.k) + " x " + std::to_string(s.n) +
                                             " passes the GEMM's 32-bit indices"};
  const int m = (int)s.m, n = (int)s.n, k = (int)s.k;
  if (s.batch <= 4) {  // one GEMM each (kernel 1, FP32, split-K where the tiles alone leave the GPU idle)
    for (int64_t z = 0; z < s.batch; ++z)
      KN_TRY(gemm_with(GemmKernel::kSimt, false, false, m, n, k, a + z * s.a_stride, k, b + z * s.b_stride, n,
                       y + z * s.m * s.n, n, Epilogue{}, false));
    return Status::Ok();
  }
  if (CEIL_DIV(s.m, kMmTile) > 65535)
    return Status{"ERR_KERNELNET_SHAPE", "batch_matmul: " + std::to_string(s.m) +
                                             " rows: more than 65535 tiles of " + std::to_string(kMmTile)};
  for (long long z0 = 0; z0 < s.batch; z0 += kMmBatches) {
    const unsigned batches = (unsigned)std::min<long long>(kMmBatches, s.batch - z0);
    launch(batch_matmul_kernel, dim3(CEIL_DIV(n, kMmTile), CEIL_DIV(m, kMmTile), batches), kThreads, 0,
           stream(), m, n, k, a, (long long)s.a_stride, b, (long long)s.b_stride, y, z0);
    KN_LAUNCHED(stream(), "batch_matmul_kernel");
  }
  return Status::Ok();
}

Status CudaBackend::topk(std::size_t rows, std::size_t n, std::size_t k, const float* x, float* values,
                         int32_t* indices) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!rows || !k) return Status::Ok();
  KN_EXPECT(k <= n && n <= (std::size_t)INT32_MAX, "topk");
  constexpr int kRowsPerBlock = kThreads / 32;
  with_index_type((long long)(rows * n), [&](auto index) {
    using I = decltype(index);
    launch(topk_kernel<I>, CEIL_DIV((long long)rows, kRowsPerBlock), dim3(32, kRowsPerBlock), 0, stream(),
           (I)rows, (I)n, (I)k, x, values, indices);
  });
  KN_LAUNCHED(stream(), "topk_kernel");
  return Status::Ok();
}

Status CudaBackend::resize2d(const ResizeShape& s, const float* x, float* y) {
  std::lock_guard<std::mutex> lock(mutex_);
  const long long count = (long long)(s.n * s.oh * s.ow * s.c);
  if (!count) return Status::Ok();
  KN_EXPECT(s.h > 0 && s.w > 0, "resize2d");
  with_index_type(count, [&](auto index) {
    using I = decltype(index);
    launch(resize2d_kernel<I>, CEIL_DIV(count, kThreads), kThreads, 0, stream(), s, x, y, (I)count);
  });
  KN_LAUNCHED(stream(), "resize2d_kernel");
  return Status::Ok();
}

Status CudaBackend::iota(ElemType t, std::size_t n, double start, double step, void* y) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!n) return Status::Ok();
  const long long count = (long long)n;
  with_index_type(count, [&](auto index) {
    using I = decltype(index);
    launch(iota_kernel<I>, CEIL_DIV(count, kThreads), kThreads, 0, stream(), t == ElemType::kFloat32, start,
           step, y, (I)count);
  });
  KN_LAUNCHED(stream(), "iota_kernel");
  return Status::Ok();
}

Status CudaBackend::random_gauss(float* dst, std::size_t count, float mean, float stddev, uint64_t seed,
                                 uint64_t offset) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!count) return Status::Ok();
  const long long total = (long long)count;
  with_index_type(total, [&](auto index) {
    using I = decltype(index);
    launch(random_gauss_kernel<I>, CEIL_DIV(total, kThreads), kThreads, 0, stream(), dst, mean, stddev, seed,
           offset, (I)total);
  });
  KN_LAUNCHED(stream(), "random_gauss_kernel");
  return Status::Ok();
}

}  // namespace cu
}  // namespace kn
