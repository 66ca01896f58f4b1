import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { subgraphSecretVariable } from '../../src/gateway-trust';
import { testSubgraphSecrets } from '../../../../test/support/env';
import { freePort } from '../../../../test/support/processes';

/**
 * Configuration is checked when a subgraph process starts, not at its first write: the real
 * main.ts, run as npm start runs it, must exit non-zero and name the variable at fault.
 */
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
/** tsx compiles main.ts first; a refusal must still come well before a client would notice. */
const exitWithinMs = 30_000;

type Subgraph = 'account' | 'transaction' | 'settlement';

async function start(subgraph: Subgraph, env: Record<string, string>): Promise<{ code: number | null; stderr: string; healthy: boolean }> {
  const port = await freePort();
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !['LEDGER_MAC_KEY', 'NODE_ENV', 'AMOUNT_MAX'].includes(name)));
  const child = spawn(process.execPath, ['--import', 'tsx', `subgraphs/${subgraph}/src/main.ts`], {
    cwd: repoRoot,
    env: {
      ...inherited, [subgraphSecretVariable(subgraph)]: testSubgraphSecrets[subgraph], [`${subgraph.toUpperCase()}_PORT`]: String(port),
      HOST: '127.0.0.1', MYSQL_POOL_SIZE: '1', RELAY_ENABLED: 'false', SETTLEMENT_WORKER_ENABLED: 'false', ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdout.resume();
  const timer = setTimeout(() => child.kill('SIGKILL'), exitWithinMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
  clearTimeout(timer);
  // Had it started, /health would answer; a refused process never listened.
  const healthy = await fetch(`http://127.0.0.1:${port}/health`).then(() => true, () => false);
  return { code, stderr, healthy };
}

describe('start-up configuration', () => {
  for (const subgraph of ['account', 'transaction', 'settlement'] as const) {
    it(`${subgraph}: NODE_ENV=production without LEDGER_MAC_KEY refuses to start and names the variable`, async () => {
      const started = Date.now();
      const { code, stderr, healthy } = await start(subgraph, { NODE_ENV: 'production' });
      expect(code, stderr).not.toBe(0);
      expect(code, stderr).not.toBeNull();
      expect(stderr).toContain('LEDGER_MAC_KEY');
      expect(healthy).toBe(false);
      expect(Date.now() - started).toBeLessThan(exitWithinMs);
    });
  }

  it('transaction: a bad AMOUNT_MAX refuses to start and names the variable (each bad form: config.test.ts)', async () => {
    const { code, stderr, healthy } = await start('transaction', { AMOUNT_MAX: '1e15' });
    expect(code, stderr).not.toBe(0);
    expect(code).not.toBeNull();
    expect(stderr).toContain('AMOUNT_MAX');
    expect(healthy).toBe(false);
  });
});
