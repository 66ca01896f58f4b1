import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { subgraphSecretVariable } from '../../src/gateway-trust';
import { subgraphNames as trustedSubgraphs } from '../../../../scripts/lib/parts';
import { testSubgraphSecrets } from '../../../../test/support/env';
import { compiledNodeArgs, freePort, serviceEntries, type ServiceName } from '../../../../test/support/processes';

/**
 * Configuration is checked when a process starts, not at its first request or write: the real
 * main.ts of each process kind, run as npm start runs it (compiled, dist/<name>.js), must exit
 * with status 1 before it listens and name every variable at fault (each bad form of each
 * variable: config.test.ts).
 */
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
/** A refusal must come well before a client would notice. */
const exitWithinMs = 30_000;

/** What each process needs to start, as npm start gives it: its secrets (the gateway all three). */
function secretsOf(name: ServiceName): Record<string, string> {
  const subgraphs = name === 'gateway' ? trustedSubgraphs : [name];
  return Object.fromEntries(subgraphs.map((s) => [subgraphSecretVariable(s), testSubgraphSecrets[s]]));
}

async function start(
  name: ServiceName,
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string; healthy: boolean }> {
  const port = await freePort();
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([variable]) => !['LEDGER_MAC_KEY', 'NODE_ENV', 'AMOUNT_MAX'].includes(variable),
    ),
  );
  const child = spawn(process.execPath, compiledNodeArgs(name), {
    cwd: repoRoot,
    env: {
      ...inherited,
      ...secretsOf(name),
      [serviceEntries[name].portVariable]: String(port),
      HOST: '127.0.0.1',
      GATEWAY_HOST: '127.0.0.1',
      MYSQL_POOL_SIZE: '1',
      RELAY_ENABLED: 'false',
      SETTLEMENT_WORKER_ENABLED: 'false',
      NODE_OPTIONS: '',
      ...env,
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
  const healthy = await fetch(`http://127.0.0.1:${port}/health`).then(
    () => true,
    () => false,
  );
  return { code, stderr, healthy };
}

async function expectRefused(
  name: ServiceName,
  env: Record<string, string>,
  variables: readonly string[],
): Promise<void> {
  const started = Date.now();
  const { code, stderr, healthy } = await start(name, env);
  expect(code, stderr).toBe(1);
  expect(stderr).toContain(`${name}: refusing to start, the configuration is not valid:`);
  for (const variable of variables) expect(stderr).toMatch(new RegExp(`^  ${variable}\\b`, 'm'));
  expect(healthy).toBe(false);
  expect(Date.now() - started).toBeLessThan(exitWithinMs);
}

describe('start-up configuration', () => {
  for (const subgraph of trustedSubgraphs) {
    it(`${subgraph}: NODE_ENV=production without LEDGER_MAC_KEY refuses to start and names the variable`, async () => {
      await expectRefused(subgraph, { NODE_ENV: 'production' }, ['LEDGER_MAC_KEY']);
    });
  }

  it('transaction: a bad AMOUNT_MAX and a bad POSTING_ENGINE refuse to start, both named', async () => {
    await expectRefused('transaction', { AMOUNT_MAX: '1e15', POSTING_ENGINE: 'fast' }, [
      'AMOUNT_MAX',
      'POSTING_ENGINE',
    ]);
  });

  it('account: an unknown BUSINESS_TIMEZONE and a MERGE_WAIT_MS out of range refuse to start, both named', async () => {
    await expectRefused('account', { BUSINESS_TIMEZONE: 'Mars/Olympus_Mons', MERGE_WAIT_MS: '5' }, [
      'BUSINESS_TIMEZONE',
      'MERGE_WAIT_MS',
    ]);
  });

  it('settlement: a SETTLEMENT_DELAY_DAYS that is no number refuses to start, named', async () => {
    await expectRefused('settlement', { SETTLEMENT_DELAY_DAYS: 'tomorrow' }, ['SETTLEMENT_DELAY_DAYS']);
  });

  it('gateway: a rate budget of 0, a malformed subgraph URL and a missing subgraph secret refuse to start, each named', async () => {
    await expectRefused(
      'gateway',
      { RATE_LIMIT_MONEY_PER_MINUTE: '0', ACCOUNT_URL: 'account:4001', [subgraphSecretVariable('settlement')]: '' },
      ['RATE_LIMIT_MONEY_PER_MINUTE', 'ACCOUNT_URL', 'SUBGRAPH_SECRET_SETTLEMENT'],
    );
  });
});
