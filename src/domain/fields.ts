import { z } from 'zod';
import { MAX_PREFIX_LENGTH, PREFIX_PATTERN } from './codes.js';
import { closestField } from './names.js';
import { truncate } from './text.js';

/**
 * Field parsers shared by sets and promotion overrides. Input arrives as
 * form strings (curl, Slack) or JSON values, so each parser accepts both and
 * yields one canonical type; each message is a sentence a person can act on.
 */

export const PROMO_TYPES = ['Percentage', 'Fixed Amount', 'Price Override', 'Free Setup'] as const;
export type PromoType = (typeof PROMO_TYPES)[number];

export const CYCLES = [
  'One Time', 'Monthly', 'Quarterly', 'Semi-Annually', 'Annually', 'Biennially', 'Triennially',
  ...Array.from({ length: 10 }, (_, i) => `${i + 1}Years`),
] as const;

export type Flag = 0 | 1;

/**
 * A client's value, safe to quote in a message: never String() on an object,
 * whose toString the client controls (`{"toString": ""}` throws).
 */
export function printable(value: unknown, max = 40): string {
  if (typeof value === 'string') return value.slice(0, max);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return `${value}`;
  return Array.isArray(value) ? 'a list' : `a ${typeof value}`;
}

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on', 'y']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'off', 'n', '']);

export const flag = z.unknown().transform((value, ctx): Flag => {
  if (value === true || value === 1) return 1;
  if (value === false || value === 0 || value === null) return 0;
  if (typeof value === 'string') {
    const word = value.trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return 1;
    if (FALSE_WORDS.has(word)) return 0;
  }
  ctx.addIssue({ code: 'custom', message: 'Use 1 or 0 (or true/false).' });
  return z.NEVER;
});

export function wholeNumber(label: string, min: number, max: number) {
  return z.unknown().transform((value, ctx): number => {
    const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
    if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
      ctx.addIssue({ code: 'custom', message: `${label} must be a whole number from ${min} to ${max}.` });
      return z.NEVER;
    }
    return Number(text);
  });
}

/** Why `text` is not money: a negative number is a number, so say what is wrong with it. */
function moneyProblem(text: string): string {
  if (/^-\s*\d/.test(text)) return `The value cannot be negative (got ${truncate(text, 20)}); give a positive number like 25 or 25.50.`;
  return 'The value must be a number with at most 2 decimals, like 25 or 25.50.';
}

/** Money as WHMCS shows it: a string with exactly two decimals ("25.50"). */
export const money = z.unknown().transform((value, ctx): string => {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (!/^\d{1,9}(\.\d{1,2})?$/.test(text)) {
    ctx.addIssue({ code: 'custom', message: moneyProblem(text) });
    return z.NEVER;
  }
  return Number(text).toFixed(2);
});

/**
 * A decimal kept exactly as written: WHMCS serializes the upgrade value as
 * typed ("11", not "11.00"), and upgradeconfig must match it byte for byte.
 */
export const decimalText = z.unknown().transform((value, ctx): string => {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (!/^\d{1,9}(\.\d{1,2})?$/.test(text)) {
    ctx.addIssue({ code: 'custom', message: moneyProblem(text) });
    return z.NEVER;
  }
  return text;
});

/** `null` means "no date" (WHMCS 0000-00-00). */
export const optionalDate = z.unknown().transform((value, ctx): string | null => {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') {
    ctx.addIssue({ code: 'custom', message: 'Dates must be written YYYY-MM-DD.' });
    return z.NEVER;
  }
  const text = value.trim();
  if (text === '' || text === '0000-00-00') return null;
  if (!z.iso.date().safeParse(text).success) {
    ctx.addIssue({ code: 'custom', message: `"${truncate(text, 40)}" is not a date; write it as YYYY-MM-DD.` });
    return z.NEVER;
  }
  return text;
});

export function oneOf<const T extends readonly string[]>(label: string, options: T) {
  return z.unknown().transform((value, ctx): T[number] => {
    const text = typeof value === 'string' ? value.trim() : '';
    const match = options.find((option) => option.toLowerCase() === text.toLowerCase());
    if (match === undefined) {
      ctx.addIssue({ code: 'custom', message: `${label} must be one of: ${options.join(', ')}.` });
      return z.NEVER;
    }
    return match;
  });
}

