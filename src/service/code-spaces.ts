import { codeSpace, type CodeFormat } from '../domain/codes.js';
import { PromoError } from '../domain/errors.js';
import type { PromoSet } from '../domain/set.js';
import type { Db } from '../store/db.js';
import { claimCodeSpace, findCodeSpaceOwner } from '../store/code-spaces.js';
import type { Core } from './core.js';

/**
 * Whose space a prefix is. A code space, a prefix (ignoring case) with a
 * code length, that holds fewer than SHARED_SPACE_MIN codes belongs to the
 * first set that issues in it (or asks to: a Slack modal's check claims too).
 * Another set's request for it, from its URL, Slack or the CLI, is refused
 * with 409 and nothing is written, so no set can use up another's codes.
 * Larger spaces (the default 8-character codes hold 2×10^11) are shared: at
 * 100,000 codes a request, within the rate limits, they cannot be exhausted.
 */
export const SHARED_SPACE_MIN = 100_000_000;

/**
 * Owners already read (or being read), per database: ownership never
 * changes, so the hot path asks once per space, and requests arriving
 * together share one claim (and so keep their order).
 */
const owners = new WeakMap<Db, Map<string, Promise<number>>>();

export function assertOwnsSpace(core: Core, set: PromoSet, format: CodeFormat): Promise<void> | undefined {
  // A space too large to own is answered without a promise: the set-URL POST's usual case.
  if (codeSpace(format) >= SHARED_SPACE_MIN) return undefined;
  return assertOwnsSmallSpace(core, set, format);
}

async function assertOwnsSmallSpace(core: Core, set: PromoSet, format: CodeFormat): Promise<void> {
  const prefixKey = format.prefix.toLowerCase();
  const key = `${format.length}|${prefixKey}`;
  let known = owners.get(core.db);
  if (known === undefined) owners.set(core.db, (known = new Map()));
  let claim = known.get(key);
  if (claim === undefined) {
    if (known.size >= 100_000) known.clear();
    claim = claimCodeSpace(core.db, prefixKey, format.length, set.id);
    known.set(key, claim);
    claim.catch(() => known.delete(key));
  }
  if ((await claim) === set.id) return;
  const what = `${format.length}-character codes${format.prefix ? ` with the prefix "${format.prefix}"` : ' without a prefix'}`;
  throw new PromoError(
    'conflict',
    `${what[0].toUpperCase()}${what.slice(1)} belong to another promo set. Use another prefix (code_prefix or name) or a longer code length.`,
    { code_prefix: 'This prefix and length belong to another set.' },
  );
}

/** A set's own code format (its default prefix, length and alphabet). */
export const ownFormat = (set: Pick<PromoSet, 'code_prefix' | 'code_length' | 'code_alphabet'>): CodeFormat => ({ prefix: set.code_prefix, length: set.code_length, alphabet: set.code_alphabet });

/**
 * Before a set is created or its format edited: its own small space must not
 * belong to another set (400 on code_prefix, nothing saved). After saving,
 * claimOwnSpace takes it, so no other set's URL can take it first.
 */
export async function assertOwnSpaceFree(core: Core, format: CodeFormat, setId?: number): Promise<void> {
  if (codeSpace(format) >= SHARED_SPACE_MIN) return;
  const owner = await findCodeSpaceOwner(core.db, format.prefix.toLowerCase(), format.length);
  if (owner === undefined || owner === setId) return;
  const what = format.prefix ? `The prefix "${format.prefix}" with ${format.length}-character codes` : `${format.length}-character codes without a prefix`;
  throw PromoError.validation({ code_prefix: `${what} belong to another promo set; choose another prefix or a longer code length.` });
}

export async function claimOwnSpace(core: Core, set: PromoSet): Promise<void> {
  try {
    await assertOwnsSpace(core, set, ownFormat(set));
  } catch (error) {
    // Another set claimed it between the check and the save: its requests will say so (409).
    if (!(error instanceof PromoError)) throw error;
  }
}
