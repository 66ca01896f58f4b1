import { createHash } from 'node:crypto';
import { electronicFormatIBAN, isValidIBAN } from 'ibantools';
import { idKinds, idSuffix, parseId, toLogicalShard, type LogicalShard } from '@paygraph/shared/ids';
import { isChannel } from '@paygraph/shared/channels';
import { channelLengthMax, ownerIdLengthMax } from '@paygraph/shared/limits';
import { logicalShardCount } from '@paygraph/shared/limits';
import { parseCurrency, type Currency } from '@paygraph/shared/money';
import { err, ok, type Result } from '@paygraph/shared/result';
import { invalidInput, type MoneyErrorOf } from './errors';
import { checkKey, checkText } from './inputs';
import { cardDigitsMax, cardDigitsMin, holderNameCharsMax, walletIdCharsMax } from '../limits';

/** The kinds and states of a link, as db/schema/external-accounts.ts stores them (domain/ names no row type). */
export type ExternalAccountKind = 'BANK_ACCOUNT' | 'CARD' | 'WALLET';
export type ExternalAccountStatus = 'PENDING' | 'VERIFIED' | 'REJECTED' | 'UNLINKED';
/** What the rules read of a link; the stored row has these fields and more. */
export interface LinkFacts {
  id: string;
  ownerId: string;
  status: ExternalAccountStatus;
  currency: string;
  channel: string;
}

/**
 * Linked external accounts, pure: what a link request may say, how a card is kept (never its
 * number), where an owner's links live, and which link a payout may name. No I/O; the keyed
 * fingerprint's HMAC is the service's (it holds the key).
 */

type InputError = MoneyErrorOf<'InvalidInput'>;

export interface LinkExternalAccountInput {
  idempotencyKey: string;
  ownerId: string;
  kind: ExternalAccountKind;
  channel: string;
  identifier: string;
  currency: string;
  holderName?: string | null;
}

/** What the link keeps of its identifier: a card's digits go to the fingerprint and are dropped. */
export type LinkIdentifier =
  { kind: 'BANK_ACCOUNT'; iban: string } | { kind: 'CARD'; digits: string } | { kind: 'WALLET'; walletId: string };

export interface ParsedLink {
  idempotencyKey: string;
  ownerId: string;
  channel: string;
  currency: Currency;
  holderName: string | null;
  identifier: LinkIdentifier;
}

const ownerIdPattern = /^[A-Za-z0-9_.:@-]+$/;
/** An owner id as accounts and links take it: 1-64 characters of [A-Za-z0-9_.:@-]. */
export function isOwnerId(raw: string): boolean {
  return raw.length > 0 && raw.length <= ownerIdLengthMax && ownerIdPattern.test(raw);
}
const walletIdPattern = /^[A-Za-z0-9_.:@+-]+$/;
const kinds: readonly ExternalAccountKind[] = ['BANK_ACCOUNT', 'CARD', 'WALLET'];

/** A link request, checked before anything is read or written; each refusal names its field, never echoes a card. */
export function parseLink(input: LinkExternalAccountInput): Result<ParsedLink, InputError> {
  const key = checkKey(input.idempotencyKey);
  if (key) return err(key);
  if (!isOwnerId(input.ownerId))
    return err(invalidInput('ownerId', `ownerId must be 1-${ownerIdLengthMax} characters of [A-Za-z0-9_.:@-]`));
  if (!kinds.includes(input.kind)) return err(invalidInput('kind', `kind must be one of ${kinds.join(', ')}`));
  if (!isChannel(input.channel))
    return err(invalidInput('channel', `channel must be 1-${channelLengthMax} characters of [A-Za-z0-9_.-]`));
  const currency = parseCurrency(input.currency);
  if (!currency.ok) return err(invalidInput('currency', `currency "${input.currency}" is not a supported code`));
  const holderName = checkText('holderName', input.holderName, holderNameCharsMax);
  if (!holderName.ok) return holderName;
  const identifier = parseIdentifier(input.kind, input.identifier);
  if (!identifier.ok) return identifier;
  return ok({
    idempotencyKey: input.idempotencyKey,
    ownerId: input.ownerId,
    channel: input.channel,
    currency: currency.value,
    holderName: holderName.value,
    identifier: identifier.value,
  });
}

/** The identifier of its kind: an IBAN (ISO 13616 mod-97), a card number (Luhn), a wallet id. */
export function parseIdentifier(kind: ExternalAccountKind, raw: string): Result<LinkIdentifier, InputError> {
  if (kind === 'BANK_ACCOUNT') {
    const iban = electronicFormatIBAN(raw) ?? '';
    return isValidIBAN(iban)
      ? ok({ kind, iban })
      : err(invalidInput('identifier', 'identifier is not a valid IBAN (its country, length and mod-97 check digits)'));
  }
  if (kind === 'CARD') {
    const digits = raw.replace(/[ -]/g, '');
    // The message never repeats the number: a refusal is logged and traced like any answer.
    if (!isCardNumber(digits))
      return err(
        invalidInput('identifier', `identifier is not a card number (${cardDigitsMin}-${cardDigitsMax} digits, Luhn)`),
      );
    return ok({ kind, digits });
  }
  // A wallet id is kept and shown whole: a card number linked as one would be stored, displayed, sent in events and
  // webhooks, and claimed by no owner. Refused as CARD's check would take it, and checked before the characters, so
  // that one written with spaces is told the same; the message never repeats it.
  if (isCardNumber(raw.replace(/[ -]/g, '')))
    return err(invalidInput('identifier', 'identifier is a card number: link it with kind CARD, never as a wallet id'));
  if (raw.length === 0 || raw.length > walletIdCharsMax || !walletIdPattern.test(raw))
    return err(invalidInput('identifier', `a wallet id is 1-${walletIdCharsMax} characters of [A-Za-z0-9_.:@+-]`));
  return ok({ kind, walletId: raw });
}

