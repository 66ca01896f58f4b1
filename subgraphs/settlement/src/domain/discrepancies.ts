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

/**
 * Matches statement lines to deposits (CREDIT) and withdrawals (DEBIT) by external reference, one line to one
 * transfer: a reference may repeat on a statement (a bank's CSV, camt.053, MT940) and among transfers (its index is
 * not unique: two channels may use one), and a transfer met by two lines is the bank holding its money twice. Of a
 * reference's lines and transfers, those alike (amount, currency, direction) pair first, the rest in their order, a
 * pair that differs an AMOUNT_MISMATCH; a line left over is MISSING_INTERNAL, a transfer left over MISSING_EXTERNAL.
 */
export function matchStatement(
  internal: readonly InternalTransfer[],
  external: readonly ExternalLine[],
): Discrepancy[] {
  const pairs = pairByReference(internal, external);
  const found: Discrepancy[] = [];
  external.forEach((line, i) => {
    const transfer = pairs.transferOf[i];
    if (transfer === undefined) found.push(lineLeftOver(line, pairs.refCount.get(line.externalRef) ?? 0));
    else if (!alike(transfer, line)) found.push(amountMismatch(transfer, line));
  });
  for (const transfer of internal) {
    if (pairs.paired.has(transfer)) continue;
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

interface Pairing {
  /** Each line's transfer, by the line's index; undefined for a line left over. */
  transferOf: Array<InternalTransfer | undefined>;
  paired: Set<InternalTransfer>;
  /** How many transfers carry each reference. */
  refCount: Map<string, number>;
}

/**
 * Pairs each line with at most one transfer of its reference, each transfer with at most one line: first the lines
 * with a transfer alike, then the others with any left, each in the order given. Queues keyed by reference (and by
 * content for the first pass), so a reference repeated n times costs O(n), not O(n²).
 */
function pairByReference(internal: readonly InternalTransfer[], external: readonly ExternalLine[]): Pairing {
  const byContent = new Map<string, InternalTransfer[]>();
  const byRef = new Map<string, InternalTransfer[]>();
  for (const t of internal) {
    queueOf(byContent, contentKey(t.externalRef, directionOf(t), t.amount, t.currency)).push(t);
    queueOf(byRef, t.externalRef).push(t);
  }
  const refCount = new Map([...byRef].map(([ref, list]) => [ref, list.length]));
  const paired = new Set<InternalTransfer>();
  const take = (queue: InternalTransfer[] | undefined): InternalTransfer | undefined => {
    // A queue's head taken by the other pass is skipped: each transfer leaves each queue once.
    while (queue && queue.length > 0 && paired.has(queue[0]!)) queue.shift();
    const transfer = queue?.shift();
    if (transfer) paired.add(transfer);
    return transfer;
  };
  const transferOf = external.map((l) =>
    take(byContent.get(contentKey(l.externalRef, l.direction, l.amount, l.currency))),
  );
  external.forEach((line, i) => {
    transferOf[i] ??= take(byRef.get(line.externalRef));
  });
  return { transferOf, paired, refCount };
}

function queueOf<T>(map: Map<string, T[]>, key: string): T[] {
  let queue = map.get(key);
  if (queue === undefined) {
    queue = [];
    map.set(key, queue);
  }
  return queue;
}

function contentKey(ref: string, direction: ExternalLine['direction'], amount: bigint, currency: string): string {
  return JSON.stringify([ref, direction, amount.toString(), currency]);
}

function directionOf(transfer: InternalTransfer): ExternalLine['direction'] {
  return transfer.kind === 'DEPOSIT' ? 'CREDIT' : 'DEBIT';
}

function alike(transfer: InternalTransfer, line: ExternalLine): boolean {
  return (
    transfer.amount === line.amount && transfer.currency === line.currency && directionOf(transfer) === line.direction
  );
}

function amountMismatch(transfer: InternalTransfer, line: ExternalLine): Discrepancy {
  const direction = directionOf(transfer);
  return discrepancy(
    'AMOUNT_MISMATCH',
    { externalRef: line.externalRef, currency: transfer.currency, expected: transfer.amount, actual: line.amount },
    `${transfer.kind} ${transfer.id} is ${direction} ${transfer.amount} ${transfer.currency}; the statement says ${line.direction} ${line.amount} ${line.currency}`,
  );
}

/** A line no transfer is left for: none carries its reference, or each that does is another line's. */
function lineLeftOver(line: ExternalLine, transfersOfRef: number): Discrepancy {
  const why =
    transfersOfRef === 0
      ? 'has no deposit or withdrawal'
      : `has no deposit or withdrawal left (transfers of its reference: ${transfersOfRef}, each another line's)`;
  return discrepancy(
    'MISSING_INTERNAL',
    { externalRef: line.externalRef, currency: line.currency, actual: line.amount },
    `statement line ${line.externalRef} (${line.direction} ${line.amount} ${line.currency}) ${why}`,
  );
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
