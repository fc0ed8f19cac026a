// kernelnet's native surface. Each exported function checks its arguments (args.h), then calls the
// environment's backend (backend.h). The TypeScript declaration of everything here is lib/core/native.ts.
#include <napi.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <tuple>

#include "args.h"
#include "backend.h"
#include "cpu_gemm.h"
#include "distributed_addon.h"
#include "env.h"
#include "math_addon.h"
#include "recording.h"
#include "tensor.h"
#include "threadpool.h"

namespace kn {
namespace {

constexpr int64_t kAny = -1;
constexpr long long kMaxScratch = 1LL << 28;  // floats of im2col scratch per image (1 GiB)

// Output size of a conv/pool window along one axis; -1 if the window does not fit.
int out_size(int in, int k, int stride, bool same, int* pad_before) {
  *pad_before = 0;
  if (same) {
    const int out = (in + stride - 1) / stride;
    const long long total = std::max<long long>(static_cast<long long>(out - 1) * stride + k - in, 0);
    *pad_before = static_cast<int>(total / 2);
    return out;
  }
  return in >= k ? (in - k) / stride + 1 : -1;
}

// The optional step counter of an op (see backend.h): an int32 tensor of shape [1], or null.
const int32_t* step_counter(Args& a, const Arg& v) {
  TensorHandle* c = a.optional_tensor(v);
  if (!c) return nullptr;
  a.expect(c, v.name.c_str(), DType::kInt32, {1}, "(the step counter)");
  return c->i32();
}
const int32_t* step_counter(Args& a, int i) {
  return step_counter(a, a.arg(i, "counter"));
}

// The options objects of the convolution ops (lib/core/native.ts's ConvArgs, PoolArgs, DropArgs, BelowAct),
// each read once into the structs below by one function, shared by the four ops.
Options conv_options(Args& a, int i) {
  return a.options(i, "conv", {"strides", "padding", "activation", "alpha", "dilationRate", "pre"});
}
Options pool_options(Args& a, int i) {
  return a.options(i, "pool", {"poolSize", "padding"});
}
Options drop_options(Args& a, int i) {
  return a.options(i, "drop", {"rate", "seed", "offset", "counter"}, true);
}
Options below_options(Args& a, int i) {
  return a.options(i, "below", {"activation", "alpha"}, true);
}

// The geometry of a convolution of x by w from conv's strides, padding and dilationRate (default [1, 1]):
// kernel tap (ky, kx) reads input (oy*strides[0] - padTop + ky*dilationRate[0], ...). y: the output, checked
// against the shape (null for the conv + pool op, whose conv output is not stored).
Conv2dShape conv_shape(Args& a, TensorHandle* x, TensorHandle* w, TensorHandle* y, const Options& conv) {
  const std::array<int, 2> strides = a.integer_pair(conv["strides"], 1, 1 << 16);
  const bool same = a.choice(conv["padding"], {"valid", "same"}) == "same";
  const Arg dilation = conv["dilationRate"];
  const std::array<int, 2> dil =
      dilation.undefined() ? std::array<int, 2>{1, 1} : a.integer_pair(dilation, 1, 1 << 16);
  a.expect_rank(x, "x", DType::kFloat32, 4, "[N,H,W,C]");
  a.expect_rank(w, "w", DType::kFloat32, 4, "[KH,KW,C,F]");
  const auto& xs = x->shape();
  const auto& ws = w->shape();
  if (ws[2] != xs[3])
    a.fail("ERR_KERNELNET_SHAPE", "expected w's input channels (shape[2]) to equal x's channels " +
                                      std::to_string(xs[3]) + " but received " + w->describe());
  Conv2dShape s{};
  s.n = static_cast<int>(xs[0]), s.h = static_cast<int>(xs[1]), s.w = static_cast<int>(xs[2]),
  s.c = static_cast<int>(xs[3]);
  s.kh = static_cast<int>(ws[0]), s.kw = static_cast<int>(ws[1]), s.f = static_cast<int>(ws[3]);
  s.sh = strides[0], s.sw = strides[1];
  s.dil_h = dil[0], s.dil_w = dil[1];
  // The dilated kernel spans (k - 1) * dilation + 1 input positions.
  const long long span_h = static_cast<long long>(s.kh - 1) * s.dil_h + 1,
                  span_w = static_cast<long long>(s.kw - 1) * s.dil_w + 1;
  if (s.kh < 1 || s.kw < 1 || span_h > INT32_MAX || span_w > INT32_MAX)
    a.fail("ERR_KERNELNET_SHAPE", "the kernel " + w->describe() + " is empty or its dilated span too large");
  s.oh = out_size(s.h, static_cast<int>(span_h), s.sh, same, &s.pt);
  s.ow = out_size(s.w, static_cast<int>(span_w), s.sw, same, &s.pl);
  if (s.oh < 1 || s.ow < 1)
    a.fail("ERR_KERNELNET_SHAPE", "the kernel " + w->describe() +
                                      (s.dil_h * s.dil_w > 1 ? " (dilated)" : "") +
                                      " does not fit the input " + x->describe() + " with 'valid' padding");
  if (y) a.expect(y, "y", DType::kFloat32, {s.n, s.oh, s.ow, s.f}, "[N,OH,OW,F]");
  if (s.col_rows() * s.col_cols() > kMaxScratch)
    a.fail("ERR_KERNELNET_SHAPE", "one image's im2col matrix (" + std::to_string(s.col_rows()) + " x " +
                                      std::to_string(s.col_cols()) + ") exceeds 2^28 elements");
  return s;
}

// The epilogue of a convolution from conv's activation, alpha and pre (Args::activation_extras); the bias and
// the layer below's activation are the caller's. y: the conv's output, shaped as pre; null for the conv +
// pool op, which keeps neither it nor a pre-activation, and so refuses an activation whose derivative needs
// its input, and any pre.
Epilogue conv_epilogue(Args& a, const Options& conv, TensorHandle* y, TensorHandle** pre) {
  Epilogue ep;
  const Act act = a.activation(conv["activation"]);
  if (y) {
    a.activation_extras(conv["pre"], conv["alpha"], act, y, &ep, pre);
    return ep;
  }
  const std::string name = kActNames[static_cast<int>(act)];
  if (act_needs_input(act))
    a.fail("ERR_KERNELNET_ARG",
           "activation '" + name +
               "' needs its input in backward, which the conv + pool op does not keep; use "
               "conv2dForward and maxPool2dForward");
  *pre = a.optional_tensor(conv["pre"]);
  if (*pre)
    a.fail(
        "ERR_KERNELNET_ARG",
        "activation '" + name + "' takes no conv.pre tensor (its derivative comes from the pooled output)");
  ep.act = act;
  ep.alpha = a.alpha(conv["alpha"], act);
  return ep;
}

// conv2dForward(x, w, b | null, y, conv): conv as conv_shape and conv_epilogue read it; conv.pre receives the
// pre-activation for the activations whose derivative needs it (Args::activation_extras).
void Conv2dForward(const Napi::CallbackInfo& info) {
  Args a(info, "conv2dForward");
  TensorHandle *x = a.tensor(0, "x"), *w = a.tensor(1, "w"), *b = a.optional_tensor(2, "b"),
               *y = a.tensor(3, "y");
  const Options conv = conv_options(a, 4);
  const Conv2dShape s = conv_shape(a, x, w, y, conv);
  if (b) a.expect(b, "b", DType::kFloat32, {s.f}, "[F]");
  TensorHandle* pre;
  Epilogue ep = conv_epilogue(a, conv, y, &pre);
  ep.bias = b ? b->f32() : nullptr;
  a.distinct({y, pre, x, w, b});
  a.run([s, x = x->f32(), w = w->f32(), ep, y = y->f32()](Backend& be) {
    return be.conv2d_forward(s, x, w, ep, y);
  });
}

// The layer below's activation (epilogue.h's BelowAct), when `act` is given, with its optional alpha: x is
// the output of the layer below, made by this activation, and the input gradient dx takes its derivative
// (from x), so that layer's backward takes the result as its dz (with activation 'linear'). The conv ops read
// both from their below object, denseBackward from its trailing (belowActivation, belowAlpha?).
void below_act(Args& a, const Arg& act_arg, const Arg& alpha_arg, TensorHandle* x, TensorHandle* dx,
               Epilogue* ep) {
  if (act_arg.undefined()) return;
  const Act act = a.activation(act_arg);
  if (!dx)
    a.fail("ERR_KERNELNET_ARG",
           act_arg.name + " applies the layer below's activation to the input gradient, but dx is null");
  if (act_needs_input(act))
    a.fail("ERR_KERNELNET_ARG", std::string("activation '") + kActNames[static_cast<int>(act)] +
                                    "' needs its input in backward: the layer below applies it itself");
  ep->below.act = act;
  ep->below.alpha = a.alpha(alpha_arg, act);
  if (act != Act::kLinear) ep->below.y = x->f32();
}
// The same from an op's below object (undefined: none; given, its activation is required).
void below_act(Args& a, const Options& below, TensorHandle* x, TensorHandle* dx, Epilogue* ep) {
  if (!below.given()) return;
  const Arg act = below["activation"];
  if (act.undefined()) a.activation(act);  // refused, naming below.activation
  below_act(a, act, below["alpha"], x, dx, ep);
}

// conv2dBackward(x, w, y, dy, dx | null, dw | null, db | null, conv, below?): conv as conv2dForward's, its
// pre what the forward pass stored, for the activations that need it. Each gradient asked for by passing its
// tensor (a frozen layer passes null for dw and db, the first layer for dx). below: the layer below's
// activation, applied to dx (below_act).
void Conv2dBackward(const Napi::CallbackInfo& info) {
  Args a(info, "conv2dBackward");
  TensorHandle *x = a.tensor(0, "x"), *w = a.tensor(1, "w"), *y = a.tensor(2, "y"), *dy = a.tensor(3, "dy");
  TensorHandle *dx = a.optional_tensor(4, "dx"), *dw = a.optional_tensor(5, "dw"),
               *db = a.optional_tensor(6, "db");
  const Options conv = conv_options(a, 7), below = below_options(a, 8);
  const Conv2dShape s = conv_shape(a, x, w, y, conv);
  a.expect(dy, "dy", DType::kFloat32, {s.n, s.oh, s.ow, s.f}, "[N,OH,OW,F]");
  if (dx) a.expect(dx, "dx", DType::kFloat32, {s.n, s.h, s.w, s.c}, "[N,H,W,C]");
  if (dw) a.expect(dw, "dw", DType::kFloat32, {s.kh, s.kw, s.c, s.f}, "[KH,KW,C,F]");
  if (db) a.expect(db, "db", DType::kFloat32, {s.f}, "[F]");
  TensorHandle* pre;
  Epilogue ep = conv_epilogue(a, conv, y, &pre);
  below_act(a, below, x, dx, &ep);
  a.distinct({dx, dw, db, x, w, y, dy, pre});
  if (!dx && !dw && !db) return;  // nothing asked for
  a.run([s, x = x->f32(), w = w->f32(), y = y->f32(), dy = dy->f32(), dx = dx ? dx->f32() : nullptr,
         dw = dw ? dw->f32() : nullptr, db = db ? db->f32() : nullptr,
         ep](Backend& be) { return be.conv2d_backward(s, x, w, y, dy, dx, dw, db, ep); });
}

// The max-pool's argmax is an int32 index into one image ([H, W, C]), and both backends' pools index an image
// in 32 bits: an image of 2^31 elements or more is refused.
void check_argmax_range(Args& a, const Pool2dShape& s) {
  if ((long long)s.h * s.w * s.c > INT32_MAX)
    a.fail("ERR_KERNELNET_SHAPE",
           "pooling over images of " + std::to_string((long long)s.h * s.w * s.c) +
               " elements: indices within an image (and the int32 argmax) reach 2^31 - 1");
}

Pool2dShape pool_shape(Args& a, TensorHandle* x, int first_window_arg) {
  a.expect_rank(x, "x", DType::kFloat32, 4, "[N,H,W,C]");
  Pool2dShape s{};
  const auto& xs = x->shape();
  s.n = static_cast<int>(xs[0]), s.h = static_cast<int>(xs[1]), s.w = static_cast<int>(xs[2]),
  s.c = static_cast<int>(xs[3]);
  const int i = first_window_arg;
  s.ph = a.integer(i, "poolH", 1, 1 << 16), s.pw = a.integer(i + 1, "poolW", 1, 1 << 16);
  s.sh = a.integer(i + 2, "strideH", 1, 1 << 16), s.sw = a.integer(i + 3, "strideW", 1, 1 << 16);
  const bool same = !a.value(i + 4).IsUndefined() && a.choice(i + 4, "padding", {"valid", "same"}) == "same";
  s.oh = out_size(s.h, s.ph, s.sh, same, &s.pt);
  s.ow = out_size(s.w, s.pw, s.sw, same, &s.pl);
  if (s.oh < 1 || s.ow < 1)
    a.fail("ERR_KERNELNET_SHAPE", "a " + std::to_string(s.ph) + "x" + std::to_string(s.pw) +
                                      " pool window does not fit " + x->describe());
  check_argmax_range(a, s);
  return s;
}

// maxPool2dForward(x, y, argmax, poolH, poolW, strideH, strideW, padding = 'valid')
void MaxPool2dForward(const Napi::CallbackInfo& info) {
  Args a(info, "maxPool2dForward");
  TensorHandle *x = a.tensor(0, "x"), *y = a.tensor(1, "y"), *argmax = a.tensor(2, "argmax");
  const Pool2dShape s = pool_shape(a, x, 3);
  a.expect(y, "y", DType::kFloat32, {s.n, s.oh, s.ow, s.c}, "[N,OH,OW,C]");
  a.expect(argmax, "argmax", DType::kInt32, {s.n, s.oh, s.ow, s.c}, "[N,OH,OW,C]");
  a.distinct({y, argmax, x});
  a.run([s, x = x->f32(), y = y->f32(), argmax = argmax->i32()](Backend& be) {
    return be.maxpool2d_forward(s, x, y, argmax);
  });
}

// maxPool2dBackward(dy, argmax, dx, poolH, poolW, strideH, strideW, padding = 'valid')
void MaxPool2dBackward(const Napi::CallbackInfo& info) {
  Args a(info, "maxPool2dBackward");
  TensorHandle *dy = a.tensor(0, "dy"), *argmax = a.tensor(1, "argmax"), *dx = a.tensor(2, "dx");
  const Pool2dShape s = pool_shape(a, dx, 3);
  a.expect(dy, "dy", DType::kFloat32, {s.n, s.oh, s.ow, s.c}, "[N,OH,OW,C]");
  a.expect(argmax, "argmax", DType::kInt32, {s.n, s.oh, s.ow, s.c}, "[N,OH,OW,C]");
  a.distinct({dx, dy, argmax});
  a.run([s, dy = dy->f32(), argmax = argmax->i32(), dx = dx->f32()](Backend& be) {
    return be.maxpool2d_backward(s, dy, argmax, dx);
  });
}

// The max-pool of the conv + pool op, over the conv's output [N, OH, OW, F]: a window of pool.poolSize, its
// strides the window (non-overlapping), with pool.padding.
Pool2dShape conv_pool_shape(Args& a, const Conv2dShape& c, const Options& pool) {
  Pool2dShape p{};
  p.n = c.n, p.h = c.oh, p.w = c.ow, p.c = c.f;
  const std::array<int, 2> window = a.integer_pair(pool["poolSize"], 1, 1 << 16);
  p.ph = window[0], p.pw = window[1];
  p.sh = p.ph, p.sw = p.pw;
  const bool same = a.choice(pool["padding"], {"valid", "same"}) == "same";
  p.oh = out_size(p.h, p.ph, p.sh, same, &p.pt);
  p.ow = out_size(p.w, p.pw, p.sw, same, &p.pl);
  if (p.oh < 1 || p.ow < 1)
    a.fail("ERR_KERNELNET_SHAPE", "a " + std::to_string(p.ph) + "x" + std::to_string(p.pw) +
                                      " pool window does not fit the convolution's output [" +
                                      std::to_string(c.n) + ", " + std::to_string(c.oh) + ", " +
                                      std::to_string(c.ow) + ", " + std::to_string(c.f) + "]");
  check_argmax_range(a, p);
  return p;
}

// A Dropout after the conv + pool op's pool, from drop (given: the op applies it): dropoutForward's rate,
// seed, offset and counter.
DropoutArgs drop_args(Args& a, const Options& drop) {
  DropoutArgs d;
  d.rate = static_cast<float>(a.number(drop["rate"], 0.0, 0.999999));
  d.seed = a.uint53(drop["seed"]), d.offset = a.uint53(drop["offset"]);
  d.counter = step_counter(a, drop["counter"]);
  return d;
}

// conv2dPoolForward(x, w, b | null, pooled, argmax, conv, pool, drop?, dropped?): conv2dForward then
// maxPool2dForward with strides equal to the window, as one op that keeps no conv output. With drop, also
// dropoutForward(pooled, dropped, drop.rate, drop.seed, drop.offset, drop.counter) (a Dropout after the pool,
// in training).
void Conv2dPoolForward(const Napi::CallbackInfo& info) {
  Args a(info, "conv2dPoolForward");
  TensorHandle *x = a.tensor(0, "x"), *w = a.tensor(1, "w"), *b = a.optional_tensor(2, "b"),
               *pooled = a.tensor(3, "pooled"), *argmax = a.tensor(4, "argmax");
  const Options conv = conv_options(a, 5), pool = pool_options(a, 6), drop_obj = drop_options(a, 7);
  TensorHandle* pre;
  Epilogue ep = conv_epilogue(a, conv, nullptr, &pre);
  const Conv2dShape s = conv_shape(a, x, w, nullptr, conv);
  const Pool2dShape p = conv_pool_shape(a, s, pool);
  if (b) a.expect(b, "b", DType::kFloat32, {s.f}, "[F]");
  a.expect(pooled, "pooled", DType::kFloat32, {p.n, p.oh, p.ow, p.c}, "[N,POH,POW,F]");
  a.expect(argmax, "argmax", DType::kInt32, {p.n, p.oh, p.ow, p.c}, "[N,POH,POW,F]");
  ep.bias = b ? b->f32() : nullptr;
  DropoutArgs drop;
  TensorHandle* dropped = nullptr;
  if (drop_obj.given()) {
    drop = drop_args(a, drop_obj);
    dropped = a.tensor(8, "dropped");
    a.expect(dropped, "dropped", DType::kFloat32, {p.n, p.oh, p.ow, p.c}, "[N,POH,POW,F]");
  }
  a.distinct({pooled, argmax, dropped, x, w, b});
  a.run([s, p, x = x->f32(), w = w->f32(), ep, pooled = pooled->f32(), argmax = argmax->i32(), drop,
         dropped = dropped ? dropped->f32() : nullptr](Backend& be) {
    return be.conv2d_pool_forward(s, p, x, w, ep, pooled, argmax, drop, dropped);
  });
}

// conv2dPoolBackward(x, w, pooled, argmax, dpooled, dx | null, dw | null, db | null, conv, pool, drop?,
// below?): from what conv2dPoolForward wrote and the pooled output's gradient, as maxPool2dBackward then
// conv2dBackward. With drop, dpooled is the gradient of dropoutForward(pooled, drop.rate, drop.seed,
// drop.offset, drop.counter) (a Dropout after the pool), whose backward runs first.
void Conv2dPoolBackward(const Napi::CallbackInfo& info) {
  Args a(info, "conv2dPoolBackward");
  TensorHandle *x = a.tensor(0, "x"), *w = a.tensor(1, "w"), *pooled = a.tensor(2, "pooled"),
               *argmax = a.tensor(3, "argmax"), *dpooled = a.tensor(4, "dpooled");
  TensorHandle *dx = a.optional_tensor(5, "dx"), *dw = a.optional_tensor(6, "dw"),
               *db = a.optional_tensor(7, "db");
  const Options conv = conv_options(a, 8), pool = pool_options(a, 9), drop_obj = drop_options(a, 10),
                below = below_options(a, 11);
  TensorHandle* pre;
  Epilogue ep = conv_epilogue(a, conv, nullptr, &pre);
  const Conv2dShape s = conv_shape(a, x, w, nullptr, conv);
  const Pool2dShape p = conv_pool_shape(a, s, pool);
  a.expect(pooled, "pooled", DType::kFloat32, {p.n, p.oh, p.ow, p.c}, "[N,POH,POW,F]");
  a.expect(argmax, "argmax", DType::kInt32, {p.n, p.oh, p.ow, p.c}, "[N,POH,POW,F]");
  a.expect(dpooled, "dpooled", DType::kFloat32, {p.n, p.oh, p.ow, p.c}, "[N,POH,POW,F]");
  if (dx) a.expect(dx, "dx", DType::kFloat32, {s.n, s.h, s.w, s.c}, "[N,H,W,C]");
  if (dw) a.expect(dw, "dw", DType::kFloat32, {s.kh, s.kw, s.c, s.f}, "[KH,KW,C,F]");
  if (db) a.expect(db, "db", DType::kFloat32, {s.f}, "[F]");
  const DropoutArgs drop = drop_obj.given() ? drop_args(a, drop_obj) : DropoutArgs{};
  below_act(a, below, x, dx, &ep);
  a.distinct({dx, dw, db, x, w, pooled, argmax, dpooled});
  if (!dx && !dw && !db) return;  // nothing asked for
  a.run([s, p, x = x->f32(), w = w->f32(), pooled = pooled->f32(), argmax = argmax->i32(),
         dpooled = dpooled->f32(), dx = dx ? dx->f32() : nullptr, dw = dw ? dw->f32() : nullptr,
         db = db ? db->f32() : nullptr, ep, drop](Backend& be) {
    return be.conv2d_pool_backward(s, p, x, w, pooled, argmax, dpooled, dx, dw, db, ep, drop);
  });
}

// avgPool2dForward(x, y, poolH, poolW, strideH, strideW, padding = 'valid')
void AvgPool2dForward(const Napi::CallbackInfo& info) {
  Args a(info, "avgPool2dForward");
  TensorHandle *x = a.tensor(0, "x"), *y = a.tensor(1, "y");
  const Pool2dShape s = pool_shape(a, x, 2);
  a.expect(y, "y", DType::kFloat32, {s.n, s.oh, s.ow, s.c}, "[N,OH,OW,C]");
  a.distinct({y, x});
  a.run([s, x = x->f32(), y = y->f32()](Backend& be) { return be.avgpool2d_forward(s, x, y); });
}

// avgPool2dBackward(dy, dx, poolH, poolW, strideH, strideW, padding = 'valid')
void AvgPool2dBackward(const Napi::CallbackInfo& info) {
  Args a(info, "avgPool2dBackward");
  TensorHandle *dy = a.tensor(0, "dy"), *dx = a.tensor(1, "dx");
  const Pool2dShape s = pool_shape(a, dx, 2);
  a.expect(dy, "dy", DType::kFloat32, {s.n, s.oh, s.ow, s.c}, "[N,OH,OW,C]");
  a.distinct({dx, dy});
  a.run([s, dy = dy->f32(), dx = dx->f32()](Backend& be) { return be.avgpool2d_backward(s, dy, dx); });
}

// The Pad2dShape of x [N,H,W,C] and padding [[top, bottom], [left, right]] (argument i).
Pad2dShape pad_shape(Args& a, TensorHandle* x, const char* x_name, int i) {
  a.expect_rank(x, x_name, DType::kFloat32, 4, "[N,H,W,C]");
  const Napi::Value padding = a.value(i);
  if (!padding.IsArray() || padding.As<Napi::Array>().Length() != 2)
    a.fail("ERR_KERNELNET_ARG", "expected padding to be [[top, bottom], [left, right]]", !padding.IsArray());
  const Napi::Array rows_cols = padding.As<Napi::Array>();
  const auto rows = a.integer_pair(Arg{rows_cols[0u], "padding[0]"}, 0, 1 << 16);
  const auto cols = a.integer_pair(Arg{rows_cols[1u], "padding[1]"}, 0, 1 << 16);
  const auto& xs = x->shape();
  Pad2dShape s{static_cast<int>(xs[0]),
               static_cast<int>(xs[1]),
               static_cast<int>(xs[2]),
               static_cast<int>(xs[3]),
               rows[0],
               rows[1],
               cols[0],
               cols[1]};
  if (static_cast<int64_t>(s.h) + s.top + s.bottom > INT32_MAX ||
      static_cast<int64_t>(s.w) + s.left + s.right > INT32_MAX)
    a.fail("ERR_KERNELNET_SHAPE", "the padded image is too large");
  return s;
}

// pad2dForward(x, y, [[top, bottom], [left, right]]): y is x with zeros around each image.
void Pad2dForward(const Napi::CallbackInfo& info) {
  Args a(info, "pad2dForward");
  TensorHandle *x = a.tensor(0, "x"), *y = a.tensor(1, "y");
  const Pad2dShape s = pad_shape(a, x, "x", 2);
  a.expect(y, "y", DType::kFloat32, {s.n, s.oh(), s.ow(), s.c}, "[N,H+top+bottom,W+left+right,C]");
  a.distinct({y, x});
  a.run([s, x = x->f32(), y = y->f32()](Backend& be) { return be.pad2d_forward(s, x, y); });
}

// pad2dBackward(dy, dx, [[top, bottom], [left, right]]): dx is dy's region inside the padding.
void Pad2dBackward(const Napi::CallbackInfo& info) {
  Args a(info, "pad2dBackward");
  TensorHandle *dy = a.tensor(0, "dy"), *dx = a.tensor(1, "dx");
  const Pad2dShape s = pad_shape(a, dx, "dx", 2);
  a.expect(dy, "dy", DType::kFloat32, {s.n, s.oh(), s.ow(), s.c}, "[N,H+top+bottom,W+left+right,C]");
  a.distinct({dx, dy});
  a.run([s, dy = dy->f32(), dx = dx->f32()](Backend& be) { return be.pad2d_backward(s, dy, dx); });
}

void dense_dims(Args& a, TensorHandle* x, TensorHandle* w, int* n, int* in, int* out) {
  a.expect_rank(x, "x", DType::kFloat32, 2, "[N,I]");
  a.expect(w, "w", DType::kFloat32, {x->shape()[1], kAny}, "[I,O]");
  if (x->shape()[0] * x->shape()[1] > INT_MAX || w->size() > INT_MAX)
    a.fail("ERR_KERNELNET_SHAPE", "dense operands over 2^31 elements are not supported");
  *n = static_cast<int>(x->shape()[0]), *in = static_cast<int>(x->shape()[1]),
  *out = static_cast<int>(w->shape()[1]);
}

// denseForward(x, w, b | null, y, activation, pre?, alpha?): pre and alpha as conv2dForward's conv.pre and
// conv.alpha.
void DenseForward(const Napi::CallbackInfo& info) {
  Args a(info, "denseForward");
  TensorHandle *x = a.tensor(0, "x"), *w = a.tensor(1, "w"), *b = a.optional_tensor(2, "b"),
               *y = a.tensor(3, "y");
  const Act act = a.activation(4);
  int n, in, out;
  dense_dims(a, x, w, &n, &in, &out);
  if (b) a.expect(b, "b", DType::kFloat32, {out}, "[O]");
  a.expect(y, "y", DType::kFloat32, {n, out}, "[N,O]");
  Epilogue ep;
  TensorHandle* pre;
  a.activation_extras(5, act, y, &ep, &pre);
  ep.bias = b ? b->f32() : nullptr;
  a.distinct({y, pre, x, w, b});
  a.run([n, in, out, x = x->f32(), w = w->f32(), ep, y = y->f32()](Backend& be) {
    return be.dense_forward(n, in, out, x, w, ep, y);
  });
}

// gemmVariant(kernel, a, b, c, ta, tb): c = op(a) op(b) with the backend's numbered GEMM variant `kernel`
// (backends().cuda.variants.gemm), for the kernel lab (bench/lab.ts) and its tests; a is [M, K] ([K, M] if
// ta), b [K, N] ([N, K] if tb), c [M, N]. Not recordable: the lab runs it directly.
void GemmVariant(const Napi::CallbackInfo& info) {
  Args a(info, "gemmVariant");
  const int kernel = a.integer(0, "kernel", 1, 1000);
  TensorHandle *ta_ = a.tensor(1, "a"), *tb_ = a.tensor(2, "b"), *tc = a.tensor(3, "c");
  const bool ta = a.boolean(4, "ta"), tb = a.boolean(5, "tb");
  a.expect_rank(ta_, "a", DType::kFloat32, 2, ta ? "[K,M]" : "[M,K]");
  a.expect_rank(tb_, "b", DType::kFloat32, 2, tb ? "[N,K]" : "[K,N]");
  const int64_t m = ta_->shape()[ta ? 1 : 0], k = ta_->shape()[ta ? 0 : 1];
  const int64_t n = tb_->shape()[tb ? 0 : 1];
  if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX)
    a.fail("ERR_KERNELNET_SHAPE", "dimensions past 2^31 - 1");
  a.expect(tb_, "b", DType::kFloat32, {tb ? n : k, tb ? k : n}, tb ? "[N,K]" : "[K,N]");
  a.expect(tc, "c", DType::kFloat32, {m, n}, "[M,N]");
  a.distinct({tc, ta_, tb_});
  a.run(
      [=, a_ = ta_->f32(), b_ = tb_->f32(), c = tc->f32()](Backend& be) {
        return be.gemm_variant(kernel, ta, tb, (int)m, (int)n, (int)k, a_, ta ? (int)m : (int)k, b_,
                               tb ? (int)k : (int)n, c);
      },
      false);
}

// denseBackward(x, w, y, dy, dx | null, dw | null, db | null, activation, pre?, alpha?, belowActivation?,
// belowAlpha?): as conv2dBackward's, whose below object holds what belowActivation and belowAlpha are here.
void DenseBackward(const Napi::CallbackInfo& info) {
  Args a(info, "denseBackward");
  TensorHandle *x = a.tensor(0, "x"), *w = a.tensor(1, "w"), *y = a.tensor(2, "y"), *dy = a.tensor(3, "dy");
  TensorHandle *dx = a.optional_tensor(4, "dx"), *dw = a.optional_tensor(5, "dw"),
               *db = a.optional_tensor(6, "db");
  const Act act = a.activation(7);
  int n, in, out;
  dense_dims(a, x, w, &n, &in, &out);
  a.expect(y, "y", DType::kFloat32, {n, out}, "[N,O]");
  a.expect(dy, "dy", DType::kFloat32, {n, out}, "[N,O]");
  if (dx) a.expect(dx, "dx", DType::kFloat32, {n, in}, "[N,I]");
  if (dw) a.expect(dw, "dw", DType::kFloat32, {in, out}, "[I,O]");
  if (db) a.expect(db, "db", DType::kFloat32, {out}, "[O]");
  Epilogue ep;
  TensorHandle* pre;
  a.activation_extras(8, act, y, &ep, &pre);
  below_act(a, a.arg(10, "belowActivation"), a.arg(11, "belowAlpha"), x, dx, &ep);
  a.distinct({dx, dw, db, x, w, y, dy, pre});
  if (!dx && !dw && !db) return;  // nothing asked for
  a.run([n, in, out, x = x->f32(), w = w->f32(), y = y->f32(), dy = dy->f32(), dx = dx ? dx->f32() : nullptr,
         dw = dw ? dw->f32() : nullptr, db = db ? db->f32() : nullptr,
         ep](Backend& be) { return be.dense_backward(n, in, out, x, w, y, dy, dx, dw, db, ep); });
}

void same_size(Args& a, TensorHandle* src, const char* src_name, TensorHandle* dst, const char* dst_name) {
  if (src->dtype() != DType::kFloat32 || dst->dtype() != DType::kFloat32 || src->size() != dst->size())
    a.fail("ERR_KERNELNET_SHAPE", std::string("expected ") + src_name + " and " + dst_name +
                                      " to be float32 tensors of the same size but received " +
                                      src->describe() + " and " + dst->describe());
}

// dropoutForward(x, y, rate, seed, offset, counter?) / dropoutBackward(dy, dx, rate, seed, offset, counter?,
// below?, x?): backward given below ({activation, alpha?}, as the conv ops') also applies the layer below's
// activation to dx from x, the dropout's input (that layer's output).
template <bool kForward>
void Dropout(const Napi::CallbackInfo& info) {
  Args a(info, kForward ? "dropoutForward" : "dropoutBackward");
  TensorHandle *src = a.tensor(0, kForward ? "x" : "dy"), *dst = a.tensor(1, kForward ? "y" : "dx");
  const float rate = static_cast<float>(a.number(2, "rate", 0.0, 0.999999));
  const uint64_t seed = a.uint53(3, "seed"), offset = a.uint53(4, "offset");
  const int32_t* counter = step_counter(a, 5);
  same_size(a, src, kForward ? "x" : "dy", dst, kForward ? "y" : "dx");
  Epilogue ep;
  if (!kForward) {
    const Options below = below_options(a, 6);
    if (below.given()) {
      TensorHandle* x = a.tensor(7, "x");
      same_size(a, src, "dy", x, "x");
      a.distinct_output(dst, {x, src});
      below_act(a, below, x, dst, &ep);
    }
  }
  a.run([count = src->size(), src = src->f32(), dst = dst->f32(), rate, seed, offset, counter,
         below = ep.below](Backend& be) {
    return kForward ? be.dropout_forward(count, src, dst, rate, seed, offset, counter)
                    : be.dropout_backward(count, src, dst, rate, seed, offset, counter, below);
  });
}

// advance(counter, also?): counter[0] += 1, and also[0] += 1 when given (one launch on a GPU), on the
// counters' device, queued after the work that reads them.
void Advance(const Napi::CallbackInfo& info) {
  Args a(info, "advance");
  TensorHandle* c = a.tensor(0, "counter");
  a.expect(c, "counter", DType::kInt32, {1}, "(the step counter)");
  TensorHandle* also = a.optional_tensor(1, "also");
  if (also) {
    a.expect(also, "also", DType::kInt32, {1}, "(a second counter)");
    a.distinct({c, also});
  }
  a.run([c = c->i32(), also = also ? also->i32() : nullptr](Backend& be) { return be.advance(c, also); });
}

// The arguments shared by loss() and softmaxCrossEntropy() from index `first` on: pred, labels, then (after
// the caller's own) metrics, step, counter. Labels are float32 [N,K] targets, or int32 [N] class indices when
// `classes_ok`.
// A loss's labels for n rows of k predictions: float32 [N,K] targets, or int32 [N] class indices when
// `classes_ok`. Returns whether they are class indices.
bool loss_labels(Args& a, const LossSpec& spec, TensorHandle* y, int64_t n, int64_t k, bool classes_ok) {
  const bool classes = classes_ok && y->dtype() == DType::kInt32;
  if (classes)
    a.expect(y, "labels", DType::kInt32, {n}, "[N] (class indices)");
  else
    a.expect(y, "labels", DType::kFloat32, {n, k}, "[N,K]");
  if (spec.accuracy == LossSpec::Accuracy::kSparse && !classes)
    a.fail("ERR_KERNELNET_ARG", "sparse accuracy needs int32 class labels [N]");
  return classes;
}

void run_loss(Args& a, const LossSpec& spec, TensorHandle* z, TensorHandle* y, TensorHandle* w,
              TensorHandle* dz, TensorHandle* m, uint64_t step, const int32_t* counter, bool classes_ok) {
  a.expect_rank(z, "predictions", DType::kFloat32, 2, "[N,K]");
  const int64_t n = z->shape()[0], k = z->shape()[1];
  if (k < 1)
    a.fail("ERR_KERNELNET_SHAPE",
           "expected predictions with at least one column but received " + z->describe());
  const bool classes = loss_labels(a, spec, y, n, k, classes_ok);
  if (dz) a.expect(dz, "dpred", DType::kFloat32, {n, k}, "[N,K]");
  a.expect(m, "metrics", DType::kFloat32, {kMetricSlots}, "(loss.h's metric slots)");
  if (w) a.expect(w, "weights", DType::kFloat32, {n}, "[N]");
  a.distinct({dz, m, z, y, w});
  if (n == 0) return;
  a.run([spec, n = static_cast<int>(n), k = static_cast<int>(k), z = z->f32(),
         labels = classes ? nullptr : y->f32(), cls = classes ? y->i32() : nullptr,
         w = w ? w->f32() : nullptr, dz = dz ? dz->f32() : nullptr, m = m->f32(), step,
         counter](Backend& be) { return be.loss(spec, n, k, z, labels, cls, w, dz, m, step, counter); });
}

// softmaxCrossEntropy(logits, labels, dlogits | null, metrics, step, counter?, weights?): loss() for
// categorical cross-entropy with categorical accuracy.
void SoftmaxCrossEntropy(const Napi::CallbackInfo& info) {
  Args a(info, "softmaxCrossEntropy");
  TensorHandle *z = a.tensor(0, "logits"), *y = a.tensor(1, "labels"), *dz = a.optional_tensor(2, "dlogits");
  TensorHandle* m = a.tensor(3, "metrics");
  const uint64_t step = a.uint53(4, "step");
  const int32_t* counter = step_counter(a, 5);
  TensorHandle* w = a.optional_tensor(6, "weights");
  run_loss(a, LossSpec{}, z, y, w, dz, m, step, counter, false);
}

// loss(kind, accuracy, pred, labels, weights | null, dpred | null, metrics, step, counter?): kind
// 'crossentropy' | 'binary_crossentropy' | 'mse' | 'mae', or 'crossentropy_clipped' |
// 'binary_crossentropy_clipped' (tfjs-layers' cross-entropies on clipped probabilities: LossSpec's
// clip_probabilities), accuracy 'none' | 'categorical' | 'sparse' | 'binary'; labels float32 [N,K] or, for
// the categorical cross-entropies, int32 [N] class indices (sparse categorical cross-entropy). The loss kind
// and accuracy at arguments i, i + 1.
LossSpec loss_spec(Args& a, int i) {
  const std::string kind = a.choice(i, "kind",
                                    {"crossentropy", "binary_crossentropy", "mse", "mae",
                                     "crossentropy_clipped", "binary_crossentropy_clipped"});
  const std::string acc = a.choice(i + 1, "accuracy", {"none", "categorical", "sparse", "binary"});
  LossSpec spec;
  spec.clip_probabilities = kind == "crossentropy_clipped" || kind == "binary_crossentropy_clipped";
  spec.kind = kind == "crossentropy" || kind == "crossentropy_clipped" ? LossSpec::Kind::kCrossentropy
              : kind == "binary_crossentropy" || kind == "binary_crossentropy_clipped"
                  ? LossSpec::Kind::kBinaryCrossentropy
              : kind == "mse" ? LossSpec::Kind::kMse
                              : LossSpec::Kind::kMae;
  spec.accuracy = acc == "categorical" ? LossSpec::Accuracy::kCategorical
                  : acc == "sparse"    ? LossSpec::Accuracy::kSparse
                  : acc == "binary"    ? LossSpec::Accuracy::kBinary
                                       : LossSpec::Accuracy::kNone;
  return spec;
}

void Loss(const Napi::CallbackInfo& info) {
  Args a(info, "loss");
  const LossSpec spec = loss_spec(a, 0);
  TensorHandle *z = a.tensor(2, "pred"), *y = a.tensor(3, "labels"), *w = a.optional_tensor(4, "weights");
  TensorHandle *dz = a.optional_tensor(5, "dpred"), *m = a.tensor(6, "metrics");
  const uint64_t step = a.uint53(7, "step");
  const int32_t* counter = step_counter(a, 8);
  run_loss(a, spec, z, y, w, dz, m, step, counter, spec.kind == LossSpec::Kind::kCrossentropy);
}

// denseLoss(kind, accuracy, x, w, b | null, logits, labels, weights | null, dlogits, dx | null, dw | null,
// db | null, metrics, step, counter?): a linear Dense layer's forward into logits, loss() on them (dlogits
// its gradient) and the layer's backward, as one op (backend.h's dense_loss: the model's head in a training
// step).
void DenseLoss(const Napi::CallbackInfo& info) {
  Args a(info, "denseLoss");
  const LossSpec spec = loss_spec(a, 0);
  TensorHandle *x = a.tensor(2, "x"), *w = a.tensor(3, "w"), *b = a.optional_tensor(4, "b"),
               *z = a.tensor(5, "logits"), *y = a.tensor(6, "labels"), *wt = a.optional_tensor(7, "weights"),
               *dz = a.tensor(8, "dlogits"), *dx = a.optional_tensor(9, "dx"),
               *dw = a.optional_tensor(10, "dw"), *db = a.optional_tensor(11, "db"),
               *m = a.tensor(12, "metrics");
  const uint64_t step = a.uint53(13, "step");
  const int32_t* counter = step_counter(a, 14);
  int n, in, k;
  dense_dims(a, x, w, &n, &in, &k);
  if (k < 1)
    a.fail("ERR_KERNELNET_SHAPE", "expected w with at least one column but received " + w->describe());
  if (b) a.expect(b, "b", DType::kFloat32, {k}, "[K]");
  a.expect(z, "logits", DType::kFloat32, {n, k}, "[N,K]");
  if (dx) a.expect(dx, "dx", DType::kFloat32, {n, in}, "[N,I]");
  if (dw) a.expect(dw, "dw", DType::kFloat32, {in, k}, "[I,K]");
  if (db) a.expect(db, "db", DType::kFloat32, {k}, "[K]");
  const bool classes = loss_labels(a, spec, y, n, k, spec.kind == LossSpec::Kind::kCrossentropy);
  a.expect(dz, "dlogits", DType::kFloat32, {n, k}, "[N,K]");
  a.expect(m, "metrics", DType::kFloat32, {kMetricSlots}, "(loss.h's metric slots)");
  if (wt) a.expect(wt, "weights", DType::kFloat32, {n}, "[N]");
  a.distinct({z, dz, dx, dw, db, m, x, w, b, y, wt});
  if (n == 0) return;
  a.run([spec, n, in, k, x = x->f32(), w = w->f32(), b = b ? b->f32() : nullptr, z = z->f32(),
         labels = classes ? nullptr : y->f32(), cls = classes ? y->i32() : nullptr,
         wt = wt ? wt->f32() : nullptr, dz = dz->f32(), dx = dx ? dx->f32() : nullptr,
         dw = dw ? dw->f32() : nullptr, db = db ? db->f32() : nullptr, m = m->f32(), step,
         counter](Backend& be) {
    return be.dense_loss(spec, n, in, k, x, w, b, z, labels, cls, wt, dz, dx, dw, db, m, step, counter);
  });
}

// softmax(logits, probs)
void Softmax(const Napi::CallbackInfo& info) {
  Args a(info, "softmax");
  TensorHandle *z = a.tensor(0, "logits"), *p = a.tensor(1, "probs");
  a.expect_rank(z, "logits", DType::kFloat32, 2, "[N,K]");
  a.expect(p, "probs", DType::kFloat32, {z->shape()[0], z->shape()[1]}, "[N,K]");
  a.distinct({p, z});
  if (z->size() == 0) return;
  a.run([n = static_cast<int>(z->shape()[0]), k = static_cast<int>(z->shape()[1]), z = z->f32(),
         p = p->f32()](Backend& be) { return be.softmax(n, k, z, p); });
}

// A learning-rate schedule from (kind, params): 'exponential' [initial, decaySteps, decayRate, staircase],
// 'piecewise' [boundaries..., values...] (one more value than boundaries), 'cosine' [initial, decaySteps,
// alpha, warmupTarget (NaN: no warm-up), warmupSteps]. lib/engine/schedules.ts checks the values with
// friendlier messages.
Schedule schedule_arg(Args& a, int i) {
  const std::string kind = a.choice(i, "schedule", {"exponential", "piecewise", "cosine"});
  const Napi::Value v = a.value(i + 1);
  if (!v.IsArray())
    a.fail("ERR_KERNELNET_ARG", "expected params to be an array of numbers but received " + describe_value(v),
           true);
  const Napi::Array arr = v.As<Napi::Array>();
  std::vector<double> p;
  for (uint32_t j = 0; j < arr.Length(); ++j) {
    const Napi::Value e = arr.Get(j);
    if (!e.IsNumber())
      a.fail("ERR_KERNELNET_ARG",
             "expected params[" + std::to_string(j) + "] to be a number but received " + describe_value(e),
             true);
    p.push_back(e.As<Napi::Number>().DoubleValue());
  }
  auto bad = [&](const std::string& why) { a.fail("ERR_KERNELNET_ARG", "schedule '" + kind + "': " + why); };
  auto finite = [&](std::size_t j) {
    if (!std::isfinite(p[j])) bad("params[" + std::to_string(j) + "] is not a finite number");
    return static_cast<float>(p[j]);
  };
  Schedule s;
  if (kind == "exponential") {
    if (p.size() != 4) bad("expected 4 params [initial, decaySteps, decayRate, staircase]");
    s.kind = Schedule::Kind::kExponential;
    s.initial = finite(0), s.decay_steps = finite(1), s.decay_rate = finite(2), s.staircase = p[3] != 0;
    if (!(s.decay_steps > 0)) bad("decaySteps must be > 0");
  } else if (kind == "piecewise") {
    if (p.size() % 2 != 1 || p.size() > 2 * Schedule::kMaxBoundaries + 1)
      bad("expected n boundaries then n + 1 values, n <= " + std::to_string(Schedule::kMaxBoundaries));
    s.kind = Schedule::Kind::kPiecewise;
    s.pieces = static_cast<int32_t>(p.size() / 2);
    for (int j = 0; j < s.pieces; ++j) {
      if (p[j] != std::floor(p[j]) || !(p[j] >= INT32_MIN && p[j] <= INT32_MAX) || (j && p[j] <= p[j - 1]))
        bad("boundaries must be strictly increasing int32 step counts");
      s.boundaries[j] = static_cast<int32_t>(p[j]);
    }
    for (int j = 0; j <= s.pieces; ++j) s.values[j] = finite(s.pieces + j);
  } else {
    if (p.size() != 5) bad("expected 5 params [initial, decaySteps, alpha, warmupTarget, warmupSteps]");
    s.kind = Schedule::Kind::kCosine;
    s.initial = finite(0), s.decay_steps = finite(1), s.alpha = finite(2);
    s.warmup = !std::isnan(p[3]);
    if (s.warmup) s.warmup_target = finite(3), s.warmup_steps = finite(4);
    if (!(s.decay_steps > 0)) bad("decaySteps must be > 0");
    if (s.warmup && !(s.warmup_steps >= 0)) bad("warmupSteps must be >= 0");
  }
  return s;
}

// learningRate(schedule, params, iterations, lr): lr[0] = the schedule's rate at iterations[0], on their
// device.
void LearningRate(const Napi::CallbackInfo& info) {
  Args a(info, "learningRate");
  const Schedule s = schedule_arg(a, 0);
  TensorHandle *it = a.tensor(2, "iterations"), *lr = a.tensor(3, "lr");
  a.expect(it, "iterations", DType::kInt32, {1}, "(the optimizer's iterations)");
  a.expect(lr, "lr", DType::kFloat32, {1}, "(the learning rate)");
  a.run([s, it = it->i32(), lr = lr->f32()](Backend& be) { return be.learning_rate(s, it, lr); });
}

// scheduleValue(schedule, params, step): the schedule's rate at `step`, computed on the host by the same
// function as learningRate's.
Napi::Value ScheduleValue(const Napi::CallbackInfo& info) {
  Args a(info, "scheduleValue");
  const Schedule s = schedule_arg(a, 0);
  const int step = a.integer(2, "step", 0, INT32_MAX);
  return Napi::Number::New(info.Env(), schedule_value(s, step));
}

// optimizerStep(kind, hyper, params[], grads[], slots[][], lr, iterations): one update of every parameter by
// SGD, Adam(W), RMSprop or Adagrad (optim.h). hyper = [beta1 (rmsprop: rho), beta2, epsilon, momentum,
// nesterov, amsgrad, centered, weightDecay]; slots holds OptimizerHyper::slots() arrays, each with one tensor
// per parameter; lr (float32 [1]) and iterations (int32 [1]) live beside the parameters and are read when it
// runs.
void OptimizerStep(const Napi::CallbackInfo& info) {
  Args a(info, "optimizerStep");
  const std::string kind = a.choice(0, "kind", {"sgd", "adam", "rmsprop", "adagrad"});
  OptimizerHyper h;
  h.kind = kind == "sgd"       ? OptimizerHyper::Kind::kSgd
           : kind == "adam"    ? OptimizerHyper::Kind::kAdam
           : kind == "rmsprop" ? OptimizerHyper::Kind::kRmsprop
                               : OptimizerHyper::Kind::kAdagrad;
  const Napi::Value hv = a.value(1);
  if (!hv.IsArray() || hv.As<Napi::Array>().Length() != 8)
    a.fail("ERR_KERNELNET_ARG",
           "expected hyper to be an array of 8 numbers but received " + describe_value(hv), true);
  double hp[8];
  for (uint32_t j = 0; j < 8; ++j) {
    const Napi::Value e = hv.As<Napi::Array>().Get(j);
    hp[j] = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : NAN;
    if (!std::isfinite(hp[j]) || hp[j] < 0)
      a.fail("ERR_KERNELNET_ARG", "expected hyper[" + std::to_string(j) +
                                      "] to be a finite number >= 0 but received " + describe_value(e));
  }
  h.beta1 = static_cast<float>(hp[0]), h.beta2 = static_cast<float>(hp[1]),
  h.epsilon = static_cast<float>(hp[2]);
  h.momentum = static_cast<float>(hp[3]), h.nesterov = hp[4] != 0, h.amsgrad = hp[5] != 0,
  h.centered = hp[6] != 0;
  h.weight_decay = static_cast<float>(hp[7]);
  const auto params = a.tensor_array(2, "params"), grads = a.tensor_array(3, "grads");
  const Napi::Value sv = a.value(4);
  const int nslots = h.slots();
  if (!sv.IsArray() || sv.As<Napi::Array>().Length() != static_cast<uint32_t>(nslots))
    a.fail("ERR_KERNELNET_ARG",
           "expected slots to be an array of " + std::to_string(nslots) + " arrays for " + kind +
               " with these settings but received " + describe_value(sv),
           true);
  std::vector<std::vector<TensorHandle*>> slots;
  for (int k = 0; k < nslots; ++k) {
    const Napi::Value arr = sv.As<Napi::Array>().Get(static_cast<uint32_t>(k));
    if (!arr.IsArray() || arr.As<Napi::Array>().Length() != params.size())
      a.fail("ERR_KERNELNET_ARG",
             "expected slots[" + std::to_string(k) + "] to be an array of " + std::to_string(params.size()) +
                 " tensors but received " + describe_value(arr),
             true);
    std::vector<TensorHandle*> ts;
    for (uint32_t j = 0; j < params.size(); ++j)
      ts.push_back(a.tensor_value(arr.As<Napi::Array>().Get(j),
                                  ("slots[" + std::to_string(k) + "][" + std::to_string(j) + "]").c_str()));
    slots.push_back(std::move(ts));
  }
  TensorHandle *lr_t = a.tensor(5, "lr"), *it = a.tensor(6, "iterations");
  a.expect(lr_t, "lr", DType::kFloat32, {1}, "(the learning rate)");
  a.expect(it, "iterations", DType::kInt32, {1}, "(the optimizer's iterations)");
  if (grads.size() != params.size())
    a.fail("ERR_KERNELNET_ARG", "expected params and grads of the same length but received " +
                                    std::to_string(params.size()) + " and " + std::to_string(grads.size()));
  std::vector<OptimizerTensor> list;
  std::vector<Buffer*> seen{lr_t->buffer(), it->buffer()};
  for (std::size_t i = 0; i < params.size(); ++i) {
    std::vector<TensorHandle*> group{params[i], grads[i]};
    for (auto& s : slots) group.push_back(s[i]);
    OptimizerTensor t{params[i]->f32(), grads[i]->f32(), {nullptr, nullptr, nullptr}, params[i]->size()};
    for (std::size_t g = 0; g < group.size(); ++g) {
      TensorHandle* x = group[g];
      if (x->dtype() != DType::kFloat32 || x->shape() != params[i]->shape())
        a.fail("ERR_KERNELNET_SHAPE", "expected the gradient and slots of params[" + std::to_string(i) +
                                          "] to match it, a " + params[i]->describe() + ", but received " +
                                          x->describe());
      for (Buffer* b : seen)
        if (b == x->buffer())
          a.fail("ERR_KERNELNET_ARG",
                 "a tensor appears twice among params, grads, slots, lr and iterations (at index " +
                     std::to_string(i) + ")");
      seen.push_back(x->buffer());
      if (g >= 2) t.slot[g - 2] = x->f32();
    }
    list.push_back(t);
  }
  a.run([h, list = std::move(list), lr = lr_t->f32(), it = it->i32()](Backend& be) {
    return be.optimizer_step(h, list.data(), static_cast<int>(list.size()), lr, it);
  });
}

// adadelta(params[], grads[], accums[], deltaAccums[], lr, rho, epsilon): lr is a float32 tensor [1] beside
// the parameters, read when the update runs.
void Adadelta(const Napi::CallbackInfo& info) {
  Args a(info, "adadelta");
  const auto params = a.tensor_array(0, "params"), grads = a.tensor_array(1, "grads");
  const auto accums = a.tensor_array(2, "accums"), deltas = a.tensor_array(3, "deltaAccums");
  TensorHandle* lr_t = a.tensor(4, "lr");
  a.expect(lr_t, "lr", DType::kFloat32, {1}, "(the learning rate)");
  const float* lr = lr_t->f32();
  const float rho = static_cast<float>(a.number(5, "rho", 0.0, 1.0));
  const float eps = static_cast<float>(a.number(6, "epsilon", 0.0, 1e30));
  if (grads.size() != params.size() || accums.size() != params.size() || deltas.size() != params.size())
    a.fail("ERR_KERNELNET_ARG",
           "expected params, grads, accums and deltaAccums to have the same length but received " +
               std::to_string(params.size()) + ", " + std::to_string(grads.size()) + ", " +
               std::to_string(accums.size()) + " and " + std::to_string(deltas.size()));
  std::vector<AdadeltaTensor> list;
  std::vector<Buffer*> seen;
  for (std::size_t i = 0; i < params.size(); ++i) {
    TensorHandle* group[4] = {params[i], grads[i], accums[i], deltas[i]};
    for (TensorHandle* t : group) {
      if (t->dtype() != DType::kFloat32 || t->shape() != params[i]->shape())
        a.fail("ERR_KERNELNET_SHAPE", "expected grads[" + std::to_string(i) + "], accums[" +
                                          std::to_string(i) + "] and deltaAccums[" + std::to_string(i) +
                                          "] to match params[" + std::to_string(i) + "], a " +
                                          params[i]->describe() + ", but received " + t->describe());
      for (Buffer* b : seen)
        if (b == t->buffer())
          a.fail("ERR_KERNELNET_ARG",
                 "a tensor appears twice among params, grads, accums and deltaAccums (at index " +
                     std::to_string(i) + ")");
      seen.push_back(t->buffer());
    }
    list.push_back(
        {params[i]->f32(), grads[i]->f32(), accums[i]->f32(), deltas[i]->f32(), params[i]->size()});
  }
  for (Buffer* b : seen)
    if (b == lr_t->buffer()) a.fail("ERR_KERNELNET_ARG", "lr shares memory with a parameter or slot");
  a.run([list = std::move(list), lr, rho, eps](Backend& be) {
    return be.adadelta(list.data(), static_cast<int>(list.size()), lr, rho, eps);
  });
}

// activation(x, y, activation, alpha?): y = act(x) elementwise.
void Activation(const Napi::CallbackInfo& info) {
  Args a(info, "activation");
  TensorHandle *x = a.tensor(0, "x"), *y = a.tensor(1, "y");
  const Act act = a.activation(2);
  same_size(a, x, "x", y, "y");
  const float alpha = a.alpha(3, act);
  a.distinct({y, x});
  a.run([n = x->size(), x = x->f32(), y = y->f32(), act, alpha](Backend& be) {
    return be.activation_forward(n, x, y, act, alpha);
  });
}

// activationBackward(x, y, dy, dx, activation, alpha?): dx = dy * act'(x), from y = act(x) and x.
void ActivationBackward(const Napi::CallbackInfo& info) {
  Args a(info, "activationBackward");
  TensorHandle *x = a.tensor(0, "x"), *y = a.tensor(1, "y"), *dy = a.tensor(2, "dy"), *dx = a.tensor(3, "dx");
  const Act act = a.activation(4);
  same_size(a, x, "x", y, "y");
  same_size(a, x, "x", dy, "dy");
  same_size(a, x, "x", dx, "dx");
  const float alpha = a.alpha(5, act);
  a.distinct({dx, x, y, dy});
  a.run([n = x->size(), x = x->f32(), y = y->f32(), dy = dy->f32(), dx = dx->f32(), act, alpha](Backend& be) {
    return be.activation_backward(n, x, y, dy, dx, act, alpha);
  });
}

// The channel count and rows of x (rank >= 2, channels last), and a [C] tensor argument's check.
void bn_dims(Args& a, TensorHandle* x, BatchNormArgs* b) {
  if (x->dtype() != DType::kFloat32 || x->shape().size() < 2)
    a.fail("ERR_KERNELNET_SHAPE",
           "expected x to be a float32 tensor of rank >= 2 (channels last) but received " + x->describe());
  b->c = static_cast<int>(x->shape().back());
  b->m = b->c ? x->size() / b->c : 0;
  if (static_cast<long long>(b->m) > 16LL * 1024 * 1024)
    a.fail("ERR_KERNELNET_SHAPE",
           "batch normalization over more than 2^24 rows is not supported: " + x->describe());
}

// batchNormForward(x, y, gamma | null, beta | null, mean, invstd, movingMean, movingVar, momentum, epsilon,
// training): batchnorm.h; mean and invstd [C] receive the statistics used, for the backward op.
void BatchNormForward(const Napi::CallbackInfo& info) {
  Args a(info, "batchNormForward");
  TensorHandle *x = a.tensor(0, "x"), *y = a.tensor(1, "y"), *g = a.optional_tensor(2, "gamma"),
               *b = a.optional_tensor(3, "beta"), *mean = a.tensor(4, "mean"), *inv = a.tensor(5, "invstd"),
               *mm = a.tensor(6, "movingMean"), *mv = a.tensor(7, "movingVar");
  BatchNormArgs args;
  bn_dims(a, x, &args);
  args.momentum = static_cast<float>(a.number(8, "momentum", 0.0, 1.0));
  args.epsilon = static_cast<float>(a.number(9, "epsilon", 0.0, 1e30));
  args.training = a.boolean(10, "training");
  same_size(a, x, "x", y, "y");
  for (auto [t, name] : {std::pair{g, "gamma"},
                         {b, "beta"},
                         {mean, "mean"},
                         {inv, "invstd"},
                         {mm, "movingMean"},
                         {mv, "movingVar"}})
    if (t) a.expect(t, name, DType::kFloat32, {args.c}, "[C]");
  a.distinct({y, mean, inv, mm, mv, x, g, b});
  args.gamma = g ? g->f32() : nullptr, args.beta = b ? b->f32() : nullptr;
  a.run([args, x = x->f32(), y = y->f32(), mean = mean->f32(), inv = inv->f32(), mm = mm->f32(),
         mv = mv->f32()](Backend& be) { return be.batchnorm_forward(args, x, y, mean, inv, mm, mv); });
}

// batchNormBackward(x, dy, gamma | null, mean, invstd, dx | null, dgamma | null, dbeta | null, training)
void BatchNormBackward(const Napi::CallbackInfo& info) {
  Args a(info, "batchNormBackward");
  TensorHandle *x = a.tensor(0, "x"), *dy = a.tensor(1, "dy"), *g = a.optional_tensor(2, "gamma"),
               *mean = a.tensor(3, "mean"), *inv = a.tensor(4, "invstd"), *dx = a.optional_tensor(5, "dx"),
               *dg = a.optional_tensor(6, "dgamma"), *db = a.optional_tensor(7, "dbeta");
  BatchNormArgs args;
  bn_dims(a, x, &args);
  args.training = a.boolean(8, "training");
  same_size(a, x, "x", dy, "dy");
  if (dx) same_size(a, x, "x", dx, "dx");
  for (auto [t, name] :
       {std::pair{g, "gamma"}, {mean, "mean"}, {inv, "invstd"}, {dg, "dgamma"}, {db, "dbeta"}})
    if (t) a.expect(t, name, DType::kFloat32, {args.c}, "[C]");
  a.distinct({dx, dg, db, x, dy, g, mean, inv});
  args.gamma = g ? g->f32() : nullptr;
  a.run([args, x = x->f32(), dy = dy->f32(), mean = mean->f32(), inv = inv->f32(),
         dx = dx ? dx->f32() : nullptr, dg = dg ? dg->f32() : nullptr, db = db ? db->f32() : nullptr](
            Backend& be) { return be.batchnorm_backward(args, x, dy, mean, inv, dx, dg, db); });
}

// batchNormFold(w, b | null, gamma | null, beta | null, movingMean, movingVar, epsilon, wOut, bOut): a
// BatchNormalization's moving statistics folded into the conv or dense weights before it (batchnorm.h): w and
// wOut of any rank with C = the last dimension, the rest [C].
void BatchNormFold(const Napi::CallbackInfo& info) {
  Args a(info, "batchNormFold");
  TensorHandle *w = a.tensor(0, "w"), *b = a.optional_tensor(1, "b"), *g = a.optional_tensor(2, "gamma"),
               *beta = a.optional_tensor(3, "beta"), *mm = a.tensor(4, "movingMean"),
               *mv = a.tensor(5, "movingVar");
  BatchNormArgs args;
  args.epsilon = static_cast<float>(a.number(6, "epsilon", 0.0, 1e30));
  TensorHandle *w_out = a.tensor(7, "wOut"), *b_out = a.tensor(8, "bOut");
  if (w->dtype() != DType::kFloat32 || w->shape().empty())
    a.fail("ERR_KERNELNET_SHAPE",
           "expected w to be a float32 tensor of rank >= 1 but received " + w->describe());
  args.c = static_cast<int>(w->shape().back());
  same_size(a, w, "w", w_out, "wOut");
  for (auto [t, name] : {std::pair{b, "b"},
                         {g, "gamma"},
                         {beta, "beta"},
                         {mm, "movingMean"},
                         {mv, "movingVar"},
                         {b_out, "bOut"}})
    if (t) a.expect(t, name, DType::kFloat32, {args.c}, "[C]");
  a.distinct({w_out, b_out, w, b, g, beta, mm, mv});
  args.gamma = g ? g->f32() : nullptr, args.beta = beta ? beta->f32() : nullptr;
  const std::size_t rows = args.c ? w->size() / args.c : 0;
  a.run([args, rows, w = w->f32(), b = b ? b->f32() : nullptr, mm = mm->f32(), mv = mv->f32(),
         w_out = w_out->f32(), b_out = b_out->f32()](Backend& be) {
    return be.batchnorm_fold(args, rows, w, b, mm, mv, w_out, b_out);
  });
}

// affine(x, y, scale, offset): y = x * scale + offset elementwise.
void Affine(const Napi::CallbackInfo& info) {
  Args a(info, "affine");
  TensorHandle *x = a.tensor(0, "x"), *y = a.tensor(1, "y");
  same_size(a, x, "x", y, "y");
  const float scale = static_cast<float>(a.number(2, "scale", -1e30, 1e30));
  const float offset = static_cast<float>(a.number(3, "offset", -1e30, 1e30));
  a.distinct({y, x});
  a.run([n = x->size(), x = x->f32(), y = y->f32(), scale, offset](Backend& be) {
    return be.affine(n, x, y, scale, offset);
  });
}

// An array of `len` integers in [0, 2^53) (argument i).
std::vector<int64_t> int_array(Args& a, int i, const char* name, std::size_t len) {
  const Napi::Value v = a.value(i);
  if (!v.IsArray() || v.As<Napi::Array>().Length() != len)
    a.fail("ERR_KERNELNET_ARG",
           std::string("expected ") + name + " to be an array of " + std::to_string(len) +
               " integers but received " + describe_value(v),
           true);
  std::vector<int64_t> out;
  const Napi::Array arr = v.As<Napi::Array>();
  for (uint32_t j = 0; j < len; ++j) {
    const Napi::Value e = arr.Get(j);
    const double x = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1;
    if (!(x >= 0 && x <= 9007199254740991.0) || x != std::floor(x))
      a.fail("ERR_KERNELNET_ARG", std::string("expected ") + name + "[" + std::to_string(j) +
                                      "] to be a non-negative integer but received " + describe_value(e));
    out.push_back(static_cast<int64_t>(x));
  }
  return out;
}

// copyRegion(src, srcBegin, dst, dstBegin, size): dst[dstBegin + i] = src[srcBegin + i] for every index i <
// size (slice, concat); src and dst of one dtype and rank (1 to 8), the box inside both.
void CopyRegion(const Napi::CallbackInfo& info) {
  Args a(info, "copyRegion");
  TensorHandle *src = a.tensor(0, "src"), *dst = a.tensor(2, "dst");
  const std::size_t rank = src->shape().size();
  if (src->dtype() != dst->dtype() || dst->shape().size() != rank || rank < 1 || rank > Region::kMaxRank)
    a.fail("ERR_KERNELNET_SHAPE", "expected src and dst of the same dtype and rank (1 to 8) but received " +
                                      src->describe() + " and " + dst->describe());
  const auto sb = int_array(a, 1, "srcBegin", rank), db = int_array(a, 3, "dstBegin", rank),
             size = int_array(a, 4, "size", rank);
  Region r;
  r.rank = static_cast<int>(rank);
  for (std::size_t d = 0; d < rank; ++d) {
    if (sb[d] + size[d] > src->shape()[d] || db[d] + size[d] > dst->shape()[d])
      a.fail("ERR_KERNELNET_SHAPE", "the region at axis " + std::to_string(d) + " (" +
                                        std::to_string(size[d]) + " from " + std::to_string(sb[d]) +
                                        " into " + std::to_string(db[d]) + ") does not fit " +
                                        src->describe() + " and " + dst->describe());
    r.src_shape[d] = src->shape()[d], r.dst_shape[d] = dst->shape()[d];
    r.src_begin[d] = sb[d], r.dst_begin[d] = db[d], r.size[d] = size[d];
  }
  a.distinct({dst, src});
  if (r.count() == 0) return;
  a.run(
      [r, s = src->buffer()->data, t = dst->buffer()->data](Backend& be) { return be.copy_region(r, s, t); });
}

// The BinaryOp named by argument i.
BinaryOp binary_op(Args& a, int i) {
  const std::string name = a.choice(i, "op", {"add", "sub", "mul", "div", "max", "min"});
  for (int k = 0; k < static_cast<int>(std::size(kBinaryOpNames)); ++k)
    if (name == kBinaryOpNames[k]) return static_cast<BinaryOp>(k);
  a.fail("ERR_KERNELNET_INTERNAL", "op '" + name + "' has no BinaryOp");
}

// The canonical broadcast of a and b (float32, each of rank at most 8), with y's shape in *y_shape.
BroadcastShape broadcast(Args& a, TensorHandle* x, TensorHandle* w, std::vector<int64_t>* y_shape) {
  for (auto [t, name] : {std::pair{x, "a"}, std::pair{w, "b"}})
    if (t->dtype() != DType::kFloat32)
      a.fail("ERR_KERNELNET_SHAPE",
             std::string("expected ") + name + " to be a float32 tensor but received " + t->describe());
  BroadcastShape s;
  if (!make_broadcast(x->shape(), w->shape(), y_shape, &s))
    a.fail("ERR_KERNELNET_SHAPE", "a (" + x->describe() + ") and b (" + w->describe() +
                                      ") do not broadcast: right-aligned, each pair of dimensions must be "
                                      "equal or include a 1");
  return s;
}

// The optional scale at argument i (default 1), a finite float32.
float binary_scale(Args& a, int i) {
  return a.arg(i, "scale").undefined() ? 1.0f : static_cast<float>(a.number(i, "scale", -3.4e38, 3.4e38));
}

// binary(op, a, b, y, scale = 1): y = scale * (a op b) with numpy broadcasting; y may be a or b itself when
// that operand is not broadcast.
void Binary(const Napi::CallbackInfo& info) {
  Args a(info, "binary");
  const BinaryOp op = binary_op(a, 0);
  TensorHandle *x = a.tensor(1, "a"), *w = a.tensor(2, "b"), *y = a.tensor(3, "y");
  const float scale = binary_scale(a, 4);
  std::vector<int64_t> ys;
  const BroadcastShape s = broadcast(a, x, w, &ys);
  for (auto [t, full, name] : {std::tuple{x, s.a_full(), "a"}, std::tuple{w, s.b_full(), "b"}})
    if (y->buffer() == t->buffer() && !full)
      a.fail("ERR_KERNELNET_ARG", std::string("y shares memory with ") + name + ", which is broadcast (" +
                                      t->describe() + " against " + shape_string(ys) +
                                      "); y may be an operand only when that operand has y's shape");
  if (y->dtype() != DType::kFloat32 || y->shape() != ys)
    a.fail("ERR_KERNELNET_SHAPE", "expected y to be a float32 tensor of shape " + shape_string(ys) +
                                      " (a and b broadcast) but received " + y->describe());
  if (s.count() == 0) return;
  a.run([s, op, scale, x = x->f32(), w = w->f32(), y = y->f32()](Backend& be) {
    return be.binary_forward(s, op, scale, x, w, y);
  });
}

// binaryBackward(op, a, b, dy, da | null, db | null, scale = 1): binary()'s gradients; da and db shaped as a
// and b, sharing memory with no other argument (a and b may be one tensor).
void BinaryBackward(const Napi::CallbackInfo& info) {
  Args a(info, "binaryBackward");
  const BinaryOp op = binary_op(a, 0);
  TensorHandle *x = a.tensor(1, "a"), *w = a.tensor(2, "b"), *dy = a.tensor(3, "dy");
  TensorHandle *da = a.optional_tensor(4, "da"), *db = a.optional_tensor(5, "db");
  const float scale = binary_scale(a, 6);
  std::vector<int64_t> ys;
  const BroadcastShape s = broadcast(a, x, w, &ys);
  if (dy->dtype() != DType::kFloat32 || dy->shape() != ys)
    a.fail("ERR_KERNELNET_SHAPE", "expected dy to be a float32 tensor of shape " + shape_string(ys) +
                                      " (a and b broadcast) but received " + dy->describe());
  for (auto [g, t, name] : {std::tuple{da, x, "da"}, std::tuple{db, w, "db"}})
    if (g && (g->dtype() != DType::kFloat32 || g->shape() != t->shape()))
      a.fail("ERR_KERNELNET_SHAPE", std::string("expected ") + name + " to be a " + t->describe() + " (as " +
                                        (name[1] == 'a' ? "a" : "b") + ") but received " + g->describe());
  for (TensorHandle* g : {da, db})
    for (TensorHandle* t : {x, w, dy, g == da ? db : da})
      if (g && t && g->buffer() == t->buffer())
        a.fail("ERR_KERNELNET_ARG", std::string(g == da ? "da" : "db") +
                                        " shares memory with another argument; the gradients must be tensors "
                                        "of their own");
  if (!da && !db) return;
  a.run([s, op, scale, x = x->f32(), w = w->f32(), dy = dy->f32(), da = da ? da->f32() : nullptr,
         db = db ? db->f32() : nullptr](Backend& be) {
    return be.binary_backward(s, op, scale, x, w, dy, da, db);
  });
}

// The Region of concatInto (x into y's slab [offset, offset + x.shape[axis]) along axis) or, !into, of
// sliceFrom (that slab of y into x), axis and offset at arguments 2 and 3.
Region slab(Args& a, TensorHandle* x, TensorHandle* y, bool into) {
  const int rank = static_cast<int>(y->shape().size());
  if (rank < 1 || rank > Region::kMaxRank)
    a.fail("ERR_KERNELNET_SHAPE", "expected y to be a tensor of rank 1 to 8 but received " + y->describe());
  int axis = a.integer(2, "axis", -rank, rank - 1);
  if (axis < 0) axis += rank;
  const int64_t offset = static_cast<int64_t>(a.uint53(3, "offset"));
  const auto &xs = x->shape(), &ys = y->shape();
  bool ok = x->dtype() == y->dtype() && static_cast<int>(xs.size()) == rank;
  for (int d = 0; ok && d < rank; ++d) ok = d == axis || xs[d] == ys[d];
  if (!ok)
    a.fail("ERR_KERNELNET_SHAPE",
           "expected x to be a tensor of y's dtype and rank with y's dimensions except "
           "along axis " +
               std::to_string(axis) + " (y: " + y->describe() + ") but received " + x->describe());
  if (offset > ys[axis] || xs[axis] > ys[axis] - offset)
    a.fail("ERR_KERNELNET_SHAPE", "the slab [" + std::to_string(offset) + ", " +
                                      std::to_string(offset + xs[axis]) + ") along axis " +
                                      std::to_string(axis) + " is outside y (" + y->describe() + ")");
  a.distinct({x, y});
  Region r;
  r.rank = rank;
  for (int d = 0; d < rank; ++d) {
    int64_t* outer = into ? r.dst_begin : r.src_begin;
    r.src_shape[d] = into ? xs[d] : ys[d], r.dst_shape[d] = into ? ys[d] : xs[d];
    outer[d] = d == axis ? offset : 0;
    r.size[d] = xs[d];
  }
  return r;
}

// concatInto(x, y, axis, offset): y's slab [offset, offset + x.shape[axis]) along axis = x.
void ConcatInto(const Napi::CallbackInfo& info) {
  Args a(info, "concatInto");
  TensorHandle *x = a.tensor(0, "x"), *y = a.tensor(1, "y");
  const Region r = slab(a, x, y, true);
  if (r.count() == 0) return;
  a.run([r, s = x->buffer()->data, t = y->buffer()->data](Backend& be) { return be.copy_region(r, s, t); });
}

// sliceFrom(y, x, axis, offset): x = y's slab [offset, offset + x.shape[axis]) along axis.
void SliceFrom(const Napi::CallbackInfo& info) {
  Args a(info, "sliceFrom");
  TensorHandle *y = a.tensor(0, "y"), *x = a.tensor(1, "x");
  const Region r = slab(a, x, y, false);
  if (r.count() == 0) return;
  a.run([r, s = y->buffer()->data, t = x->buffer()->data](Backend& be) { return be.copy_region(r, s, t); });
}

// argMax(x, axis, out): out (int32, x's shape without axis) = the first index of the largest value along
// axis.
void ArgMax(const Napi::CallbackInfo& info) {
  Args a(info, "argMax");
  TensorHandle *x = a.tensor(0, "x"), *out = a.tensor(2, "out");
  const auto& xs = x->shape();
  if (x->dtype() != DType::kFloat32 || xs.empty())
    a.fail("ERR_KERNELNET_SHAPE",
           "expected x to be a float32 tensor of rank >= 1 but received " + x->describe());
  const int axis = a.integer(1, "axis", 0, static_cast<int64_t>(xs.size()) - 1);
  std::vector<int64_t> want(xs);
  want.erase(want.begin() + axis);
  if (out->dtype() != DType::kInt32 || out->shape() != want)
    a.fail("ERR_KERNELNET_SHAPE", "expected out to be an int32 tensor of shape " + shape_string(want) +
                                      " but received " + out->describe());
  if (xs[axis] == 0) a.fail("ERR_KERNELNET_SHAPE", "argMax over an empty axis of " + x->describe());
  std::size_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= xs[d];
  for (std::size_t d = axis + 1; d < xs.size(); ++d) inner *= xs[d];
  a.distinct({out, x});
  if (outer * inner == 0) return;
  a.run([x = x->f32(), outer, n = static_cast<std::size_t>(xs[axis]), inner, out = out->i32()](Backend& be) {
    return be.argmax(x, outer, n, inner, out);
  });
}

// gatherRows(src, indices, start, dst, counter?): dst[i] = src[indices[start + counter * rows + i]]; src and
// dst may be arrays of as many tensors (a batch's inputs, labels and weights: one launch on a GPU), each dst
// with its src's dtype and row shape, all with the same rows.
void GatherRows(const Napi::CallbackInfo& info) {
  Args a(info, "gatherRows");
  const bool many = info[0].IsArray();
  if (many != info[3].IsArray())
    a.fail("ERR_KERNELNET_ARG", "expected src and dst to be both tensors or both arrays of tensors", true);
  const std::vector<TensorHandle*> srcs = many ? a.tensor_array(0, "src") : std::vector{a.tensor(0, "src")};
  TensorHandle* idx = a.tensor(1, "indices");
  const std::vector<TensorHandle*> dsts = many ? a.tensor_array(3, "dst") : std::vector{a.tensor(3, "dst")};
  const int64_t start = a.integer(2, "start", 0, INT_MAX);
  a.expect_rank(idx, "indices", DType::kInt32, 1, "[M]");
  if (srcs.size() != dsts.size())
    a.fail("ERR_KERNELNET_ARG", "expected as many dst tensors as src tensors but received " +
                                    std::to_string(dsts.size()) + " and " + std::to_string(srcs.size()));
  if (srcs.empty()) a.fail("ERR_KERNELNET_ARG", "expected at least one src tensor");
  const int32_t* counter = step_counter(a, 4);
  const int64_t rows = dsts[0]->shape().empty() ? 0 : dsts[0]->shape()[0];
  std::vector<RowCopy> copies;
  for (std::size_t k = 0; k < srcs.size(); ++k) {
    TensorHandle *src = srcs[k], *dst = dsts[k];
    const std::string at = many ? "[" + std::to_string(k) + "]" : "";
    if (src->shape().empty())
      a.fail("ERR_KERNELNET_SHAPE",
             "expected src" + at + " to be a tensor of rank >= 1 but received " + src->describe());
    // Rows are copied as bits, so float32 and int32 (class labels) alike.
    if (dst->dtype() != src->dtype() || dst->shape().size() != src->shape().size() ||
        !std::equal(src->shape().begin() + 1, src->shape().end(), dst->shape().begin() + 1))
      a.fail("ERR_KERNELNET_SHAPE", "expected dst" + at + " to be a tensor of src" + at +
                                        "'s dtype with its row shape (" + src->describe() +
                                        ") but received " + dst->describe());
    if (dst->shape()[0] != rows)
      a.fail("ERR_KERNELNET_SHAPE", "expected dst" + at + " to have " + std::to_string(rows) +
                                        " rows, as dst[0], but received " + dst->describe());
    a.distinct({dst, src, idx});
    for (std::size_t j = 0; j < k; ++j) a.distinct({dst, dsts[j]});
    const std::size_t src_rows = static_cast<std::size_t>(src->shape()[0]);
    copies.push_back({static_cast<const float*>(src->buffer()->data), src_rows,
                      src_rows ? src->size() / src_rows : 0, static_cast<float*>(dst->buffer()->data)});
  }
  // With a counter the first row is only known on the device, which gives zero rows past the end.
  if (start + rows > idx->shape()[0])
    a.fail("ERR_KERNELNET_SHAPE", "rows " + std::to_string(start) + " to " + std::to_string(start + rows) +
                                      " are past the end of indices (" + idx->describe() + ")");
  if (rows == 0) return;
  a.run([copies = std::move(copies), idx = idx->i32(), n_idx = idx->size(),
         start = static_cast<std::size_t>(start), counter,
         rows = static_cast<std::size_t>(rows)](Backend& be) {
    return be.gather_rows(copies.data(), static_cast<int>(copies.size()), idx, n_idx, start, counter, rows);
  });
}

// permutation(indices, seed, offset)
void Permutation(const Napi::CallbackInfo& info) {
  Args a(info, "permutation");
  TensorHandle* idx = a.tensor(0, "indices");
  const uint64_t seed = a.uint53(1, "seed"), offset = a.uint53(2, "offset");
  a.expect_rank(idx, "indices", DType::kInt32, 1, "[N]");
  // Drawn on the host and uploaded (once per epoch): not recordable.
  a.run([idx = idx->i32(), n = idx->size(), seed,
         offset](Backend& be) { return be.permutation(idx, n, seed, offset); },
        false);
}

// randomNormal(t, stddev, seed, offset): normal, truncated at two standard deviations (philox.h).
void RandomNormal(const Napi::CallbackInfo& info) {
  Args a(info, "randomNormal");
  TensorHandle* t = a.tensor(0, "t");
  const double stddev = a.number(1, "stddev", 0.0, 3.4e38);
  const uint64_t seed = a.uint53(2, "seed"), offset = a.uint53(3, "offset");
  if (t->dtype() != DType::kFloat32)
    a.fail("ERR_KERNELNET_SHAPE", "expected t to be a float32 tensor but received " + t->describe());
  a.run([t = t->f32(), n = t->size(), stddev = static_cast<float>(stddev), seed, offset](Backend& be) {
    return be.random_normal(t, n, stddev, seed, offset);
  });
}

// randomUniform(t, low, high, seed, offset)
void RandomUniform(const Napi::CallbackInfo& info) {
  Args a(info, "randomUniform");
  TensorHandle* t = a.tensor(0, "t");
  const double low = a.number(1, "low", -3.4e38, 3.4e38), high = a.number(2, "high", -3.4e38, 3.4e38);
  const uint64_t seed = a.uint53(3, "seed"), offset = a.uint53(4, "offset");
  if (t->dtype() != DType::kFloat32)
    a.fail("ERR_KERNELNET_SHAPE", "expected t to be a float32 tensor but received " + t->describe());
  if (!(low <= high)) a.fail("ERR_KERNELNET_ARG", "expected low <= high");
  a.run([t = t->f32(), n = t->size(), low = static_cast<float>(low), high = static_cast<float>(high), seed,
         offset](Backend& be) { return be.random_uniform(t, n, low, high, seed, offset); });
}

// oneHot(labels, out)
void OneHot(const Napi::CallbackInfo& info) {
  Args a(info, "oneHot");
  TensorHandle *labels = a.tensor(0, "labels"), *out = a.tensor(1, "out");
  a.expect_rank(labels, "labels", DType::kInt32, 1, "[N]");
  a.expect(out, "out", DType::kFloat32, {labels->shape()[0], kAny}, "[N,K]");
  if (out->shape()[1] > INT_MAX) a.fail("ERR_KERNELNET_SHAPE", "too many classes");
  a.run([labels = labels->i32(), n = labels->size(), k = static_cast<int>(out->shape()[1]),
         out = out->f32()](Backend& be) { return be.one_hot(labels, n, k, out); });
}

// fromBytes(bytes: Uint8Array, divisor, out)
void FromBytes(const Napi::CallbackInfo& info) {
  Args a(info, "fromBytes");
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    a.fail("ERR_KERNELNET_ARG", "expected bytes to be a Uint8Array but received " + describe_value(info[0]),
           true);
  Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
  const float divisor = static_cast<float>(a.number(1, "divisor", 1e-30, 1e30));
  TensorHandle* out = a.tensor(2, "out");
  if (out->dtype() != DType::kFloat32 || out->size() != bytes.ElementLength())
    a.fail("ERR_KERNELNET_SHAPE", "expected out to be a float32 tensor of " +
                                      std::to_string(bytes.ElementLength()) + " elements but received " +
                                      out->describe());
  if (out->size() == 0) return;
  // Reads the caller's bytes now: not recordable.
  a.run([src = bytes.Data(), n = bytes.ElementLength(), divisor,
         out = out->f32()](Backend& be) { return be.from_bytes(src, n, divisor, out); },
        false);
}

Napi::Value Stats(const Napi::CallbackInfo& info) {
  Args a(info, "stats");
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("liveTensors", static_cast<double>(a.data().registry->live.size()));
  o.Set("bytesInUse", static_cast<double>(a.data().registry->bytes));
  o.Set("scratchBytes", static_cast<double>(a.data().cuda ? a.data().cuda->scratch_bytes() : 0));
  return o;
}

Napi::Value BackendInfo(const Napi::CallbackInfo& info) {
  Args a(info, "backend");
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("name", a.data().backend_name);
  o.Set("device", a.data().device);
  o.Set("reason", a.data().reason);
  return o;
}

// numThreads(n?): sets the CPU thread count when given; returns the count in use.
Napi::Value NumThreads(const Napi::CallbackInfo& info) {
  Args a(info, "numThreads");
  if (info.Length() > 0 && !info[0].IsUndefined()) set_num_threads(a.integer(0, "n", 1, 1024));
  return Napi::Number::New(info.Env(), num_threads());
}

#ifndef KERNELNET_VERSION
#define KERNELNET_VERSION "unknown"
#endif
// version(): the package version this binary was built from.
Napi::Value Version(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), KERNELNET_VERSION);
}

