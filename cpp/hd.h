// KN_HD marks a small function that both backends share: inline on the host, and under nvcc compiled for the
// device too (philox.h, epilogue.h).
#pragma once

// KN_UNROLL before a loop of constant trip count unrolls it under nvcc (so that a by-value struct's arrays
// are indexed by constants, in registers); nothing on the host.
#if defined(__CUDACC__)
#define KN_HD __host__ __device__ __forceinline__
#define KN_UNROLL _Pragma("unroll")
#else
#define KN_HD inline
#define KN_UNROLL
#endif
