import type { ServerResponse } from 'node:http';

/**
 * Fields a route adds to its request's one access-log line (a bulk batch's
 * id and count), so the line alone says what a 100k-code request made.
 */
const extras = new WeakMap<ServerResponse, Record<string, unknown>>();

export function addToAccessLog(res: ServerResponse, fields: Record<string, unknown>): void {
  extras.set(res, { ...extras.get(res), ...fields });
}

export function accessLogExtras(res: ServerResponse): Record<string, unknown> | undefined {
  return extras.get(res);
}
