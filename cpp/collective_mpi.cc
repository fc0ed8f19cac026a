// Collective over Open MPI 4.1, loaded at run time (collective.h has the design). Open MPI's C handles are
// the addresses of its predefined objects (MPI_COMM_WORLD is &ompi_mpi_comm_world, MPI_FLOAT &ompi_mpi_float,
// ...), so the handful of functions and objects used here are looked up by name with dlsym and no MPI header
// is needed to build: the addon builds and loads where Open MPI is absent. libmpi is opened RTLD_GLOBAL, as
// Open MPI's own plugins (dlopened by it) need its symbols. Another MPI (MPICH's libmpi.so.12) has another
// ABI and is refused by name.
#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "collective.h"

namespace kn {
namespace {

using Handle = void*;  // MPI_Comm, MPI_Datatype, MPI_Op, MPI_Errhandler: pointers in Open MPI
constexpr int kSuccess = 0, kThreadSerialized = 2;

struct MpiApi {
  void* lib = nullptr;
  int (*Init_thread)(int*, char***, int, int*) = nullptr;
  int (*Initialized)(int*) = nullptr;
  int (*Finalized)(int*) = nullptr;
  int (*Finalize)() = nullptr;
  int (*Comm_rank)(Handle, int*) = nullptr;
  int (*Comm_size)(Handle, int*) = nullptr;
  int (*Comm_set_errhandler)(Handle, Handle) = nullptr;
  int (*Alltoall)(const void*, int, Handle, void*, int, Handle, Handle) = nullptr;
  int (*Allgather)(const void*, int, Handle, void*, int, Handle, Handle) = nullptr;
  int (*Bcast)(void*, int, Handle, int, Handle) = nullptr;
  int (*Abort)(Handle, int) = nullptr;
  int (*Error_string)(int, char*, int*) = nullptr;
  int (*Get_library_version)(char*, int*) = nullptr;
  Handle comm_world = nullptr, float_type = nullptr, byte_type = nullptr, errors_return = nullptr;
};

// Loads libmpi.so.40 (Open MPI 4.x; or `library`, a path, when given) and its symbols, or says what is
// missing.
Status load(const std::string& library, MpiApi* api) {
  std::vector<std::string> names = {"libmpi.so.40", "libmpi.so"};
  if (!library.empty()) names = {library};
  std::string why;
  for (const std::string& name : names) {
    api->lib = dlopen(name.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (api->lib) break;
    const char* e = dlerror();
    if (why.empty()) why = e ? e : name;
  }
  const std::string install =
      "data-parallel training runs on Open MPI 4.1: install it (Debian/Ubuntu: apt-get install openmpi-bin; "
      "its libmpi.so.40) and launch the script with mpirun, e.g. mpirun -np 2 node train.js";
  if (!api->lib)
    return Status{"ERR_KERNELNET_DISTRIBUTED", "Open MPI could not be loaded (" + why + "): " + install};
  if (!dlsym(api->lib, "ompi_mpi_comm_world"))
    return Status{
        "ERR_KERNELNET_DISTRIBUTED",
        "the libmpi found is not Open MPI (no ompi_mpi_comm_world; another MPI has another ABI): " + install};
  std::string missing;
  auto fn = [&](auto** slot, const char* name) {
    *reinterpret_cast<void**>(slot) = dlsym(api->lib, name);
    if (!*slot) missing += std::string(missing.empty() ? "" : ", ") + name;
  };
  fn(&api->Init_thread, "MPI_Init_thread");
  fn(&api->Initialized, "MPI_Initialized");
  fn(&api->Finalized, "MPI_Finalized");
  fn(&api->Finalize, "MPI_Finalize");
  fn(&api->Comm_rank, "MPI_Comm_rank");
  fn(&api->Comm_size, "MPI_Comm_size");
  fn(&api->Comm_set_errhandler, "MPI_Comm_set_errhandler");
  fn(&api->Alltoall, "MPI_Alltoall");
  fn(&api->Allgather, "MPI_Allgather");
  fn(&api->Bcast, "MPI_Bcast");
  fn(&api->Abort, "MPI_Abort");
  fn(&api->Error_string, "MPI_Error_string");
  fn(&api->Get_library_version, "MPI_Get_library_version");
  fn(&api->comm_world, "ompi_mpi_comm_world");
  fn(&api->float_type, "ompi_mpi_float");
  fn(&api->byte_type, "ompi_mpi_byte");
  fn(&api->errors_return, "ompi_mpi_errors_return");
  if (!missing.empty())
    return Status{"ERR_KERNELNET_DISTRIBUTED", "Open MPI's libmpi lacks " + missing + ": " + install};
  return Status::Ok();
}

class MpiCollective final : public Collective {
 public:
  MpiCollective(MpiApi api, int rank, int size, std::string version, double timeout_s)
      : api_(api), rank_(rank), size_(size), version_(std::move(version)), timeout_s_(timeout_s) {
    watchdog_ = std::thread([this] { watch(); });
    watchdog_.detach();  // runs until the process ends
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string engine() const override { return version_; }

  Status average(float* data, std::size_t count, float scale) override {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::size_t p = static_cast<std::size_t>(size_);
    // In segments whose chunks fit MPI's int counts.
    const std::size_t max_segment = static_cast<std::size_t>(INT_MAX / 2) * p;
    for (std::size_t at = 0; at < count; at += max_segment) {
      const std::size_t n = std::min(count - at, max_segment), chunk = (n + p - 1) / p;
      send_.assign(chunk * p, 0.0f);
      std::memcpy(send_.data(), data + at, n * sizeof(float));
      recv_.resize(chunk * p);
      sum_.resize(chunk);
      Deadline d(this, "average (all-to-all)");
      KN_DIST_TRY(check(api_.Alltoall(send_.data(), static_cast<int>(chunk), api_.float_type, recv_.data(),
                                      static_cast<int>(chunk), api_.float_type, api_.comm_world),
                        "MPI_Alltoall"));
      // Chunk `rank` of every rank's vector, summed in rank order: the same order on every rank.
      for (std::size_t i = 0; i < chunk; ++i) {
        float s = recv_[i];
        for (std::size_t r = 1; r < p; ++r) s += recv_[r * chunk + i];
        sum_[i] = s * scale;
      }
      d.rename("average (all-gather)");
      KN_DIST_TRY(check(api_.Allgather(sum_.data(), static_cast<int>(chunk), api_.float_type, send_.data(),
                                       static_cast<int>(chunk), api_.float_type, api_.comm_world),
                        "MPI_Allgather"));
      std::memcpy(data + at, send_.data(), n * sizeof(float));
    }
    return Status::Ok();
  }

  Status broadcast(void* data, std::size_t bytes, int root) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Deadline d(this, "broadcast");
    for (std::size_t at = 0; at < bytes; at += static_cast<std::size_t>(1) << 30) {
      const int n = static_cast<int>(std::min(bytes - at, static_cast<std::size_t>(1) << 30));
      KN_DIST_TRY(check(api_.Bcast(static_cast<char*>(data) + at, n, api_.byte_type, root, api_.comm_world),
                        "MPI_Bcast"));
    }
    return Status::Ok();
  }

  [[noreturn]] void abort(int code, const std::string& why) override {
    std::fprintf(stderr, "kernelnet: rank %d of %d: %s; ending the job (MPI_Abort)\n", rank_, size_,
                 why.c_str());
    std::fflush(stderr);
    api_.Abort(api_.comm_world, code);
    std::_Exit(code);  // (MPI_Abort does not return)
  }

 private:
  // The deadline of the collective in progress (0: none), watched by watch().
  class Deadline {
   public:
    Deadline(MpiCollective* c, const char* what) : c_(c) {
      c_->what_ = what;
      c_->since_ = now();
      c_->deadline_ = c_->since_ + c_->timeout_s_;
    }
    void rename(const char* what) { c_->what_ = what; }
    ~Deadline() { c_->deadline_ = 0.0; }

   private:
    MpiCollective* c_;
  };

  static double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }

  void watch() {
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const double d = deadline_.load();
      if (d > 0.0 && now() > d) {
        std::fprintf(stderr,
                     "kernelnet: rank %d of %d: the collective %s did not complete within %g s (another rank "
                     "stopped taking part: it died, hangs or left training); exiting so that mpirun ends the "
                     "job (KERNELNET_COLLECTIVE_TIMEOUT sets the limit)\n",
                     rank_, size_, what_.load(), timeout_s_);
        std::fflush(stderr);
        std::_Exit(70);
      }
    }
  }

