import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { customAlphabet } from 'nanoid';
import { PromoError } from '../domain/errors.js';
import { SET_DEFAULTS, validateSetFields, type PromoSet, type SetFields } from '../domain/set.js';

import { countAuditEvents, insertAuditEvent, listAuditEvents, type AuditAction, type AuditEvent } from '../store/audit.js';
import { pageWindow, type PageWindow } from '../domain/pages.js';
import { inWriteTransaction } from '../store/transactions.js';
import { type Db } from '../store/db.js';
import { countBatches, listRecentBatches } from '../store/batches.js';
import { countsBySet } from '../store/promotions.js';
import { recordEvent } from '../store/outbox.js';
import { findSetById, findSetByName, insertSet, listSetNames, listSetRows, setApiKey, setArchivedAt, setWebhookSecret, updateSetFields } from '../store/sets.js';
import { assertWebhookTarget } from './webhook-target.js';
import { nowIso, today, type Core } from './core.js';
import { truncate } from '../domain/text.js';

/** api keys look like seed 001's: 25 upper-case letters and digits. */
const newApiKey = customAlphabet('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 25);
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

/** A webhook signing secret: whsec_ and 32 random bytes in hex. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('hex')}`;

/** Where a new or changed webhook_url points must be a public address (unless the operator allows private ones). */
async function checkWebhookTarget(core: Core, url: string | null, previous: string | null = null): Promise<void> {
  if (url !== null && url !== previous) await assertWebhookTarget(url, core.webhooks.allowPrivateNetworks);
}

const NO_SET_AT_URL = () => new PromoError('not_found', 'No promo set is published at this URL. Ask the set owner for its current URL.');

/** A live set as last read by this process, with what its token must match. */
interface KnownSet {
  set: PromoSet;
  apiKey: Buffer;
  signature: Buffer;
}

/** Per database handle, by set id; bounded, since sets are few and tokens are checked before anything is kept. */
const knownSets = new WeakMap<Db, Map<number, KnownSet>>();
const MAX_KNOWN_SETS = 10_000;

function remember(core: Core, set: PromoSet, signature: string): void {
  // Only keys of the token's own shape: the constant-time comparisons need equal lengths.
  if (set.api_key.length !== 25) return;
  let known = knownSets.get(core.db);
  if (known === undefined) knownSets.set(core.db, (known = new Map()));
  if (known.size >= MAX_KNOWN_SETS) known.clear();
  known.set(set.id, { set, apiKey: Buffer.from(set.api_key), signature: Buffer.from(signature) });
}

function forget(core: Core, setId: number): void {
  knownSets.get(core.db)?.delete(setId);
}

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
  if (!match) throw NO_SET_AT_URL();
  const [, apiKey, idText, signature] = match;
  const setId = Number(idText);
  if (options.cached) {
    const known = knownSets.get(core.db)?.get(setId);
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
    throw NO_SET_AT_URL();
  }
  // Only live sets are kept: an archived one (shown to redemption checks) is read each time.
  if (!timingSafeEqual(Buffer.from(set.api_key.padEnd(25)), Buffer.from(apiKey))) {
    if (set.archived_at === null) remember(core, set, urlSignature(core, set.api_key, set.id));
    throw NO_SET_AT_URL();
  }
  if (set.archived_at === null) remember(core, set, expected);
  return set;
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505';
}

const nameTaken = (name: string) => new PromoError('conflict', `A promo set named "${name}" already exists. Choose another name.`, { name: 'This name is taken.' });

