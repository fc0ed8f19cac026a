// Conv2d on the GPU as im2col + SGEMM over the whole batch (N = batch, channels-last as Keras):
//   x [N, H, W, C], w [KH, KW, C, F] (a [KH*KW*C, F] matrix), b [F], y [N, OH, OW, F]
//   col[(n*OH + oy)*OW + ox, (ky*KW + kx)*C + c] = x[n, oy*SH - PT + ky*DH, ox*SW - PL + kx*DW, c]
//   (0 outside; DH, DW the dilation)
//   forward:  y = act(col w + b)                    one GEMM, bias and activation fused in its epilogue
//   A window of at most 32 taps (a first layer's) runs as direct kernels instead. Otherwise forward and dw
//   run as implicit GEMMs: the columns are gathered from x tile by tile, never stored (gemm.cu:
//   SimtConvForwardA / SimtConvWeightGradA / SimtConvInputGradAB in FP32; with TF32 on and C, F multiples of
//   4, ConvForwardA / ConvWeightGradA / ConvInputGradAB on the tensor cores; the input gradients for stride
//   1, in FP32 where C fills 3/4 of kernel 1's tile width (64, or 32 on its narrow tile): no dcol, no
//   col2im). backward: dz = dy * act'(y); db = column sums of dz; dw = col^T dz (split-K: K = N*OH*OW is
//   long);
//             dcol = dz w^T; dx = col2im(dcol), computed as a gather (each dx element sums its own
//             contributions: no atomics, deterministic).
#include <cstdint>

#include "cuda_backend.cuh"
#include "gemm.cuh"
#include "philox.h"

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
// then times the layer below's act' where `below` has its y (epilogue.h's BelowAct, below_in_epilogue).
template <typename I>
__global__ void col2im_kernel(ConvDims d, const float* __restrict__ dcol, float* __restrict__ dx, I total,
                              BelowAct below) {
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
  dx[i] = below.y ? below_epilogue(below.act, below.y[i], sum, below.alpha) : sum;
}

// The column matrix of x (total = rows * cols elements) on stream st.
void im2col(cudaStream_t st, const Conv2dShape& s, const float* x, float* col, long long total) {
  const long long in_total = (long long)s.n * s.h * s.w * s.c;
  with_index_type(std::max(total, in_total), [&](auto index) {
    using I = decltype(index);
    launch(im2col_kernel<I>, CEIL_DIV(total, 256), 256, 0, st, dims(s), x, col, (I)total);
  });
}

// Direct kernels for a small window (KH*KW*C <= 32 taps: a first layer on gray or RGB images, such as the
// seed model's conv1, 9 taps x 32 filters) and at most 256 filters. As im2col + GEMM these are latency-bound
// chains of small launches (a K = 9 GEMM; backward: the mask, column sums, im2col and a split-K GEMM over
// 86,528 pixels). Direct: forward is one kernel, backward (when no input gradient is needed) one kernel that
// applies the activation's mask, sums the bias and weight gradients per block of pixels, and one fixed-order
// tree over the blocks: deterministic, the number of blocks fixed by the shape, not by the GPU.
constexpr int kDirectTaps = 32, kDirectThreads = 256, kDirectPixelsPerBlock = 128;

// The direct kernels' pixel index is an int: a run of 256 past the last row must still fit.
constexpr long long kDirectMaxRows = INT32_MAX - 2 * kDirectThreads;

bool direct_conv(const Conv2dShape& s) {
  return s.col_cols() >= 1 && s.col_cols() <= kDirectTaps && s.f >= 1 && s.f <= kDirectThreads &&
         (long long)s.n * s.oh * s.ow <= kDirectMaxRows;
}
// Blocks of (F filters) x (256 / F pixel lanes): F * floor(256 / F) threads, 256 only where F divides 256.
dim3 direct_block(const Conv2dShape& s) {
  return dim3(s.f, kDirectThreads / s.f);
}
// The backward's blocks (its partial sums, summed after in a fixed order): one per 128-pixel run, at most
// 4096; past that each block walks the runs b, b + 4096, ... (a count fixed by the shape, not by the GPU).
constexpr int kDirectMaxParts = 4096;
int direct_parts(long long rows) {
  return (int)std::min<long long>(std::max<long long>(CEIL_DIV(rows, kDirectPixelsPerBlock), 1),
                                  kDirectMaxParts);
}

