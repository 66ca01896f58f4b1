import { isAssetCode, parseCurrencyOrAsset, type Currency } from '@paygraph/shared/money';
import { ownerIdLengthMax } from '@paygraph/shared/limits';
import { err, ok, type Result } from '@paygraph/shared/result';
import { platformEntity, type Account, type AccountType } from '@paygraph/shared/ledger/index';

export interface OpenAccountInput {
  ownerId: string;
  type: AccountType;
  currency: string;
  /** The legal entity to open it in; PLATFORM when absent (services/books.ts checks it exists). */
  entity?: string | null;
}

export type OpenAccountRefusal =
  { kind: 'InvalidInput'; field: string; message: string } | { kind: 'UnsupportedCurrency'; currency: string };

/** What a client may open: never a SYSTEM account, and only in a currency paygraph knows. */
export interface AccountToOpen extends Pick<Account, 'ownerId'> {
  type: Exclude<AccountType, 'SYSTEM'>;
  currency: Currency;
  entity: string;
}

const ownerIdPattern = /^[A-Za-z0-9_.:@-]+$/;

/**
 * What may be opened: never a SYSTEM account (the platform opens those itself), and only in a
 * currency paygraph knows or an asset this process knows (the service reloads the registry first
 * on a miss); an asset only for a PERSONAL account. Who may open it is the service's question (services/access.ts),
 * asked first.
 */
export function decideOpenAccount(input: OpenAccountInput): Result<AccountToOpen, OpenAccountRefusal> {
  if (input.ownerId.length === 0 || input.ownerId.length > ownerIdLengthMax || !ownerIdPattern.test(input.ownerId)) {
    return err({
      kind: 'InvalidInput',
      field: 'ownerId',
      message: `ownerId must be 1-${ownerIdLengthMax} characters of [A-Za-z0-9_.:@-]`,
    });
  }
  if (input.type === 'SYSTEM') {
    return err({ kind: 'InvalidInput', field: 'type', message: 'SYSTEM accounts are opened by the platform itself' });
  }
  const currency = parseCurrencyOrAsset(input.currency);
  if (!currency.ok) return err({ kind: 'UnsupportedCurrency', currency: input.currency });
  // A merchant's money is settled to a bank and paid out in its currency; an asset never leaves the platform.
  if (isAssetCode(currency.value) && input.type !== 'PERSONAL')
    return err({
      kind: 'InvalidInput',
      field: 'type',
      message: `${currency.value} is a platform asset: only a PERSONAL account may hold one`,
    });
  return ok({
    ownerId: input.ownerId,
    type: input.type,
    currency: currency.value,
    entity: input.entity ?? platformEntity,
  });
}
