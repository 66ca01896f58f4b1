import { describe, expect, it } from 'vitest';
import type { ClassSum } from '@paygraph/shared/ledger/index';
import {
  decideEntity,
  intercompanyPositionOf,
  journalCsv,
  journalOf,
  sameEntity,
  trialBalanceOf,
} from '../../src/domain/books';

/** The books' pure answers (domain/books.ts): trial balance, journal and its CSV, position, inputs. */
const sum = (ledgerClass: string, debits: bigint, credits: bigint, extra: Partial<ClassSum> = {}): ClassSum => ({
  entity: 'A',
  ledgerClass,
  counterpartyEntity: '',
  currency: 'USD',
  debits,
  credits,
  debitPostings: debits > 0n ? 1n : 0n,
  creditPostings: credits > 0n ? 1n : 0n,
  ...extra,
});

describe('books (domain/books.ts)', () => {
  it('lists classes in the contract order, balance = debit − credit, and says whether a currency balances', () => {
    const [usd] = trialBalanceOf(
      [
        sum('RESERVE', 100n, 0n),
        sum('CUSTOMER_FUNDS', 30n, 100n),
        sum('INTERCOMPANY_DUE_TO', 0n, 30n, { counterpartyEntity: 'B' }),
      ],
      new Map([['CUSTOMER_FUNDS|USD', 2]]),
    );
    expect(usd!.lines.map((l) => [l.ledgerClass, l.balance, l.accounts])).toEqual([
      ['CUSTOMER_FUNDS', -70n, 2],
      ['RESERVE', 100n, 0],
      ['INTERCOMPANY_DUE_TO', -30n, 0],
    ]);
    expect(usd!.balanced).toBe(true);
    expect(trialBalanceOf([sum('RESERVE', 1n, 0n)], new Map())[0]!.balanced).toBe(false);
  });

  it('writes one journal line per class, currency and direction, and RFC 4180 CSV', () => {
    const lines = journalOf(
      [sum('CUSTOMER_FUNDS', 5n, 7n), sum('RESERVE', 2n, 0n)],
      new Map([['RESERVE', '1000,"cash"']]),
    );
    expect(lines.map((l) => [l.glCode, l.ledgerClass, l.debit, l.credit])).toEqual([
      ['CUSTOMER_FUNDS', 'CUSTOMER_FUNDS', 5n, 0n],
      ['CUSTOMER_FUNDS', 'CUSTOMER_FUNDS', 0n, 7n],
      ['1000,"cash"', 'RESERVE', 2n, 0n],
    ]);
    expect(journalCsv('A', '2026-11-24', lines)).toBe(
      'entity,businessDate,glCode,ledgerClass,currency,debit,credit,postings\r\n' +
        'A,2026-11-24,CUSTOMER_FUNDS,CUSTOMER_FUNDS,USD,5,0,1\r\n' +
        'A,2026-11-24,CUSTOMER_FUNDS,CUSTOMER_FUNDS,USD,0,7,1\r\n' +
        'A,2026-11-24,"1000,""cash""",RESERVE,USD,2,0,1\r\n',
    );
  });

  it('answers each pair once, from the entity that owes; a one-sided pair is a bug', () => {
    const pair = [
      sum('INTERCOMPANY_DUE_TO', 0n, 9n, { entity: 'A', counterpartyEntity: 'B' }),
      sum('INTERCOMPANY_DUE_FROM', 2n, 0n, { entity: 'A', counterpartyEntity: 'B' }),
      sum('INTERCOMPANY_DUE_FROM', 9n, 0n, { entity: 'B', counterpartyEntity: 'A' }),
      sum('INTERCOMPANY_DUE_TO', 0n, 2n, { entity: 'B', counterpartyEntity: 'A' }),
    ];
    expect(intercompanyPositionOf(pair)).toEqual([{ fromEntity: 'A', toEntity: 'B', currency: 'USD', amount: 7n }]);
    expect(() => intercompanyPositionOf(pair.slice(0, 1))).toThrow(/intercompany A\/B/);
  });

  it('checks an entity input and a repeat of it', () => {
    const ok = { code: 'DE-01', name: ' GmbH ', country: 'DE', functionalCurrency: 'EUR' };
    expect(decideEntity(ok)).toEqual({ ok: true, value: { ...ok, name: 'GmbH' } });
    expect(decideEntity({ ...ok, code: 'de' })).toMatchObject({ ok: false, error: { field: 'code' } });
    expect(decideEntity({ ...ok, country: 'XX' })).toMatchObject({ ok: false, error: { field: 'country' } });
    expect(decideEntity({ ...ok, functionalCurrency: 'XYZ' })).toMatchObject({
      error: { kind: 'UnsupportedCurrency' },
    });
    expect(sameEntity(ok, { ...ok, country: 'FR' })).toMatchObject({ ok: false });
  });
});
