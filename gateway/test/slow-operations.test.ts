import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { listen } from '@paygraph/shared/server/http';
import { createGateway, type Gateway } from '../src/server';
import { subgraphRequestTimeoutMs } from '../src/limits';
import { subgraphTimeoutHeader } from '../src/subgraph-client';
import { contractOperation, gql } from '../../test/support/graphql';
import { testSecurityOptions, testTokens, testTrusts, token } from '../../test/support/env';

/**
 * importBankStatement does a file's worth of work in one call (an MT940 of 250,000 entries: 7.4 s), so the gateway
 * waits for it longer than for anything else (limits.ts slowFieldTimeoutsMs): a subgraph that answers a little
 * after subgraphRequestTimeoutMs answers the import, and the same subgraph is SUBGRAPH_UNAVAILABLE for any other
 * mutation. createPayments (up to 1,000 payments) and channelReconciliation (a query over a day's statement) are waited
 * for longer too, and any other query is not. The timeout travels to the fetcher in a header the subgraph never sees.
 */
const answerAfterMs = subgraphRequestTimeoutMs + 1_000;
const seen: http.IncomingHttpHeaders[] = [];
let slow: http.Server;
let gateway: Gateway;
let gatewayUrl: string;

beforeAll(async () => {
  slow = http.createServer((req, res) => {
    seen.push(req.headers);
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () =>
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ data: slowAnswerTo(body) }));
      }, answerAfterMs),
    );
  });
  const url = `http://127.0.0.1:${await listen(slow, 0, '127.0.0.1')}/graphql`;
  gateway = await createGateway(
    testTokens(),
    { account: url, transaction: url, settlement: url, webhooks: url },
    testTrusts(),
    { security: testSecurityOptions() },
  );
  gatewayUrl = `http://127.0.0.1:${await listen(gateway.http, 0, '127.0.0.1')}/graphql`;
});
afterAll(async () => {
  gateway?.http.closeAllConnections();
  gateway?.http.close();
  await gateway?.stop();
  slow?.closeAllConnections();
  slow?.close();
});

/** What the slow subgraph answers, by the root field the gateway asked it for. */
function slowAnswerTo(body: string): Record<string, unknown> {
  if (body.includes('createPayments')) return { createPayments: [] };
  if (body.includes('channelReconciliation')) return { channelReconciliation: { channel: 'slow', exceptions: [] } };
  return { importBankStatement: { __typename: 'StatementImport', channel: 'slow', statements: [] } };
}

describe('a subgraph slower than subgraphRequestTimeoutMs', () => {
  it('answers importBankStatement, and is SUBGRAPH_UNAVAILABLE for any other mutation', async () => {
    const operator = await token('ops-slow', 'operator');
    const [imported, other] = await Promise.all([
      gql(
        gatewayUrl,
        contractOperation('ImportBankStatement'),
        { input: { channel: 'slow', format: 'CAMT053', uploadId: 'upl_01JDP5Z9K3M4N6Q7R8S9T0V1WX' } },
        operator,
      ),
      gql(gatewayUrl, contractOperation('SetMatchingRules'), { input: { channel: 'slow' } }, operator),
    ]);
    expect(imported.data?.importBankStatement, JSON.stringify(imported)).toEqual({
      __typename: 'StatementImport',
      channel: 'slow',
      statements: [],
    });
    expect(other.errors?.[0]?.extensions).toMatchObject({ code: 'SUBGRAPH_UNAVAILABLE', retryable: true });
    expect(seen).toHaveLength(2);
    for (const headers of seen) expect(headers[subgraphTimeoutHeader]).toBeUndefined();
  }, 30_000);

  it('answers createPayments too: up to 1,000 payments in one call (bulkPaymentsTimeoutMs)', async () => {
    const operator = await token('ops-slow-bulk', 'operator');
    const answer = await gql(
      gatewayUrl,
      `mutation Bulk($inputs: [CreatePaymentInput!]!) { createPayments(inputs: $inputs) { __typename } }`,
      { inputs: [] },
      operator,
    );
    expect(answer.data, JSON.stringify(answer)).toEqual({ createPayments: [] });
  }, 30_000);

  it('answers channelReconciliation, a query over a whole statement, and is SUBGRAPH_UNAVAILABLE for another query', async () => {
    const operator = await token('ops-slow-recon', 'operator');
    const [matched, other] = await Promise.all([
      gql(
        gatewayUrl,
        contractOperation('ChannelReconciliation'),
        { channel: 'slow', businessDate: '2026-11-25' },
        operator,
      ),
      gql(gatewayUrl, contractOperation('Reconciliation'), { businessDate: '2026-11-25' }, operator),
    ]);
    expect(matched.errors, JSON.stringify(matched)).toBeUndefined();
    expect(matched.data?.channelReconciliation).toMatchObject({ channel: 'slow', exceptions: [] });
    expect(other.errors?.[0]?.extensions).toMatchObject({ code: 'SUBGRAPH_UNAVAILABLE', retryable: true });
  }, 30_000);
});
