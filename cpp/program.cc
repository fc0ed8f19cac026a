// The default Program: the recorded ops replayed in order on their backend, stopping at the first failure.
#include "backend.h"

namespace kn {
namespace {

class ReplayProgram final : public Program {
 public:
  ReplayProgram(Backend& backend, std::vector<Op> ops) : backend_(backend), ops_(std::move(ops)) {}
  Status run() override {
    for (const Op& op : ops_) {
      Status st = op(backend_);
      if (!st.ok()) return st;
    }
    return Status::Ok();
  }

 private:
  Backend& backend_;
  std::vector<Op> ops_;
};

}  // namespace

std::unique_ptr<Program> Backend::compile(std::vector<Op> ops) {
  return std::make_unique<ReplayProgram>(*this, std::move(ops));
}

}  // namespace kn
