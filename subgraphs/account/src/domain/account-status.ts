import type { Identity } from '@paygraph/shared/identity';
import { err, ok, type Result } from '@paygraph/shared/result';
import { totalOf } from '@paygraph/shared/ledger/account';
import type { AccountView } from './account-view';

export type StatusAction = 'freeze' | 'unfreeze' | 'close';

export type StatusRefusal =
  | { kind: 'Forbidden'; message: string }
  | { kind: 'AccountNotActive'; status: AccountView['status'] }
  | { kind: 'AccountBalanceNotZero'; total: bigint };

/**
 * Freezing and unfreezing are operators' tools; an owner (not a partner) may close their own
 * account. CLOSED is final. Only an account holding nothing — every bucket of every stripe
 * zero — may close, so no money is stranded in a closed account.
 */
export function decideStatusChange(identity: Identity, view: AccountView, action: StatusAction): Result<AccountView['status'], StatusRefusal> {
  const isOwner = identity.sub === view.ownerId && (identity.role === 'customer' || identity.role === 'merchant');
  if (view.type === 'SYSTEM') return err({ kind: 'Forbidden', message: 'system accounts are managed by the platform' });
  if (action !== 'close' && identity.role !== 'operator') return err({ kind: 'Forbidden', message: `only operators may ${action} accounts` });
  if (action === 'close' && identity.role !== 'operator' && !isOwner) return err({ kind: 'Forbidden', message: 'only the owner or an operator may close an account' });
  switch (action) {
    case 'freeze':
      return view.status === 'ACTIVE' ? ok('FROZEN') : err({ kind: 'AccountNotActive', status: view.status });
    case 'unfreeze':
      return view.status === 'FROZEN' ? ok('ACTIVE') : err({ kind: 'AccountNotActive', status: view.status });
    case 'close':
      if (view.status === 'CLOSED') return err({ kind: 'AccountNotActive', status: view.status });
      if (view.available !== 0n || view.frozen !== 0n || view.pending !== 0n) return err({ kind: 'AccountBalanceNotZero', total: totalOf(view) });
      return ok('CLOSED');
  }
}
