import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { eq } from 'drizzle-orm';
import { auditEvents } from '../src/db/schema/audit';
import { toLogicalShard } from '@paygraph/shared/ids';
import { buildSchema, parse, type OperationDefinitionNode } from 'graphql';
import { auditRecordOf, createAuditLog, maskCardNumbers, type AuditRecord } from '../src/security/audit';
import { answeredAuditInput } from '../src/security/gateway-security';
import { rootFieldsOf, rootSelectionsOf, type RootField } from '../src/security/root-fields';
import type { GatewayContext } from '../src/context';
import { auditUnexecutedMoneyActionsMax } from '../src/limits';
import { createAuditStore } from '../src/db/audit-store';
import { startStack, type Stack } from '../../test/support/stack';
import { contractOperation } from '../../test/support/graphql';
import { testShards, token, unique } from '../../test/support/env';
import { codes, post, startGuardedGateway, type GuardedGateway } from './support/guarded-gateway';

/**
 * The audit trail: a money mutation gives a JSON line and rows in audit_events on the control
 * shard, with who, what, from where and the outcome, no token, and card-like numbers masked;
 * refused authentication and authorization are logged too.
 */
let stack: Stack;
let gateway: GuardedGateway;
let logFile: string;

beforeAll(async () => {
  stack = await startStack();
  logFile = join(mkdtempSync(join(tmpdir(), 'paygraph-audit-')), 'audit.jsonl');
  gateway = await startGuardedGateway(stack, {
    security: { auditShards: stack.shards, redisUrl: null, auditLogFile: logFile },
  });
});

afterAll(async () => {
  await gateway?.stop();
  await stack?.stop();
});

