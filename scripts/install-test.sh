#!/usr/bin/env bash
# The clean-machine install test (npm run test:install; run by CI): build the prebuild if missing, `npm pack`,
# install the tarball into an empty folder with a PATH that holds only node, npm and sh (no compiler, no cmake,
# no nvcc), then import kernelnet there (ESM and CommonJS), train the seed model for a few steps on synthetic
# data and check the backend's reason. Fails if anything was compiled during the install.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
[ -f prebuilds/linux-x64/kernelnet.node ] && [ -f prebuilds/linux-arm64/kernelnet.node ] || npm run prebuilds
# The arm64 Node.js that runs the arm64 prebuild under qemu below (fetched now, while npm is on PATH).
arm_node=""
if [ -x /usr/bin/qemu-aarch64 ]; then arm_node=$(bash scripts/arm64.sh nodepath); fi
if ldd prebuilds/linux-x64/kernelnet.node | grep -E 'libcuda|libcudart'; then
  echo "install test: the prebuild links the CUDA runtime or driver dynamically" >&2
  exit 1
fi
tgz="$repo/$(npm pack --silent 2> /dev/null | tail -1)"
work=$(mktemp -d)
full_path=$PATH
trap 'PATH=$full_path rm -rf "$work" "$tgz"' EXIT
mkdir -p "$work/bin" "$work/app"
for tool in node npm sh; do ln -s "$(command -v $tool)" "$work/bin/$tool"; done
export PATH="$work/bin"
if command -v cc > /dev/null || command -v c++ > /dev/null || command -v cmake > /dev/null || command -v nvcc > /dev/null; then
  echo "install test: the restricted PATH still reaches a compiler" >&2
  exit 1
fi
cd "$work/app"
echo '{ "name": "app", "private": true, "type": "module" }' > package.json
npm install --no-audit --no-fund --prefer-offline "$tgz" > install.log 2>&1 || { cat install.log; exit 1; }
if [ -e node_modules/kernelnet/build ]; then
  echo "install test: the install compiled the addon instead of using the prebuild" >&2
  cat install.log
  exit 1
