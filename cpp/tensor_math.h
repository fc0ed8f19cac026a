// General tensor math (kernelnet/tfjs's operations, lib/ops/): a few generic op families, each written once
// for both backends (cpu_math.cc, cuda/math.cu), with the per-element rules here so that the two compute the
// same thing:
//   math_unary    y = f(x) over a table of functors (UnaryOp), float32 or int32 in and out, casts included;
//   math_binary   y = a op b with numpy broadcasting (elementwise.h's BroadcastShape and BinaryOp:
//   arithmetic,
//                 comparisons and logical ops; a comparison or logical op writes a bool);
//   math_select   y = cond ? a : b over one shape (tf.where, after the operands are broadcast);
//   strided_copy  y = a strided view of x (transpose, broadcastTo, tile, reverse, slice, stridedSlice: any
//   view
//                 whose element offset is linear in y's index), 4-byte elements;
//   reduce        y = the reduction of x's middle axis of [outer, n, inner] (sum, prod, min, max, all, any,
//                 argMax, argMin), in a fixed order: the same bits at every thread count;
//   scan          y = the running sum or product along that axis (cumsum, cumprod; exclusive, reverse);
//   gather_axis   y[o, j, i] = x[o, idx[j], i];
//   batch_matmul  y[b] = a[b] x b[b] (operands already transposed to [m, k] and [k, n]);
//   topk, resize2d (tf.image's bilinear and nearest resizes), iota (range, linspace), random_gauss.
// A bool is stored as an int32 0 or 1 (kernel-side it is int32; the tensor's dtype says 'bool').
#pragma once
#include <cmath>
#include <cstdint>

#include "elementwise.h"
#include "hd.h"
#include "kn_math.h"
#include "tensor_math_types.h"

