import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paymentsByIds } from '../../src/db/payments';
import type { Stack } from '../../../../test/support/stack';
import { defaultStack } from '../../../../test/support/default-stack';
import { contractOperation, gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';

/** Every payment keeps where it came from (device, IP, user agent) for risk and audit. */
let stack: Stack;
let operator: string;

beforeAll(async () => {
  stack = await defaultStack();
  operator = await token('operator', 'operator');
});
afterAll(async () => stack?.stop());

async function funded(): Promise<[string, string]> {
  const open = async () =>
    (
      await gql(
        stack.gatewayUrl,
        contractOperation('OpenAccount'),
        { input: { ownerId: unique('ctx'), type: 'PERSONAL', currency: 'USD' } },
        operator,
      )
    ).data!.openAccount.id as string;
  const payer = await open();
  const payee = await open();
  await gql(
    stack.gatewayUrl,
    contractOperation('Deposit'),
    { input: { idempotencyKey: unique('d'), accountId: payer, amount: '1000', currency: 'USD' } },
    operator,
  );
  return [payer, payee];
}

async function stored(paymentId: string) {
  const [row] = await paymentsByIds(stack.shards.of('payment', paymentId).db, [paymentId]);
  return { deviceId: row!.deviceId, clientIp: row!.clientIp, userAgent: row!.userAgent, description: row!.description };
}

describe('client context', () => {
  it('stores the device, address and user agent from the request headers', async () => {
    const [payer, payee] = await funded();
    const r = await gql(
      stack.gatewayUrl,
      contractOperation('CreatePayment'),
      {
        input: {
          idempotencyKey: unique('p'),
          payerAccountId: payer,
          payeeAccountId: payee,
          amount: '10',
          currency: 'USD',
          description: 'coffee',
        },
      },
      operator,
      { 'user-agent': 'PayApp/3.1 (iOS 18)', 'x-device-id': 'device-abc-123' },
    );
    const id = r.data!.createPayment.id as string;
    expect(await stored(id)).toEqual({
      deviceId: 'device-abc-123',
      clientIp: expect.stringMatching(/127\.0\.0\.1$/),
      userAgent: 'PayApp/3.1 (iOS 18)',
      description: 'coffee',
    });
  });

  it("lets the input name the end user's context, which wins over the headers", async () => {
    const [payer, payee] = await funded();
    const doc = `mutation($input: CreatePaymentInput!) { createPayment(input: $input) { ... on Payment { id } } }`;
    const r = await gql(
      stack.gatewayUrl,
      doc,
      {
        input: {
          idempotencyKey: unique('p'),
          payerAccountId: payer,
          payeeAccountId: payee,
          amount: '10',
          currency: 'USD',
          clientContext: { deviceId: 'pos-terminal-7', ip: '203.0.113.9', userAgent: 'Terminal/1.0' },
        },
      },
      operator,
      { 'user-agent': 'PartnerBackend/2.0', 'x-device-id': 'server-1' },
    );
    expect(await stored(r.data!.createPayment.id)).toMatchObject({
      deviceId: 'pos-terminal-7',
      clientIp: '203.0.113.9',
      userAgent: 'Terminal/1.0',
    });
  });
});