// cpuPeakGflops(seconds): the measured FMA peak of the CPU threads (for the bench's % of peak).
Napi::Value CpuPeakGflops(const Napi::CallbackInfo& info) {
  Args a(info, "cpuPeakGflops");
  return Napi::Number::New(info.Env(), measure_peak_gflops(a.number(0, "seconds", 0.0, 60.0)));
}

Napi::Value CpuKernel(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), gemm_kernel_name());
}

std::string cpu_device_name() {
  return "CPU, " + std::to_string(num_threads()) + " threads, " + gemm_kernel_name() + " GEMM";
}

// CUDA where a device and driver answer, else the CPU, with the reason; KERNELNET_BACKEND=cpu|cuda forces
// one, and forcing one that cannot run sets choice_error, which every call then throws.
void choose_backend(EnvData& d) {
  const std::string f = env::choice(env::Var::kBackend);
#ifdef KERNELNET_WITH_CUDA
  d.cuda = cuda_backend(&d.cuda_device, &d.cuda_reason);
#else
  d.cuda_reason =
      "this build of kernelnet has no CUDA backend (it was built where nvcc was not found, or as the "
      "CPU-only fallback)";
#endif
  if (f == "cuda" && !d.cuda) {
    d.choice_error = "KERNELNET_BACKEND=cuda, but the CUDA backend cannot run: " + d.cuda_reason +
                     "; unset KERNELNET_BACKEND to use the CPU backend";
    return;
  }
  if (d.cuda && f != "cpu") {
    d.backend = d.cuda;
    d.backend_name = "cuda";
    d.device = d.cuda_device;
    d.reason = f == "cuda" ? "forced by KERNELNET_BACKEND=cuda" : "a CUDA device answered";
    return;
  }
  d.backend = &cpu_backend();
  d.backend_name = "cpu";
  d.device = cpu_device_name();
  d.reason = f == "cpu" ? "forced by KERNELNET_BACKEND=cpu" : d.cuda_reason;
}

}  // namespace

