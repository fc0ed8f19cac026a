// What `npm publish` would ship (scripts/pack-check.mjs): the tarball's file list passes, and the check names
// each missing file, stray test file and build product. The prebuilds themselves are CI's prebuild step's to
// check (--require-prebuilds), after they are built.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const root = fileURLToPath(new URL('../..', import.meta.url));
const script = join(root, 'scripts', 'pack-check.mjs');
interface PackCheck {
  PREBUILD_PLATFORMS: string[];
  checkFiles(files: string[], opts: { pkg: unknown; requirePrebuilds?: boolean }): string[];
  packList(): { files: { path: string; size: number }[] };
}
const pc = (await import(pathToFileURL(script).href)) as PackCheck;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

const P = suite('npm pack contents');
let files: string[] = [];
P.before(() => {
  // Without the prebuilds a checkout may hold (after `npm run prebuilds`): the checks below add their own.
  files = pc
    .packList()
    .files.map(f => f.path)
    .filter(f => !f.startsWith('prebuilds/'));
});

P('the tarball has what a user needs and nothing only this repository needs', () => {
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /pack-check: ok$/m);
  for (const f of [
    'LICENSE',
    'README.md',
    'CHANGELOG.md',
    'dist/lib/index.js',
    'dist/lib/index.d.ts',
    'dist/lib/tfjs.d.ts',
    'CMakeLists.txt',
    'binding.gyp',
    'scripts/cuda-archs.cjs',
    'cpp/addon.cc',
    'cuda/gemm.cu',
  ])
    assert.ok(files.includes(f), f);
  assert.not.ok(
    files.some(f => /^(test|dist\/test|bench|build|\.ci)\/|^cuda\/emulate\//.test(f)),
    files.join(' '),
  );
});

P('a stray test file, build product or repository file is named', () => {
  const stray = [
    'dist/test/api.test.js',
    'test/helpers.ts',
    'build/Release/kernelnet.node',
    'cpp/args.o',
    'lib/kernelnet.node',
    'bench/results/gpu-quick.json',
    'cuda/emulate/cuda_runtime.h',
    '.ci/run',
    'kernelnet-0.1.0.tgz',
    'node_modules/x/index.js',
  ];
  const problems = pc.checkFiles([...files, ...stray], { pkg });
  for (const f of stray)
    assert.ok(
      problems.some(p => p.startsWith(`ships ${f}:`)),
      `${f}: ${problems.join('; ')}`,
    );
  assert.is(problems.length, stray.length, problems.join('; '));
});

P('a missing file is named: license, changelog, entry points, a source of the build from source', () => {
  const gone = [
    'LICENSE',
    'CHANGELOG.md',
    'README.md',
    'dist/lib/index.js',
    'dist/lib/index.d.ts',
    'dist/lib/tfjs.js',
    'dist/lib/cli.js',
    'cpp/args.cc',
    'cpp/tensor.h',
    'cuda/conv.cu',
    'scripts/cuda-archs.cjs',
  ];
  const problems = pc.checkFiles(
    files.filter(f => !gone.includes(f)),
    { pkg },
  );
  assert.equal(problems.sort(), gone.map(f => `missing ${f}`).sort());
});

P("--require-prebuilds: each platform's prebuild must be in the tarball, and a prebuild is no stray .node", () => {
  const withX64 = [...files, 'prebuilds/linux-x64/kernelnet.node'];
  assert.equal(pc.checkFiles(withX64, { pkg }), []);
  assert.equal(pc.checkFiles(withX64, { pkg, requirePrebuilds: true }), ['missing prebuilds/linux-arm64/kernelnet.node (npm run prebuilds)']);
  assert.equal(pc.checkFiles([...withX64, 'prebuilds/linux-arm64/kernelnet.node'], { pkg, requirePrebuilds: true }), []);
  assert.equal(pc.PREBUILD_PLATFORMS, ['linux-x64', 'linux-arm64']);
});

P('binding.gyp (the CPU-only build from source without CMake) compiles every C++ source of the addon', () => {
  const gyp = readFileSync(join(root, 'binding.gyp'), 'utf8');
  const listed = new Set([...gyp.matchAll(/"(cpp\/[\w.]+\.cc)"/g)].map(m => m[1]));
  const sources = readdirSync(join(root, 'cpp'))
    .filter(f => f.endsWith('.cc'))
    .map(f => `cpp/${f}`);
  assert.equal(
    sources.filter(f => !listed.has(f)),
    [],
    'cpp/*.cc missing from binding.gyp',
  );
  assert.equal(
    [...listed].filter(f => !sources.includes(f)),
    [],
    'binding.gyp names a file that is not there',
  );
});

P.run();
