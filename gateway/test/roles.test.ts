import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { eq } from 'drizzle-orm';
import { fxQuotes } from '@paygraph/transaction/db/schema/fx';
import { statements } from '@paygraph/settlement/db/schema/settlement';
import { feeRateOf } from '@paygraph/settlement/db/settlement-store';
import { controlShard } from '@paygraph/settlement/services/settle';
import { startStack, type Stack } from '../../test/support/stack';
import { contractOperation, errorCodes, gql, type GraphQLResponse } from '../../test/support/graphql';
import { token, unique } from '../../test/support/env';
import { accountRow, depositFromReserve, entriesOf } from '../../test/support/ledger';
import { resourceOfKey } from '../../test/support/bank';
import { holdRow as storedHold } from '../../test/support/holds';
import { subscribe } from '../../test/support/ws';

/**
 * Hostile callers per part, beyond what bola.test.ts (A against B over the first contract
 * operations) goes through: a partner trying to move money its owner holds, a channel reading
 * what it may not, and user A naming user B's holds, settlements and webhook endpoints. Each
 * part decides these in its services/access.ts (test/access-shape.test.ts); here every attempt
 * is FORBIDDEN (4403 over graphql-ws), answers none of the data asked for, and writes nothing,
 * while the owner's own read of the same object succeeds.
 */
let stack: Stack;
let operator: string;

const docs = {
  accountsByOwner: contractOperation('AccountsByOwner'),
  balanceChanged: contractOperation('BalanceChanged'),
  createHold: contractOperation('CreateHold'),
  captureHold: contractOperation('CaptureHold'),
  voidHold: contractOperation('VoidHold'),
  getHold: contractOperation('GetHold'),
  createCampaign: contractOperation('CreateCampaign'),
  createFxQuote: contractOperation('CreateFxQuote'),
  setFxRate: contractOperation('SetFxRate'),
  runSettlement: contractOperation('RunSettlement'),
  reconciliation: contractOperation('Reconciliation'),
  createEndpoint: contractOperation('CreateWebhookEndpoint'),
  readEndpoint: contractOperation('WebhookEndpoint'),
  disableEndpoint: contractOperation('DisableWebhookEndpoint'),
  freeze: 'mutation($id: ID!) { freezeAccount(id: $id) { __typename } }',
  close: 'mutation($id: ID!) { closeAccount(id: $id) { __typename } }',
  accountHolds: 'query($id: ID!) { account(id: $id) { id holds { edges { node { id } } } } }',
  fxPositions: 'query { fxPositions { currency amount } }',
  settlement: 'query($id: ID!) { settlement(id: $id) { id netAmount } }',
  accountSettlements: 'query($id: ID!) { account(id: $id) { id settlements { id } } }',
  importStatement: 'mutation($input: ImportStatementInput!) { importStatement(input: $input) { __typename } }',
  setFeeRate: 'mutation($input: SetMerchantFeeRateInput!) { setMerchantFeeRate(input: $input) { __typename } }',
  endpoints: 'query { webhookEndpoints { id } }',
};

interface Party {
  sub: string;
  bearer: string;
  account: string;
}

/**
 * A (the attacker, a customer), B (a customer) and B's merchant account; B's partner holds B's subject with the partner
 * role.
 */
let a: Party;
let b: Party;
let bMerchant: Party;
let bPartner: string;
let channel: string;
/** A hold B made on B's account, payable to A. */
let bHold: string;

async function open(ownerId: string, type: 'PERSONAL' | 'MERCHANT' = 'PERSONAL'): Promise<string> {
  const answer = await gql(
    stack.gatewayUrl,
    contractOperation('OpenAccount'),
    { input: { ownerId, type, currency: 'USD' } },
    operator,
  );
  expect(answer.errors).toBeUndefined();
  return answer.data!.openAccount.id as string;
}

async function party(role: 'customer' | 'merchant', type: 'PERSONAL' | 'MERCHANT' = 'PERSONAL'): Promise<Party> {
  const sub = unique(role);
  const account = await open(sub, type);
  expect((await depositFromReserve(stack.shards, account, 100_000n)).status).toBe('APPLIED');
  return { sub, bearer: await token(sub, role), account };
}

