// The environment variables kernelnet reads and the values each accepts (env.h). README.md, "Environment
// variables", documents the same list.
#include "env.h"

#include <cstdlib>
#include <cstring>
#include <vector>

namespace kn::env {
namespace {

enum class Kind { kFlag, kCount, kChoice };

struct Spec {
  Var id;
  const char* name;
  Kind kind;
  bool per_use;                      // read at each use (not once): checked again at every call
  bool on = false;                   // a flag's default
  int max = 0;                       // a count's largest value
  std::vector<const char*> choices;  // a choice's names
};

// Leaked, and built at first use: the readers run from other files' static initialisers.
const std::vector<Spec>& table() {
  static const std::vector<Spec>* specs = new std::vector<Spec>{
      {Var::kBackend, "KERNELNET_BACKEND", Kind::kChoice, false, false, 0, {"cpu", "cuda"}},
      {Var::kNumThreads, "KERNELNET_NUM_THREADS", Kind::kCount, false, false, 1024, {}},
      {Var::kCpu, "KERNELNET_CPU", Kind::kChoice, false, false, 0, {"generic"}},
      {Var::kWinograd, "KERNELNET_WINOGRAD", Kind::kFlag, false, true},
      {Var::kTf32, "KERNELNET_TF32", Kind::kFlag, false, false},
      {Var::kCudaSync, "KERNELNET_CUDA_SYNC", Kind::kFlag, false, false},
      {Var::kGraphBranches, "KERNELNET_GRAPH_BRANCHES", Kind::kFlag, true, true},
      {Var::kPoisonScratch, "KERNELNET_POISON_SCRATCH", Kind::kFlag, true, false},
      // Read by lib/engine/training.ts at each fit (with the same rule); listed so that a bad value is
      // refused at load.
      {Var::kGraphs, "KERNELNET_GRAPHS", Kind::kFlag, false, true},
      // Kernel 1's micro-tile (cuda/gemm.cu, simt_wide): the speed only, never the bits.
      {Var::kSimtTile, "KERNELNET_SIMT_TILE", Kind::kChoice, true, false, 0, {"4x4", "8x4"}},
  };
  return *specs;
}

const Spec& spec(Var id) {
  for (const Spec& v : table())
    if (v.id == id) return v;
  return table().front();  // unreachable: every Var has its row
}

// The value of a set variable; null for unset or empty.
const char* value(const Spec& v) {
  const char* s = std::getenv(v.name);
  return s && *s ? s : nullptr;
}

// A count's value, or 0 when s is not a decimal integer in 1..max (no sign, space or exponent).
int parse_count(const Spec& v, const char* s) {
  long n = 0;
  for (const char* p = s; *p; ++p) {
    if (*p < '0' || *p > '9' || n > v.max) return 0;
    n = n * 10 + (*p - '0');
  }
  return n >= 1 && n <= v.max ? static_cast<int>(n) : 0;
}

bool valid(const Spec& v, const char* s) {
  switch (v.kind) {
    case Kind::kFlag:
      return std::strcmp(s, "0") == 0 || std::strcmp(s, "1") == 0;
    case Kind::kCount:
      return parse_count(v, s) > 0;
    case Kind::kChoice:
      for (const char* c : v.choices)
        if (std::strcmp(s, c) == 0) return true;
      return false;
  }
  return false;
}

std::string expected(const Spec& v) {
  switch (v.kind) {
    case Kind::kFlag:
      return "'0' or '1'";
    case Kind::kCount:
      return "a positive integer (at most " + std::to_string(v.max) + ")";
    case Kind::kChoice: {
      std::string out;
      for (std::size_t i = 0; i < v.choices.size(); ++i)
        out += (i == 0                      ? ""
                : i + 1 == v.choices.size() ? " or "
                                            : ", ") +
               std::string("'") + v.choices[i] + "'";
      return out;
    }
  }
  return "";
}

std::string first_problem(bool per_use_only) {
  for (const Spec& v : table()) {
    if (per_use_only && !v.per_use) continue;
    const char* s = value(v);
    if (s && !valid(v, s))
      return "Expected " + expected(v) + " for " + v.name + " but received '" + std::string(s) + "'";
  }
  return "";
}

}  // namespace

bool flag(Var id) {
  const Spec& v = spec(id);
  const char* s = value(v);
  return s && valid(v, s) ? s[0] == '1' : v.on;
}

int count(Var id) {
  const Spec& v = spec(id);
  const char* s = value(v);
  return s ? parse_count(v, s) : 0;
}

std::string choice(Var id) {
  const Spec& v = spec(id);
  const char* s = value(v);
  return s && valid(v, s) ? s : "";
}

std::string problem() {
  return first_problem(false);
}

std::string per_use_problem() {
  return first_problem(true);
}

}  // namespace kn::env
