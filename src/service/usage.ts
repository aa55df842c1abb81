import { NO_USAGE, type Usage } from '../domain/usage.js';
import { usageByBatch, usageBySet } from '../store/usage.js';
import type { Core } from './core.js';


/** Issued, redeemed, voided and used-up counts of every set (App Home, list views). */
export function usageOfSets(core: Core): Promise<Map<number, Usage>> {
  return usageBySet(core.db);
}

export async function usageOfSet(core: Core, setId: number): Promise<Usage> {
  return (await usageBySet(core.db, setId)).get(setId) ?? NO_USAGE;
}

/** The same counts for the given batches (the recent ones shown beside a set). */
export async function usageOfBatches(core: Core, batchIds: number[]): Promise<Map<number, Usage>> {
  return usageByBatch(core.db, batchIds);
}

/** "40 issued · 12 redeemed · 3 voided · 2 used up" */
export function usageText(usage: Usage): string {
  const n = (value: number) => value.toLocaleString('en-US');
  return `${n(usage.issued)} issued · ${n(usage.redeemed)} redeemed · ${n(usage.voided)} voided · ${n(usage.usedUp)} used up`;
}
