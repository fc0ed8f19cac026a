// The fused epilogue of the GEMM-shaped ops (convolution, dense), one shape for both backends: after the sum,
// + bias[channel] when there is a bias, then an activation chosen at run time from Act. Backward turns dy
// into dz = dy * act'(.) from the activation's output y alone, so no pre-activation buffer is kept: an
// activation added here either has a derivative expressible through its output (relu, sigmoid, tanh, elu,
// ...) or brings its own buffer. The CPU loops (cpu_simd.h) and the CUDA kernels (gemm.cu, conv.cu) both call
// these functions, so one definition of each activation serves both, and the float64 references in
// test/helpers.ts check both.
#pragma once
#include <cstdint>

#include "hd.h"

namespace kn {

enum class Act : int32_t { kLinear = 0, kRelu = 1 };
// The names JavaScript passes (lib/native.ts's NativeActivation), in the enum's order.
inline constexpr const char* kActNames[] = {"linear", "relu"};

struct Epilogue {
  const float* bias = nullptr;  // [channels], or null for none
  Act act = Act::kLinear;
};

// act(v). ReLU keeps NaN (as PyTorch and TensorFlow do), so a diverging run shows in the loss.
KN_HD float act_forward(Act a, float v) {
  switch (a) {
    case Act::kRelu:
      return v < 0.0f ? 0.0f : v;
    default:
      return v;
  }
}

// dy * act'(x), from y = act(x).
KN_HD float act_backward(Act a, float y, float dy) {
  switch (a) {
    case Act::kRelu:
      return y > 0.0f ? dy : 0.0f;
    default:
      return dy;
  }
}

}  // namespace kn
