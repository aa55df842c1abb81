import type { Generated, Selectable } from 'kysely';
import type { StoredPromotionTerms } from '../domain/promotion.js';
import type { PromoSet } from '../domain/set.js';

/**
 * Table types. Booleans are 0/1 integers and dates ISO text on both dialects,
 * so SQLite and PostgreSQL return the same values. Lists are comma-joined text.
 * One file over 300 lines on purpose: Kysely's `Database` names every table,
 * and the tables read best side by side with the migrations that made them.
 */
export interface Database {
  settings: SettingsTable;
  promo_sets: PromoSetsTable;
  batches: BatchesTable;
  promotions: PromotionsTable;
  idempotency_keys: IdempotencyKeysTable;
  audit_events: AuditEventsTable;
  slack_deliveries: SlackDeliveriesTable;
  redemptions: RedemptionsTable;
  whmcs_decisions: WhmcsDecisionsTable;
  webhook_events: WebhookEventsTable;
  rate_limits: RateLimitsTable;
  code_spaces: CodeSpacesTable;
  whmcs_connection: WhmcsConnectionTable;
  whmcs_connection_events: WhmcsConnectionEventsTable;
  webhook_receivers: WebhookReceiversTable;
  access_grants: AccessGrantsTable;
  access_groups: AccessGroupsTable;
  access_usage: AccessUsageTable;
  access_events: AccessEventsTable;
  approval_requests: ApprovalRequestsTable;
  chart_images: ChartImagesTable;
  daily_usage_days: DailyUsageDaysTable;
  digest_subscriptions: DigestSubscriptionsTable;
  promotion_bindings: PromotionBindingsTable;
  whmcs_orders: WhmcsOrdersTable;
}

/** Which set owns a small code space (see service/code-spaces.ts). */
export interface CodeSpacesTable {
  prefix_key: string;
  code_length: number;
  set_id: number;
}

/** Per-minute request counters shared by every instance (PostgreSQL; see service/rate-limits.ts). */
export interface RateLimitsTable {
  key: string;
  window_start: number;
  hits: number;
}

/** The WHMCS database this promoset database is connected to (migration 012): one row, id 1, or none. */
export interface WhmcsConnectionTable {
  id: number;
  host: string;
  database_name: string;
  /** tblpromotions' CREATE_TIME as MariaDB reports it: the identity check. */
  table_created: string;
  connected_at: string;
  connected_by: string;
  /** The promotion ids (from, to) of the chunk a backfill is writing, and the codes WHMCS already held in it (JSON). */
  backfill_from: number | null;
  backfill_to: number | null;
  backfill_held: string | null;
}

export interface WhmcsConnectionEventsTable {
  id: Generated<number>;
  /** connected | reconnected | disconnected | backfilled */
  action: string;
  actor: string;
  detail: string;
  created_at: string;
}

/** A role given to a Slack user (U…/W…) or user group (S…), for every set (set_id 0) or one set. */
export interface AccessGrantsTable {
  id: Generated<number>;
  subject: string;
  role: string;
  set_id: number;
  created_by: string;
  created_at: string;
}

/** A Slack user group's members (comma-joined user ids), as last read from usergroups.users.list. */
export interface AccessGroupsTable {
  group_id: string;
  members: string;
  fetched_at: string;
}

/** Codes one person issued on one day (PROMO_TIMEZONE). */
export interface AccessUsageTable {
  user_id: string;
  day: string;
  count: number;
}

/** Grants, revokes and settings changes: the access audit trail. */
export interface AccessEventsTable {
  id: Generated<number>;
  set_id: number | null;
  action: string;
  actor: string;
  detail: string;
  created_at: string;
}

/** An ask over the asker's limits, waiting for a manager (service/approvals.ts). */
export interface ApprovalRequestsTable {
  id: Generated<number>;
  set_id: number;
  asker: string;
  amount: number;
  request: string;
  reason: string;
  over_limits: string;
  status: string;
  decided_by: string | null;
  decision_reason: string | null;
  decided_at: string | null;
  batch_id: number | null;
  created_at: string;
  expires_at: string;
  messages: string;
}

interface SettingsTable {
  key: string;
  value: string;
}

/** Stored as comma-joined text: the set's list fields. */
type SetListColumn = 'applies_to' | 'requires' | 'cycles' | 'config_option_upgrades';

/**
 * A set's columns are its domain fields (PromoSet, domain/set.ts, the one
 * list of them), but where SQL differs: the id the database generates, lists
 * as comma-joined text, and name_key.
 */
export interface PromoSetsTable extends Omit<PromoSet, 'id' | SetListColumn> {
  id: Generated<number>;
  /** lower(name): names are unique case-insensitively. */
  name_key: string;
  applies_to: string;
  requires: string;
  cycles: string;
  config_option_upgrades: string;
}

/** One generation request: its terms (shared by all its codes; the columns come from domain/promotion.ts) and who asked. */
interface BatchesTable extends StoredPromotionTerms {
  id: Generated<number>;
  set_id: number;
  /** 'single' for one code on demand, 'bulk' for a generate-many request. */
  kind: string;
  count: number;
  /** lower(prefix) and random-part length: what the feasibility check counts against. */
  prefix_key: string;
  code_length: number;
  code_alphabet: string;
  /** "slack:U123", "http:203.0.113.7", "cli:alice", "admin-api:…". */
  created_by: string;
  created_at: string;
  /** The Idempotency-Key claim this batch answers, if any (see service/idempotency.ts). */
  request_key: string | null;
  /** 'pending' while its codes are being written to WHMCS, 'done' after; null without WHMCS. */
  whmcs_state: string | null;
}

