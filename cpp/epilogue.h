// The fused epilogue of the GEMM-shaped ops (convolution, dense), one shape for both backends: after the sum,
// + bias[channel] when there is a bias, then an activation chosen at run time from Act. Backward turns dy
// into dz = dy * act'(.) from the activation's output y, so no pre-activation buffer is kept, except for the
// activations whose derivative is not a function of their output (swish, gelu): for those the forward pass
// also stores the pre-activation (Epilogue::pre) and backward reads it. The CPU loops (cpu_simd.h) and the
// CUDA kernels (gemm.cu, conv.cu, activation.cu) call these functions, so one definition of each activation
// serves both, and the float64 references in test/helpers.ts check both.
//
// The definitions are Keras 3's (keras/src/activations/activations.py): relu6 = min(max(x, 0), 6); elu =
// x > 0 ? x : alpha (exp(x) - 1), alpha 1 as the string form; selu with Keras's alpha and scale; softplus =
// log(exp(x) + 1); swish (silu) = x sigmoid(x); gelu exact (approximate=False, Keras's default) = x/2 (1 +
// erf(x / sqrt 2)); leaky_relu = x < 0 ? alpha x : x, negative_slope 0.2 as the string form (the function's
// default; the LeakyReLU layer's own default, 0.3, is passed by the layer).
// The exponentials, tanh and erf are kn_math.h's: straight-line code that vectorises on the CPU and is the
// same arithmetic on both backends.
#pragma once
#include <cstdint>

#include "hd.h"
#include "kn_math.h"

namespace kn {

enum class Act : int32_t {
  kLinear = 0,
  kRelu,
  kRelu6,
  kElu,
  kSelu,
  kSigmoid,
  kTanh,
  kSoftplus,
  kSwish,
  kGelu,
  kLeakyRelu,
};
// The names JavaScript passes (lib/core/native.ts's NativeActivation), in the enum's order.
inline constexpr const char* kActNames[] = {"linear", "relu",     "relu6", "elu",  "selu",      "sigmoid",
                                            "tanh",   "softplus", "swish", "gelu", "leaky_relu"};
inline constexpr int kActCount = sizeof(kActNames) / sizeof(kActNames[0]);

// Whether backward needs the activation's input (stored by the forward pass in Epilogue::pre).
KN_HD bool act_needs_input(Act a) {
  return a == Act::kSwish || a == Act::kGelu;
}

// The layer below's activation, folded into an op's input gradient (backward only): dx becomes dx * act'(.)
// from that layer's output y (the op's input x, laid out as dx), so the layer below's backward takes it as
// its dz and makes no pass of its own over y. Not for an activation whose derivative needs its input.
struct BelowAct {
  const float* y = nullptr;  // null: none
  Act act = Act::kLinear;
  float alpha = 0.0f;
};

struct Epilogue {
  const float* bias = nullptr;  // [channels], or null for none
  Act act = Act::kLinear;
  float alpha = 0.0f;    // elu's alpha, leaky_relu's negative slope
  float* pre = nullptr;  // where to store the pre-activation (same layout as y), for act_needs_input(act)
  BelowAct below;        // backward ops: applied to dx (above); forward ops: not used
};

// The epilogue of a backward op's input-gradient product: nothing but the layer below's activation.
inline Epilogue input_grad_epilogue(const Epilogue& ep) {
  Epilogue e;
  e.below = ep.below;
  return e;
}

constexpr float kSeluAlpha = 1.67326324235437728481f, kSeluScale = 1.05070098735548049342f;

// act(v). Every activation keeps NaN (as PyTorch and TensorFlow do), so a diverging run shows in the loss.
KN_HD float act_forward(Act a, float v, float alpha = 0.0f) {
  switch (a) {
    case Act::kRelu:
      return v < 0.0f ? 0.0f : v;
    case Act::kRelu6:
      return v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);
    case Act::kElu:
      return v > 0.0f ? v : alpha * expm1_(v);
    case Act::kSelu:
      return kSeluScale * (v > 0.0f ? v : kSeluAlpha * expm1_(v));
    case Act::kSigmoid:
      return sigmoid_(v);
    case Act::kTanh:
      return tanh_(v);
    case Act::kSoftplus:
      return softplus_(v);
    case Act::kSwish:
      return v * sigmoid_(v);
    case Act::kGelu:
      return 0.5f * v * one_plus_erf(v * 0.70710678118654752440f);
    case Act::kLeakyRelu:
      return v < 0.0f ? alpha * v : v;
    default:
      return v;
  }
}

#if defined(__CUDA_ARCH__)
// The transcendental activations behind a call, so that their registers do not count against the GEMM
// kernels' main loop (ptxas: sgemm_tf32_kernel rose from 64-78 to 80-112 registers with them inlined).
static __device__ __noinline__ float act_forward_call(Act a, float v, float alpha) {
  return act_forward(a, v, alpha);
}
#endif

// act(v) in a GEMM's epilogue: linear and relu inline, the rest (a call on the GPU) as act_forward.
KN_HD float act_epilogue(Act a, float v, float alpha) {
  if (a == Act::kLinear) return v;
  if (a == Act::kRelu) return v < 0.0f ? 0.0f : v;
#if defined(__CUDA_ARCH__)
  return act_forward_call(a, v, alpha);
#else
  return act_forward(a, v, alpha);
#endif
}

// dy * act'(x), from y = act(x) (and x itself where act_needs_input).
KN_HD float act_backward(Act a, float y, float x, float dy, float alpha = 0.0f) {
  switch (a) {
    case Act::kRelu:
      return y > 0.0f ? dy : 0.0f;
    case Act::kRelu6:
      return y > 0.0f && y < 6.0f ? dy : 0.0f;
    case Act::kElu:
      return y > 0.0f ? dy : dy * (y + alpha);
    case Act::kSelu:
      return y > 0.0f ? dy * kSeluScale : dy * (y + kSeluScale * kSeluAlpha);
    case Act::kSigmoid:
      return dy * y * (1.0f - y);
    case Act::kTanh:
      return dy * (1.0f - y * y);
    case Act::kSoftplus:
      return dy * -expm1_(-y);  // sigmoid(x) = 1 - e^-softplus(x)
    case Act::kSwish: {
      const float s = sigmoid_(x);
      return dy * s * (1.0f + x * (1.0f - s));
    }
    case Act::kGelu:
      return dy * (0.5f * one_plus_erf(x * 0.70710678118654752440f) +
                   x * 0.39894228040143267794f * exp_(-0.5f * x * x));
    case Act::kLeakyRelu:
      return y > 0.0f ? dy : dy * alpha;
    default:
      return dy;
  }
}

// The layer below's activations a GEMM's epilogue applies (BelowAct; below_epilogue): the cheap ones, inline.
// A call out of the epilogue would cost the accumulators' registers (ptxas spills them around it), and the
// others inline push a tile's accumulators to local memory, so the CUDA backend applies those in a pass
// after.
KN_HD constexpr bool below_in_epilogue(Act a) {
  return a == Act::kLinear || a == Act::kRelu || a == Act::kLeakyRelu;
}

// dy * act'(.) from y, for below_in_epilogue(a): act_backward's arithmetic.
KN_HD float below_epilogue(Act a, float y, float dy, float alpha) {
  if (a == Act::kRelu) return act_backward(Act::kRelu, y, 0.0f, dy, alpha);
  if (a == Act::kLeakyRelu) return act_backward(Act::kLeakyRelu, y, 0.0f, dy, alpha);
  return dy;
}

}  // namespace kn
