import type { Config } from '../config.js';
import { PromoError } from '../domain/errors.js';
import type { Core } from '../service/core.js';
import { createLimiter, FailedAuthLimiter, RateLimiter, type Limiter } from '../service/rate-limits.js';

export { RateLimiter, type Limiter };

/**
 * Whom a limit counts: an IPv4 address, or an IPv6 client's /64. One IPv6
 * subscriber usually holds a whole /64, so counting full addresses would let
 * it multiply its allowance by rotating them.
 */
export function rateLimitClient(ip: string): string {
  // IPv4-mapped addresses were already turned into IPv4 (normaliseIp).
  if (!ip.includes(':')) return ip;
  const [head, tail = ''] = ip.toLowerCase().split('%')[0].split('::');
  const left = head ? head.split(':') : [];
  const right = ip.includes('::') && tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/**
 * The limits of one server (deployment-wide on PostgreSQL): single-code POSTs
 * at RATE_LIMIT_PER_MINUTE; bulk POSTs (up to 100,000 codes each) at a
 * sixtieth of it, at least one a minute (10 at the default of 600);
 * validations, redemptions and rollbacks at REDEMPTION_RATE_LIMIT_PER_MINUTE
 * (a checkout serves many customers from one address); failed
 * authentication per client address at AUTH_FAILURES_PER_MINUTE.
 */
export function createRateLimits(config: Pick<Config, 'RATE_LIMIT_PER_MINUTE' | 'REDEMPTION_RATE_LIMIT_PER_MINUTE' | 'AUTH_FAILURES_PER_MINUTE'>, core: Core, onFallback?: (error: unknown) => void) {
  const perMinute = config.RATE_LIMIT_PER_MINUTE;
  return {
    single: createLimiter(core, 'single', perMinute, onFallback),
    bulk: createLimiter(core, 'bulk', perMinute <= 0 ? 0 : Math.max(1, Math.floor(perMinute / 60)), onFallback),
    redemptions: createLimiter(core, 'redeem', config.REDEMPTION_RATE_LIMIT_PER_MINUTE, onFallback),
    authFailures: new FailedAuthLimiter(createLimiter(core, 'auth', config.AUTH_FAILURES_PER_MINUTE, onFallback)),
  };
}
export type RateLimits = ReturnType<typeof createRateLimits>;

export function rateLimited(retryAfterSeconds: number, limit: number, what: string): PromoError {
  return new PromoError(
    'rate_limited',
    `Too many ${what} requests from your address to this promo set: the limit is ${limit} a minute. Retry in ${retryAfterSeconds} seconds.`,
  );
}

function tooManyFailures(retryAfterSeconds: number, limit: number): PromoError {
  return new PromoError(
    'rate_limited',
    `Too many failed attempts to authenticate from your address: the limit is ${limit} a minute. Retry in ${retryAfterSeconds} seconds.`,
    {},
    { retryAfterSeconds },
  );
}

/** Before checking a credential: 429 while this client is blocked for failing too often (no I/O). */
export function assertNotBlocked(limits: RateLimits, ip: string): void {
  const wait = limits.authFailures.blocked(rateLimitClient(ip));
  if (wait > 0) throw tooManyFailures(wait, limits.authFailures.limiter.limitPerMinute);
}

/** After a credential failed: count it, and answer 429 instead of `refusal` once past the limit. */
export async function authenticationFailed(limits: RateLimits, ip: string, refusal: unknown): Promise<never> {
  const wait = await limits.authFailures.failed(rateLimitClient(ip));
  if (wait > 0) throw tooManyFailures(wait, limits.authFailures.limiter.limitPerMinute);
  throw refusal;
}
