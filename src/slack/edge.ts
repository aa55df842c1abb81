import type { Logger } from '../log.js';
import { truncate } from '../domain/text.js';
import { asPromoError, INTERNAL_ERROR_TEXT } from '../service/errors.js';

/**
 * The Slack edge's one mapping of errors: a PromoError's sentence goes to the
 * person; anything else is our bug, logged with its stack, and the person is
 * told nothing was saved (no stack traces in Slack either).
 */
export function errorText(error: unknown, logger: Logger): string {
  const known = asPromoError(error);
  if (known) return known.message;
  logger.error('unhandled error in Slack listener', { error: error instanceof Error ? error.stack : String(error) });
  return INTERNAL_ERROR_TEXT;
}

/**
 * `response_action: 'errors'` for a modal: each field message on the block of
 * the same name; a message with no matching block goes on `fallbackBlock`.
 */
export function viewErrors(error: unknown, blockIds: string[], fallbackBlock: string, logger: Logger): Record<string, string> {
  const errors: Record<string, string> = {};
  const known = asPromoError(error);
  if (known) {
    for (const [field, message] of Object.entries(known.fields)) {
      if (blockIds.includes(field)) errors[field] = truncate(message, 150);
    }
  }
  if (Object.keys(errors).length === 0) errors[fallbackBlock] = truncate(errorText(error, logger), 150);
  return errors;
}
