// Pooling on the CPU: x [N, H, W, C] -> y [N, OH, OW, C] over PH x PW windows with strides SH, SW, the window
// clipped to the input ('same' padding adds positions that are skipped: pool_window in backend.h).
// Max-pooling records argmax[n, oy, ox, c], the flat index (iy*W + ix)*C + c of the window's first maximum,
// so the backward pass routes each gradient to exactly that input. Average-pooling divides by the positions
// inside the input.
#include <cstring>

#include "cpu_backend.h"
#include "cpu_simd.h"

namespace kn {

// One output row (n, oy): the window's first maximum per channel, vectorised over channels with selects
// instead of branches (which value wins is data-dependent and mispredicts).
KN_CLONES void maxpool_row(const Pool2dShape& s, const float* __restrict xi, long oy, float* __restrict y,
                           int32_t* __restrict argmax) {
  for (int ox = 0; ox < s.ow; ++ox) {
    float* best = y + static_cast<long>(ox) * s.c;
    int32_t* arg = argmax + static_cast<long>(ox) * s.c;
    int y0, y1, x0, x1;
    pool_window(s, static_cast<int>(oy), ox, &y0, &y1, &x0, &x1);
    for (int iy = y0; iy < y1; ++iy)
      for (int ix = x0; ix < x1; ++ix) {
        const int32_t base = static_cast<int32_t>((static_cast<long>(iy) * s.w + ix) * s.c);
        const float* v = xi + base;
        if (iy == y0 && ix == x0) {
          for (int c = 0; c < s.c; ++c) best[c] = v[c], arg[c] = base + c;
          continue;
        }
        for (int c = 0; c < s.c; ++c) {
          const bool more = v[c] > best[c];
          best[c] = more ? v[c] : best[c];
          arg[c] = more ? base + c : arg[c];
        }
      }
  }
}

Status CpuBackend::maxpool2d_forward(const Pool2dShape& s, const float* x, float* y, int32_t* argmax) {
  const long in_size = static_cast<long>(s.h) * s.w * s.c;
  const long row = static_cast<long>(s.ow) * s.c;
  parallel_chunks(static_cast<std::size_t>(s.n) * s.oh, 16, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r)
      maxpool_row(s, x + (r / s.oh) * in_size, r % s.oh, y + r * row, argmax + r * row);
  });
  return Status::Ok();
}

Status CpuBackend::maxpool2d_backward(const Pool2dShape& s, const float* dy, const int32_t* argmax,
                                      float* dx) {
  const long in_size = static_cast<long>(s.h) * s.w * s.c;
  const long out_size = static_cast<long>(s.oh) * s.ow * s.c;
  parallel_chunks(s.n, 1, [&](std::size_t n0, std::size_t n1) {
    for (std::size_t n = n0; n < n1; ++n) {
      float* dxi = dx + n * in_size;
      std::memset(dxi, 0, sizeof(float) * in_size);
      for (long o = 0; o < out_size; ++o) {
        const int32_t i = argmax[n * out_size + o];
        if (i >= 0 && i < in_size) dxi[i] += dy[n * out_size + o];
      }
    }
  });
  return Status::Ok();
}

Status CpuBackend::avgpool2d_forward(const Pool2dShape& s, const float* x, float* y) {
  const long in_size = static_cast<long>(s.h) * s.w * s.c;
  parallel_chunks(static_cast<std::size_t>(s.n) * s.oh, 16, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const float* xi = x + (r / s.oh) * in_size;
      const int oy = static_cast<int>(r % s.oh);
      for (int ox = 0; ox < s.ow; ++ox) {
        float* out = y + (r * s.ow + ox) * s.c;
        int y0, y1, x0, x1;
        pool_window(s, oy, ox, &y0, &y1, &x0, &x1);
        for (int c = 0; c < s.c; ++c) out[c] = 0.0f;
        for (int iy = y0; iy < y1; ++iy)
          for (int ix = x0; ix < x1; ++ix) {
            const float* v = xi + (static_cast<long>(iy) * s.w + ix) * s.c;
            for (int c = 0; c < s.c; ++c) out[c] += v[c];
          }
        const float count = static_cast<float>((y1 - y0) * (x1 - x0));
        for (int c = 0; c < s.c; ++c) out[c] /= count;
      }
    }
  });
  return Status::Ok();
}

Status CpuBackend::avgpool2d_backward(const Pool2dShape& s, const float* dy, float* dx) {
  const long in_size = static_cast<long>(s.h) * s.w * s.c;
  parallel_chunks(s.n, 1, [&](std::size_t n0, std::size_t n1) {
    for (std::size_t n = n0; n < n1; ++n) {
      float* dxi = dx + n * in_size;
      std::memset(dxi, 0, sizeof(float) * in_size);
      for (int oy = 0; oy < s.oh; ++oy)
        for (int ox = 0; ox < s.ow; ++ox) {
          const float* g = dy + ((static_cast<long>(n) * s.oh + oy) * s.ow + ox) * s.c;
          int y0, y1, x0, x1;
          pool_window(s, oy, ox, &y0, &y1, &x0, &x1);
          const float count = static_cast<float>((y1 - y0) * (x1 - x0));
          for (int iy = y0; iy < y1; ++iy)
            for (int ix = x0; ix < x1; ++ix) {
              float* d = dxi + (static_cast<long>(iy) * s.w + ix) * s.c;
              for (int c = 0; c < s.c; ++c) d[c] += g[c] / count;
            }
        }
    }
  });
  return Status::Ok();
}

}  // namespace kn
