// Nothing a JS caller does may take the process down: a worker terminated while it trains, and a process that
// exits while a worker trains, at seeded moments inside recording, a recorded step's run, save and predict
// (test/stress/terminate.ts pauses the worker there and ends it a seeded 0-3 ms after letting it go on), and
// while it fuzzes the addon. Each cycle is a child process; none may end by a signal. Before
// NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS, about one cycle in eight aborted with "terminate called after
// throwing an instance of 'Napi::Error'": an argument check failing in an environment that can no longer run
// JavaScript, and the error that could not be thrown rethrown as a C++ exception.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const script = fileURLToPath(new URL('./stress/terminate.js', import.meta.url));
const Terminate = suite('ending a worker mid-call');

function cycle(args: string[]): { moment: string; exitCode: number | null } {
  const dir = mkdtempSync(join(tmpdir(), 'kernelnet-terminate-'));
  try {
    const r = spawnSync(process.execPath, [script, ...args, '--dir', dir], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    const what = `node dist/test/stress/terminate.js ${args.join(' ')}`;
    assert.is(r.signal, null, `${what}: the process died of ${r.signal}\n${r.stderr.slice(-1500)}`);
    assert.is(r.status, 0, `${what}: exit status ${r.status}\n${r.stderr.slice(-1500)}`);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

Terminate('worker.terminate() inside recording, a recorded step, save, predict or at random: 20 cycles, no signal', () => {
  let n = 0;
  for (const at of ['record', 'run', 'save', 'predict', 'random'])
    for (const seed of [1, 2, 3, 4]) {
      const r = cycle(['--how', 'terminate', '--at', at, '--seed', String(seed)]);
      assert.is(r.exitCode, 1, 'the worker was terminated'); // worker.terminate()'s exit code
      if (at !== 'random') assert.match(r.moment, new RegExp(`^inside ${at}, `));
      n++;
    }
  assert.ok(n >= 20);
});

Terminate('process.exit() while a worker trains, at each of those moments: no signal', () => {
  for (const at of ['record', 'run', 'save', 'predict', 'random']) cycle(['--how', 'exit', '--at', at, '--seed', '5']);
});

Terminate('a worker fuzzing the addon with hostile calls, terminated at seeded moments: no signal', () => {
  for (const seed of [1, 2, 3, 4]) assert.is(cycle(['--how', 'terminate', '--work', 'fuzz', '--seed', String(seed)]).exitCode, 1);
});

Terminate.run();
