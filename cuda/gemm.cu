// SGEMM for the CUDA backend, row-major: C[M, N] (+)= op(A)[M, K] * op(B)[K, N], then the fused epilogue
// (cpp/epilogue.h: + bias[N] when given, then the activation; for an input gradient, the layer below's act'),
// storing a thread's adjacent columns as one float4 (SIMT kernel) or float2 (kernel 3) where rows are
// aligned.
//
// Kernel 1 (FP32 SIMT): tiles of 64 x 64 outputs per block of 256 threads, K in steps of 16 through shared
// memory, each thread holding a 4 x 4 register block; or, where the grid has enough blocks, 128 x 64 with 8 x
// 4 per thread (a third fewer shared-memory reads per FMA; simt_wide). Operands are read from shared memory
// as float4. The transposed variants (forward: A B; input gradient: A B^T; weight gradient: A^T B) differ
// only in how a tile is loaded, chosen at compile time, and every load is bounds-checked, so any M, N, K
// works. Split-K (gridDim.z > 1) writes partial products that a second kernel sums in a fixed order:
// deterministic, unlike atomics.
#include <mma.h>

#include "common.cuh"
#include "cuda_backend.cuh"
#include "env.h"
#include "gemm.cuh"
#include "gemm_layout.cuh"
#include "philox.h"
#include "ptx.cuh"

