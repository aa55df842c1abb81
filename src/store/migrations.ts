import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { isPostgres } from './dialect.js';

/**
 * Migrations live in code (not files found at run time) so the built CLI,
 * the tests and the benchmarks all run exactly the same list.
 * Append new ones; never edit one that has shipped.
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
};

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
