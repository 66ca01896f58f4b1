import type { Forbidden, Readable } from '@paygraph/shared/authorization';
import { newId, shardOfAnyId } from '@paygraph/shared/ids';
import {
  describeMoneyError,
  minorUnitExponent,
  parseCurrencyOrAsset,
  parsePositiveAmount,
} from '@paygraph/shared/money';
import { ensureAssetKnown } from '@paygraph/shared/ledger/index';
import { err, ok, type Result } from '@paygraph/shared/result';
import type { Shard, ShardSet } from '@paygraph/shared/shards/pool';
import { Coalescer } from '@paygraph/shared/shards/coalescer';
import { FencedWrite } from '@paygraph/shared/shards/unavailable';
import { batchUnderFences } from '@paygraph/shared/control/index';
import { FairShareCache } from '@paygraph/shared/fair-share-cache';
import { fxQuoteTermsReads } from '@paygraph/shared/metrics';
import { insertQuotes, quotesByIds, takeQuotes, type QuoteClaim, type QuoteHolder } from '../db/fx';
import type { FxQuoteRow } from '../db/schema/fx';
import { quoteAmounts, type QuoteAmount } from '../domain/fx';
import { invalidInput, type CreateFxQuoteError, type MoneyErrorOf } from '../domain/errors';
import { currentRate } from './fx-rates';
import type { ServiceContext } from './context';
import { mayQuote, mayReadQuote } from './access';
import { quoteTermsCachedMax } from '../limits';

export interface CreateFxQuoteInput {
  sellCurrency: string;
  buyCurrency: string;
  sellAmount?: string | null;
  buyAmount?: string | null;
}

function parseGiven(input: CreateFxQuoteInput, amountMax: bigint): Result<QuoteAmount, CreateFxQuoteError> {
  const given = (['sellAmount', 'buyAmount'] as const).filter(
    (field) => input[field] !== null && input[field] !== undefined,
  );
  if (given.length !== 1) return err(invalidInput('sellAmount', 'give exactly one of sellAmount and buyAmount'));
  const field = given[0]!;
  const amount = parsePositiveAmount(input[field]!, amountMax);
  if (!amount.ok) return err(invalidInput(field, describeMoneyError(amount.error)));
  return ok({ side: field === 'sellAmount' ? 'sell' : 'buy', amount: amount.value });
}

/**
 * A quote: the other amount computed exactly from the pair's current rate (domain/fx.ts),
 * good for FX_QUOTE_TTL_SECONDS and one payment. It is written on a random logical shard the map does not fence (its
 * id names it), so quotes spread over the databases; only the rate is read from the control shard. Written under its
 * logical shard's fence (db/fx.ts insertQuotes): fenced where it is written (a shard move the map has not followed),
 * it is refused FencedWrite (SHARD_UNAVAILABLE, retryable), nothing written; a retry draws another logical shard.
 */
export async function createFxQuote(
  ctx: ServiceContext,
  input: CreateFxQuoteInput,
): Promise<Result<FxQuoteRow, CreateFxQuoteError | Forbidden>> {
  const refused = mayQuote(ctx.identity);
  if (refused) return err(refused);
  await Promise.all([input.sellCurrency, input.buyCurrency].map((code) => ensureAssetKnown(ctx.shards, code)));
  const sell = parseCurrencyOrAsset(input.sellCurrency);
  if (!sell.ok) return err({ kind: 'UnsupportedCurrency', currency: input.sellCurrency });
  const buy = parseCurrencyOrAsset(input.buyCurrency);
  if (!buy.ok) return err({ kind: 'UnsupportedCurrency', currency: input.buyCurrency });
  if (sell.value === buy.value) return err(invalidInput('buyCurrency', 'a quote exchanges two different currencies'));
  const given = parseGiven(input, ctx.amountMax);
  if (!given.ok) return given;
  const rate = await currentRate(ctx.shards, sell.value, buy.value);
  if (!rate) return err({ kind: 'FxRateUnavailable', sellCurrency: sell.value, buyCurrency: buy.value });
  const amounts = quoteAmounts(
    { base: rate.baseCurrency, quote: rate.quoteCurrency, rate: rate.rate, spreadBps: rate.spreadBps },
    { currency: sell.value, exponent: minorUnitExponent(sell.value) },
    { currency: buy.value, exponent: minorUnitExponent(buy.value) },
    given.value,
    ctx.amountMax,
  );
  if (!amounts.ok) {
    const { field } = amounts.error;
    return err(
      invalidInput(
        field,
        amounts.error.kind === 'RoundsToZero'
          ? `the ${given.value.side} amount is too small: the ${field} it comes to rounds to zero`
          : `the ${field} it comes to is above ${ctx.amountMax} minor units, the most one payment may move`,
      ),
    );
  }
  const now = ctx.now();
  const row: FxQuoteRow = {
    id: newId('fxQuote', ctx.shards.placement.openLogical()),
    createdBy: ctx.identity.sub,
    sellCurrency: sell.value,
    buyCurrency: buy.value,
    sellAmount: amounts.value.sellAmount,
    buyAmount: amounts.value.buyAmount,
    rateId: rate.id,
    rate: rate.rate,
    rateBaseCurrency: rate.baseCurrency,
    spreadBps: rate.spreadBps,
    expiresAt: new Date(now.getTime() + ctx.fxQuoteTtlSeconds * 1000),
    paymentId: null,
    createdAt: now,
  };
  const fenced = await quoteInserts.load(quoteShard(ctx.shards, row.id), row);
  if (fenced) throw fenced;
  rememberTerms(row);
  return ok(row);
}

const quoteTermsCache = new FairShareCache<FxQuoteRow>(quoteTermsCachedMax);

