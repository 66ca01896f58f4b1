import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { subgraphSecretVariable } from '@paygraph/shared/gateway-trust';
import { subgraphNames as trustedSubgraphs } from '../../scripts/lib/parts';
import { startStack, type Stack } from '../../test/support/stack';
import { spawnService, type ChildService } from '../../test/support/processes';
import { testRedisUrl, testSubgraphSecrets, token, unique } from '../../test/support/env';
import { documentHash } from '../src/security/trusted-manifests';
import { codes, post } from './support/guarded-gateway';

/**
 * Trusted documents and persisted queries in gateway processes as they run in production
 * (`gateway/src/main.ts`, configured by the environment): two gateways share automatic persisted
 * queries through Redis; a role in log mode has its unknown documents logged by name and hash,
 * never with their variables; SIGHUP re-reads the manifests, and a malformed one is refused with
 * a log line while the documents loaded before stay in force.
 */
const waitMs = 15_000;
let stack: Stack;
let dir: string;
let manifest: string;
/** Customers: require; operators: log (TRUSTED_DOCUMENTS_ROLE_MODES); a client manifest "web". */
let guarded: ChildService;
let guardedLog: string;
/** Every mode off (TRUSTED_DOCUMENTS_MODE=off, as npm start sets it). */
let plain: ChildService;

function gatewayEnv(extra: Record<string, string>): Record<string, string> {
  return {
    ...Object.fromEntries(trustedSubgraphs.map((name) => [subgraphSecretVariable(name), testSubgraphSecrets[name]])),
    ACCOUNT_URL: stack.subgraphUrls.account,
    TRANSACTION_URL: stack.subgraphUrls.transaction,
    SETTLEMENT_URL: stack.subgraphUrls.settlement,
    WEBHOOKS_URL: stack.subgraphUrls.webhooks,
    REDIS_URL: testRedisUrl(),
    AUDIT_LOG_FILE: join(dir, `audit-${unique('gw')}.jsonl`),
    LOG_LEVEL: 'info',
    ...extra,
  };
}