namespace kn {
namespace cu {
namespace {

constexpr int BM = layout::Simt::BM, BN = layout::Simt::BN, BK = layout::Simt::BK,
              THREADS = layout::Simt::THREADS;

// A read-only load through the non-coherent path (ld.global.nc), as the kernel's const __restrict__ operands
// get it: the loaders hand addresses over, which would lose that.
__device__ __forceinline__ float load_nc(const float* p) {
#ifdef KERNELNET_CUDA_EMULATED
  return *p;
#else
  return __ldg(p);
#endif
}

// Loads the BM x BK tile of op(A) at rows m0, depth k0 (zero outside [0, M) x [.., k_end)), handing each
// element to put(mm, kk, in, at), a zero where !in, else at its address at() (a lambda, so that an element
// outside computes none): the kernel reads it (a 4 x 4 tile) or copies it
// with cp.async (an 8 x 4 tile on sm_80 and newer). Consecutive threads read consecutive addresses of A as
// stored ([M, K], or [K, M] if TA). The implicit-GEMM loaders below hand their elements over alike.
template <typename L, bool TA, typename Put>
__device__ __forceinline__ void load_a_tile(const float* __restrict__ A, int lda, int M, int m0, int k0,
                                            int k_end, int tid, Put put) {
#pragma unroll
  for (int i = 0; i < (L::BM * L::BK) / L::THREADS; ++i) {
    const int e = tid + i * L::THREADS, mm = L::a_load_m(TA, e), kk = L::a_load_k(TA, e);
    const int gm = m0 + mm, gk = k0 + kk;
    put(mm, kk, gm < M && gk < k_end,
        [&] { return A + (TA ? (long long)gk * lda + gm : (long long)gm * lda + gk); });
  }
}

// The BK x BN tile of op(B) at depth k0, columns n0, as put(kk, nn, in, at); B is stored [K, N], or [N, K] if
// TB.
template <typename L, bool TB, typename Put>
__device__ __forceinline__ void load_b_tile(const float* __restrict__ B, int ldb, int N, int n0, int k0,
                                            int k_end, int tid, Put put) {
#pragma unroll
  for (int i = 0; i < (L::BN * L::BK) / L::THREADS; ++i) {
    const int e = tid + i * L::THREADS, nn = L::b_load_n(TB, e), kk = L::b_load_k(TB, e);
    const int gn = n0 + nn, gk = k0 + kk;
    put(kk, nn, gn < N && gk < k_end,
        [&] { return B + (TB ? (long long)gn * ldb + gk : (long long)gk * ldb + gn); });
  }
}

// The implicit-GEMM loaders' positions, set up once per thread with divisions and then stepped by additions
// (their K loops divide nothing: test/ptx.test.ts checks). Both are a number in three mixed-radix digits, v =
// (hi * r1 + mid) * r0 + lo with lo < r0 and mid < r1: split once, then carried along.
__device__ __forceinline__ void split_digits(int v, int r0, int r1, int* lo, int* mid, int* hi) {
  const int rest = v / r0;
  *lo = v % r0, *mid = rest % r1, *hi = rest / r1;
}
__device__ __forceinline__ void carry_digits(int by, int r0, int r1, int& lo, int& mid, int& hi) {
  lo += by;
  while (lo >= r0) {
    lo -= r0;
    if (++mid == r1) mid = 0, ++hi;
  }
}
// A column k = (ky * KW + kx) * C + c of the im2col matrix (for the input gradient, (tap, f) with C = F) ...
struct TapCursor {
  int c, kx, ky;
  __device__ __forceinline__ void init(int k, int channels, int kw) {
    split_digits(k, channels, kw, &c, &kx, &ky);
  }
  __device__ __forceinline__ void step(int by, int channels, int kw) {
    carry_digits(by, channels, kw, c, kx, ky);
  }
};
// ... and a pixel p = (n * H + y) * W + x of an [N, H, W] grid.
struct PixelCursor {
  int n, y, x;
  __device__ __forceinline__ void init(int p, int h, int w) { split_digits(p, w, h, &x, &y, &n); }
  __device__ __forceinline__ void step(int by, int h, int w) { carry_digits(by, w, h, x, y, n); }
};

// The conv output pixel (n, oy, ox) of GEMM row m: row-major, or with a pool in the epilogue (ConvGeom's
// pool_h) window by window: position j = (dy, dx) of window q = (n, py, px) is row q * PH * PW + j.
__device__ __forceinline__ PixelCursor conv_row_pixel(const ConvGeom& g, int m) {
  PixelCursor o;
  if (!g.pool_h) {
    o.init(m, g.oh, g.ow);
    return o;
  }
  const int win = g.pool_h * g.pool_w, q = m / win, j = m - q * win;
  o.init(q, g.pool_oh, g.pool_ow);
  o.y = o.y * g.pool_h + j / g.pool_w, o.x = o.x * g.pool_w + j % g.pool_w;
  return o;
}

// The pool epilogue's window arithmetic (ConvGeom's pool_h), a few divisions per thread after the K loop:
// the flat index of a window's first position in the conv's output image, and each position's offset from it.
struct PoolWindows {
  int off[4];  // position d = (dy, dx): (dy * OW + dx) * F
  __device__ __forceinline__ void init(const ConvGeom& g) {
#pragma unroll
    for (int d = 0; d < 4; ++d) off[d] = ((d / g.pool_w) * g.ow + d % g.pool_w) * g.f;
  }
  // The window q of GEMM row m (its first position) and the flat index of that position.
  __device__ __forceinline__ void window(const ConvGeom& g, int m, int* q, int* base) const {
    *q = m / (g.pool_h * g.pool_w);
    PixelCursor w;
    w.init(*q, g.pool_oh, g.pool_ow);
    *base = (w.y * g.pool_h * g.ow + w.x * g.pool_w) * g.f;
  }
  __device__ __forceinline__ int offset(int at) const {
    return at == 0 ? off[0] : at == 1 ? off[1] : at == 2 ? off[2] : off[3];
  }
};

// An input-gradient GEMM row: input pixel m's image (-1 past M) and its position shifted by the padding (tap
// (ky, kx) then reads output pixel (ty - ky * DH, tx - kx * DW)).
__device__ __forceinline__ void input_grad_pixel(const ConvGeom& g, int m, int M, int* img, int* ty,
                                                 int* tx) {
  *img = -1, *ty = *tx = 0;
  if (m >= M) return;
  PixelCursor in;
  in.init(m, g.h, g.w);
  *img = in.n, *ty = in.y + g.pt, *tx = in.x + g.pl;
}

// The same with the image as a pointer into dz ([N, OH, OW, F]), null past M (kernel 3's loader).
__device__ __forceinline__ void input_grad_row(const ConvGeom& g, const float* dz, int m, int M,
                                               const float** pz, int* ty, int* tx) {
  int img;
  input_grad_pixel(g, m, M, &img, ty, tx);
  *pz = img >= 0 ? dz + (long long)img * g.oh * g.ow * g.f : nullptr;
}

// An epilogue's switches (accumulate, bias, pre, below, both activations), read afresh at each output.
// A tile's epilogue is an unrolled loop over a thread's 8-32 outputs, and the compiler unswitches a loop on
// switches that are the same at each iteration: one copy of it per combination, 10-20 copies, most of each
// kernel's code and nine tenths of the addon's build time. Building the switches stops that twice over: they
// pass through an empty asm, so they are a new value at each output; and inline asm is convergent in CUDA, so
// the loop that holds it is not unswitched at all (that would make the asm depend on the switch). One copy,
// then, its branches uniform across the warp: a few instructions an output.
struct EpSwitches {
  unsigned bits;
  __device__ __forceinline__ EpSwitches(const Epilogue& ep, bool accumulate)
      : bits((accumulate ? 1u : 0u) | (ep.bias ? 2u : 0u) | (ep.pre ? 4u : 0u) | (ep.below.y ? 8u : 0u) |
             static_cast<unsigned>(ep.act) << 8 | static_cast<unsigned>(ep.below.act) << 16) {
    asm volatile("" : "+r"(bits));
  }
  __device__ __forceinline__ bool accumulate() const { return bits & 1u; }
  __device__ __forceinline__ bool bias() const { return bits & 2u; }
  __device__ __forceinline__ bool pre() const { return bits & 4u; }
  __device__ __forceinline__ bool below() const { return bits & 8u; }
  __device__ __forceinline__ Act act() const { return static_cast<Act>(bits >> 8 & 0xffu); }
  __device__ __forceinline__ Act below_act() const { return static_cast<Act>(bits >> 16 & 0xffu); }
};

// The epilogue of one output C[at] (column gn): + the old value when accumulating, + bias[gn], the
// pre-activation stored, the activation, then the layer below's act' (an input gradient's BelowAct). Without
// kOwn, the product has no bias, pre-activation or activation of its own (the implicit input gradient's).
// kFresh: the branches test EpSwitches' bits; else they test ep's fields, the switches' asm still keeping
// the loop in one copy. Which of the two a kernel fits in its register budget without spilling is ptxas's
// call, one register either way: the tensor-core kernel takes false, the others true (test/ptx.test.ts).
template <bool kOwn = true, bool kFresh = true>
__device__ __forceinline__ void epilogue_one(const Epilogue& ep, bool accumulate, float* __restrict__ C,
                                             long long at, int gn, float v) {
  const EpSwitches on(ep, accumulate);
  const bool add = kFresh ? on.accumulate() : accumulate, bias = kFresh ? on.bias() : ep.bias != nullptr;
  const bool pre = kFresh ? on.pre() : ep.pre != nullptr, below = kFresh ? on.below() : ep.below.y != nullptr;
  if (add) v += C[at];
  if (kOwn && bias) v += ep.bias[gn];
  if (kOwn && pre) ep.pre[at] = v;
  if (kOwn) v = act_epilogue(kFresh ? on.act() : ep.act, v, ep.alpha);
  if (below) v = below_epilogue(kFresh ? on.below_act() : ep.below.act, ep.below.y[at], v, ep.below.alpha);
  C[at] = v;
}

__device__ __forceinline__ float& part(float2& v, int j) {
  return j ? v.y : v.x;
}
__device__ __forceinline__ float& part(float4& v, int j) {
  return j == 0 ? v.x : j == 1 ? v.y : j == 2 ? v.z : v.w;
}

// Whether a block's epilogue may move runs of V floats: its columns all inside N, rows aligned (ldc, C and
// ep.below.y multiples of V floats), not accumulating, no pre-activation to store (epilogue_run writes none),
// and an activation of its own that is linear or relu (inline: the others are a call, whose registers the two
// epilogue paths together could not spare).
template <int V>
__device__ __forceinline__ bool epilogue_vec(const Epilogue& ep, bool accumulate, const float* C, int ldc,
                                             bool whole) {
  const auto ok = [](const float* p) { return reinterpret_cast<uintptr_t>(p) % (4 * V) == 0; };
  return whole && !accumulate && !ep.pre && (ep.act == Act::kLinear || ep.act == Act::kRelu) &&
         ldc % V == 0 && ok(C) && (!ep.below.y || ok(ep.below.y));
}

// The epilogue of V (2 or 4) consecutive outputs of one row, C[at ..] at columns gn .., where epilogue_vec:
// as epilogue_one, with one V-float load or store per array.
template <int V, bool kOwn = true>
__device__ __forceinline__ void epilogue_run(const Epilogue& ep, float* __restrict__ C, long long at, int gn,
                                             const float (&v)[V]) {
  using VT = std::conditional_t<V == 4, float4, float2>;
  const EpSwitches on(ep, false);
  VT out{}, below{};
  if (on.below()) below = *reinterpret_cast<const VT*>(ep.below.y + at);
#pragma unroll
  for (int j = 0; j < V; ++j) {
    float x = v[j];
    if (kOwn && on.bias()) x += ep.bias[gn + j];
    if (kOwn && on.act() == Act::kRelu) x = x < 0.0f ? 0.0f : x;  // act_epilogue's relu
    if (on.below()) x = below_epilogue(on.below_act(), part(below, j), x, ep.below.alpha);
    part(out, j) = x;
  }
  *reinterpret_cast<VT*>(C + at) = out;
}

// Implicit GEMM on the SIMT kernel (FP32, any C): A's elements gathered from x as they are loaded, in the
// tile positions gemm_layout.cuh's a_load_m / a_load_k give element e = tid + THREADS i (kA of them per
// thread). Forward (A = col): every element of a thread has k column tid % BK and rows tid / BK + (THREADS /
// BK) i, so kA pixels are decomposed once and one (ky, kx, c) is stepped by BK a tile. Weight gradient (A =
// col^T): column tid % BM fixes (ky, kx, c), and the kA pixel rows tid / BM + (THREADS / BM) i step by BK.
// No division after set-up, as in kernel 3's loaders. L: the tile (layout::Simt or SimtWide). A row's state
// is three ints (its image, -1 past M, and its window's corner): the 8 x 4 tile's eight rows fit its register
// budget that way, where pointers would spill; the loads, 8 per thread and 16-deep step against 512 FMA,
// afford the address arithmetic.
template <typename L>
struct SimtConvForwardA {
  static constexpr int kA = L::BM * L::BK / L::THREADS;
  const float* x;
  int img[kA], iy0[kA], ix0[kA];
  TapCursor tap;
  __device__ __forceinline__ void init(const ConvGeom& g, const float* x_, int M, int m0, int k_begin,
                                       int tid) {
    x = x_;
#pragma unroll
    for (int i = 0; i < kA; ++i) {
      const int gm = m0 + L::a_load_m(false, tid + i * L::THREADS);
      img[i] = -1;
      iy0[i] = ix0[i] = 0;
      if (gm < M) {
        const PixelCursor o = conv_row_pixel(g, gm);
        img[i] = o.n;
        iy0[i] = o.y * g.sh - g.pt, ix0[i] = o.x * g.sw - g.pl;
      }
    }
    tap.init(k_begin + L::a_load_k(false, tid), g.c, g.kw);
  }
  template <typename Put>
  __device__ __forceinline__ void load(const ConvGeom& g, int k0, int k_end, int tid, Put put) {
    const int kk = L::a_load_k(false, tid);
    const bool k_ok = k0 + kk < k_end;
#pragma unroll
    for (int i = 0; i < kA; ++i) {
      const int iy = iy0[i] + tap.ky * g.dh, ix = ix0[i] + tap.kx * g.dw;
      const bool in = img[i] >= 0 && k_ok && (unsigned)iy < (unsigned)g.h && (unsigned)ix < (unsigned)g.w;
      put(L::a_load_m(false, tid + i * L::THREADS), kk, in,
          [&] { return x + (((long long)img[i] * g.h + iy) * g.w + ix) * g.c + tap.c; });
    }
    tap.step(L::BK, g.c, g.kw);
  }
};

template <typename L>
struct SimtConvWeightGradA {
  static constexpr int kA = L::BM * L::BK / L::THREADS;
  const float* x;
  PixelCursor pix[kA];
  int offy, offx, ci;
  bool m_ok;
  __device__ __forceinline__ void init(const ConvGeom& g, const float* x_, int M, int m0, int k_begin,
                                       int tid) {
    x = x_;
    const int m = m0 + L::a_load_m(true, tid), tap = m / g.c;
    m_ok = m < M;
    ci = m % g.c;
    offy = (tap / g.kw) * g.dh - g.pt, offx = (tap % g.kw) * g.dw - g.pl;
#pragma unroll
    for (int i = 0; i < kA; ++i) pix[i].init(k_begin + L::a_load_k(true, tid + i * L::THREADS), g.oh, g.ow);
  }
  template <typename Put>
  __device__ __forceinline__ void load(const ConvGeom& g, int k0, int k_end, int tid, Put put) {
#pragma unroll
    for (int i = 0; i < kA; ++i) {
      const int kk = L::a_load_k(true, tid + i * L::THREADS);
      const int iy = pix[i].y * g.sh + offy, ix = pix[i].x * g.sw + offx;
      const bool in = m_ok && k0 + kk < k_end && (unsigned)iy < (unsigned)g.h && (unsigned)ix < (unsigned)g.w;
      put(L::a_load_m(true, tid), kk, in,
          [&] { return x + (((long long)pix[i].n * g.h + iy) * g.w + ix) * g.c + ci; });
      pix[i].step(L::BK, g.oh, g.ow);
    }
  }
};

// Input gradient (stride 1) on the SIMT kernel, as kernel 3's ConvInputGradAB: dx = sum over taps of dz w^T,
// M = input pixels, N = C, K = KH*KW*F with k = tap * F + f. Every element a thread loads, of A (rows tid /
// BK + (THREADS / BK) i: input pixels) and of B (stored transposed, rows tid / BK + (THREADS / BK) i:
// channels), has k column tid % BK, so one (ky, kx, f) cursor serves both, stepped by BK; A reads dz at the
// output pixel the tap maps the input pixel to (zero outside), B reads w[tap][c][f]. No dcol matrix, no
// col2im, no division after set-up. L: the tile (layout::Simt or SimtWide, SimtNarrow or SimtWideNarrow for
// 32 or fewer channels).
template <typename L>
struct SimtConvInputGradAB {
  static constexpr int kA = L::BM * L::BK / L::THREADS, kB = L::BN * L::BK / L::THREADS;  // loads per thread
  const float* dz;
  int img[kA], ty[kA], tx[kA];  // input_grad_pixel's, a row each
  TapCursor tap;                // (ky, kx, f)
  __device__ __forceinline__ void init(const ConvGeom& g, const float* dz_, int M, int m0, int k_begin,
                                       int tid) {
    dz = dz_;
#pragma unroll
    for (int i = 0; i < kA; ++i)
      input_grad_pixel(g, m0 + L::a_load_m(false, tid + i * L::THREADS), M, &img[i], &ty[i], &tx[i]);
    tap.init(k_begin + L::a_load_k(false, tid), g.f, g.kw);
  }
  template <typename PutA, typename PutB>
  __device__ __forceinline__ void load(const ConvGeom& g, const float* w, int N, int n0, int k0, int k_end,
                                       int tid, PutA put_a, PutB put_b) {
    const int kk = L::a_load_k(false, tid);
    const bool k_ok = k0 + kk < k_end;
#pragma unroll
    for (int i = 0; i < kA; ++i) {
      const int oy = ty[i] - tap.ky * g.dh, ox = tx[i] - tap.kx * g.dw;
      const bool in = img[i] >= 0 && k_ok && (unsigned)oy < (unsigned)g.oh && (unsigned)ox < (unsigned)g.ow;
      put_a(L::a_load_m(false, tid + i * L::THREADS), kk, in,
            [&] { return dz + (((long long)img[i] * g.oh + oy) * g.ow + ox) * g.f + tap.c; });
    }
    const float* wt = w + (long long)(tap.ky * g.kw + tap.kx) * g.c * g.f + tap.c;
#pragma unroll
    for (int i = 0; i < kB; ++i) {
      const int nn = L::b_load_n(true, tid + i * L::THREADS), c = n0 + nn;
      put_b(kk, nn, k_ok && c < N, [&] { return wt + (long long)c * g.f; });
    }
    tap.step(L::BK, g.f, g.kw);
  }
};

// Blocks per SM each instance is built for: the 4 x 4 tile at 4 (64 registers; its implicit-GEMM instances,
// with four pixels' state per thread, 3), the 8 x 4 tiles at 2 blocks of 256 or 4 of 128 threads (128
// registers: 32 accumulators and eight pixels' state).
template <typename L, int CONV>
constexpr int simt_min_blocks() {
  return L::TM == 4 ? (CONV ? 3 : 4) : 512 / L::THREADS;
}

template <bool TA, bool TB, int CONV, typename L = layout::Simt>
__global__ void __launch_bounds__(L::THREADS, simt_min_blocks<L, CONV>())
    sgemm_kernel(int M, int N, int K, const float* __restrict__ A, int lda, const float* __restrict__ B,
                 int ldb, float* __restrict__ C, int ldc, long long split_stride, int k_per_split,
                 Epilogue ep, bool accumulate, ConvGeom conv) {
  // L: the tile (gemm_layout.cuh), 64 x 64 x 16 (layout::Simt) or 128 x 64 x 16 (SimtWide), or for the
  // input gradient of a layer with at most 32 channels 128 x 32 x 8 (SimtNarrow, SimtWideNarrow). All
  // k-major with rows padded by 4 floats (the transposed loads' stores 2-way instead of 16-way bank
  // conflicts; rows stay 16-byte aligned for the float4 reads).
  static_assert(L::BN == 64 || CONV == 2, "the narrow tiles are the input gradient's");
  constexpr int BM = L::BM, BN = L::BN, BK = L::BK, TM = L::TM, TN = L::TN;
  // The 8 x 4 tiles on sm_80 and newer (and the emulated GPU): two stages of shared memory, one filled by
  // 4-byte cp.async copies (zero-filled past the edges) while the other is multiplied, so a block's loads of
  // step k + 1 overlap its FMA of step k (with 16 warps an SM, two blocks' alternating phases hid too
  // little). The 4 x 4 tiles, and older GPUs: one stage, loaded through registers.
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800) || defined(KERNELNET_CUDA_EMULATED)
  constexpr bool kAsync = TM == 8;
#else
  constexpr bool kAsync = false;
#endif
  constexpr int STAGES = kAsync ? 2 : 1;
  __shared__ __align__(16) float As[STAGES][BK * L::LDA];
  __shared__ __align__(16) float Bs[STAGES][BK * L::LDB];
  const int tid = threadIdx.x, tx = tid % L::COLS, ty = tid / L::COLS;
  const int m0 = blockIdx.x * BM,
            n0 = blockIdx.y * BN;  // M tiles on x: a batch's M can pass gridDim.y's 65535
  const int k_begin = blockIdx.z * k_per_split;
  const int k_end = min(K, k_begin + k_per_split);
  C += blockIdx.z * split_stride;

