import type { AuditAction, AuditEvent } from '../domain/audit.js';
import type { Db } from './db.js';

export type { AuditAction, AuditEvent };

export async function insertAuditEvent(db: Db, event: Omit<AuditEvent, 'id'>): Promise<void> {
  await db.insertInto('audit_events').values({ ...event, detail: JSON.stringify(event.detail) }).execute();
}

/** Newest first. */
export async function listAuditEvents(db: Db, setId: number, limit = 100): Promise<AuditEvent[]> {
  const rows = await db.selectFrom('audit_events').selectAll().where('set_id', '=', setId).orderBy('id', 'desc').limit(limit).execute();
  return rows.map((row) => ({
    id: Number(row.id),
    set_id: Number(row.set_id),
    action: row.action as AuditAction,
    actor: row.actor,
    detail: JSON.parse(row.detail) as Record<string, unknown>,
    created_at: row.created_at,
  }));
}

export async function countAuditEvents(db: Db, setId: number): Promise<number> {
  const row = await db.selectFrom('audit_events').select((eb) => eb.fn.countAll<number | string>().as('n')).where('set_id', '=', setId).executeTakeFirstOrThrow();
  return Number(row.n);
}
