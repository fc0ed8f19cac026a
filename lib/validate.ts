// Argument checks with one message shape: `Expected <what> for <name> but received <value>`.
import { ValidationError } from './errors.js';

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return `[${value.map(v => (typeof v === 'string' ? `'${v}'` : String(v))).join(', ')}]`;
  if (typeof value === 'string') return `'${value}' of type string`;
  if (typeof value === 'object') return `an object of type ${(value as object).constructor?.name ?? 'Object'}`;
  return `${String(value)} of type ${typeof value}`;
}

export function fail(what: string, name: string, value: unknown): never {
  throw new ValidationError(`Expected ${what} for ${name} but received ${describe(value)}`);
}

export function positiveInt(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) fail('positive integer', name, value);
  return value;
}

export function nonNegativeInt(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) fail('non-negative integer', name, value);
  return value;
}

export function numberIn(value: unknown, name: string, min: number, max: number, maxOpen = false): number {
  if (typeof value !== 'number' || !(value >= min && (maxOpen ? value < max : value <= max)))
    fail(`number in [${min}, ${max}${maxOpen ? ')' : ']'}`, name, value);
  return value;
}

/** An integer or a pair of positive integers, as Keras takes kernel and pool sizes. */
export function intPair(value: unknown, name: string): [number, number] {
  if (typeof value === 'number') {
    positiveInt(value, name);
    return [value, value];
  }
  if (!Array.isArray(value) || value.length !== 2 || !value.every(v => Number.isInteger(v) && v > 0))
    fail('positive integer or [positive integer, positive integer]', name, value);
  return [value[0], value[1]];
}

export function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[],
  aliases: Record<string, T> = {}): T {
  if (typeof value === 'string') {
    if ((allowed as readonly string[]).includes(value)) return value as T;
    if (value in aliases) return aliases[value];
  }
  return fail(`one of ${allowed.map(a => `'${a}'`).join(', ')}`, name, value);
}

export function shapeArg(value: unknown, name: string): number[] {
  if (!Array.isArray(value) || !value.every(v => Number.isInteger(v) && v >= 0))
    fail('an array of non-negative integers', name, value);
  return [...value];
}
