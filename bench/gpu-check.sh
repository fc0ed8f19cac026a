#!/usr/bin/env bash
# The GPU check (npm run test:gpu): the whole test suite on the CUDA backend, compute-sanitizer memcheck and
# racecheck on the CUDA op suite, the full 12-epoch seed example on CUDA, the bench (kernel table against the
# card's peaks, end-to-end epoch time, PyTorch on the same card with data on the GPU and with a DataLoader), and
# an Nsight Compute profile of training steps (top kernels and what limits each); then one record with the git
# commit, GPU, driver, tests passed/failed, sanitizer verdicts, test accuracy, seconds per epoch, peak GPU
# memory, the bench and the profile, and the same example and bench with TF32 tensor cores (KERNELNET_TF32=1),
# written to bench/results/gpu-<date>-<commit>.json (and to $OUT when set).
# If the prebuilt or carried addon does not load there, it is rebuilt for sm_90 first.
#   EPOCHS=12 SANITIZE=1 PROFILE=1 bash bench/gpu-check.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
epochs=${EPOCHS:-12}
logs=${OUT:-$(mktemp -d)}
mkdir -p "$logs" bench/results
commit=${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
export KERNELNET_BACKEND=cuda
strip() { sed 's/\x1b\[[0-9;]*m//g' "$1"; }
count() { strip "$1" | grep -E "^\s*$2:" | tail -1 | grep -oE '[0-9]+' || echo 0; }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$logs/gpu.txt" 2>&1
echo "== GPU: $(cat "$logs/gpu.txt")"
npx tsc -p tsconfig.json || exit 1
# A binary built elsewhere may not load here (other system libraries): then build it here, for sm_90. A binary
# that loads but finds no usable GPU (ERR_KERNELNET_BACKEND, with the reason) is not helped by a rebuild.
load() { node -e 'import("./dist/lib/native.js").then(m => console.log(`backend: ${JSON.stringify(m.native.backend())}`), e => { console.log(`${e.code}: ${e.message}`); process.exit(e.code === "ERR_KERNELNET_LOAD" ? 2 : 3) })'; }
load > "$logs/load.log" 2>&1; loaded=$?
cat "$logs/load.log"
if [ "$loaded" = 2 ]; then
  echo "== the addon did not load here: building it for sm_90"
  KERNELNET_CUDA_ARCHS=90-real npx cmake-js rebuild > "$logs/build.log" 2>&1 || { tail -20 "$logs/build.log"; exit 1; }
  load
fi

echo "== test suite on CUDA"
npx uvu dist/test '\.test\.js$' > "$logs/test.log" 2>&1
test_status=$?
tail -5 "$logs/test.log"
total=$(count "$logs/test.log" Total) passed=$(count "$logs/test.log" Passed) skipped=$(count "$logs/test.log" Skipped)

sanitize() { # tool -> verdict
  if ! command -v compute-sanitizer > /dev/null; then echo "not run: compute-sanitizer not found"; return; fi
  timeout 900 compute-sanitizer --tool "$1" --error-exitcode 9 node dist/test/cuda.test.js > "$logs/sanitizer-$1.log" 2>&1
  case $? in
    0) echo "clean";;
    9) echo "errors: $(grep -m1 -E '========= (Invalid|Race|Error)' "$logs/sanitizer-$1.log" | head -c 200)";;
    124) echo "not finished in 900 s";;
    *) echo "failed to run (see sanitizer-$1.log)";;
  esac
}
memcheck="not run" racecheck="not run"
if [ "${SANITIZE:-1}" = 1 ]; then
  echo "== compute-sanitizer"
  memcheck=$(sanitize memcheck); echo "memcheck: $memcheck"
  racecheck=$(sanitize racecheck); echo "racecheck: $racecheck"
fi

echo "== mnist_cnn, $epochs epochs on CUDA"
( peak=0; while sleep 0.5; do
    m=$(nvidia-smi --query-compute-apps=used_memory --format=csv,noheader,nounits 2>/dev/null | sort -n | tail -1)
    [ -n "$m" ] && [ "$m" -gt "$peak" ] && peak=$m && echo "$peak" > "$logs/peak-mib.txt"
  done ) & sampler=$!
node dist/examples/mnist_cnn.js --backend cuda --epochs "$epochs" --seed 1 --json "$logs/mnist.json" > "$logs/mnist.log" 2>&1
mnist_status=$?
kill $sampler 2>/dev/null
tail -3 "$logs/mnist.log"

echo "== bench"
node dist/bench/bench.js --json "$logs/bench.json" > "$logs/bench.log" 2>&1
cat "$logs/bench.log"

