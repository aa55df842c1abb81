import { z } from 'zod';
import { PromoError } from './errors.js';

/**
 * A promotion bound to one customer (DESIGN.md, "Codes bound to a customer"):
 * a WHMCS client id and/or an e-mail address, fixed when the code is issued.
 * Pure rules: who may use a bound code, and the sentences that say so.
 */
export interface Binding {
  client_id: number | null;
  client_email: string | null;
}

/** The customer a checkout names (redeem, validate, the WHMCS hook). */
export interface Customer {
  clientId: string | null;
  clientEmail: string | null;
}

/** WHMCS client ids are INT(10) AUTO_INCREMENT: 1 and up. */
const MAX_CLIENT_ID = 2_147_483_647;
/** RFC 5321's limit for a forward path. */
const MAX_EMAIL_LENGTH = 254;
/** Enough to catch a typo (no @, a space, no dot in the domain); mail servers judge the rest. */
const EMAIL_PATTERN = /^[^\s@"'<>,;]+@[^\s@"'<>,;]+\.[^\s@"'<>,;.]+$/;

export const CLIENT_ID_MESSAGE = 'The client_id must be a WHMCS client id: a whole number from 1 up, such as 42.';
export const CLIENT_EMAIL_MESSAGE = 'The client_email must be an e-mail address such as name@example.com.';

export function parseClientId(value: unknown): number | null | 'invalid' {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value !== 'number' && typeof value !== 'string') return 'invalid';
  const text = typeof value === 'number' ? String(value) : value.trim();
  if (text === '') return null;
  if (!/^\d{1,10}$/.test(text)) return 'invalid';
  const id = Number(text);
  return id >= 1 && id <= MAX_CLIENT_ID ? id : 'invalid';
}

export function parseClientEmail(value: unknown): string | null | 'invalid' {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') return 'invalid';
  const text = value.trim();
  if (text === '') return null;
  return text.length <= MAX_EMAIL_LENGTH && EMAIL_PATTERN.test(text) ? text : 'invalid';
}

/** A field parser from one of the parse functions above: 'invalid' becomes `message`. */
const fieldParser = <T>(parse: (value: unknown) => T | null | 'invalid', message: string) =>
  z.unknown().transform((value, ctx): T | null => {
    const parsed = parse(value);
    if (parsed === 'invalid') {
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    }
    return parsed;
  });

const clientIdParser = fieldParser(parseClientId, CLIENT_ID_MESSAGE).meta({ description: 'Bind the code to this WHMCS client id (a whole number from 1).' });
const clientEmailParser = fieldParser(parseClientEmail, CLIENT_EMAIL_MESSAGE).meta({ description: 'Bind the code to this customer e-mail (compared ignoring letter case).' });

/** The issue-time fields, shared by the set URL, bulk, the admin API and the CLI. */
export const BINDING_PARSERS = { client_id: clientIdParser, client_email: clientEmailParser };

/** At most this many customers in one bulk list: each is one bound code. */
export const MAX_CLIENT_LIST = 10_000;

/**
 * A bulk request's `clients`: a JSON array of `{client_id, client_email}`
 * (or of bare ids / e-mails), or CSV text whose header names the columns
 * `client_id` and/or `client_email` (a header-less single column is read as ids or e-mails).
 */
export const clientListParser = z.unknown().transform((value, ctx): Binding[] => {
  const result = parseClientList(value);
  if (typeof result === 'string') {
    ctx.addIssue({ code: 'custom', message: result });
    return z.NEVER;
  }
  return result;
}).meta({ description: 'One code per customer: a JSON array of {client_id, client_email}, or CSV text with a client_id and/or client_email header. The amount, if sent, must equal its length.' });

function parseClientList(value: unknown): Binding[] | string {
  const rows: unknown[] | string = Array.isArray(value) ? value : typeof value === 'string' ? csvRows(value) : 'The clients must be a JSON array of {client_id, client_email} or CSV text.';
  if (typeof rows === 'string') return rows;
  if (rows.length === 0) return 'The clients list is empty: send at least one customer.';
  if (rows.length > MAX_CLIENT_LIST) return `The clients list has ${rows.length} customers; at most ${MAX_CLIENT_LIST.toLocaleString('en-US')} fit in one request.`;
  const bindings: Binding[] = [];
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    const entry = typeof row === 'object' && row !== null && !Array.isArray(row) ? (row as Record<string, unknown>) : guessColumn(row);
    const unknown = Object.keys(entry).filter((key) => key !== 'client_id' && key !== 'client_email');
    if (unknown.length > 0) return `Customer ${i + 1} of the clients list has an unknown field "${unknown[0].slice(0, 40)}": use client_id and client_email.`;
    const id = parseClientId(entry.client_id);
    const email = parseClientEmail(entry.client_email);
    if (id === 'invalid') return `Customer ${i + 1} of the clients list: ${CLIENT_ID_MESSAGE}`;
    if (email === 'invalid') return `Customer ${i + 1} of the clients list: ${CLIENT_EMAIL_MESSAGE}`;
    if (id === null && email === null) return `Customer ${i + 1} of the clients list has neither a client_id nor a client_email.`;
    bindings.push({ client_id: id, client_email: email });
  }
  return bindings;
}

