import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Core } from '../service/core.js';
import type { Readiness } from '../service/readiness.js';
import type { IpAllowlists } from './allowlist.js';
import type { ClientIpResolver } from './client-ip.js';
import type { RateLimits } from './rate-limit.js';

/**
 * The types routes and the server share. This module imports no route, so
 * routes depend on it and server.ts depends on the routes: no circle.
 */
export interface HttpContext {
  core: Core;
  config: Config;
  logger: Logger;
  /** The dependency probes behind GET /readyz (added by the composition root). */
  readiness: Readiness;
}

/** What route handlers get: the context plus the per-server helpers built once at start. */
export interface AppContext extends HttpContext {
  clientIp: ClientIpResolver;
  allowlists: IpAllowlists;
  rateLimits: RateLimits;
}

export interface RouteRequest {
  req: IncomingMessage;
  res: ServerResponse;
  app: AppContext;
  /** The pattern's capture groups. */
  params: string[];
  /** Read only: a request without a query string shares one empty instance. */
  query: QueryParams;
}

export type QueryParams = Pick<URLSearchParams, 'get' | 'getAll' | 'has'>;

export type RouteHandler = (request: RouteRequest) => Promise<void> | void;
export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface Route {
  /**
   * The path template as the OpenAPI document writes it (`/sets/{token}/codes`).
   * Access logs and metrics name a request by it: never by its URL, which may hold a set token.
   */
  name: string;
  pattern: RegExp;
  methods: Partial<Record<Method, RouteHandler>>;
}