beforeAll(async () => {
  stack = await startStack();
  operator = await token(unique('operator'), 'operator');
  [a, b, bMerchant] = await Promise.all([party('customer'), party('customer'), party('merchant', 'MERCHANT')]);
  bPartner = await token(b.sub, 'partner');
  channel = await token(unique('channel'), 'channel');
  const held = await gql(
    stack.gatewayUrl,
    docs.createHold,
    {
      input: {
        idempotencyKey: unique('hold'),
        payerAccountId: b.account,
        payeeAccountId: a.account,
        amount: '500',
        currency: 'USD',
      },
    },
    b.bearer,
  );
  expect(held.errors).toBeUndefined();
  expect(held.data!.createHold.__typename).toBe('Hold');
  bHold = held.data!.createHold.id as string;
});

afterAll(async () => {
  await stack.stop();
});

/** FORBIDDEN and nothing else: no other error, and none of the asked-for data. */
function expectForbidden(answer: GraphQLResponse, field: string): void {
  expect(errorCodes(answer), JSON.stringify(answer.errors)).toEqual(['FORBIDDEN']);
  expect(answer.data?.[field] ?? null).toBeNull();
}

/** Everything a refused write could have touched on accounts: their rows and entries. */
async function ledgerState(accountIds: readonly string[]) {
  return Promise.all(
    accountIds.map(async (id) => ({
      row: await accountRow(stack.shards, id),
      entries: (await entriesOf(stack.shards, id)).length,
    })),
  );
}

const holdRow = (id: string) => storedHold(stack.shards, id);

describe('account part', () => {
  it('a channel lists no accounts (not even under its own subject), follows none and changes none', async () => {
    const channelSub = unique('channel');
    const ownChannel = await token(channelSub, 'channel');
    expectForbidden(await gql(stack.gatewayUrl, docs.accountsByOwner, { ownerId: b.sub }, channel), 'accounts');
    expectForbidden(await gql(stack.gatewayUrl, docs.accountsByOwner, { ownerId: channelSub }, ownChannel), 'accounts');
    const before = await ledgerState([b.account]);
    expectForbidden(await gql(stack.gatewayUrl, docs.freeze, { id: b.account }, channel), 'freezeAccount');
    expectForbidden(await gql(stack.gatewayUrl, docs.close, { id: b.account }, channel), 'closeAccount');
    expect(await ledgerState([b.account])).toEqual(before);
    const subscription = subscribe(stack.gatewayWsUrl, {
      authorization: `Bearer ${channel}`,
      query: docs.balanceChanged,
      variables: { accountId: b.account },
    });
    await subscription.waitFor(() => subscription.closeCode !== null, 'the socket to close');
    expect(subscription.closeCode).toBe(4403);
    expect(subscription.events).toEqual([]);
  });

  it("a partner closes no account, not even an empty one of its owner's; the owner can", async () => {
    const empty = await open(b.sub);
    expectForbidden(await gql(stack.gatewayUrl, docs.close, { id: empty }, bPartner), 'closeAccount');
    expect((await accountRow(stack.shards, empty))?.status).toBe('ACTIVE');
    const own = await gql(stack.gatewayUrl, docs.close, { id: empty }, b.bearer);
    expect(own.data!.closeAccount.__typename).toBe('Account');
  });
});

