// The optimizers of Keras 3 (keras/src/optimizers/{sgd,adam,rmsprop,adagrad}.py and the base optimizer's
// decoupled weight decay), one element's update written once for both backends: the CPU loops over it
// (cpu_optim.cc) and the GPU runs it in one launch over every parameter tensor (optim.cu). The rate is read
// from device memory (*lr) and the iteration count from *iterations when the update runs, so a recorded
// training step follows a schedule and a changed rate without being recorded again. (Adadelta keeps its own
// op, backend.h.)
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "hd.h"

namespace kn {

struct OptimizerHyper {
  enum class Kind : int32_t { kSgd = 0, kAdam = 1, kRmsprop = 2, kAdagrad = 3 };
  Kind kind = Kind::kSgd;
  float beta1 = 0.9f, beta2 = 0.999f;  // adam; rmsprop's rho is beta1
  float epsilon = 1e-7f;
  float momentum = 0.0f;  // sgd, rmsprop
  bool nesterov = false, amsgrad = false, centered = false;
  float weight_decay = 0.0f;  // decoupled (AdamW, or any optimizer given weightDecay): p -= p * wd * lr first
  // How many slot tensors each parameter has: sgd 1 with momentum (else 0), adam 2 (+1 amsgrad), rmsprop 1
  // (+1 momentum, +1 centered), adagrad 1.
  int slots() const {
    switch (kind) {
      case Kind::kSgd:
        return momentum != 0.0f ? 1 : 0;
      case Kind::kAdam:
        return amsgrad ? 3 : 2;
      case Kind::kRmsprop:
        return 1 + (momentum > 0.0f) + centered;
      default:
        return 1;
    }
  }
};

struct OptimizerTensor {
  float* param;
  const float* grad;
  float* slot[3];  // in OptimizerHyper::slots()'s order
  std::size_t size;
};

// The step's scalars, computed once per launch: the rate, and Adam's bias-corrected rate
// alpha = lr sqrt(1 - beta2^t) / (1 - beta1^t) with t = iterations + 1.
struct OptimizerScalars {
  float lr, alpha;
};

KN_HD OptimizerScalars optimizer_scalars(const OptimizerHyper& h, float lr, int32_t iterations) {
  OptimizerScalars s{lr, lr};
  if (h.kind == OptimizerHyper::Kind::kAdam) {
    const float t = static_cast<float>(iterations < 0 ? 0 : iterations) + 1.0f;
    s.alpha = lr * sqrtf(1.0f - powf(h.beta2, t)) / (1.0f - powf(h.beta1, t));
  }
  return s;
}

// One element's update, in Keras's order of operations.
KN_HD void optimizer_update(const OptimizerHyper& h, const OptimizerScalars& s, float* p, float g, float* s0,
                            float* s1, float* s2) {
  const float lr = s.lr;
  if (h.weight_decay != 0.0f) *p = *p - *p * h.weight_decay * lr;
  switch (h.kind) {
    case OptimizerHyper::Kind::kSgd:
      if (s0) {
        *s0 = *s0 * h.momentum - g * lr;
        *p += h.nesterov ? *s0 * h.momentum - g * lr : *s0;
      } else {
        *p -= g * lr;
      }
      break;
    case OptimizerHyper::Kind::kAdam: {
      *s0 += (g - *s0) * (1.0f - h.beta1);
      *s1 += (g * g - *s1) * (1.0f - h.beta2);
      float v = *s1;
      if (s2) v = *s2 = fmaxf(*s2, *s1);
      *p -= (*s0 * s.alpha) / (sqrtf(v) + h.epsilon);
      break;
    }
    case OptimizerHyper::Kind::kRmsprop: {
      const float rho = h.beta1;
      *s0 = rho * *s0 + (1.0f - rho) * (g * g);
      float* mom = h.momentum > 0.0f ? s1 : nullptr;
      float* avg = h.centered ? (mom ? s2 : s1) : nullptr;
      float denominator;
      if (avg) {
        *avg = rho * *avg + (1.0f - rho) * g;
        denominator = *s0 - *avg * *avg + h.epsilon;
      } else {
        denominator = *s0 + h.epsilon;
      }
      const float increment = lr * g / sqrtf(denominator);
      if (mom) {
        *mom = h.momentum * *mom + increment;
        *p -= *mom;
      } else {
        *p -= increment;
      }
      break;
    }
    default:  // adagrad
      *s0 += g * g;
      *p -= lr * g / sqrtf(*s0 + h.epsilon);
  }
}

}  // namespace kn
