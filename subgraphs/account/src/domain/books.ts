import { parseCurrency } from '@paygraph/shared/money';
import { err, ok, type Result } from '@paygraph/shared/result';
import {
  glCodeLengthMax,
  isCountryCode,
  isEntityCode,
  isGlCode,
  ledgerClasses,
  type ClassSum,
  type EntityRecord,
  type LedgerClass,
} from '@paygraph/shared/ledger/index';
import { entityNameLengthMax } from '../limits';

/**
 * An entity's books as the contract answers them (docs/BOOKS.md), from the sums the ledger keeps:
 * the inputs' shapes, the trial balance, the day's journal and its CSV, the intercompany
 * position. Pure: no I/O, no clock.
 */
export type BooksRefusal =
  | { kind: 'InvalidInput'; field: string; message: string }
  | { kind: 'UnsupportedCurrency'; currency: string }
  | { kind: 'EntityNotFound'; entity: string };

const invalid = (field: string, message: string) => err<BooksRefusal>({ kind: 'InvalidInput', field, message });

/** A CreateEntity input as an entity, or the first field that is wrong. */
export function decideEntity(input: EntityRecord): Result<EntityRecord, BooksRefusal> {
  if (!isEntityCode(input.code)) return invalid('code', "code must be 2-16 capital letters, digits or '-'");
  const name = input.name.trim();
  if (name.length === 0 || name.length > entityNameLengthMax)
    return invalid('name', `name must be 1-${entityNameLengthMax} characters`);
  if (!isCountryCode(input.country)) return invalid('country', 'country must be an ISO 3166-1 alpha-2 code');
  const currency = parseCurrency(input.functionalCurrency);
  if (!currency.ok) return err({ kind: 'UnsupportedCurrency', currency: input.functionalCurrency });
  return ok({ code: input.code, name, country: input.country, functionalCurrency: currency.value });
}

/** Creating an entity again answers it when its fields are the same; else InvalidInput. */
export function sameEntity(asked: EntityRecord, stored: EntityRecord): Result<EntityRecord, BooksRefusal> {
  const same =
    asked.name === stored.name &&
    asked.country === stored.country &&
    asked.functionalCurrency === stored.functionalCurrency;
  return same ? ok(stored) : invalid('code', `entity ${asked.code} exists with other fields`);
}

export function decideGlCode(input: { entity: string; glCode: string }): Result<null, BooksRefusal> {
  if (!isEntityCode(input.entity)) return invalid('entity', "entity must be 2-16 capital letters, digits or '-'");
  if (!isGlCode(input.glCode))
    return invalid('glCode', `glCode must be 1-${glCodeLengthMax} characters, no control character`);
  return ok(null);
}

const classOrder = new Map<string, number>(ledgerClasses.map((c, i) => [c, i]));
const byClass = (a: { ledgerClass: string }, b: { ledgerClass: string }) =>
  classOrder.get(a.ledgerClass)! - classOrder.get(b.ledgerClass)!;

export interface TrialBalanceLine {
  ledgerClass: LedgerClass;
  debit: bigint;
  credit: bigint;
  balance: bigint;
  accounts: number;
}

export interface TrialBalanceCurrency {
  currency: string;
  balanced: boolean;
  lines: TrialBalanceLine[];
}

/**
 * The trial balance from an entity's cumulative sums: per currency (in code order), a line per
 * class (in the contract's order) that has an account or moved, counterparties summed.
 */
export function trialBalanceOf(
  sums: readonly ClassSum[],
  accounts: ReadonlyMap<string, number>,
): TrialBalanceCurrency[] {
  const lines = new Map<string, TrialBalanceLine & { currency: string }>();
  const line = (ledgerClass: LedgerClass, currency: string) => {
    const key = `${ledgerClass}|${currency}`;
    const found = lines.get(key) ?? {
      ledgerClass,
      currency,
      debit: 0n,
      credit: 0n,
      balance: 0n,
      accounts: accounts.get(key) ?? 0,
    };
    lines.set(key, found);
    return found;
  };
  for (const [key] of accounts) {
    const [ledgerClass, currency] = key.split('|') as [LedgerClass, string];
    line(ledgerClass, currency);
  }
  for (const sum of sums) {
    const l = line(sum.ledgerClass as LedgerClass, sum.currency);
    l.debit += sum.debits;
    l.credit += sum.credits;
  }
  const currencies = [...new Set([...lines.values()].map((l) => l.currency))].sort();
  return currencies.map((currency) => {
    const own = [...lines.values()].filter((l) => l.currency === currency).sort(byClass);
    const rows = own.map(({ ledgerClass, debit, credit, accounts: n }) => ({
      ledgerClass,
      debit,
      credit,
      balance: debit - credit,
      accounts: n,
    }));
    const debit = rows.reduce((s, l) => s + l.debit, 0n);
    const credit = rows.reduce((s, l) => s + l.credit, 0n);
    return { currency, balanced: debit === credit, lines: rows };
  });
}

