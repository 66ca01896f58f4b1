import net from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP proxy for fault tests: put it between a process and a shard (or any server) and switch
 * what the network does, as a faulty link would, without tc netem or Docker.
 *
 * - pass: bytes flow both ways.
 * - blackhole: new connections are accepted and not forwarded; bytes on open connections stop
 *   in both directions. Nothing is refused or reset, so a client only notices by its own
 *   timeouts (a dropped link or a hung server looks like this).
 * - reset: every open connection is destroyed now, and every new one at once (a crashed
 *   server or a firewall sending RSTs).
 *
 * Switching back to pass delivers what was held, as TCP's retransmissions would once a link
 * heals: connections that lived through a blackhole go on, and ones accepted during it are
 * connected on; a client that gave up on one meanwhile has closed it.
 */
export type ProxyMode = 'pass' | 'blackhole' | 'reset';

export interface TcpProxy {
  /** 127.0.0.1:<port> of the proxy. */
  readonly host: string;
  readonly port: number;
  readonly mode: ProxyMode;
  setMode(mode: ProxyMode): void;
  /**
   * Once: the next chunk a client sends that holds `pattern` (a COMMIT, say) ends its connection.
   * With forward, the chunk goes on to the server and the client's side is cut, so the server
   * acts on it and its answer is lost; without, the chunk is dropped and both sides are cut, so
   * the server never sees it (and rolls back the transaction the connection had open).
   */
  cutAt(pattern: string, options: { forward: boolean }): Promise<void>;
  /** Once: resolves as the proxy accepts its next connection, in the same turn of the event loop. */
  nextAccept(): Promise<void>;
  /** Connections accepted since the proxy started. */
  readonly accepted: number;
  /** Connections open now (client side). */
  readonly open: number;
  close(): Promise<void>;
}

/** Where the proxy forwards to: a TCP address, or a Unix socket (a local MySQL's, say). */
export type TcpProxyTarget = { host: string; port: number } | { path: string };

interface Pair {
  client: net.Socket;
  upstream: net.Socket | null;
}

export async function startTcpProxy(target: TcpProxyTarget, initialMode: ProxyMode = 'pass'): Promise<TcpProxy> {
  let mode: ProxyMode = initialMode;
  let accepted = 0;
  let cut: { pattern: Buffer; forward: boolean; done: () => void } | null = null;
  const pairs = new Set<Pair>();
  const acceptWaiters: Array<() => void> = [];

  const server = net.createServer((client) => {
    accepted += 1;
    for (const waiter of acceptWaiters.splice(0)) waiter();
    const pair: Pair = { client, upstream: null };
    pairs.add(pair);
    client.on('error', () => {});
    client.on('close', () => {
      pairs.delete(pair);
      pair.upstream?.destroy();
    });
    if (mode === 'reset') return void client.resetAndDestroy();
    // Connected (and read) only while passing: a blackhole holds the client's bytes unread.
    client.pause();
    if (mode === 'pass') connectUpstream(pair);
  });

  function connectUpstream(pair: Pair): void {
    const upstream = 'path' in target ? net.connect(target.path) : net.connect(target.port, target.host);
    pair.upstream = upstream;
    upstream.on('error', () => pair.client.destroy());
    upstream.on('close', () => pair.client.destroy());
    upstream.on('data', (chunk) => pair.client.write(chunk));
    pair.client.on('data', (chunk: Buffer) => {
      if (cut !== null && chunk.includes(cut.pattern)) {
        const { forward, done } = cut;
        cut = null;
        // The client's close handler must not destroy the upstream before the chunk is flushed.
        pair.upstream = null;
        if (forward) upstream.end(chunk);
        else upstream.destroy();
        pair.client.destroy();
        done();
        return;
      }
      upstream.write(chunk);
    });
    pair.client.resume();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    host: '127.0.0.1',
    port,
    get mode() {
      return mode;
    },
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    nextAccept() {
      return new Promise<void>((resolve) => acceptWaiters.push(resolve));
    },
    cutAt(pattern, options) {
      return new Promise<void>((resolve) => {
        cut = { pattern: Buffer.from(pattern), forward: options.forward, done: resolve };
      });
    },
    setMode(next) {
      mode = next;
      for (const pair of pairs) {
        if (next === 'blackhole') {
          pair.client.pause();
          pair.upstream?.pause();
        } else if (next === 'reset') {
          pair.upstream?.destroy();
          pair.client.resetAndDestroy();
        } else if (pair.upstream) {
          pair.upstream.resume();
          pair.client.resume();
        } else {
          connectUpstream(pair);
        }
      }
    },
    close: async () => {
      for (const pair of pairs) {
        pair.upstream?.destroy();
        pair.client.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Where a MySQL URL's connections go: its socketPath when it has one, else its host and port. */
export function targetOf(url: string): TcpProxyTarget {
  const parsed = new URL(url);
  const socketPath = parsed.searchParams.get('socketPath');
  if (socketPath) return { path: socketPath };
  return { host: parsed.hostname, port: Number(parsed.port || 3306) };
}

/** The same MySQL URL with its connections sent to the proxy (host and port replaced, no socketPath). */
export function throughProxy(url: string, proxy: Pick<TcpProxy, 'host' | 'port'>): string {
  const parsed = new URL(url);
  parsed.hostname = proxy.host;
  parsed.port = String(proxy.port);
  parsed.searchParams.delete('socketPath');
  return parsed.toString();
}
