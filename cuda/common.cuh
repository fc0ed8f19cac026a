// Shared by every kernel family: error handling, launch checks and launcher preconditions.
// CUDA errors never throw or exit: they become a Status with the error's name as `code` and the failing call
// as `message`, which the addon turns into a JS error. KERNELNET_CUDA_SYNC=1 synchronises after every launch,
// so an asynchronous fault is reported by the launch that caused it, and makes a recorded program replay its
// ops instead of launching its graph (graph.cu), so that its launches do so too.
#pragma once
#include <cuda_runtime.h>

#include <string>
#include <utility>

#include "backend.h"

#define CEIL_DIV(a, b) (((a) + (b)-1) / (b))

namespace kn {
namespace cu {

inline Status cuda_status(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return Status::Ok();
  cudaGetLastError();  // clear a non-sticky error (e.g. out of memory) so the process stays usable
  return Status{cudaGetErrorName(err), what};
}

bool debug_sync();

// counter_value() of backend.h, read on the device.
__device__ __forceinline__ unsigned long long device_counter(const int32_t* counter) {
  if (!counter) return 0;
  const int32_t v = *counter;
  return v > 0 ? static_cast<unsigned long long>(v) : 0;
}

// Checks the launch just made on `stream` (and, in debug mode, its completion).
// Notes a kernel launched into a graph capture on this thread (graph.cu: the program's kernel list).
void note_captured(const char* kernel);

inline Status check_launch(cudaStream_t stream, const char* kernel) {
  note_captured(kernel);
#ifdef KERNELNET_CUDA_EMULATED
  ::kn_emu::launched(kernel);  // names the kernel for an injected fault (emulate/cuda_runtime.h)
#endif
  cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess && debug_sync()) {
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    cudaStreamIsCapturing(stream, &capture);
    if (capture == cudaStreamCaptureStatusNone) err = cudaStreamSynchronize(stream);  // not while capturing
  }
  return cuda_status(err, kernel);
}

}  // namespace cu
}  // namespace kn

#define KN_TRY(expr)           \
  do {                         \
    ::kn::Status st_ = (expr); \
    if (!st_.ok()) return st_; \
  } while (0)
#define KN_CUDA(call) KN_TRY(::kn::cu::cuda_status((call), #call))
// Launches kernel<<<grid, block, shared, stream>>>(args...). Every kernel is launched through here, so that
// the emulated GPU (cuda/emulate, scripts/emulate-cuda.sh) compiles the very same sources: there a launch is
// a call run on CPU threads. KN_LAUNCHED checks the launch right after.
template <typename... P, typename... A>
inline void launch(void (*kernel)(P...), dim3 grid, dim3 block, std::size_t shared, cudaStream_t stream,
                   A&&... args) {
#ifdef KERNELNET_CUDA_EMULATED
  ::kn_emu::launch(kernel, grid, block, shared, stream)(std::forward<A>(args)...);
#else
  // clang-format reads .cuh files as plain C++ and would split the chevrons.
  // clang-format off
  kernel<<<grid, block, shared, stream>>>(std::forward<A>(args)...);
  // clang-format on
#endif
}

#define KN_LAUNCHED(stream, name) KN_TRY(::kn::cu::check_launch((stream), name))
// A launcher's precondition (the binding validated the user's arguments, so a failure is a kernelnet bug or a
// size past what a launch can cover): an error with the condition, never an abort of the process.
#define KN_EXPECT(cond, launcher)                                                   \
  do {                                                                              \
    if (!(cond))                                                                    \
      return ::kn::Status{"ERR_KERNELNET_INTERNAL",                                 \
                          std::string(launcher) + ": precondition failed: " #cond}; \
  } while (0)
