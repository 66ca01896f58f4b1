import { err, ok, type Result } from '@paygraph/shared/result';
import { totalOf } from '@paygraph/shared/ledger/account';
import type { AccountView } from './account-view';

export type StatusAction = 'freeze' | 'unfreeze' | 'close';

export type StatusRefusal =
  | { kind: 'AccountNotActive'; status: AccountView['status'] }
  | { kind: 'AccountBalanceNotZero'; total: bigint };

/**
 * Freezing moves ACTIVE to FROZEN, unfreezing back; CLOSED is final. Only an account holding
 * nothing — every bucket of every stripe zero — may close, so no money is stranded in a closed
 * account. Who may ask is the service's question (services/access.ts), asked first.
 */
export function decideStatusChange(view: AccountView, action: StatusAction): Result<AccountView['status'], StatusRefusal> {
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