/** A list given as a JSON array or a comma-separated string. */
export function list(label: string, itemPattern: RegExp, itemHint: string, allowed?: readonly string[]) {
  return z.unknown().transform((value, ctx): string[] => {
    let items: unknown[];
    if (value === null || value === undefined) items = [];
    else if (Array.isArray(value)) items = value;
    else if (typeof value === 'string') items = value.split(',');
    else {
      ctx.addIssue({ code: 'custom', message: `${label} must be a list or a comma-separated string.` });
      return z.NEVER;
    }
    const out: string[] = [];
    for (const item of items) {
      const text = typeof item === 'number' ? String(item) : typeof item === 'string' ? item.trim() : null;
      if (text === '') continue;
      const canonical = text === null ? undefined : allowed ? allowed.find((a) => a.toLowerCase() === text.toLowerCase()) : itemPattern.test(text) ? text : undefined;
      if (canonical === undefined) {
        ctx.addIssue({ code: 'custom', message: `${label}: "${printable(item)}" is not valid; ${itemHint}.` });
        return z.NEVER;
      }
      if (!out.includes(canonical)) out.push(canonical);
    }
    return out;
  });
}

/** What a plain field rule (plainRule) returns for a value it refuses. */
class FieldIssue {
  constructor(readonly message: string) {}
}

/** Each plain rule by its schema: parseFields calls it directly, skipping zod's machinery (a redemption's fields are parsed on every request). */
const plainRules = new WeakMap<z.ZodType, (value: unknown) => unknown>();

/** A field rule written as a plain function, as a zod schema too: one rule, whichever way it is called. */
function plainRule<T>(rule: (value: unknown) => T | FieldIssue) {
  const schema = z.unknown().transform((value, ctx): T => {
    const out = rule(value);
    if (!(out instanceof FieldIssue)) return out;
    ctx.addIssue({ code: 'custom', message: out.message });
    return z.NEVER;
  });
  plainRules.set(schema, rule);
  return schema;
}

export function text(label: string, max: number, { required = false } = {}) {
  return plainRule((value): string | FieldIssue => {
    if (value === null || value === undefined) value = '';
    if (typeof value === 'number') value = String(value);
    if (typeof value !== 'string') return new FieldIssue(`${label} must be text.`);
    const trimmed = value.trim();
    if (required && trimmed === '') return new FieldIssue(`${label} is required.`);
    if (trimmed.length > max) return new FieldIssue(`${label} must be at most ${max} characters.`);
    return trimmed;
  });
}

/**
 * Parse `input` with an object of field parsers, collecting one message per
 * field (keyed by the field's public name) rather than failing on the first.
 * Keys not in `parsers` are reported too, so a typo is never silently ignored.
 */
export function parseFields<P extends Record<string, z.ZodType>>(
  parsers: P,
  input: Record<string, unknown>,
): { values: { [K in keyof P]?: z.output<P[K]> }; errors: Record<string, string> } {
  const values: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const [key, raw] of Object.entries(input)) {
    // Own keys only: a field named "constructor" or "__proto__" is unknown, not Object's.
    const parser = Object.hasOwn(parsers, key) ? parsers[key] : undefined;
    if (!parser) {
      const meant = closestField(key, Object.keys(parsers));
      errors[key] = `Unknown field "${truncate(key, 40)}".${meant ? ` Did you mean "${meant}"?` : ''}`;
      continue;
    }
    if (raw === undefined) continue;
    const plain = plainRules.get(parser);
    if (plain) {
      const out = plain(raw);
      if (out instanceof FieldIssue) errors[key] = out.message;
      else values[key] = out;
      continue;
    }
    const result = parser.safeParse(raw);
    if (result.success) values[key] = result.data;
    else errors[key] = result.error.issues[0]?.message ?? 'This value is not valid.';
  }
  return { values: values as { [K in keyof P]?: z.output<P[K]> }, errors };
}

/** A code prefix (joined to the random part with "-"); empty means none. */
export function codePrefix(label: string) {
  return z.unknown().transform((value, ctx): string => {
    const prefix = typeof value === 'string' ? value.trim() : value == null ? '' : null;
    if (prefix === null || (prefix !== '' && (!PREFIX_PATTERN.test(prefix) || prefix.length > MAX_PREFIX_LENGTH))) {
      ctx.addIssue({ code: 'custom', message: `${label} may use letters, digits, ".", "_" and "-", start with a letter or digit, and be at most ${MAX_PREFIX_LENGTH} characters.` });
      return z.NEVER;
    }
    return prefix;
  });
}
