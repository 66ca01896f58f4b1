import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { eq } from 'drizzle-orm';
import type { Role } from '@paygraph/shared/identity';
import { refunds } from '@paygraph/transaction/db/schema/transactions';
import { reconciliationReports } from '@paygraph/settlement/db/schema/settlement';
import { settlementsOfMerchant } from '@paygraph/settlement/db/settlement-store';
import type { Stack } from '../../test/support/stack';
import { defaultStack } from '../../test/support/default-stack';
import { contractOperation, errorCodes, gql, type GraphQLResponse } from '../../test/support/graphql';
import { token, unique } from '../../test/support/env';
import { accountRow, depositFromReserve, entriesOf, ownerAccountCount } from '../../test/support/ledger';
import { paymentRow, resourceOfKey } from '../../test/support/bank';
import { subscribe } from '../../test/support/ws';
import { gatewayPaths, startPathGateway, stopPathGateway, type PairedGateway } from './support/both-paths';

/**
 * Broken object-level authorization, operation by operation of the contract: user A (a
 * customer, or a merchant where that is the tempting role) names user B's account, payment or
 * merchant account, through the gateway as any client would, once through a gateway that
 * forwards what one subgraph serves alone and once through one that plans every operation. Every attempt is FORBIDDEN
 * (4403
 * over graphql-ws), answers none of B's data, and writes nothing: no account, entry, refund,
 * settlement, report or idempotency key.
 */
let stack: Stack;
/** A gateway in front of the stack's subgraphs that plans every operation (no pass-through). */
let planned: PairedGateway;
let operator: string;

const docs = {
  openAccount: contractOperation('OpenAccount'),
  getAccount: contractOperation('GetAccount'),
  accountsByOwner: contractOperation('AccountsByOwner'),
  deposit: contractOperation('Deposit'),
  withdraw: contractOperation('Withdraw'),
  createPayment: contractOperation('CreatePayment'),
  refundPayment: contractOperation('RefundPayment'),
  getPayment: contractOperation('GetPayment'),
  accountPayments: contractOperation('AccountPayments'),
  balanceChanged: contractOperation('BalanceChanged'),
  runSettlement: contractOperation('RunSettlement'),
  reconciliation: contractOperation('Reconciliation'),
  ledgerHealth: contractOperation('LedgerHealth'),
};

interface Party {
  sub: string;
  bearer: string;
  account: string;
}

/** A (the attacker), B (the victim, a customer) and B's merchant account, each funded. */
let a: Party;
let b: Party;
let bMerchant: Party;
/** A payment from A to B (which only B, its payee, may refund) and one from B to a third party. */
let paymentAToB: string;
let paymentBToC: string;

async function open(bearer: string, ownerId: string, type: 'PERSONAL' | 'MERCHANT' = 'PERSONAL'): Promise<string> {
  const answer = await gql(stack.gatewayUrl, docs.openAccount, { input: { ownerId, type, currency: 'USD' } }, bearer);
  expect(answer.errors).toBeUndefined();
  return answer.data!.openAccount.id as string;
}

async function party(role: Role, type: 'PERSONAL' | 'MERCHANT' = 'PERSONAL'): Promise<Party> {
  const sub = unique(role);
  const bearer = await token(sub, role);
  const account = await open(operator, sub, type);
  expect((await depositFromReserve(stack.shards, account, 100_000n)).status).toBe('APPLIED');
  return { sub, bearer, account };
}

async function pay(bearer: string, payer: string, payee: string, amount: string): Promise<string> {
  const answer = await gql(
    stack.gatewayUrl,
    docs.createPayment,
    {
      input: { idempotencyKey: unique('pay'), payerAccountId: payer, payeeAccountId: payee, amount, currency: 'USD' },
    },
    bearer,
  );
  expect(answer.errors).toBeUndefined();
  expect(answer.data!.createPayment.__typename).toBe('Payment');
  return answer.data!.createPayment.id as string;
}

beforeAll(async () => {
  stack = await defaultStack();
  planned = await startPathGateway(stack.subgraphUrls, 'planned');
  operator = await token(unique('operator'), 'operator');
  [a, b, bMerchant] = await Promise.all([party('customer'), party('customer'), party('merchant', 'MERCHANT')]);
  const c = await party('customer');
  paymentAToB = await pay(a.bearer, a.account, b.account, '1500');
  paymentBToC = await pay(b.bearer, b.account, c.account, '700');
});

