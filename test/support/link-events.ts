import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { gql } from './graphql';
import { token, unique } from './env';
import { freshIban, linkDocs, linkedMoneyDocs } from './links';
import type { Subscription } from './ws';

/**
 * The events of an owner's links (externalAccountChanged, externalAccountChanges) in tests: the
 * documents a client copies from docs/SUBSCRIPTIONS.md, sent as they are written there, and the
 * moves of links and payouts that make the events, through the gateway with the contract's documents.
 */
const subscriptionsPage = fileURLToPath(new URL('../../docs/SUBSCRIPTIONS.md', import.meta.url));

/** A ```graphql block of docs/SUBSCRIPTIONS.md holding the operation `name`: what the docs tell clients to send. */
export function docsOperation(name: string): string {
  const blocks = [...readFileSync(subscriptionsPage, 'utf8').matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const found = blocks.find((block) => new RegExp(`^(subscription|query) ${name}\\b`, 'm').test(block));
  if (!found) throw new Error(`docs/SUBSCRIPTIONS.md has no graphql block with the operation ${name}`);
  return found;
}

export const linkEventDocs = {
  /** Every field the transaction subgraph serves alone: the gateway forwards it. */
  subscription: docsOperation('ExternalAccountChanged'),
  page: docsOperation('ExternalAccountChanges'),
  /** A payout's account balance is the account subgraph's: the gateway reads this one page by page. */
  federated: `subscription LinkEventsWithBalance($ownerId: ID!, $after: String) {
    externalAccountChanged(ownerId: $ownerId, after: $after) {
      cursor sequence type
      externalAccount { id status display }
      payout { id amount account { id balance { total } } }
    }
  }`,
};

export interface LinkEvent {
  cursor: string;
  sequence: number;
  type: 'LINKED' | 'VERIFIED' | 'REJECTED' | 'UNLINKED' | 'PAYOUT';
  externalAccount: { id: string; status: string; display: string; [field: string]: unknown };
  payout: { id: string; amount: string; [field: string]: unknown } | null;
  [field: string]: unknown;
}

/** What a subscription delivered, as link events. */
export function linkEventsOf(subscription: Subscription): LinkEvent[] {
  return subscription.events as unknown as LinkEvent[];
}

/** Waits until the subscription has `count` events, then answers them. */
export async function eventsUntil(subscription: Subscription, count: number, what: string): Promise<LinkEvent[]> {
  await subscription.waitFor(() => subscription.events.length >= count, what);
  return linkEventsOf(subscription);
}

/** Every event of the owner after `after` by externalAccountChanges, a page at a time. */
export async function polledEvents(
  gatewayUrl: string,
  bearer: string,
  ownerId: string,
  after: string | null = null,
): Promise<LinkEvent[]> {
  const events: LinkEvent[] = [];
  for (let cursor = after; ;) {
    const answer = await gql(gatewayUrl, linkEventDocs.page, { ownerId, after: cursor, first: 7 }, bearer);
    expect(answer.errors, JSON.stringify(answer.errors)).toBeUndefined();
    const page = answer.data!.externalAccountChanges as LinkEvent[];
    events.push(...page);
    if (page.length < 7) return events;
    cursor = page.at(-1)!.cursor;
  }
}

/** Links, verdicts, unlinks and payouts through the gateway, as the owner (or an operator) and the link's channel. */
export class LinkMoves {
  constructor(
    private readonly gatewayUrl: string,
    private readonly channel: string,
  ) {}

  /** A link of the owner's (an IBAN unless `input` says otherwise), linked by `bearer`: its id. */
  async link(bearer: string, ownerId: string, input: Record<string, unknown> = {}): Promise<string> {
    const full = {
      idempotencyKey: unique('k'),
      ownerId,
      kind: 'BANK_ACCOUNT',
      channel: this.channel,
      identifier: freshIban(),
      currency: 'EUR',
      ...input,
    };
    const answer = await gql(this.gatewayUrl, linkDocs.link, { input: full }, bearer);
    expect(answer.data?.linkExternalAccount?.__typename, JSON.stringify(answer)).toBe('ExternalAccount');
    return answer.data!.linkExternalAccount.id as string;
  }

  /** The channel's verdict: the status it answers. */
  async decide(linkId: string, verified: boolean): Promise<string> {
    const input = { input: { externalAccountId: linkId, verified } };
    const answer = await gql(this.gatewayUrl, linkDocs.verify, input, await token(this.channel, 'channel'));
    expect(answer.errors, JSON.stringify(answer.errors)).toBeUndefined();
    return answer.data!.verifyExternalAccount.status as string;
  }

  async unlink(bearer: string, linkId: string): Promise<void> {
    const answer = await gql(this.gatewayUrl, linkDocs.unlink, { id: linkId }, bearer);
    expect(answer.data?.unlinkExternalAccount?.status, JSON.stringify(answer)).toBe('UNLINKED');
  }

  /**
   * A withdrawal of `amount` EUR from the account to the link (none: to no link), as `bearer` (the owner, or an
   * operator: the owner's own naming no link is refused once any link of its was verified): its id.
   */
  async payout(bearer: string, accountId: string, linkId: string | null, amount = '300'): Promise<string> {
    const input = {
      idempotencyKey: unique('w'),
      accountId,
      amount,
      currency: 'EUR',
      ...(linkId === null ? {} : { externalAccountId: linkId }),
    };
    const answer = await gql(this.gatewayUrl, linkedMoneyDocs.withdraw, { input }, bearer);
    expect(answer.data?.withdraw?.__typename, JSON.stringify(answer)).toBe('Withdrawal');
    return answer.data!.withdraw.id as string;
  }
}