function rememberTerms(row: FxQuoteRow): void {
  quoteTermsCache.set(row.createdBy, row.id, row);
}

/** What the cache holds now: for tests and measurements of its bound and its fairness. */
export function quoteTermsCached(maker?: string): { entries: number; makers: number; evictions: number } {
  return {
    entries: quoteTermsCache.size(maker),
    makers: quoteTermsCache.callers(),
    evictions: quoteTermsCache.evictions(),
  };
}

/**
 * A quote's terms for the payment of `maker` (the caller) that names it: its maker, currencies,
 * amounts and rate never change, so a quote this process made is not read back (a client usually
 * pays with a quote it asked for moments before; another replica's quote is read, and so is one
 * named by someone other than its maker, which the payment then refuses). Whether it is still free
 * and unexpired is for claimQuote alone to say, under the quote row's update. Forgotten once
 * taken: a quote pays one payment.
 */
export function quoteTerms(shards: ShardSet, id: string, maker: string): Promise<FxQuoteRow | undefined> {
  const made = quoteTermsCache.get(maker, id);
  fxQuoteTermsReads.inc({ source: made ? 'cache' : 'shard' });
  return made ? Promise.resolve(made) : findQuote(shards, id);
}

function quoteShard(shards: ShardSet, id: string): Shard {
  return shards.of('fxQuote', id);
}

/**
 * Concurrent requests' quote statements on a shard share one statement each (shards/coalescer.ts):
 * the inserts of new quotes, the reads of quotes a payment names, and the claims of payments on
 * quotes. Each request still gets its own row and makes its own checks.
 */
const quoteInserts = new Coalescer<FxQuoteRow, FencedWrite | undefined>('fx quote inserts', (shard, rows) =>
  batchUnderFences(shard, rows, quoteLogical, async (open) => {
    await insertQuotes(shard, open);
    return open.map(() => undefined);
  }),
);

const quoteReads = new Coalescer<string, FxQuoteRow | undefined>('fx quote reads', async (shard, ids) => {
  const byId = new Map((await quotesByIds(shard.db, [...new Set(ids)])).map((q) => [q.id, q]));
  return ids.map((id) => byId.get(id));
});

/**
 * Inserts and claims are written under their quotes' fence rows (db/fx.ts insertQuotes, takeQuotes): a batch that
 * meets a fenced logical shard is written again without its quotes (batchUnderFences), which alone answer FencedWrite.
 */
const quoteClaims = new Coalescer<QuoteClaim, QuoteHolder | null | FencedWrite>('fx quote claims', (shard, claims) =>
  batchUnderFences(
    shard,
    claims,
    (c) => shardOfAnyId(c.quoteId),
    (open) => takeQuotes(shard, open),
  ),
);

function quoteLogical(row: FxQuoteRow): number {
  return shardOfAnyId(row.id);
}

/** A quote by id, from the shard its id names; undefined when there is none. */
export function findQuote(shards: ShardSet, id: string): Promise<FxQuoteRow | undefined> {
  return quoteReads.load(quoteShard(shards, id), id);
}

/**
 * A quote as its maker may read it; null when there is none. Anyone else is FORBIDDEN: a quote is its maker's alone.
 */
export async function readQuote(ctx: ServiceContext, id: string): Promise<Readable<FxQuoteRow>> {
  const quote = await findQuote(ctx.shards, id);
  if (!quote) return ok(null);
  const refused = mayReadQuote(ctx.identity, quote);
  return refused ? err(refused) : ok(quote);
}

/**
 * A quote a payment holds. `lapsed`: the payment took it before (its key's replay) and the deadline has passed since,
 * so its debit must not post now unless it already did (services/post-payment.ts debitSpec).
 */
export interface TakenQuote {
  quote: FxQuoteRow;
  lapsed: boolean;
}

/**
 * Takes the quote for a payment: at most one payment ever holds it. The same payment (a replay of its key) finds it
 * taken by itself and goes on, its debit deciding whether it was made; after the quote's deadline it goes on `lapsed`:
 * its debit then answers what was made or refused under its key, or else is refused FX_QUOTE_EXPIRED for good (a
 * replay days later must not buy at a rate the market has left). Any other payment learns FX_QUOTE_USED or
 * FX_QUOTE_EXPIRED. The quote's logical shard fenced where it is (a shard move): FencedWrite (SHARD_UNAVAILABLE,
 * retryable), the quote not taken (db/fx.ts takeQuotes rolls the take back), thrown before the payment posts anything.
 */
export async function claimQuote(
  ctx: ServiceContext,
  quote: FxQuoteRow,
  paymentId: string,
): Promise<Result<TakenQuote, MoneyErrorOf<'FxQuoteUsed' | 'FxQuoteExpired'>>> {
  const at = ctx.now();
  const holder = await quoteClaims.load(quoteShard(ctx.shards, quote.id), { quoteId: quote.id, paymentId, at });
  quoteTermsCache.delete(quote.createdBy, quote.id);
  // Its logical shard fenced where the quote is (a shard move): not taken, and the payment posts nothing.
  if (holder instanceof FencedWrite) throw holder;
  // Gone since its terms were read: the purge deletes only quotes long past their deadline.
  if (holder === null) return err({ kind: 'FxQuoteExpired', quoteId: quote.id, expiresAt: quote.expiresAt });
  if (holder.paymentId === paymentId) {
    // Past the deadline by the rule the take itself applies (db/fx.ts takeQuotes: taken while expires_at > at).
    return ok({ quote: { ...quote, paymentId }, lapsed: !(holder.expiresAt > at) });
  }
  if (holder.paymentId !== null) return err({ kind: 'FxQuoteUsed', quoteId: quote.id });
  return err({ kind: 'FxQuoteExpired', quoteId: quote.id, expiresAt: holder.expiresAt });
}
