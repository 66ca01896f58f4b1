import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { contractOperation, dataField, requestBody, typenameOf } from './documents';
import { postFromReserve } from './event-delivery';
import { inParallel, sendRetrying } from './fixtures';
import type { LoadClient } from './load';
import { noisyAccountsCount, webhookSetupConcurrency } from './limits';

/**
 * `npm run bench:webhooks -- --noisy-endpoints N`: issue 31's noisy tenant beside the measured
 * ones. One partner owns noisyAccountsCount accounts and N endpoints following all of them,
 * whose receiver (one local server, a path per endpoint, as a relay service would be) answers
 * 200 only after `delayMs`; through the measured window this process posts into its accounts at
 * `ratePerSecond`, so every one of its streams always has slow work queued. The measured payees
 * (each its own partner's, with its own endpoint) are the quiet tenants: their commit → receipt
 * latency is what the benchmark reports.
 */
export interface NoisyTenantOptions {
  client: LoadClient;
  gatewayUrl: string;
  runId: string;
  partnerToken: (ownerId: string) => Promise<string>;
  ledger: Parameters<typeof postFromReserve>[0];
  endpoints: number;
  delayMs: number;
  ratePerSecond: number;
}

export interface NoisyTenant {
  /** Starts posting into the noisy accounts at the rate, until stop(). */
  startPosting(): void;
  /** Requests its receiver holds (arrived, not answered yet). */
  held(): number;
  stop(): Promise<{ posted: number; received: number; heldMax: number }>;
}

const createEndpoint = `mutation CreateWebhookEndpoint($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { __typename ... on WebhookEndpoint { id } ... on UserError { code message } }
}`;

export async function startNoisyTenant(options: NoisyTenantOptions): Promise<NoisyTenant> {
  const owner = `bench-${options.runId}-noisy`;
  const counts = { posted: 0, received: 0, held: 0, heldMax: 0 };
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      counts.received += 1;
      counts.held += 1;
      counts.heldMax = Math.max(counts.heldMax, counts.held);
      const timer = setTimeout(() => {
        timers.delete(timer);
        counts.held -= 1;
        if (!res.destroyed) res.writeHead(200).end();
      }, options.delayMs);
      timers.add(timer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const open = contractOperation('OpenAccount');
  const accounts = await inParallel(noisyAccountsCount, noisyAccountsCount, async () => {
    const answer = dataField(
      await sendRetrying(
        options.client,
        requestBody(open, { input: { ownerId: owner, type: 'PERSONAL', currency: 'USD' } }),
      ),
      'openAccount',
    ) as { id?: string } | undefined;
    if (typenameOf(answer) !== 'Account' || !answer?.id) throw new Error('OpenAccount failed for the noisy tenant');
    return answer.id;
  });
  const token = await options.partnerToken(owner);
  await inParallel(options.endpoints, webhookSetupConcurrency, async (i) => {
    const response = await fetch(options.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      // accountIds omitted: every account of the noisy partner.
      body: requestBody(createEndpoint, { input: { url: `${base}/noisy/${i}`, eventTypes: ['balance.changed'] } }),
    });
    const made = dataField(await response.json(), 'createWebhookEndpoint');
    if (typenameOf(made) !== 'WebhookEndpoint')
      throw new Error(`the noisy tenant's endpoint ${i} was not made: ${JSON.stringify(made)}`);
  });
  let posting: NodeJS.Timeout | null = null;
  return {
    startPosting: () => {
      let next = 0;
      posting = setInterval(() => {
        const account = accounts[next++ % accounts.length]!;
        void postFromReserve(options.ledger, account).then(
          () => {
            counts.posted += 1;
          },
          () => undefined,
        );
      }, 1000 / options.ratePerSecond);
    },
    held: () => counts.held,
    stop: async () => {
      if (posting) clearInterval(posting);
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return { posted: counts.posted, received: counts.received, heldMax: counts.heldMax };
    },
  };
}
