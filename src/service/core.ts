import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import { todayIn } from '../domain/dates.js';
import type { WebhookSettings } from '../domain/webhooks.js';
import { migrateToLatest } from '../store/migrate.js';
import { openDatabase, type Db } from '../store/db.js';
import { getOrCreateSetting } from '../store/settings.js';
import { openWhmcs, type WhmcsHandle } from '../whmcs/db.js';
import type { WhmcsIdentity } from '../whmcs/probe.js';
import type { WhmcsConnectionRecord } from '../store/whmcs-connection.js';
import { PromoError } from '../domain/errors.js';

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
  /** WHMCS's database, when WHMCS_DATABASE_URL is set: every code issued goes into its tblpromotions first. */
  whmcs?: WhmcsHandle;
  /**
   * How long a batch may stay on its way into WHMCS. The writer gives up
   * before COMMIT past it, and repair settles only batches twice as old, so
   * repair never races a writer that is still alive.
   */
  whmcsPendingTimeoutMs: number;
  webhooks: WebhookSettings;
  /** What this process knows of the recorded WHMCS connection (service/whmcs-connection.ts keeps it). */
  whmcsLink: WhmcsLink;
  /** PROMO_ADMINS, and Slack's directory once the Slack transport has started (service/access.ts). */
  access: AccessOptions;
  /** Tests only (PROMOSET_TEST_FAULTS, main.ts): a kill -9 or a pause at a named step of the two-phase commit with WHMCS. */
  faults?: (point: FaultPoint) => Promise<void>;
}

/** The steps of service/whmcs-two-phase.ts where a test may crash or stall the process. */
export type FaultPoint = 'redeem.prepared' | 'redeem.committed' | 'rollback.prepared' | 'rollback.committed';

/** This process's side of the WHMCS connection: its own target, and the database's record, cached briefly. */
export interface WhmcsLink {
  /** host:port and database of WHMCS_DATABASE_URL (for sentences; never the password). */
  target?: { host: string; database: string };
  /** What WHMCS_DATABASE_URL's tblpromotions is, once a probe has read it. */
  identity?: WhmcsIdentity;
  /** The database's record, and when it was read (ms). */
  record?: { value: WhmcsConnectionRecord | undefined; readAt: number };
  /** This process has seen a record: if it disappears, someone disconnected, and this process must not connect again by itself. */
  sawRecord: boolean;
}

/**
 * Slack's user directory, plugged in by the Slack transport (without Slack,
 * groups cannot be resolved and only user grants and PROMO_ADMINS count).
 */
export interface Directory {
  /** usergroups.users.list */
  groupMembers(groupId: string): Promise<string[]>;
  /** users.info: undefined when Slack knows no such user. */
  user(userId: string): Promise<{ id: string; isAdmin: boolean; deleted: boolean } | undefined>;
  /** usergroups.list, by id (S…) or handle (@sales): undefined when the workspace has no such group. */
  group(ref: string): Promise<{ id: string; handle: string } | undefined>;
}

/** Access settings from the environment (and the directory once Slack is up). */
export interface AccessOptions {
  /** PROMO_ADMINS: owners who cannot be revoked from Slack. */
  admins: readonly string[];
  directory?: Directory;
}

export interface CoreOptions {
  databaseUrl?: string;
  publicUrl: string;
  timeZone?: string;
  /** When unset, one is generated on first start and kept in the database. */
  urlSecret?: string;
  now?: () => Date;
  whmcsDatabaseUrl?: string;
  whmcsPendingTimeoutSeconds?: number;
  webhooks?: Partial<WebhookSettings>;
  /** PROMO_ADMINS */
  promoAdmins?: readonly string[];
}

