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
    await beginImmediate(conn);
    try {
      const ran = await runMigrator(new Migrator({ db: conn, provider: migrationProvider }));
      await sql`commit`.execute(conn);
      return ran;
    } catch (error) {
      await sql`rollback`.execute(conn).catch(() => {});
      throw error;
    }
  });
}

async function runMigrator(migrator: Migrator): Promise<string[]> {
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
