// The documentation runs (scripts/doc-snippets.mjs): every ```js and ```ts block of README.md and docs/*.md runs in
// its own node process, in a fresh temporary folder, importing 'kernelnet' and 'kernelnet/tfjs' from this checkout;
// and every relative link of those files names a file (and a heading) that exists.
//
// The convention that keeps the examples fast: in the temporary folder, 'kernelnet' is this checkout's dist/ with
// two defaults changed, so that an example written for the full MNIST run trains on a small slice: `loadMnist()`
// takes 512 training and 256 test images unless the example asks for limits, and `fit` (on tensors or a dataset)
// runs at most one epoch.
// Nothing else differs; onnxruntime-node, a dev dependency, resolves too. A ```ts block is compiled by TypeScript's transpileModule (types removed) first.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const root = fileURLToPath(new URL('../..', import.meta.url));
interface Block {
  file: string;
  line: number;
  lang: string;
  code: string;
  skip: string | null;
}
interface DocSnippets {
  snippets(): Block[];
  brokenLinks(): { file: string; line: number; target: string; why: string }[];
}
const ds = (await import(pathToFileURL(join(root, 'scripts', 'doc-snippets.mjs')).href)) as DocSnippets;

const dist = (p: string) => JSON.stringify(pathToFileURL(join(root, 'dist', 'lib', p)).href);
const SHIM = `export * from ${dist('index.js')};
import * as kn from ${dist('index.js')};
export { default } from ${dist('index.js')};
export function loadMnist(dir, options = {}) {
  if (dir !== null && typeof dir === 'object') { options = dir; dir = undefined; }
  return kn.loadMnist(dir, { trainLimit: 512, testLimit: 256, ...options });
}
const fit = kn.Sequential.prototype.fit;
const cap = a => a !== null && typeof a === 'object' && !(a instanceof kn.Tensor) && a.epochs > 1 ? { ...a, epochs: 1 } : a;
kn.Sequential.prototype.fit = function (x, y, args) {
  return arguments.length < 3 ? fit.call(this, x, cap(y)) : fit.call(this, x, y, cap(args));
};
`;

const S = suite('documentation');
let dir = '';
S.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'kernelnet-doc-'));
  const pkg = join(dir, 'node_modules', 'kernelnet');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(
    join(pkg, 'package.json'),
    JSON.stringify({
      name: 'kernelnet',
      type: 'module',
      exports: { '.': './index.js', './tfjs': './tfjs.js' },
    }),
  );
  writeFileSync(join(pkg, 'index.js'), SHIM);
  writeFileSync(join(pkg, 'tfjs.js'), `export * from ${dist('tfjs.js')};\nexport { default } from ${dist('tfjs.js')};\n`);
  // The packages an example uses beside kernelnet (the ONNX example runs its export in onnxruntime-node): this
  // checkout's dev dependencies, linked.
  for (const name of ['onnxruntime-node']) symlinkSync(join(root, 'node_modules', name), join(dir, 'node_modules', name), 'dir');
});
S.after(() => rmSync(dir, { recursive: true, force: true }));

S('every relative link names a file and heading that exist', () => {
  const broken = ds.brokenLinks();
  assert.equal(
    broken.map(b => `${b.file}:${b.line} ${b.target}: ${b.why}`),
    [],
  );
});

const all = ds.snippets();
S('the documentation has runnable examples', () => {
  assert.ok(all.filter(b => !b.skip).length >= 1, 'no ```js or ```ts block found');
});

// An example of data-parallel training (distribution.*) loads Open MPI (docs/distributed.md): where it is not
// installed, the example says skipped, as test/distributed.test.ts's mpirun tests do.
const mpirun = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
const haveMpi = mpirun.status === 0 && /Open MPI/.test(mpirun.stdout);

for (const b of all) {
  if (b.skip) continue;
  if (!haveMpi && /\bdistribution\./.test(b.code)) {
    console.log(`  skipped: ${b.file}:${b.line} needs Open MPI (apt-get install openmpi-bin)`);
    S.skip(`${b.file}:${b.line} (${b.lang}) runs (skipped: no Open MPI)`, () => {});
    continue;
  }
  S(`${b.file}:${b.line} (${b.lang}) runs`, () => {
    const work = mkdtempSync(join(dir, 'run-'));
    const js = b.lang.startsWith('t')
      ? ts.transpileModule(b.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText
      : b.code;
    writeFileSync(join(work, 'snippet.mjs'), js);
    writeFileSync(join(work, 'package.json'), '{"type":"module"}');
    // node resolves bare imports from the folder's ancestors: the shim sits in dir/node_modules.
    const r = spawnSync(process.execPath, ['snippet.mjs'], {
      cwd: work,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, KERNELNET_BACKEND: process.env.KERNELNET_BACKEND ?? '' },
    });
    if (process.env.DOC_SNIPPETS_VERBOSE === '1') console.log(r.stdout, r.stderr);
    assert.is(r.status, 0, `${b.file}:${b.line} exited ${r.status} ${r.signal ?? ''}\n${r.stdout}\n${r.stderr}`);
  });
}

S.run();
