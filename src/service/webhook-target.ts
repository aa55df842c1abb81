import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { PromoError } from '../domain/errors.js';

/**
 * Where a webhook may point. Promoset POSTs from inside its own network, so a
 * URL naming (or resolving to) a loopback, private, link-local, CGNAT or other
 * special-purpose address could reach services never meant to be public
 * (SSRF). Checked when the URL is set and again for every delivery, on the
 * address actually connected to (DNS may have changed: rebinding).
 */
const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128], ['::1', 128], ['100::', 64], ['2001::', 23], ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) blocked.addSubnet(net, bits, 'ipv6');

/** The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible or NAT64 (64:ff9b::/96) IPv6 address. */
function embeddedIpv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:|::|64:ff9b::)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) {
    const high = parseInt(hex[1], 16);
    const low = parseInt(hex[2], 16);
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  return undefined;
}

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family === 6) {
    const v4 = embeddedIpv4(address);
    if (v4 !== undefined) return blocked.check(v4, 'ipv4');
    return blocked.check(address, 'ipv6');
  }
  return true; // not an address at all: refuse
}

export interface ResolvedTarget {
  address: string;
  family: 4 | 6;
}

/**
 * Resolve `hostname` and refuse it when any of its addresses is private
 * (unless allowed). Returns the first address, to connect to exactly that one.
 */
export async function resolveWebhookHost(hostname: string, allowPrivate: boolean): Promise<ResolvedTarget> {
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  let addresses: { address: string; family: number }[];
  if (isIP(host) !== 0) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    try {
      addresses = await lookup(host, { all: true, verbatim: true });
    } catch {
      throw new PromoError('validation_failed', `The webhook host "${host.slice(0, 100)}" could not be resolved.`, { webhook_url: 'This host name does not resolve.' });
    }
  }
  if (addresses.length === 0) throw new PromoError('validation_failed', `The webhook host "${host.slice(0, 100)}" could not be resolved.`, { webhook_url: 'This host name does not resolve.' });
  if (!allowPrivate) {
    const privateOne = addresses.find((a) => isPrivateAddress(a.address));
    if (privateOne) {
      throw new PromoError(
        'validation_failed',
        `The webhook URL points to a private or local network address (${privateOne.address}); promoset only delivers to public addresses. An operator can allow private targets with WEBHOOK_ALLOW_PRIVATE_NETWORKS=true.`,
        { webhook_url: 'Use a public address.' },
      );
    }
  }
  return { address: addresses[0].address, family: addresses[0].family === 6 ? 6 : 4 };
}

/** Set-time check of a webhook URL (its shape was checked by the domain). */
export async function assertWebhookTarget(url: string, allowPrivate: boolean): Promise<void> {
  await resolveWebhookHost(new URL(url).hostname, allowPrivate);
}
