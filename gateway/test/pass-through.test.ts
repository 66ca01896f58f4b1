import { readFileSync } from 'node:fs';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import {
  Kind,
  getNamedType,
  getNullableType,
  isAbstractType,
  isEnumType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  parse,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type TypeNode,
} from 'graphql';
import { Supergraph } from '@apollo/federation-internals';
import { listen } from '@paygraph/shared/server/http';
import { supergraphPath } from '../src/compose';
import { startStack, type Stack } from '../../test/support/stack';
import { contractPath } from '../../scripts/lib/contract';
import { token, unique } from '../../test/support/env';
import { deposit, openAccount, pay } from '../../test/support/balance-events';
import { createHold } from '../../test/support/holds';
import { useSeededRandom, type SeededRandom } from '../../test/support/seeded-random';
import { postRaw, startGatewayPair, withoutStacks, type GatewayPair } from './support/both-paths';
import { countingProxy, type CountingProxy } from './support/guarded-gateway';
import type { SubgraphUrls } from '../src/server';

/**
 * Pass-through (gateway/src/pass-through): an operation whose query plan is a single fetch to one
 * subgraph is sent to that subgraph as the client wrote it, and its answer handed on. Every answer
 * must be the planned path's, byte for byte. Two gateways in front of the same subgraphs, one
 * forwarding and one planning everything, are asked the same things and their answers compared:
 * every query of the contract, as its owner, an operator and another customer (FORBIDDEN), and a
 * seeded set of generated selections (aliases, inline and named fragments, __typename,
 * variables, @skip/@include, nulls, errors, introspection), in development mode (stack traces
 * aside, see withoutStacks: they name the operation the subgraph ran, the planner's
 * `<name>__account__0` or the client's) and in production mode (whole bodies); and with the
 * account subgraph gone (SUBGRAPH_UNAVAILABLE); and every contract query with variables that are
 * missing, null, ill-typed or not the scalar's (refused BAD_USER_INPUT before any subgraph is
 * called: the dev and production pairs reach their subgraphs through counting proxies), or extra.
 */
const random = useSeededRandom();
let stack: Stack;
/** The same subgraphs as NODE_ENV=production runs them: their errors carry no stack traces. */
let productionStack: Stack;
let dev: GatewayPair;
let production: GatewayPair;
let accountGone: GatewayPair;
/** The counting proxies between the dev and production pairs and their subgraphs. */
let devProxies: CountedSubgraphs;
let productionProxies: CountedSubgraphs;
let api: GraphQLSchema;
/** The account subgraph's schema as the supergraph records it: half the generated operations keep to its fields. */
let accountSchema: GraphQLSchema;

