import type { ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import { errorReply } from '../service/errors.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * The HTTP edge's one mapping of errors (service/errors.ts decides the reply):
 * a PromoError (a busy or unreachable database included) becomes its status and
 * `{result:"error",message,code,fields}`; anything else is our bug, logged
 * with its stack and answered with a plain 500 that reveals nothing.
 */
export function sendError(res: ServerResponse, error: unknown, logger: Logger): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const reply = errorReply(error);
  if (reply.unexpected) logger.error('unhandled error in request', { error: error instanceof Error ? error.stack : String(error) });
  else if (reply.body.code === 'database_unavailable') logger.warn('the database cannot be reached: answered 503', { error: error instanceof Error ? error.message : String(error) });
  sendJson(res, reply.status, reply.body, reply.headers);
}
