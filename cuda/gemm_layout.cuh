// Where the GEMM kernels (gemm.cu) put their operand tiles in shared memory and where each thread reads them,
// as functions of the thread's index, so that the kernels and the bank-conflict check (test/banks.test.ts
// runs test/native/banks.cc over these same functions) evaluate one set of formulas. Offsets are in 4-byte
// words; shared memory has 32 banks of 4 bytes (bank = word % 32), and a warp's access takes one pass per
// distinct word in its busiest bank (16-byte accesses go 8 lanes at a time, 8-byte ones 16 at a time).
#pragma once
#include "hd.h"

namespace kn {
namespace cu {
namespace layout {

// Kernel 1, the FP32 SIMT GEMM: BM x BN x BK tiles, each thread with a TM x TN block of outputs (TN = 4: a
// row's 4 columns, one float4). Both tiles are stored k-major, As[k][m] and Bs[k][n], rows padded by 4 words
// (rows stay 16-byte aligned for the float4 reads; without the padding the transposed loads' stores put 16
// lanes on one bank). Two micro-tiles, the same sums in the same order (each output a thread's sequential
// fmaf over k), so the choice between them changes the speed and never the bits:
// - 4 x 4 per thread (16 FMA per 8 floats read from shared memory): Simt (64 x 64 x 16, 256 threads) serves
//   every product; SimtNarrow (128 x 32 x 8, 256 threads) the input gradient of a layer with at most 32
//   channels, whose 64-wide tiles would be half empty.
// - 8 x 4 per thread (32 FMA per 12 floats): SimtWide (128 x 64 x 16, 256 threads) and SimtWideNarrow (128 x
//   32 x 8, 128 threads), for products with enough blocks to fill the GPU (gemm.cu, simt_wide; two cp.async
//   stages on sm_80 and newer).
template <int BM_, int BN_, int BK_, int TM_ = 4>
struct SimtTile {
  static constexpr int BM = BM_, BN = BN_, BK = BK_, TM = TM_, TN = 4;
  static constexpr int COLS = BN / TN;              // threads across a row of the block's outputs
  static constexpr int THREADS = COLS * (BM / TM);  // one thread per TM x TN outputs
  static constexpr int LDA = BM + 4, LDB = BN + 4;
  static_assert(TM % 4 == 0 && BM % TM == 0 && THREADS % BK == 0 && THREADS % BM == 0 && THREADS % BN == 0,
                "every thread loads whole columns of its tiles");
  // Element e (= tid + i * THREADS) of the A tile load: m and k. Consecutive e read consecutive addresses of
  // A as stored: [M, K] (m = e / BK) or, transposed, [K, M] (m = e % BM).
  static KN_HD constexpr int a_load_m(bool ta, int e) { return ta ? e % BM : e / BK; }
  static KN_HD constexpr int a_load_k(bool ta, int e) { return ta ? e / BM : e % BK; }
  static KN_HD constexpr int b_load_n(bool tb, int e) { return tb ? e / BK : e % BN; }
  static KN_HD constexpr int b_load_k(bool tb, int e) { return tb ? e % BK : e / BN; }
  static KN_HD constexpr int a_word(int m, int k, int lda = LDA) { return k * lda + m; }
  static KN_HD constexpr int b_word(int k, int n, int ldb = LDB) { return k * ldb + n; }
  // The float4 reads of the inner loop: thread (tx, ty) = (tid % COLS, tid / COLS) reads A's TM rows from m =
  // ty * TM (TM / 4 float4s, the j-th at + 4 j) and B's 4 columns from n = tx * TN at depth k.
  static KN_HD constexpr int a_read_word(int tid, int k, int j = 0) {
    return a_word((tid / COLS) * TM + 4 * j, k);
  }
  static KN_HD constexpr int b_read_word(int tid, int k) { return b_word(k, (tid % COLS) * TN); }
};
using Simt = SimtTile<64, 64, 16>;
using SimtNarrow = SimtTile<128, 32, 8>;
using SimtWide = SimtTile<128, 64, 16, 8>;
using SimtWideNarrow = SimtTile<128, 32, 8, 8>;

// Kernel 3, the mma.sync TF32 GEMM: 128 x 64 x 16 tiles, 8 warps of 32 x 32 outputs (warp w at rows
// (w % 4) * 32, columns (w / 4) * 32), tiles stored as in global memory (cp.async cannot transpose).
namespace mma {
constexpr int BM = 128, BN = 64, BK = 16, THREADS = 256;
constexpr int LD_AM = BM + 8;  // A stored transposed, [K, M]: [k][m], rows padded
constexpr int LD_BN = BN + 8;  // B stored [K, N]: [k][n], rows padded
// Word of (row, col) in a tile of COLS columns. A tile of 16 (k contiguous: A [m][k], B transposed [n][k]) is
// unpadded, its 4-word chunks XOR-swizzled by row (chunk j of row r at chunk j ^ (r / 2 % 4)): both the
// fragment loads and the 16-byte cp.async stores are then free of conflicts, where a padding fixes only one.
// Wider tiles are padded to `ld` words per row.
template <int COLS>
KN_HD constexpr int tile_word(int row, int col, int ld) {
  if constexpr (COLS == BK)
    return row * BK + (col ^ (((row >> 1) & 3) << 2));
  else
    return row * ld + col;
}
// Register q of lane `lane`'s A fragment for rows r0.. r0 + 15 and depth kk.. kk + 7 (PTX ISA, mma.m16n8k8
// .tf32: lane = 4 g + t holds A[g][t], A[g+8][t], A[g][t+4], A[g+8][t+4]).
KN_HD constexpr int a_frag_m(int r0, int lane, int q) {
  return r0 + lane / 4 + (q & 1) * 8;
}
KN_HD constexpr int a_frag_k(int kk, int lane, int q) {
  return kk + lane % 4 + (q >> 1) * 4;
}
// Register q of the B fragment for columns n0.. n0 + 7: B[t][g], B[t+4][g].
KN_HD constexpr int b_frag_n(int n0, int lane) {
  return n0 + lane / 4;
}
KN_HD constexpr int b_frag_k(int kk, int lane, int q) {
  return kk + lane % 4 + q * 4;
}
KN_HD constexpr int a_word(bool ta, int m, int k) {
  return ta ? tile_word<BM>(k, m, LD_AM) : tile_word<BK>(m, k, 0);
}
KN_HD constexpr int b_word(bool tb, int k, int n) {
  return tb ? tile_word<BK>(n, k, 0) : tile_word<BN>(k, n, LD_BN);
}
// The kernel's form of the fragment words: per lane, the word of k chunk c (k = 4c + t, c < 4) at the warp's
// first row r0 (or column n0), computed once; then a row (column) offset dm, a multiple of 8, adds
// dm * a_row_step: a multiple of 8 rows keeps a swizzled row's (row / 2) % 4, so the offsets are constants
// the compiler folds into the loads. test/native/banks.cc checks this equals a_word(m, k) for every lane.
KN_HD constexpr int a_frag_base(bool ta, int r0, int lane, int c) {
  return a_word(ta, r0 + lane / 4, 4 * c + lane % 4);
}
KN_HD constexpr int a_row_step(bool ta) {
  return ta ? 1 : BK;
}
KN_HD constexpr int b_frag_base(bool tb, int n0, int lane, int c) {
  return b_word(tb, 4 * c + lane % 4, n0 + lane / 4);
}
KN_HD constexpr int b_col_step(bool tb) {
  return tb ? BK : 1;
}
// A register's k chunk: register q of the fragment at depth kk (a multiple of 8).
KN_HD constexpr int a_frag_chunk(int kk, int q) {
  return kk / 4 + (q >> 1);
}
KN_HD constexpr int b_frag_chunk(int kk, int q) {
  return kk / 4 + q;
}

// The cp.async copy of a ROWS x COLS tile (as stored) in runs of VEC floats: chunk c's row and column.
KN_HD constexpr int chunk_row(int cols, int vec, int c) {
  return c / (cols / vec);
}
KN_HD constexpr int chunk_col(int cols, int vec, int c) {
  return (c % (cols / vec)) * vec;
}
}  // namespace mma

}  // namespace layout
}  // namespace cu
}  // namespace kn
