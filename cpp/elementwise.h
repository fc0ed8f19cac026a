// The broadcasting elementwise binary ops (ops.def's binary_forward and binary_backward): the merge layers
// (Add, Subtract, Multiply, Average, Maximum, Minimum), a graph's fan-out gradient sums and tensor
// arithmetic, as one op family with numpy broadcasting, written once for both backends (cpu_elementwise.cc,
// cuda/elementwise.cu):
//   forward   y = scale * (a op b)
//   backward  da = the sum over a's broadcast positions of dy * scale * d(a op b)/da, db likewise.
// Per element: add a + b, sub a - b, mul a b, div a / b, max and min (NaN propagates; ties give a). Their
// derivatives with g = dy * scale: add g and g; sub g and -g; mul g b and g a; div g / b and g ((-a / b) / b)
// (TensorFlow's RealDivGrad, which never squares b); max g where a >= b to a, the rest to b; min g where
// a <= b to a (TensorFlow's MaximumGrad and MinimumGrad).
// Each gradient element sums its terms in ascending order of y's index, starting from the first term (not
// from 0), on both backends: the same bits at any thread count, and CPU == CUDA wherever the products are
// exact.
#pragma once
#include <cstdint>
#include <vector>

#include "hd.h"

namespace kn {

// The first six are the merge layers' (binary_forward and binary_backward take only those); the rest are
// kernelnet/tfjs's tensor math (tensor_math.h's math_binary), comparisons and logical ops last (from kEqual:
// they write bools).
enum class BinaryOp : int {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMax,
  kMin,
  kPow,
  kMod,
  kSquaredDiff,
  kFloorDiv,
  kAtan2,
  kPrelu,
  kEqual,
  kNotEqual,
  kLess,
  kLessEqual,
  kGreater,
  kGreaterEqual,
  kLogicalAnd,
  kLogicalOr,
  kLogicalXor,
};
// By BinaryOp, the names the native binary(), binaryBackward() and mathBinary() take (lib/core/native.ts's
// BinaryOp and MathBinaryOp).
inline constexpr const char* kBinaryOpNames[] = {"add",        "sub",       "mul",
                                                 "div",        "max",       "min",
                                                 "pow",        "mod",       "squaredDifference",
                                                 "floorDiv",   "atan2",     "prelu",
                                                 "equal",      "notEqual",  "less",
                                                 "lessEqual",  "greater",   "greaterEqual",
                                                 "logicalAnd", "logicalOr", "logicalXor"};
// The ops binary_forward and binary_backward take (the merge layers'): those before kPow.
constexpr int kMergeBinaryOps = 6;

// a and b broadcast to y, in a canonical form computed once on the host (make_broadcast): y's dimensions of
// size 1 are dropped and neighbours that both operands step through alike are merged, so [N,H,W,C] + [C] is
// dims [N*H*W, C], a_stride [C, 1], b_stride [0, 1], and two tensors of one shape are one dimension. y is
// row-major over dims; an operand's stride is 0 along a dimension it repeats (broadcasts), else its own
// row-major element stride (each operand is contiguous over the dimensions where its stride is not 0). Rank
// is at least 1 (a single element is dims [1]).
struct BroadcastShape {
  static constexpr int kMaxRank = 8;
  int rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t a_stride[kMaxRank] = {}, b_stride[kMaxRank] = {};
  int64_t a_size = 0, b_size = 0;  // the operands' element counts
  int64_t count() const {
    int64_t c = 1;
    for (int d = 0; d < rank; ++d) c *= dims[d];
    return c;
  }
  // Whether an operand is read once per element of y (it has y's element count), i.e. not broadcast.
  bool a_full() const { return a_size == count(); }
  bool b_full() const { return b_size == count(); }
};

// numpy broadcasting of shapes a and b (right-aligned; a missing or size-1 dimension repeats): false if they
// do not broadcast (or either's rank exceeds kMaxRank), else y's shape in *y and the canonical form in *s.
inline bool make_broadcast(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                           std::vector<int64_t>* y, BroadcastShape* s) {
  const int ra = static_cast<int>(a.size()), rb = static_cast<int>(b.size());
  const int r = ra > rb ? ra : rb;
  if (r > BroadcastShape::kMaxRank) return false;
  y->assign(r, 1);
  int64_t as[BroadcastShape::kMaxRank], bs[BroadcastShape::kMaxRank];
  int64_t sa = 1, sb = 1;
  *s = BroadcastShape{};
  s->a_size = s->b_size = 1;
  for (int d = r - 1; d >= 0; --d) {
    const int64_t da = d - (r - ra) >= 0 ? a[d - (r - ra)] : 1, db = d - (r - rb) >= 0 ? b[d - (r - rb)] : 1;
    if (da != db && da != 1 && db != 1) return false;
    (*y)[d] = da == 1 ? db : da;
    as[d] = da == 1 ? 0 : sa;
    bs[d] = db == 1 ? 0 : sb;
    sa *= da, sb *= db;
  }
  s->a_size = sa, s->b_size = sb;
  // Drop y's size-1 dimensions; merge d into the previous kept one where both operands continue it.
  for (int d = 0; d < r; ++d) {
    if ((*y)[d] == 1) continue;
    const int k = s->rank - 1;
    if (k >= 0 && s->a_stride[k] == as[d] * (*y)[d] && s->b_stride[k] == bs[d] * (*y)[d]) {
      s->dims[k] *= (*y)[d];
      s->a_stride[k] = as[d], s->b_stride[k] = bs[d];
      continue;
    }
    s->dims[s->rank] = (*y)[d], s->a_stride[s->rank] = as[d], s->b_stride[s->rank] = bs[d];
    ++s->rank;
  }
  if (s->rank == 0) s->rank = 1, s->dims[0] = 1, s->a_stride[0] = s->b_stride[0] = 0;
  return true;
}

// A product rounded on its own, so that the GPU's compiler cannot fuse it with the sum after it (the CPU
// rounds it first).
KN_HD float mul_rn(float x, float y) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(x, y);
#else
  return x * y;
#endif
}

