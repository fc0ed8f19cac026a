#include "args.h"

#include <iterator>
#include <sstream>

namespace kn {

namespace {

[[noreturn]] void throw_coded(Napi::Env env, const char* code, const std::string& message, bool type_error,
                              const char* cuda_error) {
  EnvData* data = env.GetInstanceData<EnvData>();
  if (data && !data->make_error.IsEmpty()) {
    Napi::Object props = Napi::Object::New(env);
    if (cuda_error) props.Set("cudaError", Napi::String::New(env, cuda_error));
    // If JavaScript cannot run any more (a terminating worker) this call fails and throws instead: the error
    // is dropped on the way out (NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS), never aborting the process.
    Napi::Value e =
        data->make_error.Call({Napi::String::New(env, code), Napi::String::New(env, message), props});
    throw Napi::Error(env, e);
  }
  Napi::Error e = type_error ? Napi::TypeError::New(env, message) : Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  if (cuda_error) e.Set("cudaError", Napi::String::New(env, cuda_error));
  throw e;
}

}  // namespace

void throw_error(Napi::Env env, const char* code, const std::string& message, bool type_error) {
  throw_coded(env, code, message, type_error, nullptr);
}

// A backend's Status: kernelnet's own codes pass through; a CUDA error name becomes ERR_KERNELNET_CUDA (or
// ERR_KERNELNET_OOM for an allocation) with the name as the error's cudaError.
void throw_status(Napi::Env env, const Status& st) {
  if (st.code.rfind("ERR_KERNELNET_", 0) == 0) throw_coded(env, st.code.c_str(), st.message, false, nullptr);
  const char* code = st.code == "cudaErrorMemoryAllocation" ? "ERR_KERNELNET_OOM" : "ERR_KERNELNET_CUDA";
  throw_coded(env, code, st.message + " failed: " + st.code, false, st.code.c_str());
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) os << (i ? "," : "") << shape[i];
  os << ']';
  return os.str();
}

std::string describe_value(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined:
      return "undefined";
    case napi_null:
      return "null";
    case napi_boolean:
      return std::string("boolean ") + (v.As<Napi::Boolean>().Value() ? "true" : "false");
    case napi_number: {
      std::ostringstream os;
      os << v.As<Napi::Number>().DoubleValue() << " of type number";
      return os.str();
    }
    case napi_string: {
      std::string s = v.As<Napi::String>().Utf8Value();
      if (s.size() > 40) s = s.substr(0, 40) + "...";
      return "'" + s + "' of type string";
    }
    case napi_symbol:
      return "a symbol";
    case napi_function:
      return "a function";
    case napi_bigint:
      return "a bigint";
    case napi_external:
      return "an external";
    case napi_object: {
      if (v.IsArray()) return "an array";
      if (v.IsTypedArray()) {
        static const char* names[] = {"Int8Array",    "Uint8Array",    "Uint8ClampedArray", "Int16Array",
                                      "Uint16Array",  "Int32Array",    "Uint32Array",       "Float32Array",
                                      "Float64Array", "BigInt64Array", "BigUint64Array"};
        const int t = v.As<Napi::TypedArray>().TypedArrayType();
        return std::string("a ") + (t >= 0 && t <= 10 ? names[t] : "typed array");
      }
      return "an object";
    }
  }
  return "a value";
}

Args::Args(const Napi::CallbackInfo& info, const char* op) : info_(info), op_(op) {
  data_ = info.Env().GetInstanceData<EnvData>();
  if (!data_)
    throw_error(info.Env(), "ERR_KERNELNET_DEVICE",
                std::string(op) + ": kernelnet is not initialised in this environment");
  ensure_backend(info.Env(), *data_);
}

Backend* Args::device(int i) {
  if (info_.Length() <= static_cast<std::size_t>(i) || info_[i].IsUndefined()) return data_->backend;
  if (choice(i, "device", {"cpu", "cuda"}) == "cpu") return &cpu_backend();
  if (!data_->cuda) fail("ERR_KERNELNET_DEVICE", "no CUDA device is usable: " + data_->cuda_reason);
  return data_->cuda;
}

