// npm run bench:ab -- --base DIR: is this build as fast as another one? Times the seed model's training (fit() on
// real MNIST, batch 128) and inference (predict) in this checkout and in DIR (another checkout of kernelnet,
// built: its dist/ and its addon), each in its own process, interleaved round by round (this, base, this, ...)
// so that the drift of a shared machine falls on both, and reports each one's median and the median of the
// per-round ratios with their range. For a change meant to leave speed alone (a refactor), the ratio should sit
// near 1 with a range across it.
//   git worktree add /tmp/base <commit> && (cd /tmp/base && npm ci && npm run build)   # or symlink node_modules
//   npm run bench:ab -- --base /tmp/base [--rounds 7] [--steps 20] [--json FILE]
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    base: { type: 'string' },
    rounds: { type: 'string', default: '7' },
    steps: { type: 'string', default: '20' }, // batches of 128 per timed epoch
    json: { type: 'string' },
    worker: { type: 'string' }, // internal: time the checkout at this path and print one JSON line
  },
});

const B = 128;
const steps = Number(opts.steps);

/** One process's measurement: a warm-up epoch, then the median of 3 timed epochs and of 3 predict passes. */
async function measure(dir: string): Promise<{ trainImagesPerSec: number; predictImagesPerSec: number }> {
  const lib = await import(pathToFileURL(resolve(dir, 'dist/lib/index.js')).href);
  const { seedModel } = await import(pathToFileURL(resolve(dir, 'dist/test/helpers.js')).href);
  const { train } = lib.loadMnist(undefined, { trainLimit: steps * B, testLimit: 0 });
  const labels = lib.toCategorical(train.labels, 10);
  const model = seedModel(1);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  await model.fit(train.images, labels, { batchSize: B, epochs: 1, verbose: 0 });
  const fits: number[] = [],
    predicts: number[] = [];
  for (let r = 0; r < 3; ++r) {
    let t = performance.now();
    await model.fit(train.images, labels, { batchSize: B, epochs: 1, verbose: 0 });
    fits.push(performance.now() - t);
    t = performance.now();
    model.predict(train.images, { batchSize: B }).dispose();
    predicts.push(performance.now() - t);
  }
  model.dispose();
  const n = steps * B;
  return { trainImagesPerSec: n / (median(fits) / 1000), predictImagesPerSec: n / (median(predicts) / 1000) };
}

if (opts.worker) {
  process.stdout.write(`${JSON.stringify(await measure(opts.worker))}\n`);
} else {
  if (!opts.base) throw new Error('bench:ab needs --base DIR, a built checkout to compare with');
  const here = fileURLToPath(new URL('../..', import.meta.url));
  const base = resolve(opts.base);
  if (!existsSync(resolve(base, 'dist/lib/index.js'))) throw new Error(`${base}: no dist/lib/index.js; build it first (npx tsc -p tsconfig.json)`);
  const self = fileURLToPath(import.meta.url);
  const run = (dir: string) => {
    const r = spawnSync(process.execPath, [self, '--worker', dir, '--steps', String(steps)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (r.status !== 0) throw new Error(`the measurement of ${dir} failed (exit ${r.status})`);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Awaited<ReturnType<typeof measure>>;
  };
  const rounds: { current: Awaited<ReturnType<typeof measure>>; base: Awaited<ReturnType<typeof measure>> }[] = [];
  for (let r = 0; r < Number(opts.rounds); ++r) {
    // Alternate which goes first, so that neither always runs on a warmer (or busier) machine.
    const order = r % 2 === 0 ? [here, base] : [base, here];
    const [first, second] = order.map(run);
    rounds.push(order[0] === here ? { current: first, base: second } : { current: second, base: first });
    const last = rounds.at(-1)!;
    console.log(
      `round ${r + 1}: train ${last.current.trainImagesPerSec.toFixed(0)} vs ${last.base.trainImagesPerSec.toFixed(0)} images/s, ` +
        `predict ${last.current.predictImagesPerSec.toFixed(0)} vs ${last.base.predictImagesPerSec.toFixed(0)} images/s (this vs base)`,
    );
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const summary = (key: 'trainImagesPerSec' | 'predictImagesPerSec') => {
    const ratios = rounds.map(r => r.current[key] / r.base[key]);
    return {
      current: median(rounds.map(r => r.current[key])),
      base: median(rounds.map(r => r.base[key])),
      medianRatio: median(ratios),
      minRatio: Math.min(...ratios),
      maxRatio: Math.max(...ratios),
    };
  };
  const result = { base, steps, batchSize: B, rounds, train: summary('trainImagesPerSec'), predict: summary('predictImagesPerSec') };
  for (const k of ['train', 'predict'] as const) {
    const s = result[k];
    console.log(
      `${k}: this ${s.current.toFixed(0)}, base ${s.base.toFixed(0)} images/s (medians); this / base ${s.medianRatio.toFixed(3)}x ` +
        `(median of ${rounds.length} interleaved rounds; range ${s.minRatio.toFixed(3)}-${s.maxRatio.toFixed(3)}x)`,
    );
  }
  if (opts.json) writeFileSync(opts.json, `${JSON.stringify(result, null, 2)}\n`);
}