// The taps' offsets, once per block: input row and column offsets and channel of tap k = (ky * KW + kx) * C +
// c.
__device__ __forceinline__ void direct_taps(const ConvDims& d, int K, int* ty, int* tx, int* tc) {
  for (int k = threadIdx.y * blockDim.x + threadIdx.x; k < K; k += blockDim.x * blockDim.y) {
    const int tap = k / d.c;
    ty[k] = (tap / d.kw) * d.dh, tx[k] = (tap % d.kw) * d.dw, tc[k] = k % d.c;
  }
}

// y[p, f] = act(b[f] + sum_k patch(p)[k] w[k, f]), thread (f, lane) of block b computing pixel b * lanes +
// lane.
__global__ void conv_direct_forward_kernel(ConvDims d, const float* __restrict__ x,
                                           const float* __restrict__ w, const float* __restrict__ bias,
                                           Act act, float alpha, float* __restrict__ pre,
                                           float* __restrict__ y, int rows) {
  __shared__ float ws[kDirectTaps * kDirectThreads];
  __shared__ int ty[kDirectTaps], tx[kDirectTaps], tc[kDirectTaps];
  const int K = d.kh * d.kw * d.c, F = d.f, f = threadIdx.x;
  for (int i = threadIdx.y * blockDim.x + threadIdx.x; i < K * F; i += blockDim.x * blockDim.y) ws[i] = w[i];
  direct_taps(d, K, ty, tx, tc);
  __syncthreads();
  const int p = blockIdx.x * blockDim.y + threadIdx.y;
  if (p >= rows) return;
  const int ox = p % d.ow, rest = p / d.ow, oy = rest % d.oh, n = rest / d.oh;
  const int iy0 = oy * d.sh - d.pt, ix0 = ox * d.sw - d.pl;
  const float* xn = x + (long long)n * d.h * d.w * d.c;
  float sum = 0.0f;
  for (int k = 0; k < K; ++k) {
    const int iy = iy0 + ty[k], ix = ix0 + tx[k];
    if ((unsigned)iy < (unsigned)d.h && (unsigned)ix < (unsigned)d.w)
      sum = fmaf(xn[((long long)iy * d.w + ix) * d.c + tc[k]], ws[k * F + f], sum);
  }
  if (bias) sum += bias[f];
  const long long o = (long long)p * F + f;
  if (pre) pre[o] = sum;
  y[o] = act_epilogue(act, sum, alpha);
}

// The same forward with one thread per pixel and NF of its filters (NF in 4, 8, 16, 32 dividing F): the
// kernel above has the F threads of a pixel each redo the pixel's address arithmetic for every tap (about 300
// instructions per output at the seed's conv1); here a thread works out each tap's input once and multiplies
// it into NF accumulators, its weights read as float4 broadcasts from shared memory (the whole warp reads the
// same address), offsets within an image in 32 bits, the NF outputs stored as float4. Taps are summed in the
// same order, skipping those outside the input, then the bias added: the same bits as the kernel above.
template <int NF>
__global__ void conv_direct_forward_pixels_kernel(ConvDims d, const float* __restrict__ x,
                                                  const float* __restrict__ w, const float* __restrict__ bias,
                                                  Act act, float alpha, float* __restrict__ pre,
                                                  float* __restrict__ y, int threads) {
  __shared__ __align__(16) float ws[kDirectTaps * kDirectThreads];
  __shared__ int ty[kDirectTaps], tx[kDirectTaps], tc[kDirectTaps], toff[kDirectTaps];
  const int K = d.kh * d.kw * d.c, F = d.f, G = F / NF;
  for (int i = threadIdx.x; i < K * F; i += blockDim.x) ws[i] = w[i];
  for (int k = threadIdx.x; k < K; k += blockDim.x) {
    const int tap = k / d.c;
    ty[k] = (tap / d.kw) * d.dh, tx[k] = (tap % d.kw) * d.dw, tc[k] = k % d.c;
    toff[k] = (ty[k] * d.w + tx[k]) * d.c + tc[k];
  }
  __syncthreads();
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= threads) return;
  const int p = t / G, f0 = (t % G) * NF;
  const int ox = p % d.ow, rest = p / d.ow, oy = rest % d.oh, n = rest / d.oh;
  const int iy0 = oy * d.sh - d.pt, ix0 = ox * d.sw - d.pl;
  const float* xn = x + (long long)n * d.h * d.w * d.c;
  float acc[NF];
