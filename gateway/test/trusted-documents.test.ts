import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Kind, print, type OperationDefinitionNode } from 'graphql';
import { contractDocument, contractOperation } from '../../scripts/lib/contract';
import { contractManifestFile, contractManifestText } from '../../scripts/lib/contract-manifest';
import { startStack, type Stack } from '../../test/support/stack';
import { token, unique } from '../../test/support/env';
import { contractManifestPath, trustedDocumentsOptions, uniformModes } from '../src/security/trusted-documents';
import { documentHash, loadTrustedDocuments, parseManifest } from '../src/security/trusted-manifests';
import { gatewayConfig, parseManifestSources, parseRoleModes } from '../src/config';
import { readConfig } from '@paygraph/shared/config/env';
import { testSubgraphSecrets } from '../../test/support/env';
import { subgraphSecretVariable } from '@paygraph/shared/gateway-trust';
import { subgraphNames as trustedSubgraphs } from '../../scripts/lib/parts';
import { ClientLabels } from '../src/client-awareness';
import { clientNamesMax } from '../src/limits';
import {
  codes,
  post,
  refusedBeforeSubgraphs,
  startGuardedGateway,
  type GuardedGateway,
} from './support/guarded-gateway';
import { gatewayPaths, type GatewayPath } from './support/both-paths';

/**
 * Trusted documents as clients meet them: a document named by GraphQL-over-HTTP's `documentId`
 * or Apollo's persisted-query hash runs its manifest's text; every bad id, and in require mode
 * every unknown text, is refused with its code before any subgraph is called, on the forwarded
 * and the planned path alike.
 */
const getAccount = contractOperation('GetAccount');
const openAccount = contractOperation('OpenAccount');
/** A document of the "ios" client's manifest only (GraphQL Code Generator's format). */
const iosQuery = 'query IosAccountCurrency($id: ID!) {\n  account(id: $id) {\n    id\n    currency\n  }\n}';
/** A document no manifest holds. */
const untrusted = 'query Untrusted($id: ID!) {\n  account(id: $id) {\n    id\n  }\n}';

let stack: Stack;
const gateways = new Map<GatewayPath, GuardedGateway>();
let customer: string;
let operator: string;
let manifestDir: string;

beforeAll(async () => {
  stack = await startStack();
  manifestDir = mkdtempSync(join(tmpdir(), 'paygraph-trusted-'));
  const ios = join(manifestDir, 'ios.json');
  writeFileSync(ios, JSON.stringify({ [`sha256:${documentHash(iosQuery)}`]: iosQuery }));
  for (const path of gatewayPaths) {
    gateways.set(
      path,
      await startGuardedGateway(stack, {
        passThrough: path === 'forwarded',
        security: { auditShards: null, redisUrl: null, auditLogFile: join(manifestDir, `${path}.jsonl`) },
        trustedDocuments: {
          manifests: [{ client: 'ios', path: ios }],
          modes: { ...uniformModes('require'), operator: 'off' },
          reloadMs: null,
        },
      }),
    );
  }
  customer = unique('trusted');
  operator = await token(unique('trusted-op'), 'operator');
});

afterAll(async () => {
  for (const gateway of gateways.values()) await gateway.stop();
  await stack?.stop();
});

