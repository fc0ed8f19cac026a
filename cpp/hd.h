// KN_HD marks a small function that both backends share: inline on the host, and under nvcc compiled for the
// device too (philox.h, epilogue.h).
#pragma once

#if defined(__CUDACC__)
#define KN_HD __host__ __device__ __forceinline__
#else
#define KN_HD inline
#endif
