// Single-precision GEMM for the CPU backend (row-major):
//   C[M, N] = op(A)[M, K] * op(B)[K, N]      (accumulate = false)
//   C[M, N] += op(A)[M, K] * op(B)[K, N]     (accumulate = true)
// op(X) is X or its transpose; lda/ldb/ldc are row strides of the stored matrices. Goto-style blocking:
// packed B panels (KC x NR) stay in L1, packed A blocks (MC x KC) in L2, and a 6x16 register-blocked
// micro-kernel. The micro-kernel is compiled twice, for AVX2+FMA and for baseline x86-64, and picked at run
// time (KERNELNET_CPU=generic forces the baseline), so the shipped binary runs on any x86-64 CPU.
#pragma once

namespace kn {

void sgemm(bool trans_a, bool trans_b, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
           float* c, int ldc, bool accumulate);

// The same, split across the thread pool along the larger of M and N.
void sgemm_parallel(bool trans_a, bool trans_b, int m, int n, int k, const float* a, int lda, const float* b,
                    int ldb, float* c, int ldc, bool accumulate);

// "avx2+fma" or "generic" (x86-64), "neon" (AArch64): the micro-kernel in use.
const char* gemm_kernel_name();

// The CPU's measured single-precision peak, in GFLOP/s, on all pool threads: the best of repeated runs of
// independent multiply-add chains (with the same instruction set as the GEMM) over about `seconds`.
double measure_peak_gflops(double seconds);

}  // namespace kn
