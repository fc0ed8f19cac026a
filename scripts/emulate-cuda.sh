#!/usr/bin/env bash
# The CUDA backend's own code, run without a GPU. Builds the addon in a scratch copy of the project with
# cuda/*.cu compiled as C++ against cuda/emulate/cuda_runtime.h (kernels on CPU threads, launches checked as a GPU
# checks them, graphs recorded and replayed; every launch goes through common.cuh's launch()), then runs the CUDA
# suite (every op against the CPU backend, programs as graphs, training on both), the program suite, the shape
# edges (limits), faults injected into recorded programs (cuda-faults) and the GPU part of the shape sweep (sweep:
# CUDA against the CPU over generated shapes, scratch poisoned; KERNELNET_SWEEP=long for its long mode) against
# it, the functional acceptance models small (functional-cuda), every tensor-math kernel against the CPU (math-cuda) and
# kernelnet/tfjs's ops against tfjs on the GPU, a smaller set (tfjs-ops). A functional check of the kernels' indexing, barriers, launchers and host logic; it says nothing of speed or
# of the GPU's memory model, which `npm run test:gpu` covers on a real GPU. About seven minutes on 2 cores.
#   SANITIZE=1 bash scripts/emulate-cuda.sh   also AddressSanitizer + UBSan over kernels and host code (slower)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
cd "$repo"
npx tsc -p tsconfig.json
cp -r cpp CMakeLists.txt package.json dist "$work/"
mkdir -p "$work/test" && cp -r test/fixtures "$work/test/" # for SUITES=checkpoint
mkdir -p "$work/cuda"
cp -r cuda/*.cuh cuda/emulate cuda/lab "$work/cuda/"
for f in cuda/*.cu; do
  # A kernel launched with <<<...>>> instead of launch() would not compile as C++: say which.
  if grep -n '<<<' "$f"; then echo "emulate-cuda: launch kernels with launch() (common.cuh), not <<<...>>>, in $f" >&2; exit 1; fi
  cp "$f" "$work/cuda/$(basename "$f").cc"
done
ln -s "$repo/node_modules" "$work/node_modules"
cd "$work"
echo "== building the CUDA backend for an emulated GPU${SANITIZE:+ with AddressSanitizer and UBSan}"
KERNELNET_CUDA_EMULATE=1 KERNELNET_SANITIZE=${SANITIZE:-} npx cmake-js compile > build.log 2>&1 || { grep -E "error|Error" -A3 build.log | head -40; exit 1; }
if [ -n "${SANITIZE:-}" ]; then # as scripts/sanitize.sh: Node is not instrumented, the addon is
  export LD_PRELOAD="$(g++ -print-file-name=libasan.so) $(g++ -print-file-name=libubsan.so)"
  export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1:exitcode=86
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87
fi
node -e 'import("./dist/lib/core/native.js").then(m => { const c = m.native.backends().cuda; if (!c.available) { console.error(c.reason); process.exit(1) } console.log(`cuda backend: ${c.device}`) })'
status=0 passed=0 failed=0 skipped=0
num() { sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -E "^\s*$2:" | tail -1 | grep -oE '[0-9]+' || echo 0; }
export KERNELNET_SWEEP_PART=${KERNELNET_SWEEP_PART:-gpu} # the sweep's CPU half runs in npm test
export KERNELNET_TFJS_OPS_DEVICE=${KERNELNET_TFJS_OPS_DEVICE:-cuda} # tfjs-ops: its smaller set, on the GPU
for suite in ${SUITES:-cuda program limits cuda-faults sweep registry-cuda functional-cuda math-cuda tfjs-ops}; do
  echo "== $suite on the emulated GPU"
  code=0
  KERNELNET_BACKEND=${BACKEND:-cpu} node node_modules/uvu/bin.js dist/test "^$suite\\.test\\.js$" > "$suite.log" 2>&1 || code=$?
  sed 's/\x1b\[[0-9;]*m//g' "$suite.log" | grep -v "^\s*at " | grep -vE "^\s*$" | tail -$([ $code = 0 ] && echo 4 || echo 40)
  t=$(num "$suite.log" Total) p=$(num "$suite.log" Passed) s=$(num "$suite.log" Skipped)
  f=$((t - p)); if [ $code != 0 ] && [ $f = 0 ]; then f=1; fi
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
  [ $code = 0 ] || status=1
done
echo "emulated GPU: $passed passed, $failed failed, $skipped skipped"
exit $status
