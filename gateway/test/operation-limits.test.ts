import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Kind, getIntrospectionQuery, parse, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { Supergraph } from '@apollo/federation-internals';
import { supergraphPath } from '../src/compose';
import {
  documentBytesMax,
  documentTokensMax,
  operationAliasesMax,
  operationCostMax,
  operationDepthMax,
} from '../src/limits';
import { checkOperation, countTokens, fragmentsOf, measureOperation } from '../src/security/operation-limits';
import { startStack, type Stack } from '../../test/support/stack';
import { token, unique } from '../../test/support/env';
import { contractDocument } from '../../scripts/lib/contract';
import {
  codes,
  post,
  refusedBeforeSubgraphs,
  startGuardedGateway,
  type GuardedGateway,
  type RawResponse,
} from './support/guarded-gateway';
import { gatewayPaths, type GatewayPath } from './support/both-paths';

/**
 * The operation limits and the production switches, as a client meets them: each abusive
 * request is refused with its code and HTTP 400 before any subgraph is called (the gateway
 * here reaches its subgraphs through counting proxies), while the contract's operations fit.
 */
let stack: Stack;
let prod: GuardedGateway;
/** The same as `prod`, planning every operation (no pass-through): the refusals must not depend on the path. */
let prodPlanned: GuardedGateway;
let dev: GuardedGateway;

function production(path: GatewayPath): GuardedGateway {
  return path === 'forwarded' ? prod : prodPlanned;
}
let bearer: string;
let apiSchema: GraphQLSchema;

beforeAll(async () => {
  stack = await startStack();
  const auditDir = mkdtempSync(join(tmpdir(), 'paygraph-limits-'));
  prod = await startGuardedGateway(stack, {
    production: true,
    security: { auditShards: null, redisUrl: null, auditLogFile: join(auditDir, 'prod.jsonl') },
  });
  prodPlanned = await startGuardedGateway(stack, {
    production: true,
    passThrough: false,
    security: { auditShards: null, redisUrl: null, auditLogFile: join(auditDir, 'prod-planned.jsonl') },
  });
  dev = await startGuardedGateway(stack, {
    production: false,
    security: { auditShards: null, redisUrl: null, auditLogFile: join(auditDir, 'dev.jsonl') },
  });
  bearer = await token(unique('limits'), 'customer');
  apiSchema = Supergraph.build(readFileSync(supergraphPath, 'utf8')).apiSchema().toGraphQLJSSchema();
});

afterAll(async () => {
  await prod?.stop();
  await prodPlanned?.stop();
  await dev?.stop();
  await stack?.stop();
});

