import { deleteDeliveryKey, deleteDeliveryKeysBefore, insertDeliveryKey } from '../store/slack-deliveries.js';
import { nowIso, type Core } from './core.js';

/** Slack retries for minutes and signatures expire after 5; a day of keys is plenty. */
const KEEP_MS = 24 * 60 * 60 * 1000;

/**
 * Claim a delivery before acting on it: the first delivery with `key` gets
 * true, any retry or replay of it gets false, whichever instance it reaches.
 */
export async function claimDelivery(core: Core, key: string): Promise<boolean> {
  return insertDeliveryKey(core.db, key.slice(0, 300), nowIso(core));
}

/** Give a claim back when the work was refused (bad input), so a corrected resubmission goes through. */
export async function releaseDelivery(core: Core, key: string): Promise<void> {
  await deleteDeliveryKey(core.db, key.slice(0, 300));
}

export async function pruneDeliveries(core: Core): Promise<number> {
  return deleteDeliveryKeysBefore(core.db, new Date(core.now().getTime() - KEEP_MS).toISOString());
}
