// A CPU emulation of as much of CUDA as kernelnet's kernels use, so that the CUDA backend's own code
// (launchers, kernels, scratch buffers, graph capture) runs and is tested where there is no GPU:
// scripts/emulate-cuda.sh builds cuda/*.cu as C++ with this directory first on the include path; the kernels
// are launched through common.cuh's launch(), which here calls `::kn_emu::launch(kernel, grid, block, shared,
// stream)(args)`.
//
// A launch runs its blocks one after another; a block's threads are real threads (a pool), meeting at
// __syncthreads() on a barrier, with __shared__ variables as statics (one block runs at a time), so kernels
// run with their real indexing, shared memory and barriers, and a missing barrier can show as a wrong result.
// A kernel whose first launch never reached a barrier or shuffle runs its threads in turn on one thread after
// that. Warp shuffles exchange through a per-warp buffer. Launch configurations are checked as a GPU checks
// them (at most 1024 threads per block, grid y and z at most 65535). Device memory is host memory, with a 16
// GiB budget so that out-of-memory paths run. Streams run work at once, except while capturing, when
// launches, copies and memsets are recorded as graph nodes, each depending on its stream's last node; a
// stream that waits on an event recorded in a capture joins it (a fork), and a capture ends only once every
// node is joined back to the capturing stream, as on a GPU. A graph replays its nodes in dependency orders
// chosen to differ from the capture's (cudaGraphLaunch), so a missing edge between two branches (one reading
// what the other writes, or both using one buffer) shows as a wrong result.
//
// A device fault can be injected (KERNELNET_EMULATE_FAULT, read once, at the first kernel run): a run that
// faults as at an illegal address on a GPU. The faulting kernel does not run, and the context is lost: the
// launch itself succeeded (cudaGetLastError right after it returns cudaSuccess, as on a GPU, where the fault
// happens later, on the device), but nothing runs on the device after it, and every later call that does or
// waits for device work (a launch, cudaStreamSynchronize, cudaDeviceSynchronize, cudaEventSynchronize, a
// copy, a memset, cudaGraphLaunch, cudaStreamBeginCapture, cudaMalloc, cudaFree) returns
// cudaErrorIllegalAddress. The error is sticky, as CUDA documents it: "the process is left in an inconsistent
// state and any further CUDA work will return the same error"; once a call has returned it, cudaGetLastError
// returns it too and cannot clear it. Two forms:
//   KERNELNET_EMULATE_FAULT=<n>           the n-th kernel run of the process (from 1), counting every kernel
//                                         that a launch or a graph launch runs (a launch into a capture runs
//                                         only when its graph is launched)
//   KERNELNET_EMULATE_FAULT=<name>[:<k>]  the k-th run (default 1) of a kernel launched as <name>, the name
//                                         its launcher gives KN_LAUNCHED (common.cuh), e.g. adadelta_kernel
//                                         or "1 simt-fp32-64x64"; runs in graph launches count
// Unset or empty, nothing changes.
//
// It is a functional model only: no timing, no memory model beyond what real threads give, no warp
// divergence. Built with AddressSanitizer (SANITIZE=1 scripts/emulate-cuda.sh), it is also a memory checker
// for the kernels: device buffers are exactly their size, so a kernel reading or writing past one is
// reported.
#pragma once

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)
#define CUDART_VERSION 13000
// The code an emulated build carries, as CMake passes it to a real one (cpp/driver_policy.h): machine code
// for the emulated device, sm_90 (cudaGetDeviceProperties).
#define KERNELNET_CUDA_ARCHS "90-real"
#define cudaStreamNonBlocking 0x01

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
// CUDA's vector_functions.h
inline float2 make_float2(float x, float y) {
  return {x, y};
}
inline float4 make_float4(float x, float y, float z, float w) {
  return {x, y, z, w};
}

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorIllegalAddress = 700,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorStreamCaptureUnjoined = 904,
  cudaErrorStreamCaptureIsolation = 905,
};
enum cudaMemcpyKind {
  cudaMemcpyHostToHost,
  cudaMemcpyHostToDevice,
  cudaMemcpyDeviceToHost,
  cudaMemcpyDeviceToDevice
};
enum cudaStreamCaptureStatus {
  cudaStreamCaptureStatusNone,
  cudaStreamCaptureStatusActive,
  cudaStreamCaptureStatusInvalidated
};
enum cudaStreamCaptureMode {
  cudaStreamCaptureModeGlobal,
  cudaStreamCaptureModeThreadLocal,
  cudaStreamCaptureModeRelaxed
};
enum cudaDeviceAttr {
  cudaDevAttrClockRate = 13,
  cudaDevAttrMemoryClockRate = 36,
  cudaDevAttrGlobalMemoryBusWidth = 37
};

