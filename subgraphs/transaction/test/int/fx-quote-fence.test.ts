import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { rawRows } from '@paygraph/shared/db/raw';
import type { FenceReason } from '@paygraph/shared/control/index';
import { logicalShardCount } from '@paygraph/shared/limits';
import { insertAccount } from '@paygraph/shared/ledger/index';
import { FencedWrite } from '@paygraph/shared/shards/unavailable';
import { scratchShard, whileFenced, type ScratchShard } from '../../../../test/support/scratch-databases';
import { unique } from '../../../../test/support/env';
import { insertQuotes } from '../../src/db/fx';
import type { FxQuoteRow } from '../../src/db/schema/fx';
import { claimQuote, createFxQuote } from '../../src/services/fx-quotes';
import { setFxRate } from '../../src/services/fx-rates';
import { createPayment } from '../../src/services/payment';
import { serviceContext } from '../support/service-context';

/**
 * An FX quote moves with its logical shard (its id's end), and so does its take (payment_id): a quote created on a
 * source after the mover's last catch-up is left behind there while its client was told it exists, and a take written
 * there after the mover's copy read the row is lost at the target, where a second payment could take the quote again.
 * So a quote's insert and its take read its fence row in share mode in their transaction (db/fx.ts insertQuotes,
 * takeQuotes) and are refused FencedWrite (SHARD_UNAVAILABLE, retryable), nothing written, when it is not open. On a
 * database of this file's own, as a process on no map: a fence here would refuse other files' postings.
 */
let scratch: ScratchShard;
let shards: ShardSet;
let shard: Shard;
const fencedShard = toLogicalShard(23);
const openShard = toLogicalShard(24);

beforeAll(async () => {
  scratch = await scratchShard('fxquotefence');
  ({ shards, shard } = scratch);
  const operator = serviceContext(shards, { sub: unique('fxquotefence-operator'), role: 'operator' });
  const rate = await setFxRate(operator, { baseCurrency: 'USD', quoteCurrency: 'JPY', rate: '150' });
  expect(rate.ok).toBe(true);
});

afterAll(async () => scratch?.close());

const customer = () => serviceContext(shards, { sub: unique('fxquotefence'), role: 'customer' });

/** A quote of `maker` on the logical shard, USD 1.00 for JPY 150, written while its fence row is open. */
async function quoteOn(logical: number, maker: string): Promise<FxQuoteRow> {
  const now = new Date();
  const row: FxQuoteRow = {
    id: newId('fxQuote', toLogicalShard(logical)),
    createdBy: maker,
    sellCurrency: 'USD',
    buyCurrency: 'JPY',
    sellAmount: 100n,
    buyAmount: 150n,
    rateId: newId('fxRate', toLogicalShard(0)),
    rate: '150',
    rateBaseCurrency: 'USD',
    spreadBps: 0,
    expiresAt: new Date(now.getTime() + 3_600_000),
    paymentId: null,
    createdAt: now,
  };
  await insertQuotes(shard, [row]);
  return row;
}

async function holderOf(quoteId: string): Promise<string | null | undefined> {
  const [row] = await rawRows<{ p: string | null }>(shard, 'SELECT payment_id AS p FROM fx_quotes WHERE id = ?', [
    quoteId,
  ]);
  return row?.p;
}

async function quotesOf(maker: string): Promise<number> {
  const [row] = await rawRows<{ n: number }>(shard, 'SELECT COUNT(*) AS n FROM fx_quotes WHERE created_by = ?', [
    maker,
  ]);
  return Number(row!.n);
}

/** Every logical shard fenced for `reason` here: a new quote's logical shard is drawn at random. */
function allFenced<T>(reason: FenceReason, run: () => Promise<T>): Promise<T> {
  return whileFenced(shard, { first: 0, last: logicalShardCount - 1 }, reason, run);
}

