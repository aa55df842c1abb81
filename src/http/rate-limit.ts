import { PromoError } from '../domain/errors.js';

const WINDOW_MS = 60_000;

/**
 * A fixed one-minute window per key (set and client IP), opened by the key's
 * first request. In-process: with N instances behind a load balancer each one
 * counts on its own, so a client can get up to N times the limit.
 */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();
  private lastSweep = 0;

  constructor(
    readonly limitPerMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one request; returns the seconds to wait if it is over the limit, else 0. */
  hit(key: string): number {
    if (this.limitPerMinute <= 0) return 0;
    const now = this.now();
    this.sweep(now);
    let window = this.windows.get(key);
    if (window === undefined || now - window.start >= WINDOW_MS) {
      window = { start: now, count: 0 };
      this.windows.set(key, window);
    }
    window.count++;
    if (window.count <= this.limitPerMinute) return 0;
    return Math.max(1, Math.ceil((window.start + WINDOW_MS - now) / 1000));
  }

  /** Drop finished windows at most once a minute, so memory follows the last minute's clients. */
  private sweep(now: number): void {
    if (now - this.lastSweep < WINDOW_MS) return;
    this.lastSweep = now;
    for (const [key, window] of this.windows) {
      if (now - window.start >= WINDOW_MS) this.windows.delete(key);
    }
  }
}

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
 * The limits of one server: single-code POSTs at RATE_LIMIT_PER_MINUTE, and
 * bulk POSTs (up to 100,000 codes each) at a sixtieth of it, at least one a
 * minute: 10 a minute at the default of 600.
 */
export function createRateLimits(perMinute: number) {
  return {
    single: new RateLimiter(perMinute),
    bulk: new RateLimiter(perMinute <= 0 ? 0 : Math.max(1, Math.floor(perMinute / 60))),
  };
}
export type RateLimits = ReturnType<typeof createRateLimits>;

export function rateLimited(retryAfterSeconds: number, limit: number, what: string): PromoError {
  return new PromoError(
    'rate_limited',
    `Too many ${what} requests from your address to this promo set: the limit is ${limit} a minute. Retry in ${retryAfterSeconds} seconds.`,
  );
}
