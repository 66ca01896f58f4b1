import { BlockList, isIP } from 'node:net';
import { err, ok, type Result } from '@paygraph/shared/result';

/**
 * Where a webhook may go (a service rather than domain/ only because it uses node:net's address
 * parsing and BlockList; it does no I/O). Only https, and never to an address inside the
 * platform: loopback, private (RFC 1918, unique-local), carrier-grade NAT, link-local (which
 * holds the cloud metadata service, 169.254.169.254 and fd00:ec2::254), multicast or reserved —
 * nor to an IPv6 address that carries such an IPv4 address inside it (IPv4-mapped,
 * IPv4-compatible, NAT64, 6to4, Teredo). Plain http and loopback pass only when the deployment
 * says so explicitly (WEBHOOK_ALLOW_LOCAL_DESTINATIONS, config.ts), for a receiver on the
 * developer's machine; never because of NODE_ENV. The same rules judge the URL at registration
 * and every resolved address at connection time (services/safe-agent.ts), so a name whose DNS
 * answer changes cannot reach a private address.
 */
export interface DestinationPolicy {
  /** Loopback addresses too (WEBHOOK_ALLOW_LOCAL_DESTINATIONS only). */
  allowLoopback: boolean;
  /** Off only with WEBHOOK_ALLOW_LOCAL_DESTINATIONS: http:// too. */
  requireHttps: boolean;
}

/** The policy of a deployment: local destinations (loopback, http) only when allowed explicitly. */
export function destinationPolicyOf(allowLocalDestinations: boolean): DestinationPolicy {
  return { allowLoopback: allowLocalDestinations, requireHttps: !allowLocalDestinations };
}

export type DestinationRefusal = { kind: 'DestinationRefused'; reason: string };

/**
 * A refused address: the rule that refused it and what that rule means. Never the address itself (it may be internal).
 */
export interface AddressRefusal {
  rule: string;
  what: string;
}

interface Rule {
  rule: string;
  what: string;
  nets: ReadonlyArray<readonly [string, number]>;
}

const ipv4Rules: Rule[] = [
  { rule: 'loopback-ipv4', what: 'a loopback address', nets: [['127.0.0.0', 8]] },
  {
    rule: 'private-ipv4',
    what: 'a private address',
    nets: [
      ['10.0.0.0', 8],
      ['172.16.0.0', 12],
      ['192.168.0.0', 16],
    ],
  },
  { rule: 'shared-ipv4', what: 'a private (carrier-grade NAT) address', nets: [['100.64.0.0', 10]] },
  { rule: 'link-local-ipv4', what: 'a link-local or metadata address', nets: [['169.254.0.0', 16]] },
  { rule: 'multicast-ipv4', what: 'a multicast address', nets: [['224.0.0.0', 4]] },
  {
    rule: 'reserved-ipv4',
    what: 'a reserved address',
    nets: [
      ['0.0.0.0', 8],
      ['192.0.0.0', 24],
      ['192.0.2.0', 24],
      ['192.88.99.0', 24],
      ['198.18.0.0', 15],
      ['198.51.100.0', 24],
      ['203.0.113.0', 24],
      ['240.0.0.0', 4],
    ],
  },
];

const ipv6Rules: Rule[] = [
  { rule: 'loopback-ipv6', what: 'a loopback address', nets: [['::1', 128]] },
  {
    rule: 'private-ipv6',
    what: 'a private address',
    nets: [
      ['fc00::', 7],
      ['fec0::', 10],
    ],
  },
  { rule: 'link-local-ipv6', what: 'a link-local or metadata address', nets: [['fe80::', 10]] },
  { rule: 'multicast-ipv6', what: 'a multicast address', nets: [['ff00::', 8]] },
  // RFC 8215's local-use NAT64 prefix translates to whatever the operator's network holds: refused whole.
  { rule: 'nat64-local-use', what: 'a local-use NAT64 address', nets: [['64:ff9b:1::', 48]] },
  {
    rule: 'reserved-ipv6',
    what: 'a reserved address',
    nets: [
      ['::', 128],
      ['2001:db8::', 32],
      ['100::', 64],
    ],
  },
];

const compiled = (rules: Rule[], type: 'ipv4' | 'ipv6') =>
  rules.map((r) => {
    const list = new BlockList();
    for (const [net, prefix] of r.nets) list.addSubnet(net, prefix, type);
    return { ...r, list };
  });
const ipv4Lists = compiled(ipv4Rules, 'ipv4');
const ipv6Lists = compiled(ipv6Rules, 'ipv6');