#pragma unroll
  for (int j = 0; j < NF; ++j) acc[j] = 0.0f;
  const auto add = [&](int k, float v) {
    const float4* wk = reinterpret_cast<const float4*>(ws + k * F + f0);
#pragma unroll
    for (int j = 0; j < NF / 4; ++j) {
      const float4 q = wk[j];
      acc[4 * j] = fmaf(v, q.x, acc[4 * j]);
      acc[4 * j + 1] = fmaf(v, q.y, acc[4 * j + 1]);
      acc[4 * j + 2] = fmaf(v, q.z, acc[4 * j + 2]);
      acc[4 * j + 3] = fmaf(v, q.w, acc[4 * j + 3]);
    }
  };
  if (iy0 >= 0 && ix0 >= 0 && iy0 + (d.kh - 1) * d.dh < d.h && ix0 + (d.kw - 1) * d.dw < d.w) {
    const float* xp = xn + (iy0 * d.w + ix0) * d.c;  // every tap inside
    for (int k = 0; k < K; ++k) add(k, xp[toff[k]]);
  } else {
    for (int k = 0; k < K; ++k) {
      const int iy = iy0 + ty[k], ix = ix0 + tx[k];
      if ((unsigned)iy < (unsigned)d.h && (unsigned)ix < (unsigned)d.w)
        add(k, xn[(iy * d.w + ix) * d.c + tc[k]]);
    }
  }
  const long long o = (long long)p * F + f0;
#pragma unroll
  for (int j = 0; j < NF; j += 4) {
    float4 v = make_float4(acc[j], acc[j + 1], acc[j + 2], acc[j + 3]);
    if (bias) v.x += bias[f0 + j], v.y += bias[f0 + j + 1], v.z += bias[f0 + j + 2], v.w += bias[f0 + j + 3];
    if (pre) *reinterpret_cast<float4*>(pre + o + j) = v;
    v.x = act_epilogue(act, v.x, alpha), v.y = act_epilogue(act, v.y, alpha);
    v.z = act_epilogue(act, v.z, alpha), v.w = act_epilogue(act, v.w, alpha);
    *reinterpret_cast<float4*>(y + o + j) = v;
  }
}

// NF for the kernel above (the most filters per thread, up to 32, dividing F), or 0 where it does not apply:
// F not a multiple of 4, y or pre not 16-byte aligned (a view), an image of 2^31 values or more, or 2^31
// threads or more.
int direct_pixel_filters(const Conv2dShape& s, const float* y, const float* pre) {
  const auto aligned = [](const float* q) { return reinterpret_cast<std::uintptr_t>(q) % 16 == 0; };
  if (!direct_conv(s) || s.f % 4 != 0 || !aligned(y) || (pre && !aligned(pre)) ||
      (long long)s.h * s.w * s.c > INT32_MAX)
    return 0;
  const int nf = s.f % 32 == 0 ? 32 : s.f % 16 == 0 ? 16 : s.f % 8 == 0 ? 8 : 4;
  return (long long)s.n * s.oh * s.ow * (s.f / nf) <= kDirectMaxRows ? nf : 0;
}

// partial[b, e] for e = k * F + f: the sum over block b's 128 pixels p of patch(p)[k] dz[p, f] (k < K), and
// of dz[p, f] (k = K, the bias), dz = dy * act'(.) computed on the fly. Per chunk of 32 pixels, the block
// stages dz (thread (f, lane) reading rows lane, lane + lanes, ...: coalesced) and the pixels' patches in
// shared memory; then each thread adds the chunk into the (k, f) entries it owns, tid + 256 j. No thread
// shares an entry, so nothing is reduced across threads and the order is fixed.
constexpr int kDirectChunk = 32, kDirectEntries = 4;  // (K + 1) * F <= 4 * threads

// What the backward kernel can take: each of the block's F * floor(256 / F) threads owns at most 4 of the
// (K + 1) * F entries, so they must fit (F = 96 with 9 taps: 960 entries, but 192 threads own only 768).
bool direct_conv_backward(const Conv2dShape& s) {
  const dim3 block = direct_block(s);
  return direct_conv(s) && (s.col_cols() + 1) * s.f <= (long long)kDirectEntries * block.x * block.y;
}

