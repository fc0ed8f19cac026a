// Batch normalization's per-element math (Keras 3's BatchNormalization, axis -1), written once for both
// backends (cpu_batchnorm.cc, batchnorm.cu): over x [M, C] with M = N*H*W rows,
//   training: mean and biased variance of each channel over the batch, x_hat = (x - mean) / sqrt(var + eps),
//     y = gamma x_hat + beta, moving = moving * momentum + batch * (1 - momentum) (Keras updates the moving
//     variance with the biased batch variance);
//   inference (and a frozen layer, as Keras runs a non-trainable BatchNormalization): the moving statistics.
// Backward, training: dx = gamma invstd (dy - mean(dy) - x_hat mean(dy x_hat)), dgamma = sum dy x_hat,
// dbeta = sum dy; inference: dx = dy gamma invstd.
#pragma once
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

}  // namespace kn
