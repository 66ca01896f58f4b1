import { creditUsedOf, type Account } from '@paygraph/shared/ledger/index';
import { parseAmount } from '@paygraph/shared/money';
import { err, ok, type Result } from '@paygraph/shared/result';
import type { AccountView } from './account-view';
import { creditLimitMinorUnitsMax } from '../limits';

/**
 * Credit lines: who may have one and what a limit may be, and the platform's exposure, as pure
 * rules. The limit lives on the account's home row (the ledger's rules/posting-rules.ts reads it there).
 */
export type CreditLimitRefusal =
  | { kind: 'InvalidInput'; field: 'accountId' | 'limit'; message: string }
  | { kind: 'AccountNotActive'; status: AccountView['status'] };

/**
 * The limit as sent: an integer of minor units from 0 to creditLimitMinorUnitsMax. (The Amount
 * scalar has already refused anything that is not an integer a balance can hold.)
 */
export function parseCreditLimit(input: string): Result<bigint, CreditLimitRefusal> {
  const parsed = parseAmount(input);
  if (!parsed.ok) return err({ kind: 'InvalidInput', field: 'limit', message: `limit "${input}" is not an amount` });
  if (parsed.value < 0n) return err({ kind: 'InvalidInput', field: 'limit', message: `limit ${input} is below 0` });
  if (parsed.value > creditLimitMinorUnitsMax) {
    return err({
      kind: 'InvalidInput',
      field: 'limit',
      message: `limit ${input} is above the largest credit limit, ${creditLimitMinorUnitsMax}`,
    });
  }
  return ok(parsed.value);
}

/**
 * A client account may get a credit line (a SYSTEM account has no floor to move); a CLOSED one
 * may not, it stays closed. A limit below the credit in use is allowed: the debt stays, and the
 * account cannot spend until what arrives has brought it back within the limit.
 */
export function decideCreditLimit(
  view: Pick<AccountView, 'id' | 'type' | 'status'>,
  limit: bigint,
): Result<bigint, CreditLimitRefusal> {
  if (view.type === 'SYSTEM')
    return err({
      kind: 'InvalidInput',
      field: 'accountId',
      message: `account ${view.id} is a system account: it cannot have a credit limit`,
    });
  if (view.status === 'CLOSED') return err({ kind: 'AccountNotActive', status: view.status });
  return ok(limit);
}

export interface ExposureLine {
  currency: string;
  used: bigint;
  limit: bigint;
  accounts: number;
}

/** An account with a credit line as the exposure counts it: its view (all stripes) and its home shard's name. */
export interface CreditAccount {
  view: Pick<AccountView, 'currency' | 'available' | 'creditLimit'>;
  shard: string;
}

/**
 * Exposure per currency (in currency order) and per (currency, home shard), for the metric:
 * used = Σ max(0, −available), limit = Σ creditLimit, accounts = how many are below zero.
 */
export function exposureOf(accounts: readonly CreditAccount[]): {
  byCurrency: ExposureLine[];
  byShard: Array<ExposureLine & { shard: string }>;
} {
  const byCurrency = new Map<string, ExposureLine>();
  const byShard = new Map<string, ExposureLine & { shard: string }>();
  for (const { view, shard } of accounts) {
    const used = creditUsedOf(view);
    const add = (line: ExposureLine) => {
      line.used += used;
      line.limit += view.creditLimit ?? 0n;
      if (used > 0n) line.accounts += 1;
    };
    add(getOrOpen(byCurrency, view.currency, () => ({ currency: view.currency, used: 0n, limit: 0n, accounts: 0 })));
    add(
      getOrOpen(byShard, `${view.currency}|${shard}`, () => ({
        currency: view.currency,
        shard,
        used: 0n,
        limit: 0n,
        accounts: 0,
      })),
    );
  }
  const order = (a: ExposureLine, b: ExposureLine) => (a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0);
  return { byCurrency: [...byCurrency.values()].sort(order), byShard: [...byShard.values()].sort(order) };
}

function getOrOpen<V>(map: Map<string, V>, key: string, open: () => V): V {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = open()));
  return value;
}

/** Only a home row below zero can make its account use credit: its stripes never go below zero. */
export function mayUseCredit(home: Pick<Account, 'available'>): boolean {
  return home.available < 0n;
}
