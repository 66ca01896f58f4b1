import { describe, expect, it } from 'vitest';
import {
  decideCapture,
  decideExpiry,
  decideVoid,
  holdExpiresAt,
  holdStatusAt,
  type HoldState,
} from '../../src/domain/hold-rules';

/** A hold's life decided without a database: HELD, then exactly one of CAPTURED, VOIDED or EXPIRED. */
const now = new Date('2026-03-01T12:00:00Z');
const later = (ms: number) => new Date(now.getTime() + ms);

function hold(overrides: Partial<HoldState> = {}): HoldState {
  return { id: 'hld_1', status: 'HELD', amount: 1_000n, expiresAt: later(60_000), endedBy: null, ...overrides };
}

describe('hold rules', () => {
  it('read a HELD hold past its deadline as EXPIRED at once, before the worker releases it', () => {
    expect(holdStatusAt(hold(), now)).toBe('HELD');
    expect(holdStatusAt(hold(), later(60_000))).toBe('EXPIRED');
    expect(holdStatusAt(hold({ status: 'CAPTURED' }), later(120_000))).toBe('CAPTURED');
    expect(holdExpiresAt(now, 90)).toEqual(later(90_000));
  });

  it('capture the whole hold or part of it, never more, and only while HELD before its deadline', () => {
    expect(decideCapture(hold(), 'pay_1', null, now)).toEqual({
      ok: true,
      value: { decision: { kind: 'proceed' }, amount: 1_000n },
    });
    expect(decideCapture(hold(), 'pay_1', 400n, now)).toEqual({
      ok: true,
      value: { decision: { kind: 'proceed' }, amount: 400n },
    });
    expect(decideCapture(hold(), 'pay_1', 1_001n, now)).toEqual({
      ok: false,
      error: { kind: 'CaptureExceedsHold', holdId: 'hld_1', held: 1_000n },
    });
    const expired = decideCapture(hold(), 'pay_1', 10n, later(60_000));
    expect(expired).toEqual({
      ok: true,
      value: {
        decision: { kind: 'refused', error: { kind: 'HoldNotActive', holdId: 'hld_1', status: 'EXPIRED' } },
        amount: 10n,
      },
    });
  });

  it('answer a replay of the ending that ended the hold again, and refuse every other ending', () => {
    const captured = hold({ status: 'CAPTURED', endedBy: 'pay_1' });
    expect(decideCapture(captured, 'pay_1', null, now)).toMatchObject({
      ok: true,
      value: { decision: { kind: 'replayed' } },
    });
    expect(decideCapture(captured, 'pay_2', null, now)).toMatchObject({
      ok: true,
      value: { decision: { kind: 'refused', error: { kind: 'HoldNotActive', status: 'CAPTURED' } } },
    });
    expect(decideVoid(captured, 'pst_release', now)).toEqual({
      kind: 'refused',
      error: { kind: 'HoldNotActive', holdId: 'hld_1', status: 'CAPTURED' },
    });
    const voided = hold({ status: 'VOIDED', endedBy: 'pst_release' });
    expect(decideVoid(voided, 'pst_release', now)).toEqual({ kind: 'replayed' });
    expect(decideVoid(hold(), 'pst_release', now)).toEqual({ kind: 'proceed' });
  });

  it('expire a hold only when still HELD and past its deadline', () => {
    expect(decideExpiry(hold(), now)).toEqual({
      kind: 'refused',
      error: { kind: 'HoldNotActive', holdId: 'hld_1', status: 'HELD' },
    });
    expect(decideExpiry(hold(), later(60_000))).toEqual({ kind: 'proceed' });
    // A void that finds it HELD past its deadline releases it as this expiry would, and is answered HOLD_NOT_ACTIVE.
    expect(decideVoid(hold(), 'pst_release', later(60_000))).toEqual({
      kind: 'overdue',
      error: { kind: 'HoldNotActive', holdId: 'hld_1', status: 'EXPIRED' },
    });
    expect(decideVoid(hold({ status: 'EXPIRED', endedBy: 'pst_expiry' }), 'pst_release', later(60_000))).toEqual({
      kind: 'refused',
      error: { kind: 'HoldNotActive', holdId: 'hld_1', status: 'EXPIRED' },
    });
    expect(decideExpiry(hold({ status: 'VOIDED' }), later(60_000))).toEqual({
      kind: 'refused',
      error: { kind: 'HoldNotActive', holdId: 'hld_1', status: 'VOIDED' },
    });
  });
});
