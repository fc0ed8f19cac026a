#include "tensor.h"

#include <cstring>
#include <limits>

#include "args.h"
#include "tensor_math.h"

namespace kn {

namespace {
const napi_type_tag kTensorTag = {0x6b65726e656c6e65ULL, 0x7474656e736f7231ULL};
}

TensorHandle* TensorHandle::From(const Napi::Value& v) {
  if (!v.IsObject()) return nullptr;
  Napi::Object o = v.As<Napi::Object>();
  if (!o.CheckTypeTag(&kTensorTag)) return nullptr;
  void* p = nullptr;
  if (napi_unwrap(v.Env(), o, &p) != napi_ok) return nullptr;
  return static_cast<TensorHandle*>(p);
}

const char* dtype_name(DType d) {
  return d == DType::kFloat32 ? "float32" : d == DType::kInt32 ? "int32" : "bool";
}

void Buffer::release() {
  if (!data) return;
  backend->release(data);
  data = nullptr;
  if (registry) {
    registry->live.erase(this);
    registry->bytes -= bytes;
    if (!registry->closing)
      Napi::MemoryManagement::AdjustExternalMemory(registry->env, -static_cast<int64_t>(bytes));
  }
}

void Registry::release_all() {
  closing = true;
  while (!live.empty()) (*live.begin())->release();
}

Napi::Function TensorHandle::Define(Napi::Env env) {
  return DefineClass(env, "NativeTensor",
                     {
                         InstanceAccessor<&TensorHandle::Shape>("shape"),
                         InstanceAccessor<&TensorHandle::Dtype>("dtype"),
                         InstanceAccessor<&TensorHandle::Device>("device"),
                         InstanceAccessor<&TensorHandle::Size>("size"),
                         InstanceAccessor<&TensorHandle::Disposed>("disposed"),
                         InstanceMethod<&TensorHandle::Read>("read"),
                         InstanceMethod<&TensorHandle::ReadAsync>("readAsync"),
                         InstanceMethod<&TensorHandle::Write>("write"),
                         InstanceMethod<&TensorHandle::Fill>("fill"),
                         InstanceMethod<&TensorHandle::Dispose>("dispose"),
                         InstanceMethod<&TensorHandle::Reshape>("reshape"),
                     });
}

// new NativeTensor(shape: number[], dtype: 'float32' | 'int32' | 'bool', data?: Float32Array | Int32Array,
//                  device?: 'cpu' | 'cuda')   (default: the environment's backend)
// new NativeTensor(shape, dtype, source: NativeTensor)   a view of source's buffer
TensorHandle::TensorHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorHandle>(info) {
  Args args(info, "new Tensor");
  Napi::Env env = info.Env();
  info.This().As<Napi::Object>().TypeTag(&kTensorTag);
  if (!info[0].IsArray())
    args.fail("ERR_KERNELNET_ARG",
              "expected shape to be an array of integers but received " + describe_value(info[0]), true);
  Napi::Array dims = info[0].As<Napi::Array>();
  if (dims.Length() > 8)
    args.fail("ERR_KERNELNET_ARG",
              "expected a shape of rank 0 to 8 but received rank " + std::to_string(dims.Length()));
  constexpr int64_t kMaxElements = int64_t{1} << 36;  // 256 GiB of float32: far beyond any real tensor
  int64_t elements = 1;
  for (uint32_t i = 0; i < dims.Length(); ++i) {
    Napi::Value d = dims[i];
    const double v = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -1.0;
    if (!d.IsNumber() || !(v >= 0) || v != std::floor(v) || v > 2147483647.0)
      args.fail("ERR_KERNELNET_ARG",
                "expected shape[" + std::to_string(i) +
                    "] to be an integer in [0, 2147483647] but received " + describe_value(d),
                true);
    shape_.push_back(static_cast<int64_t>(v));
    if (shape_.back() != 0 && elements > kMaxElements / shape_.back())
      args.fail("ERR_KERNELNET_ARG", "shape " + shape_string(shape_) + "... has more than 2^36 elements");
    elements *= shape_.back();
  }
  if (elements > kMaxElements)
    args.fail("ERR_KERNELNET_ARG", "shape " + shape_string(shape_) + " has more than 2^36 elements");
  size_ = static_cast<std::size_t>(elements);
  const std::string dt = args.choice(1, "dtype", {"float32", "int32", "bool"});
  dtype_ = dt == "float32" ? DType::kFloat32 : dt == "int32" ? DType::kInt32 : DType::kBool;

  EnvData& data = args.data();
  registry_ = data.registry;
  if (info.Length() > 2) {
    if (TensorHandle* src = From(info[2])) {  // a view: new NativeTensor(shape, dtype, source)
      if (src->disposed()) args.fail("ERR_KERNELNET_DISPOSED", "cannot make a view of a disposed tensor");
      if (src->size_ != size_ || src->dtype_ != dtype_)
        args.fail("ERR_KERNELNET_SHAPE", "cannot view " + src->describe() + " as a " + dt +
                                             " tensor of shape " + shape_string(shape_));
      buffer_ = src->buffer_;
      return;
    }
  }
  Backend* backend = args.device(3);
  const std::size_t bytes = size_ * 4;
  buffer_ = std::make_shared<Buffer>();
  buffer_->backend = backend;
  buffer_->data = backend->alloc(bytes);
  if (!buffer_->data)
    args.fail("ERR_KERNELNET_OOM", "out of memory allocating " + std::to_string(bytes) +
                                       " bytes for a tensor of shape " + shape_string(shape_) + " on " +
                                       backend->name());
  buffer_->bytes = bytes;
  buffer_->registry = registry_.get();
  registry_->live.insert(buffer_.get());
  registry_->bytes += bytes;
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(bytes));
  if (info.Length() > 2 && !info[2].IsUndefined()) write_from(env, info[2]);
}

