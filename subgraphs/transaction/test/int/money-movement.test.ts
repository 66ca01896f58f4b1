import { describe, it, expect } from 'vitest';
import { newId, toLogicalShard } from '@paygraph/shared/ids';
import type { Stack } from '../../../../test/support/stack';
import { errorCodes, gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { detailDocs, moneyDocs, type Answer, type MoneyKit, useMoneyStack } from '../../../../test/support/money';

/**
 * Deposits, withdrawals, payments and refunds as clients send them: the contract documents
 * verbatim, through the gateway over HTTP, every shard a real database. Each test makes its
 * own owners, so what other tests write in parallel never shows up in its accounts.
 */
let stack: Stack;
let kit: MoneyKit;
useMoneyStack((started) => ({ stack, kit } = started));

const at = (v: string) => ({ available: v, frozen: '0', pending: '0', total: v });

/** A union answer that is the given UserError: no GraphQL error, the code and a message. */
function refusal(response: Answer, field: string, typename: string, code: string): Record<string, any> {
  expect(response.errors).toBeUndefined();
  const value = response.data?.[field];
  expect(value).toMatchObject({ __typename: typename, code, message: expect.any(String) });
  expect(value.message).not.toBe('');
  return value;
}

function forbiddenAnswer(response: Answer, field: string): void {
  expect(errorCodes(response)).toEqual(['FORBIDDEN']);
  expect(response.data?.[field] ?? null).toBeNull();
}

describe('client text that looks like SQL', () => {
  it('is stored and answered as plain values, in keys, descriptions and ids, and stacks no statement', async () => {
    const owner = unique('sqlish');
    const bearer = await token(owner, 'customer');
    const payer = await kit.open(owner);
    const payee = await kit.open(unique('sqlish-payee'));
    await kit.fund(payer, '1000');
    const hostile = "x'); DELETE FROM payments; DROP TABLE ledger_entries; -- \\' \" ;";
    // Keys are printable ASCII without spaces.
    const hostileKey = `${unique('k')}x');DELETE/**/FROM/**/payments;--\\'"`;
    const paid = await kit.pay(bearer, { payer, payee, amount: '100', key: hostileKey, description: hostile });
    expect(paid.errors).toBeUndefined();
    expect(paid.data!.createPayment).toMatchObject({ __typename: 'Payment', status: 'SUCCEEDED' });
    const id = paid.data!.createPayment.id as string;
    const read = await gql(stack.gatewayUrl, 'query($id: ID!) { payment(id: $id) { id description } }', { id }, bearer);
    expect(read.data!.payment).toEqual({ id, description: hostile });
    // The same key again is a replay of that payment, found by its exact text.
    const again = await kit.pay(bearer, { payer, payee, amount: '100', key: hostileKey, description: hostile });
    expect(again.data!.createPayment).toMatchObject({ __typename: 'Payment', id });
    // An id made of SQL is refused as malformed before any statement.
    const refused = await kit.pay(bearer, { payer, payee: `acc_${hostile}`, amount: '1' });
    expect(refused.data!.createPayment).toMatchObject({ __typename: 'InvalidInput' });
    // Everything is still there: the tables, the entries, the balances.
    expect(await kit.balance(payer)).toEqual(at('900'));
    expect(await kit.balance(payee)).toEqual(at('100'));
    expect(await kit.paymentIds(payer)).toEqual([id]);
  });
});

describe('money movement through the gateway', () => {
  it('answers Deposit, Withdraw, CreatePayment, RefundPayment, GetPayment and AccountPayments with the selected types and exact balances', async () => {
    const payerOwner = unique('payer');
    const payeeOwner = unique('payee');
    const merchantOwner = unique('merchant');
    const payerToken = await token(payerOwner, 'customer');
    const merchantToken = await token(merchantOwner, 'merchant');
    const payer = await kit.open(payerOwner);
    const payee = await kit.open(payeeOwner);
    const merchant = await kit.open(merchantOwner, { type: 'MERCHANT' });

    const externalRef = unique('bank');
    const deposited = await kit.deposit(payer, '10000', { externalRef });
    expect(deposited.status).toBe(200);
    expect(deposited.errors).toBeUndefined();
    expect(deposited.data!.deposit).toEqual({
      __typename: 'Deposit',
      id: expect.stringMatching(/^dep_[0-9A-Z]{26}_[0-9a-f]{2}$/),
      status: 'SUCCEEDED',
      amount: '10000',
      currency: 'USD',
      externalRef,
      account: { id: payer, balance: { available: '10000' } },
    });
    expect(await kit.balance(payer)).toEqual(at('10000'));

    const paid = await kit.pay(payerToken, { payer, payee, amount: '2500', description: 'dinner' });
    expect(paid.errors).toBeUndefined();
    const personalPayment = paid.data!.createPayment;
    expect(personalPayment).toEqual({
      __typename: 'Payment',
      id: expect.stringMatching(/^pay_[0-9A-Z]{26}_[0-9a-f]{2}$/),
      status: 'SUCCEEDED',
      amount: '2500',
      currency: 'USD',
      refundedAmount: '0',
      payer: { id: payer },
      payee: { id: payee },
      createdAt: expect.any(String),
    });
    expect(Number.isNaN(Date.parse(personalPayment.createdAt))).toBe(false);
    expect(await kit.balance(payer)).toEqual(at('7500'));
    expect(await kit.balance(payee)).toEqual(at('2500'));

    // A merchant is credited in pending (not yet settled), not in available.
    const toMerchant = await kit.pay(payerToken, { payer, payee: merchant, amount: '1000' });
    expect(toMerchant.errors).toBeUndefined();
    const merchantPayment = toMerchant.data!.createPayment;
    expect(merchantPayment).toMatchObject({
      __typename: 'Payment',
      status: 'SUCCEEDED',
      amount: '1000',
      payee: { id: merchant },
    });
    expect(await kit.balance(payer)).toEqual(at('6500'));
    expect(await kit.balance(merchant)).toEqual({ available: '0', frozen: '0', pending: '1000', total: '1000' });

    const withdrawn = await kit.withdraw(payerToken, payer, '500');
    expect(withdrawn.errors).toBeUndefined();
    expect(withdrawn.data!.withdraw).toEqual({
      __typename: 'Withdrawal',
      id: expect.stringMatching(/^wdr_/),
      status: 'SUCCEEDED',
      amount: '500',
      currency: 'USD',
      externalRef: null,
      account: { id: payer, balance: { available: '6000' } },
    });
    expect(await kit.balance(payer)).toEqual(at('6000'));

    const refunded = await kit.refund(merchantToken, merchantPayment.id, '400');
    expect(refunded.errors).toBeUndefined();
    const refund = refunded.data!.refundPayment;
    expect(refund).toEqual({
      __typename: 'Refund',
      id: expect.stringMatching(/^ref_/),
      status: 'SUCCEEDED',
      amount: '400',
      payment: { id: merchantPayment.id, status: 'SUCCEEDED', refundedAmount: '400' },
    });
    expect(await kit.balance(payer)).toEqual(at('6400'));
    expect(await kit.balance(merchant)).toEqual({ available: '0', frozen: '0', pending: '600', total: '600' });

    const read = await gql(stack.gatewayUrl, moneyDocs.getPayment, { id: merchantPayment.id }, kit.operator);
    expect(read.errors).toBeUndefined();
    expect(read.data!.payment).toEqual({
      id: merchantPayment.id,
      status: 'SUCCEEDED',
      amount: '1000',
      currency: 'USD',
      refundedAmount: '400',
      payer: { id: payer, balance: { available: '6400' } },
      payee: { id: merchant, balance: { pending: '600', available: '0' } },
      refunds: [{ id: refund.id, amount: '400', status: 'SUCCEEDED' }],
    });

    const listed = await gql(stack.gatewayUrl, moneyDocs.accountPayments, { id: payer }, payerToken);
    expect(listed.errors).toBeUndefined();
    expect(listed.data!.account).toEqual({
      id: payer,
      payments: {
        edges: [
          { node: { id: merchantPayment.id, status: 'SUCCEEDED', amount: '1000' } },
          { node: { id: personalPayment.id, status: 'SUCCEEDED', amount: '2500' } },
        ],
        pageInfo: { hasNextPage: false, endCursor: expect.any(String) },
      },
    });
    expect(await kit.paymentIds(payee)).toEqual([personalPayment.id]);
    expect(await kit.paymentIds(merchant)).toEqual([merchantPayment.id]);
  });

  it('refuses bad input with INVALID_INPUT and writes nothing, not even the idempotency key', async () => {
    const owner = unique('invalid');
    const bearer = await token(owner, 'customer');
    const payer = await kit.open(owner);
    const payee = await kit.open(unique('invalid-payee'));
    await kit.fund(payer, '5000');
    const before = await kit.snapshot([payer, payee]);
    const key = unique('bad');

    // Amounts that are Amounts (decimal strings) but not above zero, or above AMOUNT_MAX.
    for (const amount of ['0', '-5', '1000000000000001']) {
      const answered = await kit.pay(bearer, { payer, payee, amount, key });
      refusal(answered, 'createPayment', 'InvalidInput', 'INVALID_INPUT');
      const detailed = await kit.pay(bearer, { payer, payee, amount, key }, detailDocs.createPayment);
      expect(refusal(detailed, 'createPayment', 'InvalidInput', 'INVALID_INPUT').field).toBe('amount');
    }
    // Anything else is not an Amount at all: the request is malformed (money-limits.test.ts has every form).
    const notAmounts: Array<string | number> = ['12.5', 'abc', '9223372036854775808', 12.5, 100, '1e3', ' 5', ''];
    for (const amount of notAmounts) {
      const answered = await kit.pay(bearer, { payer, payee, amount, key });
      expect(errorCodes(answered), String(amount)).toEqual(['BAD_USER_INPUT']);
      expect(answered.data?.createPayment ?? null).toBeNull();
    }
    const badOther: Array<[Partial<Parameters<MoneyKit['pay']>[1]>, string]> = [
      [{ currency: 'usd' }, 'currency'],
      [{ payer: 'acc_not-an-id' }, 'payerAccountId'],
      [{ payer: payer.replace(/_[0-9a-f]{2}$/, '_zz') }, 'payerAccountId'],
      [{ payee: 'pay_01JDP5Z9K3M4N6Q7R8S9T0V1WX_00' }, 'payeeAccountId'],
    ];
    for (const [change, field] of badOther) {
      const input = { payer, payee, amount: '100', key, ...change };
      refusal(await kit.pay(bearer, input), 'createPayment', 'InvalidInput', 'INVALID_INPUT');
      expect(
        refusal(
          await kit.pay(bearer, input, detailDocs.createPayment),
          'createPayment',
          'InvalidInput',
          'INVALID_INPUT',
        ).field,
      ).toBe(field);
    }
    // A code shaped like a platform asset (issue 48: 3-8 capitals outside ISO 4217) is no input error to a payment:
    // its accounts hold USD, so its plan refuses it, with nothing moved (the snapshot below), under a key of its own.
    refusal(
      await kit.pay(bearer, { payer, payee, amount: '100', key: unique('bad'), currency: 'XYZ' }),
      'createPayment',
      'CurrencyMismatch',
      'CURRENCY_MISMATCH',
    );
    // Deposit, Withdraw and RefundPayment check their input the same way.
    refusal(await kit.deposit(payer, '-5', { key }), 'deposit', 'InvalidInput', 'INVALID_INPUT');
    refusal(await kit.deposit(payer, '100', { key, currency: 'XYZ' }), 'deposit', 'InvalidInput', 'INVALID_INPUT');
    refusal(await kit.withdraw(bearer, payer, '0', { key }), 'withdraw', 'InvalidInput', 'INVALID_INPUT');
    expect(errorCodes(await kit.withdraw(bearer, payer, '12.5', { key }))).toEqual(['BAD_USER_INPUT']);
    refusal(
      await kit.refund(kit.operator, 'pay_nope', '100', { key }),
      'refundPayment',
      'InvalidInput',
      'INVALID_INPUT',
    );
    refusal(
      await kit.refund(kit.operator, newId('payment', toLogicalShard(3)), '0', { key }),
      'refundPayment',
      'InvalidInput',
      'INVALID_INPUT',
    );

    expect(await kit.snapshot([payer, payee])).toEqual(before);
    // None of the refusals claimed the key: a good request with it is a fresh payment.
    const fresh = await kit.pay(bearer, { payer, payee, amount: '100', key });
    expect(fresh.errors).toBeUndefined();
    expect(fresh.data!.createPayment).toMatchObject({ __typename: 'Payment', status: 'SUCCEEDED', amount: '100' });
    expect(await kit.balance(payer)).toEqual(at('4900'));
  });

  it('refuses unknown, inactive, mismatched and identical accounts and short balances, writing nothing', async () => {
    const owner = unique('refused');
    const bearer = await token(owner, 'customer');
    const payer = await kit.open(owner);
    const frozenPayer = await kit.open(owner);
    const payee = await kit.open(unique('refused-payee'));
    const frozenPayee = await kit.open(unique('refused-frozen'));
    const euro = await kit.open(unique('refused-eur'), { currency: 'EUR' });
    await kit.fund(payer, '5000');
    await kit.fund(frozenPayer, '5000');
    await kit.freeze(frozenPayee);
    await kit.freeze(frozenPayer);
    const all = [payer, frozenPayer, payee, frozenPayee, euro];
    const before = await kit.snapshot(all);
    expect(before[frozenPayer]!.balance).toEqual(at('5000'));

    const missing = newId('account', toLogicalShard(7));
    const pay = async (input: Parameters<MoneyKit['pay']>[1], typename: string, code: string) => {
      const key = unique('k');
      refusal(await kit.pay(bearer, { ...input, key }), 'createPayment', typename, code);
      // The same request again (same key) with every field of the refusal selected.
      return refusal(
        await kit.pay(bearer, { ...input, key }, detailDocs.createPayment),
        'createPayment',
        typename,
        code,
      );
    };

    expect(await pay({ payer, payee: missing, amount: '100' }, 'AccountNotFound', 'ACCOUNT_NOT_FOUND')).toMatchObject({
      accountId: missing,
    });
    expect(await pay({ payer: missing, payee, amount: '100' }, 'AccountNotFound', 'ACCOUNT_NOT_FOUND')).toMatchObject({
      accountId: missing,
    });
    expect(
      await pay({ payer, payee: frozenPayee, amount: '100' }, 'AccountNotActive', 'ACCOUNT_NOT_ACTIVE'),
    ).toMatchObject({ accountId: frozenPayee, accountStatus: 'FROZEN' });
    expect(
      await pay({ payer: frozenPayer, payee, amount: '100' }, 'AccountNotActive', 'ACCOUNT_NOT_ACTIVE'),
    ).toMatchObject({ accountId: frozenPayer, accountStatus: 'FROZEN' });
    expect(await pay({ payer, payee: euro, amount: '100' }, 'CurrencyMismatch', 'CURRENCY_MISMATCH')).toMatchObject({
      accountId: euro,
      accountCurrency: 'EUR',
      requestCurrency: 'USD',
    });
    expect(await pay({ payer, payee: payer, amount: '100' }, 'AccountsMustBeDifferent', 'SAME_ACCOUNT')).toMatchObject({
      accountId: payer,
    });
    expect(await pay({ payer, payee, amount: '5001' }, 'InsufficientFunds', 'INSUFFICIENT_FUNDS')).toMatchObject({
      accountId: payer,
      available: '5000',
    });
    // The payer's currency is checked too: a EUR payment from a USD account.
    expect(
      await pay({ payer, payee: euro, amount: '100', currency: 'EUR' }, 'CurrencyMismatch', 'CURRENCY_MISMATCH'),
    ).toMatchObject({ accountId: payer, accountCurrency: 'USD', requestCurrency: 'EUR' });

    const withdrawDetail = (accountId: string, amount: string, key = unique('w')) =>
      gql(
        stack.gatewayUrl,
        detailDocs.withdraw,
        { input: { idempotencyKey: key, accountId, amount, currency: 'USD' } },
        bearer,
      );
    refusal(await kit.withdraw(bearer, payer, '5001'), 'withdraw', 'InsufficientFunds', 'INSUFFICIENT_FUNDS');
    expect(
      refusal(await withdrawDetail(payer, '5001'), 'withdraw', 'InsufficientFunds', 'INSUFFICIENT_FUNDS'),
    ).toMatchObject({ available: '5000' });
    expect(
      refusal(await withdrawDetail(frozenPayer, '1'), 'withdraw', 'AccountNotActive', 'ACCOUNT_NOT_ACTIVE'),
    ).toMatchObject({ accountStatus: 'FROZEN' });
    refusal(await kit.deposit(missing, '100'), 'deposit', 'AccountNotFound', 'ACCOUNT_NOT_FOUND');
    refusal(await kit.deposit(frozenPayee, '100'), 'deposit', 'AccountNotActive', 'ACCOUNT_NOT_ACTIVE');
    const depositDetail = await gql(
      stack.gatewayUrl,
      detailDocs.deposit,
      { input: { idempotencyKey: unique('d'), accountId: euro, amount: '100', currency: 'USD' } },
      kit.operator,
    );
    expect(refusal(depositDetail, 'deposit', 'CurrencyMismatch', 'CURRENCY_MISMATCH')).toMatchObject({
      accountId: euro,
      accountCurrency: 'EUR',
    });

    expect(await kit.snapshot(all)).toEqual(before);
  });

  it('refuses refunds of unknown payments and beyond what is left, writing nothing', async () => {
    const payerOwner = unique('rf-payer');
    const payeeOwner = unique('rf-payee');
    const payer = await kit.open(payerOwner);
    const payee = await kit.open(payeeOwner);
    const payeeToken = await token(payeeOwner, 'customer');
    await kit.fund(payer, '3000');
    const paymentId = await kit.paid(await token(payerOwner, 'customer'), { payer, payee, amount: '1000' });
    const before = await kit.snapshot([payer, payee]);

    const missing = newId('payment', toLogicalShard(40));
    refusal(await kit.refund(kit.operator, missing, '100'), 'refundPayment', 'PaymentNotFound', 'PAYMENT_NOT_FOUND');
    expect(
      refusal(
        await kit.refund(kit.operator, missing, '100', { doc: detailDocs.refundPayment }),
        'refundPayment',
        'PaymentNotFound',
        'PAYMENT_NOT_FOUND',
      ),
    ).toMatchObject({ paymentId: missing });
    refusal(
      await kit.refund(payeeToken, paymentId, '1001'),
      'refundPayment',
      'RefundExceedsPayment',
      'REFUND_EXCEEDS_PAYMENT',
    );
    expect(
      refusal(
        await kit.refund(payeeToken, paymentId, '1001', { doc: detailDocs.refundPayment }),
        'refundPayment',
        'RefundExceedsPayment',
        'REFUND_EXCEEDS_PAYMENT',
      ),
    ).toMatchObject({ paymentId, refundable: '1000' });
    expect(await kit.snapshot([payer, payee])).toEqual(before);

    // After a partial refund only the rest can be refunded.
    const partial = await kit.refund(payeeToken, paymentId, '300');
    expect(partial.data!.refundPayment).toMatchObject({
      __typename: 'Refund',
      status: 'SUCCEEDED',
      payment: { refundedAmount: '300' },
    });
    expect(
      refusal(
        await kit.refund(payeeToken, paymentId, '701', { doc: detailDocs.refundPayment }),
        'refundPayment',
        'RefundExceedsPayment',
        'REFUND_EXCEEDS_PAYMENT',
      ),
    ).toMatchObject({ refundable: '700' });
    expect(await kit.balance(payer)).toEqual(at('2300'));
    expect(await kit.balance(payee)).toEqual(at('700'));
    const read = await gql(stack.gatewayUrl, moneyDocs.getPayment, { id: paymentId }, kit.operator);
    expect(read.data!.payment).toMatchObject({
      refundedAmount: '300',
      refunds: [{ amount: '300', status: 'SUCCEEDED' }],
    });
  });

  it('lets only owners and operators move money, as FORBIDDEN errors that write nothing', async () => {
    const payerOwner = unique('az-payer');
    const payeeOwner = unique('az-payee');
    const strangerOwner = unique('az-stranger');
    const payerToken = await token(payerOwner, 'customer');
    const payeeToken = await token(payeeOwner, 'customer');
    const stranger = await token(strangerOwner, 'customer');
    const partner = await token(payerOwner, 'partner');
    const payer = await kit.open(payerOwner);
    const payee = await kit.open(payeeOwner);
    const strangerAccount = await kit.open(strangerOwner);
    await kit.fund(payer, '5000');
    await kit.fund(strangerAccount, '100');
    const paymentId = await kit.paid(payerToken, { payer, payee, amount: '1000' });
    const all = [payer, payee, strangerAccount];
    const before = await kit.snapshot(all);

    forbiddenAnswer(await kit.pay(stranger, { payer, payee: strangerAccount, amount: '100' }), 'createPayment');
    forbiddenAnswer(await kit.pay(payeeToken, { payer, payee, amount: '100' }), 'createPayment');
    // A partner may read its owner's accounts but never move money, not even its own.
    forbiddenAnswer(await kit.pay(partner, { payer, payee, amount: '100' }), 'createPayment');
    forbiddenAnswer(await kit.deposit(payer, '100', { bearer: partner }), 'deposit');
    forbiddenAnswer(await kit.withdraw(partner, payer, '100'), 'withdraw');
    forbiddenAnswer(await kit.deposit(payer, '100', { bearer: stranger }), 'deposit');
    // Deposits record money from outside: not even the owner may mint one into its own account.
    forbiddenAnswer(await kit.deposit(payer, '100', { bearer: payerToken }), 'deposit');
    forbiddenAnswer(await kit.withdraw(stranger, payer, '100'), 'withdraw');
    // Refunds: the payee's owner or an operator, not the payer, not anyone else.
    forbiddenAnswer(await kit.refund(payerToken, paymentId, '100'), 'refundPayment');
    forbiddenAnswer(await kit.refund(stranger, paymentId, '100'), 'refundPayment');
    forbiddenAnswer(await kit.refund(await token(payeeOwner, 'partner'), paymentId, '100'), 'refundPayment');
    const anonymous = await kit.pay('', { payer, payee, amount: '100' });
    expect(errorCodes(anonymous)).toEqual(['UNAUTHENTICATED']);
    expect(await kit.snapshot(all)).toEqual(before);
    const unrefunded = await gql(stack.gatewayUrl, moneyDocs.getPayment, { id: paymentId }, kit.operator);
    expect(unrefunded.data!.payment).toMatchObject({ refundedAmount: '0', refunds: [] });

    const byPayee = await kit.refund(payeeToken, paymentId, '100');
    expect(byPayee.errors).toBeUndefined();
    expect(byPayee.data!.refundPayment).toMatchObject({
      __typename: 'Refund',
      status: 'SUCCEEDED',
      payment: { refundedAmount: '100' },
    });
    const byOperator = await kit.refund(kit.operator, paymentId, '200');
    expect(byOperator.errors).toBeUndefined();
    expect(byOperator.data!.refundPayment).toMatchObject({
      __typename: 'Refund',
      status: 'SUCCEEDED',
      payment: { refundedAmount: '300' },
    });
    expect(await kit.balance(payer)).toEqual(at('4300'));
    expect(await kit.balance(payee)).toEqual(at('700'));

    // Reading a payment: its payer's and payee's owners and operators, nobody else.
    const byStranger = await gql(stack.gatewayUrl, moneyDocs.getPayment, { id: paymentId }, stranger);
    expect(errorCodes(byStranger)).toEqual(['FORBIDDEN']);
    expect(byStranger.data?.payment ?? null).toBeNull();
    const byPartnerOfNeither = await gql(
      stack.gatewayUrl,
      moneyDocs.getPayment,
      { id: paymentId },
      await token(strangerOwner, 'partner'),
    );
    expect(errorCodes(byPartnerOfNeither)).toEqual(['FORBIDDEN']);

    // The payer sees the payment, but not the payee's balance: that field alone is FORBIDDEN.
    const byPayer = await gql(stack.gatewayUrl, moneyDocs.getPayment, { id: paymentId }, payerToken);
    expect(errorCodes(byPayer)).toEqual(['FORBIDDEN']);
    expect(byPayer.errors![0]!.path).toEqual(['payment', 'payee', 'balance']);
    expect(byPayer.data!.payment).toMatchObject({
      id: paymentId,
      status: 'SUCCEEDED',
      amount: '1000',
      refundedAmount: '300',
      payer: { id: payer, balance: { available: '4300' } },
      payee: { id: payee, balance: null },
    });
    expect(byPayer.data!.payment.refunds).toHaveLength(2);
    const byPayeeRead = await gql(stack.gatewayUrl, moneyDocs.getPayment, { id: paymentId }, payeeToken);
    expect(errorCodes(byPayeeRead)).toEqual(['FORBIDDEN']);
    expect(byPayeeRead.errors![0]!.path).toEqual(['payment', 'payer', 'balance']);
    expect(byPayeeRead.data!.payment).toMatchObject({
      id: paymentId,
      payer: { id: payer, balance: null },
      payee: { id: payee, balance: { available: '700', pending: '0' } },
    });

    // An account's payments: its owner and operators only.
    const listedByStranger = await gql(stack.gatewayUrl, moneyDocs.accountPayments, { id: payer }, stranger);
    expect(errorCodes(listedByStranger)).toContain('FORBIDDEN');
    expect(listedByStranger.data?.account?.payments ?? null).toBeNull();
  });
});
