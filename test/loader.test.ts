// The loader's error when no binary loads (lib/core/native.ts, ERR_KERNELNET_LOAD) names the fix for the likely cause:
// above all, a package manager that skipped the install script (pnpm, npm 12, Yarn 4, bun), where a platform
// without a prebuild needs it to build from source.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PREBUILD_PLATFORMS, loadSolutions } from '../lib/core/native.js';

const L = suite('native loader errors');
const facts = { platform: 'linux-x64', nodeVersion: '20.19.0', root: '/app/node_modules/kernelnet', built: false };

L('pnpm skipped the install script: pnpm approve-builds', () => {
  const s = loadSolutions({ ...facts, platform: 'darwin-arm64', root: '/app/node_modules/.pnpm/kernelnet@0.1.0/node_modules/kernelnet' });
  assert.equal(s.length, 2, s.join('\n'));
  assert.is(s[0], 'no prebuilt binary exists for darwin-arm64 (prebuilds cover linux-x64, linux-arm64): build from source');
  assert.match(
    s[1],
    /^no binary was built at install: install scripts may have been skipped \(pnpm .*\): run `pnpm approve-builds` and choose kernelnet/,
  );
});

L("npm (or an unknown manager) skipped it: npm 12's approval, npm 11's rebuild, pnpm's approval", () => {
  const [s] = loadSolutions(facts);
  assert.match(s, /install scripts may have been skipped/);
  for (const fix of [
    '`npm install-scripts approve kernelnet` then `npm rebuild kernelnet`',
    'with npm 11 or older `npm rebuild kernelnet`',
    '`pnpm approve-builds`',
  ])
    assert.ok(s.includes(fix), `${fix}: ${s}`);
  assert.match(
    loadSolutions({ ...facts, root: '/app/.yarn/unplugged/kernelnet-npm-0.1.0-abc/node_modules/kernelnet' })[0],
    /Yarn 4 .*"dependenciesMeta": \{ "kernelnet": \{ "built": true \} \}/,
  );
  assert.match(loadSolutions({ ...facts, root: '/app/node_modules/.bun/kernelnet@0.1.0/node_modules/kernelnet' })[0], /`bun pm trust kernelnet`/);
});

L('a build that ran, a binary that failed to load, an old Node: no word of skipped scripts', () => {
  const built = loadSolutions({ ...facts, built: true });
  assert.equal(built, [
    'build from source: `npm rebuild kernelnet --foreground-scripts` (needs cmake and a C++17 compiler, ' +
      "or node-gyp's toolchain; nvcc on PATH adds the CUDA backend), which shows the build's output",
  ]);
  const glibc = loadSolutions({ ...facts, loadError: "version `GLIBC_2.34' not found" });
  assert.match(glibc[0], /older than the prebuild needs \(glibc 2\.34/);
  assert.not.ok(
    glibc.some(t => t.includes('skipped')),
    glibc.join('\n'),
  );
  assert.match(
    loadSolutions({ ...facts, nodeVersion: '20.18.1', built: true })[0],
    /^upgrade Node\.js: kernelnet needs Node 20\.19 or newer, this is v20\.18\.1$/,
  );
});

L("the real loader, in a copy of the package with no binary, under pnpm's layout and npm's", () => {
  const dir = mkdtempSync(join(tmpdir(), 'kernelnet-loader-'));
  try {
    for (const [layout, expect] of [
      ['node_modules/.pnpm/kernelnet@0.1.0/node_modules/kernelnet', /run `pnpm approve-builds`/],
      ['node_modules/kernelnet', /with npm 12 run `npm install-scripts approve kernelnet` then `npm rebuild kernelnet`/],
    ] as const) {
      const pkg = join(dir, layout);
      mkdirSync(join(pkg, 'dist'), { recursive: true });
      cpSync(fileURLToPath(new URL('../lib', import.meta.url)), join(pkg, 'dist', 'lib'), { recursive: true });
      cpSync(fileURLToPath(new URL('../../package.json', import.meta.url)), join(pkg, 'package.json'));
      const url = pathToFileURL(join(pkg, 'dist', 'lib', 'core', 'native.js')).href;
      const r = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import(${JSON.stringify(url)}).then(() => process.exit(3), e => { console.log(e.code); console.log(e.message); })`,
        ],
        { encoding: 'utf8', timeout: 30_000 },
      );
      assert.is(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /^ERR_KERNELNET_LOAD\nkernelnet: could not load the native addon\.\nTried:\n/);
      assert.match(r.stdout, /install scripts may have been skipped/);
      assert.match(r.stdout, expect);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

L('the loader and the pack check agree on which platforms have a prebuild', async () => {
  const pc = (await import(pathToFileURL(fileURLToPath(new URL('../../scripts/pack-check.mjs', import.meta.url))).href)) as {
    PREBUILD_PLATFORMS: string[];
  };
  assert.equal([...PREBUILD_PLATFORMS], pc.PREBUILD_PLATFORMS);
});

L.run();
