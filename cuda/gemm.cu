// SGEMM for the CUDA backend, row-major: C[M, N] (+)= op(A)[M, K] * op(B)[K, N], then the fused epilogue
// (cpp/epilogue.h: + bias[N] when given, then the activation).
//
// Tiles of 64 x 64 outputs per block of 256 threads, K in steps of 16 through shared memory; each thread
// holds a 4 x 4 register block and reads its operands from shared memory as float4. The transposed variants
// (forward: A B; input gradient: A B^T; weight gradient: A^T B) differ only in how a tile is loaded, chosen
// at compile time, and every load is bounds-checked, so any M, N, K works. Split-K (gridDim.z > 1) writes
// partial products that a second kernel sums in a fixed order: deterministic, unlike atomics.
#include <mma.h>

#include "common.cuh"
#include "cuda_backend.cuh"
#include "gemm.cuh"

namespace kn {
namespace cu {
namespace {

constexpr int BM = 64, BN = 64, BK = 16, TM = 4, TN = 4, THREADS = 256;

// Loads the BM x BK tile of op(A) at rows m0, depth k0 (zero outside [0, M) x [.., k_end)), handing each
// element to put(mm, kk, v). Consecutive threads read consecutive addresses of A as stored ([M, K], or [K, M]
// if TA).
template <bool TA, typename Put>
__device__ __forceinline__ void load_a_tile(const float* __restrict__ A, int lda, int M, int m0, int k0,
                                            int k_end, int tid, Put put) {
#pragma unroll
  for (int i = 0; i < (BM * BK) / THREADS; ++i) {
    const int e = tid + i * THREADS;
    int mm, kk;
    if (TA)
      kk = e / BM, mm = e % BM;
    else
      mm = e / BK, kk = e % BK;
    const int gm = m0 + mm, gk = k0 + kk;
    float v = 0.0f;
    if (gm < M && gk < k_end) v = TA ? A[(long long)gk * lda + gm] : A[(long long)gm * lda + gk];
    put(mm, kk, v);
  }
}

// The BK x BN tile of op(B) at depth k0, columns n0, as put(kk, nn, v); B is stored [K, N], or [N, K] if TB.
template <bool TB, typename Put>
__device__ __forceinline__ void load_b_tile(const float* __restrict__ B, int ldb, int N, int n0, int k0,
                                            int k_end, int tid, Put put) {
#pragma unroll
  for (int i = 0; i < (BN * BK) / THREADS; ++i) {
    const int e = tid + i * THREADS;
    int nn, kk;
    if (TB)
      nn = e / BK, kk = e % BK;
    else
      kk = e / BN, nn = e % BN;
    const int gn = n0 + nn, gk = k0 + kk;
    float v = 0.0f;
    if (gn < N && gk < k_end) v = TB ? B[(long long)gn * ldb + gk] : B[(long long)gk * ldb + gn];
    put(kk, nn, v);
  }
}

template <bool TA, bool TB>
__global__ void __launch_bounds__(THREADS)
    sgemm_kernel(int M, int N, int K, const float* __restrict__ A, int lda, const float* __restrict__ B,
                 int ldb, float* __restrict__ C, int ldc, long long split_stride, int k_per_split,
                 const float* __restrict__ bias, Act act, float alpha, float* __restrict__ pre,
                 bool accumulate) {
  // A's rows are padded by 4 floats: the untransposed load writes a column of the tile (16 k values per m),
  // which without padding would hit 2 of the 32 banks; rows stay 16-byte aligned for the float4 reads.
  __shared__ __align__(16) float As[BK][BM + 4];
  __shared__ __align__(16) float Bs[BK][BN];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int m0 = blockIdx.x * BM,
            n0 = blockIdx.y * BN;  // M tiles on x: a batch's M can pass gridDim.y's 65535
  const int k_begin = blockIdx.z * k_per_split;
  const int k_end = min(K, k_begin + k_per_split);
  C += blockIdx.z * split_stride;

  float acc[TM][TN] = {};
  for (int k0 = k_begin; k0 < k_end; k0 += BK) {
    load_a_tile<TA>(A, lda, M, m0, k0, k_end, tid, [&](int mm, int kk, float v) { As[kk][mm] = v; });
    load_b_tile<TB>(B, ldb, N, n0, k0, k_end, tid, [&](int kk, int nn, float v) { Bs[kk][nn] = v; });
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      const float4 a = *reinterpret_cast<const float4*>(&As[kk][ty * TM]);
      const float4 b = *reinterpret_cast<const float4*>(&Bs[kk][tx * TN]);
      const float av[TM] = {a.x, a.y, a.z, a.w}, bv[TN] = {b.x, b.y, b.z, b.w};
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int gm = m0 + ty * TM + i;
    if (gm >= M) continue;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int gn = n0 + tx * TN + j;
      if (gn >= N) continue;
      float* dst = C + (long long)gm * ldc + gn;
      float v = acc[i][j];
      if (accumulate) v += *dst;
      if (bias) v += bias[gn];
      if (pre) pre[(long long)gm * ldc + gn] = v;
      *dst = act_epilogue(act, v, alpha);
    }
  }
}

// The tensor-core variant (sm_80 and newer, when KERNELNET_TF32=1): the same 64 x 64 block tiles, loads,
// split-K and epilogue, with each of the 8 warps computing a 16 x 32 piece as two 16 x 16 x 8 WMMA fragments.
// Inputs are rounded to TF32 (10-bit mantissa, as TensorFlow and cuDNN do by default on these GPUs) and the
// products summed in FP32. Small integers are exact in TF32, so integer data still matches the CPU bit for
// bit.
template <bool TA, bool TB>
__global__ void __launch_bounds__(THREADS)
    sgemm_tf32_kernel(int M, int N, int K, const float* __restrict__ A, int lda, const float* __restrict__ B,
                      int ldb, float* __restrict__ C, int ldc, long long split_stride, int k_per_split,
                      const float* __restrict__ bias, Act act, float alpha, float* __restrict__ pre,
                      bool accumulate) {
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800) || defined(KERNELNET_CUDA_EMULATED)
  using namespace nvcuda;
  // Row strides padded by 4 floats; every fragment pointer stays 32-byte aligned, as WMMA requires.
  constexpr int LDA = BK + 4, LDB = BN + 4, LDC = BN + 4;
  __shared__ __align__(32) float As[BM * LDA];  // [m][k]
  __shared__ __align__(32) float Bs[BK * LDB];  // [k][n]
  __shared__ __align__(32) float Cs[BM * LDC];  // the block's results, for the epilogue
  const int tid = threadIdx.x, warp = tid / 32;
  const int wm = (warp % 4) * 16, wn = (warp / 4) * 32;
  const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
  const int k_begin = blockIdx.z * k_per_split;
  const int k_end = min(K, k_begin + k_per_split);
  C += blockIdx.z * split_stride;

  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[2];
  wmma::fill_fragment(acc[0], 0.0f);
  wmma::fill_fragment(acc[1], 0.0f);
  for (int k0 = k_begin; k0 < k_end; k0 += BK) {
    load_a_tile<TA>(A, lda, M, m0, k0, k_end, tid, [&](int mm, int kk, float v) { As[mm * LDA + kk] = v; });
    load_b_tile<TB>(B, ldb, N, n0, k0, k_end, tid, [&](int kk, int nn, float v) { Bs[kk * LDB + nn] = v; });
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < BK; kk += 8) {
      wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> a;
      wmma::load_matrix_sync(a, As + wm * LDA + kk, LDA);
#pragma unroll
      for (int t = 0; t < a.num_elements; ++t) a.x[t] = wmma::__float_to_tf32(a.x[t]);
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> b;
        wmma::load_matrix_sync(b, Bs + kk * LDB + wn + 16 * j, LDB);
#pragma unroll
        for (int t = 0; t < b.num_elements; ++t) b.x[t] = wmma::__float_to_tf32(b.x[t]);
        wmma::mma_sync(acc[j], a, b, acc[j]);
      }
    }
    __syncthreads();
  }
  wmma::store_matrix_sync(Cs + wm * LDC + wn, acc[0], LDC, wmma::mem_row_major);
  wmma::store_matrix_sync(Cs + wm * LDC + wn + 16, acc[1], LDC, wmma::mem_row_major);
  __syncthreads();
  for (int e = tid; e < BM * BN; e += THREADS) {
    const int r = e / BN, col = e % BN, gm = m0 + r, gn = n0 + col;
    if (gm >= M || gn >= N) continue;
    float* dst = C + (long long)gm * ldc + gn;
    float v = Cs[r * LDC + col];
    if (accumulate) v += *dst;
    if (bias) v += bias[gn];
    if (pre) pre[(long long)gm * ldc + gn] = v;
    *dst = act_epilogue(act, v, alpha);
  }
