import { createHmac, timingSafeEqual } from 'node:crypto';
import { PromoError } from '../domain/errors.js';
import type { PromoSet } from '../domain/set.js';
import { findSetById } from '../store/sets.js';
import type { Core } from './core.js';
import { forget, knownSet, remember } from './set-cache.js';

/** Set URLs: the token that names a set, and the one check of a token a request brings. */

const TOKEN_PATTERN = /^([A-Z0-9]{25})-(\d{1,12})-([0-9a-f]{32})$/;

function urlSignature(core: Core, apiKey: string, setId: number): string {
  return createHmac('sha256', core.urlSecret).update(`${apiKey}-${setId}`).digest('hex').slice(0, 32);
}

/** The set's secret token, in seed 001's shape: {api_key}-{set id}-{32 hex}. */
export function setToken(core: Core, set: PromoSet): string {
  return `${set.api_key}-${set.id}-${urlSignature(core, set.api_key, set.id)}`;
}

export function setUrl(core: Core, set: PromoSet): string {
  return `${core.publicUrl}/sets/${setToken(core, set)}`;
}

const noSetAtUrl = () => new PromoError('not_found', 'No promo set is published at this URL. Ask the set owner for its current URL.');

export interface ResolveOptions {
  /** Also an archived set (redemption checks of its codes); never served from the cache. */
  includeArchived?: boolean;
  /**
   * Accept the set this process last read for the token, without reading it
   * again or recomputing the HMAC. Only for callers whose write re-checks the
   * set in its own transaction (issueSingleCode fails with set_changed when
   * the stored set differs): that check is what makes a rotation or an edit
   * by another instance count at once.
   */
  cached?: boolean;
}

/**
 * The set this process last read for `token` (ResolveOptions.cached), if the
 * token is that set's current one; undefined otherwise (resolveSetToken then
 * asks the database). Synchronous: the hot path waits for nothing here.
 */
export function cachedSetFor(core: Core, token: string): PromoSet | undefined {
  const match = TOKEN_PATTERN.exec(token);
  if (!match) return undefined;
  const known = knownSet(core, Number(match[2]));
  if (known === undefined) return undefined;
  // The whole token compared in constant time (its length is the id's, which the lookup already matched).
  // Not the token we know: perhaps the set was rotated elsewhere; the database decides.
  const given = Buffer.from(token);
  return given.length === known.token.length && timingSafeEqual(given, known.token) ? known.set : undefined;
}

/**
 * The set a URL token names. Every failure (bad shape, forged signature,
 * rotated key, archived or missing set) is the same 404, and the comparisons
 * are constant-time, so a caller learns nothing about which sets exist.
 */
export async function resolveSetToken(core: Core, token: string, options: ResolveOptions = {}): Promise<PromoSet> {
  const includeArchived = options.includeArchived ?? false;
  if (options.cached) {
    const known = cachedSetFor(core, token);
    if (known !== undefined) return known;
  }
  const match = TOKEN_PATTERN.exec(token);
  if (!match) throw noSetAtUrl();
  const [, apiKey, idText, signature] = match;
  const setId = Number(idText);
  const expected = urlSignature(core, apiKey, setId);
  const signatureOk = timingSafeEqual(Buffer.from(signature), Buffer.from(expected));
  const set = signatureOk ? await findSetById(core.db, setId) : undefined;
  if (!set || (set.archived_at !== null && !includeArchived)) {
    if (signatureOk) forget(core, setId);
    throw noSetAtUrl();
  }
  // Only live sets are kept: an archived one (shown to redemption checks) is read each time.
  if (!timingSafeEqual(Buffer.from(set.api_key.padEnd(25)), Buffer.from(apiKey))) {
    if (set.archived_at === null) remember(core, set, urlSignature(core, set.api_key, set.id));
    throw noSetAtUrl();
  }
  if (set.archived_at === null) remember(core, set, expected);
  return set;
}
