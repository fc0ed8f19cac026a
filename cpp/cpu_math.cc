// General tensor math on the CPU (tensor_math.h; the twin of cuda/math.cu). The per-element rules are the
// header's, shared with the GPU; here they are instantiated per op and type so that each loop is a plain one
// the compiler can vectorise, split over the thread pool in chunks. Every output element is computed by one
// thread in a fixed order (reductions and scans included), so results do not depend on the thread count.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <type_traits>
#include <vector>

#include "cpu_backend.h"
#include "philox.h"
#include "tensor_math.h"

namespace kn {
namespace {

template <UnaryOp OP, typename In, typename Out>
void unary_loop(std::size_t n, const In* x, Out* y, float p0, float p1) {
  parallel_chunks(n, kGrain, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) y[i] = unary_value<In, Out>(OP, x[i], p0, p1);
  });
}

template <typename In, typename Out>
void unary_typed(UnaryOp op, std::size_t n, const In* x, Out* y, float p0, float p1) {
  switch (op) {
#define KN_X(name)        \
  case UnaryOp::k_##name: \
    return unary_loop<UnaryOp::k_##name>(n, x, y, p0, p1);
    KN_UNARY_OPS(KN_X)
#undef KN_X
  }
}

// a op b as R: float operands to float, or to int32 where binary_float_to_int(op); int32 operands to int32.
template <typename R, typename T>
inline R binary_typed_value(BinaryOp op, T a, T b) {
  if constexpr (std::is_same_v<T, float> && std::is_same_v<R, int32_t>)
    return binary_float_int(op, a, b);
  else if constexpr (std::is_same_v<T, float>)
    return binary_float(op, a, b);
  else
    return binary_int(op, a, b);
}

template <BinaryOp OP, typename T, typename R>
void binary_loop(const BroadcastShape& s, const T* a, const T* b, R* y) {
  parallel_chunks(static_cast<std::size_t>(s.count()), kGrain, [&](std::size_t o0, std::size_t o1) {
    for_runs(
        s, o0, o1,
        [&](std::size_t o, std::size_t len, std::size_t ao, std::size_t bo, std::size_t sa, std::size_t sb) {
          const T *ar = a + ao, *br = b + bo;
          R* yr = y + o;
          if (sa == 1 && sb == 1)
            for (std::size_t j = 0; j < len; ++j) yr[j] = (binary_typed_value<R, T>(OP, ar[j], br[j]));
          else if (sa == 1)
            for (std::size_t j = 0; j < len; ++j) yr[j] = (binary_typed_value<R, T>(OP, ar[j], br[0]));
          else if (sb == 1)
            for (std::size_t j = 0; j < len; ++j) yr[j] = (binary_typed_value<R, T>(OP, ar[0], br[j]));
          else
            std::fill(yr, yr + len, (binary_typed_value<R, T>(OP, ar[0], br[0])));
        });
  });
}

template <BinaryOp OP, typename T>
void binary_out(const BroadcastShape& s, const void* a, const void* b, void* y) {
  // bools, and floorDiv of float32 operands, as int32 (tensor_math.h's binary_float_to_int)
  if constexpr (static_cast<int>(OP) >= static_cast<int>(BinaryOp::kEqual) ||
                (std::is_same_v<T, float> && OP == BinaryOp::kFloorDiv))
    binary_loop<OP, T, int32_t>(s, static_cast<const T*>(a), static_cast<const T*>(b),
                                static_cast<int32_t*>(y));
  else
    binary_loop<OP, T, T>(s, static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(y));
}

