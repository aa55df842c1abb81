import { sql } from 'kysely';
import type { WhmcsDb } from './db.js';

/**
 * A MariaDB named lock (GET_LOCK) held on one connection while `work` runs.
 * It needs no grant, and the server releases it when that connection ends,
 * so a process killed with kill -9 never leaves it behind. Undefined when
 * another connection holds it. `stillHeld` asks the server, so work can stop
 * before writing if the lock's connection was lost meanwhile.
 */
export async function withWhmcsLock<T>(db: WhmcsDb, name: string, work: (stillHeld: () => Promise<boolean>) => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
  return db.connection().execute(async (conn) => {
    const { rows } = await sql<{ got: number | string | null }>`select get_lock(${name}, 0) as got`.execute(conn);
    if (Number(rows[0]?.got) !== 1) return { ran: false } as const;
    const stillHeld = async () => {
      const { rows: held } = await sql<{ mine: number | string | null }>`select is_used_lock(${name}) = connection_id() as mine`.execute(conn);
      return Number(held[0]?.mine) === 1;
    };
    try {
      return { ran: true, value: await work(stillHeld) } as const;
    } finally {
      await sql`select release_lock(${name})`.execute(conn).catch(() => {
        // The connection is gone, and the lock with it.
      });
    }
  });
}
