// The CUDA backend's device probe, memory, scratch buffers and data ops: fill, gather of a shuffled batch,
// one-hot, bytes to floats, and the shuffle permutation (drawn on the host once per epoch by the same code as
// the CPU backend, then uploaded: never inside a training step).
#include <cuda_profiler_api.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cuda_backend.cuh"
#include "driver_policy.h"
#include "env.h"
#include "gemm.cuh"
#include "permutation.h"

// The CUDA architectures the build compiled for (CMakeLists.txt), which decide the drivers that can run them
// (cpp/driver_policy.h). Without it the code is unknown and the driver must be as new as the runtime.
#ifndef KERNELNET_CUDA_ARCHS
#define KERNELNET_CUDA_ARCHS ""
#endif

namespace kn {
namespace cu {

bool debug_sync() {
  static const bool on = env::flag(env::Var::kCudaSync);  // KERNELNET_CUDA_SYNC
  return on;
}

namespace {

__global__ void fill_kernel(float* dst, float value, long long n) {
  const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (i < n) dst[i] = value;
}

// Up to kRowCopies gathers by one set of indices (backend.h's RowCopy), one launch: copy c's blocks are
// [block0[c], block0[c + 1]) of the grid. dst[r, :] = src[indices[first + r], :], first = start + *counter *
// rows; a position past n_indices or an index out of range gives a zero row. Index math in I
// (with_index_type: every copy's element counts).
struct RowCopies {
  RowCopy part[kRowCopies];
  unsigned block0[kRowCopies + 1];
};

template <typename I>
__global__ void gather_rows_kernel(RowCopies copies, const int32_t* __restrict__ indices,
                                   unsigned long long n_indices, unsigned long long start,
                                   const int32_t* __restrict__ counter, I rows) {
  int c = 0;
  while (blockIdx.x >= copies.block0[c + 1]) ++c;
  const RowCopy& rc = copies.part[c];
  const I row_size = (I)rc.row_size;
  const I i = (blockIdx.x - copies.block0[c]) * (I)blockDim.x + threadIdx.x;
  if (i >= rows * row_size) return;
  const I r = i / row_size, col = i % row_size;
  const unsigned long long pos = start + device_counter(counter) * (unsigned long long)rows + r;
  const int32_t s = pos < n_indices ? indices[pos] : -1;
  // Copied as bits: int32 rows (class labels) travel through here too.
  reinterpret_cast<uint32_t*>(rc.dst)[i] =
      (s >= 0 && (I)s < (I)rc.src_rows) ? reinterpret_cast<const uint32_t*>(rc.src)[(I)s * row_size + col]
                                        : 0u;
}

__global__ void advance_kernel(int32_t* counter, int32_t* also) {
  if (*counter < INT32_MAX) ++*counter;
  if (also && *also < INT32_MAX) ++*also;
}

template <typename I>
__global__ void one_hot_kernel(const int32_t* __restrict__ labels, I n, I k, float* __restrict__ out) {
  const I i = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (i >= n * k) return;
  out[i] = labels[i / k] == (int)(i % k) ? 1.0f : 0.0f;
}

__global__ void from_bytes_kernel(const uint8_t* __restrict__ src, long long n, float divisor,
                                  float* __restrict__ dst) {
  const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (i < n) dst[i] = static_cast<float>(src[i]) / divisor;
}

}  // namespace

void* CudaBackend::alloc(std::size_t bytes) {
  void* p = nullptr;
  if (cudaMalloc(&p, bytes ? bytes : 4) != cudaSuccess) {
    cudaGetLastError();  // out of memory is not sticky: clear it so the process and other tensors stay usable
    return nullptr;
  }
  return p;
}

void CudaBackend::release(void* p) {
  cudaFree(p);
}

Status CudaBackend::upload(void* dst, const void* src, std::size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  KN_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
  KN_CUDA(cudaStreamSynchronize(stream_));  // the JS array may be collected once we return
  return Status::Ok();
}

Status CudaBackend::download(void* dst, const void* src, std::size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  KN_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
  KN_CUDA(cudaStreamSynchronize(stream_));
  return Status::Ok();
}

Status CudaBackend::synchronize() {
  std::lock_guard<std::mutex> lock(mutex_);
  KN_CUDA(cudaStreamSynchronize(stream_));
  return Status::Ok();
}

Status CudaBackend::profile(bool on) {
  std::lock_guard<std::mutex> lock(mutex_);
  KN_CUDA(cudaStreamSynchronize(stream_));
  KN_CUDA(on ? cudaProfilerStart() : cudaProfilerStop());
  return Status::Ok();
}

Status CudaBackend::fill(float* dst, float value, std::size_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!count) return Status::Ok();
  launch(fill_kernel, CEIL_DIV((long long)count, 256), 256, 0, stream(), dst, value, count);
  KN_LAUNCHED(stream(), "fill_kernel");
  return Status::Ok();
}

Status CudaBackend::scratch(Scratch slot, std::size_t bytes, void** out) {
  if (scratch_size_[slot] < bytes) {
    // A graph being captured cannot free or allocate; its Program replays the ops once instead (growing the
    // buffer) and captures again.
    if (capturing())
      return Status{"ERR_KERNELNET_CAPTURE", "a scratch buffer must grow during graph capture"};
    ++scratch_generation_;
    if (scratch_[slot]) KN_CUDA(cudaFree(scratch_[slot]));  // waits for queued work that may still use it
    scratch_[slot] = nullptr;
    scratch_size_[slot] = 0;
    const std::size_t grown = bytes + bytes / 4;
    KN_CUDA(cudaMalloc(&scratch_[slot], grown));
    scratch_size_[slot] = grown;
  }
  *out = scratch_[slot];
  if (poison_scratch() && !capturing())  // (a captured step replays without it: the op's own launch order)
    KN_CUDA(cudaMemsetAsync(scratch_[slot], 0xff, bytes, stream()));
  return Status::Ok();
}

std::size_t CudaBackend::scratch_bytes() const {
  std::size_t total = 0;
  for (std::size_t s : scratch_size_) total += s;
  return total;
}

Status CudaBackend::gather_rows(const RowCopy* copies, int count, const int32_t* indices,
                                std::size_t n_indices, std::size_t start, const int32_t* counter,
                                std::size_t rows) {
  std::lock_guard<std::mutex> lock(mutex_);
  KN_EXPECT(count >= 0 && (count == 0 || (copies && indices)), "gather_rows");
  for (int c0 = 0; c0 < count; c0 += kRowCopies) {
    RowCopies group{};
    long long largest = 0;
    unsigned blocks = 0;
    int parts = 0;
    for (int c = c0; c < std::min(count, c0 + kRowCopies); ++c) {
      const RowCopy& rc = copies[c];
      const long long total = (long long)rows * rc.row_size;
      if (!total) continue;
      KN_EXPECT(rc.src && rc.dst && CEIL_DIV(total, 256) <= (long long)INT32_MAX - blocks, "gather_rows");
      largest = std::max({largest, total, (long long)(rc.src_rows * rc.row_size)});
      group.part[parts] = rc;
      group.block0[parts] = blocks;
      blocks += (unsigned)CEIL_DIV(total, 256);
      ++parts;
    }
    if (!parts) continue;
    for (int p = parts; p <= kRowCopies; ++p) group.block0[p] = blocks;
    with_index_type(largest, [&](auto index) {
      using I = decltype(index);
      launch(gather_rows_kernel<I>, blocks, 256, 0, stream(), group, indices, (unsigned long long)n_indices,
             (unsigned long long)start, counter, (I)rows);
    });
    KN_LAUNCHED(stream(), "gather_rows_kernel");
  }
  return Status::Ok();
}

Status CudaBackend::advance(int32_t* counter, int32_t* also) {
  std::lock_guard<std::mutex> lock(mutex_);
  launch(advance_kernel, 1, 1, 0, stream(), counter, also);
  KN_LAUNCHED(stream(), "advance_kernel");
  return Status::Ok();
}

Status CudaBackend::permutation(int32_t* indices, std::size_t n, uint64_t seed, uint64_t offset) {
  std::vector<int32_t> host(n);
  fisher_yates(host.data(), n, seed, offset);
  return upload(indices, host.data(), n * sizeof(int32_t));
}

Status CudaBackend::one_hot(const int32_t* labels, std::size_t n, int k, float* out) {
  std::lock_guard<std::mutex> lock(mutex_);
  const long long total = (long long)n * k;
  if (!total) return Status::Ok();
  with_index_type(total, [&](auto index) {
    using I = decltype(index);
    launch(one_hot_kernel<I>, CEIL_DIV(total, 256), 256, 0, stream(), labels, (I)n, (I)k, out);
  });
  KN_LAUNCHED(stream(), "one_hot_kernel");
  return Status::Ok();
}

Status CudaBackend::from_bytes(const uint8_t* src, std::size_t count, float divisor, float* dst) {
  std::lock_guard<std::mutex> lock(mutex_);
  void* staging;
  KN_TRY(scratch(kBytes, count, &staging));
  KN_CUDA(cudaMemcpyAsync(staging, src, count, cudaMemcpyHostToDevice, stream_));
  launch(from_bytes_kernel, CEIL_DIV((long long)count, 256), 256, 0, stream_,
         static_cast<const uint8_t*>(staging), count, divisor, dst);
  KN_LAUNCHED(stream_, "from_bytes_kernel");
  KN_CUDA(cudaStreamSynchronize(stream_));
  return Status::Ok();
}

}  // namespace cu

