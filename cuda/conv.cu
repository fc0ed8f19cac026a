// Conv2d on the GPU as im2col + SGEMM over the whole batch (N = batch, channels-last as Keras):
//   x [N, H, W, C], w [KH, KW, C, F] (a [KH*KW*C, F] matrix), b [F], y [N, OH, OW, F]
//   col[(n*OH + oy)*OW + ox, (ky*KW + kx)*C + c] = x[n, oy*SH - PT + ky*DH, ox*SW - PL + kx*DW, c]
//   (0 outside; DH, DW the dilation)
//   forward:  y = act(col w + b)                    one GEMM, bias and activation fused in its epilogue
//   backward: dz = dy * act'(y); db = column sums of dz; dw = col^T dz (split-K: K = N*OH*OW is long);
//             dcol = dz w^T; dx = col2im(dcol), computed as a gather (each dx element sums its own
//             contributions: no atomics, deterministic).
#include "cuda_backend.cuh"
#include "gemm.cuh"

namespace kn {
namespace cu {
namespace {

struct ConvDims {
  int n, h, w, c, kh, kw, f, oh, ow, sh, sw, pt, pl, dh, dw;
};

ConvDims dims(const Conv2dShape& s) {
  return {s.n, s.h, s.w, s.c, s.kh, s.kw, s.f, s.oh, s.ow, s.sh, s.sw, s.pt, s.pl, s.dil_h, s.dil_w};
}

// One thread per column element. The index math runs in I: 32-bit unsigned wherever the column matrix and the
// input both have fewer than 2^32 elements (every realistic batch), so the 6 divisions and remainders below
// are 32-bit (about 20 instructions each) instead of 64-bit (a subroutine of about 70); 64-bit otherwise.
template <typename I>
__global__ void im2col_kernel(ConvDims d, const float* __restrict__ x, float* __restrict__ col, I total) {
  const I i = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (i >= total) return;
  const I K = (I)d.kh * d.kw * d.c;
  const I row = i / K, kidx = i - row * K;
  const I ci = kidx % d.c, kk = kidx / d.c, kx = kk % d.kw, ky = kk / d.kw;
  const I rest = row / d.ow, ox = row - rest * d.ow, n = rest / d.oh, oy = rest - n * d.oh;
  const int iy = (int)oy * d.sh - d.pt + (int)ky * d.dh, ix = (int)ox * d.sw - d.pl + (int)kx * d.dw;
  col[i] =
      (iy >= 0 && iy < d.h && ix >= 0 && ix < d.w) ? x[((n * d.h + (I)iy) * d.w + (I)ix) * d.c + ci] : 0.0f;
}

// dx[n, iy, ix, c] = sum over (ky, kx) of dcol[(n, oy, ox), (ky, kx, c)] where oy*SH - PT + ky*DH = iy, ...
template <typename I>
__global__ void col2im_kernel(ConvDims d, const float* __restrict__ dcol, float* __restrict__ dx, I total) {
  const I i = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (i >= total) return;
  const I pix = i / d.c, ci = i - pix * d.c, row = pix / d.w, ix = pix - row * d.w, n = row / d.h,
          iy = row - n * d.h;
  const I K = (I)d.kh * d.kw * d.c;
  float sum = 0.0f;
  for (int ky = 0; ky < d.kh; ++ky) {
    const int ty = (int)iy + d.pt - ky * d.dh;
    if (ty < 0 || ty % d.sh) continue;
    const int oy = ty / d.sh;
    if (oy >= d.oh) continue;
    for (int kx = 0; kx < d.kw; ++kx) {
      const int tx = (int)ix + d.pl - kx * d.dw;
      if (tx < 0 || tx % d.sw) continue;
      const int ox = tx / d.sw;
      if (ox >= d.ow) continue;
      sum += dcol[((n * d.oh + (I)oy) * d.ow + (I)ox) * K + (I)(ky * d.kw + kx) * d.c + ci];
    }
  }
  dx[i] = sum;
}

// The column matrix of x (total = rows * cols elements) on stream st.
void im2col(cudaStream_t st, const Conv2dShape& s, const float* x, float* col, long long total) {
  const long long in_total = (long long)s.n * s.h * s.w * s.c;
  with_index_type(std::max(total, in_total), [&](auto index) {
    using I = decltype(index);
    launch(im2col_kernel<I>, CEIL_DIV(total, 256), 256, 0, st, dims(s), x, col, (I)total);
  });
}

}  // namespace

Status CudaBackend::conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const Epilogue& ep,
                                   float* y) {
  std::lock_guard<std::mutex> lock(mutex_);
  const long long rows = (long long)s.n * s.oh * s.ow, cols = s.col_cols();
  if (rows == 0 || s.f == 0) return Status::Ok();
  if (rows > INT32_MAX)
    return Status{"ERR_KERNELNET_SHAPE", "conv2d_forward: more than 2^31 output positions"};
  void* col;
  KN_TRY(scratch(kCol, sizeof(float) * std::max<long long>(rows * cols, 1), &col));
  if (cols) {  // with no input channels the output is just the bias (a K = 0 GEMM)
    im2col(stream(), s, x, static_cast<float*>(col), rows * cols);
    KN_LAUNCHED(stream(), "im2col_kernel");
  }
  return gemm(false, false, rows, s.f, cols, static_cast<float*>(col), cols, w, s.f, y, s.f, ep, false);
}

Status CudaBackend::conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* y,
                                    const float* dy, float* dx, float* dw, float* db, const Epilogue& ep) {
  std::lock_guard<std::mutex> lock(mutex_);
  const long long rows = (long long)s.n * s.oh * s.ow, cols = s.col_cols();
  if (rows > INT32_MAX)
    return Status{"ERR_KERNELNET_SHAPE", "conv2d_backward: more than 2^31 output positions"};
  const float* dz;
  KN_TRY(act_mask(ep, rows * s.f, y, dy, &dz));
  if (db) KN_TRY(column_sums(dz, rows, s.f, db));
  if (dw) {
    void* col;
    KN_TRY(scratch(kCol, sizeof(float) * std::max<long long>(rows * cols, 1), &col));
    if (rows * cols) {
      im2col(stream(), s, x, static_cast<float*>(col), rows * cols);
      KN_LAUNCHED(stream(), "im2col_kernel");
    }
    KN_TRY(gemm(true, false, cols, s.f, rows, static_cast<float*>(col), cols, dz, s.f, dw, s.f, Epilogue{},
                false));
  }
  if (!dx) return Status::Ok();
  void* dcol;
  KN_TRY(scratch(kDcol, sizeof(float) * std::max<long long>(rows * cols, 1), &dcol));
  KN_TRY(gemm(false, true, rows, cols, s.f, dz, s.f, w, s.f, static_cast<float*>(dcol), cols, Epilogue{},
              false));
  const long long in_total = (long long)s.n * s.h * s.w * s.c;
  if (in_total) {
    with_index_type(std::max(rows * cols, in_total), [&](auto index) {
      using I = decltype(index);
      launch(col2im_kernel<I>, CEIL_DIV(in_total, 256), 256, 0, stream(), dims(s), static_cast<float*>(dcol),
             dx, (I)in_total);
    });
    KN_LAUNCHED(stream(), "col2im_kernel");
  }
  return Status::Ok();
}

