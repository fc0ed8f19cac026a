// The native surface of the general tensor math (tensor_math.h's op families; lib/ops/ builds
// kernelnet/tfjs's operations on them). Each function checks its tensors as the rest of addon.cc does (dtype,
// sizes, outputs sharing memory with nothing), so that no call from JavaScript can read or write outside a
// buffer, then runs the op on the tensors' backend. Shapes are passed already reduced to what the kernels
// index by
// ([outer, n, inner] for a reduction, a strided view's dims and strides): lib/ops/ does that bookkeeping.
#include "math_addon.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "args.h"
#include "tensor_math.h"

namespace kn {
namespace {

// A tensor's element type as the kernels read it (a bool as int32).
ElemType elem(TensorHandle* t) {
  return t->dtype() == DType::kFloat32 ? ElemType::kFloat32 : ElemType::kInt32;
}

// An array of `len` integers in [lo, hi] at argument i.
std::vector<int64_t> ints(Args& a, int i, const char* name, std::size_t len, double lo, double hi) {
  const Napi::Value v = a.value(i);
  if (!v.IsArray() || v.As<Napi::Array>().Length() != len)
    a.fail("ERR_KERNELNET_ARG",
           std::string("expected ") + name + " to be an array of " + std::to_string(len) +
               " integers but received " + describe_value(v),
           true);
  std::vector<int64_t> out;
  const Napi::Array arr = v.As<Napi::Array>();
  for (uint32_t j = 0; j < len; ++j) {
    const Napi::Value e = arr.Get(j);
    const double x = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : NAN;
    if (!(x >= lo && x <= hi) || x != std::floor(x))
      a.fail("ERR_KERNELNET_ARG", std::string("expected ") + name + "[" + std::to_string(j) +
                                      "] to be an integer in [" + std::to_string(static_cast<int64_t>(lo)) +
                                      ", " + std::to_string(static_cast<int64_t>(hi)) + "] but received " +
                                      describe_value(e));
    out.push_back(static_cast<int64_t>(x));
  }
  return out;
}

constexpr double kMaxIndex = 9007199254740991.0;

// [outer, n, inner] at argument i, whose product must be x's size.
std::array<std::size_t, 3> dims3(Args& a, int i, TensorHandle* x) {
  const auto d = ints(a, i, "dims", 3, 0, kMaxIndex);
  if (d[0] * d[1] * d[2] != static_cast<int64_t>(x->size()))
    a.fail("ERR_KERNELNET_SHAPE", "dims [" + std::to_string(d[0]) + ", " + std::to_string(d[1]) + ", " +
                                      std::to_string(d[2]) + "] do not cover x (" + x->describe() + ")");
  return {static_cast<std::size_t>(d[0]), static_cast<std::size_t>(d[1]), static_cast<std::size_t>(d[2])};
}

void expect_dtype(Args& a, TensorHandle* t, const char* name, DType want) {
  if (t->dtype() != want)
    a.fail("ERR_KERNELNET_SHAPE", std::string("expected ") + name + " to be a " + dtype_name(want) +
                                      " tensor but received " + t->describe());
}

void expect_size(Args& a, TensorHandle* t, const char* name, std::size_t size) {
  if (t->size() != size)
    a.fail("ERR_KERNELNET_SHAPE", std::string("expected ") + name + " to have " + std::to_string(size) +
                                      " elements but received " + t->describe());
}

// The entry of `names` given at argument i, as an enum.
template <typename E, std::size_t N>
E by_name(Args& a, int i, const char* what, const char* const (&names)[N]) {
  const Napi::Value v = a.value(i);
  if (v.IsString()) {
    const std::string s = v.As<Napi::String>().Utf8Value();
    for (std::size_t k = 0; k < N; ++k)
      if (s == names[k]) return static_cast<E>(k);
  }
  a.fail(
      "ERR_KERNELNET_ARG",
      std::string("expected ") + what + " to be the name of one of its ops but received " + describe_value(v),
      true);
}

float opt_float(Args& a, int i, const char* name) {
  return a.arg(i, name).undefined()
             ? 0.0f
             : static_cast<float>(a.number(i, name, -INFINITY, INFINITY));  // Number.MAX_VALUE: +inf
}

}  // namespace

// mathUnary(op, x, y, p0 = 0, p1 = 0): y = op(x) elementwise; x and y of one size. The dtypes say what is
// read and written: a bool op (toBool, isNaN, isInf, isFinite, logicalNot) writes a bool; cast converts
// between float32 and int32; the rest keep x's dtype (an int32 computed as tensor_math.h's unary_int).
void MathUnary(const Napi::CallbackInfo& info) {
  Args a(info, "mathUnary");
  const UnaryOp op = by_name<UnaryOp>(a, 0, "op", kUnaryOpNames);
  TensorHandle *x = a.tensor(1, "x"), *y = a.tensor(2, "y");
  const float p0 = opt_float(a, 3, "p0"), p1 = opt_float(a, 4, "p1");
  expect_size(a, y, "y", x->size());
  bool ok;
  if (unary_to_bool(op))
    ok = y->dtype() == DType::kBool;
  else if (op == UnaryOp::k_cast)
    ok = y->dtype() != DType::kBool;
  else
    ok = y->dtype() == x->dtype() && x->dtype() != DType::kBool;
  if (!ok)
    a.fail("ERR_KERNELNET_SHAPE", std::string("mathUnary '") + kUnaryOpNames[static_cast<int>(op)] +
                                      "' does not take x " + x->describe() + " to y " + y->describe());
  a.distinct({y, x});
  if (!x->size()) return;
  a.run([op, in = elem(x), out = elem(y), n = x->size(), x = x->buffer()->data, y = y->buffer()->data, p0,
         p1](Backend& be) { return be.math_unary(op, in, out, n, x, y, p0, p1); });
}

// mathBinary(op, a, b, y): y = a op b with numpy broadcasting; a and b of one dtype; y a bool for a
// comparison or logical op, else of a's dtype, shaped as a and b broadcast.
void MathBinary(const Napi::CallbackInfo& info) {
  Args a(info, "mathBinary");
  const BinaryOp op = by_name<BinaryOp>(a, 0, "op", kBinaryOpNames);
  TensorHandle *x = a.tensor(1, "a"), *w = a.tensor(2, "b"), *y = a.tensor(3, "y");
  if (x->dtype() != w->dtype())
    a.fail("ERR_KERNELNET_SHAPE",
           "expected a and b of one dtype but received " + x->describe() + " and " + w->describe());
  std::vector<int64_t> ys;
  BroadcastShape s;
  if (!make_broadcast(x->shape(), w->shape(), &ys, &s))
    a.fail("ERR_KERNELNET_SHAPE", "a (" + x->describe() + ") and b (" + w->describe() +
                                      ") do not broadcast: right-aligned, each pair of dimensions must be "
                                      "equal or include a 1");
  // floorDiv writes int32 whatever it reads (tfjs's FloorDiv kernel)
  const DType want = binary_to_bool(op)          ? DType::kBool
                     : op == BinaryOp::kFloorDiv ? DType::kInt32
                                                 : x->dtype();
  if (y->dtype() != want || y->shape() != ys)
    a.fail("ERR_KERNELNET_SHAPE", std::string("expected y to be a ") + dtype_name(want) +
                                      " tensor of shape " + shape_string(ys) + " but received " +
                                      y->describe());
  a.distinct_output(y, {x, w});  // the operands may be one tensor (tf.mul(x, x))
  if (s.count() == 0) return;
  a.run([s, op, t = elem(x), x = x->buffer()->data, w = w->buffer()->data,
         y = y->buffer()->data](Backend& be) { return be.math_binary(s, op, t, x, w, y); });
}

// mathSelect(cond, a, b, y): y = cond ? a : b elementwise; cond a bool, all four of one size, a, b and y of
// one dtype.
void MathSelect(const Napi::CallbackInfo& info) {
  Args a(info, "mathSelect");
  TensorHandle *c = a.tensor(0, "cond"), *x = a.tensor(1, "a"), *w = a.tensor(2, "b"), *y = a.tensor(3, "y");
  expect_dtype(a, c, "cond", DType::kBool);
  for (auto [t, name] : {std::pair{x, "a"}, std::pair{w, "b"}}) {
    expect_dtype(a, t, name, y->dtype());
    expect_size(a, t, name, y->size());
  }
  expect_size(a, c, "cond", y->size());
  a.distinct_output(y, {c, x, w});  // the branches may be one tensor
  if (!y->size()) return;
  a.run([n = y->size(), c = c->i32(), x = x->buffer()->data, w = w->buffer()->data,
         y = y->buffer()->data](Backend& be) { return be.math_select(n, c, x, w, y); });
}

// stridedCopy(x, y, strides, offset): y (its shape the view's dims) = x's elements offset + sum_d i_d
// strides[d]; every element read must lie inside x (checked); x and y of one dtype.
void StridedCopy(const Napi::CallbackInfo& info) {
  Args a(info, "stridedCopy");
  TensorHandle *x = a.tensor(0, "x"), *y = a.tensor(1, "y");
  expect_dtype(a, y, "y", x->dtype());
  const std::vector<int64_t>& ys = y->shape();
  const std::size_t rank = ys.size();
  if (rank > static_cast<std::size_t>(StridedView::kMaxRank))
    a.fail("ERR_KERNELNET_SHAPE", "expected y of rank 0 to 8 but received " + y->describe());
  const auto strides = ints(a, 2, "strides", rank, -kMaxIndex, kMaxIndex);
  const int64_t offset = static_cast<int64_t>(a.uint53(3, "offset"));
  a.distinct({y, x});
  if (!y->size()) return;
  StridedView v;
  int64_t lo = offset, hi = offset;
  for (std::size_t d = 0; d < rank; ++d) {
    if (ys[d] == 1) continue;  // dims of 1 dropped
    v.dims[v.rank] = ys[d], v.stride[v.rank] = strides[d], ++v.rank;
    (strides[d] < 0 ? lo : hi) += (ys[d] - 1) * strides[d];
  }
  if (v.rank == 0) v.rank = 1, v.dims[0] = 1, v.stride[0] = 0;
  v.offset = offset;
  if (lo < 0 || hi >= static_cast<int64_t>(x->size()))
    a.fail("ERR_KERNELNET_SHAPE", "the view reads elements " + std::to_string(lo) + " to " +
                                      std::to_string(hi) + ", outside x (" + x->describe() + ")");
  a.run([v, x = x->buffer()->data, y = y->buffer()->data](Backend& be) { return be.strided_copy(v, x, y); });
}

// reduce(op, x, [outer, n, inner], y): y[o, i] = op over x[o, :, i]; y has outer * inner elements, int32 for
// argMax and argMin, else x's dtype (all and any: bools).
void Reduce(const Napi::CallbackInfo& info) {
  Args a(info, "reduce");
  const ReduceOp op = by_name<ReduceOp>(a, 0, "op", kReduceOpNames);
  TensorHandle *x = a.tensor(1, "x"), *y = a.tensor(3, "y");
  const auto [outer, n, inner] = dims3(a, 2, x);
  const bool arg = op == ReduceOp::kArgMax || op == ReduceOp::kArgMin;
  const bool logical = op == ReduceOp::kAll || op == ReduceOp::kAny;
  if (logical != (x->dtype() == DType::kBool))
    a.fail("ERR_KERNELNET_SHAPE", std::string("reduce '") + kReduceOpNames[static_cast<int>(op)] +
                                      "' does not take x " + x->describe());
  expect_dtype(a, y, "y", arg ? DType::kInt32 : x->dtype());
  expect_size(a, y, "y", outer * inner);
  if (arg && n == 0 && outer * inner != 0) a.fail("ERR_KERNELNET_SHAPE", "argMax/argMin over an empty axis");
  a.distinct({y, x});
  if (!y->size()) return;
  a.run([op, t = elem(x), outer, n, inner, x = x->buffer()->data, y = y->buffer()->data](Backend& be) {
    return be.reduce(op, t, outer, n, inner, x, y);
  });
}

// scan(op, x, [outer, n, inner], exclusive, reverse, y): the running sum ('add') or product ('mul') of x
// along n; float32 or int32, y as x.
void Scan(const Napi::CallbackInfo& info) {
  Args a(info, "scan");
  const std::string name = a.choice(0, "op", {"add", "mul"});
  TensorHandle *x = a.tensor(1, "x"), *y = a.tensor(5, "y");
  const auto [outer, n, inner] = dims3(a, 2, x);
  const bool exclusive = a.boolean(3, "exclusive"), reverse = a.boolean(4, "reverse");
  if (x->dtype() == DType::kBool) a.fail("ERR_KERNELNET_SHAPE", "scan does not take a bool x");
  expect_dtype(a, y, "y", x->dtype());
  expect_size(a, y, "y", x->size());
  a.distinct({y, x});
  if (!y->size()) return;
  a.run([op = name == "add" ? BinaryOp::kAdd : BinaryOp::kMul, t = elem(x), outer, n, inner, exclusive,
         reverse, x = x->buffer()->data, y = y->buffer()->data](Backend& be) {
    return be.scan(op, t, outer, n, inner, exclusive, reverse, x, y);
  });
}

// gatherAxis(x, [outer, n, inner], indices, y): y[o, j, i] = x[o, indices[j], i]; indices an int32 [m], each
// in [0, n) (an index outside gives zeros: the caller checks them); y of x's dtype and outer * m * inner
// elements.
void GatherAxis(const Napi::CallbackInfo& info) {
  Args a(info, "gatherAxis");
  TensorHandle *x = a.tensor(0, "x"), *idx = a.tensor(2, "indices"), *y = a.tensor(3, "y");
  const auto [outer, n, inner] = dims3(a, 1, x);
  a.expect_rank(idx, "indices", DType::kInt32, 1, "[M]");
  expect_dtype(a, y, "y", x->dtype());
  expect_size(a, y, "y", outer * idx->size() * inner);
  a.distinct({y, x, idx});
  if (!y->size()) return;
  a.run([outer, n, inner, idx = idx->i32(), m = idx->size(), x = x->buffer()->data,
         y = y->buffer()->data](Backend& be) { return be.gather_axis(outer, n, inner, idx, m, x, y); });
}

// batchMatmul(a, b, y, [batch, m, k, n], aRepeat, bRepeat): y[i] (m x n) = a[i] (m x k) x b[i] (k x n),
// float32, contiguous; an operand given with repeat true is one matrix used for every i.
void BatchMatmul(const Napi::CallbackInfo& info) {
  Args a(info, "batchMatmul");
  TensorHandle *x = a.tensor(0, "a"), *w = a.tensor(1, "b"), *y = a.tensor(2, "y");
  const auto d = ints(a, 3, "dims", 4, 0, 2147483647.0);
  const bool ar = a.boolean(4, "aRepeat"), br = a.boolean(5, "bRepeat");
  MatmulShape s;
  s.batch = d[0], s.m = d[1], s.k = d[2], s.n = d[3];
  s.a_stride = ar ? 0 : s.m * s.k, s.b_stride = br ? 0 : s.k * s.n;
  for (TensorHandle* t : {x, w, y}) expect_dtype(a, t, t == x ? "a" : t == w ? "b" : "y", DType::kFloat32);
  expect_size(a, x, "a", static_cast<std::size_t>((ar ? 1 : s.batch) * s.m * s.k));
  expect_size(a, w, "b", static_cast<std::size_t>((br ? 1 : s.batch) * s.k * s.n));
  expect_size(a, y, "y", static_cast<std::size_t>(s.batch * s.m * s.n));
  a.distinct_output(y, {x, w});  // tf.matMul(x, x, true) reads one tensor twice
  if (!y->size()) return;
  if (s.k == 0) {  // an empty sum: zeros
    a.run([y = y->f32(), n = y->size()](Backend& be) { return be.fill(y, 0.0f, n); });
    return;
  }
  a.run([s, x = x->f32(), w = w->f32(), y = y->f32()](Backend& be) { return be.batch_matmul(s, x, w, y); });
}

// topk(x, k, values, indices): the k largest of each row of x along its last axis (descending, ties: lower
// index first); x float32 of rank >= 1, values float32 and indices int32 of x's shape with k last.
void Topk(const Napi::CallbackInfo& info) {
  Args a(info, "topk");
  TensorHandle *x = a.tensor(0, "x"), *v = a.tensor(2, "values"), *ix = a.tensor(3, "indices");
  expect_dtype(a, x, "x", DType::kFloat32);
  if (x->shape().empty())
    a.fail("ERR_KERNELNET_SHAPE", "expected x of rank >= 1 but received " + x->describe());
  const std::size_t n = static_cast<std::size_t>(x->shape().back());
  const std::size_t k = static_cast<std::size_t>(a.integer(1, "k", 0, static_cast<int64_t>(n)));
  std::vector<int64_t> want(x->shape());
  want.back() = static_cast<int64_t>(k);
  if (v->dtype() != DType::kFloat32 || v->shape() != want || ix->dtype() != DType::kInt32 ||
      ix->shape() != want)
    a.fail("ERR_KERNELNET_SHAPE", "expected values (float32) and indices (int32) of shape " +
                                      shape_string(want) + " but received " + v->describe() + " and " +
                                      ix->describe());
  a.distinct({v, ix, x});
  const std::size_t rows = n ? x->size() / n : 0;
  if (!rows || !k) return;
  a.run([rows, n, k, x = x->f32(), v = v->f32(), ix = ix->i32()](Backend& be) {
    return be.topk(rows, n, k, x, v, ix);
  });
}

// resize2d(x, y, bilinear, alignCorners, halfPixelCenters): tf.image's resizes of x [n, h, w, c] into y
// [n, oh, ow, c], float32.
void Resize2d(const Napi::CallbackInfo& info) {
  Args a(info, "resize2d");
  TensorHandle *x = a.tensor(0, "x"), *y = a.tensor(1, "y");
  a.expect_rank(x, "x", DType::kFloat32, 4, "[N,H,W,C]");
  a.expect(y, "y", DType::kFloat32, {x->shape()[0], -1, -1, x->shape()[3]}, "[N,OH,OW,C]");
  ResizeShape s;
  s.n = x->shape()[0], s.h = x->shape()[1], s.w = x->shape()[2], s.c = x->shape()[3];
  s.oh = y->shape()[1], s.ow = y->shape()[2];
  s.bilinear = a.boolean(2, "bilinear"), s.align_corners = a.boolean(3, "alignCorners");
  s.half_pixel = a.boolean(4, "halfPixelCenters");
  if (y->size() && (s.h == 0 || s.w == 0))
    a.fail("ERR_KERNELNET_SHAPE", "cannot resize an empty image (" + x->describe() + ")");
  a.distinct({y, x});
  if (!y->size()) return;
  a.run([s, x = x->f32(), y = y->f32()](Backend& be) { return be.resize2d(s, x, y); });
}

// iota(y, start, step): y[i] = start + i * step (float32 or int32).
void Iota(const Napi::CallbackInfo& info) {
  Args a(info, "iota");
  TensorHandle* y = a.tensor(0, "y");
  const double start = a.number(1, "start", -3.4e38, 3.4e38), step = a.number(2, "step", -3.4e38, 3.4e38);
  if (y->dtype() == DType::kBool) a.fail("ERR_KERNELNET_SHAPE", "iota does not write a bool y");
  if (!y->size()) return;
  a.run([t = elem(y), n = y->size(), start, step, y = y->buffer()->data](Backend& be) {
    return be.iota(t, n, start, step, y);
  });
}

// randomGauss(t, mean, stddev, seed, offset): t = mean + stddev * a standard normal (not truncated).
void RandomGauss(const Napi::CallbackInfo& info) {
  Args a(info, "randomGauss");
  TensorHandle* t = a.tensor(0, "t");
  const double mean = a.number(1, "mean", -3.4e38, 3.4e38), stddev = a.number(2, "stddev", 0.0, 3.4e38);
  const uint64_t seed = a.uint53(3, "seed"), offset = a.uint53(4, "offset");
  expect_dtype(a, t, "t", DType::kFloat32);
  if (!t->size()) return;
  a.run([t = t->f32(), n = t->size(), mean = static_cast<float>(mean), stddev = static_cast<float>(stddev),
         seed, offset](Backend& be) { return be.random_gauss(t, n, mean, stddev, seed, offset); });
}

}  // namespace kn