  Status check(int err, const char* call) {
    if (err == kSuccess) return Status::Ok();
    char text[512] = {};
    int len = 0;
    if (api_.Error_string(err, text, &len) != kSuccess) std::snprintf(text, sizeof(text), "error %d", err);
    return Status{"ERR_KERNELNET_DISTRIBUTED",
                  std::string(call) + " failed on rank " + std::to_string(rank_) + ": " + text};
  }

  MpiApi api_;
  int rank_, size_;
  std::string version_;
  double timeout_s_;
  std::mutex mutex_;  // MPI_THREAD_SERIALIZED: one call at a time, from any thread
  std::vector<float> send_, recv_, sum_;
  std::atomic<double> deadline_{0.0}, since_{0.0};
  std::atomic<const char*> what_{""};
  std::thread watchdog_;
};

std::mutex init_mutex;
MpiCollective* instance = nullptr;
MpiApi* finalize_api = nullptr;

// abort_at_exit()'s code and reason (code 0: none).
std::atomic<int> exit_code{0};
std::string exit_why;

// At the process's exit (after Node has printed an uncaught error): MPI_Abort when abort_at_exit() asked for
// it (an exit with an error: MPI_Finalize would wait for the ranks that wait for this one), else
// MPI_Finalize.
void finalize_at_exit() {
  if (exit_code.load() && instance) instance->abort(exit_code.load(), exit_why);
  int done = 1;
  if (finalize_api && finalize_api->Finalized(&done) == kSuccess && !done) finalize_api->Finalize();
}

}  // namespace