// The conv + pool op as the two ops in turn, through a scratch copy of the conv's output (one kernel that
// pools in the GEMM's epilogue is the GPU's next step for it). Backward rebuilds what the two ops apart would
// see: the conv's output at each window's argmax (the pooled value) and the routed gradient, zeros elsewhere,
// by max-pool backward, then the conv's dense backward: the CPU's sums over the argmax entries, in another
// order (exactly equal on small integers).
Status CudaBackend::conv2d_pool_forward(const Conv2dShape& s, const Pool2dShape& p, const float* x,
                                        const float* w, const Epilogue& ep, float* pooled, int32_t* argmax) {
  std::lock_guard<std::mutex> turn(conv_pool_mutex_);
  void* y;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    KN_TRY(scratch(kConvOut, sizeof(float) * std::max<long long>((long long)s.n * s.oh * s.ow * s.f, 1), &y));
  }
  KN_TRY(conv2d_forward(s, x, w, ep, static_cast<float*>(y)));
  return maxpool2d_forward(p, static_cast<float*>(y), pooled, argmax);
}

Status CudaBackend::conv2d_pool_backward(const Conv2dShape& s, const Pool2dShape& p, const float* x,
                                         const float* w, const float* pooled, const int32_t* argmax,
                                         const float* dpooled, float* dx, float* dw, float* db,
                                         const Epilogue& ep) {
  std::lock_guard<std::mutex> turn(conv_pool_mutex_);
  void *y, *dy;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::size_t bytes = sizeof(float) * std::max<long long>((long long)s.n * s.oh * s.ow * s.f, 1);
    KN_TRY(scratch(kConvOut, bytes, &y));
    KN_TRY(scratch(kConvOutGrad, bytes, &dy));
  }
  KN_TRY(maxpool2d_backward(p, pooled, argmax, static_cast<float*>(y)));
  KN_TRY(maxpool2d_backward(p, dpooled, argmax, static_cast<float*>(dy)));
  return conv2d_backward(s, x, w, static_cast<float*>(y), static_cast<float*>(dy), dx, dw, db, ep);
}

}  // namespace cu
}  // namespace kn
