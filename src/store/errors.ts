/**
 * The store's classification of database failures. The store says *what*
 * happened; the sentence a person reads and the HTTP status are the service's
 * (service/errors.ts), mapped once at each edge.
 */
export type StoreFailure =
  /** Write conflicts (deadlocks, a held SQLite lock) outlasted the retries: nothing was saved, retrying is safe. */
  | 'busy'
  /** The database could not be reached at all (network, restart, crash): nothing was saved. */
  | 'unreachable';

/** Thrown by the store when it gives up for a reason that is the database's, not the request's. */
export class StoreError extends Error {
  readonly failure: StoreFailure;

  constructor(failure: StoreFailure, message: string) {
    super(message);
    this.name = 'StoreError';
    this.failure = failure;
  }
}

/** Errors that mean the database could not be reached at all, not that it refused the statement. */
const UNREACHABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
// SQLSTATE class 08 (connection exception) and 57P01–57P03 (shutdown, crash, cannot connect now).
const UNREACHABLE_SQLSTATE = /^(08...|57P0[123])$/;

/**
 * PostgreSQL's verdicts on a transaction that lost a race with another one:
 * a deadlock (two inserts each waiting on the other's uncommitted unique
 * key, frequent in a short code space) or a serialization failure. Nothing
 * of it was kept, so running the whole transaction again is correct.
 */
const RETRYABLE_SQLSTATES = new Set(['40P01', '40001']);

/** What kind of database failure `error` is, or undefined when it is none (a bug, a refused statement, a PromoError). */
export function classifyStoreError(error: unknown): StoreFailure | undefined {
  if (error instanceof StoreError) return error.failure;
  return isDatabaseUnreachable(error) ? 'unreachable' : undefined;
}

/**
 * The database itself is gone (network, restart, crash), as opposed to a bug
 * or a refused statement: callers may answer 503 and a retry may succeed.
 */
export function isDatabaseUnreachable(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (UNREACHABLE_ERRNOS.has(code) || UNREACHABLE_SQLSTATE.test(code))) return true;
  // pg reports a socket closed mid-query in words only.
  return typeof message === 'string' && /^Connection terminated|^timeout exceeded when trying to connect/.test(message);
}

export function isRetryableConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && RETRYABLE_SQLSTATES.has(code);
}
