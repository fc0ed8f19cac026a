// Fuzzing. (1) The addon boundary: test/fuzz/native-fuzz.js calls every native function, tensor method and
// public API method with random and hostile arguments in a child process, so a crash is caught and reported
// with its seed. (2) The IDX parser: thousands of mutations of real MNIST files (bit flips, truncations,
// extensions, dimension fields set to 0, 1 or huge values, counts that disagree, gzip streams cut or corrupted)
// must each parse into consistent data or throw the parser's own IdxError, quickly, allocating nothing before
// the header has been checked against the file's size. FUZZ_RUNS scales both (default: well under a minute);
// FUZZ_SEED=random adds a fresh seed to the addon fuzzing.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { IdxError, defaultMnistDir, loadMnist, memory, parseIdx } from '../lib/index.js';
import { rng } from './helpers.js';

const scale = Number(process.env.FUZZ_RUNS ?? 1);
const Fuzz = suite('fuzzing');

Fuzz('hostile calls across the addon boundary never crash the process', () => {
  const script = fileURLToPath(new URL('./fuzz/native-fuzz.js', import.meta.url));
  let calls = 0;
  // Fixed seeds keep CI deterministic; FUZZ_SEED=random (or a number) adds one more.
  const extra = process.env.FUZZ_SEED === 'random' ? Date.now() % 1_000_000 : Number(process.env.FUZZ_SEED ?? 4);
  for (const seed of [1, 2, 3, extra]) {
    const runs = String(Math.round(1500 * scale));
    // In a scratch folder: hostile strings become file names for save() and friends.
    const cwd = mkdtempSync(join(tmpdir(), 'kernelnet-fuzz-'));
    const r = spawnSync(process.execPath, [script, '--seed', String(seed), '--runs', runs], { cwd, encoding: 'utf8', timeout: 600_000 });
    rmSync(cwd, { recursive: true, force: true });
    const reproduce = `reproduce with: node dist/test/fuzz/native-fuzz.js --seed ${seed} --runs ${runs}`;
    assert.is(r.signal, null, `the fuzzer's process died of ${r.signal}; ${reproduce}\n${r.stderr.slice(-2000)}`);
    assert.is(r.status, 0, `a call misbehaved; ${reproduce}\n${r.stderr.slice(-3000)}`);
    calls += JSON.parse(r.stdout.trim().split('\n').at(-1)!).calls;
  }
  console.log(`  addon fuzzing: ${calls} hostile calls in 4 child processes, 0 crashes`);
});

type Mutation = (b: Buffer, r: () => number) => Buffer;
const int = (r: () => number, n: number) => Math.floor(r() * n);
const HUGE = [0, 1, 2, 0x7fffffff, 0x80000000, 0xffffffff, 60000, 28];

const MUTATIONS: Record<string, Mutation> = {
  'bit flips': (b, r) => {
    const c = Buffer.from(b);
    for (let i = 0, n = 1 + int(r, 8); i < n; ++i) c[int(r, Math.min(c.length, r() < 0.5 ? 32 : c.length))] ^= 1 << int(r, 8);
    return c;
  },
  truncation: (b, r) => b.subarray(0, int(r, b.length)),
  extension: (b, r) => Buffer.concat([b, Buffer.from(Array.from({ length: 1 + int(r, 64) }, () => int(r, 256)))]),
  'dimension field': (b, r) => {
    const c = Buffer.from(b),
      ndims = c[3];
    if (ndims) c.writeUInt32BE(HUGE[int(r, HUGE.length)], 4 + 4 * int(r, ndims));
    return c;
  },
  'type and rank bytes': (b, r) => {
    const c = Buffer.from(b);
    c[2 + int(r, 2)] = int(r, 256);
    return c;
  },
  'gzip cut': (b, r) => {
    const z = gzipSync(b);
    return z.subarray(0, int(r, z.length));
  },
  'gzip corrupted': (b, r) => {
    const z = Buffer.from(gzipSync(b));
    z[10 + int(r, z.length - 10)] ^= 1 << int(r, 8);
    return z;
  },
};

