import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { parse, type GraphQLSchema } from 'graphql';
import { Supergraph } from '@apollo/federation-internals';
import { supergraphPath } from '../src/compose';
import { planOperation, type StreamSubscription } from '../src/subscriptions/operation';
import { contractOperation } from '../../test/support/graphql';

/** How a client's subscription document becomes the page query the gateway runs for it. */
const apiSchema: GraphQLSchema = Supergraph.build(readFileSync(supergraphPath, 'utf8')).apiSchema().toGraphQLJSSchema();

function plan(query: string, variables: Record<string, unknown> = {}, operationName: string | null = null) {
  return planOperation(apiSchema, parse(query), operationName, variables);
}

function subscriptionOf(query: string, variables: Record<string, unknown> = {}): StreamSubscription {
  const planned = plan(query, variables);
  if (!planned.ok || planned.value.kind !== 'subscription')
    throw new Error(`not planned as a subscription: ${JSON.stringify(planned)}`);
  return planned.value.subscription;
}

describe('planning a balanceChanged subscription', () => {
  it('turns the contract document into a page query that keeps its selection and drops `after`', () => {
    const sub = subscriptionOf(contractOperation('BalanceChanged'), { accountId: 'acc_x', after: 'c1' });
    expect(sub).toMatchObject({ key: 'acc_x', after: 'c1', responseKey: 'balanceChanged', operationName: null });
    expect(sub.stream).toMatchObject({ field: 'balanceChanged', subgraph: 'account' });
    expect(parse(sub.pageQuery).definitions).toHaveLength(1);
    const flat = sub.pageQuery.replace(/\s+/g, ' ');
    expect(flat).toMatch(/^query BalanceChanged\(\$accountId: ID!, \$balanceAfter: String, \$balanceFirst: Int!\) \{/);
    expect(flat).toContain(
      'balanceChanged: balanceChanges( accountId: $accountId after: $balanceAfter first: $balanceFirst ) { balanceCursor: cursor cursor sequence',
    );
    expect(flat).toContain(
      'entry { id amount direction balanceAfter } account { id balance { available frozen pending total } }',
    );
    expect(flat).not.toMatch(/\$after\b/);
    expect([sub.afterVariable, sub.firstVariable, sub.cursorKey]).toEqual([
      'balanceAfter',
      'balanceFirst',
      'balanceCursor',
    ]);
  });

  it('keeps aliases, literals and fragments, and picks names the client did not use', () => {
    const sub = subscriptionOf(
      `subscription S($balanceAfter: Boolean!, $unused: String) {
      feed: balanceChanged(accountId: "acc_lit", after: $unused) { balanceCursor: sequence ...F }
    }
    fragment F on BalanceChangeEvent { cursor entry @include(if: $balanceAfter) { id } }`,
      { balanceAfter: true },
    );
    expect(sub.key).toBe('acc_lit');
    expect(sub.after).toBeNull();
    expect(sub.responseKey).toBe('feed');
    expect([sub.afterVariable, sub.cursorKey]).toEqual(['balanceAfter1', 'balanceCursor1']);
    expect(sub.pageQuery.replace(/\s+/g, ' ')).toContain(
      'feed: balanceChanges( accountId: "acc_lit" after: $balanceAfter1 first: $balanceFirst )',
    );
    expect(sub.pageQuery).toContain('fragment F on BalanceChangeEvent');
    expect(sub.pageQuery).toContain('$balanceAfter: Boolean!');
    expect(sub.pageQuery).not.toContain('$unused');
  });

  it('refuses documents that are invalid or select anything else at the root', () => {
    const invalid = plan('subscription { balanceChanged(accountId: "a") { nope } }');
    expect(invalid.ok).toBe(false);
    const aliased = plan('subscription { ... on Subscription { balanceChanged(accountId: "a") { cursor } } }');
    expect(!aliased.ok && aliased.error.map((e) => e.extensions.code)).toEqual(['BAD_USER_INPUT']);
    const missing = plan('subscription S($id: ID!) { balanceChanged(accountId: $id) { cursor } }', {});
    expect(!missing.ok && missing.error.map((e) => e.extensions.code)).toEqual(['BAD_USER_INPUT']);
    expect(plan('subscription { balanceHead(accountId: "a") }').ok).toBe(false);
  });

  it('passes queries and mutations through to be executed as they are', () => {
    const planned = plan(contractOperation('GetAccount'), { id: 'acc_x' });
    expect(planned.ok && planned.value.kind).toBe('execute');
  });
});
