import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { systemAccountId } from '@paygraph/shared/ledger/index';
import { amountMinorUnitsMaxDefault, balanceMinorUnitsMax, balanceMinorUnitsMin } from '@paygraph/shared/limits';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { startStack, type Stack } from '../../../../test/support/stack';
import { contractOperation, errorCodes, gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import {
  accountRowOf,
  closeInSql,
  crossShardPaymentFirstHalf,
  detailDocs,
  entrySumsOfRef,
  moneyKit,
  physicalOf,
  postingKindsOfRef,
  type Answer,
  type MoneyKit,
} from '../../../../test/support/money';
import { transferOutbox } from '@paygraph/transaction/db/schema/transactions';
import { CompletionWaits, runOutboxStep } from '@paygraph/transaction/services/relay';

/**
 * Bad input on the money path, through the gateway: amounts above AMOUNT_MAX, balances that
 * would leave BIGINT (BALANCE_LIMIT), deposits recorded by someone other than an operator or a
 * channel, and Amounts that are not decimal strings. Every refusal writes nothing: no entry, no
 * balance, no record and no idempotency key.
 */
const bulkDoc = `mutation Bulk($inputs: [CreatePaymentInput!]!) {
  createPayments(inputs: $inputs) { __typename ... on Payment { id status amount } ... on UserError { code message } ... on InvalidInput { field } }
}`;
const depositDetail = `mutation DepositDetail($input: DepositInput!) {
  deposit(input: $input) { __typename ... on Deposit { id amount } ... on UserError { code message } ... on InvalidInput { field } ... on BalanceLimit { accountId } }
}`;
const payDetail = `mutation PayDetail($input: CreatePaymentInput!) {
  createPayment(input: $input) { __typename ... on Payment { id status } ... on UserError { code message } ... on InvalidInput { field } ... on BalanceLimit { accountId } }
}`;
const withdrawDetail = `mutation WithdrawDetail($input: WithdrawInput!) {
  withdraw(input: $input) { __typename ... on Withdrawal { id } ... on UserError { code message } ... on InvalidInput { field } }
}`;
const refundDetail = `mutation RefundDetail($input: RefundPaymentInput!) {
  refundPayment(input: $input) { __typename ... on Refund { id } ... on UserError { code message } ... on InvalidInput { field } }
}`;

const aboveMax = String(amountMinorUnitsMaxDefault + 1n);

/** Rows under an idempotency key on any shard: a refused request must leave none. */
async function keyRows(shards: ShardSet, key: string): Promise<number> {
  let n = 0;
  for (const shard of shards.all) {
    const [rows] = (await shard.db.execute(
      sql`SELECT COUNT(*) AS n FROM idempotency_keys WHERE idempotency_key = ${key}`,
    )) as unknown as [Array<{ n: number | string }>];
    n += Number(rows[0]!.n);
  }
  return n;
}

/** Deposits and withdrawals recorded for an account on any shard. */
async function transfersOf(shards: ShardSet, accountId: string): Promise<number> {
  let n = 0;
  for (const shard of shards.all) {
    const [rows] = (await shard.db.execute(
      sql`SELECT COUNT(*) AS n FROM external_transfers WHERE account_id = ${accountId}`,
    )) as unknown as [Array<{ n: number | string }>];
    n += Number(rows[0]!.n);
  }
  return n;
}

function userError(response: Answer, field: string, typename: string, code: string): Record<string, any> {
  expect(response.errors, JSON.stringify(response.errors)).toBeUndefined();
  const value = response.data?.[field];
  expect(value).toMatchObject({ __typename: typename, code, message: expect.any(String) });
  return value;
}

function forbidden(response: Answer, field: string): void {
  expect(errorCodes(response)).toEqual(['FORBIDDEN']);
  expect(response.data?.[field] ?? null).toBeNull();
}

/** The stack as deployed by default (AMOUNT_MAX 10^15), for every describe but the last. */
let stack: Stack;
let kit: MoneyKit;
beforeAll(async () => {
  stack = await startStack();
  kit = await moneyKit(stack);
});
afterAll(async () => stack.stop());

describe('with the default AMOUNT_MAX', () => {
  it('refuses an amount above AMOUNT_MAX as INVALID_INPUT in every money operation, writing nothing', async () => {
    const owner = unique('max');
    const bearer = await token(owner, 'customer');
    const payer = await kit.open(owner);
    const payee = await kit.open(unique('max-payee'), { type: 'MERCHANT' });
    await kit.fund(payer, '5000');
    const paymentId = await kit.paid(bearer, { payer, payee, amount: '1000' });
    const merchantBearer = await token((await accountRowOf(stack.shards, payee))!.ownerId, 'merchant');
    const before = await kit.snapshot([payer, payee]);
    const key = unique('max');
    const field = (response: Answer, name: string) => userError(response, name, 'InvalidInput', 'INVALID_INPUT').field;

    const deposit = await gql(
      stack.gatewayUrl,
      depositDetail,
      { input: { idempotencyKey: key, accountId: payer, amount: aboveMax, currency: 'USD' } },
      kit.operator,
    );
    expect(field(deposit, 'deposit')).toBe('amount');
    expect(deposit.data!.deposit.message).toContain(String(amountMinorUnitsMaxDefault));
    const withdraw = await gql(
      stack.gatewayUrl,
      withdrawDetail,
      { input: { idempotencyKey: key, accountId: payer, amount: aboveMax, currency: 'USD' } },
      bearer,
    );
    expect(field(withdraw, 'withdraw')).toBe('amount');
    const pay = await gql(
      stack.gatewayUrl,
      payDetail,
      {
        input: { idempotencyKey: key, payerAccountId: payer, payeeAccountId: payee, amount: aboveMax, currency: 'USD' },
      },
      bearer,
    );
    expect(field(pay, 'createPayment')).toBe('amount');
    const refund = await gql(
      stack.gatewayUrl,
      refundDetail,
      { input: { idempotencyKey: key, paymentId, amount: aboveMax } },
      merchantBearer,
    );
    expect(field(refund, 'refundPayment')).toBe('amount');
    // In a bulk request the item above the maximum fails alone; its neighbours are paid.
    const bulkKeys = [unique('bulk'), key, unique('bulk')];
    const bulk = await gql(
      stack.gatewayUrl,
      bulkDoc,
      {
        inputs: bulkKeys.map((k, i) => ({
          idempotencyKey: k,
          payerAccountId: payer,
          payeeAccountId: payee,
          amount: i === 1 ? aboveMax : '10',
          currency: 'USD',
        })),
      },
      bearer,
    );
    expect(bulk.errors).toBeUndefined();
    expect(bulk.data!.createPayments.map((r: { __typename: string }) => r.__typename)).toEqual([
      'Payment',
      'InvalidInput',
      'Payment',
    ]);
    expect(bulk.data!.createPayments[1]).toMatchObject({ code: 'INVALID_INPUT', field: 'amount' });

    const after = await kit.snapshot([payer, payee]);
    expect(BigInt(after[payer]!.balance.available)).toBe(BigInt(before[payer]!.balance.available) - 20n);
    expect(after[payer]!.payments.length).toBe(before[payer]!.payments.length + 2);
    expect(await keyRows(stack.shards, key)).toBe(0);
    expect(await transfersOf(stack.shards, payer)).toBe(1);
  });

  it('takes a deposit of exactly AMOUNT_MAX, refuses 9223372036854775807, and other customers deposit on as before', async () => {
    // PLN: no other test deposits it, so this shard's PLN reserve is this test's alone.
    const whale = await kit.open(unique('whale'), { currency: 'PLN' });
    const shard = physicalOf(stack.shards, whale);
    const others = [
      await kit.open(unique('other'), { currency: 'PLN', physical: shard }),
      await kit.open(unique('other'), { currency: 'PLN', physical: shard }),
    ];
    await kit.fund(whale, String(amountMinorUnitsMaxDefault), 'PLN');
    // The deposit that used to pin the shard's reserve at the BIGINT floor is bad input now.
    const key = unique('pin');
    const pin = await gql(
      stack.gatewayUrl,
      depositDetail,
      { input: { idempotencyKey: key, accountId: others[0], amount: '9223372036854775807', currency: 'PLN' } },
      kit.operator,
    );
    expect(userError(pin, 'deposit', 'InvalidInput', 'INVALID_INPUT').field).toBe('amount');
    expect(await keyRows(stack.shards, key)).toBe(0);
    for (const other of others) {
      await kit.fund(other, '2500', 'PLN');
      expect((await kit.balance(other)).available).toBe('2500');
    }
    expect((await kit.balance(whale)).available).toBe(String(amountMinorUnitsMaxDefault));
  });

  it('lets only operators and channels record deposits; customers, merchants and partners get FORBIDDEN and write nothing', async () => {
    const owner = unique('minter');
    const mine = await kit.open(owner);
    const merchantOwner = unique('minter-m');
    const merchantAccount = await kit.open(merchantOwner, { type: 'MERCHANT' });
    const callers: Array<[string, string]> = [
      [await token(owner, 'customer'), mine],
      [await token(merchantOwner, 'merchant'), merchantAccount],
      [await token(owner, 'partner'), mine],
    ];
    const key = unique('mint');
    for (const [bearer, accountId] of callers) {
      forbidden(await kit.deposit(accountId, '1000000', { bearer, key }), 'deposit');
    }
    expect(await keyRows(stack.shards, key)).toBe(0);
    for (const id of [mine, merchantAccount]) {
      expect(await kit.balance(id)).toEqual({ available: '0', frozen: '0', pending: '0', total: '0' });
      expect(await transfersOf(stack.shards, id)).toBe(0);
    }

    // A channel records a deposit into anyone's account and reads back what it credited.
    const channel = await token(unique('bank-channel'), 'channel');
    const byChannel = await gql(
      stack.gatewayUrl,
      contractOperation('Deposit'),
      {
        input: {
          idempotencyKey: unique('chan'),
          accountId: mine,
          amount: '700',
          currency: 'USD',
          externalRef: unique('wire'),
        },
      },
      channel,
    );
    expect(byChannel.errors).toBeUndefined();
    expect(byChannel.data!.deposit).toMatchObject({
      __typename: 'Deposit',
      status: 'SUCCEEDED',
      amount: '700',
      account: { id: mine, balance: { available: '700' } },
    });
    expect(await kit.balance(mine)).toMatchObject({ available: '700' });
  });

  it('gives a channel deposits only: no withdrawal, payment, refund, account or payment read, or new account', async () => {
    const owner = unique('chan-owner');
    const bearer = await token(owner, 'customer');
    const account = await kit.open(owner);
    const payee = await kit.open(unique('chan-payee'));
    await kit.fund(account, '1000');
    const paymentId = await kit.paid(bearer, { payer: account, payee, amount: '100' });
    const channelSub = unique('card-channel');
    const channel = await token(channelSub, 'channel');
    const before = await kit.snapshot([account, payee]);
    forbidden(await kit.withdraw(channel, account, '10'), 'withdraw');
    forbidden(await kit.pay(channel, { payer: account, payee, amount: '10' }), 'createPayment');
    forbidden(await kit.refund(channel, paymentId, '10'), 'refundPayment');
    forbidden(await gql(stack.gatewayUrl, contractOperation('GetAccount'), { id: account }, channel), 'account');
    forbidden(await gql(stack.gatewayUrl, contractOperation('GetPayment'), { id: paymentId }, channel), 'payment');
    const opened = await gql(
      stack.gatewayUrl,
      contractOperation('OpenAccount'),
      { input: { ownerId: channelSub, type: 'PERSONAL', currency: 'USD' } },
      channel,
    );
    expect(opened.data?.openAccount?.__typename ?? errorCodes(opened)[0]).not.toBe('Account');
    expect(await kit.snapshot([account, payee])).toEqual(before);
  });
});

describe('Amount takes decimal strings only', () => {
  const literalDeposit = (accountId: string, key: string, amountLiteral: string) =>
    `mutation { deposit(input: { idempotencyKey: "${key}", accountId: "${accountId}", amount: ${amountLiteral}, currency: "USD" }) { __typename ... on UserError { code } } }`;

  function badInput(response: Answer): void {
    expect(response.data?.deposit ?? null).toBeNull();
    const codes = errorCodes(response);
    expect(codes.length).toBeGreaterThan(0);
    expect(
      codes.every((c) => c === 'BAD_USER_INPUT' || c === 'GRAPHQL_VALIDATION_FAILED'),
      JSON.stringify(response.errors),
    ).toBe(true);
    expect(JSON.stringify(response.errors)).toContain('Amount');
  }

  it('refuses JSON numbers and unquoted literals, and malformed or out-of-range strings, as a variable and as a literal, writing nothing', async () => {
    const account = await kit.open(unique('scalar'));
    const key = unique('scalar');
    // 2^53 + 1 on purpose: a JSON number that cannot be an exact amount.
    // eslint-disable-next-line no-loss-of-precision
    const numbers: unknown[] = [100, 12.5, 9007199254740993, true, { amount: '1' }, ['1']];
    for (const amount of numbers) {
      badInput(
        await gql(
          stack.gatewayUrl,
          contractOperation('Deposit'),
          { input: { idempotencyKey: key, accountId: account, amount, currency: 'USD' } },
          kit.operator,
        ),
      );
    }
    for (const literal of ['100', '12.5', '1e3', 'true', 'USD']) {
      badInput(await gql(stack.gatewayUrl, literalDeposit(account, key, literal), {}, kit.operator));
    }
    const malformed = [
      '+5',
      ' 5',
      '5 ',
      '12.5',
      '1e3',
      '05',
      '',
      'abc',
      '0x10',
      '1_000',
      '9223372036854775808',
      '-9223372036854775809',
    ];
    for (const amount of malformed) {
      badInput(
        await gql(
          stack.gatewayUrl,
          contractOperation('Deposit'),
          { input: { idempotencyKey: key, accountId: account, amount, currency: 'USD' } },
          kit.operator,
        ),
      );
      badInput(await gql(stack.gatewayUrl, literalDeposit(account, key, JSON.stringify(amount)), {}, kit.operator));
    }
    expect(await kit.balance(account)).toEqual({ available: '0', frozen: '0', pending: '0', total: '0' });
    expect(await keyRows(stack.shards, key)).toBe(0);
    expect(await transfersOf(stack.shards, account)).toBe(0);

    // A signed decimal string is an Amount (entries answer them); below one it is INVALID_INPUT.
    for (const amount of ['-5', '0']) {
      const answered = await gql(
        stack.gatewayUrl,
        literalDeposit(account, key, JSON.stringify(amount)),
        {},
        kit.operator,
      );
      expect(answered.errors).toBeUndefined();
      expect(answered.data!.deposit).toEqual({ __typename: 'InvalidInput', code: 'INVALID_INPUT' });
    }
    // The same key with a good string amount, literal and variable: the key was never claimed.
    const good = await gql(stack.gatewayUrl, literalDeposit(account, key, '"100"'), {}, kit.operator);
    expect(good.data!.deposit).toEqual({ __typename: 'Deposit' });
    await kit.fund(account, '50');
    expect((await kit.balance(account)).available).toBe('150');
  });
});

describe('BALANCE_LIMIT, with AMOUNT_MAX raised to the BIGINT maximum', () => {
  // A deployment that set AMOUNT_MAX as high as it goes: the ledger must still refuse, per
  // posting, what its columns cannot hold. CZK: no other test moves it, so the reserve is ours.
  let raised: Stack;
  beforeAll(async () => {
    raised = await startStack({ transaction: { amountMax: balanceMinorUnitsMax } });
  });
  afterAll(async () => raised.stop());

  it('answers BalanceLimit, never INTERNAL_SERVER_ERROR, for a deposit past the reserve and a payment past a payee; only that posting is refused', async () => {
    const stack = raised;
    const kit = await moneyKit(raised);
    const whale = await kit.open(unique('whale'), { currency: 'CZK' });
    const physical = physicalOf(stack.shards, whale);
    const shard = stack.shards.all[physical]!;
    const [small, late] = [
      await kit.open(unique('small'), { currency: 'CZK', physical }),
      await kit.open(unique('late'), { currency: 'CZK', physical }),
    ];
    const usd = [await kit.open(unique('usd'), { physical }), await kit.open(unique('usd'), { physical })];
    const reserveId = await systemAccountId(stack.shards, shard, 'RESERVE', 'CZK');
    const reserve = async () => (await accountRowOf(stack.shards, reserveId))!.available;

    // npm test recreates the databases and no other test moves CZK: the reserve starts at zero,
    // and can give 2^63 units. The whale gets the BIGINT maximum, small the last unit.
    expect(await reserve()).toBe(0n);
    await kit.fund(whale, String(balanceMinorUnitsMax), 'CZK');
    await kit.fund(small, '1', 'CZK');
    expect(await reserve()).toBe(balanceMinorUnitsMin);
    expect((await kit.balance(whale)).available).toBe(String(balanceMinorUnitsMax));

    // One more deposit would push the reserve below BIGINT: BalanceLimit on the reserve alone,
    // while USD deposits on the same shard, sent at the same moment (so the merger may well put
    // them into one transaction with it), go through.
    const key = unique('over');
    const [over, ...usdDeposits] = await Promise.all([
      gql(
        stack.gatewayUrl,
        depositDetail,
        { input: { idempotencyKey: key, accountId: late, amount: '1', currency: 'CZK' } },
        kit.operator,
      ),
      ...usd.map((id) => kit.deposit(id, '300')),
    ]);
    expect(userError(over, 'deposit', 'BalanceLimit', 'BALANCE_LIMIT')).toMatchObject({ accountId: reserveId });
    for (const answer of usdDeposits)
      expect(answer.data!.deposit).toMatchObject({ __typename: 'Deposit', status: 'SUCCEEDED' });
    expect(await reserve()).toBe(balanceMinorUnitsMin);
    expect(await kit.balance(late)).toEqual({ available: '0', frozen: '0', pending: '0', total: '0' });
    expect(await transfersOf(stack.shards, late)).toBe(0);
    // The refusal is the request's outcome: a replay answers it again and still writes nothing.
    const replay = await gql(
      stack.gatewayUrl,
      depositDetail,
      { input: { idempotencyKey: key, accountId: late, amount: '1', currency: 'CZK' } },
      kit.operator,
    );
    expect(replay.data!.deposit).toMatchObject({ __typename: 'BalanceLimit', code: 'BALANCE_LIMIT' });

    // small pays its unit to the whale, past what the whale's column holds: BalanceLimit on the
    // whale, and nothing moves.
    const smallOwner = (await accountRowOf(stack.shards, small))!.ownerId;
    const pay = await gql(
      stack.gatewayUrl,
      payDetail,
      {
        input: {
          idempotencyKey: unique('pay'),
          payerAccountId: small,
          payeeAccountId: whale,
          amount: '1',
          currency: 'CZK',
        },
      },
      await token(smallOwner, 'customer'),
    );
    expect(userError(pay, 'createPayment', 'BalanceLimit', 'BALANCE_LIMIT')).toMatchObject({ accountId: whale });
    expect((await kit.balance(small)).available).toBe('1');
    expect((await kit.balance(whale)).available).toBe(String(balanceMinorUnitsMax));

    // Once the whale takes its money out, deposits flow again.
    const whaleOwner = (await accountRowOf(stack.shards, whale))!.ownerId;
    const out = await kit.withdraw(await token(whaleOwner, 'customer'), whale, String(balanceMinorUnitsMax), {
      currency: 'CZK',
    });
    expect(out.data!.withdraw).toMatchObject({ __typename: 'Withdrawal', status: 'SUCCEEDED' });
    await kit.fund(late, '5', 'CZK');
    expect((await kit.balance(late)).available).toBe('5');
  });

  /** The outbox row of a cross-shard movement on its home database: PENDING until it completes. */
  async function outboxStatus(physical: number, id: string): Promise<string | undefined> {
    const [row] = await raised.shards.all[physical]!.db.select().from(transferOutbox).where(eq(transferOutbox.id, id));
    return row?.status;
  }
  const customer = async (accountId: string) =>
    token((await accountRowOf(raised.shards, accountId))!.ownerId, 'customer');

  /**
   * Like a payee that closed: the debit committed, the credit was refused, the payment FAILED
   * with BALANCE_LIMIT and was reversed on the payer's shard, where each of its `accounts`
   * accounts nets to zero; nothing posted on the payee's. The payer was funded with 1000.
   */
  async function expectReversed(
    kit: MoneyKit,
    answer: Answer,
    payer: string,
    payee: string,
    accounts: number,
  ): Promise<void> {
    expect(answer.errors, JSON.stringify(answer.errors)).toBeUndefined();
    expect(answer.data!.createPayment).toMatchObject({ __typename: 'Payment', status: 'FAILED' });
    const id = answer.data!.createPayment.id as string;
    const detail = await gql(raised.gatewayUrl, detailDocs.paymentDetail, { id }, kit.operator);
    expect(detail.data!.payment).toMatchObject({ status: 'FAILED', failureCode: 'BALANCE_LIMIT' });
    const payerDb = physicalOf(raised.shards, payer);
    expect(await outboxStatus(payerDb, id)).toBe('DONE');
    expect((await kit.balance(payer)).available).toBe('1000');
    expect((await kit.balance(payee)).available).toBe(String(balanceMinorUnitsMax));
    expect([...(await entrySumsOfRef(raised.shards, payerDb, id)).values()]).toEqual(
      Array.from({ length: accounts }, () => 0n),
    );
    expect(await postingKindsOfRef(raised.shards, payerDb, id)).toEqual(['PAYMENT', 'PAYMENT_REVERSAL']);
    expect(await postingKindsOfRef(raised.shards, physicalOf(raised.shards, payee), id)).toEqual([]);
  }

  it("fails a cross-shard payment whose credit BALANCE_LIMIT refuses on the payee's shard and returns the money to the payer", async () => {
    // BRL: no other test moves it.
    const kit = await moneyKit(raised);
    const payee = await kit.open(unique('full-payee'), { currency: 'BRL' });
    const payer = await kit.openAwayFrom(unique('payer'), [physicalOf(raised.shards, payee)], { currency: 'BRL' });
    await kit.fund(payee, String(balanceMinorUnitsMax), 'BRL');
    await kit.fund(payer, '1000', 'BRL');
    const answer = await gql(
      raised.gatewayUrl,
      payDetail,
      {
        input: {
          idempotencyKey: unique('pay'),
          payerAccountId: payer,
          payeeAccountId: payee,
          amount: '100',
          currency: 'BRL',
        },
      },
      await customer(payer),
    );
    // Through clearing and back: the payer and clearing.
    await expectReversed(kit, answer, payer, payee, 2);
  });

  it('fails a cross-shard FX payment whose credit BALANCE_LIMIT refuses, all or nothing: payer and FX positions back where they were', async () => {
    // SGD → HKD: no other test moves them (its databases are its own: test/support/database-sets.ts).
    const kit = await moneyKit(raised);
    const set = await gql(
      raised.gatewayUrl,
      contractOperation('SetFxRate'),
      { input: { baseCurrency: 'SGD', quoteCurrency: 'HKD', rate: '5.8123' } },
      kit.operator,
    );
    expect(set.data!.setFxRate).toMatchObject({ __typename: 'FxRate' });
    const payee = await kit.open(unique('full-hkd'), { currency: 'HKD' });
    const payer = await kit.openAwayFrom(unique('sgd-payer'), [physicalOf(raised.shards, payee)], { currency: 'SGD' });
    await kit.fund(payee, String(balanceMinorUnitsMax), 'HKD');
    await kit.fund(payer, '1000', 'SGD');
    const bearer = await customer(payer);
    const quoted = await gql(
      raised.gatewayUrl,
      contractOperation('CreateFxQuote'),
      { input: { sellCurrency: 'SGD', buyCurrency: 'HKD', sellAmount: '100' } },
      bearer,
    );
    const quote = quoted.data!.createFxQuote as { id: string; buyAmount: string };
    expect(quote.buyAmount).toBe('581');
    const answer = await gql(
      raised.gatewayUrl,
      payDetail,
      {
        input: {
          idempotencyKey: unique('fxpay'),
          payerAccountId: payer,
          payeeAccountId: payee,
          amount: '100',
          currency: 'SGD',
          fxQuoteId: quote.id,
        },
      },
      bearer,
    );
    // Through the FX positions and back: the payer, the positions in SGD and in HKD, and clearing in HKD.
    await expectReversed(kit, answer, payer, payee, 4);
  });

  it("keeps a reversal the payer's full balance cannot take in clearing, PROCESSING, and completes it once there is room", async () => {
    // MXN: no other test moves it. The payer's balance fills up between its payment's debit and
    // the reversal (deposits meanwhile): the money is the payer's and can go nowhere else.
    const kit = await moneyKit(raised);
    const payer = await kit.open(unique('payer'), { currency: 'MXN' });
    const payerDb = physicalOf(raised.shards, payer);
    const payee = await kit.openAwayFrom(unique('payee'), [payerDb], { currency: 'MXN' });
    await kit.fund(payer, '100', 'MXN');
    const payerOwner = (await accountRowOf(raised.shards, payer))!.ownerId;
    const pending = await crossShardPaymentFirstHalf(
      raised.shards,
      (await accountRowOf(raised.shards, payer))!,
      (await accountRowOf(raised.shards, payee))!,
      100n,
      payerOwner,
    );
    // The reserve goes to the BIGINT floor exactly; the payer to one unit short of taking the 100 back.
    await kit.fund(payer, String(2n ** 63n - 100n), 'MXN');
    const full = balanceMinorUnitsMax - 99n;
    expect((await kit.balance(payer)).available).toBe(String(full));
    await closeInSql(raised.shards, payee);
    const home = raised.shards.all[payerDb]!;
    for (let run = 0; run < 2; run++) {
      // What the relay runs, twice: it waits each time, and crashes nothing.
      await expect(runOutboxStep(raised.shards, home, pending.id, () => new Date())).rejects.toBeInstanceOf(
        CompletionWaits,
      );
      const waiting = await gql(raised.gatewayUrl, detailDocs.paymentDetail, { id: pending.id }, kit.operator);
      expect(waiting.data!.payment).toMatchObject({ status: 'PROCESSING', failureCode: null });
      expect(await outboxStatus(payerDb, pending.id)).toBe('PENDING');
      expect((await kit.balance(payer)).available).toBe(String(full));
      // The 100 sits in clearing, as money in flight.
      const sums = await entrySumsOfRef(raised.shards, payerDb, pending.id);
      expect(sums.get(payer)).toBe(-100n);
      expect([...sums.values()].sort()).toEqual([-100n, 100n]);
      expect(await postingKindsOfRef(raised.shards, payerDb, pending.id)).toEqual(['PAYMENT']);
    }
    const out = await kit.withdraw(await token(payerOwner, 'customer'), payer, '1000', { currency: 'MXN' });
    expect(out.data!.withdraw).toMatchObject({ __typename: 'Withdrawal' });
    await runOutboxStep(raised.shards, home, pending.id, () => new Date());
    const failed = await gql(raised.gatewayUrl, detailDocs.paymentDetail, { id: pending.id }, kit.operator);
    expect(failed.data!.payment).toMatchObject({ status: 'FAILED', failureCode: 'ACCOUNT_NOT_ACTIVE' });
    expect(await outboxStatus(payerDb, pending.id)).toBe('DONE');
    expect((await kit.balance(payer)).available).toBe(String(full - 1000n + 100n));
    expect([...(await entrySumsOfRef(raised.shards, payerDb, pending.id)).values()]).toEqual([0n, 0n]);
    expect(await postingKindsOfRef(raised.shards, payerDb, pending.id)).toEqual(['PAYMENT', 'PAYMENT_REVERSAL']);
  });

  it("keeps a refund's credit the payer's full balance cannot take in clearing, PROCESSING, and completes it once there is room", async () => {
    // ZAR: no other test moves it.
    const kit = await moneyKit(raised);
    const payer = await kit.open(unique('payer'), { currency: 'ZAR' });
    const payerDb = physicalOf(raised.shards, payer);
    const payee = await kit.openAwayFrom(unique('payee'), [payerDb], { currency: 'ZAR' });
    const payeeDb = physicalOf(raised.shards, payee);
    await kit.fund(payer, '100', 'ZAR');
    const paymentId = await kit.paid(await customer(payer), { payer, payee, amount: '100', currency: 'ZAR' });
    expect((await kit.balance(payee)).available).toBe('100');
    await kit.fund(payer, String(2n ** 63n - 100n), 'ZAR');
    const full = balanceMinorUnitsMax - 99n;

    const answer = await gql(
      raised.gatewayUrl,
      refundDetail.replace('... on Refund { id }', '... on Refund { id status }'),
      { input: { idempotencyKey: unique('refund'), paymentId, amount: '100' } },
      await customer(payee),
    );
    expect(answer.errors, JSON.stringify(answer.errors)).toBeUndefined();
    // The payee has paid it back; the payer cannot take it yet: PROCESSING, never an error.
    expect(answer.data!.refundPayment).toMatchObject({ __typename: 'Refund', status: 'PROCESSING' });
    const refundId = answer.data!.refundPayment.id as string;
    const home = raised.shards.all[payerDb]!;
    await expect(runOutboxStep(raised.shards, home, refundId, () => new Date())).rejects.toBeInstanceOf(
      CompletionWaits,
    );
    expect(await outboxStatus(payerDb, refundId)).toBe('PENDING');
    expect((await kit.balance(payee)).available).toBe('0');
    expect((await kit.balance(payer)).available).toBe(String(full));
    // The 100 is in the payee's shard's clearing, in flight; the payer's shard posted nothing yet.
    const remote = await entrySumsOfRef(raised.shards, payeeDb, refundId);
    expect(remote.get(payee)).toBe(-100n);
    expect([...remote.values()].sort()).toEqual([-100n, 100n]);
    expect(await postingKindsOfRef(raised.shards, payerDb, refundId)).toEqual([]);

    const out = await kit.withdraw(await customer(payer), payer, '1000', { currency: 'ZAR' });
    expect(out.data!.withdraw).toMatchObject({ __typename: 'Withdrawal' });
    await runOutboxStep(raised.shards, home, refundId, () => new Date());
    expect(await outboxStatus(payerDb, refundId)).toBe('DONE');
    const detail = await gql(raised.gatewayUrl, detailDocs.paymentDetail, { id: paymentId }, kit.operator);
    expect(detail.data!.payment).toMatchObject({
      status: 'SUCCEEDED',
      refundedAmount: '100',
      refunds: [{ id: refundId, amount: '100', status: 'SUCCEEDED', failureCode: null }],
    });
    expect((await kit.balance(payer)).available).toBe(String(full - 1000n + 100n));
    const local = await entrySumsOfRef(raised.shards, payerDb, refundId);
    expect(local.get(payer)).toBe(100n);
    expect([...local.values()].sort()).toEqual([-100n, 100n]);
  });
});
