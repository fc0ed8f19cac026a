// The default Program: the recorded ops replayed in order on their backend, stopping at the first failure.
#include <string>

#include "backend.h"

namespace kn {
namespace {

class ReplayProgram final : public Program {
 public:
  ReplayProgram(Backend& backend, std::vector<RecordedOp> ops) : backend_(backend), ops_(std::move(ops)) {}
  Status run() override {
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      Status st = run_recorded_op(ops_, i, backend_);
      if (!st.ok()) return st;
    }
    return Status::Ok();
  }

 private:
  Backend& backend_;
  std::vector<RecordedOp> ops_;
};

}  // namespace

Status run_recorded_op(const std::vector<RecordedOp>& ops, std::size_t i, Backend& backend) {
  Status st = ops[i].fn(backend);
  if (st.ok()) return st;
  st.message = "Program.run: op " + std::to_string(i + 1) + " of " + std::to_string(ops.size()) +
               (ops[i].name ? std::string(" (") + ops[i].name + ")" : std::string()) + ": " + st.message;
  return st;
}

std::unique_ptr<Program> Backend::compile(std::vector<RecordedOp> ops) {
  return std::make_unique<ReplayProgram>(*this, std::move(ops));
}

}  // namespace kn