/** Digits alone, of a card number's length (ISO/IEC 7812), passing Luhn. */
function isCardNumber(digits: string): boolean {
  return /^\d+$/.test(digits) && digits.length >= cardDigitsMin && digits.length <= cardDigitsMax && luhnValid(digits);
}

/** The Luhn (mod 10) check of ISO/IEC 7812: every second digit from the right doubled. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** What may be shown of an identifier: an IBAN's country and check digits and last four, a card's last four. */
export function displayOf(identifier: LinkIdentifier): string {
  switch (identifier.kind) {
    case 'BANK_ACCOUNT':
      return `${identifier.iban.slice(0, 4)} •••• ${identifier.iban.slice(-4)}`;
    case 'CARD':
      return `•••• ${identifier.digits.slice(-4)}`;
    case 'WALLET':
      return identifier.walletId;
  }
}

/**
 * The logical shard an owner's links live on: a hash of the owner id, so that listing an
 * owner's links is one statement on one shard and needs no directory.
 */
export function ownerLinkShard(ownerId: string): LogicalShard {
  return toLogicalShard(createHash('sha256').update(`owner:${ownerId}`).digest()[0]! % logicalShardCount);
}

/** The logical shard a card's ownership claim lives on (its fingerprint's): one row per card over every shard. */
export function claimShard(identityKey: string): LogicalShard {
  return toLogicalShard(createHash('sha256').update(`claim:${identityKey}`).digest()[0]! % logicalShardCount);
}

const crockford = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * The idempotency anchor of an owner's link requests: an id of kind externalAccount on the
 * owner's link shard, fixed per owner (its ULID part a hash of the owner id), so a key is scoped
 * to (owner, caller, key) and lives with the owner's links. No link has this id: a real one's
 * ULID part begins with its time, this one with a hash, and nothing reads it as a link.
 */
export function ownerLinkAnchor(ownerId: string): string {
  const digest = createHash('sha256').update(`anchor:${ownerId}`).digest();
  let body = '';
  for (let i = 0; i < 26; i++) body += crockford[digest[i]! % 32];
  return `${idKinds.externalAccount}_${body}_${idSuffix(ownerLinkShard(ownerId))}`;
}

/** An external account id sent by a client: null for anything malformed. */
export function parseExternalAccountId(id: string): string | null {
  return parseId('externalAccount', id)?.id ?? null;
}

/** What a verification does to a link: decides a PENDING one; the same verdict again answers it; no other. */
export function verification(
  link: Pick<LinkFacts, 'id' | 'status'>,
  verified: boolean,
): Result<ExternalAccountStatus | 'same', InputError> {
  const verdict: ExternalAccountStatus = verified ? 'VERIFIED' : 'REJECTED';
  if (link.status === 'PENDING') return ok(verdict);
  if (link.status === verdict) return ok('same');
  return err(
    invalidInput('verified', `linked account ${link.id} is ${link.status}; a link is verified or rejected once`),
  );
}

export type LinkRefusal = MoneyErrorOf<'ExternalAccountNotFound' | 'ExternalAccountNotVerified' | 'InvalidInput'>;

/**
 * Whether a movement of an account may name this link. A payout (WITHDRAWAL) only to a VERIFIED
 * link; money in (DEPOSIT) from one neither REJECTED nor UNLINKED. Either way the link must be
 * the account owner's (another's is not found: its existence is not told), in the movement's
 * currency, and at the channel named, if one was.
 */
export function linkAllows<L extends LinkFacts>(
  kind: 'DEPOSIT' | 'WITHDRAWAL',
  link: L | undefined,
  externalAccountId: string,
  movement: { ownerId: string; currency: string; channel: string | null },
): Result<L, LinkRefusal> {
  if (!link || link.ownerId !== movement.ownerId) return err({ kind: 'ExternalAccountNotFound', externalAccountId });
  const usable =
    kind === 'WITHDRAWAL' ? link.status === 'VERIFIED' : link.status === 'VERIFIED' || link.status === 'PENDING';
  if (!usable) return err({ kind: 'ExternalAccountNotVerified', externalAccountId, status: link.status });
  if (link.currency !== movement.currency)
    return err(invalidInput('currency', `linked account ${link.id} is in ${link.currency}, not ${movement.currency}`));
  if (movement.channel !== null && movement.channel !== link.channel)
    return err(invalidInput('channel', `linked account ${link.id} is at channel ${link.channel}`));
  return ok(link);
}
