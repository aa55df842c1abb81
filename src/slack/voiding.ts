import { PromoError } from '../domain/errors.js';
import { voidBatch, voidPromotions } from '../service/voiding.js';
import type { Core } from '../service/core.js';
import { authorize, type Actor } from '../service/access.js';
import { findPromotionByCode, getBatch } from '../service/promotions.js';
import { getSet } from '../service/sets.js';
import { voidedMessage, type Message } from './blocks/messages.js';

/** What `/promo void …` names: `batch <id>` or one or more codes. */
export type VoidTarget = { batchId: number } | { codes: string[] };

export function voidTarget(words: string[], restore: boolean): VoidTarget {
  const verb = restore ? 'unvoid' : 'void';
  if (words[0]?.toLowerCase() === 'batch') {
    if (words.length !== 2 || !/^\d{1,12}$/.test(words[1])) throw new PromoError('bad_request', `Name one batch by its number: \`/promo ${verb} batch 12\`.`);
    return { batchId: Number(words[1]) };
  }
  if (words.length === 0) throw new PromoError('bad_request', `Name the codes: \`/promo ${verb} CODE [CODE …]\`, or a batch: \`/promo ${verb} batch 12\`.`);
  if (words.length > 100) throw new PromoError('bad_request', `Name at most 100 codes at once, or void their batch with \`/promo ${verb} batch <id>\`.`);
  return { codes: words };
}

/** Void or restore, through the one service layer, and say what happened. */
export async function voidFromSlack(core: Core, target: VoidTarget, restore: boolean, userId: string): Promise<Message> {
  const actor = `slack:${userId}`;
  if ('batchId' in target) {
    const result = await voidBatch(core, target.batchId, actor, { restore });
    return voidedMessage(`Batch ${result.batch_id}`, result.count, result.count, restore);
  }
  const results = await voidPromotions(core, target.codes, actor, { restore });
  const what = results.length === 1 ? `Code ${results[0].promotion.code}` : `${results.length} codes`;
  return voidedMessage(what, results.filter((r) => r.changed).length, results.length, restore);
}

/**
 * Voiding takes a manager of every set the codes belong to. Codes that do
 * not exist are left to the service, which names them.
 */
export async function voidAuthorized(core: Core, actor: Actor, target: VoidTarget, restore: boolean): Promise<void> {
  const action = restore ? 'unvoid' : 'void';
  const setIds = new Set<number>();
  if ('batchId' in target) {
    const batch = await getBatch(core, target.batchId).catch(() => undefined);
    if (batch) setIds.add(batch.set_id);
  } else {
    for (const code of target.codes) {
      const found = await findPromotionByCode(core, code);
      if (found) setIds.add(found.set_id);
    }
  }
  if (setIds.size === 0) await authorize(core, actor, action);
  for (const id of setIds) await authorize(core, actor, action, await getSet(core, id));
}