describe('the contract under the limits', () => {
  it('accepts every contract operation, with GetAccount estimated at its 100 entries', () => {
    const document = contractDocument;
    const operations = document.definitions.filter(
      (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
    );
    expect(operations.map((o) => o.name?.value)).toContain('GetAccount');
    const fragments = fragmentsOf(document.definitions);
    for (const operation of operations) {
      const checked = checkOperation(apiSchema, fragments, operation, {});
      expect({ operation: operation.name?.value, ok: checked.ok }).toEqual({
        operation: operation.name?.value,
        ok: true,
      });
    }
    const getAccount = operations.find((o) => o.name?.value === 'GetAccount')!;
    const measure = measureOperation(apiSchema, fragments, getAccount, {});
    expect(measure.depth).toBe(5);
    expect(measure.aliases).toBe(0);
    // 100 edges, each with a cursor and a node of 6 fields: at least 800 fields.
    expect(measure.cost).toBeGreaterThan(800);
    expect(measure.cost).toBeLessThan(operationCostMax);
  });

  it('weighs a list argument by its length and `first` given as a variable by its value', () => {
    const fragments = new Map();
    const bulk = parse(
      'mutation($inputs: [CreatePaymentInput!]!) { createPayments(inputs: $inputs) { __typename ... on Payment { id status amount } } }',
    );
    const input = { idempotencyKey: 'k', payerAccountId: 'a', payeeAccountId: 'b', amount: '1', currency: 'USD' };
    const measure = (count: number) =>
      measureOperation(apiSchema, fragments, bulk.definitions[0] as OperationDefinitionNode, {
        inputs: Array.from({ length: count }, () => input),
      }).cost;
    expect(measure(1_000)).toBe(1_000 * 4);
    expect(measure(10)).toBe(10 * 4);
    const paged = parse('query($n: Int!) { accounts(ownerId: "x", first: $n) { edges { node { id } } } }')
      .definitions[0] as OperationDefinitionNode;
    expect(measureOperation(apiSchema, fragments, paged, { n: 7 }).cost).toBe(1 + 7 * 3);
    expect(checkOperation(apiSchema, fragments, paged, { n: operationCostMax }).ok).toBe(false);
  });

  it('counts tokens as the parser does, without comments', () => {
    expect(countTokens('{ a b }', 100)).toBe(4);
    expect(countTokens('# a comment\n{ a }', 100)).toBe(3);
    expect(countTokens('{ a b c d }', 3)).toBe(3);
  });

  it('serves the standard introspection query in development, deeper than the operation limit', async () => {
    const introspection = parse(getIntrospectionQuery());
    const measure = measureOperation(
      apiSchema,
      fragmentsOf(introspection.definitions),
      introspection.definitions[0] as OperationDefinitionNode,
      {},
    );
    expect(measure.introspectionDepth).toBeGreaterThan(operationDepthMax);
    const response = await post(dev.url, { query: getIntrospectionQuery() });
    expect(response.status).toBe(200);
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data?.__schema.queryType.name).toBe('Query');
  });
});

