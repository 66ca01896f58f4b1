import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen } from '@paygraph/shared/server/http';
import { createGateway, type Gateway, type SubgraphUrls } from '../src/server';
import { operationCostMax } from '../src/limits';
import type { AnalysisStats } from '../src/security/document-analysis';
import { contractOperation } from '../../scripts/lib/contract';
import { testSecurityOptions, testTokens, testTrusts, token, unique } from '../../test/support/env';
import { eventually } from '../../test/support/bank';
import { codes, post } from './support/guarded-gateway';

/**
 * The security plugin's reading of a document (operation limits, root fields for the rate limiter
 * and the audit, the screen's size and token count) is made once per document, not per request
 * (security/document-analysis.ts): counted by the analyses' stats while the contract's documents
 * (trusted: the contract's manifest) and others are sent again and again. What depends on a
 * request's variables still does: a page size given by a variable is measured per request, and a
 * mutation's audit line has each request's own input. No subgraph answers here (their addresses
 * are closed ports): everything measured happens before any is called.
 */
let gateway: Gateway;
let url: string;
let auditFile: string;
/** Analyses kept at most for documents outside the manifests: small, to show the bound and who it binds. */
const analysesMax = 3;

async function closedPortUrl(): Promise<string> {
  const server = (await import('node:http')).createServer();
  const port = await listen(server, 0, '127.0.0.1');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/graphql`;
}

beforeAll(async () => {
  const closed = await closedPortUrl();
  const urls: SubgraphUrls = { account: closed, transaction: closed, settlement: closed, webhooks: closed };
  auditFile = join(mkdtempSync(join(tmpdir(), 'paygraph-analysis-')), 'audit.jsonl');
  gateway = await createGateway(testTokens(), urls, testTrusts(), {
    security: testSecurityOptions({
      auditShards: null,
      redisUrl: null,
      auditLogFile: auditFile,
      documentAnalysesMax: analysesMax,
    }),
  });
  url = `http://127.0.0.1:${await listen(gateway.http, 0, '127.0.0.1')}/graphql`;
});

afterAll(async () => {
  gateway?.http.closeAllConnections();
  gateway?.http.close();
  await gateway?.stop();
});

/** What the analyses did while `send` ran. */
async function counted(send: () => Promise<void>): Promise<AnalysisStats> {
  const before = { ...gateway.security.analyses.stats };
  await send();
  const after = gateway.security.analyses.stats;
  return {
    analysed: after.analysed - before.analysed,
    measured: after.measured - before.measured,
    sourcesChecked: after.sourcesChecked - before.sourcesChecked,
  };
}

const times = 5;

describe("a trusted document's analysis", () => {
  it('is made on its first request and not on the next ones (GetAccount, CreatePayment)', async () => {
    const customer = await token(unique('analysis-customer'), 'customer');
    const getAccount = contractOperation('GetAccount');
    const read = await counted(async () => {
      for (let i = 0; i < times; i++) await post(url, { query: getAccount, variables: { id: `acc_${i}` } }, customer);
    });
    expect(read).toEqual({ analysed: 1, measured: 1, sourcesChecked: 1 });
    const payment = contractOperation('CreatePayment');
    const keys = Array.from({ length: times }, () => unique('analysis-key'));
    const paid = await counted(async () => {
      for (const [i, key] of keys.entries())
        await post(url, { query: payment, variables: { input: paymentInput(key, `${i + 1}00`) } }, customer);
    });
    expect(paid).toEqual({ analysed: 1, measured: 1, sourcesChecked: 1 });
    // Each request's audit line still has its own input: the arguments are read per request.
    const money = await eventually('the audit lines are written', 5_000, async () => {
      const text = existsSync(auditFile) ? readFileSync(auditFile, 'utf8') : '';
      const lines = text.split('\n').filter((line) => line !== '');
      return lines.length >= times ? lines : undefined;
    });
    const actions = money
      .map((line) => JSON.parse(line) as { money: Array<{ idempotencyKey: string; amount: string }> })
      .flatMap((record) => record.money);
    expect(actions.map((m) => [m.idempotencyKey, m.amount])).toEqual(keys.map((key, i) => [key, `${i + 1}00`]));
  });
});

function paymentInput(idempotencyKey: string, amount: string): Record<string, unknown> {
  return { idempotencyKey, payerAccountId: 'acc_1', payeeAccountId: 'acc_2', amount, currency: 'USD' };
}