fi
node --input-type=module -e '
import { Sequential, Conv2D, MaxPooling2D, Dropout, Flatten, Dense, Adadelta, tensor, toCategorical, backend, memory } from "kernelnet";
const n = 64, x = new Float32Array(n * 784).map((_, i) => (Math.sin(i * 0.7) + 1) / 2);
const model = new Sequential({ seed: 1 });
model.add(new Conv2D({ filters: 32, kernelSize: [3, 3], activation: "relu", inputShape: [28, 28, 1] }));
model.add(new Conv2D({ filters: 64, kernelSize: [3, 3], activation: "relu" }));
model.add(new MaxPooling2D({ poolSize: [2, 2] }));
model.add(new Dropout({ rate: 0.25 }));
model.add(new Flatten());
model.add(new Dense({ units: 128, activation: "relu" }));
model.add(new Dropout({ rate: 0.5 }));
model.add(new Dense({ units: 10, activation: "softmax" }));
model.compile({ loss: "categoricalCrossentropy", optimizer: new Adadelta({ learningRate: 1.0 }), metrics: ["accuracy"] });
if (model.countParams() !== 1199882) throw new Error(`params ${model.countParams()}`);
const h = await model.fit(tensor(x, [n, 28, 28, 1]), toCategorical(Array.from({ length: n }, (_, i) => i % 10), 10), { batchSize: 16, epochs: 2, verbose: 0 });
if (!h.history.loss.every(Number.isFinite)) throw new Error(`losses ${h.history.loss}`);
const b = backend();
if (!b.reason) throw new Error("no backend reason");
console.log(`ESM: trained ${h.history.loss.length} epochs, losses ${h.history.loss.map(l => l.toFixed(4)).join(", ")}; backend ${b.name}: ${b.reason}`);
// The ONNX export runs from the installed package (protobufjs, its dependency, came with it).
model.export("model.onnx", { format: "onnx" });
const head = (await import("node:fs")).readFileSync("model.onnx");
if (head.length < 4 * 1199882 || !head.includes(Buffer.from("kernelnet"))) throw new Error(`model.onnx: ${head.length} bytes`);
console.log(`ESM: exported model.onnx, ${head.length} bytes`);
model.dispose();
'
node -e '
const k = require("kernelnet");
if (typeof k.Sequential !== "function") throw new Error("no Sequential from require()");
console.log(`CommonJS: require("kernelnet") works, backend ${k.backend().name}`);
'
# A stale local build (here: the prebuild relabelled as version 0.0.0) must not shadow the prebuild.
node -e '
const fs = require("fs");
fs.mkdirSync("node_modules/kernelnet/build/Release", { recursive: true });
const bin = fs.readFileSync("node_modules/kernelnet/prebuilds/linux-x64/kernelnet.node");
const version = Buffer.from(require("kernelnet/package.json").version + "\0");
const at = bin.indexOf(version);
if (at < 0 || bin.indexOf(version, at + 1) >= 0) throw new Error("version string not found exactly once");
Buffer.from("0.0.0".padEnd(version.length - 1, "0") + "\0").copy(bin, at);
fs.writeFileSync("node_modules/kernelnet/build/Release/kernelnet.node", bin);'
node --input-type=module -e '
import { backend, nativeBinary } from "kernelnet";
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const stale = require("./node_modules/kernelnet/build/Release/kernelnet.node").version();
if (!stale.startsWith("0.0.0")) throw new Error(`the stale copy says ${stale}`);
const used = nativeBinary();
if (used.kind !== "prebuild") throw new Error(`loaded ${used.kind} ${used.path}`);
console.log(`stale local build (${stale}) skipped: loaded the ${used.kind} ${used.version}, backend ${backend().name}`);
'
# The package's command: `npx kernelnet doctor` finds the prebuild and reports no problem here.
./node_modules/.bin/kernelnet doctor > doctor.log || { node -e 'process.stdout.write(require("fs").readFileSync("doctor.log", "utf8"))'; echo "install test: kernelnet doctor reported problems" >&2; exit 1; }
node -e '
const t = require("fs").readFileSync("doctor.log", "utf8");
if (!t.includes("native binary: prebuild")) { console.log(t); throw new Error("doctor did not name the prebuild"); }
console.log(`kernelnet doctor: ${t.trim().split("\n").length} lines, no problems`);'
# linux-arm64: the tarball's arm64 prebuild loads and trains under qemu with the arm64 Node.js, nothing compiled.
if [ -n "$arm_node" ]; then
  [ -f node_modules/kernelnet/prebuilds/linux-arm64/kernelnet.node ] || { echo "install test: the tarball has no linux-arm64 prebuild" >&2; exit 1; }
  /usr/bin/qemu-aarch64 -L /usr/aarch64-linux-gnu "$arm_node" --input-type=module -e '
import { Sequential, Conv2D, Flatten, Dense, tensor, toCategorical, nativeBinary, backend } from "kernelnet";
const n = 32, x = new Float32Array(n * 784).map((_, i) => (Math.sin(i * 0.3 + (Math.floor(i / 784) % 4)) + 1) / 2);
const m = new Sequential({ seed: 1, layers: [new Conv2D({ filters: 8, kernelSize: 3, activation: "relu", inputShape: [28, 28, 1] }), new Flatten(), new Dense({ units: 4, activation: "softmax" })] });
m.compile({ loss: "categoricalCrossentropy", optimizer: "adam" });
const h = await m.fit(tensor(x, [n, 28, 28, 1]), toCategorical(Array.from({ length: n }, (_, i) => i % 4), 4), { batchSize: 8, epochs: 3, verbose: 0 });
const b = nativeBinary();
if (b.kind !== "prebuild" || !b.path.includes("linux-arm64") || !(h.history.loss[2] < h.history.loss[0])) throw new Error(`${b.kind} ${b.path}: ${h.history.loss}`);
console.log(`arm64 (qemu): the ${b.kind} ${b.path.split("/").slice(-2).join("/")} trained, losses ${h.history.loss.map(l => l.toFixed(4)).join(", ")}; ${backend().device}`);
'
fi
kb() { node -p "Math.round(require('fs').statSync('$1').size / 1024)"; }
echo "install test: passed (tarball $(kb "$tgz") kB, binaries $(kb node_modules/kernelnet/prebuilds/linux-x64/kernelnet.node) kB x64 and $(kb node_modules/kernelnet/prebuilds/linux-arm64/kernelnet.node) kB arm64, nothing compiled)"
