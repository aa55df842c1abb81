import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/** "::ffff:203.0.113.7" (an IPv4 client on a dual-stack socket) is 203.0.113.7. */
export function normaliseIp(address: string): string {
  const trimmed = address.trim();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(trimmed);
  return mapped ? mapped[1] : trimmed.toLowerCase();
}

/** A BlockList of IPs and CIDRs (entries already validated by the set's or config's parser). */
export function toBlockList(entries: string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, bits] = entry.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return list;
}

export function blockListHas(list: BlockList, ip: string): boolean {
  const family = isIP(ip);
  if (family === 0) return false;
  return list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
}

export type ClientIpResolver = (req: IncomingMessage) => string;

/**
 * The address each request came from, taken once when it arrives (the server
 * calls the resolver first thing): once a body reader or a hang-up has
 * destroyed the request, `req.socket` is null and the peer is gone.
 */
const ARRIVED_FROM = Symbol('promoset.clientIp');
type Stamped = IncomingMessage & { [ARRIVED_FROM]?: string };

/** The last peer address seen, normalised: a keep-alive client sends many requests from one. */
let lastPeer = { raw: '', ip: '' };

function peerOf(req: IncomingMessage): string {
  const raw = req.socket?.remoteAddress ?? '';
  if (raw !== lastPeer.raw) lastPeer = { raw, ip: normaliseIp(raw) };
  return lastPeer.ip;
}

/**
 * The client's address: the socket's peer, unless that peer is a proxy listed
 * in TRUST_PROXY. Then X-Forwarded-For is read from the right, skipping our own
 * trusted proxies; the first address not in TRUST_PROXY is the client. A
 * malformed entry stops the walk at the last hop we could vouch for, so a
 * client cannot smuggle an address past a proxy that appends to the header.
 */
export function createClientIpResolver(trustProxy: string[]): ClientIpResolver {
  const resolve = resolverFor(trustProxy);
  // Kept on the request itself: a WeakMap entry per request cost more than the lookup saved.
  return (req: Stamped) => (req[ARRIVED_FROM] ??= resolve(req));
}

function resolverFor(trustProxy: string[]): ClientIpResolver {
  if (trustProxy.length === 0) return peerOf;
  const trusted = toBlockList(trustProxy);
  return (req) => {
    let client = peerOf(req);
    if (!blockListHas(trusted, client)) return client;
    const header = req.headers['x-forwarded-for'];
    if (header === undefined) return client;
    const hops = (Array.isArray(header) ? header.join(',') : header).split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normaliseIp(hops[i]);
      if (isIP(hop) === 0) return client;
      client = hop;
      if (!blockListHas(trusted, hop)) return hop;
    }
    return client;
  };
}
