import { assertFeasible } from '../domain/codes.js';
import { parseBulkRequest, promotionTerms, type BulkRequest } from '../domain/promotion.js';
import type { PromoSet } from '../domain/set.js';
import { countIssuedInSpace } from '../store/promotions.js';
import { today, type Core } from './core.js';
import { archived } from './sets.js';

/**
 * Every check generatePromotions makes before its transaction, without
 * writing anything. Slack must answer a modal within 3 seconds, with field
 * errors inline, while a 100,000-code batch takes longer: it checks first,
 * answers, then generates (which checks again, so nothing slips between).
 */
export async function checkGenerationRequest(core: Core, set: PromoSet, input: Record<string, unknown>): Promise<BulkRequest> {
  if (set.archived_at !== null) throw archived(set);
  const request = parseBulkRequest(input);
  promotionTerms(set, request.overrides, today(core));
  const prefix = request.format.prefix ?? set.code_prefix;
  const length = request.format.length ?? set.code_length;
  const alphabet = request.format.alphabet ?? set.code_alphabet;
  assertFeasible({ prefix, length, alphabet }, request.amount, await countIssuedInSpace(core.db, prefix.toLowerCase(), length));
  return request;
}
