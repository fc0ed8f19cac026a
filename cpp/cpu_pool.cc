// Max-pooling on the CPU: x [N, H, W, C] -> y [N, OH, OW, C] over PH x PW windows with strides SH, SW (valid
// padding). argmax[n, oy, ox, c] is the flat index (iy*W + ix)*C + c of the window's first maximum, so the
// backward pass routes each gradient to exactly that input.
#include <cstring>

#include "cpu_backend.h"
#include "cpu_simd.h"

namespace kn {

namespace {

// One output row (n, oy): the window's first maximum per channel, vectorised over channels with selects
// instead of branches (which value wins is data-dependent and mispredicts).
KN_CLONES void maxpool_row(const Pool2dShape& s, const float* __restrict xi, long oy, float* __restrict y,
                           int32_t* __restrict argmax) {
  for (int ox = 0; ox < s.ow; ++ox) {
    float* best = y + static_cast<long>(ox) * s.c;
    int32_t* arg = argmax + static_cast<long>(ox) * s.c;
    for (int ky = 0; ky < s.ph; ++ky)
      for (int kx = 0; kx < s.pw; ++kx) {
        const int32_t base = static_cast<int32_t>(((oy * s.sh + ky) * s.w + ox * s.sw + kx) * s.c);
        const float* v = xi + base;
        if (ky == 0 && kx == 0) {
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

}  // namespace

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

}  // namespace kn
