import { describe, it, expect, beforeAll } from 'vitest';
import { sql } from 'drizzle-orm';
import { createHmac } from 'node:crypto';
import { developmentCardFingerprintKey } from '@paygraph/transaction/context';
import { claimShard } from '@paygraph/transaction/domain/external-accounts';
import { claimIdentity } from '@paygraph/transaction/db/external-accounts';
import type { Stack } from '../../../../test/support/stack';
import { errorCodes, gql } from '../../../../test/support/graphql';
import {
  freshCard,
  freshIban,
  linkDocs,
  linkDetail,
  linkedMoneyDocs,
  registeredChannel,
  withdrawDetail,
} from '../../../../test/support/links';
import { token, unique } from '../../../../test/support/env';
import { type Answer, type MoneyKit, useMoneyStack } from '../../../../test/support/money';
import { insertAccountOn } from '../../../../test/support/bank';
import { depositFromReserve } from '../../../../test/support/ledger';
import { announceStripe, insertStripeIfMissing, stripeIdOf } from '@paygraph/shared/ledger/index';

/**
 * Linked external accounts through the gateway, every shard a real database: an owner links a
 * bank account, card or wallet at a registered channel; the channel verifies it; the owner
 * unlinks it. And what a hostile customer tries: another's card, another's owner id, verifying
 * its own link, replaying a key with another body, input that is not an IBAN or a card.
 */
let stack: Stack;
let kit: MoneyKit;
useMoneyStack((started) => ({ stack, kit } = started));

let operator: string;
let channel: string;
beforeAll(async () => {
  operator = await token(unique('links-operator'), 'operator');
  channel = await registeredChannel(operator, stack.gatewayUrl);
});

function link(bearer: string, input: Record<string, unknown>, doc = linkDocs.link): Promise<Answer> {
  return gql(
    stack.gatewayUrl,
    doc,
    { input: { idempotencyKey: unique('k'), currency: 'EUR', channel, ...input } },
    bearer,
  );
}

/** Every external_accounts row of an owner, over every database, every column as text. */
async function rowsOf(ownerId: string): Promise<Array<Record<string, unknown>>> {
  const rows = await Promise.all(
    stack.shards.all.map(async (s) => {
      const [found] = (await s.db.execute(
        sql`SELECT * FROM external_accounts WHERE owner_id = ${ownerId}`,
      )) as unknown as [Array<Record<string, unknown>>];
      return found;
    }),
  );
  return rows.flat();
}

/** Rows of links, card claims and idempotency keys on every database with `text` in a column that could hold it. */
async function storedWith(text: string): Promise<number> {
  const columns: Record<string, string> = {
    external_accounts: 'identity_key, display, channel_token, holder_name',
    external_account_claims: 'identity_key, owner_id',
    idempotency_keys: 'idempotency_key, request_hash, resource_id',
  };
  let n = 0;
  for (const s of stack.shards.all) {
    for (const [table, which] of Object.entries(columns)) {
      const [found] = (await s.db.execute(
        sql`SELECT COUNT(*) AS n FROM ${sql.raw(table)} WHERE CONCAT_WS('|', ${sql.raw(which)}) LIKE ${`%${text}%`}`,
      )) as unknown as [Array<{ n: number | string }>];
      n += Number(found[0]!.n);
    }
  }
  return n;
}