void ensure_backend(Napi::Env env, EnvData& d) {
  if (!d.chosen) {
    d.chosen = true;
    // Every variable once, before any is acted on: a bad one stops this environment's every call, as a
    // backend forced but unusable does, rather than leaving a default in its place.
    d.env_problem = env::problem();
    if (d.env_problem.empty()) choose_backend(d);
  }
  if (!d.env_problem.empty()) throw_error(env, "ERR_KERNELNET_ARG", d.env_problem);
  if (!d.choice_error.empty()) throw_error(env, "ERR_KERNELNET_BACKEND", d.choice_error);
  // Those read at each use again, so that one set to a bad value since (through process.env) is refused
  // before the op reads it. Two getenv calls a call.
  const std::string later = env::per_use_problem();
  if (!later.empty()) throw_error(env, "ERR_KERNELNET_ARG", later);
}

namespace {

// setErrorFactory(makeError): from now on every error this environment throws is makeError(code, message,
// props), lib/core/errors.ts's, so it has kernelnet's classes. lib/core/native.ts calls it first thing, once.
void SetErrorFactory(const Napi::CallbackInfo& info) {
  EnvData* data = info.Env().GetInstanceData<EnvData>();
  if (!data || !info[0].IsFunction())
    throw_error(info.Env(), "ERR_KERNELNET_ARG", "setErrorFactory: expected a function", true);
  if (!data->make_error
           .IsEmpty())  // once, by lib/core/native.ts: nothing may swap kernelnet's errors afterwards
    throw_error(info.Env(), "ERR_KERNELNET_STATE", "setErrorFactory: the error factory is already set");
  data->make_error = Napi::Persistent(info[0].As<Napi::Function>());
}

// backends(): what each backend would run on, and whether it can.
Napi::Value Backends(const Napi::CallbackInfo& info) {
  Args a(info, "backends");
  Napi::Env env = info.Env();
  Napi::Object cpu = Napi::Object::New(env), cuda = Napi::Object::New(env), o = Napi::Object::New(env);
  cpu.Set("available", true);
  cpu.Set("device", cpu_device_name());
  cuda.Set("available", a.data().cuda != nullptr);
  cuda.Set("device", a.data().cuda_device);
  cuda.Set("reason", a.data().cuda_reason);
  if (a.data().cuda) {
    const Backend::Peak peak = a.data().cuda->peak();
    cuda.Set("peakGflops", peak.gflops);
    cuda.Set("peakGBs", peak.gbs);
    cuda.Set("tf32", a.data().cuda->tf32());
    Napi::Object kernels = Napi::Object::New(env), variants = Napi::Object::New(env);
    for (const Backend::KernelFamily& f : a.data().cuda->kernel_families()) {
      kernels.Set(f.family, f.adopted);
      Napi::Array list = Napi::Array::New(env, f.variants.size());
      for (std::size_t i = 0; i < f.variants.size(); ++i) list.Set(static_cast<uint32_t>(i), f.variants[i]);
      variants.Set(f.family, list);
    }
    cuda.Set("kernels", kernels);
    cuda.Set("variants", variants);
  }
  o.Set("cpu", cpu);
  o.Set("cuda", cuda);
  return o;
}

// The backend named by the optional device argument i (default: the environment's), for calls that act on a
// whole backend and so are refused while ops are being recorded.
Backend* backend_arg(Args& a, int i) {
  Backend* be = a.device(i);
  if (a.data().recording) a.fail("ERR_KERNELNET_STATE", "not allowed while ops are being recorded");
  return be;
}

// synchronize(device?): waits for the queued work of a backend (default: the environment's).
void Synchronize(const Napi::CallbackInfo& info) {
  Args a(info, "synchronize");
  check_status(info.Env(), backend_arg(a, 0)->synchronize());
}

// profile(on, device?): starts or stops a profiler's collection range (cudaProfilerStart/Stop on CUDA).
void Profile(const Napi::CallbackInfo& info) {
  Args a(info, "profile");
  const bool on = a.boolean(0, "on");
  check_status(info.Env(), backend_arg(a, 1)->profile(on));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new EnvData();
  data->registry = std::make_shared<Registry>();
  data->registry->env = env;
  env.SetInstanceData<EnvData>(data);  // deleted with the environment; the backend is chosen at first use
  Napi::Function ctor = TensorHandle::Define(env);
  data->tensor_ctor = Napi::Persistent(ctor);
  // Frees every buffer still alive when the environment (a worker or the process) shuts down.
  std::shared_ptr<Registry> registry = data->registry;
  env.AddCleanupHook([registry]() { registry->release_all(); });

  exports.Set("Tensor", ctor);
  exports.Set("Program", define_program(env));
#define KN_EXPORT(js_name, function) exports.Set(#js_name, Napi::Function::New<function>(env, #js_name));
#include "exports.def"
#undef KN_EXPORT
  return exports;
}

}  // namespace
}  // namespace kn

static Napi::Object InitKernelnet(Napi::Env env, Napi::Object exports) {
  return kn::Init(env, exports);
}
NODE_API_MODULE(kernelnet, InitKernelnet)
