import { Pool, type Dispatcher } from 'undici';
import { latencyTimeline, quantile, type LatencyTimeline } from './latency-timeline';
import {
  errorSamplesMax,
  keepAliveIdleMs,
  latencySamplesMax,
  openLoopInFlightMax,
  openLoopLateStopMs,
  openLoopTickMs,
  requestTimeoutMs,
  requestsPerRunMax,
} from './limits';

/**
 * The load generator: keep-alive HTTP/1.1 through an undici Pool (one connection per client),
 * closed-loop (N clients, each sends its next request when the last one answered) or open-loop
 * (requests leave at a fixed rate whatever the answers do, and each latency counts from the
 * moment the request was due, so a stalled server cannot hide its queue).
 */
export interface Operation {
  body: string;
  /** Payments (or reads) the request carries: the unit payments/s and CPU per payment count in. */
  units: number;
  /** How many of the units succeeded, judged from the parsed response. */
  succeeded(response: unknown): number;
  /**
   * How many succeeded, judged from the answer's text without parsing it, or undefined when the
   * text alone cannot tell (then `succeeded` judges the parsed answer). A read's 29 kB answer cost
   * the generator more to parse than the rest of its request: a client's CPU, not the system's.
   */
  succeededText?(text: string): number | undefined;
}

export interface LoadTarget {
  url: string;
  token: string;
  /** Sent besides the token: a subgraph called directly needs what the gateway would send. */
  headers?: Record<string, string>;
}

export interface LoadResult {
  seconds: number;
  requests: number;
  units: number;
  succeededUnits: number;
  failedUnits: number;
  /** Open loop only: arrivals dropped because openLoopInFlightMax requests were waiting already. */
  shedRequests: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  unitsPerSecond: number;
  requestsPerSecond: number;
  errors: string[];
  /**
   * Open loop only: how late the generator sent each request after its due time (its own event loop
   * busy), ms; this lateness is part of every latency above, and none of it is the system's.
   */
  sendLagMs?: { p50: number; p99: number; max: number };
  /** Open loop only: the latencies over the window, slice by slice, and its stalls (latency-timeline.ts). */
  timeline?: LatencyTimeline;
}

export class LoadClient {
  private readonly pool: Pool;
  private readonly origin: string;
  private readonly path: string;
  private readonly headers: Record<string, string>;

  constructor(target: LoadTarget, connections: number) {
    const url = new URL(target.url);
    this.pool = new Pool(url.origin, {
      connections,
      pipelining: 1,
      headersTimeout: requestTimeoutMs,
      bodyTimeout: requestTimeoutMs,
      keepAliveTimeout: keepAliveIdleMs,
    });
    this.origin = url.origin;
    this.path = url.pathname;
    this.headers = { 'content-type': 'application/json', authorization: `Bearer ${target.token}`, ...target.headers };
  }

  /** Sends one GraphQL POST and answers its parsed JSON body; a non-200 status throws. */
  async send(body: string): Promise<unknown> {
    return JSON.parse(await this.sendText(body)) as unknown;
  }

  /**
   * Sends one GraphQL POST and answers its body's text; a non-200 status throws. Through the pool's dispatch
   * with a handler that gathers the body's chunks (TextAnswer), not `pool.request`: that builds an async
   * resource, a header object and a Node Readable per answer, then reads the stream back into text, all the
   * generator's CPU and none of the system's (docs/PERFORMANCE.md, "Steady state").
   */
  sendText(body: string): Promise<string> {
    return new Promise((resolve, reject) => {
      this.pool.dispatch(
        { origin: this.origin, path: this.path, method: 'POST', headers: this.headers, body },
        new TextAnswer(resolve, reject),
      );
    });
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/** One answer's status and body text, gathered from undici's dispatch callbacks (LoadClient.sendText). */
class TextAnswer implements Dispatcher.DispatchHandler {
  private status = 0;
  private readonly chunks: Buffer[] = [];

  constructor(
    private readonly resolve: (text: string) => void,
    private readonly reject: (error: Error) => void,
  ) {}

  /** Nothing to do; present because undici takes a handler without it for one of the older form (onConnect...). */
  onRequestStart(): void {}

  /** Called again for a later response (after a 1xx): only the last one's body is the answer. */
  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.status = statusCode;
    this.chunks.length = 0;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    const text = (this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)).toString('utf8');
    if (this.status === 200) this.resolve(text);
    else this.reject(new Error(`HTTP ${this.status}: ${text.slice(0, 300)}`));
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.reject(error);
  }
}