template <typename T>
void binary_typed(const BroadcastShape& s, BinaryOp op, const void* a, const void* b, void* y) {
  switch (op) {
    case BinaryOp::kAdd:
      return binary_out<BinaryOp::kAdd, T>(s, a, b, y);
    case BinaryOp::kSub:
      return binary_out<BinaryOp::kSub, T>(s, a, b, y);
    case BinaryOp::kMul:
      return binary_out<BinaryOp::kMul, T>(s, a, b, y);
    case BinaryOp::kDiv:
      return binary_out<BinaryOp::kDiv, T>(s, a, b, y);
    case BinaryOp::kMax:
      return binary_out<BinaryOp::kMax, T>(s, a, b, y);
    case BinaryOp::kMin:
      return binary_out<BinaryOp::kMin, T>(s, a, b, y);
    case BinaryOp::kPow:
      return binary_out<BinaryOp::kPow, T>(s, a, b, y);
    case BinaryOp::kMod:
      return binary_out<BinaryOp::kMod, T>(s, a, b, y);
    case BinaryOp::kSquaredDiff:
      return binary_out<BinaryOp::kSquaredDiff, T>(s, a, b, y);
    case BinaryOp::kFloorDiv:
      return binary_out<BinaryOp::kFloorDiv, T>(s, a, b, y);
    case BinaryOp::kAtan2:
      return binary_out<BinaryOp::kAtan2, T>(s, a, b, y);
    case BinaryOp::kPrelu:
      return binary_out<BinaryOp::kPrelu, T>(s, a, b, y);
    case BinaryOp::kEqual:
      return binary_out<BinaryOp::kEqual, T>(s, a, b, y);
    case BinaryOp::kNotEqual:
      return binary_out<BinaryOp::kNotEqual, T>(s, a, b, y);
    case BinaryOp::kLess:
      return binary_out<BinaryOp::kLess, T>(s, a, b, y);
    case BinaryOp::kLessEqual:
      return binary_out<BinaryOp::kLessEqual, T>(s, a, b, y);
    case BinaryOp::kGreater:
      return binary_out<BinaryOp::kGreater, T>(s, a, b, y);
    case BinaryOp::kGreaterEqual:
      return binary_out<BinaryOp::kGreaterEqual, T>(s, a, b, y);
    case BinaryOp::kLogicalAnd:
      return binary_out<BinaryOp::kLogicalAnd, T>(s, a, b, y);
    case BinaryOp::kLogicalOr:
      return binary_out<BinaryOp::kLogicalOr, T>(s, a, b, y);
    case BinaryOp::kLogicalXor:
      return binary_out<BinaryOp::kLogicalXor, T>(s, a, b, y);
  }
}

// A long row's chunk for reduce_typed: rows of at least two chunks are reduced chunk by chunk in parallel.
constexpr std::size_t kReduceChunk = std::size_t{1} << 16;

// Columns [i0, i1) of one [n, inner] slab reduced as reduce_run reduces each column, lane for lane (element j
// into accumulator j % 8 for the whole groups of 8, then the tail into accumulators 0, 1, ..; the same
// pairwise combination), but with the columns innermost so that the loops run along memory and vectorise.
template <ReduceOp OP, typename T>
void reduce_columns(const T* base, std::size_t n, std::size_t inner, std::size_t i0, std::size_t i1, T* out) {
  constexpr std::size_t kW = 64;
  T p[8][kW];
  const std::size_t w = i1 - i0;
  for (int l = 0; l < 8; ++l)
    for (std::size_t i = 0; i < w; ++i) p[l][i] = reduce_identity<T>(OP);
  std::size_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int l = 0; l < 8; ++l) {
      const T* row = base + (j + l) * inner + i0;
      for (std::size_t i = 0; i < w; ++i) p[l][i] = reduce_step<T>(OP, p[l][i], row[i]);
    }
  for (int l = 0; j < n; ++j, ++l) {
    const T* row = base + j * inner + i0;
    for (std::size_t i = 0; i < w; ++i) p[l][i] = reduce_step<T>(OP, p[l][i], row[i]);
  }
  for (std::size_t i = 0; i < w; ++i)
    out[i] = reduce_step<T>(
        OP, reduce_step<T>(OP, reduce_step<T>(OP, p[0][i], p[1][i]), reduce_step<T>(OP, p[2][i], p[3][i])),
        reduce_step<T>(OP, reduce_step<T>(OP, p[4][i], p[5][i]), reduce_step<T>(OP, p[6][i], p[7][i])));
}

