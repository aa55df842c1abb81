import { customAlphabet } from 'nanoid';
import { PromoError } from './errors.js';

/**
 * `default` is upper-case with no vowels (no words) and no look-alikes
 * (0/O, 1/I/L, U/V), so a code survives being read aloud over the phone.
 * `alphanumeric` is upper-case only because codes are unique case-insensitively:
 * lower-case letters would add no room.
 */
export const CODE_ALPHABETS = {
  default: '23456789BCDFGHJKMNPQRSTWXZ',
  numeric: '0123456789',
  alphanumeric: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
} as const;
export type CodeAlphabet = keyof typeof CODE_ALPHABETS;
export const CODE_ALPHABET_NAMES = Object.keys(CODE_ALPHABETS) as CodeAlphabet[];

export const MIN_CODE_LENGTH = 3;
export const MAX_CODE_LENGTH = 30;
export const DEFAULT_CODE_LENGTH = 8;
export const MAX_PREFIX_LENGTH = 40;
export const PREFIX_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface CodeFormat {
  prefix: string;
  length: number;
  alphabet: CodeAlphabet;
}

/** A generator of random parts from a CSPRNG (nanoid reads crypto.getRandomValues). */
export function codeGenerator(format: CodeFormat): () => string {
  const randomPart = customAlphabet(CODE_ALPHABETS[format.alphabet], format.length);
  const head = format.prefix ? `${format.prefix}-` : '';
  return () => head + randomPart();
}

/** The form the unique index compares: codes differ only if they differ ignoring case. */
export function normaliseCode(code: string): string {
  return code.trim().toLowerCase();
}

export function codeSpace(format: Pick<CodeFormat, 'length' | 'alphabet'>): number {
  return CODE_ALPHABETS[format.alphabet].length ** format.length;
}

/**
 * Refuse up front any request that would fill more than half of what is left
 * of its code space: past that point random generation collides more often
 * than not, and near the end it would never finish.
 */
export function assertFeasible(format: CodeFormat, requested: number, alreadyIssued: number): void {
  const remaining = Math.max(0, codeSpace(format) - alreadyIssued);
  const allowed = Math.floor(remaining / 2);
  if (requested > allowed) {
    const what = `${format.length}-character ${format.alphabet} codes${format.prefix ? ` with prefix "${format.prefix}"` : ''}`;
    throw new PromoError(
      'code_space_exhausted',
      `Not enough unique codes left: ${what} have room for ${allowed.toLocaleString('en-US')} more, and ${requested.toLocaleString('en-US')} were requested. Use a longer code length or a larger code type.`,
      { amount: `At most ${allowed.toLocaleString('en-US')} for this code format.` },
    );
  }
}
