import { describe, expect, it } from 'vitest';
import { gql } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { useMoneyStack, type MoneyKit } from '../../../../test/support/money';
import type { Stack } from '../../../../test/support/stack';
import { rawRows } from '@paygraph/shared/db/raw';
import { createEndpoint, madeEndpoint, webhookDocs } from '../support/webhooks';
import { developmentWebhookSecretKey } from '../../src/config';
import { endpointsPerOwnerMax, endpointsPerOwnerRowsMax } from '../../src/limits';
import { openSecret, secretKey } from '../../src/services/secrets';
import { signingSeals } from '../../src/services/signer';
import { EndpointDirectory } from '../../src/services/endpoint-directory';
import { createEndpoint as createEndpointService, disableEndpointBy } from '../../src/services/endpoints';
import { destinationPolicyOf } from '../../src/services/destination';
import type { WebhooksContext } from '../../src/context';
import { log } from '@paygraph/shared/log';

/**
 * Endpoints through the gateway: the contract's documents, who may do what (BOLA: another
 * partner's accounts and endpoints), and bad input that writes nothing.
 */
let stack: Stack;
let kit: MoneyKit;
useMoneyStack((started) => ({ stack, kit } = started));

async function endpointRows(ownerId: string): Promise<number> {
  const counts = await Promise.all(
    stack.shards.all.map((s) =>
      rawRows<{ n: number }>(s, 'SELECT COUNT(*) AS n FROM webhook_endpoints WHERE owner_id = ?', [ownerId]),
    ),
  );
  return counts.reduce((sum, [row]) => sum + Number(row!.n), 0);
}

