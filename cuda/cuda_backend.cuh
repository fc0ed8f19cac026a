// The CUDA backend: the op interface of cpp/backend.h on one device, every op a hand-written kernel (no
// cuDNN, no cuBLAS), all work queued on one stream. Tensors are plain cudaMalloc buffers (never managed
// memory); scratch buffers (im2col columns, split-K partials, ...) grow once to the largest size asked for
// and are reused, so a training step allocates nothing, copies nothing to the host and never synchronises.
// Methods are defined one kernel family per file: backend.cu (memory, probe, data ops), gemm.cu, conv.cu,
// pool.cu, dense.cu, random.cu, loss.cu, optim.cu, batchnorm.cu, elementwise.cu, tensor_ops.cu; graph.cu
// turns recorded ops into CUDA graphs.
#pragma once
#include <cuda_runtime.h>

#include <atomic>
#include <mutex>
#include <string>

#include "backend.h"
#include "common.cuh"
#include "gemm.cuh"

namespace kn {
namespace cu {

enum Scratch {
  kCol,
  kDz,
  kDcol,
  kSplitK,
  kSplitKWeights,  // split-K partials of a backward op's weight-gradient branch (Branch), beside its input
                   // gradient's
  kColSum,
  kBytes,
  kBatchNorm,
  kConvOut,
  kConvOutGrad,
  kPoolBiasParts,  // the conv + pool op's bias-gradient partials (pool_dz_kernel's)
  kLossPartial,
  kScratchSlots
};

class CudaBackend final : public Backend {
 public:
  CudaBackend(cudaStream_t stream, int sm_count, Peak peak, bool tf32)
      : stream_(stream), sm_count_(sm_count), peak_(peak), tf32_(tf32) {}
  Peak peak() const override { return peak_; }
  bool tf32() const override { return tf32_; }
  // The GEMM variant every GEMM of this backend runs (gemm.cuh's numbered kernels).
  GemmKernel gemm_kernel() const { return tf32_ ? GemmKernel::kMmaTf32 : GemmKernel::kSimt; }
  std::vector<KernelFamily> kernel_families() const override;
  Status gemm_variant(int kernel, bool ta, bool tb, int m, int n, int k, const float* a, int lda,
                      const float* b, int ldb, float* c) override;
  const char* name() const override { return "cuda"; }
  void* alloc(std::size_t bytes) override;
  void release(void* p) override;
  Status upload(void* dst, const void* src, std::size_t bytes) override;
  Status download(void* dst, const void* src, std::size_t bytes) override;
  Status fill(float* dst, float value, std::size_t count) override;
  Status synchronize() override;
  Status profile(bool on) override;

  Status dense_loss(const LossSpec& spec, int n, int in, int k, const float* x, const float* w,
                    const float* b, float* logits, const float* labels, const int32_t* classes,
                    const float* weights, float* dlogits, float* dx, float* dw, float* db, float* metrics,
                    uint64_t step, const int32_t* counter) override;
  Status download_start(void* dst, const void* src, std::size_t bytes,
                        std::unique_ptr<PendingDownload>* pending) override;

  // Bytes held by scratch buffers (reported with the tensors' bytes).
  std::size_t scratch_bytes() const override;

  // Recorded ops as a CUDA graph (graph.cu).
  std::unique_ptr<Program> compile(std::vector<RecordedOp> ops) override;
  // Bumped whenever a scratch buffer moves: a graph captured before then holds stale pointers.
  uint64_t scratch_generation() const { return scratch_generation_.load(); }
  // Launches a captured graph on the stream unless the scratch buffers moved since `generation` (then
  // *launched = false and nothing runs).
  Status launch_graph(cudaGraphExec_t exec, uint64_t generation, bool* launched);

  // The op table (ops.def), each op as an override.
#define KN_OP(name, params) Status name params override;
#include "ops.def"
#undef KN_OP

