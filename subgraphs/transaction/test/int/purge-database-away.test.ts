import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mysql from 'mysql2/promise';
import { newId, type LogicalShard } from '@paygraph/shared/ids';
import { openShards, type Shard, type ShardSet } from '@paygraph/shared/shards/pool';
import { rawRows } from '@paygraph/shared/db/raw';
import { idempotencyKeys } from '@paygraph/shared/idempotency/store/schema';
import { purgeExpiredKeys } from '@paygraph/shared/idempotency/index';
import { freePort } from '../../../../test/support/processes';
import { scratchDatabases, type ScratchDatabases } from '../../../../test/support/scratch-databases';
import { unique } from '../../../../test/support/env';
import { fxQuotes } from '../../src/db/schema/fx';
import { purgeExpiredQuotes } from '../../src/services/fx-quote-purge';
import { unclaimedQuoteRow } from '../support/fx-quote-rows';

/**
 * The idempotency-key and FX-quote purges over every database leave out only a database away (passOverDatabases): the
 * others are still purged and the pass answers. Anything else a database says is a bug, and fails the pass (the worker
 * logs it) once the others' purges have ended. Before, each purge caught every error of a database, a bug too, logged
 * it and answered as if nothing were wrong. On databases of this file's own: one of them has its tables renamed away.
 */
let dbs: ScratchDatabases;
/** The first scratch database and one that refuses connections. */
let withAway: ShardSet;
/** The first scratch database and the second, whose purged tables are renamed: every purge there is an SQL error. */
let withBroken: ShardSet;

beforeAll(async () => {
  dbs = await scratchDatabases('purgeaway', 2);
  const away = `mysql://root@127.0.0.1:${await freePort()}/paygraph_away`;
  withAway = openShards({ urls: `${dbs.urls[0]},${away}`, poolSize: 2 });
  withBroken = openShards({ urls: `${dbs.urls[0]},${dbs.urls[1]}`, poolSize: 2 });
  const broken = await mysql.createConnection({ uri: dbs.urls[1]! });
  try {
    await broken.query('RENAME TABLE idempotency_keys TO idempotency_keys_gone, fx_quotes TO fx_quotes_gone');
  } finally {
    await broken.end();
  }
});

afterAll(async () => {
  await withAway?.close();
  await withBroken?.close();
  await dbs?.drop();
});

const dayMs = 24 * 60 * 60 * 1000;
const now = new Date('2003-06-01T12:00:00Z');
/** Long past any retention at `now`. */
const longAgo = new Date(now.getTime() - 400 * dayMs);
const retentionDays = 30;

/** A logical shard the set places on its first database (the one that answers). */
function logicalHere(shards: ShardSet): LogicalShard {
  return shards.logicalOn(shards.all[0]!)[0]!;
}

/** Three keys claimed long ago on the set's first database; answers their caller. */
async function oldKeys(shards: ShardSet): Promise<string> {
  const caller = unique('purgeaway');
  await shards.all[0]!.db.insert(idempotencyKeys).values(
    [0, 1, 2].map((i) => ({
      anchorId: newId('account', logicalHere(shards)),
      callerId: caller,
      idempotencyKey: `k${i}`,
      operation: 'PAYMENT',
      requestHash: '0'.repeat(64),
      resourceId: newId('payment', logicalHere(shards)),
      createdAt: longAgo,
    })),
  );
  return caller;
}

async function keysLeft(shard: Shard, caller: string): Promise<number> {
  const rows = await rawRows<{ n: number }>(shard, 'SELECT COUNT(*) AS n FROM idempotency_keys WHERE caller_id = ?', [
    caller,
  ]);
  return Number(rows[0]!.n);
}

/** Three quotes no payment took, expired long ago, on the set's first database. */
async function oldQuotes(shards: ShardSet): Promise<string[]> {
  const ids = [0, 1, 2].map(() => newId('fxQuote', logicalHere(shards)));
  await shards.all[0]!.db.insert(fxQuotes).values(ids.map((id) => unclaimedQuoteRow(id, 'purgeaway', longAgo)));
  return ids;
}

async function quotesLeft(shard: Shard, ids: readonly string[]): Promise<number> {
  const rows = await rawRows<{ n: number }>(shard, 'SELECT COUNT(*) AS n FROM fx_quotes WHERE id IN (?)', [ids]);
  return Number(rows[0]!.n);
}

describe('the purges with one database away', () => {
  it('purge the other database and answer what they deleted', async () => {
    const caller = await oldKeys(withAway);
    const quotes = await oldQuotes(withAway);
    await expect(purgeExpiredKeys(withAway, { retentionDays, batchSize: 100 }, now)).resolves.toBe(3);
    await expect(purgeExpiredQuotes(withAway, { idempotencyRetentionDays: retentionDays }, now)).resolves.toBe(3);
    expect(await keysLeft(withAway.all[0]!, caller)).toBe(0);
    expect(await quotesLeft(withAway.all[0]!, quotes)).toBe(0);
  });
});

describe('the purges with an SQL error on one database', () => {
  it('fail the pass with that error, once the other database was purged', async () => {
    const caller = await oldKeys(withBroken);
    const quotes = await oldQuotes(withBroken);
    // Before, both answered a count (the error logged per database) and the worker saw a pass that went well.
    await expect(purgeExpiredKeys(withBroken, { retentionDays, batchSize: 100 }, now)).rejects.toThrow(
      /idempotency_keys/,
    );
    await expect(purgeExpiredQuotes(withBroken, { idempotencyRetentionDays: retentionDays }, now)).rejects.toThrow(
      /fx_quotes/,
    );
    expect(await keysLeft(withBroken.all[0]!, caller)).toBe(0);
    expect(await quotesLeft(withBroken.all[0]!, quotes)).toBe(0);
  });
});
