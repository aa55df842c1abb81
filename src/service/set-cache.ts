import { sameSet, type PromoSet } from '../domain/set.js';
import type { Db } from '../store/db.js';
import { findSetById } from '../store/sets.js';
import type { Core } from './core.js';

/**
 * The live sets this process last read, for set-URL requests that may skip
 * the read (ResolveOptions.cached in set-urls.ts). Kept per database handle.
 */

/** A live set as last read by this process, with its current token (what a request's token must equal). */
export interface KnownSet {
  set: PromoSet;
  token: Buffer;
}

/** Per database handle, by set id; bounded, since sets are few and tokens are checked before anything is kept. */
const knownSets = new WeakMap<Db, Map<number, KnownSet>>();
const MAX_KNOWN_SETS = 10_000;

export function remember(core: Core, set: PromoSet, signature: string): void {
  // Only keys of the token's own shape: the constant-time comparisons need equal lengths.
  if (set.api_key.length !== 25) return;
  let known = knownSets.get(core.db);
  if (known === undefined) knownSets.set(core.db, (known = new Map()));
  if (known.size >= MAX_KNOWN_SETS) known.clear();
  known.set(set.id, { set, token: Buffer.from(`${set.api_key}-${set.id}-${signature}`) });
}

export function forget(core: Core, setId: number): void {
  knownSets.get(core.db)?.delete(setId);
}

/** The set this process last read for `setId`, if it is live and known. */
export function knownSet(core: Core, setId: number): KnownSet | undefined {
  return knownSets.get(core.db)?.get(setId);
}

/** Whether `set` is what `db` holds now: one read, nothing kept. */
export async function setIsStored(db: Db, set: PromoSet): Promise<boolean> {
  const stored = await findSetById(db, set.id);
  return stored !== undefined && sameSet(stored, set);
}
