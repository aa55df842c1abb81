import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { isPostgres } from './dialect.js';

/**
 * Migrations live in code (not files found at run time) so the built CLI,
 * the tests and the benchmarks all run exactly the same list.
 * Append new ones; never edit one that has shipped. One file over 300 lines
 * on purpose: it is the schema's history, read top to bottom.
 */
export const migrations: Record<string, Migration> = {
  '001_initial': {
    async up(db: Kysely<any>) {
      // SQLite wants INTEGER PRIMARY KEY for a rowid alias; PostgreSQL wants serial.
      const id = (table: string) =>
        isPostgres(db)
          ? db.schema.createTable(table).addColumn('id', 'serial', (c) => c.primaryKey())
          : db.schema.createTable(table).addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());

      await db.schema.createTable('settings')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();

      await id('promo_sets')
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('name_key', 'text', (c) => c.notNull().unique())
        .addColumn('api_ip_address', 'text', (c) => c.notNull())
        .addColumn('api_key', 'text', (c) => c.notNull())
        .addColumn('promo_code_type', 'text', (c) => c.notNull())
        .addColumn('recurring', 'integer', (c) => c.notNull())
        .addColumn('recur_for', 'integer', (c) => c.notNull())
        .addColumn('promo_value', 'text', (c) => c.notNull())
        .addColumn('applies_to', 'text', (c) => c.notNull())
        .addColumn('requires', 'text', (c) => c.notNull())
        .addColumn('requires_existing', 'integer', (c) => c.notNull())
        .addColumn('cycles', 'text', (c) => c.notNull())
        .addColumn('start_date', 'text')
        .addColumn('expiration_date', 'text')
        .addColumn('max_uses', 'integer', (c) => c.notNull())
        .addColumn('lifetime_promo', 'integer', (c) => c.notNull())
        .addColumn('apply_once', 'integer', (c) => c.notNull())
        .addColumn('new_signups', 'integer', (c) => c.notNull())
        .addColumn('once_per_client', 'integer', (c) => c.notNull())
        .addColumn('existing_client', 'integer', (c) => c.notNull())
        .addColumn('upgrades', 'integer', (c) => c.notNull())
        .addColumn('upgrade_type', 'text', (c) => c.notNull())
        .addColumn('upgrade_discount_type', 'text', (c) => c.notNull())
        .addColumn('upgrade_value', 'text', (c) => c.notNull())
        .addColumn('config_option_upgrades', 'text', (c) => c.notNull())
        .addColumn('notes', 'text', (c) => c.notNull())
        .addColumn('code_prefix', 'text', (c) => c.notNull())
        .addColumn('code_length', 'integer', (c) => c.notNull())
        .addColumn('code_alphabet', 'text', (c) => c.notNull())
        .addColumn('valid_days', 'integer')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('archived_at', 'text')
        .execute();

      let batches = id('batches')
        .addColumn('set_id', 'integer', (c) => c.notNull().references('promo_sets.id'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('count', 'integer', (c) => c.notNull())
        .addColumn('prefix_key', 'text', (c) => c.notNull())
        .addColumn('code_length', 'integer', (c) => c.notNull())
        .addColumn('code_alphabet', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull());
      for (const column of ['type', 'value', 'cycles', 'appliesto', 'requires', 'startdate', 'expirationdate', 'upgradeconfig', 'notes']) {
        batches = batches.addColumn(column, 'text', (c) => c.notNull());
      }
      for (const column of ['recurring', 'requiresexisting', 'maxuses', 'lifetimepromo', 'applyonce', 'newsignups', 'existingclient', 'onceperclient', 'recurfor', 'upgrades']) {
        batches = batches.addColumn(column, 'integer', (c) => c.notNull());
      }
      await batches.execute();
      await db.schema.createIndex('batches_set_idx').on('batches').columns(['set_id', 'id']).execute();
      await db.schema.createIndex('batches_space_idx').on('batches').columns(['prefix_key', 'code_length']).execute();

      await id('promotions')
        .addColumn('set_id', 'integer', (c) => c.notNull().references('promo_sets.id'))
        .addColumn('batch_id', 'integer', (c) => c.notNull().references('batches.id'))
        .addColumn('code', 'text', (c) => c.notNull())
        .addColumn('uses', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      // The database, not process memory, guarantees that no code is issued twice,
      // in any letter case, across sets and across instances.
      await db.schema.createIndex('promotions_code_key').on('promotions').unique().expression(sql`lower(code)`).execute();
      await db.schema.createIndex('promotions_batch_idx').on('promotions').columns(['batch_id', 'id']).execute();
      await db.schema.createIndex('promotions_set_idx').on('promotions').columns(['set_id', 'id']).execute();
    },
  },
  '002_idempotency': {
    async up(db: Kysely<any>) {
      // One row per (set, Idempotency-Key). The primary key is what makes a
      // replayed or concurrent request safe across instances: only one INSERT wins.
      await db.schema.createTable('idempotency_keys')
        .addColumn('set_id', 'integer', (c) => c.notNull().references('promo_sets.id'))
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('status', 'integer')
        .addColumn('body', 'text')
        .addColumn('batch_id', 'integer')
        .addColumn('format', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_keys_pk', ['set_id', 'key'])
        .execute();
      await db.schema.createIndex('idempotency_keys_created_idx').on('idempotency_keys').column('created_at').execute();
    },
  },
  '003_audit': {
    async up(db: Kysely<any>) {
      const table = isPostgres(db)
        ? db.schema.createTable('audit_events').addColumn('id', 'serial', (c) => c.primaryKey())
        : db.schema.createTable('audit_events').addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
      await table
        .addColumn('set_id', 'integer', (c) => c.notNull().references('promo_sets.id'))
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('detail', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_events_set_idx').on('audit_events').columns(['set_id', 'id']).execute();
    },
  },
  '004_slack_deliveries': {
    async up(db: Kysely<any>) {
      // One row per Slack delivery that changed something: a retried or replayed
      // delivery finds its key taken and is acknowledged without being processed
      // again, on every instance (the primary key is the judge, not memory).
      await db.schema.createTable('slack_deliveries')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('slack_deliveries_created_idx').on('slack_deliveries').column('created_at').execute();
    },
  },
  '005_batch_request_key': {
    async up(db: Kysely<any>) {
      // The request (an Idempotency-Key claim) a batch was made for, written in the batch's own
      // transaction: a retry after a crash between COMMIT and the reply finds the batch, not a new one.
      await db.schema.alterTable('batches').addColumn('request_key', 'text').execute();
      await db.schema.createIndex('batches_request_key').on('batches').unique().column('request_key').execute();
    },
  },
  '006_whmcs': {
    async up(db: Kysely<any>) {
      // 'pending' while a batch's codes are on their way into WHMCS's tblpromotions (hidden from
      // every listing until then), 'done' once they are there; null when WHMCS is not connected.
      await db.schema.alterTable('batches').addColumn('whmcs_state', 'text').execute();
      await db.schema.createIndex('batches_whmcs_state').on('batches').column('whmcs_state').execute();
      // The promotion's row id in tblpromotions: the id every reply and listing shows.
      await db.schema.alterTable('promotions').addColumn('whmcs_id', 'integer').execute();
      // The uses sync finds promotions by their tblpromotions id.
      await db.schema.createIndex('promotions_whmcs_id').on('promotions').column('whmcs_id').execute();
    },
  },
  '007_lifecycle': {
    async up(db: Kysely<any>) {
      // Nullable, no default: adding it rewrites nothing, and issuing codes writes nothing more.
      await db.schema.alterTable('promotions').addColumn('voided_at', 'text').execute();
      const table = isPostgres(db)
        ? db.schema.createTable('redemptions').addColumn('id', 'serial', (c) => c.primaryKey())
        : db.schema.createTable('redemptions').addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
      await table
        .addColumn('set_id', 'integer', (c) => c.notNull().references('promo_sets.id'))
        .addColumn('promotion_id', 'integer', (c) => c.notNull().references('promotions.id'))
        .addColumn('client_id', 'text')
        // client_id while the promotion is once-per-client and this redemption stands, else NULL:
        // the unique index below is then the once-per-client rule, enforced by the database.
        .addColumn('once_key', 'text')
        .addColumn('request_key', 'text')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('rolled_back_at', 'text')
        .execute();
      // Partial: only standing once-per-client redemptions are in it (and can collide); the
      // others (once_key NULL) cost the index nothing, however often one hot code is redeemed.
      await db.schema.createIndex('redemptions_once_key').on('redemptions').unique().columns(['promotion_id', 'once_key']).where(sql.ref('once_key'), 'is not', null).execute();
      await db.schema.createIndex('redemptions_request_key').on('redemptions').unique().column('request_key').execute();
    },
  },
  '008_webhooks': {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('promo_sets').addColumn('webhook_url', 'text').execute();
      await db.schema.alterTable('promo_sets').addColumn('webhook_secret', 'text').execute();
      // The outbox: one row per event, written in the transaction of the change it
      // describes, delivered after commit by src/webhooks/dispatcher.ts.
      const table = isPostgres(db)
        ? db.schema.createTable('webhook_events').addColumn('id', 'serial', (c) => c.primaryKey())
        : db.schema.createTable('webhook_events').addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
      await table
        .addColumn('event_id', 'text', (c) => c.notNull().unique())
        .addColumn('set_id', 'integer', (c) => c.notNull().references('promo_sets.id'))
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', 'text', (c) => c.notNull())
        .addColumn('retry_until', 'text', (c) => c.notNull())
        .addColumn('lease_until', 'text')
        .addColumn('last_status', 'integer')
        .addColumn('last_error', 'text')
        .addColumn('delivered_at', 'text')
        .execute();
      await db.schema.createIndex('webhook_events_due_idx').on('webhook_events').columns(['status', 'next_attempt_at']).execute();
      await db.schema.createIndex('webhook_events_set_idx').on('webhook_events').columns(['set_id', 'id']).execute();
    },
  },
  '009_touched_promotions': {
    async up(db: Kysely<any>) {
      // Only promotions ever counted or voided: usage reads these (and issued from
      // batches.count) instead of every promotion of a set. Queries must repeat this
      // predicate verbatim (TOUCHED in store/promotions.ts) for either planner to use it.
      await db.schema.createIndex('promotions_touched_idx').on('promotions').columns(['set_id', 'batch_id'])
        .where(sql<boolean>`uses <> 0 or voided_at is not null`).execute();
    },
  },
  '010_sparse_indexes': {
    async up(db: Kysely<any>) {
      // Three indexes only ever looked up by a value most rows lack (a pending batch, a request
      // key, a tblpromotions id): made partial, every code issued without them writes three index
      // entries fewer, and the indexes hold only the rows they are for.
      await db.schema.dropIndex('batches_whmcs_state').execute();
      await db.schema.createIndex('batches_pending').on('batches').column('id').where(sql.ref('whmcs_state'), '=', sql.lit('pending')).execute();
      await db.schema.dropIndex('batches_request_key').execute();
      await db.schema.createIndex('batches_request_key').on('batches').unique().column('request_key').where(sql.ref('request_key'), 'is not', null).execute();
      await db.schema.dropIndex('promotions_whmcs_id').execute();
      await db.schema.createIndex('promotions_whmcs_id').on('promotions').column('whmcs_id').where(sql.ref('whmcs_id'), 'is not', null).execute();
    },
  },
  '011_rate_limits': {
    async up(db: Kysely<any>) {
      // Counters of the current and last minute, shared by every instance on PostgreSQL. Unlogged:
      // a counter lost in a crash only gives a client a fresh minute, and no WAL is written per request.
      if (isPostgres(db)) {
        await sql`create unlogged table rate_limits (key text not null, window_start bigint not null, hits integer not null, primary key (key, window_start))`.execute(db);
        return;
      }
      await db.schema.createTable('rate_limits')
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('window_start', 'integer', (c) => c.notNull())
        .addColumn('hits', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('rate_limits_pk', ['key', 'window_start'])
        .execute();
    },
  },
  '011b_code_spaces': {
    async up(db: Kysely<any>) {
      // A small code space belongs to one set, so another set's URL cannot use it up.
      await db.schema.createTable('code_spaces')
        .addColumn('prefix_key', 'text', (c) => c.notNull())
        .addColumn('code_length', 'integer', (c) => c.notNull())
        .addColumn('set_id', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('code_spaces_pk', ['prefix_key', 'code_length'])
        .execute();
      // Spaces already in use belong to the set that issued there first.
      await sql`insert into code_spaces (prefix_key, code_length, set_id)
        select b.prefix_key, b.code_length, b.set_id from batches b
        where b.id = (select min(f.id) from batches f where f.prefix_key = b.prefix_key and f.code_length = b.code_length)`.execute(db);
    },
  },
  '012_whmcs_connection': {
    async up(db: Kysely<any>) {
      // Which WHMCS this database is connected to (at most one row, id 1): a fact of the
      // deployment, so every process on this database compares its WHMCS_DATABASE_URL with
      // it (service/whmcs-connection.ts). `table_created` is tblpromotions' CREATE_TIME,
      // the identity check that a host name or a database name alone cannot give.
      // backfill_*: the chunk a running `promoset whmcs backfill` is writing, so a rerun
      // after a crash tells its own rows from codes WHMCS already held.
      await db.schema.createTable('whmcs_connection')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('host', 'text', (c) => c.notNull())
        .addColumn('database_name', 'text', (c) => c.notNull())
        .addColumn('table_created', 'text', (c) => c.notNull())
        .addColumn('connected_at', 'text', (c) => c.notNull())
        .addColumn('connected_by', 'text', (c) => c.notNull())
        .addColumn('backfill_from', 'integer')
        .addColumn('backfill_to', 'integer')
        .addColumn('backfill_held', 'text')
        .execute();
      // The connection's audit trail: connected, reconnected, disconnected, backfilled.
      const events = isPostgres(db)
        ? db.schema.createTable('whmcs_connection_events').addColumn('id', 'serial', (c) => c.primaryKey())
        : db.schema.createTable('whmcs_connection_events').addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
      await events
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('detail', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      // No index for "not in WHMCS yet": backfill walks the primary key from where it left off
      // (one pass over the table in all), and an index would cost every issued code an entry.
    },
  },
  '013_access': {
    async up(db: Kysely<any>) {
      const id = (table: string) =>
        isPostgres(db)
          ? db.schema.createTable(table).addColumn('id', 'serial', (c) => c.primaryKey())
          : db.schema.createTable(table).addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
      // Who may do what (service/access.ts). set_id 0 is "every set", so one unique index covers both scopes.
      await id('access_grants')
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('set_id', 'integer', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('access_grants_subject_set').on('access_grants').unique().columns(['subject', 'set_id']).execute();
      // Slack user-group members, shared by every instance: a subteam_members_changed event seen by one refreshes all.
      await db.schema.createTable('access_groups')
        .addColumn('group_id', 'text', (c) => c.primaryKey())
        .addColumn('members', 'text', (c) => c.notNull())
        .addColumn('fetched_at', 'text', (c) => c.notNull())
        .execute();
      // Codes a person issued per day: the daily limit is a conditional UPDATE of this row, atomic across instances.
      await db.schema.createTable('access_usage')
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('day', 'text', (c) => c.notNull())
        .addColumn('count', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('access_usage_pk', ['user_id', 'day'])
        .execute();
      // Grants, revokes and setting changes (set_id null when they concern every set).
      await id('access_events')
        .addColumn('set_id', 'integer')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('detail', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '013b_approvals': {
    async up(db: Kysely<any>) {
      const table = isPostgres(db)
        ? db.schema.createTable('approval_requests').addColumn('id', 'serial', (c) => c.primaryKey())
        : db.schema.createTable('approval_requests').addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
      await table
        .addColumn('set_id', 'integer', (c) => c.notNull().references('promo_sets.id'))
        .addColumn('asker', 'text', (c) => c.notNull())
        .addColumn('amount', 'integer', (c) => c.notNull())
        // The BulkRequest as JSON: exactly what is issued when approved.
        .addColumn('request', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        // Which limits the ask went over, as sentences (JSON array).
        .addColumn('over_limits', 'text', (c) => c.notNull())
        // pending | approved | denied | expired
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('decided_by', 'text')
        .addColumn('decision_reason', 'text')
        .addColumn('decided_at', 'text')
        .addColumn('batch_id', 'integer')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        // Where the request was posted ([{channel, ts}]), so every copy shows the outcome.
        .addColumn('messages', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('approval_requests_status').on('approval_requests').columns(['status', 'expires_at']).execute();
    },
  },
  '014_bindings': {
    async up(db: Kysely<any>) {
      // A table of its own, not columns on promotions: issuing unbound codes (nearly all of
      // them, 100k at a time) writes exactly what it wrote before.
      await db.schema
        .createTable('promotion_bindings')
        .addColumn('promotion_id', 'integer', (c) => c.primaryKey())
        .addColumn('set_id', 'integer', (c) => c.notNull())
        .addColumn('client_id', 'integer')
        .addColumn('client_email', 'text')
        .addColumn('email_key', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('promotion_bindings_client').on('promotion_bindings').column('client_id').where(sql.ref('client_id'), 'is not', null).execute();
      await db.schema.createIndex('promotion_bindings_set').on('promotion_bindings').column('set_id').execute();
      await db.schema.createIndex('promotion_bindings_email').on('promotion_bindings').column('email_key').where(sql.ref('email_key'), 'is not', null).execute();
    },
  },
  '014b_whmcs_orders': {
    async up(db: Kysely<any>) {
      const table = isPostgres(db)
        ? db.schema.createTable('whmcs_orders').addColumn('id', 'serial', (c) => c.primaryKey())
        : db.schema.createTable('whmcs_orders').addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
      await table
        .addColumn('order_id', 'integer', (c) => c.notNull())
        .addColumn('code_key', 'text', (c) => c.notNull())
        .addColumn('promotion_id', 'integer')
        .addColumn('redemption_id', 'integer')
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('client_id', 'integer')
        .addColumn('invoice_id', 'integer')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      // One row per (order, code): the database makes every hook call idempotent, across instances.
      await db.schema.createIndex('whmcs_orders_order_code').on('whmcs_orders').unique().columns(['order_id', 'code_key']).execute();
    },
  },
  '015_webhook_fairness': {
    async up(db: Kysely<any>) {
      // One row per receiver (a set's webhook URL): the dispatcher locks it while it claims that
      // receiver's events, so the cap on deliveries in flight holds across instances, and counts
      // consecutive failures, so a failing receiver is probed one delivery at a time.
      await db.schema.createTable('webhook_receivers')
        .addColumn('set_id', 'integer', (c) => c.primaryKey().references('promo_sets.id'))
        .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      // Due events by receiver: which receivers have work, and each one's oldest, without a global order.
      await db.schema.createIndex('webhook_events_receiver_due_idx').on('webhook_events').columns(['status', 'set_id', 'next_attempt_at']).execute();
    },
  },
  '016_charts': {
    async up(db: Kysely<any>) {
      // Daily figures (store/daily-usage.ts) count each day's rows by a range on these, per set,
      // instead of reading every promotion or redemption of the set. The partial ones hold only
      // the rows that have the time (voided or rolled back), so issuing and redeeming pay nothing
      // for them; batches' count rides in its index so the sum never visits the table.
      await db.schema.createIndex('batches_set_created_idx').on('batches').columns(['set_id', 'created_at', 'count']).execute();
      await db.schema.createIndex('redemptions_set_created_idx').on('redemptions').columns(['set_id', 'created_at']).execute();
      await db.schema.createIndex('redemptions_set_rolled_back_idx').on('redemptions').columns(['set_id', 'rolled_back_at']).where(sql.ref('rolled_back_at'), 'is not', null).execute();
      await db.schema.createIndex('promotions_set_voided_idx').on('promotions').columns(['set_id', 'voided_at']).where(sql.ref('voided_at'), 'is not', null).execute();
      // Figures of days that are over (by set and time zone): a redemption's, a rollback's and a
      // batch's time never change, so a closed day is counted once; the day in progress, and
      // voided (which unvoid takes back), are always counted live. See store/daily-usage.ts.
      await db.schema.createTable('daily_usage_days')
        .addColumn('set_id', 'integer', (c) => c.notNull())
        .addColumn('time_zone', 'text', (c) => c.notNull())
        .addColumn('date', 'text', (c) => c.notNull())
        .addColumn('issued', 'integer', (c) => c.notNull())
        .addColumn('redeemed', 'integer', (c) => c.notNull())
        .addColumn('rolled_back', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('daily_usage_days_pk', ['set_id', 'time_zone', 'date'])
        .execute();
      // One row per chart (a set's 30-day chart, a report, a digest): the Slack file last
      // uploaded for it, a hash of the figures it shows, and a lease while one instance draws it,
      // so N instances draw it again only when the figures changed and at most every 10 minutes.
      await db.schema.createTable('chart_images')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('data_hash', 'text')
        .addColumn('file_id', 'text')
        .addColumn('drawn_at', 'text')
        .addColumn('lease_until', 'text')
        .execute();
    },
  },
  '016b_digests': {
    async up(db: Kysely<any>) {
      // A channel's scheduled digest. last_period is the period (a day, or a week's Monday) last
      // sent; the lease lets exactly one instance send the next one, and a crashed sender's
      // lease runs out so another instance sends it after a restart.
      await db.schema.createTable('digest_subscriptions')
        .addColumn('channel_id', 'text', (c) => c.primaryKey())
        .addColumn('frequency', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_period', 'text')
        .addColumn('lease_owner', 'text')
        .addColumn('lease_until', 'text')
        .execute();
    },
  },
  '017_whmcs_decisions': {
    async up(db: Kysely<any>) {
      // promoset coordinates a two-phase commit with WHMCS (service/whmcs-two-phase.ts): a use counted
      // or given back in WHMCS is prepared (MariaDB XA) under this xid, and this row, written first,
      // decides its fate. A redemption or rollback writes 'commit' in its own transaction; repair
      // writes 'rollback' for a prepared xid left behind; whichever insert comes first wins.
      await db.schema.createTable('whmcs_decisions')
        .addColumn('xid', 'text', (c) => c.primaryKey())
        .addColumn('decision', 'text', (c) => c.notNull())
        .addColumn('redemption_id', 'integer')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('whmcs_decisions_created_idx').on('whmcs_decisions').column('created_at').execute();
    },
  },
  '018_promotions_without_foreign_keys': {
    async up(db: Kysely<any>) {
      // promotions.set_id and batch_id keep no FOREIGN KEY: a COPY of 100,000 codes on PostgreSQL paid
      // two per-row checks, about 500 of 1,000 ms (issue 23; BENCHMARKS.md). Integrity holds by
      // construction instead: a promotion is written only in the transaction that writes its batch row,
      // or (a WHMCS replacement) after locking that batch row and finding it pending
      // (lockPendingBatch); sets are never deleted; a batch is deleted only with its codes, after
      // locking its row (deleteBatchesWithCodes), or, in a group commit, before any code of it was
      // written. test/store/promotion-integrity.test.ts checks every path that writes or deletes them.
      if (isPostgres(db)) {
        const { rows } = await sql<{ name: string }>`select conname as name from pg_constraint
          where conrelid = 'promotions'::regclass and contype = 'f'`.execute(db);
        for (const { name } of rows) await sql`alter table promotions drop constraint ${sql.id(name)}`.execute(db);
        return;
      }
      // SQLite cannot drop a constraint: the table is rebuilt (SQLite's own procedure; migrate.ts runs
      // migrations with foreign_keys off, then checks them). Its autoincrement counter is carried over,
      // so no id is ever handed out twice.
      const table = await sql<{ sql: string }>`select sql from sqlite_master where type = 'table' and name = 'promotions'`.execute(db);
      const indexes = await sql<{ sql: string }>`select sql from sqlite_master where type = 'index' and tbl_name = 'promotions' and sql is not null`.execute(db);
      const counter = await sql<{ seq: number }>`select seq from sqlite_sequence where name = 'promotions'`.execute(db);
      const withoutKeys = table.rows[0].sql
        .replace(/\s+references\s+"?\w+"?\s*\(\s*"?\w+"?\s*\)/gi, '')
        .replace(/^create table "?promotions"?/i, 'create table "promotions_rebuilt"');
      await sql.raw(withoutKeys).execute(db);
      await sql`insert into promotions_rebuilt select * from promotions`.execute(db);
      await sql`drop table promotions`.execute(db);
      await sql`alter table promotions_rebuilt rename to promotions`.execute(db);
      for (const { sql: text } of indexes.rows) await sql.raw(text).execute(db);
      const seq = counter.rows[0]?.seq;
      if (seq !== undefined) {
        await sql`delete from sqlite_sequence where name = 'promotions'`.execute(db);
        await sql`insert into sqlite_sequence (name, seq) values ('promotions', ${seq})`.execute(db);
      }
    },
  },
  '019_postgres_redeem_function': {
    async up(db: Kysely<any>) {
      // PostgreSQL only: a group commit's redemptions in one round trip (store/redemptions-postgres.ts).
      if (isPostgres(db)) await sql.raw(POSTGRES_REDEEM_FUNCTION).execute(db);
    },
  },
  '020_postgres_redeem_alone': {
    async up(db: Kysely<any>) {
      // PostgreSQL only: promoset_redeem with `alone`, for a group that is one autocommit statement (store/redemptions-postgres.ts).
      // 019's form (nine arguments) stays, for processes of the tree before still running during an upgrade.
      if (isPostgres(db)) await sql.raw(POSTGRES_REDEEM_ALONE_FUNCTION).execute(db);
    },
  },
  '021_postgres_issue_function': {
    async up(db: Kysely<any>) {
      // PostgreSQL only: a group commit's single codes in one round trip (store/single-codes-postgres.ts).
      if (isPostgres(db)) await sql.raw(POSTGRES_ISSUE_FUNCTION).execute(db);
    },
  },
  '022_postgres_redeem_generic_plans': {
    async up(db: Kysely<any>) {
      // PostgreSQL only: as promoset_issue (021), promoset_redeem's statements planned once per connection, not at every call.
      if (isPostgres(db)) await sql.raw(`alter function promoset_redeem(${REDEEM_ALONE_ARGUMENTS}) set plan_cache_mode = force_generic_plan`).execute(db);
    },
  },
};

/** promoset_redeem's argument types (migration 020), which name that form of the function. */
const REDEEM_ALONE_ARGUMENTS = 'jsonb[], integer[], text[], integer[], text[], text[], text[], text[], text[], boolean';

/**
 * Migration 019: first, each set in `expected` (a set as a process cached
 * it, in its row's JSON form without name_key) is compared with its stored
 * row; then per member, in the caller's order (its lock order), the
 * conditional UPDATE that counts a use (as store/redemptions-sqlite.ts does on SQLite) and the
 * redemption INSERT of insertRedemption, one after the other as separate
 * statements would run, so one code named twice counts twice. `checks[i]`
 * names the member's entry in `expected` (null: the set was read fresh).
 * What it cannot decide alone it leaves counted-or-not and says so in `outcome`:
 *  - 'set_changed': the member's cached set differs from the stored one, nothing counted;
 *  - 'refused': nothing counted (the caller asks why);
 *  - 'bound': counted, nothing inserted (the caller checks the customer, then gives the use back or records it);
 *  - 'client_required': once per client without a client id, the use given back;
 *  - 'once_taken': this client's standing redemption exists, the use given back;
 *  - 'redeemed': counted and recorded.
 * '0000-00-00' is domain/dates.ts NO_DATE (no start or expiry date).
 */
const POSTGRES_REDEEM_FUNCTION = `
create function promoset_redeem(expected jsonb[], checks integer[], codes text[], set_ids integer[], client_ids text[], request_keys text[], actors text[], created_ats text[], days text[])
returns table (outcome text, id integer, whmcs_id integer, code text, uses integer, set_id integer, batch_id integer, voided_at text, redemption_id integer)
language plpgsql as $fn$
#variable_conflict use_column
declare
  counted record;
  unchanged boolean[];
begin
  unchanged := array(
    select exists (select 1 from promo_sets s where s.id = (e.set ->> 'id')::integer and to_jsonb(s) - 'name_key' = e.set)
    from unnest(expected) with ordinality as e(set, n) order by e.n);
  for i in 1 .. coalesce(array_length(codes, 1), 0) loop
    if checks[i] is not null and not unchanged[checks[i]] then
      outcome := 'set_changed'; id := null; whmcs_id := null; code := null; uses := null; set_id := null; batch_id := null; voided_at := null; redemption_id := null;
      return next;
      continue;
    end if;
    update promotions set uses = uses + 1
      where lower(code) = codes[i] and set_id = set_ids[i] and voided_at is null
        and exists (
          select 1 from batches b
          where b.id = promotions.batch_id
            and (b.maxuses = 0 or promotions.uses < b.maxuses)
            and (b.startdate = '0000-00-00' or b.startdate <= days[i])
            and (b.expirationdate = '0000-00-00' or b.expirationdate >= days[i]))
      returning promotions.id, promotions.whmcs_id, promotions.code, promotions.uses, promotions.set_id, promotions.batch_id, promotions.voided_at,
        (select b.onceperclient from batches b where b.id = promotions.batch_id) as onceperclient,
        exists (select 1 from promotion_bindings pb where pb.promotion_id = promotions.id) as bound
      into counted;
    outcome := null; id := null; whmcs_id := null; code := null; uses := null; set_id := null; batch_id := null; voided_at := null; redemption_id := null;
    if not found then
      outcome := 'refused';
      return next;
      continue;
    end if;
    id := counted.id; whmcs_id := counted.whmcs_id; code := counted.code; uses := counted.uses;
    set_id := counted.set_id; batch_id := counted.batch_id; voided_at := counted.voided_at;
    if counted.bound then
      outcome := 'bound';
    elsif counted.onceperclient <> 0 and client_ids[i] is null then
      update promotions set uses = uses - 1 where promotions.id = counted.id;
      outcome := 'client_required';
    else
      insert into redemptions (set_id, promotion_id, client_id, once_key, request_key, created_by, created_at)
        values (set_ids[i], counted.id, client_ids[i], case when counted.onceperclient <> 0 then client_ids[i] end, request_keys[i], actors[i], created_ats[i])
        on conflict (promotion_id, once_key) where once_key is not null do nothing
        returning redemptions.id into redemption_id;
      if redemption_id is null then
        update promotions set uses = uses - 1 where promotions.id = counted.id;
        outcome := 'once_taken';
      else
        outcome := 'redeemed';
      end if;
    end if;
    return next;
  end loop;
end
$fn$`;

/**
 * Migration 020: promoset_redeem as 019's, with one more argument, `alone`:
 * true when the call is the group's whole transaction (no BEGIN around it,
 * nothing written after it). A bound code's use is then given back at once
 * and the outcome is 'bound_later' (the caller redeems that member again in a
 * transaction of its own, where the customer is checked before COMMIT);
 * with `alone` false a bound code is left counted ('bound') as in 019.
 * Also: the batch's terms come from a join (UPDATE … FROM) rather than an
 * EXISTS and a second read of onceperclient, and ON CONFLICT is written only
 * for the INSERT that has a once_key (none without one can conflict).
 */
const POSTGRES_REDEEM_ALONE_FUNCTION = `
create function promoset_redeem(expected jsonb[], checks integer[], codes text[], set_ids integer[], client_ids text[], request_keys text[], actors text[], created_ats text[], days text[], alone boolean)
returns table (outcome text, id integer, whmcs_id integer, code text, uses integer, set_id integer, batch_id integer, voided_at text, redemption_id integer)
language plpgsql as $fn$
#variable_conflict use_column
declare
  counted record;
  unchanged boolean[];
begin
  unchanged := array(
    select exists (select 1 from promo_sets s where s.id = (e.set ->> 'id')::integer and to_jsonb(s) - 'name_key' = e.set)
    from unnest(expected) with ordinality as e(set, n) order by e.n);
  for i in 1 .. coalesce(array_length(codes, 1), 0) loop
    outcome := null; id := null; whmcs_id := null; code := null; uses := null; set_id := null; batch_id := null; voided_at := null; redemption_id := null;
    if checks[i] is not null and not unchanged[checks[i]] then
      outcome := 'set_changed';
      return next;
      continue;
    end if;
    update promotions p set uses = p.uses + 1
      from batches b
      where lower(p.code) = codes[i] and p.set_id = set_ids[i] and p.voided_at is null
        and b.id = p.batch_id
        and (b.maxuses = 0 or p.uses < b.maxuses)
        and (b.startdate = '0000-00-00' or b.startdate <= days[i])
        and (b.expirationdate = '0000-00-00' or b.expirationdate >= days[i])
      returning p.id, p.whmcs_id, p.code, p.uses, p.set_id, p.batch_id, p.voided_at, b.onceperclient,
        exists (select 1 from promotion_bindings pb where pb.promotion_id = p.id) as bound
      into counted;
    if not found then
      outcome := 'refused';
      return next;
      continue;
    end if;
    id := counted.id; whmcs_id := counted.whmcs_id; code := counted.code; uses := counted.uses;
    set_id := counted.set_id; batch_id := counted.batch_id; voided_at := counted.voided_at;
    if counted.bound and alone then
      update promotions set uses = uses - 1 where promotions.id = counted.id;
      outcome := 'bound_later';
    elsif counted.bound then
      outcome := 'bound';
    elsif counted.onceperclient = 0 then
      insert into redemptions (set_id, promotion_id, client_id, once_key, request_key, created_by, created_at)
        values (set_ids[i], counted.id, client_ids[i], null, request_keys[i], actors[i], created_ats[i])
        returning redemptions.id into redemption_id;
      outcome := 'redeemed';
    elsif client_ids[i] is null then
      update promotions set uses = uses - 1 where promotions.id = counted.id;
      outcome := 'client_required';
    else
      insert into redemptions (set_id, promotion_id, client_id, once_key, request_key, created_by, created_at)
        values (set_ids[i], counted.id, client_ids[i], client_ids[i], request_keys[i], actors[i], created_ats[i])
        on conflict (promotion_id, once_key) where once_key is not null do nothing
        returning redemptions.id into redemption_id;
      if redemption_id is null then
        update promotions set uses = uses - 1 where promotions.id = counted.id;
        outcome := 'once_taken';
      else
        outcome := 'redeemed';
      end if;
    end if;
    return next;
  end loop;
end
$fn$`;

/**
 * Migration 021: a group of single codes (service/single-codes.ts) in one
 * statement, run on its own (autocommit), so all of it or none is written.
 * First each set in `expected` is compared with its stored row (as in 019;
 * `checks[i]` names member i's entry, null when its set was read fresh). Then
 * feasibility as single-codes.ts's feasibleMembers decides it: the highest
 * promotion id bounds how many codes exist; if that bound comes within 2 of
 * any accepted member's space (`spaces`, in arrival order), only the exact
 * count can decide, and nothing at all is written ('recount' for every
 * member). Otherwise each accepted member gets a batch id, its code goes in
 * (in lower(code) order, the lock order of the unique index), and only the
 * members whose code went in get their batch row. A batch row is member i's
 * created_by, created_at and request_key and its shape: `shapes[shape_of[i]]`
 * (1-based), a JSON array [set_id, kind, count, prefix_key, code_length,
 * code_alphabet, terms], which members with equal terms share (filling a
 * row from JSON once per member cost more than the rest of the function).
 * Per member, in the caller's order:
 *  - 'set_changed': its cached set differs from the stored one, nothing written;
 *  - 'collided': its code was taken, nothing written (the caller draws again);
 *  - 'recount': nothing written for anyone (the caller counts exactly);
 *  - 'issued': batch row and promotion written, the promotion returned.
 * promotions has no foreign keys (018), so the code may go in before its batch row.
 */
const POSTGRES_ISSUE_FUNCTION = `
create function promoset_issue(expected jsonb[], checks integer[], set_ids integer[], spaces float8[], codes text[],
  shapes jsonb, shape_of integer[], created_bys text[], created_ats text[], request_keys text[])
returns table (outcome text, id integer, whmcs_id integer, code text, uses integer, set_id integer, batch_id integer, voided_at text)
language plpgsql
-- Custom plans were made afresh on every call, planning cost more than running (~0.7 ms a call);
-- generic ones are planned once per connection, and the group's few rows need no better.
set plan_cache_mode = force_generic_plan
as $fn$
#variable_conflict use_column
declare
  members integer := coalesce(array_length(codes, 1), 0);
  unchanged boolean[];
  accepted integer[];
  bound bigint;
  batch_ids integer[];
  batch_seq regclass := pg_get_serial_sequence('batches', 'id')::regclass;
begin
  unchanged := array(
    select exists (select 1 from promo_sets s where s.id = (e.set ->> 'id')::integer and to_jsonb(s) - 'name_key' = e.set)
    from unnest(expected) with ordinality as e(set, n) order by e.n);
  accepted := array(select g.i from generate_series(1, members) as g(i) where checks[g.i] is null or unchanged[checks[g.i]] order by g.i);
  select coalesce(max(p.id), 0) into bound from promotions p;
  if exists (select 1 from unnest(accepted) with ordinality as a(i, k) where spaces[a.i] - (bound + a.k - 1) < 2) then
    return query select 'recount'::text, null::integer, null::integer, null::text, null::integer, null::integer, null::integer, null::text
      from generate_series(1, members);
    return;
  end if;
  batch_ids := array(select nextval(batch_seq)::integer from generate_series(1, coalesce(array_length(accepted, 1), 0)) as g(i) order by g.i);
  return query
  with m as (
    select a.i, batch_ids[a.k] as bid from unnest(accepted) with ordinality as a(i, k)
  ), ins as (
    insert into promotions as p (set_id, batch_id, code)
    select set_ids[m.i], m.bid, codes[m.i] from m order by lower(codes[m.i])
    on conflict do nothing
    returning p.id, p.whmcs_id, p.code, p.uses, p.set_id, p.batch_id, p.voided_at
  ), shape as materialized (
    -- Materialized: inlined, each shape's row was filled from JSON once per member again.
    select e.n, r.*
    from jsonb_array_elements(shapes) with ordinality as e(s, n)
      cross join lateral jsonb_populate_record(null::batches, (e.s -> 6) || jsonb_build_object(
        'set_id', e.s -> 0, 'kind', e.s -> 1, 'count', e.s -> 2, 'prefix_key', e.s -> 3, 'code_length', e.s -> 4, 'code_alphabet', e.s -> 5)) as r
  ), written as (
    insert into batches (id, set_id, kind, count, prefix_key, code_length, code_alphabet, created_by, created_at, request_key,
      type, recurring, value, cycles, appliesto, requires, requiresexisting, startdate, expirationdate, maxuses,
      lifetimepromo, applyonce, newsignups, existingclient, onceperclient, recurfor, upgrades, upgradeconfig, notes)
    select ins.batch_id, r.set_id, r.kind, r.count, r.prefix_key, r.code_length, r.code_alphabet, created_bys[m.i], created_ats[m.i], request_keys[m.i],
      r.type, r.recurring, r.value, r.cycles, r.appliesto, r.requires, r.requiresexisting, r.startdate, r.expirationdate, r.maxuses,
      r.lifetimepromo, r.applyonce, r.newsignups, r.existingclient, r.onceperclient, r.recurfor, r.upgrades, r.upgradeconfig, r.notes
    from ins join m on m.bid = ins.batch_id join shape as r on r.n = shape_of[m.i]
  )
  select case when checks[g.i] is not null and not unchanged[checks[g.i]] then 'set_changed' when ins.id is null then 'collided' else 'issued' end,
    ins.id, ins.whmcs_id, ins.code, ins.uses, ins.set_id, ins.batch_id, ins.voided_at
  from generate_series(1, members) as g(i) left join m on m.i = g.i left join ins on ins.batch_id = m.bid
  order by g.i;
end
$fn$`;

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
