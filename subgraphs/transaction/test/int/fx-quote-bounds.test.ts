import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inArray } from 'drizzle-orm';
import { idempotencyRetentionDaysDefault } from '@paygraph/shared/limits';
import { fxQuoteTermsReads } from '@paygraph/shared/metrics';
import { assert } from '@paygraph/shared/result';
import { fxQuotes } from '../../src/db/schema/fx';
import { createFxQuote, quoteTermsCached } from '../../src/services/fx-quotes';
import { createPayment } from '../../src/services/payment';
import { startQuotePurge } from '../../src/services/fx-quote-purge';
import type { ServiceContext } from '../../src/services/context';
import { startStack, type Stack } from '../../../../test/support/stack';
import { contractOperation, gql } from '../../../../test/support/graphql';
import { unique } from '../../../../test/support/env';
import { moneyKit, type MoneyKit } from '../../../../test/support/money';
import { quoteTermsCachedMax } from '../../src/limits';
import { serviceContext } from '../support/service-context';

/**
 * Bounded growth of FX quotes (issue 31, item 7): expired quotes are purged by a worker once
 * nothing reads them, the ones a payment still needs stay; and one maker flooding the quote terms
 * cache forgets its own quotes, not another maker's. The rate limit on createFxQuote is in
 * gateway/test/rate-limit.test.ts.
 */
const dayMs = 24 * 60 * 60 * 1000;
/** Quotes one flood asks for at once: concurrent, as a busy client's requests are. */
const floodWaveSize = 2_000;

let stack: Stack;
let kit: MoneyKit;

function context(sub: string, now: () => Date = () => new Date()): ServiceContext {
  return serviceContext(stack.shards, { sub, role: 'customer' }, now);
}

async function quote(ctx: ServiceContext): Promise<string> {
  const made = await createFxQuote(ctx, { sellCurrency: 'USD', buyCurrency: 'THB', sellAmount: '100' });
  assert(made.ok, `quote refused: ${JSON.stringify(made.ok ? null : made.error)}`);
  return made.value.id;
}

/** A customer's funded USD account and a THB payee. */
async function parties(owner: string): Promise<{ payer: string; payee: string }> {
  const payer = await kit.open(owner, { currency: 'USD' });
  await kit.fund(payer, '10000', 'USD');
  return { payer, payee: await kit.open(unique('fxbound-payee'), { currency: 'THB' }) };
}

async function pay(ctx: ServiceContext, payer: string, payee: string, fxQuoteId: string, idempotencyKey: string) {
  return createPayment(ctx, {
    idempotencyKey,
    payerAccountId: payer,
    payeeAccountId: payee,
    amount: '100',
    currency: 'USD',
    fxQuoteId,
  });
}

async function existing(ids: readonly string[]): Promise<string[]> {
  const rows = await Promise.all(
    stack.shards.all.map((shard) =>
      shard.db
        .select({ id: fxQuotes.id })
        .from(fxQuotes)
        .where(inArray(fxQuotes.id, [...ids])),
    ),
  );
  return rows
    .flat()
    .map((r) => r.id)
    .sort();
}

async function termsReads(source: 'cache' | 'shard'): Promise<number> {
  return (await fxQuoteTermsReads.get()).values.find((v) => v.labels.source === source)?.value ?? 0;
}

beforeAll(async () => {
  stack = await startStack();
  kit = await moneyKit(stack);
  const set = await gql(
    stack.gatewayUrl,
    contractOperation('SetFxRate'),
    { input: { baseCurrency: 'USD', quoteCurrency: 'THB', rate: '36.5' } },
    kit.operator,
  );
  expect(set.data?.setFxRate?.__typename).toBe('FxRate');
});

afterAll(async () => {
  await stack?.stop();
});

describe('the quote terms cache', () => {
  it("keeps a maker's quote while another maker floods it with more quotes than it holds", async () => {
    const a = context(unique('fxbound-a'));
    const b = context(unique('fxbound-b'));
    const { payer, payee } = await parties(a.identity.sub);
    const kept = await quote(a);
    // More quotes than the whole cache holds, every one really made (a row each).
    for (let made = 0; made <= quoteTermsCachedMax; made += floodWaveSize) {
      await Promise.all(Array.from({ length: floodWaveSize }, () => quote(b)));
    }
    const held = quoteTermsCached();
    expect(held.evictions, 'the flood filled the cache').toBeGreaterThan(0);
    expect(held.entries).toBe(quoteTermsCachedMax);
    expect(quoteTermsCached(b.identity.sub).entries).toBe(quoteTermsCachedMax - 1);
    expect(quoteTermsCached(a.identity.sub).entries).toBe(1);
    // A's payment finds its quote's terms in the cache: no read of the quote's shard.
    const [hits, misses] = [await termsReads('cache'), await termsReads('shard')];
    const paid = await pay(a, payer, payee, kept, unique('fxbound-pay'));
    assert(paid.ok, `payment refused: ${JSON.stringify(paid.ok ? null : paid.error)}`);
    expect(paid.value.status).toBe('SUCCEEDED');
    expect([(await termsReads('cache')) - hits, (await termsReads('shard')) - misses]).toEqual([1, 0]);
    expect(quoteTermsCached(a.identity.sub).entries, 'a taken quote is forgotten').toBe(0);
  }, 180_000);
});

describe('the quote purge', () => {
  it('deletes expired quotes once nothing reads them, and keeps unexpired ones and those a payment still needs', async () => {
    const start = Date.now();
    const maker = unique('fxbound-purge');
    const at = (offsetMs: number) => context(maker, () => new Date(start + offsetMs));
    const { payer, payee } = await parties(maker);
    const unused = await quote(at(0));
    const used = await quote(at(0));
    const key = unique('fxbound-used');
    const paid = await pay(at(0), payer, payee, used, key);
    assert(paid.ok && paid.value.status === 'SUCCEEDED', 'the payment with the quote was refused');
    // Expired less than a day ago at the pass, and not expired at all.
    const recent = await quote(at(1.5 * dayMs));
    const fresh = await quote(at(2 * dayMs));
    const all = [unused, used, recent, fresh];
    expect(await existing(all)).toEqual([...all].sort());

    // Two days on: the unused quote expired over a day ago goes; the rest stay.
    let clock = start + 2 * dayMs;
    const worker = startQuotePurge(
      stack.shards,
      { idempotencyRetentionDays: idempotencyRetentionDaysDefault },
      () => new Date(clock),
    );
    try {
      // The worker passes at once when started; drain waits for that pass and runs one more.
      await worker.drain();
      expect(await existing(all)).toEqual([used, recent, fresh].sort());
      // The payment's replay still reads its quote, and answers the payment it made.
      const replay = await pay(at(2 * dayMs), payer, payee, used, key);
      assert(replay.ok, `the replay was refused: ${JSON.stringify(replay.ok ? null : replay.error)}`);
      expect(replay.value.id).toBe(paid.value.id);

      // Past the idempotency retention, the used quote goes too (its key is past it as well).
      clock = start + (idempotencyRetentionDaysDefault + 1) * dayMs;
      expect(await worker.drain()).toBeGreaterThanOrEqual(3);
      expect(await existing(all)).toEqual([]);
    } finally {
      await worker.stop();
    }
  });
});
