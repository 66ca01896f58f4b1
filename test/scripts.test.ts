import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { verifyAuthorization } from '@paygraph/shared/identity';
import { testSecret, testTokens } from './support/env';

/** The scripts a newcomer runs by hand: tokens. */
const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const tsx = `${repoRoot}node_modules/.bin/tsx`;

async function token(args: string[], env: Record<string, string | undefined>) {
  try {
    const { stdout, stderr } = await run(tsx, ['scripts/token.ts', ...args], { cwd: repoRoot, env: { ...process.env, ...env } });
    return { code: 0, stdout: stdout.trim(), stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout.trim(), stderr: e.stderr };
  }
}

describe('npm run token', () => {
  it('mints a token the API accepts, with the subject and role asked for', async () => {
    const result = await token(['--sub', 'alice', '--role', 'customer'], { JWT_SECRET: testSecret });
    expect(result.code).toBe(0);
    const verified = await verifyAuthorization(`Bearer ${result.stdout}`, testTokens());
    expect(verified).toMatchObject({ ok: true, identity: { sub: 'alice', role: 'customer' } });
  });

  it('refuses an unknown role and a missing secret with a clear message', async () => {
    const badRole = await token(['--sub', 'alice', '--role', 'admin'], { JWT_SECRET: testSecret });
    expect(badRole.code).not.toBe(0);
    expect(badRole.stderr).toMatch(/--role must be one of customer, merchant, partner, operator/);
    const noSecret = await token(['--sub', 'alice', '--role', 'customer'], { JWT_SECRET: '' });
    expect(noSecret.code).not.toBe(0);
    expect(noSecret.stderr).toMatch(/JWT_SECRET is not set/);
    expect(noSecret.stdout).toBe('');
  });
});