struct cudaDeviceProp {
  char name[256];
  int major, minor, multiProcessorCount;
  std::size_t totalGlobalMem;
};

// A captured node: its work, the nodes it waits for (all earlier), and the stream that enqueued it (0: the
// capturing stream, then each stream in the order it joined).
struct EmuGraphNode {
  std::function<void()> fn;
  std::vector<int> deps;
  int lane = 0;
};
struct CUstream_st {
  bool capturing = false;
  bool invalidated = false;          // (on the capturing stream)
  CUstream_st* origin = nullptr;     // while capturing: the stream whose capture this one takes part in
  int lane = 0;                      // its lane in that capture
  std::vector<int> tail;             // the nodes its next node waits for
  std::vector<EmuGraphNode> nodes;   // the capturing stream: the graph so far
  std::vector<CUstream_st*> joined;  // the capturing stream: the streams that joined
};
struct CUgraph_st {
  std::vector<EmuGraphNode> nodes;
};
struct CUgraphExec_st {
  std::vector<EmuGraphNode> nodes;
  unsigned long long launches = 0;
};
using cudaStream_t = CUstream_st*;
using cudaGraph_t = CUgraph_st*;
using cudaGraphExec_t = CUgraphExec_st*;

namespace kn_emu {

inline thread_local cudaError_t last_error = cudaSuccess;
inline cudaError_t fail(cudaError_t e) {
  last_error = e;
  return e;
}

// --- an injected device fault (KERNELNET_EMULATE_FAULT, in the header comment) ---
inline std::atomic<cudaError_t> lost{cudaSuccess};  // the lost context's sticky error
inline std::atomic<bool> lost_reported{false};      // whether a call has returned it yet
struct Fault {
  bool on = false;
  unsigned long long at = 0;  // <n>: the n-th kernel run
  std::string name;           // <name>[:<k>]: the k-th run of the kernel launched as name
  unsigned long long nth = 1;
  std::mutex mutex;
  unsigned long long runs = 0, named_runs = 0;
  std::unordered_map<const void*, std::string> names;  // kernels named by KN_LAUNCHED so far
};
inline Fault& fault() {
  static Fault* f = [] {
    auto* f = new Fault;  // never destroyed: kernels may run while the process exits
    const char* env = std::getenv("KERNELNET_EMULATE_FAULT");
    if (!env || !*env) return f;
    const std::string s(env);
    const auto digits = [](const std::string& t) {
      return !t.empty() && t.size() < 19 && t.find_first_not_of("0123456789") == std::string::npos;
    };
    f->on = true;
    if (digits(s)) {
      f->at = std::stoull(s);
      return f;
    }
    const std::size_t colon = s.rfind(':');
    f->name = s;
    if (colon != std::string::npos && digits(s.substr(colon + 1))) {
      f->name = s.substr(0, colon);
      f->nth = std::stoull(s.substr(colon + 1));
    }
    return f;
  }();
  return *f;
}
// The error a call that does or waits for device work returns: cudaSuccess, or the lost context's.
inline cudaError_t dead() {
  const cudaError_t e = lost.load();
  if (e != cudaSuccess) lost_reported = true;
  return e;
}
// Whether this run of `kernel` faults (the injected fault), or cannot run (the context is lost).
inline bool faults(const void* kernel) {
  if (lost.load() != cudaSuccess) return true;
  Fault& f = fault();
  if (!f.on) return false;
  std::lock_guard<std::mutex> lock(f.mutex);
  bool hit = ++f.runs == f.at;
  if (!f.name.empty()) {
    const auto it = f.names.find(kernel);
    if (it != f.names.end() && it->second == f.name && ++f.named_runs == f.nth) hit = true;
  }
  if (hit) lost = cudaErrorIllegalAddress;
  return hit;
}
// The kernel this thread launched last, and whether that launch ran it (not captured, not refused).
inline thread_local const void* last_kernel = nullptr;
inline thread_local bool last_ran = false;
// Called by check_launch (common.cuh) with the name of the kernel just launched, which the name form of the
// fault needs. A kernel's first run comes before its name is known: it is counted here, after it ran.
inline void launched(const char* name) {
  Fault& f = fault();
  const void* kernel = last_kernel;
  last_kernel = nullptr;
  if (!f.on || f.name.empty() || !kernel || !name) return;
  std::lock_guard<std::mutex> lock(f.mutex);
  const bool fresh = f.names.emplace(kernel, name).second;
  if (fresh && last_ran && f.name == name && lost.load() == cudaSuccess && ++f.named_runs == f.nth)
    lost = cudaErrorIllegalAddress;
}

// The stream work goes to when a launch names none (stream 0): runs at once.
inline CUstream_st* legacy_stream() {
  static CUstream_st s;
  return &s;
}
inline CUstream_st* stream_of(cudaStream_t s) {
  return s ? s : legacy_stream();
}

// Runs fn now, or records it as a node after the stream's last one while the stream captures.
inline void submit(cudaStream_t s, std::function<void()> fn) {
  CUstream_st* st = stream_of(s);
  if (!st->capturing) {
    if (lost.load() == cudaSuccess) fn();  // a lost device runs nothing
    return;
  }
  CUstream_st* o = st->origin;
  const int id = static_cast<int>(o->nodes.size());
  o->nodes.push_back({std::move(fn), st->tail, st->lane});
  st->tail = {id};
}
// Marks the capture that stream s takes part in as invalidated.
inline void invalidate(CUstream_st* st) {
  st->origin->invalidated = true;
}

// --- memory: host memory with a device-sized budget ---
constexpr std::size_t kDeviceBytes = std::size_t{16} << 30;
struct Heap {
  std::mutex mutex;
  std::unordered_map<void*, std::size_t> sizes;
  std::size_t used = 0;
};
inline Heap& heap() {
  static Heap h;
  return h;
}

// --- threads of a block ---
struct Warp {
  explicit Warp(std::ptrdiff_t n) : bar(n), lanes(static_cast<int>(n)) {}
  std::barrier<> bar;
  int lanes;
  uint64_t buf[32] = {};
  uint32_t frag[32][10] = {};  // mma.sync's fragment registers, lane by lane (ptx.h)
};
struct Block {
  explicit Block(std::ptrdiff_t threads) : bar(threads) {}
  std::barrier<> bar;
  std::vector<std::unique_ptr<Warp>> warps;
};

}  // namespace kn_emu

