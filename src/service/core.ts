import { randomBytes } from 'node:crypto';
import { todayIn } from '../domain/dates.js';
import { migrateToLatest, openDatabase, type Db } from '../store/db.js';
import { getOrCreateSetting } from '../store/settings.js';

/**
 * What every use case needs: the database and the few settings that shape
 * results. Built once by the composition root (main.ts, the CLI, tests) and
 * passed first to each use case, as repositories take `db` first.
 */
export interface Core {
  db: Db;
  /** Base of set URLs, without a trailing slash. */
  publicUrl: string;
  /** The team's time zone: "today" for date rules and valid_days. */
  timeZone: string;
  /** Key for the HMAC in set URLs. */
  urlSecret: string;
  now: () => Date;
  webhooks: WebhookSettings;
}

/** Config the webhook use cases and the dispatcher share. */
export interface WebhookSettings {
  /** WEBHOOK_ALLOW_PRIVATE_NETWORKS: deliver to loopback/private addresses (tests, internal receivers). */
  allowPrivateNetworks: boolean;
  /** WEBHOOK_RETRY_BASE_SECONDS: the first retry delay; each next one doubles. */
  retryBaseSeconds: number;
}

export interface CoreOptions {
  databaseUrl?: string;
  publicUrl: string;
  timeZone?: string;
  /** When unset, one is generated on first start and kept in the database. */
  urlSecret?: string;
  now?: () => Date;
  webhooks?: Partial<WebhookSettings>;
}

export async function openCore(options: CoreOptions): Promise<Core> {
  const db = openDatabase(options.databaseUrl);
  try {
    await migrateToLatest(db);
    const urlSecret = options.urlSecret ?? (await getOrCreateSetting(db, 'url_secret', () => randomBytes(32).toString('hex')));
    return {
      db,
      publicUrl: options.publicUrl.replace(/\/+$/, ''),
      timeZone: options.timeZone ?? 'UTC',
      urlSecret,
      now: options.now ?? (() => new Date()),
      webhooks: { allowPrivateNetworks: false, retryBaseSeconds: 10, ...options.webhooks },
    };
  } catch (error) {
    await db.destroy();
    throw error;
  }
}

export function today(core: Core): string {
  return todayIn(core.timeZone, core.now());
}

export function nowIso(core: Core): string {
  return core.now().toISOString();
}
