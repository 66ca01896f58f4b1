import { describe, expect, it } from 'vitest';
import { startSystem, systemStartTimeoutMs, systemStopTimeoutMs } from './support/processes';
import { contractOperation, gql } from './support/graphql';
import { unique } from './support/env';
import { shutdownGraceMs } from '../subgraphs/shared/src/limits';

/**
 * `npm start` as a newcomer runs it: no JWT_SECRET, so it makes one and prints an operator
 * token; the printed URLs answer; the token works; Ctrl-C stops every process it started.
 * It runs in the isolated group because it starts four processes of its own.
 */
function portAnswers(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/health`).then(() => true, () => false);
}

describe('npm start', () => {
  it('starts the system, prints URLs and a working token, and stops everything on Ctrl-C', async () => {
    const system = await startSystem();
    const { ports } = system;
    try {
      const output = system.output();
      expect(output).toContain(`GraphQL     http://localhost:${ports.PORT}/graphql`);
      expect(output).toContain(`Health      http://localhost:${ports.PORT}/health`);
      const token = /Operator token[^\n]*\n\s+(\S+)/.exec(output)?.[1];
      expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      expect((await fetch(`http://127.0.0.1:${ports.PORT}/health`)).status).toBe(200);
      const opened = await gql(`http://127.0.0.1:${ports.PORT}/graphql`, contractOperation('OpenAccount'),
        { input: { ownerId: unique('start'), type: 'PERSONAL', currency: 'USD' } }, token);
      expect(opened.data?.openAccount.__typename).toBe('Account');
      const metrics = await (await fetch(`http://127.0.0.1:${ports.PORT}/metrics`)).text();
      expect(metrics).toContain('operation="OpenAccount"');
    } finally {
      const stopAt = Date.now();
      const code = await system.stop('SIGINT');
      expect(code).not.toBe('timeout');
      // Every process stopped by itself, none by running out its shutdown grace.
      expect(Date.now() - stopAt, system.output()).toBeLessThan(shutdownGraceMs);
    }
    for (const port of Object.values(ports)) expect(await portAnswers(port), `port ${port} still answers`).toBe(false);
  }, systemStartTimeoutMs + systemStopTimeoutMs + 10_000);
});
