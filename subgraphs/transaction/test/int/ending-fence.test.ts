import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@paygraph/shared/ids';
import { openShards, type Shard, type ShardSet } from '@paygraph/shared/shards/pool';
import { rawRows } from '@paygraph/shared/db/raw';
import { insertAccount } from '@paygraph/shared/ledger/index';
import { FencedWrite } from '@paygraph/shared/shards/unavailable';
import { scratchDatabases, whileFenced, type ScratchDatabases } from '../../../../test/support/scratch-databases';
import { unique } from '../../../../test/support/env';
import { createPayment } from '../../src/services/payment';
import { completePaymentById } from '../../src/services/payment-completion';
import { serviceContext } from '../support/service-context';

/**
 * A cross-shard payment's ending writes its outbox row (DONE) and its record (SUCCEEDED) on the payer's database, rows
 * that move with the payment's logical shard, and a success posts nothing there: the ending reads that logical shard's
 * fence row itself (services/payment-completion.ts paymentEndings), so a process whose map missed a shard move's fence
 * ends no payment on the source after the mover's last catch-up (the verify refused the move: "rows differ in
 * payments, transfer_outbox", test/shard-move-catch-up.test.ts under load). On databases of this file's own, as a
 * process on no map: a fence here would refuse other files' postings.
 */
let dbs: ScratchDatabases;
let shards: ShardSet;
let payerDb: Shard;
let payeeDb: Shard;

beforeAll(async () => {
  dbs = await scratchDatabases('endingfence', 2);
  shards = openShards({ urls: dbs.urls.join(','), poolSize: 2 });
  [payerDb, payeeDb] = shards.all as [Shard, Shard];
});

afterAll(async () => {
  await shards?.close();
  await dbs?.drop();
});

interface Stored {
  status: string;
  outbox: string;
  credited: bigint;
}

async function stored(paymentId: string, payee: string): Promise<Stored> {
  const [payment] = await rawRows<{ status: string }>(payerDb, 'SELECT status FROM payments WHERE id = ?', [paymentId]);
  const [outbox] = await rawRows<{ status: string }>(payerDb, 'SELECT status FROM transfer_outbox WHERE id = ?', [
    paymentId,
  ]);
  const [account] = await rawRows<{ a: string }>(payeeDb, 'SELECT available AS a FROM accounts WHERE id = ?', [payee]);
  return { status: payment!.status, outbox: outbox!.status, credited: BigInt(account!.a) };
}

describe("a cross-shard payment's ending and a fence on the payer's database", () => {
  it("ends nothing while the payment's logical shard is fenced there, and ends it once open, crediting once", async () => {
    const payerShard = shards.logicalOn(payerDb)[0]!;
    const payeeShard = shards.logicalOn(payeeDb)[0]!;
    const ctx = serviceContext(shards, { sub: unique('endingfence'), role: 'customer' });
    const [payer, payee] = [newId('account', payerShard), newId('account', payeeShard)];
    await insertAccount(payerDb.db, {
      id: payer,
      ownerId: ctx.identity.sub,
      type: 'PERSONAL',
      currency: 'USD',
      status: 'ACTIVE',
      available: 1_000n,
    });
    const payeeOwner = unique('endingfence-payee');
    await insertAccount(payeeDb.db, {
      id: payee,
      ownerId: payeeOwner,
      type: 'PERSONAL',
      currency: 'USD',
      status: 'ACTIVE',
    });
    const input = {
      idempotencyKey: unique('key'),
      payerAccountId: payer,
      payeeAccountId: payee,
      amount: '100',
      currency: 'USD',
    };
    // The credit refused at first (the payee's range fenced): the debit stands, the payment waits for its ending.
    const answered = await whileFenced(payeeDb, payeeShard, 'fenced', () => createPayment(ctx, input));
    expect(answered).toMatchObject({ ok: true, value: { status: 'PROCESSING' } });
    const id = answered.ok ? answered.value.id : '';
    expect(await stored(id, payee)).toEqual({ status: 'PROCESSING', outbox: 'PENDING', credited: 0n });
    // The payee's range open and the payer's fenced: the credit may post, the ending may not write.
    const refused = await whileFenced(payerDb, payerShard, 'fenced', () =>
      completePaymentById(shards, payerDb, id, () => new Date()).catch((e: unknown) => e),
    );
    expect(refused).toBeInstanceOf(FencedWrite);
    expect(await stored(id, payee)).toMatchObject({ status: 'PROCESSING', outbox: 'PENDING' });
    // Open again: the relay's run ends it, the credit posted once whatever ran before.
    await completePaymentById(shards, payerDb, id, () => new Date());
    expect(await stored(id, payee)).toEqual({ status: 'SUCCEEDED', outbox: 'DONE', credited: 100n });
  });
});
