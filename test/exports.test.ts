// The package's entry points at run time: `import kn from 'kernelnet'` and `import * as kn from 'kernelnet'` give
// the same API (the default export is the namespace), and likewise for 'kernelnet/tfjs', whose default import
// is how a CommonJS tfjs-node script may spell it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import kn, * as named from '../lib/index.js';
import tf, * as tfNamed from '../lib/tfjs.js';

const E = suite('entry points');

E('the default export of kernelnet is its namespace: every named export, the same objects', () => {
  const names = Object.keys(named).filter(k => k !== 'default');
  assert.ok(names.length > 50, `${names.length} exports`);
  for (const k of names) assert.is((kn as Record<string, unknown>)[k], (named as Record<string, unknown>)[k], k);
  const model = new kn.Sequential({ layers: [new kn.Dense({ units: 2, inputShape: [3] })] });
  assert.ok(model instanceof named.Sequential);
  model.dispose();
});

E('the default export of kernelnet/tfjs is its namespace too', () => {
  for (const k of Object.keys(tfNamed).filter(n => n !== 'default'))
    assert.is((tf as Record<string, unknown>)[k], (tfNamed as Record<string, unknown>)[k], k);
  assert.is(tf.sequential, tfNamed.sequential);
  assert.is(typeof tf.layers.dense, 'function');
});

E.run();
