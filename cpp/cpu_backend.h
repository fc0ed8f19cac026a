// The CPU backend: the reference implementation of every op and the fallback on machines without a GPU.
// Multithreaded over the thread pool (threadpool.h), GEMMs cache-blocked (cpu_gemm.h). Its methods are
// defined one op family per file: cpu_memory.cc, cpu_conv.cc, cpu_pool.cc, cpu_dense.cc, cpu_random.cc,
// cpu_loss.cc, cpu_optim.cc, cpu_batchnorm.cc, cpu_elementwise.cc, cpu_tensor.cc.
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

  // The op table (ops.def), each op as an override.
#define KN_OP(name, params) Status name params override;
#include "ops.def"
#undef KN_OP
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

#include <algorithm>
#include <limits>
#include <vector>

#include "threadpool.h"

namespace kn {
// v holds at least n floats; under KERNELNET_POISON_SCRATCH its first n are NaN (backend.h). It never
// shrinks: a thread-local scratch buffer shared by layers of different sizes would otherwise be zero-filled
// again by resize() at every regrowth (4.7 MB per prediction for the seed model's dense1 weights after
// dense2's).
inline void grow(std::vector<float>& v, std::size_t n) {
  if (v.size() < n) v.resize(n);
  if (poison_scratch()) std::fill(v.begin(), v.begin() + n, std::numeric_limits<float>::quiet_NaN());
}

// Broadcasting elementwise loops (cpu_elementwise.cc, cpu_math.cc): f(o, len, ao, bo, sa, sb) for each run of
// y's elements [o, o + len) inside [o0, o1) along the innermost dimension: a's elements ao + j sa and b's bo
// + j sb for j < len (sa, sb: 0 or 1).
template <typename F>
void for_runs(const BroadcastShape& s, std::size_t o0, std::size_t o1, F&& f) {
  const int last = s.rank - 1;
  const std::size_t n = static_cast<std::size_t>(s.dims[last]);
  const std::size_t sa = static_cast<std::size_t>(s.a_stride[last]),
                    sb = static_cast<std::size_t>(s.b_stride[last]);
  for (std::size_t o = o0; o < o1;) {
    const std::size_t len = std::min(n - o % n, o1 - o);
    std::size_t ao, bo;
    broadcast_offsets<std::size_t>(s, o, &ao, &bo);
    f(o, len, ao, bo, sa, sb);
    o += len;
  }
}

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