void Args::fail(const char* code, const std::string& what, bool type_error) const {
  throw_error(info_.Env(), code, std::string(op_) + ": " + what, type_error);
}

TensorHandle* Args::tensor_at(const Arg& a, bool optional) {
  const Napi::Value& v = a.value;
  if (optional && (v.IsNull() || v.IsUndefined())) return nullptr;
  TensorHandle* t = TensorHandle::From(v);
  if (!t)
    fail("ERR_KERNELNET_ARG",
         "expected " + a.name + " to be a Tensor" + (optional ? " or null" : "") + " but received " +
             describe_value(v),
         true);
  if (t->disposed())
    fail("ERR_KERNELNET_DISPOSED", "expected " + a.name + " to be a live Tensor but it was disposed");
  same_backend(t, a.name);
  seen_.push_back(t);  // kept alive by a recording, as every tensor an op reads
  return t;
}

void Args::run(Op op, bool recordable) {
  Recording* rec = data_->recording.get();
  if (!rec) {
    check_status(env(), op(*backend()));
    return;
  }
  if (!recordable)
    fail("ERR_KERNELNET_STATE",
         "cannot be recorded (it reads host memory or draws on the host); call it before record() or after "
         "endRecord()");
  if (backend() != rec->backend)
    fail("ERR_KERNELNET_DEVICE", std::string("the recording is on ") + rec->backend->name() +
                                     " but this op's tensors live on " + backend()->name());
  for (TensorHandle* t : seen_) rec->buffers.push_back(t->shared_buffer());
  rec->ops.push_back({std::move(op), op_});
}

void Args::same_backend(TensorHandle* t, const std::string& name) {
  if (!backend_) {
    backend_ = t->backend();
    backend_arg_ = name;
  } else if (t->backend() != backend_) {
    fail("ERR_KERNELNET_DEVICE", name + " lives on " + t->backend()->name() + " but " + backend_arg_ +
                                     " on " + backend_->name() +
                                     "; all tensors of an op must be on one device");
  }
}

TensorHandle* Args::tensor(const Arg& v) {
  return tensor_at(v, false);
}
TensorHandle* Args::optional_tensor(const Arg& v) {
  return tensor_at(v, true);
}

double Args::number(const Arg& a, double min, double max) {
  const Napi::Value& v = a.value;
  const double x = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!v.IsNumber() || !(x >= min && x <= max)) {
    std::ostringstream os;
    os << "expected " << a.name << " to be a number in [" << min << ", " << max << "] but received "
       << describe_value(v);
    fail("ERR_KERNELNET_ARG", os.str(), !v.IsNumber());
  }
  return x;
}

int Args::integer(const Arg& a, int64_t min, int64_t max) {
  const Napi::Value& v = a.value;
  const double x = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!v.IsNumber() || !(x >= static_cast<double>(min) && x <= static_cast<double>(max)) ||
      x != std::floor(x))
    fail("ERR_KERNELNET_ARG",
         "expected " + a.name + " to be an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
             "] but received " + describe_value(v),
         !v.IsNumber());
  return static_cast<int>(x);
}

std::array<int, 2> Args::integer_pair(const Arg& a, int64_t min, int64_t max) {
  const Napi::Value& v = a.value;
  if (!v.IsArray() || v.As<Napi::Array>().Length() != 2)
    fail("ERR_KERNELNET_ARG",
         "expected " + a.name + " to be an array of two integers in [" + std::to_string(min) + ", " +
             std::to_string(max) + "] but received " +
             (v.IsArray() ? "an array of length " + std::to_string(v.As<Napi::Array>().Length())
                          : describe_value(v)),
         !v.IsArray());
  Napi::Array pair = v.As<Napi::Array>();
  return {integer(Arg{pair[0u], a.name + "[0]"}, min, max), integer(Arg{pair[1u], a.name + "[1]"}, min, max)};
}

