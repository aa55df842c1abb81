import { PromoError } from '../domain/errors.js';
import { truncate } from '../domain/text.js';

/**
 * Parsing of `/promo` command text. Slack clients often turn straight quotes
 * into typographic ones, so “…”, „…“ and ‘…’ count as quotes too.
 */

const DOUBLE_QUOTES = /[\u201C\u201D\u201E\u201F\u2033\u00AB\u00BB]/g;
const SINGLE_QUOTES = /[\u2018\u2019\u201A\u201B\u2032]/g;

/** Split on whitespace, keeping quoted parts together: `type="Fixed Amount"` is one token, `type=Fixed Amount`. */
export function tokenize(text: string): string[] {
  const source = text.replace(DOUBLE_QUOTES, '"').replace(SINGLE_QUOTES, "'").replace(/\u00A0/g, ' ');
  const tokens: string[] = [];
  let current = '';
  let inToken = false;
  let quote: '"' | "'" | null = null;
  for (const ch of source) {
    if (quote) {
      if (ch === quote) quote = null;
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      // An apostrophe inside a word (O'Brien) is a letter, not a quote.
      if (ch === "'" && inToken && current !== '' && !current.endsWith('=')) {
        current += ch;
        continue;
      }
      quote = ch;
      inToken = true;
    } else if (/\s/.test(ch)) {
      if (inToken) tokens.push(current);
      current = '';
      inToken = false;
    } else {
      current += ch;
      inToken = true;
    }
  }
  if (quote) throw new PromoError('bad_request', `A quote (${quote}) is not closed. Put the value in a pair of quotes, like type="Fixed Amount".`);
  if (inToken) tokens.push(current);
  return tokens;
}

export interface CommandText {
  /** The subcommand, lower-cased ("" when none was given). */
  subcommand: string;
  /** Words before the first key=value, e.g. a set name of several words. */
  positional: string[];
  /** key=value options, keys lower-cased, in the order given. */
  options: Record<string, string>;
}

/**
 * The manifest asks Slack to escape `/promo`'s text (mentions arrive as ids,
 * which access, settings and digest need). Slack then also wraps e-mail
 * addresses and links (`<mailto:ann@example.com|ann@example.com>`) and writes
 * &, < and > as entities: give those back as typed. Mentions stay as they are.
 */
export function unescapeSlackText(text: string): string {
  return text
    .replace(/<mailto:([^|>]+)(?:\|[^>]*)?>/g, '$1')
    .replace(/<((?:https?|ftp):\/\/[^|>]+)(?:\|[^>]*)?>/g, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

export function parseCommandText(text: string): CommandText {
  const [first = '', ...rest] = tokenize(unescapeSlackText(text).trim());
  const positional: string[] = [];
  const options: Record<string, string> = {};
  for (const token of rest) {
    const eq = token.indexOf('=');
    if (eq > 0 && /^[A-Za-z_]+$/.test(token.slice(0, eq))) {
      const key = token.slice(0, eq).toLowerCase();
      if (key in options) throw new PromoError('bad_request', `"${key}" is given twice; give each option once.`);
      options[key] = token.slice(eq + 1);
    } else if (Object.keys(options).length > 0) {
      throw new PromoError('bad_request', `"${truncate(token, 40)}" comes after the options; put the set first and quote values with spaces, like notes="for the partner".`);
    } else {
      positional.push(token);
    }
  }
  return { subcommand: first.toLowerCase(), positional, options };
}

/** The short option names of `/promo code`, mapped to the set URL POST fields (seed 001). */
export const CODE_OPTION_NAMES: Record<string, string> = {
  value: 'value',
  type: 'promo_code_type',
  promo_code_type: 'promo_code_type',
  start: 'start_date',
  start_date: 'start_date',
  expiry: 'expiry_date',
  expires: 'expiry_date',
  expiry_date: 'expiry_date',
  name: 'name',
  prefix: 'name',
  notes: 'notes',
  client_id: 'client_id',
  client_email: 'client_email',
  email: 'client_email',
};

/** `/promo code` options as the raw input generatePromotion takes; unknown keys are refused, not ignored. */
export function codeOverrides(options: Record<string, string>): Record<string, string> {
  const input: Record<string, string> = {};
  for (const [key, value] of Object.entries(options)) {
    if (key === 'client') {
      // client=42, client=ann@example.com, or both: client=42,ann@example.com
      for (const part of value.split(',').map((p) => p.trim()).filter(Boolean)) {
        const field = part.includes('@') ? 'client_email' : 'client_id';
        if (field in input) throw new PromoError('bad_request', `client= names the ${field === 'client_id' ? 'client id' : 'e-mail'} twice; give one client id and/or one e-mail, like client=42,ann@example.com.`);
        input[field] = part;
      }
      continue;
    }
    const field = CODE_OPTION_NAMES[key];
    if (!field) {
      throw new PromoError('bad_request', `Unknown option "${truncate(key, 40)}". Use value=, type=, start=, expiry=, name=, notes= or client=.`, { [truncate(key, 40)]: 'Unknown option.' });
    }
    if (field in input) throw new PromoError('bad_request', `"${key}" repeats another option; give each once.`);
    input[field] = value;
  }
  return input;
}

/** `codes <set> [amount]`: a trailing number is the amount when a set is also named (set names are never plain numbers). */
export function setRefAndAmount(positional: string[]): { ref: string; amount?: string } {
  if (positional.length >= 2 && /^\d+$/.test(positional[positional.length - 1])) {
    return { ref: positional.slice(0, -1).join(' '), amount: positional[positional.length - 1] };
  }
  return { ref: positional.join(' ') };
}

/**
 * A trailing `page N` on a command's words (`list page 2`, `audit Spring Sale page 3`):
 * the words before it, and the page (1 when none is given). A set whose name
 * ends in "page 2" is named in quotes, which keeps it one word.
 */
export function pageArgument(positional: string[]): { rest: string[]; page: number } {
  const at = positional.findIndex((word, i) => word.toLowerCase() === 'page' && i >= positional.length - 2);
  if (at === -1) return { rest: positional, page: 1 };
  const value = positional[at + 1];
  // "Landing page" as a set name: a last word "page" with nothing after it belongs to the name.
  if (value === undefined && at > 0) return { rest: positional, page: 1 };
  if (value === undefined) throw new PromoError('bad_request', 'Give a page number after "page", like `page 2`.', { page: 'A whole number from 1.' });
  if (!/^\d{1,6}$/.test(value) || Number(value) < 1) {
    throw new PromoError('bad_request', `"${truncate(value, 20)}" is not a page number; pages are numbered from 1, like \`page 2\`.`, { page: 'A whole number from 1.' });
  }
  return { rest: positional.slice(0, at), page: Number(value) };
}
