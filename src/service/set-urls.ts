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
 * The set a URL token names. Every failure (bad shape, forged signature,
 * rotated key, archived or missing set) is the same 404, and the comparisons
 * are constant-time, so a caller learns nothing about which sets exist.
 */
export async function resolveSetToken(core: Core, token: string, options: ResolveOptions = {}): Promise<PromoSet> {
  const includeArchived = options.includeArchived ?? false;
  const match = TOKEN_PATTERN.exec(token);
  if (!match) throw noSetAtUrl();
  const [, apiKey, idText, signature] = match;
  const setId = Number(idText);
  if (options.cached) {
    const known = knownSet(core, setId);
    if (known !== undefined) {
      // Both compared in full, in constant time: together they say the token is the set's current one.
      // (Lengths are fixed by TOKEN_PATTERN and remember(), so timingSafeEqual cannot throw.)
      const signatureOk = timingSafeEqual(Buffer.from(signature), known.signature);
      const keyOk = timingSafeEqual(Buffer.from(apiKey), known.apiKey);
      if (signatureOk && keyOk) return known.set;
      // Not the token we know: perhaps the set was rotated elsewhere; ask the database.
    }
  }
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
