// The API reference (typedoc.json: lib/index.ts and lib/tfjs.ts, `npm run docs:api` into docs/api) builds
// without a warning: every exported symbol documented, every {@link} resolved, no exported API that refers to a
// type the reference leaves out. Engine members marked @internal stay out of it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const A = suite('API reference');
const root = fileURLToPath(new URL('../..', import.meta.url));

A('TypeDoc builds the reference with no warning, and it documents the API users call', () => {
  const out = mkdtempSync(join(tmpdir(), 'kernelnet-api-'));
  try {
    const typedoc = join(root, 'node_modules', 'typedoc', 'bin', 'typedoc');
    const r = spawnSync(process.execPath, [typedoc, '--out', out, '--logLevel', 'Warn'], { cwd: root, encoding: 'utf8', timeout: 300_000 });
    const text = `${r.stdout}${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
    const warnings = text.split('\n').filter(l => /\[(warning|error)\]/.test(l));
    assert.equal(warnings.slice(0, 20), [], `${warnings.length} warnings and errors, the first 20 shown`);
    assert.is(r.status, 0, text.slice(-2000));
    for (const page of ['classes/index.Sequential.html', 'classes/index.Conv2D.html', 'functions/tfjs.sequential.html'])
      assert.ok(existsSync(join(out, page)), `${page} in the reference`);
    const sequential = readFileSync(join(out, 'classes/index.Sequential.html'), 'utf8');
    assert.match(sequential, /fit/, 'Sequential.fit documented');
    assert.not.match(sequential, /recordStep|stepOps/, 'engine internals stay out of the reference');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

A.run();
