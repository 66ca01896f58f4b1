import { createServer, connect, type Socket } from 'node:net';
import { checkServerIdentity } from 'node:tls';
import { errors, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attemptError } from '../../src/services/attempt-error';
import { destinationPolicyOf } from '../../src/services/destination';
import { createSafeAgent } from '../../src/services/safe-agent';

/**
 * What lastError may say of a failed attempt: the error's class and code, never its message —
 * which names the addresses the receiver's name resolved to (review finding 3). Real errors:
 * undici's own classes (its public `errors`), node's TLS identity check, a refused and a
 * silent loopback connection through the dispatcher's agent.
 */
const addressPattern = /\d+\.\d+\.\d+\.\d+|\[?[0-9a-f]*:[0-9a-f:]+\]?:\d+/i;

/** A TCP server that accepts and never answers: a TLS handshake to it waits until the connect timeout. */
const held = new Set<Socket>();
const silent = createServer((socket) => held.add(socket));
let silentPort = 0;
beforeAll(async () => {
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentPort = (silent.address() as { port: number }).port;
});
afterAll(async () => {
  for (const socket of held) socket.destroy();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
});

function expectNoAddress(text: string): void {
  expect(text).not.toMatch(addressPattern);
  expect(text).not.toContain('127.0.0.1');
}

describe('attemptError', () => {
  it('keeps an undici connect timeout\'s code, not its "attempted addresses"', () => {
    const error = new errors.ConnectTimeoutError(
      'Connect Timeout Error (attempted addresses: 10.1.2.3:443, [fd00::7]:443, timeout: 10000ms)',
    );
    expect(attemptError(error)).toBe('ConnectTimeoutError: connection failed (UND_ERR_CONNECT_TIMEOUT)');
    expectNoAddress(attemptError(new errors.SocketError('other side closed (10.1.2.3:443)')));
    expect(attemptError(new errors.HeadersTimeoutError())).toBe(
      'HeadersTimeoutError: connection failed (UND_ERR_HEADERS_TIMEOUT)',
    );
  });

  it("keeps a TLS error's code, not the addresses its message names", () => {
    const error = checkServerIdentity('10.1.2.3', {
      subject: { CN: 'hooks.example.com' },
      subjectaltname: 'IP Address:10.9.9.9',
    } as never);
    expect(error).toBeInstanceOf(Error);
    expect(error!.message).toMatch(addressPattern);
    expect(attemptError(error)).toBe('Error: connection failed (ERR_TLS_CERT_ALTNAME_INVALID)');
  });

  it('says a fixed text for an error without a code, and nothing of a non-error', () => {
    expect(attemptError(new Error('connect to 10.1.2.3:443 failed'))).toBe('Error: connection failed');
    expect(attemptError('10.1.2.3:443')).toBe('Error: connection failed');
  });

  it('keeps no address of a real refused connection (a system error wrapped by a cause)', async () => {
    const refused = await new Promise<Error>((resolve) => {
      // The silent server's port, once closed by a second server's close, is not certain to be free: a fresh one is.
      const probe = createServer();
      probe.listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => connect(port, '127.0.0.1').once('error', resolve));
      });
    });
    expect(refused.message).toContain('127.0.0.1');
    const wrapped = new TypeError('fetch failed', { cause: refused });
    expect(attemptError(wrapped)).toBe('Error: connection failed (ECONNREFUSED)');
    expectNoAddress(attemptError(wrapped));
  });

  it("keeps no address of a real connect timeout through the dispatcher's agent (a loopback server that never answers TLS)", async () => {
    const agent = createSafeAgent({
      policy: destinationPolicyOf(true),
      connectTimeoutMs: 500,
      connectionsPerOriginMax: 1,
    });
    try {
      const error = await request(`https://127.0.0.1:${silentPort}/hook`, {
        method: 'POST',
        dispatcher: agent,
        body: '{}',
      }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      // undici's own message names the address it tried; lastError must not.
      expect((error as Error).message).toContain('127.0.0.1');
      expect(attemptError(error)).toBe('ConnectTimeoutError: connection failed (UND_ERR_CONNECT_TIMEOUT)');
    } finally {
      await agent.close();
    }
  });
});
