import { randomBytes } from 'node:crypto';
import { customAlphabet } from 'nanoid';
import { PromoError } from '../domain/errors.js';
import { SET_DEFAULTS, validateSetFields, type PromoSet, type SetFields } from '../domain/set.js';

import type { AuditAction } from '../domain/audit.js';
import { insertAuditEvent } from '../store/audit.js';
import { inWriteTransaction } from '../store/transactions.js';
import { type Db } from '../store/db.js';
import { countsBySet } from '../store/promotions.js';
import { recordEvent } from '../store/outbox.js';
import { findSetById, findSetByName, insertSet, listSetNames, listSetRows, setApiKey, setArchivedAt, setWebhookSecret, updateSetFields } from '../store/sets.js';
import { assertWebhookTarget } from './webhook-target.js';
import { assertOwnSpaceFree, claimOwnSpace, ownFormat } from './code-spaces.js';
import { nowIso, today, type Core } from './core.js';
import { truncate } from '../domain/text.js';
import { closestNames } from '../domain/names.js';
import { setUrl } from './set-urls.js';

/**
 * Sets: create, read, edit, rotate, archive. Elsewhere: set-urls.ts (URL
 * tokens), set-cache.ts (the per-process cache of live sets), set-audit.ts
 * (the audit trail as read), domain/names.ts (did-you-mean suggestions).
 */

/** api keys look like seed 001's: 25 upper-case letters and digits. */
const newApiKey = customAlphabet('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 25);
/** A webhook signing secret: whsec_ and 32 random bytes in hex. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('hex')}`;

/** Where a new or changed webhook_url points must be a public address (unless the operator allows private ones). */
async function checkWebhookTarget(core: Core, url: string | null, previous: string | null = null): Promise<void> {
  if (url !== null && url !== previous) await assertWebhookTarget(url, core.webhooks.allowPrivateNetworks);
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505';
}

/** The refusals this module throws, named for what they say (as single-codes.ts's setChanged). */
const nameTaken = (name: string) => new PromoError('conflict', `A promo set named "${name}" already exists. Choose another name.`, { name: 'This name is taken.' });

export async function createSet(core: Core, input: Record<string, unknown>, actor: string): Promise<PromoSet> {
  const fields = validateSetFields(SET_DEFAULTS, input, today(core));
  if (await findSetByName(core.db, fields.name)) throw nameTaken(fields.name);
  await checkWebhookTarget(core, fields.webhook_url);
  await assertOwnSpaceFree(core, ownFormat(fields));
  return writeSet(core, fields.name, async (trx) => {
    const set = await insertSet(trx, fields, { api_key: newApiKey(), created_by: actor, now: nowIso(core), webhook_secret: fields.webhook_url ? newWebhookSecret() : null });
    await audit(trx, core, set.id, 'created', actor, { name: set.name });
    return set;
  });
}

/**
 * Write a set in one transaction, then claim its own code space. The name was
 * checked before, but another instance may have taken it in the meantime: the
 * unique index says so, as the same sentence.
 */
async function writeSet(core: Core, name: string, write: (trx: Db) => Promise<PromoSet>): Promise<PromoSet> {
  try {
    const set = await inWriteTransaction(core.db, write);
    await claimOwnSpace(core, set);
    return set;
  } catch (error) {
    if (isUniqueViolation(error)) throw nameTaken(name);
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
  await assertOwnSpaceFree(core, ownFormat(fields), setId);
  return writeSet(core, fields.name, async (trx) => {
    let set = await updateSetFields(trx, setId, fields, nowIso(core));
    // The first webhook_url gets a secret; later ones keep it (rotate it explicitly).
    if (set.webhook_url && !set.webhook_secret) set = await setWebhookSecret(trx, setId, newWebhookSecret(), nowIso(core));
    await audit(trx, core, setId, 'edited', actor, { fields: changed });
    return set;
  });
}

export function editableFields(set: PromoSet): SetFields {
  const { id: _id, api_key: _key, created_by: _by, created_at: _at, updated_at: _up, archived_at: _arch, webhook_secret: _secret, ...fields } = set;
  return fields;
}

/** A new api_key, so the old URL stops working at once, on every instance (it is checked against the database). */
export async function rotateSetKey(core: Core, setId: number, actor: string): Promise<PromoSet> {
  const set = await getSet(core, setId);
  if (set.archived_at !== null) throw setArchived(set);
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

export const setArchived = (set: PromoSet) => new PromoError('conflict', `The promo set "${set.name}" is archived; it no longer issues codes.`);

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
