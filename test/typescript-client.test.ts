import { existsSync, readFileSync } from 'node:fs';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import WebSocket from 'ws';
import {
  BalanceChangedDocument,
  CreatePaymentDocument,
  DepositDocument,
  GetAccountDocument,
  OpenAccountDocument,
  createPaygraphClient,
  documentIdOf,
  type BalanceChangedSubscription,
  type PaygraphClient,
  type PersistedDocument,
} from '@paygraph/client';
import { readConfig } from '@paygraph/shared/config/env';
import { subgraphSecretVariable } from '@paygraph/shared/gateway-trust';
import { subgraphNames as trustedSubgraphs } from '../scripts/lib/parts';
import { repoPath } from '../scripts/lib/resolver-types';
import {
  typescriptClientFiles,
  typescriptClientManifestPath,
  typescriptClientName,
} from '../scripts/lib/typescript-client';
import { contractManifestFile } from '../scripts/lib/contract-manifest';
import { startStack, type Stack } from './support/stack';
import { spawnCompiledService, type ChildService } from './support/processes';
import { testSubgraphSecrets, token, unique } from './support/env';
import { testVariables } from './support/run-config';
import { diagnosticsOf } from './support/typecheck-in-memory';

/**
 * The typed client (clients/typescript, `@paygraph/client`) as an app ships it, against the
 * compiled gateway (dist/gateway.js, what the image runs) in require mode for every role, with
 * the client's generated manifest among those it loads: a customer opens an account, is paid in,
 * pays, and follows its balance over graphql-ws, every operation sent by its document id alone.
 * In the `.ci/run` pass on the image's Node (TEST_NODE_MAJOR=24) the gateway reports that version.
 */
let stack: Stack;
let gateway: ChildService;
/** Every body the clients sent over HTTP, and every message over the socket. */
const httpBodies: string[] = [];
const socketMessages: string[] = [];
const clients: PaygraphClient[] = [];

const recordingFetch: typeof fetch = async (input, init) => {
  httpBodies.push(String(init?.body));
  return fetch(input, init);
};

/** ws's WebSocket (Node 20 has no global one), recording what it sends. */
class RecordingSocket extends WebSocket {
  override send(data: Parameters<WebSocket['send']>[0], ...rest: unknown[]): void {
    socketMessages.push(String(data));
    (WebSocket.prototype.send as (...args: unknown[]) => void).call(this, data, ...rest);
  }
}

async function clientFor(sub: string, role: 'customer' | 'channel'): Promise<PaygraphClient> {
  const client = createPaygraphClient({
    url: gateway.graphqlUrl,
    token: await token(sub, role),
    name: 'wallet-app',
    version: '1.2.3',
    fetch: recordingFetch,
    webSocketImpl: RecordingSocket,
  });
  clients.push(client);
  return client;
}

beforeAll(async () => {
  stack = await startStack();
  gateway = await spawnCompiledService('gateway', {
    ...Object.fromEntries(trustedSubgraphs.map((name) => [subgraphSecretVariable(name), testSubgraphSecrets[name]])),
    ACCOUNT_URL: stack.subgraphUrls.account,
    TRANSACTION_URL: stack.subgraphUrls.transaction,
    SETTLEMENT_URL: stack.subgraphUrls.settlement,
    WEBHOOKS_URL: stack.subgraphUrls.webhooks,
    TRUSTED_DOCUMENTS_MODE: 'require',
    TRUSTED_DOCUMENTS_ROLE_MODES: 'operator=require',
    TRUSTED_DOCUMENTS_MANIFESTS: `${typescriptClientName}=${typescriptClientManifestPath}`,
  });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await gateway?.kill();
  await stack?.stop();
});

