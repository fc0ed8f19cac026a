// The environment variables kernelnet reads: one table (env.cc) and one reading of each, so that no setting
// is ignored without a word. Unset or empty is no setting. A flag is '0' or '1', a count a decimal integer in
// its range, a choice one of its names; any other value is refused with ERR_KERNELNET_ARG ("Expected '0' or
// '1' for KERNELNET_TF32 but received 'yes'"), thrown by an environment's first call into the addon, which
// lib/core/native.ts makes at import, and by every call after it: the value was read, or will be, and would
// otherwise change nothing, or something else, silently. Variables read at each use are also checked at each
// call, so a bad value set later through process.env is refused before an op reads it.
#pragma once
#include <string>

namespace kn::env {

// The variables, in the table's order (env.cc gives each its name, kind and default).
enum class Var {
  kBackend,        // KERNELNET_BACKEND: 'cpu' | 'cuda'
  kNumThreads,     // KERNELNET_NUM_THREADS: 1..1024
  kCpu,            // KERNELNET_CPU: 'generic'
  kWinograd,       // KERNELNET_WINOGRAD: flag, default 1
  kTf32,           // KERNELNET_TF32: flag, default 0
  kCudaSync,       // KERNELNET_CUDA_SYNC: flag, default 0
  kGraphBranches,  // KERNELNET_GRAPH_BRANCHES: flag, default 1, read at each capture
  kPoisonScratch,  // KERNELNET_POISON_SCRATCH: flag, default 0, read at each op
  kGraphs,         // KERNELNET_GRAPHS: flag, default 1, read by lib/engine/training.ts at each fit
  kSimtTile,       // KERNELNET_SIMT_TILE: '4x4' | '8x4', read at each FP32 GEMM on CUDA (unset: by shape)
};

// The readers, for the places that use a variable. An unset, empty or invalid variable gives the default:
// they run at static initialisation and on backend threads, where nothing can be thrown, and problem()
// reports an invalid one first.
bool flag(Var v);           // the table's default when unset
int count(Var v);           // 0 when unset
std::string choice(Var v);  // "" when unset

// The first variable of the table set to a value it does not accept, as a message; "" when there is none.
std::string problem();
// The same for the variables read at each use (KERNELNET_POISON_SCRATCH, KERNELNET_GRAPH_BRANCHES,
// KERNELNET_SIMT_TILE).
std::string per_use_problem();

}  // namespace kn::env
