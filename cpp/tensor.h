// Tensor handles: the JS-visible owner of one backend buffer (float32, int32 or bool, up to rank 8).
// reshape() makes a view: a second handle on the same buffer, so disposing either frees both.
//
// Memory is freed by whichever comes first: tensor.dispose(), the GC finalizer of the handle, or the
// environment cleanup hook (a worker thread or the process ending). Each Node environment (main thread or
// worker) has its own Registry of live buffers, which backs the live-tensor count and bytes-in-use figures
// used by leak tests. Handles keep their Registry alive, so the three ways of freeing may come in any order.
#pragma once
#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "backend.h"

namespace kn {

// kBool is stored as int32 0 or 1 (4-byte elements, like the others); read and written as an Int32Array.
enum class DType { kFloat32, kInt32, kBool };
const char* dtype_name(DType d);

struct Registry;

struct Buffer {
  void* data = nullptr;
  std::size_t bytes = 0;
  Backend* backend = nullptr;
  Registry* registry = nullptr;
  void release();  // idempotent
  ~Buffer() { release(); }
};

struct Registry {
  napi_env env = nullptr;
  bool closing = false;  // environment teardown: no more calls into V8
  std::unordered_set<Buffer*> live;
  std::size_t bytes = 0;
  void release_all();
};

// Ops being recorded into a Program (native.record() .. native.endRecord()): while it lasts, ops on `backend`
// are stored instead of run, and every buffer they touch is noted so that a run can check they are still
// alive.
struct Recording {
  Backend* backend = nullptr;
  std::vector<RecordedOp> ops;
  std::vector<std::shared_ptr<Buffer>> buffers;
};

// Per-environment state, stored as the addon's instance data.
struct EnvData {
  Napi::FunctionReference tensor_ctor;
  Napi::FunctionReference program_ctor;
  std::shared_ptr<Registry> registry;
  Backend* backend = nullptr;  // where new tensors live unless told otherwise
  std::string backend_name, device, reason;
  Backend* cuda = nullptr;  // the CUDA backend when usable, else null with cuda_reason saying why
  std::string cuda_device, cuda_reason;
  std::unique_ptr<Recording> recording;  // non-null between record() and endRecord()
  // lib/core/errors.ts's makeError(code, message, props), handed over by setErrorFactory() when
  // lib/core/native.ts loads the addon: every error thrown here is then of kernelnet's classes.
  Napi::FunctionReference make_error;
  // The backend is chosen at the first call that needs one (after the error factory is set), not at load.
  bool chosen = false;
  std::string env_problem;   // set when an environment variable has a value it does not accept (env.h)
  std::string choice_error;  // set when KERNELNET_BACKEND forces a backend that cannot run
};

class TensorHandle : public Napi::ObjectWrap<TensorHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit TensorHandle(const Napi::CallbackInfo& info);
  // The handle behind a JS value, or nullptr if it is not a tensor made by this addon (checked by type tag).
  static TensorHandle* From(const Napi::Value& v);

  bool disposed() const { return buffer_ == nullptr || buffer_->data == nullptr; }
  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  std::size_t size() const { return size_; }
  Buffer* buffer() const { return buffer_.get(); }
  const std::shared_ptr<Buffer>& shared_buffer() const { return buffer_; }
  Backend* backend() const { return buffer_ ? buffer_->backend : nullptr; }
  float* f32() const { return static_cast<float*>(buffer_->data); }
  int32_t* i32() const { return static_cast<int32_t*>(buffer_->data); }
  std::string describe() const;  // e.g. "float32 tensor of shape [128,28,28,1]"

 private:
  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value Dtype(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value Size(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value ReadAsync(const Napi::CallbackInfo& info);
  void Write(const Napi::CallbackInfo& info);
  void Fill(const Napi::CallbackInfo& info);
  void Dispose(const Napi::CallbackInfo& info);
  Napi::Value Reshape(const Napi::CallbackInfo& info);
  void check_live(const char* method) const;
  void check_not_recording(const char* method) const;
  void write_from(Napi::Env env, const Napi::Value& v);

  std::shared_ptr<Registry> registry_;
  std::shared_ptr<Buffer> buffer_;  // shared with views made by reshape()
  std::vector<int64_t> shape_;
  std::size_t size_ = 0;
  DType dtype_ = DType::kFloat32;
};

}  // namespace kn
