import type { Db } from './db.js';

/** Voiding: promotions taken out of use (and restored), by id or by batch. */

/** Void (or restore, with `voidedAt` null) promotions by id, in one statement; returns the rows that changed. */
export async function setVoided(db: Db, ids: number[], voidedAt: string | null): Promise<number[]> {
  const changed: number[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await db
      .updateTable('promotions')
      .set({ voided_at: voidedAt })
      .where('id', 'in', ids.slice(i, i + 500))
      .where('voided_at', voidedAt === null ? 'is not' : 'is', null)
      .returning('id')
      .execute();
    changed.push(...rows.map((r) => Number(r.id)));
  }
  return changed;
}

/** Void (or restore) every promotion of a batch in ONE statement, whatever its size; returns how many changed. */
export async function setBatchVoided(db: Db, batchId: number, voidedAt: string | null): Promise<number> {
  const result = await db
    .updateTable('promotions')
    .set({ voided_at: voidedAt })
    .where('batch_id', '=', batchId)
    .where('voided_at', voidedAt === null ? 'is not' : 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