describe.each(gatewayPaths)('refused before any subgraph is called (%s path)', (path) => {
  // The production gateway that forwards single-subgraph operations, or the one that plans every operation.
  const gateway = () => production(path);

  it('lets a valid query through to a subgraph (so the counting can fail)', async () => {
    const before = gateway().subgraphCalls();
    const response = await post(
      gateway().url,
      { query: '{ accounts(ownerId: "nobody-here", first: 1) { edges { cursor } } }' },
      bearer,
    );
    expect(response.status).toBe(200);
    expect(gateway().subgraphCalls()).toBeGreaterThan(before);
  });

  it('refuses an operation 20 fields deep with OPERATION_TOO_DEEP', async () => {
    // payment > (payer > payments > edges > node) x 4 > payer > payments > __typename: 20 fields.
    const query = `{ payment(id: "pay_x") { ${'payer { payments(first: 1) { edges { node { '.repeat(4)}payer { payments(first: 1) { __typename } }${' } } } }'.repeat(4)} } }`;
    const response = await refusedBeforeSubgraphs(gateway(), () => post(gateway().url, { query }, bearer));
    expect(response.status).toBe(400);
    expect(codes(response)).toEqual(['OPERATION_TOO_DEEP']);
    expect(response.body.errors?.[0]?.extensions).toMatchObject({ measured: 20, limit: operationDepthMax });
    expect(response.body.data ?? null).toBeNull();
  });

  it('refuses 100 aliases with TOO_MANY_ALIASES', async () => {
    const query = `{ ${Array.from({ length: 100 }, (_, i) => `a${i}: payment(id: "pay_${i}") { id }`).join(' ')} }`;
    const response = await refusedBeforeSubgraphs(gateway(), () => post(gateway().url, { query }, bearer));
    expect(response.status).toBe(400);
    expect(codes(response)).toEqual(['TOO_MANY_ALIASES']);
    expect(response.body.errors?.[0]?.extensions).toMatchObject({ measured: 100, limit: operationAliasesMax });
  });

  it('refuses nested lists whose sizes multiply past the cost limit with OPERATION_TOO_COSTLY', async () => {
    const query = `{ accounts(ownerId: "x", first: 100) { edges { node {
      payments(first: 100) { edges { node { payee { payments(first: 100) { edges { node { id amount } } } } } } } } } } }`;
    const response = await refusedBeforeSubgraphs(gateway(), () => post(gateway().url, { query }, bearer));
    expect(response.status).toBe(400);
    expect(codes(response)).toEqual(['OPERATION_TOO_COSTLY']);
    expect(response.body.errors?.[0]?.extensions?.measured).toBeGreaterThan(100 ** 3);
  });

  it('refuses a cost bomb whose page sizes come from variables', async () => {
    const query =
      'query Bomb($n: Int!) { accounts(ownerId: "x", first: $n) { edges { node { payments(first: $n) { edges { node { id } } } } } } }';
    const response = await refusedBeforeSubgraphs(gateway(), () =>
      post(gateway().url, { query, variables: { n: 1_000 } }, bearer),
    );
    expect(response.status).toBe(400);
    expect(codes(response)).toEqual(['OPERATION_TOO_COSTLY']);
  });

  it('refuses a 1 MB document at the body limit (413), and a document over its own limit with DOCUMENT_TOO_LARGE', async () => {
    const megabyte = `{ ${'__typename '.repeat(Math.ceil(1_048_576 / 11))} }`;
    const huge = await refusedBeforeSubgraphs(gateway(), () => post(gateway().url, { query: megabyte }, bearer));
    expect(huge.status).toBe(413);

    // Past documentBytesMax but far under the body limit: padding in a comment, so that only the size is wrong.
    const padded = `# ${'x'.repeat(documentBytesMax)}\n{ __typename }`;
    const large = await refusedBeforeSubgraphs(gateway(), () => post(gateway().url, { query: padded }, bearer));
    expect(large.status).toBe(400);
    expect(codes(large)).toEqual(['DOCUMENT_TOO_LARGE']);
    expect(large.body.errors?.[0]?.extensions).toMatchObject({ limit: documentBytesMax });
  });

  it('refuses a document with too many tokens with TOO_MANY_TOKENS', async () => {
    const query = `{ ${'__typename '.repeat(documentTokensMax)} }`;
    const response = await refusedBeforeSubgraphs(gateway(), () => post(gateway().url, { query }, bearer));
    expect(response.status).toBe(400);
    expect(codes(response)).toEqual(['TOO_MANY_TOKENS']);
  });

  it('refuses a batch of 50 operations with BATCHING_DISABLED, and Apollo Server refuses arrays by itself too', async () => {
    const batch = Array.from({ length: 50 }, (_, i) => ({ query: `{ payment(id: "pay_${i}") { id } }` }));
    const response = await refusedBeforeSubgraphs(gateway(), () => post(gateway().url, batch, bearer));
    expect(response.status).toBe(400);
    expect(codes(response)).toEqual(['BATCHING_DISABLED']);

    // Behind the screen, Apollo Server's own default (allowBatchedHttpRequests: false) holds as well.
    const { HeaderMap } = await import('@apollo/server');
    const before = gateway().subgraphCalls();
    const direct = await gateway().gateway.apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: {
        method: 'POST',
        headers: new HeaderMap([['content-type', 'application/json']]),
        search: '',
        body: batch,
      },
      context: async () => ({
        authorization: undefined,
        auth: { ok: false, failure: { kind: 'TokenMissing' } },
        client: { ip: null, userAgent: null, deviceId: null },
      }),
    });
    expect(direct.status).toBe(400);
    expect(direct.body.kind === 'complete' ? direct.body.string : '').toMatch(/batching disabled/i);
    expect(gateway().subgraphCalls()).toBe(before);
  });

  it('turns introspection off in production', async () => {
    const response = await refusedBeforeSubgraphs(gateway(), () =>
      post(gateway().url, { query: '{ __schema { queryType { name } } }' }, bearer),
    );
    expect(response.status).toBe(400);
    expect(codes(response)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(response.body.errors?.[0]?.message).toMatch(/introspection/i);
  });

  it('serves the Explorer (GraphiQL, from its own files) to a browser in development only', async () => {
    const browserGet = (url: string) =>
      fetch(url, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    const inDevelopment = await browserGet(dev.url);
    expect(inDevelopment.status).toBe(200);
    const page = await inDevelopment.text();
    expect(page).toContain('<title>paygraph Explorer</title>');
    // Every script and stylesheet of the page is the gateway's own; Apollo's CDN Sandbox is gone.
    expect([...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1])).toEqual([
      'data:,',
      '/explorer/explorer.css',
      '/explorer/explorer.js',
    ]);
    expect(page).not.toMatch(/apollographql|https?:\/\//);
    const script = await fetch(new URL('/explorer/explorer.js', dev.url));
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);

    const inProduction = await browserGet(prod.url);
    expect(await inProduction.text()).not.toContain('Explorer');
    expect((await fetch(new URL('/explorer/explorer.js', prod.url))).status).toBe(404);
  });

  it('suggests no field names and sends no stack traces in production, and does both in development', async () => {
    const query = '{ acount(id: "acc_x") { id } }';
    const inProduction = await refusedBeforeSubgraphs(gateway(), () => post(gateway().url, { query }, bearer));
    expect(inProduction.status).toBe(400);
    expect(codes(inProduction)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(inProduction.body.errors?.[0]?.message).toMatch(/Cannot query field "acount"/);
    expect(inProduction.body.errors?.[0]?.message).not.toMatch(/Did you mean/);
    expect(inProduction.body.errors?.[0]?.extensions?.stacktrace).toBeUndefined();

    const inDevelopment = await refusedBeforeSubgraphs(dev, () => post(dev.url, { query }, bearer));
    expect(inDevelopment.body.errors?.[0]?.message).toMatch(/Did you mean "account"/);
    expect(inDevelopment.body.errors?.[0]?.extensions?.stacktrace).toEqual(expect.any(Array));
  });

  it('refuses GET mutations and GET requests without the CSRF header', async () => {
    const ownerId = unique('csrf');
    const mutation = `mutation { openAccount(input: { ownerId: "${ownerId}", type: PERSONAL, currency: "USD" }) { __typename } }`;
    const get =
      (query: string, headers: Record<string, string> = {}) =>
      async (): Promise<RawResponse> => {
        const response = await fetch(`${gateway().url}?${new URLSearchParams({ query })}`, {
          headers: { authorization: `Bearer ${bearer}`, ...headers },
        });
        return {
          status: response.status,
          headers: response.headers,
          body: (await response.json()) as RawResponse['body'],
        };
      };
    const noHeader = await refusedBeforeSubgraphs(gateway(), get(mutation));
    expect(noHeader.status).toBe(400);
    expect(noHeader.body.errors?.[0]?.message).toMatch(/Cross-Site Request Forgery/);

    const withHeader = await refusedBeforeSubgraphs(gateway(), get(mutation, { 'apollo-require-preflight': 'true' }));
    expect(withHeader.status).toBe(405);
    expect(withHeader.headers.get('allow')).toBe('POST');

    const query = '{ accounts(ownerId: "nobody-here", first: 1) { edges { cursor } } }';
    const queryNoHeader = await refusedBeforeSubgraphs(gateway(), get(query));
    expect(queryNoHeader.status).toBe(400);

    // The same GET query with the header is served, through a subgraph.
    const before = gateway().subgraphCalls();
    const served = await get(query, { 'apollo-require-preflight': 'true' })();
    expect(served.status).toBe(200);
    expect(gateway().subgraphCalls()).toBeGreaterThan(before);
  });
});

