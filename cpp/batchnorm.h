// Batch normalization's math (Keras 3's BatchNormalization, axis -1) over x [M, C] with M = N*H*W rows. The
// fold below is shared by both backends; the per-element functions are batchnorm.cu's, while
// cpu_batchnorm.cc applies the same formulas with their per-channel factors taken once (y = (x - mean) scale
// + beta, dx = dy k1 + (x - mean) k2 + k3), so the backends agree within float rounding, not bit for bit:
//   training: mean and biased variance of each channel over the batch, x_hat = (x - mean) / sqrt(var + eps),
//     y = gamma x_hat + beta, moving = moving * momentum + batch * (1 - momentum) (Keras updates the moving
//     variance with the biased batch variance);
//   inference (and a frozen layer, as Keras runs a non-trainable BatchNormalization): the moving statistics.
// Backward, training: dx = gamma invstd (dy - mean(dy) - x_hat mean(dy x_hat)), dgamma = sum dy x_hat,
// dbeta = sum dy; inference: dx = dy gamma invstd.
#pragma once
#include <cmath>
#include <cstddef>

#include "hd.h"

namespace kn {

struct BatchNormArgs {
  std::size_t m = 0;             // rows
  int c = 0;                     // channels
  const float* gamma = nullptr;  // null: scale = false (1)
  const float* beta = nullptr;   // null: center = false (0)
  float momentum = 0.99f, epsilon = 1e-3f;
  bool training = true;  // batch statistics (and the moving averages' update), else the moving statistics
};

KN_HD float batchnorm_apply(const BatchNormArgs& a, float x, float mean, float invstd, int j) {
  const float g = a.gamma ? a.gamma[j] : 1.0f, b = a.beta ? a.beta[j] : 0.0f;
  return (x - mean) * invstd * g + b;
}

KN_HD float batchnorm_input_grad(const BatchNormArgs& a, float x, float dy, float mean, float invstd,
                                 float sum_dy, float sum_dy_xhat, int j) {
  const float g = a.gamma ? a.gamma[j] : 1.0f;
  if (!a.training) return dy * g * invstd;
  const float inv_m = 1.0f / static_cast<float>(a.m);
  const float xhat = (x - mean) * invstd;
  return g * invstd * (dy - sum_dy * inv_m - xhat * (sum_dy_xhat * inv_m));
}

// Inference folded into the conv or dense before the layer (Conv2D without activation, then
// BatchNormalization): with scale = gamma / sqrt(moving_var + eps), y = (conv(x, w) + b - mean) scale + beta
// = conv(x, w scale) + (b - mean) scale + beta, so the producing GEMM's epilogue does the normalisation.
// w_out[k, j] = w[k, j] * scale[j] for each row k of w [K, C]; b_out[j] = (b[j] - mean[j]) scale[j] +
// beta[j].
KN_HD float batchnorm_fold_scale(const BatchNormArgs& a, float moving_var, int j) {
  return (a.gamma ? a.gamma[j] : 1.0f) * (1.0f / sqrtf(moving_var + a.epsilon));
}

KN_HD float batchnorm_fold_bias(const BatchNormArgs& a, float b, float moving_mean, float scale, int j) {
  return (b - moving_mean) * scale + (a.beta ? a.beta[j] : 0.0f);
}

}  // namespace kn