// A reduction along n of [outer, n, inner] for type T, the op known to the compiler (so that each loop is a
// plain one it vectorises): rows of 2^17 values and more in chunks, other rows one run each, columns by
// reduce_columns. Every output's order depends on the shape alone.
template <ReduceOp OP, typename T>
void reduce_op(std::size_t outer, std::size_t n, std::size_t inner, const T* x, T* out) {
  if (inner == 1 && n >= 2 * kReduceChunk) {
    // Long rows: each cut into chunks of kReduceChunk, the chunks reduced in parallel (reduce_run each), then
    // each row's chunk results reduced in order (reduce_run again).
    const std::size_t chunks = (n + kReduceChunk - 1) / kReduceChunk;
    std::vector<T> partial(outer * chunks);
    parallel_chunks(outer * chunks, 1, [&](std::size_t t0, std::size_t t1) {
      for (std::size_t t = t0; t < t1; ++t) {
        const std::size_t o = t / chunks, c = t % chunks, len = std::min(kReduceChunk, n - c * kReduceChunk);
        partial[t] = reduce_run<T>(OP, x + o * n + c * kReduceChunk, static_cast<int64_t>(len), 1);
      }
    });
    for (std::size_t o = 0; o < outer; ++o)
      out[o] = reduce_run<T>(OP, partial.data() + o * chunks, static_cast<int64_t>(chunks), 1);
    return;
  }
  if (inner == 1) {
    parallel_chunks(outer, std::max<std::size_t>(1, kGrain / std::max<std::size_t>(n, 1)),
                    [&](std::size_t o0, std::size_t o1) {
                      for (std::size_t o = o0; o < o1; ++o)
                        out[o] = reduce_run<T>(OP, x + o * n, static_cast<int64_t>(n), 1);
                    });
    return;
  }
  constexpr std::size_t kCols = 64;
  const std::size_t col_blocks = (inner + kCols - 1) / kCols;
  parallel_chunks(outer * col_blocks, std::max<std::size_t>(1, kGrain / std::max<std::size_t>(n * kCols, 1)),
                  [&](std::size_t t0, std::size_t t1) {
                    for (std::size_t t = t0; t < t1; ++t) {
                      const std::size_t o = t / col_blocks, i0 = (t % col_blocks) * kCols;
                      reduce_columns<OP, T>(x + o * n * inner, n, inner, i0, std::min(inner, i0 + kCols),
                                            out + o * inner + i0);
                    }
                  });
}

// argMax and argMin: one run per output (arg_run), split over the outputs.
template <typename T>
void arg_reduce(bool arg_max, std::size_t outer, std::size_t n, std::size_t inner, const T* x, int32_t* out) {
  parallel_chunks(outer * inner, std::max<std::size_t>(1, kGrain / std::max<std::size_t>(n, 1)),
                  [&](std::size_t t0, std::size_t t1) {
                    for (std::size_t t = t0; t < t1; ++t) {
                      const std::size_t o = t / inner, i = t % inner;
                      out[t] = arg_run<T>(arg_max, x + o * n * inner + i, static_cast<int64_t>(n),
                                          static_cast<int64_t>(inner));
                    }
                  });
}

template <typename T>
void reduce_typed(ReduceOp op, std::size_t outer, std::size_t n, std::size_t inner, const T* x, void* out) {
  T* y = static_cast<T*>(out);
  switch (op) {
    case ReduceOp::kSum:
      return reduce_op<ReduceOp::kSum, T>(outer, n, inner, x, y);
    case ReduceOp::kProd:
      return reduce_op<ReduceOp::kProd, T>(outer, n, inner, x, y);
    case ReduceOp::kMin:
      return reduce_op<ReduceOp::kMin, T>(outer, n, inner, x, y);
    case ReduceOp::kMax:
      return reduce_op<ReduceOp::kMax, T>(outer, n, inner, x, y);
    case ReduceOp::kAll:
      return reduce_op<ReduceOp::kAll, T>(outer, n, inner, x, y);
    case ReduceOp::kAny:
      return reduce_op<ReduceOp::kAny, T>(outer, n, inner, x, y);
    case ReduceOp::kArgMax:
    case ReduceOp::kArgMin:
      return arg_reduce<T>(op == ReduceOp::kArgMax, outer, n, inner, x, static_cast<int32_t*>(out));
  }
}

template <typename T>
void scan_typed(BinaryOp op, std::size_t outer, std::size_t n, std::size_t inner, bool exclusive,
                bool reverse, const T* x, T* y) {
  const ReduceOp r = op == BinaryOp::kMul ? ReduceOp::kProd : ReduceOp::kSum;
  parallel_chunks(outer * inner, std::max<std::size_t>(1, kGrain / std::max<std::size_t>(n, 1)),
                  [&](std::size_t t0, std::size_t t1) {
                    for (std::size_t t = t0; t < t1; ++t) {
                      const std::size_t o = t / inner, i = t % inner;
                      const T* xr = x + o * n * inner + i;
                      T* yr = y + o * n * inner + i;
                      T acc = reduce_identity<T>(r);
                      for (std::size_t j = 0; j < n; ++j) {
                        const std::size_t at = (reverse ? n - 1 - j : j) * inner;
                        if (exclusive) {
                          yr[at] = acc;
                          acc = reduce_step<T>(r, acc, xr[at]);
                        } else {
                          acc = reduce_step<T>(r, acc, xr[at]);
                          yr[at] = acc;
                        }
                      }
                    }
                  });
}

}  // namespace

