import type { Pool, PoolConnection } from 'mysql2';
import { LOCK_WAIT_SECONDS, poolOf, type WhmcsDb } from './db.js';

/**
 * One use counted or given back in WHMCS as the first phase of a two-phase
 * commit (MariaDB XA): `XA START; UPDATE tblpromotions …; XA END; XA PREPARE`.
 * The change is then durable but invisible, and holds the row's lock, until
 * promoset's coordinator (service/whmcs-two-phase.ts) says XA COMMIT or XA
 * ROLLBACK. MariaDB (10.5+) keeps a prepared transaction whose connection went
 * away (a kill -9, a cut), and any connection of the same grants (SELECT,
 * INSERT, UPDATE) may then list it (XA RECOVER) and finish it; a transaction
 * still attached to a live connection is "unknown" to the others (XAER_NOTA).
 */

export interface PreparedUseChange {
  xid: string;
  /** WHMCS's `uses` after this change, once committed. */
  uses: number;
  /** XA COMMIT on its own connection; false when that failed (the coordinator's repair finishes it). */
  commit(): Promise<boolean>;
  /** XA ROLLBACK on its own connection; false when that failed (the coordinator's repair finishes it). */
  rollback(): Promise<boolean>;
  /** Leave it prepared, undecided: its connection is closed, so repair (another connection) can finish it. */
  detach(): void;
}

export type UseChange = 'count' | 'give back';

const STATEMENTS: Record<UseChange, string> = {
  // The guard of WHMCS's own checkout: maxuses 0 is unlimited. LAST_INSERT_ID(expr) hands this connection's own new value back.
  count: `set statement innodb_lock_wait_timeout = ${LOCK_WAIT_SECONDS} for update tblpromotions set uses = last_insert_id(uses + 1) where id = ? and (maxuses = 0 or uses < maxuses)`,
  // Never below zero (an admin may have reset it by hand).
  'give back': `set statement innodb_lock_wait_timeout = ${LOCK_WAIT_SECONDS} for update tblpromotions set uses = last_insert_id(uses - 1) where id = ? and uses > 0`,
};

/**
 * Phase one for one tblpromotions row. Undefined when the guard refused (used
 * up; or nothing to give back): then nothing is prepared and nothing changed.
 * Throws when WHMCS fails; if that happened during PREPARE itself, the xid may
 * be left prepared, undecided, for repair to roll back.
 */
export async function prepareUseChange(db: WhmcsDb, id: number, change: UseChange, xid: string): Promise<PreparedUseChange | undefined> {
  const conn = await connectionFrom(poolOf(db));
  let phase: 'active' | 'preparing' = 'active';
  try {
    await run(conn, 'xa start ?', [xid]);
    const updated = (await run(conn, STATEMENTS[change], [id])) as { affectedRows: number };
    const uses = updated.affectedRows === 1 ? Number(((await run(conn, 'select last_insert_id() as uses', [])) as { uses: number }[])[0].uses) : undefined;
    await run(conn, 'xa end ?', [xid]);
    if (uses === undefined) {
      await run(conn, 'xa rollback ?', [xid]);
      conn.release();
      return undefined;
    }
    phase = 'preparing';
    await run(conn, 'xa prepare ?', [xid]);
    return preparedOn(conn, xid, uses);
  } catch (error) {
    if (phase === 'active') await abortActive(conn, xid);
    else conn.destroy(); // maybe prepared: only another connection may finish it now
    throw error;
  }
}

function preparedOn(conn: PoolConnection, xid: string, uses: number): PreparedUseChange {
  let open = true;
  const finish = async (statement: string): Promise<boolean> => {
    if (!open) return false;
    open = false;
    try {
      await run(conn, statement, [xid]);
      conn.release();
      return true;
    } catch {
      conn.destroy();
      return false;
    }
  };
  return {
    xid,
    uses,
    commit: () => finish('xa commit ?'),
    rollback: () => finish('xa rollback ?'),
    detach() {
      if (!open) return;
      open = false;
      conn.destroy();
    },
  };
}

/** Before PREPARE a failure rolls the XA transaction back; a connection that cannot say so is closed (the server then rolls it back). */
async function abortActive(conn: PoolConnection, xid: string): Promise<void> {
  try {
    await run(conn, 'xa end ?', [xid]).catch(() => undefined); // already ended, or rolled back by a deadlock
    await run(conn, 'xa rollback ?', [xid]);
    conn.release();
  } catch {
    conn.destroy();
  }
}

/** Prepared XA transactions whose xid starts with `prefix`, attached to a live connection or not. */
export async function recoverPrepared(db: WhmcsDb, prefix: string): Promise<string[]> {
  const conn = await connectionFrom(poolOf(db));
  try {
    const rows = (await run(conn, 'xa recover', [])) as { data: string | Buffer }[];
    conn.release();
    return rows.map((row) => String(row.data)).filter((xid) => xid.startsWith(prefix));
  } catch (error) {
    conn.destroy();
    throw error;
  }
}

/**
 * Phase two from any connection, for a transaction whose own connection went
 * away. 'not found': already finished, or still attached to a live connection
 * (which then finishes it itself).
 */
export async function finishPrepared(db: WhmcsDb, xid: string, decision: 'commit' | 'rollback'): Promise<'done' | 'not found'> {
  const conn = await connectionFrom(poolOf(db));
  try {
    await run(conn, decision === 'commit' ? 'xa commit ?' : 'xa rollback ?', [xid]);
    conn.release();
    return 'done';
  } catch (error) {
    if ((error as { errno?: number }).errno === ER_XAER_NOTA) {
      conn.release();
      return 'not found';
    }
    conn.destroy();
    throw error;
  }
}

/** "XAER_NOTA: Unknown XID". */
const ER_XAER_NOTA = 1397;

function connectionFrom(pool: Pool): Promise<PoolConnection> {
  return new Promise((resolve, reject) => pool.getConnection((error, conn) => (error ? reject(error) : resolve(conn))));
}

function run(conn: PoolConnection, text: string, values: unknown[]): Promise<unknown> {
  return new Promise((resolve, reject) => conn.query(text, values, (error, result) => (error ? reject(error) : resolve(result))));
}