  // CONV: 0 a plain GEMM; 1 A gathered from a convolution's input (SimtConvForwardA, or SimtConvWeightGradA
  // if TA); 2 the input gradient, A gathered from dz and B from w (SimtConvInputGradAB).
  static_assert(CONV != 2 || (!TA && TB), "the input gradient reads w as a transposed B");
  std::conditional_t<CONV == 2, SimtConvInputGradAB<L>,
                     std::conditional_t<TA, SimtConvWeightGradA<L>, SimtConvForwardA<L>>>
      gather;
  if constexpr (CONV) gather.init(conv, A, M, m0, k_begin, tid);
  float acc[TM][TN] = {};
  // Stage st of both tiles at depth k0, each element handed over as a flag and its address (load_a_tile).
  const auto fill = [&](int k0, int st) {
    const auto put = [&](float* d, bool in, auto at, const float* any) {
      if constexpr (kAsync)
        ptx::cp_async<4>(d, in ? at() : any, in ? 4 : 0);  // `any`: a valid address for the zero-byte copy
      else
        *d = in ? load_nc(at()) : 0.0f;
    };
    const auto put_a = [&](int mm, int kk, bool in, auto at) { put(&As[st][L::a_word(mm, kk)], in, at, A); };
    const auto put_b = [&](int kk, int nn, bool in, auto at) { put(&Bs[st][L::b_word(kk, nn)], in, at, B); };
    if constexpr (CONV == 2) {
      gather.load(conv, B, N, n0, k0, k_end, tid, put_a, put_b);
    } else {
      if constexpr (CONV)
        gather.load(conv, k0, k_end, tid, put_a);
      else
        load_a_tile<L, TA>(A, lda, M, m0, k0, k_end, tid, put_a);
      load_b_tile<L, TB>(B, ldb, N, n0, k0, k_end, tid, put_b);
    }
  };
  // With kAsync, step k's copies are the group before the newest: wait for it, then a barrier makes every
  // thread's copies visible; the barrier after the multiply keeps step k + 2's copies off the stage until all
  // have read it. (The multiply is written out here, not called: as a function or lambda ptxas spilled the 4
  // x 4 tile's instances.)
  if constexpr (kAsync) {
    if (k_begin < k_end) fill(k_begin, 0);
    ptx::cp_async_commit();
  }
  int st = 0;
  for (int k0 = k_begin; k0 < k_end; k0 += BK) {
    if constexpr (kAsync) {
      if (k0 + BK < k_end) fill(k0 + BK, st ^ 1);
      ptx::cp_async_commit();
      ptx::cp_async_wait<1>();
    } else {
      fill(k0, 0);
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      float av[TM];
#pragma unroll
      for (int j = 0; j < TM / 4; ++j) {
        const float4 a = *reinterpret_cast<const float4*>(&As[st][L::a_read_word(tid, kk, j)]);
        av[4 * j] = a.x, av[4 * j + 1] = a.y, av[4 * j + 2] = a.z, av[4 * j + 3] = a.w;
      }
      const float4 b = *reinterpret_cast<const float4*>(&Bs[st][L::b_read_word(tid, kk)]);
      const float bv[TN] = {b.x, b.y, b.z, b.w};
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    __syncthreads();
    if constexpr (kAsync) st ^= 1;
  }

  if constexpr (CONV == 1 && !TA) {
    if (conv.pool_h) {  // a max-pool of 2 or 4 positions: whole windows in each thread's TM rows
      const int last = conv.pool_h * conv.pool_w - 1;
      PoolWindows pw;
      pw.init(conv);
      float best[TN] = {};
      int at[TN] = {};
#pragma unroll
      for (int i = 0; i < TM; ++i) {  // the window's positions in order, its first maximum kept
        const int d = i & last, gm = m0 + ty * TM + i;
#pragma unroll
        for (int j = 0; j < TN; ++j) {
          const int gn = n0 + tx * TN + j;
          const EpSwitches on(ep, false);
          float v = acc[i][j];
          if (on.bias() && gn < N) v += ep.bias[gn];
          v = act_epilogue(on.act(), v, ep.alpha);
          if (d == 0 || v > best[j]) best[j] = v, at[j] = d;
        }
        if (d != last || gm >= M) continue;
        int q, base;
        pw.window(conv, gm, &q, &base);
#pragma unroll
        for (int j = 0; j < TN; ++j) {
          const int gn = n0 + tx * TN + j;
          if (gn >= N) continue;
          C[(long long)q * N + gn] = best[j];
          conv.argmax[(long long)q * N + gn] = base + pw.offset(at[j]) + gn;
        }
        // A Dropout after the pool: N % 4 == 0, so the thread's 4 filters are one Philox block.
        const int gn0 = n0 + tx * TN;
        if (conv.dropped && gn0 < N) {
          const long long o = (long long)q * N + gn0;
          float u[4];
          philox_uniform4(conv.drop_seed, conv.drop_offset + device_counter(conv.drop_counter),
                          (unsigned long long)o >> 2, u);
#pragma unroll
          for (int j = 0; j < TN; ++j)  // dropout_kernel's product: NaN stays NaN
            conv.dropped[o + j] = __fmul_rn(best[j], u[j] >= conv.drop_rate ? conv.drop_scale : 0.0f);
        }
      }
      return;
    }
  }
  static_assert(TN == 4, "a thread's 4 columns: one float4, one Philox block");
  if (epilogue_vec<TN>(ep, accumulate, C, ldc, n0 + BN <= N)) {  // a thread's 4 columns as one float4
    const int gn = n0 + tx * TN;
#pragma unroll
    for (int i = 0; i < TM; ++i) {
      const int gm = m0 + ty * TM + i;
      if (gm < M) epilogue_run<TN, CONV != 2>(ep, C, (long long)gm * ldc + gn, gn, acc[i]);
    }
    return;
  }
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int gm = m0 + ty * TM + i;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int gn = n0 + tx * TN + j;
      if (gm < M && gn < N)
        epilogue_one<CONV != 2>(ep, accumulate, C, (long long)gm * ldc + gn, gn, acc[i][j]);
    }
  }
}

// Kernel 2, the lab-only WMMA variant (cuda/lab/).
#include "lab/gemm_wmma.cuh"

// The tensor-core GEMM (sm_80 and newer, with TF32 on): mma.sync m16n8k8 TF32 on 128 x 64 block tiles, K in
// steps of 16 through a 3-stage cp.async pipeline (the copies of tile k+2 fly while tile k is multiplied), 8
// warps of 32 x 32 outputs each (2 x 4 mma tiles, 32 accumulators per thread).
//
// Tiles sit in shared memory as they are stored in global memory (cp.async copies, it cannot transpose), laid
// out so that neither the fragment loads nor the cp.async stores have bank conflicts (cuda/gemm_layout.cuh):
// 16-wide tiles (k contiguous) XOR-swizzled, the others padded. A warp's 32 lanes read A[g][t] (lane 4g + t):
// stored [m][k] at word 16g + (t ^ 4(g/2 % 4)), banks 16(g % 2) + 4(g/2) + t, all distinct; stored [k][m] at
// t * 136 + g (rows of 128 padded to 136: banks 8t + g). test/banks.test.ts counts the banks of every access.
//
// VEC = 4 copies 16-byte runs (lda, ldb multiples of 4 and 16-byte aligned bases: every conv and most dense
// GEMMs), VEC = 1 single floats (any layout). Edges are zero-filled by cp.async's source size, so any M, N, K
// works; split-K, the epilogue and the rounding of inputs to TF32 are as in the WMMA kernel (cuda/lab/).
namespace tc {
// Spelled out, not `using namespace layout::mma`: a using-directive's names rank below the enclosing unnamed
// namespace's BM, BN, BK (the SIMT kernel's 64 x 64 x 16), which would silently win here.
constexpr int BM = layout::mma::BM, BN = layout::mma::BN, BK = layout::mma::BK,
              THREADS = layout::mma::THREADS;
constexpr int LD_AM = layout::mma::LD_AM, LD_BN = layout::mma::LD_BN, STAGES = 3;
template <bool TA>
constexpr int kAFloats = TA ? BK * LD_AM : BM * BK;  // one stage of A
template <bool TB>
constexpr int kBFloats = TB ? BN * BK : BK * LD_BN;
static_assert(kAFloats<false> == 128 * 16 && kBFloats<true> == 64 * 16, "the stages hold whole tiles");
}  // namespace tc

// Starts the copy of the ROWS x COLS tile of g (row stride ld) at (row0, col0) into s (laid out by
// gemm_layout.cuh's tile_word, LD its padded row stride); rows at or past row_end and columns at or past
// col_end read as zeros.
template <int ROWS, int COLS, int LD, int VEC>
__device__ __forceinline__ void cp_tile(float* s, const float* __restrict__ g, int ld, int row0, int col0,
                                        int row_end, int col_end, int tid) {
  constexpr int PER_ROW = COLS / VEC, CHUNKS = ROWS * PER_ROW;
  static_assert(CHUNKS % tc::THREADS == 0, "whole chunks per thread");
#pragma unroll
  for (int i = 0; i < CHUNKS / tc::THREADS; ++i) {
    const int c = tid + i * tc::THREADS, r = layout::mma::chunk_row(COLS, VEC, c),
              cc = layout::mma::chunk_col(COLS, VEC, c);
    const int gr = row0 + r, gc = col0 + cc;
    const int valid = gr < row_end ? min(max(col_end - gc, 0), VEC) : 0;
    ptx::cp_async<4 * VEC>(s + layout::mma::tile_word<COLS>(r, cc, LD),
                           valid ? g + (long long)gr * ld + gc : g, 4 * valid);
  }
}

// Implicit GEMM: A is the im2col matrix of a convolution's input x (channels-last), never stored. Its 16-byte
// runs are 4 channels of one tap of one pixel, copied by cp.async straight from x, or zero-filled in the
// padding. Each thread's runs keep their tile position from one K step to the next, so the index math is
// done once per thread (with divisions) and then advanced by additions: the loop divides nothing
// (test/ptx.test.ts checks). Needs C % 4 == 0 (a run stays in one tap) and 16-byte aligned x.
//
// Forward, A = col [pixels, KH*KW*C]: thread tid copies rows tid / 4 and tid / 4 + 64 of the tile, columns
// (tid % 4) * 4 .. + 3; the rows fix two pixels (base pointer and top-left input corner), the column a
// (ky, kx, c) that steps by 16 channels per tile.
struct ConvForwardA {
  const float* px[2];
  int iy0[2], ix0[2];
  TapCursor tap;
  __device__ __forceinline__ void init(const ConvGeom& g, const float* x, int M, int m0, int k_begin,
                                       int tid) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int gm = m0 + tid / 4 + 64 * i;
      px[i] = nullptr;
      iy0[i] = ix0[i] = 0;
      if (gm < M) {
        const PixelCursor o = conv_row_pixel(g, gm);
        px[i] = x + (long long)o.n * g.h * g.w * g.c;
        iy0[i] = o.y * g.sh - g.pt, ix0[i] = o.x * g.sw - g.pl;
      }
    }
    tap.init(k_begin + (tid % 4) * 4, g.c, g.kw);
  }
  // Starts the copies of the tile at depth k0 into `stage`, then steps to k0 + 16.
  __device__ __forceinline__ void issue(const ConvGeom& g, const float* x, float* stage, int k0, int k_end,
                                        int tid) {
    const int cc = (tid % 4) * 4;
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int iy = iy0[i] + tap.ky * g.dh, ix = ix0[i] + tap.kx * g.dw;
      const bool valid =
          px[i] && k0 + cc < k_end && (unsigned)iy < (unsigned)g.h && (unsigned)ix < (unsigned)g.w;
      ptx::cp_async<16, true>(stage + layout::mma::tile_word<tc::BK>(tid / 4 + 64 * i, cc, 0),
                              valid ? px[i] + ((long long)iy * g.w + ix) * g.c + tap.c : x, valid ? 16 : 0);
    }
    tap.step(tc::BK, g.c, g.kw);
  }
};

