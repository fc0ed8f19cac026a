// Recording ops into Programs. Between record() and endRecord(), every op on the recording's backend is
// checked as usual and then stored instead of run (args.cc, Args::run); endRecord() hands the ops to the
// backend, which makes a Program of them (a CUDA graph on the GPU). program.run() then does the work of all
// those calls at once: one native call per training step instead of one per op, and one graph launch on a
// GPU.
//
// A Program holds raw pointers, so it keeps every buffer it touches from being freed by the garbage
// collector, and run() refuses, with ERR_KERNELNET_DISPOSED, once any of them was disposed explicitly.
#include "recording.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "backend.h"
#include "tensor.h"

namespace kn {
namespace {

const napi_type_tag kProgramTag = {0x6b65726e656c6e65ULL, 0x7470726f6772616dULL};

struct PendingProgram {
  std::unique_ptr<Program> program;
  std::vector<std::shared_ptr<Buffer>> buffers;
  std::size_t ops = 0;
  std::string device;
};

// Set by endRecord() for the one constructor call it makes; JS cannot construct a Program itself.
thread_local PendingProgram* pending = nullptr;

class ProgramHandle : public Napi::ObjectWrap<ProgramHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeProgram",
                       {
                           InstanceMethod<&ProgramHandle::Run>("run"),
                           InstanceMethod<&ProgramHandle::Dispose>("dispose"),
                           InstanceAccessor<&ProgramHandle::Ops>("ops"),
                           InstanceAccessor<&ProgramHandle::Device>("device"),
                           InstanceAccessor<&ProgramHandle::Graph>("graph"),
                           InstanceAccessor<&ProgramHandle::Branches>("branches"),
                           InstanceAccessor<&ProgramHandle::Nodes>("nodes"),
                           InstanceAccessor<&ProgramHandle::Kernels>("kernels"),
                           InstanceAccessor<&ProgramHandle::Reason>("reason"),
                           InstanceAccessor<&ProgramHandle::Disposed>("disposed"),
                       });
  }

  explicit ProgramHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProgramHandle>(info) {
    if (!pending) throw_error(info.Env(), "ERR_KERNELNET_STATE", "Program: made only by endRecord()", true);
    info.This().As<Napi::Object>().TypeTag(&kProgramTag);
    program_ = std::move(pending->program);
    buffers_ = std::move(pending->buffers);
    ops_ = pending->ops;
    device_ = pending->device;
    pending = nullptr;
  }

 private:
  void Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!program_) throw_error(env, "ERR_KERNELNET_DISPOSED", "Program.run: the program was disposed");
    EnvData* data = env.GetInstanceData<EnvData>();
    if (data && data->recording)
      throw_error(env, "ERR_KERNELNET_STATE", "Program.run: not allowed while ops are being recorded");
    for (const auto& b : buffers_)
      if (!b->data)
        throw_error(
            env, "ERR_KERNELNET_DISPOSED",
            "Program.run: a tensor the recorded ops use was disposed after recording; record the ops again");
    check_status(env, program_->run());
  }
  void Dispose(const Napi::CallbackInfo&) {
    program_.reset();
    buffers_.clear();
  }
  Napi::Value Ops(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(ops_));
  }
  Napi::Value Device(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), device_); }
  Napi::Value Graph(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), program_ && program_->graph());
  }
  Napi::Value Reason(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), !program_           ? "disposed"
                                         : program_->graph() ? ""
                                                             : program_->why_not_graph());
  }
  Napi::Value Branches(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), program_ ? program_->branches() : 0);
  }
  Napi::Value Nodes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), program_ ? program_->nodes() : 0);
  }
  Napi::Value Kernels(const Napi::CallbackInfo& info) {
    const std::vector<std::string> names = program_ ? program_->kernels() : std::vector<std::string>{};
    Napi::Array out = Napi::Array::New(info.Env(), names.size());
    for (std::size_t i = 0; i < names.size(); ++i) out.Set(static_cast<uint32_t>(i), names[i]);
    return out;
  }
  Napi::Value Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !program_); }

  std::unique_ptr<Program> program_;
  std::vector<std::shared_ptr<Buffer>> buffers_;
  std::size_t ops_ = 0;
  std::string device_;
};

}  // namespace

// record(device?): starts recording the ops on a backend (default: the environment's).
void Record(const Napi::CallbackInfo& info) {
  Args a(info, "record");
  Backend* be = a.device(0);
  if (a.data().recording) a.fail("ERR_KERNELNET_STATE", "already recording; call endRecord() first");
  a.data().recording = std::make_unique<Recording>();
  a.data().recording->backend = be;
}

// endRecord(): stops recording and returns the recorded ops as a Program (possibly of zero ops).
Napi::Value EndRecord(const Napi::CallbackInfo& info) {
  Args a(info, "endRecord");
  EnvData& d = a.data();
  if (!d.recording) a.fail("ERR_KERNELNET_STATE", "not recording; call record() first");
  std::unique_ptr<Recording> rec = std::move(d.recording);
  auto& bufs = rec->buffers;
  std::sort(bufs.begin(), bufs.end());
  bufs.erase(std::unique(bufs.begin(), bufs.end()), bufs.end());
  PendingProgram p;
  p.ops = rec->ops.size();
  p.device = rec->backend->name();
  p.buffers = std::move(bufs);
  p.program = rec->backend->compile(std::move(rec->ops));
  pending = &p;
  Napi::Value out = d.program_ctor.New({});
  pending = nullptr;  // (the constructor cleared it unless it threw)
  return out;
}

Napi::Function define_program(Napi::Env env) {
  EnvData* data = env.GetInstanceData<EnvData>();
  Napi::Function ctor = ProgramHandle::Define(env);
  data->program_ctor = Napi::Persistent(ctor);
  return ctor;
}

}  // namespace kn
