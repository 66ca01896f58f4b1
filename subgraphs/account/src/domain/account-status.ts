import { err, ok, type Result } from '@paygraph/shared/result';
import { totalOf } from '@paygraph/shared/ledger/index';
import type { AccountView } from './account-view';

export type StatusAction = 'freeze' | 'unfreeze' | 'close';

/** Who asks, as services/access.ts let them: an operator (any change), or the owner (closing alone). */
export type StatusActor = 'operator' | 'owner';

export type StatusRefusal =
  { kind: 'AccountNotActive'; status: AccountView['status'] } | { kind: 'AccountBalanceNotZero'; total: bigint };

/**
 * What an account holds, as a close weighs it: each row's buckets (the home row's and each stripe's), and what may still
 * come back to it from movements in flight — a cross-shard payment it made still PROCESSING (reversed into it if the
 * payee refuses), a refund to it still PROCESSING, a campaign leg it funded of a payment or refund still PROCESSING, a
 * sweep still PROCESSING between two of its rows — in its currency.
 */
export interface AccountHoldings {
  rows: ReadonlyArray<Pick<AccountView, 'available' | 'frozen' | 'pending'>>;
  inFlight: bigint;
}

/**
 * Freezing moves ACTIVE to FROZEN, unfreezing back; CLOSED is final. Only an account holding
 * nothing — every bucket of every row zero, the home row and each stripe — may close, so no money
 * is stranded in a closed account. The sum is not enough: a home row in debt on its credit line
 * beside a stripe holding as much sums to zero, and closing would strand both. Nor may it close
 * while money may still come back to it (AccountBalanceNotZero, its total counting that money): a
 * reversal or refund credit is a completion, posted whatever the status. An owner closes
 * only an ACTIVE account: a freeze is an operator's, and closing is final, so an owner closing a
 * FROZEN account would escape the freeze for good (AccountNotActive, FROZEN); an operator may
 * close it. Who may ask at all is the service's question (services/access.ts), asked first.
 */
export function decideStatusChange(
  view: AccountView,
  action: StatusAction,
  holds: AccountHoldings,
  actor: StatusActor,
): Result<AccountView['status'], StatusRefusal> {
  const { rows, inFlight } = holds;
  switch (action) {
    case 'freeze':
      return view.status === 'ACTIVE' ? ok('FROZEN') : err({ kind: 'AccountNotActive', status: view.status });
    case 'unfreeze':
      return view.status === 'FROZEN' ? ok('ACTIVE') : err({ kind: 'AccountNotActive', status: view.status });
    case 'close':
      if (view.status === 'CLOSED' || (view.status === 'FROZEN' && actor === 'owner'))
        return err({ kind: 'AccountNotActive', status: view.status });
      if (inFlight !== 0n || rows.some((r) => r.available !== 0n || r.frozen !== 0n || r.pending !== 0n))
        return err({ kind: 'AccountBalanceNotZero', total: totalOf(view) + inFlight });
      return ok('CLOSED');
  }
}
