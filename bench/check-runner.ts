// Runs the parts of a check one after another, each as its own process group under its own time limit and
// all of them under one overall budget, and rewrites the record after every part: a part that fails, hangs
// or is killed leaves the parts before it recorded, and the record always says which parts ran and how.
// bench/gpu-check.ts is the check that uses it.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export type PartStatus = 'ok' | 'failed' | 'timeout' | 'skipped' | 'not run';

export interface PartResult {
  name: string;
  what: string;
  status: PartStatus;
  /** Why a part was skipped or not run, or what failed. */
  reason?: string;
  /** The part's own limit and the one it ran under (less when the overall budget was nearly spent). */
  capS: number;
  limitS?: number;
  seconds?: number;
  exitCode?: number | null;
  signal?: string | null;
  /** What the part's summary made of its output (figures for the record). */
  summary?: unknown;
  /** The last lines of its output. */
  tail?: string[];
}

export interface Part {
  name: string;
  /** One line on what it checks, for the record. */
  what: string;
  /** Its own time limit, seconds. */
  capS: number;
  /** Why it cannot run now (e.g. 'no CUDA device'), or undefined to run it. Asked just before it would run. */
  skip?: () => string | undefined;
  /** The command: argv, with extra environment. */
  command: () => { argv: string[]; env?: Record<string, string> };
  /** Figures from its log (called whatever the exit status; a throw is recorded, not fatal). */
  summarize?: (log: string, ok: boolean) => unknown;
}

export interface RunOptions {
  /** The overall budget, seconds: no part runs past it. */
  budgetS: number;
  /** Where each part's output goes, as <dir>/<part>.log. */
  logDir: string;
  /** The record, rewritten (atomically) after every part. */
  recordPath: string;
  /** Fields of the record other than `parts` (merged again at every write). */
  header: () => Record<string, unknown>;
  /** Seconds between SIGTERM and SIGKILL for a part over its limit. */
  graceS?: number;
  /** Called as each part ends. */
  onPart?: (r: PartResult) => void;
}

/** A part shorter than this is not started: it could not do anything useful. */
const MIN_PART_S = 5;

function writeAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

function tailOf(text: string, lines = 25): string[] {
  return text
    .replace(/\x1b\[[0-9;]*m/g, '')
    .split('\n')
    .filter(l => l.trim() && !/^\s+at /.test(l))
    .slice(-lines);
}

/** Runs argv in its own process group with output to logPath; after limitS kills the whole group. */
function runLimited(
  argv: string[],
  env: NodeJS.ProcessEnv,
  logPath: string,
  limitS: number,
  graceS: number,
): Promise<{ code: number | null; signal: string | null; timedOut: boolean; error?: string }> {
  return new Promise(resolve => {
    const fd = openSync(logPath, 'w');
    const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', fd, fd], detached: true });
    let timedOut = false,
      killTimer: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), graceS * 1000);
    }, limitS * 1000);
    const done = (r: { code: number | null; signal: string | null; error?: string }) => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      killGroup('SIGKILL'); // whatever the part left running (a sampler, a profiler's target) goes with it
      closeSync(fd);
      resolve({ ...r, timedOut });
    };
    child.on('error', e => done({ code: null, signal: null, error: e.message }));
    child.on('exit', (code, signal) => done({ code, signal }));
  });
}

/** Runs the parts in order and returns their results; the record at recordPath holds them after every part. */
export async function runParts(parts: Part[], o: RunOptions): Promise<PartResult[]> {
  const deadline = Date.now() + o.budgetS * 1000;
  const results: PartResult[] = parts.map(p => ({ name: p.name, what: p.what, capS: p.capS, status: 'not run', reason: 'not reached' }));
  const write = () => writeAtomic(o.recordPath, JSON.stringify({ ...o.header(), budgetS: o.budgetS, parts: results }, null, 2) + '\n');
  mkdirSync(o.logDir, { recursive: true });
  write();
  for (const [i, p] of parts.entries()) {
    const r = results[i];
    const skip = p.skip?.();
    const leftS = Math.floor((deadline - Date.now()) / 1000);
    if (skip) Object.assign(r, { status: 'skipped', reason: skip });
    else if (leftS < MIN_PART_S) Object.assign(r, { status: 'not run', reason: `out of time: ${leftS} s of the ${o.budgetS} s budget left` });
    else {
      const limitS = Math.min(p.capS, leftS),
        logPath = `${o.logDir}/${p.name}.log`;
      const { argv, env } = p.command();
      const t0 = performance.now();
      const x = await runLimited(argv, { ...process.env, ...env }, logPath, limitS, o.graceS ?? 5);
      const log = (() => {
        try {
          return readFileSync(logPath, 'utf8');
        } catch {
          return '';
        }
      })();
      Object.assign(r, { limitS, seconds: Math.round((performance.now() - t0) / 100) / 10, exitCode: x.code, signal: x.signal, tail: tailOf(log) });
      const ok = !x.timedOut && x.code === 0;
      if (x.timedOut) Object.assign(r, { status: 'timeout', reason: `over its ${limitS} s limit: killed` });
      else if (x.error) Object.assign(r, { status: 'failed', reason: x.error });
      else if (!ok) Object.assign(r, { status: 'failed', reason: x.signal ? `ended by ${x.signal}` : `exit status ${x.code}` });
      else Object.assign(r, { status: 'ok', reason: undefined });
      if (p.summarize) {
        try {
          r.summary = p.summarize(log, ok);
        } catch (e) {
          r.summary = { error: `summary failed: ${(e as Error).message}` };
        }
      }
    }
    if (r.status === 'not run' && r.reason === 'not reached') r.reason = undefined;
    write();
    o.onPart?.(r);
  }
  return results;
}