describe('transaction part', () => {
  it("a partner moves none of its owner's money: no hold, capture, void, campaign or FX quote; it reads the hold", async () => {
    const before = await ledgerState([a.account, b.account]);
    const holdBefore = await holdRow(bHold);
    const keys = Array.from({ length: 4 }, () => unique('partner'));
    expectForbidden(
      await gql(
        stack.gatewayUrl,
        docs.createHold,
        {
          input: {
            idempotencyKey: keys[0],
            payerAccountId: b.account,
            payeeAccountId: a.account,
            amount: '100',
            currency: 'USD',
          },
        },
        bPartner,
      ),
      'createHold',
    );
    expectForbidden(
      await gql(stack.gatewayUrl, docs.captureHold, { input: { idempotencyKey: keys[1], holdId: bHold } }, bPartner),
      'captureHold',
    );
    expectForbidden(
      await gql(stack.gatewayUrl, docs.voidHold, { input: { idempotencyKey: keys[2], holdId: bHold } }, bPartner),
      'voidHold',
    );
    expectForbidden(
      await gql(
        stack.gatewayUrl,
        docs.createCampaign,
        {
          input: { idempotencyKey: keys[3], fundingAccountId: b.account, percentOffBps: 1000 },
        },
        bPartner,
      ),
      'createCampaign',
    );
    expectForbidden(
      await gql(
        stack.gatewayUrl,
        docs.createFxQuote,
        { input: { sellCurrency: 'USD', buyCurrency: 'EUR', sellAmount: '100' } },
        bPartner,
      ),
      'createFxQuote',
    );
    for (const key of keys) expect(await resourceOfKey(stack.shards, b.sub, key)).toBeUndefined();
    expect(await ledgerState([a.account, b.account])).toEqual(before);
    expect(await holdRow(bHold)).toEqual(holdBefore);
    const quotes = await Promise.all(
      stack.shards.all.map((s) => s.db.select().from(fxQuotes).where(eq(fxQuotes.createdBy, b.sub))),
    );
    expect(quotes.flat()).toEqual([]);
    // Reading is a partner's: the hold is on its owner's account.
    const read = await gql(stack.gatewayUrl, docs.getHold, { id: bHold }, bPartner);
    expect(read.errors).toBeUndefined();
    expect(read.data!.hold).toMatchObject({ id: bHold, status: 'HELD' });
  });

  it("A neither ends nor reads B's hold, nor lists B's holds; a channel reads no hold and asks no quote, rate or position", async () => {
    const before = await ledgerState([a.account, b.account]);
    const holdBefore = await holdRow(bHold);
    // A is the hold's payee: being paid by it gives no say over it.
    expectForbidden(
      await gql(
        stack.gatewayUrl,
        docs.captureHold,
        { input: { idempotencyKey: unique('k'), holdId: bHold } },
        a.bearer,
      ),
      'captureHold',
    );
    expectForbidden(
      await gql(stack.gatewayUrl, docs.voidHold, { input: { idempotencyKey: unique('k'), holdId: bHold } }, a.bearer),
      'voidHold',
    );
    const stranger = await token(unique('stranger'), 'customer');
    expectForbidden(await gql(stack.gatewayUrl, docs.getHold, { id: bHold }, stranger), 'hold');
    const listed = await gql(stack.gatewayUrl, docs.accountHolds, { id: b.account }, a.bearer);
    expect(errorCodes(listed)).toContain('FORBIDDEN');
    expect(listed.data?.account ?? null).toBeNull();
    expectForbidden(await gql(stack.gatewayUrl, docs.getHold, { id: bHold }, channel), 'hold');
    expectForbidden(
      await gql(
        stack.gatewayUrl,
        docs.createHold,
        {
          input: {
            idempotencyKey: unique('k'),
            payerAccountId: b.account,
            payeeAccountId: a.account,
            amount: '1',
            currency: 'USD',
          },
        },
        channel,
      ),
      'createHold',
    );
    expectForbidden(
      await gql(
        stack.gatewayUrl,
        docs.createFxQuote,
        { input: { sellCurrency: 'USD', buyCurrency: 'EUR', sellAmount: '100' } },
        channel,
      ),
      'createFxQuote',
    );
    expectForbidden(
      await gql(
        stack.gatewayUrl,
        docs.setFxRate,
        { input: { baseCurrency: 'USD', quoteCurrency: 'EUR', rate: '0.9' } },
        channel,
      ),
      'setFxRate',
    );
    expectForbidden(await gql(stack.gatewayUrl, docs.fxPositions, {}, channel), 'fxPositions');
    expectForbidden(
      await gql(
        stack.gatewayUrl,
        docs.setFxRate,
        { input: { baseCurrency: 'USD', quoteCurrency: 'EUR', rate: '0.9' } },
        bPartner,
      ),
      'setFxRate',
    );
    expect(await ledgerState([a.account, b.account])).toEqual(before);
    expect(await holdRow(bHold)).toEqual(holdBefore);
  });
});

