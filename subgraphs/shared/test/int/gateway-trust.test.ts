import type { SubgraphName } from '../../../../scripts/lib/parts';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import {
  gatewayIdentityHeader,
  gatewayIdentityParam,
  gatewaySecretHeader,
  internalTokenIssuer,
  mintIdentityToken,
  subgraphTrust,
} from '../../src/gateway-trust';
import type { Role } from '../../src/identity';
import type { Stack } from '../../../../test/support/stack';
import { defaultStack } from '../../../../test/support/default-stack';
import { contractOperation } from '../../../../test/support/graphql';
import { asGateway, testSubgraphSecrets, testTrusts, token, unique } from '../../../../test/support/env';
import { depositFromReserve, entriesOf, ownerAccountCount } from '../../../../test/support/ledger';
import { resourceOfKey } from '../../../../test/support/bank';

/**
 * Subgraphs trust only the gateway: straight to a subgraph over real HTTP and WebSocket, a
 * request without the subgraph's secret gets a bare 401 and writes nothing, whatever it asks
 * (_service, _entities, a mutation, a subscription); with the secret, the caller's identity is
 * taken only from a token the gateway signed for that very subgraph.
 */
let stack: Stack;

beforeAll(async () => {
  stack = await defaultStack();
});

afterAll(async () => {
  await stack.stop();
});

interface RawAnswer {
  status: number;
  body: string;
}

async function post(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string>,
): Promise<RawAnswer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: await response.text() };
}

const openAccountDoc = contractOperation('OpenAccount');
const depositDoc = contractOperation('Deposit');
const serviceDoc = 'query { _service { sdl } }';
const entitiesDoc =
  'query($r: [_Any!]!) { _entities(representations: $r) { ... on Account { id ownerId balance { available } } } }';

/** A token shaped like the gateway's but signed as the caller likes. */
function internalToken(
  claims: { sub: string; role: Role },
  options: { key: string; audience: string; issuer?: string; expiresAt?: number },
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ role: claims.role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuer(options.issuer ?? internalTokenIssuer)
    .setAudience(options.audience)
    .setIssuedAt(now)
    .setExpirationTime(options.expiresAt ?? now + 60)
    .sign(new TextEncoder().encode(options.key));
}

const wrongSecret = 'not-the-account-secret-but-just-as-long-as-one';

describe("a request without the gateway's secret", () => {
  const withoutSecret: Array<{ name: string; headers: () => Promise<Record<string, string>> }> = [
    { name: 'no secret and no identity', headers: async () => ({}) },
    {
      name: 'no secret, with a client token',
      headers: async () => ({ authorization: `Bearer ${await token(unique('c'), 'operator')}` }),
    },
    {
      name: 'no secret, with a valid gateway identity',
      headers: async () => {
        const { [gatewaySecretHeader]: _secret, ...identity } = await asGateway('account', unique('c'), 'operator');
        return identity;
      },
    },
    {
      name: 'a wrong secret of another length',
      headers: async () => ({
        ...(await asGateway('account', unique('c'), 'operator')),
        [gatewaySecretHeader]: 'short',
      }),
    },
    {
      name: 'a wrong secret of the same kind',
      headers: async () => ({
        ...(await asGateway('account', unique('c'), 'operator')),
        [gatewaySecretHeader]: wrongSecret,
      }),
    },
    {
      name: "another subgraph's secret",
      headers: async () => ({
        ...(await asGateway('account', unique('c'), 'operator')),
        [gatewaySecretHeader]: testSubgraphSecrets.transaction,
      }),
    },
  ];

  it.each(withoutSecret)(
    'is answered 401 with an empty body for _service, _entities and a mutation ($name)',
    async ({ headers }) => {
      const ownerId = unique('intruder');
      const sent = await headers();
      const service = await post(stack.subgraphUrls.account, serviceDoc, {}, sent);
      expect(service).toEqual({ status: 401, body: '' });
      const entities = await post(
        stack.subgraphUrls.account,
        entitiesDoc,
        { r: [{ __typename: 'Account', id: 'acc_01ZZZZZZZZZZZZZZZZZZZZZZZZ_00' }] },
        sent,
      );
      expect(entities).toEqual({ status: 401, body: '' });
      const opened = await post(
        stack.subgraphUrls.account,
        openAccountDoc,
        { input: { ownerId, type: 'PERSONAL', currency: 'USD' } },
        sent,
      );
      expect(opened).toEqual({ status: 401, body: '' });
      expect(await ownerAccountCount(stack.shards, ownerId)).toBe(0);
    },
  );

  it('is refused by every subgraph, on GET and on any path, and moves no money', async () => {
    const subgraphs: SubgraphName[] = ['account', 'transaction', 'settlement', 'webhooks'];
    for (const name of subgraphs) {
      const url = stack.subgraphUrls[name];
      expect(await post(url, serviceDoc, {}, {}), name).toEqual({ status: 401, body: '' });
      const get = await fetch(`${url}?query=${encodeURIComponent('{ __typename }')}`);
      expect(get.status, `${name} GET`).toBe(401);
      expect(await get.text()).toBe('');
      // An unknown path says 401 too, not 404: nothing about the routes is revealed.
      expect((await fetch(url.replace(/\/graphql$/, '/anything'))).status, `${name} other path`).toBe(401);
    }

    const ownerId = unique('victim');
    const opened = await post(
      stack.subgraphUrls.account,
      openAccountDoc,
      { input: { ownerId, type: 'PERSONAL', currency: 'USD' } },
      await asGateway('account', ownerId, 'customer'),
    );
    const accountId = (JSON.parse(opened.body) as { data: { openAccount: { id: string } } }).data.openAccount.id;
    const key = unique('key');
    const deposit = await post(
      stack.subgraphUrls.transaction,
      depositDoc,
      {
        input: { idempotencyKey: key, accountId, amount: '500', currency: 'USD' },
      },
      { authorization: `Bearer ${await token(ownerId, 'operator')}` },
    );
    expect(deposit).toEqual({ status: 401, body: '' });
    expect(await entriesOf(stack.shards, accountId)).toEqual([]);
    expect(await resourceOfKey(stack.shards, ownerId, key)).toBeUndefined();
  });

  it('leaves /health open with up or down per shard and nothing more', async () => {
    for (const name of ['account', 'transaction', 'settlement'] as const) {
      const response = await fetch(stack.subgraphUrls[name].replace(/\/graphql$/, '/health'));
      expect(response.status, name).toBe(200);
      const body = (await response.json()) as { service: string; shards: Array<Record<string, unknown>> };
      expect(Object.keys(body).sort()).toEqual(['down', 'service', 'shards', 'status']);
      expect(body).toMatchObject({ service: name, status: 'ready', down: [] });
      expect(body.shards.length).toBe(stack.shards.all.length);
      for (const shard of body.shards) expect(shard).toEqual({ shard: expect.any(String), state: 'up', ok: true });
    }
  });
});

