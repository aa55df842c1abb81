import { isPostgres } from '../store/dialect.js';
import { addRateLimitHits, deleteRateLimitsBefore } from '../store/rate-limits.js';
import type { Core } from './core.js';

const WINDOW_MS = 60_000;

/** Counts requests per key and minute; `hit` gives the seconds to wait when over the limit, else 0. */
export interface Limiter {
  readonly limitPerMinute: number;
  hit(key: string): number | Promise<number>;
}

/**
 * A fixed one-minute window per key, opened by the key's first request, in
 * this process only: right for one process (SQLite is one host), and the
 * fallback of the shared limiter while PostgreSQL cannot be reached.
 */
export class RateLimiter implements Limiter {
  private readonly windows = new Map<string, { start: number; count: number }>();
  private lastSweep = 0;

  constructor(
    readonly limitPerMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

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

interface Pending {
  key: string;
  window: number;
  n: number;
  waiters: ((total: number) => void)[];
}

/**
 * One deployment-wide limit on PostgreSQL: every instance counts into the
 * same row per key and minute (calendar minutes), so 3 instances at 600 a
 * minute still let a client through 600 times, not 1,800. The hot path
 * stays one statement: hits that arrive while a statement is in flight are
 * summed per key and sent together in the next one, and each waiter learns
 * its own position in the total. If the database cannot be reached, this
 * process counts on its own until it can (a limit must not become an outage).
 */
export class SharedRateLimiter implements Limiter {
  private pending = new Map<string, Pending>();
  private flushing = false;
  private lastPruned = 0;
  private readonly fallback: RateLimiter;

  constructor(
    private readonly core: Core,
    private readonly name: string,
    readonly limitPerMinute: number,
    private readonly onFallback: (error: unknown) => void = () => undefined,
  ) {
    this.fallback = new RateLimiter(limitPerMinute);
  }

  hit(key: string): number | Promise<number> {
    if (this.limitPerMinute <= 0) return 0;
    // The service's clock (core.now), so a test can hold a whole run inside one calendar minute.
    const now = this.core.now().getTime();
    const window = Math.floor(now / WINDOW_MS);
    const id = `${window}|${this.name}|${key}`;
    return new Promise<number>((resolve) => {
      let entry = this.pending.get(id);
      if (entry === undefined) {
        entry = { key: `${this.name}|${key}`, window, n: 0, waiters: [] };
        this.pending.set(id, entry);
      }
      entry.n++;
      entry.waiters.push((total) => resolve(total <= this.limitPerMinute ? 0 : Math.max(1, Math.ceil(((window + 1) * WINDOW_MS - this.core.now().getTime()) / 1000))));
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.size > 0) {
        const batch = [...this.pending.values()];
        this.pending = new Map();
        try {
          const totals = await addRateLimitHits(this.core.db, batch);
          for (const entry of batch) {
            const total = totals.get(`${entry.window}|${entry.key}`) ?? entry.n;
            // This statement added entry.n: the waiters were hits total-n+1 … total, in arrival order.
            entry.waiters.forEach((resolve, i) => resolve(total - entry.n + 1 + i));
          }
          this.prune(batch[0].window);
        } catch (error) {
          this.onFallback(error);
          const over = this.limitPerMinute + 1;
          for (const entry of batch) for (const resolve of entry.waiters) resolve(this.fallback.hit(entry.key) === 0 ? 0 : over);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Minutes before the last one are dead weight: dropped once a minute, by whichever instance gets there. */
  private prune(window: number): void {
    if (window <= this.lastPruned) return;
    this.lastPruned = window;
    void deleteRateLimitsBefore(this.core.db, window - 1).catch(() => undefined);
  }
}

/** A limiter for this deployment: shared through PostgreSQL, else in this process. */
export function createLimiter(core: Core, name: string, perMinute: number, onFallback?: (error: unknown) => void): Limiter {
  return isPostgres(core.db) && perMinute > 0 ? new SharedRateLimiter(core, name, perMinute, onFallback) : new RateLimiter(perMinute);
}

/**
 * Failed authentication per client (admin token, WHMCS credentials, set
 * URLs): every failure is counted by `limiter` (deployment-wide on
 * PostgreSQL); a client past the limit is refused here without a check until
 * its minute ends. The block is remembered in this process, so the requests
 * that succeed pay nothing: only failures are counted.
 */
export class FailedAuthLimiter {
  private readonly blockedUntil = new Map<string, number>();

  constructor(readonly limiter: Limiter) {}

  /** Seconds this client must wait before trying again, else 0. No I/O. */
  blocked(client: string): number {
    if (this.blockedUntil.size === 0) return 0;
    const until = this.blockedUntil.get(client);
    if (until === undefined) return 0;
    const wait = Math.ceil((until - Date.now()) / 1000);
    if (wait > 0) return wait;
    this.blockedUntil.delete(client);
    return 0;
  }

  /** Count one failure; the seconds to wait when it went past the limit, else 0. */
  async failed(client: string): Promise<number> {
    const wait = await this.limiter.hit(client);
    if (wait > 0) {
      if (this.blockedUntil.size > 10_000) this.sweep();
      this.blockedUntil.set(client, Date.now() + wait * 1000);
    }
    return wait;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [client, until] of this.blockedUntil) if (until <= now) this.blockedUntil.delete(client);
  }
}
