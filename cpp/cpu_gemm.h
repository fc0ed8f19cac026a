// Single-precision GEMM for the CPU backend (row-major):
//   C[M, N] = op(A)[M, K] * op(B)[K, N]      (accumulate = false)
//   C[M, N] += op(A)[M, K] * op(B)[K, N]     (accumulate = true)
// op(X) is X or its transpose; lda/ldb/ldc are row strides of the stored matrices. Goto-style blocking:
// packed B panels (KC x NR) stay in L1, packed A blocks (MC x KC) in L2, and a 6x16 register-blocked
// micro-kernel. The micro-kernel is compiled twice, for AVX2+FMA and for baseline x86-64, and picked at run
// time (KERNELNET_CPU=generic forces the baseline), so the shipped binary runs on any x86-64 CPU.
#pragma once
#include <cstddef>
#include <functional>

namespace kn {

void sgemm(bool trans_a, bool trans_b, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
           float* c, int ldc, bool accumulate);

// The same, split across the thread pool along the larger of M and N.
void sgemm_parallel(bool trans_a, bool trans_b, int m, int n, int k, const float* a, int lda, const float* b,
                    int ldb, float* c, int ldc, bool accumulate);

// Implicit GEMM, for convolutions without a column matrix:
//   C[m, n] (=|+=) sum over t < taps, k < kt of A(r, t)[k] * B[t*kt + k, n]
// where A(r, t) = a_rows[r * taps + t] is a run of kt floats (a tap's channels at output pixel r, or `zeros`,
// at least kt zero floats, where the tap falls outside the input) and bp is B packed by pack_b_all. No copy
// of A is made: the micro-kernel broadcasts from the runs in place. `done(r0, rows)` is called as each block
// of rows of C is complete, while it is still in cache (the epilogue's place).
using RowsDone = std::function<void(int, int)>;
void igemm(int m, int n, int taps, int kt, const float* const* a_rows, const float* bp, const float* zeros,
           float* c, int ldc, bool accumulate, const RowsDone& done = nullptr);
// igemm's product for one tap with B read in place, row-major [k, n] with row length ldb: C[m, n] = sum_k
// A(r)[k] * B[k, n], A(r) = a_rows[r] (k floats; `zeros` holds at least k zeros). For a few rows of A, where
// packing B would cost more than the product (each element of B is read once per 6 rows of C): the full
// column panels are read in place, the last partial one from a small packed copy. The same arithmetic in the
// same order as igemm's, so the results are bit-identical to igemm(m, n, 1, k, ...).
void gemm_rows_b(int m, int n, int k, const float* const* a_rows, const float* b, int ldb, const float* zeros,
                 float* c, int ldc);
// op(B)[k, n] packed into the panels igemm reads: packed_b_floats(k, n) floats.
std::size_t packed_b_floats(int k, int n);
void pack_b_all(bool trans_b, const float* b, int ldb, int k, int n, float* out);
// The width of igemm's and gemm_at_rows's column panels (n of gemm_at_rows must be a multiple of it).
int gemm_panel_width();

//   C[m, n] += sum_k A[k, m] * B(k)[n], with A stored [k][lda] and B(k) = b_rows[k] a run of n floats (a row
//   of
// the weight gradient's implicit column matrix): the weight gradient of a convolution with no column matrix
// and no packing. n % gemm_panel_width() == 0.
void gemm_at_rows(int m, int n, int k, const float* a, int lda, const float* const* b_rows, float* c,
                  int ldc);

// Whether the AVX2 + FMA kernels are in use (x86-64 with both, unless KERNELNET_CPU=generic).
bool gemm_uses_avx2();

// "avx2+fma" or "generic" (x86-64), "neon" (AArch64): the micro-kernel in use.
const char* gemm_kernel_name();

// The CPU's measured single-precision peak, in GFLOP/s, on all pool threads: the best of repeated runs of
// independent multiply-add chains (with the same instruction set as the GEMM) over about `seconds`.
double measure_peak_gflops(double seconds);

}  // namespace kn