__global__ void conv_direct_backward_kernel(ConvDims d, const float* __restrict__ x,
                                            const float* __restrict__ y, const float* __restrict__ pre,
                                            const float* __restrict__ dy, Act act, float alpha, int rows,
                                            float* __restrict__ partial) {
  __shared__ int ty[kDirectTaps], tx[kDirectTaps], tc[kDirectTaps];
  __shared__ long long pix_base[kDirectChunk];
  __shared__ int pix_iy0[kDirectChunk], pix_ix0[kDirectChunk];
  __shared__ float dzs[kDirectChunk * kDirectThreads], patch[kDirectChunk * (kDirectTaps + 1)];
  const int K = d.kh * d.kw * d.c, F = d.f, tid = threadIdx.y * blockDim.x + threadIdx.x;
  const int threads = blockDim.x * blockDim.y, entries = (K + 1) * F;
  direct_taps(d, K, ty, tx, tc);
  int ek[kDirectEntries], ef[kDirectEntries];
  float acc[kDirectEntries] = {};
#pragma unroll
  for (int j = 0; j < kDirectEntries; ++j) {
    const int e = tid + j * threads;
    ek[j] = e < entries ? e / F : -1, ef[j] = e < entries ? e % F : 0;
  }
  // Runs of 128 pixels: blockIdx.x, + gridDim.x, ... (int arithmetic: rows <= direct_rows_limit).
  const int runs = CEIL_DIV(rows, kDirectPixelsPerBlock);
  for (int run = blockIdx.x; run < runs; run += gridDim.x) {
    const int p_begin = run * kDirectPixelsPerBlock, p_end = min(rows, p_begin + kDirectPixelsPerBlock);
    for (int q = p_begin; q < p_end; q += kDirectChunk) {
      const int count = min(kDirectChunk, p_end - q);
      __syncthreads();  // the previous chunk is consumed
      if (tid < count) {
        const int p = q + tid, ox = p % d.ow, rest = p / d.ow, oy = rest % d.oh, n = rest / d.oh;
        pix_base[tid] = (long long)n * d.h, pix_iy0[tid] = oy * d.sh - d.pt, pix_ix0[tid] = ox * d.sw - d.pl;
      }
      for (int r = threadIdx.y; r < count; r += blockDim.y) {
        const long long o = (long long)(q + r) * F + threadIdx.x;
        // (linear: dy is dz already, the layer above applied this activation; y is not read)
        dzs[r * F + threadIdx.x] =
            act == Act::kLinear ? dy[o] : act_backward(act, y[o], pre ? pre[o] : 0.0f, dy[o], alpha);
      }
      __syncthreads();  // the pixels' coordinates are in
      for (int i = tid; i < count * kDirectTaps; i += threads) {
        const int r = i / kDirectTaps, k = i % kDirectTaps;  // constant divisor: a shift and a mask
        if (k >= K) continue;
        const int iy = pix_iy0[r] + ty[k], ix = pix_ix0[r] + tx[k];
        patch[r * (kDirectTaps + 1) + k] = (unsigned)iy < (unsigned)d.h && (unsigned)ix < (unsigned)d.w
                                               ? x[((pix_base[r] + iy) * d.w + ix) * d.c + tc[k]]
                                               : 0.0f;
      }
      __syncthreads();
#pragma unroll
      for (int j = 0; j < kDirectEntries; ++j) {
        if (ek[j] < 0) continue;
        const int k = ek[j], f = ef[j];
        float a = acc[j];
        for (int r = 0; r < count; ++r)
          a = fmaf(k < K ? patch[r * (kDirectTaps + 1) + k] : 1.0f, dzs[r * F + f], a);
        acc[j] = a;
      }
    }
  }
  float* out = partial + (long long)blockIdx.x * entries;
#pragma unroll
  for (int j = 0; j < kDirectEntries; ++j)
    if (ek[j] >= 0) out[ek[j] * F + ef[j]] = acc[j];
}

// Whether the convolution's forward pass and weight gradient run as implicit GEMMs: always on kernel 1 (FP32:
// scalar gathers), and on kernel 3 (TF32) where its 16-byte runs fit: whole groups of 4 channels and filters,
// 16-byte aligned tensors. The input gradient (input_grad) likewise, for stride 1, and on kernel 1 only where
// its N = C fills at least 3/4 of the 64-wide tiles: the implicit product runs over the input pixels with N =
// C, so C = 32 (the seed's conv2) would do twice its arithmetic on the CUDA cores, predicted slower than dcol
// + col2im there (bench/NOTES.md). Otherwise im2col + GEMM (and dcol + col2im).
bool implicit_gemm(GemmKernel kernel, const Conv2dShape& s, const float* x, const float* b,
                   bool input_grad = false) {
  if (kernel == GemmKernel::kSimt) {  // the input gradient where C fills 3/4 of its tiles' width (32 or 64)
    const int tile = s.c <= 32 ? 32 : kGemmTile;
    return !input_grad || (s.sh == 1 && s.sw == 1 && 4 * s.c >= 3 * CEIL_DIV(s.c, tile) * tile);
  }
  return kernel == GemmKernel::kMmaTf32 && s.c % 4 == 0 && s.f % 4 == 0 &&
         reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(b) % 16 == 0 &&
         (!input_grad || (s.sh == 1 && s.sw == 1));
}