std::string TensorHandle::describe() const {
  if (disposed()) return "a disposed tensor";
  return std::string(dtype_name(dtype_)) + " tensor of shape " + shape_string(shape_);
}

void TensorHandle::check_live(const char* method) const {
  if (disposed())
    throw_error(Env(), "ERR_KERNELNET_DISPOSED",
                std::string("Tensor.") + method + ": the tensor was disposed");
}

// Reads and writes happen when called, recorded ops only when their Program runs: mixing them would reorder
// work silently, so they are refused while recording.
void TensorHandle::check_not_recording(const char* method) const {
  EnvData* data = Env().GetInstanceData<EnvData>();
  if (data && data->recording)
    throw_error(Env(), "ERR_KERNELNET_STATE",
                std::string("Tensor.") + method +
                    ": not allowed while ops are being recorded (between record() and endRecord())");
}

Napi::Value TensorHandle::Shape(const Napi::CallbackInfo& info) {
  Napi::Array a = Napi::Array::New(info.Env(), shape_.size());
  for (std::size_t i = 0; i < shape_.size(); ++i)
    a[i] = Napi::Number::New(info.Env(), static_cast<double>(shape_[i]));
  return a;
}

Napi::Value TensorHandle::Dtype(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), dtype_name(dtype_));
}

Napi::Value TensorHandle::Device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), buffer_ && buffer_->backend ? buffer_->backend->name() : "none");
}

Napi::Value TensorHandle::Size(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(size_));
}

Napi::Value TensorHandle::Disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), disposed());
}

Napi::Value TensorHandle::Read(const Napi::CallbackInfo& info) {
  check_live("read");
  check_not_recording("read");
  Napi::Env env = info.Env();
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, size_ * 4);
  if (size_) check_status(env, buffer_->backend->download(ab.Data(), buffer_->data, size_ * 4));
  if (dtype_ == DType::kFloat32) return Napi::Float32Array::New(env, size_, ab, 0);
  return Napi::Int32Array::New(env, size_, ab, 0);
}

