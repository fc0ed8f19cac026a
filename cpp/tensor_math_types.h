// The types of the general tensor math's ops (tensor_math.h), which backend.h's op table declares: kept apart
// from tensor_math.h's per-element functions so that a change there recompiles only the files that use them.
#pragma once
#include <cstdint>

namespace kn {

// The element type an op reads or writes. Bool is stored as kInt32 (0 or 1).
enum class ElemType : int { kFloat32, kInt32 };

// Unary functors. p0, p1: leaky_relu's alpha (p0), step's value at x <= 0 (p0), clip's [p0, p1], affine's
// x * p0 + p1. With int32 in and out the integer ops are exact and the others computed in double and stored
// as Int32Array stores a number (tfjs's kernels for an int32 operand). kCast converts between the types
// (float to int32 as JavaScript's Int32Array stores a number: truncated, wrapped modulo 2^32, NaN and
// infinities to 0); kToBool, kIsNan, kIsInf, kIsFinite and kLogicalNot write int32 0 or 1.
// clang-format off
#define KN_UNARY_OPS(X) \
  X(neg) X(abs) X(sign) X(square) X(sqrt) X(rsqrt) X(exp) X(expm1) X(log) X(log1p) X(sin) X(cos) X(tan) X(asin) \
  X(acos) X(atan) X(sinh) X(cosh) X(tanh) X(asinh) X(acosh) X(atanh) X(sigmoid) X(softplus) X(relu) X(relu6) \
  X(elu) X(selu) X(leaky_relu) X(step) X(round) X(floor) X(ceil) X(reciprocal) X(erf) X(clip) X(affine) X(cast) \
  X(to_bool) X(is_nan) X(is_inf) X(is_finite) X(logical_not)
// clang-format on
enum class UnaryOp : int {
#define KN_X(name) k_##name,
  KN_UNARY_OPS(KN_X)
#undef KN_X
};
// By UnaryOp, the names the native mathUnary() takes (lib/core/native.ts's UnaryOp).
inline constexpr const char* kUnaryOpNames[] = {
#define KN_X(name) #name,
    KN_UNARY_OPS(KN_X)
#undef KN_X
};

// A strided view of x as y (4-byte elements): y is row-major over dims; y's element with index (i_0, ..,
// i_r-1) is x's element offset + sum_d i_d * stride[d] (a stride may be 0: repeated; negative: reversed).
// Rank 1 to 8; a caller merges what it can.
struct StridedView {
  static constexpr int kMaxRank = 8;
  int rank = 0;
  int64_t dims[kMaxRank] = {}, stride[kMaxRank] = {};
  int64_t offset = 0;
  int64_t count() const {
    int64_t c = 1;
    for (int d = 0; d < rank; ++d) c *= dims[d];
    return c;
  }
};

enum class ReduceOp : int { kSum, kProd, kMin, kMax, kAll, kAny, kArgMax, kArgMin };

// batch_matmul's operands: y[b] (m x n, contiguous) = a[b] (m x k) x b[b] (k x n), each operand row-major and
// contiguous within a batch, its batches a_stride (b_stride) elements apart: 0 repeats one matrix.
struct MatmulShape {
  int64_t batch = 1, m = 0, k = 0, n = 0;
  int64_t a_stride = 0, b_stride = 0;
};

// tf.image's resizes of x [n, h, w, c] to y [n, oh, ow, c] (tfjs-backend-cpu's ResizeBilinear and
// ResizeNearestNeighbor): the source coordinate of output row r is scale * r (scale * (r + 0.5) - 0.5 for
// bilinear with half-pixel centers, scale * (r + 0.5) for nearest), scale = (h - 1) / (oh - 1) with
// align_corners (and oh > 1), else h / oh.
struct ResizeShape {
  int64_t n = 0, h = 0, w = 0, c = 0, oh = 0, ow = 0;
  bool bilinear = true, align_corners = false, half_pixel = false;
};

}  // namespace kn
