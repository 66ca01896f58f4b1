import { beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { token, unique } from '../../test/support/env';
import { errorCodes, gql } from '../../test/support/graphql';
import { freshCard, registeredChannel } from '../../test/support/links';
import { balanceChanged, untilLive } from '../../test/support/balance-events';
import {
  eventsUntil,
  LinkMoves,
  linkEventDocs,
  linkEventsOf,
  polledEvents,
  type LinkEvent,
} from '../../test/support/link-events';
import { type MoneyKit, useMoneyStack } from '../../test/support/money';
import type { Stack } from '../../test/support/stack';
import { connect, errorsOf, subscribe, type Subscription } from '../../test/support/ws';

/**
 * externalAccountChanged (issue 48 item 6, docs/SUBSCRIPTIONS.md "Linked accounts") over graphql-ws through the
 * gateway, a real graphql-ws client against the whole stack and real MySQL: the events of an owner's links as
 * links are linked, verified, rejected and unlinked and paid out to through the contract's documents; a resume
 * after a cursor; who may follow whom; no card digits; order under concurrent changes; and that the polling twin,
 * externalAccountChanges, answers exactly what the stream delivers. The documents are the ones docs/SUBSCRIPTIONS.md
 * gives clients, read from the page.
 */
let stack: Stack;
let kit: MoneyKit;
useMoneyStack((started) => ({ stack, kit } = started));

let moves: LinkMoves;
beforeAll(async () => {
  moves = new LinkMoves(stack.gatewayUrl, await registeredChannel(kit.operator, stack.gatewayUrl));
});

const bearer = (jwt: string) => `Bearer ${jwt}`;

function follow(jwt: string | null, ownerId: string, after: string | null, query = linkEventDocs.subscription) {
  return subscribe(stack.gatewayWsUrl, {
    authorization: jwt === null ? null : bearer(jwt),
    query,
    variables: { ownerId, after },
    responseKey: 'externalAccountChanged',
  });
}

/** The events' (type, link, status) in order, and their numbers: what the assertions read. */
const shapeOf = (events: readonly LinkEvent[]) =>
  events.map((e) => [e.type, e.externalAccount.id, e.externalAccount.status]);
const numbersOf = (events: readonly LinkEvent[]) => events.map((e) => e.sequence);
const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

/** A new customer, its first link (event 1) and that event's cursor, as a client learns it by polling. */
async function ownerWithALink(prefix: string) {
  const ownerId = unique(prefix);
  const jwt = await token(ownerId, 'customer');
  const first = await moves.link(jwt, ownerId);
  const [linked] = await polledEvents(stack.gatewayUrl, jwt, ownerId);
  expect(linked).toMatchObject({ sequence: 1, type: 'LINKED', externalAccount: { id: first, status: 'PENDING' } });
  return { ownerId, jwt, first, cursor: linked!.cursor };
}

describe('externalAccountChanged', () => {
  it('tells the owner each link linked, verified, rejected, unlinked and linked again, in order, without card digits', async () => {
    const { ownerId, jwt, first, cursor } = await ownerWithALink('links-life');
    const stream = follow(jwt, ownerId, cursor);
    const card = freshCard();
    const second = await moves.link(jwt, ownerId, { kind: 'CARD', identifier: card });
    expect(await moves.decide(first, true)).toBe('VERIFIED');
    expect(await moves.decide(second, false)).toBe('REJECTED');
    await moves.unlink(jwt, first);
    // The rejected card linked again: PENDING once more under its first id, then verified.
    expect(await moves.link(jwt, ownerId, { kind: 'CARD', identifier: card })).toBe(second);
    expect(await moves.decide(second, true)).toBe('VERIFIED');

    const events = await eventsUntil(stream, 6, 'six link events');
    expect(numbersOf(events)).toEqual(range(2, 6));
    expect(shapeOf(events)).toEqual([
      ['LINKED', second, 'PENDING'],
      ['VERIFIED', first, 'VERIFIED'],
      ['REJECTED', second, 'REJECTED'],
      ['UNLINKED', first, 'UNLINKED'],
      ['LINKED', second, 'PENDING'],
      ['VERIFIED', second, 'VERIFIED'],
    ]);
    expect(events.every((e) => e.payout === null)).toBe(true);
    expect(events[0]!.externalAccount).toMatchObject({ kind: 'CARD', display: `•••• ${card.slice(-4)}` });
    // No run of the card's digits beyond its last four in anything the stream or the poll answered.
    const polled = await polledEvents(stack.gatewayUrl, jwt, ownerId, cursor);
    expect(polled).toEqual(events);
    for (const text of [JSON.stringify(stream.results), JSON.stringify(polled)]) {
      for (let i = 0; i + 6 <= card.length - 4; i++) expect(text).not.toContain(card.slice(i, i + 6));
      expect(text).not.toContain('ctok_');
    }
    expect(stream.error).toBeNull();
    await stream.close();
  });

  it('tells a payout to a link, with its withdrawal, while the balance stream gets the withdrawal entry', async () => {
    const { ownerId, jwt, first, cursor } = await ownerWithALink('links-payout');
    const account = await kit.open(ownerId, { currency: 'EUR' });
    await kit.fund(account, '10000', 'EUR');
    await moves.decide(first, true);
    // A selection with a field of the account subgraph: read page by page through the planner, as federated.
    const links = follow(jwt, ownerId, cursor, linkEventDocs.federated);
    const balances = subscribe(stack.gatewayWsUrl, {
      authorization: bearer(jwt),
      query: balanceChanged,
      variables: { accountId: account },
    });
    await eventsUntil(links, 1, 'the verification');
    // The balance stream starts at the account's end: a deposit it delivers shows it live.
    await untilLive(balances, () => kit.fund(account, '1', 'EUR'));
    const payout = await moves.payout(jwt, account, first, '300');
    // Naming no link: an operator's (the owner's own is refused once a link of its was verified).
    const plain = await moves.payout(kit.operator, account, null, '200');
    const later = await moves.link(jwt, ownerId);

    const events = await eventsUntil(links, 3, 'the payout and the later link');
    expect(shapeOf(events)).toEqual([
      ['VERIFIED', first, 'VERIFIED'],
      ['PAYOUT', first, 'VERIFIED'],
      ['LINKED', later, 'PENDING'],
    ]);
    // The withdrawal naming no link is not a payout to a link: the later link follows the payout directly.
    expect(numbersOf(events)).toEqual([2, 3, 4]);
    expect(events[1]!.payout).toEqual({
      id: payout,
      amount: '300',
      account: { id: account, balance: { total: expect.any(String) } },
    });
    expect(JSON.stringify(events)).not.toContain(plain);
    // The payout's money is a withdrawal entry on the balance stream, as ever.
    await balances.waitFor(
      () => balances.events.some((e) => e.entry.amount === '-300'),
      'the withdrawal entry on the balance stream',
    );
    const entry = balances.events.find((e) => e.entry.amount === '-300')!;
    expect(entry.entry.direction).toBe('DEBIT');
    // Told by the request itself: the outbox row written with the withdrawal is taken.
    const home = stack.shards.of('withdrawal', payout);
    const [rows] = (await home.db.execute(sql`SELECT status FROM transfer_outbox WHERE id = ${payout}`)) as unknown as [
      Array<{ status: string }>,
    ];
    expect(rows).toEqual([{ status: 'DONE' }]);
    await Promise.all([links.close(), balances.close()]);
  });

  it('replays exactly what was missed after a disconnect, then goes on live; the poll answers the same', async () => {
    const { ownerId, jwt, first, cursor } = await ownerWithALink('links-resume');
    const account = await kit.open(ownerId, { currency: 'EUR' });
    await kit.fund(account, '10000', 'EUR');
    const before = follow(jwt, ownerId, cursor);
    const second = await moves.link(jwt, ownerId);
    const [seen] = await eventsUntil(before, 1, 'the second link');
    await before.close();

    // Missed while no one listened: a verification, a payout, a rejection, an unlink.
    await moves.decide(first, true);
    const payout = await moves.payout(jwt, account, first);
    await moves.decide(second, false);
    await moves.unlink(jwt, first);

    const after = follow(jwt, ownerId, seen!.cursor);
    const missed = await eventsUntil(after, 4, 'the four missed events');
    expect(numbersOf(missed)).toEqual([3, 4, 5, 6]);
    expect(shapeOf(missed)).toEqual([
      ['VERIFIED', first, 'VERIFIED'],
      ['PAYOUT', first, 'VERIFIED'],
      ['REJECTED', second, 'REJECTED'],
      ['UNLINKED', first, 'UNLINKED'],
    ]);
    expect(missed[1]!.payout).toMatchObject({ id: payout, amount: '300', currency: 'EUR' });
    expect(await polledEvents(stack.gatewayUrl, jwt, ownerId, seen!.cursor)).toEqual(missed);
    // Then live: the next change is the next event, and nothing came twice.
    const third = await moves.link(jwt, ownerId);
    const all = await eventsUntil(after, 5, 'the live event after the replay');
    expect(all).toHaveLength(5);
    expect(shapeOf(all.slice(4))).toEqual([['LINKED', third, 'PENDING']]);
    expect(new Set(all.map((e) => e.cursor)).size).toBe(5);

    // Without a cursor a stream starts at the owner's latest event: it delivers only what comes after. It is live
    // once the gateway has learnt that position, so links are probed until one arrives.
    const fresh = follow(jwt, ownerId, null);
    const probes: string[] = [];
    for (let i = 0; i < 20 && fresh.events.length === 0; i++) {
      probes.push(await moves.link(jwt, ownerId, { kind: 'WALLET', identifier: unique('wallet') }));
      await fresh.waitFor(() => fresh.events.length > 0, 'a probe link', 1_000).catch(() => {});
    }
    const [live] = linkEventsOf(fresh);
    expect(live!.sequence).toBeGreaterThan(7);
    expect(live!.type).toBe('LINKED');
    expect(probes).toContain(live!.externalAccount.id);
    await Promise.all([after.close(), fresh.close()]);
  });
});

describe('who may follow whose links', () => {
  it("closes with 4401 without a valid token and 4403 for another owner's links, whether or not it has any", async () => {
    const { ownerId } = await ownerWithALink('links-target');
    const cases = [
      { name: 'no token', jwt: null, owner: ownerId, code: 4401 },
      { name: 'an expired token', jwt: await token(ownerId, 'customer', -120), owner: ownerId, code: 4401 },
      { name: 'another customer', jwt: await token(unique('stranger'), 'customer'), owner: ownerId, code: 4403 },
      { name: 'another partner', jwt: await token(unique('partner'), 'partner'), owner: ownerId, code: 4403 },
      { name: "the link's channel", jwt: await token('some-bank', 'channel'), owner: ownerId, code: 4403 },
      {
        name: 'an owner with no links at all',
        jwt: await token(unique('stranger'), 'customer'),
        owner: unique('nobody'),
        code: 4403,
      },
    ];
    const streams = cases.map((c) => ({ ...c, stream: follow(c.jwt, c.owner, null) }));
    // A malformed token too, as a raw header.
    const malformed = subscribe(stack.gatewayWsUrl, {
      authorization: 'Bearer not-a-jwt',
      query: linkEventDocs.subscription,
      variables: { ownerId, after: null },
      responseKey: 'externalAccountChanged',
    });
    streams.push({ name: 'a malformed token', jwt: null, owner: ownerId, code: 4401, stream: malformed });
    for (const c of streams) {
      await c.stream.waitFor(() => c.stream.closeCode !== null, `the socket to close for ${c.name}`);
      expect(c.stream.closeCode, c.name).toBe(c.code);
      expect(c.stream.events, c.name).toEqual([]);
    }
    // The polling twin refuses the same callers FORBIDDEN, telling nothing of the owner.
    for (const [jwt, owner] of [
      [await token(unique('stranger'), 'customer'), ownerId],
      [await token(unique('stranger'), 'customer'), unique('nobody')],
    ] as const) {
      const answer = await gql(stack.gatewayUrl, linkEventDocs.page, { ownerId: owner }, jwt);
      expect(errorCodes(answer)).toEqual(['FORBIDDEN']);
      expect(answer.data).toBeNull();
    }
  });

  it('lets a partner follow its own links only, and an operator anyone’s; each sees the same events', async () => {
    const partnerId = unique('partner');
    const partnerJwt = await token(partnerId, 'partner');
    // A partner moves no money and links nothing itself: an operator links for it.
    const partnerLink = await moves.link(kit.operator, partnerId);
    const { ownerId, jwt, first } = await ownerWithALink('links-neighbour');
    const [partnerFirst] = await polledEvents(stack.gatewayUrl, partnerJwt, partnerId);
    const own = follow(partnerJwt, partnerId, partnerFirst!.cursor);
    const operatorStream = follow(kit.operator, partnerId, partnerFirst!.cursor);
    const theirs = follow(partnerJwt, ownerId, null);
    await moves.decide(first, true);
    await moves.unlink(jwt, first);
    await moves.decide(partnerLink, true);

    const seen = await eventsUntil(own, 1, "the partner's verification");
    expect(shapeOf(seen)).toEqual([['VERIFIED', partnerLink, 'VERIFIED']]);
    expect(await eventsUntil(operatorStream, 1, 'the same event for the operator')).toEqual(seen);
    await theirs.waitFor(() => theirs.closeCode !== null, "the socket following another owner's links to close");
    expect(theirs.closeCode).toBe(4403);
    // Nothing of the neighbour's links reached the partner: its next event is its own next change.
    await moves.unlink(kit.operator, partnerLink);
    const next = await eventsUntil(own, 2, "the partner's unlink");
    expect(shapeOf(next)).toEqual([
      ['VERIFIED', partnerLink, 'VERIFIED'],
      ['UNLINKED', partnerLink, 'UNLINKED'],
    ]);
    expect(JSON.stringify(own.results)).not.toContain(first);
    await Promise.all([own.close(), operatorStream.close()]);
  });

  it('refuses a malformed owner id or cursor, a cursor of another owner and one ahead with BAD_USER_INPUT', async () => {
    const mine = await ownerWithALink('links-cursor');
    const other = await ownerWithALink('links-cursor-other');
    const ahead = Buffer.from(`links:${mine.ownerId}/99`, 'utf8').toString('base64url');
    const refused = [
      { ownerId: mine.ownerId, after: 'not a cursor' },
      { ownerId: mine.ownerId, after: other.cursor },
      { ownerId: mine.ownerId, after: ahead },
    ];
    const connection = connect(stack.gatewayWsUrl, bearer(kit.operator));
    const streams: Subscription[] = refused.map((variables) =>
      connection.subscribe(linkEventDocs.subscription, variables, 'externalAccountChanged'),
    );
    for (const [i, stream] of streams.entries()) {
      await stream.waitFor(() => stream.error !== null, `the refusal of ${JSON.stringify(refused[i])}`);
      expect(errorsOf(stream).map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    }
    for (const variables of [...refused, { ownerId: 'no spaces allowed', after: null }]) {
      const answer = await gql(stack.gatewayUrl, linkEventDocs.page, variables, kit.operator);
      expect(errorCodes(answer), JSON.stringify(variables)).toEqual(['BAD_USER_INPUT']);
    }
    const tooMany = await gql(stack.gatewayUrl, linkEventDocs.page, { ownerId: mine.ownerId, first: 101 }, mine.jwt);
    expect(errorCodes(tooMany)).toEqual(['BAD_USER_INPUT']);
    // Refusals of what was asked, not of the caller: the socket was never closed as 4401 or 4403 (graphql-ws's lazy
    // client closes it normally, 1000, once its last subscription ended).
    expect([null, 1000]).toContain(connection.closeCode);
    await connection.close();
  });
});

describe('order under concurrent changes', () => {
  it("numbers one owner's events without a gap or a repeat while its links are decided, paid out to and unlinked at once", async () => {
    const ownerId = unique('links-busy');
    const jwt = await token(ownerId, 'customer');
    const account = await kit.open(ownerId, { currency: 'EUR' });
    await kit.fund(account, '100000', 'EUR');
    const links = await Promise.all(Array.from({ length: 8 }, () => moves.link(jwt, ownerId)));
    const linkedEvents = await polledEvents(stack.gatewayUrl, jwt, ownerId);
    expect(numbersOf(linkedEvents)).toEqual(range(1, 8));
    const stream = follow(jwt, ownerId, linkedEvents.at(-1)!.cursor);
    const poller = follow(kit.operator, ownerId, linkedEvents.at(-1)!.cursor, linkEventDocs.federated);

    // Each link decided twice at once (the second answers the first's verdict and writes nothing): six verified,
    // two rejected.
    const verdict = (i: number) => i < 6;
    await Promise.all(links.flatMap((id, i) => [moves.decide(id, verdict(i)), moves.decide(id, verdict(i))]));
    // Three payouts to each verified link at once, and two unlinks of each rejected one.
    const verified = links.filter((_, i) => verdict(i));
    const rejected = links.filter((_, i) => !verdict(i));
    const payouts = await Promise.all([
      ...verified.flatMap((id) => [1, 2, 3].map(() => moves.payout(jwt, account, id, '100'))),
      ...rejected
        .flatMap((id) => [moves.unlink(jwt, id), moves.unlink(jwt, id)])
        .map(async (p) => {
          await p;
          return null;
        }),
    ]);
    // Then every verified link unlinked at once.
    await Promise.all(verified.map((id) => moves.unlink(jwt, id)));

    const expected = links.length + 18 + rejected.length + verified.length;
    const events = await eventsUntil(stream, expected, `${expected} events`);
    await eventsUntil(poller, expected, `${expected} events read page by page`);
    expect(numbersOf(events)).toEqual(range(9, expected));
    expect(events).toHaveLength(expected);
    // Per link, its own order: its verdict, then its payouts, then its unlink.
    for (const [i, id] of links.entries()) {
      const own = events.filter((e) => e.externalAccount.id === id).map((e) => e.type);
      expect(own, id).toEqual(
        verdict(i) ? ['VERIFIED', 'PAYOUT', 'PAYOUT', 'PAYOUT', 'UNLINKED'] : ['REJECTED', 'UNLINKED'],
      );
    }
    // Each withdrawal told once.
    const told = events.filter((e) => e.type === 'PAYOUT').map((e) => e.payout!.id);
    expect(told.sort()).toEqual(payouts.filter((p): p is string => p !== null).sort());
    // The stream forwarded, the federated one read page by page, and the poll: one list.
    expect(linkEventsOf(poller).map((e) => e.cursor)).toEqual(events.map((e) => e.cursor));
    expect(await polledEvents(stack.gatewayUrl, jwt, ownerId, linkedEvents.at(-1)!.cursor)).toEqual(events);
    await Promise.all([stream.close(), poller.close()]);
  });
});
