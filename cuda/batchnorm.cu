// Batch normalization on the GPU, the twin of cpp/cpu_batchnorm.cc (batchnorm.h has the math). The
// per-channel sums run in two stages in a fixed order: blocks of kBnBlock rows summed in double by one thread
// per channel into scratch, then each channel's block sums added in block order; so results do not depend on
// scheduling, and they agree with the CPU's, which sums the same blocks the same way, up to the order within
// a block.
#include "cuda_backend.cuh"

namespace kn {
namespace cu {
namespace {

constexpr long long kBnBlock = 256;

// partial[b, 0, j] = sum over block b's rows of x[r, j], partial[b, 1, j] = of x[r, j]^2 (kind 0); or of dy
// and dy * x_hat (kind 1). Block rows y, y + gridDim.y, ... walk the row blocks: gridDim.y is at most 65535,
// the row blocks are as many as m needs (their sums, and so the result, do not depend on the grid).
__global__ void bn_partial_kernel(int kind, long long m, int c, const float* __restrict__ x,
                                  const float* __restrict__ dy, const float* __restrict__ mean,
                                  const float* __restrict__ invstd, double* __restrict__ partial) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= c) return;
  const long long blocks = CEIL_DIV(m, kBnBlock);
  for (long long b = blockIdx.y; b < blocks; b += gridDim.y) {
    double s = 0.0, q = 0.0;
    const long long end = min(m, (b + 1) * kBnBlock);
    for (long long r = b * kBnBlock; r < end; ++r) {
      const float v = x[r * c + j];
      if (kind == 0) {
        s += v, q += (double)v * v;
      } else {
        const float g = dy[r * c + j];
        s += g, q += (double)g * ((v - mean[j]) * invstd[j]);
      }
    }
    partial[(b * 2) * c + j] = s;
    partial[(b * 2 + 1) * c + j] = q;
  }
}

unsigned bn_partial_grid_y(long long blocks) {
  return (unsigned)std::min<long long>(blocks, 65535);
}

// Forward statistics from the block sums, and the moving averages' update.
__global__ void bn_stats_kernel(BatchNormArgs a, long long blocks, const double* __restrict__ partial,
                                float* __restrict__ mean, float* __restrict__ invstd,
                                float* __restrict__ moving_mean, float* __restrict__ moving_var) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= a.c) return;
  if (!a.training) {
    mean[j] = moving_mean[j];
    invstd[j] = 1.0f / sqrtf(moving_var[j] + a.epsilon);
    return;
  }
  double s = 0.0, q = 0.0;
  for (long long b = 0; b < blocks; ++b) s += partial[(b * 2) * a.c + j], q += partial[(b * 2 + 1) * a.c + j];
  const double mu = s / a.m, var = fmax(q / a.m - mu * mu, 0.0);
  mean[j] = (float)mu;
  invstd[j] = (float)(1.0 / sqrt(var + a.epsilon));
  moving_mean[j] = moving_mean[j] * a.momentum + (float)mu * (1.0f - a.momentum);
  moving_var[j] = moving_var[j] * a.momentum + (float)var * (1.0f - a.momentum);
}

__global__ void bn_apply_kernel(BatchNormArgs a, const float* __restrict__ x, const float* __restrict__ mean,
                                const float* __restrict__ invstd, float* __restrict__ y) {
  const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (i >= (long long)a.m * a.c) return;
  const int j = i % a.c;
  y[i] = batchnorm_apply(a, x[i], mean[j], invstd[j], j);
}

// The backward sums (to float, as the CPU), dgamma and dbeta.
__global__ void bn_grad_sums_kernel(BatchNormArgs a, long long blocks, const double* __restrict__ partial,
                                    float* __restrict__ sums, float* __restrict__ dgamma,
                                    float* __restrict__ dbeta) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= a.c) return;
  double s = 0.0, q = 0.0;
  for (long long b = 0; b < blocks; ++b) s += partial[(b * 2) * a.c + j], q += partial[(b * 2 + 1) * a.c + j];
  sums[j] = (float)s, sums[a.c + j] = (float)q;
  if (dbeta) dbeta[j] = (float)s;
  if (dgamma) dgamma[j] = (float)q;
}

__global__ void bn_input_grad_kernel(BatchNormArgs a, const float* __restrict__ x,
                                     const float* __restrict__ dy, const float* __restrict__ mean,
                                     const float* __restrict__ invstd, const float* __restrict__ sums,
                                     float* __restrict__ dx) {
  const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (i >= (long long)a.m * a.c) return;
  const int j = i % a.c;
  dx[i] = batchnorm_input_grad(a, x[i], dy[i], mean[j], invstd[j], sums[j], sums[a.c + j], j);
}

