// The op interface every backend implements (cpu always; cuda where built and a device answers).
//
// Layout is channels-last, as Keras: activations are [N, H, W, C], conv kernels [KH, KW, C, F], dense
// kernels [I, O]. Every op writes into outputs the caller allocated; nothing here allocates per call except a
// backend's own scratch, which grows once to the largest size asked for and is then reused.
// Pointers are backend memory (host for cpu, device for cuda). Shapes were validated by the caller.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "batchnorm.h"
#include "elementwise.h"
#include "epilogue.h"
#include "hd.h"
#include "loss.h"
#include "optim.h"
#include "schedule.h"
#include "tensor_math_types.h"

namespace kn {

// An op's result: empty code means success. Never an exception across the backend boundary.
struct Status {
  std::string code;     // e.g. "cudaErrorMemoryAllocation"
  std::string message;  // what failed, e.g. "cudaMalloc(1024 bytes)"
  bool ok() const { return code.empty(); }
  static Status Ok() { return {}; }
};

// KERNELNET_POISON_SCRATCH=1 (tests): every scratch buffer a backend hands an op is filled with NaN first
// (all bits set), so an entry the op reads without having written it shows in the result instead of passing
// on a stale value. Read at each call, so a test can switch it on and off; off costs one getenv per op.
bool poison_scratch();

struct Conv2dShape {
  int n, h, w, c;            // input
  int kh, kw, f;             // kernel [kh, kw, c, f]
  int oh, ow;                // output [n, oh, ow, f]
  int sh, sw;                // strides
  int pt, pl;                // zero padding before the first row / column
  int dil_h = 1, dil_w = 1;  // dilation: kernel tap (ky, kx) reads input row oy*sh - pt + ky*dil_h, ...
  long long col_rows() const { return static_cast<long long>(oh) * ow; }  // per image
  long long col_cols() const { return static_cast<long long>(kh) * kw * c; }
};

struct Pool2dShape {
  int n, h, w, c;
  int ph, pw;  // window
  int sh, sw;  // strides
  int oh, ow;
  int pt = 0, pl = 0;  // 'same' padding before the first row / column: window positions outside are skipped
};

// Zero padding of x [n, h, w, c] to y [n, oh(), ow(), c]: `top` rows above, `bottom` below, `left` and
// `right` columns beside (the ZeroPadding2D layer).
struct Pad2dShape {
  int n, h, w, c;
  int top, bottom, left, right;
  KN_HD int oh() const { return h + top + bottom; }
  KN_HD int ow() const { return w + left + right; }
};

// The window of output (oy, ox) clipped to the input: rows [y0, y1), columns [x0, x1).
KN_HD void pool_window(const Pool2dShape& s, int oy, int ox, int* y0, int* y1, int* x0, int* x1) {
  const int iy = oy * s.sh - s.pt, ix = ox * s.sw - s.pl;
  *y0 = iy < 0 ? 0 : iy, *x0 = ix < 0 ? 0 : ix;
  *y1 = iy + s.ph > s.h ? s.h : iy + s.ph, *x1 = ix + s.pw > s.w ? s.w : ix + s.pw;
}

// A box of 4-byte elements copied from one tensor to another (slice, concat): dst[dst_begin + i] =
// src[src_begin + i] for every index i < size, all of rank `rank` (at most kMaxRank), row-major.
struct Region {
  static constexpr int kMaxRank = 8;
  int rank = 0;
  int64_t src_shape[kMaxRank] = {}, dst_shape[kMaxRank] = {};
  int64_t src_begin[kMaxRank] = {}, dst_begin[kMaxRank] = {}, size[kMaxRank] = {};
  int64_t count() const {
    int64_t c = 1;
    for (int i = 0; i < rank; ++i) c *= size[i];
    return c;
  }
};

// A device-to-host copy under way (download_start): wait() blocks until the bytes are in the host buffer. It
// may be called on another thread than the one that started it; the source may be freed once started.
class PendingDownload {
 public:
  virtual ~PendingDownload() = default;
  virtual Status wait() = 0;
};

// An inverted dropout, as dropout_forward's arguments (rate 0: none).
struct DropoutArgs {
  float rate = 0.0f;
  uint64_t seed = 0, offset = 0;
  const int32_t* counter = nullptr;
};

struct AdadeltaTensor {
  float* param;
  const float* grad;
  float* accum;        // running average of squared gradients
  float* delta_accum;  // running average of squared updates
  std::size_t size;
};

// The step counter. Ops whose arguments change from one training step to the next (dropout's offset, the
// batch's first row, the loss's step number) also take `counter`: one int32 in backend memory, or null for 0,
// added to the host's base value. A training step then makes the same calls every time, with only the counter
// (advanced by advance(), on the device) changing, so on a GPU it can be recorded once and replayed.
// Negative counters count as 0.
inline uint64_t counter_value(const int32_t* counter) {
  return counter && *counter > 0 ? static_cast<uint64_t>(*counter) : 0;
}

// One source of a gather_rows call: src's rows of row_size floats (copied as bits: int32 rows too) into dst.
struct RowCopy {
  const float* src = nullptr;
  std::size_t src_rows = 0, row_size = 0;
  float* dst = nullptr;
};
// The copies one GPU launch of gather_rows takes (more are launched in groups of this many).
constexpr int kRowCopies = 4;

class Backend;

// A recorded op: one call on a backend with its arguments (raw pointers included) fixed at recording time.
using Op = std::function<Status(Backend&)>;
// An op as a Program holds it: the call, and the name of the native function that recorded it (a string
// literal, e.g. "denseBackward"), so that a failure can say which op of the program it was.
struct RecordedOp {
  Op fn;
  const char* name = nullptr;
};
// Runs ops[i] on `backend`; a failure names the op: "Program.run: op 4 of 5 (adadelta): " before its message.
Status run_recorded_op(const std::vector<RecordedOp>& ops, std::size_t i, Backend& backend);

// Recorded ops made ready to run again and again (a training step: see Sequential.fit). run() does the same
// work as making the calls again, in order; the caller keeps every buffer the ops touch alive.
class Program {
 public:
  virtual ~Program() = default;
  virtual Status run() = 0;
  // Whether the last run() was one CUDA graph launch, and if not, why (empty when it was).
  virtual bool graph() const { return false; }
  // Parallel branches in the graph the last run() launched (0 for a chain, or when not a graph).
  virtual int branches() const { return 0; }
  // The nodes of that graph (kernels, copies and memsets; 0 when not a graph) and the names of its kernels in
  // the order they were captured (KN_LAUNCHED's names): what one step launches, for tests and the GPU check.
  virtual int nodes() const { return 0; }
  virtual std::vector<std::string> kernels() const { return {}; }
  virtual std::string why_not_graph() const { return "the backend runs ops as they are called"; }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // Memory. alloc returns nullptr when out of memory; the caller turns that into a JS error.
  virtual void* alloc(std::size_t bytes) = 0;
  virtual void release(void* p) = 0;
  virtual Status upload(void* dst, const void* src, std::size_t bytes) = 0;
  virtual Status download(void* dst, const void* src, std::size_t bytes) = 0;
  virtual Status fill(float* dst, float value, std::size_t count) = 0;
  // Starts copying bytes to host memory behind the queued work, without waiting for it: `dst` must stay valid
  // until the returned object's wait() has returned (tensor.data()'s promise). By default a synchronous copy.
  virtual Status download_start(void* dst, const void* src, std::size_t bytes,
                                std::unique_ptr<PendingDownload>* pending);
  // Bytes of the backend's own grow-once scratch buffers (device memory on CUDA; not tracked on the CPU).
  virtual std::size_t scratch_bytes() const { return 0; }
  // The device's datasheet peaks, for "% of peak" figures: FP32 GFLOP/s (FMA = 2) and DRAM GB/s; 0 where
  // unknown (the CPU's peak is measured instead: cpu_gemm.h).
  struct Peak {
    double gflops = 0, gbs = 0;
  };
  virtual Peak peak() const { return {}; }
  // Whether GEMMs round their inputs to TF32 on tensor cores (CUDA with KERNELNET_TF32=1 on sm_80+).
  virtual bool tf32() const { return false; }
  // The kernel lab: an op family's numbered variants, the one the backend adopted, and a way to run any of
  // them (cuda/gemm.cuh's GEMMs; bench/lab.ts checks and times them). Reported by backends(); empty where an
  // op has one implementation.
  struct KernelFamily {
    std::string family, adopted;
    std::vector<std::string> variants;  // "number name", numbered from 1
  };
  virtual std::vector<KernelFamily> kernel_families() const { return {}; }
  // C[M, N] = op(A) op(B) (row-major, ldc = n) with GEMM variant `kernel` (1-based), no epilogue, K split as
  // the backend's own GEMMs split it.
  virtual Status gemm_variant(int kernel, bool ta, bool tb, int m, int n, int k, const float* a, int lda,
                              const float* b, int ldb, float* c) {
    return Status{"ERR_KERNELNET_DEVICE",
                  std::string("gemmVariant: the ") + name() +
                      " backend has no numbered GEMM variants (the kernel lab is CUDA's)"};
  }
  // Waits for all queued work (a no-op on the CPU, whose ops are synchronous).
  virtual Status synchronize() { return Status::Ok(); }
  // Marks where a profiler collects (CUDA: cudaProfilerStart/Stop, for `ncu --profile-from-start off`), after
  // waiting for the queued work so the range holds exactly the launches made inside it. A no-op on the CPU.
  virtual Status profile(bool on) { return Status::Ok(); }
  // Recorded ops as a Program. By default run() replays them; CUDA captures them into a CUDA graph, so one
  // launch runs the whole sequence (replaying them where capture is not possible, with the reason).
  virtual std::unique_ptr<Program> compile(std::vector<RecordedOp> ops);

#define KN_OP(name, params) virtual Status name params = 0;
#include "ops.def"
#undef KN_OP