ConvGeom geom(const Conv2dShape& s, bool input_grad = false) {
  return {s.h, s.w, s.c, s.kw, s.oh, s.ow, s.sh, s.sw, s.pt, s.pl, s.dil_h, s.dil_w, s.f, input_grad};
}

}  // namespace

Status CudaBackend::conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const Epilogue& ep,
                                   float* y) {
  std::lock_guard<std::mutex> lock(mutex_);
  const long long rows = (long long)s.n * s.oh * s.ow, cols = s.col_cols();
  if (rows == 0 || s.f == 0) return Status::Ok();
  if (rows > INT32_MAX)
    return Status{"ERR_KERNELNET_SHAPE", "conv2d_forward: more than 2^31 output positions"};
  if (const int nf = direct_pixel_filters(s, y, ep.pre)) {
    const int threads = (int)(rows * (s.f / nf));
    const unsigned blocks = (unsigned)CEIL_DIV(threads, kDirectThreads);
    const auto kernel = nf == 32   ? conv_direct_forward_pixels_kernel<32>
                        : nf == 16 ? conv_direct_forward_pixels_kernel<16>
                        : nf == 8  ? conv_direct_forward_pixels_kernel<8>
                                   : conv_direct_forward_pixels_kernel<4>;
    launch(kernel, blocks, kDirectThreads, 0, stream(), dims(s), x, w, ep.bias, ep.act, ep.alpha, ep.pre, y,
           threads);
    KN_LAUNCHED(stream(), "conv_direct_forward_pixels_kernel");
    return Status::Ok();
  }
  if (direct_conv(s)) {
    const dim3 block = direct_block(s);
    launch(conv_direct_forward_kernel, (unsigned)CEIL_DIV(rows, (long long)block.y), block, 0, stream(),
           dims(s), x, w, ep.bias, ep.act, ep.alpha, ep.pre, y, (int)rows);
    KN_LAUNCHED(stream(), "conv_direct_forward_kernel");
    return Status::Ok();
  }
  if (cols && implicit_gemm(gemm_kernel(), s, x, w)) {
    const ConvGeom g = geom(s);
    return gemm_with(gemm_kernel(), false, false, rows, s.f, cols, x, cols, w, s.f, y, s.f, ep, false, &g);
  }
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
  return conv2d_backward_with(s, x, w, y, dy, dx, dw, db, ep, nullptr, 0);
}