describe("the contract's manifest", () => {
  it('is current: npm run build writes what the contract says', () => {
    expect(readFileSync(contractManifestFile, 'utf8')).toBe(contractManifestText());
    expect(contractManifestFile).toBe(contractManifestPath);
  });

  it('holds every contract operation as clients send it, by the SHA-256 of its text', () => {
    const manifest = parseManifest(readFileSync(contractManifestFile, 'utf8'), 'paygraph-contract');
    if (!manifest.ok) throw new Error(manifest.error);
    const operations = contractDocument.definitions.filter(
      (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
    );
    expect(manifest.value.map((d) => d.name).sort()).toEqual(operations.map((o) => o.name!.value).sort());
    for (const operation of operations) {
      const document = manifest.value.find((d) => d.name === operation.name!.value)!;
      expect(document.body).toBe(print(operation));
      expect(document.hash).toBe(documentHash(print(operation)));
    }
  });
});

describe('a manifest', () => {
  const body = 'query A { ledgerHealth { ok } }';
  const id = documentHash(body);

  it("is read in Apollo's format and in GraphQL Code Generator's, ids bare or prefixed sha256:", () => {
    const apollo = parseManifest(
      JSON.stringify({
        format: 'apollo-persisted-query-manifest',
        version: 1,
        operations: [{ id, name: 'A', type: 'query', body }],
      }),
      'web',
    );
    expect(apollo).toMatchObject({ ok: true, value: [{ hash: id, name: 'A', type: 'query', client: 'web' }] });
    expect(parseManifest(JSON.stringify({ [`sha256:${id}`]: body }), 'ios')).toMatchObject({
      ok: true,
      value: [{ hash: id, name: 'A', client: 'ios' }],
    });
    expect(parseManifest(JSON.stringify({ [id]: body }), 'ios')).toMatchObject({ ok: true, value: [{ hash: id }] });
  });

  it.each([
    [
      'duplicate ids',
      {
        format: 'apollo-persisted-query-manifest',
        version: 1,
        operations: [
          { id, name: 'A', type: 'query', body },
          { id, name: 'A', type: 'query', body },
        ],
      },
      /appears twice/,
    ],
    ['the same id bare and prefixed', { [id]: body, [`sha256:${id}`]: body }, /appears twice/],
    ['a body that does not parse', { [documentHash('query {')]: 'query {' }, /does not parse/],
    [
      "an id that is not its body's hash",
      { [documentHash('query B { ledgerHealth { ok } }')]: body },
      /not the SHA-256 of its body/,
    ],
    ['a malformed id', { 'sha256:xyz': body }, /not a SHA-256 hash/],
    ['an unknown format', { format: 'relay', version: 1, operations: [] }, /unknown format/],
    ['a body that is not a string', { [id]: 7 }, /not a string/],
  ])('with %s is refused whole', (_case, manifest, reason) => {
    const parsed = parseManifest(JSON.stringify(manifest), 'web');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(reason);
    expect(parseManifest('{"format": ', 'web')).toMatchObject({ ok: false });
  });

  it('refused on a reload leaves the documents loaded before in force; a good one replaces them', async () => {
    const path = join(manifestDir, 'reloaded.json');
    writeFileSync(path, JSON.stringify({ [id]: body }));
    const set = loadTrustedDocuments([{ client: 'web', path }], null);
    try {
      expect(set.get(id)?.body).toBe(body);
      writeFileSync(path, JSON.stringify({ [id]: body, 'sha256:nope': body }));
      expect(set.reload()).toBe(false);
      expect(set.get(id)?.body).toBe(body);
      const next = 'query C { ledgerHealth { ok } }';
      writeFileSync(path, JSON.stringify({ [documentHash(next)]: next }));
      expect(set.reload()).toBe(true);
      expect(set.get(id)).toBeUndefined();
      expect(set.get(documentHash(next))?.body).toBe(next);
    } finally {
      await set.stop();
    }
  });

  it('is re-read on its interval', async () => {
    const path = join(manifestDir, 'interval.json');
    const first = 'query D { ledgerHealth { ok } }';
    const second = 'query E { ledgerHealth { ok } }';
    writeFileSync(path, JSON.stringify({ [documentHash(first)]: first }));
    const set = loadTrustedDocuments([{ client: 'web', path }], 20);
    try {
      expect(set.get(documentHash(first))?.body).toBe(first);
      writeFileSync(path, JSON.stringify({ [documentHash(second)]: second }));
      // No fixed sleep: polled until the worker's next pass has read the file (within a generous 10 s).
      const deadline = Date.now() + 10_000;
      while (set.get(documentHash(second)) === undefined && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(set.get(documentHash(second))?.body).toBe(second);
      expect(set.get(documentHash(first))).toBeUndefined();
    } finally {
      await set.stop();
    }
  });

  it('refused at start-up stops the gateway from starting', () => {
    const path = join(manifestDir, 'broken.json');
    writeFileSync(path, '{"sha256:1": "query { x }"}');
    expect(() => loadTrustedDocuments([{ client: 'web', path }], null)).toThrow(
      /trusted documents: .*broken\.json \(client web\)/,
    );
  });

  it('lists and role modes in the configuration are checked', () => {
    expect(parseManifestSources('ios=/a.json, web = /b.json')).toEqual([
      { client: 'ios', path: '/a.json' },
      { client: 'web', path: '/b.json' },
    ]);
    expect(() => parseManifestSources('/a.json')).toThrow(/client=path/);
    expect(() => parseManifestSources('ios=/a,ios=/b')).toThrow(/twice/);
    expect(parseRoleModes('operator=log,partner=off')).toEqual({ operator: 'log', partner: 'off' });
    expect(() => parseRoleModes('admin=off')).toThrow(/role/);
    expect(() => parseRoleModes('customer=strict')).toThrow(/mode/);
  });
});

describe('the modes a deployment gets', () => {
  const deployment = (env: Record<string, string>) =>
    trustedDocumentsOptions(
      readConfig(gatewayConfig, {
        JWT_SECRET: 'a-deployment-secret',
        ...Object.fromEntries(
          trustedSubgraphs.map((name) => [subgraphSecretVariable(name), testSubgraphSecrets[name]]),
        ),
        ...env,
      }),
    ).modes;

  it('are require for every role but operators when nothing is set, whatever NODE_ENV says', () => {
    const unset = { ...uniformModes('require'), operator: 'off' };
    expect(deployment({})).toEqual(unset);
    for (const nodeEnv of ['production', 'development', 'test'])
      expect(deployment({ NODE_ENV: nodeEnv }), nodeEnv).toEqual(unset);
  });

  it('are what TRUSTED_DOCUMENTS_MODE and TRUSTED_DOCUMENTS_ROLE_MODES say, in production too', () => {
    expect(deployment({ NODE_ENV: 'production', TRUSTED_DOCUMENTS_MODE: 'off' })).toEqual({ ...uniformModes('off') });
    expect(
      deployment({ TRUSTED_DOCUMENTS_MODE: 'log', TRUSTED_DOCUMENTS_ROLE_MODES: 'operator=require,channel=off' }),
    ).toEqual({ ...uniformModes('log'), operator: 'require', channel: 'off' });
    expect(() => deployment({ TRUSTED_DOCUMENTS_MODE: 'strict' })).toThrow(/TRUSTED_DOCUMENTS_MODE/);
  });
});

describe.each(gatewayPaths)('requests on the %s path', (path) => {
  const gateway = (): GuardedGateway => gateways.get(path)!;

  it("run a contract operation named by documentId, and by Apollo's persisted-query hash, for a customer in require mode", async () => {
    const owner = `${customer}-${path}`;
    const bearer = await token(owner, 'customer');
    const opened = await post(
      gateway().url,
      {
        documentId: `sha256:${documentHash(openAccount)}`,
        variables: { input: { ownerId: owner, type: 'PERSONAL', currency: 'USD' } },
      },
      bearer,
    );
    expect(opened.body.errors).toBeUndefined();
    const id = opened.body.data?.openAccount?.id as string;
    expect(id).toMatch(/^acc_/);
    const read = await post(
      gateway().url,
      { extensions: { persistedQuery: { version: 1, sha256Hash: documentHash(getAccount) } }, variables: { id } },
      bearer,
    );
    expect(read.body.errors).toBeUndefined();
    expect(read.body.data?.account?.id).toBe(id);
    // The exact text is the same document: trusted without an id, and with its own id beside it.
    const text = await post(
      gateway().url,
      { query: getAccount, documentId: `sha256:${documentHash(getAccount)}`, variables: { id } },
      bearer,
    );
    expect(text.body.data?.account?.id).toBe(id);
    // A GET names it too.
    const search = new URLSearchParams({
      documentId: `sha256:${documentHash(iosQuery)}`,
      variables: JSON.stringify({ id }),
    });
    const got = await fetch(`${gateway().url}?${search.toString()}`, {
      headers: { authorization: `Bearer ${bearer}`, 'apollo-require-preflight': 'true' },
    });
    expect(await got.json()).toEqual({ data: { account: { id, currency: 'USD' } } });
  });

  const known = (): string => documentHash(getAccount);
  const badInputs: Array<[string, string, () => unknown]> = [
    [
      'an unknown documentId',
      'DOCUMENT_ID_UNKNOWN',
      () => ({ documentId: `sha256:${documentHash(untrusted)}`, variables: { id: 'acc_1' } }),
    ],
    [
      'a documentId without its prefix',
      'DOCUMENT_ID_UNKNOWN',
      () => ({ documentId: 'f'.repeat(64), variables: { id: 'acc_1' } }),
    ],
    [
      'a malformed documentId',
      'DOCUMENT_ID_MALFORMED',
      () => ({ documentId: 'sha256:XYZ', variables: { id: 'acc_1' } }),
    ],
    ['a documentId that is not a string', 'DOCUMENT_ID_MALFORMED', () => ({ documentId: 42 })],
    [
      'a malformed persisted-query hash',
      'DOCUMENT_ID_MALFORMED',
      () => ({ extensions: { persistedQuery: { version: 1, sha256Hash: 'abc' } } }),
    ],
    [
      'a documentId sent with a different query text',
      'DOCUMENT_ID_MISMATCH',
      () => ({ documentId: `sha256:${known()}`, query: untrusted, variables: { id: 'acc_1' } }),
    ],
    [
      'a persisted-query hash sent with a different query text',
      'DOCUMENT_ID_MISMATCH',
      () => ({
        query: untrusted,
        extensions: { persistedQuery: { version: 1, sha256Hash: known() } },
        variables: { id: 'acc_1' },
      }),
    ],
    [
      'a documentId and a persisted-query hash naming different documents',
      'DOCUMENT_ID_MISMATCH',
      () => ({
        documentId: `sha256:${known()}`,
        extensions: { persistedQuery: { version: 1, sha256Hash: documentHash(openAccount) } },
      }),
    ],
    [
      'a text no manifest holds, in require mode',
      'DOCUMENT_NOT_TRUSTED',
      () => ({ query: untrusted, variables: { id: 'acc_1' } }),
    ],
    [
      'a text no manifest holds, registered as an automatic persisted query, in require mode',
      'DOCUMENT_NOT_TRUSTED',
      () => ({
        query: untrusted,
        extensions: { persistedQuery: { version: 1, sha256Hash: documentHash(untrusted) } },
        variables: { id: 'acc_1' },
      }),
    ],
  ];

  it.each(badInputs)('refuse %s with %s, HTTP 400, nothing executed', async (_case, code, body) => {
    const bearer = await token(`${customer}-bad`, 'customer');
    const response = await refusedBeforeSubgraphs(gateway(), () => post(gateway().url, body(), bearer));
    expect(codes(response)).toEqual([code]);
    expect(response.status).toBe(400);
    expect(response.body.data ?? undefined).toBeUndefined();
  });

  it('do not register an untrusted text as a persisted query in require mode', async () => {
    const bearer = await token(`${customer}-apq`, 'customer');
    const hash = documentHash(untrusted);
    await post(
      gateway().url,
      {
        query: untrusted,
        extensions: { persistedQuery: { version: 1, sha256Hash: hash } },
        variables: { id: 'acc_1' },
      },
      bearer,
    );
    const again = await refusedBeforeSubgraphs(gateway(), () =>
      post(
        gateway().url,
        { extensions: { persistedQuery: { version: 1, sha256Hash: hash } }, variables: { id: 'acc_1' } },
        operator,
      ),
    );
    expect(codes(again)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
  });

  it('run any text for an operator, whose mode is off', async () => {
    const before = gateway().subgraphCalls();
    const response = await post(gateway().url, { query: untrusted, variables: { id: 'acc_missing' } }, operator);
    expect(codes(response)).not.toContain('DOCUMENT_NOT_TRUSTED');
    expect(gateway().subgraphCalls()).toBeGreaterThan(before);
  });
});

describe('client awareness', () => {
  it('labels the client requests metric by apollographql-client-name/-version, or by the manifest of the document run', async () => {
    const gateway = gateways.get('forwarded')!;
    const owner = unique('aware');
    const bearer = await token(owner, 'customer');
    const requestId = unique('aware-req');
    const opened = await post(
      gateway.url,
      { query: openAccount, variables: { input: { ownerId: owner, type: 'PERSONAL', currency: 'USD' } } },
      bearer,
      {
        'apollographql-client-name': 'paygraph-ios',
        'apollographql-client-version': '3.1.4',
        'x-request-id': requestId,
      },
    );
    const id = opened.body.data?.openAccount?.id as string;
    expect(id).toMatch(/^acc_/);
    await post(gateway.url, { documentId: `sha256:${documentHash(iosQuery)}`, variables: { id } }, bearer);
    const metrics = await gateway.gateway.metrics.render();
    expect(metrics).toMatch(
      /^paygraph_graphql_client_requests_total\{client="paygraph-ios",version="3\.1\.4",outcome="ok"\} 1$/m,
    );
    expect(metrics).toMatch(
      /^paygraph_graphql_client_requests_total\{client="ios",version="unknown",outcome="ok"\} [1-9][0-9]*$/m,
    );
    // The audit line of the mutation names the client too (written in the background: polled until it is there).
    const auditFile = join(manifestDir, 'forwarded.jsonl');
    const deadline = Date.now() + 10_000;
    let line: { client?: Record<string, unknown> } | undefined;
    while (line === undefined && Date.now() < deadline) {
      line = readFileSync(auditFile, 'utf8')
        .split('\n')
        .filter((l) => l.includes(requestId))
        .map((l) => JSON.parse(l) as { client?: Record<string, unknown> })[0];
      if (line === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(line?.client).toMatchObject({ name: 'paygraph-ios', version: '3.1.4' });
  });

  it(`keeps at most ${clientNamesMax} distinct clients; later ones are "other"`, () => {
    const labels = new ClientLabels(2);
    const request = (name: string, version?: string) => ({
      http: {
        method: 'POST',
        search: '',
        body: {},
        headers: new Map(
          Object.entries({
            'apollographql-client-name': name,
            ...(version ? { 'apollographql-client-version': version } : {}),
          }),
        ),
      },
    });
    expect(labels.of(request('a', '1') as never)).toEqual({ name: 'a', version: '1' });
    expect(labels.of(request('b') as never)).toEqual({ name: 'b', version: 'unknown' });
    expect(labels.of(request('c', '1') as never)).toEqual({ name: 'other', version: 'other' });
    expect(labels.of(request('a', '2') as never)).toEqual({ name: 'other', version: 'other' });
    expect(labels.of(request('a', '1') as never)).toEqual({ name: 'a', version: '1' });
    expect(labels.of(request(`x${'\u0000'.repeat(3)}${'y'.repeat(200)}`) as never).name).toBe('other');
    expect(new ClientLabels().of(request(`x\u0007${'y'.repeat(200)}`) as never).name).toBe(`x${'y'.repeat(63)}`);
  });
});
