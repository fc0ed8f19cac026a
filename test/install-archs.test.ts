// Which GPU architectures a CUDA build compiles for (scripts/cuda-archs.cjs, run by CMakeLists.txt): the override,
// this machine's GPUs (a fake nvidia-smi on PATH), none, and every shipped one for a prebuild. No nvcc runs here.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const root = fileURLToPath(new URL('../..', import.meta.url));
const require = createRequire(import.meta.url);
interface Decision {
  archs: string;
  reason: string;
}
const archs = require(join(root, 'scripts', 'cuda-archs.cjs')) as {
  SHIPPED: string;
  DEFAULT: string;
  decideCudaArchs(found: { env?: Record<string, string | undefined>; gpus?: number[]; supported?: number[] | null }): Decision;
};
const { prebuildEnv } = require(join(root, 'scripts', 'prebuild-cmake.cjs')) as { prebuildEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv };

const A = suite('CUDA architectures of a build');
let bin = '';
A.before(() => {
  bin = mkdtempSync(join(tmpdir(), 'kernelnet-archs-'));
});
A.after(() => rmSync(bin, { recursive: true, force: true }));

/** A fake command in the temp bin folder: prints `out`, exits with `status`, and leaves a mark that it ran. */
function fake(name: string, out: string, status = 0): void {
  const file = join(bin, name);
  writeFileSync(file, `#!/bin/sh\n: > "${file}.ran"\nprintf '${out}'\nexit ${status}\n`);
  chmodSync(file, 0o755);
  rmSync(`${file}.ran`, { force: true });
}

/** What the script decides with PATH holding only the temp bin folder, as CMake runs it. */
function run(env: Record<string, string> = {}, nvcc?: string): Decision {
  const args = [join(root, 'scripts', 'cuda-archs.cjs'), ...(nvcc ? ['--nvcc', nvcc] : [])];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: { PATH: bin, ...env } });
  assert.is(r.status, 0, r.stderr);
  const [a, reason] = r.stdout.split('\n');
  return { archs: a, reason };
}

A('without a GPU: sm_90, what CI builds, and the message says how to change it', () => {
  rmSync(join(bin, 'nvidia-smi'), { force: true });
  assert.equal(run(), { archs: '90-real', reason: 'no GPU found; set KERNELNET_CUDA_ARCHS to change' });
  // nvidia-smi present but no driver (it exits 9): no GPU either.
  fake('nvidia-smi', 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.\n', 9);
  assert.is(run().archs, '90-real');
  assert.is(archs.DEFAULT, '90-real');
});

A('with a GPU: machine code for the GPUs nvidia-smi lists, and only those', () => {
  fake('nvidia-smi', '8.9\n');
  const one = run();
  assert.ok(existsSync(join(bin, 'nvidia-smi.ran')));
  assert.is(one.archs, '89-real');
  assert.match(one.reason, /compute capability 8\.9; set KERNELNET_CUDA_ARCHS to change/);
  fake('nvidia-smi', '8.6\n9.0\n8.6\n');
  assert.is(run().archs, '86-real;90-real');
});

A("with a GPU nvcc does not know: PTX of nvcc's newest; older than Turing: left out", () => {
  fake('nvidia-smi', '12.0\n');
  fake('nvcc', 'compute_75\ncompute_80\ncompute_86\ncompute_89\ncompute_90\n');
  assert.is(run({}, join(bin, 'nvcc')).archs, '90-virtual');
  assert.is(run().archs, '120-real', "without nvcc's list the GPU is taken as it is");
  const old = archs.decideCudaArchs({ gpus: [70], supported: [75, 80, 90] });
  assert.is(old.archs, '90-real');
  assert.match(old.reason, /no GPU kernelnet can build for \(found 7\.0; left out 7\.0/);
  assert.is(archs.decideCudaArchs({ gpus: [70, 89], supported: [75, 89, 90] }).archs, '89-real');
});

A('KERNELNET_CUDA_ARCHS overrides, and nvidia-smi is not even asked', () => {
  fake('nvidia-smi', '8.9\n');
  assert.equal(run({ KERNELNET_CUDA_ARCHS: '75;80-real' }), { archs: '75;80-real', reason: 'set by KERNELNET_CUDA_ARCHS' });
  assert.not.ok(existsSync(join(bin, 'nvidia-smi.ran')));
  assert.is(run({ KERNELNET_CUDA_ARCHS: '  ' }).archs, '89-real', 'an empty override is no override');
  assert.is(run({ KERNELNET_CUDA_ARCHS: '86-real', KERNELNET_PREBUILD: '1' }).archs, '86-real', 'it wins over a prebuild too');
});

A('the prebuild asks for every shipped architecture, whatever GPU the build machine has', () => {
  assert.is(archs.SHIPPED, '75-real;80-real;86-real;89-real;90-real;90-virtual');
  const env = prebuildEnv({ PATH: bin }) as Record<string, string>;
  assert.is(env.KERNELNET_PREBUILD, '1');
  fake('nvidia-smi', '8.9\n');
  assert.equal(run(env), { archs: archs.SHIPPED, reason: 'a prebuild: every architecture the package ships' });
  rmSync(join(bin, 'nvidia-smi'));
  assert.is(run(env).archs, archs.SHIPPED);
  // The wiring: `npm run prebuilds` builds through prebuild-cmake.cjs, and CMake asks cuda-archs.cjs.
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  assert.match(pkg.scripts.prebuilds, /--node-gyp \.\/scripts\/prebuild-cmake\.cjs/);
  assert.match(readFileSync(join(root, 'CMakeLists.txt'), 'utf8'), /COMMAND node \$\{CMAKE_SOURCE_DIR\}\/scripts\/cuda-archs\.cjs --nvcc/);
});

A.run();
