// The GPU check's runner (bench/check-runner.ts) and the check itself (bench/gpu-check.ts) in its no-GPU path:
// each part under its own limit, a hung part killed with everything it started, the overall budget respected,
// and the record written after every part whatever happened, saying which parts ran.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runParts, type Part, type PartResult } from '../bench/check-runner.js';

const Check = suite('gpu check');
const scratch = mkdtempSync(join(tmpdir(), 'kernelnet-check-test-'));
Check.after(() => rmSync(scratch, { recursive: true, force: true }));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

Check('parts run under their own limits and the budget; the record says how each ended', async () => {
  const pidFile = join(scratch, 'grandchild.pid');
  const sh = (script: string) => () => ({ argv: ['bash', '-c', script] });
  const parts: Part[] = [
    { name: 'ok', what: 'prints a figure', capS: 20, command: sh('echo \'{"x": 42}\''), summarize: log => JSON.parse(log) },
    { name: 'fails', what: 'exits 3', capS: 20, command: sh('echo broken; exit 3') },
    // A part that hangs, with a grandchild: both must be killed when its limit passes.
    { name: 'hangs', what: 'sleeps past its limit', capS: 1, command: sh(`sleep 60 & echo $! > ${pidFile}; wait`) },
    { name: 'skipped', what: 'not applicable', capS: 20, skip: () => 'no CUDA device: none here', command: sh('exit 9') },
    { name: 'bad-summary', what: 'output the summary cannot read', capS: 20, command: sh('echo nope'), summarize: log => JSON.parse(log) },
    { name: 'late', what: 'reached after the budget', capS: 20, command: sh('sleep 3') },
  ];
  const recordPath = join(scratch, 'runner', 'record.json');
  const seen: string[] = [];
  const t0 = performance.now();
  const results = await runParts(parts, {
    budgetS: 7,
    logDir: join(scratch, 'runner', 'logs'),
    recordPath,
    header: () => ({ mode: 'test' }),
    graceS: 1,
    onPart: r => {
      // Rewritten after every part: what the record holds now includes this part's result.
      const record = JSON.parse(readFileSync(recordPath, 'utf8'));
      assert.is(record.parts.find((p: PartResult) => p.name === r.name).status, r.status);
      seen.push(r.name);
    },
  });
  assert.ok(performance.now() - t0 < 15_000, 'the budget bounds the run');
  assert.equal(
    seen,
    parts.map(p => p.name),
  );
  const by = Object.fromEntries(results.map(r => [r.name, r]));
  assert.is(by.ok.status, 'ok');
  assert.equal(by.ok.summary, { x: 42 });
  assert.is(by.fails.status, 'failed');
  assert.is(by.fails.reason, 'exit status 3');
  assert.equal(by.fails.tail, ['broken']);
  assert.is(by.hangs.status, 'timeout');
  assert.is(by.hangs.limitS, 1);
  const grandchild = Number(readFileSync(pidFile, 'utf8'));
  await new Promise(r => setTimeout(r, 200));
  assert.not.ok(alive(grandchild), "the hung part's grandchild was killed with it");
  assert.is(by.skipped.status, 'skipped');
  assert.is(by.skipped.reason, 'no CUDA device: none here');
  assert.is(by['bad-summary'].status, 'ok');
  assert.match((by['bad-summary'].summary as { error: string }).error, /summary failed/);
  // 7 s of budget: the parts before took about 1 s (limit) + 1 s (grace at most); 'late' either ran within
  // what was left or, with under 5 s left, was not started. Either way it cannot run past the budget.
  assert.ok(by.late.status === 'ok' || (by.late.status === 'not run' && /out of time/.test(by.late.reason!)), by.late.reason);
  const record = JSON.parse(readFileSync(recordPath, 'utf8'));
  assert.is(record.mode, 'test');
  assert.is(record.budgetS, 7);
  assert.equal(
    record.parts.map((p: PartResult) => p.status),
    results.map(r => r.status),
  );
});

Check('an exhausted budget starts nothing and still writes the record', async () => {
  const recordPath = join(scratch, 'none', 'record.json');
  const results = await runParts([{ name: 'a', what: 'a', capS: 5, command: () => ({ argv: ['true'] }) }], {
    budgetS: 1,
    logDir: join(scratch, 'none', 'logs'),
    recordPath,
    header: () => ({}),
  });
  assert.is(results[0].status, 'not run');
  assert.match(results[0].reason!, /out of time/);
  assert.is(JSON.parse(readFileSync(recordPath, 'utf8')).parts[0].status, 'not run');
});

// CUDA_VISIBLE_DEVICES='' hides any GPU from the CUDA runtime, so this is the no-GPU path on every machine.
for (const mode of ['quick', 'full']) {
  Check(`the ${mode} mode without a CUDA device: every GPU part says so, the record is written`, () => {
    const results = join(scratch, mode),
      out = join(scratch, `${mode}-out`);
    rmSync(out, { recursive: true, force: true });
    spawnSync('mkdir', ['-p', out]);
    const r = spawnSync(process.execPath, ['dist/bench/gpu-check.js', '--mode', mode, '--results', results], {
      encoding: 'utf8',
      env: { ...process.env, CUDA_VISIBLE_DEVICES: '', OUT: out, COMMIT: 'test' },
      timeout: 60_000,
    });
    assert.is(r.status, 3, r.stdout + r.stderr); // nothing checked on a GPU: not a pass
    const files = readdirSync(results);
    assert.is(files.length, 1);
    assert.match(files[0], new RegExp(`^gpu-${mode}-\\d{8}-test\\.json$`));
    const record = JSON.parse(readFileSync(join(results, files[0]), 'utf8'));
    assert.is(record.mode, mode);
    assert.is(record.commit, 'test');
    const names = record.parts.map((p: PartResult) => p.name);
    assert.equal(
      names,
      mode === 'quick'
        ? ['load', 'build', 'cuda-suite', 'mnist-fp32', 'mnist-tf32', 'bench', 'lab', 'ncu', 'cpu-bench']
        : ['load', 'build', 'mnist12-fp32', 'mnist12-tf32', 'memcheck', 'racecheck'],
    );
    const [load, build, ...gpuParts] = record.parts as PartResult[];
    assert.is(load.status, 'ok');
    assert.is(record.load.backends.cuda.available, false);
    assert.is(build.status, 'skipped');
    for (const p of gpuParts) {
      assert.is(p.status, 'skipped', p.name);
      assert.match(p.reason!, /^no CUDA device: /, p.name);
    }
    // $OUT gets the record and one tarball of the logs: few files, as the machine that runs it returns.
    assert.equal(readdirSync(out).sort(), [files[0], 'gpu-check-logs.tar.gz'].sort());
    assert.ok(existsSync(join(out, 'gpu-check-logs.tar.gz')));
  });
}

Check.run();
