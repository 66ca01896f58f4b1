import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openShards, type ShardSet } from '@paygraph/shared/shards/pool';
import {
  fenceOn,
  followShardMap,
  laggards,
  latestMap,
  publishMap,
  unfenceOn,
  type MapFollower,
} from '@paygraph/shared/control/index';
import { nextMap } from '@paygraph/shared/shards/shard-map';
import { readiness } from '@paygraph/shared/server/health';
import { rawRows, rawWrite } from '@paygraph/shared/db/raw';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import { FencedWrite, ShardUnavailable } from '@paygraph/shared/shards/unavailable';
import { insertAccount, postOne, systemAccountId } from '@paygraph/shared/ledger/index';
import { depositFromReserve } from './support/ledger';
import { parseCurrency } from '@paygraph/shared/money';
import { assert } from '@paygraph/shared/result';
import { openAccountRow } from '@paygraph/account/db/account-writes';
import { ownerHomeShard } from '@paygraph/shared/ledger/rules/owner-directory';
import { unique } from './support/env';
import { shardMapProcessLiveMs } from '@paygraph/shared/limits';
import { scratchDatabases, type ScratchDatabases } from './support/scratch-databases';
import { startTcpProxy, targetOf, throughProxy, type TcpProxy } from './support/tcp-proxy';
import { repoRoot } from './support/sources';

/**
 * Issue 50, items 1 and 2: the live shard map. Placement is data on the control database (the first of MYSQL_SHARDS),
 * seeded from the configuration; every process follows a new version without a restart and acknowledges it; a
 * process that cannot read the map serves the last one it knew and says so in /health/ready; a fence makes the
 * fenced logical shards answer SHARD_UNAVAILABLE (retryable) in every process that acknowledged it, and where the
 * write happens (the ledger's posting transaction reads the database's fence rows in share mode) in any process.
 */
const pollMs = 50;
let dbs: ScratchDatabases;
const opened: ShardSet[] = [];
const followers: MapFollower[] = [];

function follow(urls: string, service: string): { shards: ShardSet; follower: MapFollower } {
  const shards = openShards({ urls, poolSize: 2 });
  const follower = followShardMap(shards, { service, pollIntervalMs: pollMs });
  opened.push(shards);
  followers.push(follower);
  return { shards, follower };
}

async function until(check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  dbs = await scratchDatabases('map', 3);
});

afterAll(async () => {
  for (const f of followers) await f.stop();
  for (const s of opened) await s.close();
  await dbs.drop();
});

