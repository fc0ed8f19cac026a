#!/usr/bin/env node
// The kernelnet command: `npx kernelnet doctor` (lib/doctor.ts) reports what this machine gives kernelnet and
// what to do about each problem; exit status 0 when there is none, 1 otherwise (notes, such as no GPU on a
// machine without one, do not count).
import { doctor } from './doctor.js';

const USAGE = `usage: kernelnet doctor   what kernelnet can use here (native binary, backend, GPU, CPU, optional packages)`;

const [command, ...rest] = process.argv.slice(2);
if (command === 'doctor' && !rest.length) {
  const { lines, problems, notes } = await doctor();
  for (const l of lines) console.log(l);
  for (const n of notes) console.log(`\nnote: ${n}`);
  console.log(problems.length ? `\n${problems.length} problem${problems.length > 1 ? 's' : ''}:` : '\nno problems found');
  for (const p of problems) console.log(`- ${p}`);
  process.exitCode = problems.length ? 1 : 0;
} else if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
  console.log(USAGE);
} else {
  console.error(`kernelnet: unknown command '${[command, ...rest].join(' ')}'\n${USAGE}`);
  process.exitCode = 2;
}