/**
 * Issue 31: the limits measure the operation execution will run, with its variables coerced
 * (defaults applied), on both paths. Each operation below takes its page sizes from a variable,
 * spreads a fragment and nests one page inside another; sent with `{}` it must be measured as
 * sent with the values execution uses. Depth and aliases never depend on variables (the planner
 * plans every branch whatever their values): their tests hold that the default changes nothing.
 */
describe.each(gatewayPaths)('limits measure the variables execution uses, defaults included (%s path)', (path) => {
  const gateway = () => production(path);

  /** Refused before any subgraph is called, with this code; its extensions. */
  const refused = async (
    query: string,
    variables: Record<string, unknown>,
    code: string,
  ): Promise<Record<string, any>> => {
    const response = await refusedBeforeSubgraphs(gateway(), () => post(gateway().url, { query, variables }, bearer));
    expect({ status: response.status, codes: codes(response) }, JSON.stringify(variables)).toEqual({
      status: 400,
      codes: [code],
    });
    return response.body.errors![0]!.extensions!;
  };

  /** Served, through a subgraph: the operation is fine with small enough values. */
  const served = async (query: string, variables: Record<string, unknown>): Promise<void> => {
    const before = gateway().subgraphCalls();
    const response = await post(gateway().url, { query, variables }, bearer);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(codes(response).filter((c) => c !== 'FORBIDDEN')).toEqual([]);
    expect(gateway().subgraphCalls()).toBeGreaterThan(before);
  };

  it('cost: a page size defaulted to 100 is measured at 100, sent or not (accounts, each with its entries)', async () => {
    const query = `query Paged($n: Int = 100) { accounts(ownerId: "nobody-here", first: $n) { edges { ...Row } } }
      fragment Row on AccountEdge { node { id entries(first: $n) { edges { node { id amount } } } } }`;
    // 1 + n × (4 + 4n): 40,401 at 100.
    const defaulted = await refused(query, {}, 'OPERATION_TOO_COSTLY');
    expect(defaulted).toMatchObject({ measured: 40_401, limit: operationCostMax });
    expect(await refused(query, { n: 100 }, 'OPERATION_TOO_COSTLY')).toEqual(defaulted);
    await served(query, { n: 10 });
  });

  it("page sizes: a page variable left out is the argument's own default (20), and null the largest page a subgraph serves", async () => {
    // Three nested pages: 1 + n × (3 + 4n + 4n²), 33,661 at the schema's 20 (4,431 at 10).
    const query = `query Nested($n: Int) { accounts(ownerId: "nobody-here", first: $n) { edges { ...Paid } } }
      fragment Paid on AccountEdge { node { payments(first: $n) { edges { node { payer { payments(first: $n) { edges { node { id amount } } } } } } } } }`;
    const leftOut = await refused(query, {}, 'OPERATION_TOO_COSTLY');
    expect(leftOut).toMatchObject({ measured: 33_661 });
    expect(await refused(query, { n: 20 }, 'OPERATION_TOO_COSTLY')).toEqual(leftOut);
    expect(await refused(query, { n: null }, 'OPERATION_TOO_COSTLY')).toMatchObject({
      measured: 1 + 100 * (3 + 400 + 40_000),
    });
    await served(query, { n: 5 });
  });

  it('depth: nesting through a fragment and nested pages is measured the same whether the page size is defaulted or sent', async () => {
    // payment > (payer > payments > edges > node) × 4 in the fragment > payer > payments > __typename: 20 fields.
    const query = `query Deep($n: Int = 1) { payment(id: "pay_x") { ...Hops } }
      fragment Hops on Payment { ${'payer { payments(first: $n) { edges { node { '.repeat(4)}payer { payments(first: $n) { __typename } }${' } } } }'.repeat(4)} }`;
    const defaulted = await refused(query, {}, 'OPERATION_TOO_DEEP');
    expect(defaulted).toMatchObject({ measured: 20, limit: operationDepthMax });
    expect(await refused(query, { n: 1 }, 'OPERATION_TOO_DEEP')).toEqual(defaulted);
  });

  it('aliases: aliased pages in a fragment spread inside a page count the same whether the page size is defaulted or sent', async () => {
    const aliased = Array.from({ length: 40 }, (_, i) => `p${i}: payments(first: $n) { edges { cursor } }`).join(' ');
    const query = `query Aliased($n: Int = 1) { accounts(ownerId: "nobody-here", first: $n) { edges { node { ...Pages } } } }
      fragment Pages on Account { ${aliased} }`;
    const defaulted = await refused(query, {}, 'TOO_MANY_ALIASES');
    expect(defaulted).toMatchObject({ measured: 40, limit: operationAliasesMax });
    expect(await refused(query, { n: 1 }, 'TOO_MANY_ALIASES')).toEqual(defaulted);
  });
});
