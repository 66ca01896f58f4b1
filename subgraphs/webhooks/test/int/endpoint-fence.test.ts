import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mysql from 'mysql2/promise';
import { randomBytes } from 'node:crypto';
import { idSuffix, newId, toLogicalShard } from '@paygraph/shared/ids';
import { unique } from '../../../../test/support/env';
import { openShards, type Shard, type ShardSet } from '@paygraph/shared/shards/pool';
import { freePort } from '../../../../test/support/processes';
import { rawRows, rawWrite } from '@paygraph/shared/db/raw';
import type { FenceReason } from '@paygraph/shared/control/index';
import { scratchShard, whileFenced, type ScratchShard } from '../../../../test/support/scratch-databases';
import { webhookDeliveries, webhookEndpoints, webhookStreams, type EndpointRow } from '../../src/db/schema/webhooks';
import { closeEndpointQueues } from '../../src/services/disabled-endpoints';
import { endpointDeliveries } from '../../src/services/deliveries';
import { Dispatcher } from '../../src/services/dispatcher';
import { destinationPolicyOf } from '../../src/services/destination';
import { dispatcherSettingsDefault } from '../../src/config';
import type { WebhooksContext } from '../../src/context';
import { createEndpoint, disableEndpointBy, redeliver, rotateSecret } from '../../src/services/endpoints';
import { log } from '@paygraph/shared/log';
import { FencedWrite } from '@paygraph/shared/shards/unavailable';
import { logicalShardCount } from '@paygraph/shared/limits';
import { endpointById } from '../../src/db/endpoints';
import { disableByDispatcher, markFailing, markHealthy } from '../../src/services/endpoint-health';

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

describe("an endpoint's registration, disabling and rotation, and a fence on its database", () => {
  const secretKey = randomBytes(32);
  const policy = destinationPolicyOf(false);
  const owner = (sub: string) =>
    ({
      identity: { sub, role: 'customer' },
      shards,
      log: log(),
      services: { now: () => new Date(), policy, secretKey },
    }) as unknown as WebhooksContext;
  const input = { url: 'https://example.com/hook', eventTypes: ['balance.changed'], accountIds: null };
  const endpointRow = async (id: string) =>
    (
      await rawRows<{ status: string; sealed: string }>(
        shard,
        'SELECT status, secret_sealed AS sealed FROM webhook_endpoints WHERE id = ?',
        [id],
      )
    )[0];
  const refusal = (run: () => Promise<unknown>) => run().catch((e: unknown) => e);
  const everyLogicalShard = { first: 0, last: logicalShardCount - 1 };

  it('registers nothing while its logical shard is fenced there, and registers once open', async () => {
    const ctx = owner(unique('endpointfence'));
    for (const reason of reasons) {
      const refused = await whileFenced(shard, everyLogicalShard, reason, () =>
        refusal(() => createEndpoint(ctx, input)),
      );
      expect(refused).toBeInstanceOf(FencedWrite);
      const [row] = await rawRows<{ n: number }>(
        shard,
        'SELECT COUNT(*) AS n FROM webhook_endpoints WHERE owner_id = ?',
        [ctx.identity.sub],
      );
      expect(Number(row!.n)).toBe(0);
    }
    expect((await createEndpoint(ctx, input)).ok).toBe(true);
  });

  it('neither disables nor rotates an endpoint whose logical shard is fenced there, and does both once open', async () => {
    const ctx = owner(unique('endpointfence'));
    const made = await createEndpoint(ctx, input);
    if (!made.ok) throw new Error(JSON.stringify(made.error));
    const id = made.value.id;
    const logical = parseInt(id.slice(-2), 16);
    const before = await endpointRow(id);
    for (const reason of reasons) {
      const rotation = await whileFenced(shard, logical, reason, () => refusal(() => rotateSecret(ctx, id)));
      expect(rotation).toBeInstanceOf(FencedWrite);
      const disabling = await whileFenced(shard, logical, reason, () => refusal(() => disableEndpointBy(ctx, id)));
      expect(disabling).toBeInstanceOf(FencedWrite);
      expect(await endpointRow(id)).toEqual(before);
    }
    expect((await rotateSecret(ctx, id)).ok).toBe(true);
    expect((await disableEndpointBy(ctx, id)).ok).toBe(true);
    const after = await endpointRow(id);
    expect(after!.status).toBe('DISABLED');
    expect(after!.sealed).not.toBe(before!.sealed);
  });
});

