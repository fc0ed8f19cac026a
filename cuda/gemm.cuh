// SGEMM and column sums, the building blocks of convolution and dense layers (gemm.cu).
#pragma once
#include <cuda_runtime.h>

#include "backend.h"

namespace kn {
namespace cu {

// C (+)= op(A)[M, K] op(B)[K, N], row-major, then the epilogue (epilogue.h): + bias[col] when bias is not
// null, the pre-activation stored at ep.pre (laid out as C) when it is not null, then act, then (an input
// gradient's) the layer below's act' from ep.below.y (laid out as C). With splits > 1,
// block z computes K range z of `splits` into partial[z] (M x N each) and a second kernel sums them into C.
// `kernel` picks the implementation: the GEMM family's numbered variants (the kernel lab, bench/lab.ts, times
// them side by side); the TF32 ones use the tensor cores (sm_80 and newer only) with inputs rounded to TF32.
enum class GemmKernel : int {
  kSimt = 1,      // FP32 on the CUDA cores, 4 x 4 or 8 x 4 outputs per thread (gemm_layout.cuh): without TF32
  kWmmaTf32 = 2,  // WMMA 16x16x8 TF32, 64 x 64 tiles, loads through registers
  kMmaTf32 = 3,   // mma.sync m16n8k8 TF32, 128 x 64 tiles, 3-stage cp.async: production with TF32
};
constexpr int kGemmKernels = 3;
const char* gemm_kernel_name(GemmKernel kernel);  // "3 mma-tf32-128x64-cp.async-3stage"
int gemm_tile_m(GemmKernel kernel);               // rows of C per block
// A convolution's geometry (channels-last x [N, H, W, C], kernel KH x KW, output OH x OW) for the implicit
// GEMM: with `conv`, A is x and op(A) is x's im2col matrix (forward: [N*OH*OW, KH*KW*C]) or its transpose
// (ta: the weight gradient's), gathered tile by tile and never stored. Kernel 1 (any C), or kernel 3 with
// C % 4 == 0 and 16-byte aligned x and B.
// With input_grad (stride 1 only), A is the output gradient dz and B the weights w, and the product is the
// input gradient dx [N*H*W, C] (K = KH*KW*F): neither dz's column matrix nor col2im.
// With pool_h > 0 (forward only), a max-pool with non-overlapping pool_h x pool_w windows (2 or 4 positions,
// no padding) over the conv's output [N, OH, OW, F] runs in the epilogue: the GEMM's rows are the conv's
// output pixels window by window (M = windows * positions, windows in the pooled output's order [N, POH,
// POW]), and C receives the pooled output [windows, F] and `argmax` the flat index (oy * OW + ox) * F + f of
// each window's first maximum, as maxpool2d_forward writes them; the conv's output is never stored.
// With `dropped` as well (kernel 1, F a multiple of 4: a thread's 4 filters are one Philox block), the pooled
// output through an inverted dropout, as dropout_kernel writes it: the mask of pooled element o is word o % 4
// of Philox block o / 4 under (drop_seed, drop_offset + *drop_counter).
struct ConvGeom {
  int h, w, c, kw, oh, ow, sh, sw, pt, pl, dh, dw, f;
  bool input_grad;
  int pool_h = 0, pool_w = 0, pool_oh = 0, pool_ow = 0;
  int32_t* argmax = nullptr;
  float* dropped = nullptr;
  float drop_rate = 0.0f, drop_scale = 1.0f;
  unsigned long long drop_seed = 0, drop_offset = 0;
  const int32_t* drop_counter = nullptr;
};
Status launch_sgemm(cudaStream_t stream, bool ta, bool tb, int m, int n, int k, const float* a, int lda,
                    const float* b, int ldb, float* c, int ldc, const Epilogue& ep, bool accumulate,
                    int splits, float* partial, GemmKernel kernel, const ConvGeom* conv = nullptr,
                    int sm_count = 0);

// C[r, j] = C[r, j] * act'(below.y[r, j]) over an [M, N] matrix with rows of ldc (BelowAct, epilogue.h): the
// layer below's activation where an epilogue does not apply it (below_in_epilogue); launch_sgemm calls it.
Status launch_below_pass(cudaStream_t stream, const BelowAct& below, float* c, long long m, int n, int ldc);

// out[j] = sum_i x[i, j] over an [M, N] matrix, via `parts` row groups written to partial[parts, N].
// out[j] = sum_p partial[p * stride + j] for j < n, in a fixed order (a tree over the parts); with out2, the
// next n2 columns the same into out2 (a weight gradient and its bias side by side: one launch).
Status launch_sum_parts(cudaStream_t stream, const float* partial, int parts, int stride, int n, float* out,
                        int n2 = 0, float* out2 = nullptr);
Status launch_column_sums(cudaStream_t stream, const float* x, int m, int n, float* out, int parts,
                          float* partial);

constexpr int kGemmTile = 64;
// The split-K policy's target of blocks per GEMM (gemm.cu, CudaBackend::gemm_with): two per SM of an H100 SXM
// (132 SMs), fixed so that no device property changes the order of a sum.
constexpr long long kSplitKBlocks = 264;

}  // namespace cu
}  // namespace kn