describe('linking an external account', () => {
  it('links an IBAN PENDING with only its display shown, which its channel verifies once; a replay answers the link', async () => {
    const owner = unique('links-iban');
    const bearer = await token(owner, 'customer');
    const iban = freshIban();
    const key = unique('k');
    const input = { idempotencyKey: key, ownerId: owner, kind: 'BANK_ACCOUNT', identifier: iban, holderName: 'Ada' };
    const linked = await link(bearer, input);
    expect(linked.errors).toBeUndefined();
    const made = linked.data!.linkExternalAccount;
    expect(made).toEqual({
      __typename: 'ExternalAccount',
      id: expect.stringMatching(/^ext_[0-9A-Z]{26}_[0-9a-f]{2}$/),
      ownerId: owner,
      kind: 'BANK_ACCOUNT',
      channel,
      currency: 'EUR',
      display: `${iban.slice(0, 4)} •••• ${iban.slice(-4)}`,
      status: 'PENDING',
    });
    // The same key and body: the same link. The same key with another body: refused, nothing linked.
    expect((await link(bearer, input)).data!.linkExternalAccount).toMatchObject({ id: made.id });
    const reused = await link(bearer, { ...input, identifier: freshIban() });
    expect(reused.data!.linkExternalAccount).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await rowsOf(owner)).toHaveLength(1);

    // The owner cannot verify its own link; another channel cannot either.
    const verifyInput = { input: { externalAccountId: made.id, verified: true } };
    expect(errorCodes(await gql(stack.gatewayUrl, linkDocs.verify, verifyInput, bearer))).toEqual(['FORBIDDEN']);
    const other = await token('another-bank', 'channel');
    expect(errorCodes(await gql(stack.gatewayUrl, linkDocs.verify, verifyInput, other))).toEqual(['FORBIDDEN']);
    expect((await rowsOf(owner))[0]).toMatchObject({ status: 'PENDING', decided_by: null });

    const byChannel = await token(channel, 'channel');
    const verified = await gql(stack.gatewayUrl, linkDocs.verify, verifyInput, byChannel);
    expect(verified.data!.verifyExternalAccount).toEqual({
      __typename: 'ExternalAccount',
      id: made.id,
      status: 'VERIFIED',
    });
    // Once: the same verdict again answers it; the other is refused, naming the field.
    const again = await gql(stack.gatewayUrl, linkDocs.verify, verifyInput, byChannel);
    expect(again.data!.verifyExternalAccount).toMatchObject({ status: 'VERIFIED' });
    const reject = { input: { externalAccountId: made.id, verified: false } };
    const refused = await gql(stack.gatewayUrl, linkDocs.verify, reject, operator);
    expect(refused.data!.verifyExternalAccount).toMatchObject({ __typename: 'InvalidInput', code: 'INVALID_INPUT' });

    const unlinked = await gql(stack.gatewayUrl, linkDocs.unlink, { id: made.id }, bearer);
    expect(unlinked.data!.unlinkExternalAccount).toEqual({
      __typename: 'ExternalAccount',
      id: made.id,
      status: 'UNLINKED',
    });
    expect((await rowsOf(owner))[0]).toMatchObject({ status: 'UNLINKED' });
  });

  it('keeps a card as its token, last four and fingerprint, never its number; a second owner is EXTERNAL_ACCOUNT_IN_USE', async () => {
    const owner = unique('links-card');
    const thief = unique('links-thief');
    const card = freshCard();
    const spaced = card.replace(/(\d{4})(?=\d)/g, '$1 ');
    const linked = await link(await token(owner, 'customer'), { ownerId: owner, kind: 'CARD', identifier: spaced });
    expect(linked.data!.linkExternalAccount).toMatchObject({ status: 'PENDING', display: `•••• ${card.slice(-4)}` });
    expect(JSON.stringify(linked)).not.toContain(card.slice(0, 12));
    const [row] = await rowsOf(owner);
    expect(row).toMatchObject({ kind: 'CARD', channel_token: expect.stringMatching(/^ctok_[0-9a-f]{40}$/) });
    expect(row!.identity_key).toMatch(/^[0-9a-f]{64}$/);
    // No column of the link, the card's claim or any idempotency key holds the number or its first twelve digits.
    expect(await storedWith(card.slice(0, 12))).toBe(0);

    // Another owner linking the same card, however written, is refused: the card is the first owner's.
    const stolen = await link(
      await token(thief, 'customer'),
      { ownerId: thief, kind: 'CARD', identifier: card },
      linkDetail,
    );
    expect(stolen.data!.linkExternalAccount).toMatchObject({
      __typename: 'ExternalAccountInUse',
      code: 'EXTERNAL_ACCOUNT_IN_USE',
      inUseField: 'identifier',
    });
    expect(JSON.stringify(stolen)).not.toContain(card.slice(0, 12));
    expect(await rowsOf(thief)).toEqual([]);
  });

  it('refuses a card number linked as a WALLET, however written, storing nothing; the card stays free for CARD', async () => {
    const owner = unique('links-wallet-card');
    const bearer = await token(owner, 'customer');
    const card = freshCard();
    const written = [card, card.replace(/(\d{4})(?=\d)/g, '$1 '), card.replace(/(\d{4})(?=\d)/g, '$1-')];
    for (const identifier of written) {
      const answer = await link(bearer, { ownerId: owner, kind: 'WALLET', identifier }, linkDetail);
      expect(answer.errors, identifier).toBeUndefined();
      expect(answer.data!.linkExternalAccount, identifier).toMatchObject({
        __typename: 'InvalidInput',
        code: 'INVALID_INPUT',
        field: 'identifier',
        message: expect.stringContaining('kind CARD'),
      });
      expect(JSON.stringify(answer)).not.toContain(card.slice(0, 12));
    }
    expect(await rowsOf(owner)).toEqual([]);
    expect(await storedWith(card.slice(0, 12))).toBe(0);
    // Nobody claimed the card: another owner links it as a card.
    const other = unique('links-card-later');
    const asCard = await link(await token(other, 'customer'), { ownerId: other, kind: 'CARD', identifier: card });
    expect(asCard.data!.linkExternalAccount).toMatchObject({ status: 'PENDING', display: `•••• ${card.slice(-4)}` });
    // A wallet id with digits in it, even sixteen that fail Luhn, still links and shows whole.
    const notCard = `${card.slice(0, 15)}${(Number(card[15]) + 1) % 10}`;
    for (const identifier of ['wallet-4242', notCard]) {
      const wallet = await link(bearer, { ownerId: owner, kind: 'WALLET', identifier });
      expect(wallet.data!.linkExternalAccount, identifier).toMatchObject({ status: 'PENDING', display: identifier });
    }
  });

  it("refuses a link for another owner's id (FORBIDDEN), and a partner's or channel's link", async () => {
    const victim = unique('links-victim');
    const attacker = await token(unique('links-attacker'), 'customer');
    const forged = await link(attacker, { ownerId: victim, kind: 'BANK_ACCOUNT', identifier: freshIban() });
    expect(errorCodes(forged)).toEqual(['FORBIDDEN']);
    const partner = await link(await token(victim, 'partner'), { ownerId: victim, kind: 'WALLET', identifier: 'w-1' });
    expect(errorCodes(partner)).toEqual(['FORBIDDEN']);
    expect(
      errorCodes(await link(await token(channel, 'channel'), { ownerId: victim, kind: 'WALLET', identifier: 'w' })),
    ).toEqual(['FORBIDDEN']);
    expect(await rowsOf(victim)).toEqual([]);
  });

  it("refuses to unlink another owner's link (FORBIDDEN) without naming its owner, and leaves it as it was", async () => {
    const victim = unique('unlink-victim');
    const made = await link(await token(victim, 'customer'), { ownerId: victim, kind: 'WALLET', identifier: 'w-kept' });
    const linkId = (made.data!.linkExternalAccount as { id: string }).id;
    const callers = [
      await token(unique('unlink-stranger'), 'customer'),
      await token(unique('unlink-merchant'), 'merchant'),
      await token(unique('unlink-partner'), 'partner'),
      await token(victim, 'partner'),
      await token(channel, 'channel'),
    ];
    for (const bearer of callers) {
      const refused = await gql(stack.gatewayUrl, linkDocs.unlink, { id: linkId }, bearer);
      expect(errorCodes(refused)).toEqual(['FORBIDDEN']);
      // The caller sent the link's id alone: the refusal may name the link, never whose it is.
      expect(JSON.stringify(refused)).not.toContain(victim);
    }
    expect((await rowsOf(victim)).map((row) => row.status)).toEqual(['PENDING']);
  });

  it('answers bad input with INVALID_INPUT naming its field, and writes nothing', async () => {
    const owner = unique('links-bad');
    const bearer = await token(owner, 'customer');
    const iban = freshIban();
    const badIban = `${iban.slice(0, 2)}${iban[2] === '9' ? '1' : '9'}${iban.slice(3)}`;
    const card = freshCard();
    const badCard = `${card.slice(0, 15)}${(Number(card[15]) + 1) % 10}`;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ kind: 'BANK_ACCOUNT', identifier: badIban }, 'identifier'],
      [{ kind: 'BANK_ACCOUNT', identifier: 'not an iban' }, 'identifier'],
      [{ kind: 'CARD', identifier: badCard }, 'identifier'],
      [{ kind: 'CARD', identifier: '4242' }, 'identifier'],
      [{ kind: 'WALLET', identifier: 'x'.repeat(65) }, 'identifier'],
      [{ kind: 'WALLET', identifier: 'w', channel: unique('nochannel') }, 'channel'],
      [{ kind: 'WALLET', identifier: 'w', channel: 'bad channel!' }, 'channel'],
      [{ kind: 'WALLET', identifier: 'w', currency: 'XYZ' }, 'currency'],
      [{ kind: 'WALLET', identifier: 'w', idempotencyKey: '' }, 'idempotencyKey'],
    ];
    for (const [input, field] of cases) {
      const answer = await link(bearer, { ownerId: owner, ...input }, linkDetail);
      expect(answer.errors, JSON.stringify(input)).toBeUndefined();
      expect(answer.data!.linkExternalAccount, JSON.stringify(input)).toMatchObject({
        __typename: 'InvalidInput',
        code: 'INVALID_INPUT',
        field,
      });
      expect(answer.data!.linkExternalAccount.message).not.toContain(badCard.slice(0, 12));
    }
    const malformed = await gql(
      stack.gatewayUrl,
      linkDocs.verify,
      { input: { externalAccountId: 'ext_nope', verified: true } },
      operator,
    );
    expect(malformed.data!.verifyExternalAccount).toMatchObject({ code: 'INVALID_INPUT' });
    const missing = await gql(stack.gatewayUrl, linkDocs.unlink, { id: 'ext_01JDP5Z9K3M4N6Q7R8S9T0V1WX_2a' }, operator);
    expect(missing.data!.unlinkExternalAccount).toMatchObject({ code: 'EXTERNAL_ACCOUNT_NOT_FOUND' });
    expect(await rowsOf(owner)).toEqual([]);
  });

  it('bounds the links of one owner (externalAccountsPerOwnerMax), answering INVALID_INPUT on ownerId past it', async () => {
    const owner = unique('links-many');
    const bearer = await token(owner, 'customer');
    const { externalAccountsPerOwnerMax } = await import('@paygraph/transaction/limits');
    for (let i = 0; i < externalAccountsPerOwnerMax; i++) {
      const answer = await link(bearer, { ownerId: owner, kind: 'WALLET', identifier: `wallet-${i}` });
      expect(answer.data!.linkExternalAccount.__typename).toBe('ExternalAccount');
    }
    const over = await link(bearer, { ownerId: owner, kind: 'WALLET', identifier: 'one-more' }, linkDetail);
    expect(over.data!.linkExternalAccount).toMatchObject({ code: 'INVALID_INPUT', field: 'ownerId' });
    // A card refused for the bound is not the owner's: another owner links it.
    const card = freshCard();
    const squatted = await link(bearer, { ownerId: owner, kind: 'CARD', identifier: card }, linkDetail);
    expect(squatted.data!.linkExternalAccount).toMatchObject({ code: 'INVALID_INPUT', field: 'ownerId' });
    expect(await rowsOf(owner)).toHaveLength(externalAccountsPerOwnerMax);
    const other = unique('links-card-after');
    const otherBearer = await token(other, 'customer');
    const linked = await link(otherBearer, { ownerId: other, kind: 'CARD', identifier: card });
    expect(linked.data!.linkExternalAccount).toMatchObject({ __typename: 'ExternalAccount', status: 'PENDING' });
    // A claim the owner holds with no link naming it, as a request that died between its claim and its release leaves
    // one: the owner's next link of the card, refused at the bound, releases it, and another owner links the card.
    const left = freshCard();
    const identityKey = createHmac('sha256', developmentCardFingerprintKey).update(`card:${left}`).digest('hex');
    const logical = claimShard(identityKey);
    expect(await claimIdentity(stack.shards.byLogical(logical), logical, identityKey, owner)).toBe(owner);
    const retried = await link(bearer, { ownerId: owner, kind: 'CARD', identifier: left }, linkDetail);
    expect(retried.data!.linkExternalAccount).toMatchObject({ code: 'INVALID_INPUT', field: 'ownerId' });
    const freed = await link(otherBearer, { ownerId: other, kind: 'CARD', identifier: left });
    expect(freed.data!.linkExternalAccount).toMatchObject({ __typename: 'ExternalAccount', status: 'PENDING' });
  });

  it('at one link below the bound, five cards at once: one linked, four refused for the bound and left to others', async () => {
    const owner = unique('links-race');
    const bearer = await token(owner, 'customer');
    const { externalAccountsPerOwnerMax } = await import('@paygraph/transaction/limits');
    for (let i = 0; i < externalAccountsPerOwnerMax - 1; i++) {
      const answer = await link(bearer, { ownerId: owner, kind: 'WALLET', identifier: `wallet-${i}` });
      expect(answer.data!.linkExternalAccount.__typename).toBe('ExternalAccount');
    }
    const requests = Array.from({ length: 5 }, () => ({
      idempotencyKey: unique('k'),
      ownerId: owner,
      kind: 'CARD',
      identifier: freshCard(),
    }));
    const send = async (input: (typeof requests)[number]) => {
      const answer = await link(bearer, input, linkDetail);
      return { input, card: input.identifier, answer: answer.data!.linkExternalAccount };
    };
    const answers = await Promise.all(requests.map(send));
    const linked = answers.filter((a) => a.answer.__typename === 'ExternalAccount');
    const refused = answers.filter((a) => a.answer.__typename !== 'ExternalAccount');
    expect(linked).toHaveLength(1);
    for (const r of refused) expect(r.answer).toMatchObject({ code: 'INVALID_INPUT', field: 'ownerId' });
    expect(await rowsOf(owner)).toHaveLength(externalAccountsPerOwnerMax);
    // Each retried with its key answers as it did.
    for (const { input, answer } of answers) expect((await send(input)).answer).toEqual(answer);
    // The owner holds the claim of the card it linked, no other.
    expect(await claimsOf(owner)).toBe(1);
    // Each refused card is free: a second owner links it as a first link.
    const other = unique('links-race-after');
    const otherBearer = await token(other, 'customer');
    for (const { card } of refused) {
      const taken = await link(otherBearer, { ownerId: other, kind: 'CARD', identifier: card }, linkDetail);
      expect(taken.data!.linkExternalAccount).toMatchObject({ __typename: 'ExternalAccount', status: 'PENDING' });
    }
  });
});

