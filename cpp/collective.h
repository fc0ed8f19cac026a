// Collectives between the processes of a data-parallel job (lib/distribution.ts): one process per device,
// each training a replica on its share of every batch, gradients averaged between the backward pass and the
// update. kernelnet writes no collective algorithm of its own; an engine that clusters already run does the
// transport. The engine here is Open MPI 4.1 (collective_mpi.cc), loaded at run time with dlopen, so the
// addon (and its prebuilds) loads and runs where no MPI is installed, and says what is missing only when a
// user asks for distribution. The interface is what NCCL would also implement for GPUs (device pointers and a
// stream in place of host buffers; ncclAllGather + a rank-ordered sum, ncclBroadcast), which is not built
// here.
//
// Determinism: average() sums the ranks' values in rank order 0, 1, ..., P-1 on every rank (a reduce-scatter
// by all-to-all, each rank summing its chunk of every rank's vector in that order, then an all-gather of the
// sums), so every rank gets the same bits, whatever algorithms the engine picks for its own collectives, and
// a run with a fixed world size and seed repeats bit for bit. Traffic per rank: 2 (P - 1) / P of the vector,
// as a ring all-reduce.
//
// Failure: every collective runs under a deadline (timeout_s, KERNELNET_COLLECTIVE_TIMEOUT); a watchdog
// thread that sees it pass prints which rank, which collective and how long, and exits the process with
// status 70, and mpirun then ends the whole job (Open MPI 4.1 has no fault tolerance: when one rank exits or
// dies, mpirun kills the others). abort() ends the job at once through MPI_Abort, naming the rank.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

#include "backend.h"

// Returns a failed Status from the enclosing function (the collective code's KN_TRY; cuda/common.cuh has its
// own).
#define KN_DIST_TRY(expr)      \
  do {                         \
    ::kn::Status st_ = (expr); \
    if (!st_.ok()) return st_; \
  } while (0)

namespace kn {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // The engine and its version ("Open MPI v4.1.4, ...").
  virtual std::string engine() const = 0;
  // data[i] = (sum over ranks r in order of data_r[i]) * scale, the same bits on every rank.
  virtual Status average(float* data, std::size_t count, float scale) = 0;
  // data = the root's data, on every rank.
  virtual Status broadcast(void* data, std::size_t bytes, int root) = 0;
  // Ends the whole job now (every rank), after printing `why` with this rank's number.
  [[noreturn]] virtual void abort(int code, const std::string& why) = 0;
};

// The process's collective engine, made by the first call (Open MPI, from libmpi.so.40 or the path `library`
// when not empty, initialised once; the environment's launcher decides rank and size), or an error saying
// what is missing. timeout_s bounds each collective (see above); a later call returns the same engine and
// ignores its arguments.
Status collective_init(double timeout_s, const std::string& library, Collective** out);
// The engine if collective_init succeeded, else null.
Collective* collective();
// Makes the process's exit end the whole job (abort(code, why)) instead of finalizing: for a process that
// exits with an error, called from its exit event, so that the abort comes after Node has printed the error.
void abort_at_exit(int code, const std::string& why);

}  // namespace kn
