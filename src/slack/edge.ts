import { PromoError } from '../domain/errors.js';
import type { Logger } from '../log.js';
import { truncate } from '../domain/text.js';

/**
 * The Slack edge's one mapping of errors: a PromoError's sentence goes to the
 * person; anything else is our bug, logged with its stack, and the person is
 * told nothing was saved (no stack traces in Slack either).
 */
export function errorText(error: unknown, logger: Logger): string {
  if (error instanceof PromoError) return error.message;
  logger.error('unhandled error in Slack listener', { error: error instanceof Error ? error.stack : String(error) });
  return 'Something went wrong on our side; nothing was saved. Please try again.';
}

/**
 * `response_action: 'errors'` for a modal: each field message on the block of
 * the same name; a message with no matching block goes on `fallbackBlock`.
 */
export function viewErrors(error: unknown, blockIds: string[], fallbackBlock: string, logger: Logger): Record<string, string> {
  const errors: Record<string, string> = {};
  if (error instanceof PromoError) {
    for (const [field, message] of Object.entries(error.fields)) {
      if (blockIds.includes(field)) errors[field] = truncate(message, 150);
    }
  }
  if (Object.keys(errors).length === 0) errors[fallbackBlock] = truncate(errorText(error, logger), 150);
  return errors;
}