describe('a document sent as text outside the manifests', () => {
  it('is analysed once, measured once when no variable changes its measure, and screened on every request', async () => {
    const operator = await token(unique('analysis-operator'), 'operator');
    const query = `query Own${unique('q').replace(/-/g, '_')}($id: ID!) { account(id: $id) { id entries(first: 5) { edges { cursor } } } }`;
    const stats = await counted(async () => {
      for (let i = 0; i < times; i++) await post(url, { query, variables: { id: 'acc_1' } }, operator);
    });
    expect(stats).toEqual({ analysed: 1, measured: 1, sourcesChecked: times });
  });

  it('is measured per request when a variable gives a page size, and refused on the request whose page is too big', async () => {
    const operator = await token(unique('analysis-operator'), 'operator');
    const query = `query Paged${unique('q').replace(/-/g, '_')}($n: Int) { account(id: "acc_1") { entries(first: $n) { edges { cursor node { id } } } } }`;
    const tooMany = operationCostMax;
    const answers: unknown[][] = [];
    const stats = await counted(async () => {
      for (const n of [5, tooMany, 5, tooMany])
        answers.push(codes(await post(url, { query, variables: { n } }, operator)));
    });
    expect(stats).toMatchObject({ analysed: 1, measured: 4 });
    expect(answers.map((c) => c.includes('OPERATION_TOO_COSTLY'))).toEqual([false, true, false, true]);
  });

  it('is measured once when its other arguments take variables of non-null types, per request when of nullable ones', async () => {
    const operator = await token(unique('analysis-operator'), 'operator');
    const suffix = unique('q').replace(/-/g, '_');
    const selection = '{ edges { node { id } } }';
    // AccountsByOwner's shape: `first` a literal beside `$ownerId: ID!`, which coerced is always there.
    const nonNull = `query Owned${suffix}($o: ID!) { accounts(ownerId: $o, first: 50) ${selection} }`;
    // A nullable variable with a default may be sent as null, which the non-null ownerId refuses: measured without it.
    const nullable = `query MaybeOwned${suffix}($o: ID = "x") { accounts(ownerId: $o, first: 50) ${selection} }`;
    for (const [query, measured] of [
      [nonNull, 1],
      [nullable, 3],
    ] as const) {
      const stats = await counted(async () => {
        for (const o of ['a', 'b', 'c']) await post(url, { query, variables: { o } }, operator);
      });
      expect(stats, query).toMatchObject({ analysed: 1, measured });
    }
  });

  it('is refused on every request when its measure breaks a limit, from the one measure', async () => {
    const operator = await token(unique('analysis-operator'), 'operator');
    const aliases = Array.from({ length: 40 }, (_, i) => `a${i}: id`).join(' ');
    const query = `query Aliased${unique('q').replace(/-/g, '_')} { account(id: "acc_1") { ${aliases} } }`;
    const answers: unknown[][] = [];
    const stats = await counted(async () => {
      for (let i = 0; i < 3; i++) answers.push(codes(await post(url, { query }, operator)));
    });
    expect(stats).toMatchObject({ analysed: 1, measured: 1 });
    expect(answers).toEqual([['TOO_MANY_ALIASES'], ['TOO_MANY_ALIASES'], ['TOO_MANY_ALIASES']]);
  });

  it("share a bounded store that cannot push a trusted document's analysis out", async () => {
    const operator = await token(unique('analysis-operator'), 'operator');
    const getAccount = contractOperation('GetAccount');
    const ask = (query: string) => post(url, { query, variables: { id: 'acc_1' } }, operator);
    await ask(getAccount);
    const texts = Array.from(
      { length: analysesMax * 2 },
      (_, i) => `query Flood${i}_${unique('f').replace(/-/g, '_')}($id: ID!) { account(id: $id) { id } }`,
    );
    const flood = await counted(async () => {
      for (const text of texts) await ask(text);
    });
    expect(flood.analysed).toBe(texts.length);
    // The trusted document is still known; the first flooding text was pushed out and is analysed again.
    expect(await counted(async () => void (await ask(getAccount)))).toMatchObject({ analysed: 0, sourcesChecked: 0 });
    expect(await counted(async () => void (await ask(texts[0]!)))).toMatchObject({ analysed: 1 });
  });
});