describe('an identity the gateway did not sign for this subgraph', () => {
  const trusts = testTrusts();
  const secretOnly = { [gatewaySecretHeader]: trusts.account.secret };
  const now = () => Math.floor(Date.now() / 1000);

  const forged: Array<{ name: string; headers: (sub: string) => Promise<Record<string, string>> }> = [
    { name: 'the secret alone', headers: async () => secretOnly },
    {
      name: 'a client token sent directly (Authorization)',
      headers: async (sub) => ({ ...secretOnly, authorization: `Bearer ${await token(sub, 'operator')}` }),
    },
    {
      name: 'a client token in the identity header',
      headers: async (sub) => ({ ...secretOnly, [gatewayIdentityHeader]: await token(sub, 'operator') }),
    },
    {
      name: 'a hand-made identity header',
      headers: async (sub) => ({
        ...secretOnly,
        'x-identity': JSON.stringify({ sub, role: 'operator' }),
        [gatewayIdentityHeader]: JSON.stringify({ sub, role: 'operator' }),
      }),
    },
    {
      name: 'an internal token signed with the wrong key',
      headers: async (sub) => ({
        ...secretOnly,
        [gatewayIdentityHeader]: await internalToken(
          { sub, role: 'operator' },
          { key: wrongSecret, audience: 'account' },
        ),
      }),
    },
    {
      name: 'an internal token signed for another subgraph',
      headers: async (sub) => ({
        ...secretOnly,
        [gatewayIdentityHeader]: await mintIdentityToken({ sub, role: 'operator' }, trusts.transaction),
      }),
    },
    {
      name: 'the right key but another audience',
      headers: async (sub) => ({
        ...secretOnly,
        [gatewayIdentityHeader]: await internalToken(
          { sub, role: 'operator' },
          { key: trusts.account.secret, audience: 'transaction' },
        ),
      }),
    },
    {
      name: 'the right key but the client issuer',
      headers: async (sub) => ({
        ...secretOnly,
        [gatewayIdentityHeader]: await internalToken(
          { sub, role: 'operator' },
          { key: trusts.account.secret, audience: 'account', issuer: 'paygraph' },
        ),
      }),
    },
    {
      name: 'an expired internal token',
      headers: async (sub) => ({
        ...secretOnly,
        [gatewayIdentityHeader]: await mintIdentityToken({ sub, role: 'operator' }, trusts.account, now() - 60),
      }),
    },
  ];

  it.each(forged)('is answered 401 and writes nothing: $name', async ({ headers }) => {
    const ownerId = unique('forged');
    const opened = await post(
      stack.subgraphUrls.account,
      openAccountDoc,
      { input: { ownerId, type: 'PERSONAL', currency: 'USD' } },
      await headers(ownerId),
    );
    expect(opened).toEqual({ status: 401, body: '' });
    expect(await ownerAccountCount(stack.shards, ownerId)).toBe(0);
  });

  it('is accepted when signed by the gateway for this subgraph (the control)', async () => {
    const ownerId = unique('vouched');
    const opened = await post(
      stack.subgraphUrls.account,
      openAccountDoc,
      { input: { ownerId, type: 'PERSONAL', currency: 'USD' } },
      await asGateway('account', ownerId, 'customer'),
    );
    expect(opened.status).toBe(200);
    expect(JSON.parse(opened.body)).toMatchObject({ data: { openAccount: { __typename: 'Account', ownerId } } });
    expect(await ownerAccountCount(stack.shards, ownerId)).toBe(1);
  });

  it("keeps the signed role: a customer signed by the gateway still cannot read another owner's entities", async () => {
    const ownerId = unique('owner');
    const opened = await post(
      stack.subgraphUrls.account,
      openAccountDoc,
      { input: { ownerId, type: 'PERSONAL', currency: 'USD' } },
      await asGateway('account', ownerId, 'customer'),
    );
    const accountId = (JSON.parse(opened.body) as { data: { openAccount: { id: string } } }).data.openAccount.id;
    expect((await depositFromReserve(stack.shards, accountId, 700n)).status).toBe('APPLIED');
    const other = await post(
      stack.subgraphUrls.account,
      entitiesDoc,
      { r: [{ __typename: 'Account', id: accountId }] },
      await asGateway('account', unique('stranger'), 'customer'),
    );
    const answer = JSON.parse(other.body) as {
      data?: { _entities: Array<{ balance: unknown } | null> };
      errors?: Array<{ extensions?: { code?: string } }>;
    };
    expect(answer.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    expect(answer.data?._entities[0]?.balance ?? null).toBeNull();
  });
});

// Both subgraphs that serve graphql-ws: the account subgraph's balance streams, the transaction subgraph's link events.
describe.each([
  { subgraph: 'account', other: 'transaction' },
  { subgraph: 'transaction', other: 'account' },
] as const)('the $subgraph subgraph over WebSocket', ({ subgraph, other }) => {
  const wsUrl = () => stack.subgraphUrls[subgraph].replace(/^http/, 'ws');

  /** The HTTP status an upgrade was refused with, or 101 when it was accepted. */
  function upgradeStatus(headers: Record<string, string>): Promise<number> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(wsUrl(), 'graphql-transport-ws', { headers });
      socket.once('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        socket.terminate();
      });
      socket.once('open', () => {
        resolve(101);
        socket.close();
      });
      socket.once('error', (error) => {
        if (socket.readyState !== WebSocket.CLOSED) reject(error);
      });
    });
  }

  /** Upgrades with the secret, sends connection_init and answers how the subgraph replied. */
  function initialise(payload: Record<string, unknown>): Promise<{ acked: boolean; closeCode: number | null }> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(wsUrl(), 'graphql-transport-ws', {
        headers: { [gatewaySecretHeader]: testSubgraphSecrets[subgraph] },
      });
      socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload })));
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as { type: string };
        if (message.type === 'connection_ack') {
          resolve({ acked: true, closeCode: null });
          socket.close();
        }
      });
      socket.once('close', (code) => resolve({ acked: false, closeCode: code }));
      socket.once('error', reject);
    });
  }

  it('refuses the upgrade with HTTP 401 without the secret or with a wrong one', async () => {
    expect(await upgradeStatus({})).toBe(401);
    expect(await upgradeStatus({ [gatewaySecretHeader]: wrongSecret })).toBe(401);
    expect(await upgradeStatus({ [gatewaySecretHeader]: testSubgraphSecrets.settlement })).toBe(401);
    expect(await upgradeStatus({ [gatewaySecretHeader]: testSubgraphSecrets[other] })).toBe(401);
    expect(await upgradeStatus({ [gatewaySecretHeader]: testSubgraphSecrets[subgraph] })).toBe(101);
  });

  it('closes with 4401 unless connectionParams carry an identity the gateway signed for it', async () => {
    const sub = unique('ws');
    const trusts = testTrusts();
    expect(await initialise({})).toEqual({ acked: false, closeCode: 4401 });
    expect(await initialise({ authorization: `Bearer ${await token(sub, 'operator')}` })).toEqual({
      acked: false,
      closeCode: 4401,
    });
    expect(await initialise({ [gatewayIdentityParam]: await token(sub, 'operator') })).toEqual({
      acked: false,
      closeCode: 4401,
    });
    expect(
      await initialise({
        [gatewayIdentityParam]: await mintIdentityToken({ sub, role: 'operator' }, trusts[other]),
      }),
    ).toEqual({ acked: false, closeCode: 4401 });
    expect(
      await initialise({
        [gatewayIdentityParam]: await mintIdentityToken({ sub, role: 'operator' }, trusts[subgraph]),
      }),
    ).toEqual({ acked: true, closeCode: null });
  });
});

describe('subgraph secrets', () => {
  it('refuses a secret too short to be one at start-up', () => {
    expect(() => subgraphTrust('account', 'password')).toThrow(/at least/);
    expect(subgraphTrust('account', testSubgraphSecrets.account).subgraph).toBe('account');
  });
});