namespace {

// The typed array of a tensor's dtype over an ArrayBuffer.
Napi::Value typed(Napi::Env env, DType dtype, std::size_t size, Napi::ArrayBuffer ab) {
  if (dtype == DType::kFloat32) return Napi::Float32Array::New(env, size, ab, 0);
  return Napi::Int32Array::New(env, size, ab, 0);
}

// Waits for a device-to-host copy on a libuv thread, then resolves the promise on the JS thread. The copy
// goes into an ArrayBuffer held by a reference, so its memory stays put until then; the device buffer may be
// disposed meanwhile (the copy was queued before any free, which waits for it).
class ReadWorker : public Napi::AsyncWorker {
 public:
  ReadWorker(Napi::Env env, Napi::ArrayBuffer ab, DType dtype, std::size_t size,
             std::unique_ptr<PendingDownload> pending)
      : Napi::AsyncWorker(env, "kernelnet.read"),
        deferred_(Napi::Promise::Deferred::New(env)),
        ab_(Napi::Persistent(ab)),
        dtype_(dtype),
        size_(size),
        pending_(std::move(pending)) {}
  Napi::Promise promise() const { return deferred_.Promise(); }
  void Execute() override { status_ = pending_->wait(); }
  void OnOK() override {
    Napi::Env env = Env();
    if (!status_.ok()) {
      try {
        throw_status(env, status_);
      } catch (const Napi::Error& e) {
        deferred_.Reject(e.Value());
      }
      return;
    }
    deferred_.Resolve(typed(env, dtype_, size_, ab_.Value()));
  }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::ArrayBuffer> ab_;
  DType dtype_;
  std::size_t size_;
  std::unique_ptr<PendingDownload> pending_;
  Status status_;
};

}  // namespace

// readAsync(): a promise of read()'s copy that does not block the thread while a GPU finishes the queued
// work.
Napi::Value TensorHandle::ReadAsync(const Napi::CallbackInfo& info) {
  check_live("readAsync");
  check_not_recording("readAsync");
  Napi::Env env = info.Env();
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, size_ * 4);
  std::unique_ptr<PendingDownload> pending;
  if (size_)
    check_status(env, buffer_->backend->download_start(ab.Data(), buffer_->data, size_ * 4, &pending));
  if (!pending) {  // already copied (the CPU, an empty tensor)
    auto d = Napi::Promise::Deferred::New(env);
    d.Resolve(typed(env, dtype_, size_, ab));
    return d.Promise();
  }
  auto* worker = new ReadWorker(env, ab, dtype_, size_, std::move(pending));
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

// write(data: Float32Array | Int32Array): copies exactly size elements of the tensor's dtype (a bool's as
// an Int32Array of 0 and 1).
void TensorHandle::Write(const Napi::CallbackInfo& info) {
  check_not_recording("write");
  write_from(info.Env(), info[0]);
}

void TensorHandle::write_from(Napi::Env env, const Napi::Value& v) {
  check_live("write");
  const napi_typedarray_type want = dtype_ == DType::kFloat32 ? napi_float32_array : napi_int32_array;
  const char* want_name = dtype_ == DType::kFloat32 ? "Float32Array" : "Int32Array";
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != want)
    throw_error(env, "ERR_KERNELNET_ARG",
                std::string("Tensor.write: expected data to be a ") + want_name + " but received " +
                    describe_value(v),
                true);
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.ElementLength() != size_)
    throw_error(env, "ERR_KERNELNET_SHAPE",
                "Tensor.write: expected " + std::to_string(size_) + " elements for shape " +
                    shape_string(shape_) + " but received " + std::to_string(ta.ElementLength()));
  const uint8_t* src = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  if (size_) check_status(env, buffer_->backend->upload(buffer_->data, src, size_ * 4));
}

void TensorHandle::Fill(const Napi::CallbackInfo& info) {
  check_live("fill");
  check_not_recording("fill");
  if (!info[0].IsNumber())
    throw_error(info.Env(), "ERR_KERNELNET_ARG",
                "Tensor.fill: expected value to be a number but received " + describe_value(info[0]), true);
  float value = info[0].As<Napi::Number>().FloatValue();
  if (dtype_ != DType::kFloat32) {  // an int32 or bool: its bits, stored as a float's (fill copies them)
    const double v = info[0].As<Napi::Number>().DoubleValue();
    const int32_t i = dtype_ == DType::kBool ? (v != 0 && v == v) : to_int32(v);
    std::memcpy(&value, &i, 4);
  }
  check_status(info.Env(), buffer_->backend->fill(f32(), value, size_));
}

// reshape(shape): a view of the same buffer with another shape of the same size.
Napi::Value TensorHandle::Reshape(const Napi::CallbackInfo& info) {
  check_live("reshape");
  EnvData* data = info.Env().GetInstanceData<EnvData>();
  return data->tensor_ctor.New(
      {info[0], Napi::String::New(info.Env(), dtype_name(dtype_)), Value(), info.Env().Undefined()});
}

void TensorHandle::Dispose(const Napi::CallbackInfo&) {
  if (buffer_) buffer_->release();
}

}  // namespace kn
