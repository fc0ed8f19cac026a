// Tensor utilities on the CPU (the twin of cuda/tensor_ops.cu): elementwise activations (epilogue.h's),
// region copies (slice, concat) and argmax.
#include <cstring>

#include "cpu_backend.h"
#include "cpu_simd.h"

namespace kn {

// The base class's download_start: a synchronous copy, nothing left to wait for.
Status Backend::download_start(void* dst, const void* src, std::size_t bytes,
                               std::unique_ptr<PendingDownload>* pending) {
  pending->reset();
  return download(dst, src, bytes);
}

Status CpuBackend::activation_forward(std::size_t n, const float* x, float* y, Act act, float alpha) {
  parallel_chunks(n, kGrain,
                  [&](std::size_t i0, std::size_t i1) { act_apply(act, alpha, x + i0, y + i0, i1 - i0); });
  return Status::Ok();
}

Status CpuBackend::activation_backward(std::size_t n, const float* x, const float* y, const float* dy,
                                       float* dx, Act act, float alpha) {
  parallel_chunks(n, kGrain, [&](std::size_t i0, std::size_t i1) {
    act_mask(act, alpha, y + i0, x + i0, dy + i0, dx + i0, i1 - i0);
  });
  return Status::Ok();
}

void apply_below(const BelowAct& below, float* dx, std::size_t n) {
  if (!below.y || !dx) return;
  parallel_chunks(n, kGrain, [&](std::size_t i0, std::size_t i1) {
    act_mask_in_place(below.act, below.alpha, below.y + i0, dx + i0, i1 - i0);
  });
}

Status CpuBackend::affine(std::size_t n, const float* x, float* y, float scale, float offset) {
  parallel_chunks(n, kGrain, [&](std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i) y[i] = x[i] * scale + offset;
  });
  return Status::Ok();
}

Status CpuBackend::copy_region(const Region& r, const void* src, void* dst) {
  const int64_t count = r.count();
  if (count == 0) return Status::Ok();
  const int last = r.rank - 1;
  const int64_t run = r.size[last], rows = count / run;
  int64_t src_stride[Region::kMaxRank], dst_stride[Region::kMaxRank];
  src_stride[last] = dst_stride[last] = 1;
  for (int d = last - 1; d >= 0; --d) {
    src_stride[d] = src_stride[d + 1] * r.src_shape[d + 1];
    dst_stride[d] = dst_stride[d + 1] * r.dst_shape[d + 1];
  }
  auto* s = static_cast<const uint32_t*>(src);
  auto* t = static_cast<uint32_t*>(dst);
  parallel_chunks(static_cast<std::size_t>(rows), 256, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t row = r0; row < r1; ++row) {
      int64_t so = 0, to = 0, rest = static_cast<int64_t>(row);
      for (int d = last; d >= 0; --d) {
        const int64_t i = d == last ? 0 : rest % r.size[d];
        if (d != last) rest /= r.size[d];
        so += (r.src_begin[d] + i) * src_stride[d];
        to += (r.dst_begin[d] + i) * dst_stride[d];
      }
      std::memcpy(t + to, s + so, sizeof(uint32_t) * run);
    }
  });
  return Status::Ok();
}

// One output row (n, oy) per task: zeros where the row or the column is padding, x's row copied between.
Status CpuBackend::pad2d_forward(const Pad2dShape& s, const float* x, float* y) {
  const int oh = s.oh(), ow = s.ow();
  const std::size_t row = static_cast<std::size_t>(ow) * s.c, in_row = static_cast<std::size_t>(s.w) * s.c;
  parallel_chunks(static_cast<std::size_t>(s.n) * oh, 16, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      float* out = y + r * row;
      const long n = static_cast<long>(r / oh), iy = static_cast<long>(r % oh) - s.top;
      if (iy < 0 || iy >= s.h) {
        std::memset(out, 0, sizeof(float) * row);
        continue;
      }
      std::memset(out, 0, sizeof(float) * s.left * s.c);
      std::memcpy(out + static_cast<std::size_t>(s.left) * s.c, x + (n * s.h + iy) * in_row,
                  sizeof(float) * in_row);
      std::memset(out + static_cast<std::size_t>(s.left + s.w) * s.c, 0, sizeof(float) * s.right * s.c);
    }
  });
  return Status::Ok();
}

Status CpuBackend::pad2d_backward(const Pad2dShape& s, const float* dy, float* dx) {
  const std::size_t row = static_cast<std::size_t>(s.ow()) * s.c,
                    in_row = static_cast<std::size_t>(s.w) * s.c;
  parallel_chunks(static_cast<std::size_t>(s.n) * s.h, 16, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const std::size_t n = r / s.h, iy = r % s.h;
      std::memcpy(dx + r * in_row,
                  dy + (n * s.oh() + iy + s.top) * row + static_cast<std::size_t>(s.left) * s.c,
                  sizeof(float) * in_row);
    }
  });
  return Status::Ok();
}

Status CpuBackend::argmax(const float* x, std::size_t outer, std::size_t n, std::size_t inner, int32_t* out) {
  parallel_chunks(outer * inner, 1024, [&](std::size_t e0, std::size_t e1) {
    for (std::size_t e = e0; e < e1; ++e) {
      const std::size_t o = e / inner, i = e % inner;
      const float* p = x + o * n * inner + i;
      int32_t best = 0;
      for (std::size_t j = 1; j < n; ++j)
        if (p[j * inner] > p[best * inner]) best = static_cast<int32_t>(j);
      out[e] = best;
    }
  });
  return Status::Ok();
}

}  // namespace kn
