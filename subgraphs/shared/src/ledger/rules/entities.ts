import type { Account, AccountType, SystemKind } from './account';
import type { Bucket } from './posting-rules';
import { glCodeLengthMax } from '../../limits';

/**
 * Legal entities and the chart of accounts their books are kept in (docs/BOOKS.md). Pure: the
 * shapes an entity's fields must have, and the ledger class each entry counts in.
 */
export const platformEntity = 'PLATFORM';

/** An entity code: 2-16 capital letters, digits or '-' (the contract). */
export const entityCodePattern = /^[A-Z0-9-]{2,16}$/;

/** A GL code an operator maps to a class: 1-glCodeLengthMax characters, none a control character. */
export { glCodeLengthMax };

export function isEntityCode(code: string): boolean {
  return entityCodePattern.test(code);
}

export function isGlCode(code: string): boolean {
  // eslint-disable-next-line no-control-regex
  return code.length >= 1 && code.length <= glCodeLengthMax && !/[\u0000-\u001f\u007f]/.test(code);
}

/** ISO 3166-1 alpha-2, the officially assigned codes (249). */
const countryCodes: ReadonlySet<string> = new Set(
  (
    'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI ' +
    'BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN ' +
    'CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK ' +
    'FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM ' +
    'HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN ' +
    'KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ' +
    'ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP ' +
    'NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW ' +
    'SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF ' +
    'TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI ' +
    'VN VU WF WS YE YT ZA ZM ZW'
  ).split(' '),
);

export function isCountryCode(code: string): boolean {
  return countryCodes.has(code);
}

/** The contract's ledger classes, in the order a trial balance lists them. */
export const ledgerClasses = [
  'CUSTOMER_FUNDS',
  'MERCHANT_FUNDS',
  'MERCHANT_PENDING',
  'RESERVE',
  'CLEARING',
  'FEE_INCOME',
  'FEE_EXPENSE',
  'FX_POSITION',
  'LOSSES',
  'CREDIT_RECEIVABLE',
  'ADVANCE_RECEIVABLE',
  'CAMPAIGN_FUNDS',
  'INTERCOMPANY_DUE_TO',
  'INTERCOMPANY_DUE_FROM',
] as const;
export type LedgerClass = (typeof ledgerClasses)[number];

const classOfSystemKind: Readonly<Record<SystemKind, LedgerClass>> = {
  RESERVE: 'RESERVE',
  CLEARING: 'CLEARING',
  FEE_INCOME: 'FEE_INCOME',
  FEE_EXPENSE: 'FEE_EXPENSE',
  FX_POSITION: 'FX_POSITION',
  LOSS: 'LOSSES',
  INTERCOMPANY_DUE_TO: 'INTERCOMPANY_DUE_TO',
  INTERCOMPANY_DUE_FROM: 'INTERCOMPANY_DUE_FROM',
  // Money between databases, as clearing is (it nets to zero once the move's postings are in).
  SHARD_MOVE: 'CLEARING',
};

/**
 * The class an entry counts in, from its account and bucket. Today's chart has no account of
 * its own for CREDIT_RECEIVABLE, ADVANCE_RECEIVABLE or CAMPAIGN_FUNDS (a credit line is a
 * customer's negative available; an advance is a merchant's pending paid early; a campaign's
 * budget is its owner's account), so those classes are omitted from every answer, as the
 * contract says of a class with no account.
 */
export function ledgerClassOf(
  account: Pick<Account, 'type' | 'systemKind'> & { type: AccountType },
  bucket: Bucket,
): LedgerClass {
  if (account.type === 'PERSONAL') return 'CUSTOMER_FUNDS';
  if (account.type === 'MERCHANT') return bucket === 'PENDING' ? 'MERCHANT_PENDING' : 'MERCHANT_FUNDS';
  return classOfSystemKind[account.systemKind ?? 'RESERVE'];
}
