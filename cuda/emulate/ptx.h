// The inline-PTX instructions of cuda/ptx.cuh on the emulated GPU (cuda_runtime.h), modelled from the PTX
// ISA:
// - mma.sync.m16n8k8 TF32 is warp-collective: every lane hands in its fragment registers, the warp's A, B and
//   C matrices are rebuilt from the ISA's per-lane fragment tables (not from any kernel's idea of them), and
//   each lane gets back its own elements of D. A kernel that loads a value into the wrong register computes a
//   different product, which the tests against the CPU see. The TF32 operands are read as the tensor cores
//   read them: the low 13 bits of each 32-bit register are ignored. Each product is summed in k order with
//   FMA.
// - cp.async is a synchronous copy with the zero fill; commit and wait do nothing (the copy has landed). Its
//   alignment rules are checked: a misaligned address, faulting on a GPU, aborts here with a message.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cuda_runtime.h"

namespace kn_emu {
namespace ptx {

inline uint32_t to_tf32(float x) {  // cvt.rna.tf32.f32: to nearest on the 13 dropped bits, ties away from 0
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if (!std::isfinite(x)) return u;
  return (u + 0x1000u) & 0xFFFFE000u;
}

inline float tf32_operand(uint32_t bits) {
  bits &= 0xFFFFE000u;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline void mma_tf32_16x8x8(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  note_sync("mma.sync");
  Warp& w = *block->warps[linear_tid / 32];
  if (w.lanes != 32) {
    std::fprintf(stderr, "cuda emulation: mma.sync in a warp of %d threads (it needs all 32)\n", w.lanes);
    std::abort();
  }
  const unsigned lane = linear_tid % 32;
  uint32_t* mine = w.frag[lane];
  for (int i = 0; i < 4; ++i) mine[i] = a[i];
  mine[4] = b[0], mine[5] = b[1];
  for (int i = 0; i < 4; ++i) std::memcpy(&mine[6 + i], &d[i], 4);
  w.bar.arrive_and_wait();
  float A[16][8], B[8][8], C[16][8];
  for (int l = 0; l < 32; ++l) {  // PTX ISA, "Matrix Fragments for mma.m16n8k8" (.tf32), lane l = 4 g + t
    const int g = l / 4, t = l % 4;
    const uint32_t* f = w.frag[l];
    A[g][t] = tf32_operand(f[0]), A[g + 8][t] = tf32_operand(f[1]);
    A[g][t + 4] = tf32_operand(f[2]), A[g + 8][t + 4] = tf32_operand(f[3]);
    B[t][g] = tf32_operand(f[4]), B[t + 4][g] = tf32_operand(f[5]);
    std::memcpy(&C[g][2 * t], &f[6], 4), std::memcpy(&C[g][2 * t + 1], &f[7], 4);
    std::memcpy(&C[g + 8][2 * t], &f[8], 4), std::memcpy(&C[g + 8][2 * t + 1], &f[9], 4);
  }
  w.bar.arrive_and_wait();  // every lane has read the exchange before any lane's next mma writes it
  const int g = lane / 4, t = lane % 4;
  const int rows[4] = {g, g, g + 8, g + 8}, cols[4] = {2 * t, 2 * t + 1, 2 * t, 2 * t + 1};
  for (int i = 0; i < 4; ++i) {
    float s = C[rows[i]][cols[i]];
    for (int k = 0; k < 8; ++k) s = std::fma(A[rows[i]][k], B[k][cols[i]], s);
    d[i] = s;
  }
}

template <int BYTES, bool KEEP_L1 = false>  // KEEP_L1: the cache hint (.ca or .cg), no difference here
inline void cp_async(void* dst, const void* src, int src_bytes) {
  static_assert(BYTES == 4 || BYTES == 16, "cp.async copies 4 or 16 bytes here");
  if (reinterpret_cast<uintptr_t>(dst) % BYTES || reinterpret_cast<uintptr_t>(src) % BYTES || src_bytes < 0 ||
      src_bytes > BYTES) {
    std::fprintf(stderr,
                 "cuda emulation: cp.async of %d bytes (%d from the source) from %p to %p: misaligned\n",
                 BYTES, src_bytes, src, dst);
    std::abort();
  }
  std::memcpy(dst, src, src_bytes);
  std::memset(static_cast<char*>(dst) + src_bytes, 0, BYTES - src_bytes);
}
inline void cp_async_commit() {}
template <int PENDING>
inline void cp_async_wait() {}

}  // namespace ptx
}  // namespace kn_emu
