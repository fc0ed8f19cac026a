#!/usr/bin/env node
// The kernelnet command:
// - `npx kernelnet doctor` (lib/doctor.ts) reports what this machine gives kernelnet and what to do about each
//   problem; exit status 0 when there is none, 1 otherwise (notes, such as no GPU on a machine without one, do not
//   count).
// - `npx kernelnet export CHECKPOINT MODEL.onnx [--opset N]` writes what save() wrote as an ONNX model
//   (model.export's); exit status 1 with the coded error when it cannot, 2 for a usage error.
import { parseArgs } from 'node:util';
import { doctor } from './doctor.js';

const USAGE = `usage: kernelnet doctor                                       what kernelnet can use here (native binary, backend, GPU, CPU, optional packages)
       kernelnet export CHECKPOINT MODEL.onnx [--opset N]       write a checkpoint (what model.save() wrote) as an ONNX model (opset 13-21, default 17)`;

function usage(message: string): void {
  console.error(`kernelnet: ${message}\n${USAGE}`);
  process.exitCode = 2;
}

async function exportCommand(args: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { opset: { type: 'string' } } });
  } catch (e) {
    return usage((e as Error).message.split('\n')[0]);
  }
  const [checkpoint, out, ...extra] = parsed.positionals;
  if (!checkpoint || !out || extra.length) return usage('export takes a checkpoint and an output path');
  const opset = parsed.values.opset;
  if (opset !== undefined && !/^\d+$/.test(opset)) return usage(`--opset expects an integer, received '${opset}'`);
  try {
    const { loadModel } = await import('./index.js');
    const model = loadModel(checkpoint);
    try {
      model.export(out, { format: 'onnx', ...(opset !== undefined ? { opset: Number(opset) } : {}), verbose: true });
    } finally {
      model.dispose();
    }
  } catch (e) {
    const err = e as Error & { code?: string };
    console.error(`kernelnet export: ${err.code ?? err.name}: ${err.message}`);
    process.exitCode = 1;
  }
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'doctor' && !rest.length) {
  const { lines, problems, notes } = await doctor();
  for (const l of lines) console.log(l);
  for (const n of notes) console.log(`\nnote: ${n}`);
  console.log(problems.length ? `\n${problems.length} problem${problems.length > 1 ? 's' : ''}:` : '\nno problems found');
  for (const p of problems) console.log(`- ${p}`);
  process.exitCode = problems.length ? 1 : 0;
} else if (command === 'export') {
  await exportCommand(rest);
} else if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
  console.log(USAGE);
} else {
  usage(`unknown command '${[command, ...rest].join(' ')}'`);
}