uint64_t Args::uint53(const Arg& a) {
  const Napi::Value& v = a.value;
  const double x = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!v.IsNumber() || !(x >= 0 && x <= 9007199254740991.0) || x != std::floor(x))
    fail("ERR_KERNELNET_ARG",
         "expected " + a.name + " to be a non-negative safe integer but received " + describe_value(v),
         !v.IsNumber());
  return static_cast<uint64_t>(x);
}

bool Args::boolean(int i, const char* name) {
  Napi::Value v = info_[i];
  if (!v.IsBoolean())
    fail("ERR_KERNELNET_ARG",
         std::string("expected ") + name + " to be a boolean but received " + describe_value(v), true);
  return v.As<Napi::Boolean>().Value();
}

std::string Args::choice(const Arg& a, std::initializer_list<const char*> allowed) {
  const Napi::Value& v = a.value;
  std::string list;
  for (const char* c : allowed) {
    if (v.IsString() && v.As<Napi::String>().Utf8Value() == c) return c;
    list += (list.empty() ? "'" : ", '") + std::string(c) + "'";
  }
  fail("ERR_KERNELNET_ARG",
       "expected " + a.name + " to be one of " + list + " but received " + describe_value(v), !v.IsString());
}

Act Args::activation(const Arg& a) {
  const Napi::Value& v = a.value;
  std::string list;
  for (std::size_t k = 0; k < std::size(kActNames); ++k) {
    if (v.IsString() && v.As<Napi::String>().Utf8Value() == kActNames[k]) return static_cast<Act>(k);
    list += (list.empty() ? "'" : ", '") + std::string(kActNames[k]) + "'";
  }
  fail("ERR_KERNELNET_ARG",
       "expected " + a.name + " to be one of " + list + " but received " + describe_value(v), !v.IsString());
}

void Args::activation_extras(const Arg& pre_arg, const Arg& alpha_arg, Act act, TensorHandle* y, Epilogue* ep,
                             TensorHandle** pre) {
  ep->act = act;
  *pre = optional_tensor(pre_arg);
  const std::string name = kActNames[static_cast<int>(act)];
  const std::string& pre_name = pre_arg.name;
  if (act_needs_input(act) && !*pre)
    fail("ERR_KERNELNET_ARG",
         "activation '" + name + "' needs " + pre_name + ", a tensor for its input (shaped as y)");
  if (!act_needs_input(act) && *pre)
    fail("ERR_KERNELNET_ARG",
         "activation '" + name + "' takes no " + pre_name + " tensor (its derivative comes from y)");
  if (*pre && ((*pre)->dtype() != DType::kFloat32 || (*pre)->shape() != y->shape()))
    fail("ERR_KERNELNET_SHAPE", "expected " + pre_name + " to be a float32 tensor shaped as y, " +
                                    y->describe() + ", but received " + (*pre)->describe());
  ep->pre = *pre ? (*pre)->f32() : nullptr;
  ep->alpha = alpha(alpha_arg, act);
}

float Args::alpha(const Arg& a, Act act) {
  const double fallback = act == Act::kElu ? 1.0 : act == Act::kLeakyRelu ? 0.2 : 0.0;
  return static_cast<float>(a.undefined() ? fallback : number(a, 0.0, 1e30));
}