describe('an FX quote under the fence where the write happens', () => {
  for (const reason of ['fenced', 'moved', 'arriving'] as const) {
    it(`creates no quote while its logical shard is ${reason} there, and creates it once open`, async () => {
      const ctx = customer();
      const input = { sellCurrency: 'USD', buyCurrency: 'JPY', sellAmount: '100' };
      const refused = await allFenced(reason, () => createFxQuote(ctx, input).catch((e: unknown) => e));
      expect(refused).toBeInstanceOf(FencedWrite);
      expect(String(refused)).toContain('is unavailable; retry');
      expect(await quotesOf(ctx.identity.sub)).toBe(0);
      const made = await createFxQuote(ctx, input);
      expect(made).toMatchObject({ ok: true, value: { sellAmount: 100n, buyAmount: 150n } });
      expect(await quotesOf(ctx.identity.sub)).toBe(1);
    });

    it(`takes no quote while its logical shard is ${reason} there, and takes it once open`, async () => {
      const ctx = customer();
      const quote = await quoteOn(fencedShard, ctx.identity.sub);
      const payment = newId('payment', openShard);
      const refused = await whileFenced(shard, fencedShard, reason, () =>
        claimQuote(ctx, quote, payment).catch((e: unknown) => e),
      );
      expect(refused).toBeInstanceOf(FencedWrite);
      expect(await holderOf(quote.id)).toBeNull();
      expect(await claimQuote(ctx, quote, payment)).toMatchObject({
        ok: true,
        value: { quote: { paymentId: payment }, lapsed: false },
      });
      expect(await holderOf(quote.id)).toBe(payment);
    });
  }

  it('writes no quote of a batch that meets a fence, and refuses only the fenced one of a turn of takes', async () => {
    const ctx = customer();
    const [fenced, open] = [await quoteOn(fencedShard, ctx.identity.sub), await quoteOn(openShard, ctx.identity.sub)];
    const [first, second] = [newId('payment', openShard), newId('payment', openShard)];
    const answers = await whileFenced(shard, fencedShard, 'fenced', () =>
      Promise.all([
        claimQuote(ctx, fenced, first).catch((e: unknown) => e),
        claimQuote(ctx, open, second).catch((e: unknown) => e),
      ]),
    );
    expect(answers[0]).toBeInstanceOf(FencedWrite);
    expect(answers[1]).toMatchObject({ ok: true, value: { quote: { paymentId: second }, lapsed: false } });
    expect([await holderOf(fenced.id), await holderOf(open.id)]).toEqual([null, second]);
    // A batch of inserts naming a fenced logical shard is rolled back whole (the coalescer writes it again without it).
    const [a, b] = [
      { ...fenced, id: newId('fxQuote', fencedShard) },
      { ...open, id: newId('fxQuote', openShard) },
    ];
    const inserted = await whileFenced(shard, fencedShard, 'fenced', () =>
      insertQuotes(shard, [a, b]).catch((e: unknown) => e),
    );
    expect(inserted).toBeInstanceOf(FencedWrite);
    expect([await holderOf(a.id), await holderOf(b.id)]).toEqual([undefined, undefined]);
  });

  it("refuses an FX payment whose quote's logical shard is fenced, posting nothing, and its retry takes the quote", async () => {
    const ctx = customer();
    const owner = ctx.identity.sub;
    const [payer, payee] = [newId('account', openShard), newId('account', openShard)];
    await insertAccount(shard.db, { id: payer, ownerId: owner, type: 'PERSONAL', currency: 'USD', status: 'ACTIVE' });
    await insertAccount(shard.db, {
      id: payee,
      ownerId: unique('fxquotefence-payee'),
      type: 'PERSONAL',
      currency: 'JPY',
      status: 'ACTIVE',
    });
    const quote = await quoteOn(fencedShard, owner);
    const input = {
      idempotencyKey: unique('key'),
      payerAccountId: payer,
      payeeAccountId: payee,
      amount: '100',
      currency: 'USD',
      fxQuoteId: quote.id,
    };
    const refused = await whileFenced(shard, fencedShard, 'fenced', () =>
      createPayment(ctx, input).catch((e: unknown) => e),
    );
    expect(refused).toBeInstanceOf(FencedWrite);
    expect(await holderOf(quote.id)).toBeNull();
    const posted = await rawRows<{ n: number }>(
      shard,
      'SELECT COUNT(*) AS n FROM payments WHERE payer_account_id = ?',
      [payer],
    );
    expect(Number(posted[0]!.n)).toBe(0);
    // Open again, the same request takes the quote for the payment its key names, and the ledger decides it (the payer
    // holds nothing here, so it is refused; a refusal keeps its quote).
    const answered = await createPayment(ctx, input);
    expect(answered).toMatchObject({ ok: false, error: { kind: 'InsufficientFunds' } });
    const [key] = await rawRows<{ r: string }>(
      shard,
      'SELECT resource_id AS r FROM idempotency_keys WHERE anchor_id = ? AND caller_id = ?',
      [payer, owner],
    );
    expect(await holderOf(quote.id)).toBe(key!.r);
  });
});
