#!/usr/bin/env node
// What `npm publish` would ship, checked before it does: runs `npm pack --dry-run --json` (scripts skipped, so
// dist/ must be built: npm run build:ts) and fails, naming each problem, when the tarball
//   - lacks a file a user needs: README, LICENSE, CHANGELOG, what package.json's main, types, exports and bin
//     point at, or a source of the build from source (CMakeLists.txt and the sources it globs, binding.gyp and
//     the sources it lists, scripts/cuda-archs.cjs);
//   - holds what only this repository needs: tests, benchmarks and their results, CI and device files, the
//     emulated GPU, build products (build/, object files, a .node outside prebuilds/), tarballs, node_modules;
//   - with --require-prebuilds (after `npm run prebuilds`, as CI runs it): lacks the prebuilt binary of a
//     platform in PREBUILD_PLATFORMS.
// Prints the tarball's size and files per folder (every file with --list); exit status 1 on any problem.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The platforms that ship a prebuilt binary (lib/core/native.ts's loader names the same ones when none loads). */
export const PREBUILD_PLATFORMS = ['linux-x64', 'linux-arm64'];

const root = fileURLToPath(new URL('..', import.meta.url));

/** What must not be published: [pattern, why]. */
const FORBIDDEN = [
  [/^(test|dist\/test)\//, 'a test file'],
  [/\.test\.[cm]?[jt]s$/, 'a test file'],
  [/^(bench|dist\/bench|dist\/examples|examples)\//, 'a benchmark or example (bench results included)'],
  [/^(\.ci|\.device|\.github)\//, 'a CI or device file'],
  [/^cuda\/emulate\//, 'the emulated GPU (test only)'],
  [/^(build|build-[^/]+)\//, 'a build product (build folder)'],
  [/\.(o|obj|a|lib|so|dylib|exp|pdb)$/, 'a build product (object file or library)'],
  [/(^|\/)CMakeCache\.txt$|(^|\/)CMakeFiles\//, 'a build product (CMake state)'],
  [/\.tgz$/, 'a packed tarball'],
  [/(^|\/)node_modules\//, 'node_modules'],
];

/** The files a user of the package needs, from package.json and the build's own lists. */
export function requiredFiles(pkg, dir = root) {
  const need = new Set(['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'CMakeLists.txt', 'binding.gyp', 'scripts/cuda-archs.cjs']);
  const strip = p => p.replace(/^\.\//, '');
  if (pkg.main) need.add(strip(pkg.main));
  if (pkg.types) need.add(strip(pkg.types));
  const targets = x => typeof x === 'string' ? [x] : x && typeof x === 'object' ? Object.values(x).flatMap(targets) : [];
  for (const t of targets(pkg.exports)) need.add(strip(t));
  for (const t of targets(pkg.bin)) need.add(strip(t));
  // CMakeLists.txt globs cpp/*.cc and cuda/*.cu; their headers (the op table cpp/ops.def, the kernel lab's
  // cuda/lab/*.cuh that gemm.cu includes) come along.
  for (const [folder, ext] of [['cpp', /\.(cc|h|def)$/], ['cuda', /\.(cu|cuh)$/], ['cuda/lab', /\.(cu|cuh)$/]])
    for (const f of readdirSync(join(dir, folder))) if (ext.test(f)) need.add(`${folder}/${f}`);
  const gyp = JSON.parse(readFileSync(join(dir, 'binding.gyp'), 'utf8'));
  for (const t of gyp.targets) for (const s of t.sources) need.add(s);
  return [...need].sort();
}

/**
 * The problems of a tarball holding `files` (paths inside the package): each one line. requirePrebuilds: fail
 * on a missing prebuild of PREBUILD_PLATFORMS.
 */
export function checkFiles(files, { pkg, requirePrebuilds = false, dir = root }) {
  const problems = [];
  const have = new Set(files);
  for (const f of requiredFiles(pkg, dir)) if (!have.has(f)) problems.push(`missing ${f}`);
  for (const f of files) {
    const hit = FORBIDDEN.find(([re]) => re.test(f));
    if (hit) problems.push(`ships ${f}: ${hit[1]}`);
    else if (f.endsWith('.node') && !/^prebuilds\/[^/]+\/[^/]+\.node$/.test(f)) problems.push(`ships ${f}: a build product (.node outside prebuilds/)`);
  }
  if (requirePrebuilds)
    for (const p of PREBUILD_PLATFORMS)
      if (!have.has(`prebuilds/${p}/kernelnet.node`)) problems.push(`missing prebuilds/${p}/kernelnet.node (npm run prebuilds)`);
  return problems;
}

/** `npm pack --dry-run --json` of the package in `dir`: its files and sizes. */
export function packList(dir = root) {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [report] = JSON.parse(out);
  return { files: report.files.map(f => ({ path: f.path, size: f.size })), size: report.size, unpackedSize: report.unpackedSize, filename: report.filename };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const unknown = args.filter(a => a !== '--require-prebuilds' && a !== '--list');
  if (unknown.length) {
    console.error(`pack-check: unknown argument ${unknown[0]} (takes --require-prebuilds, --list)`);
    process.exit(2);
  }
  if (!existsSync(join(root, 'dist', 'lib', 'index.js'))) console.error('pack-check: dist/lib is not built (npm run build:ts)');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const pack = packList();
  const kb = n => `${Math.round(n / 1024)} kB`;
  console.log(`pack-check: ${pack.filename}, ${pack.files.length} files, ${kb(pack.size)} packed, ${kb(pack.unpackedSize)} unpacked`);
  const groups = new Map();
  for (const f of pack.files) {
    const g = f.path.includes('/') ? f.path.slice(0, f.path.lastIndexOf('/') + 1) : './';
    groups.set(g, [...(groups.get(g) ?? []), f]);
  }
  for (const [g, fs] of [...groups].sort()) {
    const size = fs.reduce((s, f) => s + f.size, 0);
    const names = args.includes('--list') || g.startsWith('prebuilds/') || g === './' ? `: ${fs.map(f => f.path.slice(g === './' ? 0 : g.length)).join(' ')}` : '';
    console.log(`  ${g.padEnd(20)} ${String(fs.length).padStart(3)} files ${kb(size).padStart(8)}${names}`);
  }
  const problems = checkFiles(pack.files.map(f => f.path), { pkg, requirePrebuilds: args.includes('--require-prebuilds') });
  for (const p of problems) console.error(`pack-check: ${p}`);
  console.log(problems.length ? `pack-check: ${problems.length} problem${problems.length > 1 ? 's' : ''}` : 'pack-check: ok');
  process.exit(problems.length ? 1 : 0);
}