#elif defined(__CUDA_ARCH__)
  // Compiled for a GPU without TF32 tensor cores (or as its PTX): empty, it would write nothing. The host
  // never launches it there (tf32_kernel_usable), and a launch that got here anyway fails loudly instead.
  __trap();
#endif
}

// C[i, j] (+)= sum_z partial[z, i, j], summed in z order, then the epilogue.
// Index math in I (with_index_type: every partial and every element of C).
template <typename I>
__global__ void splitk_reduce_kernel(int M, int N, int splits, const float* __restrict__ partial,
                                     float* __restrict__ C, int ldc, const float* __restrict__ bias, Act act,
                                     float alpha, float* __restrict__ pre, bool accumulate) {
  const I i = blockIdx.x * (I)blockDim.x + threadIdx.x;
  const I mn = (I)M * (I)N;
  if (i >= mn) return;
  const I r = i / (I)N, col = i % (I)N;
  float v = 0.0f;
  for (int z = 0; z < splits; ++z) v += partial[(I)z * mn + i];
  float* dst = C + r * (I)ldc + col;
  if (accumulate) v += *dst;
  if (bias) v += bias[col];
  if (pre) pre[r * (I)ldc + col] = v;
  *dst = act_epilogue(act, v, alpha);
}

// partial[p, j] = sum of x[i, j] over rows i = p*8 + ty (mod parts*8); 32 columns x 8 row lanes per block.
__global__ void column_sums_kernel(const float* __restrict__ x, int M, int N, float* __restrict__ partial) {
  __shared__ float sums[8][33];
  const int col = blockIdx.x * 32 + threadIdx.x;
  float s = 0.0f;
  if (col < N)
    for (int r = blockIdx.y * 8 + threadIdx.y; r < M; r += gridDim.y * 8) s += x[(long long)r * N + col];
  sums[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && col < N) {
    for (int t = 1; t < 8; ++t) s += sums[t][threadIdx.x];
    partial[(long long)blockIdx.y * N + col] = s;
  }
}

