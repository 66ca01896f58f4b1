import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { eq } from 'drizzle-orm';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import {
  webhookDeliveries,
  webhookStreams,
  type DeliveryRow,
  type StreamRow,
} from '@paygraph/webhooks/db/schema/webhooks';
import { afterAll, beforeAll } from 'vitest';
import { contractOperation, gql, type GraphQLResponse } from '../../../../test/support/graphql';
import { token, unique } from '../../../../test/support/env';
import { moneyKit, physicalOf, type MoneyKit } from '../../../../test/support/money';
import { startStack, type Stack, type StackOptions } from '../../../../test/support/stack';

/** The contract's webhook documents, sent verbatim, and what the tests add beside them. */
export const webhookDocs = {
  create: contractOperation('CreateWebhookEndpoint'),
  read: contractOperation('WebhookEndpoint'),
  disable: contractOperation('DisableWebhookEndpoint'),
  redeliver: contractOperation('RedeliverWebhookEvents'),
  rotate: `mutation RotateWebhookSecret($input: RotateWebhookSecretInput!) {
    rotateWebhookSecret(input: $input) { __typename ... on WebhookEndpoint { id secret } ... on UserError { code message } }
  }`,
  detail: `query WebhookEndpointDetail($id: ID!) {
    webhookEndpoint(id: $id) { id status disabledReason secret accountIds
      deliveries(first: 100) { edges { node { id eventType accountId sequence status attempts lastStatusCode lastError nextAttemptAt createdAt } } } }
  }`,
};

export type Answer = GraphQLResponse<Record<string, any>>;

export async function createEndpoint(
  gatewayUrl: string,
  bearer: string,
  input: { url: string; eventTypes: string[]; accountIds?: string[]; description?: string },
): Promise<Answer> {
  return gql(gatewayUrl, webhookDocs.create, { input }, bearer);
}

/** An endpoint that must be made: its id and secret. */
export async function madeEndpoint(
  gatewayUrl: string,
  bearer: string,
  input: Parameters<typeof createEndpoint>[2],
): Promise<{ id: string; secret: string }> {
  const answer = await createEndpoint(gatewayUrl, bearer, input);
  if (answer.errors || answer.data?.createWebhookEndpoint.__typename !== 'WebhookEndpoint') {
    throw new Error(`createWebhookEndpoint failed: ${JSON.stringify(answer)}`);
  }
  return answer.data.createWebhookEndpoint as { id: string; secret: string };
}

export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  /** The body as the standardwebhooks verifier parsed it (throws when the signature is wrong). */
  event: { type: string; timestamp: string; data: Record<string, any> };
  at: number;
}

/**
 * A real HTTP receiver in the test process. `answer` decides each request's status (or 'hang':
 * never answer). Every request is kept; `verifyWith` checks each signature with the
 * standardwebhooks verifier as a partner's code would.
 *
 * It listens on a path of its own (`/hooks/<uuid>`, and under it) and answers 404 to any other, counting it
 * only in `strays`: files one worker runs one after another share its databases, so an earlier
 * file's endpoints (their receivers closed, their deliveries still retrying) stay in the tables
 * a later file's dispatcher reads. When the kernel hands a later receiver the port of such an
 * endpoint's URL, its deliveries arrive there, signed with another endpoint's secret: a clean-
 * clone CI run failed on 58 of them ("No matching signature found", advance-paid.test.ts).
 */
export interface Receiver {
  url: string;
  port: number;
  /** The path the receiver serves: `url` is http://127.0.0.1:<port><path>. */
  path: string;
  received: Received[];
  /** Requests to another path (another endpoint's URL on a reused port): answered 404, nothing else. */
  strays: number;
  /** Requests seen, answered or not (a hung one too). */
  requests: number;
  answer: (request: { id: string; attempt: number; body: string }) => number | 'hang';
  /** The Location header of a 3xx answer. */
  redirectTo: string | null;
  /** Each answer is sent this long after the request arrived (a slow receiver; 0: at once). */
  delayMs: number;
  /** Requests arrived and not answered yet (delayed or hung). */
  unanswered: number;
  verifyWith(secret: string): void;
  close(): Promise<void>;
}

/** Where a receiver listens: a port and a path, to start a receiver again where one was (`{ port, path }` of it). */
export interface ReceiverPlace {
  port: number;
  path: string;
}