export interface JournalLine {
  glCode: string;
  ledgerClass: LedgerClass;
  currency: string;
  debit: bigint;
  credit: bigint;
  postings: number;
}

/**
 * The day's journal: per class, currency and direction a line (debit or credit zero), under the
 * class's GL code or its name. Ordered by currency, class (the contract's order), debit first.
 */
export function journalOf(sums: readonly ClassSum[], glCodes: ReadonlyMap<string, string>): JournalLine[] {
  const merged = new Map<string, JournalLine[]>();
  for (const sum of sums) {
    const key = `${sum.currency}|${sum.ledgerClass}`;
    const glCode = glCodes.get(sum.ledgerClass) ?? sum.ledgerClass;
    const blank = (): JournalLine => ({
      glCode,
      ledgerClass: sum.ledgerClass as LedgerClass,
      currency: sum.currency,
      debit: 0n,
      credit: 0n,
      postings: 0,
    });
    const [debit, credit] = merged.get(key) ?? [blank(), blank()];
    debit!.debit += sum.debits;
    debit!.postings += Number(sum.debitPostings);
    credit!.credit += sum.credits;
    credit!.postings += Number(sum.creditPostings);
    merged.set(key, [debit!, credit!]);
  }
  return [...merged.values()]
    .sort(([a], [b]) => (a!.currency < b!.currency ? -1 : a!.currency > b!.currency ? 1 : byClass(a!, b!)))
    .flat()
    .filter((l) => l.debit !== 0n || l.credit !== 0n);
}

/** RFC 4180: a field with a comma, quote, CR or LF is quoted, its quotes doubled; lines end in CRLF. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export const journalCsvHeader = 'entity,businessDate,glCode,ledgerClass,currency,debit,credit,postings';

/** The journal as CSV, amounts in minor units (the contract's Amount), header first. */
export function journalCsv(entity: string, businessDate: string, lines: readonly JournalLine[]): string {
  const rows = lines.map((l) =>
    [
      entity,
      businessDate,
      l.glCode,
      l.ledgerClass,
      l.currency,
      l.debit.toString(),
      l.credit.toString(),
      `${l.postings}`,
    ]
      .map(csvField)
      .join(','),
  );
  return [journalCsvHeader, ...rows].map((r) => `${r}\r\n`).join('');
}

export interface IntercompanyLine {
  fromEntity: string;
  toEntity: string;
  currency: string;
  amount: bigint;
}

/**
 * What each pair owes the other: per entity, counterparty and currency, its due-to and due-from
 * balances net (credit-positive: what it owes). For a pair, A's net towards B is −(B's towards
 * A) by construction; a difference is a bug and throws. One line per pair with a balance, from
 * the entity that owes.
 */
export function intercompanyPositionOf(sums: readonly ClassSum[]): IntercompanyLine[] {
  const owes = new Map<string, bigint>();
  for (const s of sums) {
    const key = `${s.entity}|${s.counterpartyEntity}|${s.currency}`;
    owes.set(key, (owes.get(key) ?? 0n) + s.credits - s.debits);
  }
  const lines: IntercompanyLine[] = [];
  for (const [key, amount] of owes) {
    const [from, to, currency] = key.split('|') as [string, string, string];
    const mirror = owes.get(`${to}|${from}|${currency}`) ?? 0n;
    if (mirror !== -amount) throw new Error(`intercompany ${from}/${to} ${currency}: ${amount} against ${mirror}`);
    if (amount > 0n) lines.push({ fromEntity: from, toEntity: to, currency, amount });
  }
  return lines.sort((a, b) =>
    `${a.fromEntity}|${a.toEntity}|${a.currency}`.localeCompare(`${b.fromEntity}|${b.toEntity}|${b.currency}`),
  );
}
