import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from './support/processes';
import { contractOperation, gql } from './support/graphql';
import { unique } from './support/env';
import { shutdownGraceMs } from '../subgraphs/shared/src/limits';

/**
 * `npm start` as a newcomer runs it: no JWT_SECRET, so it makes one and prints an operator
 * token; the printed URLs answer; the token works; Ctrl-C stops every process it started.
 * It runs in the isolated group because it starts four processes of its own.
 */
const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const startTimeoutMs = 90_000;
const stopTimeoutMs = 20_000;

function portAnswers(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/health`).then(() => true, () => false);
}

describe('npm start', () => {
  it('starts the system, prints URLs and a working token, and stops everything on Ctrl-C', async () => {
    const ports = { PORT: await freePort(), ACCOUNT_PORT: await freePort(), TRANSACTION_PORT: await freePort(), SETTLEMENT_PORT: await freePort() };
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', NODE_ENV: 'development' };
    delete env.JWT_SECRET;
    for (const key of Object.keys(env)) if (key.startsWith('SUBGRAPH_SECRET_')) delete env[key];
    for (const [key, value] of Object.entries(ports)) env[key] = String(value);
    const child = spawn(`${repoRoot}node_modules/.bin/tsx`, ['scripts/start.ts'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + startTimeoutMs;
      while (!/Press Ctrl-C to stop/.test(output)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`npm start did not come up:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
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
      child.kill('SIGINT');
      const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('timeout'), stopTimeoutMs))]);
      if (code === 'timeout') child.kill('SIGKILL');
      expect(code).not.toBe('timeout');
      // Every process stopped by itself, none by running out its shutdown grace.
      expect(Date.now() - stopAt, output).toBeLessThan(shutdownGraceMs);
    }
    for (const port of Object.values(ports)) expect(await portAnswers(port), `port ${port} still answers`).toBe(false);
  }, startTimeoutMs + stopTimeoutMs + 10_000);
});