echo "== TF32 tensor cores (KERNELNET_TF32=1): $epochs epochs and the bench"
KERNELNET_TF32=1 node dist/examples/mnist_cnn.js --backend cuda --epochs "$epochs" --seed 1 --json "$logs/mnist-tf32.json" > "$logs/mnist-tf32.log" 2>&1
tail -2 "$logs/mnist-tf32.log"
KERNELNET_TF32=1 node dist/bench/bench.js --no-torch --json "$logs/bench-tf32.json" > "$logs/bench-tf32.log" 2>&1
cat "$logs/bench-tf32.log"

if [ "${PROFILE:-1}" = 1 ] && command -v ncu > /dev/null; then
  echo "== Nsight Compute: kernels of training steps 3 and 4 (the clocks left as they are)"
  KERNELNET_GRAPHS=0 timeout 600 ncu --clock-control none --csv --page details --section SpeedOfLight \
    --section Occupancy --section LaunchStats --launch-skip 80 --launch-count 40 \
    node dist/bench/profile-step.js --steps 8 > "$logs/ncu.csv" 2> "$logs/ncu.log"
  node dist/bench/ncu-summary.js "$logs/ncu.csv" --top 3 --json "$logs/profile.json" || tail -5 "$logs/ncu.log"
fi

record="bench/results/gpu-$(date -u +%Y%m%d)-$commit.json"
node -e '
const fs = require("fs"), [logs, record, commit, total, passed, skipped, testStatus, memcheck, racecheck, mnistStatus] = process.argv.slice(1);
const read = f => { try { return JSON.parse(fs.readFileSync(`${logs}/${f}`, "utf8")); } catch { return null; } };
const mnist = read("mnist.json"), bench = read("bench.json"), profile = read("profile.json");
const mnistTf32 = read("mnist-tf32.json"), benchTf32 = read("bench-tf32.json");
const peak = fs.existsSync(`${logs}/peak-mib.txt`) ? Number(fs.readFileSync(`${logs}/peak-mib.txt`, "utf8")) : null;
const r = {
  commit, date: new Date().toISOString(), gpu: fs.readFileSync(`${logs}/gpu.txt`, "utf8").trim(),
  backend: mnist?.backend ?? bench?.backend ?? null,
  tests: { total: +total, passed: +passed, failed: Math.max(+total - +passed, +testStatus ? 1 : 0), skipped: +skipped, exitStatus: +testStatus },
  sanitizers: { memcheck, racecheck },
  mnist: mnist ? { epochs: mnist.epochs, testAccuracy: mnist.testAccuracy, testLoss: mnist.testLoss, secondsPerEpoch: mnist.secondsPerEpoch,
    valAccuracy: mnist.history.val_accuracy } : { exitStatus: +mnistStatus },
  peakGpuMemoryMiB: peak,
  bench: bench ? { peakGflops: bench.peakGflops, peakGBs: bench.peakGBs, imagesPerSecond: bench.imagesPerSecond,
    secondsPerEpoch: bench.secondsPerEpoch, stepProgram: bench.stepProgram, memory: bench.memory, torch: bench.torch,
    kernelnetOverTorch: Object.fromEntries(Object.entries(bench.torch ?? {}).map(([k, t]) => [k, bench.imagesPerSecond / t.imagesPerSecond])),
    ops: bench.ops } : null,
  tf32: {
    mnist: mnistTf32 ? { testAccuracy: mnistTf32.testAccuracy, secondsPerEpoch: mnistTf32.secondsPerEpoch } : null,
    bench: benchTf32 ? { imagesPerSecond: benchTf32.imagesPerSecond, secondsPerEpoch: benchTf32.secondsPerEpoch, ops: benchTf32.ops } : null,
  },
  profile,
};
fs.writeFileSync(record, JSON.stringify(r, null, 2) + "\n");
if (process.env.OUT) fs.writeFileSync(`${process.env.OUT}/${record.split("/").pop()}`, JSON.stringify(r, null, 2) + "\n");
console.log(JSON.stringify({ ...r, bench: r.bench && { ...r.bench, ops: undefined }, tf32: { ...r.tf32, bench: r.tf32.bench && { ...r.tf32.bench, ops: undefined } } }, null, 2));
' "$logs" "$record" "$commit" "$total" "$passed" "$skipped" "$test_status" "$memcheck" "$racecheck" "$mnist_status"
echo "wrote $record"
[ "$test_status" = 0 ] && [ "$mnist_status" = 0 ]
