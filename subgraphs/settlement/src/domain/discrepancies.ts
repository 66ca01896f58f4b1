import { formatAmount } from '@paygraph/shared/money';

/**
 * What reconciliation can find. Each names the fact, and the ids and amounts that show it.
 * expected is what the ledger (or, for statement lines, the platform's record) says;
 * actual is what was found.
 */
export type DiscrepancyKind =
  | 'MISSING_INTERNAL'
  | 'MISSING_EXTERNAL'
  | 'AMOUNT_MISMATCH'
  | 'UNBALANCED_POSTING'
  | 'BALANCE_MISMATCH'
  | 'POSTING_MISSING'
  | 'CLEARING_MISMATCH'
  | 'FROZEN_MISMATCH'
  | 'SETTLEMENT_MISMATCH'
  | 'TAMPER_DETECTED';

export interface Discrepancy {
  kind: DiscrepancyKind;
  accountId: string | null;
  paymentId: string | null;
  externalRef: string | null;
  currency: string | null;
  expected: bigint | null;
  actual: bigint | null;
  detail: string;
}

export function discrepancy(
  kind: DiscrepancyKind,
  fields: Partial<Omit<Discrepancy, 'kind' | 'detail'>>,
  detail: string,
): Discrepancy {
  return {
    kind,
    detail,
    accountId: fields.accountId ?? null,
    paymentId: fields.paymentId ?? null,
    externalRef: fields.externalRef ?? null,
    currency: fields.currency ?? null,
    expected: fields.expected ?? null,
    actual: fields.actual ?? null,
  };
}

export interface InternalTransfer {
  id: string;
  kind: 'DEPOSIT' | 'WITHDRAWAL';
  externalRef: string;
  amount: bigint;
  currency: string;
}

export interface ExternalLine {
  externalRef: string;
  direction: 'CREDIT' | 'DEBIT';
  amount: bigint;
  currency: string;
}

/** Matches statement lines to deposits (CREDIT) and withdrawals (DEBIT) by external reference. */
export function matchStatement(
  internal: readonly InternalTransfer[],
  external: readonly ExternalLine[],
): Discrepancy[] {
  const found: Discrepancy[] = [];
  const byRef = new Map(internal.map((t) => [t.externalRef, t]));
  const matched = new Set<string>();
  for (const line of external) {
    const transfer = byRef.get(line.externalRef);
    if (!transfer) {
      found.push(
        discrepancy(
          'MISSING_INTERNAL',
          { externalRef: line.externalRef, currency: line.currency, actual: line.amount },
          `statement line ${line.externalRef} (${line.direction} ${line.amount} ${line.currency}) has no deposit or withdrawal`,
        ),
      );
      continue;
    }
    matched.add(line.externalRef);
    const direction = transfer.kind === 'DEPOSIT' ? 'CREDIT' : 'DEBIT';
    if (transfer.amount !== line.amount || transfer.currency !== line.currency || direction !== line.direction) {
      found.push(
        discrepancy(
          'AMOUNT_MISMATCH',
          {
            externalRef: line.externalRef,
            currency: transfer.currency,
            expected: transfer.amount,
            actual: line.amount,
          },
          `${transfer.kind} ${transfer.id} is ${direction} ${transfer.amount} ${transfer.currency}; the statement says ${line.direction} ${line.amount} ${line.currency}`,
        ),
      );
    }
  }
  for (const transfer of internal) {
    if (matched.has(transfer.externalRef)) continue;
    found.push(
      discrepancy(
        'MISSING_EXTERNAL',
        { externalRef: transfer.externalRef, currency: transfer.currency, expected: transfer.amount },
        `${transfer.kind} ${transfer.id} (${transfer.amount} ${transfer.currency}) is on no statement`,
      ),
    );
  }
  return found;
}

/** A discrepancy as a report keeps it: its amounts as decimal strings. */
export type StoredDiscrepancy = Omit<Discrepancy, 'expected' | 'actual'> & {
  expected: string | null;
  actual: string | null;
};

/** How a report keeps its discrepancies: JSON, amounts as decimal strings (never JS numbers). */
export function discrepanciesToJson(list: readonly Discrepancy[]): string {
  const amount = (v: bigint | null) => (v === null ? null : formatAmount(v));
  return JSON.stringify(
    list.map((d): StoredDiscrepancy => ({ ...d, expected: amount(d.expected), actual: amount(d.actual) })),
  );
}

/** The discrepancies of a stored report, as discrepanciesToJson wrote them. */
export function discrepanciesFromJson(json: string): StoredDiscrepancy[] {
  return JSON.parse(json) as StoredDiscrepancy[];
}