namespace kn {

// Whether an op writes a bool whatever it reads.
KN_HD bool unary_to_bool(UnaryOp op) {
  return op == UnaryOp::k_to_bool || op == UnaryOp::k_is_nan || op == UnaryOp::k_is_inf ||
         op == UnaryOp::k_is_finite || op == UnaryOp::k_logical_not;
}

// A number as JavaScript's Int32Array stores it (ToInt32): truncated, wrapped modulo 2^32, NaN and infinities
// 0.
KN_HD int32_t to_int32(double v) {
  if (v > -2147483649.0 && v < 2147483648.0) return static_cast<int32_t>(v);  // in range: truncation alone
  if (!(v == v) || v > 1.7976931348623157e308 || v < -1.7976931348623157e308) return 0;
  double t = v < 0 ? ceil(v) : floor(v);
  t = fmod(t, 4294967296.0);
  if (t < 0) t += 4294967296.0;
  return static_cast<int32_t>(static_cast<uint32_t>(t));
}

// f(x) in double, as tfjs computes it before storing (unary_float rounds it to float32; an int32 operand's
// 'keep' ops store it as Int32Array does). The bool ops give 0 or 1.
KN_HD double unary_double(UnaryOp op, double d, float p0, float p1) {
  const double x = d;
  switch (op) {
    case UnaryOp::k_neg:
      return -x;
    case UnaryOp::k_abs:
      return fabs(x);
    case UnaryOp::k_sign:
      return x < 0.0 ? -1.0 : x > 0.0 ? 1.0 : 0.0;  // tfjs: NaN and 0 give 0
    case UnaryOp::k_square:
      return d * d;
    case UnaryOp::k_sqrt:
      return sqrt(d);
    case UnaryOp::k_rsqrt:
      return 1.0 / sqrt(d);
    case UnaryOp::k_exp:
      return exp(d);
    case UnaryOp::k_expm1:
      return expm1(d);
    case UnaryOp::k_log:
      return log(d);
    case UnaryOp::k_log1p:
      return log1p(d);
    case UnaryOp::k_sin:
      return sin(d);
    case UnaryOp::k_cos:
      return cos(d);
    case UnaryOp::k_tan:
      return tan(d);
    case UnaryOp::k_asin:
      return asin(d);
    case UnaryOp::k_acos:
      return acos(d);
    case UnaryOp::k_atan:
      return atan(d);
    case UnaryOp::k_sinh:
      return sinh(d);
    case UnaryOp::k_cosh:
      return cosh(d);
    case UnaryOp::k_tanh:
      return tanh(d);
    case UnaryOp::k_asinh:
      return asinh(d);
    case UnaryOp::k_acosh:
      return acosh(d);
    case UnaryOp::k_atanh:
      return atanh(d);
    case UnaryOp::k_sigmoid:
      return 1.0 / (1.0 + exp(-d));
    case UnaryOp::k_softplus:  // log(1 + e^x) without overflow
      return d > 0 ? d + log1p(exp(-d)) : log1p(exp(d));
    case UnaryOp::k_relu:
      return x < 0.0 ? 0.0 : x;
    case UnaryOp::k_relu6:
      return x < 0.0 ? 0.0 : x > 6.0 ? 6.0 : x;
    case UnaryOp::k_elu:
      return x >= 0.0 ? x : (expm1(d));
    case UnaryOp::k_selu:
      return x >= 0.0 ? 1.0507009873554804934193349852946 * d
                      : (1.0507009873554804934193349852946 * 1.6732632423543772848170429916717 * expm1(d));
    case UnaryOp::k_leaky_relu:
      return x < 0.0 ? (static_cast<double>(p0) * d) : x;
    case UnaryOp::k_step:
      return x > 0.0 ? 1.0 : x != x ? x : p0;
    case UnaryOp::k_round:  // half to even, as tfjs
      return rint(d);
    case UnaryOp::k_floor:
      return floor(x);
    case UnaryOp::k_ceil:
      return ceil(x);
    case UnaryOp::k_reciprocal:
      return 1.0 / d;
    case UnaryOp::k_erf:
      return erf(d);
    case UnaryOp::k_clip:
      return x > p1 ? p1 : x < p0 ? p0 : x;
    case UnaryOp::k_affine:
      return d * p0 + p1;
    case UnaryOp::k_cast:
      return x;
    case UnaryOp::k_to_bool:
      return x != 0.0 && x == x ? 1.0 : 0.0;  // Boolean(NaN) is false
    case UnaryOp::k_is_nan:
      return x != x ? 1.0 : 0.0;
    case UnaryOp::k_is_inf:
      return x == INFINITY || x == -INFINITY ? 1.0 : 0.0;
    case UnaryOp::k_is_finite:
      return x == x && x != INFINITY && x != -INFINITY ? 1.0 : 0.0;
    case UnaryOp::k_logical_not:
      return x == 0.0 ? 1.0 : 0.0;
  }
  return 0.0;
}

// f(x) for a float32 operand, as tfjs computes it (in double, rounded to float32), the bool ops as 0 or 1.
KN_HD float unary_float(UnaryOp op, float x, float p0, float p1) {
  switch (op) {  // the exact ones in float, so that no double arithmetic is spent on them
    case UnaryOp::k_neg:
      return -x;
    case UnaryOp::k_abs:
      return fabsf(x);
    case UnaryOp::k_relu:
      return x < 0.0f ? 0.0f : x;
    case UnaryOp::k_clip:
      return x > p1 ? p1 : x < p0 ? p0 : x;
    case UnaryOp::k_cast:
      return x;
    // exp, sigmoid and tanh in float32 arithmetic that vectorises (kn_math.h: 1 to 2.5 ulp, subnormal results
    // flushed to 0), where libm's double versions run one element at a time
    case UnaryOp::k_exp:
      return exp_(x);
    case UnaryOp::k_sigmoid:
      return sigmoid_(x);
    case UnaryOp::k_tanh:
      return tanh_(x);
    default:
      return static_cast<float>(unary_double(op, x, p0, p1));
  }
}

// f(x) for an int32 operand, as tfjs computes it: exactly for the integer ops, the others in double and
// stored as Int32Array stores a number (tfjs's kernels write into the input's typed array).
KN_HD int32_t unary_int(UnaryOp op, int32_t x, float p0, float p1) {
  const int64_t v = x;
  switch (op) {
    case UnaryOp::k_neg:
      return static_cast<int32_t>(static_cast<uint32_t>(-v));
    case UnaryOp::k_abs:
      return static_cast<int32_t>(static_cast<uint32_t>(v < 0 ? -v : v));
    case UnaryOp::k_sign:
      return x < 0 ? -1 : x > 0 ? 1 : 0;
    case UnaryOp::k_square:
      return to_int32(static_cast<double>(v) * static_cast<double>(v));
    case UnaryOp::k_relu:
      return x < 0 ? 0 : x;
    case UnaryOp::k_clip:
      return to_int32(v > p1 ? p1 : v < p0 ? p0 : static_cast<double>(v));
    case UnaryOp::k_cast:
      return x;
    case UnaryOp::k_to_bool:
      return x != 0;
    case UnaryOp::k_logical_not:
      return x == 0;
    case UnaryOp::k_is_nan:
    case UnaryOp::k_is_inf:
      return 0;
    case UnaryOp::k_is_finite:
      return 1;
    default:
      return to_int32(unary_double(op, static_cast<double>(x), p0, p1));
  }
}

// The result of one element of math_unary: In and Out are float or int32_t.
template <typename In, typename Out>
KN_HD Out unary_value(UnaryOp op, In x, float p0, float p1);
template <>
KN_HD float unary_value<float, float>(UnaryOp op, float x, float p0, float p1) {
  return unary_float(op, x, p0, p1);
}
template <>
KN_HD int32_t unary_value<float, int32_t>(UnaryOp op, float x, float p0, float p1) {
  if (op == UnaryOp::k_cast) return to_int32(x);
  if (op == UnaryOp::k_to_bool) return x != 0.0f && x == x;  // Boolean(NaN) is false
  return static_cast<int32_t>(unary_float(op, x, p0, p1));   // the bool ops: 0 or 1
}
template <>
KN_HD float unary_value<int32_t, float>(UnaryOp op, int32_t x, float p0, float p1) {
  return static_cast<float>(x);  // kCast
}
template <>
KN_HD int32_t unary_value<int32_t, int32_t>(UnaryOp op, int32_t x, float p0, float p1) {
  return unary_int(op, x, p0, p1);
}

// Whether a BinaryOp writes a bool (a comparison or a logical op).
KN_HD bool binary_to_bool(BinaryOp op) {
  return static_cast<int>(op) >= static_cast<int>(BinaryOp::kEqual);
}
// Whether a BinaryOp of float32 operands writes int32: the bools, and floorDiv (tfjs's FloorDiv kernel writes
// int32 whatever it reads).
KN_HD bool binary_float_to_int(BinaryOp op) {
  return binary_to_bool(op) || op == BinaryOp::kFloorDiv;
}

// a op b for float32 operands, as tfjs computes it (comparisons: 1 or 0).
KN_HD float binary_float(BinaryOp op, float a, float b) {
  const double x = a, y = b;
  switch (op) {
    case BinaryOp::kAdd:  // the merge layers' six, as elementwise.h computes them (NaN propagates in max,
                          // min)
    case BinaryOp::kSub:
    case BinaryOp::kMul:
    case BinaryOp::kDiv:
    case BinaryOp::kMax:
    case BinaryOp::kMin:
      return binary_apply(op, a, b);
    case BinaryOp::kPow:
      return static_cast<float>(pow(x, y));
    case BinaryOp::kMod: {  // floored: the sign of b (tfjs's mod)
      const double r = fmod(x, y);
      return static_cast<float>((x < 0 && y < 0) || (x >= 0 && y >= 0) ? r : fmod(r + y, y));
    }
    case BinaryOp::kSquaredDiff:
      return static_cast<float>((x - y) * (x - y));
    case BinaryOp::kFloorDiv:
      return static_cast<float>(floor(x / y));
    case BinaryOp::kAtan2:
      return static_cast<float>(atan2(x, y));
    case BinaryOp::kPrelu:
      return a < 0.0f ? static_cast<float>(y * x) : a;
    case BinaryOp::kEqual:
      return a == b;
    case BinaryOp::kNotEqual:
      return a != b;
    case BinaryOp::kLess:
      return a < b;
    case BinaryOp::kLessEqual:
      return a <= b;
    case BinaryOp::kGreater:
      return a > b;
    case BinaryOp::kGreaterEqual:
      return a >= b;
    case BinaryOp::kLogicalAnd:
      return a != 0.0f && b != 0.0f;
    case BinaryOp::kLogicalOr:
      return a != 0.0f || b != 0.0f;
    case BinaryOp::kLogicalXor:
      return (a != 0.0f) != (b != 0.0f);
  }
  return 0.0f;
}

// a op b for int32 operands, as tfjs computes it in double and stores in an Int32Array (wrapping; a division
// by zero gives 0).
KN_HD int32_t binary_int(BinaryOp op, int32_t a, int32_t b) {
  const double x = a, y = b;
  switch (op) {
    case BinaryOp::kAdd:
      return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
    case BinaryOp::kSub:
      return static_cast<int32_t>(static_cast<uint32_t>(a) - static_cast<uint32_t>(b));
    case BinaryOp::kMul:  // the product modulo 2^32: JavaScript's, exactly, while it is below 2^53
      return static_cast<int32_t>(static_cast<uint32_t>(a) * static_cast<uint32_t>(b));
    case BinaryOp::kDiv:  // tfjs divides int32 by int32 as floorDiv
    case BinaryOp::kFloorDiv:
      return b == 0 ? 0 : to_int32(floor(x / y));
    case BinaryOp::kMax:
      return a >= b ? a : b;
    case BinaryOp::kMin:
      return a <= b ? a : b;
    case BinaryOp::kPow:
      return to_int32(pow(x, y));
    case BinaryOp::kMod: {
      if (b == 0) return 0;
      const double r = fmod(x, y);
      return to_int32((x < 0 && y < 0) || (x >= 0 && y >= 0) ? r : fmod(r + y, y));
    }
    case BinaryOp::kSquaredDiff:
      return to_int32((x - y) * (x - y));
    case BinaryOp::kAtan2:
      return to_int32(atan2(x, y));
    case BinaryOp::kPrelu:
      return a < 0 ? to_int32(y * x) : a;
    case BinaryOp::kEqual:
      return a == b;
    case BinaryOp::kNotEqual:
      return a != b;
    case BinaryOp::kLess:
      return a < b;
    case BinaryOp::kLessEqual:
      return a <= b;
    case BinaryOp::kGreater:
      return a > b;
    case BinaryOp::kGreaterEqual:
      return a >= b;
    case BinaryOp::kLogicalAnd:
      return a != 0 && b != 0;
    case BinaryOp::kLogicalOr:
      return a != 0 || b != 0;
    case BinaryOp::kLogicalXor:
      return (a != 0) != (b != 0);
  }
  return 0;
}

// a op b for float32 operands where it writes int32 (binary_float_to_int): the bools as 0 or 1; floorDiv's
// floor(a / b) in double, stored as Int32Array stores it (no float32 rounding on the way).
KN_HD int32_t binary_float_int(BinaryOp op, float a, float b) {
  if (op == BinaryOp::kFloorDiv) return to_int32(floor(static_cast<double>(a) / static_cast<double>(b)));
  return binary_float(op, a, b) != 0.0f;
}

// The offset into x of y's element o.
template <typename I>
KN_HD int64_t strided_offset(const StridedView& v, I o) {
  int64_t off = v.offset;
  KN_UNROLL
  for (int d = StridedView::kMaxRank - 1; d >= 0; --d) {
    if (d >= v.rank) continue;
    const I n = static_cast<I>(v.dims[d]), i = o % n;
    o /= n;
    off += static_cast<int64_t>(i) * v.stride[d];
  }
  return off;
}

// By ReduceOp, the names the native reduce() takes.
inline constexpr const char* kReduceOpNames[] = {"sum", "prod", "min",    "max",
                                                 "all", "any",  "argMax", "argMin"};

// A reduction's start value and step, for element type T (all and any read bools, argMax and argMin are
// handled apart). Min and max keep NaN once seen (tfjs: NaN propagates).
template <typename T>
KN_HD T reduce_step(ReduceOp op, T acc, T v) {
  switch (op) {
    case ReduceOp::kSum:
      return acc + v;
    case ReduceOp::kProd:
      return acc * v;
    case ReduceOp::kMin:
      return v < acc || v != v ? v : acc;
    case ReduceOp::kMax:
      return v > acc || v != v ? v : acc;
    case ReduceOp::kAll:
      return acc && v;
    case ReduceOp::kAny:
      return acc || v;
    default:
      return acc;
  }
}
template <>
KN_HD int32_t reduce_step<int32_t>(ReduceOp op, int32_t acc, int32_t v) {
  switch (op) {
    case ReduceOp::kSum:
      return static_cast<int32_t>(static_cast<uint32_t>(acc) + static_cast<uint32_t>(v));
    case ReduceOp::kProd:  // modulo 2^32: the same in any order
      return static_cast<int32_t>(static_cast<uint32_t>(acc) * static_cast<uint32_t>(v));
    case ReduceOp::kMin:
      return v < acc ? v : acc;
    case ReduceOp::kMax:
      return v > acc ? v : acc;
    case ReduceOp::kAll:
      return acc != 0 && v != 0;
    case ReduceOp::kAny:
      return acc != 0 || v != 0;
    default:
      return acc;
  }
}

// The identity of a reduction (its value over an empty axis): sum 0, prod 1, min +inf, max -inf (int32: its
// extremes), all 1, any 0.
template <typename T>
KN_HD T reduce_identity(ReduceOp op) {
  switch (op) {
    case ReduceOp::kProd:
    case ReduceOp::kAll:
      return T(1);
    case ReduceOp::kMin:
      return T(INFINITY);
    case ReduceOp::kMax:
      return T(-INFINITY);
    default:
      return T(0);
  }
}
template <>
KN_HD int32_t reduce_identity<int32_t>(ReduceOp op) {
  switch (op) {
    case ReduceOp::kProd:
    case ReduceOp::kAll:
      return 1;
    case ReduceOp::kMin:
      return 2147483647;
    case ReduceOp::kMax:
      return -2147483647 - 1;
    default:
      return 0;
  }
}

// Sums over one run x[0], x[s], .., x[(n-1) s] (a reduction's fixed order, the same on both backends): eight
// partial accumulators (element j into j % 8) combined pairwise, ((p0+p1)+(p2+p3))+((p4+p5)+(p6+p7)).
// Min, max, all, any and int32 sums give the same result in any order; float sums and products depend on it.
template <typename T>
KN_HD T reduce_run(ReduceOp op, const T* x, int64_t n, int64_t s) {
  T p[8];
  KN_UNROLL
  for (int l = 0; l < 8; ++l) p[l] = reduce_identity<T>(op);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    KN_UNROLL
    for (int l = 0; l < 8; ++l) p[l] = reduce_step<T>(op, p[l], x[(j + l) * s]);
  }
  for (int l = 0; j < n; ++j, ++l) p[l] = reduce_step<T>(op, p[l], x[j * s]);
  return reduce_step<T>(op,
                        reduce_step<T>(op, reduce_step<T>(op, p[0], p[1]), reduce_step<T>(op, p[2], p[3])),
                        reduce_step<T>(op, reduce_step<T>(op, p[4], p[5]), reduce_step<T>(op, p[6], p[7])));
}

