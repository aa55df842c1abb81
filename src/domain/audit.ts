/** What the audit trail records about a set: one event per change, by whom and when. */
export type AuditAction = 'created' | 'edited' | 'rotated' | 'archived' | 'generated' | 'voided' | 'unvoided' | 'webhook_secret_rotated' | 'webhook_resent'
  | 'approval_requested' | 'approval_approved' | 'approval_denied' | 'approval_expired' | 'approval_issued';

export interface AuditEvent {
  id: number;
  set_id: number;
  action: AuditAction;
  actor: string;
  detail: Record<string, unknown>;
  created_at: string;
}