inline thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;
inline constexpr int warpSize = 32;

namespace kn_emu {

inline thread_local Block* block = nullptr;
inline thread_local unsigned linear_tid = 0;

// A pool of threads that run the threads of one block at a time.
class Pool {
 public:
  static Pool& get() {
    static Pool* p = new Pool;  // never destroyed: its threads wait on it until the process ends
    return *p;
  }
  // Runs body(t) for t in [0, n) on n pool threads at once, and waits for all of them.
  void run(unsigned n, const std::function<void(unsigned)>& body) {
    std::lock_guard<std::mutex> one_block_at_a_time(run_mutex_);
    std::unique_lock<std::mutex> lock(mutex_);
    while (threads_.size() < n) {
      const unsigned id = static_cast<unsigned>(threads_.size());
      threads_.emplace_back([this, id] { loop(id); });
      threads_.back().detach();
    }
    body_ = &body;
    active_ = n;
    remaining_ = n;
    ++generation_;
    start_.notify_all();
    done_.wait(lock, [this] { return remaining_ == 0; });
    body_ = nullptr;
  }

 private:
  void loop(unsigned id) {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(unsigned)>* body;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        start_.wait(lock, [&] { return generation_ != seen && id < active_; });
        seen = generation_;
        body = body_;
      }
      (*body)(id);
      std::lock_guard<std::mutex> lock(mutex_);
      if (--remaining_ == 0) done_.notify_one();
    }
  }
  std::mutex run_mutex_, mutex_;
  std::condition_variable start_, done_;
  std::vector<std::thread> threads_;
  const std::function<void(unsigned)>* body_ = nullptr;
  unsigned active_ = 0, remaining_ = 0;
  uint64_t generation_ = 0;
};