 private:
  // A scratch buffer of at least `bytes`, grown (never shrunk) on demand.
  Status scratch(Scratch slot, std::size_t bytes, void** out);
  // C = op(A) op(B) (+ C), then the epilogue (epilogue.h), splitting K across blocks (with a deterministic
  // reduction) when M x N alone cannot fill the device.
  Status gemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
              float* c, int ldc, const Epilogue& ep, bool accumulate);
  // The same with a given variant (the kernel lab's gemm_variant), and, with conv, as an implicit GEMM whose
  // A is gathered from a convolution's input (gemm.cuh's ConvGeom).
  Status gemm_with(GemmKernel kernel, bool ta, bool tb, int m, int n, int k, const float* a, int lda,
                   const float* b, int ldb, float* c, int ldc, const Epilogue& ep, bool accumulate,
                   const ConvGeom* conv = nullptr);
  // out[j] = sum_i x[i, j] over x[rows, cols] (the bias gradients), deterministic.
  Status column_sums(const float* x, long long rows, int cols, float* out);
  // dz = dy * act'(y) into a scratch buffer (epilogue.h), or dz = dy when act is linear.
  Status act_mask(const Epilogue& ep, std::size_t count, const float* y, const float* dy, const float** dz);
  // conv2d_backward, with db (when asked for) summed from `parts` partial rows of s.f floats at `bias_parts`
  // instead of over dz's rows (the conv + pool op's pool_dz_kernel writes them: a quarter of the pass or
  // less; a direct first layer's backward, which sums db from dz in its own pass, ignores them).
  Status conv2d_backward_with(const Conv2dShape& s, const float* x, const float* w, const float* y,
                              const float* dy, float* dx, float* dw, float* db, const Epilogue& ep,
                              const float* bias_parts, int parts);
  // Where ops queue their work: the stream, or the capture stream while this thread captures a graph.
  cudaStream_t stream() const;

  std::mutex mutex_;  // several Node environments (worker threads) may share the backend
  // Held across the ops that the conv + pool op runs in turn: its scratch copies (kConvOut, kConvOutGrad) are
  // used by nothing else, one call at a time.
  std::mutex conv_pool_mutex_;
  cudaStream_t stream_;
  int sm_count_;
  Peak peak_;
  bool tf32_;
  void* scratch_[kScratchSlots] = {};
  std::size_t scratch_size_[kScratchSlots] = {};
  std::atomic<uint64_t> scratch_generation_{0};
};

// Whether this thread is capturing a graph (ops then must not allocate or synchronise).
bool capturing();

// A backward op's weight-gradient branch (its db and dw), which shares only its inputs with the op's input
// gradient: constructed before the branch's work, leave() before the input gradient's, and the destructor
// joins. While a graph is captured the branch's work goes to a second stream, forked from the op's stream
// and joined back at the end of the op, so the graph holds the two as parallel branches and the GPU overlaps
// them (a GEMM that fills a partial wave beside another, the bias sums' small launches beside a GEMM).
// Outside a capture the work runs in order on the one stream. Either way the branch takes its split-K
// partials from its own scratch slot (kSplitKWeights), so the branches share no buffer.
class Branch {
 public:
  explicit Branch(bool wanted);  // wanted: the op has work for both branches
  ~Branch();
  Branch(const Branch&) = delete;
  Branch& operator=(const Branch&) = delete;
  void leave();

 private:
  bool active_ = false, forked_ = false;
};
// Whether this thread is enqueuing a weight-gradient branch (its split-K scratch slot is kSplitKWeights).
bool in_weight_branch();

// Calls launch_with(I{}) with I = unsigned when every index a kernel computes is below `largest` < 2^32, else
// unsigned long long: index math in 32 bits where it fits, as the GPU has no 64-bit division instruction
// (each 64-bit division or remainder is a subroutine of about 70 instructions).
template <typename Launch>
void with_index_type(long long largest, Launch&& launch_with) {
  if (largest < (1LL << 32))
    launch_with((unsigned)0);
  else
    launch_with((unsigned long long)0);
}

// Whether the loaded image's TF32 GEMM kernel has a body (compiled from compute_80 or newer): gemm.cu.
bool tf32_kernel_usable();

}  // namespace cu
}  // namespace kn
