import { customAlphabet } from 'nanoid';
import { randomFillSync } from 'node:crypto';
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

/**
 * Codes are printable ASCII (prefixes match PREFIX_PATTERN, alphabets are
 * ASCII). Anything else is refused before any case folding: toLowerCase()
 * folds look-alikes into real codes (the Kelvin sign U+212A becomes "k"), so
 * "57CR87\u212AT" would validate, redeem and void 57CR87KT.
 */
export function assertAsciiCode(code: string): string {
  if (!/^[\x20-\x7e]*$/.test(code)) {
    throw new PromoError('bad_request', 'A promotion code is plain ASCII letters, digits, "-", "." and "_"; this one holds other characters. Type it again rather than pasting it.', {
      code: 'Only ASCII characters.',
    });
  }
  return code;
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

/** Code spaces up to this size can be numbered exactly by a double (26^11, 10^15, 36^10 fit). */
const MAX_NUMBERED_SPACE = 2 ** 53;
/** Random 32-bit words drawn per refill (two per candidate). */
const WORDS_PER_DRAW = 8192;

/**
 * Bulk generation's codes by number: a code is its index in the code space,
 * written in the alphabet's characters taken in character order, so indexes
 * in numeric order are codes in plain string order (the order bulk inserts
 * want, see generate.ts). Drawing, removing repeats and sorting then work on
 * a Float64Array instead of strings, and only the codes kept are rendered.
 * Indexes are uniform over the space (rejection sampling of 53-bit words
 * from the CSPRNG, node:crypto as nanoid uses), so every character is as
 * likely as with codeGenerator.
 *
 * Each call gives `n` codes that no earlier call of this source gave, sorted;
 * fewer (down to none) once the space has fewer left that it has not given:
 * a caller that keeps asking has then tried every code of the space.
 * Undefined when the space is too large to number exactly (long codes): the
 * caller then sorts strings from codeGenerator.
 */
export interface NumberedCodeSource {
  (n: number): string[];
  /** The same codes as indexes, sorted: a caller with many can render them a slice at a time. */
  draw(n: number): Float64Array;
  render(index: number): string;
}

export function numberedCodeSource(format: CodeFormat): NumberedCodeSource | undefined {
  const space = codeSpace(format);
  if (space > MAX_NUMBERED_SPACE) return undefined;
  const digits = [...CODE_ALPHABETS[format.alphabet]].sort();
  const base = digits.length;
  const head = format.prefix ? `${format.prefix}-` : '';
  // Below this, every index has the same number of 53-bit words mapping to it.
  const unbiased = MAX_NUMBERED_SPACE - (MAX_NUMBERED_SPACE % space);
  const words = new Uint32Array(WORDS_PER_DRAW);
  let next = words.length;
  const draw = (): number => {
    for (;;) {
      if (next === words.length) {
        randomFillSync(words);
        next = 0;
      }
      const x = (words[next] & 0x1fffff) * 0x100000000 + words[next + 1];
      next += 2;
      if (x < unbiased) return x % space;
    }
  };
  // What earlier calls gave, each sorted: later calls (replacing collided codes) are small.
  const given: Float64Array[] = [];
  const givenBefore = (index: number) => given.some((earlier) => sortedIncludes(earlier, index));
  // Two characters at a time: half the string joins of one at a time.
  const pairs = digits.flatMap((first) => digits.map((second) => first + second));
  const pairBase = base * base;
  const render = (index: number): string => {
    let text = '';
    let left = format.length;
    for (; left >= 2; left -= 2) {
      const rest = Math.floor(index / pairBase);
      text = pairs[index - rest * pairBase] + text;
      index = rest;
    }
    return head + (left === 1 ? digits[index] + text : text);
  };
  let givenCount = 0;
  const drawSorted = (wanted: number): Float64Array => {
    const n = Math.min(wanted, space - givenCount);
    givenCount += n;
    let chosen = new Float64Array(0);
    while (chosen.length < n) {
      const candidates = new Float64Array(n);
      candidates.set(chosen);
      for (let i = chosen.length; i < n; i++) candidates[i] = draw();
      candidates.sort();
      let kept = 0;
      for (let i = 0; i < n; i++) {
        const index = candidates[i];
        if ((kept > 0 && candidates[kept - 1] === index) || (given.length > 0 && givenBefore(index))) continue;
        candidates[kept++] = index;
      }
      chosen = candidates.subarray(0, kept);
    }
    given.push(chosen);
    return chosen;
  };
  return Object.assign((wanted: number) => Array.from(drawSorted(wanted), render), { draw: drawSorted, render });
}

function sortedIncludes(sorted: Float64Array, value: number): boolean {
  let low = 0;
  let high = sorted.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle] === value) return true;
    if (sorted[middle] < value) low = middle + 1;
    else high = middle - 1;
  }
  return false;
}
