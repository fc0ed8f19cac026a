// The gradient tape: while tf.grad, tf.variableGrads, optimizer.minimize and the like run their function, every
// differentiable op (lib/ops/differentiable.ts wraps them) whose operands depend on the watched tensors is
// recorded here with its operands and results, held (tensor.ts's hold) so that a tidy() or dispose() inside the
// function cannot free what backward still reads. lib/ops/gradients.ts registers each op's gradient and walks a
// tape backwards. With no tape open an op costs one array-length check more.
import { ValidationError } from '../core/errors.js';
import { Tensor, handleKey, hold, release } from '../core/tensor.js';
import type { NativeTensor } from '../core/native.js';

/**
 * An op's gradient: from the gradients of its results (dys, one per result, zeros where nothing read one), its
 * operands and results as recorded (args, as the op took them; tensors held), the gradient of each operand that
 * is a Tensor, or an array of them for an operand that is an array of tensors; null where there is none.
 * `needs[i]`: whether operand i depends on the watched tensors (the others' gradients are not used); `extra`:
 * the tensors the op saved besides (tf.customGrad's), held.
 */
export type GradientFn = (
  dys: Tensor[],
  args: unknown[],
  outputs: Tensor[],
  needs: boolean[],
  extra?: Tensor[],
) => (Tensor | null | (Tensor | null)[])[];

/** @internal Each differentiable op's gradient, by op name (filled in by lib/ops/gradients.ts). */
export const GRADIENTS: Record<string, GradientFn> = {};

/** One recorded op. */
export interface TapeNode {
  name: string;
  args: unknown[];
  outputs: Tensor[];
  needs: boolean[];
  /** A gradient of its own (tf.customGrad's), instead of GRADIENTS[name]. */
  grad?: GradientFn;
  /** Held tensors besides args and outputs (customGrad's saved tensors). */
  extra?: Tensor[];
  /** Called when the tape closes (a model's forward pass frees its buffers). */
  onClose?: () => void;
}

/** A tape: the ops recorded, in order, and the memory of the tensors that depend on the watched ones. */
export interface Tape {
  nodes: TapeNode[];
  connected: Set<NativeTensor>;
  /** Every hold taken for the tape, released by closeTape. */
  holds: Tensor[];
}

const tapes: Tape[] = [];
/** How many recorded ops are running: an op another one calls is part of that one, not recorded on its own. */
let depth = 0;

/** Whether some tape is recording (the differentiable ops' fast path checks this). */
export const recording = (): boolean => tapes.length > 0 && depth === 0;

/** Opens a tape watching these tensors' memory. */
export function openTape(watched: Tensor[]): Tape {
  const tape: Tape = { nodes: [], connected: new Set(watched.map(handleKey)), holds: [] };
  tapes.push(tape);
  return tape;
}

/** Stops recording on a tape (the ops of its backward pass are recorded on the tapes outside it only). */
export function stopTape(tape: Tape): void {
  const i = tapes.lastIndexOf(tape);
  if (i >= 0) tapes.splice(i, 1);
}

/** Stops recording and lets go of everything the tape held. */
export function closeTape(tape: Tape): void {
  stopTape(tape);
  for (const t of tape.holds) release(t);
  tape.holds = [];
  for (const node of tape.nodes) node.onClose?.();
  tape.nodes = [];
  tape.connected.clear();
}

/** Whether t depends on the tape's watched tensors. */
export const isConnected = (tape: Tape, t: unknown): t is Tensor => t instanceof Tensor && tape.connected.has(handleKey(t));

/** The tensors of an op's result: a Tensor, an array of them (unstack, split) or an object of them (moments, topk). */
export function resultTensors(out: unknown): Tensor[] {
  if (out instanceof Tensor) return [out];
  if (Array.isArray(out)) return out.filter((t): t is Tensor => t instanceof Tensor);
  if (out !== null && typeof out === 'object') return Object.values(out).filter((t): t is Tensor => t instanceof Tensor);
  return [];
}

/** Runs fn as one op: what it calls inside is not recorded on its own. */
export function unrecorded<T>(fn: () => T): T {
  depth++;
  try {
    return fn();
  } finally {
    depth--;
  }
}

/**
 * Records op `name` on every open tape where some operand depends on the watched tensors: its float32 results then
 * depend on them too. Operands are tensors or arrays of tensors; anything else is kept as it is. Returns on how
 * many tapes it was recorded; `onClose` is called as each of them closes.
 */
export function record(name: string, args: unknown[], out: unknown, grad?: GradientFn, extra?: Tensor[], onClose?: () => void): number {
  if (depth > 0) return 0; // inside another op (a customGrad's f): part of that op
  const outs = resultTensors(out);
  let count = 0;
  for (const tape of tapes) {
    const needs = args.map(a => (Array.isArray(a) ? a.some(t => isConnected(tape, t)) : isConnected(tape, a)));
    if (!needs.some(Boolean)) continue;
    const held = (t: Tensor) => {
      const h = hold(t);
      tape.holds.push(h);
      return h;
    };
    const heldArgs = args.map(a =>
      a instanceof Tensor ? held(a) : Array.isArray(a) && a.some(t => t instanceof Tensor) ? a.map(t => (t instanceof Tensor ? held(t) : t)) : a,
    );
    for (const t of outs) if (t.dtype === 'float32') tape.connected.add(handleKey(t));
    tape.nodes.push({ name, args: heldArgs, outputs: outs.map(held), needs, grad, extra: extra?.map(held), onClose });
    count++;
  }
  return count;
}

/** Whether an open tape watches t or something t depends on. */
export const watched = (t: unknown): boolean => recording() && tapes.some(tape => isConnected(tape, t));

/** @internal The name of every op recorded() wrapped, in the order they were wrapped. */
export const RECORDED: string[] = [];

/** The op `fn` under `name`, recorded on the open tapes when its operands depend on what they watch. */
export function recorded<F extends (...args: never[]) => unknown>(name: string, fn: F): F {
  const wrapped = (...args: Parameters<F>): ReturnType<F> => {
    if (!recording()) return fn(...args) as ReturnType<F>;
    const out = unrecorded(() => fn(...args)) as ReturnType<F>;
    record(name, args, out);
    return out;
  };
  Object.defineProperty(wrapped, 'name', { value: fn.name || name });
  if (!RECORDED.includes(name)) RECORDED.push(name);
  return wrapped as unknown as F;
}

/** The error for an op on the path from x to y that has no gradient. */
export function noGradient(name: string): ValidationError {
  return new ValidationError(
    `Cannot compute gradient: gradient function not found for ${name} (kernelnet has no gradient for this op; see docs/tfjs.md)`,
    'ERR_KERNELNET_UNSUPPORTED',
  );
}
