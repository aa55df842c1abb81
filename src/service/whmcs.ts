import type { WhmcsPromotion } from '../domain/promotion.js';
import { countPromotions } from '../store/promotions.js';
import type { Core } from './core.js';
import { eachPromotion, findPromotionByCode, type PromotionRecord } from './promotions.js';

export interface PromotionListing {
  /** How many `promotions` will yield: counted first, so a reply's totalresults matches its list. */
  total: number;
  promotions: AsyncIterable<WhmcsPromotion>;
}

/**
 * WHMCS's GetPromotions: one promotion by code (case-insensitive), or all of
 * them (optionally one set's) in id order, streamed a page at a time. The list
 * stops at the count taken first, so codes issued meanwhile never make the
 * reply disagree with its own totalresults.
 */
export async function getPromotions(core: Core, query: { code?: string; setId?: number }): Promise<PromotionListing> {
  if (query.code !== undefined) {
    const found = await findPromotionByCode(core, query.code);
    const matches = found && (query.setId === undefined || found.set_id === query.setId) ? [toWhmcs(found)] : [];
    return { total: matches.length, promotions: fromArray(matches) };
  }
  const total = await countPromotions(core.db, { setId: query.setId });
  return { total, promotions: firstN(core, query.setId, total) };
}

async function* fromArray<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

async function* firstN(core: Core, setId: number | undefined, n: number): AsyncGenerator<WhmcsPromotion> {
  if (n === 0) return;
  let emitted = 0;
  for await (const record of eachPromotion(core, { setId })) {
    yield toWhmcs(record);
    if (++emitted === n) return;
  }
}

export function toWhmcs({ set_id: _set, batch_id: _batch, ...promotion }: PromotionRecord): WhmcsPromotion {
  return promotion;
}
