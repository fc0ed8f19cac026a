// The native functions of data-parallel training (lib/distribution.ts) over collective.h's engine, exported
// by addon.cc through exports.def.
//   distInit(timeoutS, library?)                       loads and starts the engine (once per process)
//   distInfo() -> { engine, rank, size }
//   distAverage(tensors, scale)                         each float32 tensor = scale * the rank-ordered sum of
//                                                       its copies on every rank (recordable: a training
//                                                       step's gradient average runs inside its program)
//   distBroadcast(tensors, root)                        each tensor = the root rank's (any dtype)
//   distAbort(code, message, atExit?)                   ends the whole job, naming this rank (now, or as the
//                                                       process exits)
// The tensors live in host memory (the CPU backend): data-parallel CUDA training needs NCCL (collective.h),
// not built yet, and is refused with that reason.
#include "distributed_addon.h"

#include <cstring>
#include <vector>

#include "args.h"
#include "collective.h"
#include "tensor.h"

namespace kn {
namespace {

Collective* engine(Args& a) {
  Collective* c = collective();
  if (!c)
    a.fail("ERR_KERNELNET_STATE",
           "no collective engine: call distribution.initialize() first (it loads Open MPI)");
  return c;
}

// The tensors of argument 0, on the CPU backend.
std::vector<TensorHandle*> host_tensors(Args& a, const char* name) {
  std::vector<TensorHandle*> ts = a.tensor_array(0, name);
  if (!ts.empty() && std::strcmp(a.backend()->name(), "cpu") != 0)
    a.fail("ERR_KERNELNET_UNSUPPORTED",
           "data-parallel training runs on the CPU backend for now: on CUDA it needs NCCL, which this build "
           "does not have (train with device 'cpu', one process per machine or per group of cores)");
  return ts;
}

}  // namespace

void DistInit(const Napi::CallbackInfo& info) {
  Args a(info, "distInit");
  const double timeout = a.number(0, "timeoutS", 0.001, 1e9);
  std::string library;
  if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull()) {
    if (!info[1].IsString()) a.fail("ERR_KERNELNET_ARG", "expected library to be a path (a string)", true);
    library = info[1].As<Napi::String>().Utf8Value();
  }
  Collective* c = nullptr;
  check_status(info.Env(), collective_init(timeout, library, &c));
}

Napi::Value DistInfo(const Napi::CallbackInfo& info) {
  Args a(info, "distInfo");
  Collective* c = engine(a);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("engine", c->engine());
  o.Set("rank", c->rank());
  o.Set("size", c->size());
  return o;
}

void DistAverage(const Napi::CallbackInfo& info) {
  Args a(info, "distAverage");
  const std::vector<TensorHandle*> ts = host_tensors(a, "tensors");
  const float scale = static_cast<float>(a.number(1, "scale", 0.0, 1.0));
  Collective* c = engine(a);
  std::vector<std::pair<float*, std::size_t>> parts;
  std::size_t total = 0;
  for (std::size_t k = 0; k < ts.size(); ++k) {
    if (ts[k]->dtype() != DType::kFloat32)
      a.fail("ERR_KERNELNET_ARG",
             "expected tensors[" + std::to_string(k) + "] to be float32 but received " + ts[k]->describe());
    parts.emplace_back(ts[k]->f32(), ts[k]->size());
    total += ts[k]->size();
  }
  if (!total) return;
  // One collective for all: the tensors packed into one vector, averaged, unpacked.
  a.run([c, parts = std::move(parts), total, scale](Backend&) {
    thread_local std::vector<float> packed;
    packed.resize(total);
    std::size_t at = 0;
    for (const auto& [p, n] : parts) std::memcpy(packed.data() + at, p, n * sizeof(float)), at += n;
    KN_DIST_TRY(c->average(packed.data(), total, scale));
    at = 0;
    for (const auto& [p, n] : parts) std::memcpy(p, packed.data() + at, n * sizeof(float)), at += n;
    return Status::Ok();
  });
}

void DistBroadcast(const Napi::CallbackInfo& info) {
  Args a(info, "distBroadcast");
  const std::vector<TensorHandle*> ts = host_tensors(a, "tensors");
  Collective* c = engine(a);
  const int root = a.integer(1, "root", 0, c->size() - 1);
  for (TensorHandle* t : ts) {
    void* p = t->buffer()->data;
    const std::size_t bytes = t->size() * 4;  // float32, int32 and bool: 4 bytes an element
    a.run([c, p, bytes, root](Backend&) { return c->broadcast(p, bytes, root); }, false);
  }
}

void DistAbort(const Napi::CallbackInfo& info) {
  Args a(info, "distAbort");
  const int code = a.integer(0, "code", 1, 255);
  if (!info[1].IsString()) a.fail("ERR_KERNELNET_ARG", "expected message to be a string", true);
  const bool at_exit = info.Length() > 2 && a.boolean(2, "atExit");
  Collective* c = engine(a);
  if (at_exit)
    abort_at_exit(code, info[1].As<Napi::String>().Utf8Value());
  else
    c->abort(code, info[1].As<Napi::String>().Utf8Value());
}

}  // namespace kn