Status collective_init(double timeout_s, const std::string& library, Collective** out) {
  std::lock_guard<std::mutex> lock(init_mutex);
  if (instance) {
    *out = instance;
    return Status::Ok();
  }
  MpiApi api;
  KN_DIST_TRY(load(library, &api));
  int initialized = 0, provided = 0;
  api.Initialized(&initialized);
  if (!initialized) {
    if (api.Init_thread(nullptr, nullptr, kThreadSerialized, &provided) != kSuccess)
      return Status{"ERR_KERNELNET_DISTRIBUTED", "MPI_Init_thread failed"};
    if (provided < kThreadSerialized)
      return Status{"ERR_KERNELNET_DISTRIBUTED",
                    "Open MPI was initialised without MPI_THREAD_SERIALIZED (provided level " +
                        std::to_string(provided) + ")"};
    finalize_api = new MpiApi(api);
    std::atexit(finalize_at_exit);  // mpirun counts a rank that exits without MPI_Finalize as failed
  }
  api.Comm_set_errhandler(api.comm_world, api.errors_return);  // errors become statuses, not aborts
  int rank = 0, size = 1;
  api.Comm_rank(api.comm_world, &rank);
  api.Comm_size(api.comm_world, &size);
  char version[512] = {};
  int len = 0;
  api.Get_library_version(version, &len);
  std::string v(version, std::min<std::size_t>(static_cast<std::size_t>(std::max(len, 0)), sizeof(version)));
  v = v.substr(0, v.find_first_of(",\n"));
  instance = new MpiCollective(api, rank, size, v, timeout_s);  // lives until the process ends
  *out = instance;
  return Status::Ok();
}

void abort_at_exit(int code, const std::string& why) {
  std::lock_guard<std::mutex> lock(init_mutex);
  exit_why = why;
  exit_code = code;
}

Collective* collective() {
  std::lock_guard<std::mutex> lock(init_mutex);
  return instance;
}

}  // namespace kn