Status CpuBackend::math_unary(UnaryOp op, ElemType in, ElemType out, std::size_t n, const void* x, void* y,
                              float p0, float p1) {
  if (in == ElemType::kFloat32 && out == ElemType::kFloat32)
    unary_typed(op, n, static_cast<const float*>(x), static_cast<float*>(y), p0, p1);
  else if (in == ElemType::kFloat32)
    unary_typed(op, n, static_cast<const float*>(x), static_cast<int32_t*>(y), p0, p1);
  else if (out == ElemType::kFloat32)
    unary_typed(op, n, static_cast<const int32_t*>(x), static_cast<float*>(y), p0, p1);
  else
    unary_typed(op, n, static_cast<const int32_t*>(x), static_cast<int32_t*>(y), p0, p1);
  return Status::Ok();
}

Status CpuBackend::math_binary(const BroadcastShape& s, BinaryOp op, ElemType t, const void* a, const void* b,
                               void* y) {
  if (s.count() == 0) return Status::Ok();
  if (t == ElemType::kFloat32)
    binary_typed<float>(s, op, a, b, y);
  else
    binary_typed<int32_t>(s, op, a, b, y);
  return Status::Ok();
}

Status CpuBackend::math_select(std::size_t n, const int32_t* cond, const void* a, const void* b, void* y) {
  const uint32_t *av = static_cast<const uint32_t*>(a), *bv = static_cast<const uint32_t*>(b);
  uint32_t* yv = static_cast<uint32_t*>(y);
  parallel_chunks(n, kGrain, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) yv[i] = cond[i] ? av[i] : bv[i];
  });
  return Status::Ok();
}

Status CpuBackend::strided_copy(const StridedView& v, const void* x, void* y) {
  const uint32_t* xv = static_cast<const uint32_t*>(x);
  uint32_t* yv = static_cast<uint32_t*>(y);
  const std::size_t count = static_cast<std::size_t>(v.count());
  const int r = v.rank;
  if (r >= 2 && v.stride[r - 1] != 1 && v.stride[r - 2] == 1) {
    // A transpose of the last two dimensions: y's rows step through x's columns. In 32 x 32 tiles: each
    // tile's 32 rows of y written along memory, the 32 columns of x they read staying in cache from row to
    // row.
    constexpr int64_t kT = 32;
    const int64_t rows = v.dims[r - 2], cols = v.dims[r - 1], cs = v.stride[r - 1];
    const int64_t tr = (rows + kT - 1) / kT, tc = (cols + kT - 1) / kT, slab = rows * cols;
    const std::size_t slabs = count / static_cast<std::size_t>(slab);
    parallel_chunks(slabs * static_cast<std::size_t>(tr * tc), 1, [&](std::size_t t0, std::size_t t1) {
      for (std::size_t t = t0; t < t1; ++t) {
        const std::size_t sl = t / static_cast<std::size_t>(tr * tc);
        const int64_t tile = static_cast<int64_t>(t % static_cast<std::size_t>(tr * tc));
        const int64_t a0 = (tile / tc) * kT, b0 = (tile % tc) * kT;
        const int64_t a1 = std::min(rows, a0 + kT), b1 = std::min(cols, b0 + kT);
        const int64_t base = strided_offset<std::size_t>(v, sl * static_cast<std::size_t>(slab));
        uint32_t* ys = yv + sl * static_cast<std::size_t>(slab);
        for (int64_t a = a0; a < a1; ++a)
          for (int64_t b = b0; b < b1; ++b) ys[a * cols + b] = xv[base + a + b * cs];
      }
    });
    return Status::Ok();
  }
  const std::size_t last = static_cast<std::size_t>(v.dims[v.rank - 1]);
  const int64_t step = v.stride[v.rank - 1];
  parallel_chunks(count, kGrain, [&](std::size_t o0, std::size_t o1) {
    for (std::size_t o = o0; o < o1;) {  // runs along the innermost dimension
      const std::size_t len = std::min(last - o % last, o1 - o);
      const uint32_t* src = xv + strided_offset<std::size_t>(v, o);
      if (step == 1)
        std::memcpy(yv + o, src, len * 4);
      else
        for (std::size_t j = 0; j < len; ++j) yv[o + j] = src[static_cast<int64_t>(j) * step];
      o += len;
    }
  });
  return Status::Ok();
}

Status CpuBackend::reduce(ReduceOp op, ElemType t, std::size_t outer, std::size_t n, std::size_t inner,
                          const void* x, void* y) {
  if (outer * inner == 0) return Status::Ok();
  if (t == ElemType::kFloat32)
    reduce_typed<float>(op, outer, n, inner, static_cast<const float*>(x), y);
  else
    reduce_typed<int32_t>(op, outer, n, inner, static_cast<const int32_t*>(x), y);
  return Status::Ok();
}

