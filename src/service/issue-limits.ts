/**
 * Limit accounting: whether an ask fits a role's limits (codes a request,
 * value per discount type, codes a day), and the day's count per person,
 * kept atomically in the shared database so two instances cannot both go
 * past a daily limit. service/access.ts's checkIssue decides with it.
 */
import type { PromotionOverrides } from '../domain/promotion.js';
import { promotionTerms } from '../domain/promotion.js';
import type { PromoSet } from '../domain/set.js';
import { releaseUsage, reserveUsage, usageOn } from '../store/access.js';
import { limitsFor } from './access-policy.js';
import { today, type Core } from './core.js';
import type { Role } from './roles.js';

export interface IssueAsk {
  amount: number;
  overrides: PromotionOverrides;
}

/**
 * Count the ask against the person's limits for `role` on `set`: either the
 * limits it goes over (as sentences; nothing is counted), or a `release` to
 * call if issuing then fails (the codes are already counted for today).
 */
export async function reserveWithinLimits(core: Core, userId: string, role: Role, set: PromoSet, ask: IssueAsk): Promise<{ over: string[] } | { release: () => Promise<void> }> {
  const limits = await limitsFor(core, role, set.id);
  const day = today(core);
  const over: string[] = [];
  if (limits.per_request !== undefined && ask.amount > limits.per_request) {
    over.push(`${ask.amount.toLocaleString('en-US')} codes is more than your limit of ${limits.per_request.toLocaleString('en-US')} a request`);
  }
  const terms = promotionTerms(set, ask.overrides, day);
  const maxValue = limits.max_value?.[terms.type];
  if (maxValue !== undefined && Number(terms.value) > maxValue) {
    over.push(`a ${terms.type} value of ${terms.value} is more than your limit of ${maxValue}`);
  }
  const used = await usageOn(core.db, userId, day);
  if (limits.per_day !== undefined && used + ask.amount > limits.per_day) {
    over.push(`you have issued ${used.toLocaleString('en-US')} of your ${limits.per_day.toLocaleString('en-US')} codes today`);
  }
  if (over.length > 0) return { over };
  if (!(await reserveUsage(core.db, userId, day, ask.amount, limits.per_day))) {
    // Another instance counted codes for this person in the meantime.
    const now = await usageOn(core.db, userId, day);
    return { over: [`you have issued ${now.toLocaleString('en-US')} of your ${limits.per_day!.toLocaleString('en-US')} codes today`] };
  }
  return { release: () => releaseUsage(core.db, userId, day, ask.amount) };
}

/** Count codes issued for the person without a limit (an approved request). */
export async function countUsage(core: Core, userId: string, amount: number): Promise<void> {
  await reserveUsage(core.db, userId, today(core), amount, undefined);
}

export async function usageToday(core: Core, userId: string): Promise<number> {
  return usageOn(core.db, userId, today(core));
}

/** The sentence for an ask that needs approval, with how to ask for it. */
export function overLimitsSentence(over: string[]): string {
  return `This is over your limits: ${over.join('; ')}.`;
}
