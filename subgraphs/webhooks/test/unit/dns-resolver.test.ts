import dgram from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dnsTimeoutMs } from '../../src/limits';
import { createDnsResolver } from '../../src/services/safe-agent';

/**
 * The dispatcher's DNS (safe-agent.ts) against a real name server on a loopback UDP port: it
 * answers A queries for hooks.good.example (TTL 60 s), says nothing for AAAA, and never answers
 * anything under .blackhole.example — a hostile name. Resolution is bounded by dnsTimeoutMs,
 * does not occupy libuv's thread pool meanwhile, and answers (and failures) are cached.
 */
let server: dgram.Socket;
let servers: string[];
const queries: string[] = [];

/** The question's name and type, and where the question ends. */
function question(packet: Buffer): { name: string; type: number; end: number } {
  const labels: string[] = [];
  let at = 12;
  while (packet[at]! > 0) {
    labels.push(packet.subarray(at + 1, at + 1 + packet[at]!).toString('ascii'));
    at += 1 + packet[at]!;
  }
  return { name: labels.join('.'), type: packet.readUInt16BE(at + 1), end: at + 5 };
}

function answer(packet: Buffer, q: ReturnType<typeof question>): Buffer {
  const records = q.name === 'hooks.good.example' && q.type === 1 ? 1 : 0;
  const header = Buffer.alloc(12);
  packet.copy(header, 0, 0, 2);
  header.writeUInt16BE(0x8180, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(records, 6);
  const record = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34]);
  return Buffer.concat([header, packet.subarray(12, q.end), ...(records ? [record] : [])]);
}

beforeAll(async () => {
  server = dgram.createSocket('udp4');
  server.on('message', (packet, from) => {
    const q = question(packet);
    queries.push(`${q.name}/${q.type}`);
    if (q.name.endsWith('.blackhole.example')) return;
    server.send(answer(packet, q), from.port, from.address);
  });
  await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', () => resolve()));
  servers = [`127.0.0.1:${server.address().port}`];
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("the dispatcher's DNS", () => {
  it('answers from the name server, then from its cache for the TTL', async () => {
    const resolve = createDnsResolver({ servers });
    expect(await resolve('hooks.good.example')).toEqual([{ address: '93.184.216.34', family: 4 }]);
    const asked = queries.filter((q) => q.startsWith('hooks.good.example')).length;
    expect(asked).toBeGreaterThanOrEqual(1);
    expect(await resolve('HOOKS.good.example')).toEqual([{ address: '93.184.216.34', family: 4 }]);
    expect(queries.filter((q) => q.startsWith('hooks.good.example')).length).toBe(asked);
    // localhost is answered here, not asked of DNS (which would not know it).
    expect(await resolve('localhost')).toEqual([
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ]);
    expect(queries.some((q) => q.startsWith('localhost'))).toBe(false);
  });

  it('gives a name that never answers up within its timeout, blocking neither other names nor the thread pool', async () => {
    const resolve = createDnsResolver({ servers });
    const started = Date.now();
    // More hostile names at once than libuv has threads (4): dns.lookup would hold them all.
    const hostile = Array.from({ length: 8 }, (_, i) =>
      resolve(`h${i}.blackhole.example`).then(
        () => 'resolved',
        (error: NodeJS.ErrnoException) => error.code,
      ),
    );
    const [good, file] = await Promise.all([resolve('hooks.good.example'), readFile(new URL(import.meta.url))]);
    const meanwhileMs = Date.now() - started;
    expect(good).toEqual([{ address: '93.184.216.34', family: 4 }]);
    expect(file.length).toBeGreaterThan(0);
    // Answered while the hostile names still wait: well under their timeout.
    expect(meanwhileMs).toBeLessThan(dnsTimeoutMs / 2);
    const outcomes = await Promise.all(hostile);
    const tookMs = Date.now() - started;
    for (const outcome of outcomes) expect(outcome).toMatch(/^E/);
    // Bounded: the timeout, plus a generous margin for a loaded machine's timers.
    expect(tookMs).toBeGreaterThanOrEqual(dnsTimeoutMs * 0.9);
    expect(tookMs).toBeLessThan(dnsTimeoutMs + 3_000);
    // The failure is cached: asked again at once, no new query and no new wait.
    const before = queries.length;
    const again = Date.now();
    await expect(resolve('h0.blackhole.example')).rejects.toThrow();
    expect(Date.now() - again).toBeLessThan(dnsTimeoutMs / 2);
    expect(queries.length).toBe(before);
  });
});
