import type { Forbidden } from '@paygraph/shared/authorization';
import { ensureAssetKnown, readOwnerAccounts, readStripes, type Account } from '@paygraph/shared/ledger/index';
import { minorUnitExponent, parseCurrency, parseCurrencyOrAsset } from '@paygraph/shared/money';
import { err, ok, type Result } from '@paygraph/shared/result';
import { linksOfOwner } from '../db/external-accounts';
import { ownerLinkShard } from '../domain/external-accounts';
import type { ExternalAccountRow } from '../db/schema/external-accounts';
import type { FxRate } from '../domain/fx';
import {
  buildPortfolio,
  currenciesToConvert,
  portfolioTotals,
  type Portfolio,
  type PortfolioAccount,
} from '../domain/portfolio';
import { portfolioAccountsMax } from '../limits';
import { mayReadPortfolioOf } from './access';
import type { ServiceContext } from './context';
import { currentRate } from './fx-rates';

/** Why a portfolio was not answered, besides a refusal: the request itself is wrong (BAD_USER_INPUT). */
export type PortfolioRefusal = { kind: 'BadRequest'; message: string };

/**
 * One view of an owner's money (ownerPortfolio): the owner and operators. Reads the owner
 * directory on the owner's home shard (which also holds its links), then the owner's accounts
 * on the databases the directory names only, a merchant's stripes on the databases its stripe
 * directory names, and the rates of the currencies to convert on the control shard (none when
 * every total is in the reporting currency). An asset's exponent comes from this process's asset
 * registry (money.ts); one this process has not heard of yet costs a read of the registry on the
 * control shard, shared by the request's assets and any reload under way (ensureAssetKnown), never
 * one per asset. No other database is asked.
 */
export async function ownerPortfolio(
  ctx: ServiceContext,
  ownerId: string,
  reportingCurrency: string,
): Promise<Result<Portfolio<ExternalAccountRow>, Forbidden | PortfolioRefusal>> {
  const refused = mayReadPortfolioOf(ctx.identity, ownerId);
  if (refused) return err(refused);
  const reporting = parseCurrency(reportingCurrency);
  if (!reporting.ok) return err({ kind: 'BadRequest', message: `"${reportingCurrency}" is not a supported currency` });
  // The links' shard is the owner's home shard (the same hash), which the directory's read asks anyway.
  const linkShard = ctx.shards.byLogical(ownerLinkShard(ownerId));
  const [homes, links] = await Promise.all([
    readOwnerAccounts(ctx.shards, ownerId, portfolioAccountsMax + 1),
    linksOfOwner(linkShard.db, ownerId),
  ]);
  if (homes.length > portfolioAccountsMax)
    return err({ kind: 'BadRequest', message: `the owner has more than ${portfolioAccountsMax} accounts` });
  const accounts = withStripes(homes, await readStripes(ctx.shards, homes));
  const totals = portfolioTotals(accounts, links);
  const rates = new Map<string, FxRate | undefined>();
  await Promise.all(
    currenciesToConvert(totals, reporting.value).map(async (currency) => {
      const [row] = await Promise.all([
        currentRate(ctx.shards, currency, reporting.value),
        ensureAssetKnown(ctx.shards, currency),
      ]);
      rates.set(currency, row && { base: row.baseCurrency, quote: row.quoteCurrency, rate: row.rate, spreadBps: 0 });
    }),
  );
  return ok(buildPortfolio(ownerId, accounts, links, reporting.value, rates, exponentOf));
}

/**
 * A currency's or platform asset's minor-unit exponent, from ISO 4217 or the asset registry (an
 * account's asset is defined, so after ensureAssetKnown it is known); null, and the total stays
 * unconverted, for a code neither names.
 */
function exponentOf(currency: string): number | null {
  const known = parseCurrencyOrAsset(currency);
  return known.ok ? minorUnitExponent(known.value) : null;
}

/** Each home row's balances with its stripes' added (a merchant's money is the sum of its stripes). */
function withStripes(homes: readonly Account[], stripes: ReadonlyArray<{ account: Account }>): PortfolioAccount[] {
  const byId = new Map<string, PortfolioAccount>(
    homes.map((h) => [
      h.id,
      { id: h.id, type: h.type, currency: h.currency, available: h.available, frozen: h.frozen, pending: h.pending },
    ]),
  );
  for (const { account } of stripes) {
    const home = account.parentId === null ? undefined : byId.get(account.parentId);
    if (!home) continue;
    home.available += account.available;
    home.frozen += account.frozen;
    home.pending += account.pending;
  }
  return [...byId.values()];
}
