// Kernel lab only (bench/lab.ts through gemmVariant, GemmKernel::kWmmaTf32): production runs kernel 1 or 3.
// The first tensor-core GEMM, kept so that the lab can still time it beside the one that replaced it.
// Included by cuda/gemm.cu inside its anonymous namespace, after the SIMT kernel's tile loaders and epilogue
// (load_a_tile, load_b_tile, epilogue_one, BM/BN/BK/THREADS), which it shares; not a header on its own.
#pragma once

// The first tensor-core variant (kernel 2, kept in the lab; sgemm_mma_kernel below replaced it in
// production): the same 64 x 64 block tiles, loads, split-K and epilogue as the SIMT kernel, with each of the
// 8 warps computing a 16 x 32 piece as two 16 x 16 x 8 WMMA fragments. Inputs are rounded to TF32 (10-bit
// mantissa, as TensorFlow and cuDNN do by default on these GPUs) and the products summed in FP32. Small
// integers are exact in TF32, so integer data still matches the CPU bit for bit.
template <bool TA, bool TB>
__global__ void __launch_bounds__(THREADS)
    sgemm_tf32_kernel(int M, int N, int K, const float* __restrict__ A, int lda, const float* __restrict__ B,
                      int ldb, float* __restrict__ C, int ldc, long long split_stride, int k_per_split,
                      Epilogue ep, bool accumulate, ConvGeom) {
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
    load_a_tile<layout::Simt, TA>(A, lda, M, m0, k0, k_end, tid, [&](int mm, int kk, bool in, auto at) {
      As[mm * LDA + kk] = in ? *at() : 0.0f;
    });
    load_b_tile<layout::Simt, TB>(B, ldb, N, n0, k0, k_end, tid, [&](int kk, int nn, bool in, auto at) {
      Bs[kk * LDB + nn] = in ? *at() : 0.0f;
    });
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
    if (gm < M && gn < N) epilogue_one(ep, accumulate, C, (long long)gm * ldc + gn, gn, Cs[r * LDC + col]);
  }
#elif defined(__CUDA_ARCH__)
  // Compiled for a GPU without TF32 tensor cores (or as its PTX): empty, it would write nothing. The host
  // never launches it there (tf32_kernel_usable), and a launch that got here anyway fails loudly instead.
  __trap();
#endif
}
