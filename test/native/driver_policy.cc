// The CUDA probe's driver decision (cpp/driver_policy.h) on rows read from stdin, one per line:
//   <driver> <runtime> <cc> <archs>
// versions as cudaDriverGetVersion gives them (13000 = 13.0), cc as 10 * major + minor, archs a CMake CUDA
// architectures list ("75-real;86;90-virtual"; "-" for an empty one). Prints one JSON object per row with the
// verdict and the code the list was read as: test/driver-policy.test.ts holds them to the decision table.
#include "driver_policy.h"

#include <iostream>
#include <sstream>
#include <string>

using namespace kn::driver_policy;

static std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

static std::string json_archs(const char* prefix, const std::vector<Arch>& archs) {
  std::string out = "[";
  for (const Arch& a : archs) out += (out.size() > 1 ? "," : "") + json_string(arch_name(prefix, a));
  return out + "]";
}

int main() {
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    int driver = 0, runtime = 0, cc = 0;
    std::string list;
    if (!(in >> driver >> runtime >> cc >> list)) {
      std::cerr << "driver_policy: bad row: " << line << "\n";
      return 2;
    }
    if (list == "-") list.clear();
    const Archs archs = parse_archs(list);
    const Verdict v = decide(driver, runtime, cc, archs, "GPU sm_" + std::to_string(cc));
    std::cout << "{\"ok\":" << (v.ok ? "true" : "false") << ",\"jit\":" << (v.jit ? "true" : "false")
              << ",\"reason\":" << json_string(v.reason) << ",\"known\":" << (archs.known ? "true" : "false")
              << ",\"sass\":" << json_archs("sm_", archs.sass)
              << ",\"ptx\":" << json_archs("compute_", archs.ptx) << "}\n";
  }
  return 0;
}
