import { describe, expect, it } from 'vitest';
import { isAlive, startSystem, systemStartTimeoutMs, systemStopTimeoutMs } from './support/processes';
import { contractOperation, gql } from './support/graphql';
import { unique } from './support/env';

/**
 * `npm start` supervises: a subgraph that dies (SIGKILL, as the OOM killer would) is
 * restarted and serves again through the gateway, and SIGTERM to `npm start` still stops
 * every process, the restarted one included. Isolated: it starts four processes of its own.
 */
const restartTimeoutMs = 30_000;
const pollIntervalMs = 100;

function childPids(output: string): Map<string, number> {
  return new Map([...output.matchAll(/\[start\] (\w+) started \(pid (\d+)\)/g)].map((m) => [m[1]!, Number(m[2])]));
}

async function until<T>(what: string, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + restartTimeoutMs;
  for (;;) {
    const value = await attempt().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${restartTimeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
  }
}

describe('npm start supervising its processes', () => {
  it(
    'restarts a killed subgraph, and stops every process on SIGTERM',
    async () => {
      const system = await startSystem();
      const pids = childPids(system.output());
      const gatewayUrl = `http://127.0.0.1:${system.ports.PORT}/graphql`;
      const token = /Operator token[^\n]*\n\s+(\S+)/.exec(system.output())?.[1];
      const openAccount = () =>
        gql(
          gatewayUrl,
          contractOperation('OpenAccount'),
          { input: { ownerId: unique('supervise'), type: 'PERSONAL', currency: 'USD' } },
          token,
        );
      try {
        expect([...pids.keys()].sort()).toEqual(['account', 'gateway', 'settlement', 'transaction', 'webhooks']);
        const killed = pids.get('account')!;
        process.kill(killed, 'SIGKILL');
        await system.waitForOutput(
          new RegExp(`account \\(pid ${killed}\\) exited on SIGKILL after \\d+ s; restarting it in \\d+ ms`),
          restartTimeoutMs,
        );
        const restarted = Number(
          (await system.waitForOutput(/\[start\] account restarted \(pid (\d+)\)/, restartTimeoutMs))[1],
        );
        expect(restarted).not.toBe(killed);
        pids.set('account (restarted)', restarted);
        await until(
          'the restarted account subgraph did not answer /health',
          async () => (await fetch(`http://127.0.0.1:${system.ports.ACCOUNT_PORT}/health`)).status === 200 || undefined,
        );
        const opened = await until('no account was opened through the gateway', async () => {
          const result = await openAccount();
          return result.data?.openAccount.__typename === 'Account' ? result : undefined;
        });
        expect(opened.data?.openAccount.__typename).toBe('Account');
      } finally {
        expect(await system.stop('SIGTERM')).toBe(0);
      }
      for (const [name, pid] of pids)
        expect(isAlive(pid), `${name} (pid ${pid}) outlived npm start:\n${system.output()}`).toBe(false);
    },
    systemStartTimeoutMs + 2 * restartTimeoutMs + systemStopTimeoutMs,
  );
});
