import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { parse, type GraphQLSchema } from 'graphql';
import { Supergraph } from '@apollo/federation-internals';
import { supergraphPath } from '../src/compose';
import { planOperation, type StreamSubscription } from '../src/subscriptions/operation';
import { subgraphFields } from '../src/subscriptions/served-by';
import { contractOperation } from '../../test/support/graphql';

/**
 * Which subscriptions the gateway forwards to the account subgraph (every selected field is the
 * account subgraph's own, read from the supergraph's join directives) and which it serves page
 * by page through its query execution (a field of another subgraph is selected). The streams
 * themselves are tested both ways in subscriptions.test.ts and subscription-streams.test.ts.
 */
const sdl = readFileSync(supergraphPath, 'utf8');
const apiSchema: GraphQLSchema = Supergraph.build(sdl).apiSchema().toGraphQLJSSchema();
const served = new Map(['account', 'transaction'].map((name) => [name, subgraphFields(sdl, name)]));

function subscriptionOf(query: string, variables: Record<string, unknown> = {}): StreamSubscription {
  const planned = planOperation(apiSchema, parse(query), null, variables, (name) => served.get(name) ?? null);
  if (!planned.ok || planned.value.kind !== 'subscription')
    throw new Error(`not planned as a subscription: ${JSON.stringify(planned)}`);
  return planned.value.subscription;
}

describe('forwarding a balanceChanged subscription to the account subgraph', () => {
  it("forwards the contract document as the subgraph's balanceChanged after $after, with the cursor field added", () => {
    const sub = subscriptionOf(contractOperation('BalanceChanged'), { accountId: 'acc_x', after: 'c1' });
    expect(sub.forwardQuery).not.toBeNull();
    const flat = sub.forwardQuery!.replace(/\s+/g, ' ');
    expect(flat).toMatch(/^subscription BalanceChanged\(\$accountId: ID!, \$balanceAfter: String\) \{/);
    expect(flat).toContain(
      'balanceChanged: balanceChanged(accountId: $accountId, after: $balanceAfter) { balanceCursor: cursor cursor sequence',
    );
    expect(flat).toContain(
      'entry { id amount direction balanceAfter } account { id balance { available frozen pending total } }',
    );
    expect(flat).not.toMatch(/\$after\b|balanceFirst/);
    // The page query stays available, for a resume that needs it.
    expect(sub.pageQuery).toContain('balanceChanges(');
  });

  it('forwards fragments, inline fragments and __typename of account fields', () => {
    const sub = subscriptionOf(
      `subscription($id: ID!) {
      balanceChanged(accountId: $id) { __typename ...E account { ... on Account { status version } } }
    }
    fragment E on BalanceChangeEvent { sequence stripeId entry { createdAt postingId bucket } }`,
      { id: 'acc_x' },
    );
    expect(sub.forwardQuery).toContain('fragment E on BalanceChangeEvent');
  });

  it('reads page by page when a field of another subgraph is selected, however deep or behind a fragment', () => {
    expect(
      subscriptionOf('subscription { balanceChanged(accountId: "acc_x") { sequence entry { payment { id } } } }')
        .forwardQuery,
    ).toBeNull();
    expect(
      subscriptionOf(`subscription { balanceChanged(accountId: "acc_x") { sequence ...P } }
      fragment P on BalanceChangeEvent { entry { id payment { id } } }`).forwardQuery,
    ).toBeNull();
  });

  it('serves only what the join directives give the subgraph', () => {
    const fields = (selection: string) => parse(`{ ${selection} }`).definitions[0]!;
    const serves = (type: string, selection: string) => {
      const op = fields(selection);
      return op.kind === 'OperationDefinition' && served.get('account')!.serves(type, op.selectionSet, new Map());
    };
    // Entry.id has no @join__field: every graph of the type (account, transaction) has it.
    expect(serves('Entry', 'id sequence amount')).toBe(true);
    expect(serves('Entry', 'payment { id }')).toBe(false);
    // A type the account subgraph does not have at all.
    expect(serves('Payment', 'id')).toBe(false);
    // Another subgraph by name: the transaction subgraph has Entry.id (no @join__field) but not Entry.sequence.
    const transaction = subgraphFields(sdl, 'transaction');
    const select = (selection: string) => {
      const op = fields(selection);
      return op.kind === 'OperationDefinition' && transaction.serves('Entry', op.selectionSet, new Map());
    };
    expect(select('id')).toBe(true);
    expect(select('sequence')).toBe(false);
    // Entry.payment is the transaction subgraph's, but it @requires postingId from the account subgraph.
    expect(select('payment { id }')).toBe(false);
  });
});

describe('forwarding an externalAccountChanged subscription to the transaction subgraph', () => {
  const linkEvents = `subscription LinkEvents($owner: ID!, $after: String) {
    externalAccountChanged(ownerId: $owner, after: $after) {
      cursor sequence type occurredAt
      externalAccount { id kind channel currency display status }
      payout { id amount currency }
    }
  }`;

  it("forwards the transaction subgraph's own fields as its externalAccountChanged, with a cursor field of its own", () => {
    const sub = subscriptionOf(linkEvents, { owner: 'alice', after: null });
    expect(sub).toMatchObject({ key: 'alice', after: null, responseKey: 'externalAccountChanged' });
    expect(sub.stream).toMatchObject({ subgraph: 'transaction', headField: 'externalAccountHead' });
    // print() puts a long argument list on lines of its own, a short one on one line with commas: read both alike.
    const flat = (text: string) =>
      text.replace(/,/g, ' ').replace(/\s+/g, ' ').replace(/\( /g, '(').replace(/ \)/g, ')');
    expect(flat(sub.forwardQuery!)).toMatch(/^subscription LinkEvents\(\$owner: ID! \$linkAfter: String\) \{/);
    expect(flat(sub.forwardQuery!)).toContain(
      'externalAccountChanged: externalAccountChanged(ownerId: $owner after: $linkAfter) { linkCursor: cursor cursor sequence',
    );
    expect(flat(sub.pageQuery)).toContain(
      'externalAccountChanged: externalAccountChanges(ownerId: $owner after: $linkAfter first: $linkFirst)',
    );
  });

  it("reads page by page when a payout's account (the account subgraph's) is selected", () => {
    const sub = subscriptionOf(
      'subscription { externalAccountChanged(ownerId: "alice") { sequence payout { id account { id balance { total } } } } }',
    );
    expect(sub.forwardQuery).toBeNull();
    expect(sub.stream.subgraph).toBe('transaction');
  });
});