// Weight gradient, A = col^T (col stored [K = pixels, M = KH*KW*C]): thread tid copies tile rows (pixels)
// tid / 32 and tid / 32 + 8, columns (tid % 32) * 4 .. + 3; the column fixes (ky, kx, c) once, each row's
// pixel (n, oy, ox) steps by 16 pixels per tile.
struct ConvWeightGradA {
  PixelCursor pix[2];
  int offy, offx, ci;
  bool m_ok;
  __device__ __forceinline__ void init(const ConvGeom& g, const float* x, int M, int m0, int k_begin,
                                       int tid) {
    const int m = m0 + (tid % 32) * 4, tap = m / g.c;
    m_ok = m < M;
    ci = m % g.c;
    offy = (tap / g.kw) * g.dh - g.pt, offx = (tap % g.kw) * g.dw - g.pl;
#pragma unroll
    for (int i = 0; i < 2; ++i) pix[i].init(k_begin + tid / 32 + 8 * i, g.oh, g.ow);
  }
  __device__ __forceinline__ void issue(const ConvGeom& g, const float* x, float* stage, int k0, int k_end,
                                        int tid) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int r = tid / 32 + 8 * i, iy = pix[i].y * g.sh + offy, ix = pix[i].x * g.sw + offx;
      const bool valid =
          m_ok && k0 + r < k_end && (unsigned)iy < (unsigned)g.h && (unsigned)ix < (unsigned)g.w;
      ptx::cp_async<16, true>(stage + layout::mma::tile_word<tc::BM>(r, (tid % 32) * 4, tc::LD_AM),
                              valid ? x + (((long long)pix[i].n * g.h + iy) * g.w + ix) * g.c + ci : x,
                              valid ? 16 : 0);
      pix[i].step(tc::BK, g.oh, g.ow);
    }
  }
};