// What the emulator learned of a kernel: whether its threads ever met at a barrier or exchanged through a
// shuffle. Kernels that never do run their threads one after another on the launching thread, far faster.
struct KernelInfo {
  std::atomic<bool> syncs{false};
  bool seen = false;
};
inline KernelInfo& info_of(const void* kernel) {
  static std::mutex mutex;
  static std::unordered_map<const void*, std::unique_ptr<KernelInfo>> infos;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = infos[kernel];
  if (!slot) slot = std::make_unique<KernelInfo>();
  return *slot;
}
inline thread_local KernelInfo* running = nullptr;
inline thread_local bool sequential = false;

// Called by every barrier and shuffle.
inline void note_sync(const char* what) {
  if (sequential) {
    std::fprintf(stderr,
                 "cuda emulation: a kernel reached %s for the first time on a later launch; it cannot be run "
                 "thread by thread (a barrier behind a condition that every thread skipped before?)\n",
                 what);
    std::abort();
  }
  running->syncs.store(true, std::memory_order_relaxed);
}

template <typename... P, typename... A>
void run_kernel(void (*kernel)(P...), dim3 grid, dim3 blk, std::tuple<A...> args) {
  if (faults(reinterpret_cast<const void*>(kernel))) return;
  const unsigned n = blk.x * blk.y * blk.z;
  KernelInfo& info = info_of(reinterpret_cast<const void*>(kernel));
  if (info.seen && !info.syncs.load()) {
    sequential = true;
    for (unsigned bz = 0; bz < grid.z; ++bz)
      for (unsigned by = 0; by < grid.y; ++by)
        for (unsigned bx = 0; bx < grid.x; ++bx)
          for (unsigned t = 0; t < n; ++t) {
            threadIdx = dim3(t % blk.x, (t / blk.x) % blk.y, t / (blk.x * blk.y));
            blockIdx = dim3(bx, by, bz);
            blockDim = blk;
            gridDim = grid;
            linear_tid = t;
            std::apply([&](auto&... a) { kernel(static_cast<P>(a)...); }, args);
          }
    sequential = false;
    return;
  }
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        Block b(n);
        for (unsigned w = 0; w < (n + 31) / 32; ++w)
          b.warps.push_back(std::make_unique<Warp>(std::min(32u, n - w * 32)));
        const std::function<void(unsigned)> body = [&](unsigned t) {
          threadIdx = dim3(t % blk.x, (t / blk.x) % blk.y, t / (blk.x * blk.y));
          blockIdx = dim3(bx, by, bz);
          blockDim = blk;
          gridDim = grid;
          block = &b;
          linear_tid = t;
          running = &info;
          std::apply([&](auto&... a) { kernel(static_cast<P>(a)...); }, args);
          // A thread that has finished no longer counts at later barriers (as a GPU treats exited threads).
          b.warps[t / 32]->bar.arrive_and_drop();
          b.bar.arrive_and_drop();
          block = nullptr;
        };
        Pool::get().run(n, body);
      }
  info.seen = true;
}

