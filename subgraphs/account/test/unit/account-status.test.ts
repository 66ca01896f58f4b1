import { describe, expect, it } from 'vitest';
import { decideStatusChange } from '../../src/domain/account-status';
import type { AccountView } from '../../src/domain/account-view';

const row = (available: bigint, frozen = 0n, pending = 0n) => ({ available, frozen, pending });

function merchant(rows: ReadonlyArray<ReturnType<typeof row>>, status: AccountView['status'] = 'ACTIVE'): AccountView {
  const sum = (pick: (r: ReturnType<typeof row>) => bigint) => rows.reduce((a, r) => a + pick(r), 0n);
  return {
    id: 'acc_m',
    ownerId: 'o',
    type: 'MERCHANT',
    status,
    currency: 'USD',
    entity: 'PLATFORM',
    version: 1n,
    createdAt: new Date(0),
    available: sum((r) => r.available),
    frozen: sum((r) => r.frozen),
    pending: sum((r) => r.pending),
    creditLimit: 1_000n,
    lastSequence: 0n,
    stripeIds: rows.slice(1).map((_, i) => `acc_s${i}`),
  };
}

describe('closing an account', () => {
  it('needs every row empty, not only their sum: a home row in debt beside a stripe holding as much stays open', () => {
    const rows = [row(-1_000n), row(1_000n)];
    expect(decideStatusChange(merchant(rows), 'close', { rows, inFlight: 0n }, 'owner')).toEqual({
      ok: false,
      error: { kind: 'AccountBalanceNotZero', total: 0n },
    });
    const split = [row(0n, 0n, 5n), row(0n, 0n, -5n)];
    expect(decideStatusChange(merchant(split), 'close', { rows: split, inFlight: 0n }, 'owner').ok).toBe(false);
    const empty = [row(0n), row(0n)];
    expect(decideStatusChange(merchant(empty), 'close', { rows: empty, inFlight: 0n }, 'owner')).toEqual({
      ok: true,
      value: 'CLOSED',
    });
    expect(decideStatusChange(merchant(empty, 'CLOSED'), 'close', { rows: empty, inFlight: 0n }, 'owner').ok).toBe(
      false,
    );
  });

  it('from FROZEN needs an operator: an owner closing would escape the freeze for good', () => {
    const empty = [row(0n)];
    expect(decideStatusChange(merchant(empty, 'FROZEN'), 'close', { rows: empty, inFlight: 0n }, 'owner')).toEqual({
      ok: false,
      error: { kind: 'AccountNotActive', status: 'FROZEN' },
    });
    expect(decideStatusChange(merchant(empty, 'FROZEN'), 'close', { rows: empty, inFlight: 0n }, 'operator')).toEqual({
      ok: true,
      value: 'CLOSED',
    });
  });

  it('waits for money that may still come back to it: a payment it made or a refund to it still in flight', () => {
    const empty = [row(0n)];
    expect(decideStatusChange(merchant(empty), 'close', { rows: empty, inFlight: 100n }, 'operator')).toEqual({
      ok: false,
      error: { kind: 'AccountBalanceNotZero', total: 100n },
    });
  });
});