  // The model's head as one op: logits = x w + b ([n, in] x [in, k], no activation: a softmax or sigmoid head
  // is the loss's), then loss() on them with dpred = dlogits, then dense_backward's linear gradients dx, dw,
  // db (each may be null). By default the three ops in turn (the same bits); CUDA runs a small head as one
  // kernel (sums in other orders: exactly equal on small integers).
  virtual Status dense_loss(const LossSpec& spec, int n, int in, int k, const float* x, const float* w,
                            const float* b, float* logits, const float* labels, const int32_t* classes,
                            const float* weights, float* dlogits, float* dx, float* dw, float* db,
                            float* metrics, uint64_t step, const int32_t* counter) {
    Epilogue ep;
    ep.bias = b;
    Status st = dense_forward(n, in, k, x, w, ep, logits);
    if (st.ok()) st = loss(spec, n, k, logits, labels, classes, weights, dlogits, metrics, step, counter);
    if (st.ok() && (dx || dw || db))
      st = dense_backward(n, in, k, x, w, logits, dlogits, dx, dw, db, Epilogue{});
    return st;
  }
};

Backend& cpu_backend();

#ifdef KERNELNET_WITH_CUDA
// The CUDA backend (cuda/), if a device and a new enough driver answer; else nullptr with *reason saying why.
// *device names the device. Probed once per process.
Backend* cuda_backend(std::string* device, std::string* reason);
#endif

}  // namespace kn