export async function createSet(core: Core, input: Record<string, unknown>, actor: string): Promise<PromoSet> {
  const fields = validateSetFields(SET_DEFAULTS, input, today(core));
  if (await findSetByName(core.db, fields.name)) throw nameTaken(fields.name);
  await checkWebhookTarget(core, fields.webhook_url);
  try {
    return await inWriteTransaction(core.db, async (trx) => {
      const set = await insertSet(trx, fields, { api_key: newApiKey(), created_by: actor, now: nowIso(core), webhook_secret: fields.webhook_url ? newWebhookSecret() : null });
      await audit(trx, core, set.id, 'created', actor, { name: set.name });
      return set;
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw nameTaken(fields.name);
    throw error;
  }
}

export async function updateSet(core: Core, setId: number, changes: Record<string, unknown>, actor: string): Promise<PromoSet> {
  const current = await getSet(core, setId);
  const fields = validateSetFields(editableFields(current), changes, today(core));
  const clash = await findSetByName(core.db, fields.name);
  if (clash && clash.id !== setId) throw nameTaken(fields.name);
  const changed = Object.keys(fields).filter((key) => JSON.stringify(fields[key as keyof SetFields]) !== JSON.stringify(current[key as keyof SetFields]));
  await checkWebhookTarget(core, fields.webhook_url, current.webhook_url);
  try {
    return await inWriteTransaction(core.db, async (trx) => {
      let set = await updateSetFields(trx, setId, fields, nowIso(core));
      // The first webhook_url gets a secret; later ones keep it (rotate it explicitly).
      if (set.webhook_url && !set.webhook_secret) set = await setWebhookSecret(trx, setId, newWebhookSecret(), nowIso(core));
      await audit(trx, core, setId, 'edited', actor, { fields: changed });
      return set;
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw nameTaken(fields.name);
    throw error;
  }
}

export function editableFields(set: PromoSet): SetFields {
  const { id: _id, api_key: _key, created_by: _by, created_at: _at, updated_at: _up, archived_at: _arch, webhook_secret: _secret, ...fields } = set;
  return fields;
}

/** A new api_key, so the old URL stops working at once, on every instance (it is checked against the database). */
export async function rotateSetKey(core: Core, setId: number, actor: string): Promise<PromoSet> {
  const set = await getSet(core, setId);
  if (set.archived_at !== null) throw archived(set);
  return inWriteTransaction(core.db, async (trx) => {
    const rotated = await setApiKey(trx, setId, newApiKey(), nowIso(core));
    await audit(trx, core, setId, 'rotated', actor, {});
    // The new URL is a secret too: receivers get it only signed, as admins do.
    await recordEvent(trx, { set: rotated, type: 'set.rotated', data: { url: setUrl(core, rotated) }, createdAt: rotated.updated_at });
    return rotated;
  });
}

/** A new webhook signing secret; deliveries from now on (retries included) are signed with it. */
export async function rotateWebhookSecret(core: Core, setId: number, actor: string): Promise<PromoSet> {
  const set = await getSet(core, setId);
  if (!set.webhook_url) throw new PromoError('conflict', `The promo set "${set.name}" has no webhook URL; set one first, and it gets a secret.`);
  return inWriteTransaction(core.db, async (trx) => {
    const updated = await setWebhookSecret(trx, setId, newWebhookSecret(), nowIso(core));
    await audit(trx, core, setId, 'webhook_secret_rotated', actor, {});
    return updated;
  });
}

export async function archiveSet(core: Core, setId: number, actor: string): Promise<PromoSet> {
  const set = await getSet(core, setId);
  if (set.archived_at !== null) return set;
  return inWriteTransaction(core.db, async (trx) => {
    const archivedSet = await setArchivedAt(trx, setId, nowIso(core));
    await audit(trx, core, setId, 'archived', actor, {});
    await recordEvent(trx, { set: archivedSet, type: 'set.archived', data: { name: archivedSet.name }, createdAt: archivedSet.archived_at ?? nowIso(core) });
    return archivedSet;
  });
}

function audit(db: Db, core: Core, setId: number, action: AuditAction, actor: string, detail: Record<string, unknown>): Promise<void> {
  return insertAuditEvent(db, { set_id: setId, action, actor, detail, created_at: nowIso(core) });
}

/**
 * Who created, edited, rotated or archived the set, and who generated which
 * codes from where, newest first. Generations come from the batches
 * themselves (each records its actor), so issuing a code costs no extra write.
 */
export async function setAuditTrail(core: Core, setId: number, limit = 50): Promise<AuditEvent[]> {
  await getSet(core, setId);
  const [events, batches] = await Promise.all([listAuditEvents(core.db, setId, limit), listRecentBatches(core.db, { setId, limit })]);
  const generated: AuditEvent[] = batches.map((batch) => ({
    id: 0,
    set_id: setId,
    action: 'generated',
    actor: batch.created_by,
    detail: { batch_id: batch.id, count: batch.count, kind: batch.kind },
    created_at: batch.created_at,
  }));
  return [...events, ...generated].sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id - a.id).slice(0, limit);
}

/**
 * One page of the audit trail (its events and the set's batches, merged
 * newest first), for surfaces that cannot show it all at once.
 */
export async function setAuditPage(core: Core, setId: number, page: number, size: number): Promise<{ events: AuditEvent[]; window: PageWindow }> {
  const [events, batches] = await Promise.all([countAuditEvents(core.db, setId), countBatches(core.db, setId)]);
  const window = pageWindow(events + batches, page, size, 'audit events');
  const trail = await setAuditTrail(core, setId, window.offset + size);
  return { events: trail.slice(window.offset, window.offset + size), window };
}

export const archived = (set: PromoSet) => new PromoError('conflict', `The promo set "${set.name}" is archived; it no longer issues codes.`);

export async function getSet(core: Core, setId: number): Promise<PromoSet> {
  const set = await findSetById(core.db, setId);
  if (!set) throw new PromoError('not_found', `There is no promo set with id ${setId}.`);
  return set;
}

/** A set by id ("12") or name (any letter case); a miss suggests close names. */
export async function findSet(core: Core, ref: string): Promise<PromoSet> {
  const wanted = ref.trim();
  if (wanted === '') throw new PromoError('bad_request', 'Name a promo set, by id or by name.');
  const set = /^\d+$/.test(wanted) ? await findSetById(core.db, Number(wanted)) : await findSetByName(core.db, wanted);
  if (set) return set;
  const suggestions = closestNames(wanted, await listSetNames(core.db));
  const hint = suggestions.length > 0 ? ` Did you mean ${suggestions.map((s) => `"${s}"`).join(' or ')}?` : '';
  throw new PromoError('not_found', `There is no promo set "${truncate(wanted, 80)}".${hint}`);
}

export interface SetSummary {
  set: PromoSet;
  promotions: number;
  batches: number;
  /** Uses counted across its promotions (WHMCS's own, when WHMCS is connected). */
  redeemed: number;
}

export async function listSets(core: Core, { includeArchived = false } = {}): Promise<SetSummary[]> {
  const [sets, counts] = await Promise.all([listSetRows(core.db, { includeArchived }), countsBySet(core.db)]);
  return sets.map((set) => ({ set, promotions: counts.get(set.id)?.promotions ?? 0, batches: counts.get(set.id)?.batches ?? 0, redeemed: counts.get(set.id)?.redeemed ?? 0 }));
}

function closestNames(wanted: string, candidates: { name: string }[]): string[] {
  const target = wanted.toLowerCase();
  return candidates
    .map(({ name }) => ({ name, distance: name.toLowerCase().includes(target) ? 0 : editDistance(target, name.toLowerCase()) }))
    .filter(({ distance, name }) => distance <= Math.max(2, Math.floor(name.length / 3)))
    .sort((a, b) => a.distance - b.distance)
    .slice(0, 3)
    .map(({ name }) => name);
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

