import { Migrator, sql } from 'kysely';
import { isPostgres, type Db } from './db.js';
import { migrationProvider } from './migrations.js';
import { beginImmediate } from './transactions.js';

/**
 * Bring the schema up to date. Safe when several instances start at once:
 * on PostgreSQL Kysely's Migrator holds an advisory lock; on SQLite (where
 * Kysely takes no lock) the whole run happens inside BEGIN IMMEDIATE, so the
 * second instance waits, then finds nothing left to do.
 */
export async function migrateToLatest(db: Db): Promise<string[]> {
  if (isPostgres(db)) {
    // Kysely finds its own tables by name in *any* schema unless told which one;
    // name the current schema so per-schema databases (tests, tenants) stay apart.
    const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
    return runMigrator(new Migrator({ db, provider: migrationProvider, migrationTableSchema: rows[0]?.schema ?? undefined }));
  }
  return db.connection().execute(async (conn) => {
    // Off while migrating, as SQLite's own procedure for rebuilding a table asks (a rebuilt
    // parent table is dropped and renamed, which foreign_keys would refuse); the keys are
    // checked before COMMIT instead. The pragma only takes effect outside a transaction.
    await sql`pragma foreign_keys = off`.execute(conn);
    try {
      await beginImmediate(conn);
      try {
        const ran = await runMigrator(new Migrator({ db: conn, provider: migrationProvider }));
        if (ran.length > 0) {
          const { rows } = await sql<{ table: string; parent: string }>`pragma foreign_key_check`.execute(conn);
          if (rows.length > 0) throw new Error(`Migrating broke ${rows.length} foreign key(s), e.g. ${rows[0].table} → ${rows[0].parent}; nothing was changed`);
        }
        await sql`commit`.execute(conn);
        return ran;
      } catch (error) {
        await sql`rollback`.execute(conn).catch(() => {});
        throw error;
      }
    } finally {
      await sql`pragma foreign_keys = on`.execute(conn);
    }
  });
}

async function runMigrator(migrator: Migrator): Promise<string[]> {
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
