import { inTransaction } from '@paygraph/shared/shards/transaction';
import { setAccountStatus, postOne, stripeIdOf, systemAccountId } from '@paygraph/shared/ledger/index';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect } from 'vitest';
import { newId, parseId, shardOf } from '@paygraph/shared/ids';
import { accountsPerOwnerMax } from '@paygraph/shared/limits';
import { accounts, ledgerEntries, postings, type AccountRow } from '@paygraph/shared/ledger/store/schema';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { deferPayment, paymentsByIds } from '@paygraph/transaction/db/payments';
import { deferOutbox } from '@paygraph/transaction/db/outbox';
import type { PaymentRow, payments } from '@paygraph/transaction/db/schema/transactions';
import { paymentDebitSpec } from '@paygraph/transaction/domain/legs';
import { startStack, type Stack, type StackOptions } from './stack';
import { defaultStack } from './default-stack';
import { contractOperation, gql, type GraphQLResponse } from './graphql';
import { token, unique } from './env';

/**
 * Helpers for the money-movement tests: the contract documents sent through the gateway,
 * accounts placed on a chosen physical shard, and reads of what the ledger holds.
 */
export type Answer = GraphQLResponse<Record<string, any>>;

export const moneyDocs = {
  openAccount: contractOperation('OpenAccount'),
  getAccount: contractOperation('GetAccount'),
  deposit: contractOperation('Deposit'),
  withdraw: contractOperation('Withdraw'),
  createPayment: contractOperation('CreatePayment'),
  refundPayment: contractOperation('RefundPayment'),
  getPayment: contractOperation('GetPayment'),
  accountPayments: contractOperation('AccountPayments'),
};

/** Not in the contract: every union member's own fields, to check what a refusal reports. */
const userErrorDetail = `
  ... on UserError { code message }
  ... on InvalidInput { field }
  ... on AccountNotFound { accountId }
  ... on AccountNotActive { accountId accountStatus: status }
  ... on CurrencyMismatch { accountId accountCurrency requestCurrency }
  ... on IdempotencyKeyReused { idempotencyKey }`;
const insufficientDetail = '... on InsufficientFunds { accountId available }';
export const detailDocs = {
  createPayment: `mutation CreatePaymentDetail($input: CreatePaymentInput!) {
    createPayment(input: $input) { __typename ... on Payment { id paymentStatus: status route failureCode } ${userErrorDetail} ${insufficientDetail}
      ... on AccountsMustBeDifferent { accountId } }
  }`,
  refundPayment: `mutation RefundPaymentDetail($input: RefundPaymentInput!) {
    refundPayment(input: $input) { __typename ... on Refund { id refundStatus: status amount }
      ... on UserError { code message }
      ... on InvalidInput { field }
      ... on PaymentNotFound { paymentId }
      ... on PaymentNotRefundable { paymentId paymentStatus: status }
      ... on RefundExceedsPayment { paymentId refundable }
      ... on AccountNotActive { accountId accountStatus: status }
      ... on IdempotencyKeyReused { idempotencyKey } }
  }`,
  deposit: `mutation DepositDetail($input: DepositInput!) { deposit(input: $input) { __typename ... on Deposit { id } ${userErrorDetail} } }`,
  withdraw: `mutation WithdrawDetail($input: WithdrawInput!) { withdraw(input: $input) { __typename ... on Withdrawal { id } ${userErrorDetail} ${insufficientDetail} } }`,
  freeze: `mutation Freeze($id: ID!) { freezeAccount(id: $id) { __typename ... on Account { id status } ... on UserError { code } } }`,
  paymentDetail: `query PaymentDetail($id: ID!) { payment(id: $id) { id status route failureCode amount refundedAmount
    refunds { id amount status failureCode } } }`,
};

export interface Balance {
  available: string;
  frozen: string;
  pending: string;
  total: string;
}

export interface PaymentInput {
  payer: string;
  payee: string;
  amount: string | number;
  currency?: string;
  key?: string;
  description?: string;
}

/** The id's physical shard (database index), as the topology places its logical shard. */
export function physicalOf(shards: ShardSet, id: string, kind: 'account' | 'payment' | 'hold' = 'account'): number {
  const parsed = parseId(kind, id);
  if (!parsed) throw new Error(`${id} is not an ${kind} id`);
  return shards.topology.physicalOf[parsed.shard]!;
}

