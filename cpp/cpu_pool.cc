// Max-pooling on the CPU: x [N, H, W, C] -> y [N, OH, OW, C] over PH x PW windows with strides SH, SW (valid
// padding). argmax[n, oy, ox, c] is the flat index (iy*W + ix)*C + c of the window's first maximum, so the
// backward pass routes each gradient to exactly that input.
#include <cstring>

#include "cpu_backend.h"

namespace kn {

Status CpuBackend::maxpool2d_forward(const Pool2dShape& s, const float* x, float* y, int32_t* argmax) {
  const long in_size = static_cast<long>(s.h) * s.w * s.c;
  const long out_rows = static_cast<long>(s.n) * s.oh;
  parallel_chunks(out_rows, 16, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const long n = r / s.oh, oy = r % s.oh;
      const float* xi = x + n * in_size;
      for (int ox = 0; ox < s.ow; ++ox) {
        const long o = ((n * s.oh + oy) * s.ow + ox) * s.c;
        for (int c = 0; c < s.c; ++c) {
          long best_i = ((oy * s.sh) * s.w + ox * s.sw) * s.c + c;
          float best = xi[best_i];
          for (int ky = 0; ky < s.ph; ++ky)
            for (int kx = 0; kx < s.pw; ++kx) {
              const long i = ((oy * s.sh + ky) * s.w + ox * s.sw + kx) * s.c + c;
              if (xi[i] > best) best = xi[i], best_i = i;
            }
          y[o + c] = best;
          argmax[o + c] = static_cast<int32_t>(best_i);
        }
      }
    }
  });
  return Status::Ok();
}

Status CpuBackend::maxpool2d_backward(const Pool2dShape& s, const float* dy, const int32_t* argmax, float* dx) {
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