/** How many cards an owner holds claims of, over every database. */
async function claimsOf(ownerId: string): Promise<number> {
  const counts = await Promise.all(
    stack.shards.all.map(async (s) => {
      const [found] = (await s.db.execute(
        sql`SELECT COUNT(*) AS n FROM external_account_claims WHERE owner_id = ${ownerId}`,
      )) as unknown as [Array<{ n: number | string }>];
      return Number(found[0]!.n);
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/** An owner's EUR account with 10000, and a link of its at the channel, verified unless told otherwise. */
async function fundedWithLink(prefix: string, options: { verify?: boolean; currency?: string } = {}) {
  const owner = unique(prefix);
  const bearer = await token(owner, 'customer');
  const account = await kit.open(owner, { currency: 'EUR' });
  await kit.fund(account, '10000', 'EUR');
  const linked = await link(bearer, {
    ownerId: owner,
    kind: 'BANK_ACCOUNT',
    identifier: freshIban(),
    currency: options.currency ?? 'EUR',
  });
  const linkId = linked.data!.linkExternalAccount.id as string;
  if (options.verify !== false) {
    const input = { input: { externalAccountId: linkId, verified: true } };
    const verified = await gql(stack.gatewayUrl, linkDocs.verify, input, await token(channel, 'channel'));
    expect(verified.data!.verifyExternalAccount.status).toBe('VERIFIED');
  }
  return { owner, bearer, account, linkId };
}

/** A new link of the owner's (an IBAN in EUR at the channel), verified by the channel: its id. */
async function verifiedLink(owner: string, bearer: string): Promise<string> {
  const linked = await link(bearer, { ownerId: owner, kind: 'BANK_ACCOUNT', identifier: freshIban() });
  const id = linked.data!.linkExternalAccount.id as string;
  const input = { input: { externalAccountId: id, verified: true } };
  const verified = await gql(stack.gatewayUrl, linkDocs.verify, input, await token(channel, 'channel'));
  expect(verified.data!.verifyExternalAccount.status).toBe('VERIFIED');
  return id;
}

function withdraw(bearer: string, input: Record<string, unknown>, doc = withdrawDetail): Promise<Answer> {
  const full = { idempotencyKey: unique('w'), amount: '300', currency: 'EUR', ...input };
  return gql(stack.gatewayUrl, doc, { input: full }, bearer);
}

describe('payouts only to what the owner verified', () => {
  it('pays out through a verified link of the same owner and currency, at its channel, and replays by key', async () => {
    const { bearer, account, linkId } = await fundedWithLink('payout');
    const key = unique('w');
    const paid = await withdraw(
      bearer,
      { idempotencyKey: key, accountId: account, externalAccountId: linkId },
      linkedMoneyDocs.withdraw,
    );
    expect(paid.errors).toBeUndefined();
    expect(paid.data!.withdraw).toMatchObject({
      __typename: 'Withdrawal',
      status: 'SUCCEEDED',
      amount: '300',
      currency: 'EUR',
      channel,
      externalAccount: { id: linkId, display: expect.stringMatching(/^DE\d\d •••• \d{4}$/) },
    });
    expect((await kit.balance(account)).available).toBe('9700');
    const again = await withdraw(bearer, { idempotencyKey: key, accountId: account, externalAccountId: linkId });
    expect(again.data!.withdraw).toMatchObject({ id: paid.data!.withdraw.id });
    // Reconciliation reads the movement at the link's channel: it is the transfer's channel, kept with the link.
    const shard = stack.shards.of('account', account);
    const [rows] = (await shard.db.execute(
      sql`SELECT channel, external_account_id FROM external_transfers WHERE id = ${paid.data!.withdraw.id}`,
    )) as unknown as [Array<{ channel: string; external_account_id: string }>];
    expect(rows).toEqual([{ channel, external_account_id: linkId }]);
    expect((await kit.balance(account)).available).toBe('9700');
  });

  it("refuses a payout to another's link, an unverified, rejected or unlinked one, another currency or channel; nothing moves", async () => {
    const mine = await fundedWithLink('payout-victim', { verify: false });
    const theirs = await fundedWithLink('payout-attacker');
    const usd = await fundedWithLink('payout-usd', { currency: 'USD' });
    const refusals: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
      [
        theirs.bearer,
        { accountId: theirs.account, externalAccountId: mine.linkId },
        { code: 'EXTERNAL_ACCOUNT_NOT_FOUND' },
      ],
      [
        mine.bearer,
        { accountId: mine.account, externalAccountId: theirs.linkId },
        { code: 'EXTERNAL_ACCOUNT_NOT_FOUND' },
      ],
      [
        mine.bearer,
        { accountId: mine.account, externalAccountId: mine.linkId },
        { code: 'EXTERNAL_ACCOUNT_NOT_VERIFIED', status: 'PENDING' },
      ],
      [
        usd.bearer,
        { accountId: usd.account, externalAccountId: usd.linkId },
        { code: 'INVALID_INPUT', field: 'currency' },
      ],
      [
        theirs.bearer,
        { accountId: theirs.account, externalAccountId: theirs.linkId, channel: 'elsewhere' },
        { code: 'INVALID_INPUT', field: 'channel' },
      ],
      [
        theirs.bearer,
        { accountId: theirs.account, externalAccountId: 'ext_bad' },
        { code: 'INVALID_INPUT', field: 'externalAccountId' },
      ],
    ];
    for (const [bearer, input, refusal] of refusals) {
      const answer = await withdraw(bearer, input);
      expect(answer.errors, JSON.stringify(input)).toBeUndefined();
      expect(answer.data!.withdraw, JSON.stringify(input)).toMatchObject(refusal);
    }
    // Rejected, and unlinked after verification: no payout either.
    const operator2 = operator;
    await gql(
      stack.gatewayUrl,
      linkDocs.verify,
      { input: { externalAccountId: mine.linkId, verified: false } },
      operator2,
    );
    const rejected = await withdraw(mine.bearer, { accountId: mine.account, externalAccountId: mine.linkId });
    expect(rejected.data!.withdraw).toMatchObject({ code: 'EXTERNAL_ACCOUNT_NOT_VERIFIED', status: 'REJECTED' });
    await gql(stack.gatewayUrl, linkDocs.unlink, { id: theirs.linkId }, theirs.bearer);
    const unlinked = await withdraw(theirs.bearer, { accountId: theirs.account, externalAccountId: theirs.linkId });
    expect(unlinked.data!.withdraw).toMatchObject({ code: 'EXTERNAL_ACCOUNT_NOT_VERIFIED', status: 'UNLINKED' });
    for (const account of [mine.account, theirs.account, usd.account])
      expect((await kit.balance(account)).available).toBe('10000');
  });

  it('answers a replayed payout whose link was unlinked since with the first withdrawal; a new key is refused', async () => {
    const { bearer, account, linkId } = await fundedWithLink('payout-unlinked-replay');
    const key = unique('w');
    const input = { idempotencyKey: key, accountId: account, externalAccountId: linkId };
    const paid = await withdraw(bearer, input);
    expect(paid.data!.withdraw).toMatchObject({ __typename: 'Withdrawal', externalAccount: { id: linkId } });
    const unlinked = await gql(stack.gatewayUrl, linkDocs.unlink, { id: linkId }, bearer);
    expect(unlinked.data!.unlinkExternalAccount).toMatchObject({ status: 'UNLINKED' });
    // The retry of a request made while the link was VERIFIED: its answer, not a refusal, and no second payout.
    const again = await withdraw(bearer, input);
    expect(again.errors).toBeUndefined();
    expect(again.data!.withdraw).toEqual(paid.data!.withdraw);
    // Another body under that key, or a new key, made nothing before: refused for the link's status.
    const other = await withdraw(bearer, { ...input, amount: '1' });
    expect(other.data!.withdraw).toMatchObject({ code: 'EXTERNAL_ACCOUNT_NOT_VERIFIED', status: 'UNLINKED' });
    const fresh = await withdraw(bearer, { ...input, idempotencyKey: unique('w') });
    expect(fresh.data!.withdraw).toMatchObject({ code: 'EXTERNAL_ACCOUNT_NOT_VERIFIED', status: 'UNLINKED' });
    expect((await kit.balance(account)).available).toBe('9700');
  });

  it('replays a payout key with another link as IDEMPOTENCY_KEY_REUSED', async () => {
    const { owner, bearer, account, linkId } = await fundedWithLink('payout-replay');
    const second = await link(bearer, { ownerId: (await fundedWithLink('x')).owner, kind: 'WALLET', identifier: 'w' });
    expect(errorCodes(second)).toEqual(['FORBIDDEN']);
    const other = await verifiedLink(owner, bearer);
    const key = unique('w');
    await withdraw(bearer, { idempotencyKey: key, accountId: account, externalAccountId: linkId });
    const otherLink = await withdraw(bearer, { idempotencyKey: key, accountId: account, externalAccountId: other });
    expect(otherLink.data!.withdraw).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    // Naming no link, the owner's verified links refuse it before its key is looked at.
    const plain = await withdraw(bearer, { idempotencyKey: key, accountId: account });
    expect(plain.data!.withdraw).toMatchObject({ code: 'INVALID_INPUT', field: 'externalAccountId' });
    expect((await kit.balance(account)).available).toBe('9700');
  });

  it("records a deposit from a linked account at the link's channel, by that channel only", async () => {
    const { account, linkId } = await fundedWithLink('deposit-linked');
    const byChannel = await token(channel, 'channel');
    const input = {
      idempotencyKey: unique('d'),
      accountId: account,
      amount: '500',
      currency: 'EUR',
      externalAccountId: linkId,
    };
    const deposited = await gql(stack.gatewayUrl, linkedMoneyDocs.deposit, { input }, byChannel);
    expect(deposited.errors).toBeUndefined();
    expect(deposited.data!.deposit).toMatchObject({ __typename: 'Deposit', channel, externalAccount: { id: linkId } });
    const other = await token(unique('otherbank').slice(0, 60), 'channel');
    const wrong = await gql(
      stack.gatewayUrl,
      linkedMoneyDocs.deposit,
      { input: { ...input, idempotencyKey: unique('d') } },
      other,
    );
    expect(wrong.data!.deposit).toMatchObject({ code: 'INVALID_INPUT' });
    expect((await kit.balance(account)).available).toBe('10500');
  });
});

describe('a withdrawal naming no link', () => {
  const mustName = {
    __typename: 'InvalidInput',
    code: 'INVALID_INPUT',
    field: 'externalAccountId',
    message: expect.stringContaining('verified linked accounts'),
  };

  it("is refused when one of its owner's links is VERIFIED, writing nothing; the same key then pays the link", async () => {
    const { bearer, account, linkId } = await fundedWithLink('unnamed-verified');
    const key = unique('w');
    // What a taken-over session sends: no link, its own externalRef (a channel named changes nothing).
    for (const input of [
      { idempotencyKey: key, accountId: account, externalRef: unique('attacker-iban') },
      { accountId: account, externalRef: unique('attacker-iban'), channel: 'elsewhere' },
    ]) {
      const refused = await withdraw(bearer, input);
      expect(refused.errors).toBeUndefined();
      expect(refused.data!.withdraw).toMatchObject(mustName);
      expect(refused.data!.withdraw.message).toContain('or link one in EUR and have it verified');
    }
    expect((await kit.balance(account)).available).toBe('10000');
    expect(await withdrawalsOf(account)).toEqual({ transfers: 0, claimed: 0 });
    // The refusal left the key free: the retry naming the link pays out under it, once.
    const input = { idempotencyKey: key, accountId: account, externalAccountId: linkId, externalRef: unique('ref') };
    const paid = await withdraw(bearer, input);
    expect(paid.errors).toBeUndefined();
    expect(paid.data!.withdraw).toMatchObject({ __typename: 'Withdrawal', channel, externalAccount: { id: linkId } });
    expect((await withdraw(bearer, input)).data!.withdraw).toEqual(paid.data!.withdraw);
    expect((await kit.balance(account)).available).toBe('9700');
    expect(await withdrawalsOf(account)).toEqual({ transfers: 1, claimed: 1 });
  });

  it('stays refused after the verified link is unlinked (and linked again), and in a currency no link is in', async () => {
    // A taken-over session unlinks the owner's verified link, then names its own externalRef.
    const unlinked = await fundedWithLink('unnamed-unlinked');
    const unlink = await gql(stack.gatewayUrl, linkDocs.unlink, { id: unlinked.linkId }, unlinked.bearer);
    expect(unlink.data!.unlinkExternalAccount).toMatchObject({ id: unlinked.linkId, status: 'UNLINKED' });
    const afterUnlink = await withdraw(unlinked.bearer, { accountId: unlinked.account, externalRef: unique('att') });
    expect(afterUnlink.data!.withdraw).toMatchObject(mustName);
    // Linked again it is PENDING: still refused (the link was verified once, whatever its status now).
    const [row] = await rowsOf(unlinked.owner);
    const relink = { ownerId: unlinked.owner, kind: 'BANK_ACCOUNT', identifier: row!.identity_key };
    expect((await link(unlinked.bearer, relink)).data!.linkExternalAccount).toMatchObject({ status: 'PENDING' });
    expect((await rowsOf(unlinked.owner))[0]).toMatchObject({ verified_at: row!.verified_at });
    expect(row!.verified_at).not.toBeNull();
    const afterRelink = await withdraw(unlinked.bearer, { accountId: unlinked.account, externalRef: unique('att') });
    expect(afterRelink.data!.withdraw).toMatchObject(mustName);
    expect((await kit.balance(unlinked.account)).available).toBe('10000');
    expect(await withdrawalsOf(unlinked.account)).toEqual({ transfers: 0, claimed: 0 });

    // Its verified link is in EUR; an account in USD (opened, paid into) names no link there: refused too.
    const { owner, bearer } = await fundedWithLink('unnamed-usd');
    const usd = await kit.open(owner, { currency: 'USD' });
    await kit.fund(usd, '10000', 'USD');
    const inUsd = await withdraw(bearer, { accountId: usd, currency: 'USD', externalRef: unique('att') });
    expect(inUsd.data!.withdraw).toMatchObject(mustName);
    expect(inUsd.data!.withdraw.message).toContain('name one in USD');
    // A verified link in USD alone holds an EUR account's withdrawals the same way.
    const usdLinked = await fundedWithLink('unnamed-usd-link', { currency: 'USD' });
    const inEur = await withdraw(usdLinked.bearer, { accountId: usdLinked.account, externalRef: unique('att') });
    expect(inEur.data!.withdraw).toMatchObject(mustName);
    for (const account of [usd, usdLinked.account]) {
      expect((await kit.balance(account)).available).toBe('10000');
      expect(await withdrawalsOf(account)).toEqual({ transfers: 0, claimed: 0 });
    }
  });

  it("holds a merchant's own withdrawal too, refused before any of its stripes is swept", async () => {
    const owner = unique('unnamed-shop');
    const bearer = await token(owner, 'merchant');
    const shop = await insertAccountOn(stack.shards, 0, owner, 'MERCHANT', 'USD');
    await depositFromReserve(stack.shards, shop, 100n);
    const stripes: string[] = [];
    for (const shard of stack.shards.all.slice(1)) {
      const logical = stack.shards.logicalOn(shard)[0]!;
      await announceStripe(stack.shards, { id: shop, stripeShards: 0n }, logical);
      const stripe = stripeIdOf(shop, logical);
      await insertStripeIfMissing(shard.db, {
        id: stripe,
        ownerId: owner,
        type: 'MERCHANT',
        parentId: shop,
        currency: 'USD',
      });
      await depositFromReserve(stack.shards, stripe, 1_000n);
      stripes.push(stripe);
    }
    expect(stripes.length).toBeGreaterThan(0);
    const total = String(100 + 1_000 * stripes.length);
    expect((await kit.balance(shop)).available).toBe(total);
    // Its link is an EUR IBAN, verified; the withdrawal is all it holds in USD, more than its home row.
    const linked = await link(bearer, { ownerId: owner, kind: 'BANK_ACCOUNT', identifier: freshIban() });
    const verdict = { input: { externalAccountId: linked.data!.linkExternalAccount.id, verified: true } };
    expect((await gql(stack.gatewayUrl, linkDocs.verify, verdict, operator)).data!.verifyExternalAccount).toMatchObject(
      {
        status: 'VERIFIED',
      },
    );
    const refused = await withdraw(bearer, {
      accountId: shop,
      amount: total,
      currency: 'USD',
      externalRef: unique('x'),
    });
    expect(refused.errors).toBeUndefined();
    expect(refused.data!.withdraw).toMatchObject(mustName);
    expect(await sweepsOf(shop)).toBe(0);
    expect((await kit.balance(shop)).available).toBe(total);
    for (const stripe of stripes) expect(await availableOf(stripe), stripe).toBe(1_000n);
    expect(await withdrawalsOf(shop)).toEqual({ transfers: 0, claimed: 0 });
  });

  it("pays out to its externalRef when none of the owner's links was ever VERIFIED, or an operator sends it", async () => {
    const none = unique('unnamed-none');
    const noneAccount = await kit.open(none, { currency: 'EUR' });
    await kit.fund(noneAccount, '10000', 'EUR');
    const pending = await fundedWithLink('unnamed-pending', { verify: false });
    const rejected = await fundedWithLink('unnamed-rejected', { verify: false });
    const decided = { input: { externalAccountId: rejected.linkId, verified: false } };
    expect((await gql(stack.gatewayUrl, linkDocs.verify, decided, operator)).data!.verifyExternalAccount.status).toBe(
      'REJECTED',
    );
    const verified = await fundedWithLink('unnamed-by-operator');
    const senders: Array<[string, string]> = [
      [await token(none, 'customer'), noneAccount],
      ...[pending, rejected].map((o): [string, string] => [o.bearer, o.account]),
      [operator, verified.account],
    ];
    for (const [bearer, account] of senders) {
      const paid = await withdraw(bearer, { accountId: account, externalRef: unique('ref') });
      expect(paid.errors).toBeUndefined();
      expect(paid.data!.withdraw, account).toMatchObject({ __typename: 'Withdrawal', externalAccount: null });
      expect((await kit.balance(account)).available).toBe('9700');
    }
  });

  it("refuses another's account FORBIDDEN and a missing one ACCOUNT_NOT_FOUND, as before, whatever the caller's links", async () => {
    const victim = await fundedWithLink('unnamed-victim', { verify: false });
    const held = await fundedWithLink('unnamed-thief');
    const free = await token(unique('unnamed-thief-free'), 'customer');
    for (const bearer of [held.bearer, free]) {
      const forbidden = await withdraw(bearer, { accountId: victim.account, externalRef: unique('att') });
      expect(errorCodes(forbidden)).toEqual(['FORBIDDEN']);
      const missing = await withdraw(bearer, { accountId: 'acc_01JDP5Z9K3M4N6Q7R8S9T0V1WX_2a' });
      expect(missing.data!.withdraw).toMatchObject({ code: 'ACCOUNT_NOT_FOUND' });
    }
    expect((await kit.balance(victim.account)).available).toBe('10000');
  });

  it("answers a replay of one made before the owner's link was verified with it; another key or body is refused", async () => {
    const { bearer, account, linkId } = await fundedWithLink('unnamed-replay', { verify: false });
    const input = { idempotencyKey: unique('w'), accountId: account, externalRef: unique('ref') };
    const paid = await withdraw(bearer, input);
    expect(paid.data!.withdraw).toMatchObject({ __typename: 'Withdrawal' });
    const verdict = { input: { externalAccountId: linkId, verified: true } };
    await gql(stack.gatewayUrl, linkDocs.verify, verdict, await token(channel, 'channel'));
    expect((await withdraw(bearer, input)).data!.withdraw).toEqual(paid.data!.withdraw);
    // A session taken over reuses the key with its own externalRef: refused, not answered, nothing moved.
    const hostile = await withdraw(bearer, { ...input, externalRef: unique('attacker-iban') });
    expect(hostile.data!.withdraw).toMatchObject(mustName);
    const fresh = await withdraw(bearer, { ...input, idempotencyKey: unique('w') });
    expect(fresh.data!.withdraw).toMatchObject(mustName);
    expect((await kit.balance(account)).available).toBe('9700');
    expect(await withdrawalsOf(account)).toEqual({ transfers: 1, claimed: 1 });
  });
});

/** A merchant's sweeps (one per stripe a withdrawal swept from), over every database. */
async function sweepsOf(merchant: string): Promise<number> {
  const counts = await Promise.all(
    stack.shards.all.map(async (s) => {
      const [rows] = (await s.db.execute(
        sql`SELECT COUNT(*) AS n FROM sweeps WHERE merchant_account_id = ${merchant}`,
      )) as unknown as [Array<{ n: number | string }>];
      return Number(rows[0]!.n);
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/** A ledger row's available balance (a merchant's stripe), on its database. */
async function availableOf(accountId: string): Promise<bigint> {
  const [rows] = (await stack.shards
    .of('account', accountId)
    .db.execute(sql`SELECT CAST(available AS CHAR) AS available FROM accounts WHERE id = ${accountId}`)) as unknown as [
    Array<{ available: string }>,
  ];
  return BigInt(rows[0]!.available);
}

/** An account's withdrawals and withdrawal keys on its database. */
async function withdrawalsOf(account: string): Promise<{ transfers: number; claimed: number }> {
  const [rows] = (await stack.shards.of('account', account).db.execute(
    sql`SELECT (SELECT COUNT(*) FROM external_transfers WHERE account_id = ${account} AND kind = 'WITHDRAWAL')
                 AS transfers,
               (SELECT COUNT(*) FROM idempotency_keys WHERE anchor_id = ${account} AND operation = 'WITHDRAWAL')
                 AS claimed`,
  )) as unknown as [Array<{ transfers: number | string; claimed: number | string }>];
  return { transfers: Number(rows[0]!.transfers), claimed: Number(rows[0]!.claimed) };
}

describe('what a channel reports', () => {
  it("keeps the newest asOf, from the link's channel only, never in the ledger balance", async () => {
    const { bearer, account, linkId } = await fundedWithLink('report');
    const byChannel = await token(channel, 'channel');
    const report = (balance: string, asOf: Date, as = byChannel) =>
      gql(
        stack.gatewayUrl,
        linkDocs.report,
        { input: { externalAccountId: linkId, balance, asOf: asOf.toISOString() } },
        as,
      );
    const t1 = new Date(Date.now() - 60_000);
    const first = await report('5000', t1);
    expect(first.data!.reportExternalBalance).toEqual({
      __typename: 'ExternalAccount',
      id: linkId,
      reportedBalance: { amount: '5000', asOf: t1.toISOString() },
    });
    const older = await report('7000', new Date(t1.getTime() - 1_000));
    expect(older.data!.reportExternalBalance.reportedBalance).toEqual({ amount: '5000', asOf: t1.toISOString() });
    const other = await report('1', new Date(), await token('not-this-bank', 'channel'));
    expect(other.data!.reportExternalBalance).toMatchObject({ code: 'INVALID_INPUT' });
    expect(errorCodes(await report('1', new Date(), bearer))).toEqual(['FORBIDDEN']);
    const ahead = await report('1', new Date(Date.now() + 3_600_000));
    expect(ahead.data!.reportExternalBalance).toMatchObject({ code: 'INVALID_INPUT' });
    expect((await kit.balance(account)).available).toBe('10000');
  });
});