// kernel<<<grid, block, shared, stream>>>(args), as launch(kernel, grid, block, shared, stream)(args).
template <typename... P>
auto launch(void (*kernel)(P...), dim3 grid, dim3 blk, std::size_t shared = 0,
            cudaStream_t stream = nullptr) {
  (void)shared;
  return [=](auto&&... args) {
    const unsigned long long threads = 1ull * blk.x * blk.y * blk.z;
    last_kernel = reinterpret_cast<const void*>(kernel);
    last_ran = false;
    if (const cudaError_t e = dead()) {
      fail(e);
      return;
    }
    if (threads == 0 || threads > 1024 || blk.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
        grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535) {
      fail(cudaErrorInvalidConfiguration);
      return;
    }
    auto tuple = std::make_tuple(static_cast<P>(args)...);  // arguments are copied at launch, as on a GPU
    last_ran = !stream_of(stream)->capturing;
    submit(stream, [=] { run_kernel(kernel, grid, blk, tuple); });
  };
}

template <typename T>
T shuffle(T v, unsigned lane_of_source) {
  note_sync("a warp shuffle");
  Warp& w = *block->warps[linear_tid / 32];
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  w.buf[linear_tid % 32] = bits;
  w.bar.arrive_and_wait();
  T out;
  const uint64_t src = w.buf[lane_of_source % 32];
  std::memcpy(&out, &src, sizeof(T));
  w.bar.arrive_and_wait();
  return out;
}

}  // namespace kn_emu