export async function startReceiver(
  answer: Receiver['answer'] = () => 200,
  place: ReceiverPlace = { port: 0, path: `/hooks/${randomUUID()}` },
): Promise<Receiver> {
  let verifier: Webhook | null = null;
  const attempts = new Map<string, number>();
  const hung: http.ServerResponse[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const receiver: Receiver = {
    url: '',
    port: 0,
    path: place.path,
    received: [],
    strays: 0,
    requests: 0,
    answer,
    redirectTo: null,
    delayMs: 0,
    unanswered: 0,
    verifyWith: (secret) => {
      verifier = new Webhook(secret);
    },
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = http.createServer((req, res) => {
    // Its path and those under it (one origin, two endpoints: resilience.test's /stuck and /healthy).
    if (req.url !== place.path && !req.url?.startsWith(`${place.path}/`)) {
      receiver.strays += 1;
      req.resume();
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      receiver.requests += 1;
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = {
        'webhook-id': String(req.headers['webhook-id']),
        'webhook-timestamp': String(req.headers['webhook-timestamp']),
        'webhook-signature': String(req.headers['webhook-signature']),
      };
      const attempt = (attempts.get(headers['webhook-id']) ?? 0) + 1;
      attempts.set(headers['webhook-id'], attempt);
      const status = receiver.answer({ id: headers['webhook-id'], attempt, body });
      receiver.unanswered += 1;
      if (status === 'hang') {
        hung.push(res);
        return;
      }
      if (status >= 200 && status < 300) {
        const event = (verifier ? verifier.verify(body, headers) : JSON.parse(body)) as Received['event'];
        receiver.received.push({
          id: headers['webhook-id'],
          timestamp: headers['webhook-timestamp'],
          signature: headers['webhook-signature'],
          body,
          event,
          at: Date.now(),
        });
      }
      const respond = () => {
        receiver.unanswered -= 1;
        if (!res.destroyed)
          res
            .writeHead(
              status,
              status >= 300 && status < 400 && receiver.redirectTo ? { location: receiver.redirectTo } : {},
            )
            .end();
      };
      if (receiver.delayMs === 0) return respond();
      const timer = setTimeout(() => {
        timers.delete(timer);
        respond();
      }, receiver.delayMs);
      timers.add(timer);
    });
  });
  await new Promise<void>((resolve) => server.listen(place.port, '127.0.0.1', () => resolve()));
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}${place.path}`;
  return receiver;
}

export async function waitFor<T>(
  what: string,
  read: () => T | Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what}: ${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)).slice(0, 2000)}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Dispatcher timings for tests: the contract's shapes, shortened (defaults: config.ts). */
export const fastDispatch = {
  intervalMs: 25,
  endpointRefreshIntervalMs: 200,
  discoveryIntervalMs: 200,
  metricsIntervalMs: 200,
  attemptTimeoutMs: 2_000,
  retry: { firstDelayMs: 200, delayMsMax: 1_000, windowMs: 120_000 },
  disableAfterFailingMs: 600_000,
  leaseMs: 5_000,
};

/** The balance.changed sequences an account's events carried, in the order they arrived. */
export function sequencesOf(received: readonly Received[], accountId: string): number[] {
  return received
    .filter((r) => r.event.type === 'balance.changed' && r.event.data.accountId === accountId)
    .map((r) => Number(r.event.data.sequence));
}

/** 1, 2, …, n: every entry once, in order. */
export function gapFree(sequences: readonly number[]): boolean {
  return sequences.every((s, i) => s === sequences[0]! + i);
}

/** An endpoint's delivery rows and streams on every shard, as stored (what the queue metrics count). */
export async function storedOf(
  shards: ShardSet,
  endpointId: string,
): Promise<{ deliveries: DeliveryRow[]; streams: StreamRow[] }> {
  const perShard = await Promise.all(
    shards.all.map(async (shard) => ({
      deliveries: await shard.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.endpointId, endpointId)),
      streams: await shard.db.select().from(webhookStreams).where(eq(webhookStreams.endpointId, endpointId)),
    })),
  );
  return { deliveries: perShard.flatMap((s) => s.deliveries), streams: perShard.flatMap((s) => s.streams) };
}

/**
 * A webhooks test file's stack (the dispatcher on, with `options`), money kit and receivers:
 * started before its tests, every receiver made with `receiver` closed after them (one a test
 * closed itself already too), then the stack stopped. Handed over once started, as useMoneyStack does.
 */
export interface WebhookStack {
  stack: Stack;
  kit: MoneyKit;
  receiver(answer?: Receiver['answer'], place?: ReceiverPlace): Promise<Receiver>;
}

export function useWebhookStack(options: StackOptions, onStarted: (started: WebhookStack) => void): void {
  let stack: Stack | undefined;
  const receivers: Receiver[] = [];
  beforeAll(async () => {
    stack = await startStack(options);
    const receiver = async (answer?: Receiver['answer'], place?: ReceiverPlace) => {
      const started = await startReceiver(answer, place);
      receivers.push(started);
      return started;
    };
    onStarted({ stack, kit: await moneyKit(stack), receiver });
  });
  afterAll(async () => {
    for (const r of receivers) await r.close().catch(() => undefined);
    await stack?.stop();
  });
}

/**
 * A partner with a funded account and a payee on another database (so that some payments cross shards), and its token.
 */
export async function partnerWithAccounts(
  stack: Stack,
  kit: MoneyKit,
  prefix: string,
): Promise<{ partner: string; bearer: string; payer: string; payee: string }> {
  const partner = unique(prefix);
  const payer = await kit.open(partner);
  const payee = await kit.openAwayFrom(partner, [physicalOf(stack.shards, payer)]);
  await kit.fund(payer, '1000000');
  return { partner, bearer: await token(partner, 'partner'), payer, payee };
}