Status CudaBackend::conv2d_backward_with(const Conv2dShape& s, const float* x, const float* w, const float* y,
                                         const float* dy, float* dx, float* dw, float* db, const Epilogue& ep,
                                         const float* bias_parts, int parts) {
  std::lock_guard<std::mutex> lock(mutex_);
  const long long rows = (long long)s.n * s.oh * s.ow, cols = s.col_cols();
  if (rows > INT32_MAX)
    return Status{"ERR_KERNELNET_SHAPE", "conv2d_backward: more than 2^31 output positions"};
  // The seed's conv1 (no input gradient): its kernel sums db beside dw from dz itself (bias_parts unused).
  if (!dx && dw && rows && direct_conv_backward(s)) {
    const int K = (int)cols, parts = direct_parts(rows);
    void* partial;
    KN_TRY(scratch(kColSum, sizeof(float) * parts * (K + 1) * s.f, &partial));
    float* pt = static_cast<float*>(partial);
    launch(conv_direct_backward_kernel, parts, direct_block(s), 0, stream(), dims(s), x, y,
           static_cast<const float*>(ep.pre), dy, ep.act, ep.alpha, (int)rows, pt);
    KN_LAUNCHED(stream(), "conv_direct_backward_kernel");
    KN_TRY(launch_sum_parts(stream(), pt, parts, (K + 1) * s.f, K * s.f, dw, s.f, db));  // (db: may be null)
    return Status::Ok();
  }
  const float* dz;
  KN_TRY(act_mask(ep, rows * s.f, y, dy, &dz));
  Branch weights(dx && (dw || db));  // db and dw beside dx (a parallel branch in a captured graph)
  if (db && bias_parts)
    KN_TRY(launch_sum_parts(stream(), bias_parts, parts, s.f, s.f, db));
  else if (db)
    KN_TRY(column_sums(dz, rows, s.f, db));
  if (dw && rows && cols && implicit_gemm(gemm_kernel(), s, x, dz)) {
    const ConvGeom g = geom(s);
    KN_TRY(gemm_with(gemm_kernel(), true, false, cols, s.f, rows, x, cols, dz, s.f, dw, s.f, Epilogue{},
                     false, &g));
  } else if (dw) {
    void* col;
    KN_TRY(scratch(kCol, sizeof(float) * std::max<long long>(rows * cols, 1), &col));
    if (rows * cols) {
      im2col(stream(), s, x, static_cast<float*>(col), rows * cols);
      KN_LAUNCHED(stream(), "im2col_kernel");
    }
    KN_TRY(gemm(true, false, cols, s.f, rows, static_cast<float*>(col), cols, dz, s.f, dw, s.f, Epilogue{},
                false));
  }
  weights.leave();
  if (!dx) return Status::Ok();
  const long long in_rows = (long long)s.n * s.h * s.w;
  if (rows && cols && in_rows <= INT32_MAX && implicit_gemm(gemm_kernel(), s, dz, w, true)) {
    const ConvGeom g = geom(s, true);
    const int taps_f = s.kh * s.kw * s.f;  // this GEMM's K: (tap, filter) pairs
    return gemm_with(gemm_kernel(), false, true, (int)in_rows, s.c, taps_f, dz, taps_f, w, taps_f, dx, s.c,
                     input_grad_epilogue(ep), false, &g);
  }
  void* dcol;
  KN_TRY(scratch(kDcol, sizeof(float) * std::max<long long>(rows * cols, 1), &dcol));
  KN_TRY(gemm(false, true, rows, cols, s.f, dz, s.f, w, s.f, static_cast<float*>(dcol), cols, Epilogue{},
              false));
  const long long in_total = (long long)s.n * s.h * s.w * s.c;
  if (in_total) {
    const bool fused = below_in_epilogue(ep.below.act);  // else a pass after
    with_index_type(std::max(rows * cols, in_total), [&](auto index) {
      using I = decltype(index);
      launch(col2im_kernel<I>, CEIL_DIV(in_total, 256), 256, 0, stream(), dims(s), static_cast<float*>(dcol),
             dx, (I)in_total, fused ? ep.below : BelowAct{});
    });
    KN_LAUNCHED(stream(), "col2im_kernel");
    if (!fused) KN_TRY(launch_below_pass(stream(), ep.below, dx, in_rows, s.c, s.c));
  }
  return Status::Ok();
}

