import { BlockList, isIP } from 'node:net';
import { err, ok, type Result } from '@paygraph/shared/result';

/**
 * Where a webhook may go (a service rather than domain/ only because it uses node:net's address
 * parsing and BlockList; it does no I/O). In production only https, and never to an address inside the
 * platform: loopback, private (RFC 1918, unique-local), carrier-grade NAT, link-local (which
 * holds the cloud metadata service, 169.254.169.254 and fd00:ec2::254), multicast or reserved.
 * Development also lets http and loopback through, for a receiver on the developer's machine.
 * The same rules judge the URL at registration and every resolved address at connection time
 * (services/safe-agent.ts), so a name whose DNS answer changes cannot reach a private address.
 */
export interface DestinationPolicy {
  /** http:// and loopback addresses too (development only). */
  allowLoopback: boolean;
  requireHttps: boolean;
}

export type DestinationRefusal = { kind: 'DestinationRefused'; reason: string };

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** Addresses no webhook reaches in any mode. */
const internal = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.0.0.0', 24],
  ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24],
  ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) internal.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['2001:db8::', 32], ['100::', 64],
] as const) internal.addSubnet(net, prefix, 'ipv6');

/** The IPv4 address inside an IPv4-mapped or NAT64 IPv6 address, judged as itself. */
function embeddedIpv4(address: string): string | null {
  const match = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return match ? match[1]! : null;
}

/** Why an IP address may not be reached, or null when it may. */
export function addressRefusal(address: string, policy: DestinationPolicy): string | null {
  const family = isIP(address);
  if (family === 0) return `${address} is not an IP address`;
  const inner = family === 6 ? embeddedIpv4(address) : null;
  if (inner !== null) return addressRefusal(inner, policy);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (loopback.check(address, type)) return policy.allowLoopback ? null : `${address} is a loopback address`;
  if (internal.check(address, type)) return `${address} is a private, link-local, metadata or reserved address`;
  return null;
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
  if (!schemes.includes(url.protocol)) return err({ kind: 'DestinationRefused', reason: `must be ${policy.requireHttps ? 'https' : 'http or https'}` });
  if (url.username !== '' || url.password !== '') return err({ kind: 'DestinationRefused', reason: 'must not carry credentials' });
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
