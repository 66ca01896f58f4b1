import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import { openShards, type Shard, type ShardSet } from '@paygraph/shared/shards/pool';
import { rawRows } from '@paygraph/shared/db/raw';
import { freePort } from '../../../../test/support/processes';
import { scratchDatabases, type ScratchDatabases } from '../../../../test/support/scratch-databases';
import { webhookDeliveries, webhookEndpoints, webhookStreams, type EndpointRow } from '../../src/db/schema/webhooks';
import { endpointById } from '../../src/db/endpoints';
import { scannedUntil } from '../../src/db/sources';
import { Dispatcher } from '../../src/services/dispatcher';
import { disableByDispatcher } from '../../src/services/endpoint-health';
import { destinationPolicyOf } from '../../src/services/destination';
import { dispatcherSettingsDefault } from '../../src/config';

/**
 * The refresh worker with one database away (a shard set of a scratch database and one that refuses connections): a
 * disabled endpoint's queues are closed on the database that answers, the refresh goes on to its scans (failed refunds,
 * verified links) on that database, and the endpoint is closed again at the next refresh. Before, closing its queues
 * threw at the database away and ended every refresh before its scans, for the whole outage.
 */
let dbs: ScratchDatabases;
let shards: ShardSet;
let here: Shard;
let logical: number;

beforeAll(async () => {
  dbs = await scratchDatabases('refreshaway', 1);
  const away = `mysql://root@127.0.0.1:${await freePort()}/paygraph_away`;
  shards = openShards({ urls: `${dbs.urls[0]},${away}`, poolSize: 1 });
  here = shards.all[0]!;
  logical = shards.logicalOn(here)[0]!;
});

afterAll(async () => {
  await shards?.close();
  await dbs?.drop();
});

/** An endpoint on the database that answers, with `row`'s fields. */
async function endpoint(row: Partial<EndpointRow>): Promise<string> {
  const id = newId('webhookEndpoint', toLogicalShard(logical));
  await here.db.insert(webhookEndpoints).values({
    ...{ id, ownerId: 'refresh-away', ownerRole: 'customer', url: 'https://example.test/hook' },
    ...{ eventTypes: 'balance.changed', secretSealed: 'sealed', ...row },
  });
  return id;
}

/** A stream of the endpoint and a PENDING delivery on it, on the database that answers. */
async function queue(endpointId: string): Promise<void> {
  const stripeId = newId('account', toLogicalShard(logical));
  const zero = { lastSequence: 1n, available: 0n, frozen: 0n, pending: 0n };
  await here.db.insert(webhookStreams).values({ endpointId, stripeId, accountId: stripeId, ...zero });
  await here.db.insert(webhookDeliveries).values({
    ...{ id: newId('webhookDelivery', toLogicalShard(logical)), endpointId, stripeId, accountId: stripeId },
    ...{ sequence: 1n, eventType: 'balance.changed', body: '{}', status: 'PENDING' as const, attempts: 0 },
  });
}

async function pending(endpointId: string): Promise<number> {
  const sql = "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE endpoint_id = ? AND status = 'PENDING'";
  return Number((await rawRows<{ n: number }>(here, sql, [endpointId]))[0]!.n);
}

describe('the webhooks refresh with one database away', () => {
  it("closes a disabled endpoint's queues where it can, runs its scans there, and closes again at the next", async () => {
    // Disabled an hour ago, past disabledSweepMs: closed again only if no refresh has closed it everywhere yet.
    const id = await endpoint({
      status: 'DISABLED',
      disabledReason: 'test',
      updatedAt: new Date(Date.now() - 3_600_000),
    });
    await queue(id);
    const dispatcher = new Dispatcher(shards, dispatcherSettingsDefault, {
      policy: destinationPolicyOf(false),
      secretKey: randomBytes(32),
    });
    await dispatcher.start();
    try {
      await dispatcher.refreshed();
      expect(await pending(id)).toBe(0);
      expect(await scannedUntil(here.db, 'refund.failed')).not.toBeNull();
      expect(await scannedUntil(here.db, 'external_account.verified')).not.toBeNull();
      // A retry an attempt in flight wrote since: the endpoint was not closed everywhere, so the next refresh closes it.
      await queue(id);
      await dispatcher.refreshed();
      expect(await pending(id)).toBe(0);
    } finally {
      await dispatcher.stop();
    }
  });

  it('disables an endpoint and closes its queues where it can, leaving the rest to the refresh', async () => {
    const id = await endpoint({});
    await queue(id);
    let row = (await endpointById(here.db, id))!;
    const directory = {
      update: (_id: string, change: Partial<EndpointRow>) => {
        row = { ...row, ...change };
      },
    };
    // Its row and streams here; closing its queues fails at the database away, and was thrown out of the disabling.
    expect(await disableByDispatcher(shards, directory, { row }, 'failing too long', new Date())).toBe(true);
    expect((await endpointById(here.db, id))!.status).toBe('DISABLED');
    expect(row.status).toBe('DISABLED');
    expect(await pending(id)).toBe(0);
  });
});