// The conv + pool op. Where the conv runs as an implicit GEMM and the pool's windows hold 2 or 4 positions
// without padding (2x2: every pooling of the seed models), forward is one GEMM whose epilogue pools
// (gemm.cuh's ConvGeom::pool_h): the conv's output is never stored, and the GEMM computes no pixel the pool
// drops. Otherwise the two ops in turn through a scratch copy of the conv's output. Backward builds the
// conv's dz in one pass over the pooled output (pool_dz_kernel: act'(pooled) * dpooled at each window's
// argmax, zero at its other positions; a Dropout after the pool has its backward folded in, its mask applied
// to dpooled first), then runs the conv's backward with a linear activation: the CPU's sums over the argmax
// entries, in another order (exactly equal on small integers). A Dropout after the pool (training): kernel 1
// (FP32) draws its mask in the pool epilogue, one Philox block (about 110 instructions) per thread's 4
// filters, and writes the dropped output beside the pooled one: no pass reading the pooled output back (9 MB,
// predicted 1-2 us per FP32 step). Kernel 3 (TF32) keeps the pass (predicted 3 us): its window maxima sit in
// a quarter of the lanes, 2 adjacent filters each, so its tile's 64 blocks per warp would be drawn by every
// lane (2 each) and handed over by ballots, about 12% more instructions for the conv2 GEMM (predicted +2-3
// us), what the pass costs.
namespace {

bool pool_in_epilogue(GemmKernel kernel, const Conv2dShape& s, const Pool2dShape& p, const float* x,
                      const float* w, const Epilogue& ep) {
  // Every window whole: the GEMM computes each window's positions, so a window cut short by the conv's edge
  // ('same' pooling of an odd output: no padding before, one row or column missing after) would pool a pixel
  // that does not exist.
  const int win = p.ph * p.pw;
  return (win == 2 || win == 4) && p.sh == p.ph && p.sw == p.pw && p.pt == 0 && p.pl == 0 &&
         (long long)p.oh * p.ph <= p.h && (long long)p.ow * p.pw <= p.w && !ep.pre && s.col_cols() > 0 &&
         !direct_conv(s) && implicit_gemm(kernel, s, x, w) && (long long)p.n * p.oh * p.ow * win <= INT32_MAX;
}

// One thread per pooled element (n, py, px, f): block row y walks pooled rows (n, py), so the only
// per-element division is px = e / F. Writes every position of the element's window (the windows do not
// overlap), coalesced along f.
// With a dropout after the pool (rate > 0), dpooled is the dropout's output gradient: its mask (element o of
// the Philox stream, as dropout_kernel) is applied first, the dropout's backward folded in.
// With bias_parts, each thread also sums the values it writes (its rows in order) into bias_parts[blockIdx.y
// * ow * F + e]: gridDim.y * ow partial rows of F, whose column sums are the bias gradient (dz's only nonzero
// entries are these), read in place of dz's 4x larger rows.
__global__ void pool_dz_kernel(Pool2dShape p, Act act, float alpha, const float* __restrict__ pooled,
                               const int32_t* __restrict__ argmax, const float* __restrict__ dpooled,
                               float* __restrict__ dz, float rate, float scale, uint64_t seed,
                               uint64_t offset, const int32_t* __restrict__ counter,
                               float* __restrict__ bias_parts) {
  const int e = blockIdx.x * blockDim.x + threadIdx.x;
  if (e >= p.ow * p.c) return;
  const int px = e / p.c, f = e - px * p.c;
  float sum = 0.0f;
  for (int r = blockIdx.y; r < p.n * p.oh; r += gridDim.y) {
    const int n = r / p.oh, py = r - n * p.oh;
    const long long o = (long long)r * p.ow * p.c + e;
    float d = dpooled[o];
    if (rate > 0.0f) {
      float u[4];
      philox_uniform4(seed, offset + device_counter(counter), (unsigned long long)o >> 2, u);
      const int lane = (int)(o & 3);
      const float uo = lane == 0 ? u[0] : lane == 1 ? u[1] : lane == 2 ? u[2] : u[3];
      d = __fmul_rn(d, uo >= rate ? scale : 0.0f);  // dropout_kernel's product
    }
    const float g = act_backward(act, pooled[o], 0.0f, d, alpha);
    sum += g;
    const int32_t arg = argmax[o];
    int y0, y1, x0, x1;
    pool_window(p, py, px, &y0, &y1, &x0, &x1);
    float* dzn = dz + (long long)n * p.h * p.w * p.c;
    for (int iy = y0; iy < y1; ++iy)
      for (int ix = x0; ix < x1; ++ix) {
        const int i = (iy * p.w + ix) * p.c + f;
        dzn[i] = i == arg ? g : 0.0f;
      }
  }
  if (bias_parts) bias_parts[(long long)blockIdx.y * p.ow * p.c + e] = sum;
}

}  // namespace