describe('the live shard map', () => {
  it('is seeded from the configuration, followed without a restart and acknowledged by every process', async () => {
    const urls = `${dbs.urls[0]},${dbs.urls[1]}`;
    const a = follow(urls, 'account');
    const b = follow(urls, 'transaction');
    await a.follower.poll();
    await b.follower.poll();
    const control = a.shards.all[0]!;
    const seeded = await latestMap(control);
    expect(seeded?.version).toBe(1);
    expect(seeded?.logical[31]).toBe(0);
    expect(seeded?.logical[32]).toBe(1);
    expect(await laggards(control, 1, shardMapProcessLiveMs)).toEqual([]);

    // Version 2 moves 32-63 to a database neither process was configured with.
    expect(
      await publishMap(control, nextMap(seeded!, { move: { first: 32, last: 63, database: dbs.urls[2]! } }), 'test'),
    ).toBe(true);
    // A second writer of version 2 loses: versions are taken by the primary key.
    expect(await publishMap(control, nextMap(seeded!, {}), 'test')).toBe(false);
    await until(() => a.shards.placement.version === 2 && b.shards.placement.version === 2);
    for (const { shards } of [a, b]) {
      expect(shards.all).toHaveLength(3);
      expect(shards.byLogical(toLogicalShard(40)).name).toBe(new URL(dbs.urls[2]!).pathname.slice(1));
      expect(shards.byLogical(toLogicalShard(31)).name).toBe(new URL(dbs.urls[0]!).pathname.slice(1));
      expect(shards.logicalOn(shards.all[1]!)).toEqual([]);
      expect(shards.logicalOn(shards.all[2]!)).toHaveLength(32);
    }
    await until(async () => (await laggards(control, 2, shardMapProcessLiveMs)).length === 0);
    const acks = await rawRows<{ process_id: string; version: number }>(
      control,
      'SELECT process_id, version FROM shard_map_acks WHERE process_id IN (?, ?) ORDER BY version',
      [a.follower.processId, b.follower.processId],
    );
    expect(acks.filter((r) => Number(r.version) === 1)).toHaveLength(2);
    expect(acks.filter((r) => Number(r.version) === 2)).toHaveLength(2);

    // npm run shards -- map prints it, from a process configured with the two first databases only.
    const { stdout } = await promisify(execFile)('npx', ['tsx', 'scripts/shards.ts', 'map'], {
      cwd: repoRoot,
      env: { ...process.env, MYSQL_SHARDS: urls },
    });
    const printed = JSON.parse(stdout) as {
      version: number;
      ranges: { first: number; last: number; database: string }[];
    };
    expect(printed.version).toBe(2);
    expect(printed.ranges.map((r) => [r.first, r.last, new URL(r.database).pathname.slice(1)])).toEqual([
      [0, 31, new URL(dbs.urls[0]!).pathname.slice(1)],
      [32, 63, new URL(dbs.urls[2]!).pathname.slice(1)],
    ]);

    // A fence: the fenced logical shards answer SHARD_UNAVAILABLE once acknowledged, the others route as before.
    const v2 = (await latestMap(control))!;
    expect(await publishMap(control, nextMap(v2, { fenced: [40, 41] }), 'fence 40-41')).toBe(true);
    await until(async () => (await laggards(control, 3, shardMapProcessLiveMs)).length === 0);
    for (const { shards } of [a, b]) {
      expect(() => shards.byLogical(toLogicalShard(40))).toThrow(ShardUnavailable);
      expect(() => shards.of('account', `acc_01JDP5Z9K3M4N6Q7R8S9T0V1WX_29`)).toThrow(ShardUnavailable);
      expect(shards.byLogical(toLogicalShard(42)).name).toBe(new URL(dbs.urls[2]!).pathname.slice(1));
      expect(shards.logicalOn(shards.all[2]!)).not.toContain(40);
    }
    const { report } = await readiness('account', a.shards);
    expect(report.shardMap).toEqual({ version: 3, fenced: [40, 41] });
    expect(await publishMap(control, nextMap((await latestMap(control))!, { fenced: [] }), 'lift 40-41')).toBe(true);
    await until(() => a.shards.placement.version === 4 && b.shards.placement.version === 4);
    expect(a.shards.byLogical(toLogicalShard(40)).name).toBe(new URL(dbs.urls[2]!).pathname.slice(1));

    // A process whose configuration reaches a database at another address (here through a proxy) follows the map
    // there: the map says which database holds a logical shard, the configuration where this process reaches it.
    const proxy = await startTcpProxy(targetOf(dbs.urls[2]!));
    try {
      const viaProxy = throughProxy(dbs.urls[2]!, proxy);
      const c = follow(`${dbs.urls[0]},${dbs.urls[1]},${viaProxy}`, 'settlement');
      await c.follower.poll();
      expect(c.shards.placement.version).toBe(4);
      const shard = c.shards.byLogical(toLogicalShard(42));
      expect(shard.pool.options.nodes).toEqual([viaProxy]);
      expect(await rawRows(shard, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await proxy.close();
    }
  });

  it('refuses postings to a fenced logical shard where they happen, whatever map the writer routes by, after those in flight', async () => {
    // A process that follows no map: it routes by its configuration, as one that missed the fence would.
    const stale = openShards({ urls: dbs.urls[2]!, poolSize: 3 });
    opened.push(stale);
    const shard = stale.all[0]!;
    const client = newId('account', toLogicalShard(44));
    const neighbour = newId('account', toLogicalShard(45));
    for (const id of [client, neighbour])
      await insertAccount(shard.db, {
        id,
        ownerId: unique('fence'),
        type: 'PERSONAL',
        currency: 'EUR',
        status: 'ACTIVE',
      });
    await depositFromReserve(stale, client, 10n, 'EUR');
    const reserve = await systemAccountId(stale, shard, 'RESERVE', 'EUR');
    const deposit = (id: string, finish: () => Promise<void> = async () => {}) =>
      postOne(shard, {
        kind: 'spec',
        spec: {
          id: newId('posting', toLogicalShard(44)),
          kind: 'TEST_DEPOSIT',
          refId: null,
          dedupeKey: null,
          currency: 'EUR',
          legs: [
            { accountId: reserve, bucket: 'AVAILABLE', amount: -1n },
            { accountId: id, bucket: 'AVAILABLE', amount: 1n },
          ],
        },
        finish: async (_tx, outcome) => {
          await finish();
          return outcome.status;
        },
      });

    // A posting in flight (its accounts locked, not committed) holds its fence row: the fence write waits for it.
    let release = () => {};
    const released = new Promise<void>((r) => (release = r));
    let locked = () => {};
    const lockHeld = new Promise<void>((r) => (locked = r));
    const inFlight = deposit(client, async () => {
      locked();
      await released;
    });
    await lockHeld;
    let fenced = false;
    const fencing = fenceOn(shard, 44, 44, 'fenced').then(() => void (fenced = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(fenced).toBe(false);
    release();
    expect(await inFlight).toBe('APPLIED');
    await fencing;

    // After it, a posting to the fenced logical shard is refused, retryable, before anything is written.
    const refused = await deposit(client).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(FencedWrite);
    expect(String(refused)).toContain('is unavailable; retry');
    // The neighbouring logical shard and the database's system accounts post as before; the breaker counted nothing.
    expect(await deposit(neighbour)).toBe('APPLIED');
    expect(shard.pool.state).toBe('closed');
    await unfenceOn(shard, 44, 44, 'fenced');
    expect(await deposit(client)).toBe('APPLIED');
    const [row] = await rawRows<{ available: string }>(shard, 'SELECT available FROM accounts WHERE id = ?', [client]);
    expect(BigInt(row!.available)).toBe(12n);

    // Opening an account is fenced where it happens too: with every logical shard but 0 fenced on the database, a
    // process on no map opens on logical shard 0 or is refused, retryable, with no row written.
    await fenceOn(shard, 1, 63, 'fenced');
    try {
      // An owner whose directory row lives on logical shard 0, which stays open: its bit is written, and the opening
      // meets the fence at the account's own row. (An owner whose row lives on a fenced logical shard: below.)
      let ownerId = unique('opener');
      while (ownerHomeShard(ownerId) !== 0) ownerId = unique('opener');
      const fencedHome = (() => {
        let id = unique('opener');
        while (ownerHomeShard(id) === 0) id = unique('opener');
        return id;
      })();
      const eur = parseCurrency('EUR');
      assert(eur.ok, 'EUR is a currency');
      let opened = 0;
      let refusedOpens = 0;
      for (let i = 0; i < 20; i++) {
        const view = await openAccountRow(
          stale,
          { ownerId, type: 'PERSONAL', currency: eur.value, entity: 'PLATFORM' },
          new Date(),
        )
          .then((v) => v)
          .catch((e: unknown) => {
            expect(e).toBeInstanceOf(FencedWrite);
            refusedOpens++;
            return null;
          });
        if (view === null) continue;
        expect(view.id.endsWith('_00')).toBe(true);
        opened++;
      }
      expect(refusedOpens).toBeGreaterThan(0);
      // A refused opening gives back its place in the owner's bound (accountsPerOwnerMax): the count is what opened.
      const [counted] = await rawRows<{ n: number }>(
        shard,
        'SELECT accounts_opened AS n FROM owner_shards WHERE owner_id = ?',
        [ownerId],
      );
      expect(Number(counted!.n)).toBe(opened);
      // An owner whose directory row lives on a fenced logical shard: the reservation reads that fence row before it
      // counts, so the opening is refused with its row as it was (a +1 after the fence would differ from the copy).
      const homeRow = () =>
        rawRows<{ n: number; bits: string }>(
          shard,
          'SELECT accounts_opened AS n, CAST(shards AS CHAR) AS bits FROM owner_shards WHERE owner_id = ?',
          [fencedHome],
        );
      await rawWrite(shard, 'INSERT INTO owner_shards (owner_id, shards, accounts_opened) VALUES (?, 1, 2)', [
        fencedHome,
      ]);
      await expect(
        openAccountRow(
          stale,
          { ownerId: fencedHome, type: 'PERSONAL', currency: eur.value, entity: 'PLATFORM' },
          new Date(),
        ),
      ).rejects.toBeInstanceOf(FencedWrite);
      expect(await homeRow()).toEqual([{ n: 2, bits: '1' }]);
      const [rows] = await rawRows<{ n: number }>(shard, 'SELECT COUNT(*) AS n FROM accounts WHERE owner_id = ?', [
        ownerId,
      ]);
      expect(Number(rows!.n)).toBe(opened);
    } finally {
      await unfenceOn(shard, 1, 63, 'fenced');
    }
  });

  it('serves the last map it knew when the control database cannot be read, and says so in /health/ready', async () => {
    const proxy: TcpProxy = await startTcpProxy(targetOf(dbs.urls[0]!));
    try {
      const cut = follow(`${throughProxy(dbs.urls[0]!, proxy)},${dbs.urls[1]}`, 'settlement');
      await cut.follower.poll();
      const known = cut.shards.placement.version;
      expect(known).toBeGreaterThanOrEqual(4);
      expect((await readiness('settlement', cut.shards)).report.shardMap?.stale).toBeUndefined();
      proxy.setMode('reset');
      await until(() => cut.shards.placement.stale !== null);
      const { report } = await readiness('settlement', cut.shards);
      expect(report.shardMap?.version).toBe(known);
      expect(report.shardMap?.stale?.since).toMatch(/^\d{4}-/);
      // Still routed by what it knew: 32-63 on the third database.
      expect(cut.shards.byLogical(toLogicalShard(50)).name).toBe(new URL(dbs.urls[2]!).pathname.slice(1));
      proxy.setMode('pass');
      await until(() => cut.shards.placement.stale === null, 10_000);
      expect((await readiness('settlement', cut.shards)).report.shardMap?.stale).toBeUndefined();
    } finally {
      await proxy.close();
    }
  });
});
