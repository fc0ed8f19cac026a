// Programs on the GPU: recorded ops (a training step) captured into one CUDA graph, so a step is a single
// cudaGraphLaunch instead of one launch per kernel, with no host work between kernels.
//
// Capture is lazy, on the first run(): the ops are called again on this thread with their work redirected to
// a private capture stream (thread-local capture mode, so other threads' work on the main stream is not
// swept in), then instantiated. The graph bakes in the scratch buffers' addresses, so every scratch move
// (CudaBackend::scratch_generation) makes it stale: run() captures again. Where capture is not possible (a
// scratch buffer must grow first, or the driver refuses), run() replays the ops one by one instead, which
// does the same work, and says why in why_not_graph().
//
// A fault inside a graph (an illegal address, say) is asynchronous: it shows at the next synchronising call,
// often a download, and names no kernel. With KERNELNET_CUDA_SYNC=1 (debug_sync(), common.cuh), run() never
// launches the graph: it replays the ops one by one, each launch synchronised, so the error names the op of
// the program (its index and native name) and the kernel that faulted. Without it, a CUDA error that such a
// fault leaves says that KERNELNET_CUDA_SYNC=1 would name its cause.
//
// The graph is not a chain: a backward op's weight-gradient work (Branch, cuda_backend.cuh) is captured on a
// second stream forked from the op's and joined at its end, so within each such op the graph holds two
// parallel branches (fork/join), which the GPU runs side by side.
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "cuda_backend.cuh"
#include "env.h"

namespace kn {
namespace cu {
namespace {

thread_local cudaStream_t capture_stream = nullptr;
// The capture's second stream and the events that fork it from the capture stream and join it back; the
// stream work goes to while a branch is forked; whether a weight-gradient branch is being enqueued; the
// branches forked in this capture.
thread_local cudaStream_t capture_side = nullptr, branch_stream = nullptr;
thread_local cudaEvent_t capture_fork = nullptr, capture_join = nullptr;
thread_local bool weight_branch = false;
thread_local int capture_branches = 0;
// The names of the kernels launched into this thread's capture, in order (note_captured).
thread_local std::vector<std::string>* capture_names = nullptr;

const char kSyncReason[] =
    "KERNELNET_CUDA_SYNC is set: the ops are replayed one by one, each launch synchronised, so that a fault "
    "names its op and kernel";

// The errors a fault of earlier, asynchronous GPU work leaves (sticky: every later call returns them), which
// are reported by whatever call synchronises next rather than by the launch that faulted.
bool asynchronous_fault(const std::string& code) {
  for (const char* name : {"cudaErrorIllegalAddress", "cudaErrorLaunchFailure", "cudaErrorIllegalInstruction",
                           "cudaErrorMisalignedAddress", "cudaErrorInvalidAddressSpace", "cudaErrorInvalidPc",
                           "cudaErrorHardwareStackError", "cudaErrorAssert", "cudaErrorLaunchTimeout"})
    if (code == name) return true;
  return false;
}

// A failed run's Status, with where to look when the fault may not be the reporting call's own.
Status with_sync_hint(Status st) {
  if (!st.ok() && !debug_sync() && asynchronous_fault(st.code))
    st.message +=
        " (reported here, possibly for earlier GPU work: with KERNELNET_CUDA_SYNC=1 a program replays "
        "its ops one by one and names the op and kernel that faulted)";
  return st;
}

class GraphProgram final : public Program {
 public:
  GraphProgram(CudaBackend& backend, std::vector<RecordedOp> ops) : be_(backend), ops_(std::move(ops)) {}
  ~GraphProgram() override { drop(); }

  Status run() override {
    if (debug_sync()) {  // each launch synchronises (check_launch) and a failure names its op: no graph
      graph_ = false;
      return replay();
    }
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!exec_ || generation_ != be_.scratch_generation()) {
        drop();
        // Capture failed with the scratch buffers as they are: replay (which grows them), capture next time.
        if (failed_ && failed_generation_ == be_.scratch_generation()) break;
        capture();
        if (!exec_) break;
      }
      bool launched = false;
      Status st = be_.launch_graph(exec_, generation_, &launched);
      if (!st.ok()) {
        st.message = "Program.run: " + st.message;
        return with_sync_hint(st);
      }
      if (launched) {
        graph_ = true;
        return Status::Ok();
      }
      // Another thread moved a scratch buffer between capture and launch: capture again, once.
    }
    graph_ = false;
    return replay();
  }

  bool graph() const override { return graph_; }
  int branches() const override { return graph_ ? branches_ : 0; }
  int nodes() const override { return graph_ ? nodes_ : 0; }
  std::vector<std::string> kernels() const override { return graph_ ? kernels_ : std::vector<std::string>{}; }
  std::string why_not_graph() const override {
    return debug_sync() ? kSyncReason : why_.empty() ? "the program has not run yet" : why_;
  }

 private:
  Status replay() {
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      Status st = run_recorded_op(ops_, i, be_);
      if (!st.ok()) return with_sync_hint(st);
    }
    return Status::Ok();
  }