const contract = parse(readFileSync(contractPath, 'utf8'));
const contractQueries = contract.definitions.filter(
  (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION && d.operation === 'query',
);

interface Caller {
  name: string;
  bearer: string;
}

let operator: Caller;
let owner: Caller;
let stranger: Caller;
let merchant: Caller;
let fixtures: {
  personal: string;
  merchantAccount: string;
  strangerAccount: string;
  payment: string;
  hold: string;
};

/** A port nothing listens on: the account subgraph of accountGone. */
async function closedPortUrl(): Promise<string> {
  const server = (await import('node:http')).createServer();
  const port = await listen(server, 0, '127.0.0.1');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/graphql`;
}

/**
 * The subgraphs' clock stands still: refusals such as balanceAt's name "now", which must be the same for both gateways'
 * calls.
 */
const testStart = new Date();
const now = () => testStart;

beforeAll(async () => {
  stack = await startStack({ now });
  devProxies = await countedSubgraphs(stack.subgraphUrls);
  dev = await startGatewayPair(devProxies.urls);
  productionStack = await startStack({ production: true, now });
  productionProxies = await countedSubgraphs(productionStack.subgraphUrls);
  production = await startGatewayPair(productionProxies.urls, { production: true });
  accountGone = await startGatewayPair(
    { ...productionStack.subgraphUrls, account: await closedPortUrl() },
    { production: true },
  );
  const supergraph = Supergraph.build(readFileSync(supergraphPath, 'utf8'));
  api = supergraph.apiSchema().toGraphQLJSSchema();
  accountSchema = supergraph.subgraphs().get('account')!.schema.toGraphQLJSSchema();

  const sub = (what: string) => unique(`pass-${what}`);
  operator = { name: 'operator', bearer: await token(sub('operator'), 'operator') };
  const ownerSub = sub('owner');
  owner = { name: 'owner', bearer: await token(ownerSub, 'customer') };
  const strangerSub = sub('stranger');
  stranger = { name: 'stranger', bearer: await token(strangerSub, 'customer') };
  const merchantSub = sub('merchant');
  merchant = { name: 'merchant', bearer: await token(merchantSub, 'merchant') };
  const personal = await openAccount(stack.gatewayUrl, operator.bearer, ownerSub);
  const merchantAccount = await openAccount(stack.gatewayUrl, operator.bearer, merchantSub, 'MERCHANT');
  const strangerAccount = await openAccount(stack.gatewayUrl, operator.bearer, strangerSub);
  await deposit(stack.gatewayUrl, operator.bearer, personal, 1_000_000n);
  await deposit(stack.gatewayUrl, operator.bearer, strangerAccount, 1_000_000n);
  let payment = '';
  for (let i = 0; i < 4; i++)
    payment = (await pay(stack.gatewayUrl, operator.bearer, personal, merchantAccount, 1_250n + BigInt(i))).id;
  await pay(stack.gatewayUrl, operator.bearer, strangerAccount, personal, 333n);
  const held = await createHold(stack.gatewayUrl, operator.bearer, {
    payer: personal,
    payee: merchantAccount,
    amount: '777',
    key: sub('hold'),
  });
  expect(held.errors).toBeUndefined();
  fixtures = { personal, merchantAccount, strangerAccount, payment, hold: held.data!.createHold.id as string };
});

afterAll(async () => {
  await accountGone?.stop();
  await production?.stop();
  await dev?.stop();
  await productionProxies?.close();
  await devProxies?.close();
  await productionStack?.stop();
  await stack?.stop();
});

/** A stack's subgraphs, each behind a counting proxy (a real HTTP hop that counts the requests it passes on). */
interface CountedSubgraphs {
  urls: SubgraphUrls;
  /** Requests sent to any subgraph so far. */
  requests(): number;
  close(): Promise<void>;
}

async function countedSubgraphs(urls: SubgraphUrls): Promise<CountedSubgraphs> {
  const proxies: CountingProxy[] = [];
  const proxied = {} as SubgraphUrls;
  for (const [name, url] of Object.entries(urls) as Array<[keyof SubgraphUrls, string]>) {
    const proxy = await countingProxy(url);
    proxies.push(proxy);
    proxied[name] = proxy.url;
  }
  return {
    urls: proxied,
    requests: () => proxies.reduce((sum, proxy) => sum + proxy.requests(), 0),
    close: async () => {
      for (const proxy of proxies) await proxy.close();
    },
  };
}

/** Variables for a contract query, from its variable definitions' names. */
function contractVariables(operation: OperationDefinitionNode): Record<string, unknown> {
  const today = new Date().toISOString().slice(0, 10);
  const values: Record<string, unknown> = {
    id:
      operation.name?.value === 'GetHold'
        ? fixtures.hold
        : /Payment/.test(operation.name?.value ?? '')
          ? fixtures.payment
          : fixtures.personal,
    ownerId: 'nobody',
    at: new Date().toISOString(),
    from: '2020-01-01',
    to: today,
    businessDate: today,
    channel: 'bank-1',
  };
  return Object.fromEntries(
    (operation.variableDefinitions ?? []).map((v) => [v.variable.name.value, values[v.variable.name.value] ?? null]),
  );
}

interface Asked {
  query: string;
  variables: Record<string, unknown>;
  bearer?: string;
}

/**
 * Asks both gateways of a pair, the forwarding one first; returns each one's answer and how many operations the
 * forwarding one forwarded.
 */
async function askBoth(
  pair: GatewayPair,
  asked: Asked,
): Promise<{ forwarded: string; planned: string; status: [number, number]; wasForwarded: boolean }> {
  const body = { query: asked.query, variables: asked.variables };
  const before = pair.forwarded.gateway.metrics.operationPaths().forwarded;
  const a = await postRaw(pair.forwarded.url, body, asked.bearer);
  const wasForwarded = pair.forwarded.gateway.metrics.operationPaths().forwarded > before;
  const b = await postRaw(pair.planned.url, body, asked.bearer);
  expect(pair.planned.gateway.metrics.operationPaths().forwarded).toBe(0);
  expect(a.contentType).toBe(b.contentType);
  return { forwarded: a.body, planned: b.body, status: [a.status, b.status], wasForwarded };
}

/**
 * Forwarded, the answers must be the same bytes, but for the order of several errors: root
 * fields run in parallel inside the subgraph, and their errors come in whichever order they
 * failed (seed 3666463140: `a3.statement` and `balanceChanges.*.balanceAt` both refused, in one
 * order forwarded and the other planned). Planned both times (the operation needs several
 * subgraphs), the order of errors from fetches that run in parallel is whichever answered first.
 * So an answer with more than one error is compared with its errors in a fixed order.
 */
async function expectSameAnswers(asked: Asked): Promise<boolean> {
  const devAnswers = await askBoth(dev, asked);
  const devOrder = devAnswers.wasForwarded ? bytesUnlessSeveralErrors : errorsInFixedOrder;
  expect(devAnswers.status[0], asked.query).toBe(devAnswers.status[1]);
  expect(devOrder(withoutStacks(devAnswers.forwarded)), asked.query).toBe(devOrder(withoutStacks(devAnswers.planned)));
  const prodAnswers = await askBoth(production, asked);
  const prodOrder = prodAnswers.wasForwarded ? bytesUnlessSeveralErrors : errorsInFixedOrder;
  expect(prodAnswers.status[0], asked.query).toBe(prodAnswers.status[1]);
  expect(prodOrder(prodAnswers.forwarded), asked.query).toBe(prodOrder(prodAnswers.planned));
  return devAnswers.wasForwarded;
}

/**
 * Several errors come in whichever order their fields failed, but for an answer whose `data` a
 * failed non-null root field nulled: the subgraph's executor waits for every root field then and
 * reports each one's error in field order, and no deeper one (jit-executor.ts, withEveryRootError:
 * seed 3914156917 answered `account.balanceAt`'s error forwarded and not planned), so such an
 * answer is compared byte for byte. (Before, it answered whichever root fields had failed when
 * `data` was nulled: seeds 2185664467, 1302597705 and 1461552046 answered one error on one path
 * and two on the other; jit-executor.test.ts "root fields that all fail" has that race.)
 */
function bytesUnlessSeveralErrors(body: string): string {
  const parsed = JSON.parse(body) as { data?: unknown; errors?: Array<{ path?: unknown[] }> };
  const errors = parsed.errors ?? [];
  const rootFieldsFailed = parsed.data === null && errors.every((e) => e.path?.length === 1);
  return errors.length > 1 && !rootFieldsFailed ? errorsInFixedOrder(body) : body;
}

function errorsInFixedOrder(body: string): string {
  const parsed = JSON.parse(body) as { errors?: unknown[] };
  parsed.errors?.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  return JSON.stringify(parsed);
}

describe('every query of the contract', () => {
  it('answers the same bytes forwarded and planned, for the owner, an operator and another customer', async () => {
    const forwarded = new Set<string>();
    for (const operation of contractQueries) {
      const query = readFileSync(contractPath, 'utf8').slice(operation.loc!.start, operation.loc!.end);
      for (const caller of [operator, owner, stranger, merchant]) {
        const variables = contractVariables(operation);
        // AccountsByOwner: the caller's own accounts (the operator's: none).
        if ('ownerId' in variables) variables.ownerId = subOf(caller);
        if (await expectSameAnswers({ query, variables, bearer: caller.bearer })) forwarded.add(operation.name!.value);
      }
    }
    // The reads the account subgraph serves alone go straight to it.
    expect([...forwarded].sort()).toEqual(
      expect.arrayContaining(['AccountStatement', 'AccountsByOwner', 'BalanceAt', 'GetAccount']),
    );
  });

  it('answers the same without a token (UNAUTHENTICATED), with a forged one, and with the account subgraph gone (SUBGRAPH_UNAVAILABLE)', async () => {
    for (const operation of contractQueries) {
      const query = readFileSync(contractPath, 'utf8').slice(operation.loc!.start, operation.loc!.end);
      const variables = contractVariables(operation);
      await expectSameAnswers({ query, variables });
      await expectSameAnswers({ query, variables, bearer: `${operator.bearer.slice(0, -4)}AAAA` });
      const gone = await askBoth(accountGone, { query, variables, bearer: operator.bearer });
      expect(gone.status[0]).toBe(gone.status[1]);
      expect(gone.forwarded, query).toBe(gone.planned);
    }
    const gone = await askBoth(accountGone, {
      query: 'query($id: ID!) { account(id: $id) { id } }',
      variables: { id: fixtures.personal },
      bearer: operator.bearer,
    });
    expect(gone.wasForwarded).toBe(true);
    expect(JSON.parse(gone.forwarded)).toMatchObject({
      data: { account: null },
      errors: [{ extensions: { code: 'SUBGRAPH_UNAVAILABLE', retryable: true } }],
    });
  });
});

/**
 * Values the scalar of each name refuses (graphql-js's ID and Int; the subgraphs' Date and
 * DateTime, which the gateway parses as they do): each must be refused at the gateway.
 */
const refusedValues: Record<string, readonly unknown[]> = {
  ID: [true, 1.5, { id: 'acc' }, ['acc_1']],
  Date: ['2020-13-45', '2021-02-29', '20200101', 20200101, 'yesterday', false],
  DateTime: ['not a time', 1_700_000_000, true, { at: 'now' }],
  Int: ['1', 1.5, 2 ** 31, true],
  String: [1, false, { s: 'x' }],
};

interface BadVariables {
  variables: Record<string, unknown>;
  /**
   * The variables the answer must name; empty for extra variables, which are ignored, as the planned path ignores them.
   */
  refused: string[];
}

/**
 * Seeded bad variables for one operation: each variable left out, null, and given a value its
 * type refuses; two bad at once where there are two; and extra variables beside good ones.
 */
function badVariablesFor(
  operation: OperationDefinitionNode,
  good: Record<string, unknown>,
  rng: SeededRandom,
): BadVariables[] {
  const cases: BadVariables[] = [];
  const definitions = operation.variableDefinitions ?? [];
  const spoil = (typeName: string): unknown => rng.pick(refusedValues[typeName] ?? [{ not: 'a scalar' }]);
  for (const definition of definitions) {
    const name = definition.variable.name.value;
    const typeName = getNamedTypeName(definition.type);
    const { [name]: _left, ...without } = good;
    if (definition.type.kind === Kind.NON_NULL_TYPE) {
      cases.push({ variables: without, refused: [name] });
      cases.push({ variables: { ...good, [name]: null }, refused: [name] });
    }
    cases.push({ variables: { ...good, [name]: spoil(typeName) }, refused: [name] });
  }
  if (definitions.length >= 2) {
    const firstIndex = rng.below(definitions.length);
    const secondIndex = (firstIndex + 1 + rng.below(definitions.length - 1)) % definitions.length;
    const variables = { ...good };
    const names: string[] = [];
    for (const definition of [definitions[firstIndex]!, definitions[secondIndex]!]) {
      names.push(definition.variable.name.value);
      variables[definition.variable.name.value] = spoil(getNamedTypeName(definition.type));
    }
    cases.push({ variables, refused: names });
  }
  const extraName = rng.pick(['extra', 'unknown', 'first', 'id2', 'at_']);
  if (!(extraName in good))
    cases.push({ variables: { ...good, [extraName]: rng.pick([1, 'x', null, { deep: [1, 2] }, true]) }, refused: [] });
  return cases;
}

function getNamedTypeName(type: TypeNode): string {
  return type.kind === Kind.NAMED_TYPE ? type.name.value : getNamedTypeName(type.type);
}

describe('bad variables for every query of the contract', () => {
  it('are answered the same forwarded and planned, BAD_USER_INPUT naming each variable, with nothing sent to a subgraph', async () => {
    const forwardedOperations = new Set<string>();
    let asked = 0;
    for (const [index, operation] of contractQueries.entries()) {
      if ((operation.variableDefinitions ?? []).length === 0) continue;
      const query = readFileSync(contractPath, 'utf8').slice(operation.loc!.start, operation.loc!.end);
      const rng = random.fork(10_000 + index);
      for (const bad of badVariablesFor(operation, contractVariables(operation), rng)) {
        const caller = rng.pick([operator, owner, stranger]);
        const label = `${operation.name!.value} ${JSON.stringify(bad.variables)}`;
        for (const [pair, proxies, mode] of [
          [dev, devProxies, 'dev'],
          [production, productionProxies, 'production'],
        ] as const) {
          const before = proxies.requests();
          const answers = await askBoth(pair, { query, variables: bad.variables, bearer: caller.bearer });
          asked += 1;
          expect(answers.status[0], label).toBe(answers.status[1]);
          if (bad.refused.length === 0) {
            // Extra variables are ignored, as graphql-js ignores them: the answer is the operation's.
            const order = answers.wasForwarded ? bytesUnlessSeveralErrors : errorsInFixedOrder;
            expect(order(withoutStacks(answers.forwarded)), label).toBe(order(withoutStacks(answers.planned)));
            continue;
          }
          if (answers.wasForwarded) forwardedOperations.add(operation.name!.value);
          expect(proxies.requests() - before, `${label}: sent to a subgraph`).toBe(0);
          expect(answers.status[0], label).toBe(400);
          const forwarded = mode === 'production' ? answers.forwarded : withoutStacks(answers.forwarded);
          expect(forwarded, label).toBe(mode === 'production' ? answers.planned : withoutStacks(answers.planned));
          const body = JSON.parse(answers.forwarded) as {
            data?: unknown;
            errors: Array<{ message: string; extensions: Record<string, unknown> }>;
          };
          expect(body.data, label).toBeUndefined();
          expect(
            body.errors.map((e) => e.extensions.code),
            label,
          ).toEqual(bad.refused.map(() => 'BAD_USER_INPUT'));
          const named = body.errors.map((e) => /^Variable "\$(\w+)"/.exec(e.message)?.[1]);
          expect(new Set(named), label).toEqual(new Set(bad.refused));
          if (mode === 'production') expect(answers.forwarded, label).not.toContain('stacktrace');
        }
      }
    }
    console.info(`[pass-through] ${asked} answers to bad variables compared (seed ${random.seed})`);
    // The reads the account subgraph serves alone took the forwarded path, and were refused there.
    expect([...forwardedOperations].sort()).toEqual(
      expect.arrayContaining(['AccountStatement', 'AccountsByOwner', 'BalanceAt', 'GetAccount']),
    );
  });
});

/** The sub of a caller's token, from its payload (the test minted it). */
function subOf(caller: Caller): string {
  const payload = JSON.parse(Buffer.from(caller.bearer.split('.')[1]!, 'base64url').toString('utf8')) as {
    sub: string;
  };
  return payload.sub;
}

describe('generated selections', () => {
  it('answer the same bytes forwarded and planned', async () => {
    // Generated until enough of them were forwarded, not a fixed count: the share a seed forwards
    // varies (13 of 60 for seed 1064084205), and a fixed share failed on such a seed.
    const forwardedWanted = 20;
    const generatedMax = 200;
    let forwarded = 0;
    let count = 0;
    for (; count < generatedMax && forwarded < forwardedWanted; count++) {
      const generated = generateOperation(random.fork(count));
      const caller = random.pick([operator, owner, stranger, undefined]);
      if (
        await expectSameAnswers({
          query: generated.query,
          variables: generated.variables,
          ...(caller ? { bearer: caller.bearer } : {}),
        })
      )
        forwarded += 1;
    }
    console.info(`[pass-through] ${forwarded} of ${count} generated operations were forwarded (seed ${random.seed})`);
    expect(forwarded).toBe(forwardedWanted);
  });

  it('keep introspection on the planned path, and answer it the same', async () => {
    for (const query of [
      '{ __schema { queryType { name } } }',
      'query($id: ID!) { __typename account(id: $id) { id __typename } }',
      'query($id: ID!) { account(id: $id) { id } __type(name: "Account") { name fields { name } } }',
    ]) {
      const answers = await askBoth(dev, { query, variables: { id: fixtures.personal }, bearer: operator.bearer });
      expect(answers.wasForwarded, query).toBe(false);
      expect(withoutStacks(answers.forwarded), query).toBe(withoutStacks(answers.planned));
    }
  });
});

interface Generated {
  query: string;
  variables: Record<string, unknown>;
}

/**
 * A random query over the API schema (every other one over the fields the account subgraph has,
 * so that many are forwarded): one or two root fields of those with arguments the test can supply, each with a random
 * selection below it (up to 4 levels), using aliases, inline and
 * named fragments, __typename, @skip/@include on literals and variables, and arguments that are
 * fine, absent, refused (BAD_USER_INPUT) or name what is not there or not the caller's.
 */
function generateOperation(rng: SeededRandom): Generated {
  const variables: Record<string, unknown> = {};
  const definitions: string[] = [];
  const fragments: string[] = [];
  let aliasCount = 0;
  let fragmentCount = 0;
  const accountOnly = rng.below(2) === 0;
  const fieldsOf = (type: GraphQLObjectType) =>
    Object.values(type.getFields()).filter((field) => {
      if (!accountOnly) return true;
      const own = accountSchema.getType(type.name);
      return own !== undefined && 'getFields' in own && field.name in own.getFields();
    });

  const variable = (name: string, type: string, value: unknown): string => {
    if (!(name in variables)) {
      variables[name] = value;
      definitions.push(`$${name}: ${type}`);
    }
    return `$${name}`;
  };

  const argumentValue = (name: string, typeName: string): string | null => {
    switch (typeName) {
      case 'ID': {
        const id = rng.pick([
          fixtures.personal,
          fixtures.personal,
          fixtures.merchantAccount,
          fixtures.strangerAccount,
          fixtures.payment,
          fixtures.hold,
          'acc_nope',
          'nope',
        ]);
        const idValue = name === 'ownerId' ? rng.pick(['nobody', 'someone-else']) : id;
        return rng.below(2) === 0 ? JSON.stringify(idValue) : variable(`v${name}${rng.below(2)}`, 'ID!', idValue);
      }
      case 'Int':
        return String(rng.pick([1, 2, 3, 5, 100, 0, -1, 1000]));
      case 'String':
        return rng.pick([null, '"not-a-cursor"']);
      case 'DateTime':
        return JSON.stringify(
          rng.pick([
            new Date(Date.now() - 3_600_000).toISOString(),
            new Date(Date.now() + 86_400_000).toISOString(),
            new Date().toISOString(),
          ]),
        );
      case 'Date':
        return JSON.stringify(rng.pick(['2020-01-01', new Date().toISOString().slice(0, 10), '2030-01-01']));
      default:
        return null;
    }
  };

  const argumentsOf = (field: GraphQLField<unknown, unknown>): string | null => {
    const parts: string[] = [];
    for (const arg of field.args) {
      const required = isNonNullType(arg.type);
      if (!required && rng.below(3) !== 0) continue;
      const named = getNamedType(arg.type);
      if (isListType(getNullableType(arg.type))) {
        if (required) return null;
        continue;
      }
      const value = argumentValue(arg.name, named.name);
      if (value === null) {
        if (required) return null;
        continue;
      }
      parts.push(`${arg.name}: ${value}`);
    }
    return parts.length > 0 ? `(${parts.join(', ')})` : '';
  };

  const directive = (): string => {
    switch (rng.below(10)) {
      case 0:
        return ' @include(if: false)';
      case 1:
        return ` @skip(if: ${variable('skipIt', 'Boolean!', rng.below(2) === 0)})`;
      case 2:
        return ` @include(if: ${variable('includeIt', 'Boolean!', rng.below(2) === 0)})`;
      default:
        return '';
    }
  };

  const selectionOf = (type: GraphQLNamedType, depth: number): string => {
    if (isAbstractType(type)) {
      const parts = ['__typename'];
      for (const possible of api.getPossibleTypes(type)) {
        if (rng.below(3) === 0) parts.push(`... on ${possible.name} { ${selectionOf(possible, depth)} }`);
      }
      return parts.join(' ');
    }
    if (!isObjectType(type)) return '__typename';
    const fields = fieldsOf(type);
    if (fields.length === 0) return '__typename';
    const chosen: string[] = [];
    const want = rng.between(1, Math.min(5, fields.length));
    for (let n = 0; n < want * 2 && chosen.length < want; n++) {
      const text = fieldText(rng.pick(fields), depth);
      if (text !== null) chosen.push(text);
    }
    if (chosen.length === 0 || rng.below(5) === 0) chosen.push('__typename');
    return wrapSome(type, chosen).join(' ');
  };

  const wrapSome = (type: GraphQLObjectType, parts: string[]): string[] => {
    const roll = rng.below(8);
    if (roll === 0) return [`... on ${type.name} { ${parts.join(' ')} }`];
    if (roll === 1) {
      const name = `F${fragmentCount++}`;
      fragments.push(`fragment ${name} on ${type.name} { ${parts.join(' ')} }`);
      return [`...${name}`];
    }
    if (roll === 2) return [`... { ${parts.join(' ')} }`];
    return parts;
  };

  const fieldText = (field: GraphQLField<unknown, unknown>, depth: number): string | null => {
    const args = argumentsOf(field);
    if (args === null) return null;
    const named = getNamedType(field.type);
    const alias = rng.below(5) === 0 ? `a${aliasCount++}: ` : '';
    if (isLeafType(named) || isEnumType(named)) return `${alias}${field.name}${args}${directive()}`;
    if (depth >= 4) return null;
    return `${alias}${field.name}${args}${directive()} { ${selectionOf(named, depth + 1)} }`;
  };

  const query = api.getQueryType()!;
  const roots = (
    accountOnly
      ? ['account', 'account', 'accounts', 'balanceChanges']
      : ['account', 'account', 'accounts', 'balanceChanges', 'payment', 'hold', 'ledgerHealth']
  ).map((name) => query.getFields()[name]!);
  const rootParts: string[] = [];
  const rootCount = rng.between(1, 2);
  for (let n = 0; n < rootCount * 3 && rootParts.length < rootCount; n++) {
    const text = fieldText(rng.pick(roots), 0);
    if (text !== null) rootParts.push(text);
  }
  const name = rng.below(2) === 0 ? ` Generated${rng.below(1000)}` : '';
  const head =
    definitions.length > 0 || name ? `query${name}${definitions.length > 0 ? `(${definitions.join(', ')})` : ''} ` : '';
  return { query: `${head}{ ${rootParts.join(' ')} }\n${fragments.join('\n')}`, variables };
}
