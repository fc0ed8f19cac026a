// A consumer's type-check of the published declarations (scripts/consumer-check.mjs): strict, skipLibCheck off,
// under NodeNext and under bundler resolution, importing 'kernelnet' and 'kernelnet/tfjs' named, as a namespace
// and as the default. Our own build skips library checks, so an error inside dist/lib/*.d.ts shows only here.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const script = fileURLToPath(new URL('../../scripts/consumer-check.mjs', import.meta.url));
const { consumerCheck } = (await import(pathToFileURL(script).href)) as {
  consumerCheck(): Promise<{ name: string; status: number; out: string }[]>;
};

const C = suite('consumer type-check');

C('a strict consumer project type-checks against the declarations, NodeNext and bundler', async () => {
  const results = await consumerCheck();
  assert.equal(
    results.map(r => r.name),
    ['NodeNext', 'bundler'],
  );
  for (const r of results) assert.is(r.status, 0, `${r.name}:\n${r.out}`);
});

C.run();
