import type { IncomingHttpHeaders } from 'node:http';
import { Pool } from 'undici';
import type { Fetcher, FetcherHeaders, FetcherRequestInit, FetcherResponse } from '@apollo/utils.fetcher';
import { subgraphConnectTimeoutMs, subgraphConnectionsMax, subgraphRequestTimeoutMs } from './limits';

/**
 * The gateway's HTTP client for one subgraph: a keep-alive undici Pool, handed to Apollo's
 * RemoteGraphQLDataSource as its documented `fetcher` option, so every hook of the data source
 * (willSendRequest, errorFromResponse, didEncounterError, didReceiveResponse) runs as Apollo
 * documents it. The fetcher answers with undici's plain request/response and a small response
 * object of our own, not Node's fetch: fetch (WHATWG streams, Request and Headers objects) was a
 * tenth of the gateway's CPU per payment (docs/PERFORMANCE.md). Measured alone (a call that sends
 * a subgraph request and reads its headers and a 1 KB JSON answer, 16 at a time to another
 * process, 2-core VM under load), this fetcher costs 130–145 µs of CPU per call, undici's fetch
 * over the same kind of Pool 730–820 µs and Node's global fetch 780–800 µs. The whole body is
 * read before the fetcher returns, so undici's body timeout, like its headers timeout, fails the
 * fetcher itself (no answer) rather than a read later.
 */
/**
 * A request's own timeout (ms), set by the data source for an operation that does a file's worth of work
 * (context.ts subgraphTimeoutMs); the fetcher takes it off the headers, so the subgraph never sees it.
 */
export const subgraphTimeoutHeader = 'x-paygraph-subgraph-timeout-ms';

export class SubgraphClient {
  /** Fetch-compatible (`Fetcher` of @apollo/utils.fetcher), for requests to this subgraph's origin only. */
  readonly fetcher: Fetcher;
  private readonly pool: Pool;
  private readonly origin: string;
  private readonly path: string;

  constructor(readonly url: string) {
    const parsed = new URL(url);
    this.origin = parsed.origin;
    this.path = pathOf(parsed);
    this.pool = new Pool(parsed.origin, {
      connections: subgraphConnectionsMax,
      connect: { timeout: subgraphConnectTimeoutMs },
      headersTimeout: subgraphRequestTimeoutMs,
      bodyTimeout: subgraphRequestTimeoutMs,
    });
    this.fetcher = (target, init) => this.fetch(target, init);
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  private async fetch(target: string, init: FetcherRequestInit = {}): Promise<FetcherResponse> {
    const { [subgraphTimeoutHeader]: timeout, ...headers } = init.headers ?? {};
    const asked = timeout === undefined ? NaN : Number(timeout);
    const timeoutMs = Number.isSafeInteger(asked) && asked > 0 ? asked : undefined;
    // Waiting for a connection (none free): undici's timers start only once the call has one, and its signal, aborted
    // meanwhile, is read only then; the call waited for the calls ahead, however long their own limits (a bulk
    // createPayments 30 s, an import 120 s). Such a call ends at its own limit whatever: aborted, so it is never sent
    // late. Only such a call, since a controller costs 1-3 µs of CPU (measured alone) and a free connection's call is
    // bounded by undici's timers already.
    const queued = this.pool.stats.free === 0 ? new AbortController() : undefined;
    const signal = signalOf(init.signal as AbortSignal | undefined, queued?.signal);
    const call = this.pool.request({
      path: this.pathTo(target),
      method: init.method ?? 'GET',
      headers,
      ...(timeoutMs !== undefined ? { headersTimeout: timeoutMs, bodyTimeout: timeoutMs } : {}),
      body: init.body ?? null,
      ...(signal ? { signal } : {}),
    });
    const answer = queued ? await withinLimit(call, queued, timeoutMs ?? subgraphRequestTimeoutMs) : await call;
    const text = await answer.body.text();
    return new SubgraphResponse(target, answer.statusCode, answer.statusText, headersOf(answer.headers), text);
  }

  /** The pool holds connections to one origin: a URL elsewhere is a wiring mistake, not a request. */
  private pathTo(target: string): string {
    if (target === this.url) return this.path;
    const parsed = new URL(target);
    if (parsed.origin !== this.origin) throw new Error(`this subgraph client serves ${this.origin} only`);
    return pathOf(parsed);
  }
}

function pathOf(url: URL): string {
  return `${url.pathname}${url.search}`;
}

/** The caller's signal and the deadline's, as one (a caller's is never given today: Apollo's data source sends none). */
function signalOf(asked: AbortSignal | undefined, deadline: AbortSignal | undefined): AbortSignal | undefined {
  if (asked && deadline) return AbortSignal.any([asked, deadline]);
  return asked ?? deadline;
}

/**
 * The call's answer (its headers), or a failure once `limitMs` has passed, the call then aborted (a call still waiting
 * for a connection is never sent). The timer is cleared once the answer's headers came: its body has undici's timer.
 */
async function withinLimit<T>(call: Promise<T>, controller: AbortController, limitMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`no answer within ${limitMs} ms (the call waited for a connection)`));
    }, limitMs);
  });
  try {
    return await Promise.race([call, expired]);
  } finally {
    clearTimeout(timer);
    // Given up on: its own failure, later (aborted when a connection takes it), is expected.
    call.catch(() => undefined);
  }
}

