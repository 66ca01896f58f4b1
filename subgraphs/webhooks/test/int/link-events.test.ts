import { beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { freshIban, linkDocs, linkedMoneyDocs, registeredChannel } from '../../../../test/support/links';
import type { MoneyKit } from '../../../../test/support/money';
import type { Stack } from '../../../../test/support/stack';
import {
  fastDispatch,
  madeEndpoint,
  waitFor,
  useWebhookStack,
  type Received,
  type WebhookStack,
} from '../support/webhooks';

/**
 * Events of linked external accounts end to end (issue 48 item 6, docs/WEBHOOKS.md): a payout to
 * a verified link (payout.succeeded), made through the gateway with the contract's documents, is
 * told to a real HTTP receiver of the owner, signed (verified with the standardwebhooks library)
 * and after the balance.changed of its entry; a withdrawal naming no link is not a payout to a
 * link. And what another party's partner may not see: an endpoint of another owner's partner,
 * following every account it may read, receives nothing of this owner's links.
 */
let stack: Stack;
let kit: MoneyKit;
let receiver: WebhookStack['receiver'];
useWebhookStack(
  { webhooks: { dispatcher: true, settings: fastDispatch } },
  (started) => ({ stack, kit, receiver } = started),
);

const wanted = ['balance.changed', 'payout.succeeded', 'external_account.verified'];

interface Endpoint {
  id: string;
  secret: string;
  received: Received[];
}

async function endpointFor(bearer: string, accountIds?: string[]): Promise<Endpoint> {
  const hooks = await receiver();
  const made = await madeEndpoint(stack.gatewayUrl, bearer, {
    url: hooks.url,
    eventTypes: wanted,
    ...(accountIds ? { accountIds } : {}),
  });
  hooks.verifyWith(made.secret);
  return { ...made, received: hooks.received };
}

const ofType = (received: readonly Received[], type: string) => received.filter((r) => r.event.type === type);

describe('payout.succeeded and external_account.verified', () => {
  let channel: string;
  let owner: string;
  let account: string;
  let second: string;
  let linkId: string;
  let ownerHooks: Endpoint;
  let rivalHooks: Endpoint;
  let rivalAccount: string;
  let payoutId: string;
  let plainId: string;
  /** The verified link's IBAN, which no event may carry. */
  let linkIban: string;

  beforeAll(async () => {
    channel = await registeredChannel(kit.operator, stack.gatewayUrl);
    owner = unique('payee-owner');
    const bearer = await token(owner, 'customer');
    account = await kit.open(owner, { currency: 'EUR' });
    second = await kit.open(owner, { currency: 'USD' });
    const rival = unique('rival-partner');
    rivalAccount = await kit.open(rival, { currency: 'EUR' });
    // Both endpoints before any entry: each stream starts at its account's first entry.
    ownerHooks = await endpointFor(bearer, [account, second]);
    // The rival partner follows every account it may read (no accountIds): the widest net it can cast.
    rivalHooks = await endpointFor(await token(rival, 'partner'));
    await kit.fund(account, '10000', 'EUR');
    await kit.fund(rivalAccount, '10000', 'EUR');
    linkId = await verifiedLink(bearer);
    payoutId = await withdrawn(bearer, { externalAccountId: linkId });
    // Naming no link: an operator's (the owner's own is refused once a link of its was verified).
    plainId = await withdrawn(kit.operator, {});
    // A later entry on both accounts: once its balance.changed arrives, everything before it on the stream has.
    await kit.fund(account, '1', 'EUR');
    await kit.fund(rivalAccount, '1', 'EUR');
    await waitFor(
      "the owner's external_account.verified",
      () => ofType(ownerHooks.received, 'external_account.verified').length,
      (n) => n >= 1,
    );
    // Two more refreshes: every scan that could queue the link again (or to the rival) has run.
    await stack.dispatcher!.refreshed();
    await stack.dispatcher!.refreshed();
    await stack.dispatcher!.drained();
    for (const [hooks, what] of [
      [ownerHooks, "the owner's last entry"],
      [rivalHooks, "the rival's last entry"],
    ] as const)
      await waitFor(
        what,
        () => ofType(hooks.received, 'balance.changed').filter((r) => r.event.data.entry.amount === '1').length,
        (n) => n >= 1,
      );
  });

  async function verifiedLink(bearer: string): Promise<string> {
    const input = {
      idempotencyKey: unique('k'),
      ownerId: owner,
      kind: 'BANK_ACCOUNT',
      channel,
      identifier: freshIban(),
      currency: 'EUR',
    };
    linkIban = input.identifier;
    const linked = await gql(stack.gatewayUrl, linkDocs.link, { input }, bearer);
    const id = linked.data!.linkExternalAccount.id as string;
    const verify = { input: { externalAccountId: id, verified: true } };
    const verified = await gql(stack.gatewayUrl, linkDocs.verify, verify, await token(channel, 'channel'));
    expect(verified.data!.verifyExternalAccount.status).toBe('VERIFIED');
    return id;
  }

  async function withdrawn(bearer: string, extra: Record<string, unknown>): Promise<string> {
    const input = { idempotencyKey: unique('w'), accountId: account, amount: '300', currency: 'EUR', ...extra };
    const answer = await gql(stack.gatewayUrl, linkedMoneyDocs.withdraw, { input }, bearer);
    expect(answer.data!.withdraw.__typename, JSON.stringify(answer)).toBe('Withdrawal');
    return answer.data!.withdraw.id as string;
  }

  it("tells the owner's endpoint the payout to its link, signed, after its entry's balance.changed", () => {
    const payouts = ofType(ownerHooks.received, 'payout.succeeded');
    expect(payouts.map((r) => r.event.data)).toEqual([
      { id: payoutId, accountId: account, amount: '300', currency: 'EUR', channel, externalAccountId: linkId },
    ]);
    const [payout] = payouts;
    const headers = {
      'webhook-id': payout!.id,
      'webhook-timestamp': payout!.timestamp,
      'webhook-signature': payout!.signature,
    };
    expect(new Webhook(ownerHooks.secret).verify(payout!.body, headers)).toEqual(payout!.event);
    expect(() => new Webhook(rivalHooks.secret).verify(payout!.body, headers)).toThrow();
    // Its entry's balance change (10000 - 300) came first; the plain withdrawal's (9400) came after, alone.
    const at = (pred: (r: Received) => boolean) => ownerHooks.received.findIndex(pred);
    const debit = at((r) => r.event.type === 'balance.changed' && r.event.data.balance.available === '9700');
    expect(debit).toBeGreaterThanOrEqual(0);
    expect(at((r) => r.id === payout!.id)).toBeGreaterThan(debit);
    const changes = ofType(ownerHooks.received, 'balance.changed').filter((r) => r.event.data.accountId === account);
    expect(changes.map((r) => r.event.data.balance.available)).toEqual(['10000', '9700', '9400', '9401']);
    expect(JSON.stringify(ownerHooks.received)).not.toContain(plainId.slice(4, 20));
    // The link by id only: never its IBAN or display ("DE89 •••• 3000"). Not a pattern such as /DE\d\d/: the random
    // part of an id may hold one (wdr_01M8B7HSDE4908… did).
    for (const part of [linkIban, linkIban.slice(4), `${linkIban.slice(0, 4)} `, '••••'])
      expect(payout!.body).not.toContain(part);
  });

  it("tells the owner's endpoint its link verified once, though it follows two of the owner's accounts", () => {
    const verified = ofType(ownerHooks.received, 'external_account.verified');
    expect(verified.map((r) => r.event.data)).toEqual([
      {
        id: linkId,
        // The first of the owner's accounts (by id) the endpoint follows: its stream carries it.
        accountId: [account, second].sort()[0],
        kind: 'BANK_ACCOUNT',
        channel,
        currency: 'EUR',
        display: expect.stringMatching(/^DE\d\d •••• \d{4}$/),
        status: 'VERIFIED',
      },
    ]);
    const [event] = verified;
    const headers = {
      'webhook-id': event!.id,
      'webhook-timestamp': event!.timestamp,
      'webhook-signature': event!.signature,
    };
    expect(new Webhook(ownerHooks.secret).verify(event!.body, headers)).toEqual(event!.event);
  });

  it("never tells another owner's partner, however wide it follows", () => {
    expect(ofType(rivalHooks.received, 'payout.succeeded')).toEqual([]);
    expect(ofType(rivalHooks.received, 'external_account.verified')).toEqual([]);
    expect(JSON.stringify(rivalHooks.received)).not.toContain(account);
    expect(JSON.stringify(rivalHooks.received)).not.toContain(linkId);
    expect(ofType(rivalHooks.received, 'balance.changed').map((r) => r.event.data.accountId)).toEqual([
      rivalAccount,
      rivalAccount,
    ]);
  });
});