/** The lines written so far (the file stream writes asynchronously, so it is polled briefly). */
async function auditLine(requestId: string): Promise<{ raw: string; record: AuditRecord }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
    // Whole lines only: the stream may be writing the last one while this reads it.
    const lines = text
      .slice(0, text.lastIndexOf('\n') + 1)
      .split('\n')
      .filter((l) => l !== '');
    const raw = lines.find((l) => (JSON.parse(l) as AuditRecord).requestId === requestId);
    if (raw) return { raw, record: JSON.parse(raw) as AuditRecord };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no audit line for request ${requestId}`);
}

async function auditRows(requestId: string) {
  await gateway.gateway.security.auditor.store!.flush();
  const control = stack.shards.byLogical(toLogicalShard(0));
  return control.db
    .select()
    .from(auditEvents)
    .where(eq(auditEvents.requestId, requestId))
    .orderBy(auditEvents.itemIndex);
}

async function openAccount(ownerId: string, bearer: string): Promise<string> {
  const opened = await post(
    gateway.url,
    { query: contractOperation('OpenAccount'), variables: { input: { ownerId, type: 'PERSONAL', currency: 'USD' } } },
    bearer,
  );
  const id = opened.body.data?.openAccount?.id as string | undefined;
  if (!id) throw new Error(`could not open an account: ${JSON.stringify(opened.body)}`);
  return id;
}

/** Deposits `amount` USD into the account, as an operator records one. */
async function fund(accountId: string, amount: string): Promise<void> {
  const funded = await post(
    gateway.url,
    {
      query: contractOperation('Deposit'),
      variables: { input: { idempotencyKey: unique('fund'), accountId, amount, currency: 'USD' } },
    },
    await token('audit-operator', 'operator'),
  );
  expect(funded.body.data?.deposit.__typename).toBe('Deposit');
}

const card = '4111 1111 1111 1111';
const cardDigits = '4111111111111111';

describe('the audit log file', () => {
  it('writes the lines of one turn together, in order, and every pending line before it closes', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'paygraph-audit-log-')), 'audit.jsonl');
    const log = createAuditLog(file);
    const lineOf = (requestId: string) => ({ type: 'audit', requestId }) as unknown as AuditRecord;
    for (const id of ['r1', 'r2', 'r3']) log.write(lineOf(id));
    await new Promise((resolve) => setImmediate(resolve));
    log.write(lineOf('r4'));
    // Closed before the turn that would write r4 ends: close must still write it.
    await log.close();
    const lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => (JSON.parse(l) as AuditRecord).requestId);
    expect(lines).toEqual(['r1', 'r2', 'r3', 'r4']);
    expect(log.dropped()).toBe(0);
  });

  it('holds at most its buffer of unwritten lines: past it a line is dropped and counted, never queued', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'paygraph-audit-log-')), 'audit.jsonl');
    // A line is about 40 bytes: the buffer holds two; all six come in one turn, before any write.
    const log = createAuditLog(file, 100);
    const lineOf = (requestId: string) => ({ type: 'audit', requestId }) as unknown as AuditRecord;
    for (const id of ['r1', 'r2', 'r3', 'r4', 'r5', 'r6']) log.write(lineOf(id));
    await log.close();
    const lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => (JSON.parse(l) as AuditRecord).requestId);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length + log.dropped()).toBe(6);
    expect(log.dropped()).toBeGreaterThan(0);
    // The lines kept are the first ones, in order: what came past the buffer went.
    expect(lines).toEqual(['r1', 'r2', 'r3', 'r4', 'r5', 'r6'].slice(0, lines.length));
  });
});

describe('the audit store', () => {
  it('close() waits for the running write: every row is written once, none twice', async () => {
    const store = createAuditStore(testShards(1), { ownsShards: true, flushIntervalMs: 600_000 });
    const requestId = unique('audit-close');
    const rows = Array.from({ length: 3 }, (_, itemIndex) => ({
      occurredAt: new Date(),
      requestId,
      action: 'deposit',
      itemIndex,
      outcome: 'ok',
    }));
    store.enqueue(rows);
    const flushing = store.flush();
    // The write's statement is in flight: the rows are still queued until it commits.
    await new Promise((resolve) => setImmediate(resolve));
    expect(store.stats().queued).toBe(3);
    await store.close();
    await flushing;

    expect(store.stats()).toEqual({ written: 3, dropped: 0, queued: 0 });
    const control = stack.shards.byLogical(toLogicalShard(0));
    const stored = await control.db.select().from(auditEvents).where(eq(auditEvents.requestId, requestId));
    expect(stored.map((r) => r.itemIndex).sort()).toEqual([0, 1, 2]);
  });

  it('holds at most queueRowsMax rows for the database: past it new rows are dropped and counted, the rest written', async () => {
    const store = createAuditStore(testShards(1), { ownsShards: true, flushIntervalMs: 600_000, queueRowsMax: 4 });
    const requestId = unique('audit-full');
    const row = (itemIndex: number) => ({
      occurredAt: new Date(),
      requestId,
      action: 'deposit',
      itemIndex,
      outcome: 'ok',
    });
    store.enqueue([0, 1, 2].map(row));
    store.enqueue([3, 4, 5].map(row));
    expect(store.stats()).toEqual({ written: 0, dropped: 2, queued: 4 });
    await store.close();
    expect(store.stats()).toEqual({ written: 4, dropped: 2, queued: 0 });
    const control = stack.shards.byLogical(toLogicalShard(0));
    const stored = await control.db.select().from(auditEvents).where(eq(auditEvents.requestId, requestId));
    expect(stored.map((r) => r.itemIndex).sort()).toEqual([0, 1, 2, 3]);
  });
});

describe('masking', () => {
  it('keeps the last 4 digits of runs of 12 or more, separators or not, and leaves shorter runs', () => {
    expect(maskCardNumbers(`card ${card} ok`)).toBe('card ************1111 ok');
    expect(maskCardNumbers(`ref-${cardDigits}`)).toBe('ref-************1111');
    expect(maskCardNumbers('4111-1111-1111-1111')).toBe('************1111');
    expect(maskCardNumbers('invoice 12345678901 of 2026-11-22')).toBe('invoice 12345678901 of 2026-11-22');
    expect(maskCardNumbers('123456789012')).toBe('********9012');
  });
});

describe('audit trail', () => {
  it('logs a money mutation as a line and a row, with no token and the card number masked', async () => {
    const ownerId = unique('audit');
    const bearer = await token(ownerId, 'customer');
    const accountId = await openAccount(ownerId, bearer);
    const idempotencyKey = unique('dep');
    // The card channel records the deposit (customers do not record their own).
    const channelSub = unique('card-channel');
    const channel = await token(channelSub, 'channel');
    const response = await post(
      gateway.url,
      {
        query: contractOperation('Deposit'),
        variables: {
          input: { idempotencyKey, accountId, amount: '1500', currency: 'USD', externalRef: `card ${card}` },
        },
      },
      channel,
      { 'user-agent': `paygraph-test ${cardDigits}`, 'x-device-id': 'device-1' },
    );
    expect(response.status).toBe(200);
    expect(response.body.data?.deposit.__typename).toBe('Deposit');
    const requestId = response.headers.get('x-request-id');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);

    const { raw, record } = await auditLine(requestId!);
    expect(record).toMatchObject({
      event: 'mutation',
      denied: [],
      principal: { sub: channelSub, role: 'channel' },
      operation: { type: 'mutation', name: 'Deposit', rootFields: ['deposit'] },
      outcome: { ok: true, errorCodes: [], results: { deposit: 'Deposit' } },
      client: { ip: '127.0.0.1', userAgent: 'paygraph-test ************1111', deviceId: 'device-1' },
    });
    expect(record.money).toEqual([
      {
        field: 'deposit',
        index: null,
        idempotencyKey,
        accountId,
        counterpartyAccountId: null,
        paymentId: null,
        amount: '1500',
        currency: 'USD',
        note: 'card ************1111',
        outcome: 'Deposit',
        errorCodes: [],
      },
    ]);
    expect(raw).not.toContain(channel);
    expect(raw).not.toContain(channel.split('.')[2]!);
    expect(raw).not.toContain(cardDigits);
    expect(raw).not.toContain(card);

    const rows = await auditRows(requestId!);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      principalSub: channelSub,
      principalRole: 'channel',
      operationName: 'Deposit',
      action: 'deposit',
      itemIndex: 0,
      idempotencyKey,
      accountId,
      amount: '1500',
      currency: 'USD',
      note: 'card ************1111',
      outcome: 'Deposit',
      errorCodes: null,
      clientIp: '127.0.0.1',
      userAgent: 'paygraph-test ************1111',
      deviceId: 'device-1',
    });
    const stored = JSON.stringify(rows[0], (_key, value: unknown) =>
      typeof value === 'bigint' ? String(value) : value,
    );
    expect(stored).not.toContain(channel.split('.')[2]!);
    expect(stored).not.toContain(cardDigits);
  });

  it("keeps the client's x-request-id in the response, the audit line and the audit row; makes one when it is absent or unsafe", async () => {
    const ownerId = unique('audit-rid');
    const bearer = await token(ownerId, 'customer');
    const accountId = await openAccount(ownerId, bearer);
    const operator = await token('audit-operator', 'operator');
    const deposit = (headers: Record<string, string>) =>
      post(
        gateway.url,
        {
          query: contractOperation('Deposit'),
          variables: { input: { idempotencyKey: unique('dep'), accountId, amount: '5', currency: 'USD' } },
        },
        operator,
        headers,
      );
    // Unique per run of this file: the audit table outlives a test.
    const clientId = `abc-123.${unique('r').replace(/[^A-Za-z0-9._:-]/g, '')}`.slice(0, 64);
    const given = await deposit({ 'x-request-id': clientId });
    expect(given.body.data?.deposit.__typename).toBe('Deposit');
    expect(given.headers.get('x-request-id')).toBe(clientId);
    expect((await auditLine(clientId)).record.requestId).toBe(clientId);
    expect(await auditRows(clientId)).toMatchObject([{ requestId: clientId, action: 'deposit', accountId }]);

    const made = await deposit({});
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    for (const unsafe of ['has space', 'x'.repeat(65), 'quote"d', 'new\\nline']) {
      const refused = await deposit({ 'x-request-id': unsafe });
      expect(refused.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('audits a rate change like a money mutation: who set which pair to what', async () => {
    const operator = await token('audit-fx-operator', 'operator');
    const requestId = unique('fx-rid')
      .replace(/[^A-Za-z0-9._:-]/g, '')
      .slice(0, 64);
    const set = await post(
      gateway.url,
      {
        query: contractOperation('SetFxRate'),
        variables: { input: { baseCurrency: 'EUR', quoteCurrency: 'CHF', rate: '0.9321', spreadBps: 15 } },
      },
      operator,
      { 'x-request-id': requestId },
    );
    expect(set.body.data?.setFxRate.__typename).toBe('FxRate');
    expect((await auditLine(requestId)).record.money).toMatchObject([
      { field: 'setFxRate', currency: 'EUR', note: 'EUR/CHF rate 0.9321 spread 15 bps', outcome: 'FxRate' },
    ]);
    expect(await auditRows(requestId)).toMatchObject([
      { requestId, action: 'setFxRate', principalSub: 'audit-fx-operator', currency: 'EUR' },
    ]);
  });

  it('writes one row per input of createPayments, each with its result type', async () => {
    const ownerId = unique('audit-bulk');
    const bearer = await token(ownerId, 'customer');
    const [payer, payee] = [await openAccount(ownerId, bearer), await openAccount(ownerId, bearer)];
    await fund(payer, '100');
    const keys = [unique('p'), unique('p'), unique('p')];
    const amounts = ['60', '30', '50'];
    // A user agent longer than its column is cut to fit rather than stalling the audit queue.
    const longAgent = `agent ${'x'.repeat(400)}`;
    const response = await post(
      gateway.url,
      {
        query:
          'mutation Bulk($inputs: [CreatePaymentInput!]!) { createPayments(inputs: $inputs) { __typename ... on Payment { id } } }',
        variables: {
          inputs: keys.map((idempotencyKey, i) => ({
            idempotencyKey,
            payerAccountId: payer,
            payeeAccountId: payee,
            amount: amounts[i],
            currency: 'USD',
            description: `order ${i}`,
          })),
        },
      },
      bearer,
      { 'user-agent': longAgent },
    );
    const answers = response.body.data?.createPayments as Array<{ __typename: string; id?: string }>;
    const results = answers.map((r) => r.__typename);
    expect(results).toEqual(['Payment', 'Payment', 'InsufficientFunds']);
    // Each row names the payment its input made (an operator finds the request from a payment's id); none if refused.
    const made = answers.map((r) => r.id ?? null);
    expect(made).toEqual([expect.stringMatching(/^pay_/), expect.stringMatching(/^pay_/), null]);

    const rows = await auditRows(response.headers.get('x-request-id')!);
    expect(
      rows.map((r) => [
        r.action,
        r.itemIndex,
        r.idempotencyKey,
        r.accountId,
        r.counterpartyAccountId,
        r.paymentId,
        r.amount,
        r.note,
        r.outcome,
      ]),
    ).toEqual(
      keys.map((key, i) => ['createPayments', i, key, payer, payee, made[i], amounts[i], `order ${i}`, results[i]]),
    );
    expect(rows.map((r) => r.userAgent)).toEqual(keys.map(() => longAgent.slice(0, 256)));
  });

  it('names the payment or hold a create made, and the payment a refund takes back, in the line and the row', async () => {
    const ownerId = unique('audit-made');
    const bearer = await token(ownerId, 'customer');
    const [payer, payee] = [await openAccount(ownerId, bearer), await openAccount(ownerId, bearer)];
    await fund(payer, '100');
    const send = (name: string, input: Record<string, unknown>, as: string) =>
      post(gateway.url, { query: contractOperation(name), variables: { input } }, as);
    const parties = { payerAccountId: payer, payeeAccountId: payee, currency: 'USD' };
    const paid = await send('CreatePayment', { ...parties, idempotencyKey: unique('p'), amount: '40' }, bearer);
    const held = await send('CreateHold', { ...parties, idempotencyKey: unique('h'), amount: '10' }, bearer);
    const refused = await send('CreatePayment', { ...parties, idempotencyKey: unique('p'), amount: '999' }, bearer);
    const paymentId = paid.body.data?.createPayment.id as string;
    const holdId = held.body.data?.createHold.id as string;
    expect([paymentId, holdId]).toEqual([expect.stringMatching(/^pay_/), expect.stringMatching(/^hld_/)]);
    expect(refused.body.data?.createPayment.__typename).toBe('InsufficientFunds');
    const refund = { idempotencyKey: unique('r'), paymentId, amount: '5' };
    const refunded = await send('RefundPayment', refund, bearer);
    expect(refunded.body.data?.refundPayment.__typename).toBe('Refund');
    const named = async (response: { headers: Headers }) => {
      const requestId = response.headers.get('x-request-id')!;
      const rows = await auditRows(requestId);
      return {
        line: (await auditLine(requestId)).record.money.map((m) => m.paymentId),
        row: rows.map((r) => r.paymentId),
      };
    };
    expect(await named(paid)).toEqual({ line: [paymentId], row: [paymentId] });
    expect(await named(held)).toEqual({ line: [holdId], row: [holdId] });
    expect(await named(refused)).toEqual({ line: [null], row: [null] });
    expect(await named(refunded)).toEqual({ line: [paymentId], row: [paymentId] });
  });

  it("takes no other field aliased to id for the id a create made: a client's own text names no payment", async () => {
    // A hostile client names its description (another's payment id) `id`: the audit would name a payment the request
    // never made. Once plainly, once in a second selection of the same root field, which execution merges.
    const ownerId = unique('audit-alias');
    const bearer = await token(ownerId, 'customer');
    const [payer, payee] = [await openAccount(ownerId, bearer), await openAccount(ownerId, bearer)];
    await fund(payer, '100');
    const planted = 'pay_01M8KXEC6G3GHSMYEA2DKTWKC4_11';
    const pay = (selection: string) =>
      post(
        gateway.url,
        {
          query: `mutation Alias($input: CreatePaymentInput!) { ${selection} }`,
          variables: {
            input: {
              idempotencyKey: unique('p'),
              payerAccountId: payer,
              payeeAccountId: payee,
              amount: '1',
              currency: 'USD',
              description: planted,
            },
          },
        },
        bearer,
      );
    const aliased = await pay('createPayment(input: $input) { __typename ... on Payment { id: description } }');
    const merged = await pay(
      'createPayment(input: $input) { __typename } createPayment(input: $input) { ... on Payment { id: description } }',
    );
    for (const answer of [aliased, merged]) {
      expect(answer.body.data?.createPayment).toEqual({ __typename: 'Payment', id: planted });
      const { record } = await auditLine(answer.headers.get('x-request-id')!);
      expect(record.money.map((m) => [m.outcome, m.paymentId])).toEqual([['Payment', null]]);
      expect((await auditRows(record.requestId)).map((r) => r.paymentId)).toEqual([null]);
    }
  });

  it('audits a result whose type the client did not select as TYPE_NOT_SELECTED: a refusal never reads ok', async () => {
    // Every money field answers a union: without __typename, InsufficientFunds and a Payment answer alike ({} here).
    const ownerId = unique('audit-untyped');
    const bearer = await token(ownerId, 'customer');
    const [payer, payee] = [await openAccount(ownerId, bearer), await openAccount(ownerId, bearer)];
    await fund(payer, '5');
    const pay = (amount: string) =>
      post(
        gateway.url,
        {
          query: `mutation Untyped($input: CreatePaymentInput!) { createPayment(input: $input) { ... on Payment { id } } }`,
          variables: {
            input: {
              idempotencyKey: unique('p'),
              payerAccountId: payer,
              payeeAccountId: payee,
              amount,
              currency: 'USD',
            },
          },
        },
        bearer,
      );
    const refused = await pay('50');
    const paid = await pay('1');
    expect(refused.body.data?.createPayment).toEqual({});
    expect(paid.body.data?.createPayment).toEqual({ id: expect.any(String) });
    for (const answer of [refused, paid]) {
      const { record } = await auditLine(answer.headers.get('x-request-id')!);
      expect(record.money.map((m) => m.outcome)).toEqual(['TYPE_NOT_SELECTED']);
      expect((await auditRows(record.requestId)).map((r) => r.outcome)).toEqual(['TYPE_NOT_SELECTED']);
    }
  });

  it("takes no other field aliased to __typename for a result's type: an error's message is never its outcome", () => {
    // The gateway refuses such an answer of a union today ("Invalid __typename"); the audit does not rely on it.
    // Only the document's shape matters here: the arguments are not read (no variables), the action has no input.
    const schema = buildSchema('type Query { x: Int } type Mutation { createPayment(input: String): Int }');
    const audit = (selection: string, result: Record<string, unknown>) => {
      const operation = parse(`mutation M($input: String) { ${selection} }`).definitions[0] as OperationDefinitionNode;
      const fields = rootFieldsOf(operation, rootSelectionsOf(schema, new Map(), operation), null);
      const context: GatewayContext = {
        authorization: undefined,
        auth: { ok: true, identity: { sub: 'someone', role: 'customer' } },
        client: { ip: null, userAgent: null, deviceId: null },
      } as GatewayContext;
      const input = answeredAuditInput(
        context,
        operation,
        { requestId: 'r', at: new Date(0), fields },
        { httpStatus: 200, data: { createPayment: result }, errors: undefined, client: { name: 'test', version: '1' } },
      );
      const record = auditRecordOf(input)!;
      return [record.money[0]!.outcome, record.outcome.results.createPayment];
    };
    const message = 'not enough: card 4111 1111 1111 1111';
    expect(
      audit('createPayment(input: $input) { ... on InsufficientFunds { __typename: message } }', {
        __typename: message,
      }),
    ).toEqual(['TYPE_NOT_SELECTED', null]);
    expect(audit('createPayment(input: $input) { __typename }', { __typename: 'InsufficientFunds' })).toEqual([
      'InsufficientFunds',
      'InsufficientFunds',
    ]);
  });

  it('logs an unauthenticated mutation and an unauthenticated query', async () => {
    const refused = await post(
      gateway.url,
      {
        query: contractOperation('Deposit'),
        variables: { input: { idempotencyKey: unique('anon'), accountId: 'acc_x', amount: '5', currency: 'USD' } },
      },
      'not.a.token',
    );
    expect(refused.status).toBe(401);
    expect(codes(refused)).toEqual(['UNAUTHENTICATED']);
    const { raw, record } = await auditLine(refused.headers.get('x-request-id')!);
    expect(record).toMatchObject({
      event: 'mutation',
      denied: ['UNAUTHENTICATED'],
      principal: null,
      authFailure: 'TokenInvalid',
      outcome: { ok: false, httpStatus: 401, errorCodes: ['UNAUTHENTICATED'] },
    });
    expect(record.money[0]).toMatchObject({
      field: 'deposit',
      accountId: 'acc_x',
      amount: '5',
      outcome: 'UNAUTHENTICATED',
    });
    expect(raw).not.toContain('not.a.token');
    const rows = await auditRows(record.requestId);
    expect(rows).toMatchObject([
      { principalSub: null, principalRole: null, action: 'deposit', outcome: 'UNAUTHENTICATED' },
    ]);

    const anonymous = await post(gateway.url, { query: contractOperation('GetAccount'), variables: { id: 'acc_x' } });
    expect(anonymous.status).toBe(401);
    const read = await auditLine(anonymous.headers.get('x-request-id')!);
    expect(read.record).toMatchObject({
      event: 'access_denied',
      denied: ['UNAUTHENTICATED'],
      authFailure: 'TokenMissing',
      money: [],
    });
  });

  it('lists at most a bound of money actions for a request refused before it ran, and counts the rest', async () => {
    // No token, one variable of 40 inputs under three aliases: 120 actions asked for, none run. Listed whole, one such
    // request (1,000 inputs, more aliases) would write tens of thousands of rows and crowd others' out of the queue.
    const inputs = Array.from({ length: 40 }, (_, i) => ({
      idempotencyKey: unique(`flood-${i}`),
      payerAccountId: 'acc_x',
      payeeAccountId: 'acc_y',
      amount: '1',
      currency: 'USD',
    }));
    const field = 'createPayments(inputs: $i) { __typename }';
    const refused = await post(gateway.url, {
      query: `mutation Flood($i: [CreatePaymentInput!]!) { a: ${field} b: ${field} c: ${field} }`,
      variables: { i: inputs },
    });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    const { record } = await auditLine(refused.headers.get('x-request-id')!);
    expect(record).toMatchObject({ event: 'mutation', principal: null, moneyUnlisted: 120 - 10 });
    expect(record.money.map((m) => [m.field, m.index, m.idempotencyKey])).toEqual(
      inputs.slice(0, 10).map((input, i) => ['createPayments', i, input.idempotencyKey]),
    );
    expect(await auditRows(record.requestId)).toHaveLength(10);
  });

  it('builds only the money actions a refused request lists, and counts the rest unbuilt', () => {
    // Ten aliases of a 1,000-input createPayments: 10,000 actions asked for. Before, all were built to list 10.
    const aliases = Array.from({ length: 10 }, (_, k) => `a${k}: createPayments(inputs: $i) { __typename }`);
    const operation = parse(`mutation Flood($i: [CreatePaymentInput!]!) { ${aliases.join(' ')} }`)
      .definitions[0] as OperationDefinitionNode;
    const inputs = Array.from({ length: 1000 }, (_, i) => ({ idempotencyKey: `k${i}`, amount: '1', currency: 'USD' }));
    const fields: RootField[] = aliases.map((_, k) => ({
      name: 'createPayments',
      responseKey: `a${k}`,
      args: { inputs },
      answerKeys: { typename: true, id: true },
    }));
    const context: GatewayContext = {
      authorization: undefined,
      auth: { ok: false, failure: { kind: 'TokenMissing' } },
      client: { ip: null, userAgent: null, deviceId: null },
    };
    const facts = {
      httpStatus: 401,
      data: undefined,
      errors: [{ message: 'no token', extensions: { code: 'UNAUTHENTICATED' } }],
      client: { name: 'audit-test', version: '1' },
    };
    const refused = answeredAuditInput(context, operation, { requestId: 'r1', at: new Date(), fields }, facts);
    expect(refused.money).toHaveLength(auditUnexecutedMoneyActionsMax);
    const record = auditRecordOf(refused)!;
    expect(record.moneyUnlisted).toBe(10_000 - auditUnexecutedMoneyActionsMax);
    expect(record.money.map((m) => [m.index, m.idempotencyKey])).toEqual(
      inputs.slice(0, auditUnexecutedMoneyActionsMax).map((input, i) => [i, input.idempotencyKey]),
    );
    // A request that ran is listed whole: its actions took the money budget.
    const ran = answeredAuditInput(
      context,
      operation,
      { requestId: 'r2', at: new Date(), fields },
      { ...facts, data: {} },
    );
    expect(ran.money).toHaveLength(10_000);
    expect(auditRecordOf(ran)!.moneyUnlisted).toBe(0);
  });

  it('logs a FORBIDDEN mutation and a FORBIDDEN read, reported by the subgraphs', async () => {
    const owner = unique('audit-owner');
    const accountId = await openAccount(owner, await token(owner, 'customer'));
    const intruder = unique('audit-intruder');
    const bearer = await token(intruder, 'customer');

    const deposit = await post(
      gateway.url,
      {
        query: contractOperation('Deposit'),
        variables: { input: { idempotencyKey: unique('steal'), accountId, amount: '7', currency: 'USD' } },
      },
      bearer,
    );
    expect(codes(deposit)).toEqual(['FORBIDDEN']);
    const { record } = await auditLine(deposit.headers.get('x-request-id')!);
    expect(record).toMatchObject({
      event: 'mutation',
      denied: ['FORBIDDEN'],
      principal: { sub: intruder, role: 'customer' },
      outcome: { ok: false },
    });
    expect(record.money[0]).toMatchObject({ accountId, outcome: 'FORBIDDEN', errorCodes: ['FORBIDDEN'] });
    expect(await auditRows(record.requestId)).toMatchObject([
      { principalSub: intruder, accountId, outcome: 'FORBIDDEN', errorCodes: 'FORBIDDEN' },
    ]);

    const read = await post(
      gateway.url,
      { query: contractOperation('AccountPayments'), variables: { id: accountId } },
      bearer,
    );
    expect(codes(read)).toContain('FORBIDDEN');
    const readLine = await auditLine(read.headers.get('x-request-id')!);
    expect(readLine.record).toMatchObject({
      event: 'access_denied',
      denied: ['FORBIDDEN'],
      principal: { sub: intruder },
      operation: { name: 'AccountPayments' },
    });

    // GetAccount is forwarded to the account subgraph alone (pass-through): audited the same way.
    const forwarded = gateway.gateway.metrics.operationPaths().forwarded;
    const own = await post(
      gateway.url,
      { query: contractOperation('GetAccount'), variables: { id: accountId } },
      bearer,
    );
    expect(gateway.gateway.metrics.operationPaths().forwarded).toBe(forwarded + 1);
    expect(codes(own)).toEqual(['FORBIDDEN']);
    const ownLine = await auditLine(own.headers.get('x-request-id')!);
    expect(ownLine.record).toMatchObject({
      event: 'access_denied',
      denied: ['FORBIDDEN'],
      principal: { sub: intruder },
      operation: { name: 'GetAccount', rootFields: ['account'] },
      outcome: { ok: false },
    });
  });

  it('does not log a read that succeeds', async () => {
    const ownerId = unique('audit-read');
    const bearer = await token(ownerId, 'customer');
    const accountId = await openAccount(ownerId, bearer);
    const read = await post(
      gateway.url,
      { query: contractOperation('GetAccount'), variables: { id: accountId } },
      bearer,
    );
    expect(read.status).toBe(200);
    // A mutation after the read: the one stream writes lines in the order requests end, so once
    // the mutation's line is there, a line for the read would be there too.
    const laterOwner = unique('audit-later');
    const later = await post(
      gateway.url,
      {
        query: contractOperation('OpenAccount'),
        variables: { input: { ownerId: laterOwner, type: 'PERSONAL', currency: 'USD' } },
      },
      await token(laterOwner, 'customer'),
    );
    await auditLine(later.headers.get('x-request-id')!);
    const ids = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => (JSON.parse(l) as AuditRecord).requestId);
    expect(ids).not.toContain(read.headers.get('x-request-id'));
  });
});
