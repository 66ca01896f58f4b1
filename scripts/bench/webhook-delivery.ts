import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { dataField, requestBody, typenameOf } from './documents';
import { measureWindow, round, trackCommitLatency, type DeliveryBenchRun, type MeasuredWindow } from './delivery-bench';
import { postFromReserve } from './event-delivery';
import { inParallel, openAndFund } from './fixtures';
import { startNoisyTenant, type NoisyTenant, type NoisyTenantOptions } from './webhooks-noisy-tenant';
import {
  noisyWarmupMs,
  webhookDrainMs,
  webhookP99TargetMs,
  webhookSetupAttemptsMax,
  webhookSetupConcurrency,
} from './limits';

/**
 * The measurement of `npm run bench:webhooks` (webhooks.ts starts the system): opens `accounts`
 * payees, registers one webhook endpoint per payee (its owner's, a partner) pointing at a local
 * receiver in this process, then posts payments into random payees at a fixed rate through the
 * posting engine (one local transaction each, from the shard's reserve), taking each commit
 * instant from onCommitted, and measures commit → receipt of every balance.changed at the
 * receiver and the CPU each process spent per delivered event. One signature in a hundred is
 * verified with the standardwebhooks library (verifying all would load this process, which is
 * measured too).
 */
export interface WebhookRunOptions extends Pick<
  DeliveryBenchRun,
  'client' | 'ledger' | 'topology' | 'runId' | 'pids' | 'onMeasureStart' | 'log'
> {
  gatewayUrl: string;
  partnerToken: (ownerId: string) => Promise<string>;
  accounts: number;
  ratePerSecond: number;
  seconds: number;
  /** A noisy tenant beside the measured (quiet) ones: webhooks-noisy-tenant.ts; null: none. */
  noisy: Omit<NoisyTenantOptions, 'client' | 'gatewayUrl' | 'runId' | 'partnerToken' | 'ledger'> | null;
}

export interface WebhookRunReport extends MeasuredWindow {
  accounts: number;
  ratePerSecond: number;
  seconds: number;
  setupSeconds: number;
  events: { delivered: number; repeats: number; outOfOrder: number; verified: number };
  p99TargetMs: number;
  met: boolean;
  /** With a noisy tenant: what it posted and its receiver got, and the most requests that receiver held at once. */
  noisy: {
    endpoints: number;
    delayMs: number;
    ratePerSecond: number;
    posted: number;
    received: number;
    heldMax: number;
  } | null;
}

const createEndpoint = `mutation CreateWebhookEndpoint($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { __typename ... on WebhookEndpoint { id secret } ... on UserError { code message } }
}`;