Options Args::options(int i, const char* name, std::initializer_list<const char*> keys, bool optional) {
  Options o;
  o.env_ = env();
  o.name_ = name;
  const Napi::Value v = info_[i];
  if (optional && (v.IsUndefined() || v.IsNull())) return o;
  std::string list;
  for (const char* k : keys) list += (list.empty() ? "" : ", ") + std::string(k);
  if (!v.IsObject() || v.IsArray() || v.IsTypedArray() || v.IsFunction() || TensorHandle::From(v))
    fail("ERR_KERNELNET_ARG",
         std::string("expected ") + name + " to be an object with fields " + list +
             (optional ? ", or undefined" : "") + " but received " +
             (TensorHandle::From(v) ? "a Tensor" : describe_value(v)),
         true);
  o.object_ = v.As<Napi::Object>();
  o.given_ = true;
  // Own enumerable string keys (what a spread or an object literal gives): each must be one it takes.
  napi_value names;
  const napi_status st =
      napi_get_all_property_names(env(), o.object_, napi_key_own_only,
                                  static_cast<napi_key_filter>(napi_key_enumerable | napi_key_skip_symbols),
                                  napi_key_numbers_to_strings, &names);
  NAPI_THROW_IF_FAILED(env(), st, o);
  Napi::Array own(env(), names);
  for (uint32_t k = 0; k < own.Length(); ++k) {
    const std::string key = Napi::Value(own[k]).ToString().Utf8Value();
    bool known = false;
    for (const char* allowed : keys) known = known || key == allowed;
    if (!known)
      fail("ERR_KERNELNET_ARG",
           std::string("unknown field ") + name + "." + key + ": " + name + " takes " + list);
  }
  return o;
}

Arg Options::operator[](const char* key) const {
  const std::string name = name_ + "." + key;
  if (!given_) return {Napi::Env(env_).Undefined(), name};
  return {object_.Get(key), name};
}

std::vector<TensorHandle*> Args::tensor_array(int i, const char* name) {
  Napi::Value v = info_[i];
  if (!v.IsArray())
    fail("ERR_KERNELNET_ARG",
         std::string("expected ") + name + " to be an array of Tensors but received " + describe_value(v),
         true);
  Napi::Array a = v.As<Napi::Array>();
  std::vector<TensorHandle*> out;
  for (uint32_t k = 0; k < a.Length(); ++k)
    out.push_back(tensor_value(a[k], (std::string(name) + "[" + std::to_string(k) + "]").c_str()));
  return out;
}

void Args::expect(TensorHandle* t, const char* name, DType dtype, std::initializer_list<int64_t> dims,
                  const char* layout) {
  bool ok = t->dtype() == dtype && t->shape().size() == dims.size();
  std::vector<int64_t> want;
  std::size_t k = 0;
  for (int64_t d : dims) {
    want.push_back(d);
    if (ok && d >= 0 && t->shape()[k] != d) ok = false;
    ++k;
  }
  if (ok) return;
  std::string w = "[";
  for (std::size_t j = 0; j < want.size(); ++j)
    w += (j ? "," : "") + (want[j] < 0 ? std::string("*") : std::to_string(want[j]));
  w += "]";
  fail("ERR_KERNELNET_SHAPE", std::string("expected ") + name + " to be " +
                                  (dtype == DType::kInt32 ? "an " : "a ") + dtype_name(dtype) +
                                  " tensor of shape " + w + (*layout ? " " : "") + layout + " but received " +
                                  t->describe());
}

void Args::expect_rank(TensorHandle* t, const char* name, DType dtype, int rank, const char* layout) {
  if (t->dtype() == dtype && static_cast<int>(t->shape().size()) == rank) return;
  fail("ERR_KERNELNET_SHAPE", std::string("expected ") + name + " to be " +
                                  (dtype == DType::kInt32 ? "an " : "a ") + dtype_name(dtype) +
                                  " tensor of rank " + std::to_string(rank) + (*layout ? " " : "") + layout +
                                  " but received " + t->describe());
}

void Args::distinct(std::initializer_list<TensorHandle*> tensors) {
  std::vector<Buffer*> seen;
  for (TensorHandle* t : tensors) {
    if (!t) continue;
    for (Buffer* b : seen)
      if (b == t->buffer())
        fail("ERR_KERNELNET_ARG",
             "the same tensor was passed for two arguments; inputs and outputs must be distinct tensors");
    seen.push_back(t->buffer());
  }
}

void Args::distinct_output(TensorHandle* out, std::initializer_list<TensorHandle*> inputs) {
  for (TensorHandle* t : inputs)
    if (t && t->buffer() == out->buffer())
      fail("ERR_KERNELNET_ARG",
           "the output was also passed as an input; the output must be a tensor of its own");
}

}  // namespace kn
