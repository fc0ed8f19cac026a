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

// Reads the arguments of one native call; `op` names the call in every message. It must outlive the process's
// Programs (a string literal): a recorded op keeps it, to name the op when a program's run fails.
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* op);
  Napi::Env env() const { return info_.Env(); }
  EnvData& data() const { return *data_; }
  Napi::Value value(int i) const { return info_[i]; }
  // The backend of the tensors read so far (all must share one): the op runs there.
  Backend* backend() const { return backend_ ? backend_ : data_->backend; }

  TensorHandle* tensor(int i, const char* name);
  TensorHandle* optional_tensor(int i, const char* name);  // null or undefined -> nullptr
  double number(int i, const char* name, double min, double max);
  int integer(int i, const char* name, int64_t min, int64_t max);
  uint64_t uint53(int i, const char* name);
  bool boolean(int i, const char* name);
  std::string choice(int i, const char* name, std::initializer_list<const char*> allowed);
  std::vector<TensorHandle*> tensor_array(int i, const char* name);
  // A tensor given inside another argument (an element of an array), checked as tensor() checks arguments.
  TensorHandle* tensor_value(const Napi::Value& v, const char* label);
  // An activation of the fused epilogue, by name (epilogue.h's kActNames).
  Act activation(int i);
  // The rest of an epilogue after its activation: arguments i (pre: a tensor shaped as y, required exactly
  // when the activation needs its input, else null) and i + 1 (alpha: optional number; default 1 for elu, 0.2
  // for leaky_relu, as Keras's activation functions).
  void activation_extras(int i, Act act, TensorHandle* y, Epilogue* ep, TensorHandle** pre);
  // An activation's optional alpha at argument i: elu's alpha (default 1), leaky_relu's negative slope
  // (default 0.2, keras.activations.leaky_relu's; the LeakyReLU layer passes its own 0.3), unused by the
  // others (0).
  float alpha(int i, Act act, const char* name = "alpha");
  // The backend named by the optional device argument i ('cpu' | 'cuda'), else the environment's.
  Backend* device(int i);

  // Shape guards: dims of -1 match anything.
  void expect(TensorHandle* t, const char* name, DType dtype, std::initializer_list<int64_t> dims,
              const char* layout);
  void expect_rank(TensorHandle* t, const char* name, DType dtype, int rank, const char* layout);
  // Outputs must not share memory with any other argument.
  void distinct(std::initializer_list<TensorHandle*> tensors);

  [[noreturn]] void fail(const char* code, const std::string& what, bool type_error = false) const;

  // Runs op on backend() now, throwing its error, or, while the environment records, stores it (with the
  // buffers of every tensor read) for a Program. Ops that cannot be replayed pass recordable = false and are
  // refused while recording.
  void run(Op op, bool recordable = true);

 private:
  TensorHandle* tensor_at(int i, const char* name, bool optional);
  const Napi::CallbackInfo& info_;
  const char* op_;
  EnvData* data_;
  Backend* backend_ = nullptr;
  std::string backend_arg_;
  std::vector<TensorHandle*> seen_;
  void same_backend(TensorHandle* t, const std::string& name);
};

}  // namespace kn