/** The eight 16-bit groups of an IPv6 address (a trailing dotted quad read as the last two; a zone dropped). */
export function ipv6Groups(address: string): number[] {
  let text = address.replace(/%.*$/, '').toLowerCase();
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, null];
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const front = parse(head);
  if (tail === null) return front;
  const back = parse(tail);
  return [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}

const ipv4Of = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;

/**
 * The IPv4 addresses an IPv6 address carries to (as a translator or tunnel would deliver it),
 * each named by its form: IPv4-mapped ::ffff:a.b.c.d, IPv4-translated ::ffff:0:a.b.c.d,
 * IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16, and Teredo 2001::/32 (its
 * server, and its client address, stored inverted).
 */
export function embeddedIpv4(address: string): Array<{ form: string; ipv4: string }> {
  const g = ipv6Groups(address);
  if (g.length !== 8) return [];
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  const found: Array<{ form: string; ipv4: string }> = [];
  if (zeros(0, 5) && g[5] === 0xffff) found.push({ form: 'ipv4-mapped', ipv4: ipv4Of(g[6]!, g[7]!) });
  if (zeros(0, 4) && g[4] === 0xffff && g[5] === 0) found.push({ form: 'ipv4-translated', ipv4: ipv4Of(g[6]!, g[7]!) });
  // ::, ::1 are judged as themselves (reserved, loopback); any other ::a.b.c.d as its IPv4.
  if (zeros(0, 6) && (g[6] !== 0 || g[7]! > 1)) found.push({ form: 'ipv4-compatible', ipv4: ipv4Of(g[6]!, g[7]!) });
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) found.push({ form: 'nat64', ipv4: ipv4Of(g[6]!, g[7]!) });
  if (g[0] === 0x2002) found.push({ form: '6to4', ipv4: ipv4Of(g[1]!, g[2]!) });
  if (g[0] === 0x2001 && g[1] === 0) {
    found.push({ form: 'teredo-server', ipv4: ipv4Of(g[2]!, g[3]!) });
    found.push({ form: 'teredo', ipv4: ipv4Of(g[6]! ^ 0xffff, g[7]! ^ 0xffff) });
  }
  return found;
}

/** The rule that refuses an IP address, or null when it may be reached. */
export function addressRule(address: string, policy: DestinationPolicy): AddressRefusal | null {
  const family = isIP(address);
  if (family === 0) return { rule: 'not-an-address', what: 'not an IP address' };
  for (const { form, ipv4 } of family === 6 ? embeddedIpv4(address) : []) {
    const inner = addressRule(ipv4, policy);
    if (inner !== null) return { rule: `${inner.rule} in ${form}`, what: inner.what };
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const hit = (family === 4 ? ipv4Lists : ipv6Lists).find((r) => r.list.check(address, type));
  if (!hit) return null;
  if (hit.rule.startsWith('loopback') && policy.allowLoopback) return null;
  return { rule: hit.rule, what: hit.what };
}

/** Why an IP address may not be reached ("a private address (rule: private-ipv4)"), or null when it may. */
export function addressRefusal(address: string, policy: DestinationPolicy): string | null {
  const refusal = addressRule(address, policy);
  return refusal === null ? null : describeRefusal(refusal);
}

export function describeRefusal(refusal: AddressRefusal): string {
  return `${refusal.what} (rule: ${refusal.rule})`;
}

/** Host names that always mean this machine or the platform's inside. */
const internalNames = /^(localhost|.*\.localhost|.*\.internal|.*\.local)$/i;

/** Judges a URL as registered: scheme, host (an IP literal is judged at once, a name again at connection). */
export function urlRefusal(raw: string, policy: DestinationPolicy): Result<URL, DestinationRefusal> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return err({ kind: 'DestinationRefused', reason: 'is not a URL' });
  }
  const schemes = policy.requireHttps ? ['https:'] : ['https:', 'http:'];
  if (!schemes.includes(url.protocol))
    return err({ kind: 'DestinationRefused', reason: `must be ${policy.requireHttps ? 'https' : 'http or https'}` });
  if (url.username !== '' || url.password !== '')
    return err({ kind: 'DestinationRefused', reason: 'must not carry credentials' });
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === '') return err({ kind: 'DestinationRefused', reason: 'has no host' });
  if (isIP(host) !== 0) {
    const refusal = addressRefusal(host, policy);
    return refusal === null ? ok(url) : err({ kind: 'DestinationRefused', reason: `goes to ${refusal}` });
  }
  if (internalNames.test(host) && !(policy.allowLoopback && /^localhost$/i.test(host))) {
    return err({ kind: 'DestinationRefused', reason: `goes to ${host}, a name inside the platform` });
  }
  return ok(url);
}