Status CpuBackend::scan(BinaryOp op, ElemType t, std::size_t outer, std::size_t n, std::size_t inner,
                        bool exclusive, bool reverse, const void* x, void* y) {
  if (t == ElemType::kFloat32)
    scan_typed<float>(op, outer, n, inner, exclusive, reverse, static_cast<const float*>(x),
                      static_cast<float*>(y));
  else
    scan_typed<int32_t>(op, outer, n, inner, exclusive, reverse, static_cast<const int32_t*>(x),
                        static_cast<int32_t*>(y));
  return Status::Ok();
}

Status CpuBackend::gather_axis(std::size_t outer, std::size_t n, std::size_t inner, const int32_t* idx,
                               std::size_t m, const void* x, void* y) {
  const uint32_t* xv = static_cast<const uint32_t*>(x);
  uint32_t* yv = static_cast<uint32_t*>(y);
  parallel_chunks(outer * m, std::max<std::size_t>(1, kGrain / std::max<std::size_t>(inner, 1)),
                  [&](std::size_t r0, std::size_t r1) {
                    for (std::size_t r = r0; r < r1; ++r) {
                      const std::size_t o = r / m, j = r % m;
                      const int32_t k = idx[j];
                      uint32_t* dst = yv + r * inner;
                      if (k < 0 || static_cast<std::size_t>(k) >= n)
                        std::fill(dst, dst + inner, 0u);
                      else
                        std::memcpy(dst, xv + (o * n + static_cast<std::size_t>(k)) * inner, inner * 4);
                    }
                  });
  return Status::Ok();
}

Status CpuBackend::batch_matmul(const MatmulShape& s, const float* a, const float* b, float* y) {
  // One GEMM per batch on dense_forward's kernels (y = x w with x [m, k], w [k, n]), each multithreaded.
  for (int64_t i = 0; i < s.batch; ++i) {
    Status st = dense_forward(static_cast<int>(s.m), static_cast<int>(s.k), static_cast<int>(s.n),
                              a + i * s.a_stride, b + i * s.b_stride, Epilogue{}, y + i * s.m * s.n);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

Status CpuBackend::topk(std::size_t rows, std::size_t n, std::size_t k, const float* x, float* values,
                        int32_t* indices) {
  parallel_chunks(rows, std::max<std::size_t>(1, kGrain / std::max<std::size_t>(n, 1)),
                  [&](std::size_t r0, std::size_t r1) {
                    std::vector<int32_t> order(n);
                    for (std::size_t r = r0; r < r1; ++r) {
                      const float* row = x + r * n;
                      std::iota(order.begin(), order.end(), 0);
                      // Descending, ties by the lower index; NaN after every number.
                      std::partial_sort(order.begin(), order.begin() + k, order.end(),
                                        [&](int32_t i, int32_t j) {
                                          const float a = row[i], b = row[j];
                                          const bool an = a != a, bn = b != b;
                                          if (an || bn) return an == bn ? i < j : bn;
                                          return a > b || (a == b && i < j);
                                        });
                      for (std::size_t j = 0; j < k; ++j)
                        values[r * k + j] = row[order[j]], indices[r * k + j] = order[j];
                    }
                  });
  return Status::Ok();
}

Status CpuBackend::resize2d(const ResizeShape& s, const float* x, float* y) {
  const std::size_t count = static_cast<std::size_t>(s.n * s.oh * s.ow * s.c);
  parallel_chunks(count, kGrain / 8, [&](std::size_t o0, std::size_t o1) {
    for (std::size_t o = o0; o < o1; ++o) y[o] = resize_value(s, x, static_cast<int64_t>(o));
  });
  return Status::Ok();
}

Status CpuBackend::iota(ElemType t, std::size_t n, double start, double step, void* y) {
  parallel_chunks(n, kGrain, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) {
      const double v = start + static_cast<double>(i) * step;
      if (t == ElemType::kFloat32)
        static_cast<float*>(y)[i] = static_cast<float>(v);
      else
        static_cast<int32_t*>(y)[i] = to_int32(v);
    }
  });
  return Status::Ok();
}

Status CpuBackend::random_gauss(float* dst, std::size_t count, float mean, float stddev, uint64_t seed,
                                uint64_t offset) {
  parallel_chunks(count, kGrain / 8, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) dst[i] = philox_gauss(seed, offset, i, mean, stddev);
  });
  return Status::Ok();
}

}  // namespace kn
