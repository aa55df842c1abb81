import { PromoError } from '../domain/errors.js';

/**
 * Who may do what in Slack. PROMO_ADMINS may create, edit, rotate, archive
 * and generate; everyone may use `info` (without secrets) and `list`. With no
 * admins configured everyone is an admin (start-up warns about it).
 */
export interface Permissions {
  readonly everyoneIsAdmin: boolean;
  isAdmin(userId: string | undefined): boolean;
  /** Throws `forbidden` with a sentence naming what was refused. */
  requireAdmin(userId: string | undefined, doing: string): void;
}

export function createPermissions(adminIds: readonly string[]): Permissions {
  const admins = new Set(adminIds);
  const everyoneIsAdmin = admins.size === 0;
  const isAdmin = (userId: string | undefined) => everyoneIsAdmin || (userId !== undefined && admins.has(userId));
  return {
    everyoneIsAdmin,
    isAdmin,
    requireAdmin(userId, doing) {
      if (!isAdmin(userId)) {
        throw new PromoError('forbidden', `Only promo admins may ${doing}. Ask a promo admin, or ask to be added to PROMO_ADMINS.`);
      }
    },
  };
}
