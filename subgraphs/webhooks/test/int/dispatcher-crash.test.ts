import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql } from '../../../../test/support/graphql';
import { testShards, token, unique } from '../../../../test/support/env';
import { moneyDocs } from '../../../../test/support/money';
import { startProcessStack, type ProcessStack } from '../../../../test/support/process-stack';
import { madeEndpoint, sequencesOf, startReceiver, waitFor, type Receiver } from '../support/webhooks';

/**
 * The dispatcher SIGKILLed mid-delivery, with real processes as npm start runs them: the
 * events recorded in the ledger are all delivered at least once after it comes back (its
 * claimed streams return when their lease ends), each under its own webhook-id.
 */
let stack: ProcessStack;
let receiver: Receiver;
const leaseMs = 2_000;

beforeAll(async () => {
  const shards = testShards(1);
  const shardUrls = shards.topology.urls.join(',');
  await shards.close();
  stack = await startProcessStack({
    shardUrls,
    subgraphEnv: {
      MYSQL_POOL_SIZE: '2',
      WEBHOOK_DISPATCH_INTERVAL_MS: '25',
      WEBHOOK_ENDPOINT_REFRESH_INTERVAL_MS: '200',
      WEBHOOK_ACCOUNT_DISCOVERY_INTERVAL_MS: '200',
      WEBHOOK_RETRY_FIRST_DELAY_MS: '200',
      WEBHOOK_RETRY_DELAY_MAX_MS: '1000',
      WEBHOOK_STREAM_LEASE_MS: String(leaseMs),
      WEBHOOK_ATTEMPT_TIMEOUT_MS: '2000',
      // The receiver is this process, on loopback over http.
      WEBHOOK_ALLOW_LOCAL_DESTINATIONS: 'true',
    },
  });
  receiver = await startReceiver(() => 200);
}, 180_000);
afterAll(async () => {
  await receiver?.close();
  await stack?.stop();
});

async function operatorGql(query: string, variables: Record<string, unknown>) {
  return gql(stack.gatewayUrl, query, variables, await token('operator', 'operator'));
}

async function open(ownerId: string): Promise<string> {
  const answer = await operatorGql(moneyDocs.openAccount, { input: { ownerId, type: 'PERSONAL', currency: 'USD' } });
  return answer.data!.openAccount.id as string;
}

describe('the webhook dispatcher killed mid-delivery', () => {
  it('delivers every event at least once after it comes back', async () => {
    const partner = unique('p-crash');
    const payer = await open(partner);
    const payee = await open(partner);
    const deposit = await operatorGql(moneyDocs.deposit, {
      input: { idempotencyKey: unique('dep'), accountId: payer, amount: '100000', currency: 'USD' },
    });
    expect(deposit.data?.deposit.status).toBe('SUCCEEDED');
    const { secret } = await madeEndpoint(stack.gatewayUrl, await token(partner, 'partner'), {
      url: receiver.url,
      eventTypes: ['balance.changed'],
      accountIds: [payer, payee],
    });
    receiver.verifyWith(secret);
    // Until the kill, the receiver takes requests and never answers: the deliveries are in flight.
    let hold = true;
    receiver.answer = () => (hold ? 'hang' : 200);
    const payments = 15;
    for (let i = 0; i < payments; i++) {
      const paid = await operatorGql(moneyDocs.createPayment, {
        input: {
          idempotencyKey: unique('pay'),
          payerAccountId: payer,
          payeeAccountId: payee,
          amount: '7',
          currency: 'USD',
        },
      });
      expect(paid.data?.createPayment.status).toBe('SUCCEEDED');
    }
    // The first delivery of each stream is on the wire, unanswered: kill the dispatcher now.
    await waitFor(
      'deliveries in flight',
      () => receiver.requests,
      (n) => n >= 2,
      15_000,
    );
    await stack.kill('webhooks');
    hold = false;
    await stack.restart('webhooks');
    await waitFor(
      'every event',
      () => new Set(receiver.received.map((r) => r.id)).size,
      (n) => n >= 2 * payments,
      60_000,
    );
    const payerSequences = new Set(sequencesOf(receiver.received, payer));
    const payeeSequences = new Set(sequencesOf(receiver.received, payee));
    expect([...payerSequences].sort((a, b) => a - b)).toEqual(Array.from({ length: payments }, (_, i) => i + 2));
    expect([...payeeSequences].sort((a, b) => a - b)).toEqual(Array.from({ length: payments }, (_, i) => i + 1));
    // At least once: a repeat carries the same webhook-id and body as the first copy.
    const byId = new Map<string, string>();
    for (const r of receiver.received) {
      if (byId.has(r.id)) expect(r.body).toBe(byId.get(r.id));
      byId.set(r.id, r.body);
    }
    expect(stack.unexpectedExits()).toEqual([]);
  });
});
