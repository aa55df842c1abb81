/**
 * Text that fits Slack's Block Kit limits without breaking: cuts fall on a
 * code point (never inside a surrogate pair), outside an escaped entity
 * (&amp;) or a <…> mention, and are marked with "…".
 */

export const ELLIPSIS = '…';

/** At most `max` UTF-16 units, cut on a code point boundary, with … when cut. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - ELLIPSIS.length;
  // A high surrogate at the cut would leave half an emoji.
  if (end > 0 && isHighSurrogate(text.charCodeAt(end - 1))) end -= 1;
  return text.slice(0, Math.max(0, end)) + ELLIPSIS;
}

/** Like truncate, for mrkdwn: also never inside &amp;/&lt;/&gt; or a <@U…>/<url|label> span. */
export function truncateMrkdwn(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - ELLIPSIS.length;
  if (end > 0 && isHighSurrogate(text.charCodeAt(end - 1))) end -= 1;
  const head = text.slice(0, end);
  const amp = head.lastIndexOf('&');
  if (amp >= 0 && !head.slice(amp).includes(';') && /^&(amp|lt|gt);/.test(text.slice(amp))) end = amp;
  const open = head.lastIndexOf('<');
  if (open >= 0 && !head.slice(open).includes('>')) end = Math.min(end, open);
  return text.slice(0, end) + ELLIPSIS;
}

/** Slack mrkdwn treats &, < and > specially. */
export function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A name or note for mrkdwn: at most `max` characters of the original, then escaped. */
export function shortText(text: string, max: number): string {
  return escapeText(truncate(text, max));
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
