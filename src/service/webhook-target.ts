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
  ['::', 128], ['::1', 128], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23], ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) blocked.addSubnet(net, bits, 'ipv6');

/** The 16 bytes of an IPv6 address (already checked by isIP), a trailing dotted quad included. */
function ipv6Bytes(address: string): number[] {
  let text = address.toLowerCase().split('%')[0];
  const quad = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number);
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return groups.flatMap((group) => {
    const value = parseInt(group, 16);
    return [value >> 8, value & 255];
  });
}

const zeros = (bytes: number[], from: number, to: number) => bytes.slice(from, to).every((b) => b === 0);
const dotted = (bytes: number[], at: number) => bytes.slice(at, at + 4).join('.');

/**
 * The IPv4 addresses an IPv6 address carries, wherever a router or a host
 * stack would reach that IPv4 address instead: IPv4-compatible (::/96),
 * IPv4-mapped (::ffff:0:0/96), IPv4-translated (::ffff:0:0:0/96), NAT64
 * (64:ff9b::/96, RFC 6052) and 6to4 (2002::/16, the address after 2002:).
 * The local-use NAT64 prefix 64:ff9b:1::/48 is refused whole (blocked list).
 */
function embeddedIpv4(bytes: number[]): string[] {
  const found: string[] = [];
  if (zeros(bytes, 0, 12)) found.push(dotted(bytes, 12));
  if (zeros(bytes, 0, 10) && bytes[10] === 255 && bytes[11] === 255) found.push(dotted(bytes, 12));
  if (zeros(bytes, 0, 8) && bytes[8] === 255 && bytes[9] === 255 && zeros(bytes, 10, 12)) found.push(dotted(bytes, 12));
  if (bytes[0] === 0 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b && zeros(bytes, 4, 12)) found.push(dotted(bytes, 12));
  if (bytes[0] === 0x20 && bytes[1] === 0x02) found.push(dotted(bytes, 2));
  return found;
}

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family === 6) {
    if (embeddedIpv4(ipv6Bytes(address)).some((v4) => blocked.check(v4, 'ipv4'))) return true;
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
