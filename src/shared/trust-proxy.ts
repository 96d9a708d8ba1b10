import ipaddr from 'ipaddr.js';

/** Fastify's trustProxy: off, every hop (development only), a hop count, or the proxies' addresses/CIDRs. */
export type TrustProxy = boolean | number | string[];

/** TRUST_PROXY: unset/false/0, true, a hop count, or a comma-separated list of addresses and CIDRs. */
export function parseTrustProxy(value: string | undefined): TrustProxy {
  const v = value?.trim().toLowerCase();
  if (v === undefined || v === '' || v === 'false' || v === '0') return false;
  if (v === 'true') return true;
  if (/^[0-9]+$/.test(v)) return Number(v);
  const entries = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = entries.filter((e) => !(e.includes('/') ? ipaddr.isValidCIDR(e) : ipaddr.isValid(e)));
  if (bad.length) {
    throw new Error(
      `"${bad.join(', ')}" is not an address or CIDR: use a hop count (1) or the proxies' addresses, e.g. 10.0.0.0/8,192.0.2.7`,
    );
  }
  return entries;
}

/**
 * The bucket a client's requests count in: its IPv4 address, or its IPv6 /64 (one subscriber gets a
 * whole /64, so single addresses would be free budgets). A forwarded value that is not an address
 * falls back to the socket peer, so junk in X-Forwarded-For is never a fresh budget.
 */
export function clientBucket(ip: string, socketAddress: string | undefined): string {
  const addr = parse(ip) ?? parse(socketAddress) ?? undefined;
  if (!addr) return 'unknown';
  if (addr.kind() === 'ipv4') return addr.toString();
  const v6 = addr as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  return `${v6.toNormalizedString().split(':').slice(0, 4).join(':')}::/64`;
}

/**
 * The network a client is on, for the budgets a stranger must not be able to spread past their own:
 * an IPv4 /24 or an IPv6 /48 (a site), never the whole address. The same fallback as clientBucket.
 */
export function networkOf(ip: string, socketAddress?: string): string {
  const addr = parse(ip) ?? parse(socketAddress) ?? undefined;
  if (!addr) return 'unknown';
  const v6 = addr.kind() === 'ipv6' ? (addr as ipaddr.IPv6) : undefined;
  const v4 = v6 ? embeddedIPv4(v6) : (addr as ipaddr.IPv4);
  if (v4) return `${v4.octets.slice(0, 3).join('.')}.0/24`;
  return `${v6!.toNormalizedString().split(':').slice(0, 3).join(':')}::/48`;
}

/**
 * The IPv4 address an IPv6 one stands for: IPv4-mapped (::ffff:a.b.c.d), and 6to4 (2002:AABB:CCDD::/48
 * is the site of the IPv4 host AA.BB.CC.DD, so its /48 is that whole address).
 */
function embeddedIPv4(v6: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address();
  if (v6.range() !== '6to4') return undefined;
  const [, high, low] = v6.parts;
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

function parse(value: string | undefined): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (!value) return undefined;
  try {
    return ipaddr.parse(value.replace(/%.*$/, ''));
  } catch {
    return undefined;
  }
}

/** The connection itself comes from this machine (not a header: those can be forged). */
export function isLoopback(socketAddress: string | undefined): boolean {
  const addr = parse(socketAddress);
  if (!addr) return false;
  const v4 =
    addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()
      ? (addr as ipaddr.IPv6).toIPv4Address()
      : addr;
  return v4.range() === 'loopback';
}

/**
 * The form Fastify takes. A hop count becomes the function Express documents (trust the n nearest
 * hops): this Fastify refuses to trust any hop for a bare number.
 */
export function fastifyTrustProxy(tp: TrustProxy): boolean | string[] | ((addr: string, hop: number) => boolean) {
  return typeof tp === 'number' ? (_addr, hop) => hop < tp : tp;
}

/** Who is asking, as the domain may know it: the client's network (networkOf), never its whole address. */
export interface Requester {
  network: string;
  /** The client's User-Agent, at most USER_AGENT_MAX characters: shown with the sessions it starts. */
  userAgent?: string;
}

export const USER_AGENT_MAX = 200;