// --- device functions ---
inline void __syncthreads() {
  kn_emu::note_sync("__syncthreads");
  kn_emu::block->bar.arrive_and_wait();
}
template <typename T>
T __shfl_xor_sync(unsigned, T v, int mask) {
  return kn_emu::shuffle(v, (kn_emu::linear_tid % 32) ^ static_cast<unsigned>(mask));
}
template <typename T>
T __shfl_down_sync(unsigned, T v, unsigned delta) {
  const unsigned lane = kn_emu::linear_tid % 32;
  const T other = kn_emu::shuffle(v, lane + delta < 32 ? lane + delta : lane);
  return other;
}
template <typename T>
T __shfl_sync(unsigned, T v, int src) {
  return kn_emu::shuffle(v, static_cast<unsigned>(src));
}
inline float atomicAdd(float* p, float v) {
  return std::atomic_ref<float>(*p).fetch_add(v);
}
inline int atomicAdd(int* p, int v) {
  return std::atomic_ref<int>(*p).fetch_add(v);
}
inline int atomicCAS(int* p, int expected, int desired) {
  std::atomic_ref<int>(*p).compare_exchange_strong(expected, desired);
  return expected;
}
inline int __float_as_int(float f) {
  int i;
  std::memcpy(&i, &f, 4);
  return i;
}
inline float __int_as_float(int i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
inline float __fmul_rn(float a, float b) {
  return a * b;
}  // the emulation is built with -ffp-contract=off
inline float __fadd_rn(float a, float b) {
  return a + b;
}
using std::isfinite;
// CUDA's device min and max for mixed integer types.
template <typename A, typename B>
inline std::common_type_t<A, B> min(A a, B b) {
  return a < b ? a : b;
}
template <typename A, typename B>
inline std::common_type_t<A, B> max(A a, B b) {
  return a < b ? b : a;
}

// --- runtime API ---
// A lost context's error, once a call has returned it, cannot be cleared (sticky).
inline cudaError_t cudaGetLastError() {
  const cudaError_t e = kn_emu::last_error;
  kn_emu::last_error = cudaSuccess;
  return e == cudaSuccess && kn_emu::lost_reported ? kn_emu::lost.load() : e;
}
inline cudaError_t cudaPeekAtLastError() {
  const cudaError_t e = kn_emu::last_error;
  return e == cudaSuccess && kn_emu::lost_reported ? kn_emu::lost.load() : e;
}
inline const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
      return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration:
      return "cudaErrorInvalidConfiguration";
    case cudaErrorIllegalAddress:
      return "cudaErrorIllegalAddress";
    case cudaErrorStreamCaptureUnsupported:
      return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated:
      return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureUnjoined:
      return "cudaErrorStreamCaptureUnjoined";
    case cudaErrorStreamCaptureIsolation:
      return "cudaErrorStreamCaptureIsolation";
  }
  return "cudaErrorUnknown";
}
inline const char* cudaGetErrorString(cudaError_t e) {
  return cudaGetErrorName(e);
}
inline cudaError_t cudaGetDeviceCount(int* n) {
  *n = 1;
  return cudaSuccess;
}
inline cudaError_t cudaDriverGetVersion(int* v) {
  *v = CUDART_VERSION;
  return cudaSuccess;
}
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int) {
  std::memset(p, 0, sizeof(*p));
  std::strcpy(p->name, "CUDA emulated on the CPU");
  p->major = 9, p->minor = 0, p->multiProcessorCount = 4, p->totalGlobalMem = kn_emu::kDeviceBytes;
  return cudaSuccess;
}
// The emulated device runs every kernel's code as compiled for it: sm_90, from compute_90.
struct cudaFuncAttributes {
  int binaryVersion, ptxVersion, numRegs, maxThreadsPerBlock;
  std::size_t sharedSizeBytes;
};
template <class F>
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* a, F) {
  *a = cudaFuncAttributes{90, 90, 0, 1024, 0};
  return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int) {
  return cudaSuccess;
}
inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int) {
  *v = a == cudaDevAttrGlobalMemoryBusWidth ? 256 : 1000000;
  return cudaSuccess;
}
inline cudaError_t cudaMalloc(void** p, std::size_t bytes) {
  auto& h = kn_emu::heap();
  std::lock_guard<std::mutex> lock(h.mutex);
  *p = nullptr;
  if (const cudaError_t e = kn_emu::dead()) return kn_emu::fail(e);
  if (bytes > kn_emu::kDeviceBytes - h.used) return kn_emu::fail(cudaErrorMemoryAllocation);
  void* q =
      nullptr;  // exactly `bytes` (256-byte aligned, as cudaMalloc): AddressSanitizer then sees overruns
  if (posix_memalign(&q, 256, bytes ? bytes : 1) != 0) return kn_emu::fail(cudaErrorMemoryAllocation);
  std::memset(q, 0xA5, bytes);  // like fresh device memory: not zeros
  h.sizes[q] = bytes;
  h.used += bytes;
  *p = q;
  return cudaSuccess;
}
inline cudaError_t cudaFree(void* p) {
  // A lost context frees nothing either (the process has to end to use CUDA again).
  if (const cudaError_t e = kn_emu::dead()) return kn_emu::fail(e);
  if (!p) return cudaSuccess;
  auto& h = kn_emu::heap();
  std::lock_guard<std::mutex> lock(h.mutex);
  auto it = h.sizes.find(p);
  if (it == h.sizes.end()) return kn_emu::fail(cudaErrorInvalidValue);
  h.used -= it->second;
  h.sizes.erase(it);
  std::free(p);
  return cudaSuccess;
}
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
  *s = new CUstream_st;
  return cudaSuccess;
}
inline cudaError_t cudaStreamDestroy(cudaStream_t s) {
  delete s;
  return cudaSuccess;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  CUstream_st* st = kn_emu::stream_of(s);
  if (st->capturing) {
    kn_emu::invalidate(st);
    return kn_emu::fail(cudaErrorStreamCaptureUnsupported);
  }
  if (const cudaError_t e = kn_emu::dead()) return kn_emu::fail(e);
  return cudaSuccess;
}
inline cudaError_t cudaDeviceSynchronize() {
  if (const cudaError_t e = kn_emu::dead()) return kn_emu::fail(e);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t n, cudaMemcpyKind kind,
                                   cudaStream_t s) {
  if (const cudaError_t e = kn_emu::dead()) return kn_emu::fail(e);
  if (kn_emu::stream_of(s)->capturing && (kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToHost)) {
    kn_emu::invalidate(
        kn_emu::stream_of(s));  // host memory in a graph: refused as for pageable memory on a GPU
    return kn_emu::fail(cudaErrorStreamCaptureUnsupported);
  }
  kn_emu::submit(s, [=] { std::memcpy(dst, src, n); });
  return cudaSuccess;
}
inline cudaError_t cudaMemcpy(void* dst, const void* src, std::size_t n, cudaMemcpyKind kind) {
  return cudaMemcpyAsync(dst, src, n, kind, nullptr);
}
// Events and pinned host memory: the emulated GPU runs work as it is queued, so an event is complete when
// recorded, except one recorded in a capture: it stands for the stream's last nodes there, and a stream that
// waits on it joins the capture after them.
struct CUevent_st {
  CUstream_st* origin = nullptr;  // the capturing stream, when recorded in a capture
  std::vector<int> nodes;
};
using cudaEvent_t = CUevent_st*;
constexpr unsigned cudaEventDisableTiming = 2;
inline cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned) {
  *e = new CUevent_st;
  return cudaSuccess;
}
inline cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete e;
  return cudaSuccess;
}
inline cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  CUstream_st* st = kn_emu::stream_of(s);
  e->origin = st->capturing ? st->origin : nullptr;
  e->nodes = st->capturing ? st->tail : std::vector<int>{};
  return cudaSuccess;
}
inline cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned = 0) {
  CUstream_st* st = kn_emu::stream_of(s);
  if (!e->origin || !e->origin->capturing) return cudaSuccess;  // complete
  if (!st->capturing) {                                         // joins the capture
    if (st == kn_emu::legacy_stream()) return kn_emu::fail(cudaErrorStreamCaptureIsolation);
    st->capturing = true;
    st->origin = e->origin;
    st->lane = static_cast<int>(e->origin->joined.size()) + 1;
    st->tail = e->nodes;
    e->origin->joined.push_back(st);
    return cudaSuccess;
  }
  if (st->origin != e->origin) {
    kn_emu::invalidate(st);
    return kn_emu::fail(cudaErrorStreamCaptureIsolation);
  }
  for (int n : e->nodes)
    if (std::find(st->tail.begin(), st->tail.end(), n) == st->tail.end()) st->tail.push_back(n);
  return cudaSuccess;
}
inline cudaError_t cudaEventSynchronize(cudaEvent_t) {
  if (const cudaError_t e = kn_emu::dead()) return kn_emu::fail(e);
  return cudaSuccess;
}
inline cudaError_t cudaMallocHost(void** p, std::size_t bytes) {
  *p = std::malloc(bytes ? bytes : 1);
  return *p ? cudaSuccess : kn_emu::fail(cudaErrorMemoryAllocation);
}
inline cudaError_t cudaFreeHost(void* p) {
  std::free(p);
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* p, int v, std::size_t n, cudaStream_t s) {
  if (const cudaError_t e = kn_emu::dead()) return kn_emu::fail(e);
  kn_emu::submit(s, [=] { std::memset(p, v, n); });
  return cudaSuccess;
}
inline cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus* status) {
  const CUstream_st* st = kn_emu::stream_of(s);
  *status = !st->capturing            ? cudaStreamCaptureStatusNone
            : st->origin->invalidated ? cudaStreamCaptureStatusInvalidated
                                      : cudaStreamCaptureStatusActive;
  return cudaSuccess;
}
inline cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode) {
  if (const cudaError_t e = kn_emu::dead()) return kn_emu::fail(e);
  if (!s || s->capturing) return kn_emu::fail(cudaErrorInvalidValue);
  s->capturing = true;
  s->invalidated = false;
  s->origin = s;
  s->lane = 0;
  s->tail.clear();
  s->nodes.clear();
  s->joined.clear();
  return cudaSuccess;
}
// Ends the capture begun on s: an error unless every node is joined back to s (its last nodes wait for it).
inline cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* graph) {
  *graph = nullptr;
  if (!s || !s->capturing) return kn_emu::fail(cudaErrorInvalidValue);
  if (s->origin != s) return kn_emu::fail(cudaErrorStreamCaptureUnjoined);  // (not the capturing stream)
  std::vector<char> reached(s->nodes.size(), 0);
  std::vector<int> todo = s->tail;
  while (!todo.empty()) {
    const int n = todo.back();
    todo.pop_back();
    if (reached[n]) continue;
    reached[n] = 1;
    for (int d : s->nodes[n].deps) todo.push_back(d);
  }
  const bool joined = std::find(reached.begin(), reached.end(), 0) == reached.end();
  for (CUstream_st* j : s->joined) {
    j->capturing = false;
    j->origin = nullptr;
    j->tail.clear();
  }
  s->capturing = false;
  s->origin = nullptr;
  std::vector<EmuGraphNode> nodes = std::move(s->nodes);
  s->nodes.clear();
  s->joined.clear();
  s->tail.clear();
  if (s->invalidated) return kn_emu::fail(cudaErrorStreamCaptureInvalidated);
  if (!joined) return kn_emu::fail(cudaErrorStreamCaptureUnjoined);
  *graph = new CUgraph_st{std::move(nodes)};
  return cudaSuccess;
}
inline cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  *exec = new CUgraphExec_st{graph->nodes, 0};
  return cudaSuccess;
}
// The graph's nodes: their count (nodes null) or, as CUDA, up to *count of them (not used: no node handles).
inline cudaError_t cudaGraphGetNodes(cudaGraph_t graph, void* nodes, std::size_t* count) {
  if (!graph || !count || nodes) return kn_emu::fail(cudaErrorInvalidValue);
  *count = graph->nodes.size();
  return cudaSuccess;
}
inline cudaError_t cudaGraphDestroy(cudaGraph_t g) {
  delete g;
  return cudaSuccess;
}
inline cudaError_t cudaGraphExecDestroy(cudaGraphExec_t e) {
  delete e;
  return cudaSuccess;
}
// Runs the nodes in an order their dependencies allow, in turn by two rules, each of which breaks a graph
// that lacks an edge its work needs: the 1st, 3rd, ... launches take the latest-captured ready node first (a
// node ready too early runs before the work it should wait for), the others alternate between lanes, taking
// the first ready node of another lane than the last one's (branches interleave node by node: two that share
// a buffer clash).
inline cudaError_t cudaGraphLaunch(cudaGraphExec_t e, cudaStream_t s) {
  if (const cudaError_t lost = kn_emu::dead()) return kn_emu::fail(lost);
  const bool latest_first = (e->launches++ % 2) == 0;
  const std::size_t n = e->nodes.size();
  std::vector<int> waiting(n);
  std::vector<std::vector<int>> after(n);
  for (std::size_t i = 0; i < n; ++i) {
    waiting[i] = static_cast<int>(e->nodes[i].deps.size());
    for (int d : e->nodes[i].deps) after[d].push_back(static_cast<int>(i));
  }
  std::vector<int> ready;
  for (std::size_t i = 0; i < n; ++i)
    if (!waiting[i]) ready.push_back(static_cast<int>(i));
  int lane = -1;
  while (!ready.empty()) {
    std::sort(ready.begin(), ready.end());
    auto pick = latest_first ? ready.end() - 1 : std::find_if(ready.begin(), ready.end(), [&](int i) {
      return e->nodes[i].lane != lane;
    });
    if (pick == ready.end()) pick = ready.begin();
    const int i = *pick;
    ready.erase(pick);
    lane = e->nodes[i].lane;
    kn_emu::submit(s, e->nodes[i].fn);
    for (int j : after[i])
      if (--waiting[j] == 0) ready.push_back(j);
  }
  return cudaSuccess;
}