export interface MoneyKit {
  stack: Stack;
  operator: string;
  /** Opens an account through the gateway as an operator; with `physical`, reopens until one lands there. */
  open(
    ownerId: string,
    options?: { type?: 'PERSONAL' | 'MERCHANT'; currency?: string; physical?: number },
  ): Promise<string>;
  /** Opens accounts (same options) until one lands on a database other than the given ones. */
  openAwayFrom(
    ownerId: string,
    avoid: readonly number[],
    options?: { type?: 'PERSONAL' | 'MERCHANT'; currency?: string },
  ): Promise<string>;
  deposit(
    accountId: string,
    amount: string,
    options?: { currency?: string; key?: string; bearer?: string; externalRef?: string },
  ): Promise<Answer>;
  /** A deposit that must succeed. */
  fund(accountId: string, amount: string, currency?: string): Promise<void>;
  withdraw(
    bearer: string,
    accountId: string,
    amount: string,
    options?: { currency?: string; key?: string },
  ): Promise<Answer>;
  pay(bearer: string, input: PaymentInput, doc?: string): Promise<Answer>;
  /** A payment that must succeed; answers its id. */
  paid(bearer: string, input: PaymentInput): Promise<string>;
  refund(bearer: string, paymentId: string, amount: string, options?: { key?: string; doc?: string }): Promise<Answer>;
  balance(accountId: string): Promise<Balance>;
  /** The ids AccountPayments lists for the account, newest first. */
  paymentIds(accountId: string): Promise<string[]>;
  /** Balances and payment lists of the accounts: a refused request must leave this unchanged. */
  snapshot(ids: readonly string[]): Promise<Record<string, { balance: Balance; payments: string[] }>>;
  freeze(accountId: string): Promise<void>;
}

/**
 * A test file's stack and money kit: started before its tests (the worker's default stack when
 * `options` is absent: default-stack.ts), stopped after them.
 * `onStarted` hands them over once started, e.g. `useMoneyStack((started) => ({ stack, kit } = started))`.
 */
export function useMoneyStack(
  onStarted: (started: { stack: Stack; kit: MoneyKit }) => void,
  options?: StackOptions,
): void {
  let stack: Stack | undefined;
  beforeAll(async () => {
    // Without options, the worker's default stack (shared across files where that is on: default-stack.ts).
    stack = options === undefined ? await defaultStack() : await startStack(options);
    onStarted({ stack, kit: await moneyKit(stack) });
  });
  afterAll(async () => {
    await stack?.stop();
  });
}

/** How unlikely openWhere's every try missing the wanted database may be. */
const openWhereMissOdds = 1e-8;