/** The core's options from the configuration: built here once for main.ts and the CLI. */
export function coreOptionsFrom(config: Config): CoreOptions {
  return {
    databaseUrl: config.DATABASE_URL,
    publicUrl: config.PUBLIC_URL,
    timeZone: config.PROMO_TIMEZONE,
    urlSecret: config.URL_SECRET,
    whmcsDatabaseUrl: config.WHMCS_DATABASE_URL,
    whmcsPendingTimeoutSeconds: config.WHMCS_PENDING_TIMEOUT_SECONDS,
    webhooks: { allowPrivateNetworks: config.WEBHOOK_ALLOW_PRIVATE_NETWORKS, retryBaseSeconds: config.WEBHOOK_RETRY_BASE_SECONDS },
    promoAdmins: config.PROMO_ADMINS,
  };
}

/** `promoset migrate`: bring the schema up to date without starting anything; the names of the migrations that ran. */
export async function migrateDatabase(databaseUrl: string): Promise<string[]> {
  const db = openDatabase(databaseUrl);
  try {
    return await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
}

export async function openCore(options: CoreOptions): Promise<Core> {
  let db: Db;
  try {
    db = openDatabase(options.databaseUrl);
  } catch (error) {
    throw databaseUnreachable(options.databaseUrl, error);
  }
  try {
    await migrateToLatest(db).catch((error: unknown) => {
      throw databaseUnreachable(options.databaseUrl, error);
    });
    const urlSecret = options.urlSecret ?? (await getOrCreateSetting(db, 'url_secret', () => randomBytes(32).toString('hex')));
    return {
      db,
      publicUrl: options.publicUrl.replace(/\/+$/, ''),
      timeZone: options.timeZone ?? 'UTC',
      urlSecret,
      now: options.now ?? (() => new Date()),
      whmcs: options.whmcsDatabaseUrl ? openWhmcs(options.whmcsDatabaseUrl) : undefined,
      whmcsPendingTimeoutMs: (options.whmcsPendingTimeoutSeconds ?? 120) * 1000,
      webhooks: { allowPrivateNetworks: false, retryBaseSeconds: 10, ...options.webhooks },
      whmcsLink: { target: options.whmcsDatabaseUrl ? whmcsTargetOf(options.whmcsDatabaseUrl) : undefined, sawRecord: false },
      access: { admins: options.promoAdmins ?? [] },
    };
  } catch (error) {
    await db.destroy();
    throw error;
  }
}

function whmcsTargetOf(url: string): { host: string; database: string } {
  const parsed = new URL(url.replace(/^mariadb:/, 'mysql:'));
  return { host: `${parsed.hostname}:${parsed.port || '3306'}`, database: decodeURIComponent(parsed.pathname.replace(/^\//, '')) };
}

/**
 * promoset's own database failed at start-up: name the variable and where it
 * points (host and port, or the SQLite file; never a password), not only the
 * driver's ECONNREFUSED.
 */
function databaseUnreachable(databaseUrl: string | undefined, error: unknown): PromoError {
  const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0].slice(0, 200) || (error as { code?: string })?.code || 'no answer';
  const url = databaseUrl ?? './data/promoset.db';
  if (/^postgres(ql)?:/.test(url)) {
    let where = url;
    try {
      const parsed = new URL(url);
      where = `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
    } catch {
      where = 'the URL given';
    }
    return new PromoError('database_unavailable', `promoset's database (DATABASE_URL, PostgreSQL at ${where}) could not be reached: ${reason}. Check the host, port and database name in DATABASE_URL, and that PostgreSQL is running and reachable from here.`);
  }
  return new PromoError('database_unavailable', `promoset's database (DATABASE_URL, the SQLite file ${url}) could not be opened: ${reason}. Check the path in DATABASE_URL and that its folder exists and is writable.`);
}

export function today(core: Core): string {
  return todayIn(core.timeZone, core.now());
}

/** The last ISO string made, by its millisecond: thousands of requests a second ask for the same few. */
let lastIso = { ms: Number.NaN, text: '' };

export function nowIso(core: Core): string {
  const now = core.now();
  const ms = now.getTime();
  if (ms !== lastIso.ms) lastIso = { ms, text: now.toISOString() };
  return lastIso.text;
}

/** Close both databases. */
export async function closeCore(core: Core): Promise<void> {
  await Promise.all([core.db.destroy(), core.whmcs?.db.destroy()]);
}
