#!/usr/bin/env node
// prebuildify --node-gyp scripts/prebuild-cmake.cjs: prebuildify runs "node-gyp rebuild --target=V --devdir=D
// [--arch=A] --release|--debug"; this maps that to `cmake-js rebuild`, so prebuilds come from the CMake build
// (with the CUDA backend where nvcc is found). --target is dropped: cmake-js reads it as a CMake target, and an
// N-API build does not depend on the Node version. --devdir is dropped: N-API headers come from node-api-headers.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

/**
 * The build's environment: KERNELNET_PREBUILD=1 makes scripts/cuda-archs.cjs choose every architecture the
 * package ships, where a build from source chooses only this machine's GPUs.
 */
function prebuildEnv(env) {
  return { ...env, KERNELNET_PREBUILD: '1' };
}

if (require.main === module) {
  const args = ['rebuild'];
  for (const a of process.argv.slice(2)) {
    if (a === '--debug') args.push('--debug');
    else if (a.startsWith('--arch=')) args.push('--arch', a.slice('--arch='.length));
  }
  // Still honoured, for a quick local prebuild, but such a binary must not be published.
  if ((process.env.KERNELNET_CUDA_ARCHS ?? '').trim())
    console.warn(`prebuild: KERNELNET_CUDA_ARCHS=${process.env.KERNELNET_CUDA_ARCHS} builds fewer GPU architectures than the package ships`);
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const r = spawnSync(process.execPath, [cmakeJs, ...args], { stdio: 'inherit', cwd: path.join(__dirname, '..'), env: prebuildEnv(process.env) });
  process.exit(r.status ?? 1);
}

module.exports = { prebuildEnv };
