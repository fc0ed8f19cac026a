// SGEMM and column sums, the building blocks of convolution and dense layers (gemm.cu).
#pragma once
#include <cuda_runtime.h>

#include "backend.h"

namespace kn {
namespace cu {

// C (+)= op(A)[M, K] op(B)[K, N], row-major, then the epilogue (epilogue.h): + bias[col] when bias is not
// null, the pre-activation stored at ep.pre (laid out as C) when it is not null, then act. With splits > 1,
// block z computes K range z of `splits` into partial[z] (M x N each) and a second kernel sums them into C.
// tf32 uses the tensor cores (sm_80 and newer only) with inputs rounded to TF32.
Status launch_sgemm(cudaStream_t stream, bool ta, bool tb, int m, int n, int k, const float* a, int lda,
                    const float* b, int ldb, float* c, int ldc, const Epilogue& ep, bool accumulate,
                    int splits, float* partial, bool tf32);

// out[j] = sum_i x[i, j] over an [M, N] matrix, via `parts` row groups written to partial[parts, N].
Status launch_column_sums(cudaStream_t stream, const float* x, int m, int n, float* out, int parts,
                          float* partial);

constexpr int kGemmTile = 64;

}  // namespace cu
}  // namespace kn