Status CudaBackend::conv2d_pool_forward(const Conv2dShape& s, const Pool2dShape& p, const float* x,
                                        const float* w, const Epilogue& ep, float* pooled, int32_t* argmax,
                                        const DropoutArgs& drop, float* dropped) {
  const bool dropout = dropped != nullptr;  // (rate 0: a copy, as dropout_forward's)
  KN_EXPECT(drop.rate >= 0.0f && drop.rate < 1.0f, "conv2d_pool_forward");
  bool fused, mask_drawn = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    fused = pool_in_epilogue(gemm_kernel(), s, p, x, w, ep);
    if (fused) {
      ConvGeom g = geom(s);
      g.pool_h = p.ph, g.pool_w = p.pw, g.pool_oh = p.oh, g.pool_ow = p.ow, g.argmax = argmax;
      // A Dropout after the pool: its mask drawn in kernel 1's epilogue (one Philox block per thread's 4
      // filters); kernel 3 runs the pass after (see above).
      mask_drawn = dropout && gemm_kernel() == GemmKernel::kSimt && s.f % 4 == 0;
      if (mask_drawn) {
        g.dropped = dropped, g.drop_rate = drop.rate, g.drop_scale = 1.0f / (1.0f - drop.rate);
        g.drop_seed = drop.seed, g.drop_offset = drop.offset, g.drop_counter = drop.counter;
      }
      const int m = p.n * p.oh * p.ow * p.ph * p.pw, cols = (int)s.col_cols();
      KN_TRY(
          gemm_with(gemm_kernel(), false, false, m, s.f, cols, x, cols, w, s.f, pooled, s.f, ep, false, &g));
    }
  }
  if (!fused) {  // the conv, then the pool, through a scratch copy of the conv's output
    std::lock_guard<std::mutex> turn(conv_pool_mutex_);
    void* y;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      KN_TRY(
          scratch(kConvOut, sizeof(float) * std::max<long long>((long long)s.n * s.oh * s.ow * s.f, 1), &y));
    }
    KN_TRY(conv2d_forward(s, x, w, ep, static_cast<float*>(y)));
    KN_TRY(maxpool2d_forward(p, static_cast<float*>(y), pooled, argmax));
  }
  if (!dropout || mask_drawn) return Status::Ok();
  return dropout_forward((std::size_t)p.n * p.oh * p.ow * p.c, pooled, dropped, drop.rate, drop.seed,
                         drop.offset, drop.counter);
}

Status CudaBackend::conv2d_pool_backward(const Conv2dShape& s, const Pool2dShape& p, const float* x,
                                         const float* w, const float* pooled, const int32_t* argmax,
                                         const float* dpooled, float* dx, float* dw, float* db,
                                         const Epilogue& ep, const DropoutArgs& drop) {
  std::lock_guard<std::mutex> turn(conv_pool_mutex_);
  void* dz;
  float* bias_parts = nullptr;
  int parts = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    KN_EXPECT(p.sh >= p.ph && p.sw >= p.pw && p.h == s.oh && p.w == s.ow && p.c == s.f,
              "conv2d_pool_backward");
    const long long conv_out = (long long)s.n * s.oh * s.ow * s.f;
    KN_TRY(scratch(kConvOutGrad, sizeof(float) * std::max<long long>(conv_out, 1), &dz));
    // Positions no window covers (a 'valid' pool's last rows or columns) get no gradient.
    if (conv_out && (p.oh * p.sh - p.pt < p.h || p.ow * p.sw - p.pl < p.w))
      KN_CUDA(cudaMemsetAsync(dz, 0, sizeof(float) * conv_out, stream()));
    const long long rows = (long long)p.n * p.oh, row_elems = (long long)p.ow * p.c;
    if (rows && row_elems) {
      // (int indices: a block's element e up to row_elems + 127, rows stepping by gridDim.y)
      if (row_elems > INT32_MAX - 128 || rows > INT32_MAX - 65536)
        return Status{"ERR_KERNELNET_SHAPE",
                      "conv2d_pool_backward: more than 2^31 - 65536 pooled rows or "
                      "2^31 - 128 elements per pooled row"};
      // With db, 256 row groups at most (a fixed count: the sums' order depends on the shape alone), each
      // thread summing its rows; their ow * groups partial rows are then summed per filter.
      const long long groups = std::min<long long>(rows, db ? 256 : 65535);
      if (db && groups * p.ow <= INT32_MAX / std::max(p.c, 1)) {
        parts = (int)(groups * p.ow);
        void* bp;
        KN_TRY(scratch(kPoolBiasParts, sizeof(float) * parts * p.c, &bp));
        bias_parts = static_cast<float*>(bp);
      }
      const dim3 grid((unsigned)CEIL_DIV(row_elems, 128), (unsigned)groups);
      KN_EXPECT(drop.rate >= 0.0f && drop.rate < 1.0f, "conv2d_pool_backward");
      launch(pool_dz_kernel, grid, 128, 0, stream(), p, ep.act, ep.alpha, pooled, argmax, dpooled,
             static_cast<float*>(dz), drop.rate, drop.rate > 0.0f ? 1.0f / (1.0f - drop.rate) : 1.0f,
             drop.seed, drop.offset, drop.counter, bias_parts);
      KN_LAUNCHED(stream(), "pool_dz_kernel");
    }
  }
  const float* g = static_cast<float*>(dz);
  return conv2d_backward_with(s, x, w, g, g, dx, dw, db, input_grad_epilogue(ep), bias_parts, parts);
}

}  // namespace cu
}  // namespace kn