__global__ void sum_parts_kernel(const float* __restrict__ partial, int parts, int N,
                                 float* __restrict__ out) {
  const int col = blockIdx.x * blockDim.x + threadIdx.x;
  if (col >= N) return;
  float s = 0.0f;
  for (int p = 0; p < parts; ++p) s += partial[(long long)p * N + col];
  out[col] = s;
}

__global__ void act_mask_kernel(Act act, float alpha, const float* __restrict__ y,
                                const float* __restrict__ pre, const float* __restrict__ dy,
                                float* __restrict__ dz, long long n) {
  const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (i < n) dz[i] = act_backward(act, y[i], pre ? pre[i] : 0.0f, dy[i], alpha);
}

}  // namespace

// Whether the TF32 kernel the runtime loaded for this device has its body: compiled from compute_80 or newer.
// A binary for an older GPU (or only its PTX, JIT-compiled for a newer one) carries the empty variant, so
// KERNELNET_TF32 must not route GEMMs there even where the device itself has tensor cores.
bool tf32_kernel_usable() {
  cudaFuncAttributes attr;
  if (cudaFuncGetAttributes(&attr, sgemm_tf32_kernel<false, false>) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return attr.ptxVersion >= 80;
}

Status launch_sgemm(cudaStream_t stream, bool ta, bool tb, int m, int n, int k, const float* a, int lda,
                    const float* b, int ldb, float* c, int ldc, const Epilogue& ep, bool accumulate,
                    int splits, float* partial, bool tf32) {
  if (m <= 0 || n <= 0) return Status::Ok();
  KN_EXPECT(k >= 0 && a && b && c, "launch_sgemm");
  KN_EXPECT(lda >= (ta ? m : k) && ldb >= (tb ? k : n) && ldc >= n, "launch_sgemm");
  KN_EXPECT(splits >= 1 && (splits == 1 || partial), "launch_sgemm");
  const int kps = splits > 1 ? CEIL_DIV(CEIL_DIV(k, splits), BK) * BK : (k > 0 ? k : 1);
  const int z = splits > 1 ? CEIL_DIV(k, kps) : 1;
  KN_EXPECT(CEIL_DIV(n, BN) <= 65535 && z <= 65535, "launch_sgemm");
  const dim3 grid(CEIL_DIV(m, BM), CEIL_DIV(n, BN), z), block(THREADS);
  float* out = splits > 1 ? partial : c;
  const int ldo = splits > 1 ? n : ldc;
  const long long stride = splits > 1 ? (long long)m * n : 0;
  const float* ep_bias = splits > 1 ? nullptr : ep.bias;
  const Act ep_act = splits > 1 ? Act::kLinear : ep.act;
  float* ep_pre = splits > 1 ? nullptr : ep.pre;
  const bool ep_acc = splits > 1 ? false : accumulate;
  // The variant for (transposes, math mode), chosen at run time among the compiled instances.
  using Kernel = decltype(&sgemm_kernel<false, false>);
  const Kernel variants[2][2][2] = {{{sgemm_kernel<false, false>, sgemm_kernel<false, true>},
                                     {sgemm_kernel<true, false>, sgemm_kernel<true, true>}},
                                    {{sgemm_tf32_kernel<false, false>, sgemm_tf32_kernel<false, true>},
                                     {sgemm_tf32_kernel<true, false>, sgemm_tf32_kernel<true, true>}}};
  const Kernel kernel = variants[tf32][ta][tb];
  launch(kernel, grid, block, 0, stream, m, n, k, a, lda, b, ldb, out, ldo, stride, kps, ep_bias, ep_act,
         ep.alpha, ep_pre, ep_acc);
  KN_LAUNCHED(stream, tf32 ? "sgemm_tf32_kernel" : "sgemm_kernel");
  if (splits > 1) {
    const long long mn = (long long)m * n;
    with_index_type(std::max(mn * z, (long long)m * ldc), [&](auto index) {
      using I = decltype(index);
      launch(splitk_reduce_kernel<I>, CEIL_DIV(mn, 256), 256, 0, stream, m, n, z, partial, c, ldc, ep.bias,
             ep.act, ep.alpha, ep.pre, accumulate);
    });
    KN_LAUNCHED(stream, "splitk_reduce_kernel");
  }
  return Status::Ok();
}

Status launch_column_sums(cudaStream_t stream, const float* x, int m, int n, float* out, int parts,
                          float* partial) {
  if (n <= 0) return Status::Ok();
  KN_EXPECT(m >= 0 && parts >= 1 && parts <= 65535 && x && out && partial, "launch_column_sums");
  launch(column_sums_kernel, dim3(CEIL_DIV(n, 32), parts), dim3(32, 8), 0, stream, x, m, n, partial);
  KN_LAUNCHED(stream, "column_sums_kernel");
  launch(sum_parts_kernel, CEIL_DIV(n, 256), 256, 0, stream, partial, parts, n, out);
  KN_LAUNCHED(stream, "sum_parts_kernel");
  return Status::Ok();
}

// The split-K policy and the scratch of the backend's GEMMs (launch_sgemm above does the work).
Status CudaBackend::gemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b,
                         int ldb, float* c, int ldc, const Epilogue& ep, bool accumulate) {
  // Split K when the output tiles alone leave most SMs idle and K is long enough to share out.
  const long long tiles = (long long)CEIL_DIV(m, kGemmTile) * CEIL_DIV(n, kGemmTile);
  int splits = 1;
  if (tiles < 2LL * sm_count_ && k >= 1024) {
    splits = (int)std::min<long long>(CEIL_DIV(2LL * sm_count_, tiles), k / 256);
    splits = std::max(1, std::min(splits, 64));
  }
  float* partial = nullptr;
  if (splits > 1) {
    void* p;
    KN_TRY(scratch(kSplitK, sizeof(float) * (std::size_t)splits * m * n, &p));
    partial = static_cast<float*>(p);
  }
  return launch_sgemm(stream(), ta, tb, m, n, k, a, lda, b, ldb, c, ldc, ep, accumulate, splits, partial,
                      tf32_);
}