describe('webhook endpoints', () => {
  it('are made with the contract document: the secret once, whsec_ and 32 random bytes', async () => {
    const alice = unique('p-alice');
    const account = await kit.open(alice);
    const bearer = await token(alice, 'partner');
    const made = await createEndpoint(stack.gatewayUrl, bearer, {
      url: 'https://hooks.example.com/paygraph',
      eventTypes: ['balance.changed', 'payment.succeeded'],
      accountIds: [account],
    });
    expect(made.errors).toBeUndefined();
    const endpoint = made.data!.createWebhookEndpoint;
    expect(endpoint).toMatchObject({
      __typename: 'WebhookEndpoint',
      url: 'https://hooks.example.com/paygraph',
      eventTypes: ['balance.changed', 'payment.succeeded'],
      status: 'ENABLED',
    });
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(endpoint.secret.slice(6), 'base64')).toHaveLength(32);
    // Shown once: every later read has no secret, and the table holds no plain secret.
    const read = await gql(stack.gatewayUrl, webhookDocs.detail, { id: endpoint.id }, bearer);
    expect(read.data?.webhookEndpoint).toMatchObject({
      id: endpoint.id,
      status: 'ENABLED',
      secret: null,
      accountIds: [account],
    });
    const stored = (
      await Promise.all(
        stack.shards.all.map((s) =>
          rawRows<Record<string, string>>(s, 'SELECT * FROM webhook_endpoints WHERE id = ?', [endpoint.id]),
        ),
      )
    ).flat();
    expect(stored).toHaveLength(1);
    expect(JSON.stringify(stored)).not.toContain(endpoint.secret.slice(6, 30));
    const contract = await gql(stack.gatewayUrl, webhookDocs.read, { id: endpoint.id }, bearer);
    expect(contract.errors).toBeUndefined();
    expect(contract.data?.webhookEndpoint).toMatchObject({
      id: endpoint.id,
      status: 'ENABLED',
      deliveries: { edges: [], pageInfo: { hasNextPage: false } },
    });
  });

  it('are disabled by their owner, and rotation shows a new secret once', async () => {
    const bob = unique('p-bob');
    const bearer = await token(bob, 'partner');
    await kit.open(bob);
    const { id, secret } = await madeEndpoint(stack.gatewayUrl, bearer, {
      url: 'https://hooks.example.com/b',
      eventTypes: ['balance.changed'],
    });
    const rotated = await gql(stack.gatewayUrl, webhookDocs.rotate, { input: { endpointId: id } }, bearer);
    expect(rotated.data?.rotateWebhookSecret.secret).toMatch(/^whsec_/);
    expect(rotated.data?.rotateWebhookSecret.secret).not.toBe(secret);
    const disabled = await gql(stack.gatewayUrl, webhookDocs.disable, { input: { endpointId: id } }, bearer);
    expect(disabled.errors).toBeUndefined();
    expect(disabled.data?.disableWebhookEndpoint).toEqual({ __typename: 'WebhookEndpoint', id, status: 'DISABLED' });
    const read = await gql(stack.gatewayUrl, webhookDocs.detail, { id }, bearer);
    expect(read.data?.webhookEndpoint.disabledReason).toBe(`disabled by partner ${bob}`);
  });

  it("refuse another partner's accounts and endpoints (BOLA), and channels; an operator may do anything", async () => {
    const alice = unique('p-alice');
    const mallory = unique('p-mallory');
    const aliceAccount = await kit.open(alice);
    const aliceBearer = await token(alice, 'partner');
    const malloryBearer = await token(mallory, 'partner');
    const { id } = await madeEndpoint(stack.gatewayUrl, aliceBearer, {
      url: 'https://hooks.example.com/a',
      eventTypes: ['balance.changed'],
      accountIds: [aliceAccount],
    });
    const before = await endpointRows(mallory);

    const forbiddenCode = (answer: { errors?: Array<{ extensions?: Record<string, unknown> }>; data?: unknown }) =>
      answer.errors?.[0]?.extensions?.code;
    // Mallory names Alice's account.
    expect(
      forbiddenCode(
        await createEndpoint(stack.gatewayUrl, malloryBearer, {
          url: 'https://evil.example.com',
          eventTypes: ['balance.changed'],
          accountIds: [aliceAccount],
        }),
      ),
    ).toBe('FORBIDDEN');
    // A well-formed account id that does not exist looks the same to her.
    expect(
      forbiddenCode(
        await createEndpoint(stack.gatewayUrl, malloryBearer, {
          url: 'https://evil.example.com',
          eventTypes: ['balance.changed'],
          accountIds: [aliceAccount.replace(/.{4}_/, 'ZZZZ_')],
        }),
      ),
    ).toBe('FORBIDDEN');
    // Reading, disabling, rotating and redelivering Alice's endpoint.
    const read = await gql(stack.gatewayUrl, webhookDocs.read, { id }, malloryBearer);
    expect(forbiddenCode(read)).toBe('FORBIDDEN');
    expect(read.data?.webhookEndpoint ?? null).toBeNull();
    expect(
      forbiddenCode(await gql(stack.gatewayUrl, webhookDocs.disable, { input: { endpointId: id } }, malloryBearer)),
    ).toBe('FORBIDDEN');
    expect(
      forbiddenCode(await gql(stack.gatewayUrl, webhookDocs.rotate, { input: { endpointId: id } }, malloryBearer)),
    ).toBe('FORBIDDEN');
    expect(
      forbiddenCode(
        await gql(
          stack.gatewayUrl,
          webhookDocs.redeliver,
          { input: { endpointId: id, since: new Date(0).toISOString() } },
          malloryBearer,
        ),
      ),
    ).toBe('FORBIDDEN');
    // A channel reads no accounts.
    const channel = await token(unique('channel'), 'channel');
    expect(
      forbiddenCode(
        await createEndpoint(stack.gatewayUrl, channel, {
          url: 'https://bank.example.com',
          eventTypes: ['balance.changed'],
        }),
      ),
    ).toBe('FORBIDDEN');
    expect(await endpointRows(mallory)).toBe(before);
    // Alice's endpoint is untouched; Mallory's own list does not show it.
    expect((await gql(stack.gatewayUrl, webhookDocs.detail, { id }, aliceBearer)).data?.webhookEndpoint.status).toBe(
      'ENABLED',
    );
    const list = await gql(stack.gatewayUrl, 'query { webhookEndpoints { id } }', {}, malloryBearer);
    expect(list.data?.webhookEndpoints).toEqual([]);
    // An operator reads and disables anyone's.
    expect((await gql(stack.gatewayUrl, webhookDocs.read, { id }, kit.operator)).data?.webhookEndpoint.id).toBe(id);
    expect(
      (await gql(stack.gatewayUrl, webhookDocs.disable, { input: { endpointId: id } }, kit.operator)).data
        ?.disableWebhookEndpoint.status,
    ).toBe('DISABLED');
  });

  it('answer bad input with a clear error and write nothing', async () => {
    const carol = unique('p-carol');
    const bearer = await token(carol, 'partner');
    const account = await kit.open(carol);
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ url: 'not a url', eventTypes: ['balance.changed'] }, 'INVALID_INPUT', /url is not a URL/],
      [{ url: 'ftp://hooks.example.com', eventTypes: ['balance.changed'] }, 'INVALID_INPUT', /url must be/],
      [
        { url: 'https://hooks.example.com', eventTypes: ['balance.chnaged'] },
        'INVALID_INPUT',
        /unknown event type "balance.chnaged"/,
      ],
      [{ url: 'https://hooks.example.com', eventTypes: [] }, 'INVALID_INPUT', /eventTypes is empty/],
      [
        { url: 'https://hooks.example.com', eventTypes: ['balance.changed'], accountIds: [] },
        'INVALID_INPUT',
        /accountIds is empty/,
      ],
      [
        { url: 'https://hooks.example.com', eventTypes: ['balance.changed'], accountIds: ['acc_nope'] },
        'INVALID_INPUT',
        /not an account id/,
      ],
      [
        { url: 'http://169.254.169.254/latest/meta-data', eventTypes: ['balance.changed'], accountIds: [account] },
        'INVALID_INPUT',
        /link-local|metadata/,
      ],
      [
        { url: 'http://10.1.2.3/hook', eventTypes: ['balance.changed'], accountIds: [account] },
        'INVALID_INPUT',
        /private/,
      ],
      // Within the bound as sent, six times past it as stored (each é percent-encoded): refused, not a failed INSERT.
      [
        { url: `https://hooks.example.com/${'é'.repeat(1_000)}`, eventTypes: ['balance.changed'] },
        'INVALID_INPUT',
        /once percent-encoded/,
      ],
    ];
    for (const [input, code, message] of cases) {
      const answer = await createEndpoint(stack.gatewayUrl, bearer, input as never);
      expect(answer.errors, JSON.stringify(input)).toBeUndefined();
      expect(answer.data?.createWebhookEndpoint, JSON.stringify(input)).toMatchObject({
        __typename: 'InvalidInput',
        code,
      });
      expect(answer.data?.createWebhookEndpoint.message, JSON.stringify(input)).toMatch(message);
    }
    expect(await endpointRows(carol)).toBe(0);
    const unknown = 'whe_01JDP5Z9K3M4N6Q7R8S9T0V1WX_00';
    expect(
      (await gql(stack.gatewayUrl, webhookDocs.disable, { input: { endpointId: unknown } }, bearer)).data
        ?.disableWebhookEndpoint,
    ).toMatchObject({ __typename: 'WebhookEndpointNotFound', code: 'WEBHOOK_ENDPOINT_NOT_FOUND' });
    expect(
      (
        await gql(
          stack.gatewayUrl,
          webhookDocs.redeliver,
          { input: { endpointId: 'nope', since: new Date().toISOString() } },
          bearer,
        )
      ).data?.redeliverWebhookEvents,
    ).toMatchObject({ __typename: 'InvalidInput', code: 'INVALID_INPUT' });
  });

  it('count only enabled endpoints against the per-owner cap, which holds under concurrent registrations', async () => {
    const dave = unique('p-dave');
    const bearer = await token(dave, 'partner');
    const input = (i: number | string) => ({
      url: `https://hooks.example.com/d/${i}`,
      eventTypes: ['balance.changed'],
    });
    const made: string[] = [];
    for (let i = 0; i < endpointsPerOwnerMax - 1; i++)
      made.push((await madeEndpoint(stack.gatewayUrl, bearer, input(i))).id);
    // One place left, eight registrations at once: exactly one takes it.
    const racing = await Promise.all(
      Array.from({ length: 8 }, (_, i) => createEndpoint(stack.gatewayUrl, bearer, input(`race-${i}`))),
    );
    for (const answer of racing) expect(answer.errors).toBeUndefined();
    const kinds = racing.map((a) => a.data!.createWebhookEndpoint.__typename as string);
    expect(
      kinds.filter((k) => k === 'WebhookEndpoint'),
      kinds.join(','),
    ).toHaveLength(1);
    for (const answer of racing.filter((a) => a.data!.createWebhookEndpoint.__typename !== 'WebhookEndpoint')) {
      expect(answer.data!.createWebhookEndpoint).toMatchObject({
        __typename: 'InvalidInput',
        code: 'INVALID_INPUT',
        message: expect.stringMatching(/at most 50 (enabled )?endpoints per owner/),
      });
    }
    expect(await endpointRows(dave)).toBe(endpointsPerOwnerMax);
    expect((await createEndpoint(stack.gatewayUrl, bearer, input('over'))).data?.createWebhookEndpoint.__typename).toBe(
      'InvalidInput',
    );
    // Disabling one frees its place for its replacement, as the docs tell partners to do; only one.
    expect(
      (await gql(stack.gatewayUrl, webhookDocs.disable, { input: { endpointId: made[0] } }, bearer)).data
        ?.disableWebhookEndpoint.status,
    ).toBe('DISABLED');
    expect(
      (await createEndpoint(stack.gatewayUrl, bearer, input('replacement'))).data?.createWebhookEndpoint.__typename,
    ).toBe('WebhookEndpoint');
    expect(
      (await createEndpoint(stack.gatewayUrl, bearer, input('over-again'))).data?.createWebhookEndpoint.__typename,
    ).toBe('InvalidInput');
    expect(await endpointRows(dave)).toBe(endpointsPerOwnerMax + 1);
  });

  it('hold the cap when registrations reach the service in the same instant', async () => {
    // Through the gateway, requests arrive a few milliseconds apart; here all start in one turn of the event loop.
    const frank = unique('p-frank');
    const ctx = {
      identity: { sub: frank, role: 'partner' },
      shards: stack.shards,
      log: log(),
      services: {
        now: () => new Date(),
        policy: destinationPolicyOf(false),
        secretKey: secretKey(developmentWebhookSecretKey()),
      },
    } as unknown as WebhooksContext;
    const input = (i: number | string) => ({
      url: `https://hooks.example.com/f/${i}`,
      eventTypes: ['balance.changed'],
      accountIds: null,
      description: null,
    });
    for (let i = 0; i < endpointsPerOwnerMax - 1; i++)
      expect((await createEndpointService(ctx, input(i) as never)).ok).toBe(true);
    const racing = await Promise.all(
      Array.from({ length: 8 }, (_, i) => createEndpointService(ctx, input(`race-${i}`) as never)),
    );
    expect(racing.filter((r) => r.ok)).toHaveLength(1);
    expect(await endpointRows(frank)).toBe(endpointsPerOwnerMax);
  });

  it("bound an owner's rows, disabled ones included: create → disable loops are refused at endpointsPerOwnerRowsMax, writing nothing", async () => {
    const gina = unique('p-gina');
    const ctx = {
      identity: { sub: gina, role: 'partner' },
      shards: stack.shards,
      log: log(),
      services: {
        now: () => new Date(),
        policy: destinationPolicyOf(false),
        secretKey: secretKey(developmentWebhookSecretKey()),
      },
    } as unknown as WebhooksContext;
    const input = (i: number | string) => ({
      url: `https://hooks.example.com/g/${i}`,
      eventTypes: ['balance.changed'],
      accountIds: null,
      description: null,
    });
    // Each loop leaves one enabled endpoint at most, far below the enabled cap: only the rows cap can stop it.
    for (let i = 0; i < endpointsPerOwnerRowsMax; i++) {
      const made = await createEndpointService(ctx, input(i) as never);
      expect(made.ok, `registration ${i}`).toBe(true);
      if (made.ok) expect((await disableEndpointBy(ctx, made.value.id)).ok).toBe(true);
    }
    expect(await endpointRows(gina)).toBe(endpointsPerOwnerRowsMax);
    const over = await createEndpointService(ctx, input('over') as never);
    expect(over).toMatchObject({
      ok: false,
      error: {
        kind: 'InvalidInput',
        field: 'url',
        message: `at most ${endpointsPerOwnerRowsMax} endpoints per owner, disabled ones included`,
      },
    });
    expect(await endpointRows(gina)).toBe(endpointsPerOwnerRowsMax);
  });

  it("leave a disabled endpoint's secrets sealed in the dispatcher's directory: no signer is opened for it", async () => {
    const hana = unique('p-hana');
    const key = secretKey(developmentWebhookSecretKey());
    const ctx = {
      identity: { sub: hana, role: 'partner' },
      shards: stack.shards,
      log: log(),
      services: { now: () => new Date(), policy: destinationPolicyOf(false), secretKey: key },
    } as unknown as WebhooksContext;
    const input = (i: string) => ({
      url: `https://hooks.example.com/h/${i}`,
      eventTypes: ['balance.changed'],
      accountIds: null,
      description: null,
    });
    const kept = await createEndpointService(ctx, input('kept') as never);
    const gone = await createEndpointService(ctx, input('gone') as never);
    if (!kept.ok || !gone.ok) throw new Error('registration refused');
    expect((await disableEndpointBy(ctx, gone.value.id)).ok).toBe(true);
    const directory = new EndpointDirectory(stack.shards, key, () => new Date());
    await directory.refresh();
    expect(directory.get(kept.value.id)?.signer).not.toBeNull();
    expect(directory.get(gone.value.id)).toMatchObject({ row: { status: 'DISABLED' }, signer: null });
  });

  it('leave every secret concurrent rotations answered signing, refusing those that raced', async () => {
    const erin = unique('p-erin');
    const bearer = await token(erin, 'partner');
    const { id } = await madeEndpoint(stack.gatewayUrl, bearer, {
      url: 'https://hooks.example.com/e',
      eventTypes: ['balance.changed'],
    });
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => gql(stack.gatewayUrl, webhookDocs.rotate, { input: { endpointId: id } }, bearer)),
    );
    const returned: string[] = [];
    for (const answer of answers) {
      expect(answer.errors).toBeUndefined();
      const result = answer.data!.rotateWebhookSecret;
      if (result.__typename === 'WebhookEndpoint') returned.push(result.secret);
      else
        expect(result).toMatchObject({
          __typename: 'InvalidInput',
          code: 'INVALID_INPUT',
          message: expect.stringMatching(/rotated by a concurrent request/),
        });
    }
    expect(returned.length).toBeGreaterThanOrEqual(1);
    // What signs now: the stored current secret and the previous one within its overlap.
    const [row] = (
      await Promise.all(
        stack.shards.all.map((s) =>
          rawRows<{ secret_sealed: string; previous_secret_sealed: string | null; previous_secret_until: Date | null }>(
            s,
            'SELECT secret_sealed, previous_secret_sealed, previous_secret_until FROM webhook_endpoints WHERE id = ?',
            [id],
          ),
        ),
      )
    ).flat();
    const key = secretKey(developmentWebhookSecretKey());
    const signing = signingSeals(
      {
        secretSealed: row!.secret_sealed,
        previousSecretSealed: row!.previous_secret_sealed,
        previousSecretUntil: row!.previous_secret_until === null ? null : new Date(row!.previous_secret_until),
      },
      new Date(),
    ).map((sealed) => openSecret(key, id, sealed));
    for (const secret of returned) expect(signing, 'a secret a rotation answered').toContain(secret);
  });
});
