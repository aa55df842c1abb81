import { PromoError } from '../domain/errors.js';
import { classifyStoreError } from '../store/errors.js';

/**
 * The one translation of failures into what a person or client is told,
 * shared by every edge (HTTP, Slack, CLI): a PromoError as it is; a database
 * that is busy or unreachable becomes its PromoError (503, Retry-After);
 * anything else is undefined, a bug the edge logs and answers with a generic 500.
 */
export function asPromoError(error: unknown): PromoError | undefined {
  if (error instanceof PromoError) return error;
  switch (classifyStoreError(error)) {
    case 'busy':
      return new PromoError('database_busy', 'The database is busy with other requests right now; nothing was saved. Please retry in a moment.', {}, { retryAfterSeconds: 1 });
    case 'unreachable':
      return new PromoError('database_unavailable', 'promoset cannot reach its database right now; nothing was saved. Please retry in a minute.', {}, { retryAfterSeconds: 5 });
    default:
      return undefined;
  }
}

/** What an unexpected failure (our bug) tells the person: nothing about its cause. */
export const INTERNAL_ERROR_TEXT = 'Something went wrong on our side; nothing was saved. Please try again.';

/** An HTTP reply for any error, in the `{result:"error",message,code,fields}` shape. */
export interface ErrorReply {
  status: number;
  headers: Record<string, string>;
  body: { result: 'error'; message: string; code: string; fields: Record<string, string> };
  /** True when the error was no PromoError: the edge logs it with its stack. */
  unexpected: boolean;
}

export function errorReply(error: unknown): ErrorReply {
  const known = asPromoError(error);
  if (!known) return { status: 500, headers: {}, body: { result: 'error', message: INTERNAL_ERROR_TEXT, code: 'internal_error', fields: {} }, unexpected: true };
  return {
    status: known.status,
    headers: known.retryAfterSeconds === undefined ? {} : { 'retry-after': String(known.retryAfterSeconds) },
    body: { result: 'error', message: known.message, code: known.code, fields: known.fields },
    unexpected: false,
  };
}