// out[j] = sum_i x[i, j]: row groups (at most 256, of 256 rows) summed into scratch, then the groups.
Status CudaBackend::column_sums(const float* x, long long rows, int cols, float* out) {
  const int parts = (int)std::min<long long>(std::max<long long>(CEIL_DIV(rows, 256), 1), 256);
  void* partial;
  KN_TRY(scratch(kColSum, sizeof(float) * parts * std::max(cols, 1), &partial));
  return launch_column_sums(stream(), x, rows, cols, out, parts, static_cast<float*>(partial));
}

// The fused epilogue's backward (epilogue.h), shared by conv and dense.
Status CudaBackend::act_mask(const Epilogue& ep, std::size_t count, const float* y, const float* dy,
                             const float** dz) {
  *dz = dy;
  if (ep.act == Act::kLinear) return Status::Ok();
  void* p;
  KN_TRY(scratch(kDz, count * sizeof(float), &p));
  *dz = static_cast<float*>(p);
  if (!count) return Status::Ok();  // a grid of zero blocks is a launch error
  launch(act_mask_kernel, CEIL_DIV((long long)count, 256), 256, 0, stream(), ep.act, ep.alpha, y,
         static_cast<const float*>(ep.pre), dy, static_cast<float*>(p), count);
  KN_LAUNCHED(stream(), "act_mask_kernel");
  return Status::Ok();
}

}  // namespace cu
}  // namespace kn
