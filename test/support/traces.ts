import { randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type http from 'node:http';

/**
 * Helpers for the trace tests: a client's W3C traceparent, and what this process's HTTP servers
 * (the in-process stack's subgraphs) received, read from Node's own diagnostics channel rather
 * than through any hook of ours.
 */
export interface ClientTrace {
  traceId: string;
  /** The client's own span: the gateway's server span must name it as its parent. */
  parentId: string;
  traceparent: string;
}

export function clientTrace(): ClientTrace {
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  return { traceId, parentId, traceparent: `00-${traceId}-${parentId}-01` };
}

export interface ReceivedRequest {
  port: number | undefined;
  path: string | undefined;
  traceparent: string | undefined;
}

/** Every request an HTTP server of this process starts serving until stop() is called. */
export function recordReceivedRequests(): { received: ReceivedRequest[]; stop(): void } {
  const received: ReceivedRequest[] = [];
  const listener = (message: unknown): void => {
    const { request } = message as { request: http.IncomingMessage };
    const header = request.headers.traceparent;
    received.push({ port: request.socket.localPort, path: request.url, traceparent: Array.isArray(header) ? header[0] : header });
  };
  subscribe('http.server.request.start', listener);
  return { received, stop: () => void unsubscribe('http.server.request.start', listener) };
}

export function portOf(url: string): number {
  return Number(new URL(url).port);
}