// Input gradient (stride 1), dx = sum over taps of dz w^T: M = input pixels, N = C, K = KH*KW*F with k = tap
// * F + f. A[m][k] = dz at the output pixel (iy + pt - ky*dh, ix + pl - kx*dw) (zero outside), B[k][c] =
// w[tap][c][f], read as kernel 3's transposed B: 4 filters of one tap and channel per 16-byte run. No column
// matrix (conv2: 85 MB written and read back by col2im before). Thread tid copies A rows tid / 4 and tid / 4
// + 64 and B row (channel) tid / 4, all at k columns (tid % 4) * 4: one (ky, kx, f) state serves both,
// stepped by 16.
struct ConvInputGradAB {
  const float* pz[2];
  int ty[2], tx[2];
  TapCursor tap;  // (ky, kx, f)
  __device__ __forceinline__ void init(const ConvGeom& g, const float* dz, int M, int m0, int k_begin,
                                       int tid) {
#pragma unroll
    for (int i = 0; i < 2; ++i) input_grad_row(g, dz, m0 + tid / 4 + 64 * i, M, &pz[i], &ty[i], &tx[i]);
    tap.init(k_begin + (tid % 4) * 4, g.f, g.kw);
  }
  template <int BN_ROWS>  // the block's N tile: 64 channels, or 32 (threads past it copy no B)
  __device__ __forceinline__ void issue(const ConvGeom& g, const float* dz, const float* w, float* a_stage,
                                        float* b_stage, int N, int n0, int k0, int k_end, int tid) {
    const int kc = (tid % 4) * 4;
    const bool k_ok = k0 + kc < k_end;
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int oy = ty[i] - tap.ky * g.dh, ox = tx[i] - tap.kx * g.dw;
      const bool valid = pz[i] && k_ok && (unsigned)oy < (unsigned)g.oh && (unsigned)ox < (unsigned)g.ow;
      ptx::cp_async<16, true>(a_stage + layout::mma::tile_word<tc::BK>(tid / 4 + 64 * i, kc, 0),
                              valid ? pz[i] + ((long long)oy * g.ow + ox) * g.f + tap.c : dz, valid ? 16 : 0);
    }
    if (tid / 4 < BN_ROWS) {
      const int c = n0 + tid / 4;
      const bool valid = k_ok && c < N;
      ptx::cp_async<16>(b_stage + layout::mma::tile_word<tc::BK>(tid / 4, kc, 0),
                        valid ? w + ((long long)(tap.ky * g.kw + tap.kx) * g.c + c) * g.f + tap.c : w,
                        valid ? 16 : 0);
    }
    tap.step(tc::BK, g.f, g.kw);
  }
};

template <bool TA, bool TB, int VEC, int CONV, int BNT>
__global__ void __launch_bounds__(tc::THREADS, VEC == 4 ? 3 : 2)
    sgemm_mma_kernel(int M, int N, int K, const float* __restrict__ A, int lda, const float* __restrict__ B,
                     int ldb, float* __restrict__ C, int ldc, long long split_stride, int k_per_split,
                     Epilogue ep, bool accumulate, ConvGeom conv) {
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800) || defined(KERNELNET_CUDA_EMULATED)
  // CONV: 0 a plain GEMM; 1 A gathered from a convolution's input (ConvForwardA, or ConvWeightGradA if TA);
  // 2 the input gradient, A gathered from dz and B from w (ConvInputGradAB).
  static_assert(!CONV || VEC == 4, "the implicit-GEMM loaders copy 16-byte runs");
  static_assert(CONV != 2 || (!TA && TB), "the input gradient reads w as a transposed B");
  // BNT: the block's N tile. 64: 8 warps of 32 x 32 (4 x 2). 32 (the input gradient of a layer with 32 or
  // fewer input channels, whose 64-wide tiles would be half empty): 8 warps of 32 x 32 as 4 along M times 2
  // along K, warp w taking the k half kh = w / 4 of every 16-deep step (kk = 8 kh), the two halves' sums
  // added through shared memory after the loop. A 32 x 32 warp tile loads 16 fragment words per 8 mma
  // instead of a 16 x 32 tile's 12 per 4: a third fewer shared-memory loads per mma, with the same 256
  // threads and gathers.
  static_assert(BNT == 64 || (BNT == 32 && CONV == 2), "32-wide N tiles for the input gradient only");
  constexpr int BM = tc::BM, BN = BNT, BK = tc::BK, STAGES = tc::STAGES, MI = 2;
  constexpr int LD_AM = tc::LD_AM, LD_BN = tc::LD_BN;
  constexpr int AF = tc::kAFloats<TA>, BF = TB ? BN * BK : tc::kBFloats<TB>;
  __shared__ __align__(16) float As[STAGES * AF];
  __shared__ __align__(16) float Bs[STAGES * BF];
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, t = lane % 4;
  const int wm = (warp % 4) * 32, wn = BNT == 64 ? (warp / 4) * 32 : 0;
  const int kh = BNT == 64 ? -1 : warp / 4;  // the narrow tile's k half (-1: both)
  const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
  const int k_begin = blockIdx.z * k_per_split;
  const int k_end = min(K, k_begin + k_per_split);
  const int tiles = k_end > k_begin ? CEIL_DIV(k_end - k_begin, BK) : 0;
  C += blockIdx.z * split_stride;
  int a_lane[4], b_lane[4];  // this lane's fragment words for each k chunk (gemm_layout.cuh)
#pragma unroll
  for (int c = 0; c < 4; ++c) {
    a_lane[c] = layout::mma::a_frag_base(TA, wm, lane, c);
    b_lane[c] = layout::mma::b_frag_base(TB, wn, lane, c);
  }
  int a_half[2], b_half[2];  // the narrow tile's: the words of its k half's chunks (2 kh, 2 kh + 1)
#pragma unroll
  for (int j = 0; j < 2; ++j) {
    a_half[j] = kh == 1 ? a_lane[2 + j] : a_lane[j];
    b_half[j] = kh == 1 ? b_lane[2 + j] : b_lane[j];
  }

  std::conditional_t<CONV == 2, ConvInputGradAB, std::conditional_t<TA, ConvWeightGradA, ConvForwardA>>
      gather;
  if constexpr (CONV) gather.init(conv, A, M, m0, k_begin, tid);
  auto load = [&](int stage, int k0) {
    if constexpr (CONV == 2) {
      gather.template issue<BN>(conv, A, B, As + stage * AF, Bs + stage * BF, N, n0, k0, k_end, tid);
    } else {
      if constexpr (CONV)
        gather.issue(conv, A, As + stage * AF, k0, k_end, tid);
      else if (TA)
        cp_tile<BK, BM, LD_AM, VEC>(As + stage * AF, A, lda, k0, m0, k_end, M, tid);
      else
        cp_tile<BM, BK, 0, VEC>(As + stage * AF, A, lda, m0, k0, M, k_end, tid);
      if (TB)
        cp_tile<BN, BK, 0, VEC>(Bs + stage * BF, B, ldb, n0, k0, N, k_end, tid);
      else
        cp_tile<BK, BN, LD_BN, VEC>(Bs + stage * BF, B, ldb, k0, n0, k_end, N, tid);
    }
  };
  // One commit per stage, empty or not, so that "at most STAGES - 2 pending" always means "tile kt landed".
