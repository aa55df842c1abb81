import type { IncomingMessage } from 'node:http';
import { PromoError } from '../domain/errors.js';
import { readRawBody } from '../service/request-body.js';

/** Request bodies here are a handful of fields; 64 KiB is generous and keeps hostile uploads cheap. */
export const MAX_BODY_BYTES = 64 * 1024;

export interface RequestBody {
  /** Field name to value: strings for forms, any JSON value for JSON. Own properties only. */
  fields: Record<string, unknown>;
  /** The raw bytes, for the idempotency fingerprint. */
  raw: Buffer;
}

const SUPPORTED = 'Send the body as application/x-www-form-urlencoded (what curl -d sends) or application/json.';

/**
 * Read and parse a request body: form-urlencoded or JSON, at most `limit` bytes.
 * An empty body is no fields, whatever its content type (curl -X POST sends none).
 * Oversized bodies are refused from Content-Length before reading, or as soon as
 * the stream passes the limit; the caller closes the connection on errors.
 */
export function readBody(req: IncomingMessage, limit: number = MAX_BODY_BYTES): RequestBody | Promise<RequestBody> {
  const raw = readRawBody(req, limit);
  // A small body arrives with the headers: parsed at once, with no promise to wait for (readRawBody).
  return raw instanceof Promise ? raw.then((bytes) => parsedBody(req, bytes)) : parsedBody(req, raw);
}

function parsedBody(req: IncomingMessage, raw: Buffer): RequestBody {
  if (raw.length === 0) return { fields: {}, raw };
  return { fields: parseBody(req.headers['content-type'], raw), raw };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function parseBody(contentType: string | undefined, raw: Buffer): Record<string, unknown> {
  if (!contentType) throw new PromoError('unsupported_media_type', `The request has a body but no Content-Type. ${SUPPORTED}`);
  // What every JSON client sends, without taking the header apart.
  if (contentType === 'application/json') return parseJsonObject(decodeUtf8(raw));
  const [mimePart, ...params] = contentType.split(';');
  const mime = mimePart.trim().toLowerCase();
  const charset = params.map((p) => p.trim().toLowerCase()).find((p) => p.startsWith('charset='))?.slice(8).replace(/"/g, '');
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new PromoError('unsupported_media_type', `The charset "${charset.slice(0, 30)}" is not supported; send UTF-8.`);
  }
  const text = decodeUtf8(raw);
  if (mime === 'application/x-www-form-urlencoded') return parseForm(text);
  if (mime === 'application/json' || mime.endsWith('+json')) return parseJsonObject(text);
  throw new PromoError('unsupported_media_type', `The content type "${mime.slice(0, 60)}" is not supported. ${SUPPORTED}`);
}

function decodeUtf8(raw: Buffer): string {
  try {
    return utf8.decode(raw);
  } catch {
    throw new PromoError('bad_request', 'The request body is not valid UTF-8.');
  }
}

/**
 * application/x-www-form-urlencoded, strictly: invalid percent-encoding is a
 * 400 rather than a silently mangled value, and a repeated field is refused
 * (which of two discounts was meant is not ours to guess).
 */
export function parseForm(text: string): Record<string, unknown> {
  const fields = new Map<string, string>();
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decodeFormPart(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decodeFormPart(pair.slice(eq + 1));
    if (fields.has(key)) {
      throw new PromoError('bad_request', `The field "${key.slice(0, 40)}" appears more than once; send each field once.`, { [key.slice(0, 40)]: 'Sent more than once.' });
    }
    fields.set(key, value);
  }
  // fromEntries defines own properties, so a "__proto__" field is just a field.
  return Object.fromEntries(fields);
}

function decodeFormPart(part: string): string {
  const spaced = part.replace(/\+/g, ' ');
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    throw new PromoError('bad_request', `The form body has invalid percent-encoding near "${part.slice(0, 40)}"; encode "%" as %25.`);
  }
}

export function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new PromoError('bad_request', 'The request body is not valid JSON.');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new PromoError('bad_request', 'The JSON body must be an object of fields, like {"value": "50"}.');
  }
  return value as Record<string, unknown>;
}
