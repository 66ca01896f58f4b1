import { getCountrySpecifications, isValidIBAN } from 'ibantools';
import { currencyMinorUnits } from '@paygraph/shared/money';
import { err, ok, type Result } from '@paygraph/shared/result';
import { spanOf, type BankStatement, type StatementError } from './bank-statement';
import { accountIdentificationLengthMax } from '../limits';

/**
 * Which bank account belongs to which channel (RegisterChannelAccount), and where each statement
 * of a file goes. An account is named as its statements name it: an IBAN, or the bank's own
 * account number (MT940 :25: such as "50880050/0194774600888", camt.053 Acct/Id/Othr/Id).
 */

/** How accounts compare: without spaces and case ("nl17 rabo 0310 0295 97" is NL17RABO0310029597). */
export function accountKey(account: string): string {
  return account.replace(/\s+/g, '').toUpperCase();
}

const ibanShaped = /^[A-Z]{2}\d{2}[A-Z0-9]+$/;
// SWIFT's character set (x) without the space, which comparing drops.
const bankNumber = /^[A-Z0-9/\-?:().,'+]+$/;
const ibanCountries = getCountrySpecifications();

/**
 * The identification as it is kept (accountKey), or why it is no account. One that begins as an
 * IBAN does (a country of ISO 13616's registry, two check digits, letters and digits only) is an
 * IBAN and must be one: the country's length and the mod-97 check digits (ibantools); so that a
 * mistyped IBAN is refused rather than kept as a bank's number. Some banks' :25: is the IBAN and
 * its currency ("NL68INGB0000012345EUR", ING): that is an IBAN too, checked without the code.
 */
export function parseAccountIdentification(input: string): Result<string, string> {
  const key = accountKey(input);
  if (key === '' || key.length > accountIdentificationLengthMax)
    return err(`accountIdentification must be 1-${accountIdentificationLengthMax} characters without spaces`);
  const length = ibanCountries[key.slice(0, 2)]?.chars ?? null;
  if (ibanShaped.test(key) && length !== null) {
    const currencySuffix = key.length === length + 3 && currencyMinorUnits.has(key.slice(length));
    const iban = currencySuffix ? key.slice(0, length) : key;
    if (!isValidIBAN(iban))
      return err(
        `"${input}" is not a valid IBAN: ISO 13616 gives ${key.slice(0, 2)} IBANs ${length} characters and mod-97 check digits`,
      );
    return ok(key);
  }
  if (!bankNumber.test(key))
    return err(`"${input}" is neither an IBAN nor a bank's account number (letters, digits and / - ? : ( ) . , ' +)`);
  return ok(key);
}

export interface Registration {
  accountKey: string;
  channel: string;
  currency: string;
}

/** A statement and where it is kept: its channel and its account (accountKey, or '' on a channel of one account). */
export interface Routed {
  channel: string;
  account: string;
  statement: BankStatement;
}

/**
 * Where each statement of a file goes, or the first statement that may go nowhere (the whole
 * file is then refused). Without `channel`: to its account's channel. With it: its account
 * must be registered to that channel, unless the channel has none registered, in which case it
 * takes one account's statements, as before accounts were registered: of an account registered
 * to no channel.
 */
export function routeStatements(
  statements: readonly BankStatement[],
  channel: string | null,
  registrations: ReadonlyMap<string, Registration>,
  channelHasAccounts: boolean,
): Result<Routed[], StatementError> {
  if (channel !== null && !channelHasAccounts) return oneAccount(statements, channel, registrations);
  const routed: Routed[] = [];
  for (const statement of statements) {
    const named = statement.account === null ? '' : accountKey(statement.account);
    if (named === '')
      return err({ line: statement.line, message: `the statement of ${statement.businessDate} names no account` });
    const found = registrations.get(named);
    const where = `account ${statement.account} (statement of ${statement.businessDate})`;
    if (found === undefined)
      return err({
        line: statement.line,
        message: `${where} is registered to no channel${channel === null ? '' : ` (nor to ${channel})`}: register it with RegisterChannelAccount; nothing was imported`,
      });
    if (channel !== null && found.channel !== channel) return err(registeredElsewhere(statement, found, channel));
    if (statement.currency !== null && statement.currency !== found.currency)
      return err({
        line: statement.line,
        message: `${where} is registered in ${found.currency}, its statement is in ${statement.currency}; nothing was imported`,
      });
    routed.push({ channel: found.channel, account: named, statement });
  }
  return ok(routed);
}

function registeredElsewhere(statement: BankStatement, found: Registration, channel: string): StatementError {
  return {
    line: statement.line,
    message: `account ${statement.account} (statement of ${statement.businessDate}) is registered to channel ${found.channel}, not ${channel}; nothing was imported`,
  };
}

/**
 * A channel with no account registered takes the statements of one account registered to no channel (a registered
 * one is another channel's), each kept under no account (''): so at most one of each span and currency, whether it
 * names its account or not.
 */
function oneAccount(
  statements: readonly BankStatement[],
  channel: string,
  registrations: ReadonlyMap<string, Registration>,
): Result<Routed[], StatementError> {
  const first = statements.find((s) => s.account !== null);
  const seen = new Map<string, BankStatement>();
  for (const s of statements) {
    const found = s.account === null ? undefined : registrations.get(accountKey(s.account));
    if (found !== undefined) return err(registeredElsewhere(s, found, channel));
    if (s.account !== null && accountKey(s.account) !== accountKey(first!.account!))
      return err({
        line: s.line,
        message: `the file holds accounts ${first!.account} and ${s.account}, and channel ${channel} has no account registered, so it takes one account's statements: register each account with RegisterChannelAccount; nothing was imported`,
      });
    // By span, as the statement's id (bankStatementId): a month and its closing day's own statement are two.
    const day = `${spanOf(s)} ${s.currency ?? ''}`;
    const earlier = seen.get(day);
    if (earlier !== undefined)
      return err({
        line: s.line,
        message: `two statements of ${day}, ${namedBy(earlier)} and ${namedBy(s)}, and channel ${channel} has no account registered, so it takes one account's statements, one a day and currency: send each account's statements apart, or register the account with RegisterChannelAccount; nothing was imported`,
      });
    seen.set(day, s);
  }
  return ok(statements.map((statement) => ({ channel, account: '', statement })));
}

const namedBy = (s: BankStatement) =>
  `${s.account === null ? 'naming no account' : `of account ${s.account}`} (line ${s.line})`;