/** Kept narrow (the terms live on the batch) so inserting 100,000 is cheap. */
interface PromotionsTable {
  id: Generated<number>;
  set_id: number;
  batch_id: number;
  code: string;
  uses: Generated<number>;
  /** Its row id in WHMCS's tblpromotions, when WHMCS is connected. */
  whmcs_id: number | null;
  /** When staff voided it; NULL while it may be used. */
  voided_at: string | null;
}

/** One counted use of a promotion; rolling it back gives the use back, once. */
export interface RedemptionsTable {
  id: Generated<number>;
  set_id: number;
  promotion_id: number;
  client_id: string | null;
  /** client_id while the promotion is once-per-client and this redemption stands (unique with promotion_id). */
  once_key: string | null;
  /** The Idempotency-Key claim this redemption answers, written in its transaction (see service/idempotency.ts). */
  request_key: string | null;
  created_by: string;
  created_at: string;
  rolled_back_at: string | null;
}

/** The coordinator's decision on one prepared WHMCS change (service/whmcs-two-phase.ts). */
export interface WhmcsDecisionsTable {
  xid: string;
  decision: 'commit' | 'rollback';
  /** The redemption a committed change belongs to (its result is replayed from it after an unclear commit). */
  redemption_id: number | null;
  created_at: string;
}

/** A POST's Idempotency-Key, scoped to its set, kept 24 hours. */
export interface IdempotencyKeysTable {
  set_id: number;
  key: string;
  /** Hash of what was asked, so a key reused for a different request is refused. */
  fingerprint: string;
  /** 'pending' while the first request runs, 'done' once its response is known. */
  state: string;
  status: number | null;
  /** The response body of a single-code POST. */
  body: string | null;
  /** A bulk POST keeps its batch and format; the response is re-rendered from the batch. */
  batch_id: number | null;
  format: string | null;
  created_at: string;
}

/** Keys of Slack deliveries already acted on (event_id, trigger_id, view id): retries are not acted on twice. */
interface SlackDeliveriesTable {
  key: string;
  created_at: string;
}

export type PromoSetRow = Selectable<PromoSetsTable>;
export type BatchRow = Selectable<BatchesTable>;

/** Who did what to a set, from where: the audit trail. */
interface AuditEventsTable {
  id: Generated<number>;
  set_id: number;
  /** created | edited | rotated | archived | generated | voided | unvoided */
  action: string;
  actor: string;
  /** JSON: changed field names, batch id and count, … (never secrets). */
  detail: string;
  created_at: string;
}

/** The webhook outbox (src/store/outbox.ts). Times are ISO text, so they compare as text on both dialects. */
export interface WebhookEventsTable {
  id: Generated<number>;
  /** evt_…: the receiver's dedupe key, sent as Promoset-Event-Id. */
  event_id: string;
  set_id: number;
  type: string;
  /** The exact JSON body POSTed (fixed at write time, so every retry sends the same bytes). */
  body: string;
  created_at: string;
  /** pending | delivered | failed */
  status: string;
  attempts: Generated<number>;
  next_attempt_at: string;
  /** Failed attempts are retried until then (24 hours after the event, or after a resend); then it is marked failed. */
  retry_until: string;
  /** While set and in the future, one dispatcher owns the row; expired leases are claimed again. */
  lease_until: string | null;
  last_status: number | null;
  last_error: string | null;
  delivered_at: string | null;
}

/** A webhook receiver (one per set with events): locked while its events are claimed. */
export interface WebhookReceiversTable {
  set_id: number;
  /** Consecutive failed attempts; while above zero, one delivery at a time probes the receiver. */
  failures: Generated<number>;
}

/** The Slack file last drawn for a chart (store/charts.ts). */
export interface ChartImagesTable {
  /** "set:12:30", "report:12:90", "digest:C123:2026-12-04". */
  key: string;
  /** Hash of the figures and title drawn; a chart is drawn again only when it changes. */
  data_hash: string | null;
  file_id: string | null;
  drawn_at: string | null;
  /** While set and in the future, one instance is drawing it. */
  lease_until: string | null;
}

/** A channel's scheduled digest (service/digests.ts). */
export interface DigestSubscriptionsTable {
  channel_id: string;
  /** daily | weekly */
  frequency: string;
  created_by: string;
  created_at: string;
  /** The period last sent: a local date (daily) or the local Monday of the week (weekly). */
  last_period: string | null;
  lease_owner: string | null;
  lease_until: string | null;
}

/** A closed day's counts of one set in one time zone (store/daily-usage.ts). */
export interface DailyUsageDaysTable {
  set_id: number;
  time_zone: string;
  date: string;
  issued: number;
  redeemed: number;
  rolled_back: number;
}

/** A promotion bound to one customer at issue time (never changed after). */
export interface PromotionBindingsTable {
  /** promotions.id (promoset's own id). */
  promotion_id: number;
  set_id: number;
  client_id: number | null;
  client_email: string | null;
  /** lower(client_email): searched and compared ignoring case. */
  email_key: string | null;
  created_at: string;
}

/**
 * One promo code of one WHMCS order, as the addon's hooks reported it: what
 * makes each hook call idempotent per order, and a cancel that arrives before
 * its checkout stick (service/whmcs-hooks.ts).
 */
export interface WhmcsOrdersTable {
  id: Generated<number>;
  order_id: number;
  /** lower(code); '*' marks a whole order cancelled before promoset heard of its codes. */
  code_key: string;
  promotion_id: number | null;
  redemption_id: number | null;
  /** 'placed' or 'cancelled'. */
  state: string;
  client_id: number | null;
  invoice_id: number | null;
  created_at: string;
  updated_at: string;
}