export class Recorder {
  private readonly samples = new Float64Array(latencySamplesMax);
  private count = 0;
  requests = 0;
  units = 0;
  succeededUnits = 0;
  shed = 0;
  readonly errors: string[] = [];

  record(latencyMs: number): void {
    if (this.count < this.samples.length) this.samples[this.count++] = latencyMs;
  }

  fail(error: unknown): void {
    if (this.errors.length < errorSamplesMax) this.errors.push(error instanceof Error ? error.message : String(error));
  }

  result(seconds: number): LoadResult {
    const sorted = this.samples.slice(0, this.count).sort();
    const at = (q: number) => quantile(sorted, q);
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      seconds,
      requests: this.requests,
      units: this.units,
      succeededUnits: this.succeededUnits,
      failedUnits: this.units - this.succeededUnits,
      shedRequests: this.shed,
      latencyMs: {
        p50: round(at(0.5)),
        p90: round(at(0.9)),
        p99: round(at(0.99)),
        max: round(sorted.at(-1) ?? 0),
        mean: round(sorted.length === 0 ? 0 : sum / sorted.length),
      },
      unitsPerSecond: round(this.succeededUnits / seconds),
      requestsPerSecond: round(this.requests / seconds),
      errors: this.errors,
    };
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** Sends one operation and records it; answers its latency, ms. */
async function sendOne(client: LoadClient, op: Operation, recorder: Recorder, startedAt: number): Promise<number> {
  recorder.requests += 1;
  recorder.units += op.units;
  try {
    const text = await client.sendText(op.body);
    const ok = op.succeededText?.(text) ?? op.succeeded(JSON.parse(text));
    recorder.succeededUnits += ok;
    if (ok < op.units) recorder.fail(`${op.units - ok} of ${op.units} failed: ${text.slice(0, 300)}`);
  } catch (error) {
    recorder.fail(error);
  }
  const latencyMs = performance.now() - startedAt;
  recorder.record(latencyMs);
  return latencyMs;
}

export interface ClosedLoopOptions {
  client: LoadClient;
  seconds: number;
  concurrency: number;
  /**
   * The next request, or null when the scenario has nothing left to send (b-fx's quotes ran out): that client stops.
   */
  next: () => Operation | null;
}

/**
 * N clients, each sending its next request as soon as the last one answered, for `seconds`.
 * The window is always the full `seconds`, so clients stopped early lower units/s.
 */
export async function runClosedLoop(options: ClosedLoopOptions): Promise<LoadResult> {
  const recorder = new Recorder();
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline && recorder.requests < requestsPerRunMax) {
      const op = options.next();
      if (op === null) return;
      await sendOne(options.client, op, recorder, performance.now());
    }
  };
  // Timers may fire a fraction of a millisecond early against performance.now(): wait again until the deadline is past.
  const waitOut = async () => {
    for (let left = deadline - performance.now(); left > 0; left = deadline - performance.now()) {
      await new Promise((resolve) => setTimeout(resolve, Math.ceil(left)));
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  await waitOut();
  return recorder.result((performance.now() - started) / 1000);
}

export interface OpenLoopOptions {
  client: LoadClient;
  seconds: number;
  ratePerSecond: number;
  next: () => Operation;
  /** Stops the arrivals before `seconds` are up once it answers true (a window as long as a shard move). */
  stop?: () => boolean;
}

/**
 * Requests leave at ratePerSecond for `seconds`, each latency measured from its due time.
 * Throughput counts over the arrival window; the stragglers are awaited (each bounded by the
 * request timeout) so that their latency is part of the figures.
 *
 * Driven by a timer, not by a loop that awaits: V8 compiled such a loop on the stack (OSR) in every call and
 * dropped the code again as the call ended (`--trace-deopt`: one deopt per 3 s warm-up slice, 29 in a-70's), so
 * the generator spent 4-8% of its CPU compiling through an open loop's warm-up (docs/PERFORMANCE.md).
 */
export function runOpenLoop(options: OpenLoopOptions): Promise<LoadResult> {
  const loop = new OpenLoop(options);
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      let sleepMs: number | null;
      try {
        sleepMs = loop.sendDue();
      } catch (error) {
        // A scenario out of requests (openLoopOperation) ends the run, as a throw in an async loop did.
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      if (sleepMs !== null) setTimeout(tick, sleepMs);
      else loop.finish().then(resolve, reject);
    };
    tick();
  });
}

