// Argument guards for the native surface. The TypeScript layer validates first, with friendlier messages;
// these guards exist so that no call from JS, however wrong, can crash the process. Every failure throws a JS
// error whose message says what was expected and what was received, with a `code`:
//   ERR_KERNELNET_ARG       wrong type or out-of-range value
//   ERR_KERNELNET_SHAPE     a tensor of the wrong rank, shape or dtype
//   ERR_KERNELNET_DISPOSED  a tensor used after dispose()
//   ERR_KERNELNET_DEVICE    tensors from another environment or backend
//   ERR_KERNELNET_OOM       an allocation failed (the process and other tensors stay usable)
//   ERR_KERNELNET_CUDA      a CUDA call failed (the error's `cudaError` property names it)
// lib/core/errors.ts holds the table of codes; once lib/core/native.ts has handed over its makeError, every
// error thrown here is made by it, so it is of the same class as the TypeScript layer's.
#pragma once
#include <napi.h>

#include <array>
#include <cmath>
#include <initializer_list>
#include <string>
#include <vector>

#include "backend.h"
#include "tensor.h"

namespace kn {

[[noreturn]] void throw_error(Napi::Env env, const char* code, const std::string& message,
                              bool type_error = false);
[[noreturn]] void throw_status(Napi::Env env, const Status& st);
// Chooses the environment's backend at its first use (defined in addon.cc); throws if a forced one cannot
// run, or if an environment variable has a value it does not accept (env.h).
void ensure_backend(Napi::Env env, EnvData& d);
std::string describe_value(const Napi::Value& v);
std::string shape_string(const std::vector<int64_t>& shape);

inline void check_status(Napi::Env env, const Status& st) {
  if (!st.ok()) throw_status(env, st);
}

// One value to check and the name its messages give it: an argument ("strideH"), a field of an options object
// ("conv.strides") or an element of an array ("conv.strides[1]").
struct Arg {
  Napi::Value value;
  std::string name;
  bool undefined() const { return value.IsUndefined(); }
};

// An options object given as one argument (conv2dForward's conv, ...), its own keys already checked against
// those it takes (Args::options). A field is read by its key and named "<object>.<key>" in messages.
class Options {
 public:
  // False for an optional object left out (undefined or null): its every field then reads as undefined.
  bool given() const { return given_; }
  Arg operator[](const char* key) const;

 private:
  friend class Args;
  napi_env env_ = nullptr;
  Napi::Object object_;
  std::string name_;
  bool given_ = false;
};

// Reads the arguments of one native call; `op` names the call in every message. It must outlive the process's
// Programs (a string literal): a recorded op keeps it, to name the op when a program's run fails.
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* op);
  Napi::Env env() const { return info_.Env(); }
  EnvData& data() const { return *data_; }
  Napi::Value value(int i) const { return info_[i]; }
  Arg arg(int i, const char* name) const { return {info_[i], name}; }
  // The backend of the tensors read so far (all must share one): the op runs there.
  Backend* backend() const { return backend_ ? backend_ : data_->backend; }

  // Each check reads a value given as an Arg (an argument, or a field of an options object), or as argument i
  // named `name`: the same checks and messages either way.
  TensorHandle* tensor(const Arg& v);
  TensorHandle* optional_tensor(const Arg& v);  // null or undefined -> nullptr
  double number(const Arg& v, double min, double max);
  int integer(const Arg& v, int64_t min, int64_t max);
  // An array of exactly two integers in [min, max] (strides, a window, a dilation rate).
  std::array<int, 2> integer_pair(const Arg& v, int64_t min, int64_t max);
  uint64_t uint53(const Arg& v);
  std::string choice(const Arg& v, std::initializer_list<const char*> allowed);
  // An activation of the fused epilogue, by name (epilogue.h's kActNames).
  Act activation(const Arg& v);
  // An activation's optional alpha: elu's alpha (default 1), leaky_relu's negative slope (default 0.2,
  // keras.activations.leaky_relu's; the LeakyReLU layer passes its own 0.3), unused by the others (0).
  float alpha(const Arg& v, Act act);

  TensorHandle* tensor(int i, const char* name) { return tensor(arg(i, name)); }
  TensorHandle* optional_tensor(int i, const char* name) { return optional_tensor(arg(i, name)); }
  double number(int i, const char* name, double min, double max) { return number(arg(i, name), min, max); }
  int integer(int i, const char* name, int64_t min, int64_t max) { return integer(arg(i, name), min, max); }
  uint64_t uint53(int i, const char* name) { return uint53(arg(i, name)); }
  bool boolean(int i, const char* name);
  std::string choice(int i, const char* name, std::initializer_list<const char*> allowed) {
    return choice(arg(i, name), allowed);
  }
  Act activation(int i) { return activation(arg(i, "activation")); }
  float alpha(int i, Act act, const char* name = "alpha") { return alpha(arg(i, name), act); }
  std::vector<TensorHandle*> tensor_array(int i, const char* name);
  // A tensor given inside another argument (an element of an array), checked as tensor() checks arguments.
  TensorHandle* tensor_value(const Napi::Value& v, const char* label) { return tensor(Arg{v, label}); }
  // The options object at argument i, named `name` in messages: refused unless an object (not an array, a
  // function or a Tensor) whose own enumerable keys are all among `keys`, so that a misspelt field is an
  // error rather than a default. An optional one may be left out (undefined or null).
  Options options(int i, const char* name, std::initializer_list<const char*> keys, bool optional = false);
  // The rest of an epilogue after its activation: pre (a tensor shaped as y, required exactly when the
  // activation needs its input, else null) and alpha (optional number, as alpha()).
  void activation_extras(const Arg& pre_arg, const Arg& alpha_arg, Act act, TensorHandle* y, Epilogue* ep,
                         TensorHandle** pre);
  // The same at arguments i (pre) and i + 1 (alpha).
  void activation_extras(int i, Act act, TensorHandle* y, Epilogue* ep, TensorHandle** pre) {
    activation_extras(arg(i, "pre"), arg(i + 1, "alpha"), act, y, ep, pre);
  }
  // The backend named by the optional device argument i ('cpu' | 'cuda'), else the environment's.
  Backend* device(int i);

  // Shape guards: dims of -1 match anything.
  void expect(TensorHandle* t, const char* name, DType dtype, std::initializer_list<int64_t> dims,
              const char* layout);
  void expect_rank(TensorHandle* t, const char* name, DType dtype, int rank, const char* layout);
  // Outputs must not share memory with any other argument.
  void distinct(std::initializer_list<TensorHandle*> tensors);
  // Fails unless `out` shares no buffer with any of `inputs` (which may share one among themselves: they are
  // only read).
  void distinct_output(TensorHandle* out, std::initializer_list<TensorHandle*> inputs);

  [[noreturn]] void fail(const char* code, const std::string& what, bool type_error = false) const;

  // Runs op on backend() now, throwing its error, or, while the environment records, stores it (with the
  // buffers of every tensor read) for a Program. Ops that cannot be replayed pass recordable = false and are
  // refused while recording.
  void run(Op op, bool recordable = true);

 private:
  TensorHandle* tensor_at(const Arg& v, bool optional);
  const Napi::CallbackInfo& info_;
  const char* op_;
  EnvData* data_;
  Backend* backend_ = nullptr;
  std::string backend_arg_;
  std::vector<TensorHandle*> seen_;
  void same_backend(TensorHandle* t, const std::string& name);
};

}  // namespace kn