function headersOf(raw: IncomingHttpHeaders): PlainHeaders {
  const headers = new PlainHeaders();
  for (const [name, value] of Object.entries(raw)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return headers;
}

/**
 * A fetch Response as Apollo's data source reads it (FetcherResponse), over an answer already
 * read whole. Like fetch's, its body can be read once; clone() gives another reading.
 */
class SubgraphResponse implements FetcherResponse {
  readonly ok: boolean;
  readonly redirected = false;
  private used = false;

  constructor(
    readonly url: string,
    readonly status: number,
    readonly statusText: string,
    readonly headers: PlainHeaders,
    private readonly body: string,
  ) {
    this.ok = status >= 200 && status <= 299;
  }

  get bodyUsed(): boolean {
    return this.used;
  }

  async text(): Promise<string> {
    return this.take();
  }

  async json(): Promise<unknown> {
    return JSON.parse(this.take());
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    return new TextEncoder().encode(this.take()).buffer;
  }

  clone(): SubgraphResponse {
    if (this.used) throw new TypeError('the response body was read already and cannot be cloned');
    return new SubgraphResponse(this.url, this.status, this.statusText, this.headers.copy(), this.body);
  }

  private take(): string {
    if (this.used) throw new TypeError('the response body was read already');
    this.used = true;
    return this.body;
  }
}

/**
 * fetch's Headers as FetcherHeaders describes them: names case-insensitive, repeated values joined by ", ". A
 * subgraph's answer's headers, and the express lane's request headers (pass-through/lane-call.ts).
 */
export class PlainHeaders implements FetcherHeaders {
  private readonly byName = new Map<string, string>();

  append(name: string, value: string): void {
    const key = name.toLowerCase();
    const had = this.byName.get(key);
    this.byName.set(key, had === undefined ? value : `${had}, ${value}`);
  }

  delete(name: string): void {
    this.byName.delete(name.toLowerCase());
  }

  get(name: string): string | null {
    return this.byName.get(name.toLowerCase()) ?? null;
  }

  has(name: string): boolean {
    return this.byName.has(name.toLowerCase());
  }

  set(name: string, value: string): void {
    this.byName.set(name.toLowerCase(), value);
  }

  copy(): PlainHeaders {
    const copy = new PlainHeaders();
    for (const [name, value] of this.byName) copy.set(name, value);
    return copy;
  }

  /** Lower-cased names to values, in name order: what `Object.fromEntries` makes of node-fetch's Headers. */
  record(): Record<string, string> {
    return Object.fromEntries(this.entries());
  }

  /** In name order, as fetch's Headers iterate. */
  entries(): IterableIterator<[string, string]> {
    return [...this.byName.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))[Symbol.iterator]();
  }

  keys(): IterableIterator<string> {
    return [...this.entries()].map(([name]) => name)[Symbol.iterator]();
  }

  values(): IterableIterator<string> {
    return [...this.entries()].map(([, value]) => value)[Symbol.iterator]();
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}