afterAll(async () => {
  if (planned) await stopPathGateway(planned);
  await stack.stop();
});

/** Everything a refused write could have touched on the parties' accounts: rows and entries. */
async function ledgerState(accountIds: readonly string[]) {
  return Promise.all(
    accountIds.map(async (id) => ({
      row: await accountRow(stack.shards, id),
      entries: (await entriesOf(stack.shards, id)).length,
    })),
  );
}

/** FORBIDDEN and nothing else: no other error, and none of the asked-for data. */
function expectForbidden(answer: GraphQLResponse, field: string): void {
  expect(errorCodes(answer)).toEqual(['FORBIDDEN']);
  expect(answer.data?.[field] ?? null).toBeNull();
}

describe.each(gatewayPaths)('user A against user B (%s path)', (path) => {
  // The stack's gateway forwards single-subgraph operations; the other plans every operation.
  const url = () => (path === 'forwarded' ? stack.gatewayUrl : planned.url);

  it("OpenAccount: A cannot open an account in B's name", async () => {
    const before = await ownerAccountCount(stack.shards, b.sub);
    for (const type of ['PERSONAL', 'MERCHANT']) {
      const answer = await gql(url(), docs.openAccount, { input: { ownerId: b.sub, type, currency: 'USD' } }, a.bearer);
      expectForbidden(answer, 'openAccount');
    }
    expect(await ownerAccountCount(stack.shards, b.sub)).toBe(before);
  });

  it("GetAccount: A cannot read B's account, its balance or its entries; B can", async () => {
    const answer = await gql(url(), docs.getAccount, { id: b.account }, a.bearer);
    expectForbidden(answer, 'account');
    expect(JSON.stringify(answer)).not.toContain(b.sub);

    const own = await gql(url(), docs.getAccount, { id: b.account }, b.bearer);
    expect(own.errors).toBeUndefined();
    expect(own.data!.account).toMatchObject({ id: b.account, ownerId: b.sub });
  });

  it("AccountsByOwner: A cannot list B's accounts; B can", async () => {
    expectForbidden(await gql(url(), docs.accountsByOwner, { ownerId: b.sub }, a.bearer), 'accounts');
    const own = await gql(url(), docs.accountsByOwner, { ownerId: b.sub }, b.bearer);
    expect(own.errors).toBeUndefined();
    expect(own.data!.accounts.edges.map((e: { node: { id: string } }) => e.node.id)).toContain(b.account);
  });

  it("Deposit: A cannot deposit into B's account", async () => {
    const before = await ledgerState([b.account]);
    const key = unique('deposit');
    const answer = await gql(
      url(),
      docs.deposit,
      { input: { idempotencyKey: key, accountId: b.account, amount: '100', currency: 'USD' } },
      a.bearer,
    );
    expectForbidden(answer, 'deposit');
    expect(await ledgerState([b.account])).toEqual(before);
    expect(await resourceOfKey(stack.shards, a.sub, key)).toBeUndefined();
  });

  it("Withdraw: A cannot withdraw from B's account", async () => {
    const before = await ledgerState([b.account]);
    const key = unique('withdraw');
    const answer = await gql(
      url(),
      docs.withdraw,
      { input: { idempotencyKey: key, accountId: b.account, amount: '100', currency: 'USD' } },
      a.bearer,
    );
    expectForbidden(answer, 'withdraw');
    expect(await ledgerState([b.account])).toEqual(before);
    expect(await resourceOfKey(stack.shards, a.sub, key)).toBeUndefined();
  });

  it("CreatePayment: A cannot pay from B's account, to A or to anyone", async () => {
    const before = await ledgerState([a.account, b.account, bMerchant.account]);
    for (const payee of [a.account, bMerchant.account]) {
      const key = unique('steal');
      const answer = await gql(
        url(),
        docs.createPayment,
        {
          input: {
            idempotencyKey: key,
            payerAccountId: b.account,
            payeeAccountId: payee,
            amount: '1000',
            currency: 'USD',
          },
        },
        a.bearer,
      );
      expectForbidden(answer, 'createPayment');
      expect(await resourceOfKey(stack.shards, a.sub, key)).toBeUndefined();
    }
    expect(await ledgerState([a.account, b.account, bMerchant.account])).toEqual(before);
  });

  it("RefundPayment: A, who paid B, cannot refund B's received payment to itself", async () => {
    const payment = await paymentRow(stack.shards, paymentAToB);
    expect(payment).toBeDefined();
    const before = await ledgerState([a.account, b.account]);
    const key = unique('refund');
    const answer = await gql(
      url(),
      docs.refundPayment,
      { input: { idempotencyKey: key, paymentId: paymentAToB, amount: '1500' } },
      a.bearer,
    );
    expectForbidden(answer, 'refundPayment');
    const home = stack.shards.of('payment', paymentAToB);
    expect(await home.db.select().from(refunds).where(eq(refunds.paymentId, paymentAToB))).toEqual([]);
    expect((await paymentRow(stack.shards, paymentAToB))?.refundedAmount).toBe(payment!.refundedAmount);
    expect(await ledgerState([a.account, b.account])).toEqual(before);
    expect(await resourceOfKey(stack.shards, a.sub, key)).toBeUndefined();
  });

  it("GetPayment: A cannot read a payment between B and someone else; B can, but not the payee's balance", async () => {
    const answer = await gql(url(), docs.getPayment, { id: paymentBToC }, a.bearer);
    expectForbidden(answer, 'payment');
    const own = await gql(url(), docs.getPayment, { id: paymentBToC }, b.bearer);
    expect(own.data!.payment).toMatchObject({
      id: paymentBToC,
      amount: '700',
      payer: { id: b.account },
      payee: { balance: null },
    });
    expect(own.errors?.map((e) => [e.extensions?.code, e.path?.join('.')])).toEqual([
      ['FORBIDDEN', 'payment.payee.balance'],
    ]);
  });

  it("AccountPayments: A cannot list the payments of B's account; B can", async () => {
    expectForbidden(await gql(url(), docs.accountPayments, { id: b.account }, a.bearer), 'account');
    const own = await gql(url(), docs.accountPayments, { id: b.account }, b.bearer);
    expect(own.errors).toBeUndefined();
    expect(own.data!.account.payments.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual(
      expect.arrayContaining([paymentAToB, paymentBToC]),
    );
  });

  it("BalanceChanged: A's subscription to B's account closes with 4403 and delivers nothing", async () => {
    for (const attacker of [
      a.bearer,
      await token(unique('partner'), 'partner'),
      await token(unique('merchant'), 'merchant'),
    ]) {
      const subscription = subscribe(stack.gatewayWsUrl, {
        authorization: `Bearer ${attacker}`,
        query: docs.balanceChanged,
        variables: { accountId: b.account },
      });
      await subscription.waitFor(() => subscription.closeCode !== null, 'the socket to close');
      expect(subscription.closeCode).toBe(4403);
      expect(subscription.events).toEqual([]);
      expect(subscription.results).toEqual([]);
    }
  });

  it("RunSettlement: no merchant, not even the owner, may settle; A may not settle B's merchant account", async () => {
    const home = stack.shards.of('account', bMerchant.account);
    const before = await ledgerState([bMerchant.account]);
    const aMerchant = await token(unique('merchant'), 'merchant');
    for (const bearer of [aMerchant, a.bearer, bMerchant.bearer]) {
      const answer = await gql(
        url(),
        docs.runSettlement,
        { input: { merchantAccountId: bMerchant.account, businessDate: '2020-01-02' } },
        bearer,
      );
      expectForbidden(answer, 'runSettlement');
    }
    expect(await settlementsOfMerchant(home.db, bMerchant.account, 10)).toEqual([]);
    expect(await ledgerState([bMerchant.account])).toEqual(before);
  });

  it('Reconciliation and LedgerHealth: operators only, and a refused reconciliation leaves no report', async () => {
    const roles: Role[] = ['customer', 'merchant', 'partner'];
    for (const role of roles) {
      const sub = unique(role);
      const bearer = await token(sub, role);
      expectForbidden(await gql(url(), docs.reconciliation, { businessDate: '2000-01-03' }, bearer), 'reconciliation');
      expectForbidden(await gql(url(), docs.ledgerHealth, {}, bearer), 'ledgerHealth');
      const reports = await Promise.all(
        stack.shards.all.map((s) =>
          s.db.select().from(reconciliationReports).where(eq(reconciliationReports.createdBy, sub)),
        ),
      );
      expect(reports.flat(), role).toEqual([]);
    }
    const health = await gql(url(), docs.ledgerHealth, {}, operator);
    expect(health.errors).toBeUndefined();
    expect(typeof health.data!.ledgerHealth.balanced).toBe('boolean');
  });
});
