import type { Identity } from '@paygraph/shared/identity';
import { parseCurrency, type Currency } from '@paygraph/shared/money';
import { ownerIdLengthMax } from '@paygraph/shared/limits';
import { err, ok, type Result } from '@paygraph/shared/result';
import type { Account, AccountType } from '@paygraph/shared/ledger/account';

export interface OpenAccountInput {
  ownerId: string;
  type: AccountType;
  currency: string;
}

export type OpenAccountRefusal =
  | { kind: 'InvalidInput'; field: string; message: string }
  | { kind: 'Forbidden'; message: string };

/** What a client may open: never a SYSTEM account, and only in a currency paygraph knows. */
export interface AccountToOpen extends Pick<Account, 'ownerId'> {
  type: Exclude<AccountType, 'SYSTEM'>;
  currency: Currency;
}

const ownerIdPattern = /^[A-Za-z0-9_.:@-]+$/;

/**
 * Who may open what: customers open PERSONAL accounts for themselves, merchants MERCHANT or
 * PERSONAL for themselves, operators anything but SYSTEM (the platform opens those itself),
 * partners nothing. Authorization is decided before input validation so that a caller
 * learns nothing from an account it may not open.
 */
export function decideOpenAccount(identity: Identity, input: OpenAccountInput): Result<AccountToOpen, OpenAccountRefusal> {
  const forbidden = refuseCaller(identity, input);
  if (forbidden) return err({ kind: 'Forbidden', message: forbidden });
  if (input.ownerId.length === 0 || input.ownerId.length > ownerIdLengthMax || !ownerIdPattern.test(input.ownerId)) {
    return err({ kind: 'InvalidInput', field: 'ownerId', message: `ownerId must be 1-${ownerIdLengthMax} characters of [A-Za-z0-9_.:@-]` });
  }
  if (input.type === 'SYSTEM') {
    return err({ kind: 'InvalidInput', field: 'type', message: 'SYSTEM accounts are opened by the platform itself' });
  }
  const currency = parseCurrency(input.currency);
  if (!currency.ok) {
    return err({ kind: 'InvalidInput', field: 'currency', message: `currency "${input.currency}" is not a supported ISO-4217 code` });
  }
  return ok({ ownerId: input.ownerId, type: input.type, currency: currency.value });
}

function refuseCaller(identity: Identity, input: OpenAccountInput): string | null {
  switch (identity.role) {
    case 'operator':
      return null;
    case 'partner':
      return 'partners may read accounts but not open them';
    case 'channel':
      return 'channels record deposits; they do not open accounts';
    case 'customer':
      if (input.type === 'MERCHANT') return 'customers open PERSONAL accounts; a merchant token opens MERCHANT accounts';
      return input.ownerId === identity.sub ? null : 'ownerId must be your own (the token subject)';
    case 'merchant':
      return input.ownerId === identity.sub ? null : 'ownerId must be your own (the token subject)';
  }
}