/** The JSON lines of a gateway's log file. */
function logLines(file: string): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Polls until found is non-null (no fixed sleep: the event itself ends the wait), or fails naming what. */
async function eventually<T>(
  what: string,
  find: () => T | null | undefined | Promise<T | null | undefined>,
): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const found = await find();
    if (found !== null && found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${waitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const trustedQuery = 'query WebAccountId($id: ID!) {\n  account(id: $id) {\n    id\n  }\n}';
const laterQuery = 'query WebAccountCurrency($id: ID!) {\n  account(id: $id) {\n    currency\n  }\n}';

beforeAll(async () => {
  stack = await startStack();
  dir = mkdtempSync(join(tmpdir(), 'paygraph-clients-'));
  manifest = join(dir, 'web.json');
  writeFileSync(
    manifest,
    JSON.stringify({
      format: 'apollo-persisted-query-manifest',
      version: 1,
      operations: [{ id: documentHash(trustedQuery), name: 'WebAccountId', type: 'query', body: trustedQuery }],
    }),
  );
  guardedLog = join(dir, 'guarded.log');
  [guarded, plain] = await Promise.all([
    spawnService(
      'gateway',
      gatewayEnv({
        TRUSTED_DOCUMENTS_MODE: 'require',
        TRUSTED_DOCUMENTS_ROLE_MODES: 'operator=log',
        TRUSTED_DOCUMENTS_MANIFESTS: `web=${manifest}`,
        // Only SIGHUP reloads within this test.
        TRUSTED_DOCUMENTS_RELOAD_MS: '3600000',
      }),
      undefined,
      guardedLog,
    ),
    spawnService('gateway', gatewayEnv({ TRUSTED_DOCUMENTS_MODE: 'off' })),
  ]);
});

afterAll(async () => {
  await guarded?.kill();
  await plain?.kill();
  await stack?.stop();
});

describe('automatic persisted queries', () => {
  it('registered through one gateway are known to another (shared through Redis)', async () => {
    const bearer = await token(unique('apq'), 'operator');
    // A text of this run alone, so that no earlier run has registered its hash.
    const query = `query ApqShared($id: ID!) { account(id: $id) { id } } # ${unique('run')}`;
    const hashOnly = {
      extensions: { persistedQuery: { version: 1, sha256Hash: documentHash(query) } },
      variables: { id: 'acc_missing' },
    };
    expect(codes(await post(plain.graphqlUrl, hashOnly, bearer))).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    // Served from the text (the subgraph refuses the id itself: the document ran).
    const registered = await post(guarded.graphqlUrl, { ...hashOnly, query }, bearer);
    expect(codes(registered)).toEqual(['BAD_USER_INPUT']);
    // Apollo Server does not wait for the registration to be written, and a gateway whose Redis
    // connection is not up yet drops it: registered again on the same gateway until the other,
    // which is never sent the text, finds it.
    const hit = await eventually('hit on the other gateway', async () => {
      const response = await post(plain.graphqlUrl, hashOnly, bearer);
      if (!codes(response).includes('PERSISTED_QUERY_NOT_FOUND')) return response;
      await post(guarded.graphqlUrl, { ...hashOnly, query }, bearer);
      return null;
    });
    expect(codes(hit)).toEqual(['BAD_USER_INPUT']);
    expect(hit.body.errors?.[0]?.message).toBe(registered.body.errors?.[0]?.message);
  });
});

describe('log mode', () => {
  it('serves an unknown document and logs its name and hash, never its variables', async () => {
    const bearer = await token(unique('log'), 'operator');
    const secret = unique('personal-data');
    const query = `query LoggedUnknown($id: ID!) { account(id: $id) { id } } # ${unique('run')}`;
    const response = await post(guarded.graphqlUrl, { query, variables: { id: secret } }, bearer);
    expect(codes(response)).not.toContain('DOCUMENT_NOT_TRUSTED');
    const line = await eventually('log line', () =>
      logLines(guardedLog).find((l) => l.msg === 'untrusted document served' && l.documentHash === documentHash(query)),
    );
    expect(line).toMatchObject({ operationName: 'LoggedUnknown', role: 'operator' });
    expect(readFileSync(guardedLog, 'utf8')).not.toContain(secret);
  });
});

describe('manifests', () => {
  it('are re-read on SIGHUP; a malformed one is refused with a log line and the loaded ones stay in force', async () => {
    const bearer = await token(unique('reload'), 'customer');
    const later = { query: laterQuery, variables: { id: 'acc_missing' } };
    expect(codes(await post(guarded.graphqlUrl, later, bearer))).toEqual(['DOCUMENT_NOT_TRUSTED']);
    expect(
      codes(await post(guarded.graphqlUrl, { query: trustedQuery, variables: { id: 'acc_missing' } }, bearer)),
    ).not.toContain('DOCUMENT_NOT_TRUSTED');
    writeFileSync(
      manifest,
      JSON.stringify({
        [`sha256:${documentHash(trustedQuery)}`]: trustedQuery,
        [`sha256:${documentHash(laterQuery)}`]: laterQuery,
      }),
    );
    const reloadsBefore = logLines(guardedLog).filter((l) => l.msg === 'trusted documents reloaded').length;
    guarded.process.kill('SIGHUP');
    await eventually(
      'reload line',
      () => logLines(guardedLog).filter((l) => l.msg === 'trusted documents reloaded').length > reloadsBefore || null,
    );
    expect(codes(await post(guarded.graphqlUrl, later, bearer))).not.toContain('DOCUMENT_NOT_TRUSTED');
    writeFileSync(
      manifest,
      JSON.stringify({ [`sha256:${documentHash(laterQuery)}`]: laterQuery, 'sha256:0': 'query {' }),
    );
    guarded.process.kill('SIGHUP');
    const refused = await eventually('refusal line', () =>
      logLines(guardedLog).find((l) => String(l.msg).startsWith('trusted documents: a manifest was refused')),
    );
    expect(String(refused.reason)).toContain('web.json (client web)');
    expect(codes(await post(guarded.graphqlUrl, later, bearer))).not.toContain('DOCUMENT_NOT_TRUSTED');
    // The refused file no longer holds trustedQuery, but the documents loaded before it do.
    expect(
      codes(await post(guarded.graphqlUrl, { query: trustedQuery, variables: { id: 'acc_missing' } }, bearer)),
    ).not.toContain('DOCUMENT_NOT_TRUSTED');
  });
});
