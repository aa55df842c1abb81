import type { Generated, Insertable, Selectable } from 'kysely';

/**
 * Table types. Booleans are 0/1 integers and dates ISO text on both dialects,
 * so SQLite and PostgreSQL return the same values. Lists are comma-joined text.
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
}

export interface SettingsTable {
  key: string;
  value: string;
}

export interface PromoSetsTable {
  id: Generated<number>;
  name: string;
  /** lower(name): names are unique case-insensitively. */
  name_key: string;
  api_ip_address: string;
  api_key: string;
  promo_code_type: string;
  recurring: number;
  recur_for: number;
  promo_value: string;
  applies_to: string;
  requires: string;
  requires_existing: number;
  cycles: string;
  start_date: string | null;
  expiration_date: string | null;
  max_uses: number;
  lifetime_promo: number;
  apply_once: number;
  new_signups: number;
  once_per_client: number;
  existing_client: number;
  upgrades: number;
  upgrade_type: string;
  upgrade_discount_type: string;
  upgrade_value: string;
  config_option_upgrades: string;
  notes: string;
  code_prefix: string;
  code_length: number;
  code_alphabet: string;
  valid_days: number | null;
  created_by: string;
  created_at: string;
  updated_at: string;
  archived_at: string | null;
}

/** One generation request: its terms (shared by all its codes) and who asked. */
export interface BatchesTable {
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
  /** The Idempotency-Key claim this batch answers, if any (see http/idempotency.ts). */
  request_key: string | null;
  type: string;
  recurring: number;
  value: string;
  cycles: string;
  appliesto: string;
  requires: string;
  requiresexisting: number;
  startdate: string;
  expirationdate: string;
  maxuses: number;
  lifetimepromo: number;
  applyonce: number;
  newsignups: number;
  existingclient: number;
  onceperclient: number;
  recurfor: number;
  upgrades: number;
  upgradeconfig: string;
  notes: string;
}

/** Kept narrow (the terms live on the batch) so inserting 100,000 is cheap. */
export interface PromotionsTable {
  id: Generated<number>;
  set_id: number;
  batch_id: number;
  code: string;
  uses: Generated<number>;
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
  /** The Idempotency-Key claim this redemption answers, written in its transaction (see http/idempotency.ts). */
  request_key: string | null;
  created_by: string;
  created_at: string;
  rolled_back_at: string | null;
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
export interface SlackDeliveriesTable {
  key: string;
  created_at: string;
}

export type PromoSetRow = Selectable<PromoSetsTable>;
export type NewPromoSetRow = Insertable<PromoSetsTable>;
export type BatchRow = Selectable<BatchesTable>;
export type NewBatchRow = Insertable<BatchesTable>;

/** Who did what to a set, from where: the audit trail. */
export interface AuditEventsTable {
  id: Generated<number>;
  set_id: number;
  /** created | edited | rotated | archived | generated | voided | unvoided */
  action: string;
  actor: string;
  /** JSON: changed field names, batch id and count, … (never secrets). */
  detail: string;
  created_at: string;
}