#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < tiles) load(s, k_begin + s * BK);
    ptx::cp_async_commit();
  }

  float acc[MI][4][4] = {};
  for (int kt = 0; kt < tiles; ++kt) {
    ptx::cp_async_wait<STAGES - 2>();
    __syncthreads();  // tile kt is in for every thread, and all are done with the stage refilled next
    if (kt + STAGES - 1 < tiles) load((kt + STAGES - 1) % STAGES, k_begin + (kt + STAGES - 1) * BK);
    ptx::cp_async_commit();
    const float* as = As + (kt % STAGES) * AF;
    const float* bs = Bs + (kt % STAGES) * BF;
#pragma unroll
    for (int kk = 0; kk < (BNT == 32 ? 8 : BK); kk += 8) {  // (the narrow tile: its warp's k half only)
      uint32_t a[MI][4], b[4][2];
#pragma unroll
      for (int mi = 0; mi < MI; ++mi)
#pragma unroll
        for (int q = 0; q < 4; ++q)
          a[mi][q] = ptx::to_tf32(as[(BNT == 32 ? a_half[q >> 1] : a_lane[layout::mma::a_frag_chunk(kk, q)]) +
                                     (mi * 16 + (q & 1) * 8) * layout::mma::a_row_step(TA)]);
#pragma unroll
      for (int ni = 0; ni < 4; ++ni)
#pragma unroll
        for (int q = 0; q < 2; ++q)
          b[ni][q] = ptx::to_tf32(bs[(BNT == 32 ? b_half[q] : b_lane[layout::mma::b_frag_chunk(kk, q)]) +
                                     ni * 8 * layout::mma::b_col_step(TB)]);
#pragma unroll
      for (int mi = 0; mi < MI; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni) ptx::mma_tf32_16x8x8(acc[mi][ni], a[mi], b[ni]);
    }
  }
  ptx::cp_async_wait<0>();  // no copy in flight at exit (the last groups are empty)
  __syncthreads();          // one barrier that every launch reaches, K empty or not

  if constexpr (BNT == 32) {  // the upper k half's sums into the lower's warps, through the A stages
    float* red = As;          // [warp % 4][mi][ni][q][lane]: 4 x 2 x 4 x 4 x 32 floats, lanes consecutive
    static_assert(4 * MI * 4 * 4 * 32 <= STAGES * AF, "the k halves' exchange fits the A stages");
    const int base = (warp % 4) * (MI * 4 * 4 * 32) + lane;
    if (kh == 1) {
#pragma unroll
      for (int mi = 0; mi < MI; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni)
#pragma unroll
          for (int q = 0; q < 4; ++q) red[base + ((mi * 4 + ni) * 4 + q) * 32] = acc[mi][ni][q];
    }
    __syncthreads();
    if (kh == 1) return;
#pragma unroll
    for (int mi = 0; mi < MI; ++mi)
#pragma unroll
      for (int ni = 0; ni < 4; ++ni)
#pragma unroll
        for (int q = 0; q < 4; ++q) acc[mi][ni][q] += red[base + ((mi * 4 + ni) * 4 + q) * 32];
  }

  if constexpr (CONV == 1 && !TA) {
    if (conv.pool_h) {  // a max-pool of 2 or 4 positions: a window's rows g, g + 1, ... sit in lanes 4 apart
      const int last = conv.pool_h * conv.pool_w - 1;
      PoolWindows pw;
      pw.init(conv);
#pragma unroll
      for (int mi = 0; mi < MI; ++mi)
#pragma unroll
        for (int h = 0; h < 2; ++h) {  // rows g and g + 8
          const int gm = m0 + wm + mi * 16 + g + h * 8;
          const bool first = (g & last) == 0 && gm < M;  // this lane holds its window's first position
          int wq = 0, base = 0;
          if (first) pw.window(conv, gm, &wq, &base);
#pragma unroll
          for (int ni = 0; ni < 4; ++ni)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
              const int gn = n0 + wn + ni * 8 + 2 * t + e;
              const EpSwitches on(ep, false);
              float v = acc[mi][ni][h * 2 + e];
              if (on.bias() && gn < N) v += ep.bias[gn];
              v = act_epilogue(on.act(), v, ep.alpha);
              float best = v;  // the first lane gathers the window's other positions in order
              int at = 0;
#pragma unroll
              for (int d = 1; d < 4; ++d) {
                const float other = __shfl_down_sync(0xffffffffu, v, 4 * d);
                if (d <= last && other > best) best = other, at = d;
              }
              if (first && gn < N) {
                C[(long long)wq * N + gn] = best;
                conv.argmax[(long long)wq * N + gn] = base + pw.offset(at) + gn;
              }
            }
        }
      return;
    }
  }
  if (epilogue_vec<2>(ep, accumulate, C, ldc, n0 + BN <= N)) {  // a lane's adjacent columns as one float2
#pragma unroll
    for (int mi = 0; mi < MI; ++mi)
#pragma unroll
      for (int ni = 0; ni < 4; ++ni)
#pragma unroll
        for (int h = 0; h < 2; ++h) {  // D[g][2t], D[g][2t+1]; then D[g+8][2t], D[g+8][2t+1]
          const int gm = m0 + wm + mi * 16 + g + h * 8, gn = n0 + wn + ni * 8 + 2 * t;
          const float pair[2] = {acc[mi][ni][2 * h], acc[mi][ni][2 * h + 1]};
          if (gm < M) epilogue_run<2, CONV != 2>(ep, C, (long long)gm * ldc + gn, gn, pair);
        }
    return;
  }
#pragma unroll
  for (int mi = 0; mi < MI; ++mi)
#pragma unroll
    for (int ni = 0; ni < 4; ++ni)
#pragma unroll
      for (int q = 0; q < 4; ++q) {  // D[g][2t], D[g][2t+1], D[g+8][2t], D[g+8][2t+1]
        const int gm = m0 + wm + mi * 16 + g + (q >> 1) * 8, gn = n0 + wn + ni * 8 + 2 * t + (q & 1);
        if (gm < M && gn < N)
          epilogue_one<CONV != 2, false>(ep, accumulate, C, (long long)gm * ldc + gn, gn, acc[mi][ni][q]);
      }
#elif defined(__CUDA_ARCH__)
  __trap();  // compiled below sm_80: see sgemm_tf32_kernel
#endif
}

// C[i, j] (+)= sum_z partial[z, i, j], summed in z order, then the epilogue.
// Index math in I (with_index_type: every partial and every element of C).
template <typename I>
__global__ void splitk_reduce_kernel(int M, int N, int splits, const float* __restrict__ partial,
                                     float* __restrict__ C, int ldc, Epilogue ep, bool accumulate) {
  const I i = blockIdx.x * (I)blockDim.x + threadIdx.x;
  const I mn = (I)M * (I)N;
  if (i >= mn) return;
  const I r = i / (I)N, col = i % (I)N;
  float v = 0.0f;
  for (int z = 0; z < splits; ++z) v += partial[(I)z * mn + i];
  epilogue_one(ep, accumulate, C, (long long)(r * (I)ldc + col), (int)col, v);
}

// C[r, j] *= act'(below.y[r, j]) for r < M, j < N (rows of ldc): the layer below's activation where a GEMM's
// epilogue does not take it (below_in_epilogue). Index math in I (with_index_type).
template <typename I>
__global__ void below_pass_kernel(BelowAct below, float* __restrict__ C, int N, int ldc, I total) {
  const I i = blockIdx.x * (I)blockDim.x + threadIdx.x;
  if (i >= total) return;
  const I r = i / (I)N, at = r * (I)ldc + (i - r * (I)N);
  C[at] = act_backward(below.act, below.y[at], 0.0f, C[at], below.alpha);
}

// partial[p, j] = sum of x[i, j] over rows i = p*8 + ty (mod parts*8); 32 columns x 8 row lanes per block.
__global__ void column_sums_kernel(const float* __restrict__ x, int M, int N, float* __restrict__ partial) {
  __shared__ float sums[8][33];
  const int col = blockIdx.x * 32 + threadIdx.x;
  float s = 0.0f;
  if (col < N)
    for (int r = blockIdx.y * 8 + threadIdx.y; r < M; r += gridDim.y * 8) s += x[(long long)r * N + col];
  sums[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && col < N) {
    for (int t = 1; t < 8; ++t) s += sums[t][threadIdx.x];
    partial[(long long)blockIdx.y * N + col] = s;
  }
}

// out[j] = sum_p partial[p * stride + j], as a tree: a block of 32 columns x 32 lanes, lane y summing parts
// y, y + 32, ... (8 of column_sums' 256 parts at most; 96 of the conv + pool op's 3072 bias partials at the
// seed's conv2), then the 32 lane sums halved 5 times in shared memory. A fixed order, so the result is
// deterministic, and a dependent chain of about 13 adds instead of one thread's 256 (the single-block tail of
// every bias gradient). Columns [0, N) of the partial rows are summed: column j < N1 into out[j], the rest
// into out2[j - N1] (a weight gradient and its bias gradient side by side in each partial row: one launch).
__global__ void sum_parts_kernel(const float* __restrict__ partial, int parts, int stride, int N,
                                 float* __restrict__ out, int N1, float* __restrict__ out2) {
  __shared__ float sums[32][33];
  const int col = blockIdx.x * 32 + threadIdx.x;
  float s = 0.0f;
  if (col < N)
    for (int p = threadIdx.y; p < parts; p += 32) s += partial[(long long)p * stride + col];
  sums[threadIdx.y][threadIdx.x] = s;
#pragma unroll
  for (int half = 16; half > 0; half /= 2) {
    __syncthreads();
    if (threadIdx.y < half) sums[threadIdx.y][threadIdx.x] += sums[threadIdx.y + half][threadIdx.x];
  }
  if (threadIdx.y == 0 && col < N) {
    if (col < N1)
      out[col] = sums[0][threadIdx.x];
    else
      out2[col - N1] = sums[0][threadIdx.x];
  }
}

__global__ void act_mask_kernel(Act act, float alpha, const float* __restrict__ y,
                                const float* __restrict__ pre, const float* __restrict__ dy,
                                float* __restrict__ dz, long long n) {
  const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (i < n) dz[i] = act_backward(act, y[i], pre ? pre[i] : 0.0f, dy[i], alpha);
}

}  // namespace

