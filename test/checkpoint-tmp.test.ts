// The temporary files of killed saves: a process killed in the middle of save() leaves its temporary file
// beside the checkpoint, and the next save to that path deletes it, but never one that a live process may
// still be writing and renaming.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Adadelta, loadModel } from '../lib/index.js';
import { SAVE_FOREVER_SCRIPT, smallModel } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'kernelnet-ckpt-tmp-'));
const file = (name: string) => join(dir, name);
const temporaries = (target: string) => readdirSync(dir).filter(f => f.startsWith(`.${target}.`) && f.endsWith('.tmp'));

/** A child process that has run and been reaped: its pid is free. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise(resolve => child.once('exit', resolve));
  return child.pid!;
}

const Tmp = suite('checkpoint temporary files');
Tmp.after(() => rmSync(dir, { recursive: true, force: true }));

Tmp('a save deletes the temporary files of dead writers to its path and keeps those a live process may own', async () => {
  const dead = await deadPid();
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    await new Promise(resolve => sleeper.once('spawn', resolve));
    const live = sleeper.pid!;
    const plant = (name: string, ageS = 0) => {
      writeFileSync(file(name), 'partial write');
      if (ageS) utimesSync(file(name), new Date(Date.now() - ageS * 1000), new Date(Date.now() - ageS * 1000));
      return name;
    };
    const gone = [
      plant(`.m.safetensors.${dead}.0badc0de.tmp`), // its writer was killed
      plant(`.m.safetensors.${process.pid}.0000aaaa.tmp`, 3600), // an earlier process with this pid left it
    ];
    const kept = [
      plant(`.m.safetensors.${live}.0badc0de.tmp`), // a live process may yet rename it
      plant(`.m.safetensors.${process.pid}.0000bbbb.tmp`), // written since this process started: maybe a worker's save
      plant(`.other.safetensors.${dead}.0badc0de.tmp`), // another checkpoint's
      plant(`.m.safetensors.${dead}.tmp`), // not a name save() writes
      plant(`.m.safetensors.bak`),
    ];
    const m = smallModel(1);
    m.compile({ loss: 'categoricalCrossentropy', optimizer: new Adadelta() });
    m.save(file('m.safetensors'));
    for (const f of gone) assert.not.ok(existsSync(file(f)), `${f} deleted`);
    for (const f of kept) assert.ok(existsSync(file(f)), `${f} kept`);
    // saveWeights (and so ModelCheckpoint, which calls save or saveWeights) cleans the same way.
    m.saveWeights(file('other.safetensors'));
    assert.not.ok(existsSync(file(`.other.safetensors.${dead}.0badc0de.tmp`)), "saveWeights deleted the dead writer's file");
    const loaded = loadModel(file('m.safetensors'));
    assert.is(loaded.countParams(), m.countParams());
    loaded.dispose();
    m.dispose();
  } finally {
    sleeper.kill('SIGKILL');
  }
});

Tmp('kill -9 in the middle of saves, then one save: no temporary file remains and the checkpoint loads', async () => {
  const target = 'killed.safetensors';
  const script = SAVE_FOREVER_SCRIPT;
  // Three rounds at least, and more until the last kill lands inside a write, so that the final save has a
  // file to clean.
  let left: string[] = [];
  for (let round = 0; round < 3 || (round < 8 && !left.length); ++round) {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, file(target)], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>(resolve => child.stdout.once('data', () => resolve()));
    // Kill the moment the child's temporary file is seen, so the kill lands inside a write.
    const mine = `.${target}.${child.pid}.`,
      deadline = Date.now() + 10_000;
    while (!readdirSync(dir).some(f => f.startsWith(mine)) && Date.now() < deadline) await new Promise(setImmediate);
    child.kill('SIGKILL');
    await new Promise(resolve => child.once('exit', resolve));
    left = temporaries(target);
    assert.ok(
      left.every(f => f.startsWith(mine)),
      `the child's saves deleted the earlier kills' files: ${left}`,
    );
  }
  assert.is(left.length, 1, 'the last kill landed inside a write and left its temporary file');
  const m = loadModel(file(target));
  m.save(file(target));
  m.dispose();
  assert.equal(temporaries(target), [], "the save deleted every killed write's temporary file");
  const again = loadModel(file(target));
  assert.is(again.countParams(), 1199882);
  again.dispose();
});

Tmp.run();
