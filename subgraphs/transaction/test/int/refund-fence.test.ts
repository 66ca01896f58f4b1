import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import { openShards, type Shard, type ShardSet } from '@paygraph/shared/shards/pool';
import { rawRows } from '@paygraph/shared/db/raw';
import { fenceOn, unfenceOn } from '@paygraph/shared/control/index';
import { insertAccount } from '@paygraph/shared/ledger/index';
import { scratchDatabases, type ScratchDatabases } from '../../../../test/support/scratch-databases';
import { unique } from '../../../../test/support/env';
import { lockingReadWaits, until } from '../../../../test/support/lock-waits';
import { payments } from '../../src/db/schema/transactions';
import { lockPayment } from '../../src/db/payments';
import { refundPayment } from '../../src/services/refund';
import { serviceContext } from '../support/service-context';

/**
 * A cross-database payment's refund reserves its amount in a transaction of its own, after its key's claim (which reads
 * the fence and commits first): the refund's row, the payment's raised refunded_amount and the outbox row, all of the
 * payment's logical shard. A reservation that committed on a source after the mover's fence would be left behind at the
 * switch, the payee debited into clearing for a refund that exists only on the dead copy, and the payment refundable
 * again. So the reservation reads the payment's fence row in share mode before the payment's lock: a mover's fence
 * write waits for a reservation under way, and nothing of it is written after the fence. Here the reservation waits for
 * the payment's lock, held by the test, between its claim and its write, while the range is fenced: what the database
 * holds of the refund when the fence write returns is all it ever holds. On a database of this file's own, a process
 * on no map: a fence here would refuse other files' writes.
 */
let dbs: ScratchDatabases;
let shards: ShardSet;
let shard: Shard;
const payerShard = toLogicalShard(29);
const payeeShard = toLogicalShard(35);

beforeAll(async () => {
  dbs = await scratchDatabases('refundfence', 1);
  // Connections for the claim, the reservation, the test's lock, the fence write and the reads beside them.
  shards = openShards({ urls: dbs.urls[0]!, poolSize: 6 });
  shard = shards.all[0]!;
});

afterAll(async () => {
  await shards?.close();
  await dbs?.drop();
});

/** A payment of 1,000 that crossed databases (its route), its payer on one logical shard and its payee on another. */
async function crossPayment(): Promise<string> {
  const payer = newId('account', payerShard);
  const payee = newId('account', payeeShard);
  for (const [id, type] of [
    [payer, 'PERSONAL'],
    [payee, 'MERCHANT'],
  ] as const)
    await insertAccount(shard.db, { id, ownerId: unique('refundfence'), type, currency: 'EUR', status: 'ACTIVE' });
  const id = newId('payment', payerShard);
  await shard.db.insert(payments).values({
    id,
    payerAccountId: payer,
    payeeAccountId: payee,
    creditAccountId: payee,
    route: 'CROSS_SHARD',
    amount: 1_000n,
    currency: 'EUR',
    status: 'SUCCEEDED',
    createdBy: 'refundfence',
    completedAt: new Date(),
  });
  return id;
}

/** The refund's rows on the database: the payment's refunds, its refunded amount and the outbox rows of its refunds. */
async function written(paymentId: string): Promise<string[]> {
  const rows = await rawRows<{ row: string }>(
    shard,
    `SELECT CONCAT('refund ', id, ' ', status) AS \`row\` FROM refunds WHERE payment_id = ?
     UNION ALL SELECT CONCAT('refunded ', refunded_amount) FROM payments WHERE id = ?
     UNION ALL SELECT CONCAT('outbox ', o.id, ' ', o.step) FROM transfer_outbox o JOIN refunds r ON r.id = o.id
       WHERE r.payment_id = ?`,
    [paymentId, paymentId, paymentId],
  );
  return rows.map((r) => r.row).sort();
}

/**
 * Whether a statement on this database is locking the payment (the reservation's FOR UPDATE, waiting for the test's
 * lock): the process list's, as MariaDB lists no transaction of it while it waits for its first lock.
 */
const aPaymentLockWaits = (paymentId: string) => lockingReadWaits(shard, `%from \`payments\`%${paymentId}%`);

describe("a cross-database refund's reservation and a fence on its database", () => {
  it('writes nothing after the fence write returns, when the range is fenced between its claim and its write', async () => {
    const paymentId = await crossPayment();
    let release!: () => void;
    let held!: () => void;
    const holding = new Promise<void>((resolve) => (held = resolve));
    const holder = shard.db.transaction(async (tx) => {
      await lockPayment(tx, paymentId);
      held();
      await new Promise<void>((resolve) => (release = resolve));
    });
    await holding;
    const ctx = serviceContext(shards, { sub: unique('refundfence-op'), role: 'operator' });
    const input = { idempotencyKey: unique('key'), paymentId, amount: '400' };
    const refund = refundPayment(ctx, input).catch((e: unknown) => e);
    // Its key claimed (the claim read the range open and committed), the reservation waits for the payment's lock.
    let settled: unknown = undefined;
    void refund.then((answer) => (settled = answer ?? null));
    await until(async () => {
      if (settled !== undefined) throw new Error(`the refund answered before it waited: ${JSON.stringify(settled)}`);
      return aPaymentLockWaits(paymentId);
    }, "the reservation's wait for the payment's lock");
    let atFence: string[] | null = null;
    const fenced = fenceOn(shard, payerShard, payerShard, 'fenced').then(async () => {
      atFence = await written(paymentId);
    });
    try {
      // Long enough for a fence write that waits for nothing to return while the payment is still locked.
      await new Promise((resolve) => setTimeout(resolve, 500));
      release();
      await holder;
      await fenced;
      await refund;
      expect(atFence).not.toBeNull();
      expect(await written(paymentId)).toEqual(atFence);
    } finally {
      release();
      await unfenceOn(shard, payerShard, payerShard, 'fenced');
    }
  });
});