// Whether the TF32 kernel the runtime loaded for this device has its body: compiled from compute_80 or newer.
// A binary for an older GPU (or only its PTX, JIT-compiled for a newer one) carries the empty variant, so
// KERNELNET_TF32 must not route GEMMs there even where the device itself has tensor cores.
bool tf32_kernel_usable() {
  cudaFuncAttributes attr;
  if (cudaFuncGetAttributes(&attr, sgemm_mma_kernel<false, false, 4, 0, 64>) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return attr.ptxVersion >= 80;
}

const char* gemm_kernel_name(GemmKernel kernel) {
  switch (kernel) {
    case GemmKernel::kSimt:
      return "1 simt-fp32";
    case GemmKernel::kWmmaTf32:
      return "2 wmma-tf32-64x64";
    case GemmKernel::kMmaTf32:
      return "3 mma-tf32-128x64-cp.async-3stage";
  }
  return "?";
}

int gemm_tile_m(GemmKernel kernel) {
  return kernel == GemmKernel::kMmaTf32 ? tc::BM : BM;
}

Status launch_below_pass(cudaStream_t stream, const BelowAct& below, float* c, long long m, int n, int ldc) {
  if (!below.y || m <= 0 || n <= 0) return Status::Ok();
  KN_EXPECT(!act_needs_input(below.act) && ldc >= n, "launch_below_pass");
  const long long total = m * n;
  with_index_type(m * ldc, [&](auto index) {
    using I = decltype(index);
    launch(below_pass_kernel<I>, CEIL_DIV(total, 256), 256, 0, stream, below, c, n, ldc, (I)total);
  });
  KN_LAUNCHED(stream, "below_pass_kernel");
  return Status::Ok();
}

// Whether kernel 1 takes its 8 x 4 micro-tile for a product whose 128-row grid has wide_blocks blocks
// (launch_sgemm says why; KERNELNET_SIMT_TILE forces either).
static bool simt_wide(long long wide_blocks, int sm_count) {
  const std::string forced = env::choice(env::Var::kSimtTile);
  if (!forced.empty()) return forced == "8x4";
  return wide_blocks >= 4LL * sm_count && sm_count > 0;
}

Status launch_sgemm(cudaStream_t stream, bool ta, bool tb, int m, int n, int k, const float* a, int lda,
                    const float* b, int ldb, float* c, int ldc, const Epilogue& ep, bool accumulate,
                    int splits, float* partial, GemmKernel kernel, const ConvGeom* conv, int sm_count) {
  if (m <= 0 || n <= 0) return Status::Ok();
  if (ep.below.y && !below_in_epilogue(ep.below.act)) {  // the GEMM, then the layer below's activation
    Epilogue own = ep;
    own.below = BelowAct{};
    KN_TRY(launch_sgemm(stream, ta, tb, m, n, k, a, lda, b, ldb, c, ldc, own, accumulate, splits, partial,
                        kernel, conv, sm_count));
    return launch_below_pass(stream, ep.below, c, m, n, ldc);
  }
  // Implicit GEMMs: kernel 3 (16-byte runs: C and F multiples of 4, aligned tensors) or kernel 1 (any C); the
  // input gradient with stride 1 only.
  KN_EXPECT(!conv ||
                (kernel == GemmKernel::kMmaTf32 && conv->c % 4 == 0 && conv->f % 4 == 0 &&
                 reinterpret_cast<uintptr_t>(a) % 16 == 0 && reinterpret_cast<uintptr_t>(b) % 16 == 0 &&
                 (conv->input_grad ? !ta && tb && conv->sh == 1 && conv->sw == 1 : !tb && ldb % 4 == 0)) ||
                (kernel == GemmKernel::kSimt &&
                 (conv->input_grad ? !ta && tb && conv->sh == 1 && conv->sw == 1 : !tb)),
            "launch_sgemm (implicit GEMM)");
  // A pool in the epilogue: forward, one K range, nothing but bias and activation (gemm.cuh).
  KN_EXPECT(!conv || !conv->pool_h ||
                (!conv->input_grad && !ta && splits == 1 && !accumulate && !ep.pre && conv->argmax &&
                 (conv->pool_h * conv->pool_w == 2 || conv->pool_h * conv->pool_w == 4) &&
                 m % (conv->pool_h * conv->pool_w) == 0 && n == conv->f && ldc == n &&
                 conv->pool_oh * conv->pool_h <= conv->oh && conv->pool_ow * conv->pool_w <= conv->ow),
            "launch_sgemm (pool epilogue)");
  KN_EXPECT(!conv || !conv->dropped ||
                (conv->pool_h && kernel == GemmKernel::kSimt && n % 4 == 0 && conv->drop_rate >= 0.0f &&
                 conv->drop_rate < 1.0f),
            "launch_sgemm (dropout epilogue)");
  KN_EXPECT(!ep.below.y || (!act_needs_input(ep.below.act) && !(conv && conv->pool_h)),
            "launch_sgemm (the layer below's activation)");
  // The implicit input gradient's epilogue has nothing of its own (kOwn false): no bias, pre or activation.
  KN_EXPECT(!conv || !conv->input_grad || (!ep.bias && !ep.pre && ep.act == Act::kLinear),
            "launch_sgemm (input gradient epilogue)");
  KN_EXPECT(k >= 0 && a && b && c, "launch_sgemm");
  KN_EXPECT(lda >= (ta ? m : k) && ldb >= (tb ? k : n) && ldc >= n, "launch_sgemm");
  KN_EXPECT(splits >= 1 && (splits == 1 || partial), "launch_sgemm");
  // Every kernel steps K by 16 (BK == tc::BK), so a split's K range starts on a whole step.
  static_assert(BK == tc::BK, "one K step for every kernel");
  const long long kps_wide = splits > 1 ? CEIL_DIV(CEIL_DIV((long long)k, splits), BK) * BK : (k > 0 ? k : 1);
  // What the kernels' int tile and split indices can reach: a row or column tile, or a K split, starting
  // before the end and running one tile past it.
  if (m > INT32_MAX - 256 || n > INT32_MAX - 256 || k + kps_wide > INT32_MAX)
    return Status{"ERR_KERNELNET_SHAPE", "gemm: " + std::to_string(m) + " x " + std::to_string(n) + " x " +
                                             std::to_string(k) + " passes the GEMM's 32-bit tile indices"};
  const int kps = (int)kps_wide;
  const int z = splits > 1 ? CEIL_DIV(k, kps) : 1;
  // The input gradient of a layer with at most 32 channels: 32-wide N tiles (not half-empty 64-wide ones), on
  // kernel 3 128 x 32, on kernel 1 a narrow tile (128 x 32 x 8).
  const bool narrow = conv && conv->input_grad && n <= 32;
  const int tile_n = narrow ? 32 : BN;
  // Kernel 1's micro-tile (gemm_layout.cuh): 8 x 4 outputs per thread (SimtWide, SimtWideNarrow: 128 rows a
  // block) where that grid has at least 4 blocks per SM, two rounds of the 2 (of 256 threads) or 4 (of 128)
  // an SM holds, so that its last round is no larger a share of the time than the 4 x 4 tile's; otherwise 4 x
  // 4 (64 rows a block, twice the blocks: small M, split-K weight gradients). The seed's conv2 forward at
  // batch 128 (576 blocks) and its input gradient (676) take 8 x 4 on an H100 (132 SMs), its weight gradient
  // (192 with 64 splits) and the dense layers 4 x 4. Each output is the same sequential sum either way, so
  // the choice may depend on the device (and on KERNELNET_SIMT_TILE, which forces one) without changing a
  // bit.
  const bool wide = kernel == GemmKernel::kSimt &&
                    simt_wide((long long)CEIL_DIV(m, 128) * CEIL_DIV(n, tile_n) * z, sm_count);
  const int tile_m = kernel == GemmKernel::kSimt ? (narrow || wide ? 128 : BM) : gemm_tile_m(kernel);
  // N tiles sit on grid.y (at most 65535): a wider product runs as slices of 65535 tiles of columns, each its
  // own launch (the same arithmetic per output: a column's sum does not depend on the others). Implicit GEMMs
  // (N = filters or channels) never come near.
  constexpr int kSliceN = 65535 * BN;
  if (n > kSliceN && !conv) {
    for (int j0 = 0; j0 < n; j0 += kSliceN) {
      const int nn = std::min(kSliceN, n - j0);
      Epilogue slice = ep;
      if (slice.bias) slice.bias += j0;
      if (slice.pre) slice.pre += j0;
      if (slice.below.y) slice.below.y += j0;
      KN_TRY(launch_sgemm(stream, ta, tb, m, nn, k, a, lda, tb ? b + (long long)j0 * ldb : b + j0, ldb,
                          c + j0, ldc, slice, accumulate, splits, partial, kernel, nullptr, sm_count));
      if (n - j0 <= kSliceN) break;  // (j0 + kSliceN would pass INT32_MAX near the top)
    }
    return Status::Ok();
  }
  KN_EXPECT(CEIL_DIV(n, tile_n) <= 65535 && z <= 65535, "launch_sgemm");
  const int threads =
      kernel == GemmKernel::kSimt && narrow && wide ? layout::SimtWideNarrow::THREADS : THREADS;
  const dim3 grid(CEIL_DIV(m, tile_m), CEIL_DIV(n, tile_n), z), block(threads);
  float* out = splits > 1 ? partial : c;
  const int ldo = splits > 1 ? n : ldc;
  const long long stride = splits > 1 ? (long long)m * n : 0;
  // With split-K the partial products get no epilogue: the reduction applies it.
  const Epilogue tile_ep = splits > 1 ? Epilogue{} : ep;
  const bool tile_acc = splits > 1 ? false : accumulate;
  // The instance for (kernel, transposes[, 16-byte copies]), chosen at run time among the compiled ones.
  using Kernel = decltype(&sgemm_kernel<false, false, 0>);
  Kernel f;
  if (kernel == GemmKernel::kMmaTf32) {
    const bool vec = lda % 4 == 0 && ldb % 4 == 0 && reinterpret_cast<uintptr_t>(a) % 16 == 0 &&
                     reinterpret_cast<uintptr_t>(b) % 16 == 0;
    const Kernel variants[2][2][2] = {
        {{sgemm_mma_kernel<false, false, 1, 0, 64>, sgemm_mma_kernel<false, false, 4, 0, 64>},
         {sgemm_mma_kernel<false, true, 1, 0, 64>, sgemm_mma_kernel<false, true, 4, 0, 64>}},
        {{sgemm_mma_kernel<true, false, 1, 0, 64>, sgemm_mma_kernel<true, false, 4, 0, 64>},
         {sgemm_mma_kernel<true, true, 1, 0, 64>, sgemm_mma_kernel<true, true, 4, 0, 64>}}};
    if (!conv)
      f = variants[ta][tb][vec];
    else if (conv->input_grad)
      f = n <= 32 ? sgemm_mma_kernel<false, true, 4, 2, 32> : sgemm_mma_kernel<false, true, 4, 2, 64>;
    else
      f = ta ? sgemm_mma_kernel<true, false, 4, 1, 64> : sgemm_mma_kernel<false, false, 4, 1, 64>;
  } else {
    const Kernel variants[2][2][2] = {{{sgemm_kernel<false, false, 0>, sgemm_kernel<false, true, 0>},
                                       {sgemm_kernel<true, false, 0>, sgemm_kernel<true, true, 0>}},
                                      {{sgemm_tf32_kernel<false, false>, sgemm_tf32_kernel<false, true>},
                                       {sgemm_tf32_kernel<true, false>, sgemm_tf32_kernel<true, true>}}};
    using W = layout::SimtWide;
    const Kernel wide_variants[2][2] = {{sgemm_kernel<false, false, 0, W>, sgemm_kernel<false, true, 0, W>},
                                        {sgemm_kernel<true, false, 0, W>, sgemm_kernel<true, true, 0, W>}};
    if (conv && conv->input_grad)
      f = narrow ? (wide ? sgemm_kernel<false, true, 2, layout::SimtWideNarrow>
                         : sgemm_kernel<false, true, 2, layout::SimtNarrow>)
                 : (wide ? sgemm_kernel<false, true, 2, W> : sgemm_kernel<false, true, 2>);
    else if (conv)
      f = ta ? (wide ? sgemm_kernel<true, false, 1, W> : sgemm_kernel<true, false, 1>)
             : (wide ? sgemm_kernel<false, false, 1, W> : sgemm_kernel<false, false, 1>);
    else if (kernel == GemmKernel::kSimt && wide)
      f = wide_variants[ta][tb];
    else
      f = variants[kernel == GemmKernel::kWmmaTf32][ta][tb];
  }
  launch(f, grid, block, 0, stream, m, n, k, a, lda, b, ldb, out, ldo, stride, kps, tile_ep, tile_acc,
         conv ? *conv : ConvGeom{});
  // Kernel 1 named with its tile (a graph's node list, a fault's report): blocks of rows x columns, and the
  // 8 x 4 micro-tile where it runs.
  const char* name = gemm_kernel_name(kernel);
  if (kernel == GemmKernel::kSimt)
    name = narrow ? (wide ? "1 simt-fp32-128x32-8x4" : "1 simt-fp32-128x32")
                  : (wide ? "1 simt-fp32-128x64-8x4" : "1 simt-fp32-64x64");
  KN_LAUNCHED(stream, name);
  if (splits > 1) {
    const long long mn = (long long)m * n;
    with_index_type(std::max(mn * z, (long long)m * ldc), [&](auto index) {
      using I = decltype(index);
      launch(splitk_reduce_kernel<I>, CEIL_DIV(mn, 256), 256, 0, stream, m, n, z, partial, c, ldc, ep,
             accumulate);
    });
    KN_LAUNCHED(stream, "splitk_reduce_kernel");
  }
  return Status::Ok();
}

Status launch_column_sums(cudaStream_t stream, const float* x, int m, int n, float* out, int parts,
                          float* partial) {
  if (n <= 0) return Status::Ok();
  KN_EXPECT(m >= 0 && parts >= 1 && parts <= 65535 && x && out && partial, "launch_column_sums");
  // One row group (at most 256 rows): its sums are the result, written in place (no second launch).
  launch(column_sums_kernel, dim3(CEIL_DIV(n, 32), parts), dim3(32, 8), 0, stream, x, m, n,
         parts == 1 ? out : partial);
  KN_LAUNCHED(stream, "column_sums_kernel");
  return parts == 1 ? Status::Ok() : launch_sum_parts(stream, partial, parts, n, n, out);
}

Status launch_sum_parts(cudaStream_t stream, const float* partial, int parts, int stride, int n, float* out,
                        int n2, float* out2) {
  if (!out2) n2 = 0;
  if (n + n2 <= 0) return Status::Ok();
  KN_EXPECT(parts >= 1 && n >= 0 && n2 >= 0 && stride >= n + n2 && partial && (out || !n),
            "launch_sum_parts");
  launch(sum_parts_kernel, CEIL_DIV(n + n2, 32), dim3(32, 32), 0, stream, partial, parts, stride, n + n2, out,
         n, out2);
  KN_LAUNCHED(stream, "sum_parts_kernel");
  return Status::Ok();
}

// The split-K policy and the scratch of the backend's GEMMs (launch_sgemm above does the work).
Status CudaBackend::gemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b,
                         int ldb, float* c, int ldc, const Epilogue& ep, bool accumulate) {
  return gemm_with(gemm_kernel(), ta, tb, m, n, k, a, lda, b, ldb, c, ldc, ep, accumulate);
}

