import type { BlockList } from 'node:net';
import { PromoError } from '../domain/errors.js';
import { blockListHas, toBlockList } from './client-ip.js';

/**
 * A set's `api_ip_address` ("any", or IPs and CIDRs, IPv4 and IPv6) compiled
 * once into a BlockList and cached by its text, so the hot path does a lookup,
 * not a parse. Editing a set changes the text, hence the cache key.
 */
export class IpAllowlists {
  private readonly cache = new Map<string, BlockList | 'any'>();

  allows(allowlist: string, ip: string): boolean {
    const compiled = this.compile(allowlist);
    return compiled === 'any' || blockListHas(compiled, ip);
  }

  /** Throws 403 naming the address seen, so the caller knows what to add. */
  assertAllowed(allowlist: string, ip: string): void {
    if (this.allows(allowlist, ip)) return;
    throw new PromoError(
      'forbidden',
      `Requests from IP ${ip || 'unknown'} are not allowed for this promo set. Ask the set owner to add ${ip || 'your address'} to its api_ip_address list.`,
    );
  }

  private compile(allowlist: string): BlockList | 'any' {
    let compiled = this.cache.get(allowlist);
    if (compiled === undefined) {
      const entries = allowlist.split(',').map((e) => e.trim()).filter(Boolean);
      compiled = entries.length === 0 || entries.some((e) => e.toLowerCase() === 'any') ? 'any' : toBlockList(entries);
      // Sets are few; the bound only guards against unbounded growth from many edits.
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(allowlist, compiled);
    }
    return compiled;
  }
}
