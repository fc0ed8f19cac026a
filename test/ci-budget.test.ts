// CI's time: .ci/run runs on a submission within 90 minutes (5,400 s) or the submission does not land, so the
// time limits of its steps must add up to less, with the kill grace `timeout -k` gives each step, and the
// budget table at its top must say what the steps say.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const B = suite('CI budget');
const root = fileURLToPath(new URL('../..', import.meta.url));
const CI_SECONDS = 5400;

/** Each `step "NAME" LIMIT ...` call of a bash script: its name and limit in seconds. */
export function stepLimits(script: string): { name: string; limit: number }[] {
  return [...script.matchAll(/^\s*(?:if\s+(?:!\s+)?)?(?:[A-Z_]+=\S+\s+)*step "([^"]+)" (\d+) /gm)].map(m => ({ name: m[1], limit: Number(m[2]) }));
}

B("the steps of .ci/run fit in CI's 90 minutes, as its budget table says", () => {
  const script = readFileSync(`${root}/.ci/run`, 'utf8');
  const steps = stepLimits(script);
  assert.ok(steps.length >= 6, `found ${steps.length} steps: ${JSON.stringify(steps)}`);
  const grace = Number(/timeout --foreground -k (\d+)/.exec(script)?.[1] ?? NaN);
  assert.ok(grace >= 0, 'each step runs under timeout -k');
  const total = steps.reduce((s, x) => s + x.limit + grace, 0);
  assert.ok(
    total <= CI_SECONDS - 120,
    `the steps' limits add up to ${total} s with their kill grace, over ${CI_SECONDS - 120} s: ${JSON.stringify(steps)}`,
  );
  // The table at the top lists the same limits, in the same order, and their sum.
  const table = [...script.matchAll(/^#\s{3}.*?\s(\d+) s {2}\[/gm)].map(m => Number(m[1]));
  assert.equal(
    table,
    steps.map(s => s.limit),
    'the budget table at the top of .ci/run matches the steps',
  );
  const said = Number(/add up to less, ([\d,]+) s/.exec(script)?.[1].replace(',', '') ?? NaN);
  assert.is(
    said,
    steps.reduce((s, x) => s + x.limit, 0),
    'the budget total written at the top',
  );
});

B('the step parser reads a limit it could get wrong', () => {
  const parsed = stepLimits(
    'if ! X=1 step "a b" 600 npm ci\nstep "c" 20 bash -c "x"\n  step "d (e)" 7 true\n# step "no" 9 x\nif step "f" 8 x; then\n',
  );
  assert.equal(parsed, [
    { name: 'a b', limit: 600 },
    { name: 'c', limit: 20 },
    { name: 'd (e)', limit: 7 },
    { name: 'f', limit: 8 },
  ]);
});

B.run();