Fuzz('mutated IDX files parse consistently or throw IdxError, in bounded time', () => {
  const dir = defaultMnistDir();
  const labels = readFileSync(join(dir, 't10k-labels-idx1-ubyte')).subarray(0, 8 + 500);
  labels.writeUInt32BE(500, 4);
  const images = Buffer.concat([readFileSync(join(dir, 't10k-images-idx3-ubyte')).subarray(0, 16 + 50 * 784)]);
  images.writeUInt32BE(50, 4);
  const r = rng(99);
  const perKind = Math.round(400 * scale);
  let cases = 0,
    parsed = 0,
    refused = 0,
    slowest = 0;
  for (const [kind, mutate] of Object.entries(MUTATIONS))
    for (let i = 0; i < perKind; ++i) {
      const bytes = mutate(i % 2 ? images : labels, r);
      const t0 = performance.now();
      try {
        const { dims, data } = parseIdx(bytes, 'fuzz.idx');
        assert.is(
          data.length,
          dims.reduce((a, b) => a * b, 1),
          `${kind}: data length vs dims [${dims}]`,
        );
        parsed++;
      } catch (e) {
        if (!(e instanceof IdxError)) assert.unreachable(`${kind}: threw ${String(e)}`);
        refused++;
      }
      slowest = Math.max(slowest, performance.now() - t0);
      cases++;
    }
  assert.ok(slowest < 1000, `slowest case took ${slowest} ms`);
  // A header claiming 2^32 - 1 images of 28x28 is refused against the size, before any allocation.
  const claim = Buffer.from(images);
  claim.writeUInt32BE(0xffffffff, 4);
  const heap = process.memoryUsage().arrayBuffers;
  assert.throws(() => parseIdx(claim, 'claim.idx'), /truncated data: the header declares \[4294967295, 28, 28\]/);
  assert.ok(process.memoryUsage().arrayBuffers - heap < 1 << 20, 'nothing large was allocated');
  console.log(`  IDX fuzzing: ${cases} mutated files (${parsed} parsed consistently, ${refused} refused), slowest ${slowest.toFixed(1)} ms`);
});

Fuzz('loadMnist refuses mismatched and damaged folders with IdxError and leaks no tensor', () => {
  const dir = defaultMnistDir(),
    tmp = mkdtempSync(join(tmpdir(), 'kernelnet-idx-'));
  const before = memory().liveTensors;
  const files = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
  const small = (f: string, n: number) => {
    const b = Buffer.from(readFileSync(join(dir, f)).subarray(0, f.includes('images') ? 16 + n * 784 : 8 + n));
    b.writeUInt32BE(n, 4);
    return b;
  };
  const r = rng(5);
  let cases = 0;
  try {
    for (let i = 0; i < Math.round(60 * scale); ++i) {
      for (const f of files) writeFileSync(join(tmp, f), small(f, 20));
      const victim = files[int(r, 4)],
        kinds = Object.values(MUTATIONS);
      if (i % 3 === 0)
        writeFileSync(join(tmp, victim), small(victim, 19)); // counts that disagree
      else writeFileSync(join(tmp, victim), kinds[int(r, kinds.length)](small(victim, 20), r));
      try {
        const { train, test } = loadMnist(tmp);
        for (const t of [train.images, train.labels, test.images, test.labels]) t.dispose();
      } catch (e) {
        if (!(e instanceof IdxError)) assert.unreachable(`case ${i}: ${String(e)}`);
        assert.match((e as Error).message, new RegExp(tmp.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      }
      cases++;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  assert.is(memory().liveTensors, before);
  console.log(`  loadMnist fuzzing: ${cases} damaged folders`);
});

Fuzz.run();
