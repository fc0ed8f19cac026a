// The long soak (node dist/bench/soak.js [--minutes M]): the seed model trained on real MNIST in rounds of 50
// steps plus a 1,000-image prediction, printing live tensors, bytes in use (tensors and GPU scratch) and the
// process's resident set after each round. Memory must stay flat after the first rounds.
import { parseArgs } from 'node:util';
import { backend, loadMnist, memory, toCategorical } from '../lib/index.js';
import { seedModel } from '../test/helpers.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '5' } } });
const deadline = performance.now() + Number(values.minutes) * 60_000;
const { train, test } = loadMnist(undefined, { trainLimit: 50 * 128, testLimit: 1000 });
const y = toCategorical(train.labels, 10);
const model = seedModel(1);
console.log(`soak on ${backend().name}: rounds of 50 steps + predict(1000) for ${values.minutes} min`);
const mb = (b: number) => (b / 2 ** 20).toFixed(1);
let steps = 0,
  first: { rss: number; live: number } | null = null;
for (let round = 1; performance.now() < deadline; ++round) {
  await model.fit(train.images, y, { batchSize: 128, epochs: 1, verbose: 0 });
  model.predict(test.images, { batchSize: 256 }).dispose();
  steps += 50;
  const m = memory(),
    rss = process.memoryUsage().rss;
  if (round === 3) first = { rss, live: m.liveTensors };
  console.log(
    `round ${round}: ${steps} steps, live tensors ${m.liveTensors}, tensors ${mb(m.bytesInUse)} MB, GPU scratch ${mb(m.scratchBytes)} MB, RSS ${mb(rss)} MB` +
      (first ? `, RSS since round 3 ${mb(rss - first.rss)} MB` : ''),
  );
}
model.dispose();