Status CudaBackend::gemm_with(GemmKernel kernel, bool ta, bool tb, int m, int n, int k, const float* a,
                              int lda, const float* b, int ldb, float* c, int ldc, const Epilogue& ep,
                              bool accumulate, const ConvGeom* conv) {
  // Split K when the output tiles alone would leave most of a GPU idle and K is long enough to share out:
  // towards kSplitKBlocks blocks, each split at least 8 K steps (128). (The seed's dense1 forward, 128 x 128
  // x 9216: 64 splits, 128 blocks on kernel 3's 2 tiles, 256 on kernel 1's 4.) The target is a constant, not
  // the device's SM count, so that the same model gives the same bits on every GPU model (README:
  // determinism): the split decides the order of the float sums. Fewer, longer splits (16-18 for dense1, 1.2
  // MB of partials instead of 4.2) were weighed and not taken: a split's block does 4x the multiply-adds on
  // a quarter of the SMs, about 2-3 us more than the 3 MB of partial traffic saves (bench/NOTES.md).
  const long long tiles = (long long)CEIL_DIV(m, gemm_tile_m(kernel)) * CEIL_DIV(n, kGemmTile);
  int splits = 1;
  if (tiles < kSplitKBlocks && k >= 1024 && !(conv && conv->pool_h)) {  // a pool epilogue needs whole sums
    splits = (int)std::min<long long>(CEIL_DIV(kSplitKBlocks, tiles), k / 128);
    splits = std::max(1, std::min(splits, 64));
  }
  float* partial = nullptr;
  if (splits > 1) {
    void* p;
    KN_TRY(scratch(in_weight_branch() ? kSplitKWeights : kSplitK, sizeof(float) * (std::size_t)splits * m * n,
                   &p));
    partial = static_cast<float*>(p);
  }
  return launch_sgemm(stream(), ta, tb, m, n, k, a, lda, b, ldb, c, ldc, ep, accumulate, splits, partial,
                      kernel, conv, sm_count_);
}

std::vector<Backend::KernelFamily> CudaBackend::kernel_families() const {
  KernelFamily gemm{"gemm", gemm_kernel_name(gemm_kernel()), {}};
  for (int i = 1; i <= kGemmKernels; ++i)
    gemm.variants.push_back(gemm_kernel_name(static_cast<GemmKernel>(i)));
  return {gemm};
}

Status CudaBackend::gemm_variant(int kernel, bool ta, bool tb, int m, int n, int k, const float* a, int lda,
                                 const float* b, int ldb, float* c) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (kernel < 1 || kernel > kGemmKernels)
    return Status{"ERR_KERNELNET_ARG", "gemmVariant: kernel " + std::to_string(kernel) +
                                           " is not one of 1.." + std::to_string(kGemmKernels)};
  const GemmKernel g = static_cast<GemmKernel>(kernel);
  if (g != GemmKernel::kSimt && !tf32_kernel_usable())
    return Status{"ERR_KERNELNET_DEVICE",
                  std::string("gemmVariant: kernel ") + gemm_kernel_name(g) +
                      " needs TF32 tensor cores (sm_80 or newer, and this binary built for it)"};
  return gemm_with(g, ta, tb, m, n, k, a, lda, b, ldb, c, n, Epilogue{}, false);  // with the split-K policy
}

// out[j] = sum_i x[i, j]: row groups (at most 256, of 256 rows) summed into scratch, then the groups.
Status CudaBackend::column_sums(const float* x, long long rows, int cols, float* out) {
  // column_sums_kernel's rows step by 8 x parts (at most 2048) in int.
  if (rows > INT32_MAX - 4096)
    return Status{"ERR_KERNELNET_SHAPE",
                  "column sums over " + std::to_string(rows) + " rows: more than 2^31 - 4096"};
  const int parts = (int)std::min<long long>(std::max<long long>(CEIL_DIV(rows, 256), 1), 256);
  void* partial;
  KN_TRY(scratch(kColSum, sizeof(float) * parts * std::max(cols, 1), &partial));
  return launch_column_sums(stream(), x, rows, cols, out, parts, static_cast<float*>(partial));
}

// The fused epilogue's backward (epilogue.h), shared by conv and dense.
Status CudaBackend::act_mask(const Epilogue& ep, std::size_t count, const float* y, const float* dy,
                             const float** dz) {
  *dz = dy;
  if (ep.act == Act::kLinear) return Status::Ok();
  void* p;
  KN_TRY(scratch(kDz, count * sizeof(float), &p));
  *dz = static_cast<float*>(p);
  if (!count) return Status::Ok();  // a grid of zero blocks is a launch error
  launch(act_mask_kernel, CEIL_DIV((long long)count, 256), 256, 0, stream(), ep.act, ep.alpha, y,
         static_cast<const float*>(ep.pre), dy, static_cast<float*>(p), count);
  KN_LAUNCHED(stream(), "act_mask_kernel");
  return Status::Ok();
}

}  // namespace cu
}  // namespace kn
