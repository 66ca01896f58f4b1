import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { verifyAuthorization } from '@paygraph/shared/identity';
import { testSecret, testTokens } from './support/env';
import { localSocketOf } from '../scripts/lib/mysql-server';
import { ensureRedis, probeRedis } from '../scripts/lib/redis-server';
import { freePort } from '../scripts/lib/free-port';

/** The scripts a newcomer runs by hand: tokens. */
const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const tsx = `${repoRoot}node_modules/.bin/tsx`;

async function token(args: string[], env: Record<string, string | undefined>) {
  try {
    const { stdout, stderr } = await run(tsx, ['scripts/token.ts', ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
    });
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
    // The channel role (deposits from a bank or card integration) is one the gateway accepts.
    const channel = await token(['--sub', 'bank-a', '--role', 'channel'], { JWT_SECRET: testSecret });
    expect(channel.code).toBe(0);
    expect(await verifyAuthorization(`Bearer ${channel.stdout}`, testTokens())).toMatchObject({
      ok: true,
      identity: { sub: 'bank-a', role: 'channel' },
    });
  });

  it('refuses an unknown role and a missing secret with a clear message', async () => {
    const badRole = await token(['--sub', 'alice', '--role', 'admin'], { JWT_SECRET: testSecret });
    expect(badRole.code).not.toBe(0);
    expect(badRole.stderr).toMatch(/--role must be one of customer, merchant, partner, operator, channel/);
    expect(badRole.stderr).toMatch(/channel +the bank or card integration: records deposits/);
    const noSecret = await token(['--sub', 'alice', '--role', 'customer'], { JWT_SECRET: '' });
    expect(noSecret.code).not.toBe(0);
    expect(noSecret.stderr).toMatch(/JWT_SECRET is not set/);
    expect(noSecret.stdout).toBe('');
  });
});

describe('finding MySQL', () => {
  // The server npm test found, without database or options.
  const first = new URL(process.env.MYSQL_SHARDS!.split(',')[0]!.trim());
  const server = `${first.protocol}//${first.username}${first.password ? `:${first.password}` : ''}@${first.host}`;

  it('reaches a server on this machine through its Unix socket, as npm test itself did', async () => {
    expect(await localSocketOf(server, 'auto')).toBe(first.searchParams.get('socketPath'));
  });

  it('keeps TCP with MYSQL_LOCAL_SOCKET=off, and for a server elsewhere', async () => {
    expect(await localSocketOf(server, 'off')).toBeNull();
    expect(await localSocketOf('mysql://root@db.example.invalid:3306', 'auto')).toBeNull();
  });
});

describe('finding Redis', () => {
  function isAlive(pid: number): boolean {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  it('starts a private redis-server when nothing answers, and stops it at the end', async () => {
    const silent = `redis://127.0.0.1:${await freePort()}`;
    const lines: string[] = [];
    const redis = await ensureRedis({ defaultUrl: silent, log: (line) => lines.push(line) });
    try {
      expect(redis.privateServer).toBe(true);
      expect(redis.url).not.toBe(silent);
      expect(redis.pid).not.toBeNull();
      expect(await probeRedis(redis.url)).toEqual({ ok: true });
      expect(lines.join('\n')).toMatch(
        /no Redis at .*\n.*starting a private Redis server .*redis-server.* without persistence/,
      );
    } finally {
      await redis.stop();
    }
    expect(isAlive(redis.pid!)).toBe(false);
    expect(await probeRedis(redis.url)).toMatchObject({ ok: false });
  });

  it('uses the server npm test gave, and refuses an explicit REDIS_URL that does not answer', async () => {
    const given = await ensureRedis({ explicitUrl: process.env.TEST_REDIS_URL, log: () => {} });
    expect(given).toMatchObject({ url: process.env.TEST_REDIS_URL, privateServer: false });
    const dead = `redis://:secret@127.0.0.1:${await freePort()}`;
    await expect(ensureRedis({ explicitUrl: dead, log: () => {} })).rejects.toThrow(
      /REDIS_URL is set, but redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ does not answer/,
    );
  });
});
