import { addDays, type BankLine, type Movement } from '../../src/domain/matching';

/**
 * A channel's ledger of movements over some days, and the statements a bank would send for it,
 * perturbed as banks do: fees taken out of an amount, bookings a day late, a day's card deposits
 * settled as one line, a payment booked in two lines, lines dropped, duplicated or added by the
 * bank, lines without our reference. Every perturbation is recorded with what the matching must
 * make of it. Pure: the same random source gives the same ledger and statements.
 */
export interface Random {
  next(): number;
  below(bound: number): number;
  between(low: number, high: number): number;
}

export type Expectation =
  | { kind: 'EXACT'; movementId: string }
  | { kind: 'FEE'; movementId: string; fee: bigint }
  | { kind: 'SHIFTED'; movementId: string }
  | { kind: 'SPLIT'; movementId: string }
  | { kind: 'NO_REFERENCE'; movementId: string; lineKey: string; difference: bigint }
  | { kind: 'BATCH'; movementIds: string[]; lineKey: string }
  | { kind: 'DROPPED'; movementId: string }
  | { kind: 'DUPLICATED'; movementId: string; lineKey: string }
  | { kind: 'BANK_ONLY'; lineKey: string };

export interface Generated {
  movements: Movement[];
  lines: BankLine[];
  expectations: Expectation[];
}

export interface GeneratorOptions {
  firstDate: string;
  days: number;
  movementsPerDay: number;
  currencies: readonly string[];
  /** The largest difference of an unreferenced line from its movement (within the rules' tolerance). */
  fuzzMax: bigint;
}

/** The largest card deposit: 101 below the smallest sum of two (2,000), past any tolerance the tests use. */
const cardMax = 1_899;

export function generateStatements(random: Random, options: GeneratorOptions): Generated {
  const movements: Movement[] = [];
  const lines: BankLine[] = [];
  const expectations: Expectation[] = [];
  let serial = 0;
  const line = (date: string, currency: string, signed: bigint, externalRef: string, valueDate = date): BankLine => {
    serial++;
    const made = {
      key: `l${serial}`,
      order: `l${serial}`,
      statementDate: date,
      valueDate,
      currency,
      signed,
      externalRef,
      lineNumber: serial,
    };
    lines.push(made);
    return made;
  };
  for (let day = 0; day < options.days; day++) {
    const date = addDays(options.firstDate, day);
    for (const currency of options.currencies) {
      // A day's card deposits: no reference of their own, settled as one line; each further below any sum of two
      // than any tolerance the tests use (50): with cards up to 1,999, two of a day could sum within 50 of a
      // neighbour day's single card, which then took the batch line one to one (about one run in 600).
      const cards: Movement[] = [];
      const cardCount = random.between(2, 5);
      for (let i = 0; i < cardCount; i++)
        cards.push(
          movement(movements, `c${movements.length}`, date, currency, BigInt(random.between(1_000, cardMax)), null),
        );
      line(
        date,
        currency,
        cards.reduce((s, m) => s + m.signed, 0n),
        `BATCH-${date}-${currency}`,
      );
      expectations.push({ kind: 'BATCH', movementIds: cards.map((m) => m.id), lineKey: `l${serial}` });
      for (let i = 0; i < options.movementsPerDay; i++) {
        const id = `m${movements.length}`;
        const unreferenced = random.below(10) === 0;
        // Amounts of unreferenced movements lie far apart (1,000,000 steps), so only their own line is within
        // tolerance.
        const amount = unreferenced
          ? BigInt(1_000_000 * (movements.length + 1) + random.between(0, 999))
          : BigInt(random.between(100_000, 999_999));
        const signed = random.below(4) === 0 ? -amount : amount;
        const m = movement(movements, id, date, currency, signed, unreferenced ? null : `R${id}`);
        perturb(random, options, m, date, line, expectations);
      }
      if (random.below(3) === 0)
        expectations.push({
          kind: 'BANK_ONLY',
          lineKey: line(date, currency, -BigInt(random.between(1, 500)), `FEE-${date}-${currency}`).key,
        });
    }
  }
  return { movements, lines, expectations };
}

function movement(
  list: Movement[],
  id: string,
  businessDate: string,
  currency: string,
  signed: bigint,
  externalRef: string | null,
): Movement {
  const m = { id, businessDate, currency, signed, externalRef };
  list.push(m);
  return m;
}

type Line = (date: string, currency: string, signed: bigint, externalRef: string, valueDate?: string) => BankLine;

function perturb(
  random: Random,
  options: GeneratorOptions,
  m: Movement,
  date: string,
  line: Line,
  expectations: Expectation[],
): void {
  if (m.externalRef === null) {
    const difference = -BigInt(random.between(0, Number(options.fuzzMax)));
    const shifted = random.below(2) === 0 ? date : addDays(date, 1);
    const made = line(shifted, m.currency, m.signed + difference, `BNK${m.id}`);
    expectations.push({ kind: 'NO_REFERENCE', movementId: m.id, lineKey: made.key, difference });
    return;
  }
  const ref = m.externalRef;
  switch (random.below(8)) {
    case 0: {
      // The bank's fee comes out of a credit.
      if (m.signed < 0n) break;
      const fee = BigInt(random.between(1, 2_000));
      line(date, m.currency, m.signed - fee, ref);
      expectations.push({ kind: 'FEE', movementId: m.id, fee });
      return;
    }
    case 1:
      line(addDays(date, 1), m.currency, m.signed, ref);
      expectations.push({ kind: 'SHIFTED', movementId: m.id });
      return;
    case 2: {
      const part = m.signed / 3n;
      line(date, m.currency, part, ref);
      line(date, m.currency, m.signed - part, ref);
      expectations.push({ kind: 'SPLIT', movementId: m.id });
      return;
    }
    case 3:
      expectations.push({ kind: 'DROPPED', movementId: m.id });
      return;
    case 4: {
      line(date, m.currency, m.signed, ref);
      expectations.push({ kind: 'DUPLICATED', movementId: m.id, lineKey: line(date, m.currency, m.signed, ref).key });
      return;
    }
    default:
      break;
  }
  line(date, m.currency, m.signed, ref);
  expectations.push({ kind: 'EXACT', movementId: m.id });
}
