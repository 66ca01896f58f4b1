import { describe, expect, it } from 'vitest';
import { timingLapses, type FoundException, type TimingState } from '../../src/domain/channel-report';

const found = (kind: FoundException['kind']): FoundException => ({
  subject: 'movement:dep_1',
  kind,
  businessDate: '2026-11-02',
  externalRef: null,
  movementId: 'dep_1',
  amount: -100n,
  currency: 'USD',
  detail: 'unmatched',
});
const resolvedAt = new Date('2026-11-03T10:00:00Z');
const timing = (byMatching: boolean, kind: TimingState['kind'] = 'MISSING_EXTERNAL'): TimingState => ({
  kind,
  status: 'RESOLVED',
  resolution: 'TIMING',
  resolvedAt,
  byMatching,
});
const seen = (ended: boolean, lastImportedAt: string | null) => ({
  ended,
  lastImportedAt: lastImportedAt === null ? null : new Date(lastImportedAt),
});

describe('timingLapses: a TIMING lapses on a window ended, the item unmatched, and evidence newer than it', () => {
  it("lapses an operator's only on a statement of the window imported after it", () => {
    expect(timingLapses(found('MISSING_EXTERNAL'), timing(false), seen(true, '2026-11-03T09:00:00Z'))).toBe(false);
    expect(timingLapses(found('MISSING_EXTERNAL'), timing(false), seen(true, '2026-11-03T10:00:00Z'))).toBe(false);
    expect(timingLapses(found('MISSING_EXTERNAL'), timing(false), seen(true, '2026-11-03T10:00:01Z'))).toBe(true);
    expect(timingLapses(found('MISSING_INTERNAL'), timing(false, 'MISSING_INTERNAL'), seen(true, '2026-11-04'))).toBe(
      true,
    );
    expect(timingLapses(found('MISSING_EXTERNAL'), timing(false, 'IN_TRANSIT'), seen(true, '2026-11-04'))).toBe(true);
  });

  it("lapses matching's own on the run's finding alone, and none while the window is open or of another kind", () => {
    expect(timingLapses(found('MISSING_INTERNAL'), timing(true, 'MISSING_INTERNAL'), seen(true, null))).toBe(true);
    expect(timingLapses(found('IN_TRANSIT'), timing(false, 'IN_TRANSIT'), seen(false, '2026-11-04'))).toBe(false);
    expect(timingLapses(found('MISSING_EXTERNAL'), timing(true), seen(false, '2026-11-04'))).toBe(false);
    expect(timingLapses(found('AMOUNT_MISMATCH'), timing(true), seen(true, '2026-11-04'))).toBe(false);
    const written = { ...timing(false), resolution: 'WRITE_OFF' as const };
    expect(timingLapses(found('MISSING_EXTERNAL'), written, seen(true, '2026-11-04'))).toBe(false);
  });
});
