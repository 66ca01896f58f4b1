import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { startSystem, systemStartTimeoutMs, systemStopTimeoutMs } from './support/processes';
import { sampleConnections } from './support/connections';
import { stackConnections } from '../scripts/lib/connection-budget';
import { contractOperation, gql } from './support/graphql';
import { testConfig, unique } from './support/env';
import { shutdownGraceMs } from '../subgraphs/shared/src/limits';

/**
 * `npm start` as a newcomer runs it: no JWT_SECRET, so it makes one and prints an operator
 * token; the printed URLs answer; the token works; Ctrl-C stops every process it started.
 * While it serves a burst of money and reads, its processes hold no more MySQL connections
 * than the budget allows (README: "Connection budget").
 * It runs in the isolated group because it starts four processes of its own, and so that the
 * connections counted are its own.
 */
/** Requests in flight at once during the burst, and how many the burst sends. */
const burstConcurrency = 40;
const burstRequests = 200;
function portAnswers(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/health`).then(
    () => true,
    () => false,
  );
}

/** Deposits and reads through the gateway, burstConcurrency at a time; every one must succeed. */
async function burst(url: string, token: string, accountId: string): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < burstRequests) {
      const i = next++;
      const answer =
        i % 2 === 0
          ? await gql(
              url,
              contractOperation('Deposit'),
              { input: { idempotencyKey: randomUUID(), accountId, amount: '100', currency: 'USD' } },
              token,
            )
          : await gql(url, contractOperation('GetAccount'), { id: accountId }, token);
      expect(answer.errors).toBeUndefined();
    }
  };
  await Promise.all(Array.from({ length: burstConcurrency }, worker));
}

describe('npm start', () => {
  it(
    'starts the system, prints URLs and a working token, and stops everything on Ctrl-C',
    async () => {
      const connections = await sampleConnections();
      const connectionsBefore = await connections.count();
      const system = await startSystem();
      const { ports } = system;
      try {
        const output = system.output();
        expect(output).toContain(`GraphQL     http://localhost:${ports.PORT}/graphql`);
        expect(output).toContain(`Health      http://localhost:${ports.PORT}/health`);
        // Any document runs on a local stack, set explicitly and said (the gateway's own default is require).
        expect(output).toContain('Trusted documents: TRUSTED_DOCUMENTS_MODE=off');
        const token = /Operator token[^\n]*\n\s+(\S+)/.exec(output)?.[1];
        expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
        expect((await fetch(`http://127.0.0.1:${ports.PORT}/health`)).status).toBe(200);
        const opened = await gql(
          `http://127.0.0.1:${ports.PORT}/graphql`,
          contractOperation('OpenAccount'),
          { input: { ownerId: unique('start'), type: 'PERSONAL', currency: 'USD' } },
          token,
        );
        expect(opened.errors, JSON.stringify(opened.errors)).toBeUndefined();
        expect(opened.data?.openAccount.__typename).toBe('Account');
        const metrics = await (await fetch(`http://127.0.0.1:${ports.PORT}/metrics`)).text();
        expect(metrics).toContain('operation="OpenAccount"');
        const accountId = opened.data?.openAccount.id as string;
        await burst(`http://127.0.0.1:${ports.PORT}/graphql`, token!, accountId);
        const shardCount = (process.env.MYSQL_SHARDS ?? '').split(',').length;
        const held = (await connections.stop()) - connectionsBefore;
        expect(held).toBeGreaterThan(0);
        expect(held, `connections held by one stack at peak`).toBeLessThanOrEqual(
          stackConnections(shardCount, testConfig().shardPoolSize).total,
        );
      } finally {
        await connections.stop();
        const stopAt = Date.now();
        const code = await system.stop('SIGINT');
        expect(code).not.toBe('timeout');
        // Every process stopped by itself, none by running out its shutdown grace.
        expect(Date.now() - stopAt, system.output()).toBeLessThan(shutdownGraceMs);
      }
      for (const port of Object.values(ports))
        expect(await portAnswers(port), `port ${port} still answers`).toBe(false);
    },
    systemStartTimeoutMs + systemStopTimeoutMs + 10_000,
  );
});
