#!/usr/bin/env bash
# Native memory safety (not in the default test run: about three minutes). Builds the addon with
# AddressSanitizer and UndefinedBehaviorSanitizer in a scratch copy of the project (CPU backend; the normal build
# is untouched), then runs the native-heavy suites (ops, gradients, activations, batch normalization, pooling,
# broadcasting elementwise ops, functional models, datasets,
# optimizers, tensor utilities, weights, schedules, API guards, programs, checkpoints, soak, fuzzing) against it
# with the sanitizer runtimes preloaded into Node. Any report fails the run. GPU: `npm run test:gpu` runs
# compute-sanitizer memcheck and racecheck on the CUDA suite.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT; echo "scratch: $work"
cd "$repo"
npx tsc -p tsconfig.json
cp -r cpp cuda CMakeLists.txt package.json tsconfig.json dist lib "$work/" # lib/: the api suite reads native.ts with the TypeScript compiler
mkdir -p "$work/test" && cp -r test/fixtures "$work/test/" # the checkpoint suite reads its fixture from the source tree
ln -s "$repo/node_modules" "$work/node_modules"
cd "$work"
echo "== building with -fsanitize=address,undefined"
KERNELNET_SANITIZE=1 npx cmake-js compile > build.log 2>&1 || { tail -30 build.log; exit 1; }
asan=$(g++ -print-file-name=libasan.so) ubsan=$(g++ -print-file-name=libubsan.so)
# Node itself is not instrumented: leaks at exit and its own allocator are not ours to judge.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1:exitcode=86
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87
export FUZZ_RUNS=${FUZZ_RUNS:-0.3}
export KERNELNET_SOAK_RSS_MB=1024  # ASan's quarantine holds freed memory: RSS is not a leak signal here
status=0
for suite in ops gradcheck activations batchnorm pooling elementwise functional datasets optimizers tensor-utils weights schedules api program checkpoint soak fuzz; do
  echo "== $suite under ASan + UBSan"
  if LD_PRELOAD="$asan $ubsan" node node_modules/uvu/bin.js dist/test "^$suite\\.test\\.js$" > "$suite.log" 2>&1; then
    grep -E "Total|Passed" "$suite.log" | tr -s ' ' | tr '\n' ' '; echo
  else
    status=1
    grep -E "ERROR: AddressSanitizer|runtime error|SUMMARY|FAIL" "$suite.log" | head -20
    tail -40 "$suite.log"
  fi
  if grep -qE "ERROR: AddressSanitizer|runtime error:" "$suite.log"; then status=1; echo "   sanitizer report in $suite"; fi
done
[ $status = 0 ] && echo "sanitizers: 0 reports" || echo "sanitizers: reports found"
exit $status