describe("the dispatcher's writes of an endpoint's row, and a fence on its database", () => {
  const owner = () =>
    ({
      identity: { sub: unique('endpointfence-dispatcher'), role: 'customer' },
      shards,
      log: log(),
      services: { now: () => new Date(), policy: destinationPolicyOf(false), secretKey: randomBytes(32) },
    }) as unknown as WebhooksContext;
  const input = { url: 'https://example.com/hook', eventTypes: ['balance.changed'], accountIds: null };

  /**
   * An endpoint registered open, its logical shard, and a view of it as the dispatcher's directory keeps it (its row as
   * read, changed by what the writes tell it).
   */
  async function known() {
    const made = await createEndpoint(owner(), input);
    if (!made.ok) throw new Error(JSON.stringify(made.error));
    const id = made.value.id;
    let row = (await endpointById(shard.db, id))!;
    const directory = {
      update: (_id: string, change: Partial<EndpointRow>) => {
        row = { ...row, ...change };
      },
    };
    return { id, logical: parseInt(id.slice(-2), 16), directory, view: () => ({ row }) };
  }
  const stored = async (id: string) => (await endpointById(shard.db, id))!;

  it('marks an endpoint neither failing nor healthy while its logical shard is fenced there, and both once open', async () => {
    const { id, logical, directory, view } = await known();
    for (const reason of reasons) {
      await whileFenced(shard, logical, reason, () => markFailing(shards, directory, view(), new Date()));
      expect((await stored(id)).failingSince).toBeNull();
      expect(view().row.failingSince).toBeNull();
    }
    await markFailing(shards, directory, view(), new Date());
    expect((await stored(id)).failingSince).not.toBeNull();
    expect(view().row.failingSince).not.toBeNull();
    for (const reason of reasons) {
      await whileFenced(shard, logical, reason, () => markHealthy(shards, directory, view()));
      expect((await stored(id)).failingSince).not.toBeNull();
      expect(view().row.failingSince).not.toBeNull();
    }
    await markHealthy(shards, directory, view());
    expect((await stored(id)).failingSince).toBeNull();
    expect(view().row.failingSince).toBeNull();
  });

  it("leaves the writes for a later pass, throwing nothing, while the endpoint's database is away", async () => {
    // The endpoint's row lives on its owner's database, its streams on their accounts': thrown, the error lost the
    // attempt's own write, and its stream sent the same event again at every pass while the owner's database was away.
    const away = openShards({ urls: `mysql://root@127.0.0.1:${await freePort()}/paygraph_away`, poolSize: 1 });
    try {
      const { id, directory, view } = await known();
      await markFailing(away, directory, view(), new Date());
      expect(view().row.failingSince).toBeNull();
      await markFailing(shards, directory, view(), new Date());
      await markHealthy(away, directory, view());
      expect(view().row.failingSince).not.toBeNull();
      expect(await disableByDispatcher(away, directory, view(), 'failing too long', new Date())).toBe(false);
      expect(view().row.status).toBe('ENABLED');
      expect((await stored(id)).status).toBe('ENABLED');
    } finally {
      await away.close();
    }
  });

  it("leaves the writes for a later pass, throwing nothing, while another transaction holds the endpoint's row", async () => {
    const { id, directory, view } = await known();
    const other = await mysql.createConnection({ uri: shards.topology.urls[shard.index]! });
    try {
      await other.query('BEGIN');
      await other.query('SELECT id FROM webhook_endpoints WHERE id = ? FOR UPDATE', [id]);
      await markFailing(shards, directory, view(), new Date());
      expect(view().row.failingSince).toBeNull();
    } finally {
      await other.query('ROLLBACK');
      await other.end();
    }
    expect((await stored(id)).failingSince).toBeNull();
  });

  it('leaves an endpoint enabled and its queue open while its logical shard is fenced there, disabled once open', async () => {
    const { id, logical, directory, view } = await known();
    const stripeLogical = (logical + 1) % logicalShardCount;
    await queues(id, [stripeLogical]);
    const end = idSuffix(toLogicalShard(stripeLogical));
    const disable = () => disableByDispatcher(shards, directory, view(), 'failing too long', new Date());
    for (const reason of reasons) {
      expect(await whileFenced(shard, logical, reason, disable)).toBe(false);
      expect((await stored(id)).status).toBe('ENABLED');
      expect(view().row.status).toBe('ENABLED');
      expect(await open(id)).toEqual({ streams: [end], pending: [end] });
    }
    expect(await disable()).toBe(true);
    expect((await stored(id)).status).toBe('DISABLED');
    expect(view().row.status).toBe('DISABLED');
    expect(await open(id)).toEqual({ streams: [], pending: [] });
  });
});

