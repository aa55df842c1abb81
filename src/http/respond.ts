import type { ServerResponse } from 'node:http';
import { PromoError } from '../domain/errors.js';
import type { Logger } from '../log.js';
import { databaseUnavailable, isDatabaseUnreachable } from '../store/db.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * The HTTP edge's one mapping of errors: a PromoError becomes its status and
 * `{result:"error",message,code,fields}`; anything else is our bug, logged
 * with its stack and answered with a plain 500 that reveals nothing. An
 * unreachable database is no bug: 503 database_unavailable, with Retry-After.
 */
export function sendError(res: ServerResponse, error: unknown, logger: Logger): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (isDatabaseUnreachable(error)) {
    logger.warn('the database cannot be reached: answered 503', { error: error instanceof Error ? error.message : String(error) });
    error = databaseUnavailable();
  }
  if (error instanceof PromoError) {
    sendJson(res, error.status, error.toJSON(), error.retryAfterSeconds === undefined ? {} : { 'retry-after': String(error.retryAfterSeconds) });
    return;
  }
  logger.error('unhandled error in request', { error: error instanceof Error ? error.stack : String(error) });
  sendJson(res, 500, { result: 'error', message: 'Something went wrong on our side; nothing was saved. Please try again.', code: 'internal_error', fields: {} });
}
