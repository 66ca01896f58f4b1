import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { newId, shardOfAnyId } from '@paygraph/shared/ids';
import { openShards, type ShardSet } from '@paygraph/shared/shards/pool';
import { scratchDatabases, type ScratchDatabases } from '../../../../test/support/scratch-databases';
import { webhookEndpoints } from '../../src/db/schema/webhooks';
import { EndpointDirectory } from '../../src/services/endpoint-directory';
import { sealSecret } from '../../src/services/secrets';

/**
 * A shard move leaves a range's rows on its source as copies until its cleanup (for good with --keep-source), and a
 * target holds an arriving range's rows before the switch. The dispatcher's directory reads every database's
 * endpoints: it must take each endpoint from the database the map places it on, whatever order the databases come in
 * and whether or not the map fences its range, or a copy decides what the dispatcher does (an endpoint disabled after
 * its move delivered to again, a secret rotated after it signing with the one before). Two databases of this file's
 * own, contiguous ranges, a process on no live map: the first holds the lower half of the logical shards, the second
 * the upper.
 */
let dbs: ScratchDatabases;
let shards: ShardSet;
const secretKey = randomBytes(32);
type Status = 'ENABLED' | 'DISABLED';

beforeAll(async () => {
  dbs = await scratchDatabases('epcopies', 2);
  shards = openShards({ urls: dbs.urls.join(','), poolSize: 2 });
});

afterAll(async () => {
  await shards?.close();
  await dbs?.drop();
});

/** The same endpoint on both databases: `placed` where the map places it, `copy` on the other. */
async function placedAndCopy(placedOn: 0 | 1, placed: Status, copy: Status): Promise<string> {
  const home = shards.all[placedOn]!;
  const id = newId('webhookEndpoint', shards.logicalOn(home)[0]!);
  const row = (status: Status) => ({
    ...{ id, ownerId: 'endpoint-copies', ownerRole: 'customer', url: 'https://example.test/hook' },
    ...{ eventTypes: 'balance.changed', secretSealed: sealSecret(secretKey, id, 'whsec_copy'), status },
    disabledReason: status === 'DISABLED' ? 'disabled by its owner' : null,
  });
  await home.db.insert(webhookEndpoints).values(row(placed));
  await shards.all[1 - placedOn]!.db.insert(webhookEndpoints).values(row(copy));
  return id;
}

async function statusesAfterRefresh(ids: readonly string[]): Promise<Array<Status | undefined>> {
  const directory = new EndpointDirectory(shards, secretKey, () => new Date());
  await directory.refresh();
  return ids.map((id) => directory.get(id)?.row.status as Status | undefined);
}

describe("the dispatcher's directory and a move's copies", () => {
  it('takes each endpoint from the database the map places it on, before or after the copy in the list', async () => {
    const disabled = [await placedAndCopy(0, 'DISABLED', 'ENABLED'), await placedAndCopy(1, 'DISABLED', 'ENABLED')];
    const enabled = [await placedAndCopy(0, 'ENABLED', 'DISABLED'), await placedAndCopy(1, 'ENABLED', 'DISABLED')];
    expect(await statusesAfterRefresh([...disabled, ...enabled])).toEqual([
      ...['DISABLED', 'DISABLED'],
      ...['ENABLED', 'ENABLED'],
    ]);
  });

  it('keeps an endpoint whose range the map fences, from the database the map places it on', async () => {
    const ids = [await placedAndCopy(0, 'DISABLED', 'ENABLED'), await placedAndCopy(1, 'ENABLED', 'DISABLED')];
    const current = shards.placement.current;
    const fenced = [...new Set(ids.map((id) => shardOfAnyId(id)))].sort((a, b) => a - b);
    shards.placement.apply({ ...current, version: current.version + 1, fenced });
    expect(await statusesAfterRefresh(ids)).toEqual(['DISABLED', 'ENABLED']);
  });
});