describe('a redelivery, and a fence on its database', () => {
  const owner = () =>
    ({
      identity: { sub: unique('endpointfence-redeliver'), role: 'customer' },
      shards,
      log: log(),
      services: { now: () => new Date(), policy: destinationPolicyOf(false), secretKey: randomBytes(32) },
    }) as unknown as WebhooksContext;
  const input = { url: 'https://example.com/hook', eventTypes: ['balance.changed'], accountIds: null };
  const openEnd = idSuffix(openShard);

  it('is refused while a range of its deliveries is fenced or arriving there, leaves a moved one, and requeues all once open', async () => {
    const ctx = owner();
    const made = await createEndpoint(ctx, input);
    if (!made.ok) throw new Error(JSON.stringify(made.error));
    const id = made.value.id;
    await queues(id, [fencedShard, openShard]);
    await rawWrite(shard, "UPDATE webhook_deliveries SET status = 'SUCCEEDED' WHERE endpoint_id = ?", [id]);
    const since = new Date(Date.now() - 3_600_000);
    const delivered = { streams: [fencedEnd, openEnd].sort(), pending: [] };
    for (const reason of ['fenced', 'arriving'] as const) {
      const refused = await fenced(reason, () => redeliver(ctx, id, since).catch((e: unknown) => e));
      expect(refused).toBeInstanceOf(FencedWrite);
      expect(await open(id)).toEqual(delivered);
    }
    // Moved away: its rows here are copies a move left behind, requeued where the range now is.
    const moved = await fenced('moved', () => redeliver(ctx, id, since));
    expect(moved.ok && moved.value.count).toBe(1);
    expect((await open(id)).pending).toEqual([openEnd]);
    const requeued = await redeliver(ctx, id, since);
    expect(requeued.ok && requeued.value.count).toBe(2);
    expect((await open(id)).pending).toEqual([fencedEnd, openEnd].sort());
  });
});

describe("an endpoint's deliveries listed", () => {
  it('leaves out the copies of a range moved away or arriving, and lists a fenced range, still held here', async () => {
    const endpointId = newId('webhookEndpoint', openShard);
    await queues(endpointId, [fencedShard, openShard]);
    const listed = async () => (await endpointDeliveries(shards, endpointId, 10, null)).rows.map((r) => r.id.slice(-2));
    const both = [idSuffix(fencedShard), idSuffix(openShard)].sort();
    for (const reason of ['moved', 'arriving'] as const)
      expect(await fenced(reason, listed)).toEqual([idSuffix(openShard)]);
    expect((await fenced('fenced', listed)).sort()).toEqual(both);
    expect((await listed()).sort()).toEqual(both);
  });
});