Backend* cuda_backend(std::string* device, std::string* reason) {
  static std::once_flag once;
  static Backend* backend = nullptr;
  static std::string dev, why;
  std::call_once(once, [] {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
      why = std::string("no usable CUDA driver: cudaGetDeviceCount returned ") + cudaGetErrorName(err) +
            " (" + std::to_string(static_cast<int>(err)) + ", " + cudaGetErrorString(err) + ")";
      cudaGetLastError();
      return;
    }
    if (count == 0) {
      why = "no CUDA device found";
      return;
    }
    int driver = 0;
    cudaDriverGetVersion(&driver);
    cudaDeviceProp prop;
    if ((err = cudaGetDeviceProperties(&prop, 0)) != cudaSuccess || (err = cudaSetDevice(0)) != cudaSuccess) {
      why = std::string("CUDA device 0 did not answer: ") + cudaGetErrorName(err);
      cudaGetLastError();
      return;
    }
    const int cc = prop.major * 10 + prop.minor;
    const std::string name = std::string(prop.name) + " (sm_" + std::to_string(cc) + ", " +
                             std::to_string((prop.totalGlobalMem + (1 << 29)) >> 30) + " GiB)";
    // The GPU's age and the driver's version against the code this binary carries for the GPU: machine code
    // runs on any driver of the runtime's major (minor version compatibility), PTX needs a driver as new as
    // the runtime to compile it.
    const driver_policy::Verdict verdict = driver_policy::decide(
        driver, CUDART_VERSION, cc, driver_policy::parse_archs(KERNELNET_CUDA_ARCHS), name);
    if (!verdict.ok) {
      why = verdict.reason;
      return;
    }
    cudaStream_t stream;
    if ((err = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking)) != cudaSuccess) {
      why = std::string("cudaStreamCreate failed: ") + cudaGetErrorName(err);
      cudaGetLastError();
      return;
    }
    // Datasheet peaks: FP32 lanes per SM (64 on sm_75 and sm_80, 128 since sm_86) x 2 (FMA) x SM clock, and
    // 2 (double data rate) x memory clock x bus width.
    int clock_khz = 0, mem_khz = 0, bus_bits = 0;
    cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, 0);
    cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, 0);
    cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, 0);
    cudaGetLastError();
    Backend::Peak peak;
    const int lanes = (cc == 75 || cc == 80) ? 64 : 128;
    peak.gflops = prop.multiProcessorCount * lanes * 2.0 * clock_khz * 1e3 / 1e9;
    peak.gbs = 2.0 * mem_khz * 1e3 * (bus_bits / 8.0) / 1e9;
    // TF32 tensor cores for the GEMMs: opt-in (KERNELNET_TF32=1), only from Ampere (sm_80) on, and only where
    // the kernel image loaded for this device was compiled for them (not an sm_75 build or PTX run on a newer
    // GPU).
    const bool tf32 = cc >= 80 && env::flag(env::Var::kTf32) && cu::tf32_kernel_usable();
    auto* be = new cu::CudaBackend(stream, prop.multiProcessorCount, peak, tf32);
    // One real launch proves the binary carries code this device can run, and that the driver loads it (under
    // minor version compatibility a feature newer than the driver fails when used, with
    // cudaErrorCallRequiresNewerDriver).
    void* probe = be->alloc(4);
    Status st = probe ? be->fill(static_cast<float*>(probe), 0.0f, 1)
                      : Status{"cudaErrorMemoryAllocation", "cudaMalloc(4 bytes)"};
    if (st.ok()) st = be->synchronize();
    if (probe) be->release(probe);
    if (!st.ok()) {
      why = name + " cannot run kernelnet's kernels: " + st.message + " failed: " + st.code;
      return;
    }
    backend = be;
    dev = name + ", driver " + driver_policy::cuda_version_string(driver) + ", CUDA runtime " +
          driver_policy::cuda_version_string(CUDART_VERSION);
  });
  *device = dev;
  *reason = why;
  return backend;
}

}  // namespace kn