describe('the typed client', () => {
  it('is what the contract generates (run `npm run codegen` when this fails)', async () => {
    const files = await typescriptClientFiles();
    expect(files.map((f) => f.path)).toContain('clients/typescript/src/generated/persisted-documents.json');
    for (const file of files) {
      const committed = existsSync(repoPath(file.path)) ? readFileSync(repoPath(file.path), 'utf8') : null;
      expect(committed, `${file.path} is stale: run \`npm run codegen\``).toBe(file.content);
    }
  });

  it('has a README example that compiles against the generated types, and a payment with a number for its amount does not', () => {
    const readme = readFileSync(repoPath('clients/typescript/README.md'), 'utf8');
    const example = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    if (example === undefined) throw new Error('clients/typescript/README.md has no ts example');
    // What the example leaves to the app: its customer's token and the shop's account.
    const given = 'declare const customerJwt: string;\ndeclare const shopAccountId: string;\n';
    const wrong = `import { CreatePaymentDocument, createPaygraphClient } from '@paygraph/client';
const client = createPaygraphClient({ url: 'http://localhost:4000/graphql', token: 't' });
await client.execute(CreatePaymentDocument, { input: { idempotencyKey: 'k', payerAccountId: 'a', payeeAccountId: 'b', amount: 2500, currency: 'USD' } });
export {};
`;
    const found = diagnosticsOf({
      'client-readme-example': `${given}${example}\nexport {};\n`,
      'client-wrong-amount': wrong,
    });
    expect(found['client-readme-example']).toEqual([]);
    expect(found['client-wrong-amount']!.join('\n')).toMatch(
      /TS2322: Type 'number' is not assignable to type 'string'/,
    );
  });

  it('names documents by ids only its own manifest holds: the gateway runs them because it loaded that manifest', () => {
    const manifest = JSON.parse(readFileSync(typescriptClientManifestPath, 'utf8')) as Record<string, string>;
    const contractIds = new Set(
      (JSON.parse(readFileSync(contractManifestFile, 'utf8')) as { operations: Array<{ id: string }> }).operations.map(
        (o) => `sha256:${o.id}`,
      ),
    );
    for (const document of [
      OpenAccountDocument,
      DepositDocument,
      CreatePaymentDocument,
      GetAccountDocument,
      BalanceChangedDocument,
    ]) {
      const id = documentIdOf(document);
      expect(manifest[id], id).toMatch(/^(query|mutation|subscription) /);
      expect(contractIds.has(id), id).toBe(false);
      // The document is its id and types: no text to send.
      expect(Object.keys(document)).toEqual(['__meta__']);
    }
  });

  it('opens an account, is paid in, pays and follows its balance over graphql-ws, sending ids only, in require mode', async () => {
    const [aliceId, bobId] = [unique('ts-alice'), unique('ts-bob')];
    const alice = await clientFor(aliceId, 'customer');
    const bob = await clientFor(bobId, 'customer');
    const bank = await clientFor(unique('ts-bank'), 'channel');
    const open = async (client: PaygraphClient, ownerId: string): Promise<string> => {
      const opened = await client.execute(OpenAccountDocument, {
        input: { ownerId, type: 'PERSONAL', currency: 'USD' },
      });
      expect(opened.errors).toBeUndefined();
      if (opened.data?.openAccount.__typename !== 'Account')
        throw new Error(`openAccount answered ${JSON.stringify(opened)}`);
      return opened.data.openAccount.id;
    };
    const aliceAccount = await open(alice, aliceId);
    const bobAccount = await open(bob, bobId);
    // Without `after` the stream starts at the account's end: deposits until one comes through show it is live.
    const events = alice.subscribe(BalanceChangedDocument, { accountId: aliceAccount, after: null });
    const received: Array<BalanceChangedSubscription['balanceChanged']> = [];
    const consumed = (async () => {
      for await (const event of events) {
        if (event.errors || !event.data) throw new Error(`balanceChanged answered ${JSON.stringify(event)}`);
        received.push(event.data.balanceChanged);
      }
    })();
    let deposits = 0n;
    await eventually(
      'a deposit event',
      async () => {
        const deposited = await bank.execute(DepositDocument, {
          input: { accountId: aliceAccount, amount: '10000', currency: 'USD', idempotencyKey: unique('dep') },
        });
        expect(deposited.data?.deposit.__typename).toBe('Deposit');
        deposits += 1n;
      },
      () => received.length > 0,
    );
    expect(received[0]!.entry.direction).toBe('CREDIT');
    expect(received[0]!.entry.amount).toBe('10000');

    const paid = await alice.execute(CreatePaymentDocument, {
      input: {
        idempotencyKey: unique('pay'),
        payerAccountId: aliceAccount,
        payeeAccountId: bobAccount,
        amount: '2500',
        currency: 'USD',
      },
    });
    if (paid.data?.createPayment.__typename !== 'Payment')
      throw new Error(`createPayment answered ${JSON.stringify(paid)}`);
    // Alice's debit is posted before the answer, whether Bob's credit (another shard, maybe) is yet or not.
    expect(['SUCCEEDED', 'PROCESSING']).toContain(paid.data.createPayment.status);
    const balance = String(deposits * 10000n - 2500n);
    await eventually(
      'the payment event',
      async () => {},
      () => received.some((e) => e.entry.direction === 'DEBIT'),
    );
    const debit = received.find((e) => e.entry.direction === 'DEBIT')!;
    // A debit's amount is signed.
    expect(debit.entry).toMatchObject({ amount: '-2500', balanceAfter: balance });
    expect(debit.account.balance?.available).toBe(balance);
    await events.return?.();
    await consumed;

    const account = await alice.execute(GetAccountDocument, { id: aliceAccount });
    expect(account.data?.account?.balance?.available).toBe(balance);

    // Over HTTP: documentId and variables, never a text; over the socket: an empty query beside the id.
    // Two accounts opened, the deposits, the payment, the account read.
    expect(httpBodies.length).toBe(2 + Number(deposits) + 2);
    for (const body of httpBodies)
      expect(Object.keys(JSON.parse(body) as object).sort(), body).toEqual(['documentId', 'variables']);
    const subscribes = socketMessages
      .map((m) => JSON.parse(m) as { type: string; payload?: { query?: string; documentId?: string } })
      .filter((m) => m.type === 'subscribe');
    expect(subscribes.map((m) => [m.payload?.query, m.payload?.documentId])).toEqual([
      ['', documentIdOf(BalanceChangedDocument)],
    ]);
  });

  it('is refused what require mode refuses: an id no manifest holds, and any text no manifest holds, over HTTP and graphql-ws', async () => {
    const carol = await clientFor(unique('ts-carol'), 'customer');
    const unknown = { __meta__: { hash: `sha256:${'0'.repeat(64)}` } } as unknown as PersistedDocument<
      unknown,
      Record<string, never>
    >;
    const answer = await carol.execute(unknown, {});
    expect(answer.errors?.map((e) => e.extensions?.code)).toEqual(['DOCUMENT_ID_UNKNOWN']);
    const events = carol.subscribe(unknown, {});
    await expect(events.next()).rejects.toSatisfy((errors: unknown) =>
      JSON.stringify(errors).includes('DOCUMENT_ID_UNKNOWN'),
    );
    // A text no manifest holds, over HTTP and over the socket.
    const text = 'subscription BalanceChanged($accountId: ID!) { balanceChanged(accountId: $accountId) { cursor } }';
    const response = await fetch(gateway.graphqlUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${await token(unique('ts-dave'), 'customer')}`,
      },
      body: JSON.stringify({ query: 'query Untrusted { __typename }' }),
    });
    expect(
      ((await response.json()) as { errors: Array<{ extensions: { code: string } }> }).errors.map(
        (e) => e.extensions.code,
      ),
    ).toEqual(['DOCUMENT_NOT_TRUSTED']);
    const socket = await untrustedSubscription(text, await token(unique('ts-erin'), 'customer'));
    expect(socket).toContain('DOCUMENT_NOT_TRUSTED');
  });

  it('labels its requests with its name and version in the gateway metrics, and runs on the Node of the run', async () => {
    const metrics = await (await fetch(gateway.graphqlUrl.replace(/\/graphql$/, '/metrics'))).text();
    expect(metrics).toMatch(
      /paygraph_graphql_client_requests_total\{client="wallet-app",version="1\.2\.3",outcome="[^"]+"\} [1-9]/,
    );
    const reported = /nodejs_version_info\{version="(v[0-9.]+)"/.exec(metrics)?.[1];
    expect(reported).toBe(process.version);
    const expectedMajor = readConfig(testVariables, process.env).nodeMajor;
    if (expectedMajor !== null) expect(reported?.split('.')[0]).toBe(`v${expectedMajor}`);
  });
});

/**
 * Runs probe, then waits up to probeWaitMs for done; again, up to probesMax times (an event ends the wait, not a
 * sleep).
 */
async function eventually(what: string, probe: () => Promise<void>, done: () => boolean): Promise<void> {
  for (let i = 0; i < probesMax; i++) {
    await probe();
    const deadline = Date.now() + probeWaitMs;
    while (Date.now() < deadline) {
      if (done()) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  throw new Error(`no ${what} after ${probesMax} tries of ${probeWaitMs} ms`);
}
const probesMax = 10;
const probeWaitMs = 2_000;

/** Sends a subscription's text over graphql-ws and answers the first error message the server sends back, as text. */
async function untrustedSubscription(query: string, bearer: string): Promise<string> {
  const socket = new WebSocket(gateway.graphqlUrl.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const messages: string[] = [];
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { type: string };
      if (message.type === 'connection_ack')
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables: { accountId: 'x' } } }));
      if (message.type === 'error' || message.type === 'next') {
        messages.push(data.toString());
        resolve();
      }
    });
    socket.once('open', () =>
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${bearer}` } })),
    );
  });
  socket.close();
  return messages.join('\n');
}
