// Whether the installed NVIDIA driver can run kernelnet's CUDA kernels on a GPU, decided from the code the
// binary carries for it. Host-only and free of CUDA headers: cuda/backend.cu's probe calls it with what the
// CUDA runtime reports, and test/driver-policy.test.ts runs its decision table through
// test/native/driver_policy.cc without a GPU.
//
// The build says which code it carries: CMake's CUDA architectures (KERNELNET_CUDA_ARCHS, e.g.
// "75-real;80-real;86-real;89-real;90-real;90-virtual") are compiled in as the macro KERNELNET_CUDA_ARCHS,
// with ',' for ';'. "NN-real" is machine code (SASS) for sm_NN, "NN-virtual" is compute_NN PTX, a bare "NN"
// is both; an "a" (architecture-specific) or "f" (family-specific) suffix may follow the number.
//
// The rules, from NVIDIA's documentation:
// - Machine code for compute capability X.y runs on X.z devices, z >= y, and on no other major ("a cubin
//   generated for compute capability 8.6 is supported to run on a GPU with compute capability 8.9 ... 8.x is
//   not supported to run on a GPU with compute capability 9.0": Ada and Blackwell Compatibility Guides,
//   https://docs.nvidia.com/cuda/ada-compatibility-guide/ ,
//   https://docs.nvidia.com/cuda/archive/13.0.0/blackwell-compatibility-guide/index.html). Tegra GPUs are
//   outside that rule ("Binary compatibility is supported only for the desktop. It is not supported for
//   Tegra. Also, the binary compatibility between desktop and Tegra is not supported": CUDA C++ Programming
//   Guide, Binary Compatibility,
//   https://docs.nvidia.com/cuda/cuda-c-programming-guide/#binary-compatibility), so machine code for a Tegra
//   compute capability (sm_53, 62, 72, 87, 101/110), or for a Tegra GPU, counts only on an exact match; so
//   does architecture-specific ("a") code, which is built for one compute capability.
// - PTX for compute capability P is compiled by the driver (JIT) for any device of capability >= P (same
//   guides; "a" PTX only for P itself, "f" PTX within P's major). The runtime loads machine code that fits
//   the device and keeps PTX for devices without it (Programming Guide, Application Compatibility).
// - Minor version compatibility: an application built with a CUDA 13.x toolkit runs on any driver of the same
//   major (CUDA 13.0, release 580, or newer), "with limited feature-set": a feature newer than the driver
//   fails when called with cudaErrorCallRequiresNewerDriver. Its listed limit: "Applications that compile
//   device code to PTX will not work on older drivers. If the application requires PTX then administrators
//   have to upgrade the installed driver." (CUDA Compatibility, Minor Version Compatibility, Application
//   Considerations, https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html; a
//   driver given PTX from a newer toolkit fails with cudaErrorUnsupportedPtxVersion, CUDA Runtime API,
//   cudaError.) Across majors only backward compatibility holds: the driver's CUDA version >= the runtime's.
//
// Hence, for a driver older than the runtime (major.minor):
// - machine code for the device: a driver of the runtime's major is enough;
// - PTX only (sm_100 and newer running compute_90, say): refused, the driver cannot compile this
//   toolkit's PTX;
// - machine code and newer PTX that also fits (sm_80 machine code and compute_86 PTX on an sm_86 GPU): which
//   one the driver loads is not documented, so it is held to the PTX rule;
// - a list naming no architecture ("native", "all", an empty or hand-made build): the code is unknown, so the
//   driver must be at least the runtime's version, as before this policy, and the probe launch tells
//   the rest.
// A driver at least as new as the runtime runs any code the device can use. A GPU with no code it can use is
// refused naming the code the binary carries, and one older than Turing (sm_75) is refused as before.
#pragma once

#include <string>
#include <vector>