export async function moneyKit(stack: Stack): Promise<MoneyKit> {
  const operator = await token('operator', 'operator');
  const url = stack.gatewayUrl;

  const openOnce = async (ownerId: string, type: string, currency: string): Promise<string> => {
    const response = await gql(url, moneyDocs.openAccount, { input: { ownerId, type, currency } }, operator);
    expect(response.errors).toBeUndefined();
    expect(response.data?.openAccount.__typename).toBe('Account');
    return response.data!.openAccount.id as string;
  };
  // An account opens on a random logical shard: as many tries as make missing every fitting one about 1e-8 likely,
  // from the share of logical shards the live map places on a fitting database. A fixed 64 assumed a quarter or more,
  // and failed once (shard-move-catch-up.test.ts) where moves had left a database 5 logical shards of 64.
  const openWhere = async (
    ownerId: string,
    type: string,
    currency: string,
    fits: (physical: number) => boolean,
  ): Promise<string> => {
    const { physicalOf: placed } = stack.shards.topology;
    const fitting = placed.filter((physical) => fits(physical)).length;
    if (fitting === 0) throw new Error('no logical shard lies on the wanted database');
    const share = fitting / placed.length;
    const tries =
      share === 1 ? 1 : Math.min(accountsPerOwnerMax, Math.ceil(Math.log(openWhereMissOdds) / Math.log(1 - share)));
    for (let attempt = 0; attempt < tries; attempt++) {
      const id = await openOnce(ownerId, type, currency);
      if (fits(physicalOf(stack.shards, id))) return id;
    }
    throw new Error(`no account landed on the wanted database in ${tries} tries (${fitting} logical shards there)`);
  };

  const kit: MoneyKit = {
    stack,
    operator,
    open: (ownerId, options = {}) =>
      openWhere(
        ownerId,
        options.type ?? 'PERSONAL',
        options.currency ?? 'USD',
        (p) => options.physical === undefined || p === options.physical,
      ),
    openAwayFrom: (ownerId, avoid, options = {}) =>
      openWhere(ownerId, options.type ?? 'PERSONAL', options.currency ?? 'USD', (p) => !avoid.includes(p)),
    deposit: (accountId, amount, options = {}) =>
      gql(
        url,
        moneyDocs.deposit,
        {
          input: {
            idempotencyKey: options.key ?? unique('dep'),
            accountId,
            amount,
            currency: options.currency ?? 'USD',
            ...(options.externalRef ? { externalRef: options.externalRef } : {}),
          },
        },
        options.bearer ?? operator,
      ),
    fund: async (accountId, amount, currency = 'USD') => {
      const response = await kit.deposit(accountId, amount, { currency });
      expect(response.errors).toBeUndefined();
      expect(response.data?.deposit).toMatchObject({ __typename: 'Deposit', status: 'SUCCEEDED', amount });
    },
    withdraw: (bearer, accountId, amount, options = {}) =>
      gql(
        url,
        moneyDocs.withdraw,
        {
          input: {
            idempotencyKey: options.key ?? unique('wdr'),
            accountId,
            amount,
            currency: options.currency ?? 'USD',
          },
        },
        bearer,
      ),
    pay: (bearer, input, doc = moneyDocs.createPayment) =>
      gql(
        url,
        doc,
        {
          input: {
            idempotencyKey: input.key ?? unique('pay'),
            payerAccountId: input.payer,
            payeeAccountId: input.payee,
            amount: input.amount,
            currency: input.currency ?? 'USD',
            ...(input.description ? { description: input.description } : {}),
          },
        },
        bearer,
      ),
    paid: async (bearer, input) => {
      const response = await kit.pay(bearer, input);
      expect(response.errors).toBeUndefined();
      expect(response.data?.createPayment).toMatchObject({ __typename: 'Payment', status: 'SUCCEEDED' });
      return response.data!.createPayment.id as string;
    },
    refund: (bearer, paymentId, amount, options = {}) =>
      gql(
        url,
        options.doc ?? moneyDocs.refundPayment,
        {
          input: { idempotencyKey: options.key ?? unique('ref'), paymentId, amount },
        },
        bearer,
      ),
    balance: async (accountId) => {
      const response = await gql(url, moneyDocs.getAccount, { id: accountId }, operator);
      expect(response.errors).toBeUndefined();
      expect(response.data?.account?.id).toBe(accountId);
      return response.data!.account.balance as Balance;
    },
    paymentIds: async (accountId) => {
      const response = await gql(url, moneyDocs.accountPayments, { id: accountId }, operator);
      expect(response.errors).toBeUndefined();
      expect(response.data?.account?.payments.pageInfo.hasNextPage).toBe(false);
      return (response.data!.account.payments.edges as Array<{ node: { id: string } }>).map((e) => e.node.id);
    },
    snapshot: async (ids) => {
      const entries = await Promise.all(
        ids.map(async (id) => [id, { balance: await kit.balance(id), payments: await kit.paymentIds(id) }] as const),
      );
      return Object.fromEntries(entries);
    },
    freeze: async (accountId) => {
      const response = await gql(url, detailDocs.freeze, { id: accountId }, operator);
      expect(response.errors).toBeUndefined();
      expect(response.data?.freezeAccount).toEqual({ __typename: 'Account', id: accountId, status: 'FROZEN' });
    },
  };
  return kit;
}

/** An account row on the shard its id names. */
export async function accountRowOf(shards: ShardSet, id: string): Promise<AccountRow | undefined> {
  const rows = await shards.of('account', id).db.select().from(accounts).where(eq(accounts.id, id));
  return rows[0];
}

/**
 * The merchant's row a payment of this payer credits: its stripe on the payer's logical shard (its own row when the
 * payer shares its home row's logical shard: ledger rules/stripe-directory.ts stripeIdOf).
 */
