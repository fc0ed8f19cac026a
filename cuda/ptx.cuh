// The few PTX instructions the tensor-core kernels use that CUDA C++ does not expose, as inline functions:
// TF32 rounding, the warp-wide mma.sync m16n8k8 TF32 product, and cp.async (global to shared memory without
// passing through registers, in groups a thread waits for). Every one needs sm_80 or newer; callers compile
// them under `__CUDA_ARCH__ >= 800`. On the emulated GPU the same names run emulate/ptx.h's models: mma.sync
// there rebuilds the warp's matrices from the PTX ISA's per-lane fragment tables, so a kernel that puts a
// value in the wrong register fails its test against the CPU.
#pragma once
#include <cstdint>

#ifdef KERNELNET_CUDA_EMULATED
#include "emulate/ptx.h"
#endif

namespace kn {
namespace cu {
namespace ptx {

#ifdef KERNELNET_CUDA_EMULATED
using ::kn_emu::ptx::cp_async;
using ::kn_emu::ptx::cp_async_commit;
using ::kn_emu::ptx::cp_async_wait;
using ::kn_emu::ptx::mma_tf32_16x8x8;
using ::kn_emu::ptx::to_tf32;
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800

// x rounded to TF32 (10 mantissa bits, to nearest, ties away from zero), as the tensor cores' operand.
__device__ __forceinline__ uint32_t to_tf32(float x) {
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
  return r;
}

// d[16 x 8] += a[16 x 8] b[8 x 8] over the warp, FP32 accumulation. Lane l = 4 g + t holds (PTX ISA, "Matrix
// Fragments for mma.m16n8k8", .tf32): a = {A[g][t], A[g+8][t], A[g][t+4], A[g+8][t+4]}, b = {B[t][g],
// B[t+4][g]}, d = {D[g][2t], D[g][2t+1], D[g+8][2t], D[g+8][2t+1]}.
__device__ __forceinline__ void mma_tf32_16x8x8(float (&d)[4], const uint32_t (&a)[4],
                                                const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// Copies src_bytes (0 to BYTES) from global src to shared dst and zero-fills the rest of BYTES (4 or 16),
// asynchronously: visible to this thread after cp_async_wait, to the block after that and a barrier. Both
// addresses must be aligned to BYTES, src even when src_bytes is 0.
// KEEP_L1: a 16-byte copy cached in L1 too (.ca), for gathers that read the same input lines again (the
// implicit GEMMs' taps of a convolution: up to KH*KW reads of each input value within a block's tiles); else
// .cg, through L2 only, for operand tiles read once per block.
template <int BYTES, bool KEEP_L1 = false>
__device__ __forceinline__ void cp_async(void* dst, const void* src, int src_bytes) {
  static_assert(BYTES == 4 || BYTES == 16, "cp.async copies 4 or 16 bytes here");
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  if constexpr (BYTES == 16 && KEEP_L1)
    asm volatile("cp.async.ca.shared.global [%0], [%1], 16, %2;" ::"r"(s), "l"(src), "r"(src_bytes)
                 : "memory");
  else if constexpr (BYTES == 16)
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(s), "l"(src), "r"(src_bytes)
                 : "memory");
  else
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" ::"r"(s), "l"(src), "r"(src_bytes)
                 : "memory");
}
// Closes the group of this thread's cp.async issued since the last commit.
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;" ::: "memory");
}
// Waits until at most PENDING of this thread's committed groups are still in flight.
template <int PENDING>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(PENDING) : "memory");
}
#else
// The host pass and GPUs before sm_80 only see the names (the kernels' bodies that call them are compiled
// for sm_80 and newer).
__device__ uint32_t to_tf32(float x);
__device__ void mma_tf32_16x8x8(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]);
template <int BYTES, bool KEEP_L1 = false>
__device__ void cp_async(void* dst, const void* src, int src_bytes);
__device__ void cp_async_commit();
template <int PENDING>
__device__ void cp_async_wait();
#endif

}  // namespace ptx
}  // namespace cu
}  // namespace kn