namespace kn {
namespace driver_policy {

// "13.0" from the 13000 of cudaDriverGetVersion and CUDART_VERSION.
inline std::string cuda_version_string(int v) {
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

struct Arch {
  int cc = 0;       // 10 * major + minor: 75, 90, 120
  char suffix = 0;  // 'a' (architecture-specific), 'f' (family-specific) or 0
};

struct Archs {
  std::vector<Arch> sass;  // machine code: "NN-real" and "NN"
  std::vector<Arch> ptx;   // PTX: "NN-virtual" and "NN"
  bool known = false;      // every entry named an architecture, and there was one
};

// A CMake CUDA architectures list, entries separated by ';' or ','.
inline Archs parse_archs(const std::string& list) {
  Archs out;
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t end = list.find_first_of(";,", start);
    if (end == std::string::npos) end = list.size();
    std::string entry = list.substr(start, end - start);
    start = end + 1;
    const std::size_t first = entry.find_first_not_of(" \t"), last = entry.find_last_not_of(" \t");
    if (first == std::string::npos) continue;
    entry = entry.substr(first, last - first + 1);
    bool sass = true, ptx = true;
    const std::size_t dash = entry.find('-');
    if (dash != std::string::npos) {
      const std::string kind = entry.substr(dash + 1);
      if (kind == "real") {
        ptx = false;
      } else if (kind == "virtual") {
        sass = false;
      } else {
        return Archs{};  // "all-major" and the like
      }
      entry.resize(dash);
    }
    Arch arch;
    std::size_t i = 0;
    while (i < entry.size() && entry[i] >= '0' && entry[i] <= '9' && i < 4)
      arch.cc = arch.cc * 10 + (entry[i++] - '0');
    if (i < entry.size() && (entry[i] == 'a' || entry[i] == 'f')) arch.suffix = entry[i++];
    if (i == 0 || i != entry.size() || arch.cc < 10) return Archs{};  // "native", "all", "OFF"
    if (sass) out.sass.push_back(arch);
    if (ptx) out.ptx.push_back(arch);
  }
  out.known = !out.sass.empty() || !out.ptx.empty();
  return out;
}

// Tegra (integrated, Jetson and DRIVE) compute capabilities: no binary compatibility to or from them.
inline bool tegra(int cc) {
  return cc == 53 || cc == 62 || cc == 72 || cc == 87 || cc == 101 || cc == 110;
}

inline bool sass_runs(const Arch& code, int cc) {
  if (code.suffix == 'a' || tegra(code.cc) || tegra(cc)) return code.cc == cc;
  return code.cc / 10 == cc / 10 && code.cc % 10 <= cc % 10;
}

inline bool ptx_runs(const Arch& code, int cc) {
  if (code.suffix == 'a') return code.cc == cc;
  if (code.suffix == 'f') return code.cc / 10 == cc / 10 && code.cc % 10 <= cc % 10;
  return code.cc <= cc;
}

inline std::string arch_name(const char* prefix, const Arch& a) {
  std::string s = prefix + std::to_string(a.cc);
  if (a.suffix) s += a.suffix;
  return s;
}

inline std::string arch_names(const char* prefix, const std::vector<Arch>& archs) {
  std::string s;
  for (const Arch& a : archs) s += (s.empty() ? "" : ", ") + arch_name(prefix, a);
  return s.empty() ? "none" : s;
}

struct Verdict {
  bool ok = false;
  bool jit = false;    // the device would run PTX compiled by the driver (or may: see above)
  std::string reason;  // why not, when refused
};

// driver: cudaDriverGetVersion's CUDA version (13000 = 13.0); runtime: CUDART_VERSION; cc: the device's
// 10 * major + minor; device: how the reason names the GPU.
inline Verdict decide(int driver, int runtime, int cc, const Archs& archs, const std::string& device) {
  Verdict v;
  if (cc < 75) {
    v.reason = device + " is older than Turing (sm_75), the oldest GPU kernelnet's kernels are built for";
    return v;
  }
  const std::string versions = "the NVIDIA driver supports CUDA " + cuda_version_string(driver) +
                               " but kernelnet's CUDA runtime is " + cuda_version_string(runtime);
  if (!archs.known) {
    if (driver < runtime) {
      v.reason = versions + "; update the driver";
      return v;
    }
    v.ok = true;
    return v;
  }
  const Arch* best_sass = nullptr;
  const Arch* best_ptx = nullptr;
  for (const Arch& a : archs.sass)
    if (sass_runs(a, cc) && (!best_sass || a.cc > best_sass->cc)) best_sass = &a;
  for (const Arch& a : archs.ptx)
    if (ptx_runs(a, cc) && (!best_ptx || a.cc > best_ptx->cc)) best_ptx = &a;
  if (!best_sass && !best_ptx) {
    v.reason = device + " cannot run kernelnet's kernels: the binary carries machine code for " +
               arch_names("sm_", archs.sass) + " and PTX for " + arch_names("compute_", archs.ptx) +
               ", none of it for sm_" + std::to_string(cc);
    return v;
  }
  v.jit = !best_sass || (best_ptx && best_ptx->cc > best_sass->cc);
  if (driver >= runtime) {  // backward compatibility: a driver runs what older toolkits built
    v.ok = true;
    return v;
  }
  if (driver / 1000 != runtime / 1000) {  // minor version compatibility stops at the major
    v.reason = versions + "; update the driver";
    return v;
  }
  if (v.jit) {
    const std::string ptx = arch_name("compute_", *best_ptx);
    v.reason = versions + ", and " + device + (best_sass ? " may run" : " runs") + " its " + ptx +
               " PTX, which only a driver for CUDA " + cuda_version_string(runtime) +
               " or newer can compile; update the driver";
    return v;
  }
  v.ok = true;  // minor version compatibility: machine code for this device, a driver of the runtime's major
  return v;
}

}  // namespace driver_policy
}  // namespace kn
