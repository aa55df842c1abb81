/** Shortening text for people: cuts fall on a code point (never inside a surrogate pair, half an emoji) and are marked with "…". */

export const ELLIPSIS = '…';

/** At most `max` UTF-16 units, cut on a code point boundary, with … when cut. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - ELLIPSIS.length;
  if (end > 0 && isHighSurrogate(text.charCodeAt(end - 1))) end -= 1;
  return text.slice(0, Math.max(0, end)) + ELLIPSIS;
}

export function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** "1 code", "2,500 codes": never "1 codes". */
export const count = (n: number, noun: string, plural = `${noun}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? noun : plural}`;
