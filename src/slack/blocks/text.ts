import { ELLIPSIS, isHighSurrogate, truncate } from '../../domain/text.js';

/**
 * Text that fits Slack's Block Kit limits without breaking: cuts fall on a
 * code point (never inside a surrogate pair), outside an escaped entity
 * (&amp;) or a <…> mention, and are marked with "…".
 */

export { ELLIPSIS, truncate };

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