// w_out = w * scale[column], and (thread index < c) b_out: one thread per element of w, the scale recomputed
// per element from the moving variance (cheaper than a second launch).
__global__ void bn_fold_kernel(BatchNormArgs a, long long total, const float* __restrict__ w,
                               const float* __restrict__ b, const float* __restrict__ moving_mean,
                               const float* __restrict__ moving_var, float* __restrict__ w_out,
                               float* __restrict__ b_out) {
  const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (i < total) {
    const int j = (int)(i % a.c);
    w_out[i] = w[i] * batchnorm_fold_scale(a, moving_var[j], j);
  }
  if (i < a.c) {
    const int j = (int)i;
    b_out[j] =
        batchnorm_fold_bias(a, b ? b[j] : 0.0f, moving_mean[j], batchnorm_fold_scale(a, moving_var[j], j), j);
  }
}

}  // namespace

Status CudaBackend::batchnorm_forward(const BatchNormArgs& a, const float* x, float* y, float* mean,
                                      float* invstd, float* moving_mean, float* moving_var) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!a.c) return Status::Ok();
  // Training: the batch's sums per block of 256 rows into scratch (inference reads none).
  const long long blocks = a.training ? CEIL_DIV((long long)a.m, kBnBlock) : 0;
  void* partial = nullptr;
  if (blocks) {
    KN_TRY(scratch(kBatchNorm, sizeof(double) * 2 * blocks * a.c, &partial));
    const float* none = nullptr;
    launch(bn_partial_kernel, dim3(CEIL_DIV(a.c, 64), bn_partial_grid_y(blocks)), 64, 0, stream(), 0,
           (long long)a.m, a.c, x, none, none, none, static_cast<double*>(partial));
    KN_LAUNCHED(stream(), "bn_partial_kernel");
  }
  launch(bn_stats_kernel, CEIL_DIV(a.c, 64), 64, 0, stream(), a, blocks, static_cast<const double*>(partial),
         mean, invstd, moving_mean, moving_var);
  KN_LAUNCHED(stream(), "bn_stats_kernel");
  const long long total = (long long)a.m * a.c;
  if (!total) return Status::Ok();
  launch(bn_apply_kernel, CEIL_DIV(total, 256), 256, 0, stream(), a, x, static_cast<const float*>(mean),
         static_cast<const float*>(invstd), y);
  KN_LAUNCHED(stream(), "bn_apply_kernel");
  return Status::Ok();
}

Status CudaBackend::batchnorm_backward(const BatchNormArgs& a, const float* x, const float* dy,
                                       const float* mean, const float* invstd, float* dx, float* dgamma,
                                       float* dbeta) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!a.c) return Status::Ok();
  // An empty batch still writes dgamma and dbeta (zeros: sums over no block), as the CPU does.
  const long long blocks = CEIL_DIV((long long)a.m, kBnBlock);
  void* p;
  KN_TRY(scratch(kBatchNorm, sizeof(double) * 2 * blocks * a.c + sizeof(float) * 2 * a.c, &p));
  double* partial = static_cast<double*>(p);
  float* sums = reinterpret_cast<float*>(partial + 2 * blocks * a.c);
  if (blocks) {
    launch(bn_partial_kernel, dim3(CEIL_DIV(a.c, 64), bn_partial_grid_y(blocks)), 64, 0, stream(), 1,
           (long long)a.m, a.c, x, dy, mean, invstd, partial);
    KN_LAUNCHED(stream(), "bn_partial_kernel");
  }
  launch(bn_grad_sums_kernel, CEIL_DIV(a.c, 64), 64, 0, stream(), a, blocks,
         static_cast<const double*>(partial), sums, dgamma, dbeta);
  KN_LAUNCHED(stream(), "bn_grad_sums_kernel");
  const long long total = (long long)a.m * a.c;
  if (!dx || !total) return Status::Ok();
  launch(bn_input_grad_kernel, CEIL_DIV(total, 256), 256, 0, stream(), a, x, dy, mean, invstd,
         static_cast<const float*>(sums), dx);
  KN_LAUNCHED(stream(), "bn_input_grad_kernel");
  return Status::Ok();
}

Status CudaBackend::batchnorm_fold(const BatchNormArgs& a, std::size_t rows, const float* w, const float* b,
                                   const float* moving_mean, const float* moving_var, float* w_out,
                                   float* b_out) {
  std::lock_guard<std::mutex> lock(mutex_);
  const long long total = (long long)rows * a.c, threads = std::max<long long>(total, a.c);
  if (threads == 0) return Status::Ok();
  launch(bn_fold_kernel, CEIL_DIV(threads, 256), 256, 0, stream(), a, total, w, b, moving_mean, moving_var,
         w_out, b_out);
  KN_LAUNCHED(stream(), "bn_fold_kernel");
  return Status::Ok();
}

}  // namespace cu
}  // namespace kn
