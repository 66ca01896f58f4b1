import type { Account } from '@paygraph/shared/ledger/index';
import type { ExternalAccountStatus } from './external-accounts';
import { buyPerSell, type FxRate } from './fx';

/**
 * One view of an owner's money (ownerPortfolio), pure: the ledger's accounts and the owner's
 * links as read, the sums per currency, and the ledger's whole in a reporting currency at the
 * current rates. The ledger's money and what channels report for links are summed apart and never
 * added together: a reported balance is the provider's word, not money the platform holds.
 */

/** An account as the portfolio shows it: the ledger's one shape, the fields it reads (a merchant's summed over stripes). */
export type PortfolioAccount = Pick<Account, 'id' | 'type' | 'currency' | 'available' | 'frozen' | 'pending'>;

export interface PortfolioLink {
  currency: string;
  status: ExternalAccountStatus;
  reportedBalance: bigint | null;
}

export interface PortfolioTotal {
  currency: string;
  ledger: bigint;
  /** Σ reported balances of the VERIFIED or PENDING links in this currency; null when none reported. */
  external: bigint | null;
}

export interface ReportingTotal {
  currency: string;
  amount: bigint;
  rates: Array<{ from: string; rate: string }>;
  unconverted: Array<{ currency: string; amount: bigint }>;
}

export interface Portfolio<L extends PortfolioLink> {
  ownerId: string;
  accounts: PortfolioAccount[];
  links: L[];
  totals: PortfolioTotal[];
  reportingTotal: ReportingTotal;
}

/** What converting needs of a currency or asset: its minor-unit exponent (null: unknown, not converted). */
export type ExponentOf = (currency: string) => number | null;

/** A link whose report counts in the totals: the owner's, now (not REJECTED or UNLINKED). */
function counts(link: PortfolioLink): boolean {
  return link.status === 'VERIFIED' || link.status === 'PENDING';
}

/** The ledger total and the reported total of each currency, in code order. */
export function portfolioTotals(
  accounts: readonly PortfolioAccount[],
  links: readonly PortfolioLink[],
): PortfolioTotal[] {
  const byCurrency = new Map<string, PortfolioTotal>();
  const of = (currency: string) => {
    let total = byCurrency.get(currency);
    if (!total) byCurrency.set(currency, (total = { currency, ledger: 0n, external: null }));
    return total;
  };
  for (const a of accounts) of(a.currency).ledger += a.available + a.frozen + a.pending;
  for (const link of links) {
    if (!counts(link) || link.reportedBalance === null) continue;
    const total = of(link.currency);
    total.external = (total.external ?? 0n) + link.reportedBalance;
  }
  return [...byCurrency.values()].sort((a, b) => (a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0));
}

/** Division rounding toward −∞ ("down" for a negative total too: the platform never reports more). */
function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/** A stored rate as it prices `from` → `to`: the decimal as set, or its inverse written exactly. */
function rateText(rate: FxRate, from: string): string {
  return rate.base === from ? rate.rate : `1/${rate.rate}`;
}

/**
 * The ledger totals in `reporting`: a total in `reporting` counts as it is; another is converted
 * at its pair's rate without spread (the view is indicative, not a quote), rounded down on its
 * own, and its rate listed; a total with no rate, or in a currency whose exponent is unknown, is
 * listed unconverted. A zero total needs no conversion and lists nothing.
 */
export function reportingTotal(
  totals: readonly PortfolioTotal[],
  reporting: string,
  rates: ReadonlyMap<string, FxRate | undefined>,
  exponentOf: ExponentOf,
): ReportingTotal {
  const answer: ReportingTotal = { currency: reporting, amount: 0n, rates: [], unconverted: [] };
  const to = exponentOf(reporting);
  for (const { currency, ledger } of totals) {
    if (ledger === 0n) continue;
    if (currency === reporting) {
      answer.amount += ledger;
      continue;
    }
    const rate = rates.get(currency);
    const from = exponentOf(currency);
    if (rate === undefined || from === null || to === null) {
      answer.unconverted.push({ currency, amount: ledger });
      continue;
    }
    const factor = buyPerSell(
      { ...rate, spreadBps: 0 },
      { currency, exponent: from },
      { currency: reporting, exponent: to },
    );
    answer.amount += floorDiv(ledger * factor.num, factor.den);
    answer.rates.push({ from: currency, rate: rateText(rate, currency) });
  }
  return answer;
}

/** The currencies whose ledger totals need a rate into `reporting` (non-zero, another currency). */
export function currenciesToConvert(totals: readonly PortfolioTotal[], reporting: string): string[] {
  return totals.filter((t) => t.ledger !== 0n && t.currency !== reporting).map((t) => t.currency);
}

/** The portfolio from what was read. */
export function buildPortfolio<L extends PortfolioLink>(
  ownerId: string,
  accounts: readonly PortfolioAccount[],
  links: readonly L[],
  reporting: string,
  rates: ReadonlyMap<string, FxRate | undefined>,
  exponentOf: ExponentOf,
): Portfolio<L> {
  const totals = portfolioTotals(accounts, links);
  const sorted = [...accounts].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return {
    ownerId,
    accounts: sorted,
    links: [...links],
    totals,
    reportingTotal: reportingTotal(totals, reporting, rates, exponentOf),
  };
}
