// The broadcasting elementwise binary ops on the CPU (elementwise.h; the twin of cuda/elementwise.cu).
// Forward is split over y's elements across the thread pool, each chunk walking y in runs along the innermost
// dimension, where each operand either steps by one or repeats one value (the loops the compiler vectorises).
// Backward: an operand that is not broadcast has one term per element, a loop like forward's; a broadcast one
// sums its terms per element (binary_grad_element, the GPU's code), split over the gradient's elements. Every
// element is computed by one thread in a fixed order, so the results do not depend on the thread count.
#include <algorithm>

#include "cpu_backend.h"

namespace kn {

namespace {

// y[j] = (a[j sa] op b[j sb]) * scale for j < len, with the strides known to the compiler where it matters.
template <BinaryOp OP>
void forward_run(const float* a, const float* b, float* y, std::size_t len, std::size_t sa, std::size_t sb,
                 float scale) {
  if (sa == 1 && sb == 1) {
    for (std::size_t j = 0; j < len; ++j) y[j] = binary_apply(OP, a[j], b[j]) * scale;
  } else if (sa == 1) {
    const float bv = b[0];
    for (std::size_t j = 0; j < len; ++j) y[j] = binary_apply(OP, a[j], bv) * scale;
  } else if (sb == 1) {
    const float av = a[0];
    for (std::size_t j = 0; j < len; ++j) y[j] = binary_apply(OP, av, b[j]) * scale;
  } else {
    const float v = binary_apply(OP, a[0], b[0]) * scale;
    for (std::size_t j = 0; j < len; ++j) y[j] = v;
  }
}

template <BinaryOp OP>
void forward(const BroadcastShape& s, float scale, const float* a, const float* b, float* y) {
  parallel_chunks(static_cast<std::size_t>(s.count()), kGrain, [&](std::size_t o0, std::size_t o1) {
    for_runs(s, o0, o1,
             [&](std::size_t o, std::size_t len, std::size_t ao, std::size_t bo, std::size_t sa,
                 std::size_t sb) { forward_run<OP>(a + ao, b + bo, y + o, len, sa, sb, scale); });
  });
}

// The gradient of an operand that is not broadcast: one term per element of y.
template <BinaryOp OP>
void backward_full(const BroadcastShape& s, bool for_a, float scale, const float* a, const float* b,
                   const float* dy, float* dx) {
  parallel_chunks(static_cast<std::size_t>(s.count()), kGrain, [&](std::size_t o0, std::size_t o1) {
    for_runs(
        s, o0, o1,
        [&](std::size_t o, std::size_t len, std::size_t ao, std::size_t bo, std::size_t sa, std::size_t sb) {
          const float *ar = a + ao, *br = b + bo, *g = dy + o;
          float* d = dx + o;
          if (for_a)
            for (std::size_t j = 0; j < len; ++j)
              d[j] = binary_grad(OP, true, g[j] * scale, ar[j * sa], br[j * sb]);
          else
            for (std::size_t j = 0; j < len; ++j)
              d[j] = binary_grad(OP, false, g[j] * scale, ar[j * sa], br[j * sb]);
        });
  });
}

template <BinaryOp OP>
void backward(const BroadcastShape& s, bool for_a, float scale, const float* a, const float* b,
              const float* dy, float* dx) {
  if (for_a ? s.a_full() : s.b_full()) return backward_full<OP>(s, for_a, scale, a, b, dy, dx);
  const std::size_t size = static_cast<std::size_t>(for_a ? s.a_size : s.b_size);
  const std::size_t terms = static_cast<std::size_t>(s.count()) / size;  // per gradient element
  parallel_chunks(size, std::max<std::size_t>(1, kGrain / terms), [&](std::size_t e0, std::size_t e1) {
    for (std::size_t e = e0; e < e1; ++e)
      dx[e] = binary_grad_element<std::size_t>(s, OP, for_a, scale, a, b, dy, e);
  });
}

// fn<OP>() for the op named at run time: the loops are compiled once per op.
template <template <BinaryOp> class Fn, typename... A>
void dispatch(BinaryOp op, A&&... args) {
  switch (op) {
    case BinaryOp::kAdd:
      return Fn<BinaryOp::kAdd>::run(args...);
    case BinaryOp::kSub:
      return Fn<BinaryOp::kSub>::run(args...);
    case BinaryOp::kMul:
      return Fn<BinaryOp::kMul>::run(args...);
    case BinaryOp::kDiv:
      return Fn<BinaryOp::kDiv>::run(args...);
    case BinaryOp::kMax:
      return Fn<BinaryOp::kMax>::run(args...);
    case BinaryOp::kMin:
      return Fn<BinaryOp::kMin>::run(args...);
    default:  // the addon passes only the merge layers' ops (kMergeBinaryOps)
      return;
  }
}

template <BinaryOp OP>
struct Forward {
  static void run(const BroadcastShape& s, float scale, const float* a, const float* b, float* y) {
    forward<OP>(s, scale, a, b, y);
  }
};

template <BinaryOp OP>
struct Backward {
  static void run(const BroadcastShape& s, bool for_a, float scale, const float* a, const float* b,
                  const float* dy, float* dx) {
    backward<OP>(s, for_a, scale, a, b, dy, dx);
  }
};

}  // namespace

Status CpuBackend::binary_forward(const BroadcastShape& s, BinaryOp op, float scale, const float* a,
                                  const float* b, float* y) {
  if (s.count() == 0) return Status::Ok();
  dispatch<Forward>(op, s, scale, a, b, y);
  return Status::Ok();
}

Status CpuBackend::binary_backward(const BroadcastShape& s, BinaryOp op, float scale, const float* a,
                                   const float* b, const float* dy, float* da, float* db) {
  const std::size_t count = static_cast<std::size_t>(s.count());
  for (const bool for_a : {true, false}) {
    float* dx = for_a ? da : db;
    if (!dx) continue;
    if (count == 0) {  // y is empty: no terms (an operand of size 1 against an empty one)
      const std::size_t size = static_cast<std::size_t>(for_a ? s.a_size : s.b_size);
      std::fill(dx, dx + size, 0.0f);
      continue;
    }
    dispatch<Backward>(op, s, for_a, scale, a, b, dy, dx);
  }
  return Status::Ok();
}

}  // namespace kn