  void drop() {
    if (exec_) cudaGraphExecDestroy(exec_);
    exec_ = nullptr;
  }

  void capture() {
    const uint64_t generation = be_.scratch_generation();
    cudaStream_t s = nullptr, side = nullptr;
    cudaEvent_t fork = nullptr, join = nullptr;
    Status st =
        cuda_status(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    // The branches' stream and events (without them the graph is a chain: the same work, in order;
    // KERNELNET_GRAPH_BRANCHES=0 asks for that, to time the two).
    const bool branches = env::flag(env::Var::kGraphBranches) &&
                          cudaStreamCreateWithFlags(&side, cudaStreamNonBlocking) == cudaSuccess &&
                          cudaEventCreateWithFlags(&fork, cudaEventDisableTiming) == cudaSuccess &&
                          cudaEventCreateWithFlags(&join, cudaEventDisableTiming) == cudaSuccess;
    cudaGetLastError();
    if (st.ok())
      st = cuda_status(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    if (st.ok()) {
      capture_stream = s;
      capture_side = branches ? side : nullptr;
      capture_fork = fork, capture_join = join;
      capture_branches = 0;
      std::vector<std::string> names;
      capture_names = &names;
      for (const RecordedOp& op : ops_) {
        st = op.fn(be_);
        if (!st.ok()) break;
      }
      capture_names = nullptr;
      kernels_ = std::move(names);
      capture_stream = capture_side = branch_stream = nullptr;
      capture_fork = capture_join = nullptr;
      branches_ = capture_branches;
      cudaGraph_t graph = nullptr;
      const cudaError_t end = cudaStreamEndCapture(s, &graph);
      if (st.ok()) st = cuda_status(end, "cudaStreamEndCapture");
      cudaGetLastError();  // a failed op invalidates the capture; that error is not sticky
      std::size_t count = 0;
      if (st.ok()) st = cuda_status(cudaGraphGetNodes(graph, nullptr, &count), "cudaGraphGetNodes");
      nodes_ = static_cast<int>(count);
      if (st.ok()) st = cuda_status(cudaGraphInstantiate(&exec_, graph, 0), "cudaGraphInstantiate");
      if (graph) cudaGraphDestroy(graph);
    }
    if (s) cudaStreamDestroy(s);
    if (side) cudaStreamDestroy(side);
    if (fork) cudaEventDestroy(fork);
    if (join) cudaEventDestroy(join);
    if (!st.ok()) {
      exec_ = nullptr;
      failed_ = true;
      failed_generation_ = generation;
      why_ = "graph capture failed (" + st.code + ": " + st.message + "); the ops are replayed one by one";
      return;
    }
    generation_ = generation;
    why_.clear();
  }

  CudaBackend& be_;
  std::vector<RecordedOp> ops_;
  cudaGraphExec_t exec_ = nullptr;
  uint64_t generation_ = 0;
  bool failed_ = false;
  uint64_t failed_generation_ = 0;
  bool graph_ = false;
  int branches_ = 0, nodes_ = 0;
  std::vector<std::string> kernels_;
  std::string why_;
};

}  // namespace

bool capturing() {
  return capture_stream != nullptr;
}

void note_captured(const char* kernel) {
  if (capture_names && kernel) capture_names->emplace_back(kernel);
}

bool in_weight_branch() {
  return weight_branch;
}

Branch::Branch(bool wanted) {
  if (!wanted || weight_branch) return;  // (not nested)
  active_ = weight_branch = true;
  if (!capture_stream || !capture_side) return;
  // Fork: the side stream joins the capture after the capture stream's last node. A failure here ends in
  // cudaStreamEndCapture's error, and the ops are then replayed one by one.
  if (cudaEventRecord(capture_fork, capture_stream) == cudaSuccess &&
      cudaStreamWaitEvent(capture_side, capture_fork, 0) == cudaSuccess) {
    branch_stream = capture_side;
    forked_ = true;
    ++capture_branches;
  }
}

void Branch::leave() {
  if (!active_) return;
  active_ = weight_branch = false;
  branch_stream = nullptr;
}

Branch::~Branch() {
  leave();
  if (forked_) {  // join: the capture stream's next node waits for the branch's last
    cudaEventRecord(capture_join, capture_side);
    cudaStreamWaitEvent(capture_stream, capture_join, 0);
  }
}

cudaStream_t CudaBackend::stream() const {
  return branch_stream ? branch_stream : capture_stream ? capture_stream : stream_;
}

std::unique_ptr<Program> CudaBackend::compile(std::vector<RecordedOp> ops) {
  return std::make_unique<GraphProgram>(*this, std::move(ops));
}

Status CudaBackend::launch_graph(cudaGraphExec_t exec, uint64_t generation, bool* launched) {
  std::lock_guard<std::mutex> lock(mutex_);
  *launched = false;
  if (generation != scratch_generation_.load()) return Status::Ok();
  KN_CUDA(cudaGraphLaunch(exec, stream_));
  *launched = true;
  return Status::Ok();
}

}  // namespace cu
}  // namespace kn
