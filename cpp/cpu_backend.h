// The CPU backend: the reference implementation of every op and the fallback on machines without a GPU.
// Multithreaded over the thread pool (threadpool.h), GEMMs cache-blocked (cpu_gemm.h). Its methods are
// defined one op family per file: cpu_memory.cc, cpu_conv.cc, cpu_pool.cc, cpu_dense.cc, cpu_random.cc,
// cpu_loss.cc, cpu_optim.cc.
#pragma once
#include "backend.h"

namespace kn {

class CpuBackend final : public Backend {
 public:
  const char* name() const override { return "cpu"; }
  void* alloc(std::size_t bytes) override;
  void release(void* p) override;
  Status upload(void* dst, const void* src, std::size_t bytes) override;
  Status download(void* dst, const void* src, std::size_t bytes) override;
  Status fill(float* dst, float value, std::size_t count) override;

  Status conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const Epilogue& ep,
                        float* y) override;
  Status conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* y,
                         const float* dy, float* dx, float* dw, float* db, const Epilogue& ep) override;
  Status conv2d_pool_forward(const Conv2dShape& s, const Pool2dShape& p, const float* x, const float* w,
                             const Epilogue& ep, float* pooled, int32_t* argmax, const DropoutArgs& drop,
                             float* dropped) override;
  Status conv2d_pool_backward(const Conv2dShape& s, const Pool2dShape& p, const float* x, const float* w,
                              const float* pooled, const int32_t* argmax, const float* dpooled, float* dx,
                              float* dw, float* db, const Epilogue& ep, const DropoutArgs& drop) override;
  Status maxpool2d_forward(const Pool2dShape& s, const float* x, float* y, int32_t* argmax) override;
  Status maxpool2d_backward(const Pool2dShape& s, const float* dy, const int32_t* argmax, float* dx) override;
  Status avgpool2d_forward(const Pool2dShape& s, const float* x, float* y) override;
  Status avgpool2d_backward(const Pool2dShape& s, const float* dy, float* dx) override;
  Status dense_forward(int n, int in, int out, const float* x, const float* w, const Epilogue& ep,
                       float* y) override;
  Status dense_backward(int n, int in, int out, const float* x, const float* w, const float* y,
                        const float* dy, float* dx, float* dw, float* db, const Epilogue& ep) override;
  Status dropout_forward(std::size_t count, const float* x, float* y, float rate, uint64_t seed,
                         uint64_t offset, const int32_t* counter) override;
  Status dropout_backward(std::size_t count, const float* dy, float* dx, float rate, uint64_t seed,
                          uint64_t offset, const int32_t* counter) override;
  Status loss(const LossSpec& spec, int n, int k, const float* pred, const float* labels,
              const int32_t* classes, const float* weights, float* dpred, float* metrics, uint64_t step,
              const int32_t* counter) override;
  Status softmax(int n, int k, const float* logits, float* probs) override;
  Status adadelta(const AdadeltaTensor* tensors, int count, const float* lr, float rho, float eps) override;
  Status learning_rate(const Schedule& s, const int32_t* iterations, float* lr) override;
  Status optimizer_step(const OptimizerHyper& h, const OptimizerTensor* tensors, int count, const float* lr,
                        const int32_t* iterations) override;
  Status gather_rows(const float* src, std::size_t src_rows, std::size_t row_size, const int32_t* indices,
                     std::size_t n_indices, std::size_t start, const int32_t* counter, std::size_t rows,
                     float* dst) override;
  Status advance(int32_t* counter) override;
  Status copy_region(const Region& r, const void* src, void* dst) override;
  Status batchnorm_forward(const BatchNormArgs& a, const float* x, float* y, float* mean, float* invstd,
                           float* moving_mean, float* moving_var) override;
  Status batchnorm_backward(const BatchNormArgs& a, const float* x, const float* dy, const float* mean,
                            const float* invstd, float* dx, float* dgamma, float* dbeta) override;
  Status batchnorm_fold(const BatchNormArgs& a, std::size_t rows, const float* w, const float* b,
                        const float* moving_mean, const float* moving_var, float* w_out,
                        float* b_out) override;
  Status affine(std::size_t n, const float* x, float* y, float scale, float offset) override;
  Status activation_forward(std::size_t n, const float* x, float* y, Act act, float alpha) override;
  Status activation_backward(std::size_t n, const float* x, const float* y, const float* dy, float* dx,
                             Act act, float alpha) override;
  Status argmax(const float* x, std::size_t outer, std::size_t n, std::size_t inner, int32_t* out) override;
  Status permutation(int32_t* indices, std::size_t n, uint64_t seed, uint64_t offset) override;
  Status random_normal(float* dst, std::size_t count, float stddev, uint64_t seed, uint64_t offset) override;
  Status random_uniform(float* dst, std::size_t count, float low, float high, uint64_t seed,
                        uint64_t offset) override;
  Status one_hot(const int32_t* labels, std::size_t n, int k, float* out) override;
  Status from_bytes(const uint8_t* src, std::size_t count, float divisor, float* dst) override;
};

// Max-pool output row oy of one image xi [H, W, C] into y and argmax (its row of OW x C each): cpu_pool.cc's,
// shared with the conv + max-pool op.
void maxpool_row(const Pool2dShape& s, const float* xi, long oy, float* y, int32_t* argmax);

// dx *= act'(below.y) (epilogue.h's BelowAct) over n elements, where below.y is set: the backward ops' input
// gradient taking the layer below's activation (cpu_tensor.cc).
void apply_below(const BelowAct& below, float* dx, std::size_t n);

// Elementwise work is split into chunks of at least this many elements per thread.
constexpr std::size_t kGrain = 1 << 15;

// parallel_for over [0, n) in chunks no smaller than grain (a single chunk for small n).
template <typename F>
void parallel_chunks(std::size_t n, std::size_t grain, F&& fn);

}  // namespace kn

#include "threadpool.h"

namespace kn {
template <typename F>
void parallel_chunks(std::size_t n, std::size_t grain, F&& fn) {
  if (n <= grain) {
    if (n) fn(std::size_t{0}, n);
    return;
  }
  const std::size_t chunks = (n + grain - 1) / grain;
  parallel_for(chunks,
               [&](std::size_t c0, std::size_t c1, int) { fn(c0 * grain, c1 * grain < n ? c1 * grain : n); });
}
}  // namespace kn
