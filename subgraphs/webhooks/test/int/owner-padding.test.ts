import { describe, expect, it } from 'vitest';
import { contractOperation, errorCodes, gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import type { MoneyKit } from '../../../../test/support/money';
import type { Stack } from '../../../../test/support/stack';
import { ownerHomeShard } from '@paygraph/shared/ledger/index';
import { createEndpoint, fastDispatch, useWebhookStack, waitFor, type WebhookStack } from '../support/webhooks';

/**
 * A caller whose token subject is another owner's id with a trailing space ("victim "). Every access predicate compares
 * the subject with an owner id exactly (shared/authorization.ts mayRead), but the databases are utf8mb4_bin, a PAD
 * SPACE collation: `owner_id = 'victim '` matches the rows of 'victim'. Wherever the caller's subject (or an ownerId
 * equal to it) is handed to SQL as the owner, the other owner's rows came back: its accounts listed, its balance
 * events delivered to the caller's webhook, its portfolio answered. A subject with white space is now refused with the
 * token (shared/identity.ts subjectRefusal): each is UNAUTHENTICATED, and nothing of the victim's is answered or sent.
 */
let stack: Stack;
let kit: MoneyKit;
let receiver: WebhookStack['receiver'];
useWebhookStack(
  { webhooks: { dispatcher: true, settings: { ...fastDispatch } } },
  (started) => ({ stack, kit, receiver } = started),
);

const accountsDoc = `query AccountsByOwner($ownerId: ID!) {
  accounts(ownerId: $ownerId, first: 50) { edges { node { id ownerId } } }
}`;

describe('an owner id with a trailing space', () => {
  it("lists none of another owner's accounts", async () => {
    const victim = unique('victim');
    const account = await kit.open(victim);
    const attacker = `${victim} `;
    const bearer = await token(attacker, 'customer');
    const listed = await gql(stack.gatewayUrl, accountsDoc, { ownerId: attacker }, bearer);
    expect(errorCodes(listed)).toEqual(['UNAUTHENTICATED']);
    const ids = (listed.data?.accounts?.edges ?? []).map((e: { node: { id: string } }) => e.node.id);
    expect(ids, `accounts listed to "${attacker}"`).not.toContain(account);
  });

  it("registers no webhook stream on another owner's accounts, so no balance of theirs is delivered", async () => {
    const victim = unique('victim');
    const account = await kit.open(victim);
    const attacker = `${victim} `;
    const bearer = await token(attacker, 'partner');
    const hooks = await receiver();
    // accountIds omitted: "every account the caller may read".
    const made = await createEndpoint(stack.gatewayUrl, bearer, { url: hooks.url, eventTypes: ['balance.changed'] });
    expect(errorCodes(made)).toEqual(['UNAUTHENTICATED']);
    await kit.fund(account, '12345');
    // Give the dispatcher time to deliver anything it would (fastDispatch polls within a fraction of a second).
    await waitFor(
      'a delivery, if any',
      () => hooks.received.length,
      (n) => n > 0,
      8_000,
    ).catch(() => undefined);
    const leaked = hooks.received.filter((r) => r.event.data.accountId === account);
    expect(
      leaked.map((r) => ({ accountId: r.event.data.accountId, balance: r.event.data.balance })),
      `deliveries of ${victim}'s account to "${attacker}"`,
    ).toEqual([]);
  });

  it("answers no portfolio of another owner's accounts and balances", async () => {
    const victim = unique('victim');
    const account = await kit.open(victim);
    await kit.fund(account, '777');
    // A padded subject whose home shard (a hash of the id) sits on the same database as the victim's directory row.
    const home = stack.shards.byLogical(ownerHomeShard(victim));
    let attacker = '';
    for (let pad = 1; pad <= 40 && attacker === ''; pad++) {
      const candidate = victim + ' '.repeat(pad);
      if (stack.shards.byLogical(ownerHomeShard(candidate)) === home) attacker = candidate;
    }
    expect(attacker, 'a padded subject homed with the victim').not.toBe('');
    const bearer = await token(attacker, 'customer');
    const answer = await gql(
      stack.gatewayUrl,
      contractOperation('OwnerPortfolio'),
      { ownerId: attacker, reportingCurrency: 'USD' },
      bearer,
    );
    expect(errorCodes(answer)).toEqual(['UNAUTHENTICATED']);
    expect(
      answer.data?.ownerPortfolio?.accounts ?? [],
      `ownerPortfolio("${attacker}") answered to "${attacker}"`,
    ).toEqual([]);
  });
});