export async function runWebhookDelivery(options: WebhookRunOptions): Promise<WebhookRunReport> {
  const setupStarted = Date.now();
  const fixtures = await openAndFund({
    client: options.client,
    runId: options.runId,
    topology: options.topology,
    accountCount: options.accounts,
    fund: false,
    log: options.log,
  });
  const payees = fixtures.accounts;
  const lastSequence = new Map<string, number>();
  const seen = new Set<string>();
  const counts = { repeats: 0, outOfOrder: 0, verified: 0 };
  const verifiers = new Map<string, Webhook>();
  const latency = trackCommitLatency(payees);
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(204).end();
      const body = Buffer.concat(chunks).toString('utf8');
      const event = JSON.parse(body) as { type: string; data: { accountId: string; sequence: string } };
      const id = String(req.headers['webhook-id']);
      if (seen.has(id)) {
        counts.repeats += 1;
        return;
      }
      seen.add(id);
      const verifier = verifiers.get(event.data.accountId);
      if (verifier && seen.size % 100 === 0) {
        verifier.verify(body, {
          'webhook-id': id,
          'webhook-timestamp': String(req.headers['webhook-timestamp']),
          'webhook-signature': String(req.headers['webhook-signature']),
        });
        counts.verified += 1;
      }
      const sequence = Number(event.data.sequence);
      const previous = lastSequence.get(event.data.accountId);
      if (previous !== undefined && sequence !== previous + 1) counts.outOfOrder += 1;
      lastSequence.set(event.data.accountId, sequence);
      latency.arrived(event.data.accountId, sequence);
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', () => resolve()));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  let noisy: NoisyTenant | null = null;
  try {
    await inParallel(payees.length, webhookSetupConcurrency, async (i) => {
      const token = await options.partnerToken(fixtures.owners[i]!);
      // A retryable refusal (a shard's breaker open for a moment on a loaded machine) is sent again.
      for (let attempt = 1; ; attempt++) {
        const response = await fetch(options.gatewayUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: requestBody(createEndpoint, {
            input: { url: receiverUrl, eventTypes: ['balance.changed'], accountIds: [payees[i]!] },
          }),
        });
        const answer = (await response.json()) as { errors?: Array<{ extensions?: { retryable?: boolean } }> };
        const made = dataField(answer, 'createWebhookEndpoint') as { id?: string; secret?: string } | undefined;
        if (typenameOf(made) === 'WebhookEndpoint' && made?.secret) {
          verifiers.set(payees[i]!, new Webhook(made.secret));
          return;
        }
        const retryable = answer.errors?.every((e) => e.extensions?.retryable === true) === true;
        if (!retryable || attempt >= webhookSetupAttemptsMax)
          throw new Error(`createWebhookEndpoint failed for ${payees[i]}: ${JSON.stringify(answer).slice(0, 500)}`);
        await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
      }
    });
    // The dispatcher reads endpoints every second; one probe per payee proves each stream live.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await inParallel(payees.length, webhookSetupConcurrency, (i) =>
      postFromReserve(options.ledger, payees[i]!).catch(() => postFromReserve(options.ledger, payees[i]!)),
    );
    const probeDeadline = Date.now() + 30_000;
    while (seen.size < payees.length && Date.now() < probeDeadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    if (seen.size < payees.length)
      throw new Error(`only ${seen.size} of ${payees.length} endpoints received their probe`);
    const setupSeconds = (Date.now() - setupStarted) / 1000;
    options.log(
      `${payees.length} endpoints live after ${setupSeconds.toFixed(1)} s of set-up; paying ${options.ratePerSecond}/s for ${options.seconds} s`,
    );
    if (options.noisy) noisy = await noisyTenantBusy(options, options.noisy);

    const window = await measureWindow({
      run: options,
      rate: { seconds: options.seconds, ratePerSecond: options.ratePerSecond, runId: options.runId },
      latency,
      payees,
      pay: (payee) => postFromReserve(options.ledger, payee).then((status) => status === 'APPLIED'),
      delivered: () => seen.size,
      drainMs: webhookDrainMs,
    });
    const { delivered, ...measured } = window;
    const noisyCounts = noisy ? await noisy.stop() : null;
    noisy = null;
    return {
      noisy: options.noisy && noisyCounts ? { ...options.noisy, ...noisyCounts } : null,
      accounts: payees.length,
      ratePerSecond: options.ratePerSecond,
      seconds: options.seconds,
      setupSeconds: round(setupSeconds),
      ...measured,
      events: { delivered, ...counts },
      p99TargetMs: webhookP99TargetMs,
      met:
        delivered === window.payments.succeeded &&
        counts.outOfOrder === 0 &&
        window.latencyMs.p99 <= webhookP99TargetMs,
    };
  } finally {
    await noisy?.stop();
    latency.stop();
    receiver.closeAllConnections();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  }
}

/** The noisy tenant set up and posting, its receiver holding slow requests before the measured window opens. */
async function noisyTenantBusy(
  options: WebhookRunOptions,
  noisy: NonNullable<WebhookRunOptions['noisy']>,
): Promise<NoisyTenant> {
  const tenant = await startNoisyTenant({
    ...noisy,
    client: options.client,
    gatewayUrl: options.gatewayUrl,
    runId: options.runId,
    partnerToken: options.partnerToken,
    ledger: options.ledger,
  });
  tenant.startPosting();
  const deadline = Date.now() + noisyWarmupMs;
  // Its endpoints are seen at the dispatcher's next endpoint refresh; then its slow answers pile up.
  while (tenant.held() < Math.min(noisy.endpoints, 8) && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 100));
  options.log(
    `noisy tenant: ${noisy.endpoints} endpoints answering after ${noisy.delayMs} ms, posting ${noisy.ratePerSecond}/s; its receiver holds ${tenant.held()} requests`,
  );
  return tenant;
}
