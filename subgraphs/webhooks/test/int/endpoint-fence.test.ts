import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { idSuffix, newId, toLogicalShard } from '@paygraph/shared/ids';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { rawRows } from '@paygraph/shared/db/raw';
import type { FenceReason } from '@paygraph/shared/control/index';
import { scratchShard, whileFenced, type ScratchShard } from '../../../../test/support/scratch-databases';
import { webhookDeliveries, webhookEndpoints, webhookStreams } from '../../src/db/schema/webhooks';
import { closeEndpointQueues } from '../../src/services/disabled-endpoints';
import { Dispatcher } from '../../src/services/dispatcher';
import { destinationPolicyOf } from '../../src/services/destination';
import { dispatcherSettingsDefault } from '../../src/config';

/**
 * A disabled endpoint's queues closed and a rotated-out secret erased are writes over a whole database of rows a shard
 * move carries (a delivery and a stream with their stripe's logical shard, an endpoint with its id's): made on a
 * fenced source after the mover's copy read them they would be lost at the target (its queue still open there, the
 * sealed secret kept), or leave the two sides unlike. So each reads every fence row in share mode first in its
 * transaction and leaves the ranges not open as they are. On a database of this file's own: a fence here would refuse
 * other files' writes.
 */
let scratch: ScratchShard;
let shards: ShardSet;
let shard: Shard;
const fencedShard = toLogicalShard(33);
const openShard = toLogicalShard(34);
const reasons: FenceReason[] = ['fenced', 'arriving', 'moved'];

beforeAll(async () => {
  scratch = await scratchShard('endpointfence');
  ({ shards, shard } = scratch);
});

afterAll(async () => scratch?.close());

const fenced = <T>(reason: FenceReason, run: () => Promise<T>): Promise<T> =>
  whileFenced(shard, fencedShard, reason, run);

/** An endpoint's stream and one PENDING delivery on each of these logical shards (its stripe's). */
async function queues(endpointId: string, logicalShards: readonly number[]): Promise<void> {
  for (const l of logicalShards) {
    const stripeId = newId('account', toLogicalShard(l));
    const zero = { lastSequence: 1n, available: 0n, frozen: 0n, pending: 0n };
    await shard.db.insert(webhookStreams).values({ endpointId, stripeId, accountId: stripeId, ...zero });
    await shard.db.insert(webhookDeliveries).values({
      ...{ id: newId('webhookDelivery', toLogicalShard(l)), endpointId, stripeId, accountId: stripeId },
      ...{ sequence: 1n, eventType: 'balance.changed', body: '{}', status: 'PENDING' as const, attempts: 0 },
    });
  }
}

/** The logical shards whose stream and PENDING delivery of the endpoint are still there. */
async function open(endpointId: string): Promise<{ streams: string[]; pending: string[] }> {
  const ends = async (sql: string) => (await rawRows<{ l: string }>(shard, sql, [endpointId])).map((r) => r.l).sort();
  return {
    streams: await ends('SELECT RIGHT(stripe_id, 2) AS l FROM webhook_streams WHERE endpoint_id = ?'),
    pending: await ends(
      "SELECT RIGHT(id, 2) AS l FROM webhook_deliveries WHERE endpoint_id = ? AND status = 'PENDING'",
    ),
  };
}

/** Endpoints of these logical shards whose rotated-out secret's overlap ended an hour ago. */
async function rotatedOut(logicalShards: readonly number[]): Promise<string[]> {
  const ids = logicalShards.map((l) => newId('webhookEndpoint', toLogicalShard(l)));
  await shard.db.insert(webhookEndpoints).values(
    ids.map((id) => ({
      ...{ id, ownerId: 'endpoint-fence', ownerRole: 'customer', url: 'https://example.test/hook' },
      ...{ eventTypes: 'balance.changed', secretSealed: 'sealed-now', previousSecretSealed: 'sealed-before' },
      previousSecretUntil: new Date(Date.now() - 3_600_000),
    })),
  );
  return ids;
}

async function secretsKept(ids: readonly string[]): Promise<string[]> {
  const rows = await rawRows<{ id: string }>(
    shard,
    'SELECT id FROM webhook_endpoints WHERE id IN (?) AND previous_secret_sealed IS NOT NULL ORDER BY id',
    [ids],
  );
  return rows.map((r) => r.id);
}

const fencedEnd = idSuffix(fencedShard);

describe("a disabled endpoint's queues closed, and a fence on their database", () => {
  for (const reason of reasons) {
    it(`leaves the stream and deliveries of a range ${reason} there, closes the others, and those once open`, async () => {
      const endpointId = newId('webhookEndpoint', openShard);
      await queues(endpointId, [fencedShard, openShard]);
      expect(await fenced(reason, () => closeEndpointQueues(shards, endpointId, 'test'))).toBe(1);
      expect(await open(endpointId)).toEqual({ streams: [fencedEnd], pending: [fencedEnd] });
      expect(await closeEndpointQueues(shards, endpointId, 'test')).toBe(1);
      expect(await open(endpointId)).toEqual({ streams: [], pending: [] });
    });
  }
});

describe('rotated-out secrets erased, and a fence on their database', () => {
  // Never started: only its erasing pass runs, as the worker's would.
  const eraser = () =>
    new Dispatcher(shards, dispatcherSettingsDefault, {
      policy: destinationPolicyOf(false),
      secretKey: randomBytes(32),
    }).eraseSecrets();
  for (const reason of reasons) {
    it(`keeps the secret of an endpoint of a range ${reason} there, erases the other's, and it once open`, async () => {
      const [fencedId, openId] = await rotatedOut([fencedShard, openShard]);
      expect(await fenced(reason, eraser)).toBe(1);
      expect(await secretsKept([fencedId!, openId!])).toEqual([fencedId]);
      expect(await eraser()).toBe(1);
      expect(await secretsKept([fencedId!, openId!])).toEqual([]);
    });
  }
});