// a op b, before the scale.
KN_HD float binary_apply(BinaryOp op, float a, float b) {
  switch (op) {
    case BinaryOp::kAdd:
      return a + b;
    case BinaryOp::kSub:
      return a - b;
    case BinaryOp::kMul:
      return mul_rn(a, b);
    case BinaryOp::kDiv:
      return a / b;
    case BinaryOp::kMax:
      return a >= b || a != a ? a : b;
    case BinaryOp::kMin:
      return a <= b || a != a ? a : b;
    default:
      break;
  }
  return 0.0f;
}

// g * d(a op b)/da (for_a) or /db, with g = dy * scale.
KN_HD float binary_grad(BinaryOp op, bool for_a, float g, float a, float b) {
  switch (op) {
    case BinaryOp::kAdd:
      return g;
    case BinaryOp::kSub:
      return for_a ? g : -g;
    case BinaryOp::kMul:
      return mul_rn(g, for_a ? b : a);
    case BinaryOp::kDiv:
      return for_a ? g / b : mul_rn(g, -a / b / b);
    case BinaryOp::kMax:
      return (a >= b) == for_a ? g : 0.0f;
    case BinaryOp::kMin:
      return (a <= b) == for_a ? g : 0.0f;
    default:
      break;
  }
  return 0.0f;
}

// y's element o as offsets into a and b. Index math in I (32 bits where every count allows).
template <typename I>
KN_HD void broadcast_offsets(const BroadcastShape& s, I o, I* ao, I* bo) {
  I oa = 0, ob = 0;
  KN_UNROLL
  for (int d = BroadcastShape::kMaxRank - 1; d >= 0; --d) {
    if (d >= s.rank) continue;
    const I n = static_cast<I>(s.dims[d]), i = o % n;
    o /= n;
    oa += i * static_cast<I>(s.a_stride[d]);
    ob += i * static_cast<I>(s.b_stride[d]);
  }
  *ao = oa, *bo = ob;
}

// Element e of the gradient of a (for_a) or b: its terms over every element of y that read it, summed in
// ascending order of y's index from the first term. The dimensions the operand repeats (stride 0) are the
// reduced ones; its own dimensions place e. s.count() must not be 0.
template <typename I>
KN_HD float binary_grad_element(const BroadcastShape& s, BinaryOp op, bool for_a, float scale, const float* a,
                                const float* b, const float* dy, I e) {
  I y0 = 0, o0 = 0, reduced = 1, ys = 1;
  KN_UNROLL
  for (int d = BroadcastShape::kMaxRank - 1; d >= 0; --d) {
    if (d >= s.rank) continue;
    const I n = static_cast<I>(s.dims[d]);
    const I xs = static_cast<I>(for_a ? s.a_stride[d] : s.b_stride[d]),
            os = static_cast<I>(for_a ? s.b_stride[d] : s.a_stride[d]);
    if (xs != 0) {
      const I i = e / xs % n;
      y0 += i * ys, o0 += i * os;
    } else {
      reduced *= n;
    }
    ys *= n;
  }
  const float x = for_a ? a[e] : b[e];
  const float* other = for_a ? b : a;
  float acc = 0.0f;
  for (I r = 0; r < reduced; ++r) {
    I rest = r, yo = y0, oo = o0, step = 1;
    KN_UNROLL
    for (int d = BroadcastShape::kMaxRank - 1; d >= 0; --d) {
      if (d >= s.rank) continue;
      const I n = static_cast<I>(s.dims[d]);
      if ((for_a ? s.a_stride[d] : s.b_stride[d]) == 0) {
        const I i = rest % n;
        rest /= n;
        yo += i * step;
        oo += i * static_cast<I>(for_a ? s.b_stride[d] : s.a_stride[d]);
      }
      step *= n;
    }
    const float o = other[oo], g = mul_rn(dy[yo], scale);
    const float t = for_a ? binary_grad(op, true, g, x, o) : binary_grad(op, false, g, o, x);
    acc = r == 0 ? t : acc + t;
  }
  return acc;
}

}  // namespace kn