describe('settlement part', () => {
  it("A reads neither B's settlements nor one of them; only operators settle, import statements and set fee rates", async () => {
    const settled = await gql(
      stack.gatewayUrl,
      docs.runSettlement,
      { input: { merchantAccountId: bMerchant.account, businessDate: '2020-01-02' } },
      operator,
    );
    expect(settled.data!.runSettlement.__typename, JSON.stringify(settled)).toBe('Settlement');
    const settlementId = settled.data!.runSettlement.id as string;
    const own = await gql(stack.gatewayUrl, docs.settlement, { id: settlementId }, bMerchant.bearer);
    expect(own.errors).toBeUndefined();
    expect(own.data!.settlement.id).toBe(settlementId);

    for (const bearer of [a.bearer, channel, await token(unique('partner'), 'partner')]) {
      expectForbidden(await gql(stack.gatewayUrl, docs.settlement, { id: settlementId }, bearer), 'settlement');
    }
    const listed = await gql(stack.gatewayUrl, docs.accountSettlements, { id: bMerchant.account }, a.bearer);
    expect(errorCodes(listed)).toContain('FORBIDDEN');
    expect(JSON.stringify(listed.data ?? null)).not.toContain(settlementId);

    const control = controlShard(stack.shards).db;
    const rateBefore = await feeRateOf(control, bMerchant.account);
    const statementChannel = unique('bank')
      .replace(/[^A-Za-z0-9_.-]/g, '_')
      .slice(0, 64);
    for (const bearer of [bMerchant.bearer, await token(bMerchant.sub, 'partner'), channel]) {
      expectForbidden(
        await gql(
          stack.gatewayUrl,
          docs.setFeeRate,
          { input: { merchantAccountId: bMerchant.account, feeBps: 0 } },
          bearer,
        ),
        'setMerchantFeeRate',
      );
      expectForbidden(
        await gql(
          stack.gatewayUrl,
          docs.importStatement,
          {
            input: {
              channel: statementChannel,
              businessDate: '2020-01-02',
              csv: 'external_ref,amount,currency,direction,date\n',
            },
          },
          bearer,
        ),
        'importStatement',
      );
      expectForbidden(
        await gql(
          stack.gatewayUrl,
          docs.runSettlement,
          { input: { merchantAccountId: bMerchant.account, businessDate: '2020-01-03' } },
          bearer,
        ),
        'runSettlement',
      );
      expectForbidden(
        await gql(stack.gatewayUrl, docs.reconciliation, { businessDate: '2000-01-04' }, bearer),
        'reconciliation',
      );
    }
    expect(await feeRateOf(control, bMerchant.account)).toBe(rateBefore);
    expect(await control.select().from(statements).where(eq(statements.channel, statementChannel))).toEqual([]);
  });
});

describe('webhooks part', () => {
  it("a channel has no endpoints to list, read or manage; A cannot read or disable B's partner's endpoint", async () => {
    const made = await gql(
      stack.gatewayUrl,
      docs.createEndpoint,
      { input: { url: 'https://hooks.example.com/b', eventTypes: ['balance.changed'], accountIds: [b.account] } },
      bPartner,
    );
    expect(made.data!.createWebhookEndpoint.__typename, JSON.stringify(made)).toBe('WebhookEndpoint');
    const endpointId = made.data!.createWebhookEndpoint.id as string;

    expectForbidden(await gql(stack.gatewayUrl, docs.endpoints, {}, channel), 'webhookEndpoints');
    for (const bearer of [channel, a.bearer]) {
      expectForbidden(await gql(stack.gatewayUrl, docs.readEndpoint, { id: endpointId }, bearer), 'webhookEndpoint');
      expectForbidden(
        await gql(stack.gatewayUrl, docs.disableEndpoint, { input: { endpointId } }, bearer),
        'disableWebhookEndpoint',
      );
    }
    // Naming B's account, A is refused like a channel would be, before anything is written.
    expectForbidden(
      await gql(
        stack.gatewayUrl,
        docs.createEndpoint,
        { input: { url: 'https://hooks.example.com/a', eventTypes: ['balance.changed'], accountIds: [b.account] } },
        a.bearer,
      ),
      'createWebhookEndpoint',
    );
    expect((await gql(stack.gatewayUrl, docs.endpoints, {}, a.bearer)).data!.webhookEndpoints).toEqual([]);
    const still = await gql(stack.gatewayUrl, docs.readEndpoint, { id: endpointId }, bPartner);
    expect(still.data!.webhookEndpoint).toMatchObject({ id: endpointId, status: 'ENABLED' });
  });
});