export async function stripeRowOf(
  shards: ShardSet,
  merchantId: string,
  payerId: string,
): Promise<AccountRow | undefined> {
  return accountRowOf(shards, stripeIdOf(merchantId, shardOf('account', payerId)));
}

/** The merchant's stripes on one database (rows whose parent it is). */
export async function stripeRowsOn(shards: ShardSet, merchantId: string, physical: number): Promise<AccountRow[]> {
  return shards.all[physical]!.db.select().from(accounts).where(eq(accounts.parentId, merchantId));
}

/** Σ of the entries, per account, of the postings that name refId, on one database. */
export async function entrySumsOfRef(shards: ShardSet, physical: number, refId: string): Promise<Map<string, bigint>> {
  const rows = await shards.all[physical]!.db.select({
    accountId: ledgerEntries.accountId,
    amount: ledgerEntries.amount,
  })
    .from(ledgerEntries)
    .innerJoin(postings, eq(postings.id, ledgerEntries.postingId))
    .where(eq(postings.refId, refId));
  const sums = new Map<string, bigint>();
  for (const r of rows) sums.set(r.accountId, (sums.get(r.accountId) ?? 0n) + r.amount);
  return sums;
}

/** The posting kinds that name refId on one database, sorted. */
export async function postingKindsOfRef(shards: ShardSet, physical: number, refId: string): Promise<string[]> {
  const rows = await shards.all[physical]!.db.select({ kind: postings.kind })
    .from(postings)
    .where(eq(postings.refId, refId));
  return rows.map((r) => r.kind).sort();
}

/**
 * The first half of a cross-shard payment, written exactly as the payment route (services/post-payment.ts) writes
 * a two-leg plan's (payer → this shard's clearing, the payment row PROCESSING, an outbox row), but
 * without the inline credit: the test decides when the outbox step runs. The outbox row comes
 * due only in an hour, so no relay of another test takes it first.
 */
export async function crossShardPaymentFirstHalf(
  shards: ShardSet,
  payer: AccountRow,
  payee: AccountRow,
  amount: bigint,
  createdBy: string,
): Promise<PaymentRow> {
  const home = shards.of('account', payer.id);
  expect(shards.of('account', payee.id)).not.toBe(home);
  const id = newId('payment', shardOf('account', payer.id));
  const clearing = await systemAccountId(shards, home, 'CLEARING', payer.currency);
  const spec = paymentDebitSpec(
    { id, currency: payer.currency, amount },
    newId('posting', shardOf('payment', id)),
    payer.id,
    clearing,
    'AVAILABLE',
  );
  const now = new Date();
  // Columns with defaults (business date, settlement) are left to them: this payment never settles.
  const row: typeof payments.$inferInsert = {
    id,
    payerAccountId: payer.id,
    payeeAccountId: payee.id,
    creditAccountId: payee.id,
    route: 'CROSS_SHARD',
    amount,
    currency: payer.currency,
    refundedAmount: 0n,
    status: 'PROCESSING',
    failureCode: null,
    description: null,
    createdBy,
    deviceId: null,
    clientIp: null,
    userAgent: null,
    createdAt: now,
    completedAt: null,
  };
  const outcome = await postOne(home, {
    kind: 'spec',
    spec,
    finish: async (_tx, result, _accounts, deferred) => {
      if (result.status !== 'APPLIED') return result.status;
      deferPayment(deferred, row);
      deferOutbox(deferred, id, 'PAYMENT_CREDIT', now, new Date(now.getTime() + 60 * 60 * 1000));
      return result.status;
    },
  });
  expect(outcome).toBe('APPLIED');
  const [stored] = await paymentsByIds(home.db, [id]);
  expect(stored?.status).toBe('PROCESSING');
  return stored!;
}

/**
 * Closes an account behind the API's back (no zero-balance check), through the ledger's own
 * status writer so the row stays sealed (a raw UPDATE would now be caught as tampering).
 */
export async function closeInSql(shards: ShardSet, accountId: string): Promise<void> {
  await inTransaction(shards.of('account', accountId), (tx) => setAccountStatus(tx, accountId, 'CLOSED', new Date()));
}