function guessColumn(cell: unknown): Record<string, unknown> {
  return typeof cell === 'string' && cell.includes('@') ? { client_email: cell } : { client_id: cell };
}

/**
 * Simple CSV (no quoted commas: ids and e-mails have none). With a header row
 * naming client_id/client_email, cells go by column; without one, each cell is
 * read by its look (an "@" makes it the e-mail), so "42", "ann@example.com" and
 * "42,ann@example.com" lines may be mixed.
 */
function csvRows(text: string): Record<string, unknown>[] | string {
  const lines = text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '');
  if (lines.length === 0) return [];
  const split = (line: string) => line.split(',').map((cell) => cell.trim().replace(/^"|"$/g, ''));
  const first = split(lines[0]).map((cell) => cell.toLowerCase());
  const hasHeader = first.some((cell) => cell === 'client_id' || cell === 'client_email');
  if (hasHeader) {
    const odd = first.find((c) => c !== 'client_id' && c !== 'client_email');
    if (odd !== undefined) return `The clients CSV header may name only client_id and client_email; it has "${odd.slice(0, 40)}".`;
    return lines.slice(1).map((line) => {
      const cells = split(line);
      return Object.fromEntries(first.map((column, i) => [column, cells[i] ?? '']));
    });
  }
  const rows: Record<string, unknown>[] = [];
  for (const [i, line] of lines.entries()) {
    const row: Record<string, unknown> = {};
    for (const cell of split(line).filter((c) => c !== '')) {
      const key = cell.includes('@') ? 'client_email' : 'client_id';
      if (key in row) return `Line ${i + 1} of the clients list names two ${key === 'client_id' ? 'client ids' : 'e-mails'}; give one client id and/or one e-mail a line.`;
      row[key] = cell;
    }
    rows.push(row);
  }
  return rows;
}

export function bindingOf(values: { client_id?: number | null; client_email?: string | null }): Binding | null {
  const id = values.client_id ?? null;
  const email = values.client_email ?? null;
  return id === null && email === null ? null : { client_id: id, client_email: email };
}

export const emailKey = (email: string) => email.trim().toLowerCase();

/**
 * Whether `customer` may use a code bound to `binding`: every attribute both
 * sides name must match (the e-mail ignoring case); a bound code with none of
 * its attributes named is `client_required`, one with a different value `other_client`.
 */
export function bindingMismatch(binding: Binding | null, customer: Customer): 'other_client' | 'client_required' | null {
  if (!binding) return null;
  let compared = false;
  if (binding.client_id !== null && customer.clientId !== null && customer.clientId.trim() !== '') {
    if (customer.clientId.trim() !== String(binding.client_id)) return 'other_client';
    compared = true;
  }
  if (binding.client_email !== null && customer.clientEmail !== null && customer.clientEmail.trim() !== '') {
    if (emailKey(customer.clientEmail) !== emailKey(binding.client_email)) return 'other_client';
    compared = true;
  }
  return compared ? null : 'client_required';
}

export function bindingRefusal(reason: 'other_client' | 'client_required', code: string, binding: Binding): PromoError {
  if (reason === 'other_client') {
    return new PromoError('promotion_bound_to_other_client', `The code ${code} was issued to another customer and cannot be used on this account. Ask the shop for a code of your own.`);
  }
  const asks = [binding.client_id !== null ? 'client_id' : null, binding.client_email !== null ? 'client_email' : null].filter(Boolean).join(' or ');
  return new PromoError('client_required', `The code ${code} is bound to one customer: send the customer's ${asks} with the request.`);
}

/** "client 42 (ann@example.com)", "ann@example.com", "client 42". */
export function describeBinding(binding: Binding): string {
  if (binding.client_id !== null && binding.client_email !== null) return `client ${binding.client_id} (${binding.client_email})`;
  return binding.client_id !== null ? `client ${binding.client_id}` : (binding.client_email ?? '');
}

/**
 * What binding means for a set whose codes may be used more than once: the
 * uses stay, but all of them belong to the one customer. Null when each code is single-use.
 */
export function bindingUsesNote(maxuses: number): string | null {
  if (maxuses === 1) return null;
  const uses = maxuses === 0 ? 'any number of times' : `up to ${maxuses} times`;
  return `A bound code of this set can be used ${uses}, and every use must be by the bound customer.`;
}

/** The customer a search names: an e-mail (has "@") or a client id. */
export function parseCustomerQuery(text: string): { clientId: number } | { email: string } {
  const trimmed = text.trim();
  if (trimmed.includes('@')) {
    const email = parseClientEmail(trimmed);
    if (email === 'invalid' || email === null) throw PromoError.validation({ client: CLIENT_EMAIL_MESSAGE });
    return { email };
  }
  const id = parseClientId(trimmed);
  if (id === 'invalid' || id === null) throw PromoError.validation({ client: 'Name the customer by WHMCS client id (such as 42) or e-mail address.' });
  return { clientId: id };
}
