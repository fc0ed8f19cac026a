// lib/ has no import cycle, type-only imports included: each module builds on the ones below it, so a room can
// be read (and changed) without the ones above. A module importing itself (index.ts and tfjs.ts, whose default
// export is their own namespace) is not a cycle.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const lib = fileURLToPath(new URL('../../lib', import.meta.url));

/** Every .ts file below dir. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(e =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The relative imports of a file (import/export ... from, import type, side-effect imports, import('...') types). */
export function importsOf(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const specs = [
    ...src.matchAll(/^\s*(?:import|export)\b[^'";]*?\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]/gm),
    ...src.matchAll(/^\s*import\s*['"](\.{1,2}\/[^'"]+)['"]/gm),
    ...src.matchAll(/\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g),
  ].map(m => m[1]);
  return [...new Set(specs.map(s => resolve(dirname(file), s.replace(/\.js$/, '.ts'))))].filter(f => f !== file);
}

/** The cycles of the import graph: each strongly connected component of more than one module (Tarjan). */
export function cycles(files: string[]): string[][] {
  const graph = new Map(files.map(f => [f, importsOf(f)]));
  const index = new Map<string, number>(),
    low = new Map<string, number>(),
    stack: string[] = [],
    on = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component);
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return found;
}

const I = suite('imports');

I('lib/ has no import cycle, type-only imports included', () => {
  const files = sources(lib);
  assert.ok(files.length > 20, `${files.length} modules`);
  const found = cycles(files).map(c =>
    c
      .map(f => relative(lib, f))
      .sort()
      .join(' <-> '),
  );
  assert.equal(found, [], `import cycles:\n${found.join('\n')}`);
});

I('the cycle finder finds a cycle through a subfolder, a type-only import and an import() type, and not a self-import', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kn-imports-'));
  try {
    mkdirSync(join(dir, 'room'));
    writeFileSync(join(dir, 'a.ts'), "import { b } from './room/b.js';\nexport const a = b;\n");
    writeFileSync(join(dir, 'room', 'b.ts'), "import type { C } from '../c.js';\nexport const b = 1 as unknown as C;\n");
    writeFileSync(join(dir, 'c.ts'), "export type C = typeof import('./a.js').a;\n");
    writeFileSync(join(dir, 'd.ts'), "import * as self from './d.js';\nimport { a } from './a.js';\nexport const d = [self, a];\n");
    const found = cycles(sources(dir)).map(c => c.map(f => relative(dir, f)).sort());
    assert.equal(found, [['a.ts', 'c.ts', 'room/b.ts']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

I.run();