// The index of the first largest (arg_max) or smallest value of x[0], x[s], .., as tfjs's: the first element
// is the start, and an element wins only when strictly greater (smaller), so NaN never wins after the first.
template <typename T>
KN_HD int32_t arg_run(bool arg_max, const T* x, int64_t n, int64_t s) {
  T best = x[0];
  int32_t at = 0;
  for (int64_t j = 1; j < n; ++j) {
    const T v = x[j * s];
    if (arg_max ? v > best : v < best) best = v, at = static_cast<int32_t>(j);
  }
  return at;
}

KN_HD double resize_scale(int64_t in, int64_t out, bool align_corners) {
  return align_corners && out > 1 ? static_cast<double>(in - 1) / static_cast<double>(out - 1)
                                  : static_cast<double>(in) / static_cast<double>(out);
}

// y's element o (row-major [n, oh, ow, c]).
KN_HD float resize_value(const ResizeShape& s, const float* x, int64_t o) {
  const int64_t ch = o % s.c, ox = (o / s.c) % s.ow, oy = (o / (s.c * s.ow)) % s.oh,
                b = o / (s.c * s.ow * s.oh);
  const double sy = resize_scale(s.h, s.oh, s.align_corners), sx = resize_scale(s.w, s.ow, s.align_corners);
  const float* img = x + b * s.h * s.w * s.c + ch;
  if (!s.bilinear) {
    const double fy = s.half_pixel ? sy * (oy + 0.5) : sy * oy, fx = s.half_pixel ? sx * (ox + 0.5) : sx * ox;
    int64_t iy = static_cast<int64_t>(s.align_corners ? round(fy) : floor(fy));
    int64_t ix = static_cast<int64_t>(s.align_corners ? round(fx) : floor(fx));
    iy = iy > s.h - 1 ? s.h - 1 : iy < 0 ? 0 : iy;
    ix = ix > s.w - 1 ? s.w - 1 : ix < 0 ? 0 : ix;
    return img[(iy * s.w + ix) * s.c];
  }
  const double fy = s.half_pixel ? sy * (oy + 0.5) - 0.5 : sy * oy;
  const double fx = s.half_pixel ? sx * (ox + 0.5) - 0.5 : sx * ox;
  const int64_t y0 = fy > 0 ? static_cast<int64_t>(floor(fy)) : 0,
                x0 = fx > 0 ? static_cast<int64_t>(floor(fx)) : 0;
  const int64_t y1 = static_cast<int64_t>(ceil(fy)) < s.h - 1 ? static_cast<int64_t>(ceil(fy)) : s.h - 1;
  const int64_t x1 = static_cast<int64_t>(ceil(fx)) < s.w - 1 ? static_cast<int64_t>(ceil(fx)) : s.w - 1;
  const double dy = fy - y0, dx = fx - x0;
  const double tl = img[(y0 * s.w + x0) * s.c], tr = img[(y0 * s.w + x1) * s.c];
  const double bl = img[(y1 * s.w + x0) * s.c], br = img[(y1 * s.w + x1) * s.c];
  const double top = tl + (tr - tl) * dx, bottom = bl + (br - bl) * dx;
  return static_cast<float>(top + (bottom - top) * dy);
}

}  // namespace kn
