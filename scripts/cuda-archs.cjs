#!/usr/bin/env node
// Which GPU architectures a CUDA build compiles for; CMakeLists.txt runs this at configure time. Every
// architecture is another nvcc pass over all of cuda/*.cu, so a build from source compiles for the GPUs this
// machine has, and only the prebuild, which must run anywhere, for all of them:
//
//   1. KERNELNET_CUDA_ARCHS, when set: a CMake list such as "75" or "89-real;90-real", used as given;
//   2. KERNELNET_PREBUILD=1 (set by scripts/prebuild-cmake.cjs): SHIPPED, every architecture the package ships;
//   3. the GPUs nvidia-smi lists, as machine code for each (a GPU newer than nvcc knows gets PTX for the newest
//      architecture nvcc has, which the driver compiles at load; one older than Turing is left out, as
//      kernelnet's kernels need sm_75);
//   4. otherwise DEFAULT, sm_90, what CI builds.
//
// `node scripts/cuda-archs.cjs [--nvcc PATH]` prints the list on its first line and why on its second.
'use strict';
const { spawnSync } = require('node:child_process');

/** Turing to Hopper as machine code, and compute_90 PTX for anything newer: what a prebuild carries. */
const SHIPPED = '75-real;80-real;86-real;89-real;90-real;90-virtual';
/** No GPU to build for: CI's architecture, so this build is the one CI tests. */
const DEFAULT = '90-real';
/** The oldest architecture kernelnet's kernels run on (cpp/driver_policy.h refuses older devices). */
const OLDEST = 75;

/** The output of a command, or null when it cannot run or fails (no driver: nvidia-smi exits 9). */
function output(command, args, env) {
  const r = spawnSync(command, args, { encoding: 'utf8', env, timeout: 20_000 });
  return r.status === 0 ? r.stdout : null;
}

/** The compute capabilities of this machine's GPUs as integers (8.9 -> 89), from nvidia-smi; [] without one. */
function detectGpus(env = process.env) {
  const out = output('nvidia-smi', ['--query-gpu=compute_cap', '--format=csv,noheader'], env);
  if (out === null) return [];
  return out.split('\n').map(l => l.trim()).filter(l => /^\d+\.\d+$/.test(l)).map(l => {
    const [major, minor] = l.split('.').map(Number);
    return major * 10 + minor;
  });
}

/** The architectures an nvcc can compile for (from `nvcc --list-gpu-arch`), or null when it cannot say. */
function nvccArchs(nvcc, env = process.env) {
  if (!nvcc) return null;
  const out = output(nvcc, ['--list-gpu-arch'], env);
  if (out === null) return null;
  const archs = [...out.matchAll(/compute_(\d+)/g)].map(m => Number(m[1]));
  return archs.length ? archs : null;
}

const cc = a => `${Math.floor(a / 10)}.${a % 10}`;

/**
 * The decision, from what was found: env (the environment), gpus (compute capabilities as integers, 89 for
 * 8.9), supported (what nvcc compiles for, or null when unknown). Returns { archs, reason }.
 */
function decideCudaArchs({ env = {}, gpus = [], supported = null }) {
  const override = (env.KERNELNET_CUDA_ARCHS ?? '').trim();
  if (override) return { archs: override, reason: 'set by KERNELNET_CUDA_ARCHS' };
  if (env.KERNELNET_PREBUILD === '1') return { archs: SHIPPED, reason: 'a prebuild: every architecture the package ships' };
  const found = [...new Set(gpus)].sort((a, b) => a - b);
  if (!found.length) return { archs: DEFAULT, reason: 'no GPU found; set KERNELNET_CUDA_ARCHS to change' };
  const archs = [], skipped = [];
  const newest = supported ? Math.max(...supported) : Infinity;
  for (const a of found) {
    if (a < OLDEST || (supported && a < Math.min(...supported))) skipped.push(`${cc(a)} (older than kernelnet or nvcc supports)`);
    else if (supported && !supported.includes(a) && a > newest) archs.push(`${newest}-virtual`);
    else if (supported && !supported.includes(a)) skipped.push(`${cc(a)} (nvcc cannot compile for it)`);
    else archs.push(`${a}-real`);
  }
  const list = [...new Set(archs)];
  const gpuWord = found.length > 1 ? 'GPUs' : 'GPU';
  const note = skipped.length ? `; left out ${skipped.join(', ')}` : '';
  if (!list.length) return { archs: DEFAULT, reason: `no GPU kernelnet can build for (found ${found.map(cc).join(', ')}${note}); set KERNELNET_CUDA_ARCHS to change` };
  return { archs: list.join(';'), reason: `the ${gpuWord} nvidia-smi found: compute capability ${found.map(cc).join(', ')}${note}; set KERNELNET_CUDA_ARCHS to change` };
}

if (require.main === module) {
  const at = process.argv.indexOf('--nvcc');
  const nvcc = at > 0 ? process.argv[at + 1] : undefined;
  const override = (process.env.KERNELNET_CUDA_ARCHS ?? '').trim() || process.env.KERNELNET_PREBUILD === '1';
  // Nothing is probed when the answer does not depend on it.
  const { archs, reason } = decideCudaArchs(override ? { env: process.env } :
    { env: process.env, gpus: detectGpus(), supported: nvccArchs(nvcc) });
  process.stdout.write(`${archs}\n${reason}\n`);
}

module.exports = { SHIPPED, DEFAULT, decideCudaArchs, detectGpus, nvccArchs };
