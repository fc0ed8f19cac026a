// Argument checks with one message shape: `Expected <what> for <name> but received <value>`.
import { ValidationError } from './errors.js';

/** A value in a few words (under about 200 characters, whatever its size), for error messages. */
export function describe(value: unknown): string {
  const brief = (v: unknown): string => {
    if (typeof v === 'string') return `'${v.length > 40 ? `${v.slice(0, 40)}...` : v}'`;
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v == null) return String(v);
    if (Array.isArray(v)) return `[${v.length} items]`;
    return typeof v === 'object' ? ((v as object).constructor?.name ?? 'Object') : typeof v;
  };
  const items = (xs: ArrayLike<unknown>) => {
    const head = Array.from({ length: Math.min(xs.length, 5) }, (_, i) => brief(xs[i])).join(', ');
    return xs.length > 5 ? `[${head}, ...]` : `[${head}]`;
  };
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return value.length <= 5 ? items(value) : `an array of length ${value.length} ${items(value)}`;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const a = value as unknown as ArrayLike<number>;
    return `a ${value.constructor.name} of length ${a.length} ${items(a)}`;
  }
  if (typeof value === 'string') return `${brief(value)} of type string`;
  if (typeof value === 'function') return `a function ${value.name || '(anonymous)'}`;
  if (typeof value === 'symbol') return `${String(value)} of type symbol`;
  if (typeof value === 'object') {
    const shape = (value as { shape?: unknown }).shape,
      name = (value as object).constructor?.name ?? 'Object';
    if (Array.isArray(shape) && shape.length <= 8) return `a ${name} of shape [${shape.join(', ')}]`;
    return `an object of type ${name}`;
  }
  return `${String(value)} of type ${typeof value}`;
}

export function fail(what: string, name: string, value: unknown): never {
  throw new ValidationError(`Expected ${what} for ${name} but received ${describe(value)}`);
}

/**
 * A flag from the environment, read as the addon reads its own (cpp/env.h): unset or empty is the default, '0' and
 * '1' are off and on, and anything else is refused rather than taken for either.
 */
export function envFlag(name: string, fallback: boolean): boolean {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  if (value !== '0' && value !== '1') throw new ValidationError(`Expected '0' or '1' for ${name} but received '${value}'`);
  return value === '1';
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

export function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[], aliases: Record<string, T> = {}): T {
  if (typeof value === 'string') {
    if ((allowed as readonly string[]).includes(value)) return value as T;
    if (value in aliases) return aliases[value];
  }
  return fail(`one of ${allowed.map(a => `'${a}'`).join(', ')}`, name, value);
}

export function shapeArg(value: unknown, name: string): number[] {
  if (!Array.isArray(value) || !value.every(v => Number.isInteger(v) && v >= 0)) fail('an array of non-negative integers', name, value);
  return [...value];
}

/** A Keras/tfjs option kernelnet knows but does not support yet: the values that mean "not used", and a hint. */
export interface NotYet {
  /** The values that are fine because they ask for what kernelnet does anyway (default: only null/undefined). */
  ok?: readonly unknown[];
  /** Appended to the refusal's message, e.g. what to do instead. */
  hint?: string;
}

/** The schema of one options object: the options kernelnet supports, and those it knows but not supports yet. */
export interface OptionsSchema {
  /** Names the options object in messages, e.g. 'fit options' or 'Conv2D args'. */
  what: string;
  /** The option names kernelnet takes. */
  supported: readonly string[];
  /** The option names it knows but does not support yet, each with the values that are fine. */
  notYet?: Record<string, NotYet>;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

const sameValue = (a: unknown, b: unknown): boolean =>
  Array.isArray(a) && Array.isArray(b) ? a.length === b.length && a.every((x, i) => sameValue(x, b[i])) : Object.is(a, b);

/** The common "not used" values, for schemas. */
export const NOT_USED = {
  one: [1, [1, 1]],
  zero: [0],
  false: [false],
  true: [true],
  float32: ['float32'],
  channelsLast: ['channelsLast', 'channels_last'],
} as const;

/** Levenshtein distance, for "did you mean" (short option names only). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; ++i) {
    const row = [i];
    for (let j = 1; j <= b.length; ++j) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

/**
 * Checks an options object against its schema, before anything runs: a value that is not a plain object (e.g. a
 * positional `fit(x, y, 8)`) is refused, an unknown key is refused naming the supported ones (and the closest
 * spelling), and a known option that kernelnet does not support yet is refused with ERR_KERNELNET_UNSUPPORTED
 * unless it asks for what kernelnet does anyway (its default). Returns a copy of its own properties ({} when
 * undefined), which is what the caller must read (see ownOptions).
 */
export function checkOptions<T>(value: T, schema: OptionsSchema): NonNullable<T> {
  if (value === undefined) return ownOptions(value);
  if (!isPlainObject(value)) fail('an options object', schema.what, value);
  for (const key of Object.keys(value)) {
    if (schema.supported.includes(key)) continue;
    const later = schema.notYet?.[key];
    if (later) {
      const v = value[key];
      if (v === undefined || v === null || (later.ok ?? []).some(d => sameValue(v, d))) continue;
      throw new ValidationError(
        `${schema.what}: ${key} is not supported yet, and kernelnet does not silently train without it` + `${later.hint ? `; ${later.hint}` : ''}`,
        'ERR_KERNELNET_UNSUPPORTED',
      );
    }
    const simple = (k: string) => k.toLowerCase().replace(/_/g, '');
    const known = [...schema.supported, ...Object.keys(schema.notYet ?? {})];
    const close = known.find(k => simple(k) === simple(key)) ?? known.find(k => editDistance(simple(k), simple(key)) <= 2);
    throw new ValidationError(
      `Unknown option '${key}' in ${schema.what}${close ? ` (did you mean '${close}'?)` : ''}; ` + `supported: ${schema.supported.join(', ')}`,
    );
  }
  return ownOptions(value);
}

/**
 * The options object's own properties, in an object with no prototype: what the caller reads afterwards. Reading
 * the user's object instead would see a property set on Object.prototype by any other code in the process (for
 * example `Object.prototype.epochs = 3` would make every fit train 3 epochs), which must never reach an option.
 */
export function ownOptions<T>(value: T): NonNullable<T> {
  return Object.assign(Object.create(null), value ?? {});
}