/** An open loop's state: what it sent, what answered, and what it is still waiting for. */
class OpenLoop {
  private readonly recorder = new Recorder();
  private readonly lags = new Recorder();
  private readonly started = performance.now();
  private readonly startedAtEpochMs = Date.now();
  private readonly windowMs: number;
  private readonly intervalMs: number;
  private readonly total: number;
  private readonly pending = new Set<Promise<void>>();
  // Each answered request's due time after `started` and its latency, for the timeline.
  private readonly due: number[] = [];
  private readonly latencies: number[] = [];
  private issued = 0;
  private windowSeconds = 0;

  constructor(private readonly options: OpenLoopOptions) {
    this.windowMs = options.seconds * 1000;
    this.intervalMs = 1000 / options.ratePerSecond;
    this.total = Math.min(requestsPerRunMax, Math.floor(options.seconds * options.ratePerSecond));
  }

  /**
   * Sends every request due by now; answers how long to sleep until the next is due (at least openLoopTickMs: a 1 ms
   * poll cost the generator 0.1 ms of CPU per payment more in the open loop than in the closed one, CPU the system
   * under test shares), or null when the arrivals are over.
   */
  sendDue(): number | null {
    const now = performance.now();
    const over = now - this.started > this.windowMs + openLoopLateStopMs || this.options.stop?.() === true;
    if (this.issued >= this.total || over) {
      this.windowSeconds = (now - this.started) / 1000;
      return null;
    }
    while (this.issued < this.total && this.started + this.issued * this.intervalMs <= now) {
      const dueAt = this.started + this.issued * this.intervalMs;
      this.issued += 1;
      this.lags.record(now - dueAt);
      if (this.pending.size >= openLoopInFlightMax) this.recorder.shed += 1;
      else this.send(dueAt);
    }
    const nextDueMs = this.started + this.issued * this.intervalMs - performance.now();
    return Math.max(openLoopTickMs, Math.floor(nextDueMs));
  }

  private send(dueAt: number): void {
    const p = sendOne(this.options.client, this.options.next(), this.recorder, dueAt)
      .then((latencyMs) => {
        if (this.due.length >= latencySamplesMax) return;
        this.due.push(dueAt - this.started);
        this.latencies.push(latencyMs);
      })
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  async finish(): Promise<LoadResult> {
    await Promise.all(this.pending);
    const lag = this.lags.result(this.windowSeconds).latencyMs;
    const result = this.recorder.result(this.windowSeconds);
    return {
      ...result,
      sendLagMs: { p50: lag.p50, p99: lag.p99, max: lag.max },
      timeline: latencyTimeline(this.due, this.latencies, {
        ...result.latencyMs,
        startedAtEpochMs: this.startedAtEpochMs,
      }),
    };
  }
}
